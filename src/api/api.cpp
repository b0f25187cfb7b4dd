#include "api/api.hpp"

#include "api/api_impl.hpp"

namespace tocsin::api {

Handler MakeApiHandler(ApiDeps deps) {
  auto api = std::make_shared<internal::Api>(deps);
  return [api](const Request& req) { return api->Handle(req); };
}

BodyLimit MakeBodyLimit(const config::Settings& settings) {
  const uint64_t events = static_cast<uint64_t>(settings.max_event_body);
  const uint64_t scans = static_cast<uint64_t>(settings.max_scan_body);
  return [events, scans](std::string_view method, std::string_view path) -> uint64_t {
    if (method == "POST" && path.find("/scans") != std::string_view::npos) return scans;
    return events;
  };
}

}  // namespace tocsin::api
