// store/sqlite/sqlite_store.hpp — the embedded Store: one SQLite file through SQLiteCpp.
//
// Durability (docs/decisions/0001-sqlite-durability.md): WAL with synchronous=NORMAL by default,
// which survives a process crash or kill -9; FULL also survives power loss at a higher commit
// cost. Every write is one BEGIN IMMEDIATE transaction, so a writer takes the lock up front and
// waits (busy_timeout) instead of failing half-way on a lock upgrade. foreign_keys is on.
// Threading: one connection guarded by a mutex; every method holds it for its whole transaction.
// That is enough for the settings/tokens/audit traffic; the event path will want a reader pool
// and group commit (a writer thread batching transactions) when it lands.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/migration.hpp"
#include "store/store.hpp"

namespace SQLite {
class Database;
}

namespace tocsin::store::sqlite {

enum class Synchronous { kNormal, kFull };

struct SqliteOptions {
  Synchronous synchronous = Synchronous::kNormal;
  int busy_timeout_ms = 5000;
  // The schema to migrate to; nullptr = Migrations(). Tests pass their own lists.
  const std::vector<Migration>* migrations = nullptr;
};

class SqliteStore final : public Store {
 public:
  // Opens or creates the database file at `path` (creating a missing parent directory 0700 and a
  // new file 0600), sets the pragmas and applies missing migrations.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                   const SqliteOptions& options = {});
  ~SqliteStore() override;

  Result<void> Ping() override;

  Result<std::optional<MattermostSettings>> GetMattermostSettings() override;
  Result<void> SaveMattermostSettings(const MattermostSettings& settings,
                                      const AuditEntry& audit) override;
  Result<void> UpdateMattermostStatus(const std::string& status,
                                      const std::string& last_test_json) override;

  Result<void> CreateApiToken(const ApiToken& token, const AuditEntry& audit) override;
  Result<std::optional<ApiToken>> FindApiTokenByHash(const std::string& hash) override;
  Result<int64_t> CountApiTokens() override;

  Result<void> AppendAudit(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> ListAudit(int limit, int64_t before_id) override;

  // The newest applied migration.
  Result<int64_t> SchemaVersion();
  const std::string& path() const { return path_; }

 private:
  SqliteStore(std::string path, std::unique_ptr<SQLite::Database> db);

  std::string path_;
  std::mutex mu_;
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace tocsin::store::sqlite
