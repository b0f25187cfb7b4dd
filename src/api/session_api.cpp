// Handlers for the web UI's sign-in session (POST/GET/DELETE /api/v1/session) and the cookie
// half of Api::Authenticate. The model is in session.hpp; docs/ui.md explains it to users.
#include <spdlog/spdlog.h>

#include "api/api_impl.hpp"
#include "security/crypto.hpp"

namespace tocsin::api::internal {

namespace {

bool ChangesState(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

// The cookie is Secure when users reach the service over https (the public URL says how).
bool SecureCookies(const config::Settings& settings) {
  return StartsWith(ToLower(settings.public_url), "https://");
}

const char kSignInHint[] = "sign in again with an API token";

}  // namespace

std::optional<std::string> Api::SessionIdOf(const Request& req) {
  auto header = req.Header("cookie");
  if (!header) return std::nullopt;
  auto id = CookieValue(*header, kSessionCookie);
  if (!id || id->empty()) return std::nullopt;
  return id;
}

Result<Principal> Api::AuthenticateSession(const Request& req, const std::string& id) {
  auto session = sessions_.Find(id);
  if (!session) {
    return Fail("unauthorized", "the session has expired or was signed out", kSignInHint);
  }
  // The token may have gone since sign-in: checked on every request, as for Bearer.
  auto who = d_.auth.AuthenticateHash(session->token_hash);
  if (!who) return Unexpected(who.error());
  if (!*who) {
    sessions_.RemoveForToken(session->token_hash);
    return Fail("unauthorized", "the API token this session signed in with is no longer valid",
                kSignInHint);
  }
  if (ChangesState(req.method) &&
      !CsrfTokensEqual(session->csrf_token, req.Header(kCsrfHeader).value_or(""))) {
    return Fail("csrf_failed",
                "this request changes data and carries a session cookie, but not the "
                "session's CSRF token",
                "send the csrf_token from /api/v1/session in the X-CSRF-Token header (the web UI "
                "does this), or authenticate with Authorization: Bearer <api token>");
  }
  return **who;
}

void Api::AddSessionRoutes() {
  router_.Add("POST", "/api/v1/session",
              [this](const Request& req, const RouteMatch&) { return CreateSession(req); });
  router_.Add("GET", "/api/v1/session",
              [this](const Request& req, const RouteMatch&) { return GetSession(req); });
  router_.Add("DELETE", "/api/v1/session",
              [this](const Request& req, const RouteMatch&) { return DeleteSession(req); });
}

Response Api::CreateSession(const Request& req) {
  auto body = Body(req);
  if (!body) return ErrorResponse(body.error());
  ObjectReader in(*body);
  auto text = in.String("token", true);
  if (auto r = in.Finish(); !r) return ErrorResponse(r.error());
  Secret token(std::string(Trim(*text)));
  auto principal = d_.auth.Authenticate(token);
  if (!principal) return ErrorResponse(principal.error());
  if (!*principal) {
    return ErrorResponse(Error{"unauthorized", "the API token is not valid (unknown or revoked)",
                               "paste a token from <data-dir>/admin-token or `tocsin token create`",
                               "/token"});
  }
  // A new id at every sign-in (no session fixation); the old session, if any, ends.
  if (auto old = SessionIdOf(req)) sessions_.Remove(*old);
  NewSession s = sessions_.Create(security::HashApiToken(token));
  spdlog::info("web session signed in name={} role={}", (*principal)->name, (*principal)->role);
  Response r = JsonResponse(
      200,
      {{"name", (*principal)->name}, {"role", (*principal)->role}, {"csrf_token", s.csrf_token}});
  r.headers.emplace_back("Set-Cookie", SessionCookie(s.id, SecureCookies(d_.settings)));
  return r;
}

Response Api::GetSession(const Request& req) {
  auto id = SessionIdOf(req);
  if (!id) {
    return ErrorResponse(Error{"unauthorized", "not signed in", "sign in with an API token"});
  }
  auto who = AuthenticateSession(req, *id);  // GET: no CSRF token needed
  auto session = who ? sessions_.Find(*id) : std::nullopt;
  if (!session) {
    Response r = ErrorResponse(
        who ? Error{"unauthorized", "the session has expired or was signed out", kSignInHint}
            : who.error());
    if (r.status == 401) {
      r.headers.emplace_back("Set-Cookie", ClearedSessionCookie(SecureCookies(d_.settings)));
    }
    return r;
  }
  return JsonResponse(
      200, {{"name", who->name}, {"role", who->role}, {"csrf_token", session->csrf_token}});
}

Response Api::DeleteSession(const Request& req) {
  const bool secure = SecureCookies(d_.settings);
  if (auto id = SessionIdOf(req)) {
    if (auto session = sessions_.Find(*id)) {
      if (!CsrfTokensEqual(session->csrf_token, req.Header(kCsrfHeader).value_or(""))) {
        return ErrorResponse(Error{"csrf_failed", "signing out needs the session's CSRF token",
                                   "send it in the X-CSRF-Token header"});
      }
      sessions_.Remove(*id);
      spdlog::info("web session signed out");
    }
  }
  Response r;
  r.status = 204;
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Set-Cookie", ClearedSessionCookie(secure));
  return r;
}

}  // namespace tocsin::api::internal
