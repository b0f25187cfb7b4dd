#include "ingest/sarif.hpp"

#include <simdjson.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>

#include "core/strings.hpp"
#include "ingest/fingerprint.hpp"

namespace tocsin::ingest {
namespace {

namespace od = simdjson::ondemand;
using domain::Severity;

constexpr std::string_view kHint = "see docs/scans.md for what Tocsin reads from a SARIF 2.1.0 log";
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // "…"
constexpr size_t kMaxNameChars = 1000;   // rule names, tool names, messages of notifications
constexpr size_t kMaxKeyChars = 256;     // fingerprint keys, base ids, property strings
constexpr size_t kMaxValueChars = 4096;  // fingerprint values, URIs before normalisation

std::string FormatBytes(size_t n) {
  if (n >= (size_t{1} << 30) && n % (size_t{1} << 30) == 0) {
    return std::to_string(n >> 30) + " GiB";
  }
  if (n >= (size_t{1} << 20) && n % (size_t{1} << 20) == 0) {
    return std::to_string(n >> 20) + " MiB";
  }
  return std::to_string(n) + " bytes";
}

// ---------------------------------------------------------------------------------------------
// Text helpers

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (std::tolower(x) != std::tolower(y)) return false;
  }
  return true;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

// Cuts `s` to at most `max_chars` code points; a cut value ends with "…" (within the limit).
// `s` is valid UTF-8 (simdjson validated the document).
std::string Cut(std::string_view s, size_t max_chars, int64_t& truncated) {
  if (s.size() <= max_chars) return std::string(s);
  size_t chars = 0, i = 0;
  size_t keep_end = 0;  // byte offset after max_chars - 1 code points
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (chars == max_chars - 1) keep_end = i;
      if (chars == max_chars) break;
      ++chars;
    }
  }
  if (i >= s.size()) return std::string(s);  // at most max_chars code points after all
  ++truncated;
  if (max_chars == 0) return {};
  std::string out(s.substr(0, keep_end));
  out.append(kEllipsis);
  return out;
}

// One line: control characters (C0, DEL, C1) become spaces, whitespace runs collapse.
std::string OneLine(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    bool blank = c < 0x20 || c == 0x7F || c == ' ';
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      blank = true;
      ++i;
    }
    if (blank) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(c));
  }
  return out;
}

// Several lines: CR LF and CR become LF; other control characters but tab become spaces.
std::string MultiLine(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\r') {
      out.push_back('\n');
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else if (c == '\n' || c == '\t') {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7F) {
      out.push_back(' ');
    } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      out.push_back(' ');
      ++i;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  std::string_view trimmed = Trim(out);
  return std::string(trimmed);
}

// SARIF message text (§3.11): "{0}" placeholders take message.arguments; "[text](target)"
// embedded links keep their text; "\[" and "\]" are literal brackets.
std::string FormatMessage(std::string_view text, const std::vector<std::string>& args) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\' && i + 1 < text.size() && (text[i + 1] == '[' || text[i + 1] == ']')) {
      out.push_back(text[++i]);
    } else if (c == '{' && !args.empty()) {
      size_t j = i + 1;
      size_t n = 0;
      while (j < text.size() && j < i + 6 && text[j] >= '0' && text[j] <= '9') {
        n = n * 10 + static_cast<size_t>(text[j] - '0');
        ++j;
      }
      if (j > i + 1 && j < text.size() && text[j] == '}' && n < args.size()) {
        out.append(args[n]);
        i = j;
      } else {
        out.push_back(c);
      }
    } else if (c == '[') {
      const size_t close = text.find(']', i + 1);
      if (close != std::string_view::npos && close + 1 < text.size() && text[close + 1] == '(') {
        const size_t end = text.find(')', close + 2);
        if (end != std::string_view::npos &&
            text.substr(i + 1, close - i - 1).find('[') == std::string_view::npos) {
          out.append(text.substr(i + 1, close - i - 1));
          i = end;
          continue;
        }
      }
      out.push_back(c);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<double> ParseNumber(std::string_view s) {
  s = Trim(s);
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string PercentDecode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() + 0 && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  // A decoded path must still be clean text; otherwise keep the encoded form.
  if (!IsValidUtf8(out)) return std::string(s);
  for (unsigned char c : out) {
    if (c < 0x20 || c == 0x7F) return std::string(s);
  }
  return out;
}

// "scheme:" with a scheme of two or more characters (one letter is a Windows drive).
bool HasScheme(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '+' ||
                          s[i] == '-' || s[i] == '.')) {
    ++i;
  }
  return i >= 2 && i < s.size() && s[i] == ':' && std::isalpha(static_cast<unsigned char>(s[0]));
}

bool IsAbsoluteUri(std::string_view s) { return HasScheme(s) || StartsWith(s, "/"); }

// A file path made of clean segments: "a/./b//c/../d" -> "a/b/d"; a leading "/" stays.
std::string CleanSegments(std::string_view path) {
  const bool absolute = StartsWith(path, "/");
  std::vector<std::string_view> segs;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view seg = path.substr(start, end - start);
    if (seg.empty() || seg == ".") {
      // nothing
    } else if (seg == "..") {
      if (!segs.empty() && segs.back() != "..") {
        segs.pop_back();
      } else if (!absolute) {
        segs.push_back(seg);
      }
    } else {
      segs.push_back(seg);
    }
    start = end + 1;
  }
  std::string out = absolute ? "/" : "";
  for (size_t i = 0; i < segs.size(); ++i) {
    if (i) out.push_back('/');
    out.append(segs[i]);
  }
  return out;
}

// A path from a file: URI or a plain URI reference, decoded and cleaned; "" for other schemes.
std::optional<std::string> FilePath(std::string_view uri) {
  std::string_view s = uri;
  if (StartsWithIgnoreCase(s, "file:")) {
    s.remove_prefix(5);
    if (StartsWith(s, "//")) {
      s.remove_prefix(2);
      // file://host/path: the host (usually empty or localhost) is not part of the path.
      const size_t slash = s.find('/');
      if (slash == std::string_view::npos) return std::string();
      s.remove_prefix(slash);
    }
  } else if (HasScheme(s)) {
    return std::nullopt;
  }
  std::string decoded = PercentDecode(s);
  std::replace(decoded.begin(), decoded.end(), '\\', '/');
  return CleanSegments(decoded);
}

// ---------------------------------------------------------------------------------------------
// What the walk keeps of a document

struct Props {
  std::optional<double> security_severity;
  std::optional<Severity> severity;  // properties.severity / problem.severity
  std::optional<Severity> riskcode;
  std::optional<Severity> tag_severity;
  std::string cwe, cve;
  std::optional<double> cvss;
  std::string purl, package, version;
  std::string parameter;

  bool Empty() const {
    return !security_severity && !severity && !riskcode && !tag_severity && cwe.empty() &&
           cve.empty() && !cvss && purl.empty() && package.empty() && version.empty() &&
           parameter.empty();
  }

  std::string Component() const {
    if (!purl.empty()) return purl;
    if (package.empty()) return {};
    if (version.empty() || package.find('@', 1) != std::string::npos) return package;
    return package + "@" + version;
  }
};

struct RawRule {
  std::string id, name, short_description, full_description, help_uri, default_level;
  Props props;
};

struct RawComponent {
  std::string name, guid;
  std::vector<RawRule> rules;
  std::unordered_map<std::string_view, size_t> by_id;  // built after the walk
};

struct RawArtifact {
  std::string uri, base_id;
  int64_t index = -1;
};

struct RawLocation {
  RawArtifact artifact;
  int64_t line = 0;
  std::string snippet;
};

// What few results have, kept apart so that a log of a million results costs less.
struct RawResultExtras {
  std::string component_name, component_guid;  // rule.toolComponent by name or guid
  std::vector<std::string> arguments;          // message.arguments
  std::string correlation_guid;
  std::string logical;  // a package-like logical location
  Props props;
};

struct RawResult {
  std::string rule_id;  // ruleId, else rule.id
  bool rule_id_from_ref = false;
  int64_t rule_index = -1;
  int64_t rule_ref_index = -1;
  bool has_component = false;
  int64_t component_index = -1;
  std::string level, kind;
  std::string message;
  bool has_location = false;
  RawLocation location;
  std::vector<std::pair<std::string, std::string>> fingerprints, partial_fingerprints;
  bool suppressed = false;
  std::unique_ptr<RawResultExtras> extras;

  RawResultExtras& Extras() {
    if (!extras) extras = std::make_unique<RawResultExtras>();
    return *extras;
  }
  const RawResultExtras& X() const {
    static const RawResultExtras kNone;
    return extras ? *extras : kNone;
  }
};

// A run's results in chunks of a few thousand, so that the builder can give each chunk's memory
// back once it has turned it into findings: a vector of 100,000 results would stay whole until
// the last one was built, beside the findings made from it.
class RawResults {
 public:
  RawResult& emplace_back() {
    if (chunks_.empty() || chunks_.back().size() == kChunk) {
      chunks_.emplace_back();
      chunks_.back().reserve(kChunk);
    }
    ++size_;
    return chunks_.back().emplace_back();
  }
  RawResult& back() { return chunks_.back().back(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void Append(RawResults&& other) {
    std::move(other.chunks_.begin(), other.chunks_.end(), std::back_inserter(chunks_));
    size_ += other.size_;
    other = RawResults();
  }
  // Calls fn(RawResult&) for each result in order, freeing each chunk after its last one; the
  // container is empty afterwards.
  template <typename Fn>
  void Drain(Fn&& fn) {
    for (auto& chunk : chunks_) {
      for (auto& r : chunk) fn(r);
      std::vector<RawResult>().swap(chunk);
    }
    *this = RawResults();
  }

 private:
  static constexpr size_t kChunk = 4096;
  std::vector<std::vector<RawResult>> chunks_;
  size_t size_ = 0;
};

struct RawBase {
  std::string id, uri, base_id;
};

struct RawNote {
  std::string message;
  RawArtifact artifact;
};

struct RawRun {
  std::string tool_name, tool_version;
  bool has_tool_name = false;
  RawComponent driver;
  std::vector<RawComponent> extensions;
  std::vector<RawBase> bases;
  std::vector<RawArtifact> artifacts;
  RawResults results;
  bool results_present = false;
  bool failed = false;
  std::vector<RawNote> error_notes;
};

struct RawLog {
  bool has_version = false;
  std::string version;
  bool has_runs = false;
  bool runs_null = false;
  std::vector<RawRun> runs;
  int64_t truncated = 0;
};

// ---------------------------------------------------------------------------------------------
// The layout pass: one byte-level pass before simdjson, for two reasons. simdjson's On-Demand
// parser does not enforce a depth limit, so this pass does. And simdjson's index costs 4 bytes
// per JSON token of the document it parses (about as much as the document again for SARIF,
// plus the unescaped keys): so the results arrays of the runs, where nearly all of a big log
// is, are found here and each result is parsed as a document of its own; then the arrays' content
// is cut out of the buffer and the rest of the log is parsed in one piece. The pages of results
// already read go back to the kernel as the reader moves on, so peak memory stays near the size
// of the document (what is read from it replacing it) instead of twice or three times it.

// Gives the whole pages of a buffer's consumed prefix back to the kernel as a reader moves
// through it, in steps of at least 1 MiB (Linux: madvise MADV_DONTNEED; elsewhere nothing). The
// bytes are gone: such a page reads as zeros if touched again, so only what will never be read
// again may be passed to UpTo. The buffer stays allocated (its owner frees it as usual).
class PageReleaser {
 public:
  explicit PageReleaser(char* from) : next_(RoundUp(from)) {}

  void UpTo(char* end) {
#ifdef __linux__
    char* const until = RoundDown(end);
    if (until < next_ + kStep) return;
    if (madvise(next_, static_cast<size_t>(until - next_), MADV_DONTNEED) == 0) next_ = until;
#else
    (void)end;
#endif
  }

 private:
  static constexpr size_t kStep = size_t{1} << 20;
  static size_t Page() {
    static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return page;
  }
  static char* RoundUp(char* p) {
    const auto a = reinterpret_cast<uintptr_t>(p);
    return reinterpret_cast<char*>((a + Page() - 1) / Page() * Page());
  }
  static char* RoundDown(char* p) {
    const auto a = reinterpret_cast<uintptr_t>(p);
    return reinterpret_cast<char*>(a / Page() * Page());
  }

  char* next_;
};

struct ResultsArray {
  size_t run = 0;              // index of its run among all runs of the log
  size_t open = 0, close = 0;  // offsets of its '[' and ']'
  bool by_element = true;      // every element is an object: parse them one by one
  std::vector<std::pair<size_t, size_t>> elements;  // [begin, end) of each result object
};

struct Layout {
  size_t too_deep_at = std::string_view::npos;
  bool well_formed = false;  // brackets balance, strings close: the offsets can be trusted
  std::vector<ResultsArray> results;
};

Layout ScanLayout(std::string_view json, size_t max_depth) {
  enum class Role : uint8_t { kGeneric, kRoot, kRuns, kRun, kResults, kResult };
  struct Frame {
    Role role;
    bool is_object;
    bool expect_key;
    size_t run;  // for kRun: its index
    size_t begin;
  };
  enum class Pending { kNone, kRuns, kResults };
  Layout out;
  std::vector<Frame> stack;
  stack.reserve(std::min<size_t>(max_depth, 1024) + 1);
  Pending pending = Pending::kNone;
  size_t runs_seen = 0;
  const char* const base = json.data();
  const char* p = base;
  const char* const end = p + json.size();
  auto in_results = [&] { return !stack.empty() && stack.back().role == Role::kResults; };
  while (p < end) {
    const char c = *p;
    switch (c) {
      case ' ':
      case '\t':
      case '\n':
      case '\r':
      case ':':
        ++p;
        continue;
      case '"': {
        const char* q = p + 1;
        bool escaped_somewhere = false;
        for (;;) {
          const void* hit = std::memchr(q, '"', static_cast<size_t>(end - q));
          if (!hit) return out;  // unclosed: simdjson reports it
          const char* quote = static_cast<const char*>(hit);
          size_t backslashes = 0;
          for (const char* b = quote; b > q && b[-1] == '\\'; --b) ++backslashes;
          if (backslashes) escaped_somewhere = true;
          q = quote + 1;
          if (backslashes % 2 == 0) break;
        }
        const std::string_view text(p + 1, static_cast<size_t>(q - p - 2));
        pending = Pending::kNone;
        if (!stack.empty() && stack.back().is_object && stack.back().expect_key) {
          stack.back().expect_key = false;
          // An escaped key ("\u0072uns") is simply not recognised here: that part of the log
          // is then parsed in one piece, which is correct, only larger.
          if (!escaped_somewhere && stack.back().role == Role::kRoot && text == "runs") {
            pending = Pending::kRuns;
          } else if (!escaped_somewhere && stack.back().role == Role::kRun && text == "results") {
            pending = Pending::kResults;
          }
        } else if (in_results()) {
          out.results.back().by_element = false;
        }
        p = q;
        continue;
      }
      case '{':
      case '[': {
        if (stack.size() + 1 > max_depth) {
          out.too_deep_at = static_cast<size_t>(p - base);
          return out;
        }
        Frame f{Role::kGeneric, c == '{', c == '{', 0, static_cast<size_t>(p - base)};
        if (stack.empty()) {
          if (c == '{') f.role = Role::kRoot;
        } else if (pending == Pending::kRuns && c == '[') {
          f.role = Role::kRuns;
        } else if (pending == Pending::kResults && c == '[') {
          f.role = Role::kResults;
          out.results.push_back({stack.back().run, f.begin, 0, true, {}});
        } else if (stack.back().role == Role::kRuns && c == '{') {
          f.role = Role::kRun;
          f.run = runs_seen++;
        } else if (stack.back().role == Role::kResults) {
          if (c == '{') {
            f.role = Role::kResult;
          } else {
            out.results.back().by_element = false;
          }
        }
        pending = Pending::kNone;
        stack.push_back(f);
        ++p;
        continue;
      }
      case '}':
      case ']': {
        if (stack.empty() || stack.back().is_object != (c == '}')) return out;
        const Frame f = stack.back();
        stack.pop_back();
        if (f.role == Role::kResult) {
          out.results.back().elements.emplace_back(f.begin, static_cast<size_t>(p - base) + 1);
        } else if (f.role == Role::kResults) {
          out.results.back().close = static_cast<size_t>(p - base);
        }
        pending = Pending::kNone;
        ++p;
        continue;
      }
      case ',':
        if (!stack.empty() && stack.back().is_object) stack.back().expect_key = true;
        pending = Pending::kNone;
        ++p;
        continue;
      default:
        // Scalars (numbers, true, false, null) and anything that is not JSON.
        if (in_results()) out.results.back().by_element = false;
        pending = Pending::kNone;
        ++p;
        continue;
    }
  }
  out.well_formed = stack.empty();
  return out;
}

// ---------------------------------------------------------------------------------------------
// The walk: one forward pass over the document, On-Demand.

// The JSON pointer of where the walk is, rendered only for an error.
class PathStack {
 public:
  void Push(std::string_view key) { segs_.push_back({key, 0, false}); }
  void Push(size_t index) { segs_.push_back({{}, index, true}); }
  void Pop() { segs_.pop_back(); }
  std::string Render() const {
    std::string out;
    for (const auto& s : segs_) {
      out.push_back('/');
      if (s.is_index) {
        out.append(std::to_string(s.index));
        continue;
      }
      for (char c : s.key) {
        if (c == '~') {
          out.append("~0");
        } else if (c == '/') {
          out.append("~1");
        } else {
          out.push_back(c);
        }
      }
    }
    return out;
  }

 private:
  struct Seg {
    std::string_view key;
    size_t index;
    bool is_index;
  };
  std::vector<Seg> segs_;
};

class Walker {
 public:
  explicit Walker(const SarifLimits& limits) : limits_(limits) {}

  // Reads the results arrays that `layout` found one result at a time (each a document of its
  // own inside `data`), then blanks them so that Walk parses only the rest. False on an error.
  // Reads the results of every by-element array (each result a document of its own), then cuts
  // the array's content out of the buffer, so that the rest of the log, parsed next in one
  // piece, is only what surrounds the results. Returns the buffer's new length, or nullopt on an
  // error (TakeError). Pages holding results already read are given back to the kernel on the
  // way (PageReleaser): the document and the results read from it are never both held in full.
  std::optional<size_t> ReadResultsByElement(const Layout& layout, char* data, size_t len,
                                             size_t capacity) {
    od::parser parser;
    size_t removed = 0;  // bytes cut out before the current array: offsets shift down by this
    for (const ResultsArray& array : layout.results) {
      if (!array.by_element || array.close == 0) continue;
      const size_t open = array.open - removed, close = array.close - removed;
      if (chunked_.size() <= array.run) chunked_.resize(array.run + 1);
      RawResults& out = chunked_[array.run];
      PageReleaser consumed(data + open + 1);
      path_.Push("runs");
      path_.Push(array.run);
      path_.Push("results");
      for (size_t i = 0; i < array.elements.size(); ++i) {
        const size_t begin = array.elements[i].first - removed;
        const size_t end = array.elements[i].second - removed;
        path_.Push(i);
        if (!CountResult()) return std::nullopt;
        od::document doc;
        if (auto e = parser.iterate(data + begin, end - begin, capacity - begin).get(doc)) {
          Check(e, "");
          return std::nullopt;
        }
        od::value v;
        if (auto e = doc.get_value().get(v)) {
          Check(e, "");
          return std::nullopt;
        }
        if (!ReadResult(v, out.emplace_back())) return std::nullopt;
        path_.Pop();
        consumed.UpTo(data + end);
      }
      path_.Pop();
      path_.Pop();
      path_.Pop();
      std::memmove(data + open + 1, data + close, len - close);
      len -= close - open - 1;
      removed += close - open - 1;
    }
    return len;
  }

  Unexpected TakeError() { return Unexpected(std::move(*error_)); }

  Result<RawLog> Walk(simdjson::padded_string_view json) {
    od::parser parser;
    od::document doc;
    if (auto e = parser.iterate(json).get(doc)) {
      Check(e, "");
      return Unexpected(std::move(*error_));
    }
    od::object root;
    if (auto e = doc.get_object().get(root)) {
      if (e == simdjson::INCORRECT_TYPE) return NotAnObject(doc);
      Check(e, "");
      return Unexpected(std::move(*error_));
    }
    const bool ok = ForFields(root, [&](std::string_view key, od::value& v) {
      if (key == "version") {
        log_.has_version = true;
        return ReadString(v, kMaxKeyChars, log_.version);
      }
      if (key == "runs") return ReadRuns(v);
      return true;
    });
    if (ok) {
      // Anything after the root object is not JSON.
      auto where = doc.current_location();
      if (where.error() != simdjson::OUT_OF_BOUNDS) {
        SetError("invalid_sarif",
                 "the document is not valid JSON: content follows the root object");
      }
    }
    if (error_) return Unexpected(std::move(*error_));
    log_.truncated = truncated_;
    return std::move(log_);
  }

 private:
  // ---- error plumbing

  // The root is not an object: a JSON value of another type, or no JSON at all ("hello" starts
  // like the atom true). Reading the lone value tells the two apart.
  static Unexpected NotAnObject(od::document& doc) {
    od::json_type t{};
    std::string_view kind;
    if (!doc.type().get(t)) {
      switch (t) {
        case od::json_type::array:
          kind = "an array";
          break;
        case od::json_type::string: {
          std::string_view s;
          if (!doc.get_string().get(s)) kind = "a string";
          break;
        }
        case od::json_type::number: {
          double d;
          if (!doc.get_double().get(d)) kind = "a number";
          break;
        }
        case od::json_type::boolean: {
          bool b;
          if (!doc.get_bool().get(b)) kind = "a boolean";
          break;
        }
        case od::json_type::null: {
          bool n = false;
          if (!doc.is_null().get(n) && n) kind = "null";
          break;
        }
        case od::json_type::object:
          break;
      }
    }
    if (kind.empty())
      return Fail("invalid_sarif", "the document is not valid JSON", std::string(kHint));
    return Fail("invalid_sarif",
                "a SARIF log is a JSON object; this document is " + std::string(kind),
                std::string(kHint));
  }

  void SetError(std::string code, std::string message) {
    if (error_) return;
    error_ = Error{std::move(code), std::move(message), std::string(kHint), path_.Render()};
  }

  // Records the simdjson error `e` met where the walk is. `expected` says what the value should
  // have been, for a type error.
  bool Check(simdjson::error_code e, std::string_view expected) {
    if (!e) return true;
    const std::string at = path_.Render();
    const std::string where = at.empty() ? "the document" : at;
    switch (e) {
      case simdjson::INCORRECT_TYPE:
        SetError("invalid_sarif", where + " must be " +
                                      std::string(expected.empty() ? "of another type" : expected));
        break;
      case simdjson::UTF8_ERROR:
        SetError("invalid_sarif", "the document is not valid UTF-8");
        break;
      case simdjson::EMPTY:
        SetError("invalid_sarif", "the document is empty");
        break;
      case simdjson::DEPTH_ERROR:
        SetError("invalid_sarif",
                 "the document nests deeper than " + std::to_string(limits_.max_depth) + " levels");
        break;
      case simdjson::NUMBER_ERROR:
        SetError("invalid_sarif", where + " is not a valid number");
        break;
      case simdjson::NUMBER_OUT_OF_RANGE:
        SetError("invalid_sarif", where + " is out of range");
        break;
      case simdjson::CAPACITY:
        SetError("payload_too_large", "the document is larger than the parser can read (" +
                                          FormatBytes(simdjson::SIMDJSON_MAXSIZE_BYTES) + ")");
        break;
      case simdjson::MEMALLOC:
        SetError("payload_too_large", "not enough memory to parse the document");
        break;
      case simdjson::UNESCAPED_CHARS:
        SetError("invalid_sarif",
                 "the document is not valid JSON: a string holds an unescaped control character");
        break;
      case simdjson::UNCLOSED_STRING:
        SetError("invalid_sarif", "the document is not valid JSON: a string is not closed");
        break;
      default:
        SetError("invalid_sarif", "the document is not valid JSON (" +
                                      std::string(simdjson::error_message(e)) + ") near " + where);
        break;
    }
    return false;
  }

  bool TypeOf(od::value& v, od::json_type& t) { return Check(v.type().get(t), ""); }

  // ---- generic readers

  template <typename F>
  bool ForFields(od::object& obj, F&& f) {
    for (auto field_result : obj) {
      od::field field;
      if (auto e = std::move(field_result).get(field)) return Check(e, "");
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return Check(e, "");
      path_.Push(key);
      od::value& value = field.value();
      const bool ok = f(key, value);
      path_.Pop();
      if (!ok) return false;
    }
    return true;
  }

  // Calls f(key, value) for each member of an object value; null reads as absent.
  template <typename F>
  bool ForObject(od::value& v, F&& f) {
    od::json_type t{};
    if (!TypeOf(v, t)) return false;
    if (t == od::json_type::null) return true;
    od::object obj;
    if (auto e = v.get_object().get(obj)) return Check(e, "an object");
    return ForFields(obj, f);
  }

  // Calls f(index, value) for each element of an array value; null reads as absent.
  template <typename F>
  bool ForArray(od::value& v, F&& f) {
    od::json_type t{};
    if (!TypeOf(v, t)) return false;
    if (t == od::json_type::null) return true;
    od::array arr;
    if (auto e = v.get_array().get(arr)) return Check(e, "an array");
    size_t i = 0;
    for (auto item_result : arr) {
      path_.Push(i);
      od::value item;
      if (auto e = std::move(item_result).get(item)) return Check(e, "");
      const bool ok = f(i, item);
      path_.Pop();
      if (!ok) return false;
      ++i;
    }
    return true;
  }

  bool ReadString(od::value& v, size_t max_chars, std::string& out) {
    od::json_type t{};
    if (!TypeOf(v, t)) return false;
    if (t == od::json_type::null) return true;
    std::string_view s;
    if (auto e = v.get_string().get(s)) return Check(e, "a string");
    out = Cut(s, max_chars, truncated_);
    return true;
  }

  bool ReadInt(od::value& v, int64_t& out) {
    od::json_type t{};
    if (!TypeOf(v, t)) return false;
    if (t == od::json_type::null) return true;
    if (t != od::json_type::number) return Check(simdjson::INCORRECT_TYPE, "an integer");
    double d = 0;
    if (auto e = v.get_double().get(d)) return Check(e, "an integer");
    if (d != std::floor(d)) return Check(simdjson::INCORRECT_TYPE, "an integer");
    // Out-of-range references are ignored later; clamp so the cast is defined.
    out = d < -1 ? -1 : d > 9.0e15 ? static_cast<int64_t>(9e15) : static_cast<int64_t>(d);
    return true;
  }

  bool ReadBool(od::value& v, std::optional<bool>& out) {
    od::json_type t{};
    if (!TypeOf(v, t)) return false;
    if (t == od::json_type::null) return true;
    bool b = false;
    if (auto e = v.get_bool().get(b)) return Check(e, "true or false");
    out = b;
    return true;
  }

  // A SARIF message object: its text (and arguments).
  bool ReadMessage(od::value& v, size_t max_chars, std::string& text,
                   std::vector<std::string>* args) {
    return ForObject(v, [&](std::string_view key, od::value& m) {
      if (key == "text") return ReadString(m, max_chars, text);
      if (key == "arguments" && args) {
        return ForArray(m, [&](size_t i, od::value& a) {
          if (i >= 100) return true;
          std::string s;
          if (!ReadString(a, kMaxKeyChars, s)) return false;
          args->push_back(std::move(s));
          return true;
        });
      }
      return true;
    });
  }

  // A string-valued object ({"key": "value", ...}), e.g. fingerprints.
  bool ReadStringMap(od::value& v, std::vector<std::pair<std::string, std::string>>& out) {
    return ForObject(v, [&](std::string_view key, od::value& s) {
      std::string value;
      if (!ReadString(s, kMaxValueChars, value)) return false;
      if (out.size() < 64) out.emplace_back(Cut(key, kMaxKeyChars, truncated_), std::move(value));
      return true;
    });
  }

  // ---- property bags (lenient: not part of the schema, so odd types are ignored)

  // A scalar property as text: strings as they are, numbers printed, anything else "".
  bool ReadLooseText(od::value& v, std::string& out, size_t max_chars = kMaxKeyChars) {
    od::json_type t{};
    if (!TypeOf(v, t)) return false;
    if (t == od::json_type::string) return ReadString(v, max_chars, out);
    if (t == od::json_type::number) {
      double d = 0;
      if (auto e = v.get_double().get(d)) return Check(e, "a number");
      if (d == std::floor(d) && std::fabs(d) < 1e15) {
        out = std::to_string(static_cast<int64_t>(d));
      } else {
        out = std::to_string(d);
      }
    }
    return true;
  }

  bool ReadLooseNumber(od::value& v, std::optional<double>& out) {
    od::json_type t{};
    if (!TypeOf(v, t)) return false;
    if (t == od::json_type::number) {
      double d = 0;
      if (auto e = v.get_double().get(d)) return Check(e, "a number");
      if (std::isfinite(d)) out = d;
    } else if (t == od::json_type::string) {
      std::string s;
      if (!ReadString(v, 64, s)) return false;
      out = ParseNumber(s);
    } else if (t == od::json_type::object) {
      // {"score": 9.8} / {"baseScore": 9.8} / {"V3Score": 9.8}
      return ForObject(v, [&](std::string_view key, od::value& s) {
        if (key == "score" || key == "baseScore" || key == "V3Score" || key == "v3Score") {
          if (!out) return ReadLooseNumber(s, out);
        }
        return true;
      });
    }
    return true;
  }

  void NoteTag(std::string_view tag, Props& p) {
    if (p.cwe.empty()) p.cwe = ExtractCwe(tag);
    if (p.cve.empty()) p.cve = ExtractCve(tag);
    if (!p.tag_severity) {
      for (std::string_view word : {"critical", "high", "medium", "low"}) {
        if (EqualsIgnoreCase(Trim(tag), word)) p.tag_severity = SeverityFromWord(word);
      }
    }
  }

  bool ReadProps(od::value& v, Props& p) {
    return ForObject(v, [&](std::string_view key, od::value& x) {
      std::string s;
      if (key == "security-severity") {
        std::optional<double> score;
        if (!ReadLooseNumber(x, score)) return false;
        if (score && *score >= 0 && *score <= 10) p.security_severity = score;
        return true;
      }
      if (key == "severity" || key == "problem.severity") {
        if (!ReadLooseText(x, s)) return false;
        // The more specific name wins when both are given.
        if (auto sev = SeverityFromWord(s); sev && (!p.severity || key == "severity")) {
          p.severity = sev;
        }
        return true;
      }
      if (key == "riskcode" || key == "riskCode") {
        if (!ReadLooseText(x, s)) return false;
        static constexpr Severity kRisk[] = {Severity::kInfo, Severity::kLow, Severity::kMedium,
                                             Severity::kHigh};
        if (s.size() == 1 && s[0] >= '0' && s[0] <= '3') p.riskcode = kRisk[s[0] - '0'];
        return true;
      }
      if (key == "tags") {
        od::json_type t{};
        if (!TypeOf(x, t)) return false;
        if (t != od::json_type::array) return true;
        return ForArray(x, [&](size_t, od::value& tag) {
          od::json_type tt{};
          if (!TypeOf(tag, tt)) return false;
          if (tt != od::json_type::string) return true;
          if (!ReadString(tag, kMaxKeyChars, s)) return false;
          NoteTag(s, p);
          return true;
        });
      }
      if (key == "cwe" || key == "cweid" || key == "cweId" || key == "cwe_id" || key == "cwe-id") {
        od::json_type t{};
        if (!TypeOf(x, t)) return false;
        if (t == od::json_type::array) {
          return ForArray(x, [&](size_t, od::value& item) {
            std::string one;
            if (!ReadLooseText(item, one)) return false;
            if (p.cwe.empty()) p.cwe = ExtractCwe(one);
            return true;
          });
        }
        if (!ReadLooseText(x, s)) return false;
        if (p.cwe.empty()) p.cwe = ExtractCwe(s);
        return true;
      }
      if (key == "cve" || key == "cveId" || key == "cve_id") {
        if (!ReadLooseText(x, s)) return false;
        if (p.cve.empty()) p.cve = ExtractCve(s);
        return true;
      }
      if (key == "cvss" || key == "cvssScore" || key == "cvss_score" || key == "cvss-score" ||
          key == "cvssV3_score" || key == "cvss3") {
        std::optional<double> score;
        if (!ReadLooseNumber(x, score)) return false;
        if (score && *score >= 0 && *score <= 10 && !p.cvss) p.cvss = score;
        return true;
      }
      if (key == "purl" || key == "packageUrl" || key == "package_url" || key == "packageURL") {
        return ReadLooseText(x, p.purl, limits_.max_component);
      }
      if (key == "package" || key == "packageName" || key == "package_name" || key == "component" ||
          key == "dependency") {
        if (!ReadLooseText(x, s, limits_.max_component)) return false;
        if (p.package.empty()) p.package = std::move(s);
        return true;
      }
      if (key == "version" || key == "installedVersion" || key == "installed_version" ||
          key == "packageVersion" || key == "package_version") {
        if (!ReadLooseText(x, s)) return false;
        if (p.version.empty()) p.version = std::move(s);
        return true;
      }
      if (key == "param" || key == "parameter") return ReadLooseText(x, p.parameter);
      return true;
    });
  }

  // ---- the SARIF objects

  bool ReadRuns(od::value& v) {
    log_.has_runs = true;
    od::json_type t{};
    if (!TypeOf(v, t)) return false;
    if (t == od::json_type::null) {
      log_.runs_null = true;
      return true;
    }
    if (t != od::json_type::array) return Check(simdjson::INCORRECT_TYPE, "an array of runs");
    return ForArray(v, [&](size_t, od::value& run) {
      const size_t index = log_.runs.size();
      log_.runs.emplace_back();
      if (!ReadRun(run, log_.runs.back())) return false;
      // Results read one by one before the walk (ReadResultsByElement) join their run.
      if (index < chunked_.size() && !chunked_[index].empty()) {
        log_.runs.back().results.Append(std::move(chunked_[index]));
      }
      return true;
    });
  }

  bool RequireObject(od::value& v, std::string_view what) {
    od::json_type t{};
    if (!TypeOf(v, t)) return false;
    if (t != od::json_type::object) return Check(simdjson::INCORRECT_TYPE, what);
    return true;
  }

  bool ReadRun(od::value& v, RawRun& run) {
    if (!RequireObject(v, "a run object")) return false;
    rules_in_run_ = 0;
    bool has_tool = false;
    const bool ok = ForObject(v, [&](std::string_view key, od::value& x) {
      if (key == "tool") {
        has_tool = true;
        return ReadTool(x, run);
      }
      if (key == "results") return ReadResults(x, run);
      if (key == "invocations") {
        return ForArray(x, [&](size_t, od::value& inv) { return ReadInvocation(inv, run); });
      }
      if (key == "originalUriBaseIds") {
        return ForObject(x, [&](std::string_view id, od::value& base) {
          RawBase b;
          b.id = Cut(id, kMaxKeyChars, truncated_);
          if (!ReadArtifactLocation(base, b.uri, b.base_id, nullptr)) return false;
          if (run.bases.size() < 256) run.bases.push_back(std::move(b));
          return true;
        });
      }
      if (key == "artifacts") {
        return ForArray(x, [&](size_t, od::value& artifact) {
          if (run.artifacts.size() >= limits_.max_artifacts) {
            return TooMany(limits_.max_artifacts, "artifacts in a run");
          }
          RawArtifact a;
          if (!ForObject(artifact, [&](std::string_view k, od::value& loc) {
                if (k == "location") return ReadArtifactLocation(loc, a.uri, a.base_id, nullptr);
                return true;
              })) {
            return false;
          }
          run.artifacts.push_back(std::move(a));
          return true;
        });
      }
      return true;
    });
    if (!ok) return false;
    if (!has_tool) {
      SetError("invalid_sarif", path_.Render() + "/tool is required");
      error_->field += "/tool";
      return false;
    }
    return true;
  }

  bool ReadTool(od::value& v, RawRun& run) {
    if (!RequireObject(v, "an object")) return false;
    bool has_driver = false;
    const bool ok = ForObject(v, [&](std::string_view key, od::value& x) {
      if (key == "driver") {
        has_driver = true;
        if (!RequireObject(x, "an object")) return false;
        return ReadComponent(x, run.driver, &run);
      }
      if (key == "extensions") {
        return ForArray(x, [&](size_t, od::value& ext) {
          if (!RequireObject(ext, "an object")) return false;
          run.extensions.emplace_back();
          return ReadComponent(ext, run.extensions.back(), nullptr);
        });
      }
      return true;
    });
    if (!ok) return false;
    if (!has_driver) {
      SetError("invalid_sarif", path_.Render() + "/driver is required");
      error_->field += "/driver";
      return false;
    }
    return true;
  }

  // A toolComponent; `run` is set for the driver, whose name and version name the tool.
  bool ReadComponent(od::value& v, RawComponent& c, RawRun* run) {
    std::string version, semantic_version;
    const bool ok = ForObject(v, [&](std::string_view key, od::value& x) {
      if (key == "name") {
        if (run) run->has_tool_name = true;
        return ReadString(x, kMaxNameChars, c.name);
      }
      if (key == "guid") return ReadString(x, kMaxKeyChars, c.guid);
      if (key == "version") return ReadString(x, kMaxKeyChars, version);
      if (key == "semanticVersion") return ReadString(x, kMaxKeyChars, semantic_version);
      if (key == "rules") {
        return ForArray(x, [&](size_t, od::value& rule) {
          if (++rules_in_run_ > limits_.max_rules) {
            return TooMany(limits_.max_rules, "rules in a run");
          }
          if (!RequireObject(rule, "a reportingDescriptor object")) return false;
          c.rules.emplace_back();
          return ReadRule(rule, c.rules.back());
        });
      }
      return true;
    });
    if (run) {
      run->tool_name = c.name;
      run->tool_version = semantic_version.empty() ? version : semantic_version;
    }
    return ok;
  }

  bool ReadRule(od::value& v, RawRule& r) {
    return ForObject(v, [&](std::string_view key, od::value& x) {
      if (key == "id") return ReadString(x, limits_.max_rule_id, r.id);
      if (key == "name") return ReadString(x, kMaxNameChars, r.name);
      if (key == "shortDescription") {
        return ReadMessage(x, limits_.max_title, r.short_description, nullptr);
      }
      if (key == "fullDescription") {
        return ReadMessage(x, limits_.max_description, r.full_description, nullptr);
      }
      if (key == "helpUri") return ReadString(x, kMaxValueChars, r.help_uri);
      if (key == "defaultConfiguration") {
        return ForObject(x, [&](std::string_view k, od::value& c) {
          if (k == "level") return ReadString(c, kMaxKeyChars, r.default_level);
          return true;
        });
      }
      if (key == "properties") return ReadProps(x, r.props);
      return true;
    });
  }

  // artifactLocation: uri, uriBaseId and (for results) the index into run.artifacts.
  bool ReadArtifactLocation(od::value& v, std::string& uri, std::string& base_id, int64_t* index) {
    return ForObject(v, [&](std::string_view key, od::value& x) {
      if (key == "uri") return ReadString(x, kMaxValueChars, uri);
      if (key == "uriBaseId") return ReadString(x, kMaxKeyChars, base_id);
      if (key == "index" && index) return ReadInt(x, *index);
      return true;
    });
  }

  bool ReadInvocation(od::value& v, RawRun& run) {
    if (!RequireObject(v, "an invocation object")) return false;
    return ForObject(v, [&](std::string_view key, od::value& x) {
      if (key == "executionSuccessful") {
        std::optional<bool> ok;
        if (!ReadBool(x, ok)) return false;
        if (ok == false) run.failed = true;
        return true;
      }
      if (key == "toolExecutionNotifications") {
        return ForArray(x, [&](size_t, od::value& n) { return ReadNotification(n, run); });
      }
      return true;
    });
  }

  bool ReadNotification(od::value& v, RawRun& run) {
    std::string level;
    RawNote note;
    bool has_location = false;
    const bool ok = ForObject(v, [&](std::string_view key, od::value& x) {
      if (key == "level") return ReadString(x, kMaxKeyChars, level);
      if (key == "message") return ReadMessage(x, kMaxNameChars, note.message, nullptr);
      if (key == "locations") {
        return ForArray(x, [&](size_t, od::value& loc) {
          if (has_location) return true;
          return ForObject(loc, [&](std::string_view k, od::value& phys) {
            if (k != "physicalLocation") return true;
            return ForObject(phys, [&](std::string_view pk, od::value& a) {
              if (pk != "artifactLocation") return true;
              has_location = true;
              return ReadArtifactLocation(a, note.artifact.uri, note.artifact.base_id,
                                          &note.artifact.index);
            });
          });
        });
      }
      return true;
    });
    if (ok && level == "error" && run.error_notes.size() < 10000) {
      run.error_notes.push_back(std::move(note));
    }
    return ok;
  }

  bool ReadResults(od::value& v, RawRun& run) {
    od::json_type t{};
    if (!TypeOf(v, t)) return false;
    if (t == od::json_type::null) return true;  // "not computed"
    if (t != od::json_type::array) return Check(simdjson::INCORRECT_TYPE, "an array of results");
    run.results_present = true;
    return ForArray(v, [&](size_t, od::value& r) {
      if (!CountResult()) return false;
      if (!RequireObject(r, "a result object")) return false;
      return ReadResult(r, run.results.emplace_back());
    });
  }

  bool TooMany(size_t limit, std::string_view what) {
    SetError("payload_too_large", "the log has more than " + std::to_string(limit) + " " +
                                      std::string(what) + " (the limit per scan)");
    return false;
  }

  bool CountResult() {
    if (results_ >= limits_.max_results) return TooMany(limits_.max_results, "results");
    ++results_;
    return true;
  }

  bool ReadResult(od::value& v, RawResult& r) {
    return ForObject(v, [&](std::string_view key, od::value& x) {
      if (key == "ruleId") {
        std::string id;
        if (!ReadString(x, limits_.max_rule_id, id)) return false;
        if (!id.empty() || r.rule_id_from_ref) {
          r.rule_id = std::move(id);
          r.rule_id_from_ref = false;
        }
        return true;
      }
      if (key == "ruleIndex") return ReadInt(x, r.rule_index);
      if (key == "rule") {
        return ForObject(x, [&](std::string_view k, od::value& y) {
          if (k == "id") {
            std::string id;
            if (!ReadString(y, limits_.max_rule_id, id)) return false;
            // ruleId wins over rule.id, whichever comes first.
            if (r.rule_id.empty() && !id.empty()) {
              r.rule_id = std::move(id);
              r.rule_id_from_ref = true;
            }
            return true;
          }
          if (k == "index") return ReadInt(y, r.rule_ref_index);
          if (k == "toolComponent") {
            r.has_component = true;
            return ForObject(y, [&](std::string_view tk, od::value& z) {
              if (tk == "index") return ReadInt(z, r.component_index);
              if (tk == "name") return ReadString(z, kMaxNameChars, r.Extras().component_name);
              if (tk == "guid") return ReadString(z, kMaxKeyChars, r.Extras().component_guid);
              return true;
            });
          }
          return true;
        });
      }
      if (key == "level") return ReadString(x, kMaxKeyChars, r.level);
      if (key == "kind") return ReadString(x, kMaxKeyChars, r.kind);
      if (key == "message") {
        if (!RequireObject(x, "a message object")) return false;
        std::vector<std::string> arguments;
        if (!ReadMessage(x, limits_.max_description, r.message, &arguments)) return false;
        if (!arguments.empty()) r.Extras().arguments = std::move(arguments);
        return true;
      }
      if (key == "locations") {
        return ForArray(x, [&](size_t, od::value& loc) {
          if (!RequireObject(loc, "a location object")) return false;
          return ReadLocation(loc, r);
        });
      }
      if (key == "fingerprints") return ReadStringMap(x, r.fingerprints);
      if (key == "partialFingerprints") return ReadStringMap(x, r.partial_fingerprints);
      if (key == "correlationGuid") {
        std::string guid;
        if (!ReadString(x, kMaxKeyChars, guid)) return false;
        if (!guid.empty()) r.Extras().correlation_guid = std::move(guid);
        return true;
      }
      if (key == "suppressions") {
        return ForArray(x, [&](size_t, od::value& s) {
          std::string status;
          if (!ForObject(s, [&](std::string_view k, od::value& y) {
                if (k == "status") return ReadString(y, kMaxKeyChars, status);
                return true;
              })) {
            return false;
          }
          // A suppression without a status, or an accepted one, is in force (SARIF §3.35.3).
          if (status.empty() || status == "accepted") r.suppressed = true;
          return true;
        });
      }
      if (key == "baselineState") {
        std::string state;
        if (!ReadString(x, kMaxKeyChars, state)) return false;
        if (state == "absent") r.suppressed = true;
        return true;
      }
      if (key == "properties") {
        Props props;
        if (!ReadProps(x, props)) return false;
        if (!props.Empty()) r.Extras().props = std::move(props);
        return true;
      }
      return true;
    });
  }

  // The first location with a physical location gives path, line and snippet; logical locations
  // of a package-like kind give a component.
  bool ReadLocation(od::value& v, RawResult& r) {
    const bool first_physical = !r.has_location;
    return ForObject(v, [&](std::string_view key, od::value& x) {
      if (key == "physicalLocation" && first_physical) {
        if (!RequireObject(x, "a physicalLocation object")) return false;
        r.has_location = true;
        return ForObject(x, [&](std::string_view k, od::value& y) {
          if (k == "artifactLocation") {
            return ReadArtifactLocation(y, r.location.artifact.uri, r.location.artifact.base_id,
                                        &r.location.artifact.index);
          }
          if (k == "region") {
            return ForObject(y, [&](std::string_view rk, od::value& z) {
              if (rk == "startLine") return ReadInt(z, r.location.line);
              if (rk == "snippet") {
                return ForObject(z, [&](std::string_view sk, od::value& s) {
                  if (sk == "text") return ReadString(s, limits_.max_snippet, r.location.snippet);
                  return true;
                });
              }
              return true;
            });
          }
          return true;
        });
      }
      if (key == "logicalLocations") {
        return ForArray(x, [&](size_t, od::value& l) {
          std::string name, fqn, kind;
          if (!ForObject(l, [&](std::string_view k, od::value& y) {
                if (k == "name") return ReadString(y, limits_.max_component, name);
                if (k == "fullyQualifiedName") return ReadString(y, limits_.max_component, fqn);
                if (k == "kind") return ReadString(y, kMaxKeyChars, kind);
                return true;
              })) {
            return false;
          }
          static constexpr std::string_view kPackageKinds[] = {"package", "module", "component",
                                                               "dependency", "image"};
          const bool package_like = std::find(std::begin(kPackageKinds), std::end(kPackageKinds),
                                              kind) != std::end(kPackageKinds);
          if (package_like && r.X().logical.empty() && !(fqn.empty() && name.empty())) {
            r.Extras().logical = fqn.empty() ? name : fqn;
          }
          return true;
        });
      }
      return true;
    });
  }

  const SarifLimits& limits_;
  PathStack path_;
  std::optional<Error> error_;
  RawLog log_;
  std::vector<RawResults> chunked_;  // by run index
  size_t results_ = 0;
  size_t rules_in_run_ = 0;
  int64_t truncated_ = 0;
};

// ---------------------------------------------------------------------------------------------
// From the walk to findings

class Builder {
 public:
  Builder(const SarifLimits& limits, RawLog& log) : limits_(limits), log_(log) {}

  Result<ParsedScan> Build(std::string_view scanner_override) {
    if (!log_.has_version) {
      return Fail("invalid_sarif", "/version is required (SARIF \"2.1.0\")", std::string(kHint),
                  "/version");
    }
    if (log_.version != "2.1.0") {
      return Fail("invalid_sarif",
                  "/version must be \"2.1.0\"; this log is \"" + OneLine(log_.version) + "\"",
                  "Tocsin reads SARIF 2.1.0 only; most scanners can emit it (e.g. --sarif)",
                  "/version");
    }
    if (!log_.has_runs) {
      return Fail("invalid_sarif", "/runs is required (an array of runs)", std::string(kHint),
                  "/runs");
    }
    ParsedScan scan;
    scan.truncated = log_.truncated;
    scan.runs = static_cast<int64_t>(log_.runs.size());
    if (!log_.runs.empty()) {
      scan.tool_name = OneLine(log_.runs[0].tool_name);
      scan.tool_version = OneLine(log_.runs[0].tool_version);
    }
    scan.scanner =
        ScannerSlug(scanner_override.empty() ? std::string_view(scan.tool_name) : scanner_override);
    if (scan.scanner.empty()) {
      if (!scanner_override.empty()) {
        return Fail("invalid_sarif", "the scanner name has no letters or digits",
                    "name the scanner with letters, digits, '.', '_' or '-'", "scanner");
      }
      if (log_.runs.empty()) {
        return Fail("invalid_sarif", "the log has no runs and no scanner was named",
                    std::string(kHint), "/runs");
      }
      return Fail("invalid_sarif",
                  "/runs/0/tool/driver/name is required (it names the scanner) unless the "
                  "scanner is given",
                  std::string(kHint), "/runs/0/tool/driver/name");
    }
    if (log_.runs_null) {
      scan.succeeded = false;
      scan.complete = false;
      scan.error = "the log's runs are null: the tool failed before it produced results";
    } else if (log_.runs.empty()) {
      scan.complete = false;
      scan.error = "the log has no runs";
    }
    // Tools are told apart inside the identity only when one log mixes them.
    bool mixed = false;
    for (const auto& run : log_.runs) {
      if (ScannerSlug(run.tool_name) != ScannerSlug(log_.runs[0].tool_name)) mixed = true;
    }
    for (size_t i = 0; i < log_.runs.size(); ++i) {
      BuildRun(i, log_.runs[i], mixed, scan);
      log_.runs[i] = RawRun();  // give the memory back as we go
    }
    for (const auto& f : scan.findings) ++scan.counts[static_cast<int>(f.severity)];
    return scan;
  }

 private:
  struct Resolved {
    const RawRule* rule = nullptr;
    std::string rule_id;
  };

  static void Index(RawComponent& c) {
    c.by_id.clear();
    for (size_t i = 0; i < c.rules.size(); ++i) c.by_id.try_emplace(c.rules[i].id, i);
  }

  static const RawRule* ById(const RawComponent& c, std::string_view id) {
    auto it = c.by_id.find(id);
    return it == c.by_id.end() ? nullptr : &c.rules[it->second];
  }

  static Resolved ResolveRule(const RawRun& run, const RawResult& r) {
    const RawComponent* comp = &run.driver;
    if (r.has_component) {
      if (r.component_index >= 0) {
        comp = static_cast<size_t>(r.component_index) < run.extensions.size()
                   ? &run.extensions[static_cast<size_t>(r.component_index)]
                   : nullptr;
      } else if (!r.X().component_guid.empty() || !r.X().component_name.empty()) {
        const std::string& guid = r.X().component_guid;
        const std::string& name = r.X().component_name;
        comp = nullptr;
        for (const auto& ext : run.extensions) {
          if ((!guid.empty() && ext.guid == guid) || (guid.empty() && ext.name == name)) {
            comp = &ext;
            break;
          }
        }
        if (!comp && ((!guid.empty() && run.driver.guid == guid) ||
                      (guid.empty() && run.driver.name == name))) {
          comp = &run.driver;
        }
      }
    }
    Resolved out;
    out.rule_id = r.rule_id;
    const int64_t index = r.rule_ref_index >= 0 ? r.rule_ref_index : r.rule_index;
    if (comp && index >= 0 && static_cast<size_t>(index) < comp->rules.size()) {
      out.rule = &comp->rules[static_cast<size_t>(index)];
      // A hierarchical ruleId ("CA2000/sub") names the indexed rule too; anything else is a
      // stale index, and the id decides.
      if (!out.rule_id.empty() && out.rule->id != out.rule_id &&
          !StartsWith(out.rule_id, out.rule->id + "/")) {
        out.rule = nullptr;
      }
    }
    if (!out.rule && !out.rule_id.empty()) {
      if (comp) out.rule = ById(*comp, out.rule_id);
      if (!out.rule) out.rule = ById(run.driver, out.rule_id);
      for (size_t i = 0; !out.rule && i < run.extensions.size(); ++i) {
        out.rule = ById(run.extensions[i], out.rule_id);
      }
    }
    if (out.rule_id.empty() && out.rule) out.rule_id = out.rule->id;
    return out;
  }

  // The absolute file roots of the run's base ids: a path under one is made relative to it.
  static std::vector<std::string> AbsoluteRoots(const RawRun& run) {
    std::vector<std::string> roots;
    for (const auto& b : run.bases) {
      if (!IsAbsoluteUri(b.uri)) continue;
      auto path = FilePath(b.uri);
      if (!path || path->empty() || *path == "/") continue;
      roots.push_back(*path);
    }
    return roots;
  }

  // artifactLocation → the path, with relative base ids prepended (absolute ones are where the
  // checkout happened to be, which differs between machines).
  std::string ResolvePath(const RawRun& run, const RawArtifact& a,
                          const std::vector<std::string>& roots) {
    std::string uri = a.uri;
    std::string base_id = a.base_id;
    if (uri.empty() && a.index >= 0 && static_cast<size_t>(a.index) < run.artifacts.size()) {
      uri = run.artifacts[static_cast<size_t>(a.index)].uri;
      base_id = run.artifacts[static_cast<size_t>(a.index)].base_id;
    }
    if (uri.empty()) return {};
    if (!IsAbsoluteUri(uri)) {
      for (int hops = 0; hops < 8 && !base_id.empty(); ++hops) {
        auto it = std::find_if(run.bases.begin(), run.bases.end(),
                               [&](const RawBase& b) { return b.id == base_id; });
        if (it == run.bases.end() || it->uri.empty() || IsAbsoluteUri(it->uri)) break;
        std::string prefix = it->uri;
        if (!EndsWith(prefix, "/")) prefix.push_back('/');
        uri = prefix + uri;
        base_id = it->base_id;
      }
    }
    return Cut(NormalizeArtifactUri(uri, roots), limits_.max_path, log_.truncated);
  }

  static Severity ChooseSeverity(const RawResult& r, const RawRule* rule) {
    const Props* rp = rule ? &rule->props : nullptr;
    if (r.X().props.security_severity) return SeverityFromScore(*r.X().props.security_severity);
    if (rp && rp->security_severity) return SeverityFromScore(*rp->security_severity);
    if (r.X().props.severity) return *r.X().props.severity;
    if (rp && rp->severity) return *rp->severity;
    if (r.X().props.riskcode) return *r.X().props.riskcode;
    if (rp && rp->riskcode) return *rp->riskcode;
    if (r.X().props.tag_severity) return *r.X().props.tag_severity;
    if (rp && rp->tag_severity) return *rp->tag_severity;
    if (auto s = SeverityFromLevel(r.level)) return *s;
    if (rule) {
      if (auto s = SeverityFromLevel(rule->default_level)) return *s;
    }
    return Severity::kMedium;  // SARIF's default level is "warning"
  }

  // A component from the result's properties, its package-like logical location, or Trivy's
  // "Package: x\nInstalled Version: y" message.
  static std::string ChooseComponent(const RawResult& r, const RawRule* rule) {
    std::string c = r.X().props.Component();
    if (c.empty()) c = r.X().logical;
    if (c.empty()) {
      const size_t p = r.message.find("Package: ");
      if (p != std::string::npos && (p == 0 || r.message[p - 1] == '\n')) {
        std::string_view rest = std::string_view(r.message).substr(p + 9);
        std::string name(Trim(rest.substr(0, rest.find('\n'))));
        const size_t vp = r.message.find("Installed Version: ");
        if (!name.empty() && vp != std::string::npos) {
          std::string_view vrest = std::string_view(r.message).substr(vp + 19);
          std::string_view version = Trim(vrest.substr(0, vrest.find('\n')));
          if (!version.empty()) name += "@" + std::string(version);
        }
        c = std::move(name);
      }
    }
    if (c.empty() && rule) c = rule->props.Component();
    return OneLine(c);
  }

  // The rule's short description, unless it only repeats the rule id (Semgrep's "Semgrep
  // Finding: <id>"); else the message's first line; else the rule's name or id.
  std::string ChooseTitle(const std::string& message, const RawRule* rule,
                          const std::string& rule_id) {
    std::string title;
    if (rule && !rule->short_description.empty()) {
      // It names only the rule: the id itself, or a few words and then the id.
      const std::string& d = rule->short_description;
      const bool just_the_id =
          !rule_id.empty() && (d == rule_id || (rule_id.size() >= 8 && EndsWith(d, rule_id) &&
                                                d.size() - rule_id.size() <= 24));
      if (!just_the_id) title = OneLine(rule->short_description);
    }
    if (title.empty()) title = OneLine(std::string_view(message).substr(0, message.find('\n')));
    if (title.empty() && rule) title = OneLine(rule->name);
    if (title.empty()) title = OneLine(rule_id);
    if (title.empty()) title = "Untitled finding";
    return Cut(title, limits_.max_title, log_.truncated);
  }

  void BuildRun(size_t run_index, RawRun& run, bool mixed, ParsedScan& scan) {
    Index(run.driver);
    for (auto& ext : run.extensions) Index(ext);
    const std::vector<std::string> roots = AbsoluteRoots(run);
    const std::string tool = mixed ? ScannerSlug(run.tool_name) : std::string();

    if (run.failed) scan.succeeded = false;
    if (!run.results_present) {
      scan.complete = false;
      if (scan.error.empty()) {
        scan.error = "run " + std::to_string(run_index) + " did not compute its results";
      }
    }
    for (auto& note : run.error_notes) {
      std::string message = OneLine(note.message);
      if (message.empty()) message = "the tool reported an error";
      if (run.failed && scan.error.empty()) scan.error = message;
      if (scan.notes.size() < limits_.max_notes) scan.notes.push_back(message);
      std::string path = ResolvePath(run, note.artifact, roots);
      if (!path.empty() && scan.unscanned_paths.size() < 10000 &&
          std::find(scan.unscanned_paths.begin(), scan.unscanned_paths.end(), path) ==
              scan.unscanned_paths.end()) {
        scan.unscanned_paths.push_back(std::move(path));
      }
    }
    if (run.failed) {
      scan.complete = false;
      if (scan.error.empty()) {
        scan.error = "the tool reported that its execution did not succeed (run " +
                     std::to_string(run_index) + ")";
      }
    }

    // Results that are findings, with what identity needs.
    std::vector<IdentityInput> inputs;
    std::vector<domain::Finding> findings;
    inputs.reserve(run.results.size());
    findings.reserve(run.results.size());
    run.results.Drain([&](RawResult& r) {
      ++scan.results;
      if (r.kind == "pass" || r.kind == "notApplicable") {
        ++scan.not_findings;
        return;
      }
      if (r.suppressed) {
        ++scan.suppressed;
        return;
      }
      const Resolved resolved = ResolveRule(run, r);
      const RawRule* rule = resolved.rule;
      domain::Finding f;
      f.scanner = scan.scanner;
      f.rule_id = OneLine(resolved.rule_id);
      f.severity = ChooseSeverity(r, rule);
      f.location.path = OneLine(ResolvePath(run, r.location.artifact, roots));
      f.location.line = r.location.line > 0 ? r.location.line : 0;
      f.location.component = Cut(ChooseComponent(r, rule), limits_.max_component, log_.truncated);

      const std::string message = FormatMessage(r.message, r.X().arguments);
      f.title = ChooseTitle(message, rule, f.rule_id);
      std::string description;
      const std::string message_text = MultiLine(message);
      if (!message_text.empty() && message_text != f.title) description = message_text;
      if (rule) {
        std::string full = MultiLine(FormatMessage(rule->full_description, {}));
        if (!full.empty() && full != f.title && full != message_text) {
          if (!description.empty()) description += "\n\n";
          description += full;
        }
      }
      f.description = Cut(description, limits_.max_description, log_.truncated);
      if (rule && domain::IsHttpUrl(rule->help_uri)) f.link = rule->help_uri;

      f.cwe = r.X().props.cwe;
      if (f.cwe.empty() && rule) f.cwe = rule->props.cwe;
      f.cve = ExtractCve(f.rule_id);
      if (f.cve.empty()) f.cve = r.X().props.cve;
      if (f.cve.empty() && rule) f.cve = rule->props.cve;
      if (f.cve.empty()) f.cve = ExtractCve(message);
      f.cvss = r.X().props.cvss;
      if (!f.cvss && rule) f.cvss = rule->props.cvss;

      // The identity's views point into the finding where it stays: `findings` was reserved
      // for every result, so it does not move before AssignIdentities is done with them.
      const domain::Finding& kept = findings.emplace_back(std::move(f));
      IdentityInput& in = inputs.emplace_back();
      in.fingerprints = std::move(r.fingerprints);
      in.correlation_guid = r.X().correlation_guid;
      in.partial_fingerprints = std::move(r.partial_fingerprints);
      in.rule_id = kept.rule_id;
      in.path = kept.location.path;
      in.component = kept.location.component;
      if (StartsWith(in.path, "http://") || StartsWith(in.path, "https://")) {
        in.parameter = OneLine(r.X().props.parameter);
      }
      in.snippet = std::move(r.location.snippet);
      in.tool = tool;
      r = RawResult();  // what is left of it is not needed: free it before the next one grows
    });

    std::vector<Identity> ids = AssignIdentities(scan.scanner, inputs);
    inputs.clear();
    inputs.shrink_to_fit();
    // Merge in place: findings[0, kept) are the distinct ones of this run.
    const size_t base = scan.findings.size();
    size_t kept_count = 0;
    for (size_t i = 0; i < findings.size(); ++i) {
      scan.fingerprints_skipped += ids[i].skipped;
      domain::Finding& f = findings[i];
      f.fingerprint = std::move(ids[i].fingerprint);
      auto [it, inserted] = index_.try_emplace(f.fingerprint, base + kept_count);
      if (inserted) {
        if (kept_count != i) findings[kept_count] = std::move(f);
        ++kept_count;
        continue;
      }
      // The same finding reported twice: keep the first, with the worst severity and any
      // detail the first lacked.
      ++scan.duplicates;
      domain::Finding& kept =
          it->second < base ? scan.findings[it->second] : findings[it->second - base];
      if (f.severity > kept.severity) kept.severity = f.severity;
      if (kept.location.line == 0) kept.location.line = f.location.line;
      if (kept.cwe.empty()) kept.cwe = std::move(f.cwe);
      if (kept.cve.empty()) kept.cve = std::move(f.cve);
      if (!kept.cvss) kept.cvss = f.cvss;
      if (kept.link.empty()) kept.link = std::move(f.link);
      if (kept.location.component.empty())
        kept.location.component = std::move(f.location.component);
    }
    findings.resize(kept_count);
    if (scan.findings.empty()) {
      scan.findings = std::move(findings);
    } else {
      scan.findings.reserve(base + kept_count);
      std::move(findings.begin(), findings.end(), std::back_inserter(scan.findings));
    }
  }

  const SarifLimits& limits_;
  RawLog& log_;
  std::unordered_map<std::string, size_t> index_;  // fingerprint → position in scan.findings
};

// Parses buffer[0, len) (the buffer holds at least SIMDJSON_PADDING bytes more), releases the
// buffer, then builds the findings.
Result<ParsedScan> ParseOwned(std::string buffer, size_t len, const SarifLimits& limits,
                              std::string_view scanner) {
  char* data = buffer.data();
  size_t capacity = buffer.size();
  // A UTF-8 byte order mark is not JSON, but Windows tools write one.
  if (len >= 3 && std::string_view(data, 3) == "\xEF\xBB\xBF") {
    data += 3;
    len -= 3;
    capacity -= 3;
  }
  const Layout layout = ScanLayout(std::string_view(data, len), limits.max_depth);
  if (layout.too_deep_at != std::string_view::npos) {
    return Fail(
        "invalid_sarif",
        "the document nests deeper than " + std::to_string(limits.max_depth) + " levels (at byte " +
            std::to_string(layout.too_deep_at + static_cast<size_t>(data - buffer.data())) + ")",
        std::string(kHint));
  }
  Result<RawLog> log;
  {
    Walker walker(limits);
    // A log whose brackets do not balance is parsed in one piece: simdjson says what is wrong.
    std::optional<size_t> rest = len;
    if (layout.well_formed) rest = walker.ReadResultsByElement(layout, data, len, capacity);
    if (rest) {
      log = walker.Walk(simdjson::padded_string_view(data, *rest, capacity));
    } else {
      log = walker.TakeError();
    }
  }
  std::string().swap(buffer);
  if (!log) return Unexpected(std::move(log.error()));
  Builder builder(limits, *log);
  return builder.Build(scanner);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public functions

bool IsGzip(std::string_view data) {
  return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1F &&
         static_cast<unsigned char>(data[1]) == 0x8B;
}

namespace {

// Inflates `data` (gzip, possibly several members). With out == nullptr only counts, stopping
// once the output passes `max_out`; otherwise writes exactly out_size bytes to out.
Result<size_t> Inflate(std::string_view data, size_t max_out, char* out, size_t out_size) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) {
    return Fail("payload_too_large", "not enough memory to inflate the gzip body");
  }
  struct Closer {
    z_stream* zs;
    ~Closer() { inflateEnd(zs); }
  } closer{&zs};
  std::vector<unsigned char> scratch(out ? 0 : 64 * 1024);
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  size_t in_left = data.size();
  size_t total = 0;
  constexpr size_t kChunk = size_t{1} << 30;  // zlib counts in uInt
  auto too_large = [&] {
    return Fail("payload_too_large",
                "the gzip body inflates to more than " + FormatBytes(max_out) +
                    " (the limit on an inflated scan)",
                "raise limits.max_scan_body or split the scan");
  };
  for (;;) {
    if (zs.avail_in == 0 && in_left > 0) {
      const size_t n = std::min(in_left, kChunk);
      zs.next_in = const_cast<unsigned char*>(in);
      zs.avail_in = static_cast<uInt>(n);
      in += n;
      in_left -= n;
    }
    size_t room;
    if (out) {
      room = std::min(out_size - total, kChunk);
      zs.next_out = reinterpret_cast<unsigned char*>(out + total);
    } else {
      room = scratch.size();
      zs.next_out = scratch.data();
    }
    zs.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const size_t produced = room - zs.avail_out;
    total += produced;
    if (total > max_out) return too_large();
    if (rc == Z_STREAM_END) {
      // Another member may follow (cat a.gz b.gz); trailing zeros are padding.
      const size_t rest = zs.avail_in + in_left;
      if (rest == 0) break;
      if (zs.avail_in >= 2 && zs.next_in[0] == 0x1F && zs.next_in[1] == 0x8B) {
        if (inflateReset(&zs) != Z_OK) return Fail("invalid_sarif", "corrupt gzip body");
        continue;
      }
      break;
    }
    if (rc == Z_OK) {
      if (out && total == out_size && produced == 0) {
        return Fail("invalid_sarif", "the gzip body changed size between two passes");
      }
      continue;
    }
    if (rc == Z_BUF_ERROR) {
      if (zs.avail_in == 0 && in_left == 0) {
        return Fail("invalid_sarif", "the gzip body is truncated");
      }
      if (out && total == out_size) {
        return Fail("invalid_sarif", "the gzip body changed size between two passes");
      }
      continue;
    }
    if (rc == Z_MEM_ERROR) return Fail("payload_too_large", "not enough memory to inflate");
    return Fail("invalid_sarif",
                std::string("the gzip body is corrupt (") + (zs.msg ? zs.msg : "data error") + ")");
  }
  return total;
}

}  // namespace

Result<std::string> Gunzip(std::string_view data, size_t max_out, size_t padding) {
  if (!IsGzip(data)) return Fail("invalid_sarif", "the body is not gzip (no 1f 8b magic)");
  // The trailer's size field is not trusted (a truncated body ends in arbitrary bytes, a bomb
  // may lie): a first pass counts the output in a small buffer and stops at the cap.
  auto size = Inflate(data, max_out, nullptr, 0);
  if (!size) return Unexpected(std::move(size.error()));
  std::string out(*size + padding, ' ');
  auto written = Inflate(data, max_out, out.data(), *size);
  if (!written) return Unexpected(std::move(written.error()));
  if (*written != *size) return Fail("invalid_sarif", "the gzip body changed size between passes");
  return out;
}

Result<ParsedScan> ReadSarif(std::string_view document, const SarifLimits& limits,
                             std::string_view scanner) {
  if (IsGzip(document)) {
    auto inflated = Gunzip(document, limits.max_inflated_bytes, simdjson::SIMDJSON_PADDING);
    if (!inflated) return Unexpected(std::move(inflated.error()));
    const size_t len = inflated->size() - simdjson::SIMDJSON_PADDING;
    return ParseOwned(std::move(*inflated), len, limits, scanner);
  }
  std::string buffer;
  buffer.reserve(document.size() + simdjson::SIMDJSON_PADDING);
  buffer.append(document);
  buffer.append(simdjson::SIMDJSON_PADDING, ' ');
  return ParseOwned(std::move(buffer), document.size(), limits, scanner);
}

Result<ParsedScan> ReadSarifBuffer(std::string&& document, const SarifLimits& limits,
                                   std::string_view scanner) {
  if (IsGzip(document)) {
    auto inflated = Gunzip(document, limits.max_inflated_bytes, simdjson::SIMDJSON_PADDING);
    std::string().swap(document);
    if (!inflated) return Unexpected(std::move(inflated.error()));
    const size_t len = inflated->size() - simdjson::SIMDJSON_PADDING;
    return ParseOwned(std::move(*inflated), len, limits, scanner);
  }
  const size_t len = document.size();
  document.resize(len + simdjson::SIMDJSON_PADDING, ' ');
  return ParseOwned(std::move(document), len, limits, scanner);
}

std::string NormalizeArtifactUri(std::string_view uri,
                                 std::span<const std::string> absolute_roots) {
  std::string_view s = Trim(uri);
  if (StartsWithIgnoreCase(s, "http://") || StartsWithIgnoreCase(s, "https://")) {
    s = s.substr(0, s.find_first_of("?#"));
    std::string out(s);
    // Scheme and host are case-insensitive.
    const size_t host_end = out.find('/', out.find("://") + 3);
    for (size_t i = 0; i < std::min(host_end, out.size()); ++i) {
      out[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(out[i])));
    }
    return out;
  }
  auto path = FilePath(s);
  if (!path) return std::string(s);  // another scheme: kept as written
  std::string best;
  for (const auto& root : absolute_roots) {
    if (root.size() <= best.size()) continue;
    if (StartsWith(*path, root) &&
        (path->size() == root.size() || (*path)[root.size()] == '/' || EndsWith(root, "/"))) {
      best = root;
    }
  }
  if (!best.empty()) {
    std::string_view rest = std::string_view(*path).substr(best.size());
    while (StartsWith(rest, "/")) rest.remove_prefix(1);
    return std::string(rest);
  }
  return *path;
}

std::string ExtractCwe(std::string_view s) {
  s = Trim(s);
  auto digits_at = [&](size_t i) {
    size_t j = i;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    return s.substr(i, j - i);
  };
  std::string_view digits;
  if (!s.empty() && digits_at(0).size() == s.size()) {
    digits = s;  // "89"
  } else {
    for (size_t i = 0; i + 4 <= s.size(); ++i) {
      if (EqualsIgnoreCase(s.substr(i, 3), "cwe") && (s[i + 3] == '-' || s[i + 3] == '_')) {
        digits = digits_at(i + 4);
        if (!digits.empty()) break;
      }
    }
  }
  while (digits.size() > 1 && digits[0] == '0') digits.remove_prefix(1);
  if (digits.empty() || digits.size() > 9) return {};
  return "CWE-" + std::string(digits);
}

std::string ExtractCve(std::string_view s) {
  for (size_t i = 0; i + 13 <= s.size(); ++i) {
    if (!EqualsIgnoreCase(s.substr(i, 4), "cve-")) continue;
    size_t j = i + 4;
    size_t year = 0;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j, ++year;
    if (year != 4 || j >= s.size() || s[j] != '-') continue;
    size_t k = j + 1;
    while (k < s.size() && s[k] >= '0' && s[k] <= '9' && k - j - 1 < 15) ++k;
    const size_t n = k - j - 1;
    if (n < 4) continue;
    std::string out =
        "CVE-" + std::string(s.substr(i + 4, 4)) + "-" + std::string(s.substr(j + 1, n));
    return out;
  }
  return {};
}

Severity SeverityFromScore(double score) {
  if (score >= 9.0) return Severity::kCritical;
  if (score >= 7.0) return Severity::kHigh;
  if (score >= 4.0) return Severity::kMedium;
  if (score > 0.0) return Severity::kLow;
  return Severity::kInfo;
}

std::optional<Severity> SeverityFromWord(std::string_view word) {
  const std::string w = ToLower(Trim(word));
  if (w == "critical") return Severity::kCritical;
  if (w == "high" || w == "error") return Severity::kHigh;
  if (w == "medium" || w == "moderate" || w == "warning") return Severity::kMedium;
  if (w == "low" || w == "recommendation" || w == "note") return Severity::kLow;
  if (w == "info" || w == "informational" || w == "information" || w == "none") {
    return Severity::kInfo;
  }
  return std::nullopt;
}

std::optional<Severity> SeverityFromLevel(std::string_view level) {
  if (level == "error") return Severity::kHigh;
  if (level == "warning") return Severity::kMedium;
  if (level == "note") return Severity::kLow;
  if (level == "none") return Severity::kInfo;
  return std::nullopt;
}

}  // namespace tocsin::ingest
