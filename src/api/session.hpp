// api/session.hpp — the web UI's sign-in sessions (SPEC §7, §8).
//
// The browser signs in once with an API token (POST /api/v1/session); from then on it is
// recognised by an HttpOnly, SameSite=Strict cookie that carries a random session id, and every
// state-changing request it makes must also carry the session's CSRF token in X-CSRF-Token.
//
// SessionStore keeps the sessions in memory (a restart signs everyone out, which is fine for an
// admin UI). It never holds the API token: only its hash, so each request can look the token up
// again and a token that disappears from the store ends its sessions at once. Session ids are
// kept hashed too, so a memory dump or a timing side channel on the map does not hand out live
// cookies. Sessions expire after `idle` without use and after `absolute` in any case; the map is
// capped (the least recently used session goes first).
//
// Key types: SessionStore, Session, NewSession. Threading: every method is safe to call from the
// HTTP server's handler pool at once (one mutex; no I/O under it).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.hpp"

namespace tocsin::api {

inline constexpr std::string_view kSessionCookie = "tocsin_session";
inline constexpr std::string_view kCsrfHeader = "x-csrf-token";  // lower-case, as Request stores

struct Session {
  std::string token_hash;  // security::HashApiToken of the API token signed in with
  std::string csrf_token;  // 64 hex characters; the browser echoes it in X-CSRF-Token
  TimePoint created_at;
  TimePoint last_used;
};

// What Create hands out once: the cookie value and the CSRF token.
struct NewSession {
  std::string id;  // 64 hex characters (256 bits), the cookie value
  std::string csrf_token;
};

class SessionStore {
 public:
  struct Options {
    std::chrono::seconds idle{std::chrono::hours(12)};
    std::chrono::seconds absolute{std::chrono::hours(24 * 7)};
    size_t max_sessions = 10000;
  };

  explicit SessionStore(const Clock& clock) : SessionStore(clock, Options{}) {}
  SessionStore(const Clock& clock, Options options) : clock_(clock), options_(options) {}

  NewSession Create(const std::string& token_hash);
  // The live session for a cookie value (and marks it used); nullopt when unknown or expired
  // (an expired one is removed).
  std::optional<Session> Find(std::string_view id);
  // Signs out; false when there was no such session.
  bool Remove(std::string_view id);
  // Ends every session opened with this token (e.g. when the token is no longer valid).
  void RemoveForToken(const std::string& token_hash);
  size_t size() const;

 private:
  static std::string Key(std::string_view id);
  bool Expired(const Session& s, TimePoint now) const;
  void Prune(TimePoint now);  // expects mu_ held

  const Clock& clock_;
  const Options options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Session> sessions_;  // by Key(id)
};

// Constant-time comparison for CSRF tokens (length may leak, content does not).
bool CsrfTokensEqual(std::string_view expected, std::string_view given);

// The value of cookie `name` in a Cookie request header ("a=1; b=2"); nullopt when absent.
std::optional<std::string> CookieValue(std::string_view cookie_header, std::string_view name);

// Set-Cookie values: the session cookie (HttpOnly, SameSite=Strict, Path=/, Secure when the
// service is reached over https) and the one that deletes it.
std::string SessionCookie(const std::string& id, bool secure);
std::string ClearedSessionCookie(bool secure);

}  // namespace tocsin::api
