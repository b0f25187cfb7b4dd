// Severity mapping (docs/scans.md): security-severity, then an explicit severity word, then
// ZAP's riskcode, then a severity tag, then the SARIF level (the rule's default, "warning").
#include <gtest/gtest.h>

#include "ingest/sarif.hpp"
#include "sarif_test_util.hpp"

namespace tocsin::ingest {
namespace {

using domain::Severity;
using testing::Log;
using testing::MustRead;

struct SeverityRow {
  const char* name;
  const char* rule_extra;    // members of the rule object
  const char* result_extra;  // members of the result object
  Severity expected;
};

void PrintTo(const SeverityRow& r, std::ostream* os) { *os << r.name; }

class SeverityMapping : public ::testing::TestWithParam<SeverityRow> {};

TEST_P(SeverityMapping, MapsAsDocumented) {
  const SeverityRow& row = GetParam();
  const std::string doc =
      Log(std::string(R"([{"ruleId":"r","message":{"text":"m"})") + row.result_extra + "}]", "",
          std::string(R"(,"rules":[{"id":"r")") + row.rule_extra + "}]");
  const ParsedScan scan = MustRead(doc);
  ASSERT_EQ(scan.findings.size(), 1u);
  EXPECT_EQ(Name(scan.findings[0].severity), Name(row.expected));
}

const SeverityRow kRows[] = {
    {"Score10IsCritical", R"(,"properties":{"security-severity":"10.0"})", "", Severity::kCritical},
    {"Score9IsCritical", R"(,"properties":{"security-severity":"9.0"})", "", Severity::kCritical},
    {"Score8_9IsHigh", R"(,"properties":{"security-severity":"8.9"})", "", Severity::kHigh},
    {"Score7IsHigh", R"(,"properties":{"security-severity":7})", "", Severity::kHigh},
    {"Score6_9IsMedium", R"(,"properties":{"security-severity":"6.9"})", "", Severity::kMedium},
    {"Score4IsMedium", R"(,"properties":{"security-severity":"4.0"})", "", Severity::kMedium},
    {"Score3_9IsLow", R"(,"properties":{"security-severity":"3.9"})", "", Severity::kLow},
    {"Score0_1IsLow", R"(,"properties":{"security-severity":"0.1"})", "", Severity::kLow},
    {"Score0IsInfo", R"(,"properties":{"security-severity":"0"})", "", Severity::kInfo},
    {"ScoreOutOfRangeIsIgnored", R"(,"properties":{"security-severity":"11"})",
     R"(,"level":"note")", Severity::kLow},
    {"ResultScoreBeatsRuleScore", R"(,"properties":{"security-severity":"9.5"})",
     R"(,"properties":{"security-severity":"5.0"})", Severity::kMedium},
    {"ScoreBeatsSeverityWord", R"(,"properties":{"security-severity":"2.0","severity":"critical"})",
     "", Severity::kLow},
    {"SeverityWordCritical", R"(,"properties":{"severity":"CRITICAL"})", "", Severity::kCritical},
    {"SeverityWordModerate", R"(,"properties":{"severity":"moderate"})", "", Severity::kMedium},
    {"SeverityWordInfo", R"(,"properties":{"severity":"info"})", "", Severity::kInfo},
    {"ProblemSeverityError", R"(,"properties":{"problem.severity":"error"})", "", Severity::kHigh},
    {"ProblemSeverityWarning", R"(,"properties":{"problem.severity":"warning"})", "",
     Severity::kMedium},
    {"ProblemSeverityRecommendation", R"(,"properties":{"problem.severity":"recommendation"})", "",
     Severity::kLow},
    {"SeverityBeatsProblemSeverity",
     R"(,"properties":{"problem.severity":"recommendation","severity":"high"})", "",
     Severity::kHigh},
    {"SeverityWordBeatsLevel", R"(,"properties":{"severity":"low"})", R"(,"level":"error")",
     Severity::kLow},
    {"RiskcodeHigh", R"(,"properties":{"riskcode":"3"})", "", Severity::kHigh},
    {"RiskcodeInformational", R"(,"properties":{"riskcode":0})", "", Severity::kInfo},
    {"TagHigh", R"(,"properties":{"tags":["security","HIGH"]})", "", Severity::kHigh},
    {"TagMustBeTheWholeTag", R"(,"properties":{"tags":["HIGH CONFIDENCE"]})", R"(,"level":"note")",
     Severity::kLow},
    {"LevelError", "", R"(,"level":"error")", Severity::kHigh},
    {"LevelWarning", "", R"(,"level":"warning")", Severity::kMedium},
    {"LevelNote", "", R"(,"level":"note")", Severity::kLow},
    {"LevelNone", "", R"(,"level":"none")", Severity::kInfo},
    {"ResultLevelBeatsRuleDefault", R"(,"defaultConfiguration":{"level":"error"})",
     R"(,"level":"note")", Severity::kLow},
    {"RuleDefaultLevel", R"(,"defaultConfiguration":{"level":"error"})", "", Severity::kHigh},
    {"NoLevelAnywhereIsWarning", "", "", Severity::kMedium},
};

INSTANTIATE_TEST_SUITE_P(Table, SeverityMapping, ::testing::ValuesIn(kRows),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SeverityFunctions, WordsAndLevels) {
  EXPECT_EQ(SeverityFromWord("Error"), Severity::kHigh);
  EXPECT_EQ(SeverityFromWord("informational"), Severity::kInfo);
  EXPECT_EQ(SeverityFromWord("blocker"), std::nullopt);
  EXPECT_EQ(SeverityFromLevel("error"), Severity::kHigh);
  EXPECT_EQ(SeverityFromLevel("ERROR"), std::nullopt);  // SARIF levels are case-sensitive
  EXPECT_EQ(SeverityFromScore(9.0), Severity::kCritical);
  EXPECT_EQ(SeverityFromScore(0.0), Severity::kInfo);
}

TEST(CweCve, Extraction) {
  EXPECT_EQ(ExtractCwe("CWE-89"), "CWE-89");
  EXPECT_EQ(ExtractCwe("external/cwe/cwe-089"), "CWE-89");
  EXPECT_EQ(ExtractCwe("CWE-79: Improper Neutralization"), "CWE-79");
  EXPECT_EQ(ExtractCwe("89"), "CWE-89");
  EXPECT_EQ(ExtractCwe("security"), "");
  EXPECT_EQ(ExtractCwe("CWE-"), "");
  EXPECT_EQ(ExtractCwe("CWE-1234567890"), "");
  EXPECT_EQ(ExtractCve("CVE-2021-44228"), "CVE-2021-44228");
  EXPECT_EQ(ExtractCve("Vulnerability cve-2023-0464 in libssl"), "CVE-2023-0464");
  EXPECT_EQ(ExtractCve("CVE-21-1234"), "");
  EXPECT_EQ(ExtractCve("CVE-2021-123"), "");
  EXPECT_EQ(ExtractCve("GHSA-xxxx"), "");
}

TEST(CweCve, CveFromRuleIdThenTagsThenMessage) {
  const ParsedScan scan = MustRead(Log(
      R"([{"ruleId":"CVE-2020-0001","message":{"text":"m CVE-2020-0003"}},
          {"ruleId":"dep","message":{"text":"m CVE-2020-0003"},"properties":{"tags":["CVE-2020-0002"]}},
          {"ruleId":"dep2","message":{"text":"upgrade: CVE-2020-0003"}}])"));
  ASSERT_EQ(scan.findings.size(), 3u);
  EXPECT_EQ(scan.findings[0].cve, "CVE-2020-0001");
  EXPECT_EQ(scan.findings[1].cve, "CVE-2020-0002");
  EXPECT_EQ(scan.findings[2].cve, "CVE-2020-0003");
}

TEST(Cvss, FromPropertiesInRange) {
  const ParsedScan scan = MustRead(Log(
      R"([{"ruleId":"a","message":{"text":"m"},"properties":{"cvss":9.8}},
          {"ruleId":"b","message":{"text":"m"},"properties":{"cvssScore":"7.5"}},
          {"ruleId":"c","message":{"text":"m"},"properties":{"cvss":{"baseScore":5.3}}},
          {"ruleId":"d","message":{"text":"m"},"properties":{"cvss":42}}])"));
  ASSERT_EQ(scan.findings.size(), 4u);
  EXPECT_EQ(scan.findings[0].cvss, 9.8);
  EXPECT_EQ(scan.findings[1].cvss, 7.5);
  EXPECT_EQ(scan.findings[2].cvss, 5.3);
  EXPECT_EQ(scan.findings[3].cvss, std::nullopt);
}

TEST(Rules, ResolvedByToolComponentIndexOrId) {
  const std::string doc = R"({"version":"2.1.0","runs":[{"tool":{
      "driver":{"name":"T","rules":[{"id":"d0","shortDescription":{"text":"driver rule"}}]},
      "extensions":[{"name":"pack-a","guid":"A","rules":[{"id":"a0","shortDescription":{"text":"pack a rule"}}]},
                    {"name":"pack-b","rules":[{"id":"b0","shortDescription":{"text":"pack b rule 0"}},
                                              {"id":"b1","shortDescription":{"text":"pack b rule 1"}}]}]},
    "results":[
      {"message":{"text":"m"},"rule":{"index":1,"toolComponent":{"index":1}},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"0.c"}}}]},
      {"message":{"text":"m"},"ruleIndex":0,"rule":{"toolComponent":{"guid":"A"}},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"1.c"}}}]},
      {"message":{"text":"m"},"ruleId":"b0","locations":[{"physicalLocation":{"artifactLocation":{"uri":"2.c"}}}]},
      {"message":{"text":"m"},"ruleIndex":0,"locations":[{"physicalLocation":{"artifactLocation":{"uri":"3.c"}}}]},
      {"message":{"text":"m"},"ruleId":"d0","ruleIndex":99,"locations":[{"physicalLocation":{"artifactLocation":{"uri":"4.c"}}}]},
      {"message":{"text":"m"},"ruleId":"b1","rule":{"index":0,"toolComponent":{"name":"pack-b"}},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"5.c"}}}]},
      {"message":{"text":"raw message"},"ruleId":"unknown","locations":[{"physicalLocation":{"artifactLocation":{"uri":"6.c"}}}]}]}]})";
  const ParsedScan scan = MustRead(doc);
  ASSERT_EQ(scan.findings.size(), 7u);
  EXPECT_EQ(scan.findings[0].rule_id, "b1");
  EXPECT_EQ(scan.findings[0].title, "pack b rule 1");
  EXPECT_EQ(scan.findings[1].title, "pack a rule");
  EXPECT_EQ(scan.findings[2].title, "pack b rule 0");
  EXPECT_EQ(scan.findings[3].rule_id, "d0");
  EXPECT_EQ(scan.findings[3].title, "driver rule");
  EXPECT_EQ(scan.findings[4].title, "driver rule");    // stale index: the id decides
  EXPECT_EQ(scan.findings[5].title, "pack b rule 1");  // index names b0, the id names b1
  EXPECT_EQ(scan.findings[6].title, "raw message");
}

TEST(Messages, PlaceholdersAndEmbeddedLinks) {
  const ParsedScan scan = MustRead(Log(
      R"([{"ruleId":"r","message":{"text":"Call to {0} with [tainted data](2) in \\[{1}\\]","arguments":["exec","main"]}}])"));
  ASSERT_EQ(scan.findings.size(), 1u);
  EXPECT_EQ(scan.findings[0].title, "Call to exec with tainted data in [main]");
}

TEST(Components, FromPropertiesPurlAndLogicalLocations) {
  const ParsedScan scan = MustRead(Log(
      R"([{"ruleId":"a","message":{"text":"m"},"properties":{"packageName":"lodash","installedVersion":"4.17.20"}},
          {"ruleId":"b","message":{"text":"m"},"properties":{"purl":"pkg:npm/lodash@4.17.20","package":"ignored"}},
          {"ruleId":"c","message":{"text":"m"},"locations":[{"logicalLocations":[{"kind":"function","name":"main"},{"kind":"module","fullyQualifiedName":"github.com/x/y"}]}]},
          {"ruleId":"d","message":{"text":"m"},"locations":[{"logicalLocations":[{"kind":"function","name":"main"}]}]}])"));
  ASSERT_EQ(scan.findings.size(), 4u);
  EXPECT_EQ(scan.findings[0].location.component, "lodash@4.17.20");
  EXPECT_EQ(scan.findings[1].location.component, "pkg:npm/lodash@4.17.20");
  EXPECT_EQ(scan.findings[2].location.component, "github.com/x/y");
  EXPECT_EQ(scan.findings[3].location.component, "");
}

TEST(Links, OnlyHttpHelpUris) {
  const ParsedScan scan = MustRead(Log(
      R"([{"ruleId":"a","message":{"text":"m"}},{"ruleId":"b","message":{"text":"m"}}])", "",
      R"json(,"rules":[{"id":"a","helpUri":"javascript:alert(1)"},{"id":"b","helpUri":"https://docs.example.test/b"}])json"));
  ASSERT_EQ(scan.findings.size(), 2u);
  EXPECT_EQ(scan.findings[0].link, "");
  EXPECT_EQ(scan.findings[1].link, "https://docs.example.test/b");
}

}  // namespace
}  // namespace tocsin::ingest
