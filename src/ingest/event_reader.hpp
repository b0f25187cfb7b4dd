// ingest/event_reader.hpp — the event JSON of SPEC §5, read strictly into values.
//
// ReadEvents accepts one event object or {"events": [...]} and returns validated EventInputs, or
// the first problem as Error{code "invalid_request", field = JSON pointer ("/events/3/finding/
// severity"), message naming the field and what is wrong}. Unknown fields are rejected, and so
// are fields of another event type ("/scan does not belong to a vulnerability.new event"). Checks
// that need the database (does the project exist? is the finding known?) are not made here.
//
// Limits (characters are code points): id 1..200 printable; fingerprint 1..512; title 1..1000,
// not blank; scanner 1..100; branch ..200; rule_id ..500; location.path ..4096, .component ..500;
// description ..65536; comment and scan error ..4000; links absolute http(s) ≤ 2048 bytes
// (domain::IsHttpUrl); cwe "CWE-<digits>"; cve "CVE-<yyyy>-<4+ digits>"; cvss 0..10; counts and
// line ≥ 0; threshold ≥ 1. Single-line strings refuse control characters, multi-line ones
// (description, comment, error) allow only line breaks and tabs. null or "" in an optional member
// reads as absent, except "id": "" (an idempotency key must not vanish silently). Pure; no clock:
// a missing occurred_at stays nullopt for the caller to fill.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "domain/types.hpp"

namespace tocsin::ingest {

struct ScanInfo {
  std::string scanner;
  std::string branch;
  bool succeeded = true;  // "status": "succeeded" | "failed"
  std::optional<TimePoint> started_at, finished_at;
  std::string error, link;
  std::array<int64_t, 5> counts{};  // indexed by static_cast<int>(Severity)
  int64_t new_count = 0, resolved_count = 0, reopened_count = 0;  // filled by scan ingest
  bool baseline = false;                                          // filled by scan ingest
};

struct ThresholdInfo {
  domain::Severity severity = domain::Severity::kHigh;
  int64_t threshold = 0;
  int64_t count = 0;
  bool above = true;  // "direction": "above" | "below"
};

struct EventInput {
  std::optional<std::string> key;  // "id": idempotency key, 1..200 printable characters
  domain::EventType type = domain::EventType::kVulnerabilityNew;
  std::string project;
  std::optional<TimePoint> occurred_at;
  // vulnerability.*: fingerprint always; title and severity required for vulnerability.new.
  std::optional<domain::Finding> finding;
  // False when a status change did not name the finding's severity (Finding::severity then holds
  // a meaningless default): the service completes the finding from the store. EventToJson leaves
  // "severity" out in that case rather than claim "info".
  bool finding_severity_given = true;
  std::optional<domain::FindingStatus> status;  // vulnerability.status_changed: the new status
  std::string comment;
  std::optional<ScanInfo> scan;            // scan.completed
  std::optional<ThresholdInfo> threshold;  // vulnerability.threshold_crossed
};

Result<std::vector<EventInput>> ReadEvents(const nlohmann::json& body, size_t max_events = 10000);
Result<EventInput> ReadEvent(const nlohmann::json& event, const std::string& pointer);

// The stored / rendered form of a finding and a scan (the SPEC's JSON shape). Empty optional
// members are left out. Both add what Tocsin knows beyond the input form, which ReadEvent would
// not accept back: the finding's "status" (and "branch" when set); the scan's "new", "resolved",
// "reopened" counts and "baseline" flag. render/ reads exactly these names.
nlohmann::json FindingToJson(const domain::Finding& f);

// The rules an event applies to its one-line labels (`scanner`, `branch`), for the same values
// given elsewhere (a scan upload's query): true when `value` is valid UTF-8 of at most
// `max_runes` characters (code points) without control characters.
inline constexpr size_t kMaxScannerRunes = 100;
inline constexpr size_t kMaxBranchRunes = 200;
bool IsValidLabel(std::string_view value, size_t max_runes);
nlohmann::json ScanToJson(const ScanInfo& s);
// The whole event in the same shape ("finding"/"scan" as above, threshold members at top level,
// "occurred_at" only when given). The service adds "from", "to", "transition" and "actor" to a
// status change before storing it; see docs/messages.md.
nlohmann::json EventToJson(const EventInput& e);

}  // namespace tocsin::ingest
