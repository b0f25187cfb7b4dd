// core/secret.hpp — a string that must never be printed.
//
// Tokens and keys travel as `Secret`. Formatting one (fmt, spdlog, iostream) prints "<redacted>";
// only Reveal() hands out the bytes, so every place that needs the real value is greppable.
// The buffer is wiped on destruction.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace tocsin {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret&) = default;
  Secret(Secret&&) noexcept = default;
  Secret& operator=(const Secret&) = default;
  Secret& operator=(Secret&&) noexcept = default;
  ~Secret();

  const std::string& Reveal() const { return value_; }
  bool empty() const { return value_.empty(); }
  // The last four characters, for "token ending in …abcd" displays; empty for short secrets so a
  // hint never gives away most of a value.
  std::string Hint() const;

  bool operator==(const Secret& other) const;  // constant time

 private:
  std::string value_;
};

inline std::ostream& operator<<(std::ostream& os, const Secret&) { return os << "<redacted>"; }

}  // namespace tocsin

template <>
struct fmt::formatter<tocsin::Secret> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const tocsin::Secret&, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format("<redacted>", ctx);
  }
};
