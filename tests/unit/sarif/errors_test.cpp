// Broken and hostile input: every error path names the problem (and the JSON pointer where it
// helps); limits cut strings instead of failing; gzip bombs stop at the cap.
#include <gtest/gtest.h>

#include <string>

#include "core/strings.hpp"
#include "ingest/sarif.hpp"
#include "sarif_test_util.hpp"

namespace tocsin::ingest {
namespace {

using testing::Fixture;
using testing::Gzip;
using ::testing::HasSubstr;
using testing::Log;
using testing::MustFail;
using testing::MustRead;
using testing::ReplaceOnce;

constexpr std::string_view kResult =
    R"({"ruleId":"r1","message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.c"}}}]})";

struct ErrorCase {
  std::string name;
  std::string document;
  std::string code;
  std::string field;
  std::string message_part;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

std::vector<ErrorCase> ErrorCases() {
  const std::string r(kResult);
  return {
      {"NotJson", "this is not json", "invalid_sarif", "", "not valid JSON"},
      {"Empty", "   ", "invalid_sarif", "", "empty"},
      {"Truncated", Log("[" + r).substr(0, 60), "invalid_sarif", "", "not valid JSON"},
      {"TrailingContent", Log("[]") + " {}", "invalid_sarif", "", "follows the root object"},
      {"RootIsArray", "[" + Log("[]") + "]", "invalid_sarif", "", "JSON object"},
      {"VersionMissing", R"({"runs":[]})", "invalid_sarif", "/version", "required"},
      {"VersionWrong", R"({"version":"2.0.0","runs":[]})", "invalid_sarif", "/version",
       "\"2.0.0\""},
      {"VersionNotString", R"({"version":2.1,"runs":[]})", "invalid_sarif", "/version",
       "must be a string"},
      {"RunsMissing", R"({"version":"2.1.0"})", "invalid_sarif", "/runs", "required"},
      {"RunsNotArray", R"({"version":"2.1.0","runs":{}})", "invalid_sarif", "/runs",
       "must be an array of runs"},
      {"RunNotObject", R"({"version":"2.1.0","runs":[42]})", "invalid_sarif", "/runs/0",
       "must be a run object"},
      {"ToolMissing", R"({"version":"2.1.0","runs":[{"results":[]}]})", "invalid_sarif",
       "/runs/0/tool", "required"},
      {"DriverMissing", R"({"version":"2.1.0","runs":[{"tool":{},"results":[]}]})", "invalid_sarif",
       "/runs/0/tool/driver", "required"},
      {"DriverNameMissing", R"({"version":"2.1.0","runs":[{"tool":{"driver":{}},"results":[]}]})",
       "invalid_sarif", "/runs/0/tool/driver/name", "names the scanner"},
      {"DriverNameNotString",
       R"({"version":"2.1.0","runs":[{"tool":{"driver":{"name":["x"]}},"results":[]}]})",
       "invalid_sarif", "/runs/0/tool/driver/name", "must be a string"},
      {"ResultsNotArray", Log(R"({"a":1})"), "invalid_sarif", "/runs/0/results",
       "must be an array of results"},
      {"ResultNotObject", Log("[" + r + "," + r + ",\"x\"]"), "invalid_sarif", "/runs/0/results/2",
       "must be a result object"},
      {"LocationsNotArray",
       Log("[" + r + "," + r + "," + r +
           R"(,{"ruleId":"x","message":{"text":"m"},"locations":{}}])"),
       "invalid_sarif", "/runs/0/results/3/locations", "must be an array"},
      {"LocationNotObject", Log(R"([{"message":{"text":"m"},"locations":["src/a.c"]}])"),
       "invalid_sarif", "/runs/0/results/0/locations/0", "must be a location object"},
      {"MessageNotObject", Log(R"([{"message":"m"}])"), "invalid_sarif",
       "/runs/0/results/0/message", "must be a message object"},
      {"MessageTextNotString", Log(R"([{"message":{"text":7}}])"), "invalid_sarif",
       "/runs/0/results/0/message/text", "must be a string"},
      {"RuleIdNotString", Log(R"([{"ruleId":7,"message":{"text":"m"}}])"), "invalid_sarif",
       "/runs/0/results/0/ruleId", "must be a string"},
      {"RuleIndexNotInteger", Log(R"([{"ruleIndex":1.5,"message":{"text":"m"}}])"), "invalid_sarif",
       "/runs/0/results/0/ruleIndex", "must be an integer"},
      {"StartLineNotInteger",
       Log(R"([{"message":{"text":"m"},"locations":[{"physicalLocation":{"region":{"startLine":"7"}}}]}])"),
       "invalid_sarif", "/runs/0/results/0/locations/0/physicalLocation/region/startLine",
       "must be an integer"},
      {"FingerprintValueNotString",
       Log(R"([{"message":{"text":"m"},"fingerprints":{"matchBasedId/v1":1}}])"), "invalid_sarif",
       "/runs/0/results/0/fingerprints/matchBasedId~1v1", "must be a string"},
      {"RulesNotArray", Log("[]", "", R"(,"rules":{})"), "invalid_sarif",
       "/runs/0/tool/driver/rules", "must be an array"},
      {"ExecutionSuccessfulNotBool", Log("[]", R"(,"invocations":[{"executionSuccessful":"yes"}])"),
       "invalid_sarif", "/runs/0/invocations/0/executionSuccessful", "true or false"},
      {"UnescapedControlCharacter", Log("[{\"message\":{\"text\":\"a\tb\"}}]"), "invalid_sarif",
       "/runs/0/results/0", "control character"},
      {"UnescapedControlCharacterOutsideResults", Log("[]", "", ",\"version\":\"a\tb\""),
       "invalid_sarif", "", "control character"},
      {"InvalidJsonInsideAResult", Log("[" + r + R"(,{"message":{"text":"m"} "level":"x"}])"),
       "invalid_sarif", "/runs/0/results/1", "not valid JSON"},
  };
}

class SarifErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(SarifErrors, NameTheProblemAndWhere) {
  const ErrorCase& c = GetParam();
  const Error e = MustFail(c.document);
  EXPECT_EQ(e.code, c.code);
  EXPECT_EQ(e.field, c.field) << e.message;
  EXPECT_THAT(e.message, HasSubstr(c.message_part));
  EXPECT_FALSE(e.hint.empty());
}

INSTANTIATE_TEST_SUITE_P(Cases, SarifErrors, ::testing::ValuesIn(ErrorCases()),
                         [](const auto& info) { return info.param.name; });

TEST(SarifLimits, DeepNestingIsRefusedWithTheLimit) {
  std::string deep = Log(R"([{"message":{"text":"m"},"properties":{"x":)" +
                         std::string(100000, '[') + std::string(100000, ']') + "}}]");
  const Error e = MustFail(deep);
  EXPECT_EQ(e.code, "invalid_sarif");
  EXPECT_THAT(e.message, HasSubstr("deeper than 256 levels"));
  // Just under a lower limit passes: the limit is the limit.
  SarifLimits limits;
  // root, runs, run, results, result, properties, then four arrays: 10 levels.
  limits.max_depth = 10;
  const std::string ok = Log(R"([{"message":{"text":"m"},"properties":{"x":[[[[]]]]}}])");
  EXPECT_EQ(MustRead(ok, limits).findings.size(), 1u);
  limits.max_depth = 9;
  EXPECT_THAT(MustFail(ok, limits).message, HasSubstr("deeper than 9 levels"));
}

TEST(SarifLimits, BracketsInsideStringsDoNotCountAsNesting) {
  SarifLimits limits;
  limits.max_depth = 8;
  const std::string doc = Log(R"([{"message":{"text":"[[[[[[[[[[[[{{{{{{{{ \" [[[[[[[[[[ \\"}}])");
  EXPECT_EQ(MustRead(doc, limits).findings.size(), 1u);
}

TEST(SarifLimits, InvalidUtf8IsRefused) {
  const std::string doc = Log("[{\"message\":{\"text\":\"caf\xC3\x28\"}}]");
  const Error e = MustFail(doc);
  EXPECT_EQ(e.code, "invalid_sarif");
  EXPECT_THAT(e.message, HasSubstr("UTF-8"));
}

TEST(SarifLimits, TooManyResultsIsPayloadTooLarge) {
  const std::string r(kResult);
  SarifLimits limits;
  limits.max_results = 2;
  EXPECT_EQ(MustRead(Log("[" + r + "," + r + "]"), limits).results, 2);
  const Error e = MustFail(Log("[" + r + "," + r + "," + r + "]"), limits);
  EXPECT_EQ(e.code, "payload_too_large");
  EXPECT_EQ(e.field, "/runs/0/results/2");
  EXPECT_THAT(e.message, HasSubstr("more than 2 results"));
}

TEST(SarifLimits, TooManyResultsCountsEveryRun) {
  const std::string r(kResult);
  const std::string run = R"({"tool":{"driver":{"name":"T"}},"results":[)" + r + "," + r + "]}";
  SarifLimits limits;
  limits.max_results = 3;
  const Error e = MustFail(R"({"version":"2.1.0","runs":[)" + run + "," + run + "]}", limits);
  EXPECT_EQ(e.code, "payload_too_large");
  EXPECT_EQ(e.field, "/runs/1/results/1");
}

TEST(SarifLimits, TooManyRulesOrArtifactsIsPayloadTooLarge) {
  SarifLimits limits;
  limits.max_rules = 3;
  limits.max_artifacts = 2;
  const std::string rules = R"(,"rules":[{"id":"a"},{"id":"b"}])";
  const std::string ext = R"(,"extensions":[{"name":"x","rules":[{"id":"c"},{"id":"d"}]}])";
  const std::string two_rules = R"({"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T")" +
                                rules + "}},\"results\":[]}]}";
  EXPECT_TRUE(ReadSarif(two_rules, limits).has_value());
  const Error e = MustFail(R"({"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T")" + rules +
                               "}" + ext + "},\"results\":[]}]}",
                           limits);
  EXPECT_EQ(e.code, "payload_too_large");
  EXPECT_EQ(e.field, "/runs/0/tool/extensions/0/rules/1");
  EXPECT_THAT(e.message, HasSubstr("more than 3 rules in a run"));
  const Error a = MustFail(Log("[]", R"(,"artifacts":[{},{},{}])"), limits);
  EXPECT_EQ(a.code, "payload_too_large");
  EXPECT_EQ(a.field, "/runs/0/artifacts/2");
}

TEST(SarifLimits, GiantStringsAreCutNotRefused) {
  const std::string huge(300000, 'x');
  // 2-byte characters: the cut must not split one.
  std::string accents;
  for (int i = 0; i < 5000; ++i) accents += "\xC3\xA9";  // é
  const std::string doc =
      Log(R"([{"ruleId":")" + huge + R"(","message":{"text":")" + accents + R"(\n)" + huge +
          R"("},"locations":[{"physicalLocation":{"artifactLocation":{"uri":")" + huge +
          R"("}}}],"properties":{"package":")" + huge + R"("}}])");
  const ParsedScan scan = MustRead(doc);
  ASSERT_EQ(scan.findings.size(), 1u);
  const domain::Finding& f = scan.findings[0];
  EXPECT_EQ(CountRunes(f.title), 1000u);
  EXPECT_TRUE(EndsWith(f.title, "\xE2\x80\xA6"));
  EXPECT_TRUE(IsValidUtf8(f.title));
  EXPECT_EQ(CountRunes(f.description), 65536u);
  EXPECT_TRUE(IsValidUtf8(f.description));
  EXPECT_EQ(CountRunes(f.rule_id), 500u);
  EXPECT_LE(CountRunes(f.location.path), 4096u);
  EXPECT_EQ(CountRunes(f.location.component), 500u);
  EXPECT_GE(scan.truncated, 4);
  EXPECT_LE(f.fingerprint.size(), 512u);
}

TEST(SarifLimits, ControlCharactersNeverReachATitle) {
  const std::string doc =
      Log(R"([{"message":{"text":"line one\u0007\u0000 and\u0085 more\r\nline two"}}])");
  const ParsedScan scan = MustRead(doc);
  ASSERT_EQ(scan.findings.size(), 1u);
  EXPECT_EQ(scan.findings[0].title, "line one and more");
  EXPECT_EQ(scan.findings[0].description.find('\r'), std::string::npos);
  EXPECT_EQ(scan.findings[0].description.find('\0'), std::string::npos);
}

TEST(Gzip, GzippedLogReadsLikeThePlainOne) {
  const std::string plain = Fixture("semgrep.sarif");
  const ParsedScan a = MustRead(plain);
  const ParsedScan b = MustRead(Gzip(plain));
  ASSERT_EQ(a.findings.size(), b.findings.size());
  for (size_t i = 0; i < a.findings.size(); ++i) {
    EXPECT_EQ(a.findings[i].fingerprint, b.findings[i].fingerprint);
  }
  auto owned = ReadSarifBuffer(Gzip(plain));
  ASSERT_TRUE(owned.has_value());
  EXPECT_EQ(owned->findings.size(), a.findings.size());
}

TEST(Gzip, ConcatenatedMembersAreOneStream) {
  const std::string plain = Fixture("trivy.sarif");
  const std::string two = Gzip(plain.substr(0, 1000)) + Gzip(plain.substr(1000));
  auto out = Gunzip(two, 1 << 20);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(*out, plain);
  EXPECT_EQ(MustRead(two).findings.size(), 4u);
}

TEST(Gzip, PaddingFollowsTheOutput) {
  auto out = Gunzip(Gzip("{}"), 100, 64);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->size(), 66u);
  EXPECT_EQ(out->substr(0, 2), "{}");
}

// 32 MiB of zeros in ~150 KB, made once.
const std::string& Bomb() {
  static const std::string bomb = Gzip(std::string(32 << 20, '\0'), 1);
  return bomb;
}

TEST(Gzip, BombStopsAtTheCap) {
  const std::string& bomb = Bomb();
  ASSERT_LT(bomb.size(), 256u << 10);  // over 128:1
  SarifLimits limits;
  limits.max_inflated_bytes = 8 << 20;
  const Error e = MustFail(bomb, limits);
  EXPECT_EQ(e.code, "payload_too_large");
  EXPECT_THAT(e.message, HasSubstr("more than 8 MiB"));
}

TEST(Gzip, BombThatLiesAboutItsSizeStopsAtTheCap) {
  std::string bomb = Bomb();
  // Claim 100 bytes in the trailer: the counting pass still stops at the cap.
  bomb[bomb.size() - 4] = 100;
  for (size_t i = bomb.size() - 3; i < bomb.size(); ++i) bomb[i] = 0;
  auto r = Gunzip(bomb, 8 << 20);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "payload_too_large");
  EXPECT_THAT(r.error().message, HasSubstr("more than 8 MiB"));
}

TEST(Gzip, TruncatedOrCorruptStreamIsInvalid) {
  const std::string gz = Gzip(Fixture("codeql.sarif"));
  const Error truncated = MustFail(gz.substr(0, gz.size() / 2));
  EXPECT_EQ(truncated.code, "invalid_sarif");
  EXPECT_THAT(truncated.message, HasSubstr("truncated"));
  std::string corrupt = gz;
  corrupt[corrupt.size() / 2] ^= 0x55;
  corrupt[corrupt.size() / 2 + 1] ^= 0x55;
  const Error bad = MustFail(corrupt);
  EXPECT_EQ(bad.code, "invalid_sarif");
  EXPECT_THAT(bad.message, HasSubstr("gzip"));
}

TEST(Gzip, GzipOfNotJsonIsInvalidSarif) {
  EXPECT_EQ(MustFail(Gzip("hello")).code, "invalid_sarif");
}

TEST(Sarif, LogWithEscapedKeysReadsTheSame) {
  // "results" spelled with an escape is the same key; that log is parsed in one piece rather
  // than result by result, with the same outcome.
  const std::string plain = Fixture("codeql.sarif");
  const ParsedScan a = MustRead(plain);
  const ParsedScan b = MustRead(ReplaceOnce(plain, R"("results": [)", R"("re\u0073ults": [)"));
  ASSERT_EQ(a.findings.size(), b.findings.size());
  for (size_t i = 0; i < a.findings.size(); ++i) {
    EXPECT_EQ(a.findings[i].fingerprint, b.findings[i].fingerprint);
    EXPECT_EQ(a.findings[i].title, b.findings[i].title);
  }
}

TEST(Sarif, ResultsOfSeveralRunsAndArraysStayWithTheirRun) {
  const std::string r1 = R"({"ruleId":"a","message":{"text":"m"}})";
  const std::string r2 = R"({"ruleId":"b","message":{"text":"m"}})";
  const std::string doc =
      R"({"version":"2.1.0","runs":[{"results":[)" + r1 +
      R"(],"tool":{"driver":{"name":"One","rules":[{"id":"a","shortDescription":{"text":"rule a of one"}}]}}},)" +
      R"({"tool":{"driver":{"name":"One","rules":[{"id":"b","shortDescription":{"text":"rule b of two"}}]}},"results":[)" +
      r2 + "]}]}";
  const ParsedScan scan = MustRead(doc);
  ASSERT_EQ(scan.findings.size(), 2u);
  EXPECT_EQ(scan.findings[0].title, "rule a of one");
  EXPECT_EQ(scan.findings[1].title, "rule b of two");
}

TEST(Sarif, BigLogsReadTheSameWhateverComesAfterTheirResults) {
  // MiBs of results in two runs: the reader gives the pages of results it has read back
  // to the system and cuts the arrays out before reading the rest of each run, so what comes
  // after the results (run 0's tool and artifacts; run 1's invocation) must still be intact.
  constexpr int kPerRun = 5000;  // more than one chunk of raw results
  const auto results = [](const std::string& rule, const std::string& dir) {
    std::string out;
    for (int i = 0; i < kPerRun; ++i) {
      if (i > 0) out += ",";
      out += R"({"ruleId":")" + rule + R"(","message":{"text":"finding )" + std::to_string(i) +
             R"( with some words to make the log big enough to span many pages of memory"},)" +
             R"("locations":[{"physicalLocation":{"artifactLocation":{"index":0},)" +
             R"("region":{"startLine":)" + std::to_string(i + 1) +
             R"(,"snippet":{"text":")" + dir + "/" + std::to_string(i) + R"("}}}}]})";
    }
    return out;
  };
  const std::string doc =
      R"({"version":"2.1.0","runs":[{"results":[)" + results("a", "one") +
      R"(],"tool":{"driver":{"name":"Tool","rules":[{"id":"a","shortDescription":{"text":"rule a"}}]}},)" +
      R"("artifacts":[{"location":{"uri":"src/one.c"}}]},)" +
      R"({"tool":{"driver":{"name":"Tool","rules":[{"id":"b","shortDescription":{"text":"rule b"}}]}},)" +
      R"("artifacts":[{"location":{"uri":"src/two.c"}}],"results":[)" + results("b", "two") +
      R"(],"invocations":[{"executionSuccessful":false}]}]})";
  ASSERT_GT(doc.size(), size_t{2} << 20);  // pages are given back in steps of 1 MiB
  for (const bool in_place : {false, true}) {
    SCOPED_TRACE(in_place ? "ReadSarifBuffer" : "ReadSarif");
    std::string copy = doc;
    auto read = in_place ? ReadSarifBuffer(std::move(copy)) : ReadSarif(doc);
    ASSERT_TRUE(read) << read.error().message;
    ASSERT_EQ(read->findings.size(), 2u * kPerRun);
    for (int i = 0; i < 2 * kPerRun; ++i) {
      const auto& f = read->findings[i];
      const bool first = i < kPerRun;
      ASSERT_EQ(f.title, first ? "rule a" : "rule b") << i;
      ASSERT_EQ(f.location.path, first ? "src/one.c" : "src/two.c") << i;
      ASSERT_EQ(f.location.line, (first ? i : i - kPerRun) + 1) << i;
    }
    EXPECT_FALSE(read->succeeded) << "run 1's invocation, after its results, was read";
  }
}

TEST(Sarif, ByteOrderMarkIsTolerated) {
  EXPECT_EQ(MustRead("\xEF\xBB\xBF" + Fixture("gitleaks.sarif")).findings.size(), 3u);
}

TEST(Sarif, ReadSarifBufferParsesInPlace) {
  std::string doc = Fixture("codeql.sarif");
  doc.reserve(doc.size() + 64);
  auto r = ReadSarifBuffer(std::move(doc));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->findings.size(), 3u);
}

TEST(Sarif, EmptyLogIsCompleteWithNoFindings) {
  const ParsedScan scan = MustRead(Log("[]"));
  EXPECT_TRUE(scan.findings.empty());
  EXPECT_TRUE(scan.complete);
  EXPECT_TRUE(scan.succeeded);
}

TEST(Sarif, NoRunsIsNotACompleteScan) {
  const ParsedScan scan = MustRead(R"({"version":"2.1.0","runs":[]})", {}, "semgrep");
  EXPECT_EQ(scan.scanner, "semgrep");
  EXPECT_FALSE(scan.complete);
  EXPECT_EQ(MustFail(R"({"version":"2.1.0","runs":[]})").field, "/runs");
}

TEST(Sarif, NullRunsMeanTheToolFailed) {
  const ParsedScan scan = MustRead(R"({"version":"2.1.0","runs":null})", {}, "semgrep");
  EXPECT_FALSE(scan.succeeded);
  EXPECT_FALSE(scan.complete);
  EXPECT_THAT(scan.error, HasSubstr("failed"));
}

TEST(Sarif, AbsentResultsMeanNotComputed) {
  const ParsedScan scan =
      MustRead(R"({"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T"}}}]})");
  EXPECT_TRUE(scan.succeeded);
  EXPECT_FALSE(scan.complete);
  EXPECT_THAT(scan.error, HasSubstr("did not compute its results"));
}

TEST(Sarif, FailedExecutionMakesTheScanFailedWithTheToolsMessage) {
  const ParsedScan scan = MustRead(Log(
      "[" + std::string(kResult) + "]",
      R"(,"invocations":[{"executionSuccessful":false,"exitCode":2,"toolExecutionNotifications":[
          {"level":"warning","message":{"text":"slow"}},
          {"level":"error","message":{"text":"out of memory while analysing\nthe database"}}]}])"));
  EXPECT_FALSE(scan.succeeded);
  EXPECT_FALSE(scan.complete);
  EXPECT_EQ(scan.error, "out of memory while analysing the database");
  EXPECT_EQ(scan.notes, std::vector<std::string>{"out of memory while analysing the database"});
  EXPECT_EQ(scan.findings.size(), 1u);  // what it found is still reported
}

TEST(Sarif, ErrorNotificationNamesAnUnscannedFile) {
  const ParsedScan scan =
      MustRead(Log("[]",
                   R"(,"invocations":[{"executionSuccessful":true,"toolExecutionNotifications":[
          {"level":"error","message":{"text":"syntax error"},
           "locations":[{"physicalLocation":{"artifactLocation":{"uri":"./src/broken.js"}}}]}]}])"));
  EXPECT_TRUE(scan.succeeded);
  EXPECT_TRUE(scan.complete);
  EXPECT_EQ(scan.unscanned_paths, std::vector<std::string>{"src/broken.js"});
  EXPECT_EQ(scan.notes, std::vector<std::string>{"syntax error"});
}

TEST(Sarif, SuppressedPassingAndAbsentResultsAreNotFindings) {
  const std::string doc = Log(R"([
      {"ruleId":"a","message":{"text":"suppressed in source"},"suppressions":[{"kind":"inSource"}]},
      {"ruleId":"b","message":{"text":"under review"},"suppressions":[{"kind":"external","status":"underReview"}]},
      {"ruleId":"c","message":{"text":"rejected"},"suppressions":[{"kind":"external","status":"rejected"}]},
      {"ruleId":"d","message":{"text":"passes"},"kind":"pass"},
      {"ruleId":"e","message":{"text":"n/a"},"kind":"notApplicable"},
      {"ruleId":"f","message":{"text":"gone"},"baselineState":"absent"},
      {"ruleId":"g","message":{"text":"still here"},"baselineState":"unchanged"}])");
  const ParsedScan scan = MustRead(doc);
  EXPECT_EQ(scan.results, 7);
  EXPECT_EQ(scan.suppressed, 2);
  EXPECT_EQ(scan.not_findings, 2);
  ASSERT_EQ(scan.findings.size(), 3u);
  EXPECT_EQ(scan.findings[0].rule_id, "b");
  EXPECT_EQ(scan.findings[1].rule_id, "c");
  EXPECT_EQ(scan.findings[2].rule_id, "g");
}

TEST(Sarif, UnknownMembersAndNullOptionalsAreIgnored) {
  const std::string doc = Log(
      R"([{"ruleId":null,"message":{"text":"m","markdown":"**m**"},"locations":null,"fingerprints":null,
           "stacks":[{"frames":[]}],"properties":{"tags":null,"security-severity":"not a number"}}])",
      R"(,"newLineSequences":["\r\n"],"x-custom":{"a":[1,2,{"b":null}]})");
  const ParsedScan scan = MustRead(doc);
  ASSERT_EQ(scan.findings.size(), 1u);
  EXPECT_EQ(scan.findings[0].severity, domain::Severity::kMedium);  // default level warning
}

}  // namespace
}  // namespace tocsin::ingest

namespace tocsin::ingest {
namespace {

// Damaged copies of every fixture (bytes flipped, deleted, duplicated; cut short), from a fixed
// seed: each read ends in findings or an error with a code, never a crash (the sanitizer build
// checks for undefined behaviour too).
TEST(SarifRobustness, DamagedLogsEndInFindingsOrAnError) {
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int errors = 0, reads = 0;
  for (const char* name :
       {"codeql.sarif", "semgrep.sarif", "trivy.sarif", "gitleaks.sarif", "zap.sarif"}) {
    const std::string original = testing::Fixture(name);
    for (int round = 0; round < 300; ++round) {
      std::string doc = original;
      const int edits = 1 + static_cast<int>(next() % 4);
      for (int e = 0; e < edits && !doc.empty(); ++e) {
        const size_t at = next() % doc.size();
        switch (next() % 4) {
          case 0:
            doc[at] = static_cast<char>(next() & 0xFF);
            break;
          case 1:
            doc.erase(at, 1 + next() % 16);
            break;
          case 2:
            doc.insert(at, doc.substr(at, 1 + next() % 32));
            break;
          case 3:
            doc.resize(at);
            break;
        }
      }
      auto r = ReadSarif(doc);
      if (r) {
        ++reads;
        for (const auto& f : r->findings) {
          EXPECT_FALSE(f.fingerprint.empty());
          EXPECT_TRUE(IsValidUtf8(f.title));
        }
      } else {
        ++errors;
        EXPECT_TRUE(r.error().code == "invalid_sarif" || r.error().code == "payload_too_large")
            << r.error().code;
        EXPECT_FALSE(r.error().message.empty());
      }
    }
  }
  // Both outcomes happen, so the damage is neither always fatal nor always harmless.
  EXPECT_GT(errors, 100);
  EXPECT_GT(reads, 10);
}

}  // namespace
}  // namespace tocsin::ingest
