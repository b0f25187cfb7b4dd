#include "domain/types.hpp"

#include <array>
#include <bit>
#include <functional>
#include <string_view>

namespace tocsin::domain {

namespace {

template <typename E, size_t N>
std::optional<E> ParseByName(std::string_view s, const std::array<std::pair<E, std::string_view>, N>& table) {
  for (const auto& [e, name] : table) {
    if (name == s) return e;
  }
  return std::nullopt;
}

template <typename E, size_t N>
std::string_view NameOf(E e, const std::array<std::pair<E, std::string_view>, N>& table) {
  for (const auto& [v, name] : table) {
    if (v == e) return name;
  }
  return "unknown";
}

constexpr std::array<std::pair<Severity, std::string_view>, 5> kSeverities{{
    {Severity::kCritical, "critical"},
    {Severity::kHigh, "high"},
    {Severity::kMedium, "medium"},
    {Severity::kLow, "low"},
    {Severity::kInfo, "info"},
}};
constexpr std::array<std::pair<FindingStatus, std::string_view>, 4> kStatuses{{
    {FindingStatus::kOpen, "open"},
    {FindingStatus::kResolved, "resolved"},
    {FindingStatus::kFalsePositive, "false_positive"},
    {FindingStatus::kAcceptedRisk, "accepted_risk"},
}};
constexpr std::array<std::pair<EventType, std::string_view>, 4> kEventTypes{{
    {EventType::kVulnerabilityNew, "vulnerability.new"},
    {EventType::kStatusChanged, "vulnerability.status_changed"},
    {EventType::kThresholdCrossed, "vulnerability.threshold_crossed"},
    {EventType::kScanCompleted, "scan.completed"},
}};
constexpr std::array<std::pair<DeliveryState, std::string_view>, 5> kDeliveryStates{{
    {DeliveryState::kPending, "pending"},
    {DeliveryState::kSending, "sending"},
    {DeliveryState::kSent, "sent"},
    {DeliveryState::kFailed, "failed"},
    {DeliveryState::kDead, "dead"},
}};

bool IsIdChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

std::string_view Name(Severity s) { return NameOf(s, kSeverities); }
std::optional<Severity> ParseSeverity(std::string_view s) { return ParseByName(s, kSeverities); }
std::string_view Name(FindingStatus s) { return NameOf(s, kStatuses); }
std::optional<FindingStatus> ParseFindingStatus(std::string_view s) {
  return ParseByName(s, kStatuses);
}
std::string_view Name(EventType t) { return NameOf(t, kEventTypes); }
std::optional<EventType> ParseEventType(std::string_view s) { return ParseByName(s, kEventTypes); }
std::string_view Name(DeliveryState s) { return NameOf(s, kDeliveryStates); }
std::optional<DeliveryState> ParseDeliveryState(std::string_view s) {
  return ParseByName(s, kDeliveryStates);
}

std::string TransitionName(std::optional<FindingStatus> from, FindingStatus to) {
  switch (to) {
    case FindingStatus::kResolved:
      return "resolved";
    case FindingStatus::kFalsePositive:
      return "false_positive";
    case FindingStatus::kAcceptedRisk:
      return "risk_accepted";
    case FindingStatus::kOpen:
      if (!from) return "opened";
      if (*from == FindingStatus::kResolved) return "reopened";
      return "unresolved";
  }
  return "unresolved";
}

bool IsValidProjectName(std::string_view name) {
  if (name.empty() || name.size() > 64 || !IsIdChar(name[0])) return false;
  for (char c : name) {
    if (!IsIdChar(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

bool IsHttpUrl(std::string_view url) {
  if (url.size() > 2048) return false;
  auto starts_ci = [&](std::string_view prefix) {
    if (url.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i) {
      char c = url[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != prefix[i]) return false;
    }
    return true;
  };
  size_t rest = 0;
  if (starts_ci("https://")) {
    rest = 8;
  } else if (starts_ci("http://")) {
    rest = 7;
  } else {
    return false;
  }
  const size_t host_end = url.find_first_of("/?#", rest);
  const std::string_view authority =
      url.substr(rest, host_end == std::string_view::npos ? std::string_view::npos : host_end - rest);
  // The host is what follows any user-info; it must not be empty ("http:///x", "http://a@").
  const size_t at = authority.rfind('@');
  const std::string_view host = at == std::string_view::npos ? authority : authority.substr(at + 1);
  if (host.empty() || host[0] == ':') return false;
  // Square brackets are legal only around an IPv6 literal host (RFC 3986); in a path they are
  // the start of a Markdown link someone wants to smuggle.
  if (host_end != std::string_view::npos &&
      url.find_first_of("[]", host_end) != std::string_view::npos) {
    return false;
  }
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7F) return false;
    if (std::string_view("<>\"\\`{}|^").find(static_cast<char>(c)) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::optional<ChannelRef> ParseChannelRef(std::string_view s) {
  const auto slash = s.find('/');
  auto valid_name = [](std::string_view n) {
    if (n.empty() || n.size() > 64) return false;
    for (char c : n) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_';
      if (!ok) return false;
    }
    return true;
  };
  if (slash == std::string_view::npos) {
    // A channel id: 26 letters/digits, as Mattermost's IsValidId.
    if (s.size() != 26) return std::nullopt;
    for (char c : s) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
        return std::nullopt;
      }
    }
    return ChannelRef{"", std::string(s)};
  }
  const auto team = s.substr(0, slash);
  const auto channel = s.substr(slash + 1);
  if (!valid_name(team) || !valid_name(channel)) return std::nullopt;
  return ChannelRef{std::string(team), std::string(channel)};
}

uint64_t ContentHash(const Finding& f) {
  // Each field with its length in front, so moving bytes from one field to the next changes
  // the digest; then one hash of the whole.
  std::string buf;
  buf.reserve(256 + f.title.size() + f.description.size());
  const auto add = [&buf](std::string_view s) {
    buf.append(std::to_string(s.size())).push_back(':');
    buf.append(s);
  };
  add(f.fingerprint);
  add(f.title);
  add(Name(f.severity));
  add(f.scanner);
  add(f.rule_id);
  add(f.cwe);
  add(f.cve);
  add(f.cvss ? std::to_string(std::bit_cast<uint64_t>(*f.cvss)) : std::string("-"));
  add(f.location.path);
  add(std::to_string(f.location.line));
  add(f.location.component);
  add(f.description);
  add(f.link);
  add(f.branch);
  return std::hash<std::string_view>{}(buf);
}

}  // namespace tocsin::domain
