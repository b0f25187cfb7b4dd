// The Mattermost settings API as an admin meets it: save, read back, test, delete — against the
// emulator, through real HTTP.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>

#include "emulator.hpp"
#include "service/auth_service.hpp"
#include "store/store.hpp"
#include "support/emulator_world.hpp"
#include "support/tocsin_server.hpp"

namespace tocsin {
namespace {

using nlohmann::json;
using testing::TocsinServer;

class SettingsApi : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(emu_.Start());
    const auto w = testing::SeedSecurityTeam(emu_);
    team_ = w.team;
    alerts_ = w.alerts;
    bot_ = w.bot;
    bot_token_ = w.token;
  }

  json Save(const json& body, int expect = 200) {
    auto r = server_.Put("/api/v1/integrations/mattermost", body);
    EXPECT_EQ(r.status, expect) << r.body;
    return r.Json();
  }

  mmemu::Emulator emu_;
  TocsinServer server_;
  std::string team_, alerts_, bot_, bot_token_;
};

TEST_F(SettingsApi, UnconfiguredShowsDefaultsAndNoToken) {
  auto r = server_.Get("/api/v1/integrations/mattermost");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.Json();
  EXPECT_EQ(j["url"], "");
  EXPECT_EQ(j["active"], false);
  EXPECT_EQ(j["token_set"], false);
  EXPECT_EQ(j["status"], "unknown");
  EXPECT_TRUE(j["last_test"].is_null());

  auto list = server_.Get("/api/v1/integrations").Json();
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["name"], "mattermost");
  EXPECT_EQ(list["items"][0]["configured"], false);
  EXPECT_TRUE(list["next_cursor"].is_null());
}

TEST_F(SettingsApi, SaveStoresTokenSealedAndShowsOnlyItsLastFour) {
  auto saved = Save({{"url", emu_.base_url()}, {"token", bot_token_}, {"insecure", false}});
  EXPECT_EQ(saved["url"], emu_.base_url());
  EXPECT_EQ(saved["token_set"], true);
  EXPECT_EQ(saved["token_hint"], bot_token_.substr(bot_token_.size() - 4));
  EXPECT_EQ(saved["active"], true);
  EXPECT_FALSE(saved.contains("token"));
  EXPECT_EQ(saved["updated_at"].get<std::string>().back(), 'Z');

  // Omitting the token keeps the stored one.
  auto again = Save({{"url", emu_.base_url() + "/"}, {"insecure", true}});
  EXPECT_EQ(again["token_set"], true);
  EXPECT_EQ(again["insecure"], true);
  EXPECT_EQ(again["url"], emu_.base_url()) << "a trailing slash is dropped";

  auto list = server_.Get("/api/v1/integrations").Json();
  EXPECT_EQ(list["items"][0]["configured"], true);
  EXPECT_EQ(list["items"][0]["active"], true);

  // The database file holds no plaintext token (encrypted at rest).
  std::ifstream db(server_.settings().data_dir + "/tocsin.db", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(db)), {});
  EXPECT_EQ(bytes.find(bot_token_), std::string::npos);
}

TEST_F(SettingsApi, SaveValidatesFieldsAndNamesThem) {
  auto r = server_.Put("/api/v1/integrations/mattermost", {{"url", "ftp://x"}, {"token", "t"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["code"], "invalid_request");
  EXPECT_EQ(r.Json()["error"]["field"], "url");

  r = server_.Put("/api/v1/integrations/mattermost", {{"url", emu_.base_url()}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["field"], "token") << "first save needs a token";

  r = server_.Put("/api/v1/integrations/mattermost",
                  {{"url", emu_.base_url()}, {"token", bot_token_}, {"ca_file", "/nonexistent.pem"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["field"], "ca_file");

  r = server_.Put("/api/v1/integrations/mattermost", {{"url", "x"}, {"token", ""}});
  EXPECT_EQ(r.status, 400);
  ASSERT_TRUE(r.Json()["error"]["fields"].is_array());
  EXPECT_EQ(r.Json()["error"]["fields"].size(), 2u) << r.body;
}

TEST_F(SettingsApi, RejectsUnknownFieldsWrongTypesAndBadBodies) {
  auto r = server_.Put("/api/v1/integrations/mattermost",
                       {{"url", emu_.base_url()}, {"token", bot_token_}, {"colour", "red"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["field"], "/colour");
  EXPECT_NE(r.Json()["error"]["message"].get<std::string>().find("colour"), std::string::npos);

  r = server_.Put("/api/v1/integrations/mattermost", {{"url", 42}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["field"], "/url");

  r = server_.Send("PUT", "/api/v1/integrations/mattermost", "{\"url\": ");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["code"], "invalid_json");

  r = server_.Send("PUT", "/api/v1/integrations/mattermost", "url=x", "application/x-www-form-urlencoded");
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(r.Json()["error"]["code"], "unsupported_media_type");

  r = server_.Send("PUT", "/api/v1/integrations/mattermost", "{\"url\": \"\xff\xfe\"}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["code"], "invalid_utf8");

  r = server_.Send("PUT", "/api/v1/integrations/mattermost", std::string(100000, '[') + std::string(100000, ']'));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["code"], "invalid_json");

  r = server_.Send("PUT", "/api/v1/integrations/mattermost",
                   "{\"url\":\"" + std::string(11 * 1024 * 1024, 'a') + "\"}");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.Json()["error"]["code"], "payload_too_large");

  r = server_.Send("PUT", "/api/v1/integrations/mattermost", "[1,2]");
  EXPECT_EQ(r.status, 400);

  // And it still serves.
  EXPECT_EQ(server_.Get("/healthz", "").status, 200);
}

TEST_F(SettingsApi, EveryApiCallNeedsAValidToken) {
  for (const std::string path : {"/api/v1/integrations", "/api/v1/integrations/mattermost", "/api/v1/audit"}) {
    auto r = server_.Get(path, "");
    EXPECT_EQ(r.status, 401) << path;
    EXPECT_EQ(r.Json()["error"]["code"], "unauthorized");
    EXPECT_FALSE(r.Json()["error"]["hint"].get<std::string>().empty());
    r = server_.Get(path, "tcn_not-a-real-token");
    EXPECT_EQ(r.status, 401) << path;
  }
  auto r = server_.Send("POST", "/api/v1/integrations/mattermost/test", "{}", "application/json", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(server_.Get("/healthz", "").status, 200);
  EXPECT_EQ(server_.Get("/readyz", "").status, 200);
  EXPECT_EQ(server_.Get("/api/v1/nope").status, 404);
  EXPECT_EQ(server_.Get("/api/v1/nope").Json()["error"]["code"], "not_found");
}

TEST_F(SettingsApi, ProjectTokensMayNotTouchTheGlobalIntegration) {
  // A project token created through the CLI-equivalent path.
  auto store = store::OpenStore("", server_.settings().data_dir);
  ASSERT_TRUE(store) << store.error().message;
  service::AuthService auth(**store, SystemClock::Instance());
  auto created = auth.CreateToken("ci", "project:acme-web", "test");
  ASSERT_TRUE(created);
  auto r = server_.Get("/api/v1/integrations/mattermost", created->token.Reveal());
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.Json()["error"]["code"], "forbidden");
}

TEST_F(SettingsApi, TestConnectionWithSavedSettingsRecordsStatus) {
  Save({{"url", emu_.base_url()}, {"token", bot_token_}});
  auto r = server_.Post("/api/v1/integrations/mattermost/test", json::object());
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.Json();
  EXPECT_EQ(j["ok"], true) << r.body;
  EXPECT_EQ(j["code"], "ok");
  EXPECT_EQ(j["message"].get<std::string>().rfind("Connection successful", 0), 0u) << j["message"];
  EXPECT_EQ(j["server_version"], "9.11.2");
  EXPECT_EQ(j["user"]["username"], "tocsin-bot");
  EXPECT_EQ(j["user"]["is_bot"], true);
  auto view = server_.Get("/api/v1/integrations/mattermost").Json();
  EXPECT_EQ(view["status"], "ok");
  EXPECT_EQ(view["last_test"]["code"], "ok");

  emu_.RevokeToken(bot_token_);
  j = server_.Post("/api/v1/integrations/mattermost/test", json::object()).Json();
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["code"], "token_invalid");
  EXPECT_FALSE(j["hint"].get<std::string>().empty());
  EXPECT_EQ(server_.Get("/api/v1/integrations/mattermost").Json()["status"], "auth_failed");

  // A new token lifts auth_failed back to unknown, and a successful test makes it ok.
  const std::string fresh = emu_.CreateToken(bot_);
  EXPECT_EQ(Save({{"token", fresh}})["status"], "unknown");
  EXPECT_EQ(server_.Post("/api/v1/integrations/mattermost/test", json::object()).Json()["code"], "ok");
  EXPECT_EQ(server_.Get("/api/v1/integrations/mattermost").Json()["status"], "ok");
}

TEST_F(SettingsApi, TestConnectionWithUnsavedSettingsAndChannels) {
  // Nothing saved: the drawer's unsaved values are tested as they are.
  auto j = server_.Post("/api/v1/integrations/mattermost/test",
                        {{"url", emu_.base_url()}, {"token", bot_token_}, {"channel", "security/alerts"}})
               .Json();
  EXPECT_EQ(j["code"], "ok") << j.dump();

  const std::string secret_channel = emu_.AddChannel(team_, "incidents", 'P');
  j = server_.Post("/api/v1/integrations/mattermost/test",
                   {{"url", emu_.base_url()}, {"token", bot_token_}, {"channel", "security/incidents"}})
          .Json();
  EXPECT_EQ(j["code"], "channel_not_found") << j.dump();
  j = server_.Post("/api/v1/integrations/mattermost/test",
                   {{"url", emu_.base_url()}, {"token", bot_token_}, {"channel", secret_channel}})
          .Json();
  EXPECT_EQ(j["code"], "forbidden") << j.dump();

  j = server_.Post("/api/v1/integrations/mattermost/test", {{"url", "not a url"}, {"token", "x"}}).Json();
  EXPECT_EQ(j["code"], "invalid_url");
  j = server_.Post("/api/v1/integrations/mattermost/test", {{"url", emu_.base_url()}}).Json();
  EXPECT_EQ(j["code"], "token_invalid") << "no token saved and none given";
  // Unsaved tests leave the (absent) saved status alone.
  EXPECT_EQ(server_.Get("/api/v1/integrations/mattermost").Json()["status"], "unknown");

  auto r = server_.Post("/api/v1/integrations/mattermost/test", {{"url", emu_.base_url()}, {"bogus", 1}});
  EXPECT_EQ(r.status, 400) << "unknown fields are rejected here too";
}

TEST_F(SettingsApi, DeleteDeactivatesAndErasesTheToken) {
  Save({{"url", emu_.base_url()}, {"token", bot_token_}});
  auto r = server_.Delete("/api/v1/integrations/mattermost");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["active"], false);
  EXPECT_EQ(r.Json()["token_set"], false);
  EXPECT_EQ(r.Json()["token_hint"], "");
  auto j = server_.Post("/api/v1/integrations/mattermost/test", json::object()).Json();
  EXPECT_EQ(j["code"], "token_invalid");
}

TEST_F(SettingsApi, EveryChangeIsAuditedWithoutSecrets) {
  Save({{"url", emu_.base_url()}, {"token", bot_token_}});
  Save({{"insecure", true}});
  server_.Delete("/api/v1/integrations/mattermost");
  auto r = server_.Get("/api/v1/audit");
  ASSERT_EQ(r.status, 200) << r.body;
  auto items = r.Json()["items"];
  ASSERT_GE(items.size(), 3u);
  EXPECT_EQ(items[0]["action"], "integration.mattermost.delete");
  EXPECT_EQ(items[1]["action"], "integration.mattermost.update");
  EXPECT_EQ(items[2]["action"], "integration.mattermost.create");
  EXPECT_EQ(items[2]["actor"], "admin");
  EXPECT_EQ(r.body.find(bot_token_), std::string::npos);
}

TEST_F(SettingsApi, KeyAndAdminTokenFilesArePrivate) {
  struct stat st {};
  ASSERT_EQ(::stat((server_.settings().data_dir + "/admin-token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(::stat((server_.settings().data_dir + "/master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(server_.admin_token().rfind("tcn_", 0), 0u);
}

// A whole session — save, test (good and bad), resave, delete, errors — and not one log line or
// response carries the token.
TEST_F(SettingsApi, TheTokenNeverLeaksIntoLogsOrResponses) {
  Save({{"url", emu_.base_url()}, {"token", bot_token_}});
  server_.Post("/api/v1/integrations/mattermost/test", json::object());
  server_.Post("/api/v1/integrations/mattermost/test", {{"channel", "security/alerts"}});
  server_.Post("/api/v1/integrations/mattermost/test", {{"url", "http://127.0.0.1:1"}});
  emu_.RevokeToken(bot_token_);
  server_.Post("/api/v1/integrations/mattermost/test", json::object());
  server_.Put("/api/v1/integrations/mattermost", {{"url", "bad url"}, {"token", bot_token_}});
  server_.Put("/api/v1/integrations/mattermost", {{"token", bot_token_}, {"nope", bot_token_}});
  server_.Get("/api/v1/integrations/mattermost");
  server_.Get("/api/v1/integrations");
  server_.Get("/api/v1/audit");
  server_.Delete("/api/v1/integrations/mattermost");
  EXPECT_EQ(server_.Transcript().find(bot_token_), std::string::npos);
  EXPECT_EQ(server_.Logs().find(bot_token_), std::string::npos);
  EXPECT_EQ(server_.Logs().find(server_.admin_token()), std::string::npos);
}

}  // namespace
}  // namespace tocsin
