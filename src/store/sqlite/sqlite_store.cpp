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
#include <map>

#include "core/clock.hpp"
#include "core/strings.hpp"
#include "store/sqlite/migrations.hpp"

namespace tocsin::store::sqlite {
namespace {

namespace fs = std::filesystem;

// Library exceptions end here: every SQLite failure becomes a typed store error.
Error FromException(const std::string& path, std::string_view what, const SQLite::Exception& e) {
  const int code = e.getErrorCode();
  const int extended = e.getExtendedErrorCode();
  if (code == SQLITE_CONSTRAINT &&
      (extended == SQLITE_CONSTRAINT_UNIQUE || extended == SQLITE_CONSTRAINT_PRIMARYKEY)) {
    // "UNIQUE constraint failed: api_tokens.hash" — names the column, never the value.
    std::string message = e.what();
    std::string field;
    if (const auto dot = message.rfind('.'); dot != std::string::npos) {
      field = message.substr(dot + 1);
    }
    return Error{"conflict", fmt::format("{}: already exists ({})", what, message),
                 "use a different value", field};
  }
  std::string hint;
  switch (code) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      hint =
          "another process kept the database locked; a SQLite file serves one tocsin serve "
          "(use PostgreSQL for several)";
      break;
    case SQLITE_FULL:
      hint = "the disk is full";
      break;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
    case SQLITE_AUTH:
      hint = fmt::format("check that {} and its directory are writable by this user", path);
      break;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      hint = fmt::format("{} is not a usable SQLite database; restore it from a backup", path);
      break;
    default:
      hint = "check the disk and the database file";
  }
  return Error{"store_unavailable", fmt::format("{}: {} ({})", what, e.what(), path), hint, {}};
}

// Runs `fn` (which returns Result<T>) with SQLite exceptions turned into errors.
template <typename Fn>
auto Guarded(const std::string& path, std::string_view what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const SQLite::Exception& e) {
    return Unexpected(FromException(path, what, e));
  } catch (const std::exception& e) {
    return Fail("store_unavailable", fmt::format("{}: {} ({})", what, e.what(), path));
  }
}

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

void InsertAudit(SQLite::Database& db, const AuditEntry& entry) {
  SQLite::Statement st(db,
                       "INSERT INTO audit_log (at, actor, action, target, detail_json) "
                       "VALUES (?, ?, ?, ?, ?)");
  st.bind(1, static_cast<int64_t>(entry.at));
  st.bind(2, entry.actor);
  st.bind(3, entry.action);
  st.bind(4, entry.target);
  st.bind(5, entry.detail_json.empty() ? std::string("{}") : entry.detail_json);
  st.exec();
}

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

}  // namespace

SqliteStore::SqliteStore(std::string path, std::unique_ptr<SQLite::Database> db)
    : path_(std::move(path)), db_(std::move(db)) {}

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
    db->exec(options.synchronous == Synchronous::kFull ? "PRAGMA synchronous=FULL"
                                                       : "PRAGMA synchronous=NORMAL");
    db->exec("PRAGMA foreign_keys=ON");
    const auto& migrations = options.migrations ? *options.migrations : Migrations();
    if (auto m = Migrate(*db, path, migrations); !m) return Unexpected(m.error());
    return std::unique_ptr<SqliteStore>(new SqliteStore(path, std::move(db)));
  });
}

Result<void> SqliteStore::Ping() {
  std::lock_guard lock(mu_);
  return Guarded(path_, "ping", [&]() -> Result<void> {
    db_->execAndGet("SELECT 1");
    return Ok();
  });
}

Result<int64_t> SqliteStore::SchemaVersion() {
  std::lock_guard lock(mu_);
  return Guarded(path_, "reading the schema version", [&]() -> Result<int64_t> {
    return db_->execAndGet("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").getInt64();
  });
}

Result<std::optional<MattermostSettings>> SqliteStore::GetMattermostSettings() {
  std::lock_guard lock(mu_);
  return Guarded(path_, "reading the Mattermost settings",
                 [&]() -> Result<std::optional<MattermostSettings>> {
                   SQLite::Statement st(*db_,
                                        "SELECT url, token_sealed, token_hint, insecure, ca_file, "
                                        "active, status, last_test_json, updated_at "
                                        "FROM mattermost_settings WHERE id = 1");
                   if (!st.executeStep()) return std::optional<MattermostSettings>{};
                   MattermostSettings s;
                   s.url = st.getColumn(0).getString();
                   s.token_sealed = st.getColumn(1).getString();
                   s.token_hint = st.getColumn(2).getString();
                   s.insecure = st.getColumn(3).getInt() != 0;
                   s.ca_file = st.getColumn(4).getString();
                   s.active = st.getColumn(5).getInt() != 0;
                   s.status = st.getColumn(6).getString();
                   s.last_test_json = st.getColumn(7).getString();
                   s.updated_at = st.getColumn(8).getInt64();
                   return std::optional<MattermostSettings>(std::move(s));
                 });
}

Result<void> SqliteStore::SaveMattermostSettings(const MattermostSettings& settings,
                                                 const AuditEntry& audit) {
  std::lock_guard lock(mu_);
  return Guarded(path_, "saving the Mattermost settings", [&]() -> Result<void> {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement st(*db_,
                         "INSERT INTO mattermost_settings (id, url, token_sealed, token_hint, "
                         "insecure, ca_file, active, status, last_test_json, updated_at) "
                         "VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                         "ON CONFLICT (id) DO UPDATE SET url = excluded.url, "
                         "token_sealed = excluded.token_sealed, token_hint = excluded.token_hint, "
                         "insecure = excluded.insecure, ca_file = excluded.ca_file, "
                         "active = excluded.active, status = excluded.status, "
                         "last_test_json = excluded.last_test_json, "
                         "updated_at = excluded.updated_at");
    st.bind(1, settings.url);
    st.bind(2, settings.token_sealed);
    st.bind(3, settings.token_hint);
    st.bind(4, settings.insecure ? 1 : 0);
    st.bind(5, settings.ca_file);
    st.bind(6, settings.active ? 1 : 0);
    st.bind(7, settings.status);
    st.bind(8, settings.last_test_json);
    st.bind(9, static_cast<int64_t>(settings.updated_at));
    st.exec();
    InsertAudit(*db_, audit);
    tx.commit();
    return Ok();
  });
}

Result<void> SqliteStore::UpdateMattermostStatus(const std::string& status,
                                                 const std::string& last_test_json) {
  std::lock_guard lock(mu_);
  return Guarded(path_, "recording the Mattermost status", [&]() -> Result<void> {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement st(*db_,
                         "INSERT INTO mattermost_settings (id, status, last_test_json) "
                         "VALUES (1, ?, ?) "
                         "ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
                         "last_test_json = excluded.last_test_json");
    st.bind(1, status);
    st.bind(2, last_test_json);
    st.exec();
    tx.commit();
    return Ok();
  });
}

Result<void> SqliteStore::CreateApiToken(const ApiToken& token, const AuditEntry& audit) {
  std::lock_guard lock(mu_);
  return Guarded(path_, "creating the API token", [&]() -> Result<void> {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement st(*db_,
                         "INSERT INTO api_tokens (id, name, role, hash, created_at) "
                         "VALUES (?, ?, ?, ?, ?)");
    st.bind(1, token.id);
    st.bind(2, token.name);
    st.bind(3, token.role);
    st.bind(4, token.hash);
    st.bind(5, static_cast<int64_t>(token.created_at));
    st.exec();
    InsertAudit(*db_, audit);
    tx.commit();
    return Ok();
  });
}

Result<std::optional<ApiToken>> SqliteStore::FindApiTokenByHash(const std::string& hash) {
  std::lock_guard lock(mu_);
  return Guarded(path_, "looking up an API token", [&]() -> Result<std::optional<ApiToken>> {
    SQLite::Statement st(*db_,
                         "SELECT id, name, role, hash, created_at FROM api_tokens WHERE hash = ?");
    st.bind(1, hash);
    if (!st.executeStep()) return std::optional<ApiToken>{};
    ApiToken t;
    t.id = st.getColumn(0).getString();
    t.name = st.getColumn(1).getString();
    t.role = st.getColumn(2).getString();
    t.hash = st.getColumn(3).getString();
    t.created_at = st.getColumn(4).getInt64();
    return std::optional<ApiToken>(std::move(t));
  });
}

Result<int64_t> SqliteStore::CountApiTokens() {
  std::lock_guard lock(mu_);
  return Guarded(path_, "counting API tokens", [&]() -> Result<int64_t> {
    return db_->execAndGet("SELECT COUNT(*) FROM api_tokens").getInt64();
  });
}

Result<void> SqliteStore::AppendAudit(const AuditEntry& entry) {
  std::lock_guard lock(mu_);
  return Guarded(path_, "appending to the audit log", [&]() -> Result<void> {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    InsertAudit(*db_, entry);
    tx.commit();
    return Ok();
  });
}

Result<std::vector<AuditEntry>> SqliteStore::ListAudit(int limit, int64_t before_id) {
  std::lock_guard lock(mu_);
  return Guarded(path_, "reading the audit log", [&]() -> Result<std::vector<AuditEntry>> {
    std::vector<AuditEntry> out;
    if (limit <= 0) return out;
    SQLite::Statement st(*db_,
                         "SELECT id, at, actor, action, target, detail_json FROM audit_log "
                         "WHERE (?1 <= 0 OR id < ?1) ORDER BY id DESC LIMIT ?2");
    st.bind(1, static_cast<int64_t>(before_id));
    st.bind(2, limit);
    while (st.executeStep()) {
      AuditEntry e;
      e.id = st.getColumn(0).getInt64();
      e.at = st.getColumn(1).getInt64();
      e.actor = st.getColumn(2).getString();
      e.action = st.getColumn(3).getString();
      e.target = st.getColumn(4).getString();
      e.detail_json = st.getColumn(5).getString();
      out.push_back(std::move(e));
    }
    return out;
  });
}

}  // namespace tocsin::store::sqlite
