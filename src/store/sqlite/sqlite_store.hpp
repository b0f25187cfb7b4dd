// store/sqlite/sqlite_store.hpp — the embedded Store: one SQLite file through SQLiteCpp.
//
// SqliteStore implements Store, PipelineStore and Outbox (pipeline() and outbox() return *this).
// Durability (docs/decisions/0001-sqlite-durability.md): WAL with synchronous=NORMAL by default,
// which survives a process crash or kill -9; FULL also survives power loss at a higher commit
// cost. Every write is one BEGIN IMMEDIATE transaction, so a writer takes the lock up front and
// waits (busy_timeout) instead of failing half-way on a lock upgrade. foreign_keys is on.
// Schema and the outbox's claim rule: docs/decisions/0003-outbox-schema.md.
// Threading: two connections, each behind its own mutex and each with its own cache of prepared
// statements. Every write (and Transact) runs on the write connection, one at a time; plain
// reads (settings, token lookups, lists, a channel's queue) run on a query_only read connection,
// so in WAL mode they never wait behind a long ingest transaction. A read therefore sees only
// committed data; inside Transact read through the IngestTx. WAL checkpoints run on a third
// connection in a background thread (store/sqlite/checkpointer.hpp), not inside commits.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/migration.hpp"
#include "store/pipeline.hpp"
#include "store/store.hpp"

namespace tocsin::store::sqlite {

struct Writer;
struct Reader;
class Checkpointer;

enum class Synchronous { kNormal, kFull };

struct SqliteOptions {
  Synchronous synchronous = Synchronous::kNormal;
  int busy_timeout_ms = 5000;
  // A background thread checkpoints the WAL once it holds this many pages (4 KiB each: 16 MiB);
  // the writer restarts it inline at 4 times that (store/sqlite/checkpointer.hpp). Every
  // checkpoint syncs the WAL and the database; at 1,000 pages the checkpoints of a busy
  // delivery engine cost 53 µs per post, at 4,000 15-30 µs (docs/performance.md). 0 = SQLite's
  // own autocheckpoint at 1000 pages, inside the commit that crosses it (slower; for comparison).
  int checkpoint_pages = 4000;
  // The schema to migrate to; nullptr = Migrations(). Tests pass their own lists.
  const std::vector<Migration>* migrations = nullptr;
};

class SqliteStore final : public Store, public PipelineStore, public Outbox {
 public:
  // Opens or creates the database file at `path` (creating a missing parent directory 0700 and a
  // new file 0600), sets the pragmas and applies missing migrations.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                   const SqliteOptions& options = {});
  ~SqliteStore() override;

  // Store
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
  PipelineStore& pipeline() override { return *this; }

  // PipelineStore
  Result<void> CreateProject(const domain::Project& project, const AuditEntry& audit) override;
  Result<std::optional<domain::Project>> GetProject(const std::string& name) override;
  Result<std::vector<domain::Project>> ListProjects(int limit, const std::string& after) override;
  Result<void> UpdateProject(const domain::Project& project, const AuditEntry& audit) override;
  Result<void> DeleteProject(const std::string& name, const AuditEntry& audit) override;
  Result<domain::ProjectLink> GetLink(const std::string& project) override;
  Result<void> SaveLink(const std::string& project, const domain::ProjectLink& link,
                        const AuditEntry& audit) override;
  Result<std::optional<domain::Finding>> GetFinding(int64_t id) override;
  Result<std::vector<domain::Finding>> ListFindings(const FindingFilter& filter) override;
  Result<std::vector<ScanRecord>> ListScans(const std::string& project, int limit,
                                            int64_t before_id) override;
  Result<void> Transact(const std::function<Result<void>(IngestTx&)>& fn) override;
  Outbox& outbox() override { return *this; }
  Result<std::string> InstallationId() override;

  // Outbox
  Result<std::vector<ClaimedChannel>> ClaimChannels(const std::string& owner, TimePoint now,
                                                    Millis lease, int max) override;
  Result<void> RenewLease(const std::string& channel, const std::string& owner, TimePoint now,
                          Millis lease) override;
  Result<void> ReleaseChannel(const std::string& channel, const std::string& owner) override;
  Result<std::vector<DeliveryRecord>> ChannelQueue(const std::string& channel, int limit) override;
  Result<std::optional<TimePoint>> NextDue() override;
  Result<void> MarkInDoubt(const std::vector<int64_t>& ids, TimePoint now) override;
  Result<void> MarkSent(const std::vector<int64_t>& ids, const std::string& post_id,
                        const std::string& channel_id, TimePoint now) override;
  Result<bool> RecordSent(const SentPost& sent) override;
  Result<bool> RecordSentAll(const std::vector<SentPost>& posts) override;
  Result<void> Reschedule(int64_t id, TimePoint next, bool count_attempt, const std::string& code,
                          const std::string& error, TimePoint now,
                          std::optional<TimePoint> in_doubt_since) override;
  Result<void> MarkFinal(int64_t id, domain::DeliveryState state, const std::string& code,
                         const std::string& error, TimePoint now) override;
  Result<std::optional<std::string>> GetThreadRoot(const std::string& project,
                                                   const std::string& thread_key,
                                                   const std::string& channel) override;
  Result<void> PutThreadRoot(const std::string& project, const std::string& thread_key,
                             const std::string& channel, const std::string& post_id) override;
  Result<std::vector<DeliveryRecord>> ListDeliveries(const DeliveryFilter& filter) override;
  Result<std::optional<DeliveryRecord>> GetDelivery(int64_t id) override;
  Result<std::optional<DeliveryRecord>> FindReplies(int64_t digest_id) override;
  Result<void> SaveRepliesProgress(int64_t id, int posted, int runes, TimePoint now) override;
  Result<std::vector<std::string>> DigestEvents(int64_t digest_id) override;
  Result<std::vector<DeliveryAttempt>> ListAttempts(int64_t delivery_id) override;
  Result<bool> Retry(int64_t id, TimePoint now, TimePoint new_expiry,
                     const AuditEntry& audit) override;
  Result<std::array<int64_t, 5>> CountByState() override;

  // The newest applied migration.
  Result<int64_t> SchemaVersion();
  // WAL checkpoints the background thread completed (0 when checkpoint_pages is 0).
  int64_t BackgroundCheckpoints() const;
  // Group commit, as seen from outside (tests): RecordSent calls committed in a transaction
  // shared with another; calls queued for the next transaction; whether one is committing.
  int64_t RecordsCommittedTogether() const { return records_together_.load(); }
  size_t RecordsWaiting();
  bool RecordBeingCommitted();
  const std::string& path() const { return path_; }

 private:
  SqliteStore(std::string path, std::unique_ptr<Checkpointer> checkpointer,
              std::unique_ptr<Writer> writer, std::unique_ptr<Reader> reader);

  std::string path_;
  std::unique_ptr<Checkpointer> checkpointer_;  // outlives writer_, whose WAL hook points at it
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<Reader> reader_;

  // Group commit of RecordSent: the senders' records that arrive while one is being committed
  // wait, and the next of them to run takes them all into one transaction, each in its own
  // savepoint (a record that fails takes only itself back). Every call still returns only
  // after its own commit, so nothing about crash safety changes; what is shared is the
  // transaction's fixed cost (BEGIN, COMMIT, the WAL frames of pages several records touch).
  struct PendingSent;
  void RecordSentTogether(const std::vector<PendingSent*>& batch);
  std::mutex sent_mu_;
  std::condition_variable sent_cv_;
  std::vector<PendingSent*> sent_queue_;  // waiting for the next transaction
  bool sent_leader_ = false;              // a caller is committing a batch now
  std::atomic<int64_t> records_together_{0};

  std::mutex installation_id_mu_;
  std::string installation_id_;  // cached once read or made
};

}  // namespace tocsin::store::sqlite
