// Finding identity across scans (SPEC §5): sources in order, placeholders and repeated values
// skipped, duplicates merged, never a line number.
#include <gtest/gtest.h>

#include <array>

#include "core/strings.hpp"
#include "ingest/fingerprint.hpp"
#include "ingest/sarif.hpp"
#include "sarif_test_util.hpp"

namespace tocsin::ingest {
namespace {

using testing::Log;
using testing::MustRead;

// A result of `rule` at `uri`:`line` with extra members (e.g. fingerprints).
std::string Result(std::string_view rule, std::string_view uri, int line,
                   std::string_view extra = "", std::string_view level = "warning") {
  return std::string(R"({"ruleId":")") + std::string(rule) + R"(","level":")" + std::string(level) +
         R"(","message":{"text":"found )" + std::string(rule) +
         R"("},"locations":[{"physicalLocation":{"artifactLocation":{"uri":")" + std::string(uri) +
         R"("},"region":{"startLine":)" + std::to_string(line) + "}}}]" + std::string(extra) + "}";
}

// Views of string literals: they outlive every test.
IdentityInput Input(std::string_view rule, std::string_view path) {
  IdentityInput in;
  in.rule_id = rule;
  in.path = path;
  return in;
}

TEST(Identity, SourcesAreTriedInOrder) {
  IdentityInput all = Input("r", "a.c");
  all.fingerprints = {{"other/v1", "F2"}, {"matchBasedId/v1", "F1"}};
  all.correlation_guid = "G";
  all.partial_fingerprints = {{"primaryLocationLineHash", "P"}};
  IdentityInput guid = all;
  guid.fingerprints.clear();
  IdentityInput partial = guid;
  partial.correlation_guid.clear();
  IdentityInput none = partial;
  none.partial_fingerprints.clear();
  const std::array inputs{all, guid, partial, none};
  const auto ids = AssignIdentities("s", inputs);
  EXPECT_EQ(ids[0].source, IdentitySource::kFingerprints);
  EXPECT_EQ(ids[1].source, IdentitySource::kCorrelationGuid);
  EXPECT_EQ(ids[2].source, IdentitySource::kPartialFingerprints);
  EXPECT_EQ(ids[3].source, IdentitySource::kComputed);
  // The preferred key decides, whatever the document order.
  IdentityInput only_preferred = Input("r", "a.c");
  only_preferred.fingerprints = {{"matchBasedId/v1", "F1"}};
  EXPECT_EQ(AssignIdentities("s", std::array{only_preferred})[0].fingerprint, ids[0].fingerprint);
  // Other keys go in byte order: the smallest one decides.
  IdentityInput b_then_a = Input("r", "a.c");
  b_then_a.fingerprints = {{"b", "1"}, {"a", "2"}};
  IdentityInput a_only = Input("r", "a.c");
  a_only.fingerprints = {{"a", "2"}};
  EXPECT_EQ(AssignIdentities("s", std::array{b_then_a})[0].fingerprint,
            AssignIdentities("s", std::array{a_only})[0].fingerprint);
}

TEST(Identity, FullFingerprintDoesNotDependOnRuleOrPath) {
  IdentityInput a = Input("r1", "a.c"), b = Input("r2", "b.c");
  a.fingerprints = {{"k", "V"}};
  b.fingerprints = {{"k", "V"}};
  // In separate runs (scans): a full fingerprint is the whole identity.
  EXPECT_EQ(AssignIdentities("s", std::array{a})[0].fingerprint,
            AssignIdentities("s", std::array{b})[0].fingerprint);
}

TEST(Identity, PartialFingerprintIncludesTheRule) {
  // CodeQL's line hash names a line; two rules on one line are two findings.
  IdentityInput a = Input("r1", "a.c"), b = Input("r2", "a.c");
  a.partial_fingerprints = {{"primaryLocationLineHash", "abc:1"}};
  b.partial_fingerprints = {{"primaryLocationLineHash", "abc:1"}};
  const auto ids = AssignIdentities("s", std::array{a, b});
  EXPECT_EQ(ids[0].source, IdentitySource::kPartialFingerprints);
  EXPECT_EQ(ids[1].source, IdentitySource::kPartialFingerprints);
  EXPECT_NE(ids[0].fingerprint, ids[1].fingerprint);
}

TEST(Identity, PlaceholderValuesAreSkipped) {
  for (const char* placeholder : {"requires login", "Requires Login ", "", "null", "N/A"}) {
    IdentityInput in = Input("r", "a.c");
    in.fingerprints = {{"matchBasedId/v1", placeholder}};
    const auto id = AssignIdentities("s", std::array{in})[0];
    EXPECT_EQ(id.source, IdentitySource::kComputed) << placeholder;
    EXPECT_EQ(id.skipped, 1);
    EXPECT_EQ(id.fingerprint, AssignIdentities("s", std::array{Input("r", "a.c")})[0].fingerprint);
  }
}

TEST(Identity, ValueRepeatedAcrossRulesOrPathsIsSkipped) {
  IdentityInput a = Input("r1", "a.c"), b = Input("r2", "b.c"), c = Input("r3", "c.c");
  a.fingerprints = b.fingerprints = {{"k", "same"}};
  c.fingerprints = {{"k", "unique"}};
  a.correlation_guid = "guid-a";  // the next source takes over
  const auto ids = AssignIdentities("s", std::array{a, b, c});
  EXPECT_EQ(ids[0].source, IdentitySource::kCorrelationGuid);
  EXPECT_EQ(ids[1].source, IdentitySource::kComputed);
  EXPECT_EQ(ids[2].source, IdentitySource::kFingerprints);
  EXPECT_EQ(ids[0].skipped, 1);
  EXPECT_EQ(ids[1].skipped, 1);
}

TEST(Identity, PartialValueRepeatedAcrossPathsIsSkippedButNotAcrossRules) {
  IdentityInput a = Input("r1", "a.c"), b = Input("r1", "b.c"), c = Input("r2", "c.c"),
                d = Input("r3", "c.c");
  a.partial_fingerprints = b.partial_fingerprints = {{"primaryLocationLineHash", "h:1"}};
  c.partial_fingerprints = d.partial_fingerprints = {{"primaryLocationLineHash", "g:1"}};
  const auto ids = AssignIdentities("s", std::array{a, b, c, d});
  EXPECT_EQ(ids[0].source, IdentitySource::kComputed);
  EXPECT_EQ(ids[1].source, IdentitySource::kComputed);
  EXPECT_NE(ids[0].fingerprint, ids[1].fingerprint);
  EXPECT_EQ(ids[2].source, IdentitySource::kPartialFingerprints);
  EXPECT_EQ(ids[3].source, IdentitySource::kPartialFingerprints);
}

TEST(Identity, ComputedIdentityUsesPackageNameNotVersion) {
  IdentityInput a = Input("CVE-2021-44228", "pom.xml"), b = a, c = a;
  a.component = "org.apache.logging.log4j:log4j-core@2.14.1";
  b.component = "org.apache.logging.log4j:log4j-core@2.15.0";
  c.component = "org.apache.logging.log4j:log4j-api@2.14.1";
  EXPECT_EQ(AssignIdentities("s", std::array{a})[0].fingerprint,
            AssignIdentities("s", std::array{b})[0].fingerprint);
  EXPECT_NE(AssignIdentities("s", std::array{a})[0].fingerprint,
            AssignIdentities("s", std::array{c})[0].fingerprint);
}

TEST(Identity, ComputedIdentityIgnoresSnippetWhitespace) {
  IdentityInput a = Input("r", "a.py"), b = a, c = a;
  a.snippet = "  x = eval( input )\n";
  b.snippet = "\tx   =  eval(\tinput )";
  c.snippet = "x = eval(input)";
  EXPECT_EQ(AssignIdentities("s", std::array{a})[0].fingerprint,
            AssignIdentities("s", std::array{b})[0].fingerprint);
  EXPECT_NE(AssignIdentities("s", std::array{a})[0].fingerprint,
            AssignIdentities("s", std::array{c})[0].fingerprint);
}

TEST(Identity, ScannerPrefixKeepsScannersApart) {
  const auto a = AssignIdentities("semgrep", std::array{Input("r", "a.c")})[0];
  const auto b = AssignIdentities("codeql", std::array{Input("r", "a.c")})[0];
  EXPECT_EQ(a.fingerprint.substr(0, 8), "semgrep:");
  EXPECT_EQ(b.fingerprint.substr(0, 7), "codeql:");
  EXPECT_EQ(a.fingerprint.substr(8), b.fingerprint.substr(7));
}

TEST(Identity, LineNumberIsNeverPartOfIt) {
  const ParsedScan a = MustRead(Log("[" + Result("r", "src/a.c", 10) + "]"));
  const ParsedScan b = MustRead(Log("[" + Result("r", "src/a.c", 250) + "]"));
  ASSERT_EQ(a.findings.size(), 1u);
  EXPECT_EQ(a.findings[0].fingerprint, b.findings[0].fingerprint);
  EXPECT_EQ(b.findings[0].location.line, 250);
}

TEST(Identity, EquivalentPathsAreOnePath) {
  const std::string rows[] = {"src/a.c",      "./src/a.c",  "src//a.c",
                              "src/x/../a.c", "src\\\\a.c", "file:///src/a.c"};
  std::string first;
  for (const auto& uri : rows) {
    const ParsedScan scan = MustRead(Log("[" + Result("r", uri, 1) + "]"));
    ASSERT_EQ(scan.findings.size(), 1u) << uri;
    const std::string& path = scan.findings[0].location.path;
    EXPECT_TRUE(path == "src/a.c" || path == "/src/a.c") << uri << " -> " << path;
    if (path == "src/a.c") {
      if (first.empty()) first = scan.findings[0].fingerprint;
      EXPECT_EQ(scan.findings[0].fingerprint, first) << uri;
    }
  }
}

TEST(Identity, CheckoutDirectoryOfTheRunnerIsCutOff) {
  // Two CI runners checked out in different places; the absolute base is dropped.
  auto doc = [](std::string_view root, std::string_view uri) {
    return Log("[" + Result("r", uri, 1) + "]",
               R"(,"originalUriBaseIds":{"%SRCROOT%":{"uri":")" + std::string(root) + R"("}})");
  };
  const ParsedScan a = MustRead(
      doc("file:///home/runner/work/app/app/", "file:///home/runner/work/app/app/src/a.c"));
  const ParsedScan b = MustRead(doc("file:///builds/app/", "file:///builds/app/src/a.c"));
  ASSERT_EQ(a.findings.size(), 1u);
  ASSERT_EQ(b.findings.size(), 1u);
  EXPECT_EQ(a.findings[0].location.path, "src/a.c");
  EXPECT_EQ(b.findings[0].location.path, "src/a.c");
  EXPECT_EQ(a.findings[0].fingerprint, b.findings[0].fingerprint);
}

TEST(Identity, RelativeBaseIdsArePrepended) {
  const std::string doc = Log(
      R"([{"ruleId":"r","message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"x.py","uriBaseId":"SRC"}}}]}])",
      R"(,"originalUriBaseIds":{"SRC":{"uri":"backend/","uriBaseId":"REPO"},"REPO":{"uri":"file:///ci/checkout/"}})");
  const ParsedScan scan = MustRead(doc);
  ASSERT_EQ(scan.findings.size(), 1u);
  EXPECT_EQ(scan.findings[0].location.path, "backend/x.py");
}

TEST(Identity, CyclicBaseIdsEnd) {
  const std::string doc = Log(
      R"([{"ruleId":"r","message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"x.py","uriBaseId":"A"}}}]}])",
      R"(,"originalUriBaseIds":{"A":{"uri":"a/","uriBaseId":"B"},"B":{"uri":"b/","uriBaseId":"A"}})");
  const ParsedScan scan = MustRead(doc);
  ASSERT_EQ(scan.findings.size(), 1u);
  EXPECT_TRUE(EndsWith(scan.findings[0].location.path, "b/a/x.py"));
}

TEST(Identity, SameIdentityTwiceInOneScanIsOneFindingWithTheWorstSeverity) {
  const std::string fp = R"(,"fingerprints":{"k":"F"})";
  const ParsedScan scan = MustRead(
      Log("[" + Result("r", "a.c", 3, fp, "note") + "," + Result("r", "a.c", 9, fp, "error") + "," +
          Result("r", "a.c", 12, "", "note") + "," + Result("r", "a.c", 14, "", "note") + "]"));
  ASSERT_EQ(scan.findings.size(), 2u);
  EXPECT_EQ(scan.duplicates, 2);
  EXPECT_EQ(scan.findings[0].severity, domain::Severity::kHigh);
  EXPECT_EQ(scan.findings[0].location.line, 3);  // the first report's place
  EXPECT_EQ(scan.counts[static_cast<int>(domain::Severity::kHigh)], 1);
  EXPECT_EQ(scan.counts[static_cast<int>(domain::Severity::kLow)], 1);
}

TEST(Identity, RepeatedFingerprintInALogFallsBackPerResult) {
  // A tool that stamps one value on everything: each result still gets its own identity.
  const std::string fp = R"(,"fingerprints":{"k":"deadbeef"})";
  const ParsedScan scan =
      MustRead(Log("[" + Result("r1", "a.c", 3, fp) + "," + Result("r2", "a.c", 9, fp) + "," +
                   Result("r1", "b.c", 1, fp) + "]"));
  EXPECT_EQ(scan.findings.size(), 3u);
  EXPECT_EQ(scan.fingerprints_skipped, 3);
  EXPECT_EQ(scan.duplicates, 0);
}

TEST(Identity, TwoToolsInOneLogNeverCollide) {
  const std::string r = Result("same-rule", "a.c", 1, R"(,"fingerprints":{"k":"F"})");
  const std::string doc =
      R"({"version":"2.1.0","runs":[{"tool":{"driver":{"name":"One"}},"results":[)" + r +
      R"(]},{"tool":{"driver":{"name":"Two"}},"results":[)" + r + "]}]}";
  const ParsedScan scan = MustRead(doc, {}, "suite");
  EXPECT_EQ(scan.scanner, "suite");
  EXPECT_EQ(scan.runs, 2);
  ASSERT_EQ(scan.findings.size(), 2u);
  EXPECT_NE(scan.findings[0].fingerprint, scan.findings[1].fingerprint);
}

TEST(Identity, OneToolInTwoRunsMergesTheSameFinding) {
  const std::string r = Result("same-rule", "a.c", 1, R"(,"fingerprints":{"k":"F"})");
  const std::string run = R"({"tool":{"driver":{"name":"One"}},"results":[)" + r + "]}";
  const ParsedScan scan = MustRead(R"({"version":"2.1.0","runs":[)" + run + "," + run + "]}");
  EXPECT_EQ(scan.findings.size(), 1u);
  EXPECT_EQ(scan.duplicates, 1);
}

TEST(Identity, HelperFunctions) {
  EXPECT_EQ(PackageName("log4j-core@2.14.1"), "log4j-core");
  EXPECT_EQ(PackageName("@babel/core@7.1.0"), "@babel/core");
  EXPECT_EQ(PackageName("@babel/core"), "@babel/core");
  EXPECT_EQ(PackageName("pkg:npm/%40babel/core@7.1.0?arch=x#sub"), "pkg:npm/%40babel/core");
  EXPECT_EQ(PackageName("libssl3"), "libssl3");
  EXPECT_EQ(ScannerSlug("Semgrep OSS"), "semgrep-oss");
  EXPECT_EQ(ScannerSlug("  --CodeQL!! "), "codeql");
  EXPECT_EQ(ScannerSlug("OWASP ZAP 2.14"), "owasp-zap-2.14");
  EXPECT_EQ(ScannerSlug("???"), "");
  EXPECT_EQ(ScannerSlug(std::string(200, 'a')).size(), 64u);
  EXPECT_EQ(NormalizeSnippet("  a \t b\n\nc  "), "a b c");
  EXPECT_TRUE(IsPlaceholderFingerprint("requires login"));
  EXPECT_FALSE(IsPlaceholderFingerprint("5f2a3c9e1b7d4a60:1"));
  EXPECT_EQ(HashParts({"a", "b"}).size(), 32u);
  EXPECT_NE(HashParts({"ab", ""}), HashParts({"a", "b"}));
}

TEST(Uri, Normalisation) {
  const std::vector<std::string> roots{"/home/runner/work/app"};
  struct Row {
    const char* in;
    const char* out;
  } rows[] = {
      {"src/a.c", "src/a.c"},
      {"./src/./a.c", "src/a.c"},
      {"src/../../a.c", "../a.c"},
      {"file:///home/runner/work/app/src/a.c", "src/a.c"},
      {"file:///home/runner/work/application/a.c", "/home/runner/work/application/a.c"},
      {"file://localhost/etc/passwd", "/etc/passwd"},
      {"/../../etc/passwd", "/etc/passwd"},
      {"my%20file.js", "my file.js"},
      {"bad%00byte.js", "bad%00byte.js"},
      {"C:\\src\\a.c", "C:/src/a.c"},
      {"HTTPS://Example.TEST/Path/A?x=1#f", "https://example.test/Path/A"},
      {"pkg:npm/lodash@4.17.20", "pkg:npm/lodash@4.17.20"},
  };
  for (const auto& row : rows) EXPECT_EQ(NormalizeArtifactUri(row.in, roots), row.out) << row.in;
}

}  // namespace
}  // namespace tocsin::ingest
