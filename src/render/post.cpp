#include "render/post.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/strings.hpp"
#include "domain/types.hpp"

namespace tocsin::render {

namespace {

using nlohmann::json;
using domain::Severity;

constexpr std::string_view kZwsp = "\u200B";
constexpr std::string_view kMarker = "\u2026 (truncated)";
constexpr size_t kMarkerRunes = 13;

// Caps for the short parts of a post, so the description (the only long part) gets the rest of
// the budget and a hostile title cannot crowd everything else out.
constexpr size_t kProjectRunes = 100;
constexpr size_t kTitleRunes = 300;
constexpr size_t kFieldRunes = 300;
constexpr size_t kFallbackRunes = 300;
constexpr size_t kActorRunes = 100;
constexpr size_t kCommentRunes = 2000;
constexpr size_t kLineTitleRunes = 200;
constexpr size_t kLineLocationRunes = 150;
constexpr size_t kShortFieldRunes = 40;
constexpr size_t kDigestTop = 10;

// ---------------------------------------------------------------------------------------------
// UTF-8 and character classes

// Decodes the code point at s[i] and advances i; a byte that does not start a valid sequence
// becomes U+FFFD (one byte consumed), so the output is always valid UTF-8.
char32_t NextCodePoint(std::string_view s, size_t& i) {
  char32_t cp = 0;
  return DecodeUtf8(s, i, &cp) ? cp : 0xFFFD;
}

void AppendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool IsLineBreak(char32_t cp) {
  return cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x85 || cp == 0x2028 ||
         cp == 0x2029;
}

// Characters that are removed outright: controls, and the invisible format characters that can
// hide or reorder text (bidi overrides/isolates, zero-width joiners, BOM, tag characters) — they
// let "resolved" display as something else or smuggle text past a reader.
bool IsDropped(char32_t cp) {
  if (cp < 0x20) return cp != '\t' && !IsLineBreak(cp);
  if (cp == 0x7F) return true;
  if (cp >= 0x80 && cp <= 0x9F) return cp != 0x85;
  if (cp == 0x061C || cp == 0x180E) return true;
  if (cp >= 0x200B && cp <= 0x200F) return true;
  if (cp >= 0x202A && cp <= 0x202E) return true;
  if (cp >= 0x2060 && cp <= 0x206F) return true;
  if (cp == 0xFEFF) return true;
  if (cp >= 0xFFF9 && cp <= 0xFFFB) return true;
  if (cp >= 0xE0000 && cp <= 0xE007F) return true;
  return false;
}

bool IsSpace(char32_t cp) { return cp == ' ' || cp == '\t'; }

// ASCII punctuation with a meaning in Mattermost Markdown: links/images ([ ] ( ) !), autolinks
// and HTML (< >), code (`), emphasis/strikethrough (* _ ~), headings/hashtags (#), tables (|),
// entities (& — "&#64;channel" would decode to a mention), LaTeX ($), and the escape itself.
bool IsMarkdownSpecial(char32_t cp) {
  switch (cp) {
    case '\\':
    case '`':
    case '*':
    case '_':
    case '~':
    case '#':
    case '|':
    case '[':
    case ']':
    case '(':
    case ')':
    case '!':
    case '<':
    case '>':
    case '&':
    case '$':
      return true;
    default:
      return false;
  }
}

// '@' and its full-width and small forms: each is followed by U+200B so no mention can form.
bool IsAtSign(char32_t cp) { return cp == '@' || cp == 0xFF20 || cp == 0xFE6B; }

// Splits text into lines of cleaned code points: dropped characters removed, tabs as spaces,
// every line-break form (CRLF, CR, NEL, LS, PS, VT, FF) as one break.
std::vector<std::u32string> CleanLines(std::string_view text) {
  std::vector<std::u32string> lines(1);
  size_t i = 0;
  while (i < text.size()) {
    char32_t cp = NextCodePoint(text, i);
    if (cp == '\r' && i < text.size() && text[i] == '\n') ++i;
    if (IsLineBreak(cp)) {
      lines.emplace_back();
      continue;
    }
    if (IsDropped(cp)) continue;
    if (cp == '\t') cp = ' ';
    lines.back().push_back(cp);
  }
  return lines;
}

std::u32string TrimSpaces(const std::u32string& s) {
  size_t b = 0, e = s.size();
  while (b < e && IsSpace(s[b])) ++b;
  while (e > b && IsSpace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// One line, already trimmed, in Markdown mode. At the start of a line the block markers that are
// not escaped everywhere are neutralized too: list bullets (- +), setext underlines (=) and
// ordered-list numbers ("1." / "1)").
void EscapeLine(const std::u32string& line, bool markdown, std::string& out) {
  size_t ordered_dot = std::u32string::npos;
  if (markdown && !line.empty()) {
    if (line[0] == '-' || line[0] == '+' || line[0] == '=') out += '\\';
    size_t d = 0;
    while (d < line.size() && d < 10 && line[d] >= '0' && line[d] <= '9') ++d;
    if (d > 0 && d < line.size() && line[d] == '.') ordered_dot = d;
  }
  for (size_t k = 0; k < line.size(); ++k) {
    const char32_t cp = line[k];
    if (markdown && (IsMarkdownSpecial(cp) || k == ordered_dot)) out += '\\';
    AppendUtf8(out, cp);
    // In plain text an '&' gets one too: "&#64;channel" stays inert even for a client that
    // renders the fallback as HTML or Markdown.
    if (IsAtSign(cp) || (!markdown && cp == '&')) out += kZwsp;
  }
}

// True when NeutralizeGeneral would return `text` unchanged: one line of printable ASCII, not
// starting or ending with a space, with no '@', nothing Markdown reads (or, in plain text, no
// '&'), and no block marker at its start. Most of what a post carries (project names, rule ids,
// paths, branches, plain titles) is such text, and needs neither the code-point split nor a copy
// per character.
bool UnchangedByNeutralize(std::string_view text, bool markdown) {
  if (text.empty()) return true;
  if (text.front() == ' ' || text.back() == ' ') return false;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7E || c == '@') return false;
    if (markdown ? IsMarkdownSpecial(u) : c == '&') return false;
  }
  if (markdown) {
    if (text[0] == '-' || text[0] == '+' || text[0] == '=') return false;
    size_t d = 0;
    while (d < text.size() && d < 10 && text[d] >= '0' && text[d] <= '9') ++d;
    if (d > 0 && d < text.size() && text[d] == '.') return false;  // "1." starts a list
  }
  return true;
}

std::string NeutralizeImpl(std::string_view text, bool single_line, bool markdown) {
  if (UnchangedByNeutralize(text, markdown)) return std::string(text);
  return internal::NeutralizeGeneral(text, single_line, markdown);
}

}  // namespace

std::string internal::NeutralizeGeneral(std::string_view text, bool single_line, bool markdown) {
  const auto lines = CleanLines(text);
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  if (single_line) {
    std::u32string joined;
    for (const auto& raw : lines) {
      const auto line = TrimSpaces(raw);
      if (line.empty()) continue;
      if (!joined.empty()) joined.push_back(' ');
      joined += line;
    }
    EscapeLine(joined, markdown, out);
    return out;
  }
  // Multi-line: leading spaces go (four of them make a code block), blank lines collapse to one
  // (no wall of empty space), and the text neither starts nor ends with a blank line.
  bool pending_blank = false;
  bool any = false;
  for (const auto& raw : lines) {
    const auto line = TrimSpaces(raw);
    if (line.empty()) {
      pending_blank = any;
      continue;
    }
    if (any) out += pending_blank ? "\n\n" : "\n";
    pending_blank = false;
    EscapeLine(line, markdown, out);
    any = true;
  }
  return out;
}

namespace {

// Byte offset just past the first `runes` code points of valid UTF-8.
size_t RuneOffset(std::string_view s, size_t runes) {
  size_t i = 0, n = 0;
  while (i < s.size()) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (n == runes) return i;
      ++n;
    }
    ++i;
  }
  return s.size();
}

// ---------------------------------------------------------------------------------------------
// Reading the stored event defensively: it is Tocsin's own JSON, but a wrong type must render
// as "absent", never throw.

const json& Get(const json& j, std::string_view key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string Str(const json& j, std::string_view key) {
  const json& v = Get(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

std::optional<int64_t> Int(const json& j, std::string_view key) {
  const json& v = Get(j, key);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) return static_cast<int64_t>(v.get<double>());
  return std::nullopt;
}

std::optional<Severity> SeverityOf(const json& j, std::string_view key) {
  return domain::ParseSeverity(Str(j, key));
}

std::string Capitalized(std::string_view s) {
  std::string out(s);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 32);
  return out;
}

// Single-line Markdown text, neutralized and capped.
std::string Md(std::string_view untrusted, size_t max_runes) {
  return Truncate(Neutralize(untrusted, true), max_runes);
}

std::string ProjectName(const json& event, const Context& ctx) {
  if (!ctx.project_display.empty()) return ctx.project_display;
  if (!ctx.project.empty()) return ctx.project;
  return Str(event, "project");
}

std::string ProjectSlug(const json& event, const Context& ctx) {
  return ctx.project.empty() ? Str(event, "project") : ctx.project;
}

std::string PercentEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

bool UsableLink(std::string_view url) { return domain::IsHttpUrl(url) && IsValidUtf8(url); }

// The finding's own link, else Tocsin's page for it, else nothing.
std::string FindingLink(const json& finding, const std::string& project, const Context& ctx) {
  const std::string link = Str(finding, "link");
  if (UsableLink(link)) return link;
  std::string base = ctx.public_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string fingerprint = Str(finding, "fingerprint");
  if (base.empty() || !UsableLink(base) || project.empty() || fingerprint.empty()) return {};
  return base + "/projects/" + PercentEncode(project) +
         "/findings?fingerprint=" + PercentEncode(fingerprint);
}

// "src/db.js:42 · pg@8.7.1", each untrusted part neutralized on its own.
std::string LocationText(const json& finding, bool markdown, size_t max_runes) {
  const json& loc = Get(finding, "location");
  const std::string path = Str(loc, "path");
  const auto line = Int(loc, "line");
  const std::string component = Str(loc, "component");
  std::string out = markdown ? Neutralize(path) : NeutralizePlain(path);
  if (!out.empty() && line && *line > 0) out += ":" + std::to_string(*line);
  const std::string comp = markdown ? Neutralize(component) : NeutralizePlain(component);
  if (!comp.empty()) out += out.empty() ? comp : " \u00B7 " + comp;
  return Truncate(out, max_runes);
}

std::string FindingTitle(const json& finding) {
  std::string title = Str(finding, "title");
  if (Trim(title).empty()) title = Str(finding, "fingerprint");
  if (Trim(title).empty()) title = "(untitled finding)";
  return title;
}

std::string SeverityEmoji(std::optional<Severity> s) {
  if (!s) return ":grey_question:";
  switch (*s) {
    case Severity::kCritical:
    case Severity::kHigh:
      return ":rotating_light:";
    case Severity::kMedium:
      return ":warning:";
    case Severity::kLow:
    case Severity::kInfo:
      return ":information_source:";
  }
  return ":information_source:";
}

std::string SeverityWord(std::optional<Severity> s, const json& finding) {
  if (s) return std::string(domain::Name(*s));
  const std::string raw = Str(finding, "severity");
  return raw.empty() ? std::string("unknown") : Md(raw, 20);
}

json Field(std::string title, std::string value) {
  const bool is_short = CountRunes(value) <= kShortFieldRunes;
  return json{{"title", std::move(title)}, {"value", std::move(value)}, {"short", is_short}};
}

json Post(std::string message, json attachments = json::array()) {
  return json{{"message", std::move(message)}, {"props", {{"attachments", std::move(attachments)}}}};
}

std::string StatusColor(std::string_view status, std::optional<Severity> sev) {
  if (status == "resolved") return "good";
  if (status == "false_positive" || status == "accepted_risk") return "#808080";
  return SeverityColor(sev ? domain::Name(*sev) : "");
}

// An attachment title is Markdown only when it has no link: with title_link the clients put the
// raw text inside the link (webapp and mobile alike), where backslash escapes would show. Titles
// are not searched for mentions, but get the U+200B anyway.
void SetTitle(json& a, std::string_view untrusted_title, const std::string& link) {
  if (link.empty()) {
    a["title"] = Md(untrusted_title, kTitleRunes);
  } else {
    a["title"] = Truncate(NeutralizePlain(untrusted_title), kTitleRunes);
    a["title_link"] = link;
  }
}

// ---------------------------------------------------------------------------------------------
// Fitting a post into the budget

size_t Runes(const json& j, std::string_view key) {
  const json& v = Get(j, key);
  return v.is_string() ? CountRunes(v.get_ref<const std::string&>()) : 0;
}

constexpr std::string_view kAttachmentTexts[] = {"fallback", "pretext", "title", "text", "footer",
                                                 "author_name"};

size_t AttachmentRunes(const json& a) {
  size_t n = 0;
  for (auto key : kAttachmentTexts) n += Runes(a, key);
  const json& fields = Get(a, "fields");
  if (fields.is_array()) {
    for (const auto& f : fields) n += Runes(f, "title") + Runes(f, "value");
  }
  return n;
}

json* Attachments(json& post) {
  if (!post.is_object()) return nullptr;
  auto props = post.find("props");
  if (props == post.end() || !props->is_object()) return nullptr;
  auto atts = props->find("attachments");
  if (atts == props->end() || !atts->is_array()) return nullptr;
  return &*atts;
}

const json& Attachments(const json& post) {
  const json& atts = Get(Get(post, "props"), "attachments");
  static const json kNone = json::array();
  return atts.is_array() ? atts : kNone;
}

void CutString(json& j, std::string_view key, size_t max_runes) {
  if (!j.is_object()) return;
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return;
  *it = Truncate(it->get_ref<const std::string&>(), max_runes);
}

// Brings PostRunes(post) within max_runes, losing the least useful text first: the long
// attachment texts (descriptions, lists) are cut, then dropped; then titles, fallbacks and field
// values are cut; then fields dropped; then the message cut; last the attachments go.
void Fit(json& post, size_t max_runes) {
  if (PostRunes(post) <= max_runes) return;
  CutString(post, "message", max_runes);
  json* atts = Attachments(post);
  if (atts && !atts->empty()) {
    // 1. Attachment texts share what the rest of the post leaves.
    size_t texts = 0, with_text = 0;
    for (const auto& a : *atts) {
      const size_t n = Runes(a, "text");
      texts += n;
      if (n > 0) ++with_text;
    }
    const size_t total = PostRunes(post);
    if (total > max_runes && with_text > 0) {
      const size_t rest = total - texts;
      size_t available = rest < max_runes ? max_runes - rest : 0;
      for (auto& a : *atts) {
        const size_t n = Runes(a, "text");
        if (n == 0) continue;
        const size_t share = available / with_text--;
        if (share < 2 * kMarkerRunes) {
          a.erase("text");
        } else {
          CutString(a, "text", share);
          available -= Runes(a, "text");
        }
      }
    }
    // 2. The short parts, cut harder.
    if (PostRunes(post) > max_runes) {
      for (auto& a : *atts) {
        for (auto key : kAttachmentTexts) CutString(a, key, 100);
        auto fields = a.find("fields");
        if (fields != a.end() && fields->is_array()) {
          for (auto& f : *fields) CutString(f, "value", 60);
        }
      }
    }
    // 3. No fields.
    if (PostRunes(post) > max_runes) {
      for (auto& a : *atts) a.erase("fields");
    }
  }
  // 4. The message gives way to what is left of the attachments, and then the attachments go.
  if (PostRunes(post) > max_runes && atts) {
    size_t att_runes = 0;
    for (const auto& a : *atts) att_runes += AttachmentRunes(a);
    if (att_runes < max_runes) CutString(post, "message", max_runes - att_runes);
    if (PostRunes(post) > max_runes) atts->clear();
  }
  if (PostRunes(post) > max_runes) CutString(post, "message", max_runes);
}

// ---------------------------------------------------------------------------------------------
// The posts

json NewFindingAttachment(const json& event, const Context& ctx, const std::string& status) {
  const json& finding = Get(event, "finding");
  const auto sev = SeverityOf(finding, "severity");
  const std::string project = ProjectName(event, ctx);
  const std::string title = FindingTitle(finding);

  json a = json::object();
  std::string fallback = fmt::format("New {} vulnerability in {}: {}", SeverityWord(sev, finding),
                                     NeutralizePlain(project), NeutralizePlain(title));
  const std::string where = LocationText(finding, false, kLineLocationRunes);
  if (!where.empty()) fallback += " (" + where + ")";
  a["fallback"] = Truncate(fallback, kFallbackRunes);
  a["color"] = SeverityColor(sev ? domain::Name(*sev) : "");
  const std::string link = FindingLink(finding, ProjectSlug(event, ctx), ctx);
  SetTitle(a, title, link);
  const std::string description = Neutralize(Str(finding, "description"), false);
  if (!description.empty()) a["text"] = Truncate(description, ctx.max_runes);

  json fields = json::array();
  std::string severity_value = Capitalized(SeverityWord(sev, finding));
  const json& cvss = Get(finding, "cvss");
  if (cvss.is_number()) severity_value += fmt::format(" (CVSS {:.1f})", cvss.get<double>());
  fields.push_back(Field("Severity", severity_value));
  fields.push_back(Field("Project", Md(project, kProjectRunes)));
  if (const auto scanner = Str(finding, "scanner"); !scanner.empty()) {
    fields.push_back(Field("Scanner", Md(scanner, kFieldRunes)));
  }
  fields.push_back(Field("Status", Md(status, 40)));
  std::string ids;
  for (auto key : {"rule_id", "cwe", "cve"}) {
    const std::string v = Neutralize(Str(finding, key));
    if (v.empty()) continue;
    if (!ids.empty()) ids += " \u00B7 ";
    ids += v;
  }
  if (!ids.empty()) fields.push_back(Field("Rule / CWE / CVE", Truncate(ids, kFieldRunes)));
  const std::string location = LocationText(finding, true, kFieldRunes);
  if (!location.empty()) fields.push_back(Field("Location", location));
  a["fields"] = std::move(fields);
  a["footer"] = "Tocsin";
  return a;
}

std::string NewFindingMessage(const json& event, const Context& ctx) {
  const json& finding = Get(event, "finding");
  const auto sev = SeverityOf(finding, "severity");
  return fmt::format("{} New **{}** vulnerability in {}", SeverityEmoji(sev),
                     SeverityWord(sev, finding), Md(ProjectName(event, ctx), kProjectRunes));
}

json RenderNew(const json& event, const Context& ctx) {
  const json& finding = Get(event, "finding");
  std::string status = Str(finding, "status");
  if (status.empty()) status = "open";
  json post = Post(NewFindingMessage(event, ctx),
                   json::array({NewFindingAttachment(event, ctx, status)}));
  Fit(post, ctx.max_runes);
  return post;
}

struct StatusChange {
  std::string from, to, transition, actor, comment;
};

StatusChange ReadStatusChange(const json& event) {
  const json& finding = Get(event, "finding");
  StatusChange c;
  c.from = Str(event, "from");
  c.to = Str(event, "to");
  if (c.to.empty()) c.to = Str(event, "status");
  if (c.to.empty()) c.to = Str(finding, "status");
  c.transition = Str(event, "transition");
  if (c.transition.empty()) {
    if (const auto to = domain::ParseFindingStatus(c.to)) {
      c.transition = domain::TransitionName(domain::ParseFindingStatus(c.from), *to);
    }
  }
  c.actor = Str(event, "actor");
  c.comment = Str(event, "comment");
  return c;
}

json RenderStatusChanged(const json& event, const Context& ctx) {
  const json& finding = Get(event, "finding");
  const StatusChange c = ReadStatusChange(event);
  const std::string to = c.to.empty() ? std::string("unknown") : Md(c.to, 40);
  std::string message = "Status: ";
  if (!c.from.empty()) message += Md(c.from, 40) + " \u2192 ";
  message += to;
  if (!c.transition.empty()) message += " (" + Md(c.transition, 40) + ")";
  if (!c.actor.empty()) message += " by " + Md(c.actor, kActorRunes);
  if (const auto comment = Md(c.comment, kCommentRunes); !comment.empty()) {
    message += ": " + comment;
  }

  // A small attachment naming the finding, so the reply makes sense on its own too (in a
  // notification, or when the first post is not in this channel).
  const std::string title = FindingTitle(finding);
  json a = json::object();
  a["fallback"] = Truncate(
      fmt::format("Status of {} in {}: {}{}", NeutralizePlain(title),
                  NeutralizePlain(ProjectName(event, ctx)),
                  c.from.empty() ? std::string() : NeutralizePlain(c.from) + " \u2192 ",
                  NeutralizePlain(c.to.empty() ? std::string("unknown") : c.to)),
      kFallbackRunes);
  a["color"] = StatusColor(c.to, SeverityOf(finding, "severity"));
  const std::string link = FindingLink(finding, ProjectSlug(event, ctx), ctx);
  SetTitle(a, title, link);
  a["footer"] = "Tocsin";
  json post = Post(std::move(message), json::array({std::move(a)}));
  Fit(post, ctx.max_runes);
  return post;
}

std::string Duration(const json& scan) {
  TimePoint start, end;
  if (!ParseRfc3339(Str(scan, "started_at"), &start) ||
      !ParseRfc3339(Str(scan, "finished_at"), &end) || end < start) {
    return {};
  }
  const int64_t s = std::chrono::duration_cast<std::chrono::seconds>(end - start).count();
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m {:02}s", s / 60, s % 60);
  return fmt::format("{}h {:02}m", s / 3600, (s % 3600) / 60);
}

json RenderScan(const json& event, const Context& ctx) {
  const json& scan = Get(event, "scan");
  const bool ok = Str(scan, "status") != "failed";
  const std::string scanner = Md(Str(scan, "scanner").empty() ? "scanner" : Str(scan, "scanner"),
                                 kFieldRunes);
  std::string branch_raw = Str(scan, "branch");
  if (branch_raw.empty()) branch_raw = "default";
  const std::string branch = Md(branch_raw, kFieldRunes);
  const std::string project = ProjectName(event, ctx);
  const bool baseline = Get(scan, "baseline").is_boolean() && Get(scan, "baseline").get<bool>();

  std::string message = fmt::format("{} **{}** scan of {} ({}) {}",
                                    ok ? ":white_check_mark:" : ":x:", scanner,
                                    Md(project, kProjectRunes), branch,
                                    ok ? "succeeded" : "failed");
  if (baseline) message += " \u2014 baseline";

  const json& counts = Get(scan, "counts");
  std::string counts_plain;
  int64_t total = 0;
  for (auto sev : domain::kAllSeverities) {
    const int64_t n = std::max<int64_t>(0, Int(counts, domain::Name(sev)).value_or(0));
    total += n;
    if (n == 0) continue;
    if (!counts_plain.empty()) counts_plain += ", ";
    counts_plain += fmt::format("{} {}", n, domain::Name(sev));
  }
  const int64_t new_count = std::max<int64_t>(0, Int(scan, "new").value_or(0));
  const int64_t resolved = std::max<int64_t>(0, Int(scan, "resolved").value_or(0));
  const int64_t reopened = std::max<int64_t>(0, Int(scan, "reopened").value_or(0));

  json a = json::object();
  a["fallback"] = Truncate(
      fmt::format("{} scan of {} ({}) {}: {}; {} new, {} resolved, {} reopened",
                  NeutralizePlain(Str(scan, "scanner")), NeutralizePlain(project),
                  NeutralizePlain(branch_raw), ok ? "succeeded" : "failed",
                  counts_plain.empty() ? std::string("no findings") : counts_plain, new_count,
                  resolved, reopened),
      kFallbackRunes);
  a["color"] = ok ? "good" : "danger";
  const std::string scan_link = UsableLink(Str(scan, "link")) ? Str(scan, "link") : std::string();
  SetTitle(a,
           fmt::format("Scan {} \u00B7 {}", ok ? "succeeded" : "failed",
                       Str(scan, "scanner").empty() ? "scanner" : Str(scan, "scanner")),
           scan_link);

  std::string text;
  if (baseline) {
    text = fmt::format(
        "Baseline: the first scan of this project, scanner and branch. Its {} finding{} "
        "{} recorded without a post each; from now on only changes are posted.",
        total, total == 1 ? "" : "s", total == 1 ? "is" : "are");
  }
  if (!ok) {
    const std::string error = Neutralize(Str(scan, "error"), false);
    if (!text.empty()) text += "\n\n";
    text += error.empty() ? std::string("The scan failed without an error message.")
                          : "Error: " + error;
  }
  if (!text.empty()) a["text"] = Truncate(text, ctx.max_runes);

  json fields = json::array();
  fields.push_back(Field("Status", ok ? "Succeeded" : "Failed"));
  fields.push_back(Field("Branch", branch));
  if (const auto d = Duration(scan); !d.empty()) fields.push_back(Field("Duration", d));
  for (auto sev : domain::kAllSeverities) {
    const int64_t n = std::max<int64_t>(0, Int(counts, domain::Name(sev)).value_or(0));
    fields.push_back(Field(Capitalized(domain::Name(sev)), std::to_string(n)));
  }
  fields.push_back(Field("New", std::to_string(new_count)));
  fields.push_back(Field("Resolved", std::to_string(resolved)));
  fields.push_back(Field("Reopened", std::to_string(reopened)));
  a["fields"] = std::move(fields);
  a["footer"] = "Tocsin";
  json post = Post(std::move(message), json::array({std::move(a)}));
  Fit(post, ctx.max_runes);
  return post;
}

json RenderThreshold(const json& event, const Context& ctx) {
  const auto sev = SeverityOf(event, "severity");
  const bool above = Str(event, "direction") != "below";
  std::string which = "unknown-severity";
  if (sev) {
    which = *sev == Severity::kCritical ? std::string("critical")
                                        : std::string(domain::Name(*sev)) + "-or-above";
  }
  std::string message = fmt::format(
      "{} Open {} findings in {}: {} (threshold {}) \u2014 crossed {}",
      above ? ":chart_with_upwards_trend:" : ":chart_with_downwards_trend:", which,
      Md(ProjectName(event, ctx), kProjectRunes), Int(event, "count").value_or(0),
      Int(event, "threshold").value_or(0), above ? "above" : "below");
  json post = Post(std::move(message));
  Fit(post, ctx.max_runes);
  return post;
}

// One digest line: "- **critical** SQL injection in query\(\) — src/db.js:42".
std::string DigestLine(const json& event) {
  const json& finding = Get(event, "finding");
  const auto sev = SeverityOf(finding, "severity");
  std::string line = fmt::format("- **{}** {}", SeverityWord(sev, finding),
                                 Md(FindingTitle(finding), kLineTitleRunes));
  const std::string where = LocationText(finding, true, kLineLocationRunes);
  if (!where.empty()) line += " \u2014 " + where;
  return line;
}

int SeverityRank(const json& event) {
  const auto sev = SeverityOf(Get(event, "finding"), "severity");
  return sev ? static_cast<int>(*sev) : -1;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string Neutralize(std::string_view text, bool single_line) {
  return NeutralizeImpl(text, single_line, true);
}

std::string NeutralizePlain(std::string_view text) { return NeutralizeImpl(text, true, false); }

std::string Truncate(std::string_view text, size_t max_runes) {
  if (CountRunes(text) <= max_runes) return std::string(text);
  if (max_runes <= kMarkerRunes) {
    return std::string(kMarker.substr(0, RuneOffset(kMarker, max_runes)));
  }
  std::string out(text.substr(0, RuneOffset(text, max_runes - kMarkerRunes)));
  while (!out.empty() && (out.back() == ' ' || out.back() == '\n')) out.pop_back();
  // A cut between a backslash and the character it escapes would leave an escape that swallows
  // nothing useful; an odd run of trailing backslashes means exactly that.
  size_t backslashes = 0;
  while (backslashes < out.size() && out[out.size() - 1 - backslashes] == '\\') ++backslashes;
  if (backslashes % 2 == 1) out.pop_back();
  out += kMarker;
  return out;
}

std::string SeverityColor(std::string_view severity) {
  if (severity == "critical") return "#8B0000";
  if (severity == "high") return "#E01E5A";
  if (severity == "medium") return "#ECB22E";
  if (severity == "low") return "#2EB67D";
  return "#808080";
}

size_t PostRunes(const nlohmann::json& post) {
  size_t n = Runes(post, "message");
  for (const auto& a : Attachments(post)) n += AttachmentRunes(a);
  return n;
}

nlohmann::json RenderEvent(const nlohmann::json& event, const Context& ctx) {
  const auto type = domain::ParseEventType(Str(event, "type"));
  if (!type) {
    json post = Post(fmt::format(":grey_question: Tocsin event {} in {}", Md(Str(event, "type"), 60),
                                 Md(ProjectName(event, ctx), kProjectRunes)));
    Fit(post, ctx.max_runes);
    return post;
  }
  switch (*type) {
    case domain::EventType::kVulnerabilityNew:
      return RenderNew(event, ctx);
    case domain::EventType::kStatusChanged:
      return RenderStatusChanged(event, ctx);
    case domain::EventType::kThresholdCrossed:
      return RenderThreshold(event, ctx);
    case domain::EventType::kScanCompleted:
      return RenderScan(event, ctx);
  }
  return Post("");
}

nlohmann::json RenderFindingPatch(const nlohmann::json& status_changed_event, const Context& ctx) {
  const StatusChange c = ReadStatusChange(status_changed_event);
  const std::string status = c.to.empty() ? std::string("unknown") : c.to;
  std::string message = NewFindingMessage(status_changed_event, ctx) + "\nNow: " + Md(status, 40);
  if (!c.actor.empty()) message += " (by " + Md(c.actor, kActorRunes) + ")";
  json post = Post(std::move(message), json::array({NewFindingAttachment(
                                           status_changed_event, ctx, status)}));
  Fit(post, ctx.max_runes);
  return post;
}

Digest RenderDigest(const std::vector<nlohmann::json>& new_finding_events, const Context& ctx) {
  Digest digest;
  const json first = new_finding_events.empty() ? json::object() : new_finding_events.front();
  const std::string project = Md(ProjectName(first, ctx), kProjectRunes);
  const size_t total = new_finding_events.size();

  // Highest severity first; equal severities keep the order they were found in.
  std::vector<size_t> order(total);
  for (size_t i = 0; i < total; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return SeverityRank(new_finding_events[a]) > SeverityRank(new_finding_events[b]);
  });

  std::array<int64_t, 5> counts{};
  int64_t unknown = 0;
  std::string scanner;
  bool one_scanner = true;
  for (const auto& e : new_finding_events) {
    const json& finding = Get(e, "finding");
    if (const auto sev = SeverityOf(finding, "severity")) {
      ++counts[static_cast<int>(*sev)];
    } else {
      ++unknown;
    }
    const std::string s = Str(finding, "scanner");
    if (&e == &new_finding_events.front()) {
      scanner = s;
    } else if (s != scanner) {
      one_scanner = false;
    }
  }
  std::string counts_text;
  for (auto sev : domain::kAllSeverities) {
    const int64_t n = counts[static_cast<int>(sev)];
    if (n == 0) continue;
    if (!counts_text.empty()) counts_text += ", ";
    counts_text += fmt::format("{} {}", n, domain::Name(sev));
  }
  if (unknown > 0) counts_text += fmt::format("{}{} unknown", counts_text.empty() ? "" : ", ", unknown);

  std::optional<Severity> highest;
  for (auto sev : domain::kAllSeverities) {
    if (counts[static_cast<int>(sev)] > 0) {
      highest = sev;
      break;
    }
  }
  std::string message = fmt::format("{} **{} new vulnerabilit{}** in {}", SeverityEmoji(highest),
                                    total, total == 1 ? "y" : "ies", project);
  if (!counts_text.empty()) message += ": " + counts_text;

  json a = json::object();
  a["fallback"] = Truncate(fmt::format("{} new vulnerabilities in {}: {}", total,
                                       NeutralizePlain(ProjectName(first, ctx)), counts_text),
                           kFallbackRunes);
  a["color"] = SeverityColor(highest ? domain::Name(*highest) : "");
  const size_t top = std::min(total, kDigestTop);
  a["title"] = top < total ? fmt::format("Top {} of {} by severity", top, total)
                           : std::string("By severity");
  std::string text;
  for (size_t k = 0; k < top; ++k) text += DigestLine(new_finding_events[order[k]]) + "\n";
  text += "\nFull list in the thread.";
  a["text"] = Truncate(text, ctx.max_runes);
  json fields = json::array();
  for (auto sev : domain::kAllSeverities) {
    fields.push_back(Field(Capitalized(domain::Name(sev)),
                           std::to_string(counts[static_cast<int>(sev)])));
  }
  if (one_scanner && !scanner.empty()) fields.push_back(Field("Scanner", Md(scanner, kFieldRunes)));
  a["fields"] = std::move(fields);
  a["footer"] = "Tocsin";
  digest.root = Post(std::move(message), json::array({std::move(a)}));
  Fit(digest.root, ctx.max_runes);

  // Replies: every finding, one line each, packed greedily. The header is at most ~170 runes
  // (project capped at 100), so lines get the rest; a line never exceeds half a reply.
  const auto header = [&](size_t from, size_t to) {
    return fmt::format("New vulnerabilities in {} ({}\u2013{} of {}):\n", project, from, to, total);
  };
  const size_t header_reserve = CountRunes(header(total, total)) + 2;
  const size_t body_budget = ctx.max_runes > header_reserve + 100 ? ctx.max_runes - header_reserve
                                                                  : 100;
  std::string body;
  size_t body_runes = 0, chunk_first = 1;
  auto flush = [&](size_t last) {
    if (body.empty()) return;
    digest.replies.push_back(Post(header(chunk_first, last) + body));
    Fit(digest.replies.back(), ctx.max_runes);
    body.clear();
    body_runes = 0;
    chunk_first = last + 1;
  };
  for (size_t k = 0; k < total; ++k) {
    const std::string line =
        Truncate(DigestLine(new_finding_events[order[k]]), std::max<size_t>(body_budget / 2, 20));
    const size_t n = CountRunes(line) + 1;
    if (body_runes + n > body_budget) flush(k);
    if (!body.empty()) body += "\n";
    body += line;
    body_runes += n;
  }
  flush(total);
  return digest;
}

nlohmann::json RenderTestMessage(const Context& ctx, std::string_view channel) {
  const std::string project =
      ctx.project_display.empty() ? ctx.project : ctx.project_display;
  json post = Post(fmt::format(
      ":wave: Tocsin test message for project **{}** to channel {}. Notifications for this "
      "project that are routed here will arrive in this channel.",
      Md(project, kProjectRunes), Md(channel, 200)));
  Fit(post, ctx.max_runes);
  return post;
}

nlohmann::json Shrink(const nlohmann::json& post, size_t max_runes) {
  json out = post;
  Fit(out, max_runes);
  return out;
}

}  // namespace tocsin::render
