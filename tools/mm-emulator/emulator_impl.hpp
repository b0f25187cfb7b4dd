// Internal: the state and request handling behind mmemu::Emulator. emulator.cpp holds the server
// lifecycle, world building, faults, rate limiting and the /_emulator/ control API; api.cpp the
// Mattermost endpoints. One mutex (mu_) guards the whole world; faults, the rate limiter and the
// request log have their own small locks so they never wait on the world.
#pragma once

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "emulator.hpp"
#include "rate_limiter.hpp"

namespace mmemu {

using ordered_json = nlohmann::ordered_json;

struct AppError {
  int status = 0;
  std::string id;
  std::string message;
  std::string detailed;  // wiped on the wire (EnableDeveloper=false), kept only by the 404 handler
};

struct UserRec {
  std::string id, username;
  bool is_bot = false;
  bool active = true;
  std::set<std::string> roles = {"system_user"};
  int64_t create_at = 0, update_at = 0, delete_at = 0;
};

struct TeamRec {
  std::string id, name, display_name, invite_id;
  int64_t create_at = 0;
  std::unordered_set<std::string> members;
  std::unordered_map<std::string, std::string> channels_by_name;
};

struct MemberRec {
  int64_t last_viewed_at = 0, last_update_at = 0;
};

struct ChannelRec {
  std::string id, team_id, name, display_name, creator_id;
  char type = 'O';
  int64_t create_at = 0, update_at = 0, delete_at = 0;
  int64_t last_post_at = 0, last_root_post_at = 0;
  int64_t total_msg_count = 0, total_msg_count_root = 0;
  std::unordered_map<std::string, MemberRec> members;
  std::vector<std::string> post_ids;  // creation order
};

struct TokenRec {
  std::string id, token, user_id;
  bool active = true;
};

struct StoredPost {
  Post post;
  bool is_pinned = false;
  nlohmann::json metadata = nlohmann::json::object();
};

struct ThreadRec {
  int64_t reply_count = 0, last_reply_at = 0;
};

struct PendingRec {
  std::string post_id;     // "" while the first create is in flight
  int64_t expires_ms = 0;  // steady clock
  uint64_t seq = 0;        // matches its entry in pending_fifo_
};

// The caller, resolved from the token under the world lock.
struct SessionUser {
  std::string id, username;
  bool is_bot = false;
  std::set<std::string> roles;
  bool Has(const std::string& role) const { return roles.count(role) > 0; }
  bool IsAdmin() const { return Has("system_admin"); }
};

struct ApiContext {
  const httplib::Request& req;
  httplib::Response& res;
  std::string request_id;
  std::string path;                   // without the subpath
  std::vector<std::string> segments;  // path segments after /api/v4/
  std::optional<SessionUser> session;
  Fault fault;                  // the fault this request drew (kind kNone if none)
  uint64_t fault_release = 0;   // SetFault generation when the fault was drawn
  bool drop = false;            // close the connection instead of answering
  bool compressible = false;    // a real API handler answered (gzip allowed)
  bool fault_suffered = false;  // a kDelay/kHang fault has already been waited out
};

class Emulator::Impl {
 public:
  explicit Impl(Options options);
  ~Impl();

  bool Start();
  void Stop();

  // --- HTTP (emulator.cpp) ---
  void Handle(const httplib::Request& req, httplib::Response& res);
  void HandleControl(const httplib::Request& req, httplib::Response& res, const std::string& path);
  // Draws the fault for `path` (consuming one count).
  Fault DrawFault(const std::string& path, uint64_t* release);
  // Waits as a kDelay/kHang fault says; false if the emulator is stopping (then drop).
  bool SufferFault(const Fault& fault, uint64_t release);
  void DropConnection(const httplib::Request& req);
  void Record(const httplib::Request& req, int status, int64_t at_ms);

  // --- Mattermost API (api.cpp) ---
  void HandleApi(ApiContext& ctx);
  void SetStandardHeaders(ApiContext& ctx);
  void WriteError(ApiContext& ctx, const AppError& error, bool wipe_detail = true);
  void WriteJson(ApiContext& ctx, int status, const ordered_json& body);
  // Returns false (and answers) when the route needs a session and the token does not give one.
  bool Authenticate(ApiContext& ctx, bool require_session);

  void GetPing(ApiContext& ctx);
  void GetUser(ApiContext& ctx, const std::string& user_id);
  void GetUserTeams(ApiContext& ctx, const std::string& user_id);
  void GetChannelByName(ApiContext& ctx, const std::string& team, const std::string& channel);
  void GetChannel(ApiContext& ctx, const std::string& channel_id);
  void GetChannelMember(ApiContext& ctx, const std::string& channel_id, const std::string& user_id);
  void AddChannelMembers(ApiContext& ctx, const std::string& channel_id);
  void GetChannelPosts(ApiContext& ctx, const std::string& channel_id);
  void CreatePost(ApiContext& ctx);
  void GetPostById(ApiContext& ctx, const std::string& post_id);
  void PatchPost(ApiContext& ctx, const std::string& post_id);

  // --- world helpers (callers hold mu_) ---
  bool IsTeamMember(const std::string& team_id, const std::string& user_id) const;
  bool IsChannelMember(const ChannelRec& channel, const std::string& user_id) const;
  bool CanReadChannelContent(const SessionUser& user, const ChannelRec& channel) const;
  ordered_json UserJson(const UserRec& user, bool self) const;
  ordered_json TeamJson(const TeamRec& team) const;
  ordered_json ChannelJson(const ChannelRec& channel) const;
  ordered_json MemberJson(const ChannelRec& channel, const std::string& user_id) const;
  ordered_json PostJson(const StoredPost& post) const;
  std::vector<std::string> ComputeMentions(const Post& post, const ChannelRec& channel) const;
  // Stores a post (ids, timestamps, counters, mentions) and wakes WaitForPosts.
  StoredPost& CommitPost(StoredPost post);
  void AddSystemPost(ChannelRec& channel, const UserRec& author, const std::string& type,
                     const std::string& message, nlohmann::json props);
  std::string AddTokenLocked(const std::string& user_id, const std::string& token);
  void AddTeamMemberLocked(const std::string& team_id, const std::string& user_id);
  void AddChannelMemberLocked(const std::string& channel_id, const std::string& user_id);
  std::string AddUserLocked(const std::string& username, bool bot);
  std::string AddTeamLocked(const std::string& name, const std::string& display_name);
  std::string AddChannelLocked(const std::string& team_id, const std::string& name, char type,
                               const std::string& display_name);
  // seenPendingPostIdsCache: TTL entries, at most 25000, oldest evicted first.
  void RememberPending(const std::string& key, const std::string& post_id, int64_t now_ms);
  void TrimPending(int64_t now_ms);

  Emulator* owner_ = nullptr;  // for Seed() from the control API
  Options options_;
  std::string version_header_;
  int major_version_ = 9;

  // Server.
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<int> port_{0};
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  std::mutex lifecycle_mu_;

  // World (mu_).
  mutable std::mutex mu_;
  mutable std::condition_variable posts_cv_;
  std::unordered_map<std::string, UserRec> users_;
  std::unordered_map<std::string, std::string> user_by_name_;  // lower-case username -> id
  std::unordered_map<std::string, TeamRec> teams_;
  std::unordered_map<std::string, std::string> team_by_name_;
  std::unordered_map<std::string, ChannelRec> channels_;
  std::unordered_map<std::string, TokenRec> tokens_;  // token -> record
  std::unordered_map<std::string, StoredPost> posts_;
  std::vector<std::string> post_order_;
  std::unordered_map<std::string, ThreadRec> threads_;
  std::unordered_map<std::string, PendingRec> pending_;
  std::deque<std::pair<uint64_t, std::string>> pending_fifo_;
  uint64_t pending_seq_ = 0;
  bool user_access_tokens_enabled_ = true;
  int64_t last_post_at_ = 0;  // keeps create_at strictly increasing

  // Faults (fault_mu_).
  std::mutex fault_mu_;
  std::condition_variable fault_cv_;
  Fault fault_;
  uint64_t fault_release_ = 0;
  size_t held_requests_ = 0;

  // Rate limiting (rate_mu_).
  std::mutex rate_mu_;
  std::unique_ptr<GcraRateLimiter> limiter_;

  // Request log (log_mu_).
  mutable std::mutex log_mu_;
  std::deque<RequestRecord> log_;
};

int64_t SteadyMs();
int64_t SteadyNs();

}  // namespace mmemu
