// Test-side model of what Mattermost does with a post's text (API-FACTS §5.1), used to assert that
// rendered posts are inert: which @-mentions the server would find, and which Markdown characters
// are still active (not backslash-escaped).
//
// The mention model is deliberately stricter than the server: backslash escapes and character
// references (&#64; &commat; …) are decoded first, code spans are scanned too, and any code point
// outside ASCII that is not a known separator counts as a letter, so words only get longer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace tocsin::render::testing {

inline bool IsAsciiPunct(char32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
         (c >= 0x7B && c <= 0x7E);
}

inline std::u32string DecodeUtf8(std::string_view s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : 3;
    char32_t cp = n == 0 ? c : n == 1 ? (c & 0x1F) : n == 2 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k <= n && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    out.push_back(cp);
    i += n + 1;
  }
  return out;
}

// Word characters for the mention split: letters, digits and ": . - _ @". Non-ASCII counts as a
// letter unless it is a separator we know of (U+200B above all).
inline bool IsWordChar(char32_t c) {
  if (c < 0x80) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == ':' || c == '.' || c == '-' || c == '_' || c == '@';
  }
  if (c == 0x200B || c == 0x00A0 || c == 0x3000 || (c >= 0x2000 && c <= 0x200A)) return false;
  if (c == 0x2026 || c == 0x2013 || c == 0x2014 || c == 0x2192 || c == 0x00B7) return false;
  return true;
}

inline bool IsLetterOrDigit(char32_t c) {
  if (c < 0x80) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  }
  return IsWordChar(c);
}

// Backslash escapes and character references resolved the way a Markdown parser would.
inline std::u32string MarkdownText(std::string_view markdown) {
  const std::u32string in = DecodeUtf8(markdown);
  std::u32string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\\' && i + 1 < in.size() && IsAsciiPunct(in[i + 1])) {
      out.push_back(in[++i]);
      continue;
    }
    if (in[i] == '&') {
      const size_t semi = in.find(';', i);
      if (semi != std::u32string::npos && semi - i <= 10) {
        const std::u32string ref = in.substr(i + 1, semi - i - 1);
        char32_t decoded = 0;
        if (ref == U"commat") decoded = '@';
        if (ref == U"amp") decoded = '&';
        if (ref == U"lt") decoded = '<';
        if (ref == U"gt") decoded = '>';
        if (!ref.empty() && ref[0] == '#') {
          const bool hex = ref.size() > 1 && (ref[1] == 'x' || ref[1] == 'X');
          char32_t v = 0;
          bool ok = ref.size() > (hex ? 2u : 1u);
          for (size_t k = hex ? 2 : 1; k < ref.size() && ok; ++k) {
            const char32_t d = ref[k];
            if (d >= '0' && d <= '9') {
              v = v * (hex ? 16 : 10) + (d - '0');
            } else if (hex && ((d >= 'a' && d <= 'f') || (d >= 'A' && d <= 'F'))) {
              v = v * 16 + ((d | 0x20) - 'a' + 10);
            } else {
              ok = false;
            }
          }
          if (ok) decoded = v;
        }
        if (decoded != 0) {
          out.push_back(decoded);
          i = semi;
          continue;
        }
      }
    }
    out.push_back(in[i]);
  }
  return out;
}

// Every word in which an '@' (or its full-width/small forms) is directly followed by a letter or
// digit: what could notify somebody. Empty means the text is inert.
inline std::vector<std::string> Mentions(std::string_view markdown) {
  const std::u32string text = MarkdownText(markdown);
  std::vector<std::string> found;
  std::u32string word;
  auto check = [&] {
    for (size_t k = 0; k + 1 < word.size(); ++k) {
      const bool at = word[k] == '@' || word[k] == 0xFF20 || word[k] == 0xFE6B;
      if (at && IsLetterOrDigit(word[k + 1])) {
        std::string w;
        for (char32_t c : word) w += c < 0x80 ? static_cast<char>(c) : '?';
        found.push_back(w);
        break;
      }
    }
    word.clear();
  };
  for (char32_t c : text) {
    if (IsWordChar(c) || c == 0xFF20 || c == 0xFE6B) {
      word.push_back(c);
    } else {
      check();
    }
  }
  check();
  return found;
}

// Markdown characters that are still active (not escaped) in `markdown`, as a string of them.
// The templates of render/ use none of these, so in a rendered post any of them is a leak.
inline std::string ActiveSpecials(std::string_view markdown,
                                  std::string_view specials = "[]<>`|#!~&$") {
  const std::u32string in = DecodeUtf8(markdown);
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\\' && i + 1 < in.size() && IsAsciiPunct(in[i + 1])) {
      ++i;
      continue;
    }
    if (in[i] < 0x80 && specials.find(static_cast<char>(in[i])) != std::string_view::npos) {
      out += static_cast<char>(in[i]);
    }
  }
  return out;
}

// Control characters and invisible format characters that must never reach a post. Line feeds
// are allowed only where `allow_newline`.
inline bool HasForbiddenCharacters(std::string_view s, bool allow_newline) {
  for (char32_t c : DecodeUtf8(s)) {
    if (c == '\n' && allow_newline) continue;
    if (c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0x9F)) return true;
    if ((c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) || c == 0x200E ||
        c == 0x200F || c == 0x200D || c == 0x200C || c == 0xFEFF || c == 0x2028 || c == 0x2029 ||
        (c >= 0xE0000 && c <= 0xE007F)) {
      return true;
    }
  }
  return false;
}

// Every Markdown-rendered string of a post with a name for messages: the message, and per
// attachment its pretext, title (unless it has a title_link: then clients show it as plain link
// text), text and field titles/values. (fallback and linked titles are plain text and checked
// separately, see PlainTexts; title_link is a URL.)
struct PostText {
  std::string where;
  std::string text;
  bool multi_line;
};

inline std::vector<PostText> MarkdownTexts(const nlohmann::json& post) {
  std::vector<PostText> out;
  if (post.contains("message") && post["message"].is_string()) {
    out.push_back({"message", post["message"].get<std::string>(), true});
  }
  if (!post.contains("props") || !post["props"].contains("attachments")) return out;
  const auto& atts = post["props"]["attachments"];
  for (size_t i = 0; i < atts.size(); ++i) {
    const auto& a = atts[i];
    const std::string at = "attachments/" + std::to_string(i) + "/";
    for (const char* key : {"pretext", "title", "text"}) {
      if (std::string(key) == "title" && a.contains("title_link")) continue;
      if (a.contains(key) && a[key].is_string()) {
        out.push_back({at + key, a[key].get<std::string>(), std::string(key) != "title"});
      }
    }
    if (a.contains("fields")) {
      for (size_t k = 0; k < a["fields"].size(); ++k) {
        const auto& f = a["fields"][k];
        const std::string fat = at + "fields/" + std::to_string(k) + "/";
        if (f.contains("title")) out.push_back({fat + "title", f["title"].get<std::string>(), false});
        if (f.contains("value")) out.push_back({fat + "value", f["value"].get<std::string>(), false});
      }
    }
  }
  return out;
}

// The plain-text strings: every fallback, and titles that carry a title_link.
inline std::vector<std::string> PlainTexts(const nlohmann::json& post) {
  std::vector<std::string> out;
  if (!post.contains("props") || !post["props"].contains("attachments")) return out;
  for (const auto& a : post["props"]["attachments"]) {
    if (a.contains("fallback")) out.push_back(a["fallback"].get<std::string>());
    if (a.contains("title_link") && a.contains("title")) {
      out.push_back(a["title"].get<std::string>());
    }
  }
  return out;
}

}  // namespace tocsin::render::testing
