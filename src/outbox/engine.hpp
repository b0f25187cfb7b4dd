// outbox/engine.hpp — the delivery engine: from the outbox to posts in Mattermost (SPEC §3, §4).
//
// The engine claims channels from the store (leases), and for each channel sends its deliveries
// strictly in order through a pipeline of small stages:
//   reconcile (a delivery left in doubt is looked up among the channel's recent posts)
//   → resolve channel → coalesce (digest when a channel has more queued new findings than the
//   route's digest_threshold) → render → rate limit → send → classify → record.
// Channels are served in parallel by a fixed set of workers, each with its own HTTP connection.
// Outcomes (SPEC §4): 2xx sent; 429 waits Retry-After / X-Ratelimit-Reset and is never a
// failure; 401 pauses every delivery (integration status auth_failed) until the token is replaced
// or a Test Connection succeeds; 403/404 on a channel fail that delivery with its diagnosis;
// too long is re-rendered shorter; network errors, timeouts and 5xx back off exponentially
// (1 s doubling to 5 min, with jitter) until expires_at, then dead.
// Threading: Start() spawns the dispatcher and workers; Wake() is cheap and thread-safe (called
// after each commit that created deliveries); Stop() finishes in-flight sends and joins.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "mattermost/diagnosis.hpp"
#include "store/pipeline.hpp"

namespace tocsin::outbox {

// What the engine needs to know and say about the global Mattermost integration.
class IntegrationState {
 public:
  virtual ~IntegrationState() = default;
  // The active connection settings (decrypted token), or nullopt when inactive/unconfigured.
  // Called often: implementations may cache, but must reflect a saved change within a second.
  virtual std::optional<mattermost::ConnectionSettings> Connection() = 0;
  // "ok" | "auth_failed" | "failing" | "unknown" as currently stored.
  virtual std::string Status() = 0;
  // Records a status seen by delivery (e.g. auth_failed on a 401, ok after a success).
  virtual void ReportStatus(const std::string& status, const std::string& detail) = 0;
};

struct EngineOptions {
  int workers = 4;                  // channels served in parallel
  double rate_per_second = 10;      // client-side cap per Mattermost server; 0 = no cap
  int burst = 20;
  Millis lease{60000};              // channel lease; renewed while working
  Millis timeout{10000};            // per HTTP request
  std::string owner;                // lease owner id (instance); "" = random
  std::string public_url;           // for links in posts
  Millis max_backoff{5 * 60 * 1000};
  Millis base_backoff{1000};
  // A worker waits in place for a rate-limit token (or a short 429) up to this long; a longer
  // wait reschedules the delivery (not counted as an attempt) and frees the worker.
  Millis max_inline_wait{5000};
  int queue_batch = 100;  // deliveries read per ChannelQueue call
  // How long a new finding that cannot make a digest yet waits for others before it is posted
  // alone (SPEC §3, the digest window; config delivery.digest_window). 0 = no wait.
  Millis digest_window{0};
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual void Start() = 0;
  virtual void Wake() = 0;
  virtual void Stop() = 0;
};

std::unique_ptr<Engine> MakeEngine(store::PipelineStore& store, IntegrationState& integration,
                                   const Clock& clock, mattermost::HttpClientFactory http,
                                   Metrics& metrics, EngineOptions options);

}  // namespace tocsin::outbox
