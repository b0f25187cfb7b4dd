// net/url.hpp — just enough URL parsing to validate a base URL and name "host:port" in messages.
//
// Accepts absolute http/https URLs only (scheme case-insensitive). This is deliberately stricter
// than RFC 3986: no user info, ASCII host names only, so that what an admin types is either what
// libcurl will contact or rejected with a sentence saying why. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace tocsin::net {

struct Url {
  std::string scheme;  // "http" or "https", lower-cased
  std::string host;    // as written; IPv6 literals keep their brackets ("[::1]")
  int port = 0;        // the explicit port, or the scheme's default (80/443)
  bool explicit_port = false;
  std::string path;   // "" or starting with '/'
  std::string query;  // without '?'
  std::string fragment;
  bool has_query = false;
  bool has_fragment = false;
  bool has_userinfo = false;

  // "host:port", e.g. "chat.example.com:443" or "[::1]:8065".
  std::string HostPort() const;
  // scheme://host[:port] without path.
  std::string Origin() const;
};

// Parses `text`; on failure the error is a sentence fragment saying what is wrong, e.g.
// "the scheme is \"ftp\"; only http and https are supported".
tl::expected<Url, std::string> ParseHttpUrl(std::string_view text);

// Percent-encodes everything except RFC 3986 unreserved characters, so a user-provided name can
// be put into one path segment without changing the path ("../x" stays one segment).
std::string EncodePathSegment(std::string_view segment);

}  // namespace tocsin::net
