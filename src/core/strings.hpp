// core/strings.hpp — small text utilities shared by several modules.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tocsin {

bool IsValidUtf8(std::string_view s);
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
