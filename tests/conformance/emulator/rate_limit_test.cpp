// API-FACTS checklist 14: the GCRA rate limiter (§9), through HTTP and with a controlled clock.
#include "emulator_fixture.hpp"
#include "rate_limiter.hpp"

namespace mmemu::testing {
namespace {

constexpr int64_t kSecond = 1000000000;

TEST(GcraRateLimiter, FirstRequestLeavesTheBurst) {
  GcraRateLimiter limiter(10, 100);
  RateLimitResult r = limiter.Take("ip", 0);
  EXPECT_FALSE(r.limited);
  EXPECT_EQ(r.limit, 101);
  EXPECT_EQ(r.remaining, 100);
  EXPECT_EQ(CeilSeconds(r.reset_after_ns), 1);  // 100 ms rounded up
  EXPECT_EQ(r.retry_after_ns, -1);
}

TEST(GcraRateLimiter, BurstPlusOneThenLimitedWithRetryAfter) {
  GcraRateLimiter limiter(1, 2);  // 3 at once, then one per second
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.Take("ip", 0).limited) << i;
  RateLimitResult r = limiter.Take("ip", 0);
  EXPECT_TRUE(r.limited);
  EXPECT_EQ(r.remaining, 0);
  EXPECT_EQ(CeilSeconds(r.retry_after_ns), 1);
  EXPECT_EQ(CeilSeconds(r.reset_after_ns), 3);        // until the bucket is full again
  EXPECT_FALSE(limiter.Take("ip", kSecond).limited);  // one interval later
  EXPECT_TRUE(limiter.Take("ip", kSecond).limited);
}

TEST(GcraRateLimiter, KeysAreIndependentAndTheBucketRefills) {
  GcraRateLimiter limiter(2, 0);
  EXPECT_FALSE(limiter.Take("a", 0).limited);
  EXPECT_TRUE(limiter.Take("a", 0).limited);
  EXPECT_FALSE(limiter.Take("b", 0).limited);
  RateLimitResult later = limiter.Take("a", 10 * kSecond);
  EXPECT_FALSE(later.limited);
  EXPECT_EQ(later.remaining, 0);  // burst 0: never anything left right after a request
}

class RateLimit : public EmulatorTest {};

TEST_F(RateLimit, OffByDefaultSendsNoHeaders) {
  auto r = Client()->Get("/api/v4/system/ping");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_header("X-Ratelimit-Limit"));
  EXPECT_FALSE(r->has_header("X-Ratelimit-Remaining"));
}

TEST_F(RateLimit, PassingResponsesCarryTheHeaders) {
  emu_->SetRateLimit(10, 100);
  auto r = Get("/api/v4/users/me", bot_token_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("X-Ratelimit-Limit"), "101");
  EXPECT_EQ(r->get_header_value("X-Ratelimit-Remaining"), "100");
  EXPECT_EQ(r->get_header_value("X-Ratelimit-Reset"), "1");
  EXPECT_FALSE(r->has_header("Retry-After"));
}

TEST_F(RateLimit, OverTheBurstIs429PlainTextWithoutRequestId) {
  emu_->SetRateLimit(0.5, 1);  // 2 at once, then one per 2 s: the test cannot refill by accident
  auto client = Client();
  ASSERT_EQ(client->Get("/api/v4/system/ping")->status, 200);
  ASSERT_EQ(client->Get("/api/v4/system/ping")->status, 200);
  auto r = client->Get("/api/v4/users/me", Bearer(bot_token_));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->body, "limit exceeded\n");
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(r->get_header_value("Retry-After"), "2");
  EXPECT_EQ(r->get_header_value("X-Ratelimit-Limit"), "2");
  EXPECT_EQ(r->get_header_value("X-Ratelimit-Remaining"), "0");
  EXPECT_FALSE(r->has_header("X-Request-Id"));
  EXPECT_FALSE(r->has_header("X-Version-Id"));
}

TEST_F(RateLimit, LimitedRequestsCreateNothing) {
  emu_->SetRateLimit(0.5, 0);
  ASSERT_EQ(CreatePost(bot_token_, {{"channel_id", alerts_}})->status, 201);
  EXPECT_EQ(CreatePost(bot_token_, {{"channel_id", alerts_}})->status, 429);
  EXPECT_EQ(emu_->TotalPosts(), 1u);
}

TEST_F(RateLimit, CanBeSwitchedOff) {
  emu_->SetRateLimit(0.5, 0);
  ASSERT_EQ(Client()->Get("/api/v4/system/ping")->status, 200);
  ASSERT_EQ(Client()->Get("/api/v4/system/ping")->status, 429);
  emu_->SetRateLimit(0, 0);
  auto r = Client()->Get("/api/v4/system/ping");
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(r->has_header("X-Ratelimit-Limit"));
}

}  // namespace
}  // namespace mmemu::testing
