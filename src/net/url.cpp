#include "net/url.hpp"

#include <fmt/format.h>

#include <cctype>

#include "core/strings.hpp"

namespace tocsin::net {
namespace {

bool IsHostNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

bool IsIpv6LiteralChar(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
}

// Quoted for messages, shortened so a pasted paragraph does not become the whole message.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 60;
  if (s.size() > kMax) return fmt::format("\"{}…\"", s.substr(0, kMax));
  return fmt::format("\"{}\"", s);
}

}  // namespace

std::string Url::HostPort() const { return fmt::format("{}:{}", host, port); }

std::string Url::Origin() const {
  if (explicit_port) return fmt::format("{}://{}:{}", scheme, host, port);
  return fmt::format("{}://{}", scheme, host);
}

tl::expected<Url, std::string> ParseHttpUrl(std::string_view text) {
  using Err = tl::unexpected<std::string>;
  if (text.empty()) return Err("it is empty");
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isspace(u)) return Err("it contains a space or line break");
    if (u < 0x20 || u == 0x7f) return Err("it contains a control character");
    if (u >= 0x80) return Err("it contains non-ASCII characters (use the punycode host name)");
  }
  const size_t sep = text.find("://");
  if (sep == std::string_view::npos) {
    return Err(fmt::format("it has no scheme; write it as https://{}", text));
  }
  Url url;
  url.scheme = ToLower(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") {
    return Err(fmt::format("the scheme is {}; only http and https are supported",
                           Quote(text.substr(0, sep))));
  }
  std::string_view rest = text.substr(sep + 3);
  const size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  rest = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);

  if (authority.find('@') != std::string_view::npos) {
    url.has_userinfo = true;
    return Err("it contains a user name or password (user@host); remove it");
  }
  std::string_view port_text;
  bool has_port_separator = false;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Err("its IPv6 address has no closing ']'");
    std::string_view literal = authority.substr(1, close - 1);
    if (literal.empty()) return Err("its IPv6 address is empty");
    for (char c : literal) {
      if (!IsIpv6LiteralChar(c))
        return Err(fmt::format("{} is not an IPv6 address", Quote(literal)));
    }
    url.host = std::string(authority.substr(0, close + 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Err("unexpected characters after the IPv6 address");
      has_port_separator = true;
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      has_port_separator = true;
      port_text = authority.substr(colon + 1);
      authority = authority.substr(0, colon);
    }
    if (authority.empty()) return Err("it has no host name");
    for (char c : authority) {
      if (!IsHostNameChar(c)) {
        return Err(fmt::format("the host name {} contains '{}', which is not allowed",
                               Quote(authority), c));
      }
    }
    if (authority.front() == '.' || authority.front() == '-') {
      return Err(fmt::format("the host name {} is not valid", Quote(authority)));
    }
    url.host = std::string(authority);
  }
  if (has_port_separator) {
    if (port_text.empty()) return Err("it has a ':' but no port number");
    int port = 0;
    for (char c : port_text) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || port > 65535) {
        return Err(fmt::format("the port {} is not a number from 1 to 65535", Quote(port_text)));
      }
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) {
      return Err(fmt::format("the port {} is not a number from 1 to 65535", Quote(port_text)));
    }
    url.port = port;
    url.explicit_port = true;
  } else {
    url.port = url.scheme == "https" ? 443 : 80;
  }

  const size_t hash = rest.find('#');
  if (hash != std::string_view::npos) {
    url.has_fragment = true;
    url.fragment = std::string(rest.substr(hash + 1));
    rest = rest.substr(0, hash);
  }
  const size_t question = rest.find('?');
  if (question != std::string_view::npos) {
    url.has_query = true;
    url.query = std::string(rest.substr(question + 1));
    rest = rest.substr(0, question);
  }
  url.path = std::string(rest);
  return url;
}

std::string EncodePathSegment(std::string_view segment) {
  std::string out;
  out.reserve(segment.size());
  for (char c : segment) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  // "." and ".." alone would still be dot-segments that a server normalises away.
  if (out == "." || out == "..") {
    std::string dots;
    for (size_t i = 0; i < out.size(); ++i) dots += "%2E";
    return dots;
  }
  return out;
}

}  // namespace tocsin::net
