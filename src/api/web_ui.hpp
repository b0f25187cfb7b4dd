// api/web_ui.hpp — serving the embedded web UI (SPEC §8) and its security headers.
//
// WebUi answers GET/HEAD for paths outside /api/: an embedded file when the path names one, and
// index.html for every other path (the app's client-side routes such as /projects/acme/findings),
// except under /assets/, where a missing file is a plain 404 so a broken reference shows. Files
// are revalidated with their ETag (If-None-Match → 304). Every UI answer carries the strict
// headers of SecurityHeaders(): a CSP of default-src 'self' without inline script or style, no
// framing, no referrer, no MIME sniffing.
// Threading: const and stateless after construction; safe from any thread.
#pragma once

#include <optional>
#include <string_view>
#include <unordered_map>

#include "api/http_server.hpp"
#include "api/web_assets.hpp"

namespace tocsin::api {

class WebUi {
 public:
  WebUi();
  // The answer for a UI request; nullopt when the request is not the UI's (an /api/ path, or a
  // method other than GET/HEAD), so the caller keeps its own 404/405.
  std::optional<Response> Serve(const Request& request) const;

 private:
  Response AssetResponse(const WebAsset& asset, const Request& request) const;
  std::unordered_map<std::string_view, const WebAsset*> by_path_;
  const WebAsset* index_ = nullptr;
};

// Adds the headers every response of the service carries (CSP, nosniff, no referrer, no
// framing), unless the response already sets them.
void AddSecurityHeaders(Response* response);

}  // namespace tocsin::api
