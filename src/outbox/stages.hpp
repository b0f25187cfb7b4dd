// outbox/stages.hpp — the per-delivery pipeline: small stages composed by one builder.
//
// A worker that holds a channel's lease turns the head of the channel's queue into a Job and
// runs it through the pipeline BuildPipeline() assembles, top to bottom:
//
//   resolve    channel reference → Mattermost channel (cached per reference for a minute)
//   coalesce   more than digest_threshold queued new findings → one digest (root + replies)
//   reconcile  a delivery left in doubt, or the head of a channel claimed over a lease left
//              standing, is looked up among the channel's recent posts
//   expire     tried and still failing after expires_at → dead
//   thread     a status change of a finding already posted here replies under that post
//   render     event(s) → post JSON (render/post.hpp), within the server's known size limit
//   rate limit wait for a token of the shared bucket (short waits in place, long ones reschedule)
//   send       create the post (a digest is marked in doubt first, committed); shrink and resend
//              when too long
// and then, always:
//   classify   a failure → an Outcome (outcome.hpp: retry/backoff, rate limited, paused, failed)
//   record     the outcome → the outbox (MarkSent / Reschedule / MarkFinal), thread roots,
//              metrics, the integration's status
//   follow up  after a success, best effort: the digest's thread replies, the patch that shows a
//              finding's current status on its first post
//
// A stage returns false when the job's fate is settled (an outcome or a failure is set); the
// remaining main stages are skipped and the final three run. Every stage is a small class with
// narrow dependencies, so each is unit-tested with fakes (an in-memory Outbox, a scripted
// HttpClient, a FakeClock).
//
// Threading: one Pipeline (and its stages) serves every worker; stages keep no per-job state and
// their shared helpers (ChannelCache, Pacer, TokenBucket, ServerLimits) are thread-safe. A Job
// belongs to one worker; its Client is that worker's.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "mattermost/client.hpp"
#include "outbox/backoff.hpp"
#include "outbox/engine.hpp"
#include "outbox/outcome.hpp"
#include "outbox/token_bucket.hpp"
#include "render/post.hpp"
#include "store/pipeline.hpp"

namespace tocsin::outbox {

// How far back from in_doubt_since reconcile reads the channel (clock skew between Tocsin and
// Mattermost, and a server that took long to commit).
inline constexpr Millis kReconcileLookback{60000};
// The largest digest: one root and its replies; a bigger backlog becomes several digests.
inline constexpr int kMaxDigest = 1000;
// Records written behind are flushed once this many are waiting (and by the worker after
// kMaxBehindAge, before any read of the queue, and at the end of its turn).
inline constexpr size_t kMaxBehind = 64;
inline constexpr Millis kMaxBehindAge{100};
// Message limits tried when the server refuses a post as too long (SPEC §4: older servers allow
// 4,000 characters, newer 16,383): the first shrink fits old servers, the second is a last resort.
inline constexpr size_t kShrinkSteps[] = {4000, 1000};
inline constexpr size_t kDefaultMaxRunes = 16383;

// Waiting, as the engine does it: on the engine's condition variable in production (woken by
// Wake() and Stop()), by advancing a FakeClock in tests.
class Waiter {
 public:
  virtual ~Waiter() = default;
  // Waits up to `d` (less when woken). False when the engine is stopping.
  virtual bool WaitFor(Millis d) = 0;
};

// Channel reference → channel, remembered for `ttl` (positive answers, and permanent negative
// ones so a forbidden channel is not looked up for every delivery). Thread-safe.
class ChannelCache {
 public:
  struct Entry {
    std::optional<mattermost::Channel> channel;
    std::optional<mattermost::ApiError> error;  // permanent lookup failure
  };
  ChannelCache(const Clock& clock, Millis ttl) : clock_(clock), ttl_(ttl) {}
  std::optional<Entry> Get(const std::string& ref);
  void Put(const std::string& ref, Entry entry);
  void Clear();

 private:
  const Clock& clock_;
  const Millis ttl_;
  std::mutex mu_;
  std::map<std::string, std::pair<TimePoint, Entry>> entries_;
};

// What we learned about the server's limits: the message size that it accepted after refusing a
// longer one, so later posts are rendered to fit at once. Reset when the server changes.
struct ServerLimits {
  std::atomic<size_t> max_runes{kDefaultMaxRunes};
  void Reset() { max_runes = kDefaultMaxRunes; }
};

// Every request a worker makes goes through the pacer: it takes a token of the shared bucket,
// waiting in place up to `max_wait` in total, and tells the bucket what the server answered.
class Pacer {
 public:
  struct Permit {
    bool granted = false;
    uint64_t ticket = 0;
    Millis wait{0};         // not granted: how long until a token (reschedule by this much)
    bool stopping = false;  // not granted because the engine is stopping
  };
  Pacer(TokenBucket& bucket, Waiter& waiter, Millis max_wait)
      : bucket_(bucket), waiter_(waiter), max_wait_(max_wait) {}
  Permit Acquire();
  // The outcome of a job whose request got no permit: rescheduled (never a failure) or aborted.
  outbox::Outcome NotGranted(const Permit& permit) const;
  // After a request granted with `ticket`: the server's rate-limit headers (when an HTTP answer
  // came) and a 429's Retry-After, which blocks every worker.
  void OnAnswer(uint64_t ticket, const mattermost::Client& client,
                const mattermost::ApiError* error);
  TokenBucket& bucket() { return bucket_; }

 private:
  TokenBucket& bucket_;
  Waiter& waiter_;
  const Millis max_wait_;
};

// The engine's counters and gauges (Prometheus names are the contract with dashboards).
class DeliveryMetrics {
 public:
  explicit DeliveryMetrics(Metrics& metrics);
  // tocsin_deliveries_total{outcome,reason}: one per delivery settled or rescheduled.
  void CountOutcome(OutcomeKind kind, const std::string& reason, double deliveries = 1);
  // tocsin_delivery_followups_total{kind,result}: digest replies and finding patches.
  void FollowUp(const std::string& kind, const std::string& result);
  // tocsin_delivery_reconciles_total{result}: in-doubt lookups ("found", "not_found").
  void Reconcile(const std::string& result);
  // tocsin_deliveries{state}: the outbox's deliveries by state.
  void QueueDepth(const std::array<int64_t, 5>& by_state);

 private:
  MetricFamily& outcomes_;
  MetricFamily& followups_;
  MetricFamily& reconciles_;
  MetricFamily& depth_;
};

// The Mattermost connection settings that what delivery learns holds for: a 401 says the token
// is refused by that server, not by whichever is configured by the time the answer is read.
struct ServerKey {
  std::string url;  // normalized
  Secret token;
  bool insecure = false;
  std::string ca_file;
  static ServerKey Of(const mattermost::ConnectionSettings& conn);
  bool operator==(const ServerKey& o) const {
    return url == o.url && token == o.token && insecure == o.insecure && ca_file == o.ca_file;
  }
};

// One unit of delivery work: the head of a channel's queue and what the stages learn about it.
struct Job {
  // Set by the worker. `queue` is the channel's queue from the head on (oldest first).
  std::span<const store::DeliveryRecord> queue;
  mattermost::Client* client = nullptr;
  const ServerKey* server = nullptr;  // the settings `client` uses; nullptr = the current ones
  std::function<void()> keep_lease;   // called between the requests of a long job; may be empty
  bool queue_truncated = false;       // `queue` was cut at the read limit: more may follow
  // The worker's lease owner name. A sent job that settles all of `queue` (not truncated, no
  // longer read) and has no follow-ups asks the record stage to release the lease if the
  // channel has nothing left: the worker then needs neither another read of the queue nor a
  // release of its own.
  std::string lease_owner;
  // The head starts a run of at least this many deliveries one digest could cover (what the
  // previous job's coalesce counted, less what it settled): coalesce counts on from there
  // instead of from the head, so a long queue is not scanned again for every post. 0 = unknown.
  size_t run_hint = 0;
  // The channel was claimed over a lease left standing (store::ClaimedChannel::unreleased_since):
  // its head may have been posted as a single post by a holder that could not record it. The
  // worker then also sets in_doubt_since (the oldest such a post could be) and doubt_open, and
  // reconcile looks for the post before anything is sent (docs/decisions/0004).
  bool suspect = false;
  // Records written behind (docs/decisions/0005): when set, the record of a sent single post
  // that is not the last in hand is appended here instead of written. Every stage that reads or
  // writes the channel's deliveries writes them first (WriteBehind), so nothing reads a delivery
  // as unsent that was posted.
  std::vector<store::SentPost>* behind = nullptr;

  // Learned by the stages.
  std::optional<mattermost::Channel> channel;
  std::vector<store::DeliveryRecord> more;  // coalesce: a longer read of the queue
  bool read_to_end = false;  // coalesce: the channel held no more than `queue` when it looked
  size_t covered = 1;        // deliveries this job settles: queue[0, covered)
  size_t run_seen = 0;       // coalesce: the run it counted from the head
  bool digest = false;
  std::string reconciled_post_id;  // the post a delivery in doubt turned out to have
  // Reconcile: the deliveries after the head found posted too (single posts whose records were
  // lost with the head's), in queue order; recorded with the head.
  std::vector<store::SentPost> reconciled_more;
  std::string root_id;                   // the thread root this post replies under
  bool root_post_about_finding = false;  // this post becomes the finding's thread root
  nlohmann::json post;  // the body to create (no channel/root/pending ids); the send takes it
  std::vector<nlohmann::json> replies;  // digest, "replies" delivery: the thread replies
  // Set by the send of a "replies" delivery: how many of `replies` are out now.
  std::optional<size_t> replies_posted;
  size_t replies_max_runes = kDefaultMaxRunes;  // the limit `replies` were rendered for
  // Digest: renders the replies again for a smaller limit (for a server that refused one).
  std::function<std::vector<nlohmann::json>(size_t max_runes)> render_replies;
  nlohmann::json patch;                          // status change: the new look of the root post
  size_t rendered_max_runes = kDefaultMaxRunes;  // the size limit `post` was rendered for
  uint64_t ticket = 0;                           // the token the rate-limit stage took for the send
  // Since when the post may exist: the head's mark, the suspect bound, or the send's start.
  std::optional<TimePoint> in_doubt_since;
  // The post may exist without our knowing: the head was in doubt and not yet looked up, or the
  // last create got no definite answer. A rescheduled job then keeps its mark (Reschedule clears
  // it), and its channel's lease is held until the retry is due, since a head left in doubt is
  // claimable as soon as nobody holds the lease (store/pipeline.hpp).
  bool doubt_open = false;
  std::optional<TimePoint> hold_lease_until;  // set by record: keep the lease until then
  std::optional<Failure> failure;
  Outcome outcome;
  std::string store_error;  // an outbox write failed: the worker gives the channel up
  bool released = false;    // set by record: the lease is dropped, the channel had nothing left

  // Set by the follow-up of a posted digest: its "replies" delivery, with the list already
  // rendered, which Pipeline::Run runs right after this job (`then_head` backs its queue).
  std::unique_ptr<Job> then;
  std::optional<store::DeliveryRecord> then_head;

  const store::DeliveryRecord& head() const { return queue.front(); }
  std::vector<int64_t> Ids() const;
  bool settled() const { return outcome.kind != OutcomeKind::kNone || failure.has_value(); }
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view Name() const = 0;
  // False when the job is settled and the remaining main stages must be skipped.
  virtual bool Run(Job& job) = 0;
};

// Main stages in order, then final stages that always run.
class Pipeline {
 public:
  Pipeline& Then(std::unique_ptr<Stage> stage);
  Pipeline& Finally(std::unique_ptr<Stage> stage);
  // Runs the stages on `job`, then on the job it leaves in `then` (a digest's replies), whose
  // store error is the job's too: the worker keeps its lease.
  void Run(Job& job) const;
  std::vector<std::string> StageNames() const;

 private:
  std::vector<std::unique_ptr<Stage>> main_;
  std::vector<std::unique_ptr<Stage>> final_;
};

// ---- the stages ------------------------------------------------------------------------------

class ResolveStage final : public Stage {
 public:
  ResolveStage(ChannelCache& cache, Pacer& pacer) : cache_(cache), pacer_(pacer) {}
  std::string_view Name() const override { return "resolve"; }
  bool Run(Job& job) override;

 private:
  ChannelCache& cache_;
  Pacer& pacer_;
};

class CoalesceStage final : public Stage {
 public:
  // `window`: how long a new finding that cannot make a digest yet waits for others (SPEC §3,
  // the digest window) before it is posted alone; 0 = not at all.
  CoalesceStage(store::Outbox& outbox, const Clock& clock, Millis window,
                int max_digest = kMaxDigest)
      : outbox_(outbox), clock_(clock), window_(window), max_digest_(max_digest) {}
  std::string_view Name() const override { return "coalesce"; }
  bool Run(Job& job) override;

 private:
  store::Outbox& outbox_;
  const Clock& clock_;
  const Millis window_;
  const int max_digest_;
};

class ReconcileStage final : public Stage {
 public:
  ReconcileStage(Pacer& pacer, std::string installation_id, DeliveryMetrics& metrics)
      : pacer_(pacer), installation_id_(std::move(installation_id)), metrics_(metrics) {}
  std::string_view Name() const override { return "reconcile"; }
  bool Run(Job& job) override;

 private:
  Pacer& pacer_;
  const std::string installation_id_;
  DeliveryMetrics& metrics_;
};

class ExpireStage final : public Stage {
 public:
  explicit ExpireStage(const Clock& clock) : clock_(clock) {}
  std::string_view Name() const override { return "expire"; }
  bool Run(Job& job) override;

 private:
  const Clock& clock_;
};

class ThreadStage final : public Stage {
 public:
  explicit ThreadStage(store::Outbox& outbox) : outbox_(outbox) {}
  std::string_view Name() const override { return "thread"; }
  bool Run(Job& job) override;

 private:
  store::Outbox& outbox_;
};

class RenderStage final : public Stage {
 public:
  // `display_name` gives a project's display name ("" = use its name).
  RenderStage(store::Outbox& outbox, std::string public_url,
              std::function<std::string(const std::string&)> display_name, ServerLimits& limits)
      : outbox_(outbox),
        public_url_(std::move(public_url)),
        display_name_(std::move(display_name)),
        limits_(limits) {}
  std::string_view Name() const override { return "render"; }
  bool Run(Job& job) override;

 private:
  // A "replies" delivery: its digest's list, as rendered before, and the root it replies under.
  bool RenderReplies(Job& job, render::Context ctx);

  store::Outbox& outbox_;
  const std::string public_url_;
  std::function<std::string(const std::string&)> display_name_;
  ServerLimits& limits_;
};

class RateLimitStage final : public Stage {
 public:
  explicit RateLimitStage(Pacer& pacer) : pacer_(pacer) {}
  std::string_view Name() const override { return "rate_limit"; }
  bool Run(Job& job) override;

 private:
  Pacer& pacer_;
};

class SendStage final : public Stage {
 public:
  SendStage(store::Outbox& outbox, Pacer& pacer, const Clock& clock, std::string installation_id,
            ServerLimits& limits, Millis max_inline_retry_after, DeliveryMetrics& metrics)
      : outbox_(outbox),
        pacer_(pacer),
        clock_(clock),
        installation_id_(std::move(installation_id)),
        limits_(limits),
        max_inline_retry_after_(max_inline_retry_after),
        metrics_(metrics) {}
  std::string_view Name() const override { return "send"; }
  bool Run(Job& job) override;

 private:
  // A "replies" delivery: its digest's list, in order, from the first reply not yet out, each
  // with its own pending_post_id (<installation>-<digest head>-r<n>). A first reply refused as
  // too long has the whole list rendered again smaller; a later one is shrunk; a short 429 is
  // waited out; a 5xx or a timeout is asked again in place a few times. An answer that stops the
  // list is classified like any send's, with how far it got (Job::replies_posted).
  bool SendReplies(Job& job);

  store::Outbox& outbox_;
  Pacer& pacer_;
  const Clock& clock_;
  const std::string installation_id_;
  ServerLimits& limits_;
  const Millis max_inline_retry_after_;
  DeliveryMetrics& metrics_;
};

class ClassifyStage final : public Stage {
 public:
  ClassifyStage(const Clock& clock, const Backoff& backoff) : clock_(clock), backoff_(backoff) {}
  std::string_view Name() const override { return "classify"; }
  bool Run(Job& job) override;

 private:
  const Clock& clock_;
  const Backoff& backoff_;
};

// The integration's status as delivery last saw it, so a success reports "ok" only when the
// status was something else (one store write per change, not per post). Thread-safe.
class StatusTracker {
 public:
  explicit StatusTracker(IntegrationState& integration) : integration_(integration) {}
  // The settings delivery uses from now on (the dispatcher, when they change).
  void UseServer(const ServerKey& server);
  // Records `status` unless it was seen with settings other than the current ones (a request
  // made with the old token, answered after a new one was saved): returns whether it counts.
  bool Report(const std::string& status, const std::string& detail,
              const ServerKey* seen_with = nullptr);
  void OnSuccess();
  // Re-reads the stored status (it also changes from outside: a Test Connection, a new token).
  std::string Refresh();

 private:
  IntegrationState& integration_;
  std::mutex mu_;
  std::string known_;  // "" = not known
  std::optional<ServerKey> server_;
};

class RecordStage final : public Stage {
 public:
  RecordStage(store::Outbox& outbox, const Clock& clock, DeliveryMetrics& metrics,
              StatusTracker& status, std::function<void()> on_paused)
      : outbox_(outbox),
        clock_(clock),
        metrics_(metrics),
        status_(status),
        on_paused_(std::move(on_paused)) {}
  std::string_view Name() const override { return "record"; }
  bool Run(Job& job) override;

 private:
  store::Outbox& outbox_;
  const Clock& clock_;
  DeliveryMetrics& metrics_;
  StatusTracker& status_;
  std::function<void()> on_paused_;
};

class FollowUpStage final : public Stage {
 public:
  FollowUpStage(store::Outbox& outbox, Pacer& pacer, DeliveryMetrics& metrics)
      : outbox_(outbox), pacer_(pacer), metrics_(metrics) {}
  std::string_view Name() const override { return "follow_up"; }
  bool Run(Job& job) override;

 private:
  // A posted digest's list goes out next: its "replies" delivery, recorded with the root, as
  // Job::then, the list already rendered.
  void ThenReplies(Job& job);
  void PatchRoot(Job& job);

  store::Outbox& outbox_;
  Pacer& pacer_;
  DeliveryMetrics& metrics_;
};

// Everything the pipeline needs; each piece must outlive it.
struct PipelineDeps {
  store::Outbox& outbox;
  const Clock& clock;
  ChannelCache& channels;
  Pacer& pacer;
  const Backoff& backoff;
  DeliveryMetrics& metrics;
  StatusTracker& status;
  ServerLimits& limits;
  std::string installation_id;
  std::string public_url;
  std::function<std::string(const std::string&)> display_name;
  std::function<void()> on_paused;  // a 401: stop claiming
  Millis max_inline_retry_after{5000};
  Millis digest_window{0};  // CoalesceStage
};

Pipeline BuildPipeline(const PipelineDeps& deps);

// Writes records kept behind their posts (docs/decisions/0005) in one transaction and empties
// `behind`; on a store error they stay, for the worker's last try at the end of its turn.
Result<void> WriteBehind(store::Outbox& outbox, std::vector<store::SentPost>& behind);

// The pending_post_id of a delivery's post (SPEC §3): deterministic, so a resend within the
// server's 30 s window returns the original post instead of creating another.
std::string PendingPostId(const std::string& installation_id, int64_t delivery_id);

}  // namespace tocsin::outbox
