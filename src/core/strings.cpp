#include "core/strings.hpp"

#include <cctype>

namespace tocsin {

bool DecodeUtf8(std::string_view s, size_t& i, char32_t* cp) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    ++i;
    *cp = c;
    return true;
  }
  int n = 0;
  char32_t v = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 1;
    v = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 2;
    v = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 3;
    v = c & 0x07;
  } else {
    ++i;
    return false;
  }
  if (i + n >= s.size()) {
    ++i;
    return false;
  }
  for (int k = 1; k <= n; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) {
      ++i;
      return false;
    }
    v = (v << 6) | (d & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  if ((n == 1 && v < 0x80) || (n == 2 && v < 0x800) || (n == 3 && v < 0x10000) || v > 0x10FFFF ||
      (v >= 0xD800 && v <= 0xDFFF)) {
    ++i;
    return false;
  }
  i += n + 1;
  *cp = v;
  return true;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  char32_t cp = 0;
  while (i < s.size()) {
    if (!DecodeUtf8(s, i, &cp)) return false;
  }
  return true;
}

size_t CountRunes(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? s.npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

std::string Redact(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  size_t pos = 0;
  while ((pos = text.find(secret, pos)) != std::string::npos) {
    text.replace(pos, secret.size(), "<redacted>");
    pos += 10;
  }
  return text;
}

}  // namespace tocsin
