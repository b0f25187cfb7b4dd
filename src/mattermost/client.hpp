// mattermost/client.hpp — a small typed client for the Mattermost REST v4 calls Tocsin makes.
//
// Key types: `Client` (one base URL + one token over a net::HttpClient), `ApiError` (every
// failure, from DNS to a 4xx, as one value), `Classify()` (what the delivery pipeline should do
// about an ApiError, plus a short reason that doubles as a metrics label) and `RateLimitInfo`
// (the server's X-Ratelimit-* headers, read from every response).
//
// Invariants: the token is sent only as an Authorization header to the configured server (the
// HttpClient never follows redirects) and never appears in an ApiError: any server text quoted
// in a message is cut short and has the token redacted. Ping() is sent without the token, so a
// URL that points at something other than Mattermost never sees it from the ping.
// Facts about the server's behaviour are in /work/shared/mattermost/API-FACTS.md (§ cited below).
//
// Threading: like the HttpClient it wraps, a Client is used by one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/secret.hpp"
#include "net/http_client.hpp"

namespace tocsin::mattermost {

// X-Ratelimit-* headers (API-FACTS §9). Only sent when the server has rate limiting on; each
// field is nullopt when its header is absent or not a number.
struct RateLimitInfo {
  std::optional<int64_t> limit;      // X-Ratelimit-Limit: a burst size (MaxBurst + 1), not a rate
  std::optional<int64_t> remaining;  // X-Ratelimit-Remaining: requests allowed right now
  std::optional<int64_t> reset_s;    // X-Ratelimit-Reset: seconds until the bucket is full again
  bool present() const { return limit || remaining || reset_s; }
};
RateLimitInfo ParseRateLimit(const net::HttpResponse& response);

// How long the server asks us to wait: Retry-After (delta seconds), else, on a 429 only,
// X-Ratelimit-Reset. nullopt when neither is usable.
std::optional<Millis> ParseRetryAfter(const net::HttpResponse& response);

// The server version from X-Version-Id ("9.11.2.12345.abcdef.false" → "9.11.2"): its first three
// dot-separated parts; "" when the header is empty.
std::string VersionFromHeader(std::string_view x_version_id);

// Any failed call. Exactly one of: `net_error` set (no HTTP answer), `invalid_body` (a 2xx whose
// body is not the JSON the endpoint returns), or a non-2xx `http_status`.
struct ApiError {
  long http_status = 0;  // 0 when the request got no HTTP answer
  std::string id;       // Mattermost error id, e.g. "api.context.permissions.app_error"; "" if none
  std::string message;  // the server's message or a body excerpt: short, token redacted
  std::string request_id;             // X-Request-Id (or the body's request_id)
  std::optional<Millis> retry_after;  // see ParseRetryAfter
  std::optional<net::NetError> net_error;
  bool invalid_body = false;
  bool mattermost_error_body = false;  // the body was Mattermost's AppError JSON
  std::string content_type;            // of the error response
  std::string location;                // Location header of a 3xx answer
  // What a body that is not Mattermost's JSON looked like: "an HTML page titled \"…\"", "an
  // empty body" or a short quote; "" for Mattermost error bodies.
  std::string body_summary;
  RateLimitInfo rate_limit;

  // One line for logs and a delivery's last_error, e.g.
  // "HTTP 403 api.context.permissions.app_error: You do not have … (request 4xq…)".
  std::string ToString() const;
};

enum class ErrorClass {
  kRetryable,     // network trouble, 5xx, timeouts, TLS (a config error, but fixable): retry later
  kRateLimited,   // 429: wait for retry_after, never a failure
  kAuthFailed,    // 401: the token is bad; pause everything until it is replaced
  kPermanent,     // 400/403/404 and other 4xx: this request will never succeed as it is
  kTooLong,       // the post is too long for this server: re-render shorter
  kDedupPending,  // 500 api.post.deduplicate_create_post.pending: same post in flight, retry soon
};
std::string_view ErrorClassName(ErrorClass error_class);

struct Classification {
  ErrorClass error_class = ErrorClass::kRetryable;
  // Short snake_case cause from a small fixed set (a metrics label), e.g. "server_error",
  // "net_connection_refused", "forbidden", "message_too_long".
  std::string reason;
};
Classification Classify(const ApiError& error);

template <typename T>
using ApiResult = tl::expected<T, ApiError>;

struct PingInfo {
  std::string version;  // from X-Version-Id, "" when absent
  std::string status;   // "OK" normally
};

struct User {
  std::string id;
  std::string username;
  bool is_bot = false;
  int64_t delete_at = 0;
};

struct Channel {
  std::string id;
  std::string team_id;
  std::string name;
  std::string display_name;
  std::string type;       // "O" public, "P" private, "D" direct, "G" group
  int64_t delete_at = 0;  // > 0: archived
};

struct ChannelMember {
  std::string channel_id;
  std::string user_id;
  std::string roles;
};

struct Post {
  std::string id;
  std::string channel_id;
  std::string root_id;
  std::string user_id;
  std::string message;
  std::string pending_post_id;
  int64_t create_at = 0;
  int64_t update_at = 0;
  int64_t edit_at = 0;
  int64_t delete_at = 0;
  nlohmann::json props = nlohmann::json::object();
};

struct PostList {
  std::vector<std::string> order;  // newest first
  std::map<std::string, Post> posts;
};

class Client {
 public:
  // `http` must outlive the client. `base_url` as configured: with or without a subpath
  // ("https://host/mattermost"), trailing slashes ignored.
  Client(net::HttpClient& http, std::string base_url, Secret token);

  // GET /api/v4/system/ping, without the token.
  ApiResult<PingInfo> Ping();
  // GET /api/v4/users/me.
  ApiResult<User> GetMe();
  // GET /api/v4/channels/{id}.
  ApiResult<Channel> GetChannel(const std::string& channel_id);
  // GET /api/v4/teams/name/{team}/channels/name/{channel}.
  ApiResult<Channel> GetChannelByName(const std::string& team_name,
                                      const std::string& channel_name);
  // GET /api/v4/channels/{id}/members/me (403 when the token's user is not a member).
  ApiResult<ChannelMember> GetMyChannelMembership(const std::string& channel_id);
  // What of a created post to read back: everything, or all but its props (the attachments, most
  // of its bytes, are what the sender sent; skipping them saves the sender a JSON tree per post).
  enum class ReadBack { kAll, kWithoutProps };
  // POST /api/v4/posts with `post` as the body (channel_id, message, props, root_id,
  // pending_post_id…); the created post (201), or the original one for a repeated pending_post_id.
  ApiResult<Post> CreatePost(const nlohmann::json& post, ReadBack read = ReadBack::kAll);
  // PUT /api/v4/posts/{id}/patch.
  ApiResult<Post> PatchPost(const std::string& post_id, const nlohmann::json& patch);
  // GET /api/v4/posts/{id}.
  ApiResult<Post> GetPost(const std::string& post_id);
  // GET /api/v4/channels/{id}/posts?since={ms}: posts created or changed since then.
  ApiResult<PostList> GetChannelPostsSince(const std::string& channel_id, int64_t since_ms);

  // Rate-limit headers of the last response (empty when the server sent none or no answer came).
  const RateLimitInfo& last_rate_limit() const { return last_rate_limit_; }
  // X-Version-Id-derived version of the last response that carried one ("" until then).
  const std::string& server_version() const { return server_version_; }
  const std::string& base_url() const { return base_url_; }

 private:
  struct Reply {
    nlohmann::json body;
    net::HttpResponse response;
  };
  // One request; its 2xx answer unparsed, or the error (network, non-2xx) as an ApiError.
  ApiResult<net::HttpResponse> Exchange(const std::string& method, const std::string& path,
                                        const nlohmann::json* body, bool with_token);
  // Exchange, with the answer parsed as JSON (an object or an array, else an invalid body).
  ApiResult<Reply> Call(const std::string& method, const std::string& path,
                        const nlohmann::json* body, bool with_token);

  net::HttpClient& http_;
  std::string base_url_;
  Secret token_;
  RateLimitInfo last_rate_limit_;
  std::string server_version_;
};

// A channel as users write it in routes and Test Connection (SPEC §1): a 26-character id or
// "team-name/channel-name" (surrounding spaces ignored). Anything else gets `problem`, a sentence
// saying what is wrong and, for near misses ("team/channels/name", "team/~name"), what to write.
struct ChannelRef {
  std::string id;    // set for an id
  std::string team;  // set, with name, for team-name/channel-name
  std::string name;
  std::string problem;  // set when the text is neither
};
ChannelRef ParseChannelRef(std::string_view text);

// Builds the ApiError for a non-2xx response (exposed for tests and for callers that talk to
// Mattermost without a Client). Quoted server text is cut short and `token` is redacted from it.
ApiError ErrorFromResponse(const net::HttpResponse& response, std::string_view token);
ApiError ErrorFromNetError(const net::NetError& error, std::string_view token);

// Base URL as the client uses it: trimmed, without trailing slashes.
std::string NormalizeBaseUrl(std::string_view url);

}  // namespace tocsin::mattermost
