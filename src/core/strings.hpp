// core/strings.hpp — small text utilities shared by several modules.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tocsin {

bool IsValidUtf8(std::string_view s);
// Decodes the code point at s[i] into *cp and advances i past it. A byte that does not start a
// valid sequence (truncated, overlong, surrogate, past U+10FFFF, stray continuation) gives false
// and advances i by that one byte, so callers can replace it and go on.
bool DecodeUtf8(std::string_view s, size_t& i, char32_t* cp);
// Number of Unicode code points (Mattermost counts message length in runes). Assumes valid UTF-8.
size_t CountRunes(std::string_view s);
std::string ToLower(std::string_view s);
bool StartsWith(std::string_view s, std::string_view prefix);
bool EndsWith(std::string_view s, std::string_view suffix);
std::string_view Trim(std::string_view s);
std::vector<std::string> Split(std::string_view s, char sep);
// Replaces every occurrence of `secret` in `text` by "<redacted>" (no-op for an empty secret).
std::string Redact(std::string text, std::string_view secret);

}  // namespace tocsin
