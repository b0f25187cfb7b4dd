#include "outbox/backoff.hpp"

#include <algorithm>
#include <random>

namespace tocsin::outbox {

namespace {

double ThreadLocalUniform01() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

}  // namespace

Backoff::Backoff(BackoffPolicy policy, Uniform01 uniform01)
    : policy_(policy), uniform01_(uniform01 ? std::move(uniform01) : ThreadLocalUniform01) {
  if (policy_.base.count() < 1) policy_.base = Millis(1);
  if (policy_.max < policy_.base) policy_.max = policy_.base;
}

Millis Backoff::Ceiling(int attempt) const {
  int64_t delay = policy_.base.count();
  for (int i = 1; i < attempt && delay < policy_.max.count(); ++i) delay *= 2;
  return Millis(std::min(delay, policy_.max.count()));
}

Millis Backoff::Delay(int attempt, Millis previous) const {
  const double u = std::clamp(uniform01_(), 0.0, 1.0);
  switch (policy_.jitter) {
    case Jitter::kNone:
      return Ceiling(attempt);
    case Jitter::kFull:
      return Millis(static_cast<int64_t>(u * static_cast<double>(Ceiling(attempt).count())));
    case Jitter::kDecorrelated: {
      const int64_t low = policy_.base.count();
      const int64_t high = std::max(low, 3 * std::max(previous.count(), low));
      const int64_t delay = low + static_cast<int64_t>(u * static_cast<double>(high - low));
      return Millis(std::min(delay, policy_.max.count()));
    }
  }
  return Ceiling(attempt);
}

}  // namespace tocsin::outbox
