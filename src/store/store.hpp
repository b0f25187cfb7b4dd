// store/store.hpp — the persistence seam.
//
// `Store` is narrow on purpose: one method per thing a use case needs, each one transaction.
// Nothing above this header speaks SQL. Implementations: SqliteStore (store/sqlite), later a
// PostgreSQL one; both must pass tests/unit/store (the shared suite).
// Errors: code "store_unavailable" (I/O, locked too long), "conflict" (unique violation; `field`
// names the column), "not_found"; when opening also "schema_too_new" (the database was migrated
// by a newer tocsin), "schema_mismatch" (an applied migration differs from this binary's),
// "unsupported" (postgres:// for now) and "invalid_config" (an unknown database URL). Messages
// never contain secrets (the sealed token is opaque anyway).
// Schema: numbered migrations per backend (store/sqlite/migrations.cpp), applied in order, each in
// its own transaction, recorded in schema_migrations; opening runs the missing ones.
// Threading: a Store is safe to call from several threads (implementations serialise or pool).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace tocsin::store {

class PipelineStore;  // store/pipeline.hpp

struct MattermostSettings {
  std::string url;
  std::string token_sealed;  // security::MasterKey::Seal output; "" when no token is stored
  std::string token_hint;    // last 4 characters of the token
  bool insecure = false;
  std::string ca_file;
  bool active = false;
  std::string status = "unknown";  // ok | auth_failed | failing | unknown
  std::string last_test_json;      // TestResult as JSON, "" when never tested
  int64_t updated_at = 0;          // unix ms
};

struct ApiToken {
  std::string id;    // public id, e.g. for listing/revoking
  std::string name;
  std::string role;  // "admin" or "project:<name>"
  std::string hash;  // security::HashApiToken
  int64_t created_at = 0;
};

struct AuditEntry {
  int64_t id = 0;  // assigned by the store
  int64_t at = 0;  // unix ms
  std::string actor;   // token name or "system"
  std::string action;  // e.g. "integration.mattermost.update"
  std::string target;  // e.g. "mattermost"
  std::string detail_json;  // what changed, never secrets; "" is stored as "{}"
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Result<void> Ping() = 0;

  virtual Result<std::optional<MattermostSettings>> GetMattermostSettings() = 0;
  // Saves the settings and appends the audit entry in one transaction.
  virtual Result<void> SaveMattermostSettings(const MattermostSettings& settings,
                                              const AuditEntry& audit) = 0;
  // Records a Test Connection outcome / delivery health without touching the rest (a row with
  // default settings is created when none was saved yet).
  virtual Result<void> UpdateMattermostStatus(const std::string& status,
                                              const std::string& last_test_json) = 0;

  virtual Result<void> CreateApiToken(const ApiToken& token, const AuditEntry& audit) = 0;
  virtual Result<std::optional<ApiToken>> FindApiTokenByHash(const std::string& hash) = 0;
  virtual Result<int64_t> CountApiTokens() = 0;

  virtual Result<void> AppendAudit(const AuditEntry& entry) = 0;
  // Newest first; entries with id < before_id when before_id > 0. limit <= 0 gives nothing.
  virtual Result<std::vector<AuditEntry>> ListAudit(int limit, int64_t before_id) = 0;

  // Projects, findings, events and the delivery outbox (store/pipeline.hpp).
  virtual PipelineStore& pipeline() = 0;
};

// Opens (and migrates to the newest schema) the store named by `database`: "" or "sqlite:PATH"
// (default PATH: <data_dir>/tocsin.db). "postgres://..." is reported as not yet supported.
// Missing directories (the data dir, or PATH's parent) are created with mode 0700, a new database
// file with mode 0600.
Result<std::unique_ptr<Store>> OpenStore(const std::string& database, const std::string& data_dir);

}  // namespace tocsin::store
