#include "api/router.hpp"

#include "api/responses.hpp"
#include "core/strings.hpp"

namespace tocsin::api {

namespace {
std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  for (auto& s : Split(path, '/')) {
    if (!s.empty()) out.push_back(std::move(s));
  }
  return out;
}
}  // namespace

void Router::Add(std::string method, const std::string& pattern, Fn fn) {
  routes_.push_back(Route{std::move(method), Segments(pattern), std::move(fn)});
}

bool Router::Match(const Route& route, const std::vector<std::string>& path, RouteMatch* out) {
  if (route.segments.size() != path.size()) return false;
  RouteMatch m;
  for (size_t i = 0; i < path.size(); ++i) {
    const std::string& seg = route.segments[i];
    if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
      m.params[seg.substr(1, seg.size() - 2)] = path[i];
    } else if (seg != path[i]) {
      return false;
    }
  }
  *out = std::move(m);
  return true;
}

Response Router::Dispatch(const Request& request) const {
  const auto path = Segments(request.path);
  std::string allow;
  const std::string method = request.method == "HEAD" ? "GET" : request.method;
  for (const auto& route : routes_) {
    RouteMatch m;
    if (!Match(route, path, &m)) continue;
    if (route.method == method) return route.fn(request, m);
    if (allow.find(route.method) == std::string::npos) {
      allow += (allow.empty() ? "" : ", ") + route.method;
    }
  }
  if (!allow.empty()) {
    Response r = ErrorResponse(Error{"method_not_allowed",
                                     request.method + " is not supported on " + request.path,
                                     "use one of: " + allow});
    r.headers.emplace_back("Allow", allow);
    return r;
  }
  return ErrorResponse(Error{"not_found", "no such endpoint: " + request.path,
                             "see docs/api.md for the endpoints"});
}

}  // namespace tocsin::api
