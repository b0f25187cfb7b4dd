// rules/scan_diff.hpp — what one scan changes in the findings of a project/scanner/branch
// (SPEC §2, §3 baseline, §5 "Finding identity across scans"; docs/scans.md, "Lifecycle"). Pure.
//
// Input: the findings already known for (project, scanner, branch), by fingerprint, with their
// status and severity; the scan's findings (deduplicated, as ingest::ReadSarif returns them);
// whether this is the first scan of that project/scanner/branch and whether the scan is complete.
// Output: one FindingChange per scan finding (same order) and the fingerprints the scan resolves.
//
//   unknown fingerprint                      → kNew       (vulnerability.new, or the baseline)
//   known, open                              → kUnchanged (fields and last_seen refresh)
//   known, resolved                          → kReopened  (status_changed resolved → open)
//   known, false_positive / accepted_risk    → kSilent    (no event, the status stays)
//   known, open, absent from a complete scan → resolved   (status_changed open → resolved)
// A severity that differs from the known one is reported on kUnchanged and kReopened findings
// (severity_changed, from `previous_severity`); a silent finding's severity refreshes without a
// word. Only a complete scan (succeeded, every run computed its results) resolves anything, and
// never a finding in a path the tool said it could not analyse. The first scan is a baseline:
// its new findings are announced as one summary, not one post each. A fingerprint that appears
// twice in the scan is the same finding: the later copies are kDuplicate and change nothing.
// Stateless; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "domain/types.hpp"

namespace tocsin::rules {

struct KnownFinding {
  domain::FindingStatus status = domain::FindingStatus::kOpen;
  domain::Severity severity = domain::Severity::kInfo;
  std::string path;  // location path, to honour ScanDiffOptions::unscanned_paths ("" = unknown)
};

// Known findings of one project/scanner/branch, by fingerprint.
using KnownFindings = std::unordered_map<std::string, KnownFinding>;

struct ScanDiffOptions {
  bool first_scan = false;  // no earlier scan of this project/scanner/branch: a baseline
  bool complete = true;     // the scan succeeded and is the whole truth (ParsedScan::complete)
  // Paths the tool could not analyse (ParsedScan::unscanned_paths): their findings stay open.
  std::span<const std::string> unscanned_paths;
};

enum class Change { kNew, kUnchanged, kReopened, kSilent, kDuplicate };
std::string_view Name(Change c);

struct FindingChange {
  Change change = Change::kNew;
  // The known status (nullopt for kNew and kDuplicate).
  std::optional<domain::FindingStatus> previous_status;
  // Set when the finding is kUnchanged or kReopened and its severity differs from the known one.
  std::optional<domain::Severity> previous_severity;
  bool severity_changed() const { return previous_severity.has_value(); }
};

struct ScanDiff {
  bool baseline = false;
  std::vector<FindingChange> changes;  // changes[i] is about scan[i]
  std::vector<std::string> resolved;   // fingerprints, sorted
  int64_t new_count = 0, unchanged_count = 0, reopened_count = 0, silent_count = 0;
  int64_t severity_changed_count = 0, resolved_count = 0, duplicate_count = 0;
};

ScanDiff DiffScan(const KnownFindings& known, std::span<const domain::Finding> scan,
                  const ScanDiffOptions& options);

}  // namespace tocsin::rules
