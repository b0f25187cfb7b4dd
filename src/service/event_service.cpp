#include "service/event_service.hpp"

#include <algorithm>
#include <map>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "rules/routing.hpp"
#include "rules/scan_diff.hpp"

namespace tocsin::service {

namespace {

using domain::EventType;
using domain::Finding;
using domain::FindingStatus;

// Per-transaction state: one project's link and open counts are read once and then kept current
// in memory, so a batch of thousands of events does not re-count findings for every event.
struct ProjectState {
  domain::ProjectLink link;
  store::OpenCounts open{};
};

class Batch {
 public:
  Batch(store::IngestTx& tx, TimePoint now, Millis ttl, Millis window, bool deliver,
        const Principal& actor)
      : tx_(tx), now_(now), ttl_(ttl), window_(window), deliver_(deliver), actor_(actor) {}

  int64_t deliveries() const { return deliveries_; }

  Result<ProjectState*> Project(const std::string& name, const std::string& pointer) {
    auto it = projects_.find(name);
    if (it != projects_.end()) return &it->second;
    auto p = tx_.GetProject(name);
    if (!p) return Unexpected(p.error());
    if (!*p) {
      return Fail("not_found", "project '" + name + "' does not exist",
                  "create it first: POST /api/v1/projects {\"name\": \"" + name + "\"}", pointer);
    }
    auto link = tx_.GetLink(name);
    if (!link) return Unexpected(link.error());
    auto counts = tx_.CountOpen(name);
    if (!counts) return Unexpected(counts.error());
    return &projects_.emplace(name, ProjectState{std::move(*link), *counts}).first->second;
  }

  // Which routes get an event: by default those rules::MatchRoutes picks; a scan narrows or
  // widens that for its baseline.
  using RouteFilter = std::function<bool(const domain::Route&, bool matched)>;

  // Would Emit(..., announce = true, filter) queue any delivery? A scan's per-finding events are
  // stored only when one does: nothing else reads an event (docs/scans.md, "What is stored").
  bool Routed(const ProjectState& ps, EventType type, std::optional<domain::Severity> severity,
              const RouteFilter& filter) const {
    if (!deliver_ || !ps.link.enabled) return false;
    const auto matched = rules::MatchRoutes(ps.link, type, severity);
    for (size_t i = 0; i < ps.link.routes.size(); ++i) {
      const bool hit = std::find(matched.begin(), matched.end(), i) != matched.end();
      if (filter ? filter(ps.link.routes[i], hit) : hit) return true;
    }
    return false;
  }

  // Stores an event row; announces it (deliveries per matching route) when `announce`.
  Result<int64_t> Emit(const std::string& project, ProjectState& ps, EventType type,
                       std::optional<std::string> key, TimePoint occurred, nlohmann::json body,
                       std::optional<domain::Severity> severity, const std::string& thread_key,
                       bool announce, const RouteFilter& filter = {}) {
    body["type"] = std::string(domain::Name(type));
    body["project"] = project;
    body["occurred_at"] = FormatRfc3339(occurred);
    if (key) body["id"] = *key;
    store::StoredEvent ev;
    ev.key = std::move(key);
    ev.project = project;
    ev.type = type;
    ev.occurred_at = occurred;
    ev.received_at = now_;
    ev.body_json = body.dump();
    auto seq = tx_.InsertEvent(ev);
    if (!seq) return Unexpected(seq.error());
    if (!announce || !deliver_ || !ps.link.enabled) return *seq;
    const auto matched = rules::MatchRoutes(ps.link, type, severity);
    for (size_t i = 0; i < ps.link.routes.size(); ++i) {
      const auto& route = ps.link.routes[i];
      const bool hit = std::find(matched.begin(), matched.end(), i) != matched.end();
      if (filter ? !filter(route, hit) : !hit) continue;
      store::NewDelivery d;
      d.project = project;
      d.channel = route.channel;
      d.event_seq = *seq;
      d.event_type = type;
      d.thread_key = thread_key;
      d.severity = severity;
      d.digest_threshold = route.digest_threshold;
      d.baseline_full = route.baseline_full;
      d.created_at = now_;
      d.expires_at = now_ + ttl_;
      Burst* burst = nullptr;
      if (window_.count() > 0 && type == EventType::kVulnerabilityNew &&
          route.digest_threshold < domain::kMaxDigestThreshold) {
        burst = &bursts_[{route.channel, project, route.digest_threshold}];
        if (++burst->count <= route.digest_threshold) d.due_at = now_ + window_;
      }
      auto id = tx_.InsertDelivery(d);
      if (!id) return Unexpected(id.error());
      if (burst != nullptr && d.due_at) {
        burst->waiting.push_back(*id);
      } else if (burst != nullptr && !burst->waiting.empty()) {
        // Enough for a digest now: those queued before in this burst need not wait either.
        if (auto r = tx_.SetDue(burst->waiting, now_); !r) return Unexpected(r.error());
        burst->waiting.clear();
      }
      ++deliveries_;
    }
    return *seq;
  }

  // Applies a finding change to the open counts and announces every threshold it crosses.
  Result<void> Recount(const std::string& project, ProjectState& ps,
                       const std::optional<Finding>& before, const Finding& after,
                       TimePoint occurred) {
    store::OpenCounts next = ps.open;
    if (before && domain::IsOpen(before->status)) --next[static_cast<int>(before->severity)];
    if (domain::IsOpen(after.status)) ++next[static_cast<int>(after.severity)];
    const auto crossings = rules::Crossings(ps.link.thresholds, ps.open, next);
    ps.open = next;
    for (const auto& c : crossings) {
      nlohmann::json body = {{"severity", std::string(domain::Name(c.threshold.severity))},
                             {"threshold", c.threshold.count},
                             {"count", c.count},
                             {"direction", c.above ? "above" : "below"}};
      auto r = Emit(project, ps, EventType::kThresholdCrossed, std::nullopt, occurred,
                    std::move(body), c.threshold.severity, "", true);
      if (!r) return Unexpected(r.error());
    }
    return {};
  }

  // A status change of a known finding: saves it and announces vulnerability.status_changed.
  Result<int64_t> ChangeStatus(const std::string& project, ProjectState& ps, Finding finding,
                               FindingStatus to, const std::string& comment,
                               std::optional<std::string> key, TimePoint occurred,
                               std::optional<Finding> counted_as = std::nullopt) {
    const Finding before = counted_as.value_or(finding);
    const FindingStatus from = finding.status;
    finding.status = to;
    if (auto r = tx_.SaveFinding(finding); !r) return Unexpected(r.error());
    nlohmann::json body = {{"finding", FindingJson(finding)},
                           {"status", std::string(domain::Name(to))},
                           {"from", std::string(domain::Name(from))},
                           {"to", std::string(domain::Name(to))},
                           {"transition", domain::TransitionName(from, to)},
                           {"actor", actor_.name}};
    if (!comment.empty()) body["comment"] = comment;
    auto seq = Emit(project, ps, EventType::kStatusChanged, std::move(key), occurred,
                    std::move(body), finding.severity, finding.fingerprint, true);
    if (!seq) return seq;
    if (auto r = Recount(project, ps, before, finding, occurred); !r) return Unexpected(r.error());
    return seq;
  }

  static nlohmann::json FindingJson(const Finding& f) {
    nlohmann::json j = ingest::FindingToJson(f);
    j["id"] = f.id;
    return j;
  }

  Result<int64_t> Apply(const ingest::EventInput& in, const std::string& pointer) {
    auto ps_or = Project(in.project, pointer + "/project");
    if (!ps_or) return Unexpected(ps_or.error());
    ProjectState& ps = **ps_or;
    const TimePoint occurred = in.occurred_at.value_or(now_);
    switch (in.type) {
      case EventType::kVulnerabilityNew:
        return ApplyNew(in, ps, occurred);
      case EventType::kStatusChanged: {
        auto existing = tx_.FindFinding(in.project, in.finding->fingerprint);
        if (!existing) return Unexpected(existing.error());
        if (!*existing) {
          return Fail("not_found",
                      "no finding with fingerprint '" + in.finding->fingerprint + "' in project '" +
                          in.project + "'",
                      "send a vulnerability.new event for it first", pointer + "/finding/fingerprint");
        }
        if ((*existing)->status == *in.status) {
          // Nothing changes: stored for idempotency, not announced.
          return Emit(in.project, ps, in.type, in.key, occurred,
                      {{"finding", FindingJson(**existing)},
                       {"status", std::string(domain::Name(*in.status))}},
                      std::nullopt, "", false);
        }
        return ChangeStatus(in.project, ps, **existing, *in.status, in.comment, in.key, occurred);
      }
      case EventType::kScanCompleted:
        return Emit(in.project, ps, in.type, in.key, occurred,
                    {{"scan", ingest::ScanToJson(*in.scan)}}, std::nullopt, "", true);
      case EventType::kThresholdCrossed: {
        const auto& t = *in.threshold;
        return Emit(in.project, ps, in.type, in.key, occurred,
                    {{"severity", std::string(domain::Name(t.severity))},
                     {"threshold", t.threshold},
                     {"count", t.count},
                     {"direction", t.above ? "above" : "below"}},
                    t.severity, "", true);
      }
    }
    return Fail("invalid_request", "unsupported event type", "", pointer + "/type");
  }

  Result<int64_t> ApplyNew(const ingest::EventInput& in, ProjectState& ps, TimePoint occurred) {
    auto existing = tx_.FindFinding(in.project, in.finding->fingerprint);
    if (!existing) return Unexpected(existing.error());
    Finding f = *in.finding;
    f.project = in.project;
    if (!*existing) {
      f.status = FindingStatus::kOpen;
      f.first_seen = f.last_seen = occurred;
      auto id = tx_.SaveFinding(f);
      if (!id) return Unexpected(id.error());
      f.id = *id;
      auto seq = Emit(in.project, ps, in.type, in.key, occurred, {{"finding", FindingJson(f)}},
                      f.severity, f.fingerprint, true);
      if (!seq) return seq;
      if (auto r = Recount(in.project, ps, std::nullopt, f, occurred); !r) {
        return Unexpected(r.error());
      }
      return seq;
    }
    // Known finding: refresh what the scanner says about it, keep identity and history.
    const Finding before = **existing;
    f.id = before.id;
    f.status = before.status;
    f.first_seen = before.first_seen;
    f.last_seen = std::max(before.last_seen, occurred);
    if (before.status == FindingStatus::kResolved) {
      auto seq = Emit(in.project, ps, in.type, in.key, occurred, {{"finding", FindingJson(f)}},
                      std::nullopt, "", false);
      if (!seq) return seq;
      auto reopened = ChangeStatus(in.project, ps, f, FindingStatus::kOpen, "", std::nullopt,
                                   occurred);
      if (!reopened) return Unexpected(reopened.error());
      return seq;
    }
    if (auto r = tx_.SaveFinding(f); !r) return Unexpected(r.error());
    auto seq = Emit(in.project, ps, in.type, in.key, occurred, {{"finding", FindingJson(f)}},
                    std::nullopt, "", false);
    if (!seq) return seq;
    // A severity change of an open finding can cross a threshold.
    if (auto r = Recount(in.project, ps, before, f, occurred); !r) return Unexpected(r.error());
    return seq;
  }

 private:
  // New findings of one project queued by this transaction for one channel and threshold (SPEC
  // §3, the digest window): while they are no more than the threshold, each is due only once the
  // window is over, for others to join it in a digest; past it they make one at once.
  struct Burst {
    int count = 0;
    std::vector<int64_t> waiting;  // the deliveries due at the window's end
  };

  store::IngestTx& tx_;
  TimePoint now_;
  Millis ttl_;
  Millis window_;
  bool deliver_;
  const Principal& actor_;
  std::map<std::string, ProjectState> projects_;
  std::map<std::tuple<std::string, std::string, int>, Burst> bursts_;
  int64_t deliveries_ = 0;
};

}  // namespace

Result<IngestOutcome> EventService::Ingest(const std::vector<ingest::EventInput>& events,
                                           const Principal& actor, bool batch_form) {
  auto pointer = [batch_form](size_t i) {
    return batch_form ? "/events/" + std::to_string(i) : std::string();
  };
  for (size_t i = 0; i < events.size(); ++i) {
    if (!actor.MayUseProject(events[i].project)) {
      return Fail("forbidden",
                  "token '" + actor.name + "' may not send events for project '" +
                      events[i].project + "'",
                  "use a token with role admin or project:" + events[i].project,
                  pointer(i) + "/project");
    }
  }
  IngestOutcome out;
  const TimePoint now = clock_.Now();
  const bool deliver = deliveries_active_ ? deliveries_active_() : true;
  auto r = store_.Transact([&](store::IngestTx& tx) -> Result<void> {
    out = IngestOutcome{};
    Batch batch(tx, now, delivery_ttl_, digest_window_, deliver, actor);
    for (size_t i = 0; i < events.size(); ++i) {
      const auto& in = events[i];
      if (in.key) {
        auto seen = tx.FindEventByKey(in.project, *in.key);
        if (!seen) return Unexpected(seen.error());
        if (*seen) {
          ++out.duplicates;
          out.ids.push_back(**seen);
          continue;
        }
      }
      auto seq = batch.Apply(in, pointer(i));
      if (!seq) return Unexpected(seq.error());
      ++out.accepted;
      out.ids.push_back(*seq);
    }
    out.deliveries = batch.deliveries();
    return {};
  });
  if (!r) return Unexpected(r.error());
  if (out.deliveries > 0 && on_committed_) on_committed_();
  return out;
}

nlohmann::json ScanOutcome::ToJson() const {
  nlohmann::json c = nlohmann::json::object();
  for (auto sev : domain::kAllSeverities) c[std::string(domain::Name(sev))] = counts[static_cast<int>(sev)];
  return {{"id", scan_id},           {"event_id", event_id},
          {"scanner", scanner},      {"branch", branch},
          {"status", succeeded ? "succeeded" : "failed"},
          {"complete", complete},    {"baseline", baseline},
          {"counts", c},             {"findings", findings},
          {"new", new_count},        {"unchanged", unchanged},
          {"reopened", reopened},    {"resolved", resolved},
          {"silent", silent},        {"severity_changed", severity_changed},
          {"deliveries", deliveries}};
}

Result<ScanOutcome> EventService::IngestScan(const std::string& project, const std::string& branch,
                                             const ingest::ParsedScan& scan,
                                             const Principal& actor) {
  if (!actor.MayUseProject(project)) {
    return Fail("forbidden", "token '" + actor.name + "' may not upload scans for project '" +
                                 project + "'",
                "use a token with role admin or project:" + project);
  }
  const TimePoint now = clock_.Now();
  const bool deliver = deliveries_active_ ? deliveries_active_() : true;
  ScanOutcome out;
  auto r = store_.Transact([&](store::IngestTx& tx) -> Result<void> {
    out = ScanOutcome{};
    out.scanner = scan.scanner;
    out.branch = branch;
    out.succeeded = scan.succeeded;
    out.complete = scan.complete;
    out.counts = scan.counts;
    out.findings = static_cast<int64_t>(scan.findings.size());
    Batch batch(tx, now, delivery_ttl_, digest_window_, deliver, actor);
    auto ps_or = batch.Project(project, "");
    if (!ps_or) return Unexpected(ps_or.error());
    ProjectState& ps = **ps_or;
    auto seen_before = tx.HasScan(project, scan.scanner, branch);
    if (!seen_before) return Unexpected(seen_before.error());
    auto known_list = tx.FindingsOf(project, scan.scanner, branch);
    if (!known_list) return Unexpected(known_list.error());
    // The strings live once, in `known` (the diff's input; a node-based map, so its keys stay
    // put); `by_fp` finds the rest of a finding by a view of its key.
    rules::KnownFindings known;
    known.reserve(known_list->size());
    std::unordered_map<std::string_view, store::KnownFinding> by_fp;
    by_fp.reserve(known_list->size());
    for (auto& f : *known_list) {
      auto [it, inserted] = known.try_emplace(std::move(f.fingerprint),
                                              rules::KnownFinding{f.status, f.severity,
                                                                  std::move(f.path)});
      if (inserted) by_fp.emplace(it->first, std::move(f));
    }
    std::vector<store::KnownFinding>().swap(*known_list);
    // A new fingerprint may be known to another scanner or branch of the project (then it is
    // that finding); when this stream holds all the project's findings, none is.
    auto project_findings = tx.CountFindings(project);
    if (!project_findings) return Unexpected(project_findings.error());
    const bool others_exist = *project_findings > static_cast<int64_t>(by_fp.size());
    // Recount needs only what the finding was counted as.
    const auto counted_as = [](const store::KnownFinding& k) {
      Finding f;
      f.status = k.status;
      f.severity = k.severity;
      return f;
    };
    const auto load = [&tx](const store::KnownFinding& k) -> Result<Finding> {
      auto f = tx.GetFinding(k.id);
      if (!f) return Unexpected(f.error());
      if (!*f) return Fail("internal", "finding " + std::to_string(k.id) + " vanished mid-scan");
      return std::move(**f);
    };
    rules::ScanDiffOptions options;
    options.first_scan = !*seen_before;
    options.complete = scan.complete;
    options.unscanned_paths = scan.unscanned_paths;
    const rules::ScanDiff diff = rules::DiffScan(known, scan.findings, options);
    out.baseline = diff.baseline;
    // On a baseline only routes that asked for it ("full") hear of each finding.
    const Batch::RouteFilter new_filter =
        diff.baseline ? Batch::RouteFilter([](const domain::Route& route, bool matched) {
          return matched && route.baseline_full;
        })
                      : Batch::RouteFilter{};

    for (size_t i = 0; i < scan.findings.size(); ++i) {
      Finding f = scan.findings[i];
      f.project = project;
      f.branch = branch;
      f.last_seen = now;
      const auto& change = diff.changes[i];
      switch (change.change) {
        case rules::Change::kDuplicate:
          continue;
        case rules::Change::kNew: {
          // Another scanner or branch may already know this fingerprint: it is one finding.
          Result<std::optional<Finding>> existing = std::optional<Finding>{};
          if (others_exist) existing = tx.FindFinding(project, f.fingerprint);
          if (!existing) return Unexpected(existing.error());
          if (*existing) {
            Finding merged = f;
            merged.id = (*existing)->id;
            merged.status = (*existing)->status;
            merged.first_seen = (*existing)->first_seen;
            if (auto s = tx.SaveFinding(merged); !s) return Unexpected(s.error());
            if (auto rc = batch.Recount(project, ps, **existing, merged, now); !rc) {
              return Unexpected(rc.error());
            }
            continue;
          }
          f.status = FindingStatus::kOpen;
          f.first_seen = now;
          auto id = tx.SaveFinding(f);
          if (!id) return Unexpected(id.error());
          f.id = *id;
          ++out.new_count;
          if (batch.Routed(ps, EventType::kVulnerabilityNew, f.severity, new_filter)) {
            auto seq = batch.Emit(project, ps, EventType::kVulnerabilityNew, std::nullopt, now,
                                  {{"finding", Batch::FindingJson(f)}}, f.severity, f.fingerprint,
                                  true, new_filter);
            if (!seq) return Unexpected(seq.error());
          }
          if (auto rc = batch.Recount(project, ps, std::nullopt, f, now); !rc) {
            return Unexpected(rc.error());
          }
          break;
        }
        case rules::Change::kUnchanged:
        case rules::Change::kSilent: {
          const store::KnownFinding& before = by_fp.at(f.fingerprint);
          f.id = before.id;
          f.status = before.status;
          f.first_seen = before.first_seen;
          // Most of a rescan is findings exactly as they were: only last_seen is written.
          const auto saved = domain::ContentHash(f) == before.content
                                 ? tx.TouchFinding(project, f.id, now)
                                 : tx.SaveFinding(f).map([](int64_t) {});
          if (!saved) return Unexpected(saved.error());
          if (change.change == rules::Change::kSilent) {
            ++out.silent;
          } else {
            ++out.unchanged;
          }
          if (change.severity_changed()) {
            ++out.severity_changed;
            if (auto rc = batch.Recount(project, ps, counted_as(before), f, now); !rc) {
              return Unexpected(rc.error());
            }
          }
          break;
        }
        case rules::Change::kReopened: {
          const store::KnownFinding& before = by_fp.at(f.fingerprint);
          f.id = before.id;
          f.status = before.status;
          f.first_seen = before.first_seen;
          ++out.reopened;
          auto seq = batch.ChangeStatus(project, ps, f, FindingStatus::kOpen,
                                        "found again by " + scan.scanner + " on " + branch,
                                        std::nullopt, now, counted_as(before));
          if (!seq) return Unexpected(seq.error());
          break;
        }
      }
    }
    for (const auto& fp : diff.resolved) {
      auto loaded = load(by_fp.at(fp));
      if (!loaded) return Unexpected(loaded.error());
      Finding f = std::move(*loaded);
      ++out.resolved;
      auto seq = batch.ChangeStatus(project, ps, f, FindingStatus::kResolved,
                                    "no longer found by " + scan.scanner + " on " + branch,
                                    std::nullopt, now);
      if (!seq) return Unexpected(seq.error());
    }

    ingest::ScanInfo info;
    info.scanner = scan.scanner;
    info.branch = branch;
    info.succeeded = scan.succeeded;
    info.error = scan.error;
    info.counts = scan.counts;
    info.new_count = out.new_count;
    info.resolved_count = out.resolved;
    info.reopened_count = out.reopened;
    info.baseline = diff.baseline;
    info.finished_at = now;
    // The summary goes to routes that want scan.completed; on a baseline it also stands in for
    // the per-finding posts of routes that wanted those as a summary.
    const bool baseline = diff.baseline;
    auto seq = batch.Emit(project, ps, EventType::kScanCompleted, std::nullopt, now,
                          {{"scan", ingest::ScanToJson(info)}}, std::nullopt, "", true,
                          [baseline](const domain::Route& route, bool matched) {
                            return matched ||
                                   (baseline && !route.baseline_full &&
                                    route.events.count(EventType::kVulnerabilityNew));
                          });
    if (!seq) return Unexpected(seq.error());
    out.event_id = *seq;
    out.deliveries = batch.deliveries();
    store::ScanRecord rec;
    rec.project = project;
    rec.scanner = scan.scanner;
    rec.branch = branch;
    rec.succeeded = scan.succeeded;
    rec.complete = scan.complete;
    rec.baseline = diff.baseline;
    rec.received_at = now;
    rec.summary_json = out.ToJson().dump();
    auto scan_id = tx.InsertScan(rec);
    if (!scan_id) return Unexpected(scan_id.error());
    out.scan_id = *scan_id;
    return {};
  });
  if (!r) return Unexpected(r.error());
  if (out.deliveries > 0 && on_committed_) on_committed_();
  return out;
}

Result<Finding> EventService::ChangeStatus(const StatusChange& change, const Principal& actor) {
  const TimePoint now = clock_.Now();
  const bool deliver = deliveries_active_ ? deliveries_active_() : true;
  Finding result;
  int64_t deliveries = 0;
  auto r = store_.Transact([&](store::IngestTx& tx) -> Result<void> {
    auto f = tx.GetFinding(change.finding_id);
    if (!f) return Unexpected(f.error());
    if (!*f) {
      return Fail("not_found", "no finding with id " + std::to_string(change.finding_id), "");
    }
    if (!actor.MayUseProject((*f)->project)) {
      return Fail("forbidden", "token '" + actor.name + "' may not triage findings of project '" +
                                   (*f)->project + "'",
                  "use a token with role admin or project:" + (*f)->project);
    }
    Batch batch(tx, now, delivery_ttl_, digest_window_, deliver, actor);
    auto ps = batch.Project((*f)->project, "");
    if (!ps) return Unexpected(ps.error());
    result = **f;
    if (result.status == change.status) return {};
    auto seq = batch.ChangeStatus(result.project, **ps, result, change.status, change.comment,
                                  std::nullopt, now);
    if (!seq) return Unexpected(seq.error());
    result.status = change.status;
    deliveries = batch.deliveries();
    return {};
  });
  if (!r) return Unexpected(r.error());
  if (deliveries > 0 && on_committed_) on_committed_();
  return result;
}

}  // namespace tocsin::service
