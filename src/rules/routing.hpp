// rules/routing.hpp — which routes want an event, and when thresholds are crossed. Pure.
//
// Routes are matched by event type (a route with no events wants nothing; defaults belong to the
// API that reads route JSON) and, for vulnerability.* events, by min_severity. Thresholds compare
// the open-finding counts before and after one change, so a count that stays above a threshold
// never re-announces it. Stateless; safe from any thread.
#pragma once

#include <array>
#include <optional>
#include <vector>

#include "domain/types.hpp"

namespace tocsin::rules {

// Indices of the routes of `link` that want an event of `type` with `severity` (nullopt for
// events without one: scan.completed; threshold events carry their threshold's severity).
// A disabled link matches nothing. min_severity applies to vulnerability.* events only.
std::vector<size_t> MatchRoutes(const domain::ProjectLink& link, domain::EventType type,
                                std::optional<domain::Severity> severity);

// Open findings per severity, indexed by static_cast<int>(Severity).
using SeverityCounts = std::array<int64_t, 5>;
// Open findings at or above `s`.
int64_t AtOrAbove(const SeverityCounts& counts, domain::Severity s);

struct Crossing {
  domain::Threshold threshold;
  int64_t count = 0;  // open findings at or above the threshold's severity after the change
  bool above = true;
};

// Thresholds crossed between two states: upwards when the count reaches threshold.count from
// below, downwards when it falls under it from at-or-above.
std::vector<Crossing> Crossings(const std::vector<domain::Threshold>& thresholds,
                                const SeverityCounts& before, const SeverityCounts& after);

}  // namespace tocsin::rules
