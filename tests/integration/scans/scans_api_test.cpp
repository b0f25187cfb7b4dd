// Uploading scans as CI does: baseline, new / fixed / back / moved findings, triage that stays
// silent, thresholds, digests, and hostile uploads — through the HTTP API, posts in the emulator.
#include <gtest/gtest.h>

#include <zlib.h>

#include <chrono>

#include "emulator.hpp"
#include "support/emulator_world.hpp"
#include "support/tocsin_server.hpp"

namespace tocsin {
namespace {

using nlohmann::json;
using testing::TocsinServer;
using namespace std::chrono_literals;

struct Result_ {
  std::string rule;
  std::string path;
  int line = 1;
  std::string level = "error";
  std::string message = "";
};

// A Semgrep-shaped SARIF document: rules in tool.driver, no fingerprints (identity from rule +
// path + snippet).
std::string Sarif(const std::vector<Result_>& results, const std::string& tool = "semgrep") {
  json rules = json::array();
  json res = json::array();
  for (const auto& r : results) {
    rules.push_back({{"id", r.rule},
                     {"shortDescription", {{"text", "Rule " + r.rule}}},
                     {"properties", {{"tags", {"CWE-89"}}}}});
    res.push_back({{"ruleId", r.rule},
                   {"level", r.level},
                   {"message", {{"text", r.message.empty() ? "Found " + r.rule : r.message}}},
                   {"locations",
                    {{{"physicalLocation",
                       {{"artifactLocation", {{"uri", r.path}}},
                        {"region", {{"startLine", r.line}, {"snippet", {{"text", "query(" + r.rule + ")"}}}}}}}}}}});
  }
  json doc = {{"version", "2.1.0"},
              {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
              {"runs", {{{"tool", {{"driver", {{"name", tool}, {"rules", rules}}}}}, {"results", res}}}}};
  return doc.dump();
}

std::string Gzip(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

class ScansApi : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(emu_.Start());
    const auto w = testing::SeedSecurityTeam(emu_);
    team_ = w.team;
    alerts_ = w.alerts;
    bot_ = w.bot;
    ASSERT_EQ(server_.Put("/api/v1/integrations/mattermost",
                          {{"url", emu_.base_url()}, {"token", w.token}})
                  .status,
              200);
    ASSERT_EQ(server_.Post("/api/v1/projects", {{"name", "acme-web"}}).status, 201);
  }

  void Link(const json& link) {
    auto r = server_.Put("/api/v1/projects/acme-web/integrations/mattermost", link);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  testing::HttpReply Upload(const std::string& body, const std::string& query = "?branch=main",
                            const std::string& content_type = "application/sarif+json") {
    return server_.Send("POST", "/api/v1/projects/acme-web/scans" + query, body, content_type);
  }
  json UploadOk(const std::string& body, const std::string& query = "?branch=main") {
    auto r = Upload(body, query);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.Json();
  }
  json Findings(const std::string& query = "") {
    return server_.Get("/api/v1/projects/acme-web/findings" + query).Json()["items"];
  }
  json Settle() {
    json items;
    for (int i = 0; i < 200; ++i) {
      items = server_.Get("/api/v1/deliveries?limit=500").Json()["items"];
      bool busy = false;
      for (const auto& d : items) busy |= d["state"] == "pending" || d["state"] == "sending";
      if (!busy) return items;
      emu_.WaitForPosts(emu_.TotalPosts() + 1, 50ms);
    }
    ADD_FAILURE() << "deliveries did not settle";
    return items;
  }
  std::vector<mmemu::Post> Posts() {
    Settle();
    return emu_.Posts(alerts_);
  }

  mmemu::Emulator emu_;
  // A 16 MiB scan limit keeps the gzip-bomb case cheap to build.
  TocsinServer server_{[](config::Settings& s) { s.max_scan_body = 16 << 20; }};
  std::string team_, alerts_, bot_;
};

TEST_F(ScansApi, FirstScanIsABaselineWithOneSummaryPost) {
  Link({{"routes", {{{"channel", "security/alerts"}, {"events", {"vulnerability.new", "scan.completed"}}}}}});
  auto s = UploadOk(Sarif({{"sqli", "src/db.js", 10}, {"xss", "src/view.js", 5, "warning"}, {"ssrf", "src/http.js", 7}}));
  EXPECT_EQ(s["baseline"], true);
  EXPECT_EQ(s["new"], 3);
  EXPECT_EQ(s["scanner"], "semgrep");
  EXPECT_EQ(s["branch"], "main");
  EXPECT_EQ(s["counts"]["high"], 2);
  EXPECT_EQ(s["counts"]["medium"], 1);
  auto posts = Posts();
  ASSERT_EQ(posts.size(), 1u) << "a baseline is one summary, not a post per finding";
  EXPECT_NE(posts[0].props.dump().find("aseline"), std::string::npos) << posts[0].props.dump();
  EXPECT_EQ(Findings().size(), 3u);
}

TEST_F(ScansApi, BaselineFullOptsIntoOnePostPerFinding) {
  Link({{"routes", {{{"channel", "security/alerts"}, {"events", {"vulnerability.new"}}, {"baseline", "full"}}}}});
  UploadOk(Sarif({{"sqli", "src/db.js", 10}, {"xss", "src/view.js", 5}}));
  EXPECT_EQ(Posts().size(), 2u);
}

TEST_F(ScansApi, RescansFindNewFixedMovedAndReturningFindings) {
  Link({{"routes", {{{"channel", "security/alerts"},
                     {"events", {"vulnerability.new", "vulnerability.status_changed"}}}}}});
  UploadOk(Sarif({{"sqli", "src/db.js", 10}, {"xss", "src/view.js", 5}}));
  ASSERT_EQ(Posts().size(), 1u);  // the baseline summary

  // sqli moved down the file (same finding), xss fixed, ssrf new.
  auto s = UploadOk(Sarif({{"sqli", "src/db.js", 42}, {"ssrf", "src/http.js", 7}}));
  EXPECT_EQ(s["baseline"], false);
  EXPECT_EQ(s["new"], 1);
  EXPECT_EQ(s["resolved"], 1);
  EXPECT_EQ(s["unchanged"], 1);
  EXPECT_EQ(Findings("?status=open").size(), 2u);
  EXPECT_EQ(Findings("?status=resolved").size(), 1u);
  for (const auto& f : Findings()) {
    // Unchanged but moved: the stored finding follows it (a rescan rewrites what changed).
    if (f["rule_id"] == "sqli") {
      EXPECT_EQ(f["location"]["line"], 42) << f.dump();
    }
  }
  auto posts = Posts();
  ASSERT_EQ(posts.size(), 3u) << "baseline, ssrf new, xss resolved";
  EXPECT_NE(posts[1].props.dump().find("Rule ssrf"), std::string::npos);

  // xss is back: re-opened.
  s = UploadOk(Sarif({{"sqli", "src/db.js", 42}, {"ssrf", "src/http.js", 7}, {"xss", "src/view.js", 9}}));
  EXPECT_EQ(s["reopened"], 1);
  EXPECT_EQ(s["new"], 0);
  EXPECT_EQ(Findings("?status=open").size(), 3u);
  EXPECT_EQ(Posts().size(), 4u);
}

TEST_F(ScansApi, TriagedFindingsStaySilentAcrossRescans) {
  Link({{"routes", {{{"channel", "security/alerts"},
                     {"events", {"vulnerability.new", "vulnerability.status_changed"}}}}}});
  UploadOk(Sarif({{"sqli", "src/db.js", 10}}));
  const int64_t id = Findings()[0]["id"];
  auto r = server_.Send("PATCH", "/api/v1/findings/" + std::to_string(id),
                        json{{"status", "false_positive"}, {"comment", "test fixture"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const size_t before = Posts().size();
  auto s = UploadOk(Sarif({{"sqli", "src/db.js", 12}}));
  EXPECT_EQ(s["silent"], 1);
  EXPECT_EQ(s["new"], 0);
  EXPECT_EQ(Findings()[0]["status"], "false_positive");
  s = UploadOk(Sarif({}));  // gone: a triaged finding is not "resolved" either
  EXPECT_EQ(s["resolved"], 0);
  EXPECT_EQ(Posts().size(), before);
}

TEST_F(ScansApi, RaisedSeverityCrossesAThreshold) {
  Link({{"routes", {{{"channel", "security/alerts"}, {"events", {"vulnerability.threshold_crossed"}}}}},
        {"thresholds", {{{"severity", "high"}, {"count", 2}}}}});
  UploadOk(Sarif({{"sqli", "src/db.js", 10, "error"}, {"xss", "src/view.js", 5, "warning"}}));
  EXPECT_EQ(Posts().size(), 0u) << "one high: below the threshold of 2";
  UploadOk(Sarif({{"sqli", "src/db.js", 10, "error"}, {"xss", "src/view.js", 5, "error"}}));
  auto posts = Posts();
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_NE(posts[0].message.find("above"), std::string::npos) << posts[0].message;
}

TEST_F(ScansApi, ManyNewFindingsBecomeOneDigestWithTheListInItsThread) {
  Link({{"routes", {{{"channel", "security/alerts"}, {"events", {"vulnerability.new"}}, {"digest_threshold", 5}}}}});
  UploadOk(Sarif({{"base", "src/a.js", 1}}));  // baseline: its one summary post
  ASSERT_EQ(Posts().size(), 1u);
  std::vector<Result_> many;
  for (int i = 0; i < 40; ++i) many.push_back({"rule" + std::to_string(i), "src/f" + std::to_string(i) + ".js", i + 1});
  many.push_back({"base", "src/a.js", 1});
  auto s = UploadOk(Sarif(many));
  EXPECT_EQ(s["new"], 40);
  auto posts = Posts();
  ASSERT_FALSE(posts.empty());
  size_t roots = 0;
  for (const auto& p : posts) roots += p.root_id.empty();
  EXPECT_EQ(roots, 2u) << "the baseline summary and one digest root, not 40 posts ("
                       << posts.size() << " posts)";
  EXPECT_GE(posts.size(), 3u) << "the full list is in the digest's thread";
  for (const auto& p : posts) EXPECT_LE(p.message.size(), 16383u);
}

TEST_F(ScansApi, AStatusChangeOfAFindingListedInADigestRepliesInTheDigestsThread) {
  Link({{"routes", {{{"channel", "security/alerts"},
                     {"events", {"vulnerability.new", "vulnerability.status_changed"}},
                     {"digest_threshold", 5}}}}});
  UploadOk(Sarif({{"base", "src/a.js", 1}}));  // baseline
  std::vector<Result_> many;
  for (int i = 0; i < 12; ++i) many.push_back({"rule" + std::to_string(i), "src/f" + std::to_string(i) + ".js", i + 1});
  many.push_back({"base", "src/a.js", 1});
  UploadOk(Sarif(many));
  auto posts = Posts();
  std::string digest;
  for (const auto& p : posts) {
    if (p.root_id.empty() && p.props.contains("tocsin_digest_count")) digest = p.id;
  }
  ASSERT_FALSE(digest.empty()) << "12 new findings over a threshold of 5 are one digest";

  // rule3 is triaged: the change is announced in the thread where it was listed.
  int64_t id = 0;
  for (const auto& f : Findings()) {
    if (f["rule_id"] == "rule3") id = f["id"].get<int64_t>();
  }
  ASSERT_GT(id, 0);
  auto r = server_.Send("PATCH", "/api/v1/findings/" + std::to_string(id),
                        json{{"status", "false_positive"}, {"comment", "test fixture"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const size_t before = posts.size();
  posts = Posts();
  ASSERT_EQ(posts.size(), before + 1);
  EXPECT_EQ(posts.back().root_id, digest) << posts.back().message;
  EXPECT_NE(posts.back().message.find("false"), std::string::npos) << posts.back().message;
  EXPECT_EQ(emu_.GetPost(digest)->edit_at, 0) << "the digest is about many findings: not patched";
}

TEST_F(ScansApi, GzipUploadsAreAccepted) {
  auto r = Upload(Gzip(Sarif({{"sqli", "src/db.js", 10}})), "?branch=main", "application/gzip");
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.Json()["new"], 1);
}

TEST_F(ScansApi, BrokenAndHostileUploadsGetAClearErrorAndStoreNothing) {
  auto r = Upload("this is not json");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.Json()["error"]["code"], "invalid_sarif");

  r = Upload(R"({"version":"2.0.0","runs":[]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["field"], "/version") << r.body;

  r = Upload(R"({"version":"2.1.0"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.Json()["error"]["message"].get<std::string>().find("runs"), std::string::npos) << r.body;

  r = Upload(std::string(100000, '[') + std::string(100000, ']'));
  EXPECT_EQ(r.status, 400) << r.body;

  std::string bad_utf8 = Sarif({{"sqli", "src/db.js", 10, "error", "bad BYTES here"}});
  bad_utf8.replace(bad_utf8.find("BYTES"), 5, "\xff\xfe");
  r = Upload(bad_utf8);
  EXPECT_EQ(r.status, 400) << r.body;

  // 64 MiB of zeros compress to about 64 KiB: refused (limit 16 MiB) without inflating it all.
  std::string zeros(16 << 20, '\0');
  std::string bomb;
  {
    z_stream z{};
    deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    std::string out(1 << 20, '\0');
    for (int i = 0; i < 4; ++i) {
      z.next_in = reinterpret_cast<Bytef*>(zeros.data());
      z.avail_in = static_cast<uInt>(zeros.size());
      do {
        z.next_out = reinterpret_cast<Bytef*>(out.data());
        z.avail_out = static_cast<uInt>(out.size());
        deflate(&z, i == 3 ? Z_FINISH : Z_NO_FLUSH);
        bomb.append(out.data(), out.size() - z.avail_out);
      } while (z.avail_out == 0);
    }
    deflateEnd(&z);
  }
  r = Upload(bomb, "?branch=main", "application/gzip");
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(r.Json()["error"]["code"], "payload_too_large");

  r = Upload(Sarif({{"sqli", "src/db.js", 10}}), "?branch=main", "text/plain");
  EXPECT_EQ(r.status, 415);
  r = server_.Send("POST", "/api/v1/projects/nope/scans", Sarif({}), "application/json");
  EXPECT_EQ(r.status, 404);

  EXPECT_EQ(Findings().size(), 0u);
  EXPECT_EQ(server_.Get("/api/v1/projects/acme-web/scans").Json()["items"].size(), 0u);
  EXPECT_EQ(server_.Get("/healthz", "").status, 200);
}

TEST_F(ScansApi, BranchAndScannerFollowTheEventRulesInCharactersNotBytes) {
  Link({{"routes", {{{"channel", "security/alerts"}, {"events", {"scan.completed"}}}}}});
  std::string long_branch;
  for (int i = 0; i < 150; ++i) long_branch += "\xC3\xA9";  // 150 characters, 300 bytes
  const std::string doc = Sarif({{"sqli", "src/db.js", 10}});
  auto ok = Upload(doc, "?branch=" + long_branch);
  EXPECT_EQ(ok.status, 201) << ok.body;
  auto c1 = Upload(doc, "?branch=main%C2%85x");  // U+0085, a C1 control (NEL)
  EXPECT_EQ(c1.status, 400) << c1.body;
  EXPECT_EQ(c1.Json()["error"]["field"], "branch");
  auto scanner = Upload(doc, "?branch=main&scanner=a%C2%9Bb");
  EXPECT_EQ(scanner.status, 400) << scanner.body;
  EXPECT_EQ(scanner.Json()["error"]["field"], "scanner");
}

TEST_F(ScansApi, ScansAreListedNewestFirst) {
  UploadOk(Sarif({{"sqli", "src/db.js", 10}}));
  UploadOk(Sarif({}), "?branch=feature-x&scanner=semgrep-ci");
  auto items = server_.Get("/api/v1/projects/acme-web/scans").Json()["items"];
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0]["branch"], "feature-x");
  EXPECT_EQ(items[0]["scanner"], "semgrep-ci");
  EXPECT_EQ(items[1]["baseline"], true);
}

}  // namespace
}  // namespace tocsin
