// Logs in the shapes real scanners write (tests/data/sarif/*.sarif), read into findings.
#include <gtest/gtest.h>

#include <regex>

#include "ingest/sarif.hpp"
#include "sarif_test_util.hpp"

namespace tocsin::ingest {
namespace {

using domain::Severity;
using testing::ByRule;
using testing::Fixture;
using testing::MustRead;
using testing::ReplaceOnce;

void ExpectWellFormedFingerprint(const domain::Finding& f, const std::string& scanner) {
  EXPECT_TRUE(std::regex_match(f.fingerprint, std::regex(scanner + ":[0-9a-f]{32}")))
      << f.fingerprint;
}

TEST(CodeQl, RulesComeFromExtensionsAndSeverityFromSecuritySeverity) {
  const ParsedScan scan = MustRead(Fixture("codeql.sarif"));
  EXPECT_EQ(scan.scanner, "codeql");
  EXPECT_EQ(scan.tool_name, "CodeQL");
  EXPECT_EQ(scan.tool_version, "2.15.3");
  ASSERT_EQ(scan.findings.size(), 3u);
  EXPECT_TRUE(scan.succeeded);
  EXPECT_TRUE(scan.complete);
  EXPECT_EQ(scan.results, 3);

  const auto* sqli = ByRule(scan, "js/sql-injection");
  ASSERT_NE(sqli, nullptr);
  EXPECT_EQ(sqli->title, "Database query built from user-controlled sources");
  EXPECT_EQ(sqli->severity, Severity::kHigh);  // security-severity 8.8
  EXPECT_EQ(sqli->cwe, "CWE-89");              // external/cwe/cwe-089
  EXPECT_EQ(sqli->cve, "");
  EXPECT_EQ(sqli->location.path, "src/db.js");
  EXPECT_EQ(sqli->location.line, 42);
  EXPECT_EQ(sqli->scanner, "codeql");
  // The embedded link "[user-provided value](1)" keeps its text only.
  EXPECT_NE(sqli->description.find("This query string depends on a user-provided value."),
            std::string::npos)
      << sqli->description;
  EXPECT_NE(sqli->description.find("Building a database query"), std::string::npos);
  ExpectWellFormedFingerprint(*sqli, "codeql");

  const auto* rate = ByRule(scan, "js/missing-rate-limiting");
  ASSERT_NE(rate, nullptr);
  EXPECT_EQ(rate->severity, Severity::kHigh);  // 7.5
  EXPECT_EQ(rate->cwe, "CWE-770");

  // No security-severity: problem.severity "recommendation" → low; the location is only an
  // index into run.artifacts.
  const auto* unused = ByRule(scan, "js/unused-local-variable");
  ASSERT_NE(unused, nullptr);
  EXPECT_EQ(unused->severity, Severity::kLow);
  EXPECT_EQ(unused->location.path, "src/server.js");
  EXPECT_EQ(unused->location.line, 3);
  EXPECT_EQ(scan.counts[static_cast<int>(Severity::kHigh)], 2);
  EXPECT_EQ(scan.counts[static_cast<int>(Severity::kLow)], 1);
}

TEST(CodeQl, PartialFingerprintIdentifiesAFindingThatMovedDownTheFile) {
  const std::string before = Fixture("codeql.sarif");
  const std::string after =
      ReplaceOnce(before, R"("region": {"startLine": 42,)", R"("region": {"startLine": 57,)");
  const ParsedScan a = MustRead(before), b = MustRead(after);
  ASSERT_EQ(a.findings.size(), b.findings.size());
  EXPECT_EQ(ByRule(b, "js/sql-injection")->location.line, 57);
  for (size_t i = 0; i < a.findings.size(); ++i) {
    EXPECT_EQ(a.findings[i].fingerprint, b.findings[i].fingerprint) << a.findings[i].rule_id;
  }
}

TEST(CodeQl, ColumnFingerprintAloneIdentifiesNothing) {
  // Only the column fingerprint left: identity falls back to rule + path (+ snippet).
  std::string doc = ReplaceOnce(Fixture("codeql.sarif"),
                                R"("primaryLocationLineHash": "5f2a3c9e1b7d4a60:1", )", "");
  const ParsedScan a = MustRead(doc);
  const ParsedScan b = MustRead(ReplaceOnce(doc, R"("primaryLocationStartColumnFingerprint": "13")",
                                            R"("primaryLocationStartColumnFingerprint": "21")"));
  EXPECT_EQ(ByRule(a, "js/sql-injection")->fingerprint, ByRule(b, "js/sql-injection")->fingerprint);
}

TEST(Semgrep, RequiresLoginPlaceholderIsSkippedForAComputedIdentity) {
  const ParsedScan scan = MustRead(Fixture("semgrep.sarif"));
  EXPECT_EQ(scan.scanner, "semgrep-oss");
  ASSERT_EQ(scan.findings.size(), 3u);  // two SQL findings in one file stay two (snippets differ)
  EXPECT_EQ(scan.fingerprints_skipped, 3);
  EXPECT_EQ(scan.duplicates, 0);

  const auto* sql =
      ByRule(scan, "python.lang.security.audit.formatted-sql-query.formatted-sql-query");
  ASSERT_NE(sql, nullptr);
  // "Semgrep Finding: <rule id>" says nothing: the message is the title.
  EXPECT_EQ(sql->title,
            "Detected possible formatted SQL query. Use parameterized queries instead.");
  EXPECT_EQ(sql->severity, Severity::kMedium);  // defaultConfiguration.level warning
  EXPECT_EQ(sql->cwe, "CWE-89");
  EXPECT_EQ(
      sql->link,
      "https://semgrep.dev/r/python.lang.security.audit.formatted-sql-query.formatted-sql-query");
  EXPECT_EQ(sql->location.path, "app/db.py");
  EXPECT_EQ(sql->location.line, 12);

  const auto* ssti =
      ByRule(scan, "python.flask.security.audit.render-template-string.render-template-string");
  ASSERT_NE(ssti, nullptr);
  EXPECT_EQ(ssti->severity, Severity::kHigh);  // defaultConfiguration.level error
  EXPECT_EQ(ssti->cwe, "CWE-96");
  for (const auto& f : scan.findings) ExpectWellFormedFingerprint(f, "semgrep-oss");
}

TEST(Semgrep, FindingMovedDownTheFileKeepsItsIdentity) {
  const std::string before = Fixture("semgrep.sarif");
  // The first SQL finding moves from line 12 to 20, its indentation changes too.
  std::string after = ReplaceOnce(before, R"("endLine": 12, "snippet": {"text": "    cursor)",
                                  R"("endLine": 20, "snippet": {"text": "        cursor)");
  after = ReplaceOnce(after, R"("startColumn": 5, "startLine": 12})",
                      R"("startColumn": 9, "startLine": 20})");
  const ParsedScan a = MustRead(before), b = MustRead(after);
  ASSERT_EQ(a.findings.size(), 3u);
  ASSERT_EQ(b.findings.size(), 3u);
  EXPECT_EQ(b.findings[0].location.line, 20);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(a.findings[i].fingerprint, b.findings[i].fingerprint);
}

TEST(Semgrep, ScannerGivenByTheCallerPrefixesTheFingerprints) {
  const ParsedScan mine = MustRead(Fixture("semgrep.sarif"), {}, "Semgrep");
  const ParsedScan theirs = MustRead(Fixture("semgrep.sarif"));
  EXPECT_EQ(mine.scanner, "semgrep");
  ASSERT_EQ(mine.findings.size(), theirs.findings.size());
  for (size_t i = 0; i < mine.findings.size(); ++i) {
    EXPECT_EQ(mine.findings[i].fingerprint.substr(0, 8), "semgrep:");
    EXPECT_EQ(mine.findings[i].scanner, "semgrep");
    // Same identity, other scanner: only the prefix differs.
    EXPECT_EQ(mine.findings[i].fingerprint.substr(8), theirs.findings[i].fingerprint.substr(12));
  }
}

TEST(Trivy, ContainerAndPackageFindingsCarryCveAndComponent) {
  const ParsedScan scan = MustRead(Fixture("trivy.sarif"));
  EXPECT_EQ(scan.scanner, "trivy");
  EXPECT_EQ(scan.tool_version, "0.45.0");
  ASSERT_EQ(scan.findings.size(), 4u);

  const auto* log4j = ByRule(scan, "CVE-2021-44228");
  ASSERT_NE(log4j, nullptr);
  EXPECT_EQ(log4j->severity, Severity::kCritical);  // security-severity "10.0"
  EXPECT_EQ(log4j->cve, "CVE-2021-44228");
  EXPECT_EQ(log4j->title,
            "log4j-core: Remote code execution in Log4j 2.x when logs contain an "
            "attacker-controlled string value");
  EXPECT_EQ(log4j->location.path, "app/pom.xml");  // ROOTPATH is file:///, not a prefix to keep
  EXPECT_EQ(log4j->location.component, "org.apache.logging.log4j:log4j-core@2.14.1");
  EXPECT_EQ(log4j->link, "https://avd.aquasec.com/nvd/cve-2021-44228");

  // One CVE in two packages of one image: two findings; the severity is the "HIGH" tag.
  const auto* ssl = ByRule(scan, "CVE-2023-0464", 0);
  const auto* crypto = ByRule(scan, "CVE-2023-0464", 1);
  ASSERT_NE(ssl, nullptr);
  ASSERT_NE(crypto, nullptr);
  EXPECT_EQ(ssl->severity, Severity::kHigh);
  EXPECT_EQ(ssl->location.component, "pkg:apk/alpine/libssl3@3.0.8-r0");
  EXPECT_EQ(crypto->location.component, "pkg:apk/alpine/libcrypto3@3.0.8-r0");
  EXPECT_EQ(ssl->location.path, "library/alpine");
  EXPECT_NE(ssl->fingerprint, crypto->fingerprint);

  const auto* zstd = ByRule(scan, "CVE-2022-4899");
  ASSERT_NE(zstd, nullptr);
  EXPECT_EQ(zstd->severity, Severity::kMedium);
  EXPECT_EQ(zstd->location.component,
            "pkg:apk/alpine/zstd-libs@1.5.5-r0?arch=x86_64&distro=3.18.4");
}

TEST(Trivy, UpgradedButStillVulnerablePackageIsTheSameFinding) {
  const std::string before = Fixture("trivy.sarif");
  std::string after = ReplaceOnce(before, "Installed Version: 2.14.1", "Installed Version: 2.14.2");
  after = ReplaceOnce(after, R"("fullyQualifiedName": "pkg:apk/alpine/libssl3@3.0.8-r0")",
                      R"("fullyQualifiedName": "pkg:apk/alpine/libssl3@3.0.8-r1")");
  const ParsedScan a = MustRead(before), b = MustRead(after);
  EXPECT_EQ(ByRule(b, "CVE-2021-44228")->location.component,
            "org.apache.logging.log4j:log4j-core@2.14.2");
  EXPECT_EQ(ByRule(a, "CVE-2021-44228")->fingerprint, ByRule(b, "CVE-2021-44228")->fingerprint);
  EXPECT_EQ(ByRule(a, "CVE-2023-0464")->fingerprint, ByRule(b, "CVE-2023-0464")->fingerprint);
}

TEST(Gitleaks, SecretsWithoutRuleMetadataTakeTheirSeverityFromTheLevel) {
  const ParsedScan scan = MustRead(Fixture("gitleaks.sarif"));
  EXPECT_EQ(scan.scanner, "gitleaks");
  ASSERT_EQ(scan.findings.size(), 3u);
  // Empty commit fingerprints (a --no-git scan) are placeholders: 5 per result.
  EXPECT_EQ(scan.fingerprints_skipped, 15);
  const auto* aws = ByRule(scan, "aws-access-token");
  ASSERT_NE(aws, nullptr);
  EXPECT_EQ(aws->severity, Severity::kHigh);  // level error
  EXPECT_EQ(aws->title, "aws-access-token has detected secret for file config/settings.py.");
  EXPECT_EQ(aws->location.path, "config/settings.py");
  EXPECT_EQ(ByRule(scan, "generic-api-key")->severity, Severity::kMedium);
  // Two secrets of one rule in one file are two findings (their snippets differ)...
  EXPECT_NE(ByRule(scan, "generic-api-key", 0)->fingerprint,
            ByRule(scan, "generic-api-key", 1)->fingerprint);
  // ...and the secret itself is kept nowhere.
  for (const auto& f : scan.findings) {
    for (const std::string* s :
         {&f.title, &f.description, &f.location.path, &f.location.component, &f.fingerprint}) {
      EXPECT_EQ(s->find("AKIAIOSFODNN7EXAMPLE"), std::string::npos) << *s;
      EXPECT_EQ(s->find("a1b2c3d4e5f6a7b8c9d0"), std::string::npos) << *s;
    }
  }
}

TEST(Zap, UrlLocationsDropQueryAndRiskcodeGivesSeverity) {
  const ParsedScan scan = MustRead(Fixture("zap.sarif"));
  EXPECT_EQ(scan.scanner, "zap");
  ASSERT_EQ(scan.findings.size(), 3u);
  const auto* sqli = ByRule(scan, "40018");
  ASSERT_NE(sqli, nullptr);
  EXPECT_EQ(sqli->severity, Severity::kHigh);  // riskcode "3"
  EXPECT_EQ(sqli->cwe, "CWE-89");              // cweid "89"
  EXPECT_EQ(sqli->title, "SQL Injection");
  // Host lower-cased; the query (with its session token) is gone.
  EXPECT_EQ(sqli->location.path, "https://shop.example.test/search");
  EXPECT_EQ(sqli->link, "https://www.zaproxy.org/docs/alerts/40018/");

  const auto* csp = ByRule(scan, "10038");
  ASSERT_NE(csp, nullptr);
  EXPECT_EQ(csp->severity, Severity::kMedium);  // riskcode 2 (a number)
  EXPECT_NE(ByRule(scan, "10038", 0)->fingerprint, ByRule(scan, "10038", 1)->fingerprint);
}

TEST(Zap, ChangingEvidenceAndQueryKeepTheIdentity) {
  const std::string before = Fixture("zap.sarif");
  std::string after = ReplaceOnce(before, "at 2024-03-01T10:00:00", "at 2024-03-08T09:30:12");
  after = ReplaceOnce(after, "session=abc123", "session=zzz999");
  const ParsedScan a = MustRead(before), b = MustRead(after);
  EXPECT_EQ(ByRule(a, "40018")->fingerprint, ByRule(b, "40018")->fingerprint);
}

}  // namespace
}  // namespace tocsin::ingest
