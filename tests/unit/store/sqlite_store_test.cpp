// The SQLite backend: runs the shared suite, plus what only SQLite has (files, pragmas, locks,
// the migration runner's edge cases).
#include "store/sqlite/sqlite_store.hpp"

#include <gmock/gmock.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "store/sqlite/migrations.hpp"
#include "store_suite.hpp"
#include "support/temp_dir.hpp"

namespace tocsin::store::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::tocsin::testing::TempDir;

// A raw connection for poking at the file from outside the store.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) ADD_FAILURE() << sqlite3_errmsg(db_);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  int Exec(const std::string& sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (err) sqlite3_free(err);
    return rc;
  }
  std::string QueryText(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(st, 0);
      out = text ? reinterpret_cast<const char*>(text) : "";
    }
    sqlite3_finalize(st);
    return out;
  }
  int64_t QueryInt(const std::string& sql) { return std::stoll("0" + QueryText(sql)); }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteBackend final : public StoreBackend {
 public:
  Result<std::unique_ptr<Store>> Open() override { return OpenStore("", dir_.str()); }
  int64_t SchemaVersion() override {
    return RawDb(Path()).QueryInt("SELECT MAX(version) FROM schema_migrations");
  }
  int64_t LatestKnownVersion() override { return LatestVersion(sqlite::Migrations()); }
  void RecordSchemaVersion(int64_t version) override {
    EXPECT_EQ(RawDb(Path()).Exec("INSERT INTO schema_migrations (version, name, applied_at) "
                                 "VALUES (" +
                                 std::to_string(version) + ", 'future', 0)"),
              SQLITE_OK);
  }
  int64_t MigrationRows() override {
    return RawDb(Path()).QueryInt("SELECT COUNT(*) FROM schema_migrations");
  }

 private:
  std::string Path() const { return (dir_.path() / "tocsin.db").string(); }
  TempDir dir_;
};

const BackendFactory kSqlite{"Sqlite", [] { return std::make_unique<SqliteBackend>(); }};
INSTANTIATE_TEST_SUITE_P(Sqlite, StoreSuite, ::testing::Values(kSqlite), BackendName);
INSTANTIATE_TEST_SUITE_P(Sqlite, PipelineSuite, ::testing::Values(kSqlite), BackendName);

unsigned ModeOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

TEST(OpenStore, DefaultIsTocsinDbInAPrivateDataDir) {
  TempDir tmp;
  const fs::path data_dir = tmp.path() / "new" / "var";
  auto store = OpenStore("", data_dir.string());
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_TRUE(fs::exists(data_dir / "tocsin.db"));
  EXPECT_EQ(ModeOf(data_dir), 0700u);
  EXPECT_EQ(ModeOf(data_dir / "tocsin.db"), 0600u);
  ASSERT_TRUE((*store)->AppendAudit(AuditEntry{0, 1, "a", "b", "c", "{}"}));
  EXPECT_EQ(ModeOf(data_dir / "tocsin.db-wal"), 0600u) << "the WAL holds the same data";
}

TEST(OpenStore, SqliteUrlNamesTheFile) {
  TempDir tmp;
  const fs::path file = tmp.path() / "elsewhere" / "custom.db";
  auto store = OpenStore("sqlite:" + file.string(), (tmp.path() / "unused").string());
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_TRUE(fs::exists(file));
  EXPECT_FALSE(fs::exists(tmp.path() / "unused"));
}

TEST(OpenStore, PostgresIsNotSupportedYet) {
  TempDir tmp;
  for (const std::string url : {"postgres://u:pw@db/tocsin", "postgresql://db/tocsin"}) {
    auto store = OpenStore(url, tmp.str());
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().code, "unsupported");
    EXPECT_THAT(store.error().message, HasSubstr("PostgreSQL"));
    EXPECT_THAT(store.error().message, ::testing::Not(HasSubstr("pw")));
  }
}

TEST(OpenStore, UnknownUrlIsInvalidConfigWithoutEchoingIt) {
  TempDir tmp;
  auto store = OpenStore("mysql://root:hunter2@db/x", tmp.str());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, "invalid_config");
  EXPECT_EQ(store.error().field, "database");
  EXPECT_THAT(store.error().message, ::testing::Not(HasSubstr("hunter2")));
}

TEST(OpenStore, FileThatIsNotADatabaseIsNamed) {
  TempDir tmp;
  const fs::path file = tmp.path() / "tocsin.db";
  std::ofstream(file) << "this is not a database, just some text that is long enough to matter\n"
                      << std::string(4096, 'x');
  auto store = OpenStore("", tmp.str());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, "store_unavailable");
  EXPECT_THAT(store.error().message, HasSubstr(file.string()));
  EXPECT_THAT(store.error().hint, HasSubstr("not a usable SQLite database"));
}

TEST(SqliteStore, UsesWalJournal) {
  TempDir tmp;
  const std::string path = (tmp.path() / "t.db").string();
  auto store = sqlite::SqliteStore::Open(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(RawDb(path).QueryText("PRAGMA journal_mode"), "wal");
}

TEST(SqliteStore, ProductionMigrationsAreNumberedFromOne) {
  const auto& migrations = sqlite::Migrations();
  ASSERT_FALSE(migrations.empty());
  for (size_t i = 0; i < migrations.size(); ++i) {
    EXPECT_EQ(migrations[i].version, static_cast<int64_t>(i + 1));
    EXPECT_FALSE(migrations[i].name.empty());
    EXPECT_FALSE(migrations[i].sql.empty());
  }
}

TEST(SqliteStore, UpgradeAppliesOnlyTheMissingMigrations) {
  TempDir tmp;
  const std::string path = (tmp.path() / "t.db").string();
  std::vector<Migration> v1 = {{1, "one", "CREATE TABLE one (x INTEGER);"}};
  std::vector<Migration> v2 = v1;
  v2.push_back({2, "two", "CREATE TABLE two (y INTEGER); INSERT INTO one VALUES (42);"});
  {
    auto store = sqlite::SqliteStore::Open(path, {.migrations = &v1});
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ(*(*store)->SchemaVersion(), 1);
  }
  {
    auto store = sqlite::SqliteStore::Open(path, {.migrations = &v2});
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ(*(*store)->SchemaVersion(), 2);
  }
  auto again = sqlite::SqliteStore::Open(path, {.migrations = &v2});
  ASSERT_TRUE(again);
  RawDb raw(path);
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM one"), 1) << "migration 2 ran exactly once";
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM schema_migrations"), 2);
}

// A database as a tocsin of schema `version` left it, with a project 'web'.
void MakeOldDatabase(const std::string& path, size_t version) {
  const auto& all = sqlite::Migrations();
  ASSERT_GT(all.size(), version);
  const std::vector<Migration> old(all.begin(), all.begin() + static_cast<ptrdiff_t>(version));
  {
    auto store = sqlite::SqliteStore::Open(path, {.migrations = &old});
    ASSERT_TRUE(store) << store.error().message;
  }
  RawDb raw(path);
  ASSERT_EQ(raw.Exec("INSERT INTO projects (name, display_name, url, created_at) "
                     "VALUES ('web', '', '', 1)"),
            SQLITE_OK);
}

TEST(SqliteStore, Migration4KeepsDeliveriesLeftInDoubtInDoubt) {
  // A database of version 3 with a delivery written as 'sending' by an older tocsin.
  TempDir tmp;
  const std::string path = (tmp.path() / "t.db").string();
  ASSERT_NO_FATAL_FAILURE(MakeOldDatabase(path, 3));
  {
    RawDb raw(path);
    ASSERT_EQ(raw.Exec("INSERT INTO deliveries (project, channel, event_type, state, created_at, "
                       "updated_at, next_attempt_at, expires_at, in_doubt_since) VALUES "
                       "('web', 'team/a', 'scan.completed', 'sending', 1, 2, 1, 99, 2), "
                       "('web', 'team/a', 'scan.completed', 'pending', 1, 1, 1, 99, NULL)"),
              SQLITE_OK);
  }
  auto store = sqlite::SqliteStore::Open(path);
  ASSERT_TRUE(store) << store.error().message;
  auto& outbox = (*store)->pipeline().outbox();
  auto first = outbox.GetDelivery(1);
  ASSERT_TRUE(first && first->has_value());
  EXPECT_EQ((*first)->state, domain::DeliveryState::kSending);
  EXPECT_TRUE((*first)->in_doubt_since.has_value());
  auto counts = outbox.CountByState();
  ASSERT_TRUE(counts);
  EXPECT_EQ((*counts)[static_cast<int>(domain::DeliveryState::kSending)], 1);
  EXPECT_EQ((*counts)[static_cast<int>(domain::DeliveryState::kPending)], 1);
  RawDb raw(path);
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM deliveries WHERE state = 'sending'"), 0);
  EXPECT_EQ(raw.QueryText("SELECT name FROM sqlite_master WHERE name = 'deliveries_by_state'"), "");
  EXPECT_EQ(raw.QueryText("SELECT name FROM sqlite_master WHERE name = 'deliveries_unsent'"),
            "deliveries_unsent");
}

TEST(SqliteStore, Migration5KeepsALeaseLeftStandingWithAnUnknownStart) {
  // A version-4 database that a crashed tocsin left with a lease on a channel with work.
  TempDir tmp;
  const std::string path = (tmp.path() / "t.db").string();
  ASSERT_NO_FATAL_FAILURE(MakeOldDatabase(path, 4));
  {
    RawDb raw(path);
    ASSERT_EQ(raw.Exec("INSERT INTO deliveries (project, channel, event_type, state, created_at, "
                       "updated_at, next_attempt_at, expires_at) VALUES "
                       "('web', 'team/a', 'scan.completed', 'pending', 1, 1, 1, 99)"),
              SQLITE_OK);
    ASSERT_EQ(raw.Exec("INSERT INTO channel_leases (channel, owner, lease_until) "
                       "VALUES ('team/a', 'host:/var/lib/tocsin', 5)"),
              SQLITE_OK);
  }
  auto store = sqlite::SqliteStore::Open(path);
  ASSERT_TRUE(store) << store.error().message;
  auto claimed = (*store)->pipeline().outbox().ClaimChannels("host:/var/lib/tocsin",
                                                            FromUnixMillis(10), Millis(30000), 5);
  ASSERT_TRUE(claimed) << claimed.error().message;
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].unreleased_since, FromUnixMillis(0))
      << "left standing, since an unknown time (the head's own age bounds the look-up)";
}

// Bounded wait for a condition another thread brings about (2 s at most, polled every ms).
bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 2000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}

TEST(SqliteStore, RecordsThatArriveTogetherShareATransactionAndFailAlone) {
  TempDir tmp;
  const std::string path = (tmp.path() / "t.db").string();
  auto opened = sqlite::SqliteStore::Open(path);
  ASSERT_TRUE(opened) << opened.error().message;
  sqlite::SqliteStore& store = **opened;
  {
    RawDb raw(path);
    ASSERT_EQ(raw.Exec("INSERT INTO projects (name, display_name, url, created_at) "
                       "VALUES ('web', '', '', 1)"),
              SQLITE_OK);
    for (const char* channel : {"team/a", "team/b", "team/c", "team/d", "team/d"}) {
      ASSERT_EQ(raw.Exec(std::string("INSERT INTO deliveries (project, channel, event_type, state, "
                                     "created_at, updated_at, next_attempt_at, expires_at) VALUES "
                                     "('web', '") +
                         channel + "', 'scan.completed', 'pending', 1, 1, 1, 99)"),
                SQLITE_OK);
    }
  }
  auto& outbox = store.pipeline().outbox();
  const auto sent = [](int64_t id) {
    SentPost p;
    p.ids = {id};
    p.post_id = "post" + std::to_string(id) + "post4post4post4post4pos";
    p.channel_id = "chan4chan4chan4chan4chan4c";
    p.now = FromUnixMillis(5);
    p.project = "web";
    p.root_thread_key = "fp-" + std::to_string(id);
    return p;
  };
  // Delivery 4 was recorded before. A digest of 5 and 4 then marks 5 sent and fails on 4 (a
  // conflict): that must undo its own first write and not take the records it shares a
  // transaction with down with it.
  ASSERT_TRUE(outbox.RecordSent(sent(4)));
  SentPost digest = sent(4);
  digest.ids = {5, 4};

  // Hold the writer so that the records queue up: the first becomes the one committing (alone,
  // its batch taken), the next three wait for the following transaction.
  std::atomic<bool> inside{false}, release{false};
  std::thread holder([&] {
    (void)store.pipeline().Transact([&](IngestTx&) -> Result<void> {
      inside = true;
      while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return {};
    });
  });
  ASSERT_TRUE(Eventually([&] { return inside.load(); }));
  std::vector<Result<bool>> results(5, Result<bool>(false));
  std::vector<std::thread> senders;
  senders.emplace_back([&] { results[1] = outbox.RecordSent(sent(1)); });
  ASSERT_TRUE(Eventually([&] { return store.RecordBeingCommitted(); }));
  for (int64_t id : {2, 3}) {
    senders.emplace_back([&, id] { results[id] = outbox.RecordSent(sent(id)); });
  }
  senders.emplace_back([&] { results[4] = outbox.RecordSent(digest); });
  ASSERT_TRUE(Eventually([&] { return store.RecordsWaiting() == 3; }));
  release = true;
  holder.join();
  for (auto& t : senders) t.join();

  EXPECT_TRUE(results[1]) << results[1].error().message;
  EXPECT_TRUE(results[2]) << results[2].error().message;
  EXPECT_TRUE(results[3]) << results[3].error().message;
  ASSERT_FALSE(results[4]);
  EXPECT_EQ(results[4].error().code, "conflict");
  EXPECT_EQ(store.RecordsCommittedTogether(), 3) << "2, 3 and the digest in one transaction";
  RawDb raw(path);
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM deliveries WHERE state = 'sent'"), 4);
  EXPECT_EQ(raw.QueryText("SELECT state || ' ' || post_id FROM deliveries WHERE id = 5"),
            "pending ")
      << "the failed record's own first write was taken back";
  EXPECT_EQ(raw.QueryText("SELECT post_id FROM deliveries WHERE id = 3"),
            "post3post4post4post4post4pos");
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM thread_roots"), 4)
      << "each record's thread root, the failed one's from its first time only";
  EXPECT_EQ(raw.QueryText("SELECT post_id FROM thread_roots WHERE thread_key = 'fp-2'"),
            "post2post4post4post4post4pos");
}

TEST(SqliteStore, FailedMigrationRollsBackAndNamesIt) {
  TempDir tmp;
  const std::string path = (tmp.path() / "t.db").string();
  std::vector<Migration> broken = {
      {1, "one", "CREATE TABLE one (x INTEGER);"},
      {2, "two", "CREATE TABLE two (y INTEGER); INSERT INTO one VALUES (1); THIS IS NOT SQL;"},
  };
  auto store = sqlite::SqliteStore::Open(path, {.migrations = &broken});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, "store_unavailable");
  EXPECT_THAT(store.error().message, HasSubstr("migration 2 \"two\""));
  RawDb raw(path);
  EXPECT_EQ(raw.QueryInt("SELECT MAX(version) FROM schema_migrations"), 1);
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM sqlite_master WHERE name = 'two'"), 0);
  EXPECT_EQ(raw.QueryInt("SELECT COUNT(*) FROM one"), 0);
}

TEST(SqliteStore, RenamedMigrationIsASchemaMismatch) {
  TempDir tmp;
  const std::string path = (tmp.path() / "t.db").string();
  std::vector<Migration> a = {{1, "one", "CREATE TABLE one (x INTEGER);"}};
  std::vector<Migration> b = {{1, "uno", "CREATE TABLE one (x INTEGER);"}};
  ASSERT_TRUE(sqlite::SqliteStore::Open(path, {.migrations = &a}));
  auto store = sqlite::SqliteStore::Open(path, {.migrations = &b});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, "schema_mismatch");
  EXPECT_THAT(store.error().message, HasSubstr("\"one\""));
  EXPECT_THAT(store.error().message, HasSubstr("\"uno\""));
}

TEST(SqliteStore, LockHeldTooLongIsStoreUnavailable) {
  TempDir tmp;
  const std::string path = (tmp.path() / "t.db").string();
  auto store = sqlite::SqliteStore::Open(path, {.busy_timeout_ms = 50});
  ASSERT_TRUE(store);
  RawDb other(path);
  ASSERT_EQ(other.Exec("BEGIN IMMEDIATE"), SQLITE_OK);
  auto r = (*store)->AppendAudit(AuditEntry{0, 1, "a", "b", "c", "{}"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "store_unavailable");
  EXPECT_THAT(r.error().hint, HasSubstr("locked"));
  EXPECT_TRUE((*store)->GetMattermostSettings()) << "readers are not blocked in WAL mode";
  ASSERT_EQ(other.Exec("COMMIT"), SQLITE_OK);
  EXPECT_TRUE((*store)->AppendAudit(AuditEntry{0, 1, "a", "b", "c", "{}"}));
}

// The product promise of ADR 0001: with synchronous=NORMAL an acknowledged commit survives the
// process being killed before it closes the database.
TEST(SqliteStore, CommittedWriteSurvivesKillDashNine) {
  TempDir tmp;
  const std::string path = (tmp.path() / "t.db").string();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto store = sqlite::SqliteStore::Open(path);
    const bool ok =
        store && (*store)->AppendAudit(AuditEntry{0, 1, "a", "acknowledged", "c", "{}"});
    if (!ok) ::_exit(3);
    ::kill(::getpid(), SIGKILL);  // no destructor, no close, no checkpoint
    ::_exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  auto store = sqlite::SqliteStore::Open(path);
  ASSERT_TRUE(store) << store.error().message;
  auto entries = (*store)->ListAudit(10, 0);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].action, "acknowledged");
}

TEST(SqliteStore, TwoConnectionsSeeEachOthersWrites) {
  TempDir tmp;
  const std::string path = (tmp.path() / "t.db").string();
  auto a = sqlite::SqliteStore::Open(path);
  auto b = sqlite::SqliteStore::Open(path);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE((*a)->CreateApiToken(ApiToken{"id1", "n", "admin", "h", 1},
                                   AuditEntry{0, 1, "a", "b", "c", "{}"}));
  auto found = (*b)->FindApiTokenByHash("h");
  ASSERT_TRUE(found && found->has_value());
}

// Reads use their own connection: inside a transaction (same thread) they neither wait for it
// nor see its uncommitted rows.
TEST(SqliteStore, ReadsDoNotWaitForAnOpenTransaction) {
  TempDir tmp;
  auto store = sqlite::SqliteStore::Open((tmp.path() / "t.db").string());
  ASSERT_TRUE(store);
  domain::Project p;
  p.name = "web";
  ASSERT_TRUE((*store)->CreateProject(p, AuditEntry{0, 1, "a", "b", "c", "{}"}));
  auto r = (*store)->Transact([&](IngestTx& tx) -> Result<void> {
    domain::Finding f;
    f.project = "web";
    f.fingerprint = "fp";
    if (auto saved = tx.SaveFinding(f); !saved) return Unexpected(saved.error());
    auto outside = (*store)->ListFindings({.project = "web"});
    EXPECT_TRUE(outside);
    if (outside) {
      EXPECT_TRUE(outside->empty()) << "not committed yet";
    }
    EXPECT_TRUE((*store)->GetMattermostSettings());
    return {};
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*store)->ListFindings({.project = "web"})->size(), 1u);
}

TEST(SqliteStore, AWriteFromInsideTransactFailsInsteadOfWaitingForItself) {
  TempDir tmp;
  auto store = sqlite::SqliteStore::Open((tmp.path() / "t.db").string());
  ASSERT_TRUE(store);
  Result<void> nested;
  auto r = (*store)->Transact([&](IngestTx&) -> Result<void> {
    nested = (*store)->AppendAudit(AuditEntry{0, 1, "a", "b", "c", "{}"});
    return {};
  });
  ASSERT_TRUE(r);
  ASSERT_FALSE(nested);
  EXPECT_EQ(nested.error().code, "internal");
  EXPECT_THAT(nested.error().message, HasSubstr("IngestTx"));
  EXPECT_TRUE((*store)->AppendAudit(AuditEntry{0, 1, "a", "b", "c", "{}"}));
}

// Checkpoints run off the commit path, yet keep the WAL bounded (ADR 0003).
TEST(SqliteStore, WalIsCheckpointedInTheBackgroundAndStaysBounded) {
  TempDir tmp;
  const fs::path path = tmp.path() / "t.db";
  auto store = sqlite::SqliteStore::Open(path.string(), {.checkpoint_pages = 4});
  ASSERT_TRUE(store);
  // ~2 WAL pages per commit: without checkpoints 300 commits make a WAL of ~2.4 MB.
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE((*store)->AppendAudit(AuditEntry{0, i, "a", "b", "c", std::string(100, 'x')}));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((*store)->BackgroundCheckpoints() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_GT((*store)->BackgroundCheckpoints(), 0);
  EXPECT_LT(fs::file_size(fs::path(path.string() + "-wal")), 1024u * 1024u);
  EXPECT_EQ((*store)->ListAudit(1000, 0)->size(), 300u);
}

}  // namespace
}  // namespace tocsin::store::testing
