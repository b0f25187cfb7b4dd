#include "outbox/outcome.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace tocsin::outbox {

namespace {

using mattermost::ErrorClass;
using net::NetErrorKind;

// The pause after a 401 before the delivery is due again. Nothing claims while the integration
// is auth_failed, so this only bounds how often a stale status cache lets a request through.
constexpr Millis kAuthPause{1000};
// A create with the same pending_post_id is still in flight on the server: its answer will be
// the original post if we ask again shortly (API-FACTS §4.6: 30 s de-dup window).
constexpr Millis kDedupPendingRetry{1000};
constexpr Millis kDefaultRetryAfter{1000};

// The team of a team-name/channel-name reference, read as ResolveChannel reads it; "" for an id.
std::string TeamOf(std::string_view ref) { return mattermost::ParseChannelRef(ref).team; }

}  // namespace

std::string_view Name(OutcomeKind kind) {
  switch (kind) {
    case OutcomeKind::kNone:
      return "none";
    case OutcomeKind::kSent:
      return "sent";
    case OutcomeKind::kRetry:
      return "retried";
    case OutcomeKind::kRateLimited:
      return "rate_limited";
    case OutcomeKind::kPaused:
      return "paused";
    case OutcomeKind::kDeferred:
      return "deferred";
    case OutcomeKind::kFailed:
      return "failed";
    case OutcomeKind::kDead:
      return "dead";
    case OutcomeKind::kAborted:
      return "aborted";
  }
  return "none";
}

bool MayHaveReachedServer(const mattermost::ApiError& error) {
  if (error.net_error) {
    switch (error.net_error->kind) {
      case NetErrorKind::kTimeout:           // sent, no complete answer in time
      case NetErrorKind::kProtocol:          // connection dropped mid-answer
      case NetErrorKind::kResponseTooLarge:  // answered, but we did not read it
      case NetErrorKind::kOther:
        return true;
      default:  // DNS, refused, unreachable, connect timeout, TLS: never reached Mattermost
        return false;
    }
  }
  if (error.invalid_body) return true;  // a 2xx we could not read: probably created
  // A proxy in front of Mattermost answers these when the backend was slow or went away, which
  // can be after the post was committed.
  return error.http_status == 502 || error.http_status == 504 ||
         (error.http_status == 500 && error.id == "api.post.deduplicate_create_post.pending");
}

bool IsConnectionProblem(const mattermost::ApiError& error) {
  if (!error.net_error) return false;
  switch (error.net_error->kind) {
    case NetErrorKind::kDnsFailure:
    case NetErrorKind::kConnectionRefused:
    case NetErrorKind::kUnreachable:
    case NetErrorKind::kConnectTimeout:
    case NetErrorKind::kInvalidUrl:
      return true;
    default:
      return net::IsTlsError(error.net_error->kind);
  }
}

std::string Diagnose(const mattermost::ApiError& error, Phase phase, std::string_view ref) {
  const mattermost::Classification c = mattermost::Classify(error);
  const std::string detail = error.ToString();
  std::string what;
  if (c.reason == "channel_archived") {
    what = fmt::format("channel {} is archived: unarchive it or change the route's channel", ref);
  } else if (c.error_class == ErrorClass::kTooLong) {
    what = "the post is too long for this Mattermost server even after shortening it";
  } else if (error.http_status == 403) {
    switch (phase) {
      case Phase::kResolve:
        what = !TeamOf(ref).empty()
                   ? fmt::format(
                         "the bot cannot see channel {}: add it to team {} and to the "
                         "channel",
                         ref, TeamOf(ref))
                   : fmt::format("the bot may not read channel {}: add it to the channel", ref);
        break;
      case Phase::kReconcile:
        what = fmt::format(
            "the bot can no longer read channel {} to check for a post left in doubt: add it "
            "to the channel",
            ref);
        break;
      case Phase::kSend:
        what = fmt::format(
            "the bot is not a member of channel {}: add it to the channel (or give it the "
            "post:all or post:channels permission)",
            ref);
        break;
    }
  } else if (error.http_status == 404) {
    what = !TeamOf(ref).empty()
               ? fmt::format(
                     "channel {} was not found: check the team and channel names in the "
                     "route, or add the bot to the channel if it is private",
                     ref)
               : fmt::format("channel {} was not found: check the channel id in the route", ref);
  } else if (c.reason == "redirect") {
    what = "Mattermost answered with a redirect: check the server URL (a missing subpath?)";
  } else {
    what = fmt::format("Mattermost refused the post for channel {}", ref);
  }
  return what + " (" + detail + ")";
}

Outcome Decide(const Failure& failure, const DecideInput& in, const Backoff& backoff) {
  const mattermost::ApiError& error = failure.error;
  const mattermost::Classification c = mattermost::Classify(error);
  Outcome out;
  out.reason = c.reason;
  switch (c.error_class) {
    case ErrorClass::kRateLimited: {
      const Millis wait = error.retry_after.value_or(kDefaultRetryAfter);
      out.kind = OutcomeKind::kRateLimited;
      out.next = in.now + wait;
      out.count_attempt = false;
      out.error = fmt::format("Mattermost is rate limiting: waiting {} ms before trying again ({})",
                              wait.count(), error.ToString());
      return out;
    }
    case ErrorClass::kAuthFailed:
      out.kind = OutcomeKind::kPaused;
      out.next = in.now + kAuthPause;
      out.count_attempt = false;
      out.report_status = "auth_failed";
      out.error = fmt::format(
          "Mattermost rejected the token ({}): deliveries are paused until the token is replaced "
          "or a Test Connection succeeds",
          error.ToString());
      return out;
    case ErrorClass::kDedupPending:
      out.kind = OutcomeKind::kRetry;
      out.next = in.now + kDedupPendingRetry;
      out.count_attempt = false;
      out.keep_in_doubt = true;
      out.error = "the same post is still being created on the server: asking again shortly (" +
                  error.ToString() + ")";
      return out;
    case ErrorClass::kPermanent:
    case ErrorClass::kTooLong:
      out.kind = OutcomeKind::kFailed;
      out.error = Diagnose(error, failure.phase, in.channel_ref);
      return out;
    case ErrorClass::kRetryable:
      break;
  }
  // Retryable: network trouble, timeouts, 5xx, TLS.
  if (IsConnectionProblem(error)) out.report_status = "failing";
  if (in.now >= in.expires_at) {
    out.kind = OutcomeKind::kDead;
    out.reason = "expired";
    out.error = fmt::format("gave up after {} attempts (delivery_ttl passed); last error: {}",
                            in.attempts + 1, error.ToString());
    return out;
  }
  const Millis delay = backoff.Delay(in.attempts + 1);
  out.kind = OutcomeKind::kRetry;
  out.next = std::min(in.now + delay, in.expires_at);
  out.count_attempt = true;
  out.keep_in_doubt = failure.phase == Phase::kSend && MayHaveReachedServer(error);
  out.error = error.net_error && net::IsTlsError(error.net_error->kind)
                  ? "TLS verification failed (a configuration error: enable Insecure for a "
                    "self-signed certificate or give its CA file): " +
                        error.ToString()
                  : error.ToString();
  return out;
}

}  // namespace tocsin::outbox
