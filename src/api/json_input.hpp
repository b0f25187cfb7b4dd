// api/json_input.hpp — strict reading of JSON request bodies.
//
// Every /api/v1 body goes through ParseJsonBody (media type, UTF-8, size already limited by the
// server, nesting depth, syntax) and then an ObjectReader that takes fields by name and type and
// rejects any field it was not asked about (SPEC §5: unknown fields → 400 naming the field).
// Errors carry a JSON pointer in Error::field ("/routes/0/channel").
#pragma once

#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "api/http_server.hpp"
#include "core/result.hpp"

namespace tocsin::api {

// Checks Content-Type (application/json, optionally with charset=utf-8; else 415
// unsupported_media_type), valid UTF-8, depth <= max_depth, and parses. An empty body is
// allowed only when `allow_empty` (yields an empty object).
Result<nlohmann::json> ParseJsonBody(const Request& request, int max_depth, bool allow_empty = false);

// Reads one JSON object's members, recording which were taken; Finish() reports leftovers.
class ObjectReader {
 public:
  ObjectReader(const nlohmann::json& object, std::string pointer = "");

  // Each getter: absent (or, for optional ones, null) → nullopt; wrong type → error recorded.
  std::optional<std::string> String(const std::string& name, bool required = false);
  std::optional<bool> Bool(const std::string& name, bool required = false);
  std::optional<int64_t> Int(const std::string& name, bool required = false);
  std::optional<double> Number(const std::string& name, bool required = false);
  // Any JSON value (object/array), for nested readers.
  const nlohmann::json* Value(const std::string& name, bool required = false);

  // First error (type, missing, or unknown field), or success.
  Result<void> Finish();
  std::string Pointer(const std::string& name) const { return pointer_ + "/" + name; }

 private:
  const nlohmann::json* Take(const std::string& name, bool required, const char* type);
  void Record(Error e);

  const nlohmann::json& object_;
  std::string pointer_;
  std::set<std::string> taken_;
  std::optional<Error> error_;
};

}  // namespace tocsin::api
