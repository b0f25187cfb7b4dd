// Fakes for the delivery engine's tests: an in-memory Outbox that follows store/pipeline.hpp's
// rules (claims, leases, the undelivered states, conflicts), an IntegrationState, a scripted
// HttpClient with Mattermost-shaped answers, and a Waiter that advances a FakeClock instead of
// sleeping. Header-only so the integration tests can include it too.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "outbox/engine.hpp"
#include "outbox/stages.hpp"
#include "store/pipeline.hpp"
#include "support/fake_clock.hpp"

namespace tocsin::outbox::testing {

using domain::DeliveryState;

// ---- the outbox --------------------------------------------------------------------------------

class FakeOutbox final : public store::Outbox {
 public:
  // Adds a delivery (id assigned, pending, due at created_at unless next_attempt_at is set).
  int64_t Add(store::DeliveryRecord d) {
    std::lock_guard lock(mu_);
    d.id = ++last_id_;
    if (d.next_attempt_at == TimePoint{}) d.next_attempt_at = d.created_at;
    if (d.kind.empty()) d.kind = "event";
    rows_[d.id] = d;
    return d.id;
  }
  store::DeliveryRecord Row(int64_t id) {
    std::lock_guard lock(mu_);
    return rows_.at(id);
  }
  void Update(int64_t id, const std::function<void(store::DeliveryRecord&)>& fn) {
    std::lock_guard lock(mu_);
    fn(rows_.at(id));
  }
  // Every mutating call, in order: "MarkInDoubt 1,2", "MarkSent 1 post=…", "Reschedule 1 …".
  std::vector<std::string> Calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  void FailWrites(bool fail) {
    std::lock_guard lock(mu_);
    fail_writes_ = fail;
  }
  std::map<std::tuple<std::string, std::string, std::string>, std::string> Roots() {
    std::lock_guard lock(mu_);
    return roots_;
  }

  Result<std::vector<store::ClaimedChannel>> ClaimChannels(const std::string& owner, TimePoint now,
                                                           Millis lease, int max) override {
    std::lock_guard lock(mu_);
    std::vector<std::pair<TimePoint, std::string>> due;
    for (const auto& [channel, head] : HeadsLocked()) {
      auto l = leases_.find(channel);
      const bool live = l != leases_.end() && l->second.until > now;
      if (live && l->second.owner != owner) continue;
      if (head->state == DeliveryState::kPending && head->next_attempt_at <= now) {
        due.emplace_back(head->next_attempt_at, channel);
      } else if (head->state == DeliveryState::kSending && !live) {
        due.emplace_back(head->in_doubt_since.value_or(now), channel);
      }
    }
    std::sort(due.begin(), due.end());
    std::vector<store::ClaimedChannel> out;
    for (const auto& [at, channel] : due) {
      if (static_cast<int>(out.size()) >= max) break;
      store::ClaimedChannel claim{channel, std::nullopt};
      auto l = leases_.find(channel);
      if (l == leases_.end()) {
        leases_[channel] = {owner, now + lease, now};
      } else {
        claim.unreleased_since = l->second.since;
        l->second.owner = owner;
        l->second.until = now + lease;
      }
      out.push_back(std::move(claim));
    }
    return out;
  }
  Result<void> RenewLease(const std::string& channel, const std::string& owner, TimePoint now,
                          Millis lease) override {
    std::lock_guard lock(mu_);
    auto l = leases_.find(channel);
    if (l == leases_.end() || l->second.owner != owner) return Fail("conflict", "not leased");
    l->second.until = now + lease;
    calls_.push_back("RenewLease " + channel);
    return {};
  }
  Result<void> ReleaseChannel(const std::string& channel, const std::string& owner) override {
    std::lock_guard lock(mu_);
    auto l = leases_.find(channel);
    if (l != leases_.end() && l->second.owner == owner) leases_.erase(l);
    return {};
  }
  std::optional<TimePoint> LeaseUntil(const std::string& channel) {
    std::lock_guard lock(mu_);
    auto l = leases_.find(channel);
    if (l == leases_.end()) return std::nullopt;
    return l->second.until;
  }
  Result<std::vector<store::DeliveryRecord>> ChannelQueue(const std::string& channel,
                                                          int limit) override {
    std::lock_guard lock(mu_);
    ++queue_reads_;
    std::vector<store::DeliveryRecord> out;
    for (const auto& [id, d] : rows_) {
      if (static_cast<int>(out.size()) >= limit) break;
      if (d.channel == channel && Undelivered(d)) out.push_back(d);
    }
    return out;
  }
  int queue_reads() {
    std::lock_guard lock(mu_);
    return queue_reads_;
  }
  Result<std::optional<TimePoint>> NextDue() override {
    std::lock_guard lock(mu_);
    std::optional<TimePoint> due;
    for (const auto& [channel, head] : HeadsLocked()) {
      TimePoint t = head->next_attempt_at;
      if (head->state == DeliveryState::kSending) {
        auto l = leases_.find(channel);
        t = l == leases_.end() ? TimePoint{} : l->second.until;
      }
      if (!due || t < *due) due = t;
    }
    return due;
  }
  Result<void> MarkInDoubt(const std::vector<int64_t>& ids, TimePoint now) override {
    std::lock_guard lock(mu_);
    if (auto r = CheckLocked(ids); !r) return r;
    for (int64_t id : ids) {
      rows_[id].state = DeliveryState::kSending;
      rows_[id].in_doubt_since = now;
    }
    calls_.push_back("MarkInDoubt " + Join(ids));
    return {};
  }
  Result<void> MarkSent(const std::vector<int64_t>& ids, const std::string& post_id,
                        const std::string& channel_id, TimePoint now) override {
    std::lock_guard lock(mu_);
    if (auto r = CheckLocked(ids); !r) return r;
    for (int64_t id : ids) {
      auto& d = rows_[id];
      d.state = DeliveryState::kSent;
      d.post_id = post_id;
      d.channel_id = channel_id;
      if (ids.size() > 1) d.digest_id = ids.front();
      d.in_doubt_since.reset();
      d.updated_at = now;
      ++d.attempts;
    }
    calls_.push_back("MarkSent " + Join(ids) + " post=" + post_id);
    return {};
  }
  // The store's one transaction, in steps (this fake has no transactions; its calls log says
  // what was recorded, in the order the old separate calls made).
  Result<bool> RecordSent(const store::SentPost& sent) override {
    if (sent.root_thread_key) {
      auto root = PutThreadRoot(sent.project, *sent.root_thread_key, sent.channel_id, sent.post_id);
      if (!root) return tl::unexpected(root.error());
    }
    for (const auto& [project, thread_key] : sent.listed) {
      auto existing = GetThreadRoot(project, thread_key, sent.channel_id);
      if (!existing) return tl::unexpected(existing.error());
      if (*existing) continue;
      auto root = PutThreadRoot(project, thread_key, sent.channel_id, sent.post_id);
      if (!root) return tl::unexpected(root.error());
    }
    if (auto marked = MarkSent(sent.ids, sent.post_id, sent.channel_id, sent.now); !marked) {
      return tl::unexpected(marked.error());
    }
    if (sent.replies) {
      std::lock_guard lock(mu_);
      store::DeliveryRecord r;
      r.id = ++last_id_;
      r.project = sent.project;
      r.channel = sent.replies->channel;
      r.kind = "replies";
      r.event_seq = sent.replies->event_seq;
      r.created_at = r.updated_at = r.next_attempt_at = sent.now;
      r.expires_at = sent.replies->expires_at;
      r.digest_id = sent.ids.front();
      r.replies_runes = sent.replies->runes;
      rows_[r.id] = r;
      calls_.push_back("AddReplies " + std::to_string(r.id) + " of " + std::to_string(r.digest_id));
    }
    if (sent.release_owner.empty()) return false;
    auto rest = ChannelQueue(sent.channel, 1);
    if (!rest) return tl::unexpected(rest.error());
    if (!rest->empty()) return false;
    if (auto released = ReleaseChannel(sent.channel, sent.release_owner); !released) {
      return tl::unexpected(released.error());
    }
    return true;
  }
  Result<bool> RecordSentAll(const std::vector<store::SentPost>& posts) override {
    {
      std::lock_guard lock(mu_);
      calls_.push_back("RecordSentAll " + std::to_string(posts.size()));
    }
    Result<bool> last = false;
    for (const auto& sent : posts) {
      last = RecordSent(sent);
      if (!last) return last;
    }
    return last;
  }
  Result<void> Reschedule(int64_t id, TimePoint next, bool count_attempt, const std::string& code,
                          const std::string& error, TimePoint now,
                          std::optional<TimePoint> in_doubt_since) override {
    std::lock_guard lock(mu_);
    if (auto r = CheckLocked({id}); !r) return r;
    auto& d = rows_[id];
    if (in_doubt_since) {
      if (!d.in_doubt_since) d.in_doubt_since = in_doubt_since;
    } else {
      d.in_doubt_since.reset();
    }
    d.state = d.in_doubt_since ? DeliveryState::kSending : DeliveryState::kPending;
    d.next_attempt_at = next;
    if (count_attempt) ++d.attempts;
    d.last_error_code = code;
    d.last_error = error;
    d.updated_at = now;
    calls_.push_back("Reschedule " + std::to_string(id) + " " + code +
                     (count_attempt ? " counted" : " not_counted") +
                     (d.in_doubt_since ? " in_doubt" : ""));
    return {};
  }
  Result<std::optional<store::DeliveryRecord>> FindReplies(int64_t digest_id) override {
    std::lock_guard lock(mu_);
    for (const auto& [id, d] : rows_) {
      if (d.kind == "replies" && d.digest_id == digest_id && Undelivered(d)) {
        return std::optional<store::DeliveryRecord>(d);
      }
    }
    return std::optional<store::DeliveryRecord>();
  }
  Result<void> SaveRepliesProgress(int64_t id, int posted, int runes, TimePoint now) override {
    std::lock_guard lock(mu_);
    if (auto r = CheckLocked({id}); !r) return r;
    auto& d = rows_[id];
    d.replies_posted = posted;
    d.replies_runes = runes;
    d.updated_at = now;
    calls_.push_back("SaveRepliesProgress " + std::to_string(id) + " " + std::to_string(posted) +
                     "@" + std::to_string(runes));
    return {};
  }
  Result<std::vector<std::string>> DigestEvents(int64_t digest_id) override {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& [id, d] : rows_) {
      if (d.kind == "event" && d.digest_id == digest_id) out.push_back(d.event_body_json);
    }
    return out;
  }
  Result<void> MarkFinal(int64_t id, DeliveryState state, const std::string& code,
                         const std::string& error, TimePoint now) override {
    std::lock_guard lock(mu_);
    if (state != DeliveryState::kFailed && state != DeliveryState::kDead) {
      return Fail("invalid_request", "not final");
    }
    if (auto r = CheckLocked({id}); !r) return r;
    auto& d = rows_[id];
    d.state = state;
    d.last_error_code = code;
    d.last_error = error;
    d.in_doubt_since.reset();
    d.updated_at = now;
    ++d.attempts;
    calls_.push_back("MarkFinal " + std::to_string(id) + " " + std::string(domain::Name(state)) +
                     " " + code);
    return {};
  }
  Result<std::optional<std::string>> GetThreadRoot(const std::string& project,
                                                   const std::string& thread_key,
                                                   const std::string& channel) override {
    std::lock_guard lock(mu_);
    auto it = roots_.find({project, thread_key, channel});
    if (it == roots_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Result<void> PutThreadRoot(const std::string& project, const std::string& thread_key,
                             const std::string& channel, const std::string& post_id) override {
    std::lock_guard lock(mu_);
    roots_[{project, thread_key, channel}] = post_id;
    calls_.push_back("PutThreadRoot " + thread_key + " " + post_id);
    return {};
  }
  Result<std::vector<store::DeliveryRecord>> ListDeliveries(const store::DeliveryFilter&) override {
    std::lock_guard lock(mu_);
    std::vector<store::DeliveryRecord> out;
    for (auto it = rows_.rbegin(); it != rows_.rend(); ++it) out.push_back(it->second);
    return out;
  }
  Result<std::optional<store::DeliveryRecord>> GetDelivery(int64_t id) override {
    std::lock_guard lock(mu_);
    auto it = rows_.find(id);
    if (it == rows_.end()) return std::optional<store::DeliveryRecord>();
    return std::optional<store::DeliveryRecord>(it->second);
  }
  Result<std::vector<store::DeliveryAttempt>> ListAttempts(int64_t) override {
    return std::vector<store::DeliveryAttempt>();
  }
  Result<bool> Retry(int64_t, TimePoint, TimePoint, const store::AuditEntry&) override {
    return false;
  }
  Result<std::array<int64_t, 5>> CountByState() override {
    std::lock_guard lock(mu_);
    std::array<int64_t, 5> counts{};
    for (const auto& [id, d] : rows_) ++counts[static_cast<size_t>(d.state)];
    return counts;
  }

 private:
  static bool Undelivered(const store::DeliveryRecord& d) {
    return d.state == DeliveryState::kPending || d.state == DeliveryState::kSending;
  }
  static std::string Join(const std::vector<int64_t>& ids) {
    std::string out;
    for (int64_t id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
    return out;
  }
  std::map<std::string, const store::DeliveryRecord*> HeadsLocked() {
    std::map<std::string, const store::DeliveryRecord*> heads;
    for (const auto& [id, d] : rows_) {
      if (Undelivered(d) && heads.count(d.channel) == 0) heads[d.channel] = &d;
    }
    return heads;
  }
  Result<void> CheckLocked(const std::vector<int64_t>& ids) {
    if (fail_writes_) return Fail("store_unavailable", "disk on fire");
    for (int64_t id : ids) {
      auto it = rows_.find(id);
      if (it == rows_.end()) return Fail("not_found", "no delivery " + std::to_string(id));
      if (!Undelivered(it->second)) return Fail("conflict", "delivered");
    }
    return {};
  }

  std::mutex mu_;
  int64_t last_id_ = 0;
  std::map<int64_t, store::DeliveryRecord> rows_;
  struct Lease {
    std::string owner;
    TimePoint until{};
    TimePoint since{};  // when the row was first taken (kept across take-overs)
  };
  std::map<std::string, Lease> leases_;
  std::map<std::tuple<std::string, std::string, std::string>, std::string> roots_;
  std::vector<std::string> calls_;
  bool fail_writes_ = false;
  int queue_reads_ = 0;
};

// ---- the integration ---------------------------------------------------------------------------

class FakeIntegration final : public IntegrationState {
 public:
  void Set(std::optional<mattermost::ConnectionSettings> connection) {
    std::lock_guard lock(mu_);
    connection_ = std::move(connection);
  }
  void SetStatus(const std::string& status) {
    std::lock_guard lock(mu_);
    status_ = status;
  }
  std::optional<mattermost::ConnectionSettings> Connection() override {
    std::lock_guard lock(mu_);
    return connection_;
  }
  std::string Status() override {
    std::lock_guard lock(mu_);
    return status_;
  }
  void ReportStatus(const std::string& status, const std::string& detail) override {
    std::lock_guard lock(mu_);
    status_ = status;
    reports_.push_back(status + ": " + detail);
  }
  std::vector<std::string> Reports() {
    std::lock_guard lock(mu_);
    return reports_;
  }

 private:
  std::mutex mu_;
  std::optional<mattermost::ConnectionSettings> connection_;
  std::string status_ = "unknown";
  std::vector<std::string> reports_;
};

// ---- HTTP --------------------------------------------------------------------------------------

inline net::HttpResponse JsonAnswer(long status, const nlohmann::json& body,
                                    std::vector<net::Header> extra = {}) {
  net::HttpResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"},
               {"X-Request-Id", "req4711req4711req4711req47"},
               {"X-Version-Id", "9.11.2.1.abc.false"}};
  for (auto& h : extra) r.headers.push_back(std::move(h));
  r.body = body.dump();
  return r;
}

inline net::HttpResponse AppErrorAnswer(long status, const std::string& id,
                                        std::vector<net::Header> extra = {}) {
  return JsonAnswer(status,
                    {{"id", id},
                     {"message", "error " + id},
                     {"detailed_error", ""},
                     {"request_id", "req4711req4711req4711req47"},
                     {"status_code", status}},
                    std::move(extra));
}

inline net::HttpResponse TooManyRequests(int retry_after_s) {
  net::HttpResponse r;
  r.status = 429;
  r.headers = {{"Content-Type", "text/plain; charset=utf-8"},
               {"Retry-After", std::to_string(retry_after_s)},
               {"X-Ratelimit-Limit", "11"},
               {"X-Ratelimit-Remaining", "0"},
               {"X-Ratelimit-Reset", std::to_string(retry_after_s)}};
  r.body = "limit exceeded\n";
  return r;
}

inline net::HttpResult NetFailure(net::NetErrorKind kind) {
  return tl::unexpected(net::NetError{kind, "simulated"});
}

inline const std::string kChannelId = "chan4chan4chan4chan4chan4c";

// An in-memory Mattermost for the stage tests: resolves one team/channel, creates and patches
// posts, answers GetChannelPostsSince. A test can push one-shot answers (`Next`) that take
// precedence for requests whose "METHOD path" starts with a prefix, and look at every request.
class FakeMattermost final : public net::HttpClient {
 public:
  struct Request {
    std::string method, path;
    nlohmann::json body;
  };

  void Next(const std::string& prefix, net::HttpResult answer) {
    std::lock_guard lock(mu_);
    scripted_.push_back({prefix, std::move(answer)});
  }
  // Called for each request before it is answered (e.g. to check what the store says then).
  void OnRequest(std::function<void(const Request&)> fn) { on_request_ = std::move(fn); }
  std::vector<Request> Requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::vector<Request> Posts() {
    std::vector<Request> out;
    for (auto& r : Requests()) {
      if (r.method == "POST" && r.path == "/api/v4/posts") out.push_back(r);
    }
    return out;
  }
  std::map<std::string, nlohmann::json> Created() {
    std::lock_guard lock(mu_);
    return posts_;
  }
  // Adds a post as if created earlier (for reconcile and patch tests).
  void Seed(const std::string& id, nlohmann::json post) {
    std::lock_guard lock(mu_);
    post["id"] = id;
    post["channel_id"] = kChannelId;
    post["update_at"] = 1;
    posts_[id] = post;
    order_.push_back(id);
  }
  std::string last_since() {
    std::lock_guard lock(mu_);
    return last_since_;
  }

  net::HttpResult Send(const net::HttpRequest& request) override {
    Request r;
    r.method = request.method;
    const size_t scheme = request.url.find("://");
    const size_t slash = request.url.find('/', scheme + 3);
    r.path = request.url.substr(slash);
    r.body = nlohmann::json::parse(request.body.empty() ? "null" : request.body);
    if (on_request_) on_request_(r);
    std::lock_guard lock(mu_);
    requests_.push_back(r);
    const std::string key = r.method + " " + r.path;
    for (auto it = scripted_.begin(); it != scripted_.end(); ++it) {
      if (key.rfind(it->first, 0) == 0) {
        net::HttpResult answer = std::move(it->second);
        scripted_.erase(it);
        return answer;
      }
    }
    return Default(r);
  }

 private:
  net::HttpResult Default(const Request& r) {
    if (r.method == "GET" && r.path == "/api/v4/teams/name/sec/channels/name/alerts") {
      return ChannelAnswer();
    }
    if (r.method == "GET" && r.path == "/api/v4/channels/" + kChannelId) return ChannelAnswer();
    if (r.method == "POST" && r.path == "/api/v4/posts") {
      const std::string id = fmt::format("post{:022d}", ++next_post_);
      nlohmann::json post = r.body;
      post["id"] = id;
      post["update_at"] = 1000 + next_post_;
      posts_[id] = post;
      order_.push_back(id);
      return JsonAnswer(201, post);
    }
    if (r.method == "GET" &&
        r.path.rfind("/api/v4/channels/" + kChannelId + "/posts?since=", 0) == 0) {
      last_since_ = r.path.substr(r.path.find("since=") + 6);
      nlohmann::json list = {{"order", nlohmann::json::array()},
                             {"posts", nlohmann::json::object()}};
      for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
        list["order"].push_back(*it);
        list["posts"][*it] = posts_[*it];
      }
      return JsonAnswer(200, list);
    }
    if (r.method == "GET" && r.path.rfind("/api/v4/posts/", 0) == 0) {
      const std::string id = r.path.substr(14);
      auto it = posts_.find(id);
      if (it == posts_.end()) return AppErrorAnswer(403, "api.context.permissions.app_error");
      return JsonAnswer(200, it->second);
    }
    if (r.method == "PUT" && r.path.rfind("/api/v4/posts/", 0) == 0) {
      const std::string id = r.path.substr(14, r.path.size() - 14 - 6);
      auto it = posts_.find(id);
      if (it == posts_.end()) return AppErrorAnswer(403, "api.context.permissions.app_error");
      for (const auto& [k, v] : r.body.items()) it->second[k] = v;
      it->second["edit_at"] = 5;
      return JsonAnswer(200, it->second);
    }
    ADD_FAILURE() << "unexpected request " << r.method << " " << r.path;
    return NetFailure(net::NetErrorKind::kOther);
  }
  static net::HttpResponse ChannelAnswer() {
    return JsonAnswer(200, {{"id", kChannelId},
                            {"team_id", "team4team4team4team4team4t"},
                            {"name", "alerts"},
                            {"display_name", "Alerts"},
                            {"type", "O"},
                            {"delete_at", 0}});
  }

  std::mutex mu_;
  std::deque<std::pair<std::string, net::HttpResult>> scripted_;
  std::function<void(const Request&)> on_request_;
  std::vector<Request> requests_;
  std::map<std::string, nlohmann::json> posts_;
  std::vector<std::string> order_;
  int next_post_ = 0;
  std::string last_since_;
};

// ---- waiting -----------------------------------------------------------------------------------

// Waits by moving the fake clock: a test that rate-limits runs in microseconds.
class FakeWaiter final : public Waiter {
 public:
  explicit FakeWaiter(tocsin::testing::FakeClock& clock) : clock_(clock) {}
  bool WaitFor(Millis d) override {
    waited_ += d;
    clock_.Advance(d);
    return !stopping_;
  }
  Millis waited() const { return waited_; }
  void set_stopping(bool s) { stopping_ = s; }

 private:
  tocsin::testing::FakeClock& clock_;
  Millis waited_{0};
  bool stopping_ = false;
};

// ---- events ------------------------------------------------------------------------------------

inline nlohmann::json NewFindingEvent(const std::string& project, const std::string& fingerprint,
                                      const std::string& severity = "high") {
  return {{"type", "vulnerability.new"},
          {"project", project},
          {"occurred_at", "2026-12-04T10:00:00Z"},
          {"finding",
           {{"fingerprint", fingerprint},
            {"title", "SQL injection in " + fingerprint},
            {"severity", severity},
            {"scanner", "semgrep"},
            {"status", "open"}}}};
}

inline nlohmann::json StatusChangedEvent(const std::string& project, const std::string& fingerprint,
                                         const std::string& to) {
  return {{"type", "vulnerability.status_changed"},
          {"project", project},
          {"occurred_at", "2026-12-04T11:00:00Z"},
          {"finding",
           {{"fingerprint", fingerprint},
            {"title", "SQL injection in " + fingerprint},
            {"severity", "high"},
            {"scanner", "semgrep"},
            {"status", to}}},
          {"status", to},
          {"from", "open"},
          {"to", to},
          {"transition", to == "resolved" ? "resolved" : "unresolved"},
          {"actor", "alice"}};
}

inline store::DeliveryRecord Delivery(const nlohmann::json& event, const std::string& channel,
                                      TimePoint now) {
  store::DeliveryRecord d;
  d.project = event.value("project", "acme");
  d.channel = channel;
  d.kind = "event";
  d.event_type = *domain::ParseEventType(event.value("type", ""));
  if (event.contains("finding")) d.thread_key = event["finding"].value("fingerprint", "");
  d.created_at = d.updated_at = d.next_attempt_at = now;
  d.expires_at = now + std::chrono::hours(24);
  d.event_body_json = event.dump();
  return d;
}

}  // namespace tocsin::outbox::testing
