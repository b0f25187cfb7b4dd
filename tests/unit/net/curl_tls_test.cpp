// CurlHttpClient over TLS against loopback cpp-httplib servers with throw-away certificates
// (mmemu::MakeTestPki: a CA, a leaf for localhost/127.0.0.1/::1, one for another host, an
// expired one).
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <set>

#include "emulator.hpp"
#include "net/http_client.hpp"
#include "support/temp_dir.hpp"
#include "unit/net/local_http_server.hpp"

namespace tocsin::net {
namespace {

using testing::LocalHttpServer;

class CurlTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new tocsin::testing::TempDir();
    pki_ = new mmemu::TestPki(mmemu::MakeTestPki(dir_->str()));
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete dir_;
  }
  void SetUp() override { ASSERT_FALSE(pki_->ca_cert.empty()) << "MakeTestPki failed"; }

  static std::unique_ptr<LocalHttpServer> Serve(
      const std::string& cert, const std::string& key,
      const std::function<void(httplib::Server&)>& configure = {}) {
    auto server = std::make_unique<LocalHttpServer>(cert, key);
    server->server().Get("/ping", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"status":"OK"})", "application/json");
    });
    if (configure) configure(server->server());
    server->Start();
    return server;
  }
  static HttpResult Fetch(const std::string& url, HttpClientOptions options) {
    options.connect_timeout = Millis(3000);
    options.total_timeout = Millis(5000);
    HttpRequest request;
    request.url = url;
    return MakeCurlHttpClient(options)->Send(request);
  }
  static HttpClientOptions WithCa() {
    HttpClientOptions options;
    options.ca_file = pki_->ca_cert;
    return options;
  }

  static tocsin::testing::TempDir* dir_;
  static mmemu::TestPki* pki_;
};

tocsin::testing::TempDir* CurlTlsTest::dir_ = nullptr;
mmemu::TestPki* CurlTlsTest::pki_ = nullptr;

TEST_F(CurlTlsTest, UnknownCaIsUntrusted) {
  auto server = Serve(pki_->leaf_cert, pki_->leaf_key);
  auto response = Fetch(server->url("/ping"), HttpClientOptions{});
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, NetErrorKind::kTlsUntrusted) << response.error().detail;
}

TEST_F(CurlTlsTest, InsecureAcceptsAnUntrustedCertificate) {
  auto server = Serve(pki_->leaf_cert, pki_->leaf_key);
  HttpClientOptions options;
  options.insecure = true;
  auto response = Fetch(server->url("/ping"), options);
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(response->status, 200);
}

TEST_F(CurlTlsTest, CaFileMakesTheCertificateTrustedByIpAndName) {
  auto server = Serve(pki_->leaf_cert, pki_->leaf_key);
  auto by_ip = Fetch(server->url("/ping"), WithCa());
  ASSERT_TRUE(by_ip) << by_ip.error().detail;
  EXPECT_EQ(by_ip->body, R"({"status":"OK"})");
  auto by_name = Fetch(server->url("/ping", "localhost"), WithCa());
  ASSERT_TRUE(by_name) << by_name.error().detail;
}

TEST_F(CurlTlsTest, CertificateForAnotherHostIsHostMismatch) {
  auto server = Serve(pki_->other_host_cert, pki_->other_host_key);
  auto response = Fetch(server->url("/ping", "localhost"), WithCa());
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, NetErrorKind::kTlsHostMismatch) << response.error().detail;
  auto by_ip = Fetch(server->url("/ping"), WithCa());
  ASSERT_FALSE(by_ip);
  EXPECT_EQ(by_ip.error().kind, NetErrorKind::kTlsHostMismatch) << by_ip.error().detail;
}

TEST_F(CurlTlsTest, InsecureAlsoSkipsTheHostCheck) {
  auto server = Serve(pki_->other_host_cert, pki_->other_host_key);
  HttpClientOptions options;
  options.insecure = true;
  auto response = Fetch(server->url("/ping"), options);
  ASSERT_TRUE(response) << response.error().detail;
}

TEST_F(CurlTlsTest, ExpiredCertificateIsExpired) {
  auto server = Serve(pki_->expired_cert, pki_->expired_key);
  auto response = Fetch(server->url("/ping"), WithCa());
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, NetErrorKind::kTlsExpired) << response.error().detail;
}

TEST_F(CurlTlsTest, MissingCaFileIsTlsOtherNamingTheFile) {
  auto server = Serve(pki_->leaf_cert, pki_->leaf_key);
  HttpClientOptions options;
  options.ca_file = dir_->str() + "/no-such-ca.pem";
  auto response = Fetch(server->url("/ping"), options);
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, NetErrorKind::kTlsOther) << response.error().detail;
  EXPECT_NE(response.error().detail.find("no-such-ca.pem"), std::string::npos)
      << response.error().detail;
}

TEST_F(CurlTlsTest, CaFileWithoutCertificatesIsTlsOtherNamingTheFile) {
  auto server = Serve(pki_->leaf_cert, pki_->leaf_key);
  const std::string garbage = dir_->str() + "/garbage.pem";
  std::ofstream(garbage) << "this is not a certificate\n";
  HttpClientOptions options;
  options.ca_file = garbage;
  auto response = Fetch(server->url("/ping"), options);
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, NetErrorKind::kTlsOther) << response.error().detail;
  EXPECT_NE(response.error().detail.find("garbage.pem"), std::string::npos)
      << response.error().detail;
}

TEST_F(CurlTlsTest, HttpsToAPlainHttpPortIsTlsOther) {
  LocalHttpServer plain;
  plain.server().Get("/ping", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  plain.Start();
  const std::string url = "https://127.0.0.1:" + std::to_string(plain.port()) + "/ping";
  auto response = Fetch(url, WithCa());
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, NetErrorKind::kTlsOther) << response.error().detail;
}

TEST_F(CurlTlsTest, PlainHttpToATlsPortIsProtocolError) {
  auto server = Serve(pki_->leaf_cert, pki_->leaf_key);
  const std::string url = "http://127.0.0.1:" + std::to_string(server->port()) + "/ping";
  auto response = Fetch(url, WithCa());
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, NetErrorKind::kProtocol) << response.error().detail;
}

TEST_F(CurlTlsTest, KeepsTheTlsConnectionAlive) {
  std::mutex mu;
  std::set<int> ports;
  auto server = Serve(pki_->leaf_cert, pki_->leaf_key, [&](httplib::Server& s) {
    s.set_keep_alive_max_count(100);
    s.Get("/count", [&](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu);
      ports.insert(req.remote_port);
      res.set_content("{}", "application/json");
    });
  });
  HttpClientOptions options = WithCa();
  auto client = MakeCurlHttpClient(options);
  for (int i = 0; i < 5; ++i) {
    HttpRequest request;
    request.url = server->url("/count");
    auto response = client->Send(request);
    ASSERT_TRUE(response) << response.error().detail;
  }
  std::lock_guard lock(mu);
  EXPECT_EQ(ports.size(), 1u);
}

}  // namespace
}  // namespace tocsin::net
