// api/web_assets.hpp — the web UI's files, compiled into the binary.
//
// cmake/EmbedWeb.cmake turns every file under web/ into a generated .cpp (byte strings, a
// content type by extension and an ETag from the file's SHA-256) that defines
// EmbeddedWebAssets(); nothing is read from disk at run time, so `tocsin serve` needs no web
// directory, npm or network. Paths are "/" + the path below web/ ("/index.html",
// "/assets/app.js"). The table is immutable: safe to read from any thread.
#pragma once

#include <span>
#include <string_view>

namespace tocsin::api {

struct WebAsset {
  std::string_view path;          // "/index.html"
  std::string_view content_type;  // "text/html; charset=utf-8"
  std::string_view etag;          // quoted strong validator, e.g. "\"3f2a…\""
  std::string_view body;
};

// Defined in the generated file (build dir: generated/web_assets_data.cpp), sorted by path.
std::span<const WebAsset> EmbeddedWebAssets();

}  // namespace tocsin::api
