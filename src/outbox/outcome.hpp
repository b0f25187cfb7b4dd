// outbox/outcome.hpp — what happened to one delivery attempt, and what to do about it.
//
// Every failed request is classified by mattermost::Classify() (retryable, rate limited, auth
// failed, permanent, too long, de-dup pending) and then decided here, as a pure function, into an
// Outcome: the state the delivery moves to, when it is tried next, whether the attempt counts,
// and a stable `reason` that is both the delivery's last_error_code and the `reason` label of
// tocsin_deliveries_total. Permanent failures carry a diagnosis that tells an admin what to do
// ("the bot is not a member of channel team/alerts: add it to the channel").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "mattermost/client.hpp"
#include "outbox/backoff.hpp"

namespace tocsin::outbox {

enum class OutcomeKind {
  kNone,         // not decided yet
  kSent,         // posted (or found already posted): the deliveries are sent
  kRetry,        // retryable failure: pending again at `next`, attempt counted unless said
  kRateLimited,  // 429 or our own pacing: pending again at `next`, never a failure
  kPaused,       // 401: pending, not counted; the engine stops claiming until the token changes
  kDeferred,     // a new finding waits out the digest window for others to join: pending at `next`
  kFailed,       // permanent: this post will never be accepted as it is
  kDead,         // tried until expires_at: gave up
  kAborted,      // the engine is stopping: nothing recorded, the delivery stays as it was
};
// Stable lower-case label: none, sent, retried, rate_limited, paused, deferred, failed, dead,
// aborted.
std::string_view Name(OutcomeKind kind);

struct Outcome {
  OutcomeKind kind = OutcomeKind::kNone;
  std::string reason;          // stable snake_case: metrics label and last_error_code
  std::string error;           // human text for last_error; never a secret
  std::string post_id;         // kSent
  TimePoint next{};            // kRetry, kRateLimited, kPaused, kDeferred
  bool count_attempt = true;   // kRetry
  bool keep_in_doubt = false;  // kRetry: the request may have been committed by the server
  std::string report_status;   // "", "auth_failed" or "failing": for the integration's status
};

// Where in the pipeline a request failed: the same HTTP status means different things (a 404
// looking a channel up by name is a wrong name; a 403 creating a post is a missing membership).
enum class Phase { kResolve, kReconcile, kSend };

struct Failure {
  mattermost::ApiError error;
  Phase phase = Phase::kSend;
};

struct DecideInput {
  std::string channel_ref;  // as the route wrote it, for diagnoses
  int attempts = 0;         // attempts counted before this one
  TimePoint now{};
  TimePoint expires_at{};
};

// The outcome of a failed request (after the send stage's own in-place remedies: shrinking a
// too-long post, waiting out a short 429).
Outcome Decide(const Failure& failure, const DecideInput& input, const Backoff& backoff);

// What an admin should do about a permanent failure, e.g. "the bot is not a member of channel
// team/alerts: add it to the channel". Includes the server's error (no secrets: ApiError has
// none).
std::string Diagnose(const mattermost::ApiError& error, Phase phase, std::string_view channel_ref);

// True when a failed create may nevertheless have been committed by the server (the answer was
// lost: timeout, connection dropped mid-answer, a gateway error): the delivery stays in doubt
// and is reconciled against the channel's posts before it is sent again.
bool MayHaveReachedServer(const mattermost::ApiError& error);

// True for failures that say the connection settings are wrong or the server is unreachable
// (TLS verification, DNS, refused, unreachable, connect timeout): the integration is "failing".
bool IsConnectionProblem(const mattermost::ApiError& error);

}  // namespace tocsin::outbox
