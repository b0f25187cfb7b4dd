#include "rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace mmemu {
namespace {
constexpr size_t kMemoryStoreSize = 10000;  // RateLimitSettings.MemoryStoreSize default
}

GcraRateLimiter::GcraRateLimiter(double per_second, int max_burst)
    : emission_interval_ns_(std::max<int64_t>(1, std::llround(1e9 / per_second))),
      delay_variation_tolerance_ns_(emission_interval_ns_ * (std::max(max_burst, 0) + 1)),
      limit_(std::max(max_burst, 0) + 1) {}

RateLimitResult GcraRateLimiter::Take(const std::string& key, int64_t now_ns) {
  RateLimitResult result;
  result.limit = limit_;
  auto it = store_.find(key);
  bool known = it != store_.end() && it->second.expires_ns > now_ns;
  int64_t tat = known ? it->second.tat_ns : now_ns;
  int64_t increment = emission_interval_ns_;
  int64_t new_tat = (now_ns > tat ? now_ns : tat) + increment;
  int64_t allow_at = new_tat - delay_variation_tolerance_ns_;
  int64_t ttl = 0;
  if (now_ns - allow_at < 0) {
    result.limited = true;
    result.retry_after_ns = allow_at - now_ns;
    ttl = tat - now_ns;
  } else {
    ttl = new_tat - now_ns;
    if (store_.size() >= kMemoryStoreSize && !known) {
      std::erase_if(store_, [&](const auto& entry) { return entry.second.expires_ns <= now_ns; });
    }
    store_[key] = Entry{new_tat, now_ns + ttl};
  }
  int64_t next = delay_variation_tolerance_ns_ - ttl;
  if (next > -emission_interval_ns_) {
    result.remaining = static_cast<int>(next / emission_interval_ns_);
  }
  result.reset_after_ns = ttl;
  return result;
}

int64_t CeilSeconds(int64_t ns) {
  return static_cast<int64_t>(std::ceil(static_cast<double>(ns) / 1e9));
}

}  // namespace mmemu
