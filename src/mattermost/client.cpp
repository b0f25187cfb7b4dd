#include "mattermost/client.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <utility>

#include "core/strings.hpp"
#include "net/url.hpp"

namespace tocsin::mattermost {
namespace {

constexpr size_t kMaxQuotedBytes = 200;

// Server text as it may appear in our messages: token redacted first (so a cut cannot leave half
// of it), whitespace runs folded, cut to a bounded size on a UTF-8 boundary.
std::string Quote(std::string_view text, std::string_view token) {
  std::string redacted = Redact(std::string(text), token);
  std::string folded;
  folded.reserve(std::min(redacted.size(), kMaxQuotedBytes + 8));
  bool space = false;
  for (char c : redacted) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !folded.empty();
      continue;
    }
    if (space) folded.push_back(' ');
    space = false;
    folded.push_back(c);
    if (folded.size() > kMaxQuotedBytes) break;
  }
  if (folded.size() <= kMaxQuotedBytes) return folded;
  size_t cut = kMaxQuotedBytes;
  while (cut > 0 && (static_cast<unsigned char>(folded[cut]) & 0xC0) == 0x80) --cut;
  folded.resize(cut);
  return folded + "…";
}

std::optional<int64_t> ParseInt(std::optional<std::string> text) {
  if (!text) return std::nullopt;
  const std::string_view s = Trim(*text);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return value;
}

std::string GetString(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t GetInt(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

bool GetBool(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

bool LooksLikeHtml(std::string_view content_type, std::string_view body) {
  if (ToLower(content_type).find("html") != std::string::npos) return true;
  const std::string_view start = Trim(body.substr(0, 256));
  return StartsWith(ToLower(start), "<!doctype html") || StartsWith(ToLower(start), "<html");
}

std::string HtmlTitle(std::string_view body) {
  const std::string lower = ToLower(body.substr(0, 64 * 1024));
  const size_t open = lower.find("<title");
  if (open == std::string::npos) return {};
  const size_t start = lower.find('>', open);
  if (start == std::string::npos) return {};
  const size_t end = lower.find("</title", start);
  if (end == std::string::npos) return {};
  return std::string(Trim(body.substr(start + 1, end - start - 1)));
}

// What a body that is not the expected JSON looks like, for a message.
std::string DescribeBody(const net::HttpResponse& response, std::string_view token) {
  const std::string content_type = response.GetHeader("Content-Type").value_or("");
  if (response.body.empty()) return "an empty body";
  if (LooksLikeHtml(content_type, response.body)) {
    const std::string title = HtmlTitle(response.body);
    if (title.empty()) return "an HTML page";
    return fmt::format("an HTML page titled \"{}\"", Quote(title, token));
  }
  return fmt::format("\"{}\"", Quote(response.body, token));
}

User ParseUser(const nlohmann::json& j) {
  User u;
  u.id = GetString(j, "id");
  u.username = GetString(j, "username");
  u.is_bot = GetBool(j, "is_bot");
  u.delete_at = GetInt(j, "delete_at");
  return u;
}

Channel ParseChannel(const nlohmann::json& j) {
  Channel c;
  c.id = GetString(j, "id");
  c.team_id = GetString(j, "team_id");
  c.name = GetString(j, "name");
  c.display_name = GetString(j, "display_name");
  c.type = GetString(j, "type");
  c.delete_at = GetInt(j, "delete_at");
  return c;
}

ChannelMember ParseMember(const nlohmann::json& j) {
  ChannelMember m;
  m.channel_id = GetString(j, "channel_id");
  m.user_id = GetString(j, "user_id");
  m.roles = GetString(j, "roles");
  return m;
}

// The fields of a post that Post keeps besides its props, as Mattermost names them; read by both
// ParsePost and ReadPostWithoutProps.
constexpr std::pair<const char*, std::string Post::*> kPostText[] = {
    {"id", &Post::id},           {"channel_id", &Post::channel_id},
    {"root_id", &Post::root_id}, {"user_id", &Post::user_id},
    {"message", &Post::message}, {"pending_post_id", &Post::pending_post_id}};
constexpr std::pair<const char*, int64_t Post::*> kPostTimes[] = {{"create_at", &Post::create_at},
                                                                   {"update_at", &Post::update_at},
                                                                   {"edit_at", &Post::edit_at},
                                                                   {"delete_at", &Post::delete_at}};

// Takes the props out of `j` (a reply's body, read once): a post's props carry its attachments,
// the bulk of it, and a copy per created post showed in the delivery profile.
Post ParsePost(nlohmann::json& j) {
  Post p;
  for (const auto& [key, field] : kPostText) p.*field = GetString(j, key);
  for (const auto& [key, field] : kPostTimes) p.*field = GetInt(j, key);
  if (auto it = j.find("props"); it != j.end() && it->is_object()) p.props = std::move(*it);
  return p;
}

// A post's fields but its props, read straight off the answer: the props of a created post are
// what the sender sent (and most of its bytes), so a sender that needs only the id need not
// build them. nullopt when the body is not a JSON object.
std::optional<Post> ReadPostWithoutProps(std::string_view body) {
  thread_local simdjson::ondemand::parser parser;  // its buffers are reused per thread
  const simdjson::padded_string padded(body);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(object) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  Post p;
  for (auto field : object) {
    std::string_view key;
    simdjson::ondemand::value value;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS ||
        field.value().get(value) != simdjson::SUCCESS) {
      return std::nullopt;
    }
    // The field's entry in the tables, if any; anything else (props above all) is skipped
    // unread.
    const auto read = [&] {
      for (const auto& [name, member] : kPostText) {
        if (key != name) continue;
        std::string_view s;
        if (value.get_string().get(s) == simdjson::SUCCESS) p.*member = s;
        return;
      }
      for (const auto& [name, member] : kPostTimes) {
        if (key != name) continue;
        int64_t n = 0;
        if (value.get_int64().get(n) == simdjson::SUCCESS) p.*member = n;
        return;
      }
    };
    read();
  }
  // Anything after the object (simdjson reads lazily: only now is the rest looked at).
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return std::nullopt;
  return p;
}

ApiError InvalidBody(const net::HttpResponse& response, std::string_view token,
                     std::string_view expected) {
  ApiError error;
  error.http_status = response.status;
  error.invalid_body = true;
  error.content_type = response.GetHeader("Content-Type").value_or("");
  error.request_id = response.GetHeader("X-Request-Id").value_or("");
  error.rate_limit = ParseRateLimit(response);
  error.body_summary = DescribeBody(response, token);
  error.message = fmt::format("expected {} but got {}", expected, error.body_summary);
  return error;
}

}  // namespace

RateLimitInfo ParseRateLimit(const net::HttpResponse& response) {
  RateLimitInfo info;
  info.limit = ParseInt(response.GetHeader("X-Ratelimit-Limit"));
  info.remaining = ParseInt(response.GetHeader("X-Ratelimit-Remaining"));
  info.reset_s = ParseInt(response.GetHeader("X-Ratelimit-Reset"));
  return info;
}

std::optional<Millis> ParseRetryAfter(const net::HttpResponse& response) {
  if (auto seconds = ParseInt(response.GetHeader("Retry-After")); seconds && *seconds >= 0) {
    return Millis(*seconds * 1000);
  }
  if (response.status == 429) {
    if (auto reset = ParseInt(response.GetHeader("X-Ratelimit-Reset")); reset && *reset >= 0) {
      return Millis(*reset * 1000);
    }
  }
  return std::nullopt;
}

std::string VersionFromHeader(std::string_view x_version_id) {
  const std::vector<std::string> parts = Split(Trim(x_version_id), '.');
  std::string version;
  for (size_t i = 0; i < parts.size() && i < 3; ++i) {
    if (i > 0) version += '.';
    version += parts[i];
  }
  return version;
}

namespace {
bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}
}  // namespace

ChannelRef ParseChannelRef(std::string_view text) {
  constexpr size_t kIdLength = 26;
  ChannelRef ref;
  const std::string spec(Trim(text));
  const std::string shown = spec.size() > 80 ? spec.substr(0, 80) + "…" : spec;
  const std::vector<std::string> parts = Split(spec, '/');
  if (parts.size() == 1) {
    const std::string& id = parts[0];
    if (id.size() == kIdLength && std::all_of(id.begin(), id.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c));
        })) {
      ref.id = id;
      return ref;
    }
    ref.problem = fmt::format(
        "\"{}\" is neither a channel id (26 letters and digits) nor team-name/channel-name.",
        shown);
    return ref;
  }
  // Near misses copied from a channel's URL or its ~mention: say exactly what to write.
  if (parts.size() == 3 && parts[1] == "channels" && !parts[0].empty() && !parts[2].empty()) {
    ref.problem =
        fmt::format("\"{}\" is a channel URL path; write it as {}/{}.", shown, parts[0], parts[2]);
    return ref;
  }
  if (parts.size() == 2 && StartsWith(parts[1], "~") && parts[1].size() > 1) {
    ref.problem =
        fmt::format("\"{}\" has a '~'; write it as {}/{}.", shown, parts[0], parts[1].substr(1));
    return ref;
  }
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
    ref.problem = fmt::format("\"{}\" is not of the form team-name/channel-name.", shown);
    return ref;
  }
  for (const std::string& name : parts) {
    if (!std::all_of(name.begin(), name.end(), IsNameChar)) {
      ref.problem = fmt::format(
          "\"{}\" is not a team or channel name: names are the lower-case letters, digits, '-' "
          "and '_' of the channel's URL (display names do not work).",
          name.size() > 80 ? name.substr(0, 80) + "…" : name);
      return ref;
    }
  }
  ref.team = parts[0];
  ref.name = parts[1];
  return ref;
}

std::string NormalizeBaseUrl(std::string_view url) {
  std::string out(Trim(url));
  while (EndsWith(out, "/")) out.pop_back();
  return out;
}

std::string ApiError::ToString() const {
  std::string out;
  if (net_error) {
    out = fmt::format("{}: {}", net::NetErrorKindName(net_error->kind), net_error->detail);
  } else {
    out = fmt::format("HTTP {}", http_status);
    if (!id.empty()) out += " " + id;
    if (!message.empty()) out += ": " + message;
  }
  if (retry_after) out += fmt::format(" (retry after {} ms)", retry_after->count());
  if (!request_id.empty()) out += fmt::format(" (request {})", request_id);
  return out;
}

std::string_view ErrorClassName(ErrorClass error_class) {
  switch (error_class) {
    case ErrorClass::kRetryable:
      return "retryable";
    case ErrorClass::kRateLimited:
      return "rate_limited";
    case ErrorClass::kAuthFailed:
      return "auth_failed";
    case ErrorClass::kPermanent:
      return "permanent";
    case ErrorClass::kTooLong:
      return "too_long";
    case ErrorClass::kDedupPending:
      return "dedup_pending";
  }
  return "retryable";
}

Classification Classify(const ApiError& error) {
  if (error.net_error) {
    return {ErrorClass::kRetryable,
            "net_" + std::string(net::NetErrorKindName(error.net_error->kind))};
  }
  if (error.invalid_body) return {ErrorClass::kRetryable, "invalid_response"};
  const long status = error.http_status;
  const std::string& id = error.id;
  if (status == 429) return {ErrorClass::kRateLimited, "rate_limited"};
  if (status == 401) return {ErrorClass::kAuthFailed, "unauthorized"};
  if (status == 400) {
    // The id changed between v9.11 (msg) and v11 (message_length); API-FACTS §4.3.
    if (id == "model.post.is_valid.message_length.app_error" ||
        id == "model.post.is_valid.msg.app_error") {
      return {ErrorClass::kTooLong, "message_too_long"};
    }
    if (id == "model.post.is_valid.props.app_error")
      return {ErrorClass::kTooLong, "props_too_large"};
    if (id == "api.post.create_post.can_not_post_to_deleted.error" ||
        id == "api.post.patch_post.can_not_update_post_in_deleted.error") {
      return {ErrorClass::kPermanent, "channel_archived"};
    }
    return {ErrorClass::kPermanent, "bad_request"};
  }
  // v11 answers an oversized request body with 413 (v9.11 with a 400 bad-JSON error).
  if (status == 413) return {ErrorClass::kTooLong, "request_too_large"};
  if (status == 403) return {ErrorClass::kPermanent, "forbidden"};
  if (status == 404) return {ErrorClass::kPermanent, "not_found"};
  if (status == 408) return {ErrorClass::kRetryable, "request_timeout"};
  if (status == 500 && id == "api.post.deduplicate_create_post.pending") {
    return {ErrorClass::kDedupPending, "dedup_pending"};
  }
  if (status == 501) return {ErrorClass::kPermanent, "not_implemented"};
  if (status >= 500 && status <= 599) return {ErrorClass::kRetryable, "server_error"};
  if (status >= 300 && status <= 399) return {ErrorClass::kPermanent, "redirect"};
  if (status >= 400 && status <= 499) return {ErrorClass::kPermanent, "client_error"};
  return {ErrorClass::kPermanent, "unexpected_status"};
}

ApiError ErrorFromResponse(const net::HttpResponse& response, std::string_view token) {
  ApiError error;
  error.http_status = response.status;
  error.content_type = response.GetHeader("Content-Type").value_or("");
  error.request_id = response.GetHeader("X-Request-Id").value_or("");
  error.retry_after = ParseRetryAfter(response);
  error.rate_limit = ParseRateLimit(response);
  if (response.status >= 300 && response.status <= 399) {
    // Kept whole (a diagnosis derives the URL to use from it) but bounded.
    // Redacted before it is cut: a token across the cut would otherwise leave its first part.
    error.location = Redact(response.GetHeader("Location").value_or(""), token).substr(0, 2048);
  }
  // Mattermost's AppError JSON (API-FACTS §2). Its 429 and a proxy's pages are not JSON.
  const auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object() && body.contains("id") && body["id"].is_string() &&
      body.contains("message") && body["message"].is_string()) {
    error.mattermost_error_body = true;
    error.id = Quote(body["id"].get<std::string>(), token);
    std::string text = body["message"].get<std::string>();
    if (const std::string detail = GetString(body, "detailed_error"); !detail.empty()) {
      text += " (" + detail + ")";
    }
    error.message = Quote(text, token);
    if (error.request_id.empty()) error.request_id = GetString(body, "request_id");
  } else {
    error.body_summary = DescribeBody(response, token);
    error.message = error.body_summary;
  }
  error.request_id = Quote(error.request_id, token);
  return error;
}

ApiError ErrorFromNetError(const net::NetError& net_error, std::string_view token) {
  ApiError error;
  error.net_error = net_error;
  error.net_error->detail = Redact(error.net_error->detail, token);
  error.message = error.net_error->detail;
  return error;
}

Client::Client(net::HttpClient& http, std::string base_url, Secret token)
    : http_(http), base_url_(NormalizeBaseUrl(base_url)), token_(std::move(token)) {}

ApiResult<net::HttpResponse> Client::Exchange(const std::string& method, const std::string& path,
                                             const nlohmann::json* body, bool with_token) {
  net::HttpRequest request;
  request.method = method;
  request.url = base_url_ + "/api/v4" + path;
  request.headers.push_back({"Accept", "application/json"});
  if (body != nullptr) {
    request.headers.push_back({"Content-Type", "application/json"});
    request.body = body->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (with_token) request.bearer_token = token_;
  const std::string& token = token_.Reveal();

  auto response = http_.Send(request);
  if (!response) {
    last_rate_limit_ = {};
    return tl::unexpected(ErrorFromNetError(response.error(), token));
  }
  last_rate_limit_ = ParseRateLimit(*response);
  if (auto version = response->GetHeader("X-Version-Id"); version && !version->empty()) {
    server_version_ = VersionFromHeader(*version);
  }
  if (response->status < 200 || response->status > 299) {
    return tl::unexpected(ErrorFromResponse(*response, token));
  }
  return std::move(*response);
}

ApiResult<Client::Reply> Client::Call(const std::string& method, const std::string& path,
                                      const nlohmann::json* body, bool with_token) {
  auto response = Exchange(method, path, body, with_token);
  if (!response) return tl::unexpected(std::move(response.error()));
  const std::string& token = token_.Reveal();
  Reply reply;
  reply.body = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (!reply.body.is_object() && !reply.body.is_array()) {
    return tl::unexpected(InvalidBody(*response, token, "a JSON answer"));
  }
  reply.response = std::move(*response);
  return reply;
}

ApiResult<PingInfo> Client::Ping() {
  auto reply = Call("GET", "/system/ping", nullptr, /*with_token=*/false);
  if (!reply) return tl::unexpected(std::move(reply.error()));
  if (!reply->body.is_object() || !reply->body.contains("status")) {
    return tl::unexpected(
        InvalidBody(reply->response, token_.Reveal(), "Mattermost's ping answer {\"status\":…}"));
  }
  PingInfo info;
  info.status = GetString(reply->body, "status");
  info.version = VersionFromHeader(reply->response.GetHeader("X-Version-Id").value_or(""));
  return info;
}

ApiResult<User> Client::GetMe() {
  auto reply = Call("GET", "/users/me", nullptr, true);
  if (!reply) return tl::unexpected(std::move(reply.error()));
  User user = ParseUser(reply->body);
  if (user.id.empty()) {
    return tl::unexpected(InvalidBody(reply->response, token_.Reveal(), "a user object"));
  }
  return user;
}

ApiResult<Channel> Client::GetChannel(const std::string& channel_id) {
  auto reply = Call("GET", "/channels/" + net::EncodePathSegment(channel_id), nullptr, true);
  if (!reply) return tl::unexpected(std::move(reply.error()));
  Channel channel = ParseChannel(reply->body);
  if (channel.id.empty()) {
    return tl::unexpected(InvalidBody(reply->response, token_.Reveal(), "a channel object"));
  }
  return channel;
}

ApiResult<Channel> Client::GetChannelByName(const std::string& team_name,
                                            const std::string& channel_name) {
  auto reply = Call("GET",
                    "/teams/name/" + net::EncodePathSegment(team_name) + "/channels/name/" +
                        net::EncodePathSegment(channel_name),
                    nullptr, true);
  if (!reply) return tl::unexpected(std::move(reply.error()));
  Channel channel = ParseChannel(reply->body);
  if (channel.id.empty()) {
    return tl::unexpected(InvalidBody(reply->response, token_.Reveal(), "a channel object"));
  }
  return channel;
}

ApiResult<ChannelMember> Client::GetMyChannelMembership(const std::string& channel_id) {
  auto reply =
      Call("GET", "/channels/" + net::EncodePathSegment(channel_id) + "/members/me", nullptr, true);
  if (!reply) return tl::unexpected(std::move(reply.error()));
  ChannelMember member = ParseMember(reply->body);
  if (member.channel_id.empty()) {
    return tl::unexpected(InvalidBody(reply->response, token_.Reveal(), "a channel member object"));
  }
  return member;
}

ApiResult<Post> Client::CreatePost(const nlohmann::json& post, ReadBack read) {
  if (read == ReadBack::kWithoutProps) {
    auto response = Exchange("POST", "/posts", &post, true);
    if (!response) return tl::unexpected(std::move(response.error()));
    std::optional<Post> created = ReadPostWithoutProps(response->body);
    if (!created || created->id.empty()) {
      return tl::unexpected(InvalidBody(*response, token_.Reveal(), "a post object"));
    }
    return std::move(*created);
  }
  auto reply = Call("POST", "/posts", &post, true);
  if (!reply) return tl::unexpected(std::move(reply.error()));
  Post created = ParsePost(reply->body);
  if (created.id.empty()) {
    return tl::unexpected(InvalidBody(reply->response, token_.Reveal(), "a post object"));
  }
  return created;
}

ApiResult<Post> Client::PatchPost(const std::string& post_id, const nlohmann::json& patch) {
  auto reply = Call("PUT", "/posts/" + net::EncodePathSegment(post_id) + "/patch", &patch, true);
  if (!reply) return tl::unexpected(std::move(reply.error()));
  Post patched = ParsePost(reply->body);
  if (patched.id.empty()) {
    return tl::unexpected(InvalidBody(reply->response, token_.Reveal(), "a post object"));
  }
  return patched;
}

ApiResult<Post> Client::GetPost(const std::string& post_id) {
  auto reply = Call("GET", "/posts/" + net::EncodePathSegment(post_id), nullptr, true);
  if (!reply) return tl::unexpected(std::move(reply.error()));
  Post post = ParsePost(reply->body);
  if (post.id.empty()) {
    return tl::unexpected(InvalidBody(reply->response, token_.Reveal(), "a post object"));
  }
  return post;
}

ApiResult<PostList> Client::GetChannelPostsSince(const std::string& channel_id, int64_t since_ms) {
  auto reply =
      Call("GET",
           fmt::format("/channels/{}/posts?since={}", net::EncodePathSegment(channel_id), since_ms),
           nullptr, true);
  if (!reply) return tl::unexpected(std::move(reply.error()));
  nlohmann::json& body = reply->body;
  auto order = body.find("order");
  auto posts = body.find("posts");
  if (!body.is_object() || order == body.end() || !order->is_array() || posts == body.end() ||
      !(posts->is_object() || posts->is_null())) {
    return tl::unexpected(InvalidBody(reply->response, token_.Reveal(), "a post list"));
  }
  PostList list;
  for (const auto& id : *order) {
    if (id.is_string()) list.order.push_back(id.get<std::string>());
  }
  if (posts->is_object()) {
    for (auto& [id, post] : posts->items()) {
      if (post.is_object()) list.posts.emplace(id, ParsePost(post));
    }
  }
  return list;
}

}  // namespace tocsin::mattermost
