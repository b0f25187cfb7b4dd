#include "store/sqlite/sqlite_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/clock.hpp"
#include "core/strings.hpp"
#include "store/sqlite/checkpointer.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/migrations.hpp"

namespace tocsin::store::sqlite {
namespace {

namespace fs = std::filesystem;

Result<void> EnsurePrivateDir(const fs::path& dir) {
  std::error_code ec;
  if (dir.empty() || fs::is_directory(dir, ec)) return Ok();
  fs::path current;
  for (const auto& part : dir) {
    current /= part;
    if (fs::is_directory(current, ec)) continue;
    if (::mkdir(current.c_str(), 0700) != 0 && errno != EEXIST) {
      const int err = errno;
      return Fail(
          "store_unavailable",
          fmt::format("cannot create directory {}: {}", current.string(), std::strerror(err)),
          "create it by hand, or choose another --data-dir / --database");
    }
  }
  return Ok();
}

// SQLite gives the -wal and -shm files the mode of the database file, so creating the file 0600
// first keeps the sealed token and token hashes private even outside a 0700 data dir.
void PreCreatePrivateFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
}

int64_t NowMillis() { return ToUnixMillis(SystemClock::Instance().Now()); }

Result<void> Migrate(SQLite::Database& db, const std::string& path,
                     const std::vector<Migration>& migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int64_t>(i + 1)) {
      // A broken invariant of this binary, not of the database.
      return Fail("store_unavailable",
                  fmt::format("migration list is not numbered 1..N (entry {} has version {})", i,
                              migrations[i].version));
    }
  }
  const int64_t latest = LatestVersion(migrations);
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY,"
      " name TEXT NOT NULL,"
      " applied_at INTEGER NOT NULL)");

  auto check_applied = [&]() -> Result<int64_t> {
    int64_t current = 0;
    SQLite::Statement st(db, "SELECT version, name FROM schema_migrations ORDER BY version");
    while (st.executeStep()) {
      const int64_t version = st.getColumn(0).getInt64();
      const std::string name = st.getColumn(1).getString();
      current = std::max(current, version);
      if (version > latest) {
        return Fail("schema_too_new",
                    fmt::format("database {} has schema version {}, but this tocsin knows "
                                "versions up to {}: it was upgraded by a newer tocsin",
                                path, version, latest),
                    "run the newer tocsin that upgraded it, or restore a backup taken before the "
                    "upgrade");
      }
      if (version >= 1 && migrations[version - 1].name != name) {
        return Fail("schema_mismatch",
                    fmt::format("database {} has migration {} \"{}\", but this tocsin's migration "
                                "{} is \"{}\"",
                                path, version, name, version, migrations[version - 1].name),
                    "the database was created by a different build of tocsin; use that build or "
                    "a fresh database");
      }
    }
    return current;
  };

  auto current = check_applied();
  if (!current) return Unexpected(current.error());
  for (const auto& m : migrations) {
    if (m.version <= *current) continue;
    SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
    // Another process may have migrated while we waited for the lock.
    auto now_current = check_applied();
    if (!now_current) return Unexpected(now_current.error());
    if (m.version <= *now_current) {
      *current = *now_current;
      continue;  // rolls back the empty transaction
    }
    try {
      db.exec(m.sql);
    } catch (const SQLite::Exception& e) {
      Error err = FromException(path, fmt::format("migration {} \"{}\"", m.version, m.name), e);
      err.code = "store_unavailable";
      return Unexpected(err);
    }
    SQLite::Statement st(db,
                         "INSERT INTO schema_migrations (version, name, applied_at) "
                         "VALUES (?, ?, ?)");
    st.bind(1, static_cast<int64_t>(m.version));
    st.bind(2, m.name);
    st.bind(3, NowMillis());
    st.exec();
    tx.commit();
    *current = m.version;
  }
  return Ok();
}

// Pragmas every connection needs: they are per connection, not per file.
void Configure(SQLite::Database& db, const SqliteOptions& options) {
  db.exec(options.synchronous == Synchronous::kFull ? "PRAGMA synchronous=FULL"
                                                    : "PRAGMA synchronous=NORMAL");
  db.exec("PRAGMA foreign_keys=ON");
  // Statement journals and sort scratch in memory: inside a large ingest transaction they went
  // to /var/tmp and multiplied the bytes written per event by 5-7 (docs/performance.md).
  db.exec("PRAGMA temp_store=MEMORY");
}

}  // namespace

SqliteStore::SqliteStore(std::string path, std::unique_ptr<Checkpointer> checkpointer,
                         std::unique_ptr<Writer> writer, std::unique_ptr<Reader> reader)
    : path_(std::move(path)),
      checkpointer_(std::move(checkpointer)),
      writer_(std::move(writer)),
      reader_(std::move(reader)) {}

SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                       const SqliteOptions& options) {
  if (path.empty()) return Fail("invalid_config", "the SQLite database path is empty");
  if (auto dir = EnsurePrivateDir(fs::path(path).parent_path()); !dir) {
    return Unexpected(dir.error());
  }
  PreCreatePrivateFile(path);
  return Guarded(path, "opening the database", [&]() -> Result<std::unique_ptr<SqliteStore>> {
    auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE,
                                                 options.busy_timeout_ms);
    const std::string mode = db->execAndGet("PRAGMA journal_mode=WAL").getString();
    if (ToLower(mode) != "wal") {
      return Fail(
          "store_unavailable",
          fmt::format("database {} cannot use WAL journaling (journal_mode is {})", path, mode),
          "put the database on a local file system");
    }
    Configure(*db, options);
    // The writer's page cache: 16 MiB instead of SQLite's 2 MiB. A scan of 100,000 findings
    // writes indexes larger than 2 MiB in one transaction, and a cache that overflows spills
    // dirty pages to the WAL mid-transaction, to write them again later (docs/performance.md,
    // figure 8c). Pages are allocated as used, so a small database never grows to this.
    db->exec("PRAGMA cache_size=-16384");
    const auto& migrations = options.migrations ? *options.migrations : Migrations();
    if (auto m = Migrate(*db, path, migrations); !m) return Unexpected(m.error());
    // The other connections open after the migrations, so they never see a half-built schema;
    // query_only makes an accidental write on the reader an error instead of a second writer.
    auto open_more = [&] {
      auto more =
          std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE, options.busy_timeout_ms);
      Configure(*more, options);
      return more;
    };
    auto rdb = open_more();
    rdb->exec("PRAGMA query_only=ON");
    std::unique_ptr<Checkpointer> checkpointer;
    if (options.checkpoint_pages > 0) {
      checkpointer = std::make_unique<Checkpointer>(open_more(), options.checkpoint_pages,
                                                    options.checkpoint_pages * 4);
      checkpointer->Attach(*db);
    }
    return std::unique_ptr<SqliteStore>(
        new SqliteStore(path, std::move(checkpointer),
                        std::make_unique<Writer>(std::make_unique<Connection>(std::move(db))),
                        std::make_unique<Reader>(std::make_unique<Connection>(std::move(rdb)))));
  });
}

int64_t SqliteStore::BackgroundCheckpoints() const {
  return checkpointer_ ? checkpointer_->checkpoints() : 0;
}

Result<void> SqliteStore::Ping() {
  return Read(*reader_, path_, "ping", [&](Connection& c) -> Result<void> {
    Query q(c, "SELECT 1");
    q->executeStep();
    return Ok();
  });
}

Result<int64_t> SqliteStore::SchemaVersion() {
  return Read(*reader_, path_, "reading the schema version", [&](Connection& c) -> Result<int64_t> {
    Query q(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    q->executeStep();
    return q->getColumn(0).getInt64();
  });
}

Result<std::optional<MattermostSettings>> SqliteStore::GetMattermostSettings() {
  return Read(*reader_, path_, "reading the Mattermost settings",
              [&](Connection& c) -> Result<std::optional<MattermostSettings>> {
                Query q(c,
                        "SELECT url, token_sealed, token_hint, insecure, ca_file, active, status, "
                        "last_test_json, updated_at FROM mattermost_settings WHERE id = 1");
                if (!q->executeStep()) return std::optional<MattermostSettings>{};
                MattermostSettings s;
                s.url = q->getColumn(0).getString();
                s.token_sealed = q->getColumn(1).getString();
                s.token_hint = q->getColumn(2).getString();
                s.insecure = q->getColumn(3).getInt() != 0;
                s.ca_file = q->getColumn(4).getString();
                s.active = q->getColumn(5).getInt() != 0;
                s.status = q->getColumn(6).getString();
                s.last_test_json = q->getColumn(7).getString();
                s.updated_at = q->getColumn(8).getInt64();
                return std::optional<MattermostSettings>(std::move(s));
              });
}

Result<void> SqliteStore::SaveMattermostSettings(const MattermostSettings& settings,
                                                 const AuditEntry& audit) {
  return Write(*writer_, path_, "saving the Mattermost settings",
               [&](Connection& c) -> Result<void> {
                 Query q(c,
                         "INSERT INTO mattermost_settings (id, url, token_sealed, token_hint, "
                         "insecure, ca_file, active, status, last_test_json, updated_at) "
                         "VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                         "ON CONFLICT (id) DO UPDATE SET url = excluded.url, "
                         "token_sealed = excluded.token_sealed, token_hint = excluded.token_hint, "
                         "insecure = excluded.insecure, ca_file = excluded.ca_file, "
                         "active = excluded.active, status = excluded.status, "
                         "last_test_json = excluded.last_test_json, "
                         "updated_at = excluded.updated_at");
                 q->bind(1, settings.url);
                 q->bind(2, settings.token_sealed);
                 q->bind(3, settings.token_hint);
                 q->bind(4, settings.insecure ? 1 : 0);
                 q->bind(5, settings.ca_file);
                 q->bind(6, settings.active ? 1 : 0);
                 q->bind(7, settings.status);
                 q->bind(8, settings.last_test_json);
                 q->bind(9, static_cast<int64_t>(settings.updated_at));
                 q.Exec();
                 InsertAudit(c, audit);
                 return Ok();
               });
}

Result<void> SqliteStore::UpdateMattermostStatus(const std::string& status,
                                                 const std::string& last_test_json) {
  return Write(*writer_, path_, "recording the Mattermost status",
               [&](Connection& c) -> Result<void> {
                 Query q(c,
                         "INSERT INTO mattermost_settings (id, status, last_test_json) "
                         "VALUES (1, ?, ?) "
                         "ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
                         "last_test_json = excluded.last_test_json");
                 q->bind(1, status);
                 q->bind(2, last_test_json);
                 q.Exec();
                 return Ok();
               });
}

Result<void> SqliteStore::CreateApiToken(const ApiToken& token, const AuditEntry& audit) {
  return Write(*writer_, path_, "creating the API token", [&](Connection& c) -> Result<void> {
    Query q(c, "INSERT INTO api_tokens (id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?)");
    q->bind(1, token.id);
    q->bind(2, token.name);
    q->bind(3, token.role);
    q->bind(4, token.hash);
    q->bind(5, static_cast<int64_t>(token.created_at));
    q.Exec();
    InsertAudit(c, audit);
    return Ok();
  });
}

Result<std::optional<ApiToken>> SqliteStore::FindApiTokenByHash(const std::string& hash) {
  return Read(*reader_, path_, "looking up an API token",
              [&](Connection& c) -> Result<std::optional<ApiToken>> {
                Query q(c,
                        "SELECT id, name, role, hash, created_at FROM api_tokens WHERE hash = ?");
                q->bind(1, hash);
                if (!q->executeStep()) return std::optional<ApiToken>{};
                ApiToken t;
                t.id = q->getColumn(0).getString();
                t.name = q->getColumn(1).getString();
                t.role = q->getColumn(2).getString();
                t.hash = q->getColumn(3).getString();
                t.created_at = q->getColumn(4).getInt64();
                return std::optional<ApiToken>(std::move(t));
              });
}

Result<int64_t> SqliteStore::CountApiTokens() {
  return Read(*reader_, path_, "counting API tokens", [&](Connection& c) -> Result<int64_t> {
    Query q(c, "SELECT COUNT(*) FROM api_tokens");
    q->executeStep();
    return q->getColumn(0).getInt64();
  });
}

Result<void> SqliteStore::AppendAudit(const AuditEntry& entry) {
  return Write(*writer_, path_, "appending to the audit log", [&](Connection& c) -> Result<void> {
    InsertAudit(c, entry);
    return Ok();
  });
}

Result<std::vector<AuditEntry>> SqliteStore::ListAudit(int limit, int64_t before_id) {
  return Read(*reader_, path_, "reading the audit log",
              [&](Connection& c) -> Result<std::vector<AuditEntry>> {
                std::vector<AuditEntry> out;
                if (limit <= 0) return out;
                Query q(c,
                        "SELECT id, at, actor, action, target, detail_json FROM audit_log "
                        "WHERE (?1 <= 0 OR id < ?1) ORDER BY id DESC LIMIT ?2");
                q->bind(1, static_cast<int64_t>(before_id));
                q->bind(2, limit);
                while (q->executeStep()) {
                  AuditEntry e;
                  e.id = q->getColumn(0).getInt64();
                  e.at = q->getColumn(1).getInt64();
                  e.actor = q->getColumn(2).getString();
                  e.action = q->getColumn(3).getString();
                  e.target = q->getColumn(4).getString();
                  e.detail_json = q->getColumn(5).getString();
                  out.push_back(std::move(e));
                }
                return out;
              });
}

}  // namespace tocsin::store::sqlite
