// domain/types.hpp — the vocabulary of Tocsin: severities, statuses, events, findings, routes,
// project links and deliveries, as plain values with their invariants (SPEC §1, §2, §5).
//
// Nothing here does I/O. Every enum has a stable lower-case name (the JSON and database form)
// and a Parse function that rejects anything else.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"

namespace tocsin::domain {

// Highest first; the numeric value orders them (critical = 4 ... info = 0).
enum class Severity { kInfo = 0, kLow = 1, kMedium = 2, kHigh = 3, kCritical = 4 };
std::string_view Name(Severity s);
std::optional<Severity> ParseSeverity(std::string_view s);
inline constexpr Severity kAllSeverities[] = {Severity::kCritical, Severity::kHigh,
                                              Severity::kMedium, Severity::kLow, Severity::kInfo};

enum class FindingStatus { kOpen, kResolved, kFalsePositive, kAcceptedRisk };
std::string_view Name(FindingStatus s);
std::optional<FindingStatus> ParseFindingStatus(std::string_view s);
// "Open" for thresholds: only kOpen (false_positive and accepted_risk are not open).
inline bool IsOpen(FindingStatus s) { return s == FindingStatus::kOpen; }

// The name of a status change (SPEC §1): opened, resolved, reopened, false_positive,
// risk_accepted, unresolved. `from` is nullopt for a new finding.
std::string TransitionName(std::optional<FindingStatus> from, FindingStatus to);

enum class EventType { kVulnerabilityNew, kStatusChanged, kThresholdCrossed, kScanCompleted };
std::string_view Name(EventType t);
std::optional<EventType> ParseEventType(std::string_view s);
inline constexpr EventType kAllEventTypes[] = {EventType::kVulnerabilityNew,
                                               EventType::kStatusChanged,
                                               EventType::kThresholdCrossed,
                                               EventType::kScanCompleted};
// The vulnerability.* events: the ones a route's min_severity applies to.
inline bool IsVulnerabilityEvent(EventType t) { return t != EventType::kScanCompleted; }

// Project names: [a-z0-9][a-z0-9._-]{0,63}.
bool IsValidProjectName(std::string_view name);

// An absolute http:// or https:// URL with a host and nothing that could break out of a link or
// a JSON/Markdown context (no whitespace, control characters, quotes, angle brackets, backslash,
// backtick, braces, pipe, caret), at most 2048 bytes. Both the event reader and the renderer
// (which may see links from other sources, e.g. SARIF) use it to decide whether a link is usable.
bool IsHttpUrl(std::string_view url);

struct Location {
  std::string path;
  int64_t line = 0;  // 0 = unknown
  std::string component;
};

struct Finding {
  int64_t id = 0;  // store id; 0 before insert
  std::string project;
  std::string fingerprint;
  std::string title;
  Severity severity = Severity::kInfo;
  FindingStatus status = FindingStatus::kOpen;
  std::string scanner, rule_id, cwe, cve;
  std::optional<double> cvss;
  Location location;
  std::string description;
  std::string link;
  std::string branch;  // scan branch that last saw it ("" for API-sent findings)
  TimePoint first_seen{}, last_seen{};
};

// A digest of what a scan says about a finding: every stored field but the store's own (id,
// project), the triage state (status) and the times (first_seen, last_seen). Two equal values
// mean a rescan has nothing to rewrite but last_seen. Stable within a process only (not stored).
uint64_t ContentHash(const Finding& f);

// A channel reference as the user wrote it: a 26-char id or "team-name/channel-name".
struct ChannelRef {
  std::string team;     // "" when given by id
  std::string channel;  // id or name
  std::string ToString() const { return team.empty() ? channel : team + "/" + channel; }
};
std::optional<ChannelRef> ParseChannelRef(std::string_view s);

// The largest digest_threshold a route may have; a digest covers more deliveries than the
// threshold and at most this many, so a route at it never makes one.
inline constexpr int kMaxDigestThreshold = 1000;

struct Route {
  std::string channel;  // as written; see ParseChannelRef
  std::set<EventType> events;
  Severity min_severity = Severity::kInfo;
  int digest_threshold = 10;   // 1..kMaxDigestThreshold
  bool baseline_full = false;  // "baseline": "full" | "summary"
};

struct Threshold {
  Severity severity = Severity::kHigh;
  int64_t count = 1;
};

struct ProjectLink {
  bool enabled = false;
  std::vector<Route> routes;
  std::vector<Threshold> thresholds;
};

struct Project {
  std::string name;
  std::string display_name;
  std::string url;
  TimePoint created_at{};
};

enum class DeliveryState { kPending, kSending, kSent, kFailed, kDead };
std::string_view Name(DeliveryState s);
std::optional<DeliveryState> ParseDeliveryState(std::string_view s);

}  // namespace tocsin::domain
