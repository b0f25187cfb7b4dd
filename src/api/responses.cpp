#include "api/responses.hpp"

#include <unordered_map>

namespace tocsin::api {

int StatusForCode(const std::string& code) {
  static const std::unordered_map<std::string, int> kStatus = {
      {"invalid_request", 400},   {"invalid_json", 400},         {"invalid_utf8", 400},       {"invalid_sarif", 400},
      {"bad_request", 400},       {"unauthorized", 401},         {"forbidden", 403},
      {"csrf_failed", 403},
      {"not_found", 404},         {"method_not_allowed", 405},   {"conflict", 409},
      {"payload_too_large", 413}, {"unsupported_media_type", 415},
      {"store_unavailable", 503}, {"not_ready", 503},
  };
  auto it = kStatus.find(code);
  return it == kStatus.end() ? 500 : it->second;
}

Response JsonResponse(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

Response ErrorResponse(const Error& error, int status) {
  nlohmann::json e = {{"code", error.code}, {"message", error.message}, {"hint", error.hint}};
  if (!error.field.empty()) e["field"] = error.field;
  return JsonResponse(status ? status : StatusForCode(error.code), {{"error", e}});
}

}  // namespace tocsin::api
