// Test Connection against a scripted server: every SPEC §5 code and each of its sub-causes.
#include "mattermost/diagnosis.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/strings.hpp"
#include "unit/mattermost/fake_http_client.hpp"

namespace tocsin::mattermost {
namespace {

using namespace testing;  // NOLINT: the fake server's canned answers

constexpr const char* kToken = "tok7tok7tok7tok7tok7tok7to";
constexpr const char* kChannelId = "chan4chan4chan4chan4chan4c";
constexpr const char* kBase = "https://chat.example.com";
const std::string kPing = "/api/v4/system/ping";
const std::string kMe = "/api/v4/users/me";
const std::string kChannelPath = std::string("/api/v4/channels/") + kChannelId;
const std::string kMemberPath = kChannelPath + "/members/me";
const std::string kByName = "/api/v4/teams/name/acme/channels/name/security-alerts";

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class DiagnosisTest : public ::testing::Test {
 protected:
  TestResult Run(const std::optional<std::string>& channel = std::nullopt) {
    result_ = TestConnection(settings_, channel, server_.Factory(), Millis(4000));
    return result_;
  }
  void HealthyServer(bool bot = true) {
    server_.On("GET", kPing, PingOk());
    server_.On("GET", kMe, Me(bot ? "alertbot" : "alice", bot));
  }
  void ExpectCode(const std::string& code) {
    EXPECT_EQ(result_.code, code) << result_.message << " | " << result_.hint;
    EXPECT_EQ(result_.ok, code == "ok");
    EXPECT_FALSE(result_.message.empty());
    if (code != "ok") {
      EXPECT_FALSE(result_.hint.empty()) << code;
    }
  }

  FakeServer server_;
  ConnectionSettings settings_{kBase, Secret(kToken), false, ""};
  TestResult result_;
};

// --- ok ------------------------------------------------------------------------------------

TEST_F(DiagnosisTest, BotTokenIsOkWithVersionAndOwner) {
  HealthyServer();
  Run();
  ExpectCode("ok");
  EXPECT_TRUE(StartsWith(result_.message, "Connection successful")) << result_.message;
  EXPECT_TRUE(Has(result_.message, "9.11.2")) << result_.message;
  EXPECT_TRUE(Has(result_.message, "bot @alertbot")) << result_.message;
  EXPECT_EQ(result_.server_version, "9.11.2");
  ASSERT_TRUE(result_.user);
  EXPECT_EQ(result_.user->username, "alertbot");
  EXPECT_TRUE(result_.user->is_bot);
  EXPECT_EQ(result_.hint, "");
  EXPECT_FALSE(result_.channel_id);
}

TEST_F(DiagnosisTest, PingGoesWithoutTokenAndOnlyThenTheTokenIsSent) {
  HealthyServer();
  Run();
  ASSERT_EQ(server_.requests().size(), 2u);
  EXPECT_EQ(server_.requests()[0].path, kPing);
  EXPECT_EQ(server_.requests()[0].bearer_token, "");
  EXPECT_EQ(server_.requests()[1].path, kMe);
  EXPECT_EQ(server_.requests()[1].bearer_token, kToken);
}

TEST_F(DiagnosisTest, UserTokenIsOkWithAHintAboutBots) {
  HealthyServer(/*bot=*/false);
  Run();
  ExpectCode("ok");
  EXPECT_TRUE(Has(result_.message, "user @alice")) << result_.message;
  EXPECT_FALSE(result_.user->is_bot);
  EXPECT_TRUE(Has(result_.hint, "personal access token")) << result_.hint;
}

TEST_F(DiagnosisTest, SubpathAndTrailingSlashAreUsedAsGiven) {
  settings_.url = "https://example.com/mattermost/";
  server_.On("GET", "/mattermost" + kPing, PingOk());
  server_.On("GET", "/mattermost" + kMe, Me("alertbot", true));
  Run();
  ExpectCode("ok");
}

TEST_F(DiagnosisTest, PassesTlsSettingsAndTimeoutToTheClientFactory) {
  settings_.insecure = true;
  settings_.ca_file = "/etc/ssl/mm-ca.pem";
  HealthyServer();
  Run();
  ExpectCode("ok");
  ASSERT_TRUE(server_.options());
  EXPECT_TRUE(server_.options()->insecure);
  EXPECT_EQ(server_.options()->ca_file, "/etc/ssl/mm-ca.pem");
  EXPECT_EQ(server_.options()->total_timeout, Millis(4000));
  EXPECT_LE(server_.options()->connect_timeout, Millis(4000));
  EXPECT_TRUE(Has(result_.hint, "Insecure")) << result_.hint;
}

TEST_F(DiagnosisTest, PlainHttpToARemoteHostWarnsAboutTheToken) {
  settings_.url = "http://chat.example.com";
  HealthyServer();
  Run();
  ExpectCode("ok");
  EXPECT_TRUE(Has(result_.hint, "unencrypted")) << result_.hint;
}

TEST_F(DiagnosisTest, ChannelByIdIsOkWhenMember) {
  HealthyServer();
  server_.On("GET", kChannelPath, ChannelJson(kChannelId, "security-alerts"));
  server_.On("GET", kMemberPath, MemberJson(kChannelId));
  Run(kChannelId);
  ExpectCode("ok");
  EXPECT_EQ(result_.channel_id, kChannelId);
  EXPECT_TRUE(Has(result_.message, "~security-alerts")) << result_.message;
}

TEST_F(DiagnosisTest, ChannelByTeamAndNameIsOk) {
  HealthyServer();
  server_.On("GET", kByName, ChannelJson(kChannelId, "security-alerts"));
  server_.On("GET", kMemberPath, MemberJson(kChannelId));
  Run(std::string(" acme/security-alerts "));
  ExpectCode("ok");
  EXPECT_EQ(result_.channel_id, kChannelId);
}

// Delivery resolves routes with the same parser, so Test Connection must not accept more.
TEST_F(DiagnosisTest, NearMissChannelSpellingsSayWhatToWrite) {
  HealthyServer();
  for (const char* spec : {"acme/~security-alerts", "acme/channels/security-alerts"}) {
    Run(std::string(spec));
    ExpectCode("channel_not_found");
    EXPECT_TRUE(Has(result_.message, "write it as acme/security-alerts")) << result_.message;
  }
}

TEST_F(DiagnosisTest, EmptyChannelMeansNoChannelCheck) {
  HealthyServer();
  Run(std::string("  "));
  ExpectCode("ok");
  EXPECT_EQ(server_.requests().size(), 2u);
}

// --- invalid_url ---------------------------------------------------------------------------

TEST_F(DiagnosisTest, InvalidUrlsNeverReachTheNetwork) {
  struct Case {
    std::string url;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"", "empty"},
           {"chat.example.com", "https://chat.example.com"},
           {"ftp://chat.example.com", "\"ftp\""},
           {"https://chat.example.com/api/v4", "without /api/v4"},
           {"https://chat.example.com?x=1", "query"},
           {"https://user:pw@chat.example.com", "user name"},
           {"https://chat.example.com:0", "port"},
       }) {
    settings_.url = c.url;
    Run();
    ExpectCode("invalid_url");
    EXPECT_TRUE(Has(result_.message, c.says)) << c.url << ": " << result_.message;
  }
  EXPECT_EQ(server_.clients_made(), 0);
  EXPECT_TRUE(server_.requests().empty());
}

TEST_F(DiagnosisTest, ClientSideInvalidUrlIsInvalidUrl) {
  server_.On("GET", kPing, NetFail(net::NetErrorKind::kInvalidUrl, "URL rejected: Bad hostname"));
  Run();
  ExpectCode("invalid_url");
}

TEST(ValidateBaseUrl, AcceptsBaseUrlsAndNamesProblems) {
  EXPECT_EQ(ValidateBaseUrl("https://chat.example.com"), "");
  EXPECT_EQ(ValidateBaseUrl("https://chat.example.com/"), "");
  EXPECT_EQ(ValidateBaseUrl("http://127.0.0.1:8065"), "");
  EXPECT_EQ(ValidateBaseUrl("https://example.com/mattermost"), "");
  EXPECT_EQ(ValidateBaseUrl("http://[::1]:8065/mm/"), "");
  EXPECT_TRUE(
      Has(ValidateBaseUrl("https://chat.example.com/api/v4/"), "use https://chat.example.com"));
  EXPECT_TRUE(
      Has(ValidateBaseUrl("https://x.example/mm/api/v4/users"), "use https://x.example/mm"));
  EXPECT_TRUE(Has(ValidateBaseUrl("https://x.example/#top"), "fragment"));
  EXPECT_TRUE(Has(ValidateBaseUrl("https://x.example//mm"), "//"));
  EXPECT_TRUE(Has(ValidateBaseUrl("mailto:someone@example.com"), "scheme"));
  EXPECT_TRUE(Has(ValidateBaseUrl("https://chat example.com"), "space"));
  EXPECT_TRUE(Has(ValidateBaseUrl("https://x.example:70000"), "70000"));
}

// --- connection_failed ---------------------------------------------------------------------

TEST_F(DiagnosisTest, ConnectionFailuresSayWhichAndWhere) {
  struct Case {
    net::NetErrorKind kind;
    std::vector<std::string> says;
  };
  for (const Case& c : std::vector<Case>{
           {net::NetErrorKind::kDnsFailure, {"chat.example.com", "could not be resolved", "DNS"}},
           {net::NetErrorKind::kConnectionRefused, {"chat.example.com:443", "refused"}},
           {net::NetErrorKind::kUnreachable, {"chat.example.com:443", "unreachable"}},
           {net::NetErrorKind::kConnectTimeout, {"chat.example.com:443", "timed out", "4 s"}},
           {net::NetErrorKind::kTimeout, {"chat.example.com:443", "no complete answer", "4 s"}},
           {net::NetErrorKind::kOther, {"chat.example.com:443"}},
       }) {
    server_.On("GET", kPing, NetFail(c.kind, "detail from libcurl"));
    Run();
    ExpectCode("connection_failed");
    for (const auto& s : c.says) {
      EXPECT_TRUE(Has(result_.message, s)) << NetErrorKindName(c.kind) << ": " << result_.message;
    }
  }
}

TEST_F(DiagnosisTest, ProxyAuthenticationIsConnectionFailed) {
  server_.On("GET", kPing, Text(407, "text/html", "<html>proxy auth</html>"));
  Run();
  ExpectCode("connection_failed");
  EXPECT_TRUE(Has(result_.hint, "https_proxy")) << result_.hint;
}

// --- tls_error -----------------------------------------------------------------------------

TEST_F(DiagnosisTest, TlsErrorsNameTheProblem) {
  struct Case {
    net::NetErrorKind kind;
    std::string says;
    std::string hint;
  };
  for (const Case& c : std::vector<Case>{
           {net::NetErrorKind::kTlsUntrusted, "not trusted", "Insecure"},
           {net::NetErrorKind::kTlsHostMismatch, "another host name", "host name"},
           {net::NetErrorKind::kTlsExpired, "expired", "Renew"},
           {net::NetErrorKind::kTlsOther, "handshake", "TLS"},
       }) {
    server_.On("GET", kPing, NetFail(c.kind, "SSL certificate problem"));
    Run();
    ExpectCode("tls_error");
    EXPECT_TRUE(Has(result_.message, c.says)) << result_.message;
    EXPECT_TRUE(Has(result_.message, "chat.example.com:443")) << result_.message;
    EXPECT_TRUE(Has(result_.hint, c.hint)) << result_.hint;
  }
}

TEST_F(DiagnosisTest, UntrustedDespiteCaFileBlamesTheCaFile) {
  settings_.ca_file = "/etc/ssl/wrong-ca.pem";
  server_.On("GET", kPing, NetFail(net::NetErrorKind::kTlsUntrusted, "unable to get local issuer"));
  Run();
  ExpectCode("tls_error");
  EXPECT_TRUE(Has(result_.message, "/etc/ssl/wrong-ca.pem")) << result_.message;
}

TEST_F(DiagnosisTest, UnusableCaFileIsTlsErrorNamingTheFile) {
  settings_.ca_file = "/nope/ca.pem";
  server_.On("GET", kPing,
             NetFail(net::NetErrorKind::kTlsOther, "error setting certificate file: /nope/ca.pem"));
  Run();
  ExpectCode("tls_error");
  EXPECT_TRUE(Has(result_.message, "CA file /nope/ca.pem could not be used")) << result_.message;
}

// --- not_mattermost ------------------------------------------------------------------------

TEST_F(DiagnosisTest, HtmlPageIsNotMattermostWithItsTitleAndASubpathHint) {
  server_.On("GET", kPing,
             Text(200, "text/html; charset=utf-8",
                  "<!doctype html><html><head><title>Welcome to nginx!</title>"));
  Run();
  ExpectCode("not_mattermost");
  EXPECT_TRUE(Has(result_.message, "Welcome to nginx!")) << result_.message;
  EXPECT_TRUE(Has(result_.hint, "subpath")) << result_.hint;
}

TEST_F(DiagnosisTest, JsonWithoutPingShapeIsNotMattermost) {
  server_.On("GET", kPing, Json(200, {{"hello", "world"}}));
  Run();
  ExpectCode("not_mattermost");
}

TEST_F(DiagnosisTest, PlainNotFoundIsNotMattermost) {
  server_.On("GET", kPing, Text(404, "text/plain", "404 page not found"));
  Run();
  ExpectCode("not_mattermost");
  EXPECT_TRUE(Has(result_.message, "404")) << result_.message;
  EXPECT_TRUE(Has(result_.message, "404 page not found")) << result_.message;
}

TEST_F(DiagnosisTest, RedirectToTheSubpathSaysWhichUrlToUse) {
  server_.On("GET", kPing,
             Text(302, "text/html", "", {{"Location", "/mattermost/api/v4/system/ping"}}));
  Run();
  ExpectCode("not_mattermost");
  EXPECT_TRUE(Has(result_.message, "https://chat.example.com/mattermost/api/v4/system/ping"))
      << result_.message;
  EXPECT_TRUE(Has(result_.message, "subpath")) << result_.message;
  EXPECT_EQ(result_.hint, "Use https://chat.example.com/mattermost as the URL.");
}

TEST_F(DiagnosisTest, RedirectToHttpsSaysToUseHttps) {
  settings_.url = "http://chat.example.com";
  server_.On(
      "GET", kPing,
      Text(301, "text/html", "", {{"Location", "https://chat.example.com/api/v4/system/ping"}}));
  Run();
  ExpectCode("not_mattermost");
  EXPECT_TRUE(Has(result_.message, "http:// to https://")) << result_.message;
  EXPECT_EQ(result_.hint, "Use https://chat.example.com as the URL.");
}

TEST_F(DiagnosisTest, RedirectToALoginPageSaysWhere) {
  server_.On(
      "GET", kPing,
      Text(302, "text/html", "", {{"Location", "https://sso.example.com/login?next=%2Fapi"}}));
  Run();
  ExpectCode("not_mattermost");
  EXPECT_TRUE(Has(result_.message, "https://sso.example.com/login")) << result_.message;
}

TEST_F(DiagnosisTest, AuthenticatingProxyOnThePingIsNotMattermost) {
  server_.On("GET", kPing,
             Text(401, "text/html", "<html>auth</html>", {{"WWW-Authenticate", "Basic realm=x"}}));
  Run();
  ExpectCode("not_mattermost");
  EXPECT_TRUE(Has(result_.message, "401")) << result_.message;
}

TEST_F(DiagnosisTest, GarbledHttpIsNotMattermostAndSuggestsHttpsForHttp) {
  settings_.url = "http://chat.example.com:8443";
  server_.On("GET", kPing, NetFail(net::NetErrorKind::kProtocol, "Empty reply from server"));
  Run();
  ExpectCode("not_mattermost");
  EXPECT_TRUE(Has(result_.message, "chat.example.com:8443")) << result_.message;
  EXPECT_TRUE(Has(result_.hint, "https://")) << result_.hint;
}

TEST_F(DiagnosisTest, HtmlFromUsersMeIsNotMattermost) {
  server_.On("GET", kPing, PingOk());
  server_.On("GET", kMe, Text(200, "text/html", "<html><title>Login</title></html>"));
  Run();
  ExpectCode("not_mattermost");
}

// --- token_invalid -------------------------------------------------------------------------

TEST_F(DiagnosisTest, UnauthorizedTokenListsEveryCause) {
  server_.On("GET", kPing, PingOk());
  server_.On("GET", kMe,
             AppError(401, "api.context.session_expired.app_error",
                      "Invalid or expired session, please login again."));
  Run();
  ExpectCode("token_invalid");
  for (const char* cause :
       {"mistyped", "revoked", "expired", "deactivated", "bot",
        "personal access tokens are turned off",
        "System Console › Integrations › Integration Management", "bot tokens are not affected"}) {
    EXPECT_TRUE(Has(result_.message, cause)) << cause << ": " << result_.message;
  }
  EXPECT_TRUE(Has(result_.hint, "update the token")) << result_.hint;
  EXPECT_EQ(result_.server_version, "9.11.2");
}

TEST_F(DiagnosisTest, TokenShapeProblemsAreNamedWithoutQuotingTheToken) {
  server_.On("GET", kPing, PingOk());
  server_.On("GET", kMe, AppError(401, "api.context.session_expired.app_error", "Invalid"));
  settings_.token = Secret("Bearer tok7tok7tok7tok7tok7tok7to");
  Run();
  ExpectCode("token_invalid");
  EXPECT_TRUE(Has(result_.message, "starts with \"Bearer \"")) << result_.message;
  settings_.token = Secret("tok7tok7tok7tok7");
  Run();
  EXPECT_TRUE(Has(result_.message, "16 characters long")) << result_.message;
  EXPECT_FALSE(Has(result_.message, "tok7tok7")) << result_.message;
}

TEST_F(DiagnosisTest, MissingTokenIsTokenInvalidAfterTheServerIsFound) {
  settings_.token = Secret("");
  server_.On("GET", kPing, PingOk());
  Run();
  ExpectCode("token_invalid");
  EXPECT_EQ(server_.requests().size(), 1u);
  EXPECT_EQ(result_.server_version, "9.11.2");
}

// --- forbidden / channel_not_found by id ----------------------------------------------------

TEST_F(DiagnosisTest, ChannelIdThatDoesNotExistIsChannelNotFound) {
  HealthyServer();
  server_.On(
      "GET", kChannelPath,
      AppError(404, "app.channel.get.existing.app_error", "Unable to find the existing channel."));
  Run(kChannelId);
  ExpectCode("channel_not_found");
  EXPECT_TRUE(Has(result_.message, kChannelId)) << result_.message;
  EXPECT_TRUE(result_.user) << "the token worked: say whose it is";
}

TEST_F(DiagnosisTest, ChannelIdTheBotCannotSeeIsForbidden) {
  HealthyServer();
  server_.On("GET", kChannelPath,
             AppError(403, "api.context.permissions.app_error",
                      "You do not have the appropriate permissions."));
  Run(kChannelId);
  ExpectCode("forbidden");
  EXPECT_TRUE(Has(result_.message, "private channel")) << result_.message;
  EXPECT_TRUE(Has(result_.hint, "Add @alertbot")) << result_.hint;
}

TEST_F(DiagnosisTest, ChannelIdWhereTheBotIsNoMemberIsForbiddenWithAddHint) {
  HealthyServer();
  server_.On("GET", kChannelPath, ChannelJson(kChannelId, "security-alerts"));
  server_.On("GET", kMemberPath,
             AppError(403, "api.context.permissions.app_error",
                      "You do not have the appropriate permissions."));
  Run(kChannelId);
  ExpectCode("forbidden");
  EXPECT_TRUE(Has(result_.message, "not a member of channel ~security-alerts")) << result_.message;
  EXPECT_TRUE(Has(result_.hint, "Add @alertbot to ~security-alerts")) << result_.hint;
}

TEST_F(DiagnosisTest, ArchivedChannelIsChannelNotFound) {
  HealthyServer();
  server_.On("GET", kChannelPath,
             ChannelJson(kChannelId, "old-alerts", /*delete_at=*/1700000000000));
  Run(kChannelId);
  ExpectCode("channel_not_found");
  EXPECT_TRUE(Has(result_.message, "archived")) << result_.message;
}

// --- forbidden / channel_not_found by team/channel -----------------------------------------

TEST_F(DiagnosisTest, UnknownTeamIsChannelNotFoundNamingTheTeam) {
  HealthyServer();
  server_.On("GET", kByName,
             AppError(404, "app.team.get_by_name.missing.app_error", "Unable to find the team."));
  Run(std::string("acme/security-alerts"));
  ExpectCode("channel_not_found");
  EXPECT_TRUE(Has(result_.message, "no team named \"acme\"")) << result_.message;
}

TEST_F(DiagnosisTest, UnknownChannelInTeamIsChannelNotFoundNamingBoth) {
  HealthyServer();
  server_.On(
      "GET", kByName,
      AppError(404, "app.channel.get_by_name.missing.app_error", "Unable to find the channel."));
  Run(std::string("acme/security-alerts"));
  ExpectCode("channel_not_found");
  EXPECT_TRUE(Has(result_.message, "team \"acme\" has no channel named \"security-alerts\""))
      << result_.message;
  EXPECT_TRUE(Has(result_.message, "private")) << result_.message;
}

TEST_F(DiagnosisTest, TeamTheBotIsNotInIsForbidden) {
  HealthyServer();
  server_.On("GET", kByName,
             AppError(403, "api.context.permissions.app_error",
                      "You do not have the appropriate permissions."));
  Run(std::string("acme/security-alerts"));
  ExpectCode("forbidden");
  EXPECT_TRUE(Has(result_.message, "not a member of team \"acme\"")) << result_.message;
  EXPECT_TRUE(Has(result_.hint, "Add @alertbot to team \"acme\"")) << result_.hint;
}

TEST_F(DiagnosisTest, ChannelByNameWhereTheBotIsNoMemberIsForbidden) {
  HealthyServer();
  server_.On("GET", kByName, ChannelJson(kChannelId, "security-alerts"));
  server_.On("GET", kMemberPath,
             AppError(403, "api.context.permissions.app_error",
                      "You do not have the appropriate permissions."));
  Run(std::string("acme/security-alerts"));
  ExpectCode("forbidden");
  EXPECT_TRUE(Has(result_.hint, "Add @alertbot to ~security-alerts")) << result_.hint;
}

TEST_F(DiagnosisTest, MalformedChannelSpecsAreChannelNotFoundWithoutRequests) {
  HealthyServer();
  for (const char* spec : {"Security Alerts", "acme/Security Alerts", "a/b/c", "/x", "short-id"}) {
    Run(std::string(spec));
    ExpectCode("channel_not_found");
    EXPECT_TRUE(Has(result_.hint, "team-name/channel-name")) << spec << ": " << result_.hint;
  }
  for (const auto& r : server_.requests()) EXPECT_TRUE(r.path == kPing || r.path == kMe) << r.path;
}

TEST_F(DiagnosisTest, TokenRevokedDuringTheChannelCheckIsTokenInvalid) {
  HealthyServer();
  server_.On("GET", kChannelPath,
             AppError(401, "api.context.session_expired.app_error", "Invalid or expired session"));
  Run(kChannelId);
  ExpectCode("token_invalid");
}

// --- server_error --------------------------------------------------------------------------

TEST_F(DiagnosisTest, MattermostErrorIsQuotedWithItsRequestId) {
  server_.On("GET", kPing, PingOk());
  server_.On(
      "GET", kMe,
      AppError(500, "app.user.get.app_error", "We encountered an error finding the account."));
  Run();
  ExpectCode("server_error");
  EXPECT_TRUE(Has(result_.message, "HTTP 500")) << result_.message;
  EXPECT_TRUE(Has(result_.message, "We encountered an error finding the account."))
      << result_.message;
  EXPECT_TRUE(Has(result_.hint, "req4711req4711req4711req47")) << result_.hint;
}

TEST_F(DiagnosisTest, ProxyGatewayErrorIsServerError) {
  server_.On("GET", kPing, Text(502, "text/html", "<html><title>502 Bad Gateway</title></html>"));
  Run();
  ExpectCode("server_error");
  EXPECT_TRUE(Has(result_.message, "502 Bad Gateway")) << result_.message;
  EXPECT_TRUE(Has(result_.message, "proxy")) << result_.message;
}

TEST_F(DiagnosisTest, UnhealthyPingIsServerError) {
  server_.On("GET", kPing, Json(500, {{"status", "UNHEALTHY"}, {"database_status", "UNHEALTHY"}}));
  Run();
  ExpectCode("server_error");
  EXPECT_TRUE(Has(result_.message, "unhealthy")) << result_.message;
}

TEST_F(DiagnosisTest, RateLimitedIsServerErrorSayingHowLong) {
  server_.On("GET", kPing, PingOk());
  server_.On("GET", kMe,
             Text(429, "text/plain; charset=utf-8", "limit exceeded\n", {{"Retry-After", "3"}}));
  Run();
  ExpectCode("server_error");
  EXPECT_TRUE(Has(result_.message, "rate limiting")) << result_.message;
  EXPECT_TRUE(Has(result_.message, "3 s")) << result_.message;
}

// --- secrets -------------------------------------------------------------------------------

TEST_F(DiagnosisTest, NoResultTextEverContainsTheToken) {
  const std::string echo = std::string("your token ") + kToken + " is bad";
  std::vector<std::function<void(FakeServer&)>> scripts = {
      [&](FakeServer& s) { s.On("GET", kPing, NetFail(net::NetErrorKind::kTlsUntrusted, echo)); },
      [&](FakeServer& s) { s.On("GET", kPing, NetFail(net::NetErrorKind::kOther, echo)); },
      [&](FakeServer& s) {
        s.On("GET", kPing, Text(200, "text/html", "<title>" + echo + "</title>"));
      },
      [&](FakeServer& s) { s.On("GET", kPing, Text(404, "text/plain", echo)); },
      [&](FakeServer& s) { s.On("GET", kPing, Text(502, "text/plain", echo)); },
      [&](FakeServer& s) {
        s.On("GET", kPing,
             Text(302, "text/html", "",
                  {{"Location", std::string("https://x.example/?t=") + kToken}}));
      },
      [&](FakeServer& s) {
        s.On("GET", kPing, PingOk());
        s.On("GET", kMe, AppError(401, "api.context.session_expired.app_error", echo));
      },
      [&](FakeServer& s) {
        s.On("GET", kPing, PingOk());
        s.On("GET", kMe, AppError(500, echo, echo));
      },
      [&](FakeServer& s) {
        s.On("GET", kPing, PingOk());
        s.On("GET", kMe, Json(200, {{"id", kToken}, {"username", echo}, {"is_bot", true}}));
        s.On("GET", kChannelPath, ChannelJson(kChannelId, kToken));
        s.On("GET", kMemberPath, AppError(403, "api.context.permissions.app_error", echo));
      },
      [&](FakeServer& s) {
        s.On("GET", kPing, PingOk());
        s.On("GET", kMe, Me("alertbot", true));
        s.On("GET", kChannelPath, AppError(403, "api.context.permissions.app_error", echo));
      },
  };
  for (size_t i = 0; i < scripts.size(); ++i) {
    FakeServer server;
    scripts[i](server);
    const TestResult r = TestConnection(settings_, std::string(kChannelId), server.Factory());
    const std::string all = ToJson(r).dump();
    EXPECT_FALSE(Has(all, kToken)) << "script " << i << ": " << all;
  }
}

// --- JSON ----------------------------------------------------------------------------------

TEST(DiagnosisJson, HasTheSpecFields) {
  TestResult r;
  r.ok = true;
  r.code = "ok";
  r.message = "Connection successful";
  r.server_version = "9.11.2";
  r.user = TokenOwner{"u1", "alertbot", true};
  r.channel_id = "c1";
  const nlohmann::json j = ToJson(r);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["code"], "ok");
  EXPECT_EQ(j["message"], "Connection successful");
  EXPECT_EQ(j["hint"], "");
  EXPECT_EQ(j["server_version"], "9.11.2");
  EXPECT_EQ(j["user"], (nlohmann::json{{"id", "u1"}, {"username", "alertbot"}, {"is_bot", true}}));
  EXPECT_EQ(j["channel_id"], "c1");

  const nlohmann::json failed = ToJson(TestResult{false, "token_invalid", "m", "h"});
  EXPECT_TRUE(failed["user"].is_null());
  EXPECT_FALSE(failed.contains("channel_id"));
}

}  // namespace
}  // namespace tocsin::mattermost
