// Classification → action: every kind of failure a send can meet, and what the delivery does.
#include "outbox/outcome.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tocsin::outbox {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const TimePoint kNow = FromUnixMillis(1796378400000);

mattermost::ApiError Http(long status, std::string id = {}) {
  mattermost::ApiError e;
  e.http_status = status;
  e.id = std::move(id);
  e.message = "server says no";
  e.mattermost_error_body = !e.id.empty();
  return e;
}

mattermost::ApiError Net(net::NetErrorKind kind) {
  mattermost::ApiError e;
  e.net_error = net::NetError{kind, "simulated"};
  e.message = "simulated";
  return e;
}

Outcome DecideFor(const mattermost::ApiError& error, Phase phase = Phase::kSend,
                  std::string ref = "sec/alerts", int attempts = 0,
                  TimePoint expires = kNow + std::chrono::hours(24)) {
  const Backoff backoff(BackoffPolicy{Millis(1000), Millis(300000), Jitter::kNone});
  DecideInput in;
  in.channel_ref = std::move(ref);
  in.attempts = attempts;
  in.now = kNow;
  in.expires_at = expires;
  return Decide(Failure{error, phase}, in, backoff);
}

TEST(Decide, A429WaitsRetryAfterAndIsNeverAFailure) {
  auto error = Http(429);
  error.retry_after = Millis(7000);
  const Outcome o = DecideFor(error);
  EXPECT_EQ(o.kind, OutcomeKind::kRateLimited);
  EXPECT_EQ(o.next, kNow + Millis(7000));
  EXPECT_FALSE(o.count_attempt);
  EXPECT_EQ(o.reason, "rate_limited");
}

TEST(Decide, A429WithoutRetryAfterWaitsOneSecond) {
  EXPECT_EQ(DecideFor(Http(429)).next, kNow + Millis(1000));
}

TEST(Decide, A401PausesEverythingWithoutSpendingAnAttempt) {
  const Outcome o = DecideFor(Http(401, "api.context.session_expired.app_error"));
  EXPECT_EQ(o.kind, OutcomeKind::kPaused);
  EXPECT_FALSE(o.count_attempt);
  EXPECT_EQ(o.report_status, "auth_failed");
  EXPECT_THAT(o.error, HasSubstr("token"));
}

TEST(Decide, A403OnCreateSaysTheBotIsNotAMember) {
  const Outcome o = DecideFor(Http(403, "api.context.permissions.app_error"));
  EXPECT_EQ(o.kind, OutcomeKind::kFailed);
  EXPECT_EQ(o.reason, "forbidden");
  EXPECT_THAT(o.error,
              HasSubstr("the bot is not a member of channel sec/alerts: add it to the channel"));
  EXPECT_THAT(o.error, HasSubstr("api.context.permissions.app_error"));
}

TEST(Decide, A404LookingUpAChannelByNameSaysCheckTheNames) {
  const Outcome o =
      DecideFor(Http(404, "app.channel.get_by_name.missing.app_error"), Phase::kResolve);
  EXPECT_EQ(o.kind, OutcomeKind::kFailed);
  EXPECT_EQ(o.reason, "not_found");
  EXPECT_THAT(o.error, HasSubstr("channel sec/alerts was not found"));
}

TEST(Decide, A404ForAChannelIdSaysCheckTheId) {
  const Outcome o = DecideFor(Http(404, "app.channel.get.existing.app_error"), Phase::kResolve,
                              "abcdefghijklmnopqrstuvwxyz");
  EXPECT_THAT(o.error, HasSubstr("check the channel id"));
}

TEST(Decide, A403LookingUpAChannelByNameNamesTheTeam) {
  const Outcome o = DecideFor(Http(403, "api.context.permissions.app_error"), Phase::kResolve);
  EXPECT_THAT(o.error, HasSubstr("add it to team sec and to the channel"));
}

TEST(Decide, AnArchivedChannelFailsWithItsOwnReason) {
  const Outcome o = DecideFor(Http(400, "api.post.create_post.can_not_post_to_deleted.error"));
  EXPECT_EQ(o.kind, OutcomeKind::kFailed);
  EXPECT_EQ(o.reason, "channel_archived");
  EXPECT_THAT(o.error, HasSubstr("is archived"));
}

TEST(Decide, TooLongAfterShrinkingFails) {
  const Outcome o = DecideFor(Http(400, "model.post.is_valid.message_length.app_error"));
  EXPECT_EQ(o.kind, OutcomeKind::kFailed);
  EXPECT_EQ(o.reason, "message_too_long");
}

TEST(Decide, A503BacksOffAndCountsTheAttempt) {
  const Outcome o = DecideFor(Http(503), Phase::kSend, "sec/alerts", /*attempts=*/2);
  EXPECT_EQ(o.kind, OutcomeKind::kRetry);
  EXPECT_EQ(o.reason, "server_error");
  EXPECT_TRUE(o.count_attempt);
  EXPECT_EQ(o.next, kNow + Millis(4000));  // third attempt: 1, 2, 4 s
  EXPECT_FALSE(o.keep_in_doubt);           // Mattermost answered: nothing was created
  EXPECT_EQ(o.report_status, "");
}

TEST(Decide, ATimeoutMayHaveBeenCommittedSoTheDeliveryStaysInDoubt) {
  const Outcome o = DecideFor(Net(net::NetErrorKind::kTimeout));
  EXPECT_EQ(o.kind, OutcomeKind::kRetry);
  EXPECT_EQ(o.reason, "net_timeout");
  EXPECT_TRUE(o.keep_in_doubt);
}

TEST(Decide, AGatewayErrorMayHaveBeenCommittedToo) {
  EXPECT_TRUE(DecideFor(Http(502)).keep_in_doubt);
  EXPECT_TRUE(DecideFor(Http(504)).keep_in_doubt);
}

TEST(Decide, AFailedLookupIsNotADoubtAboutAPost) {
  EXPECT_FALSE(DecideFor(Net(net::NetErrorKind::kTimeout), Phase::kReconcile).keep_in_doubt);
}

TEST(Decide, ARefusedConnectionIsRetriedAndMarksTheIntegrationFailing) {
  const Outcome o = DecideFor(Net(net::NetErrorKind::kConnectionRefused));
  EXPECT_EQ(o.kind, OutcomeKind::kRetry);
  EXPECT_EQ(o.reason, "net_connection_refused");
  EXPECT_FALSE(o.keep_in_doubt);
  EXPECT_EQ(o.report_status, "failing");
}

TEST(Decide, TlsErrorsAreRetriedAndShownAsAConfigurationError) {
  const Outcome o = DecideFor(Net(net::NetErrorKind::kTlsUntrusted));
  EXPECT_EQ(o.kind, OutcomeKind::kRetry);
  EXPECT_EQ(o.report_status, "failing");
  EXPECT_THAT(o.error, HasSubstr("Insecure"));
}

TEST(Decide, ADuplicateInFlightIsAskedAgainSoonWithoutCounting) {
  const Outcome o = DecideFor(Http(500, "api.post.deduplicate_create_post.pending"));
  EXPECT_EQ(o.kind, OutcomeKind::kRetry);
  EXPECT_EQ(o.next, kNow + Millis(1000));
  EXPECT_FALSE(o.count_attempt);
  EXPECT_TRUE(o.keep_in_doubt);
}

TEST(Decide, RetryableAfterExpiryGivesUp) {
  const Outcome o = DecideFor(Http(503), Phase::kSend, "sec/alerts", 30, kNow);
  EXPECT_EQ(o.kind, OutcomeKind::kDead);
  EXPECT_EQ(o.reason, "expired");
  EXPECT_THAT(o.error, HasSubstr("31 attempts"));
}

TEST(Decide, TheLastRetryIsAtExpiryNotBeyond) {
  const Outcome o = DecideFor(Http(503), Phase::kSend, "sec/alerts", 20, kNow + Millis(10000));
  EXPECT_EQ(o.kind, OutcomeKind::kRetry);
  EXPECT_EQ(o.next, kNow + Millis(10000));
}

TEST(Decide, ARedirectPointsAtTheUrl) {
  const Outcome o = DecideFor(Http(302));
  EXPECT_EQ(o.kind, OutcomeKind::kFailed);
  EXPECT_THAT(o.error, HasSubstr("subpath"));
}

TEST(Decide, ServerTextIsQuotedButTheDiagnosisComesFirst) {
  auto error = Http(400, "api.context.invalid_param.app_error");
  const Outcome o = DecideFor(error);
  EXPECT_EQ(o.reason, "bad_request");
  EXPECT_THAT(o.error, HasSubstr("Mattermost refused the post for channel sec/alerts"));
  EXPECT_THAT(o.error, Not(HasSubstr("Bearer")));
}

TEST(OutcomeKind, NamesAreStableMetricLabels) {
  EXPECT_EQ(Name(OutcomeKind::kSent), "sent");
  EXPECT_EQ(Name(OutcomeKind::kRetry), "retried");
  EXPECT_EQ(Name(OutcomeKind::kRateLimited), "rate_limited");
  EXPECT_EQ(Name(OutcomeKind::kPaused), "paused");
  EXPECT_EQ(Name(OutcomeKind::kFailed), "failed");
  EXPECT_EQ(Name(OutcomeKind::kDead), "dead");
  EXPECT_EQ(Name(OutcomeKind::kAborted), "aborted");
}

}  // namespace
}  // namespace tocsin::outbox
