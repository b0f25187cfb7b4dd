#include "service/auth_service.hpp"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/random.hpp"
#include "domain/types.hpp"
#include "security/crypto.hpp"

namespace tocsin::service {

bool Principal::MayUseProject(const std::string& project) const {
  return IsAdmin() || role == "project:" + project;
}

std::string ValidateRole(const std::string& role) {
  if (role == "admin") return {};
  constexpr std::string_view kPrefix = "project:";
  if (role.rfind(kPrefix, 0) == 0 && domain::IsValidProjectName(role.substr(kPrefix.size()))) {
    return {};
  }
  return "role must be \"admin\" or \"project:<name>\" with a project slug "
         "([a-z0-9][a-z0-9._-]{0,63})";
}

Result<std::optional<Principal>> AuthService::Authenticate(const Secret& token) {
  if (token.empty()) return std::optional<Principal>{};
  return AuthenticateHash(security::HashApiToken(token));
}

Result<std::optional<Principal>> AuthService::AuthenticateHash(const std::string& hash) {
  if (hash.empty()) return std::optional<Principal>{};
  const TimePoint now = clock_.Now();
  {
    std::lock_guard lock(cache_mu_);
    auto it = cache_.find(hash);
    if (it != cache_.end()) {
      if (now < it->second.until && now + kCacheTtl >= it->second.until) {
        return std::optional<Principal>(it->second.principal);
      }
      cache_.erase(it);  // expired, or the clock went back
    }
  }
  auto found = store_.FindApiTokenByHash(hash);
  if (!found) return Unexpected(found.error());
  if (!*found) return std::optional<Principal>{};
  Principal principal{(*found)->id, (*found)->name, (*found)->role};
  std::lock_guard lock(cache_mu_);
  if (cache_.size() >= kMaxCached) cache_.clear();
  cache_.insert_or_assign(hash, Cached{principal, now + kCacheTtl});
  return std::optional<Principal>(std::move(principal));
}

Result<AuthService::Created> AuthService::CreateToken(const std::string& name,
                                                      const std::string& role,
                                                      const std::string& actor) {
  if (name.empty() || name.size() > 100) {
    return Fail("invalid_request", "token name must be 1 to 100 characters", "", "name");
  }
  if (auto why = ValidateRole(role); !why.empty()) return Fail("invalid_request", why, "", "role");
  Secret token = security::GenerateApiToken();
  store::ApiToken row;
  row.id = NewId();
  row.name = name;
  row.role = role;
  row.hash = security::HashApiToken(token);
  row.created_at = ToUnixMillis(clock_.Now());
  store::AuditEntry audit;
  audit.at = row.created_at;
  audit.actor = actor;
  audit.action = "token.create";
  audit.target = "token:" + row.id;
  audit.detail_json = nlohmann::json{{"name", name}, {"role", role}}.dump();
  if (auto r = store_.CreateApiToken(row, audit); !r) return Unexpected(r.error());
  return Created{std::move(token), row.id};
}

Result<std::optional<std::string>> AuthService::EnsureAdminToken(const std::string& data_dir) {
  auto count = store_.CountApiTokens();
  if (!count) return Unexpected(count.error());
  if (*count > 0) return std::optional<std::string>{};
  auto created = CreateToken("admin", "admin", "system");
  if (!created) return Unexpected(created.error());
  const std::string path = (std::filesystem::path(data_dir) / "admin-token").string();
  if (auto w = security::WritePrivateFile(path, created->token.Reveal() + "\n"); !w) {
    return Unexpected(w.error());
  }
  return std::optional<std::string>(path);
}

}  // namespace tocsin::service
