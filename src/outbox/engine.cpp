// The engine: one dispatcher thread that claims channels (leases) when workers are free, and N
// worker threads that each serve one claimed channel at a time, strictly in order, through the
// pipeline of stages.hpp. See engine.hpp for the contract and docs/delivery.md for the design.
#include "outbox/engine.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/random.hpp"
#include "outbox/backoff.hpp"
#include "outbox/stages.hpp"
#include "outbox/token_bucket.hpp"

namespace tocsin::outbox {

namespace {

// The dispatcher looks again at least this often (a retry that fell due, a lease that expired
// elsewhere, a changed setting); Wake() and finished workers make it look at once.
constexpr Millis kIdleWait{1000};
constexpr Millis kGaugeEvery{5000};
constexpr Millis kChannelCacheTtl{60000};
constexpr Millis kDisplayNameTtl{60000};
// A busy channel gives its worker up after this many deliveries (or half its lease), so other
// channels get their turn; it is claimed again at once if still due.
constexpr int kMaxPerClaim = 1000;

bool SameOptions(const net::HttpClientOptions& a, const net::HttpClientOptions& b) {
  return a.insecure == b.insecure && a.ca_file == b.ca_file &&
         a.connect_timeout == b.connect_timeout && a.total_timeout == b.total_timeout;
}

// Names the calling thread (top -H, gdb, /proc/<pid>/task/*/comm); at most 15 characters.
void NameThread(const std::string& name) {
#ifdef __linux__
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
#else
  (void)name;
#endif
}

Millis CeilMillis(std::chrono::nanoseconds d) {
  return std::chrono::ceil<Millis>(std::max(d, std::chrono::nanoseconds(0)));
}

class EngineImpl final : public Engine, private Waiter {
 public:
  EngineImpl(store::PipelineStore& store, IntegrationState& integration, const Clock& clock,
             mattermost::HttpClientFactory http, Metrics& metrics, EngineOptions options)
      : store_(store),
        outbox_(store.outbox()),
        integration_(integration),
        clock_(clock),
        http_factory_(std::move(http)),
        options_(Normalized(std::move(options))),
        metrics_(metrics),
        bucket_(clock, options_.rate_per_second, options_.burst),
        channels_(clock, kChannelCacheTtl),
        backoff_(BackoffPolicy{options_.base_backoff, options_.max_backoff, Jitter::kFull}),
        status_(integration),
        pacer_(bucket_, *this, options_.max_inline_wait),
        owner_(options_.owner.empty() ? "tocsin-" + NewId() : options_.owner) {}

  ~EngineImpl() override { Stop(); }

  void Start() override {
    std::lock_guard lock(mu_);
    if (started_) return;
    started_ = true;
    dispatcher_ = std::thread([this] {
      NameThread("tocsin-dispatch");
      DispatchLoop();
    });
    for (int i = 0; i < options_.workers; ++i) {
      workers_.emplace_back([this, i] {
        NameThread("tocsin-send-" + std::to_string(i));
        WorkerLoop();
      });
    }
  }

  void Wake() override {
    {
      std::lock_guard lock(mu_);
      ++generation_;
    }
    cv_.notify_all();
  }

  void Stop() override {
    {
      std::lock_guard lock(mu_);
      if (!started_ || stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    work_cv_.notify_all();
    if (dispatcher_.joinable()) dispatcher_.join();
    for (auto& w : workers_) {
      if (w.joinable()) w.join();
    }
    // Claimed but never served: give them back so another instance need not wait for the lease
    // (but not one claimed over a lease left standing: whoever serves it must still reconcile).
    std::lock_guard lock(mu_);
    for (const store::ClaimedChannel& claim : ready_) {
      if (!claim.unreleased_since) (void)outbox_.ReleaseChannel(claim.channel, owner_);
    }
    ready_.clear();
  }

 private:
  struct Worker {
    std::unique_ptr<net::HttpClient> http;
    net::HttpClientOptions options;
  };

  static EngineOptions Normalized(EngineOptions o) {
    o.workers = std::max(1, o.workers);
    o.burst = std::max(1, o.burst);
    o.queue_batch = std::max(1, o.queue_batch);
    if (o.lease < Millis(1000)) o.lease = Millis(1000);
    if (o.timeout < Millis(1)) o.timeout = Millis(10000);
    return o;
  }

  // Waiter (the pacer's in-place waits): woken by Wake(), finished workers and Stop().
  bool WaitFor(Millis d) override {
    std::unique_lock lock(mu_);
    const uint64_t seen = generation_;
    cv_.wait_for(lock, d, [&] { return stopping_ || generation_ != seen; });
    return !stopping_;
  }

  bool Stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  // The installation id (pending_post_id prefix) and the pipeline, once.
  bool EnsureReady() {
    if (pipeline_) return true;
    auto installation = store_.InstallationId();
    if (!installation) {
      spdlog::error("delivery cannot start: no installation id error={}",
                    installation.error().message);
      return false;
    }
    PipelineDeps deps{outbox_,
                      clock_,
                      channels_,
                      pacer_,
                      backoff_,
                      metrics_,
                      status_,
                      limits_,
                      *installation,
                      options_.public_url,
                      [this](const std::string& project) { return DisplayName(project); },
                      [this] { paused_ = true; },
                      options_.max_inline_wait,
                      options_.digest_window};
    pipeline_ = std::make_unique<Pipeline>(BuildPipeline(deps));
    return true;
  }

  std::string DisplayName(const std::string& project) {
    const TimePoint now = clock_.Now();
    {
      std::lock_guard lock(names_mu_);
      auto it = names_.find(project);
      if (it != names_.end() && now >= it->second.first && now - it->second.first < kDisplayNameTtl)
        return it->second.second;
    }
    std::string name;
    if (auto p = store_.GetProject(project); p && *p) name = (*p)->display_name;
    std::lock_guard lock(names_mu_);
    names_[project] = {now, name};
    return name;
  }

  // A different server, token or TLS setting: what we learned about the old one is void.
  // Returns true when the settings changed since the last look (not on the first).
  bool CheckServer(const mattermost::ConnectionSettings& conn) {
    ServerKey key = ServerKey::Of(conn);
    if (server_ && *server_ == key) return false;
    const bool changed = server_.has_value();
    if (changed) spdlog::info("mattermost connection settings changed; delivery starts afresh");
    // Before the status is looked at: a 401 to a request still made with the old settings
    // must not pause delivery with the new ones.
    status_.UseServer(key);
    server_ = std::move(key);
    bucket_.Reset();
    channels_.Clear();
    limits_.Reset();
    return changed;
  }

  void DispatchLoop() {
    TimePoint gauges_at{};
    while (true) {
      uint64_t seen = 0;
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        seen = generation_;
      }
      const Millis wait = DispatchOnce(gauges_at);
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, wait, [&] { return stopping_ || generation_ != seen; });
    }
  }

  // One look: claims what free workers can take. Returns how long to wait before the next look.
  Millis DispatchOnce(TimePoint& gauges_at) {
    const auto conn = integration_.Connection();
    if (!conn) return kIdleWait;  // inactive or unconfigured: deliveries wait
    const bool changed = CheckServer(*conn);
    std::string status = status_.Refresh();
    if (status == "auth_failed" && changed) {
      // The token (or the server) was replaced: that ends the pause (SPEC §4), whether or not
      // whoever saved it also reset the status.
      status_.Report("unknown", "the Mattermost connection settings changed; delivery resumes");
      status = "unknown";
    }
    if (status == "auth_failed") {
      paused_ = true;  // until the token is replaced or a Test Connection succeeds
      return kIdleWait;
    }
    paused_ = false;
    if (!EnsureReady()) return kIdleWait;

    const TimePoint now = clock_.Now();
    if (gauges_at == TimePoint{} || now - gauges_at >= kGaugeEvery || now < gauges_at) {
      gauges_at = now;
      if (auto counts = outbox_.CountByState()) metrics_.QueueDepth(*counts);
    }
    int free = 0;
    std::set<std::string> served_before;  // being served when the claim began
    {
      std::lock_guard lock(mu_);
      free = options_.workers - busy_ - static_cast<int>(ready_.size());
      starved_ = free <= 0;
      if (free > 0) served_before = serving_;
    }
    if (free <= 0) return kIdleWait;  // a finishing worker wakes us
    if (const Millis blocked = bucket_.BlockedFor(); blocked.count() > 0) {
      return std::min(blocked, kIdleWait);  // a 429 holds everyone
    }
    auto claimed = outbox_.ClaimChannels(owner_, now, options_.lease, free);
    if (!claimed) {
      spdlog::warn("cannot claim channels error={}", claimed.error().message);
      return kIdleWait;
    }
    int handed = 0;
    {
      std::lock_guard lock(mu_);
      for (store::ClaimedChannel& claim : *claimed) {
        // Our own lease may be handed back to us while a worker still serves the channel: one
        // channel is served by one worker at a time, or its order would be lost. When that
        // worker lets go, we look again (what woke us may have come after its last read). Its
        // lease row was there, of course: that is not a lease left standing.
        if (!serving_.insert(claim.channel).second) {
          recheck_.insert(claim.channel);
          continue;
        }
        if (claim.unreleased_since && served_before.count(claim.channel) > 0) {
          // The row it found was our worker's, which has let go since (and deleted the row
          // we refreshed): nothing was left standing, and we hold no lease. Look again.
          serving_.erase(claim.channel);
          ++generation_;
          continue;
        }
        ready_.push_back(std::move(claim));
        ++handed;
      }
      starved_ = static_cast<int>(claimed->size()) >= free;
    }
    // One idle worker per channel handed out: notify_all would wake every idle worker (16 by
    // default) for each event, and all but one would go back to sleep.
    for (int i = 0; i < handed; ++i) work_cv_.notify_one();
    // Busy (workers wake us when one frees up) or just handed out work (Wake() brings the next):
    // asking when work is next due would only cost another pass over the queue heads.
    if (!claimed->empty()) return kIdleWait;
    auto due = outbox_.NextDue();
    if (!due || !*due) return kIdleWait;
    // A due time already past belongs to a channel someone is serving (or one waiting behind
    // its head): the idle look-again covers it.
    if (**due <= now) return kIdleWait;
    return std::clamp(CeilMillis(**due - now), Millis(1), kIdleWait);
  }

  void WorkerLoop() {
    Worker worker;
    while (true) {
      store::ClaimedChannel claim;
      {
        std::unique_lock lock(mu_);
        work_cv_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
        if (stopping_) return;
        claim = std::move(ready_.front());
        ready_.pop_front();
        ++busy_;
      }
      const std::string& channel = claim.channel;
      const Served served = Serve(worker, claim);
      if (served.keep) {
        // A send whose outcome is not recorded, or a head still to be reconciled: the lease
        // stays (it lapses, or our next claim finds it) so that whoever serves the channel
        // next looks before sending (docs/decisions/0004).
      } else if (served.hold) {
        // Its head is in doubt and must not be claimed (by anyone) before its retry is due.
        const TimePoint now = clock_.Now();
        const Millis lease = std::max(Millis(1), CeilMillis(*served.hold - now));
        if (auto r = outbox_.RenewLease(channel, owner_, now, lease); !r) {
          spdlog::warn("cannot hold a channel lease channel={} error={}", channel,
                       r.error().message);
        }
      } else if (served.released) {
        // The last post's record released the lease already (Outbox::RecordSent).
      } else if (auto r = outbox_.ReleaseChannel(channel, owner_); !r) {
        spdlog::warn("cannot release a channel channel={} error={}", channel, r.error().message);
      }
      bool look_again = false;
      {
        std::lock_guard lock(mu_);
        --busy_;
        serving_.erase(channel);
        look_again = starved_ || recheck_.erase(channel) > 0;
        if (look_again) ++generation_;
      }
      if (look_again) cv_.notify_all();
    }
  }

  // How a turn at a channel ended: hold its lease until `hold` (a head left in doubt), or it was
  // released already (`released`), or it must be left standing (`keep`: a store write failed
  // after a send, or the head was to be reconciled and was not), or else it is released now.
  struct Served {
    std::optional<TimePoint> hold;
    bool released = false;
    bool keep = false;
  };

  // One turn at a channel, with its sent posts' records written behind (docs/decisions/0005):
  // whatever ends the turn, they are written before the lease can be let go.
  Served Serve(Worker& worker, const store::ClaimedChannel& claim) {
    std::vector<store::SentPost> behind;
    const Served served = ServeTurn(worker, claim, behind);
    if (!Flush(claim.channel, behind)) return {.keep = true};  // the next claim reconciles
    return served;
  }

  // WriteBehind, saying why it could not.
  bool Flush(const std::string& channel, std::vector<store::SentPost>& behind) {
    const size_t posts = behind.size();
    auto written = WriteBehind(outbox_, behind);
    if (!written) {
      spdlog::error("cannot record sent deliveries channel={} posts={} error={}", channel, posts,
                    written.error().message);
    }
    return written.has_value();
  }

  // Serves one claimed channel: its queue in order until it is empty, its head is not due
  // (backoff, rate limit), the integration pauses, the engine stops, or the channel has had its
  // turn. Records of sent posts may be left in `behind` (Serve writes them).
  Served ServeTurn(Worker& worker, const store::ClaimedChannel& claim,
                   std::vector<store::SentPost>& behind) {
    const std::string& channel = claim.channel;
    // Claimed over a lease left standing: the head may have been posted (a single post; a
    // digest carries its own mark), so the first job looks for it before anything is sent.
    std::optional<TimePoint> suspect = claim.unreleased_since;
    const auto conn = integration_.Connection();
    if (!conn) return {.keep = suspect.has_value()};
    net::HttpClientOptions options;
    options.insecure = conn->insecure;
    options.ca_file = conn->ca_file;
    options.total_timeout = options_.timeout;
    options.connect_timeout = std::min(options_.timeout, Millis(5000));
    if (!worker.http || !SameOptions(worker.options, options)) {
      worker.http = http_factory_(options);  // one connection per worker, kept alive
      worker.options = options;
    }
    if (!worker.http) return {.keep = suspect.has_value()};
    mattermost::Client client(*worker.http, conn->url, conn->token);
    const ServerKey server = ServerKey::Of(*conn);  // what this turn's requests are made with

    const TimePoint claimed_at = clock_.Now();
    TimePoint renewed_at = claimed_at;
    bool lease_lost = false;
    const auto keep_lease = [&] {
      const TimePoint now = clock_.Now();
      if (now >= renewed_at && now - renewed_at < options_.lease / 3) return;
      if (auto r = outbox_.RenewLease(channel, owner_, now, options_.lease); !r) {
        spdlog::warn("cannot renew a channel lease channel={} error={}", channel,
                     r.error().message);
        // Someone else holds it now (ours lapsed): they serve the channel from here on.
        if (r.error().code == "conflict") lease_lost = true;
      }
      renewed_at = now;
    };
    int served = 0;
    std::vector<store::DeliveryRecord> queue;
    bool truncated = false;
    size_t i = 0;
    size_t run_hint = 0;  // Job::run_hint for queue[i]
    TimePoint behind_since{};
    while (served < kMaxPerClaim) {
      if (Stopping() || paused_) return {.keep = suspect.has_value()};
      if (i >= queue.size()) {
        // What is read as unsent must not have been posted: the records behind go first.
        if (!Flush(channel, behind)) return {.keep = true};
        auto read = outbox_.ChannelQueue(channel, options_.queue_batch);
        if (!read) {
          spdlog::warn("cannot read a channel's queue channel={} error={}", channel,
                       read.error().message);
          return {.keep = suspect.has_value()};
        }
        queue = std::move(*read);
        truncated = queue.size() >= static_cast<size_t>(options_.queue_batch);
        i = 0;
        run_hint = 0;
        if (queue.empty()) return {};
      }
      const TimePoint now = clock_.Now();
      if (now - claimed_at >= options_.lease / 2) return {.keep = suspect.has_value()};
      if (queue[i].next_attempt_at > now) return {.keep = suspect.has_value()};  // it waits
      keep_lease();
      if (lease_lost) return {};
      if (!behind.empty() && now - behind_since >= kMaxBehindAge && !Flush(channel, behind)) {
        return {.keep = true};
      }
      const bool nothing_behind = behind.empty();
      Job job;
      job.queue = std::span<const store::DeliveryRecord>(queue.data() + i, queue.size() - i);
      job.client = &client;
      job.server = &server;
      job.keep_lease = keep_lease;
      job.queue_truncated = truncated;
      job.lease_owner = owner_;
      job.run_hint = run_hint;
      job.behind = &behind;
      if (suspect) {
        // Its post, if any, is no older than the lease left standing, nor than the delivery.
        job.suspect = true;
        job.in_doubt_since = std::max(*suspect, queue[i].created_at);
        job.doubt_open = true;
      }
      pipeline_->Run(job);
      if (nothing_behind && !behind.empty()) behind_since = now;
      // The store is unwell: what was sent may not be recorded, so the lease stays.
      if (!job.store_error.empty()) return {.keep = true};
      if (job.outcome.kind == OutcomeKind::kAborted || job.outcome.kind == OutcomeKind::kNone) {
        return {.keep = suspect.has_value()};  // stopping: nothing recorded
      }
      // Recorded: sent, failed, dead, or rescheduled with its in-doubt mark in the row.
      suspect.reset();
      const OutcomeKind kind = job.outcome.kind;
      if (kind != OutcomeKind::kSent && kind != OutcomeKind::kFailed &&
          kind != OutcomeKind::kDead) {
        return {job.hold_lease_until};  // rescheduled, paused or stopping: the channel waits
      }
      if (job.released) return {.released = true};  // it had nothing left
      served += static_cast<int>(job.covered);
      run_hint = job.run_seen > job.covered ? job.run_seen - job.covered : 0;
      if (!job.more.empty()) {
        // Coalesce read further than this batch, from the same head: carry on from that read.
        queue = std::move(job.more);
        truncated = queue.size() >= static_cast<size_t>(kMaxDigest);
        i = 0;
      } else if (job.read_to_end) {
        truncated = false;  // what came in since is read when this runs out
      }
      i += job.covered;
    }
    return {};
  }

  store::PipelineStore& store_;
  store::Outbox& outbox_;
  IntegrationState& integration_;
  const Clock& clock_;
  mattermost::HttpClientFactory http_factory_;
  const EngineOptions options_;
  DeliveryMetrics metrics_;
  TokenBucket bucket_;
  ChannelCache channels_;
  ServerLimits limits_;
  Backoff backoff_;
  StatusTracker status_;
  Pacer pacer_;
  const std::string owner_;
  std::unique_ptr<Pipeline> pipeline_;  // built by the dispatcher before the first claim
  std::optional<ServerKey> server_;     // dispatcher thread only
  std::atomic<bool> paused_{false};     // a 401 was seen: workers put their channels down

  std::mutex mu_;
  std::condition_variable cv_;       // dispatcher and pacing waits: Wake, workers done, Stop
  std::condition_variable work_cv_;  // workers: a claimed channel is ready, or Stop
  uint64_t generation_ = 0;          // bumped by every event the dispatcher should look at
  bool started_ = false;
  bool stopping_ = false;
  std::deque<store::ClaimedChannel> ready_;  // claimed, waiting for a worker
  std::set<std::string> serving_;  // claimed and not yet released (ready or being served)
  std::set<std::string> recheck_;  // claimed again while being served: look when released
  bool starved_ = false;           // the last look found no free worker for all it could claim
  int busy_ = 0;
  std::thread dispatcher_;
  std::vector<std::thread> workers_;

  std::mutex names_mu_;
  std::map<std::string, std::pair<TimePoint, std::string>> names_;
};

}  // namespace

std::unique_ptr<Engine> MakeEngine(store::PipelineStore& store, IntegrationState& integration,
                                   const Clock& clock, mattermost::HttpClientFactory http,
                                   Metrics& metrics, EngineOptions options) {
  return std::make_unique<EngineImpl>(store, integration, clock, std::move(http), metrics,
                                      std::move(options));
}

}  // namespace tocsin::outbox
