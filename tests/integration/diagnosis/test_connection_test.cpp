// Test Connection end to end: the real CurlHttpClient against the Mattermost emulator (and a few
// servers that are not Mattermost), one test per SPEC §5 code and sub-cause. The DNS case needs a
// network namespace and lives in tests/cli; everything here talks to 127.0.0.1 only.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/random.hpp"
#include "core/strings.hpp"
#include "emulator.hpp"
#include "mattermost/diagnosis.hpp"
#include "net/http_client.hpp"
#include "support/raw_tcp_server.hpp"
#include "support/temp_dir.hpp"
#include "unit/net/local_http_server.hpp"

namespace tocsin::mattermost {
namespace {

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

HttpClientFactory Curl() {
  return [](const net::HttpClientOptions& options) { return net::MakeCurlHttpClient(options); };
}

// One emulated Mattermost with a team, channels, a bot and a human, as an admin would set it up.
class TestConnectionIT : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    InitRandom();
    dir_ = new tocsin::testing::TempDir();
    pki_ = new mmemu::TestPki(mmemu::MakeTestPki(dir_->str()));
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete dir_;
  }

  void SetUp() override {
    emu_ = Start(mmemu::Options{});
    ASSERT_TRUE(emu_);
    Populate(*emu_);
  }

  static std::unique_ptr<mmemu::Emulator> Start(mmemu::Options options) {
    auto emu = std::make_unique<mmemu::Emulator>(std::move(options));
    if (!emu->Start()) return nullptr;
    return emu;
  }

  void Populate(mmemu::Emulator& emu) {
    team_ = emu.AddTeam("acme", "ACME");
    other_team_ = emu.AddTeam("other", "Other");
    alerts_ = emu.AddChannel(team_, "security-alerts");
    lobby_ = emu.AddChannel(team_, "lobby");  // public, the bot is not a member
    secret_ = emu.AddChannel(team_, "secret", 'P');
    elsewhere_ = emu.AddChannel(other_team_, "news");
    archived_ = emu.AddChannel(team_, "old-alerts");
    bot_ = emu.AddBot("alertbot");
    bot_token_ = emu.CreateToken(bot_);
    alice_ = emu.AddUser("alice");
    alice_token_ = emu.CreateToken(alice_);
    emu.AddTeamMember(team_, bot_);
    emu.AddChannelMember(alerts_, bot_);
    emu.AddChannelMember(archived_, bot_);
    emu.ArchiveChannel(archived_);
    emu.AddTeamMember(team_, alice_);
    emu.AddChannelMember(alerts_, alice_);
  }

  // Runs Test Connection and checks what must hold for every result.
  TestResult Test(const std::string& url, const std::string& token,
                  const std::optional<std::string>& channel = std::nullopt, bool insecure = false,
                  const std::string& ca_file = "", Millis timeout = Millis(5000)) {
    ConnectionSettings settings{url, Secret(token), insecure, ca_file};
    TestResult r = TestConnection(settings, channel, Curl(), timeout);
    EXPECT_FALSE(r.code.empty());
    EXPECT_FALSE(r.message.empty());
    if (!r.ok) {
      EXPECT_FALSE(r.hint.empty()) << r.code;
    }
    EXPECT_FALSE(Has(ToJson(r).dump(), token)) << "token leaked: " << ToJson(r).dump();
    return r;
  }
  TestResult TestBot(const std::optional<std::string>& channel = std::nullopt) {
    return Test(emu_->base_url(), bot_token_, channel);
  }

  static tocsin::testing::TempDir* dir_;
  static mmemu::TestPki* pki_;
  std::unique_ptr<mmemu::Emulator> emu_;
  std::string team_, other_team_, alerts_, lobby_, secret_, elsewhere_, archived_;
  std::string bot_, bot_token_, alice_, alice_token_;
};

tocsin::testing::TempDir* TestConnectionIT::dir_ = nullptr;
mmemu::TestPki* TestConnectionIT::pki_ = nullptr;

#define EXPECT_CODE(result, expected) \
  EXPECT_EQ((result).code, expected) << (result).message << " | hint: " << (result).hint

// --- ok ------------------------------------------------------------------------------------

TEST_F(TestConnectionIT, BotTokenIsOk) {
  const TestResult r = TestBot();
  EXPECT_CODE(r, "ok");
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(StartsWith(r.message, "Connection successful")) << r.message;
  EXPECT_EQ(r.server_version, "9.11.2");
  ASSERT_TRUE(r.user);
  EXPECT_EQ(r.user->id, bot_);
  EXPECT_EQ(r.user->username, "alertbot");
  EXPECT_TRUE(r.user->is_bot);
  // The ping went without credentials; only /users/me carried the token.
  const auto requests = emu_->Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].path, "/api/v4/system/ping");
  EXPECT_EQ(requests[0].authorization_scheme, "");
  EXPECT_EQ(requests[1].path, "/api/v4/users/me");
  EXPECT_EQ(requests[1].authorization_scheme, "Bearer");
}

TEST_F(TestConnectionIT, UserPersonalAccessTokenIsOk) {
  const TestResult r = Test(emu_->base_url(), alice_token_);
  EXPECT_CODE(r, "ok");
  ASSERT_TRUE(r.user);
  EXPECT_EQ(r.user->username, "alice");
  EXPECT_FALSE(r.user->is_bot);
  EXPECT_EQ(r.server_version, "9.11.2");
  EXPECT_TRUE(Has(r.hint, "personal access token")) << r.hint;
}

TEST_F(TestConnectionIT, ReportsTheServersVersion) {
  mmemu::Options options;
  options.version = "10.5.1";
  auto emu = Start(options);
  ASSERT_TRUE(emu);
  const std::string bot = emu->AddBot("bot");
  const TestResult r = Test(emu->base_url() + "/", emu->CreateToken(bot));
  EXPECT_CODE(r, "ok");
  EXPECT_EQ(r.server_version, "10.5.1");
  EXPECT_TRUE(Has(r.message, "10.5.1")) << r.message;
}

TEST_F(TestConnectionIT, ChannelByIdAndByNameIsOkForAMember) {
  TestResult r = TestBot(alerts_);
  EXPECT_CODE(r, "ok");
  EXPECT_EQ(r.channel_id, alerts_);
  r = TestBot(std::string("acme/security-alerts"));
  EXPECT_CODE(r, "ok");
  EXPECT_EQ(r.channel_id, alerts_);
}

// --- invalid_url ---------------------------------------------------------------------------

TEST_F(TestConnectionIT, MalformedUrlsAreInvalidUrl) {
  const std::vector<std::string> urls = {"",        "127.0.0.1:8065", "ftp://127.0.0.1/",
                                         "http://", "http://x:99999", emu_->base_url() + "/api/v4"};
  for (const std::string& url : urls) {
    const TestResult r = Test(url, bot_token_);
    EXPECT_CODE(r, "invalid_url");
  }
  EXPECT_TRUE(emu_->Requests().empty());
}

// --- connection_failed ---------------------------------------------------------------------

TEST_F(TestConnectionIT, RefusedPortIsConnectionFailedNamingHostAndPort) {
  tocsin::testing::ClosedPort closed;
  const std::string where = "127.0.0.1:" + std::to_string(closed.port());
  const TestResult r = Test("http://" + where, bot_token_);
  EXPECT_CODE(r, "connection_failed");
  EXPECT_TRUE(Has(r.message, "refused")) << r.message;
  EXPECT_TRUE(Has(r.message, where)) << r.message;
}

TEST_F(TestConnectionIT, ServerThatNeverAnswersIsConnectionFailedTimeout) {
  tocsin::testing::RawTcpServer silent;
  const TestResult r = Test(silent.url(), bot_token_, std::nullopt, false, "", Millis(500));
  EXPECT_CODE(r, "connection_failed");
  EXPECT_TRUE(Has(r.message, "no complete answer")) << r.message;
  EXPECT_TRUE(Has(r.message, "127.0.0.1:" + std::to_string(silent.port()))) << r.message;
}

TEST_F(TestConnectionIT, UnansweredConnectionAttemptIsConnectionFailedConnectTimeout) {
  tocsin::testing::SilentPort port;
  const TestResult r = Test("http://127.0.0.1:" + std::to_string(port.port()), bot_token_,
                            std::nullopt, false, "", Millis(500));
  EXPECT_CODE(r, "connection_failed");
  EXPECT_TRUE(Has(r.message, "timed out")) << r.message;
}

// --- tls_error and its fixes ---------------------------------------------------------------

class TlsIT : public TestConnectionIT {
 protected:
  // An emulated Mattermost over HTTPS with the given certificate; `host` is what the URL says.
  std::string StartTls(const std::string& cert, const std::string& key,
                       const std::string& host = "127.0.0.1") {
    mmemu::Options options;
    options.cert_file = cert;
    options.key_file = key;
    tls_ = Start(options);
    if (!tls_) return "";
    tls_bot_token_ = tls_->CreateToken(tls_->AddBot("alertbot"));
    return "https://" + host + ":" + std::to_string(tls_->port());
  }
  std::unique_ptr<mmemu::Emulator> tls_;
  std::string tls_bot_token_;
};

TEST_F(TlsIT, UnknownCaIsTlsErrorSuggestingCaFileOrInsecure) {
  const std::string url = StartTls(pki_->leaf_cert, pki_->leaf_key);
  ASSERT_FALSE(url.empty());
  const TestResult r = Test(url, tls_bot_token_);
  EXPECT_CODE(r, "tls_error");
  EXPECT_TRUE(Has(r.message, "not trusted")) << r.message;
  EXPECT_TRUE(Has(r.hint, "CA file")) << r.hint;
  EXPECT_TRUE(Has(r.hint, "Insecure")) << r.hint;
  EXPECT_TRUE(tls_->Requests().empty()) << "nothing may be sent over an unverified connection";
}

TEST_F(TlsIT, InsecureIsOkWithAWarning) {
  const std::string url = StartTls(pki_->leaf_cert, pki_->leaf_key);
  ASSERT_FALSE(url.empty());
  const TestResult r = Test(url, tls_bot_token_, std::nullopt, /*insecure=*/true);
  EXPECT_CODE(r, "ok");
  EXPECT_TRUE(Has(r.hint, "Insecure")) << r.hint;
}

TEST_F(TlsIT, CaFileIsOk) {
  const std::string url = StartTls(pki_->leaf_cert, pki_->leaf_key, "localhost");
  ASSERT_FALSE(url.empty());
  const TestResult r = Test(url, tls_bot_token_, std::nullopt, false, pki_->ca_cert);
  EXPECT_CODE(r, "ok");
  EXPECT_EQ(r.hint, "");
}

TEST_F(TlsIT, CertificateForAnotherHostIsTlsError) {
  const std::string url = StartTls(pki_->other_host_cert, pki_->other_host_key, "localhost");
  ASSERT_FALSE(url.empty());
  const TestResult r = Test(url, tls_bot_token_, std::nullopt, false, pki_->ca_cert);
  EXPECT_CODE(r, "tls_error");
  EXPECT_TRUE(Has(r.message, "another host name")) << r.message;
}

TEST_F(TlsIT, ExpiredCertificateIsTlsError) {
  const std::string url = StartTls(pki_->expired_cert, pki_->expired_key);
  ASSERT_FALSE(url.empty());
  const TestResult r = Test(url, tls_bot_token_, std::nullopt, false, pki_->ca_cert);
  EXPECT_CODE(r, "tls_error");
  EXPECT_TRUE(Has(r.message, "expired")) << r.message;
}

TEST_F(TlsIT, UnreadableCaFileIsTlsErrorNamingIt) {
  const std::string url = StartTls(pki_->leaf_cert, pki_->leaf_key);
  ASSERT_FALSE(url.empty());
  const std::string missing = dir_->str() + "/missing-ca.pem";
  const TestResult r = Test(url, tls_bot_token_, std::nullopt, false, missing);
  EXPECT_CODE(r, "tls_error");
  EXPECT_TRUE(Has(r.message, missing)) << r.message;
}

// --- not_mattermost ------------------------------------------------------------------------

TEST_F(TestConnectionIT, HtmlWebServerIsNotMattermost) {
  tocsin::testing::LocalHttpServer web;
  web.server().Get(".*", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("<!DOCTYPE html><html><head><title>Intranet</title></head><body></body></html>",
                    "text/html");
  });
  web.Start();
  const TestResult r = Test(web.url(), bot_token_);
  EXPECT_CODE(r, "not_mattermost");
  EXPECT_TRUE(Has(r.message, "Intranet")) << r.message;
  EXPECT_TRUE(Has(r.hint, "subpath")) << r.hint;
}

TEST_F(TestConnectionIT, MissingSubpathIsNotMattermostNamingTheRightUrl) {
  mmemu::Options options;
  options.subpath = "/mattermost";
  auto emu = Start(options);
  ASSERT_TRUE(emu);
  const std::string token = emu->CreateToken(emu->AddBot("alertbot"));
  const std::string root = "http://127.0.0.1:" + std::to_string(emu->port());
  const TestResult r = Test(root, token);
  EXPECT_CODE(r, "not_mattermost");
  EXPECT_TRUE(Has(r.message, "subpath")) << r.message;
  EXPECT_EQ(r.hint, "Use " + root + "/mattermost as the URL.");
  // Following the hint works; the token was never sent to the wrong address.
  for (const auto& request : emu->Requests()) EXPECT_EQ(request.authorization_scheme, "");
  EXPECT_CODE(Test(root + "/mattermost", token), "ok");
}

TEST_F(TestConnectionIT, NonHttpServiceIsNotMattermost) {
  tocsin::testing::RawTcpServer ssh(
      tocsin::testing::RawTcpServer::Options{.answer = "SSH-2.0-OpenSSH_9.2\r\n"});
  const TestResult r = Test(ssh.url(), bot_token_);
  EXPECT_CODE(r, "not_mattermost");
}

// --- token_invalid -------------------------------------------------------------------------

TEST_F(TestConnectionIT, UnknownTokenIsTokenInvalid) {
  const TestResult r = Test(emu_->base_url(), NewId());
  EXPECT_CODE(r, "token_invalid");
  EXPECT_EQ(r.server_version, "9.11.2");
  EXPECT_TRUE(Has(r.message, "revoked")) << r.message;
}

TEST_F(TestConnectionIT, RevokedTokenIsTokenInvalid) {
  emu_->RevokeToken(bot_token_);
  EXPECT_CODE(TestBot(), "token_invalid");
}

TEST_F(TestConnectionIT, DeactivatedBotIsTokenInvalid) {
  emu_->SetUserActive(bot_, false);
  const TestResult r = TestBot();
  EXPECT_CODE(r, "token_invalid");
  EXPECT_TRUE(Has(r.message, "deactivated")) << r.message;
}

TEST_F(TestConnectionIT, PersonalTokenWhilePatsAreDisabledIsTokenInvalidButBotsWork) {
  emu_->SetUserAccessTokensEnabled(false);
  const TestResult r = Test(emu_->base_url(), alice_token_);
  EXPECT_CODE(r, "token_invalid");
  EXPECT_TRUE(Has(r.message, "Integration Management")) << r.message;
  EXPECT_CODE(TestBot(), "ok");
}

// --- forbidden / channel_not_found ---------------------------------------------------------

TEST_F(TestConnectionIT, PublicChannelWithoutMembershipIsForbiddenById) {
  const TestResult r = TestBot(lobby_);
  EXPECT_CODE(r, "forbidden");
  EXPECT_TRUE(Has(r.message, "not a member of channel ~lobby")) << r.message;
  EXPECT_TRUE(Has(r.hint, "Add @alertbot to ~lobby")) << r.hint;
}

TEST_F(TestConnectionIT, PrivateChannelWithoutMembershipIsForbiddenById) {
  const TestResult r = TestBot(secret_);
  EXPECT_CODE(r, "forbidden");
  EXPECT_TRUE(Has(r.message, "private channel")) << r.message;
}

TEST_F(TestConnectionIT, UnknownChannelIdIsChannelNotFound) {
  const std::string missing = NewId();
  const TestResult r = TestBot(missing);
  EXPECT_CODE(r, "channel_not_found");
  EXPECT_TRUE(Has(r.message, missing)) << r.message;
}

TEST_F(TestConnectionIT, ArchivedChannelIsChannelNotFound) {
  const TestResult r = TestBot(archived_);
  EXPECT_CODE(r, "channel_not_found");
  EXPECT_TRUE(Has(r.message, "archived")) << r.message;
}

TEST_F(TestConnectionIT, UnknownTeamIsChannelNotFoundNamingTheTeam) {
  const TestResult r = TestBot(std::string("nope/security-alerts"));
  EXPECT_CODE(r, "channel_not_found");
  EXPECT_TRUE(Has(r.message, "no team named \"nope\"")) << r.message;
}

TEST_F(TestConnectionIT, UnknownChannelNameIsChannelNotFoundNamingIt) {
  const TestResult r = TestBot(std::string("acme/nope"));
  EXPECT_CODE(r, "channel_not_found");
  EXPECT_TRUE(Has(r.message, "no channel named \"nope\"")) << r.message;
}

TEST_F(TestConnectionIT, PrivateChannelByNameIsChannelNotFound) {
  // Mattermost hides private channels from non-members by name (404, API-FACTS §3.4).
  const TestResult r = TestBot(std::string("acme/secret"));
  EXPECT_CODE(r, "channel_not_found");
}

TEST_F(TestConnectionIT, TeamTheBotIsNotInIsForbiddenByName) {
  const TestResult r = TestBot(std::string("other/news"));
  EXPECT_CODE(r, "forbidden");
  EXPECT_TRUE(Has(r.message, "not a member of team \"other\"")) << r.message;
}

TEST_F(TestConnectionIT, PublicChannelWithoutMembershipIsForbiddenByName) {
  const TestResult r = TestBot(std::string("acme/lobby"));
  EXPECT_CODE(r, "forbidden");
  EXPECT_TRUE(Has(r.hint, "Add @alertbot")) << r.hint;
}

// --- server_error --------------------------------------------------------------------------

TEST_F(TestConnectionIT, ServerErrorOnTheTokenCheckQuotesMattermost) {
  emu_->SetFault(mmemu::Fault{mmemu::FaultKind::kStatus, 500, 0, "/api/v4/users/me", -1});
  const TestResult r = TestBot();
  EXPECT_CODE(r, "server_error");
  EXPECT_TRUE(Has(r.message, "HTTP 500")) << r.message;
  EXPECT_TRUE(Has(r.message, "Fault injected by the emulator.")) << r.message;
}

TEST_F(TestConnectionIT, UnavailableServerIsServerError) {
  emu_->SetFault(mmemu::Fault{mmemu::FaultKind::kStatus, 503, 0, "", -1});
  const TestResult r = TestBot();
  EXPECT_CODE(r, "server_error");
  EXPECT_TRUE(Has(r.message, "503")) << r.message;
}

}  // namespace
}  // namespace tocsin::mattermost
