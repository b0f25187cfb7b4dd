// The scan lifecycle (rules/scan_diff.hpp, docs/scans.md "Lifecycle"): new, moved, fixed, back,
// false positive seen again, severity raised; only complete scans resolve.
#include "rules/scan_diff.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ingest/sarif.hpp"
#include "sarif_test_util.hpp"

namespace tocsin::rules {
namespace {

using domain::Finding;
using domain::FindingStatus;
using domain::Severity;

Finding F(std::string fingerprint, Severity severity = Severity::kHigh, std::string path = "a.c") {
  Finding f;
  f.fingerprint = std::move(fingerprint);
  f.severity = severity;
  f.location.path = std::move(path);
  return f;
}

KnownFinding K(FindingStatus status, Severity severity = Severity::kHigh,
               std::string path = "a.c") {
  return KnownFinding{status, severity, std::move(path)};
}

TEST(ScanDiff, FirstScanIsABaselineOfNewFindings) {
  const std::vector<Finding> scan{F("s:1"), F("s:2")};
  const ScanDiff d = DiffScan({}, scan, {.first_scan = true});
  EXPECT_TRUE(d.baseline);
  EXPECT_EQ(d.new_count, 2);
  ASSERT_EQ(d.changes.size(), 2u);
  EXPECT_EQ(d.changes[0].change, Change::kNew);
  EXPECT_EQ(d.changes[0].previous_status, std::nullopt);
  EXPECT_TRUE(d.resolved.empty());
}

TEST(ScanDiff, UnknownFingerprintIsNew) {
  const KnownFindings known{{"s:1", K(FindingStatus::kOpen)}};
  const std::vector<Finding> scan{F("s:1"), F("s:2")};
  const ScanDiff d = DiffScan(known, scan, {});
  EXPECT_FALSE(d.baseline);
  EXPECT_EQ(d.changes[0].change, Change::kUnchanged);
  EXPECT_EQ(d.changes[1].change, Change::kNew);
  EXPECT_EQ(d.new_count, 1);
  EXPECT_EQ(d.unchanged_count, 1);
}

TEST(ScanDiff, FixedFindingIsResolvedByACompleteScan) {
  const KnownFindings known{{"s:1", K(FindingStatus::kOpen)},
                            {"s:2", K(FindingStatus::kOpen)},
                            {"s:0", K(FindingStatus::kOpen)}};
  const std::vector<Finding> scan{F("s:1")};
  const ScanDiff d = DiffScan(known, scan, {});
  EXPECT_EQ(d.resolved, (std::vector<std::string>{"s:0", "s:2"}));  // sorted
  EXPECT_EQ(d.resolved_count, 2);
}

TEST(ScanDiff, IncompleteScanResolvesNothing) {
  const KnownFindings known{{"s:1", K(FindingStatus::kOpen)}, {"s:2", K(FindingStatus::kOpen)}};
  const std::vector<Finding> scan{F("s:1")};
  const ScanDiff d = DiffScan(known, scan, {.complete = false});
  EXPECT_TRUE(d.resolved.empty());
  EXPECT_EQ(d.unchanged_count, 1);
}

TEST(ScanDiff, FindingInAFileTheToolCouldNotReadStaysOpen) {
  const KnownFindings known{{"s:1", K(FindingStatus::kOpen, Severity::kHigh, "src/broken.js")},
                            {"s:2", K(FindingStatus::kOpen, Severity::kHigh, "src/fine.js")}};
  const std::vector<std::string> unscanned{"src/broken.js"};
  const ScanDiff d = DiffScan(known, {}, {.unscanned_paths = unscanned});
  EXPECT_EQ(d.resolved, std::vector<std::string>{"s:2"});
}

TEST(ScanDiff, ResolvedFindingSeenAgainIsReopened) {
  const KnownFindings known{{"s:1", K(FindingStatus::kResolved)}};
  const std::vector<Finding> scan{F("s:1")};
  const ScanDiff d = DiffScan(known, scan, {});
  EXPECT_EQ(d.changes[0].change, Change::kReopened);
  EXPECT_EQ(d.changes[0].previous_status, FindingStatus::kResolved);
  EXPECT_EQ(d.reopened_count, 1);
}

TEST(ScanDiff, TriagedFindingSeenAgainStaysSilent) {
  const KnownFindings known{{"s:fp", K(FindingStatus::kFalsePositive, Severity::kLow)},
                            {"s:ar", K(FindingStatus::kAcceptedRisk)}};
  const std::vector<Finding> scan{F("s:fp", Severity::kCritical), F("s:ar")};
  const ScanDiff d = DiffScan(known, scan, {});
  EXPECT_EQ(d.changes[0].change, Change::kSilent);
  EXPECT_EQ(d.changes[1].change, Change::kSilent);
  EXPECT_FALSE(d.changes[0].severity_changed());  // refreshed without a word
  EXPECT_EQ(d.silent_count, 2);
  EXPECT_EQ(d.severity_changed_count, 0);
}

TEST(ScanDiff, TriagedFindingAbsentIsNotResolved) {
  const KnownFindings known{{"s:fp", K(FindingStatus::kFalsePositive)},
                            {"s:ar", K(FindingStatus::kAcceptedRisk)},
                            {"s:res", K(FindingStatus::kResolved)}};
  const ScanDiff d = DiffScan(known, {}, {});
  EXPECT_TRUE(d.resolved.empty());
}

TEST(ScanDiff, SeverityRaisedIsReported) {
  const KnownFindings known{{"s:1", K(FindingStatus::kOpen, Severity::kMedium)},
                            {"s:2", K(FindingStatus::kResolved, Severity::kLow)},
                            {"s:3", K(FindingStatus::kOpen, Severity::kHigh)}};
  const std::vector<Finding> scan{F("s:1", Severity::kCritical), F("s:2", Severity::kHigh),
                                  F("s:3", Severity::kHigh)};
  const ScanDiff d = DiffScan(known, scan, {});
  EXPECT_EQ(d.changes[0].previous_severity, Severity::kMedium);
  EXPECT_EQ(d.changes[1].change, Change::kReopened);
  EXPECT_EQ(d.changes[1].previous_severity, Severity::kLow);
  EXPECT_FALSE(d.changes[2].severity_changed());
  EXPECT_EQ(d.severity_changed_count, 2);
}

TEST(ScanDiff, DuplicateFingerprintInTheScanChangesNothing) {
  const std::vector<Finding> scan{F("s:1"), F("s:1", Severity::kLow)};
  const ScanDiff d = DiffScan({}, scan, {});
  EXPECT_EQ(d.changes[1].change, Change::kDuplicate);
  EXPECT_EQ(d.new_count, 1);
  EXPECT_EQ(d.duplicate_count, 1);
}

TEST(ScanDiff, ChangeNames) {
  EXPECT_EQ(Name(Change::kNew), "new");
  EXPECT_EQ(Name(Change::kUnchanged), "unchanged");
  EXPECT_EQ(Name(Change::kReopened), "reopened");
  EXPECT_EQ(Name(Change::kSilent), "silent");
  EXPECT_EQ(Name(Change::kDuplicate), "duplicate");
}

// The whole path: two Semgrep scans of one branch, read from SARIF and diffed.
TEST(ScanLifecycle, MovedFixedAddedAndTriagedAcrossTwoScans) {
  using ingest::testing::Fixture;
  using ingest::testing::MustRead;
  using ingest::testing::ReplaceOnce;
  const std::string first = Fixture("semgrep.sarif");
  const ingest::ParsedScan a = MustRead(first);
  ASSERT_EQ(a.findings.size(), 3u);
  const ScanDiff baseline = DiffScan({}, a.findings, {.first_scan = true, .complete = a.complete});
  EXPECT_TRUE(baseline.baseline);
  EXPECT_EQ(baseline.new_count, 3);

  // What the store would now hold; the SSTI finding was triaged as a false positive.
  KnownFindings known;
  for (const auto& f : a.findings)
    known[f.fingerprint] = {FindingStatus::kOpen, f.severity, f.location.path};
  known[a.findings[1].fingerprint].status = FindingStatus::kFalsePositive;

  // Second scan: the first SQL finding moved down 8 lines, the second was fixed (its snippet
  // now uses a parameter), the SSTI finding is still there.
  std::string second = ReplaceOnce(first, R"("startColumn": 5, "startLine": 12})",
                                   R"("startColumn": 5, "startLine": 20})");
  second = ReplaceOnce(second, R"(\"DELETE FROM users WHERE id = %s\" % user_id)",
                       R"(\"DELETE FROM users WHERE id = %s\", (user_id,))");
  const ingest::ParsedScan b = MustRead(second);
  ASSERT_EQ(b.findings.size(), 3u);
  const ScanDiff d = DiffScan(known, b.findings, {.complete = b.complete});
  EXPECT_EQ(d.changes[0].change, Change::kUnchanged);  // moved: same finding
  EXPECT_EQ(b.findings[0].location.line, 20);
  EXPECT_EQ(d.changes[1].change, Change::kSilent);  // false positive seen again
  // The rewritten line is a new match of the rule: the old one is resolved, this one is new.
  EXPECT_EQ(d.changes[2].change, Change::kNew);
  EXPECT_EQ(d.resolved, std::vector<std::string>{a.findings[2].fingerprint});

  // Third scan: the fix is reverted: the old finding is back (reopened).
  known[a.findings[2].fingerprint].status = FindingStatus::kResolved;
  known[b.findings[2].fingerprint] = {FindingStatus::kOpen, b.findings[2].severity, "app/db.py"};
  const ingest::ParsedScan c = MustRead(first);
  const ScanDiff back = DiffScan(known, c.findings, {.complete = c.complete});
  EXPECT_EQ(back.changes[2].change, Change::kReopened);
  EXPECT_EQ(back.resolved, std::vector<std::string>{b.findings[2].fingerprint});
}

}  // namespace
}  // namespace tocsin::rules
