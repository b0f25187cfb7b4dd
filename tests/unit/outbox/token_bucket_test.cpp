// The rate limiter on a fake clock: the client-side cap, pacing by the server's X-Ratelimit-*
// headers, and the shared block after a 429.
#include "outbox/token_bucket.hpp"

#include <gtest/gtest.h>

#include "support/fake_clock.hpp"

namespace tocsin::outbox {
namespace {

using tocsin::testing::FakeClock;

mattermost::RateLimitInfo Headers(int64_t limit, int64_t remaining, int64_t reset_s) {
  mattermost::RateLimitInfo info;
  info.limit = limit;
  info.remaining = remaining;
  info.reset_s = reset_s;
  return info;
}

TEST(TokenBucket, BurstGoesAtOnceThenTheRatePaces) {
  FakeClock clock;
  TokenBucket bucket(clock, 10, 3);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.TryAcquire().granted()) << i;
  const auto denied = bucket.TryAcquire();
  EXPECT_FALSE(denied.granted());
  EXPECT_EQ(denied.wait, Millis(100));
  clock.Advance(Millis(99));
  EXPECT_FALSE(bucket.TryAcquire().granted());
  clock.Advance(Millis(1));
  EXPECT_TRUE(bucket.TryAcquire().granted());
}

TEST(TokenBucket, IdleTimeRefillsNoMoreThanTheBurst) {
  FakeClock clock;
  TokenBucket bucket(clock, 10, 2);
  clock.Advance(std::chrono::hours(1));
  EXPECT_TRUE(bucket.TryAcquire().granted());
  EXPECT_TRUE(bucket.TryAcquire().granted());
  EXPECT_FALSE(bucket.TryAcquire().granted());
}

TEST(TokenBucket, ZeroRateMeansNoClientSideCap) {
  FakeClock clock;
  TokenBucket bucket(clock, 0, 1);
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(bucket.TryAcquire().granted()) << i;
}

TEST(TokenBucket, TicketsIdentifyGrantedRequests) {
  FakeClock clock;
  TokenBucket bucket(clock, 0, 1);
  const auto a = bucket.TryAcquire();
  const auto b = bucket.TryAcquire();
  EXPECT_NE(a.ticket, 0u);
  EXPECT_GT(b.ticket, a.ticket);
}

TEST(TokenBucket, A429BlocksEveryoneUntilRetryAfterHasPassed) {
  FakeClock clock;
  TokenBucket bucket(clock, 0, 1);
  bucket.OnRateLimited(Millis(2000));
  EXPECT_EQ(bucket.BlockedFor(), Millis(2000));
  EXPECT_EQ(bucket.TryAcquire().wait, Millis(2000));
  clock.Advance(Millis(1500));
  EXPECT_EQ(bucket.TryAcquire().wait, Millis(500));
  clock.Advance(Millis(500));
  EXPECT_EQ(bucket.BlockedFor(), Millis(0));
  EXPECT_TRUE(bucket.TryAcquire().granted());
}

TEST(TokenBucket, AnEarlierRetryAfterNeverShortensABlock) {
  FakeClock clock;
  TokenBucket bucket(clock, 0, 1);
  bucket.OnRateLimited(Millis(5000));
  bucket.OnRateLimited(Millis(1000));
  EXPECT_EQ(bucket.BlockedFor(), Millis(5000));
}

TEST(TokenBucket, ServerRemainingIsSpentBeforeAskingAgain) {
  FakeClock clock;
  TokenBucket bucket(clock, 0, 1);
  const auto first = bucket.TryAcquire();
  bucket.OnServerHeaders(Headers(11, 2, 1), first.ticket);
  EXPECT_TRUE(bucket.server_pacing());
  EXPECT_TRUE(bucket.TryAcquire().granted());
  EXPECT_TRUE(bucket.TryAcquire().granted());
  const auto third = bucket.TryAcquire();
  EXPECT_FALSE(third.granted());
}

TEST(TokenBucket, ServerRefillRateIsEstimatedFromLimitRemainingAndReset) {
  FakeClock clock;
  TokenBucket bucket(clock, 0, 1);
  const auto g = bucket.TryAcquire();
  // 10 of 11 spent and full again in 1 s (rounded up): at least 10 per second.
  bucket.OnServerHeaders(Headers(11, 1, 1), g.ticket);
  EXPECT_DOUBLE_EQ(bucket.server_rate_per_second(), 10.0);
  EXPECT_TRUE(bucket.TryAcquire().granted());  // the one remaining
  const auto denied = bucket.TryAcquire();
  EXPECT_EQ(denied.wait, Millis(100));  // one token at 10/s
  clock.Advance(Millis(100));
  EXPECT_TRUE(bucket.TryAcquire().granted());
}

TEST(TokenBucket, TheRateEstimateNeverGoesDownWithCoarserHeaders) {
  FakeClock clock;
  TokenBucket bucket(clock, 0, 1);
  bucket.OnServerHeaders(Headers(11, 1, 1), 0);
  bucket.OnServerHeaders(Headers(11, 10, 1), 0);  // 1 spent, "1 s" to full: a poor bound
  EXPECT_DOUBLE_EQ(bucket.server_rate_per_second(), 10.0);
}

TEST(TokenBucket, RequestsGrantedAfterAnAnsweredOneCountAsSpent) {
  FakeClock clock;
  TokenBucket bucket(clock, 0, 1);
  const auto first = bucket.TryAcquire();
  bucket.TryAcquire();
  bucket.TryAcquire();
  // The server had 2 left after the first request; the two sent since will take them.
  bucket.OnServerHeaders(Headers(11, 2, 1), first.ticket);
  EXPECT_FALSE(bucket.TryAcquire().granted());
}

TEST(TokenBucket, WithoutAnyRateEstimateAnEmptyServerIsAskedAgainAfterASecond) {
  FakeClock clock;
  TokenBucket bucket(clock, 0, 1);
  mattermost::RateLimitInfo info;
  info.remaining = 0;
  bucket.OnServerHeaders(info, 0);
  EXPECT_EQ(bucket.TryAcquire().wait, Millis(1000));
}

TEST(TokenBucket, AnswersWithoutHeadersTurnServerPacingOff) {
  FakeClock clock;
  TokenBucket bucket(clock, 0, 1);
  bucket.OnServerHeaders(Headers(11, 0, 2), 0);
  EXPECT_FALSE(bucket.TryAcquire().granted());
  bucket.OnServerHeaders(mattermost::RateLimitInfo{}, 0);
  EXPECT_FALSE(bucket.server_pacing());
  EXPECT_TRUE(bucket.TryAcquire().granted());
}

TEST(TokenBucket, TheServersHeadersReplaceTheClientCap) {
  FakeClock clock;
  TokenBucket bucket(clock, 1, 1);  // 1/s client cap
  bucket.OnServerHeaders(Headers(101, 100, 1), 0);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(bucket.TryAcquire().granted()) << i;
  EXPECT_FALSE(bucket.TryAcquire().granted());  // the server's 100 are spent
}

TEST(TokenBucket, TheClientCapReturnsWhenTheServerStopsSendingHeaders) {
  FakeClock clock;
  TokenBucket bucket(clock, 1, 1);
  bucket.OnServerHeaders(Headers(101, 100, 1), 0);
  bucket.OnServerHeaders(mattermost::RateLimitInfo{}, 0);
  EXPECT_TRUE(bucket.TryAcquire().granted());
  EXPECT_EQ(bucket.TryAcquire().wait, Millis(1000));
}

TEST(TokenBucket, A429EmptiesTheMirroredServerBucketAndHalvesTheEstimate) {
  FakeClock clock;
  TokenBucket bucket(clock, 0, 1);
  bucket.OnServerHeaders(Headers(11, 1, 1), 0);
  bucket.OnRateLimited(Millis(1000));
  EXPECT_DOUBLE_EQ(bucket.server_rate_per_second(), 5.0);
  clock.Advance(Millis(1000));
  // Not blocked any more, but the server's bucket refills at ~5/s from empty.
  const auto g = bucket.TryAcquire();
  EXPECT_TRUE(g.granted());  // 1 s × 5/s refilled
}

TEST(TokenBucket, ResetForgetsTheServerAndTheBlock) {
  FakeClock clock;
  TokenBucket bucket(clock, 0, 1);
  bucket.OnServerHeaders(Headers(11, 0, 2), 0);
  bucket.OnRateLimited(Millis(60000));
  bucket.Reset();
  EXPECT_FALSE(bucket.server_pacing());
  EXPECT_EQ(bucket.BlockedFor(), Millis(0));
  EXPECT_TRUE(bucket.TryAcquire().granted());
}

TEST(TokenBucket, AClockSteppingBackRefillsNothing) {
  FakeClock clock;
  TokenBucket bucket(clock, 1, 1);
  EXPECT_TRUE(bucket.TryAcquire().granted());
  clock.Advance(Millis(-5000));
  EXPECT_FALSE(bucket.TryAcquire().granted());
  clock.Advance(Millis(1000));  // one second after the step back: one token
  EXPECT_TRUE(bucket.TryAcquire().granted());
}

}  // namespace
}  // namespace tocsin::outbox
