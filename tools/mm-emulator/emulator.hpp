// mmemu: a fake Mattermost server (REST API v4 subset) for Tocsin's tests, benchmarks and demo.
//
// It reproduces the server behaviour documented in shared/mattermost/API-FACTS.md — status codes,
// error ids, headers, auth parsing, the create-post permission matrix, size limits, threads,
// pending_post_id de-duplication, the GCRA rate limiter, subpath redirects and which @-mentions
// would notify — so a client tested against it is tested against Mattermost, not against itself.
//
// Key types: Emulator (the server; world building + inspection + fault injection), Options, Post,
// Fault, RequestRecord, TestPki/MakeTestPki (throw-away certificates for TLS tests).
//
// Invariants: ids and tokens are 26-character Mattermost ids; a post is stored exactly once per
// successful create (never truncated); Posts()/TotalPosts() include system messages the server
// itself writes (a self-join adds "<user> joined the channel.", as Mattermost does).
//
// Threading: the server answers on cpp-httplib worker threads; every public method is thread-safe
// (one mutex guards the world). Start() binds synchronously, so the port is known on return.
// Start() ignores SIGPIPE for the process (a dropped TLS connection must not kill the test binary).
//
// Not Mattermost: everything under /_emulator/ (posts, stats, fault, rate_limit, tokens/revoke,
// seed) is a control API for out-of-process users (the mm-emulator binary, browser tests,
// benchmarks); a real server has no such routes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace mmemu {

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;                      // 0 = pick a free port
  std::string subpath;               // e.g. "/mattermost": API then lives at <subpath>/api/v4;
                                     // requests missing it get 302 to subpath+path (API-FACTS §10)
  std::string version = "9.11.2";    // reported in X-Version-Id as "<version>.<build>.<hash>.false"
  std::string cert_file, key_file;   // both set = serve HTTPS
  int max_post_runes = 16383;        // 4000 mimics old servers
  bool legacy_length_error = false;  // true: 400 model.post.is_valid.msg.app_error (v9.11)
                                     // instead of message_length
  bool enable_user_access_tokens = true;  // PATs of humans work only when true; bot tokens always
  int64_t dedup_ttl_ms = 30000;           // pending_post_id cache TTL
};

struct Post {
  std::string id, channel_id, root_id, user_id, message, pending_post_id, type;
  nlohmann::json props;  // as stored: attachment actions keep `integration` (stripped on the wire)
  int64_t create_at = 0, update_at = 0, edit_at = 0;
  // "@channel"/"@all"/"@here"/"@username" that WOULD notify (API-FACTS §5.1), in order of
  // appearance. Recomputed on patch (a real server does not notify again on edits; this field
  // tells what the current text would trigger).
  std::vector<std::string> notified_mentions;
};

struct RequestRecord {
  std::string method, path, authorization_scheme /* "Bearer"/"Token"/"" */;
  int status = 0;  // 0 = the connection was dropped without an answer
  int64_t at_ms = 0;
};

enum class FaultKind {
  kNone,
  kStatus,                  // answer `status` with a JSON AppError
  kCloseConnection,         // drop without response
  kDelay,                   // wait delay_ms then answer normally
  kHang,                    // never answer until cleared/Stop
  kLoseResponseAfterCommit,  // create the post (run the handler), then drop the connection
  kHangAfterCommit           // create the post, then hold the answer until cleared/Stop
};

// For POST /api/v4/posts, kDelay and kHang act between the de-dup check and the commit (where a
// slow database would), so a concurrent retry with the same pending_post_id sees "in flight".
struct Fault {
  FaultKind kind = FaultKind::kNone;
  int status = 500;
  int delay_ms = 0;
  std::string path_prefix;  // "" = every API path, e.g. "/api/v4/posts" (path without subpath)
  int count = -1;           // how many requests it affects; -1 = until cleared
  int skip = 0;             // how many matching requests pass untouched before it takes effect
};

class Emulator {
 public:
  explicit Emulator(Options options = {});
  ~Emulator();  // stops
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  bool Start();  // listens on a background thread; false + stderr message on failure
  void Stop();
  int port() const;
  std::string base_url() const;  // scheme://host:port + subpath, no trailing slash

  // World building; all thread-safe; return ids (26-char Mattermost ids).
  std::string AddTeam(const std::string& name, const std::string& display_name = "");
  std::string AddChannel(const std::string& team_id, const std::string& name,
                         char type = 'O' /* 'O' public, 'P' private */);
  std::string AddUser(const std::string& username);     // human, roles "system_user"
  std::string AddBot(const std::string& username);      // bot user (is_bot), roles "system_user"
  std::string CreateToken(const std::string& user_id);  // returns the 26-char token
  void AddTeamMember(const std::string& team_id, const std::string& user_id);
  void AddChannelMember(const std::string& channel_id, const std::string& user_id);
  void RevokeToken(const std::string& token);
  void SetTokenActive(const std::string& token, bool active);
  void SetUserActive(const std::string& user_id, bool active);
  void SetUserAccessTokensEnabled(bool enabled);
  void ArchiveChannel(const std::string& channel_id);
  // "system_post_all", "system_post_all_public", "system_admin"
  void GrantSystemRole(const std::string& user_id, const std::string& role);
  // per_second <= 0 disables (default off, like the real server)
  void SetRateLimit(double per_second, int max_burst);
  void SetFault(const Fault& fault);  // replaces the current fault; kNone clears

  // Builds a world from JSON (the format is documented in tools/mm-emulator/README.md) and returns
  // the ids and tokens it created: {"teams":{name:id}, "channels":{"team/channel":id},
  // "users":{username:id}, "tokens":{username:[token...]}}. On bad input: {"error": "..."} and
  // nothing after the offending entry is created.
  nlohmann::json Seed(const nlohmann::json& world);

  // Inspection.
  std::vector<Post> Posts(const std::string& channel_id) const;  // oldest first, roots + replies
  std::optional<Post> GetPost(const std::string& post_id) const;
  size_t TotalPosts() const;
  std::vector<RequestRecord> Requests() const;  // API requests (not /_emulator/), oldest first
  void ClearRequests();
  // Blocks until TotalPosts() >= n or the timeout passes; returns whether reached.
  bool WaitForPosts(size_t n, std::chrono::milliseconds timeout) const;
  // Blocks until at least n requests are being held by a kDelay/kHang fault (for POST /posts:
  // with their pending_post_id already marked in flight); returns whether reached. Lets a test
  // act "while the server is stuck" without sleeping.
  bool WaitForHeldRequests(size_t n, std::chrono::milliseconds timeout) const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Test certificates via the OpenSSL API (no shelling out): writes PEM files into `dir`.
// leaf: signed by the CA, SAN DNS:localhost + IP:127.0.0.1 + IP:::1; other_host: signed by the CA
// but only for "wrong.example"; expired: signed by the CA, valid for localhost/127.0.0.1 but
// notAfter in the past. Returns empty paths (and prints to stderr) if generation fails.
struct TestPki {
  std::string ca_cert, leaf_cert, leaf_key, other_host_cert, other_host_key, expired_cert,
      expired_key;
};
TestPki MakeTestPki(const std::string& dir);

}  // namespace mmemu
