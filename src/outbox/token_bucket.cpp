#include "outbox/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace tocsin::outbox {

namespace {

// When the server says it has no token left but we could not yet estimate its refill rate, ask
// again after a second: slow, but a 429 (which blocks everyone for Retry-After) is slower.
constexpr double kFallbackServerRatePerMs = 1.0 / 1000.0;

Millis CeilMillis(double ms) {
  return Millis(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(ms))));
}

}  // namespace

TokenBucket::TokenBucket(const Clock& clock, double rate_per_second, int burst)
    : clock_(clock),
      rate_per_ms_(rate_per_second > 0 ? rate_per_second / 1000.0 : 0),
      capacity_(std::max(1, burst)),
      tokens_(capacity_),
      refilled_at_(clock.Now()) {}

void TokenBucket::RefillLocked(TimePoint now) {
  const double elapsed_ms = std::chrono::duration<double, std::milli>(now - refilled_at_).count();
  // A wall clock stepping back refills nothing; the next step forward counts from here.
  if (elapsed_ms > 0) {
    tokens_ = std::min(capacity_, tokens_ + elapsed_ms * rate_per_ms_);
    if (server_known_) {
      server_tokens_ =
          std::min(server_capacity_, server_tokens_ + elapsed_ms * server_rate_per_ms_);
    }
  }
  refilled_at_ = now;
}

TokenBucket::Grant TokenBucket::TryAcquire() {
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  RefillLocked(now);
  Millis wait{0};
  if (now < blocked_until_) {
    wait = CeilMillis(std::chrono::duration<double, std::milli>(blocked_until_ - now).count());
  }
  // The server's headers, when it sends them, say how fast it may be asked; the configured cap
  // is for servers that do not (SPEC §4).
  const bool capped = rate_per_ms_ > 0 && !server_known_;
  if (capped && tokens_ < 1) {
    wait = std::max(wait, CeilMillis((1 - tokens_) / rate_per_ms_));
  }
  if (server_known_ && server_tokens_ < 1) {
    const double rate = server_rate_per_ms_ > 0 ? server_rate_per_ms_ : kFallbackServerRatePerMs;
    wait = std::max(wait, CeilMillis((1 - server_tokens_) / rate));
  }
  if (wait.count() > 0) return Grant{wait, 0};
  if (capped) tokens_ -= 1;
  if (server_known_) server_tokens_ -= 1;
  return Grant{Millis(0), ++granted_};
}

void TokenBucket::OnServerHeaders(const mattermost::RateLimitInfo& info, uint64_t ticket) {
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  if (!info.present()) {
    server_known_ = false;
    return;
  }
  RefillLocked(now);
  if (!server_known_) {
    server_known_ = true;
    server_tokens_ = 0;
    server_capacity_ = 0;
  }
  if (info.limit && *info.limit > 0) server_capacity_ = static_cast<double>(*info.limit);
  if (info.remaining) {
    // Requests granted after this one left before the server answered it: they are spent from
    // what it reported, whether or not it has seen them yet (erring towards waiting).
    const uint64_t later = ticket > 0 && ticket <= granted_ ? granted_ - ticket : 0;
    server_tokens_ =
        std::max(0.0, static_cast<double>(*info.remaining) - static_cast<double>(later));
    server_capacity_ = std::max(server_capacity_, static_cast<double>(*info.remaining));
  }
  // Without a Limit header the bucket's size is unknown: at least one token must fit, or it
  // would never refill.
  server_capacity_ = std::max(server_capacity_, 1.0);
  if (info.limit && info.remaining && info.reset_s && *info.reset_s > 0 &&
      *info.remaining < *info.limit) {
    const double estimate =
        static_cast<double>(*info.limit - *info.remaining) / (*info.reset_s * 1000.0);
    server_rate_per_ms_ = std::max(server_rate_per_ms_, estimate);
  }
}

void TokenBucket::OnRateLimited(Millis retry_after) {
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  RefillLocked(now);
  blocked_until_ = std::max(blocked_until_, now + std::max(retry_after, Millis(1)));
  if (server_known_) {
    server_tokens_ = 0;
    // The estimate let us send too fast (or other clients share the server's bucket): halve it;
    // the next headers raise it again if it was right.
    server_rate_per_ms_ /= 2;
  }
}

Millis TokenBucket::BlockedFor() const {
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  if (now >= blocked_until_) return Millis(0);
  return CeilMillis(std::chrono::duration<double, std::milli>(blocked_until_ - now).count());
}

void TokenBucket::Reset() {
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mu_);
  tokens_ = capacity_;
  refilled_at_ = now;
  blocked_until_ = TimePoint{};
  server_known_ = false;
  server_tokens_ = server_capacity_ = server_rate_per_ms_ = 0;
}

bool TokenBucket::server_pacing() const {
  std::lock_guard lock(mu_);
  return server_known_;
}

double TokenBucket::server_rate_per_second() const {
  std::lock_guard lock(mu_);
  return server_rate_per_ms_ * 1000.0;
}

}  // namespace tocsin::outbox
