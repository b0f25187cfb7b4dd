// core/result.hpp — the error value every module returns instead of throwing.
//
// `Error` is what a caller can act on: a stable machine `code` (snake_case, documented in
// docs/api.md), a human `message` saying what went wrong, and a `hint` saying what to do next.
// `field` names the offending input (a JSON pointer or a config key) when there is one.
// `Result<T>` is tl::expected behind an alias so the switch to std::expected is one line.
// Errors are values: exceptions are reserved for start-up failures and broken invariants.
#pragma once

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace tocsin {

struct Error {
  std::string code;
  std::string message;
  std::string hint;
  std::string field;

  bool operator==(const Error&) const = default;
};

template <typename T>
using Result = tl::expected<T, Error>;

using Unexpected = tl::unexpected<Error>;

inline Unexpected Fail(std::string code, std::string message, std::string hint = {},
                       std::string field = {}) {
  return Unexpected(Error{std::move(code), std::move(message), std::move(hint), std::move(field)});
}

inline Result<void> Ok() { return {}; }

}  // namespace tocsin
