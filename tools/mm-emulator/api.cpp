// The Mattermost REST API v4 subset, as API-FACTS.md describes the real server: routing, auth
// (ServeHTTP), the read endpoints (§3), create/patch/get posts (§4), mentions (§5.1).
#include <algorithm>
#include <functional>
#include <regex>
#include <sstream>

#include "emulator_impl.hpp"
#include "mentions.hpp"
#include "text.hpp"

namespace mmemu {
namespace {

constexpr size_t kMaxPayloadBytes = 300000 + 512;  // MaximumPayloadSizeBytes + bytes.MinRead
constexpr size_t kPropsMaxRunes = 800000;          // PostPropsMaxRunes
constexpr size_t kFileIdsMaxRunes = 300;           // PostFileidsMaxRunes (= 10 ids)
constexpr size_t kMaxNotificationsPerChannel = 1000;
constexpr int kPerPageDefault = 60;
constexpr int kPerPageMaximum = 200;

using nlohmann::json;

// --- Errors (ids and English texts as the server sends them) ---

AppError Permissions() {
  return {403, "api.context.permissions.app_error", "You do not have the appropriate permissions.",
          ""};
}
AppError SessionExpired() {
  return {401, "api.context.session_expired.app_error",
          "Invalid or expired session, please login again.", ""};
}
AppError InvalidUrlParam(const std::string& name) {
  return {400, "api.context.invalid_url_param.app_error",
          "Invalid or missing " + name + " parameter in request URL.", ""};
}
AppError InvalidBodyParam(const std::string& name) {
  return {400, "api.context.invalid_body_param.app_error",
          "Invalid or missing " + name + " in request body.", ""};
}
AppError InvalidParam(const std::string& name) {
  return {400, "api.context.invalid_param.app_error", "Invalid " + name + " parameter.", ""};
}
AppError BodyTooLarge() {
  return {413, "api.context.request_body_too_large.app_error", "The request body is too large.",
          ""};
}
AppError ChannelMissing() {
  return {404, "app.channel.get.existing.app_error", "Unable to find the existing channel.", ""};
}
AppError ChannelByNameMissing() {
  return {404, "app.channel.get_by_name.missing.app_error", "Unable to find the existing channel.",
          ""};
}
AppError UserMissing() {
  return {404, "app.user.missing_account.const", "Unable to find the user.", ""};
}
AppError RootIdInvalid() {
  return {400, "api.post.create_post.root_id.app_error", "Invalid RootId parameter.", ""};
}

// --- Small parsing helpers ---

bool IsRouteId(const std::string& s) {  // the router's [A-Za-z0-9]+
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  });
}

bool IsRouteName(const std::string& s) {  // the router's [A-Za-z0-9_-]+
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

bool IsValidTeamName(const std::string& s) {  // model.IsValidTeamName
  static const std::regex kPattern("^[a-z0-9]+([a-z\\-0-9]+|(__)?)[a-z0-9]+$");
  return std::regex_match(s, kPattern);
}

bool IsValidChannelName(const std::string& s) {  // model.IsValidChannelIdentifier
  static const std::regex kPattern("^[a-z0-9]+([a-z\\-\\_0-9]+|(__)?)[a-z0-9]+$");
  return std::regex_match(s, kPattern);
}

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    parts.push_back(
        path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return parts;
}

// Go's json.Decoder: the first JSON value of the body, invalid UTF-8 replaced, trailing bytes
// ignored. Returns false on malformed JSON.
bool DecodeBody(const std::string& body, json* out) {
  std::istringstream stream(SanitizeUtf8(body));
  try {
    stream >> *out;
  } catch (const json::exception&) {
    return false;
  }
  return true;
}

bool IsStringOrAbsent(const json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() || it->is_string();
}

std::string StringField(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string JoinRoles(const std::set<std::string>& roles) {
  std::string out = "system_user";
  for (const std::string& role : roles) {
    if (role != "system_user") out += " " + role;
  }
  return out;
}

// Builds a SlackAttachment / PostAction the way Go re-serialises them (struct field order, empty
// strings kept, omitempty respected). `keep_integration` false strips actions' `integration`
// (EncodeJSON); `generate_ids` fills empty action ids (GenerateActionIds).
template <typename J>
J NormalizeAction(const json& a, bool keep_integration, bool generate_ids) {
  J out = J::object();
  auto str = [&](const char* key) { return StringField(a, key); };
  std::string id = str("id");
  if (id.empty() && generate_ids) id = NewId();
  if (!id.empty()) out["id"] = id;
  for (const char* key : {"type", "name"}) {
    if (!str(key).empty()) out[key] = str(key);
  }
  if (auto d = a.find("disabled"); d != a.end() && d->is_boolean() && d->get<bool>()) {
    out["disabled"] = true;
  }
  for (const char* key : {"style", "data_source"}) {
    if (!str(key).empty()) out[key] = str(key);
  }
  if (auto options = a.find("options");
      options != a.end() && options->is_array() && !options->empty()) {
    J list = J::array();
    for (const auto& option : *options) {
      if (!option.is_object()) {
        list.push_back(nullptr);
        continue;
      }
      J o = J::object();
      o["text"] = StringField(option, "text");
      o["value"] = StringField(option, "value");
      list.push_back(std::move(o));
    }
    out["options"] = std::move(list);
  }
  if (!str("default_option").empty()) out["default_option"] = str("default_option");
  if (keep_integration) {
    if (auto integration = a.find("integration");
        integration != a.end() && integration->is_object()) {
      J i = J::object();
      if (!StringField(*integration, "url").empty()) i["url"] = StringField(*integration, "url");
      if (auto context = integration->find("context");
          context != integration->end() && context->is_object() && !context->empty()) {
        i["context"] = J(*context);
      }
      out["integration"] = std::move(i);
    }
  }
  if (!str("cookie").empty()) out["cookie"] = str("cookie");
  return out;
}

template <typename J>
J NormalizeAttachment(const json& a, bool keep_integration, bool generate_ids) {
  J out = J::object();
  auto id = a.find("id");
  out["id"] = id != a.end() && id->is_number_integer() ? id->get<int64_t>() : 0;
  for (const char* key : {"fallback", "color", "pretext", "author_name", "author_link",
                          "author_icon", "title", "title_link", "text"}) {
    out[key] = StringField(a, key);
  }
  auto fields = a.find("fields");
  if (fields != a.end() && fields->is_array()) {
    J list = J::array();
    for (const auto& field : *fields) {
      if (!field.is_object()) {
        list.push_back(nullptr);
        continue;
      }
      J f = J::object();
      f["title"] = StringField(field, "title");
      auto value = field.find("value");
      f["value"] = value != field.end() ? J(*value) : J(nullptr);
      auto s = field.find("short");
      f["short"] = s != field.end() && ((s->is_boolean() && s->get<bool>()) ||
                                        (s->is_string() && s->get<std::string>() == "true"));
      list.push_back(std::move(f));
    }
    out["fields"] = std::move(list);
  } else {
    out["fields"] = nullptr;
  }
  for (const char* key : {"image_url", "thumb_url", "footer", "footer_icon"}) {
    out[key] = StringField(a, key);
  }
  auto ts = a.find("ts");
  out["ts"] = ts != a.end() ? J(*ts) : J(nullptr);
  if (auto actions = a.find("actions"); actions != a.end() && actions->is_array()) {
    J list = J::array();
    for (const auto& action : *actions) {
      if (action.is_object()) {
        list.push_back(NormalizeAction<J>(action, keep_integration, generate_ids));
      }
    }
    if (!list.empty()) out["actions"] = std::move(list);
  }
  return out;
}

// props.attachments as the server re-types it; null when nothing decodes.
template <typename J>
J NormalizeAttachments(const json& attachments, bool keep_integration, bool generate_ids) {
  J list = J::array();
  if (attachments.is_array()) {
    for (const auto& a : attachments) {
      if (AttachmentDecodes(a)) {
        list.push_back(NormalizeAttachment<J>(a, keep_integration, generate_ids));
      }
    }
  }
  if (list.empty()) return J(nullptr);
  return list;
}

void NormalizeStoredProps(json* props) {
  if (auto it = props->find("attachments"); it != props->end()) {
    *it = NormalizeAttachments<json>(*it, /*keep_integration=*/true, /*generate_ids=*/true);
  }
}

bool IsAllowedPostType(const std::string& type) {
  return type.empty() || type == "slack_attachment" || StartsWith(type, "custom_");
}

// Members of the channel_user role (and system admins) hold the channel permissions the API uses
// (create_post, read_channel, edit_post, use_channel_mentions, manage_*_channel_members).
bool HasChannelRole(const SessionUser& user, const ChannelRec& channel) {
  return user.IsAdmin() || channel.members.count(user.id) > 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Response plumbing.

void Emulator::Impl::SetStandardHeaders(ApiContext& ctx) {
  httplib::Response& res = ctx.res;
  res.set_header("X-Request-Id", ctx.request_id);
  res.set_header("X-Version-Id", version_header_);
  res.set_header("Permissions-Policy", "");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  if (ctx.req.method == "GET") res.set_header("Expires", "0");
}

void Emulator::Impl::WriteJson(ApiContext& ctx, int status, const ordered_json& body) {
  ctx.res.status = status;
  ctx.res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace),
                      "application/json");
}

void Emulator::Impl::WriteError(ApiContext& ctx, const AppError& error, bool wipe_detail) {
  ordered_json body = ordered_json::object();
  body["id"] = error.id;
  body["message"] = error.message;
  body["detailed_error"] = wipe_detail ? "" : error.detailed;
  if (!ctx.request_id.empty()) body["request_id"] = ctx.request_id;
  body["status_code"] = error.status;
  WriteJson(ctx, error.status, body);
}

bool Emulator::Impl::Authenticate(ApiContext& ctx, bool require_session) {
  const httplib::Request& req = ctx.req;
  // app.ParseAuthTokenFromRequest: cookie, then "Bearer" (token from byte 7), then "Token"
  // (from byte 6), then ?access_token=.
  enum class Location { kNone, kCookie, kHeader, kQuery } location = Location::kNone;
  std::string token;
  std::string cookies = req.get_header_value("Cookie");
  for (size_t start = 0; start < cookies.size() && location == Location::kNone;) {
    size_t end = cookies.find(';', start);
    if (end == std::string::npos) end = cookies.size();
    std::string pair = cookies.substr(start, end - start);
    size_t first = pair.find_first_not_of(' ');
    if (first != std::string::npos && StartsWith(pair.substr(first), "MMAUTHTOKEN=")) {
      token = pair.substr(first + 12);
      location = Location::kCookie;
    }
    start = end + 1;
  }
  std::string auth = req.get_header_value("Authorization");
  if (location == Location::kNone) {
    if (auth.size() > 6 && AsciiLower(auth.substr(0, 6)) == "bearer") {
      token = auth.substr(7);
      location = Location::kHeader;
    } else if (auth.size() > 5 && AsciiLower(auth.substr(0, 5)) == "token") {
      token = auth.substr(6);
      location = Location::kHeader;
    } else if (!req.get_param_value("access_token").empty()) {
      token = req.get_param_value("access_token");
      location = Location::kQuery;
    }
  }

  if (!token.empty()) {
    std::optional<SessionUser> session;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto t = tokens_.find(token);
      if (t != tokens_.end() && t->second.active) {
        auto u = users_.find(t->second.user_id);
        if (u != users_.end() && u->second.active &&
            (u->second.is_bot || user_access_tokens_enabled_)) {
          session =
              SessionUser{u->second.id, u->second.username, u->second.is_bot, u->second.roles};
        }
      }
    }
    if (!session) {
      // Every token problem: 401 session_expired plus the cookie-clearing headers — but only on
      // routes that need a session; elsewhere (ping) the request goes on anonymously.
      if (require_session) {
        std::string path = options_.subpath.empty() ? "/" : options_.subpath;
        ctx.res.set_header("Set-Cookie", "MMAUTHTOKEN=; Path=" + path + "; Max-Age=0; HttpOnly");
        ctx.res.set_header("Set-Cookie", "MMUSERID=; Path=" + path + "; Max-Age=0");
        ctx.res.set_header("Set-Cookie", "MMCSRF=; Path=" + path + "; Max-Age=0");
        WriteError(ctx, SessionExpired());
        return false;
      }
    } else if (location == Location::kQuery) {
      WriteError(ctx, {401, "api.context.token_provided.app_error",
                       "Session is not OAuth but token was provided in the query string.", ""});
      return false;
    } else {
      ctx.session = std::move(session);
    }
  }
  if (require_session && !ctx.session) {
    WriteError(ctx, SessionExpired());
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Routing.

void Emulator::Impl::HandleApi(ApiContext& ctx) {
  const std::string& method = ctx.req.method;
  std::vector<std::string> s;
  if (StartsWith(ctx.path, "/api/v4/")) s = SplitPath(ctx.path.substr(8));
  const size_t n = s.size();
  // `route` runs the handler of the matched route; unmatched paths (and known paths with another
  // method: the catch-all route wins) fall through to Handle404.
  std::function<void()> route;
  bool needs_session = true;
  auto is_user = [](const std::string& v) { return IsRouteId(v); };  // includes "me"
  if (method == "GET" && n == 2 && s[0] == "system" && s[1] == "ping") {
    needs_session = false;
    route = [&] { GetPing(ctx); };
  } else if (method == "GET" && n == 2 && s[0] == "users" && is_user(s[1])) {
    route = [&] { GetUser(ctx, s[1]); };
  } else if (method == "GET" && n == 3 && s[0] == "users" && is_user(s[1]) && s[2] == "teams") {
    route = [&] { GetUserTeams(ctx, s[1]); };
  } else if (method == "GET" && n == 6 && s[0] == "teams" && s[1] == "name" && IsRouteName(s[2]) &&
             s[3] == "channels" && s[4] == "name" && IsRouteName(s[5])) {
    route = [&] { GetChannelByName(ctx, s[2], s[5]); };
  } else if (method == "GET" && n == 2 && s[0] == "channels" && IsRouteId(s[1])) {
    route = [&] { GetChannel(ctx, s[1]); };
  } else if (method == "GET" && n == 4 && s[0] == "channels" && IsRouteId(s[1]) &&
             s[2] == "members" && is_user(s[3])) {
    route = [&] { GetChannelMember(ctx, s[1], s[3]); };
  } else if (method == "POST" && n == 3 && s[0] == "channels" && IsRouteId(s[1]) &&
             s[2] == "members") {
    route = [&] { AddChannelMembers(ctx, s[1]); };
  } else if (method == "GET" && n == 3 && s[0] == "channels" && IsRouteId(s[1]) &&
             s[2] == "posts") {
    route = [&] { GetChannelPosts(ctx, s[1]); };
  } else if (method == "POST" && n == 1 && s[0] == "posts") {
    route = [&] { CreatePost(ctx); };
  } else if (method == "GET" && n == 2 && s[0] == "posts" && IsRouteId(s[1])) {
    route = [&] { GetPostById(ctx, s[1]); };
  } else if (method == "PUT" && n == 3 && s[0] == "posts" && IsRouteId(s[1]) && s[2] == "patch") {
    route = [&] { PatchPost(ctx, s[1]); };
  }

  if (!route) {
    // web.Handle404 is a plain handler, outside ServeHTTP: no X-Request-Id/X-Version-Id, no
    // request_id, and it keeps its detailed_error.
    ctx.request_id.clear();
    WriteError(ctx,
               {404, "api.context.404.app_error", "Sorry, we could not find the page.",
                "There doesn't appear to be an api call for the url='" + ctx.req.path +
                    "'.  Typo? are you missing a team_id or user_id as part of the url?"},
               /*wipe_detail=*/false);
    return;
  }
  SetStandardHeaders(ctx);
  ctx.compressible = true;
  if (!Authenticate(ctx, needs_session)) return;
  route();
}

// ---------------------------------------------------------------------------------------------
// World helpers (mu_ held).

bool Emulator::Impl::IsTeamMember(const std::string& team_id, const std::string& user_id) const {
  auto team = teams_.find(team_id);
  return team != teams_.end() && team->second.members.count(user_id) > 0;
}

bool Emulator::Impl::IsChannelMember(const ChannelRec& channel, const std::string& user_id) const {
  return channel.members.count(user_id) > 0;
}

bool Emulator::Impl::CanReadChannelContent(const SessionUser& user,
                                           const ChannelRec& channel) const {
  if (HasChannelRole(user, channel)) return true;
  return channel.type == 'O' && IsTeamMember(channel.team_id, user.id);
}

ordered_json Emulator::Impl::UserJson(const UserRec& user, bool self) const {
  ordered_json out = ordered_json::object();
  out["id"] = user.id;
  out["create_at"] = user.create_at;
  out["update_at"] = user.update_at;
  out["delete_at"] = user.delete_at;
  out["username"] = user.username;
  out["auth_data"] = "";
  out["auth_service"] = "";
  out["email"] = user.is_bot ? user.username + "@localhost" : user.username + "@example.com";
  if (!user.is_bot) out["email_verified"] = true;
  out["nickname"] = "";
  out["first_name"] = "";
  out["last_name"] = "";
  out["position"] = "";
  out["roles"] = JoinRoles(user.roles);
  if (self) {
    // Go map: keys sorted.
    out["notify_props"] = ordered_json(json{
        {"auto_responder_active", "false"},
        {"auto_responder_message", "Hello, I am out of office and unable to respond to messages."},
        {"channel", "true"},
        {"comments", "never"},
        {"desktop", "mention"},
        {"desktop_notification_sound", "Bing"},
        {"desktop_sound", "true"},
        {"desktop_threads", "all"},
        {"email", "true"},
        {"email_threads", "all"},
        {"first_name", "false"},
        {"mention_keys", ""},
        {"push", "mention"},
        {"push_status", "away"},
        {"push_threads", "all"}});
    out["last_password_update"] = user.create_at;
  }
  out["locale"] = "en";
  out["timezone"] = ordered_json(
      json{{"automaticTimezone", ""}, {"manualTimezone", ""}, {"useAutomaticTimezone", "true"}});
  if (user.is_bot) {
    out["is_bot"] = true;
    out["bot_description"] = "Bot account (mm-emulator)";
  }
  out["disable_welcome_email"] = false;
  return out;
}

ordered_json Emulator::Impl::TeamJson(const TeamRec& team) const {
  ordered_json out = ordered_json::object();
  out["id"] = team.id;
  out["create_at"] = team.create_at;
  out["update_at"] = team.create_at;
  out["delete_at"] = 0;
  out["display_name"] = team.display_name;
  out["name"] = team.name;
  out["description"] = "";
  out["email"] = "";
  out["type"] = "O";
  out["company_name"] = "";
  out["allowed_domains"] = "";
  out["invite_id"] = team.invite_id;
  out["allow_open_invite"] = false;
  out["scheme_id"] = nullptr;
  out["group_constrained"] = nullptr;
  out["policy_id"] = nullptr;
  out["cloud_limits_archived"] = false;
  return out;
}

ordered_json Emulator::Impl::ChannelJson(const ChannelRec& channel) const {
  ordered_json out = ordered_json::object();
  out["id"] = channel.id;
  out["create_at"] = channel.create_at;
  out["update_at"] = channel.update_at;
  out["delete_at"] = channel.delete_at;
  out["team_id"] = channel.team_id;
  out["type"] = std::string(1, channel.type);
  out["display_name"] = channel.display_name;
  out["name"] = channel.name;
  out["header"] = "";
  out["purpose"] = "";
  out["last_post_at"] = channel.last_post_at;
  out["total_msg_count"] = channel.total_msg_count;
  out["extra_update_at"] = 0;
  out["creator_id"] = channel.creator_id;
  out["scheme_id"] = nullptr;
  out["props"] = nullptr;
  out["group_constrained"] = nullptr;
  out["shared"] = nullptr;
  out["total_msg_count_root"] = channel.total_msg_count_root;
  out["policy_id"] = nullptr;
  out["last_root_post_at"] = channel.last_root_post_at;
  return out;
}

ordered_json Emulator::Impl::MemberJson(const ChannelRec& channel,
                                        const std::string& user_id) const {
  const MemberRec& member = channel.members.at(user_id);
  ordered_json out = ordered_json::object();
  out["channel_id"] = channel.id;
  out["user_id"] = user_id;
  out["roles"] = "channel_user";
  out["last_viewed_at"] = member.last_viewed_at;
  out["msg_count"] = 0;
  out["mention_count"] = 0;
  out["mention_count_root"] = 0;
  out["urgent_mention_count"] = 0;
  out["msg_count_root"] = 0;
  out["notify_props"] = ordered_json(json{{"desktop", "default"},
                                          {"email", "default"},
                                          {"ignore_channel_mentions", "default"},
                                          {"mark_unread", "all"},
                                          {"push", "default"}});
  out["last_update_at"] = member.last_update_at;
  out["scheme_guest"] = false;
  out["scheme_user"] = true;
  out["scheme_admin"] = false;
  out["explicit_roles"] = "";
  return out;
}

ordered_json Emulator::Impl::PostJson(const StoredPost& stored) const {
  const Post& p = stored.post;
  ordered_json out = ordered_json::object();
  out["id"] = p.id;
  out["create_at"] = p.create_at;
  out["update_at"] = p.update_at;
  out["edit_at"] = p.edit_at;
  out["delete_at"] = 0;
  out["is_pinned"] = stored.is_pinned;
  out["user_id"] = p.user_id;
  out["channel_id"] = p.channel_id;
  out["root_id"] = p.root_id;
  out["original_id"] = "";
  out["message"] = p.message;
  out["type"] = p.type;
  ordered_json props = ordered_json::object();  // Go map: sorted keys
  if (p.props.is_object()) {
    for (auto it = p.props.begin(); it != p.props.end(); ++it) {
      if (it.key() == "attachments") {
        props["attachments"] = NormalizeAttachments<ordered_json>(
            it.value(), /*keep_integration=*/false, /*generate_ids=*/false);
      } else {
        props[it.key()] = ordered_json(it.value());
      }
    }
  }
  out["props"] = std::move(props);
  out["hashtags"] = "";
  out["pending_post_id"] = p.pending_post_id;
  const std::string& thread_id = p.root_id.empty() ? p.id : p.root_id;
  auto thread = threads_.find(thread_id);
  out["reply_count"] = thread == threads_.end() ? 0 : thread->second.reply_count;
  out["last_reply_at"] = thread == threads_.end() ? 0 : thread->second.last_reply_at;
  out["participants"] = nullptr;
  out["metadata"] = ordered_json(stored.metadata);
  return out;
}

std::vector<std::string> Emulator::Impl::ComputeMentions(const Post& post,
                                                         const ChannelRec& channel) const {
  MentionScanner scanner([&](const std::string& word) {
    if (word.size() < 2 || word[0] != '@') return false;
    auto user = user_by_name_.find(word.substr(1));
    if (user == user_by_name_.end() || channel.members.count(user->second) == 0) return false;
    return users_.at(user->second).active;
  });
  for (const std::string& field : MentionFields(post.message, post.props)) {
    scanner.ScanMarkdown(field);
  }
  // Channel-wide mentions need use_channel_mentions (channel_user role or admin) and a channel
  // under MaxNotificationsPerChannel members.
  bool author_may_mention_channel = false;
  if (auto author = users_.find(post.user_id); author != users_.end()) {
    author_may_mention_channel =
        author->second.roles.count("system_admin") > 0 || channel.members.count(post.user_id) > 0;
  }
  bool channel_mentions =
      author_may_mention_channel && channel.members.size() < kMaxNotificationsPerChannel &&
      post.type != "system_header_change" && post.type != "system_purpose_change";
  bool from_webhook = post.props.is_object() && post.props.value("from_webhook", json()) == "true";
  std::vector<std::string> out;
  for (const std::string& hit : scanner.hits()) {
    if (hit == "@channel" || hit == "@all" || hit == "@here") {
      if (channel_mentions) out.push_back(hit);
      continue;
    }
    auto user = user_by_name_.find(hit.substr(1));
    if (user == user_by_name_.end()) continue;
    if (user->second == post.user_id && !from_webhook) continue;  // no self-notification
    out.push_back(hit);
  }
  return out;
}

StoredPost& Emulator::Impl::CommitPost(StoredPost post) {
  Post& p = post.post;
  p.id = NewId();
  if (p.create_at == 0) p.create_at = NowMs();
  p.update_at = p.create_at;
  ChannelRec& channel = channels_.at(p.channel_id);
  channel.last_post_at = std::max(channel.last_post_at, p.create_at);
  ++channel.total_msg_count;
  if (p.root_id.empty()) {
    ++channel.total_msg_count_root;
    channel.last_root_post_at = std::max(channel.last_root_post_at, p.create_at);
  } else {
    ThreadRec& thread = threads_[p.root_id];
    ++thread.reply_count;
    thread.last_reply_at = std::max(thread.last_reply_at, p.create_at);
  }
  channel.post_ids.push_back(p.id);
  post_order_.push_back(p.id);
  std::string id = p.id;
  auto [it, inserted] = posts_.emplace(id, std::move(post));
  posts_cv_.notify_all();
  return it->second;
}

void Emulator::Impl::AddSystemPost(ChannelRec& channel, const UserRec& author,
                                   const std::string& type, const std::string& message,
                                   json props) {
  StoredPost post;
  post.post.channel_id = channel.id;
  post.post.user_id = author.id;
  post.post.type = type;
  post.post.message = message;
  if (author.is_bot) props["from_bot"] = "true";
  post.post.props = std::move(props);
  CommitPost(std::move(post));
}

// ---------------------------------------------------------------------------------------------
// Endpoints.

void Emulator::Impl::GetPing(ApiContext& ctx) {
  json body = {{"ActiveSearchBackend", "database"},
               {"AndroidLatestVersion", ""},
               {"AndroidMinVersion", ""},
               {"IosLatestVersion", ""},
               {"IosMinVersion", ""},
               {"status", "OK"}};
  if (ctx.req.get_param_value("get_server_status") == "true") {
    body["database_status"] = "OK";
    body["filestore_status"] = "OK";
    ctx.res.set_header("status", "OK");
    ctx.res.set_header("database_status", "OK");
    ctx.res.set_header("filestore_status", "OK");
  }
  WriteJson(ctx, 200, ordered_json(body));
}

void Emulator::Impl::GetUser(ApiContext& ctx, const std::string& user_id) {
  const SessionUser& me = *ctx.session;
  std::string id = user_id == "me" ? me.id : user_id;
  if (!IsValidId(id)) return WriteError(ctx, InvalidUrlParam("user_id"));
  std::unique_lock<std::mutex> lock(mu_);
  auto user = users_.find(id);
  if (user == users_.end()) {
    lock.unlock();
    return WriteError(ctx, UserMissing());
  }
  ordered_json body = UserJson(user->second, id == me.id);
  lock.unlock();
  WriteJson(ctx, 200, body);
}

void Emulator::Impl::GetUserTeams(ApiContext& ctx, const std::string& user_id) {
  const SessionUser& me = *ctx.session;
  std::string id = user_id == "me" ? me.id : user_id;
  if (!IsValidId(id)) return WriteError(ctx, InvalidUrlParam("user_id"));
  if (id != me.id && !me.IsAdmin()) return WriteError(ctx, Permissions());
  std::unique_lock<std::mutex> lock(mu_);
  std::vector<const TeamRec*> teams;
  for (const auto& [team_id, team] : teams_) {
    if (team.members.count(id) > 0) teams.push_back(&team);
  }
  std::sort(teams.begin(), teams.end(),
            [](const TeamRec* a, const TeamRec* b) { return a->create_at < b->create_at; });
  ordered_json body = ordered_json::array();
  for (const TeamRec* team : teams) body.push_back(TeamJson(*team));
  lock.unlock();
  WriteJson(ctx, 200, body);
}

void Emulator::Impl::GetChannelByName(ApiContext& ctx, const std::string& team_name,
                                      const std::string& channel_name) {
  if (!IsValidTeamName(team_name)) return WriteError(ctx, InvalidUrlParam("team_name"));
  if (!IsValidChannelName(channel_name)) return WriteError(ctx, InvalidUrlParam("channel_name"));
  bool include_deleted = ctx.req.get_param_value("include_deleted") == "true";
  const SessionUser& me = *ctx.session;
  std::unique_lock<std::mutex> lock(mu_);
  // Lookup first (team membership is not needed for it), permission second.
  auto team_id = team_by_name_.find(team_name);
  if (team_id == team_by_name_.end()) {
    lock.unlock();
    return WriteError(ctx, {404, "app.team.get_by_name.missing.app_error",
                            "Unable to find the existing team.", ""});
  }
  const TeamRec& team = teams_.at(team_id->second);
  auto channel_id = team.channels_by_name.find(channel_name);
  const ChannelRec* channel =
      channel_id == team.channels_by_name.end() ? nullptr : &channels_.at(channel_id->second);
  if (channel == nullptr || (channel->delete_at != 0 && !include_deleted)) {
    lock.unlock();
    return WriteError(ctx, ChannelByNameMissing());
  }
  if (channel->type == 'O') {
    if (!HasChannelRole(me, *channel) && !IsTeamMember(channel->team_id, me.id)) {
      lock.unlock();
      return WriteError(ctx, Permissions());
    }
  } else if (!HasChannelRole(me, *channel)) {
    lock.unlock();
    return WriteError(ctx, ChannelByNameMissing());  // a private channel's existence is hidden
  }
  ordered_json body = ChannelJson(*channel);
  lock.unlock();
  WriteJson(ctx, 200, body);
}

void Emulator::Impl::GetChannel(ApiContext& ctx, const std::string& channel_id) {
  if (!IsValidId(channel_id)) return WriteError(ctx, InvalidUrlParam("channel_id"));
  const SessionUser& me = *ctx.session;
  std::unique_lock<std::mutex> lock(mu_);
  auto channel = channels_.find(channel_id);
  if (channel == channels_.end()) {
    lock.unlock();
    return WriteError(ctx, ChannelMissing());  // existence leaks here, unlike by name
  }
  const ChannelRec& c = channel->second;
  bool allowed = HasChannelRole(me, c) || (c.type == 'O' && IsTeamMember(c.team_id, me.id));
  if (!allowed) {
    lock.unlock();
    return WriteError(ctx, Permissions());
  }
  ordered_json body = ChannelJson(c);
  lock.unlock();
  WriteJson(ctx, 200, body);
}

void Emulator::Impl::GetChannelMember(ApiContext& ctx, const std::string& channel_id,
                                      const std::string& user_id) {
  if (!IsValidId(channel_id)) return WriteError(ctx, InvalidUrlParam("channel_id"));
  const SessionUser& me = *ctx.session;
  std::string id = user_id == "me" ? me.id : user_id;
  if (!IsValidId(id)) return WriteError(ctx, InvalidUrlParam("user_id"));
  std::unique_lock<std::mutex> lock(mu_);
  // The caller's read_channel comes first: non-members (and unknown channels) get 403, not 404.
  auto channel = channels_.find(channel_id);
  if (channel == channels_.end() || !HasChannelRole(me, channel->second)) {
    lock.unlock();
    return WriteError(ctx, Permissions());
  }
  if (channel->second.members.count(id) == 0) {
    lock.unlock();
    return WriteError(ctx, {404, "app.channel.get_member.missing.app_error",
                            "No channel member found for that user ID and channel ID.", ""});
  }
  ordered_json body = MemberJson(channel->second, id);
  lock.unlock();
  WriteJson(ctx, 200, body);
}

void Emulator::Impl::AddChannelMembers(ApiContext& ctx, const std::string& channel_id) {
  if (!IsValidId(channel_id)) return WriteError(ctx, InvalidUrlParam("channel_id"));
  // model.StringInterfaceFromJSON: a body that does not decode is an empty map.
  json body;
  if (!DecodeBody(ctx.req.body, &body) || !body.is_object()) body = json::object();
  std::vector<std::string> targets;
  bool single = false;
  if (auto it = body.find("user_id"); it != body.end() && it->is_string()) {
    if (!IsValidId(it->get<std::string>())) {
      return WriteError(ctx, InvalidBodyParam("user_id or user_ids"));
    }
    targets.push_back(it->get<std::string>());
    single = true;
  } else if (auto ids = body.find("user_ids"); ids != body.end() && ids->is_array()) {
    for (const auto& id : *ids) {
      if (!id.is_string() || !IsValidId(id.get<std::string>())) {
        return WriteError(ctx, InvalidBodyParam("user_id or user_ids"));
      }
      targets.push_back(id.get<std::string>());
    }
  }
  if (targets.empty()) return WriteError(ctx, InvalidBodyParam("user_id or user_ids"));

  const SessionUser& me = *ctx.session;
  std::unique_lock<std::mutex> lock(mu_);
  auto fail = [&](const AppError& error) {
    lock.unlock();
    WriteError(ctx, error);
  };
  auto channel_it = channels_.find(channel_id);
  if (channel_it == channels_.end()) return fail(ChannelMissing());
  ChannelRec& channel = channel_it->second;
  ordered_json members = ordered_json::array();
  for (const std::string& target : targets) {
    bool is_new = channel.members.count(target) == 0;
    bool self = target == me.id;
    if (channel.type == 'O') {
      if (self && is_new && !me.IsAdmin() && !IsTeamMember(channel.team_id, me.id)) {
        return fail(Permissions());  // join_public_channels comes with team membership
      }
      if (!self && !HasChannelRole(me, channel)) return fail(Permissions());
    } else {
      // manage_private_channel_members: only members (and admins) may add, themselves included.
      if (self && is_new && !me.IsAdmin()) return fail(Permissions());
      if (!self && !HasChannelRole(me, channel)) return fail(Permissions());
    }
    if (is_new) {
      auto user = users_.find(target);
      if (user == users_.end()) return fail(UserMissing());
      if (channel.delete_at != 0) {
        return fail({400, "api.channel.add_user_to_channel.deleted.app_error",
                     "The channel has been archived or deleted.", ""});
      }
      if (!IsTeamMember(channel.team_id, target)) {
        return fail({404, "app.team.get_member.missing.app_error",
                     "No team member found for that user ID and team ID.", ""});
      }
      if (!user->second.active) {
        return fail({403, "app.channel.add_member.deleted_user.app_error",
                     "Unable to add the user as a member of the channel.", ""});
      }
      int64_t now = NowMs();
      channel.members.emplace(target, MemberRec{now, now});
      if (self) {
        AddSystemPost(channel, user->second, "system_join_channel",
                      user->second.username + " joined the channel.",
                      json{{"username", user->second.username}});
      } else {
        const UserRec& adder = users_.at(me.id);
        AddSystemPost(channel, adder, "system_add_to_channel",
                      user->second.username + " added to the channel by " + adder.username + ".",
                      json{{"addedUserId", target},
                           {"addedUsername", user->second.username},
                           {"userId", adder.id},
                           {"username", adder.username}});
      }
    }
    members.push_back(MemberJson(channel, target));
  }
  lock.unlock();
  WriteJson(ctx, 201, single ? members[0] : members);
}

void Emulator::Impl::GetChannelPosts(ApiContext& ctx, const std::string& channel_id) {
  if (!IsValidId(channel_id)) return WriteError(ctx, InvalidUrlParam("channel_id"));
  int64_t since = 0;
  if (std::string s = ctx.req.get_param_value("since"); !s.empty()) {
    try {
      size_t used = 0;
      since = std::stoll(s, &used);
      if (used != s.size()) throw std::invalid_argument(s);
    } catch (const std::exception&) {
      return WriteError(ctx, InvalidParam("since"));
    }
  }
  auto int_param = [&](const char* name, int fallback) {
    try {
      std::string v = ctx.req.get_param_value(name);
      if (v.empty()) return fallback;
      int value = std::stoi(v);
      return value < 0 ? fallback : value;
    } catch (const std::exception&) {
      return fallback;
    }
  };
  int page = int_param("page", 0);
  int per_page = std::min(int_param("per_page", kPerPageDefault), kPerPageMaximum);

  const SessionUser& me = *ctx.session;
  std::unique_lock<std::mutex> lock(mu_);
  auto channel = channels_.find(channel_id);
  if (channel == channels_.end()) {
    lock.unlock();
    return WriteError(ctx, ChannelMissing());
  }
  if (!CanReadChannelContent(me, channel->second)) {
    lock.unlock();
    return WriteError(ctx, Permissions());
  }
  const std::vector<std::string>& ids = channel->second.post_ids;  // oldest first
  std::vector<const StoredPost*> list;
  std::string next_post_id, prev_post_id;
  if (since > 0) {
    for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
      const StoredPost& post = posts_.at(*it);
      if (post.post.update_at > since) list.push_back(&post);
    }
  } else {
    size_t offset = static_cast<size_t>(page) * static_cast<size_t>(per_page);
    size_t total = ids.size();
    for (size_t i = offset; i < total && list.size() < static_cast<size_t>(per_page); ++i) {
      list.push_back(&posts_.at(ids[total - 1 - i]));
    }
    if (!list.empty()) {
      if (offset > 0) next_post_id = ids[total - offset];  // newer neighbour
      size_t older = offset + list.size();
      if (older < total) prev_post_id = ids[total - 1 - older];  // older neighbour
    }
  }
  ordered_json order = ordered_json::array();
  std::vector<std::pair<std::string, const StoredPost*>> by_id;
  for (const StoredPost* post : list) {
    order.push_back(post->post.id);
    by_id.emplace_back(post->post.id, post);
  }
  std::sort(by_id.begin(), by_id.end());  // Go map: sorted keys
  ordered_json posts = ordered_json::object();
  for (const auto& [id, post] : by_id) posts[id] = PostJson(*post);
  lock.unlock();
  ordered_json body = ordered_json::object();
  body["order"] = std::move(order);
  body["posts"] = std::move(posts);
  body["next_post_id"] = next_post_id;
  body["prev_post_id"] = prev_post_id;
  body["first_inaccessible_post_time"] = 0;
  WriteJson(ctx, 200, body);
}

void Emulator::Impl::GetPostById(ApiContext& ctx, const std::string& post_id) {
  if (!IsValidId(post_id)) return WriteError(ctx, InvalidUrlParam("post_id"));
  const SessionUser& me = *ctx.session;
  std::unique_lock<std::mutex> lock(mu_);
  auto post = posts_.find(post_id);
  if (post == posts_.end()) {
    lock.unlock();
    return WriteError(ctx, {404, "app.post.get.app_error", "Unable to get the post.", ""});
  }
  if (!CanReadChannelContent(me, channels_.at(post->second.post.channel_id))) {
    lock.unlock();
    return WriteError(ctx, Permissions());
  }
  ordered_json body = PostJson(post->second);
  lock.unlock();
  WriteJson(ctx, 200, body);
}

void Emulator::Impl::CreatePost(ApiContext& ctx) {
  if (ctx.req.body.size() > kMaxPayloadBytes) return WriteError(ctx, BodyTooLarge());
  json in;
  if (!DecodeBody(ctx.req.body, &in)) return WriteError(ctx, InvalidBodyParam("post"));
  if (in.is_null()) in = json::object();
  bool typed = in.is_object();
  for (const char* key : {"id", "channel_id", "message", "root_id", "pending_post_id", "type",
                          "user_id", "original_id", "hashtags"}) {
    typed = typed && IsStringOrAbsent(in, key);
  }
  if (typed) {
    if (auto props = in.find("props"); props != in.end() && !props->is_null()) {
      typed = props->is_object();
    }
    if (auto ids = in.find("file_ids"); ids != in.end() && !ids->is_null()) {
      typed = ids->is_array() &&
              std::all_of(ids->begin(), ids->end(), [](const json& v) { return v.is_string(); });
    }
    if (auto metadata = in.find("metadata"); metadata != in.end() && !metadata->is_null()) {
      typed = metadata->is_object();
    }
    if (auto create_at = in.find("create_at"); create_at != in.end() && !create_at->is_null()) {
      typed = typed && create_at->is_number_integer();
    }
  }
  if (!typed) return WriteError(ctx, InvalidBodyParam("post"));

  const SessionUser& me = *ctx.session;
  StoredPost draft;
  Post& post = draft.post;
  post.channel_id = StringField(in, "channel_id");
  post.message = StringField(in, "message");
  post.root_id = StringField(in, "root_id");
  post.pending_post_id = StringField(in, "pending_post_id");
  post.type = StringField(in, "type");
  post.user_id = me.id;  // always the session user
  post.props = in.contains("props") && in["props"].is_object() ? in["props"] : json::object();
  std::vector<std::string> file_ids;
  if (in.contains("file_ids") && in["file_ids"].is_array()) {
    file_ids = in["file_ids"].get<std::vector<std::string>>();
  }
  json priority;
  if (in.contains("metadata") && in["metadata"].is_object()) {
    priority = in["metadata"].value("priority", json());
  }
  const std::string pending_id = post.pending_post_id;  // `post` is moved from on commit

  std::unique_lock<std::mutex> lock(mu_);
  auto fail = [&](const AppError& error) {
    lock.unlock();
    WriteError(ctx, error);
  };
  // §3.8: create_post via channel membership or system_post_all/admin; create_post_public via
  // system_post_all_public on open channels. Unknown and malformed channel ids fail here (403).
  auto channel_it = post.channel_id.empty() ? channels_.end() : channels_.find(post.channel_id);
  ChannelRec* channel = channel_it == channels_.end() ? nullptr : &channel_it->second;
  bool allowed = false;
  if (!post.channel_id.empty()) {
    allowed = (channel != nullptr && IsChannelMember(*channel, me.id)) || me.IsAdmin() ||
              me.Has("system_post_all");
  }
  if (!allowed && channel != nullptr && channel->type == 'O' && me.Has("system_post_all_public")) {
    allowed = true;
  }
  if (!allowed) return fail(Permissions());
  if (!priority.is_null()) {
    if (!post.root_id.empty()) {
      return fail({400,
                   "api.post.post_priority.priority_post_only_allowed_for_root_post.request_error",
                   "Only root posts are allowed to have a priority.", ""});
    }
    auto flag = [&](const char* key) {
      return priority.is_object() && priority.value(key, json()) == json(true);
    };
    if (flag("requested_ack") || flag("persistent_notifications")) {
      return fail({501, "license_error.feature_unavailable",
                   "Feature unavailable for current license.", ""});
    }
  }
  if (channel == nullptr) return fail(InvalidParam("post.channel_id"));
  if (channel->delete_at != 0) {
    return fail({400, "api.post.create_post.can_not_post_to_deleted.error",
                 "Can not post to deleted channel.", ""});
  }
  if (StartsWith(post.type, "system_")) return fail(InvalidParam("post.type"));

  // §4.6 pending_post_id: in flight -> 500; done -> the same post, 201; failure frees the key.
  if (!pending_id.empty()) {
    int64_t now = SteadyMs();
    auto seen = pending_.find(pending_id);
    if (seen != pending_.end() && seen->second.expires_ms > now) {
      if (seen->second.post_id.empty()) {
        return fail({500, "api.post.deduplicate_create_post.pending",
                     "Rejected post since another client is making the same request.", ""});
      }
      auto original = posts_.find(seen->second.post_id);
      if (original != posts_.end()) {
        // v11 ignores a cached post the caller may not read; v9.11 hands it back regardless.
        bool may_read = major_version_ < 11 ||
                        CanReadChannelContent(me, channels_.at(original->second.post.channel_id));
        if (may_read) {
          ordered_json body = PostJson(original->second);
          lock.unlock();
          return WriteJson(ctx, 201, body);
        }
      }
    }
    RememberPending(pending_id, "", now);  // in flight
  }
  auto reject = [&](const AppError& error) {
    if (!pending_id.empty()) pending_.erase(pending_id);
    fail(error);
  };

  if (!post.root_id.empty()) {  // §4.4
    auto root = posts_.find(post.root_id);
    if (root == posts_.end()) return reject(RootIdInvalid());
    if (root->second.post.channel_id != post.channel_id) {
      return reject({400, "api.post.create_post.channel_root_id.app_error",
                     "Invalid ChannelId for RootId parameter.", ""});
    }
    if (!root->second.post.root_id.empty()) return reject(RootIdInvalid());
  }

  if (me.is_bot) post.props["from_bot"] = "true";
  if (post.type.empty() && !HasChannelRole(me, *channel) &&
      HasChannelMentionPattern(post.message)) {
    post.props["mention_highlight_disabled"] = true;
  }
  NormalizeStoredProps(&post.props);
  if (me.IsAdmin() && in.contains("create_at") && in["create_at"].is_number_integer()) {
    post.create_at = in["create_at"].get<int64_t>();  // only manage_system may set it
  }

  // Post.IsValid (§4.3): rejected, never truncated.
  if (RuneCount(post.message) > static_cast<size_t>(options_.max_post_runes)) {
    if (options_.legacy_length_error) {
      return reject({400, "model.post.is_valid.msg.app_error", "Invalid message.", ""});
    }
    return reject({400, "model.post.is_valid.message_length.app_error",
                   "Post Message property is longer than the maximum permitted length.", ""});
  }
  if (!IsAllowedPostType(post.type)) {
    return reject({400, "model.post.is_valid.type.app_error", "Invalid type.", ""});
  }
  if (RuneCount(json(file_ids).dump()) > kFileIdsMaxRunes) {
    return reject({400, "model.post.is_valid.file_ids.app_error",
                   "Invalid file ids. Note that uploads are limited to 10 files maximum. Please "
                   "use additional posts for more files.",
                   ""});
  }
  if (RuneCount(post.props.dump(-1, ' ', false, json::error_handler_t::replace)) > kPropsMaxRunes) {
    return reject({400, "model.post.is_valid.props.app_error", "Invalid props.", ""});
  }
  // file_ids name no uploaded files here, so the server's attach step drops them all.
  if (priority.is_object()) draft.metadata["priority"] = priority;

  // The commit window: a slow database (kDelay) or a stuck one (kHang) sits here, while the
  // pending_post_id is marked in flight.
  if (ctx.fault.kind == FaultKind::kDelay || ctx.fault.kind == FaultKind::kHang) {
    lock.unlock();
    bool go_on = SufferFault(ctx.fault, ctx.fault_release);
    ctx.fault_suffered = true;
    lock.lock();
    if (!go_on) {
      if (!pending_id.empty()) pending_.erase(pending_id);
      ctx.drop = true;
      return;
    }
  }
  post.notified_mentions = ComputeMentions(post, channels_.at(post.channel_id));
  StoredPost& saved = CommitPost(std::move(draft));
  if (!pending_id.empty()) RememberPending(pending_id, saved.post.id, SteadyMs());
  ordered_json body = PostJson(saved);
  lock.unlock();
  WriteJson(ctx, 201, body);
}

void Emulator::Impl::PatchPost(ApiContext& ctx, const std::string& post_id) {
  if (!IsValidId(post_id)) return WriteError(ctx, InvalidUrlParam("post_id"));
  if (ctx.req.body.size() > kMaxPayloadBytes) return WriteError(ctx, BodyTooLarge());
  json in;
  if (!DecodeBody(ctx.req.body, &in)) return WriteError(ctx, InvalidBodyParam("post"));
  if (in.is_null()) in = json::object();
  bool typed = in.is_object() && IsStringOrAbsent(in, "message");
  if (typed) {
    if (auto props = in.find("props"); props != in.end() && !props->is_null()) {
      typed = props->is_object();
    }
    for (const char* key : {"is_pinned", "has_reactions"}) {
      if (auto v = in.find(key); v != in.end() && !v->is_null()) typed = typed && v->is_boolean();
    }
  }
  if (!typed) return WriteError(ctx, InvalidBodyParam("post"));

  const SessionUser& me = *ctx.session;
  std::unique_lock<std::mutex> lock(mu_);
  auto fail = [&](const AppError& error) {
    lock.unlock();
    WriteError(ctx, error);
  };
  auto it = posts_.find(post_id);
  if (it == posts_.end()) return fail(Permissions());  // existence hidden behind edit_post
  StoredPost& stored = it->second;
  ChannelRec& channel = channels_.at(stored.post.channel_id);
  bool own = stored.post.user_id == me.id;
  // edit_post comes with channel_user; edit_others_posts only with admin roles.
  if (own ? !HasChannelRole(me, channel) : !me.IsAdmin()) return fail(Permissions());
  if (channel.delete_at != 0) {
    return fail({400, "api.post.patch_post.can_not_update_post_in_deleted.error",
                 "Can not update a post in a deleted channel.", ""});
  }
  Post updated = stored.post;
  if (auto message = in.find("message"); message != in.end() && message->is_string()) {
    updated.message = message->get<std::string>();
  }
  if (auto props = in.find("props"); props != in.end() && props->is_object()) {
    updated.props = *props;  // replaces the whole map
    NormalizeStoredProps(&updated.props);
  }
  if (RuneCount(updated.message) > static_cast<size_t>(options_.max_post_runes)) {
    if (options_.legacy_length_error) {
      return fail({400, "model.post.is_valid.msg.app_error", "Invalid message.", ""});
    }
    return fail({400, "model.post.is_valid.message_length.app_error",
                 "Post Message property is longer than the maximum permitted length.", ""});
  }
  if (RuneCount(updated.props.dump(-1, ' ', false, json::error_handler_t::replace)) >
      kPropsMaxRunes) {
    return fail({400, "model.post.is_valid.props.app_error", "Invalid props.", ""});
  }
  int64_t now = std::max(NowMs(), stored.post.update_at);
  json old_attachments =
      stored.post.props.is_object() ? stored.post.props.value("attachments", json()) : json();
  json new_attachments =
      updated.props.is_object() ? updated.props.value("attachments", json()) : json();
  if (updated.message != stored.post.message || old_attachments != new_attachments) {
    updated.edit_at = now;
  }
  updated.update_at = now;
  if (auto pinned = in.find("is_pinned"); pinned != in.end() && pinned->is_boolean()) {
    stored.is_pinned = pinned->get<bool>();
  }
  updated.notified_mentions = ComputeMentions(updated, channel);
  stored.post = std::move(updated);
  ordered_json body = PostJson(stored);
  lock.unlock();
  WriteJson(ctx, 200, body);
}

}  // namespace mmemu
