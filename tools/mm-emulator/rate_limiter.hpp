// The GCRA limiter Mattermost uses (throttled/throttled GCRARateLimiter with an in-memory store,
// API-FACTS §9): per key, a theoretical arrival time advanced by one emission interval per
// request, with a tolerance of (burst + 1) intervals. Not thread-safe; the caller locks.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

namespace mmemu {

struct RateLimitResult {
  bool limited = false;
  int limit = 0;                // X-Ratelimit-Limit = burst + 1
  int remaining = 0;            // X-Ratelimit-Remaining
  int64_t reset_after_ns = 0;   // X-Ratelimit-Reset (seconds, rounded up)
  int64_t retry_after_ns = -1;  // Retry-After (seconds, rounded up); -1 unless limited
};

class GcraRateLimiter {
 public:
  GcraRateLimiter(double per_second, int max_burst);
  RateLimitResult Take(const std::string& key, int64_t now_ns);

 private:
  struct Entry {
    int64_t tat_ns = 0;
    int64_t expires_ns = 0;
  };
  int64_t emission_interval_ns_;
  int64_t delay_variation_tolerance_ns_;
  int limit_;
  std::unordered_map<std::string, Entry> store_;
};

// Whole seconds, rounded up (math.Ceil(d.Seconds())).
int64_t CeilSeconds(int64_t ns);

}  // namespace mmemu
