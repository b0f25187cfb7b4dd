#include "api/web_ui.hpp"

#include <algorithm>
#include <string>

#include "core/strings.hpp"

namespace tocsin::api {

namespace {

constexpr std::string_view kCsp =
    "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; "
    "form-action 'self'";

bool HasHeader(const Response& r, std::string_view name) {
  return std::any_of(r.headers.begin(), r.headers.end(),
                     [&](const auto& h) { return ToLower(h.first) == name; });
}

// True when an If-None-Match header lists `etag` (or is "*"). Weak comparison, as RFC 9110
// asks for If-None-Match: a W/ prefix does not matter.
bool Matches(std::string_view if_none_match, std::string_view etag) {
  for (const auto& part : Split(if_none_match, ',')) {
    std::string_view tag = Trim(part);
    if (tag == "*") return true;
    if (StartsWith(tag, "W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
  }
  return false;
}

}  // namespace

WebUi::WebUi() {
  for (const WebAsset& a : EmbeddedWebAssets()) {
    by_path_[a.path] = &a;
    if (a.path == "/index.html") index_ = &a;
  }
}

std::optional<Response> WebUi::Serve(const Request& request) const {
  if (request.method != "GET" && request.method != "HEAD") return std::nullopt;
  const std::string& path = request.path;
  if (path == "/api" || StartsWith(path, "/api/")) return std::nullopt;
  if (auto it = by_path_.find(path); it != by_path_.end()) {
    return AssetResponse(*it->second, request);
  }
  if (StartsWith(path, "/assets/") || index_ == nullptr) {
    Response r;
    r.status = 404;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "not found\n";
    AddSecurityHeaders(&r);
    return r;
  }
  // A client-side route: the app reads location.pathname and shows the page.
  return AssetResponse(*index_, request);
}

Response WebUi::AssetResponse(const WebAsset& asset, const Request& request) const {
  Response r;
  r.headers.emplace_back("ETag", std::string(asset.etag));
  // Revalidate every time: file names carry no hash, and a 304 costs one round trip.
  r.headers.emplace_back("Cache-Control", "no-cache");
  if (auto inm = request.Header("if-none-match"); inm && Matches(*inm, asset.etag)) {
    r.status = 304;
    r.content_type.clear();
  } else {
    r.status = 200;
    r.content_type = std::string(asset.content_type);
    r.body = std::string(asset.body);
  }
  AddSecurityHeaders(&r);
  return r;
}

void AddSecurityHeaders(Response* response) {
  static const std::pair<std::string_view, std::string_view> kHeaders[] = {
      {"Content-Security-Policy", kCsp},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Cross-Origin-Opener-Policy", "same-origin"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
  };
  for (const auto& [name, value] : kHeaders) {
    if (!HasHeader(*response, ToLower(name))) {
      response->headers.emplace_back(std::string(name), std::string(value));
    }
  }
}

}  // namespace tocsin::api
