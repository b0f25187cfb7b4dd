// api/router.hpp — method + path pattern → handler, with path parameters.
//
// Patterns are literal segments and {name} captures ("/api/v1/projects/{name}"). A path that
// matches some pattern with another method answers 405 with Allow; no match answers 404. Both in
// the SPEC's JSON error shape.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/http_server.hpp"

namespace tocsin::api {

struct RouteMatch {
  std::map<std::string, std::string> params;
};

class Router {
 public:
  using Fn = std::function<Response(const Request&, const RouteMatch&)>;
  void Add(std::string method, const std::string& pattern, Fn fn);
  Response Dispatch(const Request& request) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Fn fn;
  };
  static bool Match(const Route& route, const std::vector<std::string>& path, RouteMatch* out);
  std::vector<Route> routes_;
};

}  // namespace tocsin::api
