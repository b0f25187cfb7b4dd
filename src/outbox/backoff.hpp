// outbox/backoff.hpp — how long a delivery waits before its next try after a retryable failure.
//
// The ceiling doubles from `base` (1 s) with every failed attempt up to `max` (5 min): 1, 2, 4, …
// 256, 300, 300 s. Jitter spreads the retries of many deliveries that failed together (a server
// restart) so they do not come back as one wave:
// - kFull: uniform in [0, ceiling] (AWS "full jitter"; the default);
// - kDecorrelated: uniform in [base, 3 × previous delay], capped at `max`;
// - kNone: the ceiling itself (tests, docs).
// Randomness is injected (a function returning [0, 1)) so tests pin it.
// Threading: Delay() is const; the default random source is thread-local.
#pragma once

#include <functional>

#include "core/clock.hpp"

namespace tocsin::outbox {

enum class Jitter { kNone, kFull, kDecorrelated };

struct BackoffPolicy {
  Millis base{1000};
  Millis max{5 * 60 * 1000};
  Jitter jitter = Jitter::kFull;
};

class Backoff {
 public:
  using Uniform01 = std::function<double()>;  // uniform in [0, 1)

  explicit Backoff(BackoffPolicy policy, Uniform01 uniform01 = {});

  // The delay before retry number `attempt` (1 = after the first failure). `previous` is the
  // delay used before this one (kDecorrelated only; 0 = none yet).
  Millis Delay(int attempt, Millis previous = Millis(0)) const;
  // base × 2^(attempt-1), capped at max: the jitter-free delay.
  Millis Ceiling(int attempt) const;

  const BackoffPolicy& policy() const { return policy_; }

 private:
  BackoffPolicy policy_;
  Uniform01 uniform01_;
};

}  // namespace tocsin::outbox
