// Behaviour of the Beast HttpServer seen from real clients on 127.0.0.1 / ::1: framing, limits,
// keep-alive, concurrency and shutdown. Waits are bounded by deadlines; nothing sleeps to win a
// race.
#include "api/http_server.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/strings.hpp"
#include "unit/http_server/raw_http.hpp"

namespace tocsin::api {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;
using tocsin::api::raw_http::CanConnect;
using tocsin::api::raw_http::RawConnection;
using tocsin::api::raw_http::RawResponse;

constexpr auto kWait = seconds(5);

// Polls `condition` until it holds or `timeout` passes.
bool WaitUntil(std::chrono::steady_clock::duration timeout,
               const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return condition();
}

Response Text(std::string body, int status = 200) {
  Response response;
  response.status = status;
  response.content_type = "text/plain";
  response.body = std::move(body);
  return response;
}

// Answers with the request's path, and records every request it sees.
struct RecordingHandler {
  std::mutex mu;
  std::vector<Request> seen;

  Handler AsHandler() {
    return [this](const Request& request) {
      std::lock_guard lock(mu);
      seen.push_back(request);
      return Text(request.path);
    };
  }
  size_t Count() {
    std::lock_guard lock(mu);
    return seen.size();
  }
  Request Last() {
    std::lock_guard lock(mu);
    return seen.back();
  }
};

std::unique_ptr<HttpServer> StartServer(Handler handler, ServerOptions options = {}) {
  if (options.listen == ServerOptions{}.listen) options.listen = "127.0.0.1:0";
  auto server = MakeHttpServer(std::move(options), std::move(handler));
  const auto started = server->Start();
  EXPECT_TRUE(started.has_value()) << (started ? "" : started.error().message);
  return server;
}

httplib::Client ClientFor(const HttpServer& server) {
  httplib::Client client("127.0.0.1", server.Port());
  client.set_tcp_nodelay(true);
  client.set_connection_timeout(kWait);
  client.set_read_timeout(kWait);
  client.set_write_timeout(kWait);
  return client;
}

RawConnection Connect(const HttpServer& server) {
  auto connection = RawConnection::Connect("127.0.0.1", server.Port());
  if (!connection) throw std::runtime_error("cannot connect to the server under test");
  return std::move(*connection);
}

std::string ErrorCode(const std::string& body) {
  const auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("error")) return "<not an error body: " + body + ">";
  return json["error"].value("code", "<no code>");
}

// Checks the SPEC error shape: {"error":{"code","message","hint"}} served as JSON.
void ExpectJsonError(const RawResponse& response, int status, const std::string& code) {
  EXPECT_EQ(response.status, status);
  EXPECT_EQ(response.Header("content-type"), "application/json");
  auto json = nlohmann::json::parse(response.body, nullptr, false);
  ASSERT_TRUE(json.is_object()) << response.body;
  EXPECT_EQ(json["error"]["code"], code);
  EXPECT_TRUE(json["error"]["message"].is_string());
  EXPECT_TRUE(json["error"]["hint"].is_string());
}

// --- Requests as the handler sees them ---------------------------------------------------------

TEST(HttpServer, HandlerSeesMethodPathQueryHeadersBodyAndPeer) {
  RecordingHandler recorder;
  auto server = StartServer(recorder.AsHandler());
  auto client = ClientFor(*server);
  const auto result =
      client.Post("/api/v1/projects?scanner=sem%20grep&x=%41", {{"X-Custom-Header", "Value 1"}},
                  "{\"a\":1}", "application/json");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, "/api/v1/projects");

  const Request seen = recorder.Last();
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/api/v1/projects?scanner=sem%20grep&x=%41");
  EXPECT_EQ(seen.path, "/api/v1/projects");
  EXPECT_EQ(seen.query, "scanner=sem%20grep&x=%41");
  EXPECT_EQ(seen.Query("scanner"), "sem grep");
  EXPECT_EQ(seen.Query("x"), "A");
  EXPECT_EQ(seen.Header("x-custom-header"), "Value 1");
  EXPECT_EQ(seen.Header("content-type"), "application/json");
  for (const auto& [name, value] : seen.headers) EXPECT_EQ(name, ToLower(name));
  EXPECT_EQ(seen.body, "{\"a\":1}");
  EXPECT_EQ(seen.remote_address, "127.0.0.1");
}

TEST(HttpServer, ResponseCarriesStatusContentTypeAndHandlerHeaders) {
  auto server = StartServer([](const Request&) {
    Response response = Text("created", 201);
    response.headers = {{"Location", "/api/v1/projects/acme"}, {"X-Request-Id", "r-1"}};
    return response;
  });
  auto connection = Connect(*server);
  ASSERT_TRUE(connection.Send("POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"));
  const auto response = connection.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->Header("content-type"), "text/plain");
  EXPECT_EQ(response->Header("content-length"), "7");
  EXPECT_EQ(response->Header("location"), "/api/v1/projects/acme");
  EXPECT_EQ(response->Header("x-request-id"), "r-1");
  EXPECT_EQ(response->body, "created");
}

TEST(HttpServer, HandlerHeadersCannotSplitTheResponseOrChangeItsFraming) {
  auto server = StartServer([](const Request&) {
    Response response = Text("ok");
    response.headers = {{"X-Echo", "a\r\nInjected: yes"},
                        {"Content-Length", "999"},
                        {"Bad Name", "x"},
                        {"X-Fine", "1"}};
    return response;
  });
  auto connection = Connect(*server);
  ASSERT_TRUE(connection.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto response = connection.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->Header("x-fine"), "1");
  EXPECT_EQ(response->Header("injected"), "");
  EXPECT_EQ(response->Header("x-echo"), "");
  EXPECT_EQ(response->Header("content-length"), "2");
  EXPECT_EQ(response->body, "ok");
}

TEST(HttpServer, PathIsPercentDecodedAndTargetKeptRaw) {
  RecordingHandler recorder;
  auto server = StartServer(recorder.AsHandler());
  auto connection = Connect(*server);
  ASSERT_TRUE(connection.Send(
      "get /api/v1/projects/acme%20web/a%2fb+c%C3%A9?q=a+b%2B HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto response = connection.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  const Request seen = recorder.Last();
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.path, "/api/v1/projects/acme web/a/b+c\xC3\xA9");
  EXPECT_EQ(seen.target, "/api/v1/projects/acme%20web/a%2fb+c%C3%A9?q=a+b%2B");
  EXPECT_EQ(seen.query, "q=a+b%2B");
  EXPECT_EQ(seen.Query("q"), "a b+");
}

TEST(HttpServer, AbsoluteFormTargetIsServedByItsPath) {
  RecordingHandler recorder;
  auto server = StartServer(recorder.AsHandler());
  auto connection = Connect(*server);
  ASSERT_TRUE(
      connection.Send("GET http://example.test:8080/healthz?x=1 HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto response = connection.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "/healthz");
  EXPECT_EQ(recorder.Last().query, "x=1");
}

TEST(HttpServer, InvalidPercentEncodingOrNulInPathIs400) {
  RecordingHandler recorder;
  auto server = StartServer(recorder.AsHandler());
  for (const std::string target : {"/a%zz", "/a%2", "/a%00b", "/a%"}) {
    SCOPED_TRACE(target);
    auto connection = Connect(*server);
    ASSERT_TRUE(connection.Send("GET " + target + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto response = connection.ReadResponse();
    ASSERT_TRUE(response);
    ExpectJsonError(*response, 400, "bad_request");
    EXPECT_EQ(response->Header("connection"), "close");
    EXPECT_TRUE(connection.WaitClosed());
  }
  EXPECT_EQ(recorder.Count(), 0u);
}

// --- Connections -------------------------------------------------------------------------------

TEST(HttpServer, KeepAliveServesManyRequestsOnOneConnection) {
  RecordingHandler recorder;
  auto server = StartServer(recorder.AsHandler());
  auto connection = Connect(*server);
  for (int i = 0; i < 50; ++i) {
    const std::string path = "/r" + std::to_string(i);
    ASSERT_TRUE(connection.Send("GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto response = connection.ReadResponse();
    ASSERT_TRUE(response) << "request " << i;
    EXPECT_EQ(response->body, path);
    EXPECT_NE(response->Header("connection"), "close");
  }
  EXPECT_EQ(recorder.Count(), 50u);
}

TEST(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
  RecordingHandler recorder;
  auto server = StartServer(recorder.AsHandler());
  auto connection = Connect(*server);
  ASSERT_TRUE(
      connection.Send("GET /one HTTP/1.1\r\nHost: t\r\n\r\n"
                      "POST /two HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                      "GET /three HTTP/1.1\r\nHost: t\r\n\r\n"));
  for (const std::string expected : {"/one", "/two", "/three"}) {
    const auto response = connection.ReadResponse();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, expected);
  }
}

TEST(HttpServer, LargeBodiesArriveWholeAndTheConnectionGoesOn) {
  // Big bodies are read 64 KiB at a time (the connection's buffer grows for them and shrinks
  // back): bytes must neither be lost nor reordered at those seams, whether the body has a
  // Content-Length or comes in chunks, and a request pipelined behind one must still be served.
  auto server = StartServer([](const Request& r) {
    return Text(r.path + " " + std::to_string(r.body.size()) + " " +
                std::to_string(std::hash<std::string>{}(r.body)));
  });
  std::string body(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + (i * 7 + i / 4093) % 26);
  const std::string expected = std::to_string(body.size()) + " " +
                               std::to_string(std::hash<std::string>{}(body));
  auto connection = Connect(*server);
  std::string chunked = "POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t at = 0; at < body.size(); at += 10000) {
    const std::string piece = body.substr(at, 10000);
    chunked += fmt::format("{:x}\r\n", piece.size()) + piece + "\r\n";
  }
  chunked += "0\r\n\r\n";
  ASSERT_TRUE(connection.Send("POST /length HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body + chunked +
                              "GET /after HTTP/1.1\r\nHost: t\r\n\r\n"));
  for (const std::string& want : {"/length " + expected, "/chunked " + expected,
                                 std::string("/after 0 ") + std::to_string(std::hash<std::string>{}(""))}) {
    const auto response = connection.ReadResponse();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, want);
  }
}

TEST(HttpServer, ClientConnectionCloseIsHonoured) {
  auto server = StartServer([](const Request&) { return Text("bye"); });
  auto connection = Connect(*server);
  ASSERT_TRUE(connection.Send("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  const auto response = connection.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_EQ(response->body, "bye");
  EXPECT_TRUE(connection.WaitClosed());
}

TEST(HttpServer, Http10ClosesUnlessKeepAliveIsAsked) {
  auto server = StartServer([](const Request&) { return Text("old"); });
  auto once = Connect(*server);
  ASSERT_TRUE(once.Send("GET / HTTP/1.0\r\n\r\n"));
  auto response = once.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "old");
  EXPECT_TRUE(once.WaitClosed());

  auto kept = Connect(*server);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(kept.Send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    response = kept.ReadResponse();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->Header("connection"), "keep-alive");
  }
}

TEST(HttpServer, HeadAnswersTheHeaderWithoutTheBody) {
  auto server = StartServer([](const Request&) { return Text("hello"); });
  auto connection = Connect(*server);
  ASSERT_TRUE(connection.Send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto head = connection.ReadResponse(kWait, /*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("content-length"), "5");
  // Had a body been sent, it would now be read as the start of the next response.
  ASSERT_TRUE(connection.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto get = connection.ReadResponse();
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "hello");
}

TEST(HttpServer, NoContentHasNeitherBodyNorLength) {
  auto server = StartServer([](const Request&) { return Text("ignored", 204); });
  auto connection = Connect(*server);
  ASSERT_TRUE(
      connection.Send("DELETE /x HTTP/1.1\r\nHost: t\r\n\r\nGET /y HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto deleted = connection.ReadResponse();
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 204);
  EXPECT_EQ(deleted->Header("content-length"), "");
  const auto next = connection.ReadResponse();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 204);
}

TEST(HttpServer, IdleKeepAliveConnectionsDoNotDelayANewClient) {
  ServerOptions options;
  options.worker_threads = 2;
  auto server = StartServer([](const Request&) { return Text("ok"); }, options);
  std::vector<RawConnection> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(Connect(*server));
    ASSERT_TRUE(idle.back().Send("GET /warm HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_TRUE(idle.back().ReadResponse());
  }

  auto ninth = ClientFor(*server);
  ninth.set_read_timeout(seconds(2));
  const auto started = std::chrono::steady_clock::now();
  const auto result = ninth.Get("/ninth");
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  EXPECT_LT(elapsed, seconds(1));

  // The eight were really kept alive all along.
  for (auto& connection : idle) {
    ASSERT_TRUE(connection.Send("GET /again HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto response = connection.ReadResponse();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
  }
}

TEST(HttpServer, IdleConnectionIsClosedAfterIdleTimeout) {
  ServerOptions options;
  options.idle_timeout = seconds(1);
  auto server = StartServer([](const Request&) { return Text("ok"); }, options);
  auto connection = Connect(*server);
  ASSERT_TRUE(connection.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(connection.ReadResponse());
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(connection.WaitClosed(kWait));
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(900));
}

TEST(HttpServer, DribblingHeaderIsCutWith408) {
  ServerOptions options;
  options.header_timeout = milliseconds(200);
  RecordingHandler recorder;
  auto server = StartServer(recorder.AsHandler(), options);
  auto connection = Connect(*server);
  ASSERT_TRUE(connection.Send("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: "));
  const auto response = connection.ReadResponse(kWait);
  ASSERT_TRUE(response);
  ExpectJsonError(*response, 408, "timeout");
  EXPECT_TRUE(connection.WaitClosed());
  EXPECT_EQ(recorder.Count(), 0u);
}

// --- Limits and malformed input ----------------------------------------------------------------

TEST(HttpServer, BodyOverTheLimitIs413JsonAndTheServerStaysUsable) {
  ServerOptions options;
  options.body_limit = [](std::string_view, std::string_view) { return uint64_t{1024}; };
  RecordingHandler recorder;
  auto server = StartServer(recorder.AsHandler(), options);
  auto client = ClientFor(*server);

  const auto too_big = client.Post("/api/v1/events", std::string(64 * 1024, 'x'), "text/plain");
  ASSERT_TRUE(too_big) << httplib::to_string(too_big.error());
  EXPECT_EQ(too_big->status, 413);
  EXPECT_EQ(too_big->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(ErrorCode(too_big->body), "payload_too_large");
  EXPECT_THAT(too_big->body, HasSubstr("1024"));
  EXPECT_EQ(recorder.Count(), 0u);

  const auto fits = client.Post("/api/v1/events", std::string(1024, 'x'), "text/plain");
  ASSERT_TRUE(fits) << httplib::to_string(fits.error());
  EXPECT_EQ(fits->status, 200);
  EXPECT_EQ(recorder.Last().body.size(), 1024u);
}

TEST(HttpServer, DefaultBodyLimitIsTenMebibytes) {
  RecordingHandler recorder;
  auto server = StartServer(recorder.AsHandler());
  auto client = ClientFor(*server);
  const std::string ten_mib(10 * 1024 * 1024, 'x');
  const auto fits = client.Post("/", ten_mib, "text/plain");
  ASSERT_TRUE(fits) << httplib::to_string(fits.error());
  EXPECT_EQ(fits->status, 200);
  const auto over = client.Post("/", ten_mib + "x", "text/plain");
  ASSERT_TRUE(over) << httplib::to_string(over.error());
  EXPECT_EQ(over->status, 413);
}

TEST(HttpServer, BodyLimitIsChosenPerMethodAndPath) {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> asked;
  ServerOptions options;
  options.body_limit = [&](std::string_view method, std::string_view path) {
    std::lock_guard lock(mu);
    asked.emplace_back(method, path);
    return path.starts_with("/scans") ? uint64_t{1 << 20} : uint64_t{16};
  };
  auto server =
      StartServer([](const Request& r) { return Text(std::to_string(r.body.size())); }, options);
  auto client = ClientFor(*server);
  const std::string body(1000, 'b');
  const auto small = client.Post("/events", body, "text/plain");
  const auto large = client.Post("/scans%2Fup", body, "text/plain");
  ASSERT_TRUE(small);
  ASSERT_TRUE(large);
  EXPECT_EQ(small->status, 413);
  EXPECT_EQ(large->status, 200);
  EXPECT_EQ(large->body, "1000");
  std::lock_guard lock(mu);
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_EQ(asked[0], (std::pair<std::string, std::string>{"POST", "/events"}));
  EXPECT_EQ(asked[1], (std::pair<std::string, std::string>{"POST", "/scans/up"}));
}

TEST(HttpServer, BodyLimitCallbackThatThrowsFallsBackToTheDefault) {
  ServerOptions options;
  options.body_limit = [](std::string_view, std::string_view) -> uint64_t {
    throw std::runtime_error("bug in the limit table");
  };
  auto server =
      StartServer([](const Request& r) { return Text(std::to_string(r.body.size())); }, options);
  auto client = ClientFor(*server);
  const auto result = client.Post("/events", std::string(2048, 'b'), "text/plain");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, "2048");
}

TEST(HttpServer, ChunkedBodyIsDecoded) {
  RecordingHandler recorder;
  auto server = StartServer(recorder.AsHandler());
  auto connection = Connect(*server);
  ASSERT_TRUE(
      connection.Send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  const auto response = connection.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(recorder.Last().body, "hello world");
}

TEST(HttpServer, ChunkedBodyOverTheLimitIs413) {
  ServerOptions options;
  options.body_limit = [](std::string_view, std::string_view) { return uint64_t{8}; };
  RecordingHandler recorder;
  auto server = StartServer(recorder.AsHandler(), options);
  auto connection = Connect(*server);
  ASSERT_TRUE(
      connection.Send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  const auto response = connection.ReadResponse();
  ASSERT_TRUE(response);
  ExpectJsonError(*response, 413, "payload_too_large");
  EXPECT_TRUE(connection.WaitClosed());
  EXPECT_EQ(recorder.Count(), 0u);
}

TEST(HttpServer, ExpectContinueGetsContinueBeforeTheBody) {
  RecordingHandler recorder;
  auto server = StartServer(recorder.AsHandler());
  auto connection = Connect(*server);
  ASSERT_TRUE(connection.Send(
      "PUT /e HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  const auto go_on = connection.ReadResponse();
  ASSERT_TRUE(go_on);
  EXPECT_EQ(go_on->status, 100);
  ASSERT_TRUE(connection.Send("hello"));
  const auto response = connection.ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(recorder.Last().body, "hello");
}

TEST(HttpServer, ExpectContinueOverTheLimitGets413WithoutContinue) {
  ServerOptions options;
  options.body_limit = [](std::string_view, std::string_view) { return uint64_t{4}; };
  auto server = StartServer([](const Request&) { return Text("never"); }, options);
  auto connection = Connect(*server);
  ASSERT_TRUE(connection.Send(
      "PUT /e HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  const auto response = connection.ReadResponse();
  ASSERT_TRUE(response);
  ExpectJsonError(*response, 413, "payload_too_large");
}

TEST(HttpServer, MalformedRequestsAre400Json) {
  RecordingHandler recorder;
  auto server = StartServer(recorder.AsHandler());
  const std::vector<std::string> requests = {
      "GARBAGE\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
      "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "GET nopath HTTP/1.1\r\nHost: t\r\n\r\n",
  };
  for (const auto& request : requests) {
    SCOPED_TRACE(request);
    auto connection = Connect(*server);
    ASSERT_TRUE(connection.Send(request));
    const auto response = connection.ReadResponse();
    ASSERT_TRUE(response);
    ExpectJsonError(*response, 400, "bad_request");
    EXPECT_TRUE(connection.WaitClosed());
  }
  EXPECT_EQ(recorder.Count(), 0u);
}

TEST(HttpServer, UnsupportedTransferEncodingIs501) {
  RecordingHandler recorder;
  auto server = StartServer(recorder.AsHandler());
  for (const std::string coding : {"gzip", "gzip, chunked"}) {
    SCOPED_TRACE(coding);
    auto connection = Connect(*server);
    ASSERT_TRUE(connection.Send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: " + coding +
                                "\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto response = connection.ReadResponse();
    ASSERT_TRUE(response);
    ExpectJsonError(*response, 501, "not_implemented");
    EXPECT_TRUE(connection.WaitClosed());
  }
  EXPECT_EQ(recorder.Count(), 0u);
}

TEST(HttpServer, OversizedHeaderIs431) {
  RecordingHandler recorder;
  auto server = StartServer(recorder.AsHandler());
  auto connection = Connect(*server);
  ASSERT_TRUE(connection.Send("GET / HTTP/1.1\r\nHost: t\r\nCookie: " + std::string(20000, 'c') +
                              "\r\n\r\n"));
  const auto response = connection.ReadResponse();
  ASSERT_TRUE(response);
  ExpectJsonError(*response, 431, "header_too_large");
  EXPECT_EQ(recorder.Count(), 0u);
}

TEST(HttpServer, HandlerExceptionIs500WithoutItsText) {
  auto server = StartServer([](const Request& request) -> Response {
    if (request.path == "/boom") throw std::runtime_error("db at /var/lib/secret-path failed");
    return Text("fine");
  });
  auto client = ClientFor(*server);
  const auto failed = client.Get("/boom");
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status, 500);
  EXPECT_EQ(failed->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(ErrorCode(failed->body), "internal_error");
  EXPECT_THAT(failed->body, Not(HasSubstr("secret-path")));
  // The connection and the server carry on.
  const auto next = client.Get("/fine");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "fine");
}

TEST(HttpServer, InvalidStatusFromHandlerIs500) {
  auto server = StartServer([](const Request&) { return Text("odd", 42); });
  auto client = ClientFor(*server);
  const auto result = client.Get("/");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 500);
  EXPECT_EQ(ErrorCode(result->body), "internal_error");
}

// --- Concurrency -------------------------------------------------------------------------------

TEST(HttpServer, ConcurrentClientsAreAllAnswered) {
  constexpr int kThreads = 8;
  constexpr int kRequests = 200;
  auto server = StartServer([](const Request& request) { return Text(request.body); });
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto client = ClientFor(*server);
      client.set_keep_alive(true);
      for (int i = 0; i < kRequests; ++i) {
        const std::string body = std::to_string(t) + ":" + std::to_string(i);
        const auto result = client.Post("/echo", body, "text/plain");
        if (result && result->status == 200 && result->body == body) ++answered;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(answered.load(), kThreads * kRequests);
}

// --- Lifecycle ---------------------------------------------------------------------------------

TEST(HttpServerStop, LetsAnInFlightHandlerFinish) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto server = StartServer([&](const Request&) {
    entered.set_value();
    released.wait_for(seconds(10));
    return Text("finished");
  });
  const uint16_t port = server->Port();
  auto request = std::async(std::launch::async, [&] { return ClientFor(*server).Get("/slow"); });
  ASSERT_EQ(entered.get_future().wait_for(kWait), std::future_status::ready);

  auto stopping = std::async(std::launch::async, [&] { server->Stop(seconds(10)); });
  // Stop has begun (no new connections) while the handler is still running...
  ASSERT_TRUE(WaitUntil(kWait, [&] { return !CanConnect("127.0.0.1", port); }));
  EXPECT_EQ(stopping.wait_for(milliseconds(0)), std::future_status::timeout);
  // ...and waits for it.
  release.set_value();
  ASSERT_EQ(stopping.wait_for(kWait), std::future_status::ready);
  const auto result = request.get();
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, "finished");
  EXPECT_EQ(result->get_header_value("Connection"), "close");
}

TEST(HttpServerStop, ClosesIdleConnectionsAtOnce) {
  auto server = StartServer([](const Request&) { return Text("ok"); });
  auto connection = Connect(*server);
  ASSERT_TRUE(connection.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(connection.ReadResponse());
  const auto started = std::chrono::steady_clock::now();
  server->Stop(seconds(10));
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(3));
  EXPECT_TRUE(connection.WaitClosed(milliseconds(1000)));
}

TEST(HttpServerStop, AfterTheGraceClosesConnectionsOfHandlersStillRunning) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> handler_returned{false};
  auto server = StartServer([&](const Request&) {
    entered.set_value();
    released.wait_for(seconds(10));
    handler_returned = true;
    return Text("too late");
  });
  auto connection = Connect(*server);
  ASSERT_TRUE(connection.Send("GET /stuck HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_EQ(entered.get_future().wait_for(kWait), std::future_status::ready);

  auto stopping = std::async(std::launch::async, [&] { server->Stop(milliseconds(50)); });
  EXPECT_TRUE(connection.WaitClosed(kWait));
  EXPECT_TRUE(connection.Pending().empty());
  EXPECT_FALSE(handler_returned);
  release.set_value();
  ASSERT_EQ(stopping.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(handler_returned);
}

TEST(HttpServerStop, IsIdempotentAndSafeBeforeStart) {
  auto never_started = MakeHttpServer({}, [](const Request&) { return Text("x"); });
  never_started->Stop(milliseconds(10));

  auto server = StartServer([](const Request&) { return Text("x"); });
  const uint16_t port = server->Port();
  server->Stop(milliseconds(100));
  server->Stop(milliseconds(100));
  EXPECT_FALSE(CanConnect("127.0.0.1", port));
  server.reset();  // the destructor's Stop is a third call
}

TEST(HttpServerStart, PortZeroPicksAFreePort) {
  auto server = StartServer([](const Request&) { return Text("x"); });
  EXPECT_NE(server->Port(), 0);
  EXPECT_TRUE(CanConnect("127.0.0.1", server->Port()));
}

TEST(HttpServerStart, AddressInUseIsListenFailedNamingTheAddress) {
  auto first = StartServer([](const Request&) { return Text("x"); });
  ServerOptions options;
  options.listen = "127.0.0.1:" + std::to_string(first->Port());
  auto second = MakeHttpServer(options, [](const Request&) { return Text("y"); });
  const auto started = second->Start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, "listen_failed");
  EXPECT_THAT(started.error().message, HasSubstr(options.listen));
  EXPECT_THAT(started.error().message, HasSubstr("in use"));
  EXPECT_FALSE(started.error().hint.empty());
}

TEST(HttpServerStart, MalformedListenAddressIsListenFailed) {
  for (const std::string listen :
       {"127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000", "::1:80", "[::1", "[::1]"}) {
    SCOPED_TRACE(listen);
    ServerOptions options;
    options.listen = listen;
    auto server = MakeHttpServer(options, [](const Request&) { return Text("x"); });
    const auto started = server->Start();
    ASSERT_FALSE(started);
    EXPECT_EQ(started.error().code, "listen_failed");
    EXPECT_THAT(started.error().message, HasSubstr(listen));
  }
}

bool CanBindIpv6Loopback() {
  const int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return ok;
}

TEST(HttpServerStart, ServesOnIpv6Loopback) {
  if (!CanBindIpv6Loopback()) GTEST_SKIP() << "::1 cannot be bound on this machine";
  RecordingHandler recorder;
  ServerOptions options;
  options.listen = "[::1]:0";
  auto server = StartServer(recorder.AsHandler(), options);
  ASSERT_NE(server->Port(), 0);
  auto connection = RawConnection::Connect("::1", server->Port());
  ASSERT_TRUE(connection);
  ASSERT_TRUE(connection->Send("GET /v6 HTTP/1.1\r\nHost: [::1]\r\n\r\n"));
  const auto response = connection->ReadResponse();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "/v6");
  EXPECT_EQ(recorder.Last().remote_address, "::1");
}

}  // namespace
}  // namespace tocsin::api
