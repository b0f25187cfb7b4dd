// The Mattermost REST client: URLs it builds, what it sends, how answers become values/ApiErrors.
#include "mattermost/client.hpp"

#include <gtest/gtest.h>

#include "core/strings.hpp"
#include "unit/mattermost/fake_http_client.hpp"

namespace tocsin::mattermost {
namespace {

using namespace testing;  // NOLINT: the fake server's canned answers

constexpr const char* kToken = "tok7tok7tok7tok7tok7tok7to";
constexpr const char* kChannelId = "chan4chan4chan4chan4chan4c";

class ClientTest : public ::testing::Test {
 protected:
  FakeServer server_;
  std::unique_ptr<net::HttpClient> http_ = server_.Factory()(net::HttpClientOptions{});
  Client client_{*http_, "https://chat.example.com/mattermost//", Secret(kToken)};
};

TEST_F(ClientTest, PingUsesSubpathSendsNoTokenAndReadsVersion) {
  server_.On("GET", "/mattermost/api/v4/system/ping", PingOk());
  auto ping = client_.Ping();
  ASSERT_TRUE(ping) << ping.error().ToString();
  EXPECT_EQ(ping->version, "9.11.2");
  EXPECT_EQ(ping->status, "OK");
  ASSERT_EQ(server_.requests().size(), 1u);
  EXPECT_EQ(server_.requests()[0].url, "https://chat.example.com/mattermost/api/v4/system/ping");
  EXPECT_EQ(server_.requests()[0].bearer_token, "");
  EXPECT_EQ(client_.server_version(), "9.11.2");
}

TEST_F(ClientTest, GetMeSendsTheTokenAndParsesBotAndHuman) {
  server_.On("GET", "/mattermost/api/v4/users/me", Me("alertbot", true));
  auto me = client_.GetMe();
  ASSERT_TRUE(me) << me.error().ToString();
  EXPECT_EQ(me->username, "alertbot");
  EXPECT_TRUE(me->is_bot);
  EXPECT_EQ(server_.requests()[0].bearer_token, kToken);

  server_.On("GET", "/mattermost/api/v4/users/me", Me("alice", false));
  me = client_.GetMe();
  ASSERT_TRUE(me);
  EXPECT_FALSE(me->is_bot) << "humans have no is_bot key at all";
}

TEST_F(ClientTest, EncodesNamesIntoOnePathSegment) {
  server_.On("GET", "/mattermost/api/v4/teams/name/a%2F..%2Fb/channels/name/%2E%2E",
             AppError(404, "app.team.get_by_name.missing.app_error", "Unable to find the team."));
  auto channel = client_.GetChannelByName("a/../b", "..");
  ASSERT_FALSE(channel);
  EXPECT_EQ(channel.error().http_status, 404);
  EXPECT_EQ(channel.error().id, "app.team.get_by_name.missing.app_error");
}

TEST_F(ClientTest, CreatePostSendsJsonAndParsesTheCreatedPost) {
  nlohmann::json created = {{"id", "post4post4post4post4post4p"},
                            {"channel_id", kChannelId},
                            {"message", "hello"},
                            {"pending_post_id", "pp1"},
                            {"create_at", 1796378400000},
                            {"props", {{"from_bot", "true"}}}};
  server_.On("POST", "/mattermost/api/v4/posts", Json(201, created));
  auto post = client_.CreatePost(
      {{"channel_id", kChannelId}, {"message", "hello"}, {"pending_post_id", "pp1"}});
  ASSERT_TRUE(post) << post.error().ToString();
  EXPECT_EQ(post->id, "post4post4post4post4post4p");
  EXPECT_EQ(post->pending_post_id, "pp1");
  EXPECT_EQ(post->create_at, 1796378400000);
  EXPECT_EQ(post->props["from_bot"], "true");
  const RecordedRequest& sent = server_.requests()[0];
  EXPECT_EQ(nlohmann::json::parse(sent.body)["message"], "hello");
  bool json_type = false;
  for (const auto& h : sent.headers)
    json_type |= h.name == "Content-Type" && h.value == "application/json";
  EXPECT_TRUE(json_type);
  EXPECT_EQ(sent.bearer_token, kToken);
}

TEST_F(ClientTest, PatchGetAndPostsSince) {
  const nlohmann::json post = {
      {"id", "post4post4post4post4post4p"}, {"message", "edited"}, {"edit_at", 5}};
  server_.On("PUT", "/mattermost/api/v4/posts/post4post4post4post4post4p/patch", Json(200, post));
  server_.On("GET", "/mattermost/api/v4/posts/post4post4post4post4post4p", Json(200, post));
  server_.On(
      "GET", std::string("/mattermost/api/v4/channels/") + kChannelId + "/posts?since=1000",
      Json(200, {{"order", {"b", "a"}},
                 {"posts", {{"a", {{"id", "a"}, {"pending_post_id", "x"}}}, {"b", {{"id", "b"}}}}},
                 {"next_post_id", ""},
                 {"prev_post_id", ""},
                 {"first_inaccessible_post_time", 0}}));
  auto patched = client_.PatchPost("post4post4post4post4post4p", {{"message", "edited"}});
  ASSERT_TRUE(patched);
  EXPECT_EQ(patched->edit_at, 5);
  EXPECT_EQ(server_.requests()[0].method, "PUT");
  ASSERT_TRUE(client_.GetPost("post4post4post4post4post4p"));
  auto list = client_.GetChannelPostsSince(kChannelId, 1000);
  ASSERT_TRUE(list) << list.error().ToString();
  EXPECT_EQ(list->order, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(list->posts.at("a").pending_post_id, "x");
}

TEST_F(ClientTest, ACreatedPostCanBeReadBackWithoutItsProps) {
  // The sender's read: every field but props, whatever their order and nesting.
  const std::string answer =
      R"({"props":{"attachments":[{"title":"x","fields":[{"a":{"b":[1,2,{"c":"}"}]}}]}]},)"
      R"("id":"post4post4post4post4post4p","channel_id":")" +
      std::string(kChannelId) +
      R"(","message":"caf\u00e9 \"q\"","create_at":1796378400000,"root_id":"",)"
      R"("pending_post_id":"pp1","metadata":{"embeds":[]},"is_pinned":false})";
  server_.On("POST", "/mattermost/api/v4/posts", Text(201, "application/json", answer));
  auto post = client_.CreatePost({{"channel_id", kChannelId}, {"message", "café"}},
                                 Client::ReadBack::kWithoutProps);
  ASSERT_TRUE(post) << post.error().ToString();
  EXPECT_EQ(post->id, "post4post4post4post4post4p");
  EXPECT_EQ(post->channel_id, kChannelId);
  EXPECT_EQ(post->message, "café \"q\"");
  EXPECT_EQ(post->pending_post_id, "pp1");
  EXPECT_EQ(post->create_at, 1796378400000);
  EXPECT_TRUE(post->props.empty());
}

TEST_F(ClientTest, ACreatedPostReadWithoutPropsStillRefusesABrokenAnswer) {
  for (const std::string& answer :
       {std::string(R"({"id":"post4post4post4post4post4p","message":"cut sh)"),
        std::string(R"({"id":"post4post4post4post4post4p"} trailing)"),
        std::string(R"(["post4post4post4post4post4p"])"), std::string(R"({"message":"no id"})"),
        std::string("<html><title>Proxy</title></html>")}) {
    server_.On("POST", "/mattermost/api/v4/posts", Text(201, "application/json", answer));
    auto post = client_.CreatePost({{"channel_id", kChannelId}}, Client::ReadBack::kWithoutProps);
    ASSERT_FALSE(post) << answer;
    EXPECT_TRUE(post.error().invalid_body) << answer;
    EXPECT_EQ(Classify(post.error()).reason, "invalid_response") << answer;
  }
}

TEST_F(ClientTest, NonJsonSuccessIsInvalidBody) {
  server_.On("GET", "/mattermost/api/v4/users/me",
             Text(200, "text/html", "<html><head><title>Sign in</title></head></html>"));
  auto me = client_.GetMe();
  ASSERT_FALSE(me);
  EXPECT_TRUE(me.error().invalid_body);
  EXPECT_EQ(me.error().body_summary, "an HTML page titled \"Sign in\"");
  EXPECT_EQ(Classify(me.error()).reason, "invalid_response");
}

TEST_F(ClientTest, NetErrorBecomesApiErrorWithoutToken) {
  server_.On("POST", "/mattermost/api/v4/posts",
             NetFail(net::NetErrorKind::kConnectionRefused, std::string("refused ") + kToken));
  auto post = client_.CreatePost({{"channel_id", kChannelId}});
  ASSERT_FALSE(post);
  ASSERT_TRUE(post.error().net_error);
  EXPECT_EQ(post.error().http_status, 0);
  EXPECT_EQ(post.error().ToString().find(kToken), std::string::npos);
  EXPECT_EQ(Classify(post.error()).error_class, ErrorClass::kRetryable);
  EXPECT_EQ(Classify(post.error()).reason, "net_connection_refused");
}

TEST_F(ClientTest, RateLimitHeadersAreReadFromEveryResponse) {
  server_.On("GET", "/mattermost/api/v4/users/me",
             Json(200, {{"id", "u"}, {"username", "b"}},
                  {{"X-Ratelimit-Limit", "101"},
                   {"X-Ratelimit-Remaining", "99"},
                   {"X-Ratelimit-Reset", "1"}}));
  ASSERT_TRUE(client_.GetMe());
  EXPECT_EQ(client_.last_rate_limit().limit, 101);
  EXPECT_EQ(client_.last_rate_limit().remaining, 99);
  EXPECT_EQ(client_.last_rate_limit().reset_s, 1);

  server_.On("GET", "/mattermost/api/v4/users/me",
             Text(429, "text/plain; charset=utf-8", "limit exceeded\n",
                  {{"X-Ratelimit-Limit", "101"},
                   {"X-Ratelimit-Remaining", "0"},
                   {"X-Ratelimit-Reset", "7"},
                   {"Retry-After", "2"}}));
  auto me = client_.GetMe();
  ASSERT_FALSE(me);
  EXPECT_EQ(client_.last_rate_limit().remaining, 0);
  EXPECT_EQ(me.error().rate_limit.remaining, 0);
  EXPECT_EQ(me.error().retry_after, Millis(2000));
}

// --- ApiError from responses ---------------------------------------------------------------

TEST(ErrorFromResponse, ReadsMattermostErrorJson) {
  const ApiError e = ErrorFromResponse(AppError(403, "api.context.permissions.app_error",
                                                "You do not have the appropriate permissions."),
                                       kToken);
  EXPECT_EQ(e.http_status, 403);
  EXPECT_TRUE(e.mattermost_error_body);
  EXPECT_EQ(e.id, "api.context.permissions.app_error");
  EXPECT_EQ(e.message, "You do not have the appropriate permissions.");
  EXPECT_EQ(e.request_id, "req4711req4711req4711req47");
  EXPECT_EQ(e.ToString(),
            "HTTP 403 api.context.permissions.app_error: You do not have the appropriate "
            "permissions. (request req4711req4711req4711req47)");
}

TEST(ErrorFromResponse, HandlesThePlainText429) {
  // API-FACTS §9: the global limiter answers before Mattermost's handlers: no JSON, no request id.
  const ApiError e = ErrorFromResponse(Text(429, "text/plain; charset=utf-8", "limit exceeded\n",
                                            {{"X-Ratelimit-Limit", "101"},
                                             {"X-Ratelimit-Remaining", "0"},
                                             {"X-Ratelimit-Reset", "9"},
                                             {"Retry-After", "3"}}),
                                       kToken);
  EXPECT_EQ(e.http_status, 429);
  EXPECT_FALSE(e.mattermost_error_body);
  EXPECT_EQ(e.id, "");
  EXPECT_EQ(e.message, "\"limit exceeded\"");
  EXPECT_EQ(e.retry_after, Millis(3000));
  EXPECT_EQ(e.rate_limit.limit, 101);
  EXPECT_EQ(Classify(e).error_class, ErrorClass::kRateLimited);
}

TEST(ErrorFromResponse, Falls429BackToRatelimitResetWithoutRetryAfter) {
  const ApiError e = ErrorFromResponse(
      Text(429, "text/plain", "limit exceeded\n", {{"X-Ratelimit-Reset", "4"}}), kToken);
  EXPECT_EQ(e.retry_after, Millis(4000));
  // Outside a 429 the reset time is only pacing information, not a wait order.
  const ApiError ok_ish =
      ErrorFromResponse(Text(500, "text/plain", "x", {{"X-Ratelimit-Reset", "4"}}), kToken);
  EXPECT_EQ(ok_ish.retry_after, std::nullopt);
  const ApiError unavailable =
      ErrorFromResponse(Text(503, "text/plain", "x", {{"Retry-After", "120"}}), kToken);
  EXPECT_EQ(unavailable.retry_after, Millis(120000));
}

TEST(ErrorFromResponse, QuotesBodiesShortAndRedacted) {
  std::string body = std::string("server says ") + kToken + " " + std::string(1000, 'z');
  const ApiError e = ErrorFromResponse(Text(502, "text/plain", body), kToken);
  EXPECT_EQ(e.message.find(kToken), std::string::npos);
  EXPECT_NE(e.message.find("<redacted>"), std::string::npos);
  EXPECT_LE(e.message.size(), 210u);
  EXPECT_TRUE(EndsWith(e.message, "…\"")) << e.message;

  const ApiError json =
      ErrorFromResponse(AppError(500, "app.x", std::string("bad token ") + kToken), kToken);
  EXPECT_EQ(json.message, "bad token <redacted>");
}

TEST(ErrorFromResponse, CutsOnUtf8Boundaries) {
  std::string body;
  for (int i = 0; i < 150; ++i) body += "é";  // 2 bytes each
  const ApiError e = ErrorFromResponse(Text(500, "text/plain", "x" + body), kToken);
  EXPECT_TRUE(IsValidUtf8(e.message)) << e.message;
}

TEST(ErrorFromResponse, DescribesHtmlPagesByTitleAndKeepsRedirectTargets) {
  const ApiError e = ErrorFromResponse(
      Text(502, "text/html", "<!DOCTYPE html><html><title>502 Bad Gateway</title><body>…</body>"),
      kToken);
  EXPECT_EQ(e.message, "an HTML page titled \"502 Bad Gateway\"");
  const ApiError r = ErrorFromResponse(
      Text(302, "text/html", "", {{"Location", "/mattermost/api/v4/system/ping"}}), kToken);
  EXPECT_EQ(r.location, "/mattermost/api/v4/system/ping");
  EXPECT_EQ(Classify(r).reason, "redirect");
}

TEST(ErrorFromResponse, ARedirectTargetIsRedactedBeforeItIsCut) {
  // The token straddles the 2,048-byte bound: no part of it may survive the cut.
  const std::string target = "/login?x=" + std::string(2048 - 9 - 10, 'a') + kToken + "&y=1";
  const ApiError r =
      ErrorFromResponse(Text(302, "text/html", "", {{"Location", target}}), kToken);
  EXPECT_LE(r.location.size(), 2048u);
  EXPECT_EQ(r.location.find(std::string(kToken).substr(0, 10)), std::string::npos) << r.location;
}

// --- classification ------------------------------------------------------------------------

ApiError Status(long status, std::string id = "") {
  ApiError e;
  e.http_status = status;
  e.id = std::move(id);
  e.mattermost_error_body = !e.id.empty();
  return e;
}

TEST(Classify, MapsEveryOutcomeToAClassAndReason) {
  struct Case {
    ApiError error;
    ErrorClass expected;
    std::string reason;
  };
  ApiError timeout;
  timeout.net_error = net::NetError{net::NetErrorKind::kTimeout, "t"};
  ApiError tls;
  tls.net_error = net::NetError{net::NetErrorKind::kTlsUntrusted, "t"};
  const std::vector<Case> cases = {
      {timeout, ErrorClass::kRetryable, "net_timeout"},
      {tls, ErrorClass::kRetryable, "net_tls_untrusted"},
      {Status(429), ErrorClass::kRateLimited, "rate_limited"},
      {Status(401, "api.context.session_expired.app_error"), ErrorClass::kAuthFailed,
       "unauthorized"},
      {Status(400, "model.post.is_valid.message_length.app_error"), ErrorClass::kTooLong,
       "message_too_long"},
      {Status(400, "model.post.is_valid.msg.app_error"), ErrorClass::kTooLong, "message_too_long"},
      {Status(400, "model.post.is_valid.props.app_error"), ErrorClass::kTooLong, "props_too_large"},
      {Status(413, "api.context.request_body_too_large.app_error"), ErrorClass::kTooLong,
       "request_too_large"},
      {Status(400, "api.post.create_post.can_not_post_to_deleted.error"), ErrorClass::kPermanent,
       "channel_archived"},
      {Status(400, "api.post.create_post.root_id.app_error"), ErrorClass::kPermanent,
       "bad_request"},
      {Status(403, "api.context.permissions.app_error"), ErrorClass::kPermanent, "forbidden"},
      {Status(404, "app.channel.get.existing.app_error"), ErrorClass::kPermanent, "not_found"},
      {Status(409), ErrorClass::kPermanent, "client_error"},
      {Status(408), ErrorClass::kRetryable, "request_timeout"},
      {Status(500, "api.post.deduplicate_create_post.pending"), ErrorClass::kDedupPending,
       "dedup_pending"},
      {Status(500, "api.post.deduplicate_create_post.failed_to_get"), ErrorClass::kRetryable,
       "server_error"},
      {Status(502), ErrorClass::kRetryable, "server_error"},
      {Status(503), ErrorClass::kRetryable, "server_error"},
      {Status(501, "app.user_access_token.disabled"), ErrorClass::kPermanent, "not_implemented"},
      {Status(302), ErrorClass::kPermanent, "redirect"},
  };
  for (const auto& c : cases) {
    const Classification got = Classify(c.error);
    EXPECT_EQ(got.error_class, c.expected)
        << c.error.ToString() << " → " << ErrorClassName(got.error_class);
    EXPECT_EQ(got.reason, c.reason) << c.error.ToString();
  }
}

TEST(Classify, ClassNamesAreStable) {
  EXPECT_EQ(ErrorClassName(ErrorClass::kRetryable), "retryable");
  EXPECT_EQ(ErrorClassName(ErrorClass::kRateLimited), "rate_limited");
  EXPECT_EQ(ErrorClassName(ErrorClass::kAuthFailed), "auth_failed");
  EXPECT_EQ(ErrorClassName(ErrorClass::kPermanent), "permanent");
  EXPECT_EQ(ErrorClassName(ErrorClass::kTooLong), "too_long");
  EXPECT_EQ(ErrorClassName(ErrorClass::kDedupPending), "dedup_pending");
}

// --- headers -------------------------------------------------------------------------------

TEST(ParseRateLimit, ReadsAllThreeHeadersCaseInsensitively) {
  net::HttpResponse r = Text(
      200, "application/json", "{}",
      {{"x-ratelimit-limit", "21"}, {"X-RATELIMIT-REMAINING", " 20 "}, {"X-Ratelimit-Reset", "1"}});
  const RateLimitInfo info = ParseRateLimit(r);
  EXPECT_TRUE(info.present());
  EXPECT_EQ(info.limit, 21);
  EXPECT_EQ(info.remaining, 20);
  EXPECT_EQ(info.reset_s, 1);
}

TEST(ParseRateLimit, AbsentOrGarbageHeadersAreNullopt) {
  EXPECT_FALSE(ParseRateLimit(Text(200, "application/json", "{}")).present());
  const RateLimitInfo info = ParseRateLimit(Text(
      200, "application/json", "{}",
      {{"X-Ratelimit-Limit", "lots"}, {"X-Ratelimit-Remaining", "3x"}, {"X-Ratelimit-Reset", ""}}));
  EXPECT_FALSE(info.present());
  EXPECT_EQ(ParseRetryAfter(
                Text(429, "text/plain", "", {{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}})),
            std::nullopt);
  EXPECT_EQ(ParseRetryAfter(Text(429, "text/plain", "", {{"Retry-After", "-1"}})), std::nullopt);
}

TEST(VersionFromHeader, TakesTheFirstThreeDotParts) {
  EXPECT_EQ(VersionFromHeader("9.11.2.12345.0123456789abcdef.false"), "9.11.2");
  EXPECT_EQ(VersionFromHeader("10.5.0.dev.abc.true"), "10.5.0");
  EXPECT_EQ(VersionFromHeader("7.1"), "7.1");
  EXPECT_EQ(VersionFromHeader(""), "");
}

TEST(NormalizeBaseUrl, TrimsSpaceAndTrailingSlashes) {
  EXPECT_EQ(NormalizeBaseUrl(" https://x.example/mm/// "), "https://x.example/mm");
  EXPECT_EQ(NormalizeBaseUrl("https://x.example"), "https://x.example");
}

}  // namespace
}  // namespace tocsin::mattermost

namespace tocsin::mattermost {
namespace {

TEST(ParseChannelRef, AcceptsIdsAndTeamSlashChannel) {
  ChannelRef id = ParseChannelRef(" chan4chan4chan4chan4chan4c ");
  EXPECT_EQ(id.id, "chan4chan4chan4chan4chan4c");
  EXPECT_EQ(id.problem, "");
  ChannelRef named = ParseChannelRef("acme/security-alerts_2");
  EXPECT_EQ(named.team, "acme");
  EXPECT_EQ(named.name, "security-alerts_2");
  EXPECT_EQ(named.id, "");
  EXPECT_EQ(named.problem, "");
}

TEST(ParseChannelRef, NamesWhatIsWrong) {
  EXPECT_NE(ParseChannelRef("town-square").problem.find("neither a channel id"), std::string::npos);
  EXPECT_NE(
      ParseChannelRef("acme/channels/town-square").problem.find("write it as acme/town-square"),
      std::string::npos);
  EXPECT_NE(ParseChannelRef("acme/~town-square").problem.find("write it as acme/town-square"),
            std::string::npos);
  EXPECT_NE(ParseChannelRef("acme/Town Square").problem.find("display names"), std::string::npos);
  EXPECT_NE(ParseChannelRef("a/b/c").problem.find("team-name/channel-name"), std::string::npos);
  EXPECT_NE(ParseChannelRef("/x").problem.find("team-name/channel-name"), std::string::npos);
  EXPECT_NE(ParseChannelRef("").problem, "");
}

}  // namespace
}  // namespace tocsin::mattermost

#include "mattermost/resolve.hpp"

namespace tocsin::mattermost {
namespace {

TEST(ResolveChannel, UsesTheIdOrTheNamesAndRejectsOtherTextWithoutARequest) {
  FakeServer server;
  auto http = server.Factory()(net::HttpClientOptions{});
  Client client(*http, "https://chat.example.com", Secret(kToken));
  server.On("GET", std::string("/api/v4/channels/") + kChannelId,
            ChannelJson(kChannelId, "security-alerts"));
  server.On("GET", "/api/v4/teams/name/acme/channels/name/security-alerts",
            ChannelJson(kChannelId, "security-alerts"));
  auto by_id = ResolveChannel(client, kChannelId);
  ASSERT_TRUE(by_id) << by_id.error().ToString();
  EXPECT_EQ(by_id->id, kChannelId);
  auto by_name = ResolveChannel(client, " acme/security-alerts ");
  ASSERT_TRUE(by_name) << by_name.error().ToString();
  EXPECT_EQ(by_name->name, "security-alerts");

  const size_t requests = server.requests().size();
  auto bad = ResolveChannel(client, "acme/channels/security-alerts");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("write it as acme/security-alerts"), std::string::npos);
  EXPECT_EQ(Classify(bad.error()).error_class, ErrorClass::kPermanent);
  EXPECT_EQ(server.requests().size(), requests);
}

}  // namespace
}  // namespace tocsin::mattermost
