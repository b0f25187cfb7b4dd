// service/event_service.hpp — accepting events: the finding lifecycle, thresholds and routing,
// written with their deliveries in one transaction (SPEC §2, §4).
//
// For each accepted input event the store gets exactly one event row (it carries the idempotency
// key), plus a row for every event Tocsin derives from it (a re-open, a threshold crossing).
// Deliveries are created for the events that are announced, one per matching route, only when
// the project's link is enabled and the Mattermost integration is active at that moment (an
// admin activating it later does not get a backlog of stale posts).
//
// Lifecycle of `vulnerability.new` for a fingerprint: unknown → created open and announced;
// already open → last_seen/fields updated, nothing announced; resolved → re-opened and announced
// as a status change (transition "reopened"); false_positive / accepted_risk → updated, silent.
// Thread-safe: state lives in the store; each call is one transaction.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "ingest/event_reader.hpp"
#include "ingest/sarif.hpp"
#include "service/auth_service.hpp"
#include "store/pipeline.hpp"

namespace tocsin::service {

struct IngestOutcome {
  int64_t accepted = 0;
  int64_t duplicates = 0;
  std::vector<int64_t> ids;  // the stored event of each input, in input order
  int64_t deliveries = 0;    // deliveries created
};

struct StatusChange {
  int64_t finding_id = 0;
  domain::FindingStatus status = domain::FindingStatus::kOpen;
  std::string comment;
};

// What one uploaded scan did (the 201 answer of POST /projects/{name}/scans).
struct ScanOutcome {
  int64_t scan_id = 0;
  int64_t event_id = 0;  // the scan.completed event
  std::string scanner, branch;
  bool succeeded = true, complete = true, baseline = false;
  std::array<int64_t, 5> counts{};  // findings in this scan by severity
  int64_t findings = 0, new_count = 0, unchanged = 0, reopened = 0, resolved = 0, silent = 0;
  int64_t severity_changed = 0;
  int64_t deliveries = 0;
  nlohmann::json ToJson() const;
};

class EventService {
 public:
  // `deliveries_active` answers whether the Mattermost integration is active right now.
  // `digest_window`: how long a new finding's delivery waits for others to join its digest
  // (config delivery.digest_window; 0 = not at all).
  EventService(store::PipelineStore& store, const Clock& clock, Millis delivery_ttl,
               Millis digest_window, std::function<bool()> deliveries_active,
               std::function<void()> on_committed)
      : store_(store),
        clock_(clock),
        delivery_ttl_(delivery_ttl),
        digest_window_(digest_window),
        deliveries_active_(std::move(deliveries_active)),
        on_committed_(std::move(on_committed)) {}

  // All or nothing: the first problem (unknown project, a status change for an unknown finding,
  // a project the caller may not use) rejects the whole batch with its JSON pointer.
  Result<IngestOutcome> Ingest(const std::vector<ingest::EventInput>& events,
                               const Principal& actor, bool batch_form);

  // A parsed SARIF scan of `project` on `branch`: the lifecycle diff against the findings that
  // scanner last saw on that branch, every change and its announcements, the scan.completed
  // summary, in one transaction. The first scan of a project/scanner/branch is a baseline: its
  // new findings are announced as one summary, except to routes with baseline "full".
  Result<ScanOutcome> IngestScan(const std::string& project, const std::string& branch,
                                 const ingest::ParsedScan& scan, const Principal& actor);

  // Triage (PATCH /findings/{id}): emits vulnerability.status_changed when the status changes.
  Result<domain::Finding> ChangeStatus(const StatusChange& change, const Principal& actor);

 private:
  store::PipelineStore& store_;
  const Clock& clock_;
  Millis delivery_ttl_;
  Millis digest_window_;
  std::function<bool()> deliveries_active_;
  std::function<void()> on_committed_;
};

}  // namespace tocsin::service
