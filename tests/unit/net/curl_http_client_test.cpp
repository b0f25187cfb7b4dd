// CurlHttpClient against real loopback servers: what reaches the wire and how failures classify.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <set>
#include <string>

#include "core/version.hpp"
#include "net/http_client.hpp"
#include "support/raw_tcp_server.hpp"
#include "unit/net/local_http_server.hpp"

namespace tocsin::net {
namespace {

using testing::ClosedPort;
using testing::LocalHttpServer;
using testing::RawTcpServer;
using testing::SilentPort;

constexpr const char* kToken = "s3cr3ttokenvalue4711abcdef";

HttpClientOptions FastOptions() {
  HttpClientOptions options;
  options.connect_timeout = Millis(2000);
  options.total_timeout = Millis(5000);
  return options;
}

HttpRequest Get(std::string url) {
  HttpRequest request;
  request.url = std::move(url);
  return request;
}

TEST(CurlHttpClient, ReusesOneConnectionForManyRequests) {
  LocalHttpServer local;
  std::mutex mu;
  std::set<int> client_ports;
  local.server().set_keep_alive_max_count(100);
  local.server().Get("/ping", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu);
    client_ports.insert(req.remote_port);
    res.set_content("{}", "application/json");
  });
  local.Start();
  auto client = MakeCurlHttpClient(FastOptions());
  for (int i = 0; i < 10; ++i) {
    auto response = client->Send(Get(local.url("/ping")));
    ASSERT_TRUE(response) << response.error().detail;
    EXPECT_EQ(response->status, 200);
  }
  std::lock_guard lock(mu);
  EXPECT_EQ(client_ports.size(), 1u) << "every request should ride the same TCP connection";
}

TEST(CurlHttpClient, ReturnsErrorStatusesAsResponsesWithHeaders) {
  LocalHttpServer local;
  local.server().Get("/missing", [](const httplib::Request&, httplib::Response& res) {
    res.status = 404;
    res.set_header("X-Request-Id", "abc123");
    res.set_content(R"({"id":"api.context.404.app_error"})", "application/json");
  });
  local.Start();
  auto response = MakeCurlHttpClient(FastOptions())->Send(Get(local.url("/missing")));
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->body, R"({"id":"api.context.404.app_error"})");
  EXPECT_EQ(response->GetHeader("x-request-id"), "abc123");
  EXPECT_EQ(response->GetHeader("X-REQUEST-ID"), "abc123");
  EXPECT_EQ(response->GetHeader("content-type"), "application/json");
  EXPECT_EQ(response->GetHeader("X-Absent"), std::nullopt);
}

TEST(CurlHttpClient, SendsMethodBodyHeadersTokenAndUserAgent) {
  LocalHttpServer local;
  httplib::Request seen;
  local.server().Put("/posts/1/patch", [&](const httplib::Request& req, httplib::Response& res) {
    seen = req;
    res.set_content("{}", "application/json");
  });
  local.Start();
  HttpRequest request;
  request.method = "PUT";
  request.url = local.url("/posts/1/patch");
  request.headers = {{"Content-Type", "application/json"}};
  request.body = R"({"message":"hi"})";
  request.bearer_token = Secret(kToken);
  auto response = MakeCurlHttpClient(FastOptions())->Send(request);
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(seen.method, "PUT");
  EXPECT_EQ(seen.body, R"({"message":"hi"})");
  EXPECT_EQ(seen.get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(seen.get_header_value("Authorization"), std::string("Bearer ") + kToken);
  EXPECT_EQ(seen.get_header_value("User-Agent"), kUserAgent);
  EXPECT_FALSE(seen.has_header("Expect"));
}

TEST(CurlHttpClient, SendsNoAuthorizationWithoutToken) {
  LocalHttpServer local;
  bool has_authorization = true;
  local.server().Get("/", [&](const httplib::Request& req, httplib::Response& res) {
    has_authorization = req.has_header("Authorization");
    res.set_content("ok", "text/plain");
  });
  local.Start();
  ASSERT_TRUE(MakeCurlHttpClient(FastOptions())->Send(Get(local.url("/"))));
  EXPECT_FALSE(has_authorization);
}

TEST(CurlHttpClient, UsesConfiguredUserAgent) {
  LocalHttpServer local;
  std::string agent;
  local.server().Get("/", [&](const httplib::Request& req, httplib::Response& res) {
    agent = req.get_header_value("User-Agent");
    res.set_content("ok", "text/plain");
  });
  local.Start();
  HttpClientOptions options = FastOptions();
  options.user_agent = "custom/1.0";
  ASSERT_TRUE(MakeCurlHttpClient(options)->Send(Get(local.url("/"))));
  EXPECT_EQ(agent, "custom/1.0");
}

TEST(CurlHttpClient, PostsWithoutBodyStillSendContentLength) {
  LocalHttpServer local;
  std::string length;
  local.server().Post("/empty", [&](const httplib::Request& req, httplib::Response& res) {
    length = req.get_header_value("Content-Length");
    res.status = 201;
  });
  local.Start();
  HttpRequest request = Get(local.url("/empty"));
  request.method = "POST";
  auto response = MakeCurlHttpClient(FastOptions())->Send(request);
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(length, "0");
}

TEST(CurlHttpClient, ReturnsRedirectWithoutFollowingItOrLeakingTheToken) {
  LocalHttpServer elsewhere;
  int elsewhere_requests = 0;
  elsewhere.server().Get(".*", [&](const httplib::Request&, httplib::Response& res) {
    ++elsewhere_requests;
    res.set_content("gotcha", "text/plain");
  });
  elsewhere.Start();
  LocalHttpServer local;
  local.server().Get("/api/v4/system/ping", [&](const httplib::Request&, httplib::Response& res) {
    res.set_redirect(elsewhere.url("/collect"));
  });
  local.Start();
  HttpRequest request = Get(local.url("/api/v4/system/ping"));
  request.bearer_token = Secret(kToken);
  auto response = MakeCurlHttpClient(FastOptions())->Send(request);
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(response->status, 302);
  EXPECT_EQ(response->GetHeader("Location"), elsewhere.url("/collect"));
  EXPECT_EQ(elsewhere_requests, 0);
}

TEST(CurlHttpClient, BodyOverTheCapIsResponseTooLarge) {
  LocalHttpServer local;
  local.server().Get("/big", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(2000, 'x'), "text/plain");
  });
  local.server().Get("/exact", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(1000, 'x'), "text/plain");
  });
  // Chunked: no Content-Length, so only the running count can stop it.
  local.server().Get("/chunked", [](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/plain", [](size_t offset, httplib::DataSink& sink) {
      if (offset >= 100000) {
        sink.done();
        return true;
      }
      const std::string chunk(500, 'y');
      return sink.write(chunk.data(), chunk.size());
    });
  });
  local.Start();
  HttpClientOptions options = FastOptions();
  options.max_response_bytes = 1000;
  auto client = MakeCurlHttpClient(options);

  auto big = client->Send(Get(local.url("/big")));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().kind, NetErrorKind::kResponseTooLarge) << big.error().detail;
  EXPECT_NE(big.error().detail.find("1000"), std::string::npos) << big.error().detail;

  auto chunked = client->Send(Get(local.url("/chunked")));
  ASSERT_FALSE(chunked);
  EXPECT_EQ(chunked.error().kind, NetErrorKind::kResponseTooLarge) << chunked.error().detail;

  auto exact = client->Send(Get(local.url("/exact")));
  ASSERT_TRUE(exact) << exact.error().detail;
  EXPECT_EQ(exact->body.size(), 1000u);
}

TEST(CurlHttpClient, RefusedPortIsConnectionRefused) {
  ClosedPort closed;
  auto response = MakeCurlHttpClient(FastOptions())
                      ->Send(Get("http://127.0.0.1:" + std::to_string(closed.port()) + "/"));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, NetErrorKind::kConnectionRefused) << response.error().detail;
}

TEST(CurlHttpClient, ServerThatNeverAnswersIsTimeout) {
  RawTcpServer silent;
  HttpClientOptions options = FastOptions();
  options.total_timeout = Millis(300);
  const auto start = std::chrono::steady_clock::now();
  auto response = MakeCurlHttpClient(options)->Send(Get(silent.url() + "/"));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, NetErrorKind::kTimeout) << response.error().detail;
  EXPECT_LT(elapsed, std::chrono::seconds(3));
  EXPECT_GE(silent.accepted(), 1);
}

TEST(CurlHttpClient, UnansweredSynIsConnectTimeout) {
  SilentPort port;
  HttpClientOptions options = FastOptions();
  options.connect_timeout = Millis(300);
  auto response = MakeCurlHttpClient(options)->Send(
      Get("http://127.0.0.1:" + std::to_string(port.port()) + "/"));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, NetErrorKind::kConnectTimeout) << response.error().detail;
}

TEST(CurlHttpClient, NonHttpAnswerIsProtocolError) {
  RawTcpServer ssh(RawTcpServer::Options{.answer = "SSH-2.0-OpenSSH_9.2\r\n"});
  auto response = MakeCurlHttpClient(FastOptions())->Send(Get(ssh.url() + "/"));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, NetErrorKind::kProtocol) << response.error().detail;
}

TEST(CurlHttpClient, EmptyReplyIsProtocolError) {
  RawTcpServer closer(RawTcpServer::Options{.answer = ""});
  auto response = MakeCurlHttpClient(FastOptions())->Send(Get(closer.url() + "/"));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, NetErrorKind::kProtocol) << response.error().detail;
}

TEST(CurlHttpClient, TruncatedBodyIsProtocolError) {
  RawTcpServer truncating(RawTcpServer::Options{
      .answer =
          "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\nonly ten.."});
  auto response = MakeCurlHttpClient(FastOptions())->Send(Get(truncating.url() + "/"));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, NetErrorKind::kProtocol) << response.error().detail;
}

TEST(CurlHttpClient, RawAnswerIsParsedIntoStatusAndHeaders) {
  RawTcpServer raw(RawTcpServer::Options{
      .answer = "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Retry-After: 3\r\nContent-Length: 15\r\n\r\nlimit exceeded\n"});
  auto response = MakeCurlHttpClient(FastOptions())->Send(Get(raw.url() + "/api/v4/posts"));
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(response->status, 429);
  EXPECT_EQ(response->GetHeader("retry-after"), "3");
  EXPECT_EQ(response->body, "limit exceeded\n");
}

TEST(CurlHttpClient, RejectsSchemesOtherThanHttp) {
  auto client = MakeCurlHttpClient(FastOptions());
  for (const char* url :
       {"ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1/", "127.0.0.1:8065", ""}) {
    auto response = client->Send(Get(url));
    ASSERT_FALSE(response) << url;
    EXPECT_EQ(response.error().kind, NetErrorKind::kInvalidUrl) << url;
  }
}

TEST(CurlHttpClient, RefusesHeaderInjection) {
  auto client = MakeCurlHttpClient(FastOptions());
  HttpRequest request = Get("http://127.0.0.1:1/");
  request.headers = {{"X-Test", "a\r\nX-Evil: 1"}};
  auto response = client->Send(request);
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, NetErrorKind::kOther);

  request.headers.clear();
  request.bearer_token = Secret("zzsecretzz\r\nX-Evil: 1");
  response = client->Send(request);
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().detail.find("zzsecret"), std::string::npos);
}

TEST(CurlHttpClient, KeepsWorkingAfterAFailure) {
  ClosedPort closed;
  LocalHttpServer local;
  local.server().Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  local.Start();
  auto client = MakeCurlHttpClient(FastOptions());
  ASSERT_FALSE(client->Send(Get("http://127.0.0.1:" + std::to_string(closed.port()) + "/")));
  auto response = client->Send(Get(local.url("/")));
  ASSERT_TRUE(response) << response.error().detail;
  EXPECT_EQ(response->body, "ok");
}

}  // namespace
}  // namespace tocsin::net
