// Small text helpers shared by the emulator: Mattermost ids, UTF-8 handling the way Go does it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mmemu {

// model.NewId(): 16 random bytes, base32 with alphabet "ybndrfg8ejkmcpqxot1uwisza345h769", no
// padding = 26 characters. Thread-safe.
std::string NewId();

// model.IsValidId(): exactly 26 letters/digits.
bool IsValidId(std::string_view id);

// Go decodes JSON strings replacing invalid UTF-8 with U+FFFD instead of failing; nlohmann fails.
// Returns `s` with every invalid byte sequence replaced by U+FFFD (EF BF BD).
std::string SanitizeUtf8(std::string_view s);

// utf8.RuneCountInString: code points, counting each invalid byte as one.
size_t RuneCount(std::string_view s);

// Decodes one code point at `pos`; returns U+FFFD with length 1 for an invalid byte.
char32_t DecodeRune(std::string_view s, size_t pos, size_t* length);
void AppendRune(std::string* out, char32_t c);

bool StartsWith(std::string_view s, std::string_view prefix);
std::string AsciiLower(std::string_view s);

int64_t NowMs();  // wall clock, ms since the epoch (Mattermost timestamps)

}  // namespace mmemu
