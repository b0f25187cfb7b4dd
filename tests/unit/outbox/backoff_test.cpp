// Retry delays: 1 s doubling to 5 min, with the jitter pinned by an injected random source.
#include "outbox/backoff.hpp"

#include <gtest/gtest.h>

namespace tocsin::outbox {
namespace {

Backoff WithRandom(Jitter jitter, double u) {
  return Backoff(BackoffPolicy{Millis(1000), Millis(300000), jitter}, [u] { return u; });
}

TEST(Backoff, CeilingDoublesFromOneSecondToFiveMinutes) {
  const Backoff b = WithRandom(Jitter::kNone, 0.5);
  const int64_t expected[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300};
  for (int attempt = 1; attempt <= 11; ++attempt) {
    EXPECT_EQ(b.Delay(attempt), Millis(expected[attempt - 1] * 1000)) << attempt;
  }
}

TEST(Backoff, HugeAttemptCountsStayAtTheCap) {
  const Backoff b = WithRandom(Jitter::kNone, 0.5);
  EXPECT_EQ(b.Delay(1000000), Millis(300000));
  EXPECT_EQ(b.Delay(0), Millis(1000));
}

TEST(Backoff, FullJitterIsUniformBetweenZeroAndTheCeiling) {
  EXPECT_EQ(WithRandom(Jitter::kFull, 0.0).Delay(3), Millis(0));
  EXPECT_EQ(WithRandom(Jitter::kFull, 0.5).Delay(3), Millis(2000));
  EXPECT_EQ(WithRandom(Jitter::kFull, 0.999).Delay(3), Millis(3996));
  EXPECT_EQ(WithRandom(Jitter::kFull, 0.5).Delay(20), Millis(150000));
}

TEST(Backoff, DecorrelatedJitterGrowsFromThePreviousDelay) {
  EXPECT_EQ(WithRandom(Jitter::kDecorrelated, 0.0).Delay(1), Millis(1000));
  // uniform in [base, 3 × previous]
  EXPECT_EQ(WithRandom(Jitter::kDecorrelated, 0.5).Delay(2, Millis(10000)), Millis(15500));
  EXPECT_EQ(WithRandom(Jitter::kDecorrelated, 0.999).Delay(9, Millis(200000)), Millis(300000));
}

TEST(Backoff, TheDefaultRandomSourceStaysWithinTheCeiling) {
  const Backoff b(BackoffPolicy{});
  for (int i = 0; i < 1000; ++i) {
    const Millis d = b.Delay(4);
    ASSERT_GE(d, Millis(0));
    ASSERT_LE(d, Millis(8000));
  }
}

TEST(Backoff, ABadPolicyIsMadeSane) {
  const Backoff b(BackoffPolicy{Millis(0), Millis(-5), Jitter::kNone});
  EXPECT_EQ(b.Delay(1), Millis(1));
  EXPECT_EQ(b.Delay(10), Millis(1));
}

}  // namespace
}  // namespace tocsin::outbox
