#include "text.hpp"

#include <array>
#include <chrono>
#include <mutex>
#include <random>

namespace mmemu {
namespace {

constexpr std::string_view kIdAlphabet = "ybndrfg8ejkmcpqxot1uwisza345h769";

// One generator per thread: ids are minted on every request, a shared lock would serialise them.
std::mt19937_64& Generator() {
  thread_local std::mt19937_64 generator([] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }());
  return generator;
}

}  // namespace

std::string NewId() {
  std::array<uint8_t, 16> bytes{};
  uint64_t a = Generator()();
  uint64_t b = Generator()();
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<uint8_t>(a >> (8 * i));
    bytes[8 + i] = static_cast<uint8_t>(b >> (8 * i));
  }
  std::string out;
  out.reserve(26);
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t byte : bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kIdAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kIdAlphabet[(buffer << (5 - bits)) & 31]);
  return out;  // 128 bits -> 26 characters
}

bool IsValidId(std::string_view id) {
  if (id.size() != 26) return false;
  for (char c : id) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum) return false;
  }
  return true;
}

char32_t DecodeRune(std::string_view s, size_t pos, size_t* length) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c0 = byte(pos);
  *length = 1;
  if (c0 < 0x80) return c0;
  size_t need = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    need = 1, cp = c0 & 0x1F, min = 0x80;
  } else if (c0 >= 0xE0 && c0 <= 0xEF) {
    need = 2, cp = c0 & 0x0F, min = 0x800;
  } else if (c0 >= 0xF0 && c0 <= 0xF4) {
    need = 3, cp = c0 & 0x07, min = 0x10000;
  } else {
    return 0xFFFD;
  }
  if (pos + need >= s.size()) return 0xFFFD;  // truncated sequence
  for (size_t i = 1; i <= need; ++i) {
    unsigned char ci = byte(pos + i);
    if ((ci & 0xC0) != 0x80) return 0xFFFD;
    cp = (cp << 6) | (ci & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0xFFFD;
  *length = need + 1;
  return cp;
}

void AppendRune(std::string* out, char32_t c) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    size_t length = 0;
    char32_t c = DecodeRune(s, pos, &length);
    if (c == 0xFFFD && length == 1 && static_cast<unsigned char>(s[pos]) >= 0x80) {
      out.append("\xEF\xBF\xBD");
    } else {
      out.append(s.substr(pos, length));
    }
    pos += length;
  }
  return out;
}

size_t RuneCount(std::string_view s) {
  size_t count = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t length = 0;
    DecodeRune(s, pos, &length);
    pos += length;
    ++count;
  }
  return count;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace mmemu
