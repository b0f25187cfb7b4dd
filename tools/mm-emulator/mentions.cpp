#include "mentions.hpp"

#include <locale.h>
#include <wctype.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>

#include "text.hpp"

namespace mmemu {
namespace {

constexpr size_t kMaxMarkdownBytes = 131072;
constexpr int kMaxNestingDepth = 32;

// ---------------------------------------------------------------------------------------------
// Character classes. Go's unicode tables are approximated with glibc's C.UTF-8 classification.

locale_t Utf8Locale() {
  static locale_t locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return locale;
}

bool IsLetter(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  locale_t locale = Utf8Locale();
  return locale != nullptr && iswalpha_l(static_cast<wint_t>(c), locale);
}

bool IsNumber(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  // glibc files other scripts' digits under "alpha"; superscripts and vulgar fractions (Go's
  // category No) it leaves out.
  if (c == 0xB2 || c == 0xB3 || c == 0xB9 || (c >= 0xBC && c <= 0xBE)) return true;
  return false;
}

bool IsUnicodeSpace(char32_t c) {
  switch (c) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
      return true;
    default:
      break;
  }
  if (c < 0x80) return false;
  locale_t locale = Utf8Locale();
  return locale != nullptr && iswspace_l(static_cast<wint_t>(c), locale);
}

bool IsUnicodePunct(char32_t c) {
  if (c < 0x80) return c != 0 && std::strchr("!\"#%&'()*,-./:;?@[\\]_{}", static_cast<int>(c));
  locale_t locale = Utf8Locale();
  return locale != nullptr && iswpunct_l(static_cast<wint_t>(c), locale);
}

std::string UnicodeLower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  locale_t locale = Utf8Locale();
  size_t pos = 0;
  while (pos < s.size()) {
    size_t length = 0;
    char32_t c = DecodeRune(s, pos, &length);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    } else if (locale != nullptr) {
      AppendRune(&out, static_cast<char32_t>(towlower_l(static_cast<wint_t>(c), locale)));
    } else {
      out.append(s.substr(pos, length));
    }
    pos += length;
  }
  return out;
}

bool IsMarkdownWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool IsEscapable(char c) {
  auto u = static_cast<unsigned char>(c);
  return u > ' ' && u <= '~' &&
         !((u >= '0' && u <= '9') || (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z'));
}

bool IsAsciiAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool IsWordByte(char c) { return IsAsciiAlnum(c) || c == '_'; }

bool IsBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return IsMarkdownWhitespace(c); });
}

// ---------------------------------------------------------------------------------------------
// Character references.

const std::unordered_map<std::string, std::string>& NamedEntities() {
  // The server knows every HTML5 entity; these are the common ones and every one that decodes to
  // a character that can be part of a mention word (letters come only from numeric references).
  static const std::unordered_map<std::string, std::string> kEntities = {
      {"amp", "&"},
      {"lt", "<"},
      {"gt", ">"},
      {"quot", "\""},
      {"apos", "'"},
      {"nbsp", "\xC2\xA0"},
      {"commat", "@"},
      {"period", "."},
      {"colon", ":"},
      {"lowbar", "_"},
      {"UnderBar", "_"},
      {"hyphen", "\xE2\x80\x90"},
      {"dash", "\xE2\x80\x90"},
      {"ndash", "\xE2\x80\x93"},
      {"mdash", "\xE2\x80\x94"},
      {"num", "#"},
      {"excl", "!"},
      {"quest", "?"},
      {"comma", ","},
      {"semi", ";"},
      {"sol", "/"},
      {"bsol", "\\"},
      {"ast", "*"},
      {"midast", "*"},
      {"plus", "+"},
      {"equals", "="},
      {"percnt", "%"},
      {"dollar", "$"},
      {"lpar", "("},
      {"rpar", ")"},
      {"lsqb", "["},
      {"rsqb", "]"},
      {"lbrack", "["},
      {"rbrack", "]"},
      {"lcub", "{"},
      {"rcub", "}"},
      {"lbrace", "{"},
      {"rbrace", "}"},
      {"verbar", "|"},
      {"vert", "|"},
      {"VerticalLine", "|"},
      {"grave", "`"},
      {"Hat", "^"},
      {"Tab", "\t"},
      {"NewLine", "\n"},
      {"ZeroWidthSpace", "\xE2\x80\x8B"},
      {"copy", "\xC2\xA9"},
      {"reg", "\xC2\xAE"},
      {"trade", "\xE2\x84\xA2"},
      {"hellip", "\xE2\x80\xA6"},
      {"laquo", "\xC2\xAB"},
      {"raquo", "\xC2\xBB"},
      {"eacute", "\xC3\xA9"},
      {"uuml", "\xC3\xBC"},
      {"ouml", "\xC3\xB6"},
      {"auml", "\xC3\xA4"},
      {"szlig", "\xC3\x9F"},
  };
  return kEntities;
}

std::string CharacterReference(std::string_view ref) {
  if (ref.empty()) return "";
  if (ref[0] == '#') {
    if (ref.size() < 2) return "";
    uint32_t n = 0;
    if (ref[1] == 'x' || ref[1] == 'X') {
      if (ref.size() < 3) return "";
      for (size_t i = 2; i < ref.size(); ++i) {
        if (i > 9) return "";
        char d = ref[i];
        if (d >= '0' && d <= '9') {
          n = n * 16 + static_cast<uint32_t>(d - '0');
        } else if (d >= 'a' && d <= 'f') {
          n = n * 16 + 10 + static_cast<uint32_t>(d - 'a');
        } else if (d >= 'A' && d <= 'F') {
          n = n * 16 + 10 + static_cast<uint32_t>(d - 'A');
        } else {
          return "";
        }
      }
    } else {
      for (size_t i = 1; i < ref.size(); ++i) {
        if (i > 8 || ref[i] < '0' || ref[i] > '9') return "";
        n = n * 10 + static_cast<uint32_t>(ref[i] - '0');
      }
    }
    std::string out;
    bool valid = n != 0 && n <= 0x10FFFF && !(n >= 0xD800 && n <= 0xDFFF);
    AppendRune(&out, valid ? static_cast<char32_t>(n) : char32_t{0xFFFD});
    return out;
  }
  auto it = NamedEntities().find(std::string(ref));
  return it == NamedEntities().end() ? "" : it->second;
}

// ---------------------------------------------------------------------------------------------
// Inline parsing (the server's inline parser, reduced to what decides which text is scanned).

struct Inline {
  enum class Kind { kText, kLink, kOther };
  Kind kind = Kind::kOther;
  std::string text;
  size_t start = 0, end = 0;     // source range of a text node (decides merging)
  std::vector<Inline> children;  // inline links and images
};

struct Delimiter {
  bool image = false;
  bool inactive = false;
  size_t text_node = 0;
};

class InlineParser {
 public:
  explicit InlineParser(std::string raw) : raw_(std::move(raw)) {}

  std::vector<Inline> Parse() {
    while (pos_ < raw_.size()) {
      char c = raw_[pos_];
      switch (c) {
        case '\r':
        case '\n':
          ParseLineEnding();
          break;
        case '\\':
          ParseEscape();
          break;
        case '`':
          ParseBackticks();
          break;
        case '&':
          ParseCharacterReference();
          break;
        case '!':
        case '[':
          ParseLinkOrImageDelimiter();
          break;
        case ']':
          LookForLinkOrImage();
          break;
        case 'w':
        case 'W':
          if (!ParseAutolink(c)) ParseText();
          break;
        case ':':
          if (ParseAutolink(c)) break;
          if (ParseEmoji()) break;
          ParseText();
          break;
        default:
          ParseText();
          break;
      }
    }
    return std::move(inlines_);
  }

 private:
  void PushText(std::string text, size_t start, size_t end) {
    Inline node;
    node.kind = Inline::Kind::kText;
    node.text = std::move(text);
    node.start = start;
    node.end = end;
    inlines_.push_back(std::move(node));
  }

  void PushOther() { inlines_.push_back(Inline{}); }

  void ParseLineEnding() {
    PushOther();  // soft or hard line break: never text
    ++pos_;
    if (pos_ < raw_.size() && raw_[pos_] == '\n') ++pos_;
  }

  void ParseEscape() {
    if (pos_ + 1 < raw_.size() && IsEscapable(raw_[pos_ + 1])) {
      // The escaped character's range starts after the backslash: it merges with what follows,
      // not with what precedes.
      PushText(std::string(1, raw_[pos_ + 1]), pos_ + 1, pos_ + 2);
      pos_ += 2;
    } else {
      PushText("\\", pos_, pos_ + 1);
      ++pos_;
    }
  }

  void ParseBackticks() {
    size_t count = 1;
    while (pos_ + count < raw_.size() && raw_[pos_ + count] == '`') ++count;
    std::string opening = raw_.substr(pos_, count);
    size_t search = pos_ + count;
    while (search < raw_.size()) {
      size_t end = raw_.find(opening, search);
      if (end == std::string::npos) break;
      if (end + count < raw_.size() && raw_[end + count] == '`') {
        search = end + count;
        while (search < raw_.size() && raw_[search] == '`') ++search;
        continue;
      }
      pos_ = end + count;
      PushOther();  // code span
      return;
    }
    PushText(opening, pos_, pos_ + count);
    pos_ += count;
  }

  void ParseCharacterReference() {
    size_t start = pos_;
    ++pos_;
    size_t semicolon = raw_.find(';', pos_);
    if (semicolon != std::string::npos) {
      std::string decoded =
          CharacterReference(std::string_view(raw_).substr(pos_, semicolon - pos_));
      if (!decoded.empty()) {
        pos_ = semicolon + 1;
        // The server gives the decoded text a range as long as the decoded bytes, so it can merge
        // with the text before the reference but not with the text after it.
        size_t length = decoded.size();
        PushText(std::move(decoded), start, start + length);
        return;
      }
    }
    PushText("&", start, start + 1);
  }

  void ParseLinkOrImageDelimiter() {
    if (raw_[pos_] == '[') {
      PushText("[", pos_, pos_ + 1);
      delimiters_.push_back(Delimiter{false, false, inlines_.size() - 1});
      ++pos_;
    } else if (pos_ + 1 < raw_.size() && raw_[pos_ + 1] == '[') {
      PushText("![", pos_, pos_ + 2);
      delimiters_.push_back(Delimiter{true, false, inlines_.size() - 1});
      pos_ += 2;
    } else {
      PushText("!", pos_, pos_ + 1);
      ++pos_;
    }
  }

  void LookForLinkOrImage() {
    if (!delimiters_.empty()) {
      Delimiter delimiter = delimiters_.back();
      delimiters_.pop_back();
      size_t next = 0;
      if (!delimiter.inactive && PeekInlineLink(pos_ + 1, delimiter.image, &next)) {
        Inline link;
        link.kind = Inline::Kind::kLink;
        for (size_t i = delimiter.text_node + 1; i < inlines_.size(); ++i) {
          link.children.push_back(std::move(inlines_[i]));
        }
        inlines_.resize(delimiter.text_node);
        inlines_.push_back(std::move(link));
        if (!delimiter.image) {
          for (Delimiter& earlier : delimiters_) {
            if (!earlier.image) earlier.inactive = true;  // no links inside links
          }
        }
        pos_ = next;
        return;
      }
    }
    PushText("]", pos_, pos_ + 1);
    ++pos_;
  }

  size_t NextNonWhitespace(size_t position) const {
    while (position < raw_.size() && IsMarkdownWhitespace(raw_[position])) ++position;
    return position;
  }

  bool ParseLinkDestination(size_t position, size_t* end) const {
    if (raw_[position] == '<') {
      for (size_t i = position + 1; i < raw_.size();) {
        char c = raw_[i];
        if (c == '\\' && i + 1 < raw_.size() && IsEscapable(raw_[i + 1])) {
          i += 2;
        } else if (c == '\n' || c == '\r' || c == '<') {
          return false;
        } else if (c == '>') {
          *end = i + 1;
          return true;
        } else {
          ++i;
        }
      }
      return false;
    }
    int depth = 0;
    size_t i = position;
    while (i < raw_.size()) {
      char c = raw_[i];
      auto u = static_cast<unsigned char>(c);
      if (c == '\\' && i + 1 < raw_.size() && IsEscapable(raw_[i + 1])) {
        i += 2;
        continue;
      }
      if (c == '(') {
        if (++depth > kMaxNestingDepth) return false;
      } else if (c == ')') {
        if (depth == 0) break;
        --depth;
      } else if (IsMarkdownWhitespace(c) || u < 0x20 || u == 0x7F) {
        break;
      }
      ++i;
    }
    if (depth != 0 || i == position) return false;
    *end = i;
    return true;
  }

  bool ParseLinkTitle(size_t position, size_t* end) const {
    char opener = raw_[position];
    char closer = opener == '(' ? ')' : opener;
    for (size_t i = position + 1; i < raw_.size();) {
      char c = raw_[i];
      if (c == '\\' && i + 1 < raw_.size() && IsEscapable(raw_[i + 1])) {
        i += 2;
        continue;
      }
      if (c == closer) {
        *end = i + 1;
        return true;
      }
      if (opener == '(' && c == '(') return false;
      ++i;
    }
    return false;
  }

  bool ParseImageDimensions(size_t position, size_t* end) const {
    size_t i = position + 1;  // after '='
    size_t width = 0, height = 0;
    while (i < raw_.size() && raw_[i] >= '0' && raw_[i] <= '9') ++i, ++width;
    bool has_x = i < raw_.size() && raw_[i] == 'x';
    if (has_x) {
      ++i;
      while (i < raw_.size() && raw_[i] >= '0' && raw_[i] <= '9') ++i, ++height;
    }
    if (width == 0 && height == 0) return false;
    *end = i;
    return true;
  }

  bool PeekInlineLink(size_t position, bool image, size_t* next) const {
    if (position >= raw_.size() || raw_[position] != '(') return false;
    ++position;
    size_t destination = NextNonWhitespace(position);
    if (destination >= raw_.size()) return false;
    if (raw_[destination] == ')') {
      *next = destination + 1;
      return true;
    }
    size_t end = 0;
    if (!ParseLinkDestination(destination, &end)) return false;
    position = end;
    if (image && position < raw_.size() && IsMarkdownWhitespace(raw_[position])) {
      size_t dimensions = NextNonWhitespace(position);
      if (dimensions >= raw_.size()) return false;
      if (raw_[dimensions] == '=') {
        if (!ParseImageDimensions(dimensions, &end)) return false;
        position = end;
      }
    }
    if (position < raw_.size() && IsMarkdownWhitespace(raw_[position])) {
      size_t title = NextNonWhitespace(position);
      if (title >= raw_.size()) return false;
      if (raw_[title] == ')') {
        *next = title + 1;
        return true;
      }
      if (raw_[title] == '"' || raw_[title] == '\'' || raw_[title] == '(') {
        if (!ParseLinkTitle(title, &end)) return false;
        position = end;
      }
    }
    size_t closing = NextNonWhitespace(position);
    if (closing >= raw_.size() || raw_[closing] != ')') return false;
    *next = closing + 1;
    return true;
  }

  bool IsValidHostCharacter(size_t position) const {
    if (position >= raw_.size()) return false;
    size_t length = 0;
    char32_t c = DecodeRune(raw_, position, &length);
    if (c == 0xFFFD) return false;
    return !IsUnicodeSpace(c) && !IsUnicodePunct(c);
  }

  // Length of the domain starting at `position` (0 if none).
  size_t CheckDomain(size_t position, bool allow_short) const {
    bool found_underscore = false, found_period = false;
    size_t length = raw_.size() - position;
    size_t i = 1;
    for (; i + 1 < length; ++i) {
      char c = raw_[position + i];
      if (c == '_') {
        found_underscore = true;
        break;
      } else if (c == '.') {
        found_period = true;
      } else if (!IsValidHostCharacter(position + i) && c != '-') {
        break;
      }
    }
    if (found_underscore) return 0;
    if (allow_short) return i;
    return found_period ? i : 0;
  }

  size_t TrimTrailingCharactersFromLink(size_t start, size_t end) const {
    std::vector<char32_t> runes;
    std::vector<size_t> widths;
    for (size_t pos = start; pos < end;) {
      size_t length = 0;
      runes.push_back(DecodeRune(raw_, pos, &length));
      widths.push_back(length);
      pos += length;
    }
    long link_end = static_cast<long>(runes.size());
    for (size_t i = 0; i < runes.size(); ++i) {
      if (runes[i] == '<' || runes[i] == '>') {
        link_end = static_cast<long>(i);
        break;
      }
    }
    int opening = 0, closing = 0;
    for (long i = 0; i < link_end; ++i) {
      if (runes[i] == '(') ++opening;
      if (runes[i] == ')') ++closing;
    }
    auto trim = [&](long new_end) {
      for (long i = new_end; i < link_end; ++i) {
        if (runes[i] == '(') --opening;
        if (runes[i] == ')') --closing;
      }
      link_end = new_end;
    };
    auto can_end = [](char32_t c) {
      return !(c == '?' || c == '!' || c == '.' || c == ',' || c == ':' || c == '*' || c == '_' ||
               c == '~' || c == '\'' || c == '"');
    };
    auto ascii_letter = [](char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    while (link_end > 0) {
      char32_t c = runes[link_end - 1];
      if (!can_end(c)) {
        trim(link_end - 1);
      } else if (c == ';') {
        long new_end = link_end - 2;
        while (new_end > 0 && ascii_letter(runes[new_end])) --new_end;
        if (new_end < link_end - 2 && runes[new_end] == '&') {
          trim(new_end);
        } else {
          trim(link_end - 1);
        }
      } else if (c == ')') {
        if (closing <= opening) break;
        trim(link_end - 1);
      } else {
        break;
      }
    }
    size_t bytes = 0;
    for (long i = 0; i < link_end; ++i) bytes += widths[i];
    return start + bytes;
  }

  bool ParseUrlAutolink(size_t position, size_t* start_out, size_t* end_out) const {
    if (raw_.size() - position < 4 || raw_[position + 1] != '/' || raw_[position + 2] != '/') {
      return false;
    }
    if (position == 0) return false;
    size_t start = position - 1;
    while (start > 0 && IsAsciiAlnum(raw_[start - 1])) --start;
    std::string scheme = AsciiLower(std::string_view(raw_).substr(start, position - start));
    static const char* kSchemes[] = {"http", "https", "ftp", "mailto", "tel", "gemini"};
    bool allowed = std::any_of(std::begin(kSchemes), std::end(kSchemes),
                               [&](const char* s) { return scheme == s; });
    if (!allowed || !IsValidHostCharacter(position + 3)) return false;
    size_t end = CheckDomain(position + 3, true);
    if (end == 0) return false;
    end += position;  // (sic) the server adds the colon's position, not the domain's
    while (end < raw_.size() && !IsMarkdownWhitespace(raw_[end])) ++end;
    end = TrimTrailingCharactersFromLink(start, end);
    if (start == end) return false;
    *start_out = start;
    *end_out = end;
    return true;
  }

  bool ParseWwwAutolink(size_t position, size_t* start_out, size_t* end_out) const {
    if (position > 1) {
      char previous = raw_[position - 1];
      if (!IsMarkdownWhitespace(previous) && !std::strchr("*_~)<(>", previous)) return false;
    }
    if (raw_.size() - position < 4 || raw_.compare(position, 3, "www") != 0) return false;
    size_t i = position + 3;
    size_t digits = 0;
    while (i < raw_.size() && digits < 3 && raw_[i] >= '0' && raw_[i] <= '9') ++i, ++digits;
    if (i >= raw_.size() || raw_[i] != '.') return false;
    size_t end = CheckDomain(position, false);
    if (end == 0) return false;
    end += position;
    while (end < raw_.size() && !IsMarkdownWhitespace(raw_[end])) ++end;
    end = TrimTrailingCharactersFromLink(position, end);
    if (position == end) return false;
    *start_out = position;
    *end_out = end;
    return true;
  }

  bool ParseAutolink(char c) {
    for (const Delimiter& delimiter : delimiters_) {
      if (!delimiter.inactive) return false;  // no autolinks inside link text
    }
    size_t start = 0, end = 0;
    if (c == ':') {
      if (!ParseUrlAutolink(pos_, &start, &end)) return false;
      size_t rewind = pos_ - start;  // the scheme was already emitted as text: take it back
      if (rewind > 0) {
        if (inlines_.empty() || inlines_.back().kind != Inline::Kind::kText) return false;
        Inline& last = inlines_.back();
        if (last.text.size() < rewind) return false;
        last.text.resize(last.text.size() - rewind);
        last.end -= rewind;
        pos_ -= rewind;
      }
    } else {
      if (!ParseWwwAutolink(pos_, &start, &end)) return false;
    }
    PushOther();  // autolink: its text is not inspected
    pos_ += end - start;
    return true;
  }

  bool ParseEmoji() {
    if (pos_ > 1 && IsWordByte(raw_[pos_ - 1])) return false;
    size_t i = pos_ + 1;
    while (i < raw_.size()) {
      char c = raw_[i];
      bool name =
          (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '+';
      if (!name) break;
      ++i;
    }
    if (i == pos_ + 1 || i >= raw_.size() || raw_[i] != ':') return false;
    size_t after = i + 1;
    if (after < raw_.size() && IsWordByte(raw_[after])) return false;
    PushOther();
    pos_ = after;
    return true;
  }

  static std::string TrimRight(std::string_view s) {
    size_t end = s.size();
    while (end > 0 && IsMarkdownWhitespace(s[end - 1])) --end;
    return std::string(s.substr(0, end));
  }

  void ParseText() {
    size_t next = raw_.find_first_of("\r\n\\`&![]wW:", pos_);
    if (next == std::string::npos) {
      PushText(TrimRight(std::string_view(raw_).substr(pos_)), pos_, raw_.size());
      pos_ = raw_.size();
      return;
    }
    size_t length = next - pos_;
    if (raw_[next] == '\r' || raw_[next] == '\n') {
      std::string text = TrimRight(std::string_view(raw_).substr(pos_, length));
      size_t text_length = text.size();
      PushText(std::move(text), pos_, pos_ + text_length);
    } else {
      if (length == 0) length = 1;  // 'w', 'W' or ':' that started nothing
      PushText(raw_.substr(pos_, length), pos_, pos_ + length);
    }
    pos_ += length;
  }

  std::string raw_;
  size_t pos_ = 0;
  std::vector<Inline> inlines_;
  std::vector<Delimiter> delimiters_;
};

// Adjacent text nodes become one string only when their source ranges touch.
std::vector<Inline> MergeInlineText(std::vector<Inline> inlines) {
  std::vector<Inline> out;
  bool in_run = false;
  for (Inline& node : inlines) {
    if (node.kind == Inline::Kind::kText && in_run && out.back().end == node.start) {
      out.back().text += node.text;
      out.back().end = node.end;
      continue;
    }
    in_run = node.kind == Inline::Kind::kText;
    out.push_back(std::move(node));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Block parsing (the server's block parser: documents, block quotes, lists, paragraphs and code).

struct Range {
  size_t position = 0, end = 0;
};

enum class BlockKind {
  kDocument,
  kBlockQuote,
  kList,
  kListItem,
  kParagraph,
  kFencedCode,
  kIndentedCode
};

struct Block {
  explicit Block(BlockKind k) : kind(k) {}
  BlockKind kind;
  int indentation = 0;  // list item: content indentation; fenced code: fence indentation
  bool has_children = false;
  bool ordered = false;  // list
  char delimiter = 0;    // list bullet or ordered delimiter
  size_t list_items = 0;
  std::vector<Range> text;  // paragraph lines
  Range fence;              // fenced code opening fence
  bool closed = false;      // fenced code saw its closing fence
};

struct Continuation {
  int indentation = 0;
  Range remaining;
};

class BlockParser {
 public:
  explicit BlockParser(std::string_view markdown) : md_(markdown) {}

  // The raw inline text of every paragraph, in document order.
  std::vector<std::string> Paragraphs() {
    std::vector<Block*> open = {New(BlockKind::kDocument)};
    for (const Range& line : Lines()) ProcessLine(line, &open);
    std::vector<std::string> out;
    for (Block* paragraph : paragraphs_) out.push_back(ParagraphRaw(*paragraph));
    return out;
  }

 private:
  std::string_view View(Range r) const { return md_.substr(r.position, r.end - r.position); }
  bool IsBlankRange(Range r) const { return IsBlank(View(r)); }

  std::vector<Range> Lines() const {
    std::vector<Range> lines;
    size_t start = 0;
    bool after_cr = false;
    for (size_t i = 0; i < md_.size(); ++i) {
      char c = md_[i];
      if (c == '\n') {
        lines.push_back({start, i + 1});
        start = i + 1;
      } else if (after_cr) {
        lines.push_back({start, i});
        start = i;
      }
      after_cr = c == '\r';
    }
    if (start < md_.size()) lines.push_back({start, md_.size()});
    return lines;
  }

  std::pair<int, size_t> CountIndentation(Range r) const {
    int spaces = 0;
    size_t bytes = 0;
    for (size_t i = r.position; i < r.end; ++i) {
      if (md_[i] == ' ') {
        spaces += 1;
      } else if (md_[i] == '\t') {
        spaces += 4;
      } else {
        break;
      }
      ++bytes;
    }
    return {spaces, bytes};
  }

  Block* New(BlockKind kind) {
    arena_.push_back(std::make_unique<Block>(kind));
    return arena_.back().get();
  }

  static bool IsContainer(const Block* b) {
    return b->kind == BlockKind::kDocument || b->kind == BlockKind::kBlockQuote ||
           b->kind == BlockKind::kList || b->kind == BlockKind::kListItem;
  }

  std::optional<Continuation> ContinuationOf(Block* b, int indentation, Range r) const {
    switch (b->kind) {
      case BlockKind::kDocument:
        return Continuation{indentation, r};
      case BlockKind::kBlockQuote: {
        if (indentation > 3) return std::nullopt;
        if (r.position >= r.end || md_[r.position] != '>') return std::nullopt;
        Range remaining{r.position + 1, r.end};
        auto [spaces, bytes] = CountIndentation(remaining);
        if (spaces > 0) --spaces;
        return Continuation{spaces, {remaining.position + bytes, remaining.end}};
      }
      case BlockKind::kList:
        if (IsBlankRange(r)) return Continuation{0, r};
        return Continuation{indentation, r};
      case BlockKind::kListItem:
        if (IsBlankRange(r)) {
          if (!b->has_children) return std::nullopt;
          return Continuation{0, r};
        }
        if (indentation < b->indentation) return std::nullopt;
        return Continuation{indentation - b->indentation, r};
      case BlockKind::kParagraph:
        if (IsBlankRange(r)) return std::nullopt;
        return Continuation{indentation, r};
      case BlockKind::kFencedCode:
        if (b->closed) return std::nullopt;
        return Continuation{indentation, r};
      case BlockKind::kIndentedCode:
        if (indentation >= 4) return Continuation{indentation - 4, r};
        if (IsBlankRange(r)) return Continuation{0, r};
        return std::nullopt;
    }
    return std::nullopt;
  }

  static bool AllowsBlockStarts(const Block* b) {
    return b->kind != BlockKind::kFencedCode && b->kind != BlockKind::kIndentedCode;
  }

  // Returns whether the line was consumed.
  bool AddLine(Block* b, int indentation, Range r) {
    switch (b->kind) {
      case BlockKind::kFencedCode: {
        std::string_view s = View(r);
        std::string_view fence = View(b->fence);
        if (indentation <= 3 && StartsWith(s, fence)) {
          std::string_view suffix = s.substr(fence.size());
          size_t a = 0, z = suffix.size();
          while (a < z && IsMarkdownWhitespace(suffix[a])) ++a;
          while (z > a && IsMarkdownWhitespace(suffix[z - 1])) --z;
          bool closing = true;
          for (size_t i = a; i < z; ++i) {
            if (suffix[i] != s[0]) closing = false;
          }
          if (closing) {
            b->closed = true;
            return true;
          }
        }
        return true;  // a code line
      }
      case BlockKind::kIndentedCode:
        return true;
      default:
        return false;
    }
  }

  // Returns the blocks to append to the open list, or nothing if `container` refuses them.
  std::optional<std::vector<Block*>> AddChild(Block* container, std::vector<Block*> blocks) {
    if (blocks.empty()) return std::nullopt;
    if (container->kind == BlockKind::kList) {
      if (blocks[0]->kind == BlockKind::kListItem) {
        ++container->list_items;
        return blocks;
      }
      if (blocks[0]->kind == BlockKind::kList && blocks[0]->list_items == 1 &&
          blocks[0]->ordered == container->ordered &&
          blocks[0]->delimiter == container->delimiter) {
        blocks.erase(blocks.begin());
        return AddChild(container, std::move(blocks));
      }
      return std::nullopt;
    }
    if (container->kind == BlockKind::kListItem) container->has_children = true;
    return blocks;
  }

  std::vector<Block*> BlockQuoteStart(int indentation, Range r, int depth) {
    if (indentation > 3 || depth >= kMaxNestingDepth) return {};
    std::string_view s = View(r);
    if (s.empty() || s[0] != '>') return {};
    Block* quote = New(BlockKind::kBlockQuote);
    r.position++;
    if (s.size() > 1 && s[1] == ' ') r.position++;
    auto [spaces, bytes] = CountIndentation(r);
    std::vector<Block*> out = {quote};
    std::vector<Block*> descendants =
        BlockStartOrParagraph(spaces, {r.position + bytes, r.end}, {}, {}, depth + 1);
    out.insert(out.end(), descendants.begin(), descendants.end());
    return out;
  }

  std::vector<Block*> ListStart(int indentation, Range r, const std::vector<Block*>& matched,
                                const std::vector<Block*>& unmatched, int depth) {
    bool after_list = !matched.empty() && matched.back()->kind == BlockKind::kList;
    if (!after_list && indentation > 3) return {};
    if (depth >= kMaxNestingDepth) return {};
    // Marker: up to 9 digits then '.' or ')', or one of - + *.
    size_t digits = 0;
    long ordered_start = 0;
    while (r.position + digits < r.end && md_[r.position + digits] >= '0' &&
           md_[r.position + digits] <= '9') {
      ordered_start = ordered_start * 10 + (md_[r.position + digits] - '0');
      ++digits;
    }
    bool ordered = false;
    char delimiter = 0;
    int marker_width = 0;
    if (digits > 0) {
      if (digits > 9 || r.position + digits >= r.end) return {};
      char next = md_[r.position + digits];
      if (next != '.' && next != ')') return {};
      ordered = true;
      delimiter = next;
      marker_width = static_cast<int>(digits) + 1;
    } else {
      if (r.position >= r.end) return {};
      char next = md_[r.position];
      if (next != '-' && next != '+' && next != '*') return {};
      delimiter = next;
      marker_width = 1;
    }
    Range remaining{r.position + static_cast<size_t>(marker_width), r.end};
    bool blank = IsBlankRange(remaining);
    if (!matched.empty() && unmatched.empty() && matched.back()->kind == BlockKind::kParagraph &&
        (blank || (ordered && ordered_start != 1))) {
      return {};
    }
    auto [after, after_bytes] = CountIndentation(remaining);
    if (!blank && after < 1) return {};
    remaining.position += after_bytes;
    int consumed = after;
    if (blank || after >= 5) consumed = 1;
    Block* item = New(BlockKind::kListItem);
    item->indentation = indentation + marker_width + consumed;
    Block* list = New(BlockKind::kList);
    list->ordered = ordered;
    list->delimiter = delimiter;
    list->list_items = 1;
    std::vector<Block*> out = {list, item};
    std::vector<Block*> descendants =
        BlockStartOrParagraph(after - consumed, remaining, {}, {}, depth + 1);
    if (!descendants.empty()) item->has_children = true;
    out.insert(out.end(), descendants.begin(), descendants.end());
    return out;
  }

  std::vector<Block*> IndentedCodeStart(int indentation, Range r,
                                        const std::vector<Block*>& matched,
                                        const std::vector<Block*>& unmatched) {
    if (!unmatched.empty()) {
      if (unmatched.back()->kind == BlockKind::kParagraph) return {};
    } else if (!matched.empty() && matched.back()->kind == BlockKind::kParagraph) {
      return {};
    }
    if (indentation < 4 || IsBlankRange(r)) return {};
    return {New(BlockKind::kIndentedCode)};
  }

  std::vector<Block*> FencedCodeStart(int indentation, Range r) {
    std::string_view s = View(r);
    if (!StartsWith(s, "```") && !StartsWith(s, "~~~")) return {};
    size_t fence_length = 3;
    while (fence_length < s.size() && s[fence_length] == s[0]) ++fence_length;
    for (size_t i = fence_length; i < s.size(); ++i) {
      if (s[i] == '`') return {};
    }
    Block* code = New(BlockKind::kFencedCode);
    code->indentation = indentation;
    code->fence = {r.position, r.position + fence_length};
    return {code};
  }

  std::vector<Block*> BlockStart(int indentation, Range r, const std::vector<Block*>& matched,
                                 const std::vector<Block*>& unmatched, int depth) {
    if (r.position >= r.end) return {};
    if (auto b = BlockQuoteStart(indentation, r, depth); !b.empty()) return b;
    if (auto b = ListStart(indentation, r, matched, unmatched, depth); !b.empty()) return b;
    if (auto b = IndentedCodeStart(indentation, r, matched, unmatched); !b.empty()) return b;
    if (auto b = FencedCodeStart(indentation, r); !b.empty()) return b;
    return {};
  }

  Block* NewParagraph(Range r) {
    if (IsBlankRange(r)) return nullptr;
    Block* paragraph = New(BlockKind::kParagraph);
    paragraph->text.push_back(r);
    return paragraph;
  }

  std::vector<Block*> BlockStartOrParagraph(int indentation, Range r,
                                            const std::vector<Block*>& matched,
                                            const std::vector<Block*>& unmatched, int depth) {
    if (auto b = BlockStart(indentation, r, matched, unmatched, depth); !b.empty()) return b;
    if (Block* paragraph = NewParagraph(r)) return {paragraph};
    return {};
  }

  void Attach(std::vector<Block*>* open, size_t keep, const std::vector<Block*>& added) {
    open->resize(keep);
    for (Block* b : added) {
      open->push_back(b);
      if (b->kind == BlockKind::kParagraph) paragraphs_.push_back(b);
    }
  }

  bool AddToDeepestContainer(std::vector<Block*>* open, size_t last_match,
                             std::vector<Block*> blocks) {
    for (size_t i = last_match + 1; i-- > 0;) {
      Block* container = (*open)[i];
      if (!IsContainer(container)) continue;
      if (auto added = AddChild(container, blocks)) {
        Attach(open, i + 1, *added);
        return true;
      }
    }
    return false;
  }

  void ProcessLine(Range line, std::vector<Block*>* open) {
    Range r = line;
    auto [indentation, bytes] = CountIndentation(r);
    r.position += bytes;
    size_t last_match = 0;
    for (size_t i = 0; i < open->size(); ++i) {
      std::optional<Continuation> c = ContinuationOf((*open)[i], indentation, r);
      if (!c) break;
      indentation = c->indentation;
      r = c->remaining;
      auto [more, more_bytes] = CountIndentation(r);
      r.position += more_bytes;
      indentation += more;
      last_match = i;
    }
    if (AllowsBlockStarts((*open)[last_match])) {
      std::vector<Block*> matched(open->begin(), open->begin() + last_match + 1);
      std::vector<Block*> unmatched(open->begin() + last_match + 1, open->end());
      std::vector<Block*> started =
          BlockStart(indentation, r, matched, unmatched, static_cast<int>(last_match) + 1);
      if (!started.empty() && AddToDeepestContainer(open, last_match, started)) return;
    }
    bool blank = IsBlankRange(r);
    if (open->back()->kind == BlockKind::kParagraph && !blank) {
      open->back()->text.push_back(r);  // continuation or lazy continuation line
      return;
    }
    open->resize(last_match + 1);
    if (AddLine((*open)[last_match], indentation, r)) return;
    if (Block* paragraph = NewParagraph(r)) AddToDeepestContainer(open, last_match, {paragraph});
  }

  std::string ParagraphRaw(const Block& paragraph) const {
    std::vector<Range> ranges = paragraph.text;
    for (Range& r : ranges) {  // leading whitespace of the first non-empty line
      while (r.position < r.end && IsMarkdownWhitespace(md_[r.position])) ++r.position;
      if (r.position < r.end) break;
    }
    for (size_t i = ranges.size(); i-- > 0;) {  // trailing whitespace of the last line(s)
      Range& r = ranges[i];
      while (r.end > r.position && IsMarkdownWhitespace(md_[r.end - 1])) --r.end;
      if (r.position < r.end) break;
    }
    std::string raw;
    for (const Range& r : ranges) raw.append(View(r));
    return raw;
  }

  std::string_view md_;
  std::vector<std::unique_ptr<Block>> arena_;
  std::vector<Block*> paragraphs_;
};

bool IsSystemMention(const std::string& lowered) {
  return lowered == "@here" || lowered == "@channel" || lowered == "@all";
}

}  // namespace

MentionScanner::MentionScanner(std::function<bool(const std::string&)> is_user_keyword)
    : is_user_keyword_(std::move(is_user_keyword)) {}

void MentionScanner::Hit(const std::string& mention) {
  if (std::find(hits_.begin(), hits_.end(), mention) == hits_.end()) hits_.push_back(mention);
}

bool MentionScanner::CheckForMention(const std::string& word) {
  std::string lowered = UnicodeLower(word);
  if (IsSystemMention(lowered)) {
    Hit(lowered);
    return true;
  }
  if (is_user_keyword_ && is_user_keyword_(lowered)) {
    Hit(lowered);
    return true;
  }
  if (is_user_keyword_ && lowered != word && is_user_keyword_(word)) {
    Hit(word);
    return true;
  }
  return false;
}

void MentionScanner::ProcessText(std::string_view text) {
  // Split on every rune that cannot be part of a mention or emoji name.
  std::vector<std::string> words;
  std::string current;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length = 0;
    char32_t c = DecodeRune(text, pos, &length);
    bool keep =
        c == ':' || c == '.' || c == '-' || c == '_' || c == '@' || IsLetter(c) || IsNumber(c);
    if (keep) {
      current.append(text.substr(pos, length));
    } else if (!current.empty()) {
      words.push_back(std::move(current));
      current.clear();
    }
    pos += length;
  }
  if (!current.empty()) words.push_back(std::move(current));

  for (std::string word : words) {
    if (word.front() == ':' && word.back() == ':') continue;  // :emoji:
    size_t first = word.find_first_not_of(":.-_");
    word = first == std::string::npos ? std::string() : word.substr(first);
    if (CheckForMention(word)) continue;

    bool found_without_suffix = false;
    std::string without_suffix = word;
    while (!without_suffix.empty() && std::strchr(".-:_", without_suffix.back()) != nullptr) {
      without_suffix.pop_back();
      if (CheckForMention(without_suffix)) {
        found_without_suffix = true;
        break;
      }
    }
    if (found_without_suffix) continue;

    bool system = word == "@here" || word == "@channel" || word == "@all";
    if (!system && StartsWith(word, "@")) {
      continue;  // a potential mention of someone who is not a keyword here: no notification
    }
    if (word.find_first_of(".-:") != std::string::npos) {
      std::string part;
      auto flush = [&] {
        if (!part.empty()) CheckForMention(part);
        part.clear();
      };
      for (char c : word) {
        if (c == '.' || c == '-' || c == ':') {
          flush();
        } else {
          part.push_back(c);
        }
      }
      flush();
    }
  }
}

void MentionScanner::ScanMarkdown(std::string_view markdown) {
  if (markdown.size() > kMaxMarkdownBytes) return;
  std::function<void(const std::vector<Inline>&)> visit_children =
      [&](const std::vector<Inline>& nodes) {
        for (const Inline& node : nodes) {
          if (node.kind == Inline::Kind::kText) {
            if (!node.text.empty()) ProcessText(node.text);
          } else if (node.kind == Inline::Kind::kLink) {
            visit_children(node.children);  // link children are not merged
          }
        }
      };
  for (std::string& raw : BlockParser(markdown).Paragraphs()) {
    std::vector<Inline> inlines = MergeInlineText(InlineParser(std::move(raw)).Parse());
    visit_children(inlines);
  }
}

namespace {

bool IsStringOrNull(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() || it->is_string();
}

}  // namespace

bool AttachmentDecodes(const nlohmann::json& a) {
  if (!a.is_object()) return false;
  for (const char* key :
       {"fallback", "color", "pretext", "author_name", "author_link", "author_icon", "title",
        "title_link", "text", "image_url", "thumb_url", "footer", "footer_icon"}) {
    if (!IsStringOrNull(a, key)) return false;
  }
  if (auto id = a.find("id"); id != a.end() && !id->is_null() && !id->is_number_integer()) {
    return false;
  }
  if (auto fields = a.find("fields"); fields != a.end() && !fields->is_null()) {
    if (!fields->is_array()) return false;
    for (const auto& field : *fields) {
      if (field.is_null()) continue;
      if (!field.is_object() || !IsStringOrNull(field, "title")) return false;
      if (auto s = field.find("short");
          s != field.end() && !s->is_null() && !s->is_boolean() && !s->is_string()) {
        return false;
      }
    }
  }
  if (auto actions = a.find("actions"); actions != a.end() && !actions->is_null()) {
    if (!actions->is_array()) return false;
    for (const auto& action : *actions) {
      if (!action.is_null() && !action.is_object()) return false;
    }
  }
  return true;
}

std::vector<std::string> MentionFields(const std::string& message, const nlohmann::json& props) {
  std::vector<std::string> fields = {message};
  if (!props.is_object()) return fields;
  auto attachments = props.find("attachments");
  if (attachments == props.end() || !attachments->is_array()) return fields;
  for (const auto& a : *attachments) {
    if (!AttachmentDecodes(a)) continue;
    for (const char* key : {"pretext", "text"}) {
      if (auto it = a.find(key);
          it != a.end() && it->is_string() && !it->get<std::string>().empty()) {
        fields.push_back(it->get<std::string>());
      }
    }
    if (auto list = a.find("fields"); list != a.end() && list->is_array()) {
      for (const auto& field : *list) {
        if (!field.is_object()) continue;
        if (auto value = field.find("value");
            value != field.end() && value->is_string() && !value->get<std::string>().empty()) {
          fields.push_back(value->get<std::string>());
        }
      }
    }
  }
  return fields;
}

bool HasChannelMentionPattern(std::string_view message) {
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] != '@') continue;
    if (i > 0 && IsWordByte(message[i - 1])) continue;  // \B before a non-word '@'
    for (std::string_view word : {"channel", "all", "here"}) {
      if (message.size() - (i + 1) < word.size()) continue;
      if (AsciiLower(message.substr(i + 1, word.size())) != word) continue;
      size_t after = i + 1 + word.size();
      if (after == message.size() || !IsWordByte(message[after])) return true;  // \b
    }
  }
  return false;
}

}  // namespace mmemu
