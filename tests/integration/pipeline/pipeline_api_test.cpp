// Projects, links, events, findings and deliveries through the HTTP API, with posts arriving in
// the emulator: what a security team wiring Tocsin into CI meets.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "emulator.hpp"
#include "service/auth_service.hpp"
#include "store/store.hpp"
#include "support/emulator_world.hpp"
#include "support/tocsin_server.hpp"

namespace tocsin {
namespace {

using nlohmann::json;
using testing::TocsinServer;
using namespace std::chrono_literals;

class PipelineApi : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(emu_.Start());
    const auto w = testing::SeedSecurityTeam(emu_);
    team_ = w.team;
    alerts_ = w.alerts;
    bot_ = w.bot;
    token_ = w.token;
    scans_ = emu_.AddChannel(team_, "scans", 'O');
    incidents_ = emu_.AddChannel(team_, "incidents", 'P');
    emu_.AddChannelMember(scans_, bot_);
  }

  void Activate() {
    auto r = server_.Put("/api/v1/integrations/mattermost", {{"url", emu_.base_url()}, {"token", token_}});
    ASSERT_EQ(r.status, 200) << r.body;
  }
  void CreateProject(const std::string& name) {
    auto r = server_.Post("/api/v1/projects", {{"name", name}, {"display_name", "Acme Web"}});
    ASSERT_EQ(r.status, 201) << r.body;
  }
  void Link(const std::string& project, const json& link) {
    auto r = server_.Put("/api/v1/projects/" + project + "/integrations/mattermost", link);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  // On a server of the test's own: the integration on the emulator, and project acme-web
  // routed by `routes`.
  void LinkOn(TocsinServer& server, const json& routes) {
    ASSERT_EQ(
        server.Put("/api/v1/integrations/mattermost", {{"url", emu_.base_url()}, {"token", token_}})
            .status,
        200);
    ASSERT_EQ(server.Post("/api/v1/projects", {{"name", "acme-web"}}).status, 201);
    auto r = server.Put("/api/v1/projects/acme-web/integrations/mattermost", {{"routes", routes}});
    ASSERT_EQ(r.status, 200) << r.body;
  }
  static json NewFinding(const std::string& fp, const std::string& severity,
                         const std::string& title = "SQL injection in query()") {
    return {{"type", "vulnerability.new"},
            {"project", "acme-web"},
            {"finding",
             {{"fingerprint", fp},
              {"title", title},
              {"severity", severity},
              {"scanner", "semgrep"},
              {"cwe", "CWE-89"},
              {"location", {{"path", "src/db.js"}, {"line", 42}}}}}};
  }
  json PostEvents(const json& body, int expect = 202) {
    auto r = server_.Post("/api/v1/events", body);
    EXPECT_EQ(r.status, expect) << r.body;
    return r.Json();
  }
  // Waits (bounded) until `channel` has `n` posts.
  std::vector<mmemu::Post> WaitPosts(const std::string& channel, size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (emu_.Posts(channel).size() < n && std::chrono::steady_clock::now() < deadline) {
      emu_.WaitForPosts(emu_.TotalPosts() + 1, 200ms);
    }
    return emu_.Posts(channel);
  }
  // Waits until no delivery is pending or sending.
  json WaitDeliveriesSettled() {
    json items;
    for (int i = 0; i < 100; ++i) {
      items = server_.Get("/api/v1/deliveries?limit=500").Json()["items"];
      bool busy = false;
      for (const auto& d : items) busy |= d["state"] == "pending" || d["state"] == "sending";
      if (!busy) return items;
      emu_.WaitForPosts(emu_.TotalPosts() + 1, 100ms);
    }
    ADD_FAILURE() << "deliveries did not settle: " << items.dump();
    return items;
  }

  mmemu::Emulator emu_;
  TocsinServer server_;
  std::string team_, alerts_, scans_, incidents_, bot_, token_;
};

TEST_F(PipelineApi, ProjectsCrudWithFieldErrors) {
  CreateProject("acme-web");
  auto r = server_.Post("/api/v1/projects", {{"name", "acme-web"}});
  EXPECT_EQ(r.status, 409);
  r = server_.Post("/api/v1/projects", {{"name", "Acme Web"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["field"], "/name");
  r = server_.Post("/api/v1/projects", {{"name", "x"}, {"owner", "me"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["field"], "/owner");

  auto list = server_.Get("/api/v1/projects").Json();
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["display_name"], "Acme Web");
  r = server_.Send("PATCH", "/api/v1/projects/acme-web", json{{"url", "https://git.example/acme"}}.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(server_.Get("/api/v1/projects/acme-web").Json()["url"], "https://git.example/acme");
  EXPECT_EQ(server_.Delete("/api/v1/projects/acme-web").status, 204);
  EXPECT_EQ(server_.Get("/api/v1/projects/acme-web").status, 404);
}

TEST_F(PipelineApi, LinkIsValidatedFieldByField) {
  CreateProject("acme-web");
  auto put = [&](const json& link) {
    return server_.Put("/api/v1/projects/acme-web/integrations/mattermost", link);
  };
  auto r = put({{"routes", {{{"channel", "not a channel"}}}}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["field"], "/routes/0/channel");
  r = put({{"routes", {{{"channel", "security/alerts"}, {"events", {"vulnerability.old"}}}}}});
  EXPECT_EQ(r.Json()["error"]["field"], "/routes/0/events/0");
  r = put({{"routes", {{{"channel", "security/alerts"}, {"min_severity", "urgent"}}}}});
  EXPECT_EQ(r.Json()["error"]["field"], "/routes/0/min_severity");
  r = put({{"routes", {{{"channel", "security/alerts"}, {"digest_threshold", 0}}}}});
  EXPECT_EQ(r.Json()["error"]["field"], "/routes/0/digest_threshold");
  r = put({{"routes", {{{"channel", "security/alerts"}, {"colour", "red"}}}}});
  EXPECT_EQ(r.Json()["error"]["field"], "/routes/0/colour");
  r = put({{"thresholds", {{{"severity", "high"}, {"count", -1}}}}});
  EXPECT_EQ(r.Json()["error"]["field"], "/thresholds/0/count");

  json good = {{"enabled", true},
               {"routes", {{{"channel", "security/alerts"}, {"events", {"vulnerability.new"}}, {"min_severity", "high"}},
                           {{"channel", scans_}, {"events", {"scan.completed"}}}}},
               {"thresholds", {{{"severity", "high"}, {"count", 3}}}}};
  r = put(good);
  ASSERT_EQ(r.status, 200) << r.body;
  auto back = server_.Get("/api/v1/projects/acme-web/integrations/mattermost").Json();
  EXPECT_EQ(back["routes"][0]["channel"], "security/alerts");
  EXPECT_EQ(back["routes"][0]["min_severity"], "high");
  EXPECT_EQ(back["routes"][0]["digest_threshold"], 10);
  EXPECT_EQ(back["routes"][0]["baseline"], "summary");
  EXPECT_EQ(back["routes"][1]["events"], json({"scan.completed"}));
  EXPECT_EQ(back["thresholds"][0]["count"], 3);
}

TEST_F(PipelineApi, EventsAreValidatedAllOrNothingAndIdempotent) {
  CreateProject("acme-web");
  auto r = server_.Post("/api/v1/events", NewFinding("fp1", "urgent"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["field"], "/finding/severity");

  json batch = {{"events", {NewFinding("fp1", "high"), NewFinding("fp2", "high")}}};
  batch["events"][1]["project"] = "nope";
  r = server_.Post("/api/v1/events", batch);
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.Json()["error"]["field"], "/events/1/project");
  EXPECT_EQ(server_.Get("/api/v1/projects/acme-web/findings").Json()["items"].size(), 0u)
      << "nothing of a rejected batch is stored";

  json e = NewFinding("fp1", "high");
  e["id"] = "ci-4711-1";
  auto first = PostEvents(e);
  EXPECT_EQ(first["accepted"], 1);
  EXPECT_EQ(first["duplicates"], 0);
  auto again = PostEvents(e);
  EXPECT_EQ(again["accepted"], 0);
  EXPECT_EQ(again["duplicates"], 1);
  EXPECT_EQ(again["ids"], first["ids"]);
}

TEST_F(PipelineApi, NewFindingIsPostedAsAnAttachmentInTheRoutedChannel) {
  Activate();
  CreateProject("acme-web");
  Link("acme-web", {{"routes", {{{"channel", "security/alerts"}, {"min_severity", "high"}}}}});
  PostEvents({{"events", {NewFinding("fp-crit", "critical"), NewFinding("fp-low", "low", "Weak hash")}}});
  auto posts = WaitPosts(alerts_, 1);
  ASSERT_EQ(posts.size(), 1u);
  const auto& att = posts[0].props["attachments"][0];
  EXPECT_NE(att["title"].get<std::string>().find("SQL injection"), std::string::npos) << att.dump();
  EXPECT_FALSE(att["color"].get<std::string>().empty());
  EXPECT_EQ(posts[0].props["from_bot"], "true");
  auto deliveries = WaitDeliveriesSettled();
  ASSERT_EQ(deliveries.size(), 1u) << "the low finding is below min_severity";
  EXPECT_EQ(deliveries[0]["state"], "sent");
  EXPECT_EQ(deliveries[0]["post_id"], posts[0].id);
  EXPECT_NE(deliveries[0]["post_url"].get<std::string>().find(posts[0].id), std::string::npos);
}

// SPEC §3: "one burst within the digest window" makes one digest, even when its findings come
// one request at a time; a lone finding is posted once the window is over.
TEST_F(PipelineApi, FindingsSentOneByOneWithinTheDigestWindowBecomeOneDigest) {
  TocsinServer windowed([](config::Settings& s) { s.digest_window = Millis(1500); });
  ASSERT_NO_FATAL_FAILURE(
      LinkOn(windowed, {{{"channel", "security/alerts"}, {"digest_threshold", 10}}}));
  for (int i = 0; i < 12; ++i) {
    auto r = windowed.Post("/api/v1/events", NewFinding("fp-" + std::to_string(i), "high"));
    ASSERT_EQ(r.status, 202) << r.body;
  }
  auto posts = WaitPosts(alerts_, 2);
  ASSERT_GE(posts.size(), 2u);
  EXPECT_EQ(posts[0].props.value("tocsin_digest_count", 0), 12) << posts[0].message;
  for (size_t i = 1; i < posts.size(); ++i) EXPECT_EQ(posts[i].root_id, posts[0].id);

  // A lone finding waits out the window, then goes out as itself.
  const size_t before = emu_.Posts(alerts_).size();
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_EQ(windowed.Post("/api/v1/events", NewFinding("fp-lone", "critical")).status, 202);
  posts = WaitPosts(alerts_, before + 1);
  ASSERT_EQ(posts.size(), before + 1);
  EXPECT_GE(std::chrono::steady_clock::now() - sent, 1400ms) << "posted before the window was over";
  EXPECT_TRUE(posts.back().root_id.empty());
  EXPECT_FALSE(posts.back().props.contains("tocsin_digest_count"));
}

// The digest window is decided when an event is accepted: a new finding that cannot make a
// digest yet is due once the window is over; a batch big enough for one, other event types, and
// routes that never digest are due at once.
TEST_F(PipelineApi, AnAcceptedEventIsDueAtOnceUnlessItWaitsForTheDigestWindow) {
  TocsinServer windowed([](config::Settings& s) { s.digest_window = Millis(60000); });
  ASSERT_NO_FATAL_FAILURE(
      LinkOn(windowed, {{{"channel", "security/alerts"}, {"digest_threshold", 10}},
                        {{"channel", "security/scans"}, {"digest_threshold", 1000}}}));
  const auto deliveries = [&] {
    return windowed.Get("/api/v1/deliveries?limit=500").Json()["items"];
  };
  const auto waits = [](const json& d) { return d["next_attempt_at"] != d["created_at"]; };

  ASSERT_EQ(windowed.Post("/api/v1/events", NewFinding("fp-lone", "high")).status, 202);
  json items = deliveries();
  ASSERT_EQ(items.size(), 2u);
  for (const auto& d : items) {
    EXPECT_EQ(waits(d), d["channel"] == "security/alerts")
        << d.dump() << " (threshold 1000: no wait)";
  }

  json batch = json::array();
  for (int i = 0; i < 11; ++i) batch.push_back(NewFinding("fp-" + std::to_string(i), "high"));
  ASSERT_EQ(windowed.Post("/api/v1/events", {{"events", batch}}).status, 202);
  items = deliveries();
  ASSERT_EQ(items.size(), 24u);
  for (size_t i = 0; i < 22; ++i) {  // newest first: the batch's 11 on each route
    EXPECT_FALSE(waits(items[i])) << "more than the threshold at once: a digest now " << items[i];
  }

  const auto findings = windowed.Get("/api/v1/projects/acme-web/findings").Json()["items"];
  ASSERT_FALSE(findings.empty());
  const int64_t id = findings[0]["id"];
  ASSERT_EQ(windowed
                .Send("PATCH", "/api/v1/findings/" + std::to_string(id),
                      json{{"status", "resolved"}}.dump())
                .status,
            200);
  items = deliveries();
  ASSERT_EQ(items.size(), 26u);
  EXPECT_FALSE(waits(items[0])) << "a status change does not wait: " << items[0];
  EXPECT_FALSE(waits(items[1])) << items[1];
}

// SPEC §4 at the scale the delivery issue names: 1,000 events into a server that takes 10 posts
// a second (the emulator's limiter: Mattermost's X-Ratelimit-* headers, 429 with Retry-After).
// Tocsin paces itself by those headers, so to make 429s happen another client of the same
// address (Mattermost limits by remote address) empties the bucket now and then, as another
// integration on the same host would. Each event is one post (digest_threshold 1000), so this
// takes about 110 s by design; everything must arrive once, in order, and no 429 may count as a
// failed attempt.
TEST_F(PipelineApi, AThousandEventsThroughA429StormArriveOnceEachInOrder) {
  emu_.SetRateLimit(10, 10);
  Activate();
  CreateProject("acme-web");
  Link("acme-web", {{"routes",
                     {{{"channel", "security/alerts"},
                       {"events", {"vulnerability.new"}},
                       {"digest_threshold", 1000}}}}});
  constexpr int kEvents = 1000;
  json events = json::array();
  for (int i = 0; i < kEvents; ++i) {
    events.push_back(NewFinding("fp-" + std::to_string(i), "high", "Finding " + std::to_string(i)));
  }
  std::atomic<bool> stop{false};
  std::thread neighbour([&] {
    httplib::Client other("127.0.0.1", emu_.port());
    const httplib::Headers auth = {{"Authorization", "Bearer " + token_}};
    for (int burst = 0; burst < 10 && !stop; ++burst) {  // 10 bursts of 10, 2 s apart
      for (int i = 0; i < 10; ++i) other.Get("/api/v4/users/me", auth);
      for (int t = 0; t < 20 && !stop; ++t) std::this_thread::sleep_for(100ms);
    }
  });
  EXPECT_EQ(PostEvents({{"events", events}})["accepted"], kEvents);

  const auto deadline = std::chrono::steady_clock::now() + 240s;  // ~110 s, with margin
  while (emu_.Posts(alerts_).size() < kEvents && std::chrono::steady_clock::now() < deadline) {
    emu_.WaitForPosts(emu_.TotalPosts() + 1, 1s);
  }
  stop = true;
  neighbour.join();
  const auto posts = emu_.Posts(alerts_);
  ASSERT_EQ(posts.size(), static_cast<size_t>(kEvents)) << "every event posted, none twice";
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_EQ(posts[i].props["tocsin_thread_key"], "fp-" + std::to_string(i)) << "in order";
  }
  int limited = 0;
  for (const auto& r : emu_.Requests()) limited += r.path == "/api/v4/posts" && r.status == 429;
  EXPECT_GT(limited, 0) << "the neighbour's bursts left Tocsin's posts to a 429";
  RecordProperty("posts_answered_429", limited);

  // The delivery log agrees: all sent, each on its first attempt.
  int sent = 0;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {  // 1,000 in pages of 500: 2 or 3 pages
    const auto list = server_.Get("/api/v1/deliveries?limit=500" + cursor).Json();
    for (const auto& d : list["items"]) {
      EXPECT_EQ(d["state"], "sent") << d.dump();
      EXPECT_EQ(d["attempts"], 1) << "a 429 is not an attempt: " << d.dump();
      ++sent;
    }
    if (list["next_cursor"].is_null()) break;
    cursor = "&cursor=" + list["next_cursor"].get<std::string>();
  }
  EXPECT_EQ(sent, kEvents);
}

TEST_F(PipelineApi, StatusChangesAreThreadRepliesAndPatchTheFirstPost) {
  Activate();
  CreateProject("acme-web");
  Link("acme-web", {{"routes", {{{"channel", "security/alerts"}}}}});
  PostEvents(NewFinding("fp1", "high"));
  auto root = WaitPosts(alerts_, 1).at(0);
  const auto findings = server_.Get("/api/v1/projects/acme-web/findings").Json()["items"];
  ASSERT_EQ(findings.size(), 1u);
  const int64_t id = findings[0]["id"];
  auto r = server_.Send("PATCH", "/api/v1/findings/" + std::to_string(id),
                        json{{"status", "resolved"}, {"comment", "fixed in #912"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["status"], "resolved");
  auto posts = WaitPosts(alerts_, 2);
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[1].root_id, root.id) << "a status change is a reply in the finding's thread";
  // The first post is patched to show the current status.
  for (int i = 0; i < 50 && emu_.GetPost(root.id)->edit_at == 0; ++i) emu_.WaitForPosts(99, 50ms);
  EXPECT_NE(emu_.GetPost(root.id)->props.dump().find("resolved"), std::string::npos);

  // Seen again: re-opened, announced in the same thread.
  PostEvents(NewFinding("fp1", "high"));
  posts = WaitPosts(alerts_, 3);
  ASSERT_EQ(posts.size(), 3u);
  EXPECT_EQ(posts[2].root_id, root.id);
  EXPECT_EQ(server_.Get("/api/v1/findings/" + std::to_string(id)).Json()["status"], "open");
  // A repeat of an open finding announces nothing.
  PostEvents(NewFinding("fp1", "high"));
  WaitDeliveriesSettled();
  EXPECT_EQ(emu_.Posts(alerts_).size(), 3u);
}

TEST_F(PipelineApi, ThresholdsAreAnnouncedOncePerCrossing) {
  Activate();
  CreateProject("acme-web");
  Link("acme-web", {{"routes", {{{"channel", "security/scans"}, {"events", {"vulnerability.threshold_crossed"}}}}},
                    {"thresholds", {{{"severity", "high"}, {"count", 2}}}}});
  PostEvents(NewFinding("a", "high"));
  PostEvents(NewFinding("b", "critical"));  // 2 at or above high: crossed upwards
  PostEvents(NewFinding("c", "high"));      // 3: still above, nothing new
  auto posts = WaitPosts(scans_, 1);
  WaitDeliveriesSettled();
  ASSERT_EQ(emu_.Posts(scans_).size(), 1u);
  EXPECT_NE(posts[0].message.find("above"), std::string::npos) << posts[0].message;
  for (const std::string fp : {"a", "b"}) {
    json e = {{"type", "vulnerability.status_changed"}, {"project", "acme-web"},
              {"finding", {{"fingerprint", fp}}}, {"status", "false_positive"}};
    PostEvents(e);
  }
  posts = WaitPosts(scans_, 2);
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_NE(posts[1].message.find("below"), std::string::npos) << posts[1].message;
}

TEST_F(PipelineApi, NothingIsPostedWhileTheLinkIsDisabledOrTheIntegrationInactive) {
  CreateProject("acme-web");
  Link("acme-web", {{"enabled", true}, {"routes", {{{"channel", "security/alerts"}}}}});
  PostEvents(NewFinding("inactive", "critical"));  // integration not configured
  Activate();
  Link("acme-web", {{"enabled", false}, {"routes", {{{"channel", "security/alerts"}}}}});
  PostEvents(NewFinding("disabled", "critical"));
  EXPECT_EQ(server_.Get("/api/v1/deliveries").Json()["items"].size(), 0u);
  Link("acme-web", {{"enabled", true}, {"routes", {{{"channel", "security/alerts"}}}}});
  PostEvents(NewFinding("live", "critical", "Live one"));
  auto posts = WaitPosts(alerts_, 1);
  WaitDeliveriesSettled();
  ASSERT_EQ(emu_.Posts(alerts_).size(), 1u);
  EXPECT_NE(posts[0].props.dump().find("Live one"), std::string::npos);
}

TEST_F(PipelineApi, MentionsAndMarkdownInUntrustedTextStayInert) {
  Activate();
  CreateProject("acme-web");
  Link("acme-web", {{"routes", {{{"channel", "security/alerts"}}}}});
  json e = NewFinding("evil", "critical", "@channel @all @here @alice [click](https://evil.example) ![x](http://evil/x.png)");
  e["finding"]["description"] = "@channel\n# Heading\n| a | b |";
  PostEvents(e);
  auto posts = WaitPosts(alerts_, 1);
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_TRUE(posts[0].notified_mentions.empty()) << ::testing::PrintToString(posts[0].notified_mentions);
  // Markdown-rendered parts carry no live link or image (the plain-text fallback is not rendered).
  const auto& att = posts[0].props["attachments"][0];
  for (const char* key : {"title", "text", "pretext"}) {
    const std::string v = att.value(key, "");
    EXPECT_EQ(v.find("](https://evil.example)"), std::string::npos) << key << ": " << v;
    EXPECT_EQ(v.find("!["), std::string::npos) << key << ": " << v;
  }
  EXPECT_EQ(posts[0].message.find("](https://evil"), std::string::npos);
}

TEST_F(PipelineApi, AForbiddenChannelFailsItsDeliveryWhileOthersGoOn) {
  Activate();
  CreateProject("acme-web");
  Link("acme-web", {{"routes", {{{"channel", incidents_}}, {{"channel", "security/alerts"}}}}});
  PostEvents(NewFinding("fp1", "high"));
  WaitPosts(alerts_, 1);
  auto items = WaitDeliveriesSettled();
  ASSERT_EQ(items.size(), 2u);
  int failed = 0, sent = 0;
  for (const auto& d : items) {
    if (d["state"] == "failed") {
      ++failed;
      EXPECT_FALSE(d["last_error"].get<std::string>().empty());
    }
    sent += d["state"] == "sent";
  }
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(sent, 1);
  // Retry by hand: back to pending, and (still forbidden) failed again.
  for (const auto& d : items) {
    if (d["state"] != "failed") continue;
    auto r = server_.Post("/api/v1/deliveries/" + std::to_string(d["id"].get<int64_t>()) + "/retry", json::object());
    EXPECT_EQ(r.status, 200) << r.body;
    r = server_.Post("/api/v1/deliveries/" + std::to_string(d["id"].get<int64_t>()) + "/retry", json::object());
    EXPECT_TRUE(r.status == 409 || r.status == 200) << r.body;
  }
}

TEST_F(PipelineApi, PreviewShowsTheExactPostAndPostsNothing) {
  Activate();
  CreateProject("acme-web");
  Link("acme-web", {{"routes", {{{"channel", "security/alerts"}, {"min_severity", "high"}},
                                {{"channel", "security/scans"}, {"events", {"scan.completed"}}}}}});
  auto r = server_.Post("/api/v1/projects/acme-web/integrations/mattermost/preview", NewFinding("p", "critical"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.Json();
  ASSERT_EQ(j["matches"].size(), 1u);
  EXPECT_EQ(j["matches"][0]["channel"], "security/alerts");
  EXPECT_TRUE(j["matches"][0]["post"].contains("props"));
  EXPECT_EQ(emu_.TotalPosts(), 0u);
  EXPECT_EQ(server_.Get("/api/v1/projects/acme-web/findings").Json()["items"].size(), 0u);
}

TEST_F(PipelineApi, SendTestMessageReportsEachChannel) {
  Activate();
  CreateProject("acme-web");
  Link("acme-web", {{"routes", {{{"channel", "security/alerts"}}, {{"channel", incidents_}}}}});
  auto r = server_.Post("/api/v1/projects/acme-web/integrations/mattermost/test", json::object());
  ASSERT_EQ(r.status, 200) << r.body;
  auto results = r.Json()["results"];
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0]["ok"], true);
  EXPECT_EQ(results[1]["ok"], false);
  EXPECT_EQ(results[1]["code"], "forbidden");
  EXPECT_EQ(emu_.Posts(alerts_).size(), 1u);
}

TEST_F(PipelineApi, ProjectTokensSeeOnlyTheirProject) {
  CreateProject("acme-web");
  CreateProject("other");
  auto store = store::OpenStore("", server_.settings().data_dir);
  ASSERT_TRUE(store);
  service::AuthService auth(**store, SystemClock::Instance());
  const std::string ci = auth.CreateToken("ci", "project:acme-web", "test")->token.Reveal();
  auto list = server_.Get("/api/v1/projects", ci).Json();
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["name"], "acme-web");
  EXPECT_EQ(server_.Get("/api/v1/projects/other", ci).status, 404);
  json e = NewFinding("x", "high");
  auto r = server_.Send("POST", "/api/v1/events", e.dump(), "application/json", ci);
  EXPECT_EQ(r.status, 202) << r.body;
  e["project"] = "other";
  r = server_.Send("POST", "/api/v1/events", e.dump(), "application/json", ci);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(server_.Post("/api/v1/projects", {{"name", "mine"}}).status, 201) << "admin can";
  r = server_.Send("POST", "/api/v1/projects", json{{"name", "theirs"}}.dump(), "application/json", ci);
  EXPECT_EQ(r.status, 403);
}

}  // namespace
}  // namespace tocsin
