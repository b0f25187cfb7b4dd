#include "rules/scan_diff.hpp"

#include <algorithm>
#include <unordered_set>

namespace tocsin::rules {

using domain::FindingStatus;

std::string_view Name(Change c) {
  switch (c) {
    case Change::kNew:
      return "new";
    case Change::kUnchanged:
      return "unchanged";
    case Change::kReopened:
      return "reopened";
    case Change::kSilent:
      return "silent";
    case Change::kDuplicate:
      return "duplicate";
  }
  return "new";
}

ScanDiff DiffScan(const KnownFindings& known, std::span<const domain::Finding> scan,
                  const ScanDiffOptions& options) {
  ScanDiff diff;
  diff.baseline = options.first_scan;
  diff.changes.reserve(scan.size());
  std::unordered_set<std::string_view> present;
  present.reserve(scan.size());

  for (const domain::Finding& f : scan) {
    FindingChange c;
    if (!present.insert(f.fingerprint).second) {
      c.change = Change::kDuplicate;
      ++diff.duplicate_count;
      diff.changes.push_back(c);
      continue;
    }
    const auto it = known.find(f.fingerprint);
    if (it == known.end()) {
      c.change = Change::kNew;
      ++diff.new_count;
      diff.changes.push_back(c);
      continue;
    }
    const KnownFinding& k = it->second;
    c.previous_status = k.status;
    switch (k.status) {
      case FindingStatus::kOpen:
        c.change = Change::kUnchanged;
        ++diff.unchanged_count;
        break;
      case FindingStatus::kResolved:
        c.change = Change::kReopened;
        ++diff.reopened_count;
        break;
      case FindingStatus::kFalsePositive:
      case FindingStatus::kAcceptedRisk:
        c.change = Change::kSilent;
        ++diff.silent_count;
        break;
    }
    if (c.change != Change::kSilent && f.severity != k.severity) {
      c.previous_severity = k.severity;
      ++diff.severity_changed_count;
    }
    diff.changes.push_back(c);
  }

  if (options.complete) {
    const std::unordered_set<std::string_view> unscanned(options.unscanned_paths.begin(),
                                                         options.unscanned_paths.end());
    for (const auto& [fingerprint, k] : known) {
      if (k.status != FindingStatus::kOpen || present.contains(fingerprint)) continue;
      if (!k.path.empty() && unscanned.contains(k.path)) continue;
      diff.resolved.push_back(fingerprint);
    }
    std::sort(diff.resolved.begin(), diff.resolved.end());
    diff.resolved_count = static_cast<int64_t>(diff.resolved.size());
  }
  return diff;
}

}  // namespace tocsin::rules
