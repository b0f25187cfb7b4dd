// outbox/token_bucket.hpp — how fast Tocsin may post to one Mattermost server (SPEC §4).
//
// A request waits for:
// - the server's own bucket, mirrored from its X-Ratelimit-* headers when it sends them
//   (API-FACTS §9: Limit is a burst size, Remaining what is allowed right now, Reset the seconds
//   until the bucket is full again). The server's refill rate is not sent, so it is estimated
//   from (Limit - Remaining) / Reset, which never overestimates (Reset is rounded up);
// - otherwise (a server without rate-limit headers, the default) the client-side cap:
//   `rate_per_second` tokens per second, up to `burst` saved (Envoy's token bucket; 0 turns it
//   off, e.g. for benchmarks or a server known to have no limit);
// - and, after a 429, nobody sends until Retry-After has passed: a 429 is a shared verdict on
//   the whole server, not on one channel.
// It never sleeps: TryAcquire() takes a token or says how long until one is due, and the caller
// decides whether to wait (a worker, on its condition variable) or to give the channel up.
// Threading: every method is thread-safe (one mutex); workers of one engine share one bucket.
#pragma once

#include <cstdint>
#include <mutex>

#include "core/clock.hpp"
#include "mattermost/client.hpp"

namespace tocsin::outbox {

class TokenBucket {
 public:
  struct Grant {
    Millis wait{0};       // 0: granted (a token was taken); else try again after this long
    uint64_t ticket = 0;  // identifies a granted request when its answer comes back
    bool granted() const { return wait.count() == 0; }
  };

  // rate_per_second <= 0: no client-side cap. burst < 1 is taken as 1.
  TokenBucket(const Clock& clock, double rate_per_second, int burst);

  Grant TryAcquire();

  // The server's X-Ratelimit-* headers on the answer to the request granted with `ticket`. An
  // answer without them turns server pacing off (rate limiting disabled on the server).
  // Requests granted after `ticket` are counted as already spent from the server's Remaining.
  void OnServerHeaders(const mattermost::RateLimitInfo& info, uint64_t ticket);
  // HTTP 429: blocks every request until `retry_after` has passed (at least 1 ms).
  void OnRateLimited(Millis retry_after);
  // How long everyone is still blocked by a 429; 0 when not blocked.
  Millis BlockedFor() const;

  // Forgets the server (its URL or the token changed) and refills the client-side bucket.
  void Reset();

  // For tests and /metrics: the mirrored server state.
  bool server_pacing() const;
  double server_rate_per_second() const;
  const Clock& clock() const { return clock_; }

 private:
  void RefillLocked(TimePoint now);

  const Clock& clock_;
  const double rate_per_ms_;  // 0 = no client-side cap
  const double capacity_;
  mutable std::mutex mu_;
  double tokens_;
  TimePoint refilled_at_;
  TimePoint blocked_until_{};
  // The server's bucket, as far as its headers tell.
  bool server_known_ = false;
  double server_tokens_ = 0;
  double server_capacity_ = 0;
  double server_rate_per_ms_ = 0;  // estimated; 0 = unknown yet
  uint64_t granted_ = 0;           // tickets handed out
};

}  // namespace tocsin::outbox
