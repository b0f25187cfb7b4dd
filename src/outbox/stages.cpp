#include "outbox/stages.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "mattermost/resolve.hpp"
#include "render/post.hpp"

namespace tocsin::outbox {

namespace {

using mattermost::ErrorClass;
using nlohmann::json;

// Bounds on the in-place remedies of one request, so a job always ends.
constexpr int kMaxAcquireWaits = 64;
constexpr int kMaxInlineRateRetries = 3;
// A digest reply the server failed (5xx, timeout) is asked for again in place this often.
constexpr int kMaxReplyTries = 4;

// Our marks on every post (SPEC §3): who made it and for which delivery, so a delivery left in
// doubt can be found again, and a finding's first post can be recognised before it is patched.
void Mark(json& body, const std::string& installation_id) {
  json& props = body["props"];
  if (!props.is_object()) props = json::object();
  props["from_tocsin"] = "true";
  props["tocsin_installation"] = installation_id;
}

bool IsNewFinding(const store::DeliveryRecord& d) {
  return d.kind == "event" && d.event_type == domain::EventType::kVulnerabilityNew;
}

// May `d` join a digest headed by `head`? Only plain new-finding events of the same project.
bool Digestible(const store::DeliveryRecord& d, const store::DeliveryRecord& head) {
  return IsNewFinding(d) && d.project == head.project && d.channel == head.channel;
}

std::string PropString(const json& props, const char* key) {
  auto it = props.find(key);
  if (it == props.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return {};
}

// The shorter limits to try after the server refused a post rendered for `rendered`.
size_t ShrinkTarget(size_t rendered, size_t step) {
  const size_t halved = rendered >> (step + 1);
  return std::max<size_t>(100, std::min(kShrinkSteps[step], halved));
}

void LowerLimit(ServerLimits& limits, size_t runes) {
  size_t current = limits.max_runes.load();
  while (runes < current && !limits.max_runes.compare_exchange_weak(current, runes)) {
  }
}

Outcome SentOutcome(const std::string& post_id, const std::string& reason) {
  Outcome out;
  out.kind = OutcomeKind::kSent;
  out.reason = reason;
  out.post_id = post_id;
  return out;
}

// Settles a job whose store write failed: the worker gives the channel up, keeping its lease.
bool AbortForStore(Job& job, std::string message) {
  job.store_error = std::move(message);
  job.outcome.kind = OutcomeKind::kAborted;
  job.outcome.reason = "store_error";
  return false;
}

// The job's records behind, written before a stage reads or writes the channel's deliveries.
Result<void> WriteJobsBehind(store::Outbox& outbox, Job& job) {
  if (job.behind == nullptr) return Ok();
  return WriteBehind(outbox, *job.behind);
}

}  // namespace

Result<void> WriteBehind(store::Outbox& outbox, std::vector<store::SentPost>& behind) {
  if (behind.empty()) return Ok();
  auto written = outbox.RecordSentAll(behind);
  if (!written) return Unexpected(written.error());
  behind.clear();
  return Ok();
}

std::string PendingPostId(const std::string& installation_id, int64_t delivery_id) {
  return installation_id + "-" + std::to_string(delivery_id);
}

// ---- helpers -----------------------------------------------------------------------------------

std::optional<ChannelCache::Entry> ChannelCache::Get(const std::string& ref) {
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  auto it = entries_.find(ref);
  if (it == entries_.end()) return std::nullopt;
  if (now < it->second.first || now - it->second.first >= ttl_) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.second;
}

void ChannelCache::Put(const std::string& ref, Entry entry) {
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  entries_[ref] = {now, std::move(entry)};
}

void ChannelCache::Clear() {
  std::lock_guard lock(mu_);
  entries_.clear();
}

Pacer::Permit Pacer::Acquire() {
  const Clock& clock = bucket_.clock();
  const TimePoint start = clock.Now();
  Permit permit;
  for (int i = 0; i < kMaxAcquireWaits; ++i) {
    const TokenBucket::Grant grant = bucket_.TryAcquire();
    if (grant.granted()) {
      permit.granted = true;
      permit.ticket = grant.ticket;
      return permit;
    }
    permit.wait = grant.wait;
    const auto elapsed = std::chrono::duration_cast<Millis>(clock.Now() - start);
    if (elapsed + grant.wait > max_wait_) return permit;
    if (!waiter_.WaitFor(grant.wait)) {
      permit.stopping = true;
      return permit;
    }
  }
  return permit;
}

Outcome Pacer::NotGranted(const Permit& permit) const {
  Outcome out;
  if (permit.stopping) {
    out.kind = OutcomeKind::kAborted;
    out.reason = "stopping";
    return out;
  }
  out.kind = OutcomeKind::kRateLimited;
  out.reason = "rate_limited";
  out.count_attempt = false;
  out.next = bucket_.clock().Now() + std::max(permit.wait, Millis(1));
  out.error = fmt::format("waiting {} ms for the Mattermost rate limit", permit.wait.count());
  return out;
}

void Pacer::OnAnswer(uint64_t ticket, const mattermost::Client& client,
                     const mattermost::ApiError* error) {
  if (error != nullptr && error->net_error) return;  // no HTTP answer: nothing learned
  bucket_.OnServerHeaders(error != nullptr ? error->rate_limit : client.last_rate_limit(), ticket);
  if (error != nullptr && error->http_status == 429) {
    bucket_.OnRateLimited(error->retry_after.value_or(Millis(1000)));
  }
}

DeliveryMetrics::DeliveryMetrics(Metrics& metrics)
    : outcomes_(metrics.Counter("tocsin_deliveries_total",
                                "Deliveries settled or rescheduled, by outcome and reason.",
                                {"outcome", "reason"})),
      followups_(metrics.Counter(
          "tocsin_delivery_followups_total",
          "Best-effort follow-up requests (digest replies, finding patches).", {"kind", "result"})),
      reconciles_(metrics.Counter("tocsin_delivery_reconciles_total",
                                  "Deliveries left in doubt looked up in their channel.",
                                  {"result"})),
      depth_(metrics.Gauge("tocsin_deliveries", "Deliveries in the outbox by state.", {"state"})) {}

void DeliveryMetrics::CountOutcome(OutcomeKind kind, const std::string& reason, double deliveries) {
  outcomes_.Add({std::string(Name(kind)), reason}, deliveries);
}

void DeliveryMetrics::FollowUp(const std::string& kind, const std::string& result) {
  followups_.Add({kind, result});
}

void DeliveryMetrics::Reconcile(const std::string& result) { reconciles_.Add({result}); }

void DeliveryMetrics::QueueDepth(const std::array<int64_t, 5>& by_state) {
  for (int i = 0; i < 5; ++i) {
    depth_.Set({std::string(domain::Name(static_cast<domain::DeliveryState>(i)))},
               static_cast<double>(by_state[static_cast<size_t>(i)]));
  }
}

std::vector<int64_t> Job::Ids() const {
  std::vector<int64_t> ids;
  ids.reserve(covered);
  for (size_t i = 0; i < covered && i < queue.size(); ++i) ids.push_back(queue[i].id);
  return ids;
}

Pipeline& Pipeline::Then(std::unique_ptr<Stage> stage) {
  main_.push_back(std::move(stage));
  return *this;
}

Pipeline& Pipeline::Finally(std::unique_ptr<Stage> stage) {
  final_.push_back(std::move(stage));
  return *this;
}

void Pipeline::Run(Job& job) const {
  for (const auto& stage : main_) {
    if (!stage->Run(job)) break;
  }
  for (const auto& stage : final_) stage->Run(job);
  if (job.then) {
    Run(*job.then);
    if (job.store_error.empty()) job.store_error = job.then->store_error;
  }
}

std::vector<std::string> Pipeline::StageNames() const {
  std::vector<std::string> names;
  for (const auto& s : main_) names.emplace_back(s->Name());
  for (const auto& s : final_) names.emplace_back(s->Name());
  return names;
}

// ---- resolve -----------------------------------------------------------------------------------

bool ResolveStage::Run(Job& job) {
  const std::string& ref = job.head().channel;
  if (auto cached = cache_.Get(ref)) {
    if (cached->channel) {
      job.channel = cached->channel;
      return true;
    }
    job.failure = Failure{*cached->error, Phase::kResolve};
    return false;
  }
  const Pacer::Permit permit = pacer_.Acquire();
  if (!permit.granted) {
    job.outcome = pacer_.NotGranted(permit);
    return false;
  }
  auto channel = mattermost::ResolveChannel(*job.client, ref);
  pacer_.OnAnswer(permit.ticket, *job.client, channel ? nullptr : &channel.error());
  if (!channel) {
    if (mattermost::Classify(channel.error()).error_class == ErrorClass::kPermanent) {
      cache_.Put(ref, {std::nullopt, channel.error()});
    }
    job.failure = Failure{channel.error(), Phase::kResolve};
    return false;
  }
  if (channel->delete_at > 0) {
    // What the server would answer a post there (API-FACTS §3.8); said now, without posting.
    mattermost::ApiError archived;
    archived.http_status = 400;
    archived.id = "api.post.create_post.can_not_post_to_deleted.error";
    archived.message = "Can not post to deleted channel.";
    cache_.Put(ref, {std::nullopt, archived});
    job.failure = Failure{archived, Phase::kResolve};
    return false;
  }
  cache_.Put(ref, {*channel, std::nullopt});
  job.channel = std::move(*channel);
  return true;
}

// ---- coalesce ----------------------------------------------------------------------------------

bool CoalesceStage::Run(Job& job) {
  const store::DeliveryRecord& head = job.head();
  if (!IsNewFinding(head)) return true;
  const size_t limit = static_cast<size_t>(std::max(1, max_digest_));
  // A digest covers more than the threshold and at most `limit`: with a threshold that high none
  // can form, and there is nothing to count (or to read further for, once per post).
  if (!head.in_doubt_since && head.digest_threshold >= static_cast<int64_t>(limit)) return true;
  // The run of new findings behind the head that one digest would cover, counted up to `cap`.
  const auto run_length = [&](std::span<const store::DeliveryRecord> queue, size_t cap) {
    size_t n = 1;
    if (head.in_doubt_since) {
      // A head in doubt keeps exactly the set it was sent with: a digest marks all it covers
      // with one in_doubt_since, a single post only itself. Its post (if any) says the same.
      while (n < queue.size() && n < cap && queue[n].in_doubt_since == head.in_doubt_since &&
             Digestible(queue[n], head)) {
        ++n;
      }
    } else {
      n = std::clamp<size_t>(job.run_hint, 1, std::min(cap, queue.size()));
      while (n < queue.size() && n < cap && Digestible(queue[n], head)) ++n;
    }
    job.run_seen = std::max(job.run_seen, n);
    return n;
  };
  // The run reaches the end of what the worker read: read further (once; the worker keeps the
  // longer read for the deliveries that follow, so a long queue is not read again per delivery).
  const auto read_further = [&] {
    if (!job.more.empty() || !job.queue_truncated || job.queue.size() >= limit) return false;
    if (!WriteJobsBehind(outbox_, job)) return false;  // the record stage meets it again
    auto more = outbox_.ChannelQueue(head.channel, max_digest_);
    if (!more || more->empty() || more->front().id != head.id) return false;
    if (more->size() <= job.queue.size()) {
      // Nothing beyond what is in hand: the worker need not look again for every delivery.
      job.read_to_end = true;
      return false;
    }
    job.more = std::move(*more);
    job.queue = job.more;
    return true;
  };
  // Deciding needs threshold + 1 deliveries at most; covering needs the whole run.
  const size_t decide =
      head.in_doubt_since
          ? limit
          : std::min<size_t>(limit,
                             static_cast<size_t>(std::max<int64_t>(1, head.digest_threshold)) + 1);
  size_t n = run_length(job.queue, decide);
  if (n < decide && n == job.queue.size() && read_further()) n = run_length(job.queue, decide);
  const bool was_digest = head.in_doubt_since.has_value() && n > 1;
  const bool digest = was_digest || (n >= 2 && static_cast<int64_t>(n) > head.digest_threshold);
  if (!digest) {
    // Too few for a digest yet: a young head waits out the digest window, so that findings
    // sent one by one in a burst still make one digest. Nothing was sent for it (a head in doubt,
    // or one that may have been posted, is looked up instead), and the wait is no attempt.
    const TimePoint due = head.created_at + window_;
    if (window_.count() > 0 && head.attempts == 0 && !head.in_doubt_since && !job.suspect &&
        clock_.Now() < due) {
      job.outcome.kind = OutcomeKind::kDeferred;
      job.outcome.reason = "digest_window";
      job.outcome.next = due;
      job.outcome.count_attempt = false;
      return false;
    }
    return true;
  }
  n = run_length(job.queue, limit);
  if (n == job.queue.size() && read_further()) n = run_length(job.queue, limit);
  job.digest = true;
  job.covered = n;
  return true;
}

// ---- reconcile ---------------------------------------------------------------------------------

bool ReconcileStage::Run(Job& job) {
  const store::DeliveryRecord& head = job.head();
  if (head.kind == "replies") {
    // Its replies carry their own de-duplication keys and are posted on from the count
    // recorded: there is no post of its own to look for.
    job.doubt_open = false;
    return true;
  }
  if (head.in_doubt_since) {
    // Marked: a digest is looked up with the set it was sent with (coalesce kept it).
    job.in_doubt_since = head.in_doubt_since;
  } else if (job.suspect && job.in_doubt_since) {
    // Claimed over a lease left standing: only a single post can be unrecorded (a digest is
    // marked before it goes), so the head alone is looked for, whatever coalesce made of it.
  } else {
    return true;
  }
  job.doubt_open = true;
  const Pacer::Permit permit = pacer_.Acquire();
  if (!permit.granted) {
    job.outcome = pacer_.NotGranted(permit);
    return false;
  }
  const int64_t since = ToUnixMillis(*job.in_doubt_since - kReconcileLookback);
  auto posts = job.client->GetChannelPostsSince(job.channel->id, since);
  pacer_.OnAnswer(permit.ticket, *job.client, posts ? nullptr : &posts.error());
  if (!posts) {
    job.failure = Failure{posts.error(), Phase::kReconcile};
    return false;
  }
  // Our posts in the window, by the delivery they were made for.
  std::map<std::string, const mattermost::Post*> ours;
  for (const auto& [id, post] : posts->posts) {
    const std::string delivery = PropString(post.props, "tocsin_delivery_id");
    if (delivery.empty()) continue;
    const std::string installation = PropString(post.props, "tocsin_installation");
    if (!installation.empty() && installation != installation_id_) continue;
    ours.emplace(delivery, &post);
  }
  const auto found = [&](int64_t delivery_id) -> const mattermost::Post* {
    auto it = ours.find(std::to_string(delivery_id));
    return it == ours.end() ? nullptr : it->second;
  };
  if (const mattermost::Post* post = found(head.id)) job.reconciled_post_id = post->id;
  job.doubt_open = false;  // settled either way: found, or never created
  if (!job.reconciled_post_id.empty() && !head.in_doubt_since) {
    job.covered = 1;  // it went out as a single post
    job.digest = false;
  }
  if (!job.reconciled_post_id.empty() && !job.digest) {
    // Posts go out strictly in order, so the ones after a found single post may have gone out
    // too, their records lost with its (written behind: docs/decisions/0005). Each found in a
    // row is settled with the head; the first not found is where sending resumes.
    for (size_t k = 1; k < job.queue.size(); ++k) {
      const store::DeliveryRecord& d = job.queue[k];
      if (d.in_doubt_since) break;  // marked: it is looked up as a head of its own
      const mattermost::Post* post = found(d.id);
      if (post == nullptr || !PropString(post->props, "tocsin_digest_count").empty()) break;
      store::SentPost sent;
      sent.ids = {d.id};
      sent.post_id = post->id;
      sent.channel_id = job.channel->id;
      sent.project = d.project;
      if (std::string key = PropString(post->props, "tocsin_thread_key"); !key.empty()) {
        sent.root_thread_key = std::move(key);
      }
      job.reconciled_more.push_back(std::move(sent));
    }
    job.covered = 1 + job.reconciled_more.size();
  }
  metrics_.Reconcile(job.reconciled_post_id.empty() ? "not_found" : "found");
  if (!job.reconciled_post_id.empty()) {
    spdlog::info("delivery left in doubt was posted before delivery={} post={} (and {} after it)",
                 head.id, job.reconciled_post_id, job.reconciled_more.size());
  }
  return true;
}

// ---- expire ------------------------------------------------------------------------------------

bool ExpireStage::Run(Job& job) {
  if (!job.reconciled_post_id.empty()) return true;  // it did get posted
  const store::DeliveryRecord& head = job.head();
  // Only a delivery that was tried and kept failing gives up: one that waited behind others or
  // through a 401 pause (attempts not counted) gets its chance (SPEC §4: not dropped).
  if (head.attempts == 0 || clock_.Now() <= head.expires_at) return true;
  job.covered = 1;  // the rest of a digest was never tried
  job.digest = false;
  job.outcome.kind = OutcomeKind::kDead;
  job.outcome.reason = "expired";
  job.outcome.error =
      fmt::format("gave up after {} attempts (delivery_ttl passed)", head.attempts) +
      (head.last_error.empty() ? "" : "; last error: " + head.last_error);
  return false;
}

// ---- thread ------------------------------------------------------------------------------------

bool ThreadStage::Run(Job& job) {
  const store::DeliveryRecord& head = job.head();
  if (head.kind != "event" || head.thread_key.empty() || job.digest) return true;
  if (head.event_type == domain::EventType::kVulnerabilityNew) {
    job.root_post_about_finding = true;
    return true;
  }
  if (head.event_type != domain::EventType::kStatusChanged) return true;
  // The root may be among the records behind.
  if (auto written = WriteJobsBehind(outbox_, job); !written) {
    return AbortForStore(job, written.error().message);
  }
  auto root = outbox_.GetThreadRoot(head.project, head.thread_key, job.channel->id);
  if (!root) return AbortForStore(job, root.error().message);
  if (*root) {
    job.root_id = **root;
  } else {
    job.root_post_about_finding = true;  // first post about it here: later changes reply to it
  }
  return true;
}

// ---- render ------------------------------------------------------------------------------------

namespace {

// A digest's replies, rendered for `runes`, and how to render them again for fewer.
void PrepareReplies(Job& job, std::vector<json> events, render::Context ctx, size_t runes) {
  ctx.max_runes = runes;
  job.replies = render::RenderDigest(events, ctx).replies;
  job.replies_max_runes = runes;
  job.render_replies = [events = std::move(events), ctx](size_t max_runes) {
    render::Context smaller = ctx;
    smaller.max_runes = max_runes;
    return render::RenderDigest(events, smaller).replies;
  };
}

}  // namespace

bool RenderStage::Run(Job& job) {
  const store::DeliveryRecord& head = job.head();
  render::Context ctx;
  ctx.project = head.project;
  ctx.project_display = display_name_ ? display_name_(head.project) : std::string();
  ctx.public_url = public_url_;
  ctx.max_runes = limits_.max_runes.load();
  job.rendered_max_runes = ctx.max_runes;
  if (head.kind == "test") {
    job.post = render::RenderTestMessage(ctx, head.channel);
    return true;
  }
  // A "replies" delivery run right after its digest has the list in hand already.
  if (head.kind == "replies") return !job.replies.empty() || RenderReplies(job, ctx);
  const auto parse = [&](const store::DeliveryRecord& d) {
    return json::parse(d.event_body_json, nullptr, /*allow_exceptions=*/false);
  };
  if (job.digest) {
    std::vector<json> events;
    events.reserve(job.covered);
    for (size_t i = 0; i < job.covered; ++i) {
      json event = parse(job.queue[i]);
      if (event.is_object()) events.push_back(std::move(event));
    }
    job.post = render::RenderDigest(events, ctx).root;
    // The root's message is short; the replies are long lists. Rendered for the old servers'
    // 4,000 characters, they fit every server at the cost of a few more replies.
    PrepareReplies(job, std::move(events), ctx, std::min(ctx.max_runes, kShrinkSteps[0]));
    return true;
  }
  const json event = parse(head);
  if (!event.is_object()) {
    job.outcome.kind = OutcomeKind::kFailed;
    job.outcome.reason = "invalid_event";
    job.outcome.error = "the stored event is not a JSON object; it cannot be rendered";
    return false;
  }
  job.post = render::RenderEvent(event, ctx);
  if (!job.root_id.empty()) job.patch = render::RenderFindingPatch(event, ctx);
  return true;
}

bool RenderStage::RenderReplies(Job& job, render::Context ctx) {
  const store::DeliveryRecord& head = job.head();
  auto digest = outbox_.GetDelivery(head.digest_id);
  if (!digest) return AbortForStore(job, digest.error().message);
  if (!*digest || (*digest)->post_id.empty()) {
    job.outcome.kind = OutcomeKind::kFailed;
    job.outcome.reason = "digest_missing";
    job.outcome.error = fmt::format(
        "the digest these replies list (delivery {}) is not recorded as posted", head.digest_id);
    return false;
  }
  auto bodies = outbox_.DigestEvents(head.digest_id);
  if (!bodies) return AbortForStore(job, bodies.error().message);
  std::vector<json> events;
  events.reserve(bodies->size());
  for (const std::string& body : *bodies) {
    json event = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (event.is_object()) events.push_back(std::move(event));
  }
  // The limit the list was first rendered for: the same split, so the count posted still
  // says which replies are out.
  const size_t runes = head.replies_runes > 0 ? static_cast<size_t>(head.replies_runes)
                                              : std::min(ctx.max_runes, kShrinkSteps[0]);
  PrepareReplies(job, std::move(events), ctx, runes);
  job.root_id = (*digest)->post_id;
  return true;
}

// ---- rate limit --------------------------------------------------------------------------------

bool RateLimitStage::Run(Job& job) {
  if (!job.reconciled_post_id.empty()) return true;  // nothing to send
  const Pacer::Permit permit = pacer_.Acquire();
  if (!permit.granted) {
    job.outcome = pacer_.NotGranted(permit);
    return false;
  }
  job.ticket = permit.ticket;
  return true;
}

// ---- send --------------------------------------------------------------------------------------

bool SendStage::Run(Job& job) {
  const store::DeliveryRecord& head = job.head();
  if (!job.reconciled_post_id.empty()) {
    job.outcome = SentOutcome(job.reconciled_post_id, "reconciled");
    return true;
  }
  if (head.kind == "replies") return SendReplies(job);
  json body = std::move(job.post);  // the send is its last reader
  Mark(body, installation_id_);
  body["channel_id"] = job.channel->id;
  body["pending_post_id"] = PendingPostId(installation_id_, head.id);
  body["props"]["tocsin_delivery_id"] = std::to_string(head.id);
  if (job.digest) body["props"]["tocsin_digest_count"] = job.covered;
  if (job.root_post_about_finding) body["props"]["tocsin_thread_key"] = head.thread_key;
  if (!job.root_id.empty()) body["root_id"] = job.root_id;

  // From here on the post may exist without our knowing (a crash, a lost answer), and it must be
  // looked up (reconcile) before it is ever sent again. A single post is told by its channel's
  // lease, which is released only after its outcome is recorded (docs/decisions/0004); a
  // digest's set is marked, committed, before the request leaves, so that the same set is
  // looked up. An earlier mark (or the suspect bound) is kept: it bounds where the post could be.
  const TimePoint mark = job.in_doubt_since.value_or(clock_.Now());
  if (job.digest) {
    if (auto written = WriteJobsBehind(outbox_, job); !written) {
      return AbortForStore(job, written.error().message);
    }
    if (auto r = outbox_.MarkInDoubt(job.Ids(), mark); !r) {
      return AbortForStore(job, r.error().message);
    }
  }
  job.in_doubt_since = mark;
  job.doubt_open = true;

  uint64_t ticket = std::exchange(job.ticket, 0);
  size_t shrinks = 0;
  bool learn_limit = true;  // only a refused message length teaches us the server's limit
  int rate_retries = 0;
  bool root_dropped = false;
  constexpr int kMaxRequests =
      1 + static_cast<int>(std::size(kShrinkSteps)) + kMaxInlineRateRetries + 1;
  for (int request = 0; request < kMaxRequests; ++request) {
    if (ticket == 0) {
      const Pacer::Permit permit = pacer_.Acquire();
      if (!permit.granted) {
        job.outcome = pacer_.NotGranted(permit);
        return false;
      }
      ticket = permit.ticket;
    }
    auto created = job.client->CreatePost(body, mattermost::Client::ReadBack::kWithoutProps);
    pacer_.OnAnswer(ticket, *job.client, created ? nullptr : &created.error());
    ticket = 0;
    job.doubt_open = !created && MayHaveReachedServer(created.error());
    if (created) {
      if (shrinks > 0 && learn_limit) {
        LowerLimit(limits_, ShrinkTarget(job.rendered_max_runes, shrinks - 1));
      }
      job.outcome = SentOutcome(created->id, job.digest ? "digest" : "ok");
      return true;
    }
    const mattermost::ApiError& error = created.error();
    const mattermost::Classification c = mattermost::Classify(error);
    if (c.error_class == ErrorClass::kTooLong && shrinks < std::size(kShrinkSteps)) {
      const size_t target = ShrinkTarget(job.rendered_max_runes, shrinks);
      spdlog::info("post refused as too long, shortening delivery={} runes={}", head.id, target);
      body = render::Shrink(body, target);
      ++shrinks;
      if (c.reason != "message_too_long") learn_limit = false;
      continue;
    }
    if (c.error_class == ErrorClass::kRateLimited && rate_retries < kMaxInlineRateRetries &&
        error.retry_after.value_or(Millis(1000)) <= max_inline_retry_after_) {
      ++rate_retries;  // the pacer waits for the block the 429 put on the bucket
      continue;
    }
    if (!root_dropped && !job.root_id.empty() &&
        (error.id == "api.post.create_post.root_id.app_error" ||
         error.id == "api.post.create_post.channel_root_id.app_error")) {
      // The finding's first post is gone (deleted, or moved): this one becomes the new root.
      spdlog::info("thread root is gone, posting as a new root delivery={} root={}", head.id,
                   job.root_id);
      root_dropped = true;
      body.erase("root_id");
      body["props"]["tocsin_thread_key"] = head.thread_key;
      job.root_id.clear();
      job.patch = json();
      job.root_post_about_finding = true;
      continue;
    }
    job.failure = Failure{error, Phase::kSend};
    return false;
  }
  job.failure = Failure{mattermost::ApiError{}, Phase::kSend};
  job.failure->error.http_status = 429;
  job.failure->error.message = "still rate limited after waiting in place";
  return false;
}

bool SendStage::SendReplies(Job& job) {
  const store::DeliveryRecord& head = job.head();
  const int64_t digest_id = head.digest_id;
  size_t runes = job.replies_max_runes;
  size_t rerenders = 0;
  std::string last_post_id;
  uint64_t ticket = std::exchange(job.ticket, 0);
  size_t i = std::min(static_cast<size_t>(std::max(0, head.replies_posted)), job.replies.size());
  // Whatever ends the list, the record stage saves how far it got.
  const auto stop = [&]() {
    job.replies_posted = i;
    job.replies_max_runes = runes;
    return false;
  };
  while (i < job.replies.size()) {
    if (job.keep_lease) job.keep_lease();
    json body = job.replies[i];
    Mark(body, installation_id_);
    body["props"]["tocsin_digest_of"] = std::to_string(digest_id);
    body["channel_id"] = job.channel->id;
    body["root_id"] = job.root_id;
    // Its own key, derived from the digest's head: a repeat within 30 s is de-duplicated.
    body["pending_post_id"] = PendingPostId(installation_id_, digest_id) + "-r" + std::to_string(i);
    bool rerendered = false;
    size_t shrinks = 0;
    int repeats = 0;
    int rate_retries = 0;
    // Bounded: each way round spends one of these counts, or ends the reply.
    while (true) {
      if (ticket == 0) {
        const Pacer::Permit permit = pacer_.Acquire();
        if (!permit.granted) {
          metrics_.FollowUp("digest_reply", permit.stopping ? "aborted" : "rate_limited");
          job.outcome = pacer_.NotGranted(permit);
          return stop();
        }
        ticket = permit.ticket;
      }
      auto created = job.client->CreatePost(body, mattermost::Client::ReadBack::kWithoutProps);
      pacer_.OnAnswer(ticket, *job.client, created ? nullptr : &created.error());
      ticket = 0;
      if (created) {
        last_post_id = created->id;
        break;
      }
      const mattermost::ApiError& error = created.error();
      const mattermost::Classification c = mattermost::Classify(error);
      spdlog::warn("digest reply not posted delivery={} reply={} error={}", digest_id, i,
                   error.ToString());
      if (c.error_class == ErrorClass::kTooLong && i == 0 && job.render_replies &&
          rerenders < std::size(kShrinkSteps)) {
        // The first reply is as long as any: render the whole list again, smaller, and start
        // over. Nothing is lost; there are only more replies.
        runes = ShrinkTarget(job.replies_max_runes, rerenders++);
        job.replies = job.render_replies(runes);
        rerendered = true;
        break;
      }
      if (c.error_class == ErrorClass::kTooLong && shrinks < std::size(kShrinkSteps)) {
        body = render::Shrink(body, ShrinkTarget(runes, shrinks++));
        continue;
      }
      if (c.error_class == ErrorClass::kRateLimited && rate_retries < kMaxInlineRateRetries &&
          error.retry_after.value_or(Millis(1000)) <= max_inline_retry_after_) {
        ++rate_retries;  // the pacer waits for the block the 429 put on the bucket
        continue;
      }
      if ((c.error_class == ErrorClass::kRetryable || c.error_class == ErrorClass::kDedupPending) &&
          ++repeats < kMaxReplyTries) {
        continue;
      }
      metrics_.FollowUp("digest_reply", "failed");
      job.failure = Failure{error, Phase::kSend};
      return stop();
    }
    if (rerendered) {
      metrics_.FollowUp("digest_reply", "rerendered");
      i = 0;
      continue;
    }
    metrics_.FollowUp("digest_reply", "posted");
    if (rerenders > 0) LowerLimit(limits_, runes);
    ++i;
  }
  job.replies_max_runes = runes;
  job.outcome = SentOutcome(last_post_id.empty() ? job.root_id : last_post_id, "replies");
  return true;
}

// ---- classify ----------------------------------------------------------------------------------

bool ClassifyStage::Run(Job& job) {
  if (job.outcome.kind != OutcomeKind::kNone) return true;
  const store::DeliveryRecord& head = job.head();
  if (!job.failure) {  // a stage forgot to settle the job: retry rather than lose it
    job.outcome.kind = OutcomeKind::kRetry;
    job.outcome.reason = "internal_error";
    job.outcome.error = "the delivery pipeline ended without an outcome";
    job.outcome.next = clock_.Now() + backoff_.Delay(head.attempts + 1);
    return true;
  }
  DecideInput in;
  in.channel_ref = head.channel;
  in.attempts = head.attempts;
  in.now = clock_.Now();
  in.expires_at = head.expires_at;
  job.outcome = Decide(*job.failure, in, backoff_);
  if (job.outcome.kind == OutcomeKind::kDead) {
    job.covered = 1;  // only the head was tried
    job.digest = false;
  }
  return true;
}

// ---- record ------------------------------------------------------------------------------------

ServerKey ServerKey::Of(const mattermost::ConnectionSettings& conn) {
  return {mattermost::NormalizeBaseUrl(conn.url), conn.token, conn.insecure, conn.ca_file};
}

void StatusTracker::UseServer(const ServerKey& server) {
  std::lock_guard lock(mu_);
  server_ = server;
}

bool StatusTracker::Report(const std::string& status, const std::string& detail,
                           const ServerKey* seen_with) {
  std::lock_guard lock(mu_);
  if (seen_with != nullptr && server_ && !(*seen_with == *server_)) return false;
  if (known_ == status) return true;
  integration_.ReportStatus(status, detail);
  known_ = status;
  return true;
}

void StatusTracker::OnSuccess() {
  std::lock_guard lock(mu_);
  if (known_ == "ok") return;
  if (known_.empty()) known_ = integration_.Status();
  if (known_ != "ok") integration_.ReportStatus("ok", "a post was delivered");
  known_ = "ok";
}

std::string StatusTracker::Refresh() {
  std::string status = integration_.Status();
  std::lock_guard lock(mu_);
  known_ = status;
  return status;
}

bool RecordStage::Run(Job& job) {
  const Outcome& o = job.outcome;
  const store::DeliveryRecord& head = job.head();
  const TimePoint now = clock_.Now();
  if (job.replies_posted && o.kind != OutcomeKind::kSent && o.kind != OutcomeKind::kNone) {
    // How far the list got, stopping included: the next try goes on from there.
    if (auto saved = outbox_.SaveRepliesProgress(head.id, static_cast<int>(*job.replies_posted),
                                                 static_cast<int>(job.replies_max_runes), now);
        !saved) {
      job.store_error = saved.error().message;
      spdlog::error("cannot record how far a digest's replies got delivery={} error={}", head.id,
                    job.store_error);
      return true;
    }
  }
  if (o.kind == OutcomeKind::kNone || o.kind == OutcomeKind::kAborted) return true;
  const std::vector<int64_t> ids = job.Ids();
  // What the answer says of the server counts only for the settings it was asked with.
  const bool current =
      o.report_status.empty() || status_.Report(o.report_status, o.error, job.server);
  if (!current) {
    spdlog::info(
        "an answer to the replaced Mattermost settings is not reported delivery={} "
        "outcome={}",
        head.id, outbox::Name(o.kind));
  }
  if (o.kind != OutcomeKind::kSent) {
    // The earlier posts' records first: a delivery is never written before the ones before it.
    if (auto written = WriteJobsBehind(outbox_, job); !written) {
      job.store_error = written.error().message;
      spdlog::error("cannot record the posts before a delivery delivery={} error={}", head.id,
                    job.store_error);
      return true;
    }
  }
  Result<void> written;
  double counted = 1;
  switch (o.kind) {
    case OutcomeKind::kSent: {
      store::SentPost sent;
      // A head found posted with more after it: each has its own post and record.
      sent.ids = job.reconciled_more.empty() ? ids : std::vector<int64_t>{head.id};
      sent.post_id = o.post_id;
      sent.channel_id = job.channel->id;
      sent.now = now;
      sent.project = head.project;
      if (job.root_post_about_finding && !head.thread_key.empty()) {
        sent.root_thread_key = head.thread_key;
      }
      const bool owes_replies = job.digest && !job.replies.empty();
      if (job.digest) {
        for (size_t i = 0; i < job.covered && i < job.queue.size(); ++i) {
          const store::DeliveryRecord& d = job.queue[i];
          if (!d.thread_key.empty()) sent.listed.emplace_back(d.project, d.thread_key);
        }
      }
      if (owes_replies) {
        // Owed from here on, in the same commit as the root: the follow-up posts them now, and
        // what it cannot (or a crash) is posted later from where it stopped.
        sent.replies = store::RepliesOwed{head.channel, head.event_seq,
                                          static_cast<int>(job.replies_max_runes),
                                          now + (head.expires_at - head.created_at)};
      }
      const bool last_in_hand =
          !job.queue_truncated && job.more.empty() && job.covered >= job.queue.size();
      const bool follow_ups = owes_replies || job.patch.is_object();
      counted = static_cast<double>(ids.size());
      // A "replies" delivery is recorded at once: it has no post of its own that a claim over a
      // lease left standing could find.
      if (job.behind != nullptr && !job.digest && !follow_ups && !last_in_hand &&
          job.reconciled_more.empty() && head.kind != "replies") {
        // Written behind: with the next ones, or before anything reads the channel's queue.
        job.behind->push_back(std::move(sent));
        status_.OnSuccess();
        if (job.behind->size() >= kMaxBehind) written = WriteBehind(outbox_, *job.behind);
        break;
      }
      std::vector<store::SentPost> records;
      if (job.behind != nullptr) {
        records = std::move(*job.behind);
        job.behind->clear();
      }
      records.push_back(std::move(sent));
      for (store::SentPost& more : job.reconciled_more) {
        more.now = now;
        records.push_back(std::move(more));
      }
      job.reconciled_more.clear();
      // The release, on the last record (not when follow-ups — a digest's replies, a root's
      // patch — are still to go out: the lease covers them too).
      if (!job.lease_owner.empty() && last_in_hand && !follow_ups) {
        records.back().channel = head.channel;
        records.back().release_owner = job.lease_owner;
      }
      auto recorded = records.size() == 1 ? outbox_.RecordSent(records.front())
                                          : outbox_.RecordSentAll(records);
      if (recorded) {
        job.released = *recorded;
        status_.OnSuccess();
      } else {
        written = Unexpected(recorded.error());
      }
      break;
    }
    case OutcomeKind::kRetry:
    case OutcomeKind::kRateLimited:
    case OutcomeKind::kPaused:
    case OutcomeKind::kDeferred:
      // Still in doubt (the post may exist): the mark stays, in the same write, so the next
      // try looks first; a digest's other deliveries keep the mark they got with the head.
      written = outbox_.Reschedule(
          head.id, o.next, o.kind == OutcomeKind::kRetry && o.count_attempt, o.reason, o.error, now,
          job.doubt_open ? job.in_doubt_since : std::nullopt);
      if (written && job.in_doubt_since) {
        if (job.doubt_open) {
          job.hold_lease_until = o.next;
        } else {
          // A digest's other deliveries were marked with the head; nothing was posted.
          for (size_t i = 1; i < ids.size() && written; ++i) {
            written =
                outbox_.Reschedule(ids[i], o.next, false, o.reason, o.error, now, std::nullopt);
          }
        }
      }
      if (o.kind == OutcomeKind::kPaused && current && on_paused_) on_paused_();
      break;
    case OutcomeKind::kFailed:
      // A digest that can never be posted fails as a whole: its deliveries would only make the
      // same digest again.
      for (int64_t id : ids) {
        written = outbox_.MarkFinal(id, domain::DeliveryState::kFailed, o.reason, o.error, now);
        if (!written) break;
      }
      counted = static_cast<double>(ids.size());
      spdlog::warn("delivery failed delivery={} channel={} reason={} error={}", head.id,
                   head.channel, o.reason, o.error);
      break;
    case OutcomeKind::kDead:
      written = outbox_.MarkFinal(head.id, domain::DeliveryState::kDead, o.reason, o.error, now);
      spdlog::warn("delivery gave up delivery={} channel={} error={}", head.id, head.channel,
                   o.error);
      break;
    case OutcomeKind::kNone:
    case OutcomeKind::kAborted:
      break;
  }
  if (!written) {
    job.store_error = written.error().message;
    spdlog::error("cannot record a delivery outcome delivery={} outcome={} error={}", head.id,
                  outbox::Name(o.kind), written.error().message);
  }
  metrics_.CountOutcome(o.kind, o.reason, counted);
  return true;
}

// ---- follow up ---------------------------------------------------------------------------------

bool FollowUpStage::Run(Job& job) {
  if (job.outcome.kind != OutcomeKind::kSent || !job.store_error.empty()) return true;
  if (job.digest && !job.replies.empty()) ThenReplies(job);
  if (!job.root_id.empty() && job.patch.is_object()) PatchRoot(job);
  return true;
}

void FollowUpStage::ThenReplies(Job& job) {
  const store::DeliveryRecord& head = job.head();
  auto owed = outbox_.FindReplies(head.id);
  if (!owed || !*owed) {
    // Recorded with the root, so only a failing store hides it: it is served in its turn, the
    // list rendered again.
    spdlog::error("cannot read a digest's replies delivery delivery={} error={}", head.id,
                  owed ? std::string("none recorded") : owed.error().message);
    return;
  }
  auto next = std::make_unique<Job>();
  next->then_head = std::move(**owed);
  next->queue = std::span<const store::DeliveryRecord>(&*next->then_head, 1);
  next->client = job.client;
  next->server = job.server;
  next->keep_lease = job.keep_lease;
  next->behind = job.behind;
  next->replies = std::move(job.replies);
  next->replies_max_runes = job.replies_max_runes;
  next->render_replies = std::move(job.render_replies);
  next->root_id = job.outcome.post_id;
  job.then = std::move(next);
}

void FollowUpStage::PatchRoot(Job& job) {
  const store::DeliveryRecord& head = job.head();
  if (job.keep_lease) job.keep_lease();
  Pacer::Permit permit = pacer_.Acquire();
  if (!permit.granted) {
    metrics_.FollowUp("patch", permit.stopping ? "aborted" : "rate_limited");
    return;
  }
  // Read the root first: a digest root or a post that is not about this finding is left alone,
  // and PatchPost replaces all props, so ours must be carried over.
  auto root = job.client->GetPost(job.root_id);
  pacer_.OnAnswer(permit.ticket, *job.client, root ? nullptr : &root.error());
  if (!root) {
    spdlog::warn("cannot read a finding's first post to update it delivery={} post={} error={}",
                 head.id, job.root_id, root.error().ToString());
    metrics_.FollowUp("patch", "failed");
    return;
  }
  if (PropString(root->props, "tocsin_thread_key") != head.thread_key) {
    metrics_.FollowUp("patch", "skipped");
    return;
  }
  json patch = json::object();
  patch["message"] = job.patch.value("message", std::string());
  json props = root->props.is_object() ? root->props : json::object();
  if (job.patch.contains("props") && job.patch["props"].is_object()) {
    for (const auto& [key, value] : job.patch["props"].items()) props[key] = value;
  }
  patch["props"] = std::move(props);
  permit = pacer_.Acquire();
  if (!permit.granted) {
    metrics_.FollowUp("patch", permit.stopping ? "aborted" : "rate_limited");
    return;
  }
  auto patched = job.client->PatchPost(job.root_id, patch);
  pacer_.OnAnswer(permit.ticket, *job.client, patched ? nullptr : &patched.error());
  if (!patched) {
    // Not retried: the next status change patches it again, and the reply already says it all.
    spdlog::warn("cannot update a finding's first post delivery={} post={} error={}", head.id,
                 job.root_id, patched.error().ToString());
    metrics_.FollowUp("patch", "failed");
    return;
  }
  metrics_.FollowUp("patch", "patched");
}

// ---- the builder -------------------------------------------------------------------------------

Pipeline BuildPipeline(const PipelineDeps& d) {
  Pipeline pipeline;
  pipeline.Then(std::make_unique<ResolveStage>(d.channels, d.pacer))
      .Then(std::make_unique<CoalesceStage>(d.outbox, d.clock, d.digest_window))
      .Then(std::make_unique<ReconcileStage>(d.pacer, d.installation_id, d.metrics))
      .Then(std::make_unique<ExpireStage>(d.clock))
      .Then(std::make_unique<ThreadStage>(d.outbox))
      .Then(std::make_unique<RenderStage>(d.outbox, d.public_url, d.display_name, d.limits))
      .Then(std::make_unique<RateLimitStage>(d.pacer))
      .Then(std::make_unique<SendStage>(d.outbox, d.pacer, d.clock, d.installation_id, d.limits,
                                        d.max_inline_retry_after, d.metrics))
      .Finally(std::make_unique<ClassifyStage>(d.clock, d.backoff))
      .Finally(std::make_unique<RecordStage>(d.outbox, d.clock, d.metrics, d.status, d.on_paused))
      .Finally(std::make_unique<FollowUpStage>(d.outbox, d.pacer, d.metrics));
  return pipeline;
}

}  // namespace tocsin::outbox
