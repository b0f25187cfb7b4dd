#include "ingest/event_reader.hpp"

#include <cmath>
#include <initializer_list>
#include <span>
#include <string_view>

#include "core/strings.hpp"

namespace tocsin::ingest {

namespace {

using nlohmann::json;
using domain::EventType;

constexpr size_t kMaxIdRunes = 200;
constexpr size_t kMaxFingerprintRunes = 512;
constexpr size_t kMaxTitleRunes = 1000;
constexpr size_t kMaxRuleIdRunes = 500;
constexpr size_t kMaxPathRunes = 4096;
constexpr size_t kMaxComponentRunes = 500;
constexpr size_t kMaxDescriptionRunes = 65536;
constexpr size_t kMaxCommentRunes = 4000;
constexpr size_t kMaxErrorRunes = 4000;

constexpr const char* kFieldsHint = "see docs/api.md (Event JSON) for the accepted fields";

// RFC 6901: "~" and "/" inside a key are written "~0" and "~1".
std::string PointerToken(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Child(const std::string& pointer, std::string_view key) {
  return pointer + "/" + PointerToken(key);
}

Unexpected Invalid(const std::string& pointer, std::string message, std::string hint = {}) {
  return Fail("invalid_request", std::move(message), std::move(hint),
              pointer.empty() ? std::string("/") : pointer);
}

std::string TypeName(const json& v) {
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

Unexpected WrongType(const std::string& pointer, const json& v, std::string_view expected) {
  return Invalid(pointer, pointer + " must be " + std::string(expected) + ", not " + TypeName(v));
}

// A member of an object; null counts as absent (the usual JSON reading of "no value").
const json* Member(const json& object, std::string_view name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

// C0 controls, DEL and C1 controls (U+0080..U+009F, encoded C2 80..C2 9F).
bool HasControl(std::string_view s, bool allow_line_breaks) {
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) {
      if (allow_line_breaks && (c == '\n' || c == '\r' || c == '\t')) continue;
      return true;
    }
    if (c == 0xC2 && i + 1 < s.size()) {
      const auto d = static_cast<unsigned char>(s[i + 1]);
      if (d >= 0x80 && d <= 0x9F) return true;
    }
  }
  return false;
}

struct TextRule {
  size_t min_runes = 0;  // 0: optional, "" reads as absent
  size_t max_runes = 0;
  bool multi_line = false;
};

// Reads a string member. Absent (or "" when optional) → nullopt without error.
Result<std::optional<std::string>> ReadText(const json& object, const std::string& pointer,
                                            std::string_view name, TextRule rule,
                                            bool required) {
  const std::string at = Child(pointer, name);
  const json* v = Member(object, name);
  if (!v) {
    if (required) return Invalid(at, at + " is required (a string)", kFieldsHint);
    return std::optional<std::string>();
  }
  if (!v->is_string()) return WrongType(at, *v, "a string");
  std::string s = v->get<std::string>();
  if (s.empty() && !required) return std::optional<std::string>();
  // nlohmann only yields valid UTF-8 from a parse, but a json built in code may hold anything.
  if (!IsValidUtf8(s)) return Invalid(at, at + " is not valid UTF-8");
  const size_t runes = CountRunes(s);
  if (runes < std::max<size_t>(rule.min_runes, required ? 1 : 0)) {
    return Invalid(at, at + " must not be empty");
  }
  if (runes > rule.max_runes) {
    return Invalid(at, at + " is too long: " + std::to_string(runes) + " characters, at most " +
                           std::to_string(rule.max_runes));
  }
  if (HasControl(s, rule.multi_line)) {
    return Invalid(at, at + (rule.multi_line ? " must not contain control characters other than "
                                               "line breaks and tabs"
                                             : " must not contain control characters or line "
                                               "breaks"));
  }
  return std::optional<std::string>(std::move(s));
}

Result<std::optional<int64_t>> ReadInt(const json& object, const std::string& pointer,
                                       std::string_view name, int64_t min, bool required) {
  const std::string at = Child(pointer, name);
  const json* v = Member(object, name);
  if (!v) {
    if (required) return Invalid(at, at + " is required (an integer)", kFieldsHint);
    return std::optional<int64_t>();
  }
  // 3.0 is a number but not an integer; a count of 2.5 findings is a mistake worth naming.
  if (!v->is_number_integer()) return WrongType(at, *v, "an integer");
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return Invalid(at, at + " is too large");
  }
  const int64_t n = v->get<int64_t>();
  if (n < min) {
    return Invalid(at, at + " must be at least " + std::to_string(min) + ", not " +
                           std::to_string(n));
  }
  return std::optional<int64_t>(n);
}

Result<std::optional<TimePoint>> ReadTime(const json& object, const std::string& pointer,
                                          std::string_view name) {
  const std::string at = Child(pointer, name);
  const json* v = Member(object, name);
  if (!v) return std::optional<TimePoint>();
  if (!v->is_string()) return WrongType(at, *v, "an RFC 3339 timestamp string");
  TimePoint t;
  if (!ParseRfc3339(v->get<std::string>(), &t)) {
    return Invalid(at, at + " is not an RFC 3339 timestamp",
                   "write it like 2026-12-04T10:00:00Z or 2026-12-04T11:00:00+01:00");
  }
  return std::optional<TimePoint>(t);
}

Result<std::optional<std::string>> ReadLink(const json& object, const std::string& pointer,
                                            std::string_view name) {
  auto text = ReadText(object, pointer, name, {0, 2048, false}, false);
  if (!text) return Unexpected(text.error());
  if (*text && !domain::IsHttpUrl(**text)) {
    const std::string at = Child(pointer, name);
    return Invalid(at, at + " must be an absolute http:// or https:// URL",
                   "give the full address, e.g. https://scanner.example.com/findings/42");
  }
  return text;
}

// Every key of `object` must be in `allowed`; the first other one is named.
Result<void> OnlyKnown(const json& object, const std::string& pointer,
                       std::initializer_list<std::string_view> allowed) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    bool known = false;
    for (auto a : allowed) known = known || a == it.key();
    if (!known) {
      const std::string at = Child(pointer, it.key());
      return Invalid(at, "unknown field " + at, kFieldsHint);
    }
  }
  return Ok();
}

Result<const json*> ReadObject(const json& object, const std::string& pointer,
                               std::string_view name, bool required) {
  const std::string at = Child(pointer, name);
  const json* v = Member(object, name);
  if (!v) {
    if (required) return Invalid(at, at + " is required (an object)", kFieldsHint);
    return static_cast<const json*>(nullptr);
  }
  if (!v->is_object()) return WrongType(at, *v, "an object");
  return v;
}

// "CWE-89": the prefix then 1..9 digits.
bool IsCwe(std::string_view s) {
  if (s.size() < 5 || s.size() > 13 || s.substr(0, 4) != "CWE-") return false;
  for (char c : s.substr(4)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// "CVE-2026-1234": a four-digit year, then at least four digits (CVE IDs grew past 9999 in 2014).
bool IsCve(std::string_view s) {
  if (s.size() < 13 || s.size() > 24 || s.substr(0, 4) != "CVE-" || s[8] != '-') return false;
  for (size_t i = 4; i < s.size(); ++i) {
    if (i == 8) continue;
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// Helpers so each field reads as one line below.
#define TOCSIN_TRY_ASSIGN(var, expr)            \
  auto var##_result = (expr);                   \
  if (!var##_result) return Unexpected(var##_result.error()); \
  auto var = std::move(*var##_result)

Result<domain::Location> ReadLocation(const json& object, const std::string& pointer) {
  if (auto known = OnlyKnown(object, pointer, {"path", "line", "component"}); !known) {
    return Unexpected(known.error());
  }
  domain::Location loc;
  TOCSIN_TRY_ASSIGN(path, ReadText(object, pointer, "path", {0, kMaxPathRunes, false}, false));
  TOCSIN_TRY_ASSIGN(line, ReadInt(object, pointer, "line", 0, false));
  TOCSIN_TRY_ASSIGN(component,
                    ReadText(object, pointer, "component", {0, kMaxComponentRunes, false}, false));
  loc.path = path.value_or("");
  loc.line = line.value_or(0);
  loc.component = component.value_or("");
  return loc;
}

// `full`: vulnerability.new, where title and severity are required.
Result<domain::Finding> ReadFinding(const json& object, const std::string& pointer, bool full,
                                    bool* severity_given) {
  if (auto known = OnlyKnown(object, pointer,
                             {"fingerprint", "title", "severity", "scanner", "rule_id", "cwe",
                              "cve", "cvss", "location", "description", "link"});
      !known) {
    return Unexpected(known.error());
  }
  domain::Finding f;
  TOCSIN_TRY_ASSIGN(fingerprint, ReadText(object, pointer, "fingerprint",
                                          {1, kMaxFingerprintRunes, false}, true));
  f.fingerprint = *fingerprint;

  TOCSIN_TRY_ASSIGN(title, ReadText(object, pointer, "title", {1, kMaxTitleRunes, false}, full));
  if (title) {
    if (Trim(*title).empty()) {
      const std::string at = Child(pointer, "title");
      return Invalid(at, at + " must not be blank");
    }
    f.title = *title;
  }

  {
    const std::string at = Child(pointer, "severity");
    const json* v = Member(object, "severity");
    if (!v && full) {
      return Invalid(at, at + " is required (one of critical, high, medium, low, info)");
    }
    if (v) {
      if (!v->is_string()) return WrongType(at, *v, "a string");
      auto sev = domain::ParseSeverity(v->get<std::string>());
      if (!sev) {
        return Invalid(at, at + " must be one of critical, high, medium, low, info");
      }
      f.severity = *sev;
    }
    if (severity_given) *severity_given = v != nullptr;
  }

  TOCSIN_TRY_ASSIGN(scanner,
                    ReadText(object, pointer, "scanner", {0, kMaxScannerRunes, false}, false));
  f.scanner = scanner.value_or("");
  TOCSIN_TRY_ASSIGN(rule_id,
                    ReadText(object, pointer, "rule_id", {0, kMaxRuleIdRunes, false}, false));
  f.rule_id = rule_id.value_or("");

  TOCSIN_TRY_ASSIGN(cwe, ReadText(object, pointer, "cwe", {0, 13, false}, false));
  if (cwe && !IsCwe(*cwe)) {
    const std::string at = Child(pointer, "cwe");
    return Invalid(at, at + " must look like CWE-89");
  }
  f.cwe = cwe.value_or("");
  TOCSIN_TRY_ASSIGN(cve, ReadText(object, pointer, "cve", {0, 24, false}, false));
  if (cve && !IsCve(*cve)) {
    const std::string at = Child(pointer, "cve");
    return Invalid(at, at + " must look like CVE-2026-1234");
  }
  f.cve = cve.value_or("");

  if (const json* v = Member(object, "cvss")) {
    const std::string at = Child(pointer, "cvss");
    if (!v->is_number()) return WrongType(at, *v, "a number");
    const double score = v->get<double>();
    if (!std::isfinite(score) || score < 0.0 || score > 10.0) {
      return Invalid(at, at + " must be between 0 and 10");
    }
    f.cvss = score;
  }

  TOCSIN_TRY_ASSIGN(location, ReadObject(object, pointer, "location", false));
  if (location) {
    TOCSIN_TRY_ASSIGN(loc, ReadLocation(*location, Child(pointer, "location")));
    f.location = std::move(loc);
  }

  TOCSIN_TRY_ASSIGN(description, ReadText(object, pointer, "description",
                                          {0, kMaxDescriptionRunes, true}, false));
  f.description = description.value_or("");
  TOCSIN_TRY_ASSIGN(link, ReadLink(object, pointer, "link"));
  f.link = link.value_or("");
  return f;
}

Result<ScanInfo> ReadScan(const json& object, const std::string& pointer) {
  if (auto known = OnlyKnown(object, pointer,
                             {"scanner", "branch", "status", "started_at", "finished_at", "error",
                              "link", "counts"});
      !known) {
    return Unexpected(known.error());
  }
  ScanInfo scan;
  TOCSIN_TRY_ASSIGN(scanner,
                    ReadText(object, pointer, "scanner", {1, kMaxScannerRunes, false}, true));
  scan.scanner = *scanner;
  TOCSIN_TRY_ASSIGN(branch,
                    ReadText(object, pointer, "branch", {0, kMaxBranchRunes, false}, false));
  scan.branch = branch.value_or("default");

  {
    const std::string at = Child(pointer, "status");
    const json* v = Member(object, "status");
    if (!v) return Invalid(at, at + " is required (succeeded or failed)");
    if (!v->is_string()) return WrongType(at, *v, "a string");
    const auto status = v->get<std::string>();
    if (status != "succeeded" && status != "failed") {
      return Invalid(at, at + " must be succeeded or failed");
    }
    scan.succeeded = status == "succeeded";
  }

  TOCSIN_TRY_ASSIGN(started_at, ReadTime(object, pointer, "started_at"));
  TOCSIN_TRY_ASSIGN(finished_at, ReadTime(object, pointer, "finished_at"));
  if (started_at && finished_at && *finished_at < *started_at) {
    const std::string at = Child(pointer, "finished_at");
    return Invalid(at, at + " is before " + Child(pointer, "started_at"));
  }
  scan.started_at = started_at;
  scan.finished_at = finished_at;

  TOCSIN_TRY_ASSIGN(error, ReadText(object, pointer, "error", {0, kMaxErrorRunes, true}, false));
  scan.error = error.value_or("");
  TOCSIN_TRY_ASSIGN(link, ReadLink(object, pointer, "link"));
  scan.link = link.value_or("");

  TOCSIN_TRY_ASSIGN(counts, ReadObject(object, pointer, "counts", false));
  if (counts) {
    const std::string counts_at = Child(pointer, "counts");
    if (auto known = OnlyKnown(*counts, counts_at, {"critical", "high", "medium", "low", "info"});
        !known) {
      return Unexpected(known.error());
    }
    for (auto sev : domain::kAllSeverities) {
      TOCSIN_TRY_ASSIGN(n, ReadInt(*counts, counts_at, domain::Name(sev), 0, false));
      scan.counts[static_cast<int>(sev)] = n.value_or(0);
    }
  }
  return scan;
}

Result<ThresholdInfo> ReadThreshold(const json& object, const std::string& pointer) {
  ThresholdInfo t;
  {
    const std::string at = Child(pointer, "severity");
    const json* v = Member(object, "severity");
    if (!v) return Invalid(at, at + " is required (one of critical, high, medium, low, info)");
    if (!v->is_string()) return WrongType(at, *v, "a string");
    auto sev = domain::ParseSeverity(v->get<std::string>());
    if (!sev) return Invalid(at, at + " must be one of critical, high, medium, low, info");
    t.severity = *sev;
  }
  TOCSIN_TRY_ASSIGN(threshold, ReadInt(object, pointer, "threshold", 1, true));
  t.threshold = *threshold;
  TOCSIN_TRY_ASSIGN(count, ReadInt(object, pointer, "count", 0, true));
  t.count = *count;
  {
    const std::string at = Child(pointer, "direction");
    const json* v = Member(object, "direction");
    if (!v) return Invalid(at, at + " is required (above or below)");
    if (!v->is_string()) return WrongType(at, *v, "a string");
    const auto direction = v->get<std::string>();
    if (direction != "above" && direction != "below") {
      return Invalid(at, at + " must be above or below");
    }
    t.above = direction == "above";
  }
  // A crossing states a fact about count vs threshold; one that contradicts itself is a bug in
  // the sender, and posting it would mislead the channel.
  if (t.above != (t.count >= t.threshold)) {
    const std::string at = Child(pointer, "count");
    return Invalid(at, at + " (" + std::to_string(t.count) + ") does not agree with direction " +
                           (t.above ? "above" : "below") + " for threshold " +
                           std::to_string(t.threshold));
  }
  return t;
}

// The top-level members each event type may carry, besides id/type/project/occurred_at.
constexpr std::string_view kCommonFields[] = {"id", "type", "project", "occurred_at"};
constexpr std::string_view kNewFields[] = {"finding"};
constexpr std::string_view kStatusFields[] = {"finding", "status", "comment"};
constexpr std::string_view kThresholdFields[] = {"severity", "threshold", "count", "direction"};
constexpr std::string_view kScanFields[] = {"scan"};

std::span<const std::string_view> TypeFields(EventType type) {
  switch (type) {
    case EventType::kVulnerabilityNew:
      return kNewFields;
    case EventType::kStatusChanged:
      return kStatusFields;
    case EventType::kThresholdCrossed:
      return kThresholdFields;
    case EventType::kScanCompleted:
      return kScanFields;
  }
  return {};
}

bool Contains(std::span<const std::string_view> list, std::string_view s) {
  for (auto x : list) {
    if (x == s) return true;
  }
  return false;
}

}  // namespace

Result<EventInput> ReadEvent(const json& event, const std::string& pointer) {
  if (!event.is_object()) return WrongType(pointer.empty() ? "/" : pointer, event, "an object");

  // Unknown to every type first: a typo is reported as a typo even when `type` is also wrong.
  for (auto it = event.begin(); it != event.end(); ++it) {
    bool known = Contains(kCommonFields, it.key());
    for (auto t : domain::kAllEventTypes) known = known || Contains(TypeFields(t), it.key());
    if (!known) {
      const std::string at = Child(pointer, it.key());
      return Invalid(at, "unknown field " + at, kFieldsHint);
    }
  }

  EventInput in;
  {
    const std::string at = Child(pointer, "type");
    const json* v = Member(event, "type");
    if (!v) {
      return Invalid(at, at + " is required (vulnerability.new, vulnerability.status_changed, "
                              "vulnerability.threshold_crossed or scan.completed)");
    }
    if (!v->is_string()) return WrongType(at, *v, "a string");
    auto type = domain::ParseEventType(v->get<std::string>());
    if (!type) {
      return Invalid(at, at + " must be one of vulnerability.new, vulnerability.status_changed, "
                              "vulnerability.threshold_crossed, scan.completed");
    }
    in.type = *type;
  }
  const auto own = TypeFields(in.type);
  for (auto it = event.begin(); it != event.end(); ++it) {
    if (!Contains(kCommonFields, it.key()) && !Contains(own, it.key())) {
      const std::string at = Child(pointer, it.key());
      return Invalid(at,
                     at + " does not belong to a " + std::string(domain::Name(in.type)) + " event",
                     kFieldsHint);
    }
  }

  if (const json* v = Member(event, "id")) {
    // Unlike other optional strings, "" is not "absent" here: an idempotency key that silently
    // disappears would let a retried request be delivered twice.
    const std::string at = Child(pointer, "id");
    if (v->is_string() && v->get_ref<const std::string&>().empty()) {
      return Invalid(at, at + " must not be empty");
    }
  }
  TOCSIN_TRY_ASSIGN(key, ReadText(event, pointer, "id", {1, kMaxIdRunes, false}, false));
  in.key = key;

  {
    const std::string at = Child(pointer, "project");
    TOCSIN_TRY_ASSIGN(project, ReadText(event, pointer, "project", {1, 64, false}, true));
    if (!domain::IsValidProjectName(*project)) {
      return Invalid(at, at + " is not a project name",
                     "project names are 1-64 characters: lower-case letters, digits, '.', '_' "
                     "and '-', starting with a letter or digit");
    }
    in.project = *project;
  }

  TOCSIN_TRY_ASSIGN(occurred_at, ReadTime(event, pointer, "occurred_at"));
  in.occurred_at = occurred_at;

  switch (in.type) {
    case EventType::kVulnerabilityNew:
    case EventType::kStatusChanged: {
      const bool is_new = in.type == EventType::kVulnerabilityNew;
      TOCSIN_TRY_ASSIGN(object, ReadObject(event, pointer, "finding", true));
      TOCSIN_TRY_ASSIGN(finding, ReadFinding(*object, Child(pointer, "finding"), is_new,
                                                  &in.finding_severity_given));
      finding.project = in.project;
      in.finding = std::move(finding);
      if (!is_new) {
        const std::string at = Child(pointer, "status");
        const json* v = Member(event, "status");
        if (!v) {
          return Invalid(at, at + " is required (open, resolved, false_positive or "
                                  "accepted_risk)");
        }
        if (!v->is_string()) return WrongType(at, *v, "a string");
        auto status = domain::ParseFindingStatus(v->get<std::string>());
        if (!status) {
          return Invalid(at, at + " must be one of open, resolved, false_positive, accepted_risk");
        }
        in.status = status;
        TOCSIN_TRY_ASSIGN(comment,
                          ReadText(event, pointer, "comment", {0, kMaxCommentRunes, true}, false));
        in.comment = comment.value_or("");
      }
      break;
    }
    case EventType::kThresholdCrossed: {
      TOCSIN_TRY_ASSIGN(threshold, ReadThreshold(event, pointer));
      in.threshold = threshold;
      break;
    }
    case EventType::kScanCompleted: {
      TOCSIN_TRY_ASSIGN(object, ReadObject(event, pointer, "scan", true));
      TOCSIN_TRY_ASSIGN(scan, ReadScan(*object, Child(pointer, "scan")));
      in.scan = std::move(scan);
      break;
    }
  }
  return in;
}

#undef TOCSIN_TRY_ASSIGN

Result<std::vector<EventInput>> ReadEvents(const json& body, size_t max_events) {
  if (!body.is_object()) {
    return Invalid("/", "the body must be an event object or {\"events\": [...]}, not " +
                            TypeName(body));
  }
  if (!body.contains("events")) {
    auto event = ReadEvent(body, "");
    if (!event) return Unexpected(event.error());
    return std::vector<EventInput>{std::move(*event)};
  }
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() != "events") {
      const std::string at = Child("", it.key());
      return Invalid(at, "unknown field " + at + " (a batch is {\"events\": [...]} only)",
                     kFieldsHint);
    }
  }
  const json& events = body["events"];
  if (!events.is_array()) return WrongType("/events", events, "an array of events");
  if (events.empty()) {
    return Invalid("/events", "/events is empty; send at least one event");
  }
  if (events.size() > max_events) {
    return Invalid("/events",
                   "/events has " + std::to_string(events.size()) + " events; at most " +
                       std::to_string(max_events) + " are accepted per request",
                   "split the batch into requests of at most " + std::to_string(max_events) +
                       " events");
  }
  std::vector<EventInput> out;
  out.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    auto event = ReadEvent(events[i], "/events/" + std::to_string(i));
    if (!event) return Unexpected(event.error());
    out.push_back(std::move(*event));
  }
  return out;
}

bool IsValidLabel(std::string_view value, size_t max_runes) {
  return IsValidUtf8(value) && CountRunes(value) <= max_runes && !HasControl(value, false);
}

nlohmann::json FindingToJson(const domain::Finding& f) {
  json j = json::object();
  j["fingerprint"] = f.fingerprint;
  if (!f.title.empty()) j["title"] = f.title;
  j["severity"] = domain::Name(f.severity);
  j["status"] = domain::Name(f.status);
  if (!f.scanner.empty()) j["scanner"] = f.scanner;
  if (!f.rule_id.empty()) j["rule_id"] = f.rule_id;
  if (!f.cwe.empty()) j["cwe"] = f.cwe;
  if (!f.cve.empty()) j["cve"] = f.cve;
  if (f.cvss) j["cvss"] = *f.cvss;
  if (!f.location.path.empty() || f.location.line > 0 || !f.location.component.empty()) {
    json loc = json::object();
    if (!f.location.path.empty()) loc["path"] = f.location.path;
    if (f.location.line > 0) loc["line"] = f.location.line;
    if (!f.location.component.empty()) loc["component"] = f.location.component;
    j["location"] = std::move(loc);
  }
  if (!f.description.empty()) j["description"] = f.description;
  if (!f.link.empty()) j["link"] = f.link;
  if (!f.branch.empty()) j["branch"] = f.branch;
  return j;
}

nlohmann::json ScanToJson(const ScanInfo& s) {
  json j = json::object();
  j["scanner"] = s.scanner;
  j["branch"] = s.branch;
  j["status"] = s.succeeded ? "succeeded" : "failed";
  if (s.started_at) j["started_at"] = FormatRfc3339(*s.started_at);
  if (s.finished_at) j["finished_at"] = FormatRfc3339(*s.finished_at);
  if (!s.error.empty()) j["error"] = s.error;
  if (!s.link.empty()) j["link"] = s.link;
  json counts = json::object();
  for (auto sev : domain::kAllSeverities) {
    counts[std::string(domain::Name(sev))] = s.counts[static_cast<int>(sev)];
  }
  j["counts"] = std::move(counts);
  j["new"] = s.new_count;
  j["resolved"] = s.resolved_count;
  j["reopened"] = s.reopened_count;
  j["baseline"] = s.baseline;
  return j;
}

nlohmann::json EventToJson(const EventInput& e) {
  json j = json::object();
  if (e.key) j["id"] = *e.key;
  j["type"] = domain::Name(e.type);
  j["project"] = e.project;
  if (e.occurred_at) j["occurred_at"] = FormatRfc3339(*e.occurred_at);
  if (e.finding) {
    j["finding"] = FindingToJson(*e.finding);
    if (!e.finding_severity_given) j["finding"].erase("severity");
    // After a status change the finding is in the new status.
    if (e.status) j["finding"]["status"] = domain::Name(*e.status);
  }
  if (e.status) j["status"] = domain::Name(*e.status);
  if (!e.comment.empty()) j["comment"] = e.comment;
  if (e.scan) j["scan"] = ScanToJson(*e.scan);
  if (e.threshold) {
    j["severity"] = domain::Name(e.threshold->severity);
    j["threshold"] = e.threshold->threshold;
    j["count"] = e.threshold->count;
    j["direction"] = e.threshold->above ? "above" : "below";
  }
  return j;
}

}  // namespace tocsin::ingest
