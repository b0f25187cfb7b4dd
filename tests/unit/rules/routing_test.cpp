#include <gtest/gtest.h>

#include "rules/routing.hpp"

namespace tocsin::rules {
namespace {

using domain::EventType;
using domain::Severity;

domain::Route MakeRoute(std::string channel, std::set<EventType> events,
                        Severity min = Severity::kInfo) {
  domain::Route r;
  r.channel = std::move(channel);
  r.events = std::move(events);
  r.min_severity = min;
  return r;
}

const std::set<EventType> kAll(std::begin(domain::kAllEventTypes),
                               std::end(domain::kAllEventTypes));

domain::ProjectLink Link(std::vector<domain::Route> routes, bool enabled = true) {
  domain::ProjectLink link;
  link.enabled = enabled;
  link.routes = std::move(routes);
  return link;
}

SeverityCounts Counts(int64_t critical, int64_t high, int64_t medium = 0, int64_t low = 0,
                      int64_t info = 0) {
  SeverityCounts c{};
  c[static_cast<int>(Severity::kCritical)] = critical;
  c[static_cast<int>(Severity::kHigh)] = high;
  c[static_cast<int>(Severity::kMedium)] = medium;
  c[static_cast<int>(Severity::kLow)] = low;
  c[static_cast<int>(Severity::kInfo)] = info;
  return c;
}

TEST(MatchRoutes, MinSeverityLetsEqualAndHigherThrough) {
  const auto link = Link({MakeRoute("sec/alerts", kAll, Severity::kHigh)});
  EXPECT_EQ(MatchRoutes(link, EventType::kVulnerabilityNew, Severity::kCritical),
            std::vector<size_t>{0});
  EXPECT_EQ(MatchRoutes(link, EventType::kVulnerabilityNew, Severity::kHigh),
            std::vector<size_t>{0});
  EXPECT_TRUE(MatchRoutes(link, EventType::kVulnerabilityNew, Severity::kMedium).empty());
  EXPECT_TRUE(MatchRoutes(link, EventType::kVulnerabilityNew, Severity::kInfo).empty());
}

TEST(MatchRoutes, MinSeverityAppliesToEveryVulnerabilityEvent) {
  const auto link = Link({MakeRoute("sec/alerts", kAll, Severity::kHigh)});
  EXPECT_TRUE(MatchRoutes(link, EventType::kStatusChanged, Severity::kLow).empty());
  EXPECT_TRUE(MatchRoutes(link, EventType::kThresholdCrossed, Severity::kMedium).empty());
  EXPECT_EQ(MatchRoutes(link, EventType::kThresholdCrossed, Severity::kCritical).size(), 1u);
}

TEST(MatchRoutes, MinSeverityDoesNotHoldBackScanResults) {
  const auto link = Link({MakeRoute("sec/alerts", kAll, Severity::kCritical)});
  EXPECT_EQ(MatchRoutes(link, EventType::kScanCompleted, std::nullopt), std::vector<size_t>{0});
  // Even if a caller passes a severity for a scan, min_severity is for vulnerability events.
  EXPECT_EQ(MatchRoutes(link, EventType::kScanCompleted, Severity::kInfo), std::vector<size_t>{0});
}

TEST(MatchRoutes, UnknownSeverityIsNotDropped) {
  const auto link = Link({MakeRoute("sec/alerts", kAll, Severity::kCritical)});
  EXPECT_EQ(MatchRoutes(link, EventType::kStatusChanged, std::nullopt), std::vector<size_t>{0});
}

TEST(MatchRoutes, EventFilterSelectsRoutes) {
  const auto link =
      Link({MakeRoute("sec/new", {EventType::kVulnerabilityNew}),
            MakeRoute("sec/scans", {EventType::kScanCompleted}),
            MakeRoute("sec/triage", {EventType::kStatusChanged, EventType::kThresholdCrossed})});
  EXPECT_EQ(MatchRoutes(link, EventType::kVulnerabilityNew, Severity::kLow),
            std::vector<size_t>{0});
  EXPECT_EQ(MatchRoutes(link, EventType::kScanCompleted, std::nullopt), std::vector<size_t>{1});
  EXPECT_EQ(MatchRoutes(link, EventType::kStatusChanged, Severity::kLow), std::vector<size_t>{2});
  EXPECT_EQ(MatchRoutes(link, EventType::kThresholdCrossed, Severity::kHigh),
            std::vector<size_t>{2});
}

TEST(MatchRoutes, SeveralRoutesCanWantTheSameEventInOrder) {
  const auto link = Link({MakeRoute("sec/all", kAll, Severity::kInfo),
                          MakeRoute("sec/scans", {EventType::kScanCompleted}),
                          MakeRoute("sec/critical", kAll, Severity::kCritical),
                          MakeRoute("sec/high", {EventType::kVulnerabilityNew}, Severity::kHigh)});
  EXPECT_EQ(MatchRoutes(link, EventType::kVulnerabilityNew, Severity::kCritical),
            (std::vector<size_t>{0, 2, 3}));
  EXPECT_EQ(MatchRoutes(link, EventType::kVulnerabilityNew, Severity::kHigh),
            (std::vector<size_t>{0, 3}));
  EXPECT_EQ(MatchRoutes(link, EventType::kScanCompleted, std::nullopt),
            (std::vector<size_t>{0, 1, 2}));
}

TEST(MatchRoutes, DisabledLinkMatchesNothing) {
  const auto link = Link({MakeRoute("sec/all", kAll)}, /*enabled=*/false);
  for (auto type : domain::kAllEventTypes) {
    EXPECT_TRUE(MatchRoutes(link, type, Severity::kCritical).empty());
  }
}

TEST(MatchRoutes, RouteWithoutEventsWantsNothing) {
  const auto link = Link({MakeRoute("sec/none", {})});
  EXPECT_TRUE(MatchRoutes(link, EventType::kVulnerabilityNew, Severity::kCritical).empty());
}

TEST(AtOrAbove, SumsTheSeverityAndEverythingHigher) {
  const auto c = Counts(1, 2, 4, 8, 16);
  EXPECT_EQ(AtOrAbove(c, Severity::kCritical), 1);
  EXPECT_EQ(AtOrAbove(c, Severity::kHigh), 3);
  EXPECT_EQ(AtOrAbove(c, Severity::kMedium), 7);
  EXPECT_EQ(AtOrAbove(c, Severity::kLow), 15);
  EXPECT_EQ(AtOrAbove(c, Severity::kInfo), 31);
}

const domain::Threshold kHigh3{Severity::kHigh, 3};

TEST(Crossings, UpwardsWhenTheCountReachesTheThresholdExactly) {
  const auto c = Crossings({kHigh3}, Counts(0, 2), Counts(0, 3));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_TRUE(c[0].above);
  EXPECT_EQ(c[0].count, 3);
  EXPECT_EQ(c[0].threshold.severity, Severity::kHigh);
  EXPECT_EQ(c[0].threshold.count, 3);
}

TEST(Crossings, HigherSeveritiesCountTowardsALowerThreshold) {
  const auto c = Crossings({kHigh3}, Counts(0, 2), Counts(1, 2));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_TRUE(c[0].above);
  EXPECT_EQ(c[0].count, 3);
}

TEST(Crossings, LowerSeveritiesDoNotCount) {
  EXPECT_TRUE(Crossings({kHigh3}, Counts(0, 2), Counts(0, 2, 50, 50)).empty());
}

TEST(Crossings, JumpingPastTheThresholdIsOneCrossing) {
  const auto c = Crossings({kHigh3}, Counts(0, 0), Counts(0, 10));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].count, 10);
}

TEST(Crossings, DownwardsWhenTheCountFallsUnderIt) {
  const auto c = Crossings({kHigh3}, Counts(0, 3), Counts(0, 2));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_FALSE(c[0].above);
  EXPECT_EQ(c[0].count, 2);
}

TEST(Crossings, NoneWhileStayingAboveOrBelow) {
  EXPECT_TRUE(Crossings({kHigh3}, Counts(0, 3), Counts(0, 4)).empty());
  EXPECT_TRUE(Crossings({kHigh3}, Counts(0, 5), Counts(0, 3)).empty());
  EXPECT_TRUE(Crossings({kHigh3}, Counts(0, 0), Counts(0, 2)).empty());
  EXPECT_TRUE(Crossings({kHigh3}, Counts(0, 2), Counts(0, 1)).empty());
  EXPECT_TRUE(Crossings({kHigh3}, Counts(0, 3), Counts(0, 3)).empty());
}

TEST(Crossings, SeveralThresholdsAreEachReportedInTheirOrder) {
  const std::vector<domain::Threshold> thresholds = {
      {Severity::kCritical, 1}, {Severity::kHigh, 3}, {Severity::kMedium, 10}};
  const auto up = Crossings(thresholds, Counts(0, 2, 5), Counts(1, 2, 5));
  ASSERT_EQ(up.size(), 2u);  // critical reaches 1, high-or-above reaches 3; medium-or-above 8
  EXPECT_EQ(up[0].threshold.severity, Severity::kCritical);
  EXPECT_TRUE(up[0].above);
  EXPECT_EQ(up[1].threshold.severity, Severity::kHigh);
  EXPECT_EQ(up[1].count, 3);

  const auto mixed = Crossings(thresholds, Counts(1, 2, 7), Counts(0, 1, 10));
  // critical 1 → 0 (down), high+ 3 → 1 (down), medium+ 10 → 11 (stays above)
  ASSERT_EQ(mixed.size(), 2u);
  EXPECT_FALSE(mixed[0].above);
  EXPECT_FALSE(mixed[1].above);
  EXPECT_EQ(mixed[1].count, 1);
}

TEST(Crossings, TwoThresholdsOnOneSeverityAreIndependent) {
  const std::vector<domain::Threshold> thresholds = {{Severity::kHigh, 3}, {Severity::kHigh, 5}};
  const auto c = Crossings(thresholds, Counts(0, 2), Counts(0, 6));
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].threshold.count, 3);
  EXPECT_EQ(c[1].threshold.count, 5);
}

TEST(Crossings, NoThresholdsNoCrossings) {
  EXPECT_TRUE(Crossings({}, Counts(0, 0), Counts(9, 9)).empty());
}

}  // namespace
}  // namespace tocsin::rules
