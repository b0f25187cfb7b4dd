// SqliteStore: the delivery outbox (claims and leases, queues, outcomes, the delivery log).
// The claim rule and the indexes behind it: docs/decisions/0003-outbox-schema.md.
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "store/sqlite/connection.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace tocsin::store::sqlite {
namespace {

using domain::DeliveryState;

int64_t Ms(TimePoint t) { return ToUnixMillis(t); }

// ---- reading deliveries ----

// A delivery in doubt is stored as 'pending' with in_doubt_since set and read as 'sending':
// marking one in doubt before every send then rewrites one row, not the two indexes that hold
// its state (docs/decisions/0003-outbox-schema.md). Migration 4 turned the rows written as
// 'sending' before into that form.
#define TOCSIN_DELIVERY_STATE \
  "CASE WHEN d.state = 'pending' AND d.in_doubt_since IS NOT NULL THEN 'sending' ELSE d.state END"

// A macro so the statements below stay string literals (their addresses key the statement
// cache). Followed by the FROM clause: deliveries d [INDEXED BY ...] LEFT JOIN events e.
#define TOCSIN_DELIVERY_COLUMNS                                                               \
  "d.id, d.project, d.channel, d.kind, d.event_seq, d.event_type, d.thread_key, d.severity, " \
  "d.digest_threshold, d.baseline_full, " TOCSIN_DELIVERY_STATE ", d.attempts, d.created_at, "   \
  "d.updated_at, "                                                                            \
  "d.next_attempt_at, d.expires_at, d.last_error, d.last_error_code, d.post_id, "             \
  "d.channel_id, d.digest_id, d.in_doubt_since, COALESCE(e.body_json, ''), "                  \
  "d.replies_posted, d.replies_runes "
#define TOCSIN_JOIN_EVENTS "LEFT JOIN events e ON e.seq = d.event_seq "

Result<DeliveryRecord> ReadDelivery(SQLite::Statement& st) {
  DeliveryRecord d;
  d.id = st.getColumn(0).getInt64();
  d.project = st.getColumn(1).getString();
  d.channel = st.getColumn(2).getString();
  d.kind = st.getColumn(3).getString();
  d.event_seq = st.getColumn(4).isNull() ? 0 : st.getColumn(4).getInt64();
  const std::string type = st.getColumn(5).getString();
  auto parsed_type = domain::ParseEventType(type);
  const std::string state = st.getColumn(10).getString();
  auto parsed_state = domain::ParseDeliveryState(state);
  if (!parsed_type || !parsed_state) {
    return Fail(
        "store_unavailable",
        fmt::format("delivery {} has an unknown event type '{}' or state '{}'", d.id, type, state),
        "the database was written by a newer tocsin");
  }
  d.event_type = *parsed_type;
  d.thread_key = st.getColumn(6).getString();
  if (!st.getColumn(7).isNull()) {
    d.severity = static_cast<domain::Severity>(st.getColumn(7).getInt());  // CHECKed 0..4
  }
  d.digest_threshold = st.getColumn(8).getInt();
  d.baseline_full = st.getColumn(9).getInt() != 0;
  d.state = *parsed_state;
  d.attempts = st.getColumn(11).getInt();
  d.created_at = FromUnixMillis(st.getColumn(12).getInt64());
  d.updated_at = FromUnixMillis(st.getColumn(13).getInt64());
  d.next_attempt_at = FromUnixMillis(st.getColumn(14).getInt64());
  d.expires_at = FromUnixMillis(st.getColumn(15).getInt64());
  d.last_error = st.getColumn(16).getString();
  d.last_error_code = st.getColumn(17).getString();
  d.post_id = st.getColumn(18).getString();
  d.channel_id = st.getColumn(19).getString();
  d.digest_id = st.getColumn(20).getInt64();
  if (!st.getColumn(21).isNull()) d.in_doubt_since = FromUnixMillis(st.getColumn(21).getInt64());
  d.event_body_json = st.getColumn(22).getString();
  d.replies_posted = st.getColumn(23).getInt();
  d.replies_runes = st.getColumn(24).getInt();
  return d;
}

Result<std::vector<DeliveryRecord>> ReadDeliveries(Query& q) {
  std::vector<DeliveryRecord> out;
  while (q->executeStep()) {
    auto d = ReadDelivery(*q);
    if (!d) return Unexpected(d.error());
    out.push_back(std::move(*d));
  }
  return out;
}

// The first row of a query over TOCSIN_DELIVERY_COLUMNS, if any.
Result<std::optional<DeliveryRecord>> ReadFirstDelivery(Query& q) {
  if (!q->executeStep()) return std::optional<DeliveryRecord>{};
  auto d = ReadDelivery(*q);
  if (!d) return Unexpected(d.error());
  return std::optional<DeliveryRecord>(std::move(*d));
}

// ---- queue heads ----

// One row per channel that has undelivered deliveries: its head (oldest undelivered) and its
// lease. The channels are enumerated by skipping through deliveries_queue (a partial index of
// undelivered rows by channel, id), one seek per channel, and each head is one more seek, so the
// cost follows the number of channels with work, not the backlog.
constexpr char kHeadsSql[] = R"sql(
WITH RECURSIVE channels (name) AS (
  SELECT (SELECT channel FROM deliveries INDEXED BY deliveries_queue
          WHERE state IN ('pending', 'sending') ORDER BY channel LIMIT 1)
  UNION ALL
  SELECT (SELECT channel FROM deliveries INDEXED BY deliveries_queue
          WHERE state IN ('pending', 'sending') AND channel > channels.name
          ORDER BY channel LIMIT 1)
  FROM channels WHERE channels.name IS NOT NULL
)
SELECT c.name, h.id, h.in_doubt_since IS NOT NULL, h.next_attempt_at, h.updated_at, l.owner,
       l.lease_until, l.held_since
FROM channels c
JOIN deliveries h ON h.id = (SELECT id FROM deliveries INDEXED BY deliveries_queue
                             WHERE channel = c.name AND state IN ('pending', 'sending')
                             ORDER BY id LIMIT 1)
LEFT JOIN channel_leases l ON l.channel = c.name
WHERE c.name IS NOT NULL
)sql";

struct Head {
  std::string channel;
  int64_t id = 0;
  bool in_doubt = false;  // read as 'sending' (in_doubt_since set)
  int64_t next_attempt_at = 0;
  int64_t updated_at = 0;
  std::optional<std::string> lease_owner;
  int64_t lease_until = 0;
  int64_t held_since = 0;  // the lease row's; 0 = unknown (written before migration 5)

  // When ClaimChannels may take it, leases of pending heads aside (see Outbox::NextDue).
  int64_t ReadyAt() const {
    if (!in_doubt) return next_attempt_at;
    return lease_owner ? lease_until : updated_at;
  }
};

std::vector<Head> SelectHeads(Connection& c) {
  Query q(c, kHeadsSql);
  std::vector<Head> heads;
  while (q->executeStep()) {
    Head h;
    h.channel = q->getColumn(0).getString();
    h.id = q->getColumn(1).getInt64();
    h.in_doubt = q->getColumn(2).getInt() != 0;
    h.next_attempt_at = q->getColumn(3).getInt64();
    h.updated_at = q->getColumn(4).getInt64();
    if (!q->getColumn(5).isNull()) {
      h.lease_owner = q->getColumn(5).getString();
      h.lease_until = q->getColumn(6).getInt64();
      h.held_since = q->getColumn(7).getInt64();
    }
    heads.push_back(std::move(h));
  }
  return heads;
}

// ---- recording outcomes ----

// Why an outcome could not be recorded on `id`: unknown, or no longer undelivered.
Unexpected NotUndelivered(Connection& c, int64_t id) {
  Query q(c, "SELECT state FROM deliveries WHERE id = ?");
  q->bind(1, static_cast<int64_t>(id));
  if (!q->executeStep()) return Fail("not_found", fmt::format("no delivery with id {}", id));
  return Fail("conflict",
              fmt::format("delivery {} is already {}; its outcome was recorded before", id,
                          q->getColumn(0).getString()),
              "the channel's lease was probably lost; stop working on it");
}

void AppendAttempt(Connection& c, int64_t id, TimePoint at, const std::string& code,
                   const std::string& error) {
  Query q(c, "INSERT INTO delivery_attempts (delivery_id, at, code, error) VALUES (?, ?, ?, ?)");
  q->bind(1, static_cast<int64_t>(id));
  q->bind(2, Ms(at));
  q->bind(3, code);
  q->bind(4, error);
  q.Exec();
}

}  // namespace

// ---- claims and leases ----

Result<std::vector<ClaimedChannel>> SqliteStore::ClaimChannels(const std::string& owner,
                                                               TimePoint now, Millis lease,
                                                               int max) {
  return Write(*writer_, path_, "claiming channels",
               [&](Connection& c) -> Result<std::vector<ClaimedChannel>> {
                 std::vector<ClaimedChannel> claimed;
                 if (max <= 0) return claimed;
                 const int64_t now_ms = Ms(now);
                 std::vector<Head> heads = SelectHeads(c);
                 std::erase_if(heads, [&](const Head& h) {
                   const bool live = h.lease_owner && h.lease_until > now_ms;
                   if (live && *h.lease_owner != owner) return true;  // someone else's
                   if (h.in_doubt) return live;  // its sender may still be at it
                   return h.next_attempt_at > now_ms;
                 });
                 std::sort(heads.begin(), heads.end(), [](const Head& a, const Head& b) {
                   return std::pair(a.ReadyAt(), a.id) < std::pair(b.ReadyAt(), b.id);
                 });
                 if (heads.size() > static_cast<size_t>(max)) heads.resize(max);
                 for (const auto& h : heads) {
                   // held_since stays what it was when the row is taken over: the old
                   // holder's unrecorded send, if any, is no older than that.
                   Query q(c,
                           "INSERT INTO channel_leases (channel, owner, lease_until, held_since) "
                           "VALUES (?, ?, ?, ?) ON CONFLICT (channel) DO UPDATE SET "
                           "owner = excluded.owner, lease_until = excluded.lease_until");
                   q->bind(1, h.channel);
                   q->bind(2, owner);
                   q->bind(3, now_ms + lease.count());
                   q->bind(4, now_ms);
                   q.Exec();
                   ClaimedChannel claim{h.channel, std::nullopt};
                   if (h.lease_owner) claim.unreleased_since = FromUnixMillis(h.held_since);
                   claimed.push_back(std::move(claim));
                 }
                 return claimed;
               });
}

Result<void> SqliteStore::RenewLease(const std::string& channel, const std::string& owner,
                                     TimePoint now, Millis lease) {
  return Write(*writer_, path_, "renewing a channel lease", [&](Connection& c) -> Result<void> {
    Query q(c, "UPDATE channel_leases SET lease_until = ? WHERE channel = ? AND owner = ?");
    q->bind(1, Ms(now) + lease.count());
    q->bind(2, channel);
    q->bind(3, owner);
    if (q.Exec() == 0) {
      return Fail("conflict",
                  fmt::format("the lease on channel {} is not held by {}", channel, owner),
                  "another instance took the channel over; stop working on it");
    }
    return Ok();
  });
}

Result<void> SqliteStore::ReleaseChannel(const std::string& channel, const std::string& owner) {
  return Write(*writer_, path_, "releasing a channel lease", [&](Connection& c) -> Result<void> {
    Query q(c, "DELETE FROM channel_leases WHERE channel = ? AND owner = ?");
    q->bind(1, channel);
    q->bind(2, owner);
    q.Exec();
    return Ok();
  });
}

Result<std::vector<DeliveryRecord>> SqliteStore::ChannelQueue(const std::string& channel,
                                                              int limit) {
  return Read(*reader_, path_, "reading a channel's queue",
              [&](Connection& c) -> Result<std::vector<DeliveryRecord>> {
                if (limit <= 0) return std::vector<DeliveryRecord>{};
                Query q(c, "SELECT " TOCSIN_DELIVERY_COLUMNS
                           "FROM deliveries d INDEXED BY deliveries_queue " TOCSIN_JOIN_EVENTS
                           "WHERE d.channel = ? "
                           "AND d.state IN ('pending', 'sending') ORDER BY d.id LIMIT ?");
                q->bind(1, channel);
                q->bind(2, limit);
                return ReadDeliveries(q);
              });
}

Result<std::optional<TimePoint>> SqliteStore::NextDue() {
  return Read(*reader_, path_, "finding the next due delivery",
              [&](Connection& c) -> Result<std::optional<TimePoint>> {
                std::optional<int64_t> earliest;
                for (const auto& h : SelectHeads(c)) {
                  if (!earliest || h.ReadyAt() < *earliest) earliest = h.ReadyAt();
                }
                if (!earliest) return std::optional<TimePoint>{};
                return std::optional<TimePoint>(FromUnixMillis(*earliest));
              });
}

// ---- outcomes ----

Result<void> SqliteStore::MarkInDoubt(const std::vector<int64_t>& ids, TimePoint now) {
  return Write(*writer_, path_, "marking deliveries in doubt", [&](Connection& c) -> Result<void> {
    for (int64_t id : ids) {
      Query q(c,
              "UPDATE deliveries SET in_doubt_since = ?1, updated_at = ?1 "
              "WHERE id = ?2 AND state IN ('pending', 'sending')");
      q->bind(1, Ms(now));
      q->bind(2, static_cast<int64_t>(id));
      if (q.Exec() == 0) return NotUndelivered(c, id);
    }
    return Ok();
  });
}

namespace {

Result<void> MarkSentIn(Connection& c, const std::vector<int64_t>& ids, const std::string& post_id,
                        const std::string& channel_id, TimePoint now) {
  if (ids.empty()) return Fail("invalid_request", "MarkSent needs at least one delivery id");
  const int64_t digest_id = ids.size() > 1 ? ids.front() : 0;
  for (int64_t id : ids) {
    Query q(c,
            "UPDATE deliveries SET state = 'sent', post_id = ?1, channel_id = ?2, "
            "digest_id = CASE WHEN ?3 <> 0 THEN ?3 ELSE digest_id END, attempts = attempts + 1, "
            "in_doubt_since = NULL, updated_at = ?4 "
            "WHERE id = ?5 AND state IN ('pending', 'sending')");
    q->bind(1, post_id);
    q->bind(2, channel_id);
    q->bind(3, static_cast<int64_t>(digest_id));
    q->bind(4, Ms(now));
    q->bind(5, static_cast<int64_t>(id));
    if (q.Exec() == 0) return NotUndelivered(c, id);
    // No delivery_attempts row: ListAttempts reads the "sent" entry off the delivery itself
    // (state, updated_at), which saves a table and an index write per post.
  }
  return Ok();
}

void PutThreadRootIn(Connection& c, const std::string& project, const std::string& thread_key,
                     const std::string& channel, const std::string& post_id) {
  Query q(c,
          "INSERT INTO thread_roots (project, thread_key, channel, post_id) VALUES (?, ?, ?, ?) "
          "ON CONFLICT (project, thread_key, channel) DO UPDATE SET post_id = excluded.post_id");
  q->bind(1, project);
  q->bind(2, thread_key);
  q->bind(3, channel);
  q->bind(4, post_id);
  q.Exec();
}

// RecordSent's writes in the caller's transaction; true when the lease was released.
Result<bool> RecordSentIn(Connection& c, const SentPost& sent) {
  if (auto marked = MarkSentIn(c, sent.ids, sent.post_id, sent.channel_id, sent.now); !marked) {
    return Unexpected(marked.error());
  }
  if (sent.root_thread_key) {
    PutThreadRootIn(c, sent.project, *sent.root_thread_key, sent.channel_id, sent.post_id);
  }
  for (const auto& [project, thread_key] : sent.listed) {
    Query q(c,
            "INSERT INTO thread_roots (project, thread_key, channel, post_id) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (project, thread_key, channel) DO NOTHING");
    q->bind(1, project);
    q->bind(2, thread_key);
    q->bind(3, sent.channel_id);
    q->bind(4, sent.post_id);
    q.Exec();
  }
  if (sent.replies) {
    // At the end of the channel's queue; its poster goes on with it at once (outbox/stages).
    const RepliesOwed& r = *sent.replies;
    Query q(c,
            "INSERT INTO deliveries (project, channel, kind, event_seq, event_type, state, "
            "created_at, updated_at, next_attempt_at, expires_at, digest_id, replies_runes) "
            "VALUES (?1, ?2, 'replies', ?3, 'vulnerability.new', 'pending', ?4, ?4, ?4, ?5, ?6, "
            "?7)");
    q->bind(1, sent.project);
    q->bind(2, r.channel);
    q->bind(3, static_cast<int64_t>(r.event_seq));
    q->bind(4, Ms(sent.now));
    q->bind(5, Ms(r.expires_at));
    q->bind(6, static_cast<int64_t>(sent.ids.front()));
    q->bind(7, r.runes);
    q.Exec();
  }
  if (sent.release_owner.empty()) return false;
  // Inside the write transaction: a delivery queued after this commit wakes the dispatcher,
  // which finds the channel free to claim.
  Query rest(c,
             "SELECT 1 FROM deliveries INDEXED BY deliveries_queue "
             "WHERE channel = ? AND state IN ('pending', 'sending') LIMIT 1");
  rest->bind(1, sent.channel);
  if (rest->executeStep()) return false;
  Query release(c, "DELETE FROM channel_leases WHERE channel = ? AND owner = ?");
  release->bind(1, sent.channel);
  release->bind(2, sent.release_owner);
  release.Exec();
  return true;
}

}  // namespace

Result<void> SqliteStore::MarkSent(const std::vector<int64_t>& ids, const std::string& post_id,
                                   const std::string& channel_id, TimePoint now) {
  return Write(*writer_, path_, "recording a sent delivery",
               [&](Connection& c) { return MarkSentIn(c, ids, post_id, channel_id, now); });
}

struct SqliteStore::PendingSent {
  const SentPost* sent = nullptr;
  Result<bool> result = false;
  bool done = false;
};

Result<bool> SqliteStore::RecordSent(const SentPost& sent) {
  PendingSent me{&sent};
  std::unique_lock lock(sent_mu_);
  sent_queue_.push_back(&me);
  while (!me.done) {
    if (sent_leader_) {
      sent_cv_.wait(lock);  // a batch is being committed; ours may be in it, or next
      continue;
    }
    sent_leader_ = true;
    std::vector<PendingSent*> batch;
    batch.swap(sent_queue_);
    lock.unlock();
    RecordSentTogether(batch);
    lock.lock();
    for (PendingSent* p : batch) p->done = true;
    sent_leader_ = false;
    sent_cv_.notify_all();
  }
  return std::move(me.result);
}

Result<bool> SqliteStore::RecordSentAll(const std::vector<SentPost>& posts) {
  if (posts.empty()) return false;
  return Write(*writer_, path_, "recording sent deliveries", [&](Connection& c) -> Result<bool> {
    Result<bool> last = false;
    for (const SentPost& sent : posts) {
      last = RecordSentIn(c, sent);
      if (!last) return last;  // rolls the whole batch back
    }
    return last;
  });
}

size_t SqliteStore::RecordsWaiting() {
  std::lock_guard lock(sent_mu_);
  return sent_queue_.size();
}

bool SqliteStore::RecordBeingCommitted() {
  std::lock_guard lock(sent_mu_);
  return sent_leader_;
}

void SqliteStore::RecordSentTogether(const std::vector<PendingSent*>& batch) {
  if (batch.size() == 1) {
    batch.front()->result = Write(*writer_, path_, "recording a sent delivery", [&](Connection& c) {
      return RecordSentIn(c, *batch.front()->sent);
    });
    return;
  }
  auto written =
      Write(*writer_, path_, "recording sent deliveries", [&](Connection& c) -> Result<void> {
        for (PendingSent* p : batch) {
          Query(c, "SAVEPOINT record_sent")->exec();
          p->result = Guarded(path_, "recording a sent delivery",
                              [&] { return RecordSentIn(c, *p->sent); });
          if (!p->result) Query(c, "ROLLBACK TO record_sent")->exec();
          Query(c, "RELEASE record_sent")->exec();
        }
        return Ok();
      });
  if (!written) {
    for (PendingSent* p : batch) p->result = Unexpected(written.error());
    return;
  }
  records_together_ += static_cast<int64_t>(batch.size());
}

Result<void> SqliteStore::Reschedule(int64_t id, TimePoint next, bool count_attempt,
                                     const std::string& code, const std::string& error,
                                     TimePoint now, std::optional<TimePoint> in_doubt_since) {
  return Write(*writer_, path_, "rescheduling a delivery", [&](Connection& c) -> Result<void> {
    Query q(c,
            "UPDATE deliveries SET state = 'pending', next_attempt_at = ?1, "
            "attempts = attempts + ?2, last_error = ?3, last_error_code = ?4, "
            "in_doubt_since = CASE WHEN ?7 IS NULL THEN NULL "
            "ELSE COALESCE(in_doubt_since, ?7) END, updated_at = ?5 "
            "WHERE id = ?6 AND state IN ('pending', 'sending')");
    q->bind(1, Ms(next));
    q->bind(2, count_attempt ? 1 : 0);
    q->bind(3, error);
    q->bind(4, code);
    q->bind(5, Ms(now));
    q->bind(6, static_cast<int64_t>(id));
    if (in_doubt_since) {
      q->bind(7, Ms(*in_doubt_since));
    } else {
      q->bind(7);  // NULL
    }
    if (q.Exec() == 0) return NotUndelivered(c, id);
    AppendAttempt(c, id, now, code, error);
    return Ok();
  });
}

Result<void> SqliteStore::MarkFinal(int64_t id, DeliveryState state, const std::string& code,
                                    const std::string& error, TimePoint now) {
  if (state != DeliveryState::kFailed && state != DeliveryState::kDead) {
    return Fail("invalid_request",
                fmt::format("MarkFinal takes failed or dead, not {}", domain::Name(state)));
  }
  return Write(*writer_, path_, "recording a final delivery outcome",
               [&](Connection& c) -> Result<void> {
                 Query q(c,
                         "UPDATE deliveries SET state = ?1, attempts = attempts + 1, "
                         "last_error = ?2, last_error_code = ?3, in_doubt_since = NULL, "
                         "updated_at = ?4 WHERE id = ?5 AND state IN ('pending', 'sending')");
                 q->bind(1, std::string(domain::Name(state)));
                 q->bind(2, error);
                 q->bind(3, code);
                 q->bind(4, Ms(now));
                 q->bind(5, static_cast<int64_t>(id));
                 if (q.Exec() == 0) return NotUndelivered(c, id);
                 AppendAttempt(c, id, now, code, error);
                 return Ok();
               });
}

// ---- thread roots ----

Result<std::optional<std::string>> SqliteStore::GetThreadRoot(const std::string& project,
                                                              const std::string& thread_key,
                                                              const std::string& channel) {
  return Read(*reader_, path_, "reading a thread root",
              [&](Connection& c) -> Result<std::optional<std::string>> {
                Query q(c,
                        "SELECT post_id FROM thread_roots "
                        "WHERE project = ? AND thread_key = ? AND channel = ?");
                q->bind(1, project);
                q->bind(2, thread_key);
                q->bind(3, channel);
                if (!q->executeStep()) return std::optional<std::string>{};
                return std::optional<std::string>(q->getColumn(0).getString());
              });
}

Result<void> SqliteStore::PutThreadRoot(const std::string& project, const std::string& thread_key,
                                        const std::string& channel, const std::string& post_id) {
  return Write(*writer_, path_, "saving a thread root", [&](Connection& c) -> Result<void> {
    PutThreadRootIn(c, project, thread_key, channel, post_id);
    return Ok();
  });
}

// ---- the delivery log ----

Result<std::vector<DeliveryRecord>> SqliteStore::ListDeliveries(const DeliveryFilter& filter) {
  return Read(*reader_, path_, "listing deliveries",
              [&](Connection& c) -> Result<std::vector<DeliveryRecord>> {
                if (filter.limit <= 0) return std::vector<DeliveryRecord>{};
                // One statement per filter shape, so each can use an index for "newest first
                // below before_id": the rowid for no filter and for 'sent' (most rows are), the
                // partial index deliveries_unsent (state, id) for the other states (its WHERE
                // term must be in the query for SQLite to use it), (project, id) with a project.
                // ?5 tells 'pending' (0) from 'sending' (1) among the rows stored as 'pending'.
#define TOCSIN_UNSENT                                 \
  "d.state = ?3 AND d.state <> 'sent' AND (?5 IS NULL " \
  "OR (d.in_doubt_since IS NOT NULL) = ?5) AND "
                static constexpr const char* kSql[6] = {
                    "SELECT " TOCSIN_DELIVERY_COLUMNS "FROM deliveries d " TOCSIN_JOIN_EVENTS
                    "WHERE d.id < ?1 ORDER BY d.id DESC LIMIT ?2",
                    "SELECT " TOCSIN_DELIVERY_COLUMNS "FROM deliveries d " TOCSIN_JOIN_EVENTS
                    "WHERE d.state = 'sent' AND d.id < ?1 ORDER BY d.id DESC LIMIT ?2",
                    "SELECT " TOCSIN_DELIVERY_COLUMNS "FROM deliveries d " TOCSIN_JOIN_EVENTS
                    "WHERE " TOCSIN_UNSENT "d.id < ?1 ORDER BY d.id DESC LIMIT ?2",
                    "SELECT " TOCSIN_DELIVERY_COLUMNS "FROM deliveries d " TOCSIN_JOIN_EVENTS
                    "WHERE d.project = ?4 AND d.id < ?1 ORDER BY d.id DESC LIMIT ?2",
                    "SELECT " TOCSIN_DELIVERY_COLUMNS "FROM deliveries d " TOCSIN_JOIN_EVENTS
                    "WHERE d.state = 'sent' AND d.project = ?4 AND d.id < ?1 "
                    "ORDER BY d.id DESC LIMIT ?2",
                    "SELECT " TOCSIN_DELIVERY_COLUMNS "FROM deliveries d " TOCSIN_JOIN_EVENTS
                    "WHERE " TOCSIN_UNSENT "d.project = ?4 AND d.id < ?1 "
                    "ORDER BY d.id DESC LIMIT ?2",
                };
#undef TOCSIN_UNSENT
                using domain::DeliveryState;
                const int by_state = !filter.state                           ? 0
                                     : *filter.state == DeliveryState::kSent ? 1
                                                                             : 2;
                Query q(c, kSql[by_state + (filter.project ? 3 : 0)]);
                q->bind(1, filter.before_id > 0 ? static_cast<int64_t>(filter.before_id)
                                                : std::numeric_limits<int64_t>::max());
                q->bind(2, filter.limit);
                if (by_state == 2) {
                  const bool sending = *filter.state == DeliveryState::kSending;
                  const bool pending = *filter.state == DeliveryState::kPending;
                  q->bind(3, sending ? std::string("pending")
                                     : std::string(domain::Name(*filter.state)));
                  if (sending || pending) q->bind(5, sending ? 1 : 0);
                }
                if (filter.project) q->bind(4, *filter.project);
                return ReadDeliveries(q);
              });
}

Result<std::optional<DeliveryRecord>> SqliteStore::GetDelivery(int64_t id) {
  return Read(*reader_, path_, "reading a delivery",
              [&](Connection& c) -> Result<std::optional<DeliveryRecord>> {
                Query q(c, "SELECT " TOCSIN_DELIVERY_COLUMNS "FROM deliveries d " TOCSIN_JOIN_EVENTS
                           "WHERE d.id = ?");
                q->bind(1, static_cast<int64_t>(id));
                return ReadFirstDelivery(q);
              });
}

// FindReplies and DigestEvents repeat the partial index's own term (digest_id <> 0): SQLite uses
// a partial index only for a query whose WHERE names that term.
Result<std::optional<DeliveryRecord>> SqliteStore::FindReplies(int64_t digest_id) {
  return Read(*reader_, path_, "reading a digest's replies",
              [&](Connection& c) -> Result<std::optional<DeliveryRecord>> {
                Query q(c, "SELECT " TOCSIN_DELIVERY_COLUMNS
                           "FROM deliveries d INDEXED BY deliveries_by_digest " TOCSIN_JOIN_EVENTS
                           "WHERE d.digest_id = ? AND d.digest_id <> 0 AND d.kind = 'replies' "
                           "AND d.state IN ('pending', 'sending') ORDER BY d.id LIMIT 1");
                q->bind(1, static_cast<int64_t>(digest_id));
                return ReadFirstDelivery(q);
              });
}

Result<void> SqliteStore::SaveRepliesProgress(int64_t id, int posted, int runes, TimePoint now) {
  return Write(*writer_, path_, "recording a digest's replies", [&](Connection& c) -> Result<void> {
    Query q(c,
            "UPDATE deliveries SET replies_posted = ?1, replies_runes = ?2, updated_at = ?3 "
            "WHERE id = ?4 AND state IN ('pending', 'sending')");
    q->bind(1, posted);
    q->bind(2, runes);
    q->bind(3, Ms(now));
    q->bind(4, static_cast<int64_t>(id));
    if (q.Exec() == 0) return NotUndelivered(c, id);
    return Ok();
  });
}

Result<std::vector<std::string>> SqliteStore::DigestEvents(int64_t digest_id) {
  return Read(
      *reader_, path_, "reading a digest's events",
      [&](Connection& c) -> Result<std::vector<std::string>> {
        Query q(c,
                "SELECT COALESCE(e.body_json, '') "
                "FROM deliveries d INDEXED BY deliveries_by_digest " TOCSIN_JOIN_EVENTS
                "WHERE d.digest_id = ? AND d.digest_id <> 0 AND d.kind = 'event' ORDER BY d.id");
        q->bind(1, static_cast<int64_t>(digest_id));
        std::vector<std::string> bodies;
        while (q->executeStep()) bodies.push_back(q->getColumn(0).getString());
        return bodies;
      });
}

Result<std::vector<DeliveryAttempt>> SqliteStore::ListAttempts(int64_t delivery_id) {
  return Read(*reader_, path_, "reading a delivery's attempts",
              [&](Connection& c) -> Result<std::vector<DeliveryAttempt>> {
                // The recorded outcomes, then a sent delivery's "sent" (MarkSent writes no
                // row for it: the delivery's state and updated_at are that entry).
                Query q(c,
                        "SELECT delivery_id, at, code, error FROM ("
                        "SELECT delivery_id, at, code, error, id AS k FROM delivery_attempts "
                        "WHERE delivery_id = ?1 "
                        "UNION ALL SELECT id, updated_at, 'sent', '', 9223372036854775807 "
                        "FROM deliveries WHERE id = ?1 AND state = 'sent') ORDER BY k");
                q->bind(1, static_cast<int64_t>(delivery_id));
                std::vector<DeliveryAttempt> out;
                while (q->executeStep()) {
                  DeliveryAttempt a;
                  a.delivery_id = q->getColumn(0).getInt64();
                  a.at = FromUnixMillis(q->getColumn(1).getInt64());
                  a.code = q->getColumn(2).getString();
                  a.error = q->getColumn(3).getString();
                  out.push_back(std::move(a));
                }
                return out;
              });
}

Result<bool> SqliteStore::Retry(int64_t id, TimePoint now, TimePoint new_expiry,
                                const AuditEntry& audit) {
  return Write(*writer_, path_, "retrying a delivery", [&](Connection& c) -> Result<bool> {
    Query q(c,
            "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?1, "
            "expires_at = ?2, in_doubt_since = NULL, updated_at = ?1 "
            "WHERE id = ?3 AND state IN ('failed', 'dead')");
    q->bind(1, Ms(now));
    q->bind(2, Ms(new_expiry));
    q->bind(3, static_cast<int64_t>(id));
    if (q.Exec() == 0) return false;
    InsertAudit(c, audit);
    return true;
  });
}

Result<std::array<int64_t, 5>> SqliteStore::CountByState() {
  return Read(*reader_, path_, "counting deliveries",
              [&](Connection& c) -> Result<std::array<int64_t, 5>> {
                // The unsent rows through their partial index, the sent ones as the rest of
                // COUNT(*) (which SQLite answers from its narrowest index): no pass over the
                // table's rows, which grow with every post (this runs every 5 s).
                Query total(c, "SELECT COUNT(*) FROM deliveries");
                total->executeStep();
                int64_t sent = total->getColumn(0).getInt64();
                Query q(c, "SELECT " TOCSIN_DELIVERY_STATE
                           " AS s, COUNT(*) "
                           "FROM deliveries d INDEXED BY deliveries_unsent "
                           "WHERE d.state <> 'sent' GROUP BY s");
                std::array<int64_t, 5> counts{};
                while (q->executeStep()) {
                  auto state = domain::ParseDeliveryState(q->getColumn(0).getString());
                  if (state) counts[static_cast<int>(*state)] = q->getColumn(1).getInt64();
                  sent -= q->getColumn(1).getInt64();
                }
                counts[static_cast<int>(domain::DeliveryState::kSent)] = sent;
                return counts;
              });
}

#undef TOCSIN_JOIN_EVENTS
#undef TOCSIN_DELIVERY_COLUMNS
#undef TOCSIN_DELIVERY_STATE

}  // namespace tocsin::store::sqlite
