#include <gtest/gtest.h>

#include "domain/types.hpp"

namespace tocsin::domain {
namespace {

TEST(Severity, NamesRoundTripAndOrderHighestFirst) {
  for (auto s : kAllSeverities) EXPECT_EQ(ParseSeverity(Name(s)), s);
  EXPECT_EQ(Name(Severity::kCritical), "critical");
  EXPECT_FALSE(ParseSeverity("Critical").has_value());
  EXPECT_FALSE(ParseSeverity("").has_value());
  EXPECT_GT(Severity::kCritical, Severity::kHigh);
  EXPECT_GT(Severity::kLow, Severity::kInfo);
  EXPECT_EQ(kAllSeverities[0], Severity::kCritical);
}

TEST(FindingStatus, NamesRoundTripAndOnlyOpenIsOpen) {
  for (auto s : {FindingStatus::kOpen, FindingStatus::kResolved, FindingStatus::kFalsePositive,
                 FindingStatus::kAcceptedRisk}) {
    EXPECT_EQ(ParseFindingStatus(Name(s)), s);
    EXPECT_EQ(IsOpen(s), s == FindingStatus::kOpen);
  }
  EXPECT_FALSE(ParseFindingStatus("closed").has_value());
}

TEST(EventType, NamesRoundTripAndScanIsTheOnlyNonVulnerabilityEvent) {
  for (auto t : kAllEventTypes) {
    EXPECT_EQ(ParseEventType(Name(t)), t);
    EXPECT_EQ(IsVulnerabilityEvent(t), t != EventType::kScanCompleted);
  }
  EXPECT_EQ(Name(EventType::kThresholdCrossed), "vulnerability.threshold_crossed");
  EXPECT_FALSE(ParseEventType("vulnerability").has_value());
}

TEST(DeliveryState, NamesRoundTrip) {
  for (auto s : {DeliveryState::kPending, DeliveryState::kSending, DeliveryState::kSent,
                 DeliveryState::kFailed, DeliveryState::kDead}) {
    EXPECT_EQ(ParseDeliveryState(Name(s)), s);
  }
}

TEST(TransitionName, NamesEveryChangeAsTheSpecDoes) {
  using S = FindingStatus;
  EXPECT_EQ(TransitionName(std::nullopt, S::kOpen), "opened");
  EXPECT_EQ(TransitionName(S::kOpen, S::kResolved), "resolved");
  EXPECT_EQ(TransitionName(S::kResolved, S::kOpen), "reopened");
  EXPECT_EQ(TransitionName(S::kOpen, S::kFalsePositive), "false_positive");
  EXPECT_EQ(TransitionName(S::kOpen, S::kAcceptedRisk), "risk_accepted");
  EXPECT_EQ(TransitionName(S::kFalsePositive, S::kOpen), "unresolved");
  EXPECT_EQ(TransitionName(S::kAcceptedRisk, S::kOpen), "unresolved");
}

TEST(ProjectName, FollowsTheSlugRule) {
  for (const char* ok : {"a", "acme-web", "0day", "a.b_c-d", "9.9"}) {
    EXPECT_TRUE(IsValidProjectName(ok)) << ok;
  }
  EXPECT_TRUE(IsValidProjectName(std::string(64, 'a')));
  EXPECT_FALSE(IsValidProjectName(std::string(65, 'a')));
  for (const char* bad : {"", "-acme", ".acme", "_acme", "Acme", "acme web", "acme/web", "äcme"}) {
    EXPECT_FALSE(IsValidProjectName(bad)) << bad;
  }
}

TEST(ChannelRef, ReadsIdsAndTeamSlashChannel) {
  const auto id = ParseChannelRef("abcdefghijklmnopqrstuvwxyz");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->team, "");
  EXPECT_EQ(id->ToString(), "abcdefghijklmnopqrstuvwxyz");
  const auto named = ParseChannelRef("security/alerts-prod");
  ASSERT_TRUE(named.has_value());
  EXPECT_EQ(named->team, "security");
  EXPECT_EQ(named->channel, "alerts-prod");
  EXPECT_EQ(named->ToString(), "security/alerts-prod");
  for (const char* bad : {"", "short", "team/", "/chan", "a/b/c", "team/chan nel",
                          "abcdefghijklmnopqrstuvwxy!"}) {
    EXPECT_FALSE(ParseChannelRef(bad).has_value()) << bad;
  }
}

TEST(HttpUrl, AcceptsAbsoluteHttpAndHttps) {
  for (const char* ok : {"http://example.com", "https://example.com/a/b?c=d#e", "HTTPS://EXAMPLE.COM",
                         "http://[::1]:8080/x", "https://user@host/p", "https://h/f/(1)",
                         "https://h/caf\xC3\xA9"}) {
    EXPECT_TRUE(IsHttpUrl(ok)) << ok;
  }
}

TEST(HttpUrl, RefusesOtherSchemesAndAnythingThatCouldBreakOut) {
  for (const char* bad :
       {"", "example.com", "/relative", "ftp://example.com", "javascript:alert(1)",
        "https://", "https:///path", "http://@/x", "http://:80/", "https://a b",
        "https://a\tb", "https://a/\x01", "https://a/\"x", "https://a/<x>", "https://a/\\x",
        "https://a/`x`", "https://a/{x}", "https://a/x|y", "https://a/^", "https://a/x](y",
        "https://a/[x"}) {
    EXPECT_FALSE(IsHttpUrl(bad)) << bad;
  }
  EXPECT_TRUE(IsHttpUrl("https://a/" + std::string(2000, 'x')));
  EXPECT_FALSE(IsHttpUrl("https://a/" + std::string(2048, 'x')));
}

}  // namespace
}  // namespace tocsin::domain
