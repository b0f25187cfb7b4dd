// API-FACTS checklist 1-6: auth parsing, the single 401, error body, standard headers, ping,
// /users/me.
#include "emulator_fixture.hpp"

namespace mmemu::testing {
namespace {

class Auth : public EmulatorTest {};

TEST_F(Auth, BearerSchemeIsCaseInsensitive) {
  for (const char* scheme : {"Bearer ", "bearer ", "BEARER "}) {
    auto r = Client()->Get("/api/v4/users/me", {{"Authorization", scheme + bot_token_}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << scheme;
  }
}

TEST_F(Auth, TokenSchemeIsAcceptedForBotTokensAndPats) {
  auto r = Client()->Get("/api/v4/users/me", {{"Authorization", "Token " + bot_token_}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = Client()->Get("/api/v4/users/me", {{"Authorization", "token " + alice_token_}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(Auth, TokenIsReadFromByteSevenSoTwoSpacesBreakIt) {
  auto r = Client()->Get("/api/v4/users/me", {{"Authorization", "Bearer  " + bot_token_}});
  ExpectAppError(r, 401, "api.context.session_expired.app_error");
}

TEST_F(Auth, QueryStringTokenIs401TokenProvidedEvenOnPing) {
  ExpectAppError(Client()->Get(("/api/v4/users/me?access_token=" + bot_token_).c_str()), 401,
                 "api.context.token_provided.app_error");
  ExpectAppError(Client()->Get(("/api/v4/system/ping?access_token=" + alice_token_).c_str()), 401,
                 "api.context.token_provided.app_error");
}

TEST_F(Auth, InvalidTokensAreIgnoredOnPing) {
  auto r = Get("/api/v4/system/ping", "garbagegarbagegarbagegarba");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = Client()->Get("/api/v4/system/ping?access_token=nonsense");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(Auth, EveryTokenProblemIsOne401WithCookieClearing) {
  std::string revoked = emu_->CreateToken(bot_);
  emu_->RevokeToken(revoked);
  std::string disabled = emu_->CreateToken(bot_);
  emu_->SetTokenActive(disabled, false);
  std::string carol = emu_->AddUser("carol");
  std::string carol_token = emu_->CreateToken(carol);
  emu_->SetUserActive(carol, false);
  std::string old_bot = emu_->AddBot("old-bot");
  std::string old_bot_token = emu_->CreateToken(old_bot);
  emu_->SetUserActive(old_bot, false);
  for (const std::string& token :
       {std::string("unknownunknownunknownunkno"), revoked, disabled, carol_token, old_bot_token}) {
    auto r = Get("/api/v4/users/me", token);
    ExpectAppError(r, 401, "api.context.session_expired.app_error");
    EXPECT_EQ(Body(r).value("message", ""), "Invalid or expired session, please login again.");
    EXPECT_EQ(r->get_header_value("Set-Cookie", 0), "MMAUTHTOKEN=; Path=/; Max-Age=0; HttpOnly");
  }
}

TEST_F(Auth, HumanPatsStopWhenDisabledBotTokensKeepWorking) {
  emu_->SetUserAccessTokensEnabled(false);
  ExpectAppError(Get("/api/v4/users/me", alice_token_), 401,
                 "api.context.session_expired.app_error");
  auto r = Get("/api/v4/users/me", bot_token_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  emu_->SetUserAccessTokensEnabled(true);
  r = Get("/api/v4/users/me", alice_token_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(Auth, PatsDisabledFromOptions) {
  Options options;
  options.enable_user_access_tokens = false;
  StartWith(options);
  ExpectAppError(Get("/api/v4/users/me", alice_token_), 401,
                 "api.context.session_expired.app_error");
}

TEST_F(Auth, RevokingMidTestTakesEffectOnTheNextRequest) {
  ASSERT_EQ(Get("/api/v4/users/me", bot_token_)->status, 200);
  emu_->RevokeToken(bot_token_);
  ExpectAppError(Get("/api/v4/users/me", bot_token_), 401, "api.context.session_expired.app_error");
}

TEST_F(Auth, ReactivatedBotWorksAgain) {
  emu_->SetUserActive(bot_, false);
  ExpectAppError(Get("/api/v4/users/me", bot_token_), 401, "api.context.session_expired.app_error");
  emu_->SetUserActive(bot_, true);
  EXPECT_EQ(Get("/api/v4/users/me", bot_token_)->status, 200);
}

TEST_F(Auth, NoTokenIs401WithoutCookieClearing) {
  auto r = Client()->Get("/api/v4/users/me");
  ExpectAppError(r, 401, "api.context.session_expired.app_error");
  EXPECT_FALSE(r->has_header("Set-Cookie"));
}

class Errors : public EmulatorTest {};

TEST_F(Errors, BodyHasExactlyTheAppErrorKeys) {
  auto r = CreatePost(bot_token_, {{"channel_id", incidents_}, {"message", "x"}});
  ExpectAppError(r, 403, "api.context.permissions.app_error");
  EXPECT_EQ(Keys(Body(r)), (std::set<std::string>{"id", "message", "detailed_error", "request_id",
                                                  "status_code"}));
  EXPECT_EQ(Body(r).value("message", ""), "You do not have the appropriate permissions.");
}

TEST_F(Errors, UnknownRouteAndWrongMethodAreThe404Handler) {
  auto client = Client();
  std::vector<httplib::Result> results;
  results.push_back(client->Get("/api/v4/no/such/route", Bearer(bot_token_)));
  results.push_back(
      client->Post("/api/v4/system/ping", Bearer(bot_token_), "", "application/json"));
  results.push_back(client->Get("/api/v4/posts", Bearer(bot_token_)));
  results.push_back(client->Get("/api/v4/users/me/", Bearer(bot_token_)));
  for (const httplib::Result& r : results) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    json body = Body(r);
    EXPECT_EQ(body.value("id", ""), "api.context.404.app_error");
    // web.Handle404 runs outside ServeHTTP: detail kept, no request id.
    EXPECT_NE(body.value("detailed_error", ""), "");
    EXPECT_FALSE(body.contains("request_id"));
    EXPECT_FALSE(r->has_header("X-Request-Id"));
  }
}

TEST_F(Errors, NonApiPathsAreNotJson) {
  auto r = Client()->Get("/login");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->get_header_value("Content-Type"), "application/json");
}

class Headers : public EmulatorTest {};

TEST_F(Headers, StandardHeadersOnSuccessAndErrors) {
  std::vector<httplib::Result> results;
  results.push_back(Get("/api/v4/users/me", bot_token_));
  results.push_back(Get("/api/v4/users/me", "bad"));
  results.push_back(Get("/api/v4/channels/" + incidents_, bot_token_));
  results.push_back(Get("/api/v4/channels/short", bot_token_));
  for (const httplib::Result& r : results) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->get_header_value("X-Request-Id").size(), 26u) << r->status;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r->get_header_value("Referrer-Policy"), "no-referrer");
    EXPECT_EQ(r->get_header_value("Expires"), "0");
    std::string version = r->get_header_value("X-Version-Id");
    EXPECT_EQ(version.rfind("9.11.2.", 0), 0u) << version;
    EXPECT_EQ(std::count(version.begin(), version.end(), '.'), 5) << version;
    EXPECT_EQ(version.substr(version.size() - 6), ".false");
    EXPECT_FALSE(r->has_header("X-Ratelimit-Limit"));  // off by default
    EXPECT_EQ(r->get_header_value("Date").substr(r->get_header_value("Date").size() - 4), " GMT");
  }
}

TEST_F(Headers, RequestIdIsNewPerRequest) {
  EXPECT_NE(Get("/api/v4/users/me", bot_token_)->get_header_value("X-Request-Id"),
            Get("/api/v4/users/me", bot_token_)->get_header_value("X-Request-Id"));
}

TEST_F(Headers, VersionIsConfigurable) {
  Options options;
  options.version = "11.6.0";
  StartWith(options);
  auto r = Client()->Get("/api/v4/system/ping");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("X-Version-Id").rfind("11.6.0.", 0), 0u);
}

class Ping : public EmulatorTest {};

TEST_F(Ping, AnswersWithoutAuthAndWithoutVersionInBody) {
  auto r = Client()->Get("/api/v4/system/ping");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  json body = Body(r);
  EXPECT_EQ(body.value("status", ""), "OK");
  EXPECT_EQ(body.value("ActiveSearchBackend", ""), "database");
  EXPECT_EQ(Keys(body), (std::set<std::string>{"ActiveSearchBackend", "AndroidLatestVersion",
                                               "AndroidMinVersion", "IosLatestVersion",
                                               "IosMinVersion", "status"}));
}

TEST_F(Ping, ServerStatusAddsDatabaseAndFilestore) {
  auto r = Client()->Get("/api/v4/system/ping?get_server_status=true");
  ASSERT_TRUE(r);
  EXPECT_EQ(Body(r).value("database_status", ""), "OK");
  EXPECT_EQ(Body(r).value("filestore_status", ""), "OK");
  EXPECT_EQ(r->get_header_value("database_status"), "OK");
}

class UsersMe : public EmulatorTest {};

TEST_F(UsersMe, BotCarriesIsBotAndBotKeys) {
  auto r = Get("/api/v4/users/me", bot_token_);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  json me = Body(r);
  EXPECT_EQ(me.value("id", ""), bot_);
  EXPECT_EQ(me.value("username", ""), "tocsin-bot");
  EXPECT_EQ(me.value("is_bot", false), true);
  EXPECT_TRUE(me.contains("bot_description"));
  EXPECT_EQ(me.value("roles", ""), "system_user");
  EXPECT_EQ(me.value("email", ""), "tocsin-bot@localhost");
}

TEST_F(UsersMe, HumanHasNoIsBotKeyAndTheSelfView) {
  json me = Body(Get("/api/v4/users/me", alice_token_));
  EXPECT_FALSE(me.contains("is_bot"));
  EXPECT_EQ(me.value("roles", ""), "system_user");
  for (const char* key :
       {"id", "create_at", "update_at", "delete_at", "username", "auth_service", "email",
        "nickname", "first_name", "last_name", "position", "roles", "notify_props",
        "last_password_update", "locale", "timezone", "disable_welcome_email"}) {
    EXPECT_TRUE(me.contains(key)) << key;
  }
  EXPECT_EQ(me["notify_props"].value("desktop_sound", ""), "true");
  EXPECT_TRUE(me["notify_props"].contains("push_status"));
  EXPECT_FALSE(me.contains("last_picture_update"));  // omitted when zero
}

TEST_F(UsersMe, AnotherUsersViewOmitsSelfOnlyKeys) {
  json other = Body(Get("/api/v4/users/" + bot_, alice_token_));
  EXPECT_EQ(other.value("id", ""), bot_);
  EXPECT_FALSE(other.contains("notify_props"));
  EXPECT_FALSE(other.contains("last_password_update"));
}

TEST_F(UsersMe, GrantedRolesShowInRoles) {
  emu_->GrantSystemRole(bot_, "system_post_all");
  EXPECT_EQ(Body(Get("/api/v4/users/me", bot_token_)).value("roles", ""),
            "system_user system_post_all");
}

TEST_F(UsersMe, TeamsListsOnlyTeamsTheUserIsIn) {
  json teams = Body(Get("/api/v4/users/me/teams", bot_token_));
  ASSERT_TRUE(teams.is_array());
  ASSERT_EQ(teams.size(), 1u);
  EXPECT_EQ(teams[0].value("name", ""), "security");
  EXPECT_EQ(teams[0].value("id", ""), team_);
  EXPECT_EQ(teams[0].value("type", ""), "O");
  EXPECT_TRUE(teams[0].contains("invite_id"));
  EXPECT_EQ(Body(Get("/api/v4/users/me/teams", alice_token_)).size(), 2u);
  ExpectAppError(Get("/api/v4/users/" + alice_ + "/teams", bot_token_), 403,
                 "api.context.permissions.app_error");
}

}  // namespace
}  // namespace mmemu::testing
