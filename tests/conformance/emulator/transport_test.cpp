// API-FACTS checklist 15 and §10: TLS, subpath redirects, gzip, fault injection, shutdown.
#include <chrono>
#include <thread>

#include "emulator_fixture.hpp"
#include "support/temp_dir.hpp"

namespace mmemu::testing {
namespace {

using std::chrono::milliseconds;

class Tls : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = MakeTestPki(dir_.str());
    ASSERT_FALSE(pki_.ca_cert.empty());
  }

  std::unique_ptr<Emulator> StartTls(const std::string& cert, const std::string& key) {
    Options options;
    options.cert_file = cert;
    options.key_file = key;
    auto emu = std::make_unique<Emulator>(options);
    EXPECT_TRUE(emu->Start());
    return emu;
  }

  httplib::Result Ping(const Emulator& emu, const std::string& host = "127.0.0.1") {
    httplib::SSLClient client(host, emu.port());
    client.set_ca_cert_path(pki_.ca_cert.c_str());
    client.enable_server_certificate_verification(true);
    client.set_connection_timeout(2);
    client.set_read_timeout(5);
    return client.Get("/api/v4/system/ping");
  }

  tocsin::testing::TempDir dir_;
  TestPki pki_;
};

TEST_F(Tls, ServesHttpsWithACertificateTheCaVouchesFor) {
  auto emu = StartTls(pki_.leaf_cert, pki_.leaf_key);
  EXPECT_EQ(emu->base_url().rfind("https://127.0.0.1:", 0), 0u);
  auto r = Ping(*emu);
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);
  r = Ping(*emu, "localhost");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);
}

TEST_F(Tls, CertificateForAnotherHostFailsVerification) {
  auto emu = StartTls(pki_.other_host_cert, pki_.other_host_key);
  auto r = Ping(*emu);
  EXPECT_FALSE(r);
}

TEST_F(Tls, ExpiredCertificateFailsVerification) {
  auto emu = StartTls(pki_.expired_cert, pki_.expired_key);
  auto r = Ping(*emu);
  EXPECT_FALSE(r);
}

TEST_F(Tls, FaultsDropTlsConnectionsToo) {
  auto emu = StartTls(pki_.leaf_cert, pki_.leaf_key);
  emu->SetFault({FaultKind::kCloseConnection, 0, 0, "", 1});
  EXPECT_FALSE(Ping(*emu));
  emu->SetFault({FaultKind::kLoseResponseAfterCommit, 0, 0, "", 1});
  EXPECT_FALSE(Ping(*emu));
  auto r = Ping(*emu);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(Tls, PlainHttpToTheTlsPortGetsNoHttpAnswer) {
  auto emu = StartTls(pki_.leaf_cert, pki_.leaf_key);
  httplib::Client client("127.0.0.1", emu->port());
  client.set_read_timeout(2);
  auto r = client.Get("/api/v4/system/ping");
  EXPECT_TRUE(!r || r->status != 200);
}

TEST_F(Tls, MissingCertificateFileMakesStartFail) {
  Options options;
  options.cert_file = dir_.str() + "/none.pem";
  options.key_file = pki_.leaf_key;
  Emulator emu(options);
  EXPECT_FALSE(emu.Start());
}

class Subpath : public EmulatorTest {
 protected:
  void SetUp() override {
    Options options;
    options.subpath = "/mattermost/";
    StartWith(options);
  }
};

TEST_F(Subpath, ApiLivesUnderTheSubpath) {
  EXPECT_EQ(emu_->base_url(), "http://127.0.0.1:" + std::to_string(emu_->port()) + "/mattermost");
  auto r = Get("/mattermost/api/v4/users/me", bot_token_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(Subpath, RequestsMissingTheSubpathAre302WithTheQueryKept) {
  auto client = Client();
  client->set_follow_location(false);
  auto r = client->Get("/api/v4/channels/abc/posts?since=5", Bearer(bot_token_));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->get_header_value("Location"), "/mattermost/api/v4/channels/abc/posts?since=5");
  EXPECT_FALSE(r->has_header("X-Request-Id"));
  auto post = client->Post("/api/v4/posts", Bearer(bot_token_), "{}", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 302);
  EXPECT_EQ(emu_->TotalPosts(), 0u);
}

TEST_F(Subpath, UnknownApiPathUnderTheSubpathIs404Json) {
  auto r = Get("/mattermost/api/v4/nothing", bot_token_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(Body(r).value("id", ""), "api.context.404.app_error");
}

TEST_F(Subpath, SessionCookieIsClearedForTheSubpath) {
  auto r = Get("/mattermost/api/v4/users/me", "nonsense");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Set-Cookie", 0),
            "MMAUTHTOKEN=; Path=/mattermost; Max-Age=0; HttpOnly");
}

class Gzip : public EmulatorTest {};

TEST_F(Gzip, LargeApiResponsesAreGzippedWhenAsked) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(CreatePost(bot_token_, {{"channel_id", alerts_}, {"message", "m"}})->status, 201);
  }
  auto client = Client();
  client->set_decompress(false);
  httplib::Headers headers = Bearer(bot_token_);
  headers.emplace("Accept-Encoding", "gzip, br");
  auto r = client->Get(("/api/v4/channels/" + alerts_ + "/posts").c_str(), headers);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Encoding"), "gzip");  // never brotli
  auto small = client->Get("/api/v4/system/ping", headers);
  ASSERT_TRUE(small);
  EXPECT_FALSE(small->has_header("Content-Encoding"));  // under gzhttp's minimum size
}

TEST_F(Gzip, NotCompressedUnlessAsked) {
  auto r = Get("/api/v4/users/me", bot_token_);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_header("Content-Encoding"));
}

class Faults : public EmulatorTest {};

TEST_F(Faults, StatusFaultAnswersJsonWithStandardHeaders) {
  emu_->SetFault({FaultKind::kStatus, 503, 0, "", -1});
  auto r = Get("/api/v4/users/me", bot_token_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(Body(r).value("request_id", ""), r->get_header_value("X-Request-Id"));
  EXPECT_EQ(Body(r).value("status_code", 0), 503);
  emu_->SetFault({});
  EXPECT_EQ(Get("/api/v4/users/me", bot_token_)->status, 200);
}

TEST_F(Faults, CountAndPathPrefixLimitTheFault) {
  emu_->SetFault({FaultKind::kStatus, 500, 0, "/api/v4/posts", 2});
  EXPECT_EQ(Get("/api/v4/users/me", bot_token_)->status, 200);  // other path
  EXPECT_EQ(CreatePost(bot_token_, {{"channel_id", alerts_}})->status, 500);
  EXPECT_EQ(CreatePost(bot_token_, {{"channel_id", alerts_}})->status, 500);
  EXPECT_EQ(CreatePost(bot_token_, {{"channel_id", alerts_}})->status, 201);
  EXPECT_EQ(emu_->TotalPosts(), 1u);
}

TEST_F(Faults, CloseConnectionGivesNoResponseAndCreatesNothing) {
  emu_->SetFault({FaultKind::kCloseConnection, 0, 0, "", 1});
  auto r = CreatePost(bot_token_, {{"channel_id", alerts_}});
  EXPECT_FALSE(r);
  EXPECT_EQ(emu_->TotalPosts(), 0u);
  EXPECT_EQ(CreatePost(bot_token_, {{"channel_id", alerts_}})->status, 201);
  std::vector<RequestRecord> log = emu_->Requests();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].status, 0);
  EXPECT_EQ(log[1].status, 201);
}

TEST_F(Faults, DelayOutlastsAShortClientTimeout) {
  emu_->SetFault({FaultKind::kDelay, 0, 1500, "/api/v4/users", 1});
  auto client = Client();
  client->set_read_timeout(0, 200000);  // 200 ms
  auto r = client->Get("/api/v4/users/me", Bearer(bot_token_));
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error(), httplib::Error::Read);
}

TEST_F(Faults, DelayThenAnswersNormally) {
  emu_->SetFault({FaultKind::kDelay, 0, 100, "", 1});
  auto start = std::chrono::steady_clock::now();
  auto r = Get("/api/v4/users/me", bot_token_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(100));
}

TEST_F(Faults, HangHoldsTheRequestUntilCleared) {
  emu_->SetFault({FaultKind::kHang, 0, 0, "/api/v4/users", -1});
  std::optional<httplib::Result> r;
  std::thread waiting([&] { r.emplace(Get("/api/v4/users/me", bot_token_)); });
  ASSERT_TRUE(emu_->WaitForHeldRequests(1, std::chrono::seconds(5)));
  EXPECT_EQ(Client()->Get("/api/v4/system/ping")->status, 200);  // other paths unaffected
  emu_->SetFault({});
  waiting.join();
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->status, 200);
}

TEST_F(Faults, HangAlsoHoldsCreatesThatFailBeforeTheCommit) {
  emu_->SetFault({FaultKind::kHang, 0, 0, "/api/v4/posts", -1});
  std::optional<httplib::Result> r;
  std::thread waiting([&] { r.emplace(CreatePost(bot_token_, {{"channel_id", incidents_}})); });
  ASSERT_TRUE(emu_->WaitForHeldRequests(1, std::chrono::seconds(5)));
  emu_->SetFault({});
  waiting.join();
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->status, 403);
}

TEST_F(Faults, StopReleasesHungRequestsByDroppingThem) {
  emu_->SetFault({FaultKind::kHang, 0, 0, "", -1});
  std::optional<httplib::Result> r;
  std::thread waiting([&] { r.emplace(Get("/api/v4/users/me", bot_token_)); });
  ASSERT_TRUE(emu_->WaitForHeldRequests(1, std::chrono::seconds(5)));
  auto start = std::chrono::steady_clock::now();
  emu_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  waiting.join();
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
}

TEST_F(Faults, StopIsQuickWithIdleKeepAliveConnections) {
  httplib::Client client("127.0.0.1", emu_->port());
  client.set_keep_alive(true);
  ASSERT_EQ(client.Get("/api/v4/system/ping")->status, 200);
  auto start = std::chrono::steady_clock::now();
  emu_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

}  // namespace
}  // namespace mmemu::testing
