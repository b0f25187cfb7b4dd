// Event JSON (SPEC §5). The data-driven cases live in tests/data/ingest/: invalid/*.json hold a
// body and the JSON pointer (plus a message fragment) the error must name; valid/*.json hold a
// body and the EventToJson form of what it must read as. The C++ tests below cover what a data
// file cannot express well (limits, very long values, the API of the result).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "ingest/event_reader.hpp"

namespace tocsin::ingest {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json LoadJson(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

std::vector<std::string> CaseFiles(const std::string& sub) {
  std::vector<std::string> out;
  const fs::path dir = fs::path(TOCSIN_TEST_DATA_DIR) / "ingest" / sub;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".json") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string CaseName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = fs::path(info.param).stem().string();
  for (auto& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class InvalidEvent : public ::testing::TestWithParam<std::string> {};

TEST_P(InvalidEvent, IsRejectedNamingThePointer) {
  const json spec = LoadJson(GetParam());
  auto result = ReadEvents(spec.at("body"));
  ASSERT_FALSE(result.has_value()) << "accepted: " << spec.at("body").dump();
  EXPECT_EQ(result.error().code, "invalid_request");
  EXPECT_EQ(result.error().field, spec.at("field").get<std::string>()) << result.error().message;
  EXPECT_NE(result.error().message.find(spec.at("message").get<std::string>()), std::string::npos)
      << "message: " << result.error().message;
}

INSTANTIATE_TEST_SUITE_P(Data, InvalidEvent, ::testing::ValuesIn(CaseFiles("invalid")), CaseName);

class ValidEvent : public ::testing::TestWithParam<std::string> {};

TEST_P(ValidEvent, ReadsAsExpected) {
  const json spec = LoadJson(GetParam());
  auto result = ReadEvents(spec.at("body"));
  ASSERT_TRUE(result.has_value()) << result.error().field << ": " << result.error().message;
  json got = json::array();
  for (const auto& e : *result) got.push_back(EventToJson(e));
  EXPECT_EQ(got, spec.at("events")) << got.dump(2);
}

INSTANTIATE_TEST_SUITE_P(Data, ValidEvent, ::testing::ValuesIn(CaseFiles("valid")), CaseName);

TEST(EventReaderData, CaseFilesArePresent) {
  // Guards against a moved data directory turning the parameterized suites into zero tests.
  EXPECT_GE(CaseFiles("invalid").size(), 100u);
  EXPECT_GE(CaseFiles("valid").size(), 10u);
}

json NewEvent() {
  return json{{"type", "vulnerability.new"},
              {"project", "acme-web"},
              {"finding",
               {{"fingerprint", "semgrep:sqli:src/db.js"},
                {"title", "SQL injection in query()"},
                {"severity", "critical"}}}};
}

TEST(EventReader, ReadsOneEventIntoValues) {
  json body = NewEvent();
  body["id"] = "ci-4711-1";
  body["occurred_at"] = "2026-12-04T10:00:00Z";
  body["finding"]["location"] = {{"path", "src/db.js"}, {"line", 42}, {"component", "pg@8.7.1"}};
  body["finding"]["cvss"] = 9;
  auto events = ReadEvents(body);
  ASSERT_TRUE(events.has_value()) << events.error().message;
  ASSERT_EQ(events->size(), 1u);
  const EventInput& e = events->front();
  EXPECT_EQ(e.key, "ci-4711-1");
  EXPECT_EQ(e.type, domain::EventType::kVulnerabilityNew);
  EXPECT_EQ(e.project, "acme-web");
  ASSERT_TRUE(e.occurred_at.has_value());
  EXPECT_EQ(FormatRfc3339(*e.occurred_at), "2026-12-04T10:00:00.000Z");
  ASSERT_TRUE(e.finding.has_value());
  EXPECT_EQ(e.finding->project, "acme-web");
  EXPECT_EQ(e.finding->severity, domain::Severity::kCritical);
  EXPECT_EQ(e.finding->status, domain::FindingStatus::kOpen);
  EXPECT_EQ(e.finding->location.line, 42);
  EXPECT_EQ(e.finding->location.component, "pg@8.7.1");
  EXPECT_EQ(e.finding->cvss, 9.0);
  EXPECT_FALSE(e.status.has_value());
  EXPECT_FALSE(e.scan.has_value());
  EXPECT_FALSE(e.threshold.has_value());
}

TEST(EventReader, StatusChangeCarriesStatusAndComment) {
  json body = {{"type", "vulnerability.status_changed"},
               {"project", "acme-web"},
               {"finding", {{"fingerprint", "x"}}},
               {"status", "accepted_risk"},
               {"comment", "vendor fix due in Q3"}};
  auto events = ReadEvents(body);
  ASSERT_TRUE(events.has_value()) << events.error().message;
  const EventInput& e = events->front();
  EXPECT_EQ(e.status, domain::FindingStatus::kAcceptedRisk);
  EXPECT_EQ(e.comment, "vendor fix due in Q3");
  EXPECT_FALSE(e.finding_severity_given);
  EXPECT_FALSE(EventToJson(e)["finding"].contains("severity"));
}

TEST(EventReader, ScanCountsAndTimesAreRead) {
  json body = {{"type", "scan.completed"},
               {"project", "acme-web"},
               {"scan",
                {{"scanner", "trivy"},
                 {"status", "failed"},
                 {"started_at", "2026-12-04T10:00:00Z"},
                 {"finished_at", "2026-12-04T10:00:05Z"},
                 {"error", "exit code 2"},
                 {"counts", {{"critical", 1}, {"info", 7}}}}}};
  auto events = ReadEvents(body);
  ASSERT_TRUE(events.has_value()) << events.error().message;
  const ScanInfo& s = *events->front().scan;
  EXPECT_EQ(s.scanner, "trivy");
  EXPECT_EQ(s.branch, "default");
  EXPECT_FALSE(s.succeeded);
  EXPECT_EQ(s.error, "exit code 2");
  EXPECT_EQ(s.counts[static_cast<int>(domain::Severity::kCritical)], 1);
  EXPECT_EQ(s.counts[static_cast<int>(domain::Severity::kInfo)], 7);
  EXPECT_EQ(s.counts[static_cast<int>(domain::Severity::kHigh)], 0);
  ASSERT_TRUE(s.started_at && s.finished_at);
  EXPECT_EQ(*s.finished_at - *s.started_at, std::chrono::seconds(5));
}

TEST(EventReader, ThresholdMembersAreRead) {
  json body = {{"type", "vulnerability.threshold_crossed"},
               {"project", "acme-web"},
               {"severity", "medium"},
               {"threshold", 10},
               {"count", 9},
               {"direction", "below"}};
  auto events = ReadEvents(body);
  ASSERT_TRUE(events.has_value()) << events.error().message;
  const ThresholdInfo& t = *events->front().threshold;
  EXPECT_EQ(t.severity, domain::Severity::kMedium);
  EXPECT_EQ(t.threshold, 10);
  EXPECT_EQ(t.count, 9);
  EXPECT_FALSE(t.above);
}

TEST(EventReader, BatchAtTheLimitIsAcceptedAndOneMoreIsRefusedNamingTheLimit) {
  json body = {{"events", json::array()}};
  for (int i = 0; i < 5; ++i) body["events"].push_back(NewEvent());
  auto ok = ReadEvents(body, 5);
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->size(), 5u);

  body["events"].push_back(NewEvent());
  auto too_many = ReadEvents(body, 5);
  ASSERT_FALSE(too_many.has_value());
  EXPECT_EQ(too_many.error().field, "/events");
  EXPECT_NE(too_many.error().message.find("at most 5"), std::string::npos);
  EXPECT_NE(too_many.error().hint.find("5"), std::string::npos);
}

TEST(EventReader, DefaultLimitIsTenThousand) {
  json body = {{"events", json::array()}};
  for (int i = 0; i < 10001; ++i) body["events"].push_back(json::object());
  auto r = ReadEvents(body);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("at most 10000"), std::string::npos);
}

TEST(EventReader, DescriptionLimitCountsCharactersNotBytes) {
  json body = NewEvent();
  // 65536 two-byte characters: 131072 bytes, still within the 65536-character limit.
  std::string description;
  for (int i = 0; i < 65536; ++i) description += "\xC3\xBC";
  body["finding"]["description"] = description;
  EXPECT_TRUE(ReadEvents(body).has_value());
  description += "x";
  body["finding"]["description"] = description;
  auto r = ReadEvents(body);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().field, "/finding/description");
  EXPECT_NE(r.error().message.find("65537 characters, at most 65536"), std::string::npos);
}

TEST(EventReader, LimitsAtTheirEdgesAreAccepted) {
  json body = NewEvent();
  body["id"] = std::string(200, 'k');
  body["finding"]["fingerprint"] = std::string(512, 'f');
  body["finding"]["title"] = std::string(1000, 't');
  body["finding"]["cvss"] = 10;
  body["finding"]["cwe"] = "CWE-1";
  body["finding"]["cve"] = "CVE-2014-1234567";
  body["project"] = std::string(64, 'a');
  auto r = ReadEvents(body);
  EXPECT_TRUE(r.has_value()) << r.error().field << ": " << r.error().message;
  body["finding"]["cvss"] = 0.0;
  EXPECT_TRUE(ReadEvents(body).has_value());
}

TEST(EventReader, InvalidUtf8InAJsonBuiltInCodeIsRefused) {
  // A parsed body cannot hold it (nlohmann refuses), but a json assembled in code can.
  json body = NewEvent();
  body["finding"]["title"] = std::string("bad \xFF byte");
  auto r = ReadEvents(body);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().field, "/finding/title");
}

TEST(EventReader, ErrorsCarryAHintWhereTheFixIsNotObvious) {
  json body = NewEvent();
  body["findings"] = json::array();
  auto r = ReadEvents(body);
  ASSERT_FALSE(r.has_value());
  EXPECT_FALSE(r.error().hint.empty());
}

TEST(EventReader, ReadEventPrefixesItsPointer) {
  json body = NewEvent();
  body["finding"]["severity"] = "nope";
  auto r = ReadEvent(body, "/events/7");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().field, "/events/7/finding/severity");
  EXPECT_NE(r.error().message.find("/events/7/finding/severity"), std::string::npos);
}

TEST(FindingToJson, LeavesOutEmptyOptionalsAndAddsStatusAndBranch) {
  domain::Finding f;
  f.fingerprint = "fp";
  f.title = "Title";
  f.severity = domain::Severity::kHigh;
  f.status = domain::FindingStatus::kFalsePositive;
  f.branch = "main";
  f.location.line = 3;
  EXPECT_EQ(FindingToJson(f), json::parse(R"({"fingerprint":"fp","title":"Title","severity":"high",
      "status":"false_positive","location":{"line":3},"branch":"main"})"));
}

TEST(ScanToJson, CarriesTheIngestCountsAndBaseline) {
  ScanInfo s;
  s.scanner = "semgrep";
  s.branch = "main";
  s.new_count = 3;
  s.resolved_count = 2;
  s.reopened_count = 1;
  s.baseline = true;
  s.counts[static_cast<int>(domain::Severity::kLow)] = 4;
  const json j = ScanToJson(s);
  EXPECT_EQ(j["new"], 3);
  EXPECT_EQ(j["resolved"], 2);
  EXPECT_EQ(j["reopened"], 1);
  EXPECT_EQ(j["baseline"], true);
  EXPECT_EQ(j["counts"]["low"], 4);
  EXPECT_EQ(j["status"], "succeeded");
  EXPECT_FALSE(j.contains("started_at"));
}

}  // namespace
}  // namespace tocsin::ingest
