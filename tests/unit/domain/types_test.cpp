#include <gtest/gtest.h>

#include <functional>
#include <vector>

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

TEST(ContentHash, FollowsWhatAScanSaysAndIgnoresTriageAndTimes) {
  Finding f;
  f.project = "web";
  f.fingerprint = "semgrep:abc";
  f.title = "SQL injection";
  f.severity = Severity::kHigh;
  f.scanner = "semgrep";
  f.rule_id = "python.sqli";
  f.cwe = "CWE-89";
  f.cve = "";
  f.cvss = 7.5;
  f.location = {"src/app.py", 42, ""};
  f.description = "user input reaches a query";
  f.link = "https://example.com/r";
  f.branch = "main";
  const uint64_t base = ContentHash(f);

  Finding same = f;
  same.id = 7;
  same.project = "other";
  same.status = FindingStatus::kFalsePositive;
  same.first_seen = same.last_seen = TimePoint{} + std::chrono::hours(5);
  EXPECT_EQ(ContentHash(same), base);

  const std::vector<std::function<void(Finding&)>> changes = {
      [](Finding& g) { g.fingerprint += "x"; },
      [](Finding& g) { g.title += "x"; },
      [](Finding& g) { g.severity = Severity::kCritical; },
      [](Finding& g) { g.scanner += "x"; },
      [](Finding& g) { g.rule_id += "x"; },
      [](Finding& g) { g.cwe += "x"; },
      [](Finding& g) { g.cve = "CVE-2026-1"; },
      [](Finding& g) { g.cvss = 7.6; },
      [](Finding& g) { g.cvss.reset(); },
      [](Finding& g) { g.location.path += "x"; },
      [](Finding& g) { g.location.line = 43; },
      [](Finding& g) { g.location.component = "flask"; },
      [](Finding& g) { g.description += "x"; },
      [](Finding& g) { g.link += "x"; },
      [](Finding& g) { g.branch += "x"; },
      // Bytes moved from one field to the next are a change too.
      [](Finding& g) {
        g.title = "SQL";
        g.description = " injectionuser input reaches a query";
      },
  };
  for (size_t i = 0; i < changes.size(); ++i) {
    Finding g = f;
    changes[i](g);
    EXPECT_NE(ContentHash(g), base) << "change " << i;
  }
}

}  // namespace
}  // namespace tocsin::domain
