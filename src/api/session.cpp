#include "api/session.hpp"

#include <algorithm>

#include "core/random.hpp"
#include "core/secret.hpp"
#include "core/strings.hpp"
#include "security/crypto.hpp"

namespace tocsin::api {

std::string SessionStore::Key(std::string_view id) {
  return security::HashApiToken(Secret(std::string(id)));
}

bool SessionStore::Expired(const Session& s, TimePoint now) const {
  return now - s.last_used >= options_.idle || now - s.created_at >= options_.absolute;
}

void SessionStore::Prune(TimePoint now) {
  std::erase_if(sessions_, [&](const auto& kv) { return Expired(kv.second, now); });
  while (!sessions_.empty() && sessions_.size() >= options_.max_sessions) {
    auto oldest = std::min_element(
        sessions_.begin(), sessions_.end(),
        [](const auto& a, const auto& b) { return a.second.last_used < b.second.last_used; });
    sessions_.erase(oldest);
  }
}

NewSession SessionStore::Create(const std::string& token_hash) {
  NewSession out{RandomHex(32), RandomHex(32)};
  const TimePoint now = clock_.Now();
  std::string key = Key(out.id);
  std::lock_guard lock(mu_);
  Prune(now);
  sessions_[std::move(key)] = Session{token_hash, out.csrf_token, now, now};
  return out;
}

std::optional<Session> SessionStore::Find(std::string_view id) {
  if (id.empty()) return std::nullopt;
  const std::string key = Key(id);
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return std::nullopt;
  if (Expired(it->second, now)) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_used = now;
  return it->second;
}

bool SessionStore::Remove(std::string_view id) {
  const std::string key = Key(id);
  std::lock_guard lock(mu_);
  return sessions_.erase(key) > 0;
}

void SessionStore::RemoveForToken(const std::string& token_hash) {
  std::lock_guard lock(mu_);
  std::erase_if(sessions_, [&](const auto& kv) { return kv.second.token_hash == token_hash; });
}

size_t SessionStore::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

bool CsrfTokensEqual(std::string_view expected, std::string_view given) {
  if (expected.empty() || expected.size() != given.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    diff |= static_cast<unsigned char>(expected[i] ^ given[i]);
  }
  return diff == 0;
}

std::optional<std::string> CookieValue(std::string_view cookie_header, std::string_view name) {
  for (const auto& part : Split(cookie_header, ';')) {
    const std::string_view p = Trim(part);
    const size_t eq = p.find('=');
    if (eq == std::string_view::npos) continue;
    if (Trim(p.substr(0, eq)) != name) continue;
    std::string_view value = Trim(p.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    return std::string(value);
  }
  return std::nullopt;
}

namespace {
std::string CookieAttributes(bool secure) {
  // No Max-Age: the cookie ends with the browser session; the server's idle and absolute
  // expiry bound it anyway.
  return std::string("; Path=/; HttpOnly; SameSite=Strict") + (secure ? "; Secure" : "");
}
}  // namespace

std::string SessionCookie(const std::string& id, bool secure) {
  return std::string(kSessionCookie) + "=" + id + CookieAttributes(secure);
}

std::string ClearedSessionCookie(bool secure) {
  return std::string(kSessionCookie) + "=" + CookieAttributes(secure) +
         "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT";
}

}  // namespace tocsin::api
