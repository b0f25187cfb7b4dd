#include "rules/routing.hpp"

namespace tocsin::rules {

std::vector<size_t> MatchRoutes(const domain::ProjectLink& link, domain::EventType type,
                                std::optional<domain::Severity> severity) {
  std::vector<size_t> out;
  if (!link.enabled) return out;
  for (size_t i = 0; i < link.routes.size(); ++i) {
    const auto& route = link.routes[i];
    if (!route.events.count(type)) continue;
    // An event whose severity is unknown is not held back: the route asked for the event type, and
    // silently dropping a vulnerability is worse than one post too many.
    if (domain::IsVulnerabilityEvent(type) && severity && *severity < route.min_severity) {
      continue;
    }
    out.push_back(i);
  }
  return out;
}

int64_t AtOrAbove(const SeverityCounts& counts, domain::Severity s) {
  int64_t n = 0;
  for (int i = static_cast<int>(s); i < static_cast<int>(counts.size()); ++i) n += counts[i];
  return n;
}

std::vector<Crossing> Crossings(const std::vector<domain::Threshold>& thresholds,
                                const SeverityCounts& before, const SeverityCounts& after) {
  std::vector<Crossing> out;
  for (const auto& t : thresholds) {
    const int64_t was = AtOrAbove(before, t.severity);
    const int64_t now = AtOrAbove(after, t.severity);
    if (was < t.count && now >= t.count) {
      out.push_back(Crossing{t, now, true});
    } else if (was >= t.count && now < t.count) {
      out.push_back(Crossing{t, now, false});
    }
  }
  return out;
}

}  // namespace tocsin::rules
