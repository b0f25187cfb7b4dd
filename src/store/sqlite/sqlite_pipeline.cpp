// SqliteStore: projects, links, findings, the ingest transaction and the installation id.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/random.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace tocsin::store::sqlite {
namespace {

using domain::Finding;
using domain::Project;
using domain::ProjectLink;

int64_t Ms(TimePoint t) { return ToUnixMillis(t); }

// ---- projects ----

constexpr char kProjectColumns[] = "name, display_name, url, created_at";

Project ReadProject(SQLite::Statement& st) {
  Project p;
  p.name = st.getColumn(0).getString();
  p.display_name = st.getColumn(1).getString();
  p.url = st.getColumn(2).getString();
  p.created_at = FromUnixMillis(st.getColumn(3).getInt64());
  return p;
}

Result<std::optional<Project>> SelectProject(Connection& c, const std::string& name) {
  static const std::string sql =
      fmt::format("SELECT {} FROM projects WHERE name = ?", kProjectColumns);
  Query q(c, sql.c_str());
  q->bind(1, name);
  if (!q->executeStep()) return std::optional<Project>{};
  return std::optional<Project>(ReadProject(*q));
}

// ---- links: routes and thresholds are JSON, always read and written whole ----

std::string RoutesToJson(const std::vector<domain::Route>& routes) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : routes) {
    nlohmann::json events = nlohmann::json::array();
    for (auto t : r.events) events.push_back(std::string(domain::Name(t)));
    out.push_back({{"channel", r.channel},
                   {"events", std::move(events)},
                   {"min_severity", std::string(domain::Name(r.min_severity))},
                   {"digest_threshold", r.digest_threshold},
                   {"baseline_full", r.baseline_full}});
  }
  return out.dump();
}

std::string ThresholdsToJson(const std::vector<domain::Threshold>& thresholds) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& t : thresholds) {
    out.push_back({{"severity", std::string(domain::Name(t.severity))}, {"count", t.count}});
  }
  return out.dump();
}

// The stored JSON was written by RoutesToJson/ThresholdsToJson; anything else is a damaged row.
Result<ProjectLink> LinkFromColumns(const std::string& project, bool enabled,
                                    const std::string& routes_json,
                                    const std::string& thresholds_json) {
  auto damaged = [&](const std::string& why) {
    return Fail(
        "store_unavailable",
        fmt::format("the stored Mattermost link of project '{}' is damaged: {}", project, why),
        "save the project's Mattermost settings again");
  };
  ProjectLink link;
  link.enabled = enabled;
  try {
    for (const auto& r : nlohmann::json::parse(routes_json)) {
      domain::Route route;
      route.channel = r.at("channel").get<std::string>();
      for (const auto& e : r.at("events")) {
        auto type = domain::ParseEventType(e.get<std::string>());
        if (!type) return damaged("unknown event type " + e.get<std::string>());
        route.events.insert(*type);
      }
      auto sev = domain::ParseSeverity(r.at("min_severity").get<std::string>());
      if (!sev) return damaged("unknown severity");
      route.min_severity = *sev;
      route.digest_threshold = r.at("digest_threshold").get<int>();
      route.baseline_full = r.at("baseline_full").get<bool>();
      link.routes.push_back(std::move(route));
    }
    for (const auto& t : nlohmann::json::parse(thresholds_json)) {
      domain::Threshold threshold;
      auto sev = domain::ParseSeverity(t.at("severity").get<std::string>());
      if (!sev) return damaged("unknown severity");
      threshold.severity = *sev;
      threshold.count = t.at("count").get<int64_t>();
      link.thresholds.push_back(threshold);
    }
  } catch (const nlohmann::json::exception& e) {
    return damaged(e.what());
  }
  return link;
}

Result<ProjectLink> SelectLink(Connection& c, const std::string& project) {
  Query q(c, "SELECT enabled, routes_json, thresholds_json FROM project_links WHERE project = ?");
  q->bind(1, project);
  if (!q->executeStep()) return ProjectLink{};
  return LinkFromColumns(project, q->getColumn(0).getInt() != 0, q->getColumn(1).getString(),
                         q->getColumn(2).getString());
}

// ---- findings ----

constexpr char kFindingColumns[] =
    "id, project, fingerprint, title, severity, status, scanner, rule_id, cwe, cve, cvss, path, "
    "line, component, description, link, branch, first_seen, last_seen";

Result<Finding> ReadFinding(SQLite::Statement& st) {
  Finding f;
  f.id = st.getColumn(0).getInt64();
  f.project = st.getColumn(1).getString();
  f.fingerprint = st.getColumn(2).getString();
  f.title = st.getColumn(3).getString();
  f.severity = static_cast<domain::Severity>(st.getColumn(4).getInt());  // CHECKed 0..4
  const std::string status = st.getColumn(5).getString();
  auto parsed = domain::ParseFindingStatus(status);
  if (!parsed) {
    return Fail("store_unavailable",
                fmt::format("finding {} has an unknown status '{}'", f.id, status),
                "the database was written by a newer tocsin");
  }
  f.status = *parsed;
  f.scanner = st.getColumn(6).getString();
  f.rule_id = st.getColumn(7).getString();
  f.cwe = st.getColumn(8).getString();
  f.cve = st.getColumn(9).getString();
  if (!st.getColumn(10).isNull()) f.cvss = st.getColumn(10).getDouble();
  f.location.path = st.getColumn(11).getString();
  f.location.line = st.getColumn(12).getInt64();
  f.location.component = st.getColumn(13).getString();
  f.description = st.getColumn(14).getString();
  f.link = st.getColumn(15).getString();
  f.branch = st.getColumn(16).getString();
  f.first_seen = FromUnixMillis(st.getColumn(17).getInt64());
  f.last_seen = FromUnixMillis(st.getColumn(18).getInt64());
  return f;
}

Result<std::optional<Finding>> SelectOneFinding(Query& q) {
  if (!q->executeStep()) return std::optional<Finding>{};
  auto f = ReadFinding(*q);
  if (!f) return Unexpected(f.error());
  return std::optional<Finding>(std::move(*f));
}

Result<std::optional<Finding>> SelectFindingById(Connection& c, int64_t id) {
  static const std::string sql =
      fmt::format("SELECT {} FROM findings WHERE id = ?", kFindingColumns);
  Query q(c, sql.c_str());
  q->bind(1, static_cast<int64_t>(id));
  return SelectOneFinding(q);
}

// Binds the finding's fields from `first` on in the order of kFindingWritable.
constexpr char kFindingWritable[] =
    "fingerprint, title, severity, status, scanner, rule_id, cwe, cve, cvss, path, line, "
    "component, description, link, branch, first_seen, last_seen";

// The strings are bound without a copy (SQLITE_STATIC): `f` outlives the statement's step, and
// Query clears the bindings before the statement's next use.
void BindFindingFields(Query& q, int first, const Finding& f) {
  int i = first;
  q->bindNoCopy(i++, f.fingerprint);
  q->bindNoCopy(i++, f.title);
  q->bind(i++, static_cast<int>(f.severity));
  q->bind(i++, std::string(domain::Name(f.status)));
  q->bindNoCopy(i++, f.scanner);
  q->bindNoCopy(i++, f.rule_id);
  q->bindNoCopy(i++, f.cwe);
  q->bindNoCopy(i++, f.cve);
  q.BindOptional(i++, f.cvss);
  q->bindNoCopy(i++, f.location.path);
  q->bind(i++, static_cast<int64_t>(f.location.line));
  q->bindNoCopy(i++, f.location.component);
  q->bindNoCopy(i++, f.description);
  q->bindNoCopy(i++, f.link);
  q->bindNoCopy(i++, f.branch);
  q->bind(i++, Ms(f.first_seen));
  q->bind(i++, Ms(f.last_seen));
}

// ---- the ingest transaction ----

class SqliteIngestTx final : public IngestTx {
 public:
  SqliteIngestTx(Connection& c, const std::string& path) : c_(c), path_(path) {}

  Result<std::optional<Project>> GetProject(const std::string& name) override {
    return Guarded(path_, "reading the project", [&] { return SelectProject(c_, name); });
  }

  Result<ProjectLink> GetLink(const std::string& project) override {
    return Guarded(path_, "reading the project's link", [&] { return SelectLink(c_, project); });
  }

  Result<std::optional<Finding>> FindFinding(const std::string& project,
                                             const std::string& fingerprint) override {
    return Guarded(path_, "looking up a finding", [&]() -> Result<std::optional<Finding>> {
      static const std::string sql = fmt::format(
          "SELECT {} FROM findings WHERE project = ? AND fingerprint = ?", kFindingColumns);
      Query q(c_, sql.c_str());
      q->bind(1, project);
      q->bind(2, fingerprint);
      return SelectOneFinding(q);
    });
  }

  Result<std::optional<Finding>> GetFinding(int64_t id) override {
    return Guarded(path_, "reading a finding", [&] { return SelectFindingById(c_, id); });
  }

  Result<int64_t> SaveFinding(const Finding& finding) override {
    return Guarded(path_, "saving a finding", [&]() -> Result<int64_t> {
      if (finding.id == 0) {
        static const std::string sql = fmt::format(
            "INSERT INTO findings (project, {}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            kFindingWritable);
        Query q(c_, sql.c_str());
        q->bind(1, finding.project);
        BindFindingFields(q, 2, finding);
        q.Exec();
        return c_.db().getLastInsertRowid();
      }
      Query q(c_,
              "UPDATE findings SET fingerprint = ?1, title = ?2, severity = ?3, status = ?4, "
              "scanner = ?5, rule_id = ?6, cwe = ?7, cve = ?8, cvss = ?9, path = ?10, "
              "line = ?11, component = ?12, description = ?13, link = ?14, branch = ?15, "
              "first_seen = ?16, last_seen = ?17 WHERE id = ?18 AND project = ?19");
      BindFindingFields(q, 1, finding);
      q->bind(18, static_cast<int64_t>(finding.id));
      q->bind(19, finding.project);
      if (q.Exec() == 0) {
        return Fail("not_found",
                    fmt::format("no finding {} in project '{}'", finding.id, finding.project));
      }
      return finding.id;
    });
  }

  Result<OpenCounts> CountOpen(const std::string& project) override {
    return Guarded(path_, "counting open findings", [&]() -> Result<OpenCounts> {
      // Kept by the findings_count_* triggers (migration 2): no scan of the findings.
      Query q(c_, "SELECT severity, open FROM open_finding_counts WHERE project = ?");
      q->bind(1, project);
      OpenCounts counts{};
      while (q->executeStep()) {
        const int severity = q->getColumn(0).getInt();
        if (severity >= 0 && severity < static_cast<int>(counts.size())) {
          counts[severity] = q->getColumn(1).getInt64();
        }
      }
      return counts;
    });
  }

  Result<std::optional<int64_t>> FindEventByKey(const std::string& project,
                                                const std::string& key) override {
    return Guarded(path_, "looking up an event key", [&]() -> Result<std::optional<int64_t>> {
      Query q(c_, "SELECT seq FROM events WHERE project = ? AND key = ?");
      q->bind(1, project);
      q->bind(2, key);
      if (!q->executeStep()) return std::optional<int64_t>{};
      return std::optional<int64_t>(q->getColumn(0).getInt64());
    });
  }

  Result<int64_t> InsertEvent(const StoredEvent& event) override {
    return Guarded(path_, "storing the event", [&]() -> Result<int64_t> {
      Query q(c_,
              "INSERT INTO events (project, key, type, occurred_at, received_at, body_json) "
              "VALUES (?, ?, ?, ?, ?, ?)");
      q->bind(1, event.project);
      if (event.key) {
        q->bind(2, *event.key);
      } else {
        q->bind(2);
      }
      q->bind(3, std::string(domain::Name(event.type)));
      q->bind(4, Ms(event.occurred_at));
      q->bind(5, Ms(event.received_at));
      q->bindNoCopy(6, event.body_json);  // outlives the step; up to a few KB per event
      q.Exec();
      return c_.db().getLastInsertRowid();
    });
  }

  Result<int64_t> InsertDelivery(const NewDelivery& d) override {
    return Guarded(path_, "queueing a delivery", [&]() -> Result<int64_t> {
      Query q(c_,
              "INSERT INTO deliveries (project, channel, kind, event_seq, event_type, thread_key, "
              "severity, digest_threshold, baseline_full, state, attempts, created_at, "
              "updated_at, next_attempt_at, expires_at) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', 0, ?10, ?10, ?12, ?11)");
      q->bind(1, d.project);
      q->bind(2, d.channel);
      q->bind(3, d.kind);
      q.BindOptional(4, d.event_seq > 0 ? std::optional<int64_t>(d.event_seq) : std::nullopt);
      q->bind(5, std::string(domain::Name(d.event_type)));
      q->bind(6, d.thread_key);
      q.BindOptional(
          7, d.severity ? std::optional<int64_t>(static_cast<int64_t>(*d.severity)) : std::nullopt);
      q->bind(8, d.digest_threshold);
      q->bind(9, d.baseline_full ? 1 : 0);
      q->bind(10, Ms(d.created_at));
      q->bind(11, Ms(d.expires_at));
      q->bind(12, Ms(d.due_at.value_or(d.created_at)));
      q.Exec();
      return c_.db().getLastInsertRowid();
    });
  }

  Result<void> SetDue(const std::vector<int64_t>& ids, TimePoint due) override {
    return Guarded(path_, "queueing deliveries", [&]() -> Result<void> {
      for (int64_t id : ids) {
        Query q(c_,
                "UPDATE deliveries SET next_attempt_at = ?1 WHERE id = ?2 AND state = 'pending'");
        q->bind(1, Ms(due));
        q->bind(2, static_cast<int64_t>(id));
        q.Exec();
      }
      return Ok();
    });
  }

  Result<void> AppendAudit(const AuditEntry& entry) override {
    return Guarded(path_, "appending to the audit log", [&]() -> Result<void> {
      InsertAudit(c_, entry);
      return Ok();
    });
  }

  Result<bool> HasScan(const std::string& project, const std::string& scanner,
                       const std::string& branch) override {
    return Guarded(path_, "looking up earlier scans", [&]() -> Result<bool> {
      Query q(c_, "SELECT 1 FROM scans WHERE project = ? AND scanner = ? AND branch = ? LIMIT 1");
      q->bind(1, project);
      q->bind(2, scanner);
      q->bind(3, branch);
      return q->executeStep();
    });
  }

  Result<int64_t> InsertScan(const ScanRecord& scan) override {
    return Guarded(path_, "recording the scan", [&]() -> Result<int64_t> {
      Query q(c_,
              "INSERT INTO scans (project, scanner, branch, succeeded, complete, baseline, "
              "received_at, summary_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      q->bind(1, scan.project);
      q->bind(2, scan.scanner);
      q->bind(3, scan.branch);
      q->bind(4, scan.succeeded ? 1 : 0);
      q->bind(5, scan.complete ? 1 : 0);
      q->bind(6, scan.baseline ? 1 : 0);
      q->bind(7, Ms(scan.received_at));
      q->bind(8, scan.summary_json.empty() ? std::string("{}") : scan.summary_json);
      q.Exec();
      return c_.db().getLastInsertRowid();
    });
  }

  Result<std::vector<KnownFinding>> FindingsOf(const std::string& project,
                                               const std::string& scanner,
                                               const std::string& branch) override {
    return Guarded(path_, "reading the scanner's findings",
                   [&]() -> Result<std::vector<KnownFinding>> {
                     static const std::string sql = fmt::format(
                         "SELECT {} FROM findings WHERE project = ? AND scanner = ? AND branch = ?",
                         kFindingColumns);
                     Query q(c_, sql.c_str());
                     q->bind(1, project);
                     q->bind(2, scanner);
                     q->bind(3, branch);
                     std::vector<KnownFinding> out;
                     while (q->executeStep()) {
                       // The whole row is read once to hash it, then only the digest is kept.
                       auto f = ReadFinding(*q);
                       if (!f) return Unexpected(f.error());
                       KnownFinding k;
                       k.content = domain::ContentHash(*f);
                       k.id = f->id;
                       k.fingerprint = std::move(f->fingerprint);
                       k.status = f->status;
                       k.severity = f->severity;
                       k.path = std::move(f->location.path);
                       k.first_seen = f->first_seen;
                       out.push_back(std::move(k));
                     }
                     return out;
                   });
  }

  Result<void> TouchFinding(const std::string& project, int64_t id,
                            TimePoint last_seen) override {
    return Guarded(path_, "updating a finding's last sighting", [&]() -> Result<void> {
      // last_seen is in no index: this rewrites one table row and nothing else.
      Query q(c_, "UPDATE findings SET last_seen = ? WHERE id = ? AND project = ?");
      q->bind(1, Ms(last_seen));
      q->bind(2, static_cast<int64_t>(id));
      q->bind(3, project);
      if (q.Exec() == 0) {
        return Fail("not_found", fmt::format("no finding {} in project '{}'", id, project));
      }
      return Ok();
    });
  }

  Result<int64_t> CountFindings(const std::string& project) override {
    return Guarded(path_, "counting a project's findings", [&]() -> Result<int64_t> {
      Query q(c_, "SELECT COUNT(*) FROM findings WHERE project = ?");
      q->bind(1, project);
      q->executeStep();
      return q->getColumn(0).getInt64();
    });
  }

 private:
  Connection& c_;
  const std::string& path_;
};

}  // namespace

// ---- projects ----

Result<void> SqliteStore::CreateProject(const Project& project, const AuditEntry& audit) {
  return Write(*writer_, path_, "creating the project", [&](Connection& c) -> Result<void> {
    Query q(c, "INSERT INTO projects (name, display_name, url, created_at) VALUES (?, ?, ?, ?)");
    q->bind(1, project.name);
    q->bind(2, project.display_name);
    q->bind(3, project.url);
    q->bind(4, Ms(project.created_at));
    q.Exec();
    InsertAudit(c, audit);
    return Ok();
  });
}

Result<std::optional<Project>> SqliteStore::GetProject(const std::string& name) {
  return Read(*reader_, path_, "reading the project",
              [&](Connection& c) { return SelectProject(c, name); });
}

Result<std::vector<Project>> SqliteStore::ListProjects(int limit, const std::string& after) {
  return Read(
      *reader_, path_, "listing projects", [&](Connection& c) -> Result<std::vector<Project>> {
        std::vector<Project> out;
        if (limit <= 0) return out;
        static const std::string sql = fmt::format(
            "SELECT {} FROM projects WHERE name > ? ORDER BY name LIMIT ?", kProjectColumns);
        Query q(c, sql.c_str());
        q->bind(1, after);
        q->bind(2, limit);
        while (q->executeStep()) out.push_back(ReadProject(*q));
        return out;
      });
}

Result<void> SqliteStore::UpdateProject(const Project& project, const AuditEntry& audit) {
  return Write(*writer_, path_, "updating the project", [&](Connection& c) -> Result<void> {
    Query q(c, "UPDATE projects SET display_name = ?, url = ? WHERE name = ?");
    q->bind(1, project.display_name);
    q->bind(2, project.url);
    q->bind(3, project.name);
    if (q.Exec() == 0) {
      return Fail("not_found", fmt::format("project '{}' does not exist", project.name));
    }
    InsertAudit(c, audit);
    return Ok();
  });
}

Result<void> SqliteStore::DeleteProject(const std::string& name, const AuditEntry& audit) {
  return Write(*writer_, path_, "deleting the project", [&](Connection& c) -> Result<void> {
    // Everything else goes by ON DELETE CASCADE (migration 2).
    Query q(c, "DELETE FROM projects WHERE name = ?");
    q->bind(1, name);
    if (q.Exec() == 0) return Fail("not_found", fmt::format("project '{}' does not exist", name));
    InsertAudit(c, audit);
    return Ok();
  });
}

Result<ProjectLink> SqliteStore::GetLink(const std::string& project) {
  return Read(*reader_, path_, "reading the project's link",
              [&](Connection& c) { return SelectLink(c, project); });
}

Result<void> SqliteStore::SaveLink(const std::string& project, const ProjectLink& link,
                                   const AuditEntry& audit) {
  return Write(*writer_, path_, "saving the project's link", [&](Connection& c) -> Result<void> {
    auto p = SelectProject(c, project);
    if (!p) return Unexpected(p.error());
    if (!*p) return Fail("not_found", fmt::format("project '{}' does not exist", project));
    Query q(c,
            "INSERT INTO project_links (project, enabled, routes_json, thresholds_json) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (project) DO UPDATE SET enabled = excluded.enabled, "
            "routes_json = excluded.routes_json, thresholds_json = excluded.thresholds_json");
    q->bind(1, project);
    q->bind(2, link.enabled ? 1 : 0);
    q->bind(3, RoutesToJson(link.routes));
    q->bind(4, ThresholdsToJson(link.thresholds));
    q.Exec();
    InsertAudit(c, audit);
    return Ok();
  });
}

// ---- findings ----

Result<std::optional<Finding>> SqliteStore::GetFinding(int64_t id) {
  return Read(*reader_, path_, "reading a finding",
              [&](Connection& c) { return SelectFindingById(c, id); });
}

Result<std::vector<Finding>> SqliteStore::ListFindings(const FindingFilter& filter) {
  return Read(
      *reader_, path_, "listing findings", [&](Connection& c) -> Result<std::vector<Finding>> {
        std::vector<Finding> out;
        if (filter.limit <= 0) return out;
        // One statement for every filter combination: a NULL parameter switches its
        // condition off.
        static const std::string sql = fmt::format(
            "SELECT {} FROM findings WHERE project = ?1 "
            "AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR severity >= ?3) "
            "AND (?4 IS NULL OR fingerprint = ?4) AND id > ?5 ORDER BY id LIMIT ?6",
            kFindingColumns);
        Query q(c, sql.c_str());
        q->bind(1, filter.project);
        if (filter.status) {
          q->bind(2, std::string(domain::Name(*filter.status)));
        } else {
          q->bind(2);
        }
        q.BindOptional(3, filter.min_severity
                              ? std::optional<int64_t>(static_cast<int64_t>(*filter.min_severity))
                              : std::nullopt);
        if (filter.fingerprint) {
          q->bind(4, *filter.fingerprint);
        } else {
          q->bind(4);
        }
        q->bind(5, static_cast<int64_t>(filter.after_id));
        q->bind(6, filter.limit);
        while (q->executeStep()) {
          auto f = ReadFinding(*q);
          if (!f) return Unexpected(f.error());
          out.push_back(std::move(*f));
        }
        return out;
      });
}

// ---- scans ----

Result<std::vector<ScanRecord>> SqliteStore::ListScans(const std::string& project, int limit,
                                                       int64_t before_id) {
  return Read(*reader_, path_, "listing scans",
              [&](Connection& c) -> Result<std::vector<ScanRecord>> {
                std::vector<ScanRecord> out;
                if (limit <= 0) return out;
                Query q(c,
                        "SELECT id, project, scanner, branch, succeeded, complete, baseline, "
                        "received_at, summary_json FROM scans WHERE project = ?1 "
                        "AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3");
                q->bind(1, project);
                q->bind(2, static_cast<int64_t>(before_id));
                q->bind(3, limit);
                while (q->executeStep()) {
                  ScanRecord r;
                  r.id = q->getColumn(0).getInt64();
                  r.project = q->getColumn(1).getString();
                  r.scanner = q->getColumn(2).getString();
                  r.branch = q->getColumn(3).getString();
                  r.succeeded = q->getColumn(4).getInt() != 0;
                  r.complete = q->getColumn(5).getInt() != 0;
                  r.baseline = q->getColumn(6).getInt() != 0;
                  r.received_at = FromUnixMillis(q->getColumn(7).getInt64());
                  r.summary_json = q->getColumn(8).getString();
                  out.push_back(std::move(r));
                }
                return out;
              });
}

// ---- the ingest transaction ----

Result<void> SqliteStore::Transact(const std::function<Result<void>(IngestTx&)>& fn) {
  return Write(*writer_, path_, "ingest transaction", [&](Connection& c) -> Result<void> {
    SqliteIngestTx tx(c, path_);
    try {
      return fn(tx);
    } catch (const SQLite::Exception&) {
      throw;  // Guarded names it
    } catch (const std::exception& e) {
      return Fail("internal", fmt::format("ingest transaction rolled back: {}", e.what()));
    } catch (...) {
      return Fail("internal", "ingest transaction rolled back: unknown exception");
    }
  });
}

Result<std::string> SqliteStore::InstallationId() {
  std::lock_guard lock(installation_id_mu_);
  if (!installation_id_.empty()) return installation_id_;
  auto id = Write(*writer_, path_, "reading the installation id",
                  [&](Connection& c) -> Result<std::string> {
                    Query select(c, "SELECT value FROM meta WHERE key = 'installation_id'");
                    if (select->executeStep()) return select->getColumn(0).getString();
                    const std::string made = NewId();
                    Query insert(c, "INSERT INTO meta (key, value) VALUES ('installation_id', ?)");
                    insert->bind(1, made);
                    insert.Exec();
                    return made;
                  });
  if (id) installation_id_ = *id;
  return id;
}

}  // namespace tocsin::store::sqlite
