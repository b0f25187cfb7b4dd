// store/pipeline.hpp — the persistence of the event pipeline: projects and their Mattermost
// links, findings, events, and the delivery outbox (SPEC §1, §4, §9).
//
// Two halves:
// - IngestTx: one open write transaction in which an accepted event, the finding changes it
//   implies and its deliveries are written together (the transactional outbox). Obtained only
//   through PipelineStore::Transact, which commits when the callback succeeds and rolls back
//   otherwise.
// - Outbox: what the delivery workers need — claim a channel (lease), read its queue in order,
//   record each outcome. Per-channel order is the store's invariant: a channel's deliveries are
//   handed out oldest first, and a channel is leased to one worker (one instance) at a time.
//   Leases expire, so an instance that dies mid-delivery has its channels picked up by others.
//
// Delivery states: pending → (MarkInDoubt, or Reschedule with a mark) sending → sent | pending
// (Reschedule) | failed | dead (MarkFinal); failed/dead → pending by hand (Retry).
// "Undelivered" = pending or sending; a channel's queue is its undelivered deliveries by id, and
// only its head is ever worked on.
// `attempts` counts the sends that got an outcome: MarkSent and MarkFinal add one, Reschedule
// one when count_attempt; each outcome also appends a DeliveryAttempt (the history).
//
// Errors as in store.hpp: "not_found" for an unknown id (or project, on insert), "conflict" for
// a duplicate or for an outcome recorded on a delivery that is no longer undelivered,
// "store_unavailable" for I/O. Times are unix milliseconds in the database; here TimePoints.
// Threading: every method may be called from any thread; see SqliteStore for how it serialises.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "domain/types.hpp"
#include "store/store.hpp"

namespace tocsin::store {

// Open findings per severity, indexed by static_cast<int>(domain::Severity).
using OpenCounts = std::array<int64_t, 5>;

struct StoredEvent {
  int64_t seq = 0;                 // assigned by the store
  std::optional<std::string> key;  // idempotency key, unique per project when set
  std::string project;
  domain::EventType type = domain::EventType::kVulnerabilityNew;
  TimePoint occurred_at{};
  TimePoint received_at{};
  std::string body_json;  // the SPEC event JSON as stored (finding snapshot, from/to, actor, ...)
};

// One uploaded scan of a project/scanner/branch; the first one is the baseline.
struct ScanRecord {
  int64_t id = 0;  // assigned by the store
  std::string project;
  std::string scanner;
  std::string branch;
  bool succeeded = true;
  bool complete = true;
  bool baseline = false;
  TimePoint received_at{};
  std::string summary_json;  // the summary the API answered with
};

struct NewDelivery {
  std::string project;
  std::string channel;  // the route's channel reference ("team/channel" or an id)
  int64_t event_seq = 0;
  domain::EventType event_type = domain::EventType::kVulnerabilityNew;
  std::string thread_key;  // the finding's fingerprint for vulnerability.*; "" otherwise
  std::optional<domain::Severity> severity;
  int digest_threshold = 10;
  bool baseline_full = false;
  std::string kind = "event";  // "event" | "test"
  TimePoint created_at{};
  TimePoint expires_at{};  // created_at + delivery_ttl: after it the delivery is dead
  std::optional<TimePoint> due_at;  // when it may first be sent; nullopt = created_at
};

struct DeliveryRecord {
  int64_t id = 0;
  std::string project;
  std::string channel;
  std::string kind;
  int64_t event_seq = 0;
  domain::EventType event_type = domain::EventType::kVulnerabilityNew;
  std::string thread_key;
  std::optional<domain::Severity> severity;
  int digest_threshold = 10;
  domain::DeliveryState state = domain::DeliveryState::kPending;
  int attempts = 0;
  TimePoint created_at{}, updated_at{}, next_attempt_at{}, expires_at{};
  std::string last_error;       // human text, never secrets
  std::string last_error_code;  // stable reason (also a metrics label)
  std::string post_id;          // Mattermost post id once sent
  std::string channel_id;       // resolved Mattermost channel id once known
  int64_t digest_id = 0;        // sent as part of the digest whose head delivery has this id
  bool baseline_full = false;   // from NewDelivery (the route's "baseline": "full")
  // Set when the post may exist without Tocsin knowing: committed before a digest's create
  // request goes out, or with the reschedule of a request whose answer was lost; cleared when an
  // outcome is recorded. A delivery found with it set is reconciled against the channel's recent
  // posts before it is sent again. (A single post's crash is told by its channel's lease
  // instead: ClaimedChannel::unreleased_since, docs/decisions/0004.)
  std::optional<TimePoint> in_doubt_since;
  std::string event_body_json;  // joined from events
  // kind "replies" (a digest's thread replies, owed once its root is posted; digest_id names the
  // digest): how many of them are posted, and the limit they were rendered for (0 = not yet).
  int replies_posted = 0;
  int replies_runes = 0;
};

// One recorded outcome of a delivery (MarkSent: code "sent"; Reschedule/MarkFinal: their code).
struct DeliveryAttempt {
  int64_t delivery_id = 0;
  TimePoint at{};
  std::string code;
  std::string error;
};

// A digest's thread replies (the list of every finding it covers), owed once its root is
// posted. Recorded with the root as a delivery of kind "replies" at the end of the channel's
// queue (digest_id = the digest's head), so that a list that could not be posted at once, or
// whose poster crashed, is posted later from where it stopped (docs/delivery.md, Digests).
struct RepliesOwed {
  std::string channel;    // the queue (DeliveryRecord::channel)
  int64_t event_seq = 0;  // the digest head's event
  int runes = 0;          // the limit the replies are rendered for
  TimePoint expires_at{};
};

// A post that went out, with what goes with it, for Outbox::RecordSent.
struct SentPost {
  std::vector<int64_t> ids;  // as MarkSent: the head, and for a digest every delivery it covers
  std::string post_id;
  std::string channel_id;  // the resolved Mattermost channel id
  TimePoint now{};
  // Set for the first post about a finding in the channel: it becomes the finding's thread
  // root there (PutThreadRoot(project, root_thread_key, channel_id, post_id)).
  std::string project;
  std::optional<std::string> root_thread_key;
  // A digest: the (project, thread_key) of each finding it lists. The digest's post becomes the
  // thread root of those that have none in the channel yet, so a later status change of one of
  // them replies in the digest's thread (the digest itself is never patched: it is not about
  // one finding).
  std::vector<std::pair<std::string, std::string>> listed;
  // Set when the sender holds nothing more of the channel's queue: if the channel (its queue
  // name, DeliveryRecord::channel) has nothing left undelivered, the lease `release_owner`
  // holds on it is dropped (ReleaseChannel). "" keeps the lease.
  std::string channel;
  std::string release_owner;
  // A digest whose replies follow: its "replies" delivery is added (project = `project`).
  std::optional<RepliesOwed> replies;
};

// A channel ClaimChannels leased to its caller.
struct ClaimedChannel {
  std::string channel;
  // Set when a lease row on the channel was already there (of any owner, the caller's own
  // included, live or expired): a lease is dropped only after every outcome its holder produced
  // was recorded, so a row left standing means its holder died or gave up after a send it
  // could not record, and the channel's head may have been posted. The value is when that row
  // was first taken (TimePoint{} when unknown); the head's post, if any, is not older. A caller
  // that is itself still serving the channel (a claim refreshes its own live lease) ignores it.
  std::optional<TimePoint> unreleased_since;
  bool operator==(const ClaimedChannel&) const = default;
};

struct DeliveryFilter {
  std::optional<domain::DeliveryState> state;
  std::optional<std::string> project;
  int limit = 50;
  int64_t before_id = 0;  // paging: ids below this (0 = from the newest)
};

struct FindingFilter {
  std::string project;  // required
  std::optional<domain::FindingStatus> status;
  std::optional<domain::Severity> min_severity;  // at or above
  std::optional<std::string> fingerprint;
  int limit = 100;
  int64_t after_id = 0;  // paging: ids above this (results are by id, ascending)
};

// What a rescan needs of a finding its scanner and branch saw before (IngestTx::FindingsOf):
// enough to diff, to keep triage and first_seen, and to tell whether the row must be rewritten.
// The rest stays in the database: a stream of 100,000 findings costs a few MB here, not the
// hundreds a full copy would (docs/performance.md, figure 8d).
struct KnownFinding {
  int64_t id = 0;
  std::string fingerprint;
  domain::FindingStatus status = domain::FindingStatus::kOpen;
  domain::Severity severity = domain::Severity::kInfo;
  std::string path;
  TimePoint first_seen{};
  uint64_t content = 0;  // domain::ContentHash of the stored row
};

// Reads see the transaction's own writes. Valid only inside the Transact callback.
class IngestTx {
 public:
  virtual ~IngestTx() = default;
  virtual Result<std::optional<domain::Project>> GetProject(const std::string& name) = 0;
  // A project without a saved link gets a disabled, empty one.
  virtual Result<domain::ProjectLink> GetLink(const std::string& project) = 0;
  virtual Result<std::optional<domain::Finding>> FindFinding(const std::string& project,
                                                             const std::string& fingerprint) = 0;
  virtual Result<std::optional<domain::Finding>> GetFinding(int64_t id) = 0;
  // Inserts when finding.id == 0 (conflict on a duplicate project+fingerprint; not_found for an
  // unknown project), else updates every field but the project (not_found when no finding of
  // that project has the id). Returns the id.
  virtual Result<int64_t> SaveFinding(const domain::Finding& finding) = 0;
  virtual Result<OpenCounts> CountOpen(const std::string& project) = 0;
  // The seq of the event stored earlier under (project, key), if any: a repeat is a duplicate.
  virtual Result<std::optional<int64_t>> FindEventByKey(const std::string& project,
                                                        const std::string& key) = 0;
  // Returns the new seq; conflict when (project, key) was used before.
  virtual Result<int64_t> InsertEvent(const StoredEvent& event) = 0;
  // A new pending delivery, due at due_at (or created_at). Returns its id.
  virtual Result<int64_t> InsertDelivery(const NewDelivery& delivery) = 0;
  // Pending deliveries inserted by this transaction, due at `due` instead.
  virtual Result<void> SetDue(const std::vector<int64_t>& ids, TimePoint due) = 0;
  virtual Result<void> AppendAudit(const AuditEntry& entry) = 0;
  // Has any scan of this project/scanner/branch been recorded?
  virtual Result<bool> HasScan(const std::string& project, const std::string& scanner,
                               const std::string& branch) = 0;
  virtual Result<int64_t> InsertScan(const ScanRecord& scan) = 0;
  // The findings whose scanner and branch are these (the branch that last saw them).
  virtual Result<std::vector<KnownFinding>> FindingsOf(const std::string& project,
                                                       const std::string& scanner,
                                                       const std::string& branch) = 0;
  // Sets last_seen of a finding of the project and nothing else (a rescan found it unchanged);
  // not_found when the project has no finding with the id.
  virtual Result<void> TouchFinding(const std::string& project, int64_t id,
                                    TimePoint last_seen) = 0;
  // How many findings the project has, of every scanner and branch.
  virtual Result<int64_t> CountFindings(const std::string& project) = 0;
};

class Outbox {
 public:
  virtual ~Outbox() = default;
  // Leases up to `max` channels to `owner` (until now + lease; a lease the owner already holds is
  // refreshed) and returns them, most overdue head first, each saying whether it was claimed
  // over a lease row left standing (ClaimedChannel::unreleased_since). A channel is claimable when
  // no other owner holds a live lease on it (lease_until > now; an expired one is taken over) and
  // its head is
  // - pending and due (next_attempt_at <= now), or
  // - sending (left in doubt) and nobody, this owner included, holds a live lease: its sender
  //   died or let go without recording an outcome, so the claimer must reconcile it (see
  //   DeliveryRecord::in_doubt_since) before sending anything else in the channel.
  // A channel whose head waits out a backoff is not claimable even if later deliveries are due:
  // that is what keeps a channel in order.
  virtual Result<std::vector<ClaimedChannel>> ClaimChannels(const std::string& owner, TimePoint now,
                                                            Millis lease, int max) = 0;
  // Extends the owner's lease to now + lease (also after it lapsed, while nobody took it over);
  // "conflict" when the channel is leased to someone else or not at all: stop working on it.
  virtual Result<void> RenewLease(const std::string& channel, const std::string& owner,
                                  TimePoint now, Millis lease) = 0;
  // Drops the owner's lease (nothing when it holds none). Only once every outcome of the
  // owner's sends in the channel is recorded: a lease left standing is how a crash after a
  // send is told (ClaimedChannel::unreleased_since).
  virtual Result<void> ReleaseChannel(const std::string& channel, const std::string& owner) = 0;
  // The channel's undelivered deliveries (pending or sending), oldest first, with event bodies.
  // limit <= 0 gives nothing.
  virtual Result<std::vector<DeliveryRecord>> ChannelQueue(const std::string& channel,
                                                           int limit) = 0;
  // When ClaimChannels may next find work (to sleep until), nullopt when no channel has any: the
  // earliest next_attempt_at among queue heads that are pending (deliveries queued behind a
  // head in backoff do not count: they are not claimable before it), and for a head left in
  // doubt the end of its channel's lease. Leases on pending heads are not considered, so an
  // instance that wakes and claims nothing should wait a poll interval before asking again.
  virtual Result<std::optional<TimePoint>> NextDue() = 0;

  // Undelivered → sending with in_doubt_since = now, committed before a digest's create request
  // goes out (the set it covers must be known after a crash). Conflict (and nothing changes)
  // when any of them is no longer undelivered.
  virtual Result<void> MarkInDoubt(const std::vector<int64_t>& ids, TimePoint now) = 0;
  // Sent (the head and, for a digest, every delivery it covers: digest_id = ids.front() when
  // there are several, 0 for a single one); clears in_doubt_since, counts an attempt.
  // Conflict (and nothing changes) when any of them is no longer undelivered.
  virtual Result<void> MarkSent(const std::vector<int64_t>& ids, const std::string& post_id,
                                const std::string& channel_id, TimePoint now) = 0;
  // MarkSent, the thread roots and the release that `sent` asks for, in one transaction: a
  // single post costs the sender this one commit (docs/decisions/0004). True when
  // the lease was released because the channel had nothing left: stop serving it. Conflict as
  // MarkSent (and nothing changes).
  virtual Result<bool> RecordSent(const SentPost& sent) = 0;
  // Several RecordSent in one transaction, in order, all or none: a worker's records written
  // behind its posts (docs/decisions/0005). True when the last one released the lease.
  virtual Result<bool> RecordSentAll(const std::vector<SentPost>& posts) = 0;
  // Back to pending at `next` with last_error(_code) set; `count_attempt` false for 429 / auth
  // pauses (not a failure). With `in_doubt_since` (the request may have created the post: the
  // next try must look first) the delivery is marked in doubt in the same write, keeping an
  // earlier mark it has; without, the mark is cleared. Conflict when not undelivered.
  virtual Result<void> Reschedule(int64_t id, TimePoint next, bool count_attempt,
                                  const std::string& code, const std::string& error, TimePoint now,
                                  std::optional<TimePoint> in_doubt_since) = 0;
  // The undelivered "replies" delivery owed for the digest whose head is `digest_id`, if any.
  virtual Result<std::optional<DeliveryRecord>> FindReplies(int64_t digest_id) = 0;
  // How far a "replies" delivery got: `posted` replies out, rendered for `runes`. Conflict when
  // it is not undelivered.
  virtual Result<void> SaveRepliesProgress(int64_t id, int posted, int runes, TimePoint now) = 0;
  // The event bodies of the deliveries a digest covered (digest_id, by id): what its replies
  // list.
  virtual Result<std::vector<std::string>> DigestEvents(int64_t digest_id) = 0;
  // failed (permanent) or dead (gave up); any other state is "invalid_request". Counts an
  // attempt. Conflict when not undelivered.
  virtual Result<void> MarkFinal(int64_t id, domain::DeliveryState state, const std::string& code,
                                 const std::string& error, TimePoint now) = 0;

  // The first post about a finding in a channel: status changes are threaded under it.
  virtual Result<std::optional<std::string>> GetThreadRoot(const std::string& project,
                                                           const std::string& thread_key,
                                                           const std::string& channel) = 0;
  // Sets (or replaces, e.g. when the root post was deleted) the root.
  virtual Result<void> PutThreadRoot(const std::string& project, const std::string& thread_key,
                                     const std::string& channel, const std::string& post_id) = 0;

  // Newest first; limit <= 0 gives nothing.
  virtual Result<std::vector<DeliveryRecord>> ListDeliveries(const DeliveryFilter& filter) = 0;
  virtual Result<std::optional<DeliveryRecord>> GetDelivery(int64_t id) = 0;
  // The outcome history of a delivery, oldest first.
  virtual Result<std::vector<DeliveryAttempt>> ListAttempts(int64_t delivery_id) = 0;
  // failed/dead → pending now (attempts reset, expires_at renewed, in_doubt_since cleared), with
  // the audit entry in the same transaction; false (and no audit) when not retryable or unknown.
  virtual Result<bool> Retry(int64_t id, TimePoint now, TimePoint new_expiry,
                             const AuditEntry& audit) = 0;
  // Counts by state, indexed by static_cast<int>(domain::DeliveryState), for metrics and the UI.
  virtual Result<std::array<int64_t, 5>> CountByState() = 0;
};

// What the service layer needs beyond store.hpp; SqliteStore implements both.
class PipelineStore {
 public:
  virtual ~PipelineStore() = default;
  // Each write below appends its audit entry in the same transaction. Conflict on a duplicate
  // name.
  virtual Result<void> CreateProject(const domain::Project& project, const AuditEntry& audit) = 0;
  virtual Result<std::optional<domain::Project>> GetProject(const std::string& name) = 0;
  // Sorted by name, names > after.
  virtual Result<std::vector<domain::Project>> ListProjects(int limit,
                                                            const std::string& after) = 0;
  // display_name and url (the name is the identity); not_found for an unknown name.
  virtual Result<void> UpdateProject(const domain::Project& project, const AuditEntry& audit) = 0;
  // Deletes the project with its link, findings, events, deliveries and thread roots; not_found
  // for an unknown name.
  virtual Result<void> DeleteProject(const std::string& name, const AuditEntry& audit) = 0;
  // A project without a saved link (or unknown) gets a disabled, empty one.
  virtual Result<domain::ProjectLink> GetLink(const std::string& project) = 0;
  // Replaces the link; not_found for an unknown project.
  virtual Result<void> SaveLink(const std::string& project, const domain::ProjectLink& link,
                                const AuditEntry& audit) = 0;
  virtual Result<std::optional<domain::Finding>> GetFinding(int64_t id) = 0;
  // limit <= 0 gives nothing.
  virtual Result<std::vector<domain::Finding>> ListFindings(const FindingFilter& filter) = 0;
  // A project's scans, newest first, ids below before_id (0 = from the newest).
  virtual Result<std::vector<ScanRecord>> ListScans(const std::string& project, int limit,
                                                    int64_t before_id) = 0;
  // Runs `fn` in one write transaction; commits when it returns success, rolls back when it
  // returns an error (returned as is) or throws (an "internal" error). Writers wait for each
  // other; `fn` must use only the IngestTx for writes (calling a write method of the store from
  // inside `fn` would wait for itself: it fails with "internal" instead).
  virtual Result<void> Transact(const std::function<Result<void>(IngestTx&)>& fn) = 0;
  virtual Outbox& outbox() = 0;
  // A random id made once per database: prefix of pending_post_id, so two installations
  // posting to one Mattermost server never share de-duplication keys.
  virtual Result<std::string> InstallationId() = 0;
};

}  // namespace tocsin::store
