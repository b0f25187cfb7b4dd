// The sign-in session over real HTTP (POST/GET/DELETE /api/v1/session), the cookie as an
// alternative to Bearer, and the CSRF rule for state-changing requests.
#include <gtest/gtest.h>
#include <httplib.h>

#include "core/clock.hpp"
#include "service/auth_service.hpp"
#include "store/store.hpp"
#include "support/tocsin_server.hpp"

namespace tocsin {
namespace {

using nlohmann::json;
using testing::TocsinServer;

struct Reply {
  int status = 0;
  std::string body;
  httplib::Headers headers;
  json Json() const { return json::parse(body, nullptr, false); }
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class SessionApi : public ::testing::Test {
 protected:
  explicit SessionApi(std::function<void(config::Settings&)> tweak = {}) : server_(tweak) {}

  Reply Call(const std::string& method, const std::string& path, const httplib::Headers& headers,
             const std::string& body = "") {
    httplib::Client c("127.0.0.1", server_.port());
    c.set_read_timeout(10, 0);
    httplib::Result r = method == "GET"      ? c.Get(path, headers)
                        : method == "DELETE" ? c.Delete(path, headers, body, "application/json")
                        : method == "PUT"    ? c.Put(path, headers, body, "application/json")
                        : method == "PATCH"  ? c.Patch(path, headers, body, "application/json")
                                             : c.Post(path, headers, body, "application/json");
    if (!r) return {};
    return {r->status, r->body, r->headers};
  }

  // Signs in with `token`; returns {cookie header value, csrf token}.
  std::pair<std::string, std::string> SignIn(const std::string& token) {
    Reply r = Call("POST", "/api/v1/session", {}, json{{"token", token}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string set = r.Header("Set-Cookie");
    const std::string cookie = set.substr(0, set.find(';'));
    return {cookie, r.Json().value("csrf_token", "")};
  }

  TocsinServer server_;
};

TEST_F(SessionApi, SignInSetsAnHttpOnlyStrictCookieAndAnswersWhoAndTheCsrfToken) {
  Reply r = Call("POST", "/api/v1/session", {}, json{{"token", server_.admin_token()}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = r.Json();
  EXPECT_EQ(j["name"], "admin");
  EXPECT_EQ(j["role"], "admin");
  EXPECT_EQ(j["csrf_token"].get<std::string>().size(), 64u);
  EXPECT_EQ(r.body.find(server_.admin_token()), std::string::npos);
  const std::string cookie = r.Header("Set-Cookie");
  EXPECT_EQ(cookie.rfind("tocsin_session=", 0), 0u) << cookie;
  EXPECT_NE(cookie.find("; HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; SameSite=Strict"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; Path=/"), std::string::npos) << cookie;
  EXPECT_EQ(cookie.find("Secure"), std::string::npos) << "plain http: " << cookie;
  EXPECT_EQ(cookie.find(server_.admin_token()), std::string::npos);
  EXPECT_EQ(server_.Logs().find(server_.admin_token()), std::string::npos);
}

TEST_F(SessionApi, ABadTokenGetsNoSession) {
  Reply r = Call("POST", "/api/v1/session", {}, R"({"token":"tcn_wrong"})");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Json()["error"]["code"], "unauthorized");
  EXPECT_TRUE(r.Header("Set-Cookie").empty());
  EXPECT_EQ(Call("POST", "/api/v1/session", {}, R"({})").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/session", {}, R"({"token":"x","extra":1})").status, 400);
}

TEST_F(SessionApi, GetSessionSaysWhoIsSignedIn) {
  auto [cookie, csrf] = SignIn(server_.admin_token());
  Reply me = Call("GET", "/api/v1/session", {{"Cookie", cookie}});
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.Json()["name"], "admin");
  EXPECT_EQ(me.Json()["csrf_token"], csrf);
  EXPECT_EQ(Call("GET", "/api/v1/session", {}).status, 401);
  Reply bogus = Call("GET", "/api/v1/session", {{"Cookie", "tocsin_session=bogus"}});
  EXPECT_EQ(bogus.status, 401);
  EXPECT_NE(bogus.Header("Set-Cookie").find("Max-Age=0"), std::string::npos);
}

TEST_F(SessionApi, ACookieRequestThatChangesStateNeedsTheCsrfToken) {
  auto [cookie, csrf] = SignIn(server_.admin_token());
  const std::string body = R"({"name":"acme"})";
  Reply bare = Call("POST", "/api/v1/projects", {{"Cookie", cookie}}, body);
  EXPECT_EQ(bare.status, 403);
  EXPECT_EQ(bare.Json()["error"]["code"], "csrf_failed");
  EXPECT_FALSE(bare.Json()["error"]["hint"].get<std::string>().empty());
  const std::string other = (csrf[0] == '0' ? "1" : "0") + csrf.substr(1);  // one character off
  Reply wrong =
      Call("POST", "/api/v1/projects", {{"Cookie", cookie}, {"X-CSRF-Token", other}}, body);
  EXPECT_EQ(wrong.status, 403);
  EXPECT_EQ(Call("DELETE", "/api/v1/projects/acme", {{"Cookie", cookie}}).status, 403);
  EXPECT_EQ(server_.Get("/api/v1/projects/acme").status, 404) << "nothing was created";

  Reply ok = Call("POST", "/api/v1/projects", {{"Cookie", cookie}, {"X-CSRF-Token", csrf}}, body);
  EXPECT_EQ(ok.status, 201) << ok.body;
  // Reading needs no CSRF token.
  EXPECT_EQ(Call("GET", "/api/v1/projects/acme", {{"Cookie", cookie}}).status, 200);
  Reply patch =
      Call("PATCH", "/api/v1/projects/acme", {{"Cookie", cookie}}, R"({"display_name":"A"})");
  EXPECT_EQ(patch.status, 403);
}

TEST_F(SessionApi, BearerRequestsNeedNoCsrfTokenAndWinOverACookie) {
  auto [cookie, csrf] = SignIn(server_.admin_token());
  Reply r = Call("POST", "/api/v1/projects",
                 {{"Authorization", "Bearer " + server_.admin_token()}, {"Cookie", cookie}},
                 R"({"name":"by-bearer"})");
  EXPECT_EQ(r.status, 201) << r.body;
  Reply bad =
      Call("GET", "/api/v1/projects", {{"Authorization", "Bearer nope"}, {"Cookie", cookie}});
  EXPECT_EQ(bad.status, 401) << "a bad Bearer token is not rescued by the cookie";
}

TEST_F(SessionApi, ASessionHasTheRoleOfItsToken) {
  ASSERT_EQ(server_.Post("/api/v1/projects", json{{"name", "alpha"}}).status, 201);
  ASSERT_EQ(server_.Post("/api/v1/projects", json{{"name", "beta"}}).status, 201);
  // A project token, made as `tocsin token create` makes it (a second handle on the database).
  auto store = store::OpenStore("", server_.settings().data_dir);
  ASSERT_TRUE(store) << store.error().message;
  service::AuthService auth(**store, SystemClock::Instance());
  auto token = auth.CreateToken("beta-ci", "project:beta", "test");
  ASSERT_TRUE(token);

  Reply in = Call("POST", "/api/v1/session", {}, json{{"token", token->token.Reveal()}}.dump());
  ASSERT_EQ(in.status, 200) << in.body;
  EXPECT_EQ(in.Json()["role"], "project:beta");
  const std::string set = in.Header("Set-Cookie");
  const httplib::Headers cookie = {{"Cookie", set.substr(0, set.find(';'))},
                                   {"X-CSRF-Token", in.Json()["csrf_token"]}};
  EXPECT_EQ(Call("GET", "/api/v1/integrations/mattermost", cookie).status, 403);
  Reply list = Call("GET", "/api/v1/projects", cookie);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.Json()["items"].size(), 1u);
  EXPECT_EQ(list.Json()["items"][0]["name"], "beta");
  EXPECT_EQ(Call("GET", "/api/v1/projects/alpha", cookie).status, 404);
  EXPECT_EQ(Call("POST", "/api/v1/projects", cookie, R"({"name":"gamma"})").status, 403);
}

TEST_F(SessionApi, SignOutNeedsTheCsrfTokenThenEndsTheSession) {
  auto [cookie, csrf] = SignIn(server_.admin_token());
  EXPECT_EQ(Call("DELETE", "/api/v1/session", {{"Cookie", cookie}}).status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/projects", {{"Cookie", cookie}}).status, 200);
  Reply out = Call("DELETE", "/api/v1/session", {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
  EXPECT_EQ(out.status, 204);
  EXPECT_NE(out.Header("Set-Cookie").find("Max-Age=0"), std::string::npos);
  Reply after = Call("GET", "/api/v1/projects", {{"Cookie", cookie}});
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(after.Json()["error"]["code"], "unauthorized");
  // Signing out twice is fine.
  EXPECT_EQ(Call("DELETE", "/api/v1/session", {{"Cookie", cookie}}).status, 204);
}

TEST_F(SessionApi, EachSignInGetsANewSessionAndEndsTheOneItCameWith) {
  auto [first, csrf1] = SignIn(server_.admin_token());
  Reply again = Call("POST", "/api/v1/session", {{"Cookie", first}},
                     json{{"token", server_.admin_token()}}.dump());
  ASSERT_EQ(again.status, 200);
  const std::string set = again.Header("Set-Cookie");
  const std::string second = set.substr(0, set.find(';'));
  EXPECT_NE(first, second);
  EXPECT_NE(again.Json()["csrf_token"], csrf1);
  EXPECT_EQ(Call("GET", "/api/v1/session", {{"Cookie", first}}).status, 401);
  EXPECT_EQ(Call("GET", "/api/v1/session", {{"Cookie", second}}).status, 200);
}

TEST_F(SessionApi, TheUiIsServedWithStrictHeadersAndTheApiKeepsItsErrors) {
  Reply index = Call("GET", "/", {});
  ASSERT_EQ(index.status, 200);
  EXPECT_NE(index.Header("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(index.Header("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(index.Header("X-Frame-Options"), "DENY");
  Reply route = Call("GET", "/projects/acme/settings/notification-tools", {});
  EXPECT_EQ(route.status, 200);
  EXPECT_EQ(route.body, index.body);
  Reply api = Call("GET", "/api/v1/no-such-thing", {});
  EXPECT_EQ(api.status, 404);
  EXPECT_EQ(api.Json()["error"]["code"], "not_found");
  EXPECT_EQ(api.Header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(Call("GET", "/healthz", {}).Json()["status"], "ok");
  EXPECT_EQ(Call("POST", "/", {}, "{}").status, 404);
}

class SessionApiOverHttps : public SessionApi {
 protected:
  SessionApiOverHttps()
      : SessionApi([](config::Settings& s) { s.public_url = "https://tocsin.example.com"; }) {}
};

TEST_F(SessionApiOverHttps, TheCookieIsSecureWhenThePublicUrlIsHttps) {
  Reply r = Call("POST", "/api/v1/session", {}, json{{"token", server_.admin_token()}}.dump());
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.Header("Set-Cookie").find("; Secure"), std::string::npos) << r.Header("Set-Cookie");
}

}  // namespace
}  // namespace tocsin
