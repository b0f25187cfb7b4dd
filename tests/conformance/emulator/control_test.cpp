// The emulator's own surface: Seed, the /_emulator/ control API, the request log, WaitForPosts,
// throughput, and the standalone binary.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "emulator_fixture.hpp"

extern char** environ;

namespace mmemu::testing {
namespace {

class Control : public EmulatorTest {};

TEST_F(Control, SeedBuildsAWorldWithExplicitTokens) {
  Emulator emu;
  json ids = emu.Seed(json::parse(R"({
    "teams": [{"name": "sec", "channels": [{"name": "a"}, {"name": "p", "type": "P"},
                                            {"name": "gone", "archived": true}]}],
    "users": [{"username": "bot1", "bot": true, "teams": ["sec"], "channels": ["sec/a"],
               "token": "aaaaaaaaaaaaaaaaaaaaaaaaaa", "roles": ["system_post_all_public"]},
              {"username": "human", "teams": ["sec"], "create_token": true}]
  })"));
  ASSERT_FALSE(ids.contains("error")) << ids.dump();
  ASSERT_TRUE(emu.Start());
  EXPECT_EQ(ids["tokens"]["bot1"], (json{"aaaaaaaaaaaaaaaaaaaaaaaaaa"}));
  EXPECT_EQ(ids["tokens"]["human"].size(), 1u);
  httplib::Client client("127.0.0.1", emu.port());
  auto r = client.Post("/api/v4/posts", {{"Authorization", "Bearer aaaaaaaaaaaaaaaaaaaaaaaaaa"}},
                       json{{"channel_id", ids["channels"]["sec/a"]}, {"message", "hi"}}.dump(),
                       "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(emu.Posts(ids["channels"]["sec/a"].get<std::string>()).size(), 1u);
}

TEST_F(Control, SeedReportsBadInput) {
  Emulator emu;
  EXPECT_TRUE(emu.Seed(json::parse(R"({"teams": [{"display_name": "x"}]})")).contains("error"));
  EXPECT_TRUE(emu.Seed(json::parse(R"({"users": [{"username": "u", "channels": ["nope/x"]}]})"))
                  .contains("error"));
  EXPECT_TRUE(emu.Seed(json::parse(R"({"users": [{"username": "u", "token": "has space"}]})"))
                  .contains("error"));
}

TEST_F(Control, PostsStatsAndRevokeOverHttp) {
  ASSERT_EQ(CreatePost(bot_token_, {{"channel_id", alerts_}, {"message", "@channel"}})->status,
            201);
  auto client = Client();
  json posts = Body(client->Get(("/_emulator/posts?channel_id=" + alerts_).c_str()));
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].value("message", ""), "@channel");
  EXPECT_EQ(posts[0]["notified_mentions"], (json{"@channel"}));
  EXPECT_EQ(Body(client->Get("/_emulator/stats")).value("posts", 0), 1);
  auto r = client->Post("/_emulator/tokens/revoke", json{{"token", bot_token_}}.dump(),
                        "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Get("/api/v4/users/me", bot_token_)->status, 401);
}

TEST_F(Control, FaultAndRateLimitOverHttp) {
  auto client = Client();
  ASSERT_EQ(client
                ->Post("/_emulator/fault",
                       R"({"kind": "status", "status": 502, "path_prefix": "/api/v4/users"})",
                       "application/json")
                ->status,
            200);
  EXPECT_EQ(Get("/api/v4/users/me", bot_token_)->status, 502);
  EXPECT_EQ(client->Get("/_emulator/stats")->status, 200);  // control routes are never faulted
  ASSERT_EQ(client->Post("/_emulator/fault", R"({"kind": "none"})", "application/json")->status,
            200);
  EXPECT_EQ(Get("/api/v4/users/me", bot_token_)->status, 200);
  EXPECT_EQ(client->Post("/_emulator/fault", R"({"kind": "explode"})", "application/json")->status,
            400);
  ASSERT_EQ(
      client->Post("/_emulator/rate_limit", R"({"per_second": 1, "burst": 7})", "application/json")
          ->status,
      200);
  EXPECT_EQ(Get("/api/v4/users/me", bot_token_)->get_header_value("X-Ratelimit-Limit"), "8");
}

TEST_F(Control, AFaultCanLetSomeRequestsThroughFirst) {
  auto client = Client();
  ASSERT_EQ(client
                ->Post("/_emulator/fault",
                       R"({"kind": "status", "status": 503, "path_prefix": "/api/v4/users",
                           "skip": 2, "count": 1})",
                       "application/json")
                ->status,
            200);
  EXPECT_NE(Get("/api/v4/teams", bot_token_)->status, 503) << "another path: not counted";
  EXPECT_EQ(Get("/api/v4/users/me", bot_token_)->status, 200);
  EXPECT_EQ(Get("/api/v4/users/me", bot_token_)->status, 200);
  EXPECT_EQ(Get("/api/v4/users/me", bot_token_)->status, 503);
  EXPECT_EQ(Get("/api/v4/users/me", bot_token_)->status, 200) << "count spent";
}

TEST_F(Control, SeedOverHttp) {
  auto r = Client()->Post("/_emulator/seed",
                          R"({"teams": [{"name": "t2", "channels": [{"name": "c"}]}]})",
                          "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Body(r)["channels"]["t2/c"].get<std::string>().size(), 26u);
}

TEST_F(Control, RequestLogRecordsSchemeStatusAndNoQuery) {
  Client()->Get(("/api/v4/system/ping?access_token=" + bot_token_).c_str());
  Client()->Get("/api/v4/users/me", {{"Authorization", "Token " + bot_token_}});
  Get("/api/v4/users/me", bot_token_);
  Client()->Get("/_emulator/stats");  // not logged
  std::vector<RequestRecord> log = emu_->Requests();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].path, "/api/v4/system/ping");
  EXPECT_EQ(log[0].status, 401);
  EXPECT_EQ(log[0].authorization_scheme, "");
  EXPECT_EQ(log[1].authorization_scheme, "Token");
  EXPECT_EQ(log[2].authorization_scheme, "Bearer");
  EXPECT_EQ(log[2].method, "GET");
  EXPECT_GT(log[2].at_ms, 0);
  emu_->ClearRequests();
  EXPECT_TRUE(emu_->Requests().empty());
}

TEST(Listen, Ipv6LoopbackAndBracketedBaseUrl) {
  Options options;
  options.host = "::1";
  Emulator emu(options);
  if (!emu.Start()) GTEST_SKIP() << "no IPv6 loopback here";
  EXPECT_EQ(emu.base_url(), "http://[::1]:" + std::to_string(emu.port()));
  httplib::Client client("::1", emu.port());
  auto r = client.Get("/api/v4/system/ping");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(Listen, PortInUseMakesStartFail) {
  Emulator first;
  ASSERT_TRUE(first.Start());
  Options options;
  options.port = first.port();
  Emulator second(options);
  EXPECT_FALSE(second.Start());
}

TEST_F(Control, WaitForPostsWakesOnCreateAndTimesOut) {
  EXPECT_FALSE(emu_->WaitForPosts(1, std::chrono::milliseconds(10)));
  std::thread poster([&] { CreatePost(bot_token_, {{"channel_id", alerts_}}); });
  EXPECT_TRUE(emu_->WaitForPosts(1, std::chrono::seconds(5)));
  poster.join();
}

TEST_F(Control, ThousandsOfPostsPerSecondOverKeepAlive) {
  constexpr int kPosts = 2000;
  constexpr int kClients = 4;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", emu_->port());
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      httplib::Headers headers = Bearer(bot_token_);
      for (int i = 0; i < kPosts / kClients; ++i) {
        json post = {{"channel_id", alerts_},
                     {"message", "alert " + std::to_string(i) + " for @alice"},
                     {"pending_post_id", std::to_string(c) + "-" + std::to_string(i)}};
        auto r = client.Post("/api/v4/posts", headers, post.dump(), "application/json");
        if (!r || r->status != 201) {
          ADD_FAILURE() << "post " << i << " failed";
          return;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(emu_->TotalPosts(), static_cast<size_t>(kPosts));
  RecordProperty("posts_per_second", static_cast<int>(kPosts / seconds));
  EXPECT_LT(seconds, 10.0);  // generous for sanitizer builds; a release build does >5000/s
}

#ifdef TOCSIN_EMULATOR_BINARY
TEST(Binary, PrintsTheListeningLineAndServesTheDemoWorld) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  const char* argv[] = {TOCSIN_EMULATOR_BINARY, "--listen", "127.0.0.1:0", nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, TOCSIN_EMULATOR_BINARY, &actions, nullptr,
                        const_cast<char* const*>(argv), environ),
            0);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  FILE* stream = fdopen(out[0], "r");
  std::string text;
  int port = 0;
  std::string bot_token;
  char line[512];
  while (std::fgets(line, sizeof line, stream) != nullptr) {  // ends at "Ctrl-C stops."
    std::string l = line;
    text += l;
    if (l.rfind("listening on http://127.0.0.1:", 0) == 0) port = std::stoi(l.substr(30));
    if (l.find("bot token") != std::string::npos) bot_token = l.substr(l.rfind(' ') + 1, 26);
    if (l.rfind("Ctrl-C", 0) == 0) break;
  }
  ASSERT_GT(port, 0) << text;
  EXPECT_NE(text.find("security/incidents"), std::string::npos);
  httplib::Client client("127.0.0.1", port);
  auto r = client.Get("/api/v4/users/me", {{"Authorization", "Bearer " + bot_token}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body).value("username", ""), "tocsin-bot");
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  fclose(stream);
}
#endif

}  // namespace
}  // namespace mmemu::testing
