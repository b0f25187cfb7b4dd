// service/auth_service.hpp — API tokens: who is calling, and the first admin token.
//
// Tokens are random ("tcn_…", 256 bits), shown once, stored only as BLAKE2b hashes
// (security/crypto.hpp). A Principal is what the API layer knows of a caller: the token's name
// (the audit log's actor) and its role, "admin" or "project:<name>".
// Thread-safe: the store does its own locking, the cache of found tokens has a mutex.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "core/secret.hpp"
#include "store/store.hpp"

namespace tocsin::service {

struct Principal {
  std::string token_id;
  std::string name;
  std::string role;

  bool IsAdmin() const { return role == "admin"; }
  // True for admins and for "project:<project>" tokens.
  bool MayUseProject(const std::string& project) const;
};

// "admin" or "project:<slug>"; "" when fine, else what is wrong.
std::string ValidateRole(const std::string& role);

class AuthService {
 public:
  AuthService(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // nullopt: no such token. Error: the store failed.
  Result<std::optional<Principal>> Authenticate(const Secret& token);
  // The same for a token known by its hash (security::HashApiToken), e.g. a web session's.
  Result<std::optional<Principal>> AuthenticateHash(const std::string& hash);

  struct Created {
    Secret token;  // shown once
    std::string id;
  };
  Result<Created> CreateToken(const std::string& name, const std::string& role,
                              const std::string& actor);

  // On first start (no token at all) creates an admin token and writes it to
  // <data_dir>/admin-token with mode 0600. Returns the file's path when it was created.
  Result<std::optional<std::string>> EnsureAdminToken(const std::string& data_dir);

 private:
  struct Cached {
    Principal principal;
    TimePoint until;
  };
  // Tokens found recently, by hash, so a request costs no store read: a SQLite read was ~11 %
  // of a single-event POST (docs/performance.md). Only hits are kept (a new token works at
  // once); an entry lives kCacheTtl, so a token deleted from the database by hand stops working
  // within that. Bounded: full means start over.
  static constexpr Millis kCacheTtl{10000};
  static constexpr size_t kMaxCached = 1024;

  store::Store& store_;
  const Clock& clock_;
  std::mutex cache_mu_;
  std::unordered_map<std::string, Cached> cache_;
};

}  // namespace tocsin::service
