// The shared pipeline behaviour (store/pipeline.hpp): every backend must pass these.
// Time is explicit TimePoints (kT0 + offsets): leases and backoff are tested without sleeping.
#include <gmock/gmock.h>

#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "store_suite.hpp"

namespace tocsin::store::testing {
namespace {

using domain::DeliveryState;
using domain::EventType;
using domain::Finding;
using domain::FindingStatus;
using domain::Severity;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const TimePoint kT0 = FromUnixMillis(1796378400000);
TimePoint At(int64_t seconds) { return kT0 + std::chrono::seconds(seconds); }
constexpr Millis kLease{30000};

AuditEntry Audit(const std::string& action) {
  AuditEntry e;
  e.at = ToUnixMillis(kT0);
  e.actor = "admin";
  e.action = action;
  e.target = "project";
  e.detail_json = "{}";
  return e;
}

domain::Project MakeProject(const std::string& name) {
  domain::Project p;
  p.name = name;
  p.display_name = "Project " + name;
  p.url = "https://git.example.com/" + name;
  p.created_at = kT0;
  return p;
}

Finding MakeFinding(const std::string& project, const std::string& fingerprint,
                    Severity severity = Severity::kHigh,
                    FindingStatus status = FindingStatus::kOpen) {
  Finding f;
  f.project = project;
  f.fingerprint = fingerprint;
  f.title = "SQL injection in " + fingerprint;
  f.severity = severity;
  f.status = status;
  f.first_seen = f.last_seen = kT0;
  return f;
}

StoredEvent MakeEvent(const std::string& project, std::optional<std::string> key,
                      const std::string& body = R"({"type":"scan.completed"})") {
  StoredEvent e;
  e.key = std::move(key);
  e.project = project;
  e.type = EventType::kScanCompleted;
  e.occurred_at = kT0;
  e.received_at = At(1);
  e.body_json = body;
  return e;
}

NewDelivery MakeDelivery(const std::string& project, const std::string& channel, int64_t seq,
                         TimePoint created) {
  NewDelivery d;
  d.project = project;
  d.channel = channel;
  d.event_seq = seq;
  d.event_type = EventType::kScanCompleted;
  d.created_at = created;
  d.expires_at = created + std::chrono::hours(24);
  return d;
}

void CreateProject(PipelineStore& p, const std::string& name) {
  auto r = p.CreateProject(MakeProject(name), Audit("project.create"));
  ASSERT_TRUE(r) << r.error().message;
}

// One event and its delivery to `channel`, committed together; the delivery id (0 on failure).
int64_t Enqueue(PipelineStore& p, const std::string& project, const std::string& channel,
                TimePoint created, const std::string& body = R"({"n":0})") {
  int64_t id = 0;
  auto r = p.Transact([&](IngestTx& tx) -> Result<void> {
    auto seq = tx.InsertEvent(MakeEvent(project, std::nullopt, body));
    if (!seq) return Unexpected(seq.error());
    auto d = tx.InsertDelivery(MakeDelivery(project, channel, *seq, created));
    if (!d) return Unexpected(d.error());
    id = *d;
    return {};
  });
  EXPECT_TRUE(r) << r.error().message;
  return id;
}

int64_t SaveFinding(PipelineStore& p, const Finding& f) {
  int64_t id = 0;
  auto r = p.Transact([&](IngestTx& tx) -> Result<void> {
    auto saved = tx.SaveFinding(f);
    if (!saved) return Unexpected(saved.error());
    id = *saved;
    return {};
  });
  EXPECT_TRUE(r) << r.error().message;
  return id;
}

OpenCounts CountOpen(PipelineStore& p, const std::string& project) {
  OpenCounts counts{};
  auto r = p.Transact([&](IngestTx& tx) -> Result<void> {
    auto c = tx.CountOpen(project);
    if (!c) return Unexpected(c.error());
    counts = *c;
    return {};
  });
  EXPECT_TRUE(r) << r.error().message;
  return counts;
}

DeliveryRecord Delivery(Outbox& o, int64_t id) {
  auto d = o.GetDelivery(id);
  EXPECT_TRUE(d && d->has_value()) << "delivery " << id;
  return d && d->has_value() ? **d : DeliveryRecord{};
}

// A post of project web in channel team/a (Mattermost id chan-1), its record asking to release
// `owner`'s lease when the channel has nothing left.
SentPost Releasing(std::vector<int64_t> ids, std::string post_id, TimePoint now,
                   std::string owner) {
  SentPost sent;
  sent.ids = std::move(ids);
  sent.post_id = std::move(post_id);
  sent.channel_id = "chan-1";
  sent.now = now;
  sent.project = "web";
  sent.channel = "team/a";
  sent.release_owner = std::move(owner);
  return sent;
}

// The names of the channels claimed.
std::vector<std::string> Claim(Outbox& o, const std::string& owner, TimePoint now, int max = 10) {
  auto r = o.ClaimChannels(owner, now, kLease, max);
  EXPECT_TRUE(r) << r.error().message;
  std::vector<std::string> names;
  if (r) {
    for (const auto& claim : *r) names.push_back(claim.channel);
  }
  return names;
}

// The ids of a listing, in its order (a failed listing fails the test and gives none).
std::vector<int64_t> Ids(const Result<std::vector<DeliveryRecord>>& list) {
  EXPECT_TRUE(list) << list.error().message;
  std::vector<int64_t> out;
  if (list) {
    for (const auto& d : *list) out.push_back(d.id);
  }
  return out;
}

std::vector<int64_t> QueueIds(Outbox& o, const std::string& channel) {
  auto q = o.ChannelQueue(channel, 100);
  EXPECT_TRUE(q) << q.error().message;
  std::vector<int64_t> ids;
  if (q) {
    for (const auto& d : *q) ids.push_back(d.id);
  }
  return ids;
}

size_t AuditCount(Store& store) {
  auto entries = store.ListAudit(1000, 0);
  EXPECT_TRUE(entries);
  return entries ? entries->size() : 0;
}

std::vector<std::string> Fingerprints(const Result<std::vector<Finding>>& findings) {
  EXPECT_TRUE(findings) << findings.error().message;
  std::vector<std::string> out;
  if (findings) {
    for (const auto& f : *findings) out.push_back(f.fingerprint);
  }
  return out;
}

// ---- projects ----

TEST_P(PipelineSuite, ProjectsAreCreatedReadAndListedByName) {
  for (const char* name : {"web", "api", "mobile"}) CreateProject(pipeline(), name);
  auto web = pipeline().GetProject("web");
  ASSERT_TRUE(web && web->has_value());
  EXPECT_EQ((*web)->display_name, "Project web");
  EXPECT_EQ((*web)->url, "https://git.example.com/web");
  EXPECT_EQ((*web)->created_at, kT0);
  auto missing = pipeline().GetProject("nope");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());

  auto names = [](const Result<std::vector<domain::Project>>& list) {
    std::vector<std::string> out;
    EXPECT_TRUE(list);
    if (list) {
      for (const auto& p : *list) out.push_back(p.name);
    }
    return out;
  };
  EXPECT_THAT(names(pipeline().ListProjects(2, "")), ElementsAre("api", "mobile"));
  EXPECT_THAT(names(pipeline().ListProjects(2, "mobile")), ElementsAre("web"));
  EXPECT_THAT(names(pipeline().ListProjects(0, "")), IsEmpty());
  EXPECT_EQ(AuditCount(*store_), 3u);
}

TEST_P(PipelineSuite, DuplicateProjectNameIsAConflictAndWritesNoAudit) {
  CreateProject(pipeline(), "web");
  auto dup = pipeline().CreateProject(MakeProject("web"), Audit("project.create"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, "conflict");
  EXPECT_EQ(dup.error().field, "name");
  EXPECT_EQ(AuditCount(*store_), 1u);
}

TEST_P(PipelineSuite, UpdateChangesDisplayNameAndUrlWithItsAudit) {
  CreateProject(pipeline(), "web");
  domain::Project p = MakeProject("web");
  p.display_name = "Storefront";
  p.url = "";
  p.created_at = At(999);  // not updatable
  ASSERT_TRUE(pipeline().UpdateProject(p, Audit("project.update")));
  auto got = pipeline().GetProject("web");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->display_name, "Storefront");
  EXPECT_EQ((*got)->url, "");
  EXPECT_EQ((*got)->created_at, kT0);
  EXPECT_EQ(AuditCount(*store_), 2u);

  auto unknown = pipeline().UpdateProject(MakeProject("nope"), Audit("project.update"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "not_found");
  EXPECT_EQ(AuditCount(*store_), 2u);
}

TEST_P(PipelineSuite, DeletingAProjectDeletesEverythingItOwns) {
  CreateProject(pipeline(), "web");
  CreateProject(pipeline(), "api");
  domain::ProjectLink link;
  link.enabled = true;
  link.routes.push_back(domain::Route{"team/sec", {EventType::kScanCompleted}});
  for (const char* name : {"web", "api"}) {
    ASSERT_TRUE(pipeline().SaveLink(name, link, Audit("link")));
    SaveFinding(pipeline(), MakeFinding(name, "fp-1"));
    ASSERT_TRUE(pipeline().Transact([&](IngestTx& tx) -> Result<void> {
      auto seq = tx.InsertEvent(MakeEvent(name, "key-1"));
      if (!seq) return Unexpected(seq.error());
      return tx.InsertDelivery(MakeDelivery(name, "team/sec", *seq, kT0)).map([](int64_t) {});
    }));
    ASSERT_TRUE(outbox().PutThreadRoot(name, "fp-1", "team/sec", "post-" + std::string(name)));
  }
  const auto queued = QueueIds(outbox(), "team/sec");  // web's delivery, then api's
  ASSERT_EQ(queued.size(), 2u);
  ASSERT_TRUE(outbox().MarkSent({queued[0]}, "post-1", "ch-1", At(2)));  // has attempts

  ASSERT_TRUE(pipeline().DeleteProject("web", Audit("project.delete")));
  auto gone = pipeline().GetProject("web");
  ASSERT_TRUE(gone);
  EXPECT_FALSE(gone->has_value());
  auto deleted_again = pipeline().DeleteProject("web", Audit("project.delete"));
  ASSERT_FALSE(deleted_again);
  EXPECT_EQ(deleted_again.error().code, "not_found");

  // A project created again under the same name starts empty.
  CreateProject(pipeline(), "web");
  auto web_link = pipeline().GetLink("web");
  ASSERT_TRUE(web_link);
  EXPECT_FALSE(web_link->enabled);
  EXPECT_TRUE(web_link->routes.empty());
  EXPECT_THAT(Fingerprints(pipeline().ListFindings({.project = "web"})), IsEmpty());
  EXPECT_EQ(CountOpen(pipeline(), "web"), OpenCounts{});
  auto web_log = outbox().ListDeliveries({.project = "web"});
  ASSERT_TRUE(web_log);
  EXPECT_TRUE(web_log->empty());
  auto sent = outbox().GetDelivery(queued[0]);
  ASSERT_TRUE(sent);
  EXPECT_FALSE(sent->has_value());
  auto attempts = outbox().ListAttempts(queued[0]);
  ASSERT_TRUE(attempts);
  EXPECT_TRUE(attempts->empty());
  auto root = outbox().GetThreadRoot("web", "fp-1", "team/sec");
  ASSERT_TRUE(root);
  EXPECT_FALSE(root->has_value());
  ASSERT_TRUE(pipeline().Transact([&](IngestTx& tx) -> Result<void> {
    auto key = tx.FindEventByKey("web", "key-1");
    EXPECT_TRUE(key && !key->has_value()) << "the idempotency key is free again";
    return {};
  }));

  // The other project kept everything.
  EXPECT_TRUE(pipeline().GetLink("api")->enabled);
  EXPECT_THAT(Fingerprints(pipeline().ListFindings({.project = "api"})), ElementsAre("fp-1"));
  EXPECT_EQ(CountOpen(pipeline(), "api")[static_cast<int>(Severity::kHigh)], 1);
  EXPECT_THAT(QueueIds(outbox(), "team/sec"), ElementsAre(queued[1]));
  EXPECT_EQ(**outbox().GetThreadRoot("api", "fp-1", "team/sec"), "post-api");
}

// ---- links ----

TEST_P(PipelineSuite, LinkIsDisabledAndEmptyUntilSaved) {
  CreateProject(pipeline(), "web");
  auto link = pipeline().GetLink("web");
  ASSERT_TRUE(link);
  EXPECT_FALSE(link->enabled);
  EXPECT_TRUE(link->routes.empty());
  EXPECT_TRUE(link->thresholds.empty());
  ASSERT_TRUE(pipeline().Transact([](IngestTx& tx) -> Result<void> {
    auto l = tx.GetLink("web");
    EXPECT_TRUE(l && !l->enabled && l->routes.empty());
    return {};
  }));
}

TEST_P(PipelineSuite, LinkRoundTripsAndSavingReplacesIt) {
  CreateProject(pipeline(), "web");
  domain::ProjectLink link;
  link.enabled = true;
  domain::Route critical;
  critical.channel = "security/alerts";
  critical.events = {EventType::kVulnerabilityNew, EventType::kStatusChanged};
  critical.min_severity = Severity::kCritical;
  critical.digest_threshold = 3;
  critical.baseline_full = true;
  domain::Route scans;
  scans.channel = "abcdefghijklmnopqrstuvwxyz";
  scans.events = {EventType::kScanCompleted};
  link.routes = {critical, scans};
  link.thresholds = {{Severity::kHigh, 5}, {Severity::kCritical, 1}};
  ASSERT_TRUE(pipeline().SaveLink("web", link, Audit("project.mattermost.update")));

  auto got = pipeline().GetLink("web");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_TRUE(got->enabled);
  ASSERT_EQ(got->routes.size(), 2u);
  EXPECT_EQ(got->routes[0].channel, "security/alerts");
  EXPECT_EQ(got->routes[0].events, critical.events);
  EXPECT_EQ(got->routes[0].min_severity, Severity::kCritical);
  EXPECT_EQ(got->routes[0].digest_threshold, 3);
  EXPECT_TRUE(got->routes[0].baseline_full);
  EXPECT_EQ(got->routes[1].channel, scans.channel);
  EXPECT_EQ(got->routes[1].events, scans.events);
  EXPECT_EQ(got->routes[1].min_severity, Severity::kInfo);
  EXPECT_EQ(got->routes[1].digest_threshold, 10);
  EXPECT_FALSE(got->routes[1].baseline_full);
  ASSERT_EQ(got->thresholds.size(), 2u);
  EXPECT_EQ(got->thresholds[0].severity, Severity::kHigh);
  EXPECT_EQ(got->thresholds[0].count, 5);
  EXPECT_EQ(got->thresholds[1].severity, Severity::kCritical);

  ASSERT_TRUE(
      pipeline().SaveLink("web", domain::ProjectLink{}, Audit("project.mattermost.update")));
  got = pipeline().GetLink("web");
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->enabled);
  EXPECT_TRUE(got->routes.empty());
  EXPECT_TRUE(got->thresholds.empty());
  EXPECT_EQ(AuditCount(*store_), 3u);
}

TEST_P(PipelineSuite, LinkOfAnUnknownProjectIsNotFound) {
  auto r = pipeline().SaveLink("nope", domain::ProjectLink{}, Audit("project.mattermost.update"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "not_found");
  EXPECT_EQ(AuditCount(*store_), 0u);
}

// ---- findings ----

TEST_P(PipelineSuite, FindingRoundTripsEveryField) {
  CreateProject(pipeline(), "web");
  Finding f =
      MakeFinding("web", "fp-\xF0\x9F\x94\x94'\"", Severity::kMedium, FindingStatus::kAcceptedRisk);
  f.scanner = "semgrep";
  f.rule_id = "python.sqli";
  f.cwe = "CWE-89";
  f.cve = "CVE-2026-0001";
  f.cvss = 7.5;
  f.location = {"src/app.py", 42, "flask"};
  f.description = "user input reaches a query; DROP TABLE findings;--";
  f.link = "https://scanner.example.com/f/1";
  f.branch = "main";
  f.first_seen = At(10);
  f.last_seen = At(20);
  const int64_t id = SaveFinding(pipeline(), f);
  ASSERT_GT(id, 0);

  auto check = [&](const std::optional<Finding>& got) {
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->id, id);
    EXPECT_EQ(got->project, "web");
    EXPECT_EQ(got->fingerprint, f.fingerprint);
    EXPECT_EQ(got->title, f.title);
    EXPECT_EQ(got->severity, Severity::kMedium);
    EXPECT_EQ(got->status, FindingStatus::kAcceptedRisk);
    EXPECT_EQ(got->scanner, "semgrep");
    EXPECT_EQ(got->rule_id, "python.sqli");
    EXPECT_EQ(got->cwe, "CWE-89");
    EXPECT_EQ(got->cve, "CVE-2026-0001");
    EXPECT_EQ(got->cvss, 7.5);
    EXPECT_EQ(got->location.path, "src/app.py");
    EXPECT_EQ(got->location.line, 42);
    EXPECT_EQ(got->location.component, "flask");
    EXPECT_EQ(got->description, f.description);
    EXPECT_EQ(got->link, f.link);
    EXPECT_EQ(got->branch, "main");
    EXPECT_EQ(got->first_seen, At(10));
    EXPECT_EQ(got->last_seen, At(20));
  };
  auto by_id = pipeline().GetFinding(id);
  ASSERT_TRUE(by_id);
  check(*by_id);
  ASSERT_TRUE(pipeline().Transact([&](IngestTx& tx) -> Result<void> {
    auto found = tx.FindFinding("web", f.fingerprint);
    EXPECT_TRUE(found);
    if (found) check(*found);
    auto in_tx = tx.GetFinding(id);
    EXPECT_TRUE(in_tx);
    if (in_tx) check(*in_tx);
    auto other = tx.FindFinding("api", f.fingerprint);
    EXPECT_TRUE(other && !other->has_value());
    return {};
  }));
  auto none = pipeline().GetFinding(id + 1000);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());

  Finding no_cvss = MakeFinding("web", "fp-2");
  const int64_t id2 = SaveFinding(pipeline(), no_cvss);
  EXPECT_GT(id2, id);
  EXPECT_FALSE((*pipeline().GetFinding(id2))->cvss.has_value());
}

TEST_P(PipelineSuite, FindingsOfAStreamAreLeanWithTheDigestOfTheirRow) {
  CreateProject(pipeline(), "web");
  Finding a = MakeFinding("web", "fp-a", Severity::kCritical, FindingStatus::kFalsePositive);
  a.scanner = "semgrep";
  a.branch = "main";
  a.location = {"src/a.py", 3, ""};
  a.cvss = 9.1;
  a.first_seen = At(5);
  a.id = SaveFinding(pipeline(), a);
  Finding other_branch = MakeFinding("web", "fp-b");
  other_branch.scanner = "semgrep";
  other_branch.branch = "dev";
  SaveFinding(pipeline(), other_branch);
  Finding other_scanner = MakeFinding("web", "fp-c");
  other_scanner.scanner = "codeql";
  other_scanner.branch = "main";
  SaveFinding(pipeline(), other_scanner);

  ASSERT_TRUE(pipeline().Transact([&](IngestTx& tx) -> Result<void> {
    auto known = tx.FindingsOf("web", "semgrep", "main");
    EXPECT_TRUE(known);
    if (!known) return {};
    EXPECT_EQ(known->size(), 1u) << "another branch or scanner is another stream";
    if (known->size() != 1) return {};
    const KnownFinding& k = known->front();
    EXPECT_EQ(k.id, a.id);
    EXPECT_EQ(k.fingerprint, "fp-a");
    EXPECT_EQ(k.status, FindingStatus::kFalsePositive);
    EXPECT_EQ(k.severity, Severity::kCritical);
    EXPECT_EQ(k.path, "src/a.py");
    EXPECT_EQ(k.first_seen, At(5));
    EXPECT_EQ(k.content, domain::ContentHash(a)) << "the stored row reads back as it was saved";
    auto count = tx.CountFindings("web");
    EXPECT_TRUE(count && *count == 3);
    auto none = tx.CountFindings("api");
    EXPECT_TRUE(none && *none == 0);
    return {};
  }));
}

TEST_P(PipelineSuite, TouchingAFindingMovesLastSeenOnly) {
  CreateProject(pipeline(), "web");
  CreateProject(pipeline(), "api");
  Finding f = MakeFinding("web", "fp-1", Severity::kHigh, FindingStatus::kResolved);
  f.first_seen = At(1);
  f.last_seen = At(2);
  f.id = SaveFinding(pipeline(), f);
  ASSERT_TRUE(pipeline().Transact(
      [&](IngestTx& tx) { return tx.TouchFinding("web", f.id, At(90)); }));
  auto got = pipeline().GetFinding(f.id);
  ASSERT_TRUE(got && got->has_value());
  Finding expected = f;
  expected.last_seen = At(90);
  EXPECT_EQ((*got)->last_seen, At(90));
  EXPECT_EQ((*got)->first_seen, At(1));
  EXPECT_EQ((*got)->status, FindingStatus::kResolved);
  EXPECT_EQ(domain::ContentHash(**got), domain::ContentHash(expected));

  auto wrong_project = pipeline().Transact(
      [&](IngestTx& tx) { return tx.TouchFinding("api", f.id, At(91)); });
  ASSERT_FALSE(wrong_project);
  EXPECT_EQ(wrong_project.error().code, "not_found");
  auto unknown = pipeline().Transact(
      [&](IngestTx& tx) { return tx.TouchFinding("web", f.id + 100, At(91)); });
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "not_found");
  EXPECT_EQ((*pipeline().GetFinding(f.id))->last_seen, At(90)) << "a failed touch changes nothing";
}

TEST_P(PipelineSuite, SavingAFindingWithAnIdUpdatesIt) {
  CreateProject(pipeline(), "web");
  Finding f = MakeFinding("web", "fp-1", Severity::kLow);
  f.id = SaveFinding(pipeline(), f);
  ASSERT_GT(f.id, 0);
  f.status = FindingStatus::kResolved;
  f.severity = Severity::kCritical;
  f.title = "renamed";
  f.last_seen = At(60);
  EXPECT_EQ(SaveFinding(pipeline(), f), f.id);
  auto got = pipeline().GetFinding(f.id);
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->status, FindingStatus::kResolved);
  EXPECT_EQ((*got)->severity, Severity::kCritical);
  EXPECT_EQ((*got)->title, "renamed");
  EXPECT_EQ((*got)->last_seen, At(60));
  EXPECT_EQ((*got)->first_seen, kT0);

  Finding ghost = f;
  ghost.id = f.id + 1000;
  auto r =
      pipeline().Transact([&](IngestTx& tx) { return tx.SaveFinding(ghost).map([](int64_t) {}); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "not_found");
}

TEST_P(PipelineSuite, FingerprintIsUniquePerProject) {
  CreateProject(pipeline(), "web");
  CreateProject(pipeline(), "api");
  SaveFinding(pipeline(), MakeFinding("web", "fp-1"));
  EXPECT_GT(SaveFinding(pipeline(), MakeFinding("api", "fp-1")), 0) << "another project";
  auto r = pipeline().Transact(
      [&](IngestTx& tx) { return tx.SaveFinding(MakeFinding("web", "fp-1")).map([](int64_t) {}); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "conflict");
  EXPECT_EQ(r.error().field, "fingerprint");
}

TEST_P(PipelineSuite, RowsOfAnUnknownProjectAreNotFound) {
  auto finding = pipeline().Transact(
      [&](IngestTx& tx) { return tx.SaveFinding(MakeFinding("nope", "fp")).map([](int64_t) {}); });
  ASSERT_FALSE(finding);
  EXPECT_EQ(finding.error().code, "not_found");
  auto event = pipeline().Transact(
      [&](IngestTx& tx) { return tx.InsertEvent(MakeEvent("nope", "k")).map([](int64_t) {}); });
  ASSERT_FALSE(event);
  EXPECT_EQ(event.error().code, "not_found");
  auto delivery = pipeline().Transact([&](IngestTx& tx) {
    return tx.InsertDelivery(MakeDelivery("nope", "c", 0, kT0)).map([](int64_t) {});
  });
  ASSERT_FALSE(delivery);
  EXPECT_EQ(delivery.error().code, "not_found");
  auto root = outbox().PutThreadRoot("nope", "fp", "c", "post");
  ASSERT_FALSE(root);
  EXPECT_EQ(root.error().code, "not_found");
}

TEST_P(PipelineSuite, ListFindingsFiltersAndPagesById) {
  CreateProject(pipeline(), "web");
  CreateProject(pipeline(), "api");
  SaveFinding(pipeline(), MakeFinding("web", "crit-open", Severity::kCritical));
  SaveFinding(pipeline(), MakeFinding("web", "low-open", Severity::kLow));
  SaveFinding(pipeline(), MakeFinding("api", "other-project", Severity::kCritical));
  SaveFinding(pipeline(),
              MakeFinding("web", "high-resolved", Severity::kHigh, FindingStatus::kResolved));
  SaveFinding(pipeline(), MakeFinding("web", "high-open", Severity::kHigh));
  SaveFinding(pipeline(), MakeFinding("web", "info-open", Severity::kInfo));

  EXPECT_THAT(Fingerprints(pipeline().ListFindings({.project = "web"})),
              ElementsAre("crit-open", "low-open", "high-resolved", "high-open", "info-open"));
  EXPECT_THAT(
      Fingerprints(pipeline().ListFindings({.project = "web", .status = FindingStatus::kOpen})),
      ElementsAre("crit-open", "low-open", "high-open", "info-open"));
  EXPECT_THAT(
      Fingerprints(pipeline().ListFindings({.project = "web", .min_severity = Severity::kHigh})),
      ElementsAre("crit-open", "high-resolved", "high-open"));
  EXPECT_THAT(
      Fingerprints(pipeline().ListFindings(
          {.project = "web", .status = FindingStatus::kOpen, .min_severity = Severity::kHigh})),
      ElementsAre("crit-open", "high-open"));
  EXPECT_THAT(Fingerprints(pipeline().ListFindings({.project = "web", .fingerprint = "high-open"})),
              ElementsAre("high-open"));
  EXPECT_THAT(Fingerprints(pipeline().ListFindings({.project = "nope"})), IsEmpty());
  EXPECT_THAT(Fingerprints(pipeline().ListFindings({.project = "web", .limit = 0})), IsEmpty());

  // Paging: after_id = the last id seen.
  std::vector<std::string> paged;
  int64_t after = 0;
  for (int page = 0; page < 10; ++page) {  // bounded: 5 findings need 3 pages + 1 empty
    auto list = pipeline().ListFindings({.project = "web", .limit = 2, .after_id = after});
    ASSERT_TRUE(list);
    if (list->empty()) break;
    EXPECT_LE(list->size(), 2u);
    for (const auto& f : *list) {
      EXPECT_GT(f.id, after);
      paged.push_back(f.fingerprint);
    }
    after = list->back().id;
  }
  EXPECT_THAT(paged,
              ElementsAre("crit-open", "low-open", "high-resolved", "high-open", "info-open"));
}

TEST_P(PipelineSuite, CountOpenFollowsStatusAndSeverityChanges) {
  CreateProject(pipeline(), "web");
  CreateProject(pipeline(), "api");
  auto idx = [](Severity s) { return static_cast<int>(s); };
  EXPECT_EQ(CountOpen(pipeline(), "web"), OpenCounts{});

  Finding a = MakeFinding("web", "a", Severity::kHigh);
  a.id = SaveFinding(pipeline(), a);
  Finding b = MakeFinding("web", "b", Severity::kHigh);
  b.id = SaveFinding(pipeline(), b);
  SaveFinding(pipeline(), MakeFinding("web", "c", Severity::kLow, FindingStatus::kFalsePositive));
  SaveFinding(pipeline(), MakeFinding("api", "d", Severity::kHigh));
  OpenCounts expected{};
  expected[idx(Severity::kHigh)] = 2;
  EXPECT_EQ(CountOpen(pipeline(), "web"), expected);

  a.status = FindingStatus::kResolved;  // no longer open
  SaveFinding(pipeline(), a);
  b.severity = Severity::kCritical;  // open, moves severity
  SaveFinding(pipeline(), b);
  expected = {};
  expected[idx(Severity::kCritical)] = 1;
  EXPECT_EQ(CountOpen(pipeline(), "web"), expected);

  a.status = FindingStatus::kOpen;  // reopened
  a.severity = Severity::kMedium;
  SaveFinding(pipeline(), a);
  b.title = "only the title changes";
  SaveFinding(pipeline(), b);
  expected[idx(Severity::kMedium)] = 1;
  EXPECT_EQ(CountOpen(pipeline(), "web"), expected);
  OpenCounts api{};
  api[idx(Severity::kHigh)] = 1;
  EXPECT_EQ(CountOpen(pipeline(), "api"), api);

  // Inside one transaction the counts include its own uncommitted changes.
  ASSERT_TRUE(pipeline().Transact([&](IngestTx& tx) -> Result<void> {
    if (auto r = tx.SaveFinding(MakeFinding("web", "e", Severity::kInfo)); !r) {
      return Unexpected(r.error());
    }
    auto c = tx.CountOpen("web");
    EXPECT_TRUE(c);
    if (c) {
      EXPECT_EQ((*c)[idx(Severity::kInfo)], 1);
    }
    return {};
  }));
}

// ---- events and transactions ----

TEST_P(PipelineSuite, EventKeysMakeEventsIdempotentPerProject) {
  CreateProject(pipeline(), "web");
  CreateProject(pipeline(), "api");
  int64_t first = 0;
  ASSERT_TRUE(pipeline().Transact([&](IngestTx& tx) -> Result<void> {
    auto none = tx.FindEventByKey("web", "evt-1");
    EXPECT_TRUE(none && !none->has_value());
    auto seq = tx.InsertEvent(MakeEvent("web", "evt-1"));
    if (!seq) return Unexpected(seq.error());
    first = *seq;
    auto seen = tx.FindEventByKey("web", "evt-1");  // visible inside the same transaction
    EXPECT_TRUE(seen && seen->has_value() && **seen == first);
    return {};
  }));
  ASSERT_GT(first, 0);

  int64_t other = 0;
  ASSERT_TRUE(pipeline().Transact([&](IngestTx& tx) -> Result<void> {
    auto seen = tx.FindEventByKey("web", "evt-1");
    EXPECT_TRUE(seen && seen->has_value() && **seen == first);
    auto dup = tx.InsertEvent(MakeEvent("web", "evt-1"));
    EXPECT_FALSE(dup);
    if (!dup) {
      EXPECT_EQ(dup.error().code, "conflict");
      EXPECT_EQ(dup.error().field, "key");
    }
    // The failed insert does not spoil the transaction.
    auto same_key_elsewhere = tx.InsertEvent(MakeEvent("api", "evt-1"));
    if (!same_key_elsewhere) return Unexpected(same_key_elsewhere.error());
    other = *same_key_elsewhere;
    for (int i = 0; i < 3; ++i) {  // events without a key never collide
      if (auto r = tx.InsertEvent(MakeEvent("web", std::nullopt)); !r) {
        return Unexpected(r.error());
      }
    }
    return {};
  }));
  EXPECT_GT(other, first);
  ASSERT_TRUE(pipeline().Transact([&](IngestTx& tx) -> Result<void> {
    auto seen = tx.FindEventByKey("api", "evt-1");
    EXPECT_TRUE(seen && seen->has_value() && **seen == other);
    return {};
  }));
}

TEST_P(PipelineSuite, FailedTransactionLeavesNothingBehind) {
  CreateProject(pipeline(), "web");
  const size_t audit_before = AuditCount(*store_);
  auto r = pipeline().Transact([&](IngestTx& tx) -> Result<void> {
    if (auto f = tx.SaveFinding(MakeFinding("web", "fp-1")); !f) return Unexpected(f.error());
    auto seq = tx.InsertEvent(MakeEvent("web", "evt-1"));
    if (!seq) return Unexpected(seq.error());
    if (auto d = tx.InsertDelivery(MakeDelivery("web", "team/sec", *seq, kT0)); !d) {
      return Unexpected(d.error());
    }
    if (auto a = tx.AppendAudit(Audit("finding.update")); !a) return Unexpected(a.error());
    return Fail("not_found", "the next event names an unknown finding", "", "/events/1");
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(),
            (Error{"not_found", "the next event names an unknown finding", "", "/events/1"}))
      << "the callback's error comes back as is";

  EXPECT_THAT(Fingerprints(pipeline().ListFindings({.project = "web"})), IsEmpty());
  EXPECT_EQ(CountOpen(pipeline(), "web"), OpenCounts{});
  EXPECT_THAT(QueueIds(outbox(), "team/sec"), IsEmpty());
  EXPECT_EQ(AuditCount(*store_), audit_before);
  ASSERT_TRUE(pipeline().Transact([&](IngestTx& tx) -> Result<void> {
    auto key = tx.FindEventByKey("web", "evt-1");
    EXPECT_TRUE(key && !key->has_value());
    return {};
  }));
}

TEST_P(PipelineSuite, ThrowingTransactionRollsBackAndReportsInternal) {
  CreateProject(pipeline(), "web");
  auto r = pipeline().Transact([&](IngestTx& tx) -> Result<void> {
    (void)tx.SaveFinding(MakeFinding("web", "fp-1"));
    throw std::runtime_error("bug in a use case");
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "internal");
  EXPECT_THAT(r.error().message, ::testing::HasSubstr("bug in a use case"));
  EXPECT_THAT(Fingerprints(pipeline().ListFindings({.project = "web"})), IsEmpty());
  EXPECT_TRUE(pipeline().Transact([](IngestTx&) -> Result<void> { return {}; }))
      << "the store is usable afterwards";
}

TEST_P(PipelineSuite, ConcurrentTransactionsAllLand) {
  CreateProject(pipeline(), "web");
  constexpr int kThreads = 2;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::vector<int64_t>> seqs(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto r = pipeline().Transact([&](IngestTx& tx) -> Result<void> {
          auto seq = tx.InsertEvent(MakeEvent("web", key));
          if (!seq) return Unexpected(seq.error());
          seqs[t].push_back(*seq);
          return tx.InsertDelivery(MakeDelivery("web", "team/sec", *seq, kT0)).map([](int64_t) {});
        });
        if (!r) ++failures[t];
        // Readers run alongside the writers.
        if (!pipeline().GetProject("web")) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
  std::set<int64_t> all;
  for (const auto& s : seqs) all.insert(s.begin(), s.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  auto counts = outbox().CountByState();
  ASSERT_TRUE(counts);
  EXPECT_EQ((*counts)[static_cast<int>(DeliveryState::kPending)], kThreads * kPerThread);
}

TEST_P(PipelineSuite, InstallationIdIsMadeOnceAndKept) {
  auto id = pipeline().InstallationId();
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(id->size(), 26u);
  EXPECT_EQ(*pipeline().InstallationId(), *id);
  Reopen();
  EXPECT_EQ(*pipeline().InstallationId(), *id);
}

// ---- the outbox: queues and claims ----

TEST_P(PipelineSuite, DeliveryRoundTripsEveryFieldWithItsEventBody) {
  CreateProject(pipeline(), "web");
  int64_t seq = 0, id = 0, test_id = 0;
  ASSERT_TRUE(pipeline().Transact([&](IngestTx& tx) -> Result<void> {
    auto s = tx.InsertEvent(MakeEvent("web", "k", R"({"finding":{"title":"x"}})"));
    if (!s) return Unexpected(s.error());
    seq = *s;
    NewDelivery d = MakeDelivery("web", "team/sec", seq, At(5));
    d.event_type = EventType::kStatusChanged;
    d.thread_key = "fp-1";
    d.severity = Severity::kCritical;
    d.digest_threshold = 25;
    d.baseline_full = true;
    auto di = tx.InsertDelivery(d);
    if (!di) return Unexpected(di.error());
    id = *di;
    NewDelivery test = MakeDelivery("web", "team/sec", 0, At(6));
    test.kind = "test";
    auto ti = tx.InsertDelivery(test);
    if (!ti) return Unexpected(ti.error());
    test_id = *ti;
    return {};
  }));
  const DeliveryRecord d = Delivery(outbox(), id);
  EXPECT_EQ(d.id, id);
  EXPECT_EQ(d.project, "web");
  EXPECT_EQ(d.channel, "team/sec");
  EXPECT_EQ(d.kind, "event");
  EXPECT_EQ(d.event_seq, seq);
  EXPECT_EQ(d.event_type, EventType::kStatusChanged);
  EXPECT_EQ(d.thread_key, "fp-1");
  EXPECT_EQ(d.severity, Severity::kCritical);
  EXPECT_EQ(d.digest_threshold, 25);
  EXPECT_TRUE(d.baseline_full);
  EXPECT_EQ(d.state, DeliveryState::kPending);
  EXPECT_EQ(d.attempts, 0);
  EXPECT_EQ(d.created_at, At(5));
  EXPECT_EQ(d.updated_at, At(5));
  EXPECT_EQ(d.next_attempt_at, At(5)) << "due when created";
  EXPECT_EQ(d.expires_at, At(5) + std::chrono::hours(24));
  EXPECT_EQ(d.last_error, "");
  EXPECT_EQ(d.last_error_code, "");
  EXPECT_EQ(d.post_id, "");
  EXPECT_EQ(d.channel_id, "");
  EXPECT_EQ(d.digest_id, 0);
  EXPECT_FALSE(d.in_doubt_since.has_value());
  EXPECT_EQ(d.event_body_json, R"({"finding":{"title":"x"}})");

  const DeliveryRecord t = Delivery(outbox(), test_id);
  EXPECT_EQ(t.kind, "test");
  EXPECT_EQ(t.event_seq, 0);
  EXPECT_FALSE(t.severity.has_value());
  EXPECT_EQ(t.event_body_json, "");
  auto missing = outbox().GetDelivery(id + 1000);
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
}

TEST_P(PipelineSuite, ChannelQueueIsTheUndeliveredOldestFirst) {
  CreateProject(pipeline(), "web");
  CreateProject(pipeline(), "api");
  const int64_t a1 = Enqueue(pipeline(), "web", "team/a", At(0), R"({"n":1})");
  const int64_t b1 = Enqueue(pipeline(), "web", "team/b", At(0));
  const int64_t a2 = Enqueue(pipeline(), "api", "team/a", At(1), R"({"n":2})");  // other project
  const int64_t a3 = Enqueue(pipeline(), "web", "team/a", At(2), R"({"n":3})");
  EXPECT_THAT(QueueIds(outbox(), "team/a"), ElementsAre(a1, a2, a3));
  EXPECT_THAT(QueueIds(outbox(), "team/b"), ElementsAre(b1));
  auto queue = outbox().ChannelQueue("team/a", 2);
  ASSERT_TRUE(queue);
  ASSERT_EQ(queue->size(), 2u);
  EXPECT_EQ((*queue)[0].event_body_json, R"({"n":1})");
  EXPECT_EQ((*queue)[1].event_body_json, R"({"n":2})");
  EXPECT_TRUE(outbox().ChannelQueue("team/a", 0)->empty());

  ASSERT_TRUE(outbox().MarkInDoubt({a1}, At(3)));
  EXPECT_THAT(QueueIds(outbox(), "team/a"), ElementsAre(a1, a2, a3)) << "sending is undelivered";
  ASSERT_TRUE(outbox().MarkSent({a1}, "p1", "c1", At(4)));
  ASSERT_TRUE(outbox().MarkFinal(a2, DeliveryState::kFailed, "channel_not_found", "404", At(4)));
  EXPECT_THAT(QueueIds(outbox(), "team/a"), ElementsAre(a3));
  EXPECT_THAT(QueueIds(outbox(), "team/none"), IsEmpty());
}

TEST_P(PipelineSuite, AChannelIsClaimedOnlyWhenItsHeadIsDue) {
  CreateProject(pipeline(), "web");
  EXPECT_THAT(Claim(outbox(), "w1", At(0)), IsEmpty()) << "nothing queued";
  const int64_t first = Enqueue(pipeline(), "web", "team/a", At(10));
  const int64_t second = Enqueue(pipeline(), "web", "team/a", At(11));
  EXPECT_THAT(Claim(outbox(), "w1", At(9)), IsEmpty()) << "not due before it was created";
  EXPECT_THAT(Claim(outbox(), "w1", At(10)), ElementsAre("team/a"));

  // The head backs off; the second delivery is due but must wait behind it.
  ASSERT_TRUE(
      outbox().Reschedule(first, At(100), true, "server_error", "HTTP 502", At(12), std::nullopt));
  EXPECT_THAT(Claim(outbox(), "w1", At(50)), IsEmpty());
  EXPECT_THAT(Claim(outbox(), "w2", At(99)), IsEmpty());
  EXPECT_THAT(Claim(outbox(), "w1", At(100)), ElementsAre("team/a"));
  EXPECT_THAT(QueueIds(outbox(), "team/a"), ElementsAre(first, second));

  // While the head is being sent (in doubt), nobody gets the channel, not even its owner again.
  ASSERT_TRUE(outbox().MarkInDoubt({first}, At(101)));
  EXPECT_THAT(Claim(outbox(), "w1", At(102)), IsEmpty());
  ASSERT_TRUE(outbox().MarkSent({first}, "post-1", "chan-1", At(103)));
  EXPECT_THAT(Claim(outbox(), "w1", At(104)), ElementsAre("team/a"));
  EXPECT_THAT(QueueIds(outbox(), "team/a"), ElementsAre(second));
}

TEST_P(PipelineSuite, ALeasedChannelWaitsForItsLeaseToExpire) {
  CreateProject(pipeline(), "web");
  Enqueue(pipeline(), "web", "team/a", At(0));
  EXPECT_THAT(Claim(outbox(), "w1", At(0)), ElementsAre("team/a"));  // lease until At(30)
  EXPECT_THAT(Claim(outbox(), "w2", At(10)), IsEmpty());
  EXPECT_THAT(Claim(outbox(), "w1", At(20)), ElementsAre("team/a")) << "refreshed to At(50)";
  EXPECT_THAT(Claim(outbox(), "w2", At(40)), IsEmpty());
  ASSERT_TRUE(outbox().RenewLease("team/a", "w1", At(45), kLease));  // until At(75)
  EXPECT_THAT(Claim(outbox(), "w2", At(74)), IsEmpty());

  // w1 stops renewing: at expiry w2 takes over, and w1 learns it lost the channel.
  EXPECT_THAT(Claim(outbox(), "w2", At(75)), ElementsAre("team/a"));
  auto lost = outbox().RenewLease("team/a", "w1", At(76), kLease);
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, "conflict");
  EXPECT_THAT(Claim(outbox(), "w1", At(76)), IsEmpty());
  ASSERT_TRUE(outbox().ReleaseChannel("team/a", "w1")) << "releasing what one lost is harmless";
  EXPECT_THAT(Claim(outbox(), "w1", At(77)), IsEmpty());

  ASSERT_TRUE(outbox().ReleaseChannel("team/a", "w2"));
  EXPECT_THAT(Claim(outbox(), "w1", At(78)), ElementsAre("team/a")) << "released: free at once";
  auto never_held = outbox().RenewLease("team/b", "w1", At(78), kLease);
  ASSERT_FALSE(never_held);
  EXPECT_EQ(never_held.error().code, "conflict");
}

TEST_P(PipelineSuite, AnExpiredLeaseCanBeRenewedByItsOwnerUntilTakenOver) {
  CreateProject(pipeline(), "web");
  Enqueue(pipeline(), "web", "team/a", At(0));
  EXPECT_THAT(Claim(outbox(), "w1", At(0)), ElementsAre("team/a"));
  EXPECT_TRUE(outbox().RenewLease("team/a", "w1", At(100), kLease)) << "lapsed, nobody took it";
  EXPECT_THAT(Claim(outbox(), "w2", At(120)), IsEmpty());
}

TEST_P(PipelineSuite, ClaimsTakeUpToMaxMostOverdueFirst) {
  CreateProject(pipeline(), "web");
  Enqueue(pipeline(), "web", "team/c", At(3));
  Enqueue(pipeline(), "web", "team/a", At(2));
  Enqueue(pipeline(), "web", "team/b", At(1));
  Enqueue(pipeline(), "web", "team/d", At(500));  // not due
  EXPECT_THAT(Claim(outbox(), "w1", At(10), 2), ElementsAre("team/b", "team/a"));
  EXPECT_THAT(Claim(outbox(), "w2", At(10), 5), ElementsAre("team/c"));
  EXPECT_THAT(Claim(outbox(), "w3", At(10), 0), IsEmpty());
}

TEST_P(PipelineSuite, AHeadLeftInDoubtIsReclaimedOnceItsLeaseLapses) {
  CreateProject(pipeline(), "web");
  const int64_t first = Enqueue(pipeline(), "web", "team/a", At(0));
  Enqueue(pipeline(), "web", "team/a", At(1));
  EXPECT_THAT(Claim(outbox(), "w1", At(0)), ElementsAre("team/a"));  // lease until At(30)
  ASSERT_TRUE(outbox().MarkInDoubt({first}, At(2)));
  // w1 dies here, mid-request.
  EXPECT_THAT(Claim(outbox(), "w2", At(29)), IsEmpty());
  auto next = outbox().NextDue();
  ASSERT_TRUE(next && next->has_value());
  EXPECT_EQ(**next, At(30)) << "an in-doubt head is ready when its lease ends";
  EXPECT_THAT(Claim(outbox(), "w2", At(30)), ElementsAre("team/a"));
  const DeliveryRecord head = Delivery(outbox(), first);
  EXPECT_EQ(head.state, DeliveryState::kSending);
  EXPECT_EQ(head.in_doubt_since, At(2)) << "the claimer reconciles before sending again";
  EXPECT_EQ(QueueIds(outbox(), "team/a").front(), first);
}

TEST_P(PipelineSuite, OutcomesOnDeliveredRowsAreRefused) {
  CreateProject(pipeline(), "web");
  const int64_t a = Enqueue(pipeline(), "web", "team/a", At(0));
  const int64_t b = Enqueue(pipeline(), "web", "team/a", At(0));
  ASSERT_TRUE(outbox().MarkSent({a}, "p", "c", At(1)));
  auto again = outbox().MarkSent({b, a}, "p2", "c", At(2));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "conflict");
  EXPECT_EQ(Delivery(outbox(), b).state, DeliveryState::kPending) << "all or nothing";
  EXPECT_EQ(Delivery(outbox(), a).post_id, "p");
  for (auto r :
       {outbox().MarkInDoubt({a}, At(2)),
        outbox().Reschedule(a, At(9), true, "x", "y", At(2), std::nullopt),
        outbox().MarkFinal(a, DeliveryState::kDead, "x", "y", At(2))}) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "conflict");
  }
  auto unknown = outbox().Reschedule(a + 1000, At(9), true, "x", "y", At(2), std::nullopt);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "not_found");
  auto empty = outbox().MarkSent({}, "p", "c", At(2));
  EXPECT_FALSE(empty);
}

// ---- the outbox: outcomes ----

TEST_P(PipelineSuite, MarkInDoubtIsCommittedBeforeTheSend) {
  CreateProject(pipeline(), "web");
  const int64_t a = Enqueue(pipeline(), "web", "team/a", At(0));
  const int64_t b = Enqueue(pipeline(), "web", "team/a", At(0));
  ASSERT_TRUE(outbox().MarkInDoubt({a, b}, At(5)));
  for (int64_t id : {a, b}) {
    const DeliveryRecord d = Delivery(outbox(), id);
    EXPECT_EQ(d.state, DeliveryState::kSending);
    EXPECT_EQ(d.in_doubt_since, At(5));
    EXPECT_EQ(d.updated_at, At(5));
    EXPECT_EQ(d.attempts, 0);
  }
}

TEST_P(PipelineSuite, MarkSentRecordsThePostAndTheDigest) {
  CreateProject(pipeline(), "web");
  const int64_t single = Enqueue(pipeline(), "web", "team/a", At(0));
  const int64_t h = Enqueue(pipeline(), "web", "team/a", At(0));
  const int64_t m1 = Enqueue(pipeline(), "web", "team/a", At(0));
  const int64_t m2 = Enqueue(pipeline(), "web", "team/a", At(0));
  ASSERT_TRUE(outbox().MarkInDoubt({single}, At(1)));
  ASSERT_TRUE(outbox().MarkSent({single}, "post-1", "chan-1", At(2)));
  const DeliveryRecord s = Delivery(outbox(), single);
  EXPECT_EQ(s.state, DeliveryState::kSent);
  EXPECT_EQ(s.post_id, "post-1");
  EXPECT_EQ(s.channel_id, "chan-1");
  EXPECT_EQ(s.digest_id, 0) << "not a digest";
  EXPECT_EQ(s.attempts, 1);
  EXPECT_FALSE(s.in_doubt_since.has_value());
  EXPECT_EQ(s.updated_at, At(2));

  ASSERT_TRUE(outbox().MarkSent({h, m1, m2}, "digest-post", "chan-1", At(3)));
  for (int64_t id : {h, m1, m2}) {
    const DeliveryRecord d = Delivery(outbox(), id);
    EXPECT_EQ(d.state, DeliveryState::kSent);
    EXPECT_EQ(d.digest_id, h);
    EXPECT_EQ(d.post_id, "digest-post");
  }
  auto attempts = outbox().ListAttempts(m2);
  ASSERT_TRUE(attempts);
  ASSERT_EQ(attempts->size(), 1u);
  EXPECT_EQ((*attempts)[0].code, "sent");
  EXPECT_EQ((*attempts)[0].at, At(3));
  EXPECT_THAT(QueueIds(outbox(), "team/a"), IsEmpty());
}

TEST_P(PipelineSuite, RescheduleCountsAnAttemptOnlyWhenAsked) {
  CreateProject(pipeline(), "web");
  const int64_t id = Enqueue(pipeline(), "web", "team/a", At(0));
  ASSERT_TRUE(outbox().MarkInDoubt({id}, At(1)));
  ASSERT_TRUE(outbox().Reschedule(id, At(3), true, "server_error", "HTTP 502", At(2), std::nullopt));
  DeliveryRecord d = Delivery(outbox(), id);
  EXPECT_EQ(d.state, DeliveryState::kPending);
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.next_attempt_at, At(3));
  EXPECT_EQ(d.last_error_code, "server_error");
  EXPECT_EQ(d.last_error, "HTTP 502");
  EXPECT_FALSE(d.in_doubt_since.has_value());
  EXPECT_EQ(d.updated_at, At(2));

  ASSERT_TRUE(outbox().Reschedule(id, At(60), false, "rate_limited", "HTTP 429", At(4), std::nullopt));
  d = Delivery(outbox(), id);
  EXPECT_EQ(d.attempts, 1) << "a 429 is not a failure";
  EXPECT_EQ(d.next_attempt_at, At(60));
  EXPECT_EQ(d.last_error_code, "rate_limited");

  auto attempts = outbox().ListAttempts(id);
  ASSERT_TRUE(attempts);
  ASSERT_EQ(attempts->size(), 2u) << "every outcome is in the history";
  EXPECT_EQ((*attempts)[0].code, "server_error");
  EXPECT_EQ((*attempts)[0].error, "HTTP 502");
  EXPECT_EQ((*attempts)[0].at, At(2));
  EXPECT_EQ((*attempts)[1].code, "rate_limited");
  EXPECT_EQ((*attempts)[1].delivery_id, id);
}

TEST_P(PipelineSuite, RescheduleCanKeepTheInDoubtMarkInTheSameWrite) {
  CreateProject(pipeline(), "web");
  const int64_t id = Enqueue(pipeline(), "web", "team/a", At(0));
  ASSERT_TRUE(outbox().MarkInDoubt({id}, At(1)));
  ASSERT_TRUE(outbox().Reschedule(id, At(30), true, "timeout", "no answer", At(2), At(2)));
  const DeliveryRecord d = Delivery(outbox(), id);
  EXPECT_EQ(d.state, DeliveryState::kSending) << "still in doubt: the next try looks first";
  ASSERT_TRUE(d.in_doubt_since.has_value());
  EXPECT_EQ(*d.in_doubt_since, At(1)) << "the first mark, for the look-up's window";
  EXPECT_EQ(d.next_attempt_at, At(30));
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.last_error_code, "timeout");
}

TEST_P(PipelineSuite, RescheduleMarksAnUnmarkedDeliveryInDoubtAndClearsAMarkWhenTold) {
  // A single post is not marked before it goes (docs/decisions/0004): a lost answer marks it
  // with its reschedule.
  CreateProject(pipeline(), "web");
  const int64_t id = Enqueue(pipeline(), "web", "team/a", At(0));
  ASSERT_TRUE(outbox().Reschedule(id, At(30), true, "timeout", "no answer", At(5), At(4)));
  DeliveryRecord d = Delivery(outbox(), id);
  EXPECT_EQ(d.state, DeliveryState::kSending);
  EXPECT_EQ(d.in_doubt_since, At(4));
  EXPECT_EQ(d.next_attempt_at, At(30));
  ASSERT_TRUE(outbox().Reschedule(id, At(60), true, "server_error", "HTTP 503", At(31),
                                  std::nullopt));
  d = Delivery(outbox(), id);
  EXPECT_EQ(d.state, DeliveryState::kPending);
  EXPECT_FALSE(d.in_doubt_since.has_value());
  EXPECT_EQ(d.attempts, 2);
}

// The lease as the in-doubt marker of a single post (docs/decisions/0004): a claim says when it
// found a lease row standing, and since when that row stood.
std::vector<ClaimedChannel> ClaimAll(Outbox& o, const std::string& owner, TimePoint now) {
  auto r = o.ClaimChannels(owner, now, kLease, 10);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : std::vector<ClaimedChannel>{};
}

TEST_P(PipelineSuite, AClaimSaysWhenItFoundALeaseLeftStanding) {
  CreateProject(pipeline(), "web");
  Enqueue(pipeline(), "web", "team/a", At(0));
  EXPECT_THAT(ClaimAll(outbox(), "w1", At(1)),
              ElementsAre(ClaimedChannel{"team/a", std::nullopt}))
      << "nobody held it";
  ASSERT_TRUE(outbox().ReleaseChannel("team/a", "w1"));
  EXPECT_THAT(ClaimAll(outbox(), "w1", At(2)),
              ElementsAre(ClaimedChannel{"team/a", std::nullopt}))
      << "released cleanly";

  // Not released: the same owner after a restart finds its own row, from when it was taken.
  EXPECT_THAT(ClaimAll(outbox(), "w1", At(10)), ElementsAre(ClaimedChannel{"team/a", At(2)}));
  // Another owner, once it lapsed: the row's start is kept across the take-over, since the
  // first holder's unrecorded post is no older than that.
  EXPECT_THAT(ClaimAll(outbox(), "w2", At(10) + kLease),
              ElementsAre(ClaimedChannel{"team/a", At(2)}));
  ASSERT_TRUE(outbox().ReleaseChannel("team/a", "w2"));
  EXPECT_THAT(ClaimAll(outbox(), "w2", At(100)),
              ElementsAre(ClaimedChannel{"team/a", std::nullopt}));
}

TEST_P(PipelineSuite, ARecordThatReleasesLeavesNoLeaseStanding) {
  CreateProject(pipeline(), "web");
  const int64_t id = Enqueue(pipeline(), "web", "team/a", At(0));
  ASSERT_THAT(ClaimAll(outbox(), "w1", At(1)), ElementsAre(ClaimedChannel{"team/a", std::nullopt}));
  auto released = outbox().RecordSent(Releasing({id}, "post-1", At(2), "w1"));
  ASSERT_TRUE(released);
  EXPECT_TRUE(*released);
  Enqueue(pipeline(), "web", "team/a", At(3));
  EXPECT_THAT(ClaimAll(outbox(), "w1", At(4)), ElementsAre(ClaimedChannel{"team/a", std::nullopt}));
}

TEST_P(PipelineSuite, MarkFinalTakesADeliveryOutOfItsQueue) {
  CreateProject(pipeline(), "web");
  const int64_t failed = Enqueue(pipeline(), "web", "team/a", At(0));
  const int64_t dead = Enqueue(pipeline(), "web", "team/a", At(0));
  const int64_t next = Enqueue(pipeline(), "web", "team/a", At(0));
  ASSERT_TRUE(outbox().MarkFinal(failed, DeliveryState::kFailed, "channel_not_found",
                                 "HTTP 404: no such channel", At(1)));
  ASSERT_TRUE(
      outbox().MarkFinal(dead, DeliveryState::kDead, "expired", "gave up after 24h", At(2)));
  DeliveryRecord f = Delivery(outbox(), failed);
  EXPECT_EQ(f.state, DeliveryState::kFailed);
  EXPECT_EQ(f.attempts, 1);
  EXPECT_EQ(f.last_error_code, "channel_not_found");
  EXPECT_EQ(f.last_error, "HTTP 404: no such channel");
  EXPECT_EQ(Delivery(outbox(), dead).state, DeliveryState::kDead);
  EXPECT_THAT(QueueIds(outbox(), "team/a"), ElementsAre(next));
  EXPECT_THAT(Claim(outbox(), "w1", At(3)), ElementsAre("team/a"));

  auto wrong = outbox().MarkFinal(next, DeliveryState::kSent, "x", "y", At(3));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, "invalid_request");
  EXPECT_EQ(Delivery(outbox(), next).state, DeliveryState::kPending);
  auto unknown = outbox().MarkFinal(next + 1000, DeliveryState::kDead, "x", "y", At(3));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "not_found");
}

TEST_P(PipelineSuite, RetryRevivesOnlyFailedOrDeadDeliveries) {
  CreateProject(pipeline(), "web");
  const int64_t pending = Enqueue(pipeline(), "web", "team/a", At(0));
  const int64_t sent = Enqueue(pipeline(), "web", "team/b", At(0));
  const int64_t failed = Enqueue(pipeline(), "web", "team/c", At(0));
  const int64_t dead = Enqueue(pipeline(), "web", "team/d", At(0));
  ASSERT_TRUE(outbox().MarkSent({sent}, "p", "c", At(1)));
  ASSERT_TRUE(outbox().Reschedule(failed, At(2), true, "e", "e", At(1), std::nullopt));
  ASSERT_TRUE(outbox().MarkFinal(failed, DeliveryState::kFailed, "forbidden", "403", At(2)));
  ASSERT_TRUE(outbox().MarkFinal(dead, DeliveryState::kDead, "expired", "ttl", At(2)));
  const size_t audit_before = AuditCount(*store_);

  for (int64_t id : {pending, sent, dead + 1000}) {
    auto r = outbox().Retry(id, At(100), At(200), Audit("delivery.retry"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(*r) << id;
  }
  EXPECT_EQ(AuditCount(*store_), audit_before) << "no audit for a retry that did not happen";
  EXPECT_EQ(Delivery(outbox(), sent).state, DeliveryState::kSent);

  for (int64_t id : {failed, dead}) {
    auto r = outbox().Retry(id, At(100), At(200), Audit("delivery.retry"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(*r);
    const DeliveryRecord d = Delivery(outbox(), id);
    EXPECT_EQ(d.state, DeliveryState::kPending);
    EXPECT_EQ(d.attempts, 0);
    EXPECT_EQ(d.next_attempt_at, At(100));
    EXPECT_EQ(d.expires_at, At(200));
    EXPECT_EQ(d.updated_at, At(100));
  }
  EXPECT_EQ(AuditCount(*store_), audit_before + 2);
  EXPECT_THAT(Claim(outbox(), "w1", At(100)), ElementsAre("team/a", "team/c", "team/d"));
  auto again = outbox().Retry(failed, At(101), At(201), Audit("delivery.retry"));
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again) << "pending again: not retryable";
}

TEST_P(PipelineSuite, NextDueIsTheEarliestQueueHead) {
  CreateProject(pipeline(), "web");
  auto none = outbox().NextDue();
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());

  const int64_t head = Enqueue(pipeline(), "web", "team/a", At(0));
  Enqueue(pipeline(), "web", "team/a", At(1));  // due, but behind the head
  ASSERT_TRUE(outbox().Reschedule(head, At(60), true, "server_error", "502", At(2), std::nullopt));
  auto next = outbox().NextDue();
  ASSERT_TRUE(next && next->has_value());
  EXPECT_EQ(**next, At(60)) << "a tail behind a backed-off head is not due";

  Enqueue(pipeline(), "web", "team/b", At(30));
  next = outbox().NextDue();
  ASSERT_TRUE(next && next->has_value());
  EXPECT_EQ(**next, At(30));
}

TEST_P(PipelineSuite, ThreadRootsArePerProjectFindingAndChannel) {
  CreateProject(pipeline(), "web");
  CreateProject(pipeline(), "api");
  auto none = outbox().GetThreadRoot("web", "fp-1", "team/a");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(outbox().PutThreadRoot("web", "fp-1", "team/a", "root-a"));
  ASSERT_TRUE(outbox().PutThreadRoot("web", "fp-1", "team/b", "root-b"));
  ASSERT_TRUE(outbox().PutThreadRoot("api", "fp-1", "team/a", "root-api"));
  EXPECT_EQ(**outbox().GetThreadRoot("web", "fp-1", "team/a"), "root-a");
  EXPECT_EQ(**outbox().GetThreadRoot("web", "fp-1", "team/b"), "root-b");
  EXPECT_EQ(**outbox().GetThreadRoot("api", "fp-1", "team/a"), "root-api");
  EXPECT_FALSE(outbox().GetThreadRoot("web", "fp-2", "team/a")->has_value());
  ASSERT_TRUE(outbox().PutThreadRoot("web", "fp-1", "team/a", "root-a2"));
  EXPECT_EQ(**outbox().GetThreadRoot("web", "fp-1", "team/a"), "root-a2");
}

// ---- the delivery log ----

TEST_P(PipelineSuite, ListDeliveriesFiltersAndPagesNewestFirst) {
  CreateProject(pipeline(), "web");
  CreateProject(pipeline(), "api");
  std::vector<int64_t> web, api;
  for (int i = 0; i < 5; ++i) {
    web.push_back(Enqueue(pipeline(), "web", "team/w" + std::to_string(i), At(i)));
    api.push_back(Enqueue(pipeline(), "api", "team/a" + std::to_string(i), At(i)));
  }
  ASSERT_TRUE(outbox().MarkFinal(web[1], DeliveryState::kFailed, "x", "y", At(9)));
  ASSERT_TRUE(outbox().MarkFinal(web[3], DeliveryState::kFailed, "x", "y", At(9)));
  ASSERT_TRUE(outbox().MarkFinal(api[2], DeliveryState::kFailed, "x", "y", At(9)));
  ASSERT_TRUE(outbox().MarkSent({api[4]}, "p", "c", At(9)));

  EXPECT_THAT(Ids(outbox().ListDeliveries({.limit = 3})), ElementsAre(api[4], web[4], api[3]));
  EXPECT_THAT(Ids(outbox().ListDeliveries({.project = "web"})),
              ElementsAre(web[4], web[3], web[2], web[1], web[0]));
  EXPECT_THAT(Ids(outbox().ListDeliveries({.state = DeliveryState::kFailed})),
              ElementsAre(web[3], api[2], web[1]));
  EXPECT_THAT(Ids(outbox().ListDeliveries({.state = DeliveryState::kFailed, .project = "web"})),
              ElementsAre(web[3], web[1]));
  EXPECT_THAT(Ids(outbox().ListDeliveries({.state = DeliveryState::kSent})), ElementsAre(api[4]));
  EXPECT_THAT(Ids(outbox().ListDeliveries({.limit = 0})), IsEmpty());
  auto with_body = outbox().ListDeliveries({.limit = 1});
  ASSERT_TRUE(with_body && with_body->size() == 1);
  EXPECT_EQ((*with_body)[0].event_body_json, R"({"n":0})");

  // Paging: before_id = the last id seen.
  std::vector<int64_t> paged;
  int64_t before = 0;
  for (int page = 0; page < 10; ++page) {  // bounded: 5 need 2 pages + 1 empty
    auto list = outbox().ListDeliveries({.project = "web", .limit = 3, .before_id = before});
    ASSERT_TRUE(list);
    if (list->empty()) break;
    for (const auto& d : *list) {
      if (before > 0) {
        EXPECT_LT(d.id, before);
      }
      paged.push_back(d.id);
    }
    before = list->back().id;
  }
  EXPECT_THAT(paged, ElementsAre(web[4], web[3], web[2], web[1], web[0]));
}

TEST_P(PipelineSuite, RecordSentWritesTheRootAndReleasesAnEmptyChannelAtOnce) {
  CreateProject(pipeline(), "web");
  const int64_t first = Enqueue(pipeline(), "web", "team/a", At(0));
  const int64_t second = Enqueue(pipeline(), "web", "team/a", At(0));
  EXPECT_THAT(Claim(outbox(), "w1", At(1)), ElementsAre("team/a"));
  ASSERT_TRUE(outbox().MarkInDoubt({first}, At(1)));

  SentPost sent = Releasing({first}, "post-1", At(2), "w1");
  sent.root_thread_key = "fp-1";
  auto kept = outbox().RecordSent(sent);
  ASSERT_TRUE(kept) << kept.error().message;
  EXPECT_FALSE(*kept) << "the second delivery is still queued: the lease stays";
  EXPECT_EQ(Delivery(outbox(), first).state, DeliveryState::kSent);
  EXPECT_EQ(Delivery(outbox(), first).post_id, "post-1");
  auto root = outbox().GetThreadRoot("web", "fp-1", "chan-1");
  ASSERT_TRUE(root && root->has_value());
  EXPECT_EQ(**root, "post-1");
  EXPECT_THAT(Claim(outbox(), "w2", At(3)), IsEmpty()) << "still w1's";

  sent.ids = {second};
  sent.post_id = "post-2";
  sent.root_thread_key.reset();
  sent.now = At(4);
  auto released = outbox().RecordSent(sent);
  ASSERT_TRUE(released);
  EXPECT_TRUE(*released) << "nothing left: released with the record";
  EXPECT_EQ(**outbox().GetThreadRoot("web", "fp-1", "chan-1"), "post-1") << "no root asked";
  Enqueue(pipeline(), "web", "team/a", At(5));
  EXPECT_THAT(Claim(outbox(), "w2", At(5)), ElementsAre("team/a")) << "free for anyone";

  auto again = outbox().RecordSent(sent);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "conflict") << "recorded before";
  auto none = outbox().RecordSent(SentPost{});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, "invalid_request");
}

TEST_P(PipelineSuite, ADigestsRepliesAreOwedAsADeliveryRecordedWithItsRoot) {
  CreateProject(pipeline(), "web");
  const int64_t a = Enqueue(pipeline(), "web", "team/a", At(0));
  const int64_t b = Enqueue(pipeline(), "web", "team/a", At(0));
  const int64_t c = Enqueue(pipeline(), "web", "team/a", At(0));
  const int64_t other = Enqueue(pipeline(), "web", "team/b", At(0));
  EXPECT_THAT(Claim(outbox(), "w1", At(1)), ElementsAre("team/a", "team/b"));
  const DeliveryRecord head = Delivery(outbox(), a);

  SentPost sent = Releasing({a, b}, "root-1", At(2), "w1");
  sent.replies = RepliesOwed{"team/a", head.event_seq, 4000, At(100)};
  auto kept = outbox().RecordSent(sent);
  ASSERT_TRUE(kept) << kept.error().message;
  EXPECT_FALSE(*kept) << "c and the replies are still queued";
  auto owed = outbox().FindReplies(a);
  ASSERT_TRUE(owed && owed->has_value());
  const DeliveryRecord replies = **owed;
  EXPECT_GT(replies.id, c) << "at the end of the channel's queue";
  EXPECT_EQ(replies.kind, "replies");
  EXPECT_EQ(replies.channel, "team/a");
  EXPECT_EQ(replies.project, "web");
  EXPECT_EQ(replies.digest_id, a);
  EXPECT_EQ(replies.event_seq, head.event_seq);
  EXPECT_EQ(replies.state, DeliveryState::kPending);
  EXPECT_EQ(replies.next_attempt_at, At(2));
  EXPECT_EQ(replies.expires_at, At(100));
  EXPECT_EQ(replies.replies_posted, 0);
  EXPECT_EQ(replies.replies_runes, 4000);
  auto queue = outbox().ChannelQueue("team/a", 10);
  ASSERT_TRUE(queue);
  ASSERT_EQ(queue->size(), 2u);
  EXPECT_EQ((*queue)[0].id, c);
  EXPECT_EQ((*queue)[1].id, replies.id);

  // What the replies list: the digest's own deliveries' events, not the replies' nor others'.
  auto events = outbox().DigestEvents(a);
  ASSERT_TRUE(events);
  EXPECT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0], Delivery(outbox(), a).event_body_json);
  EXPECT_EQ((*events)[1], Delivery(outbox(), b).event_body_json);
  EXPECT_THAT(*outbox().DigestEvents(other), IsEmpty());

  ASSERT_TRUE(outbox().SaveRepliesProgress(replies.id, 3, 2000, At(3)));
  EXPECT_EQ(Delivery(outbox(), replies.id).replies_posted, 3);
  EXPECT_EQ(Delivery(outbox(), replies.id).replies_runes, 2000);

  // Sent as a single post, it keeps naming its digest; nothing is owed any more.
  ASSERT_TRUE(outbox().MarkSent({replies.id}, "reply-9", "chan-1", At(4)));
  EXPECT_EQ(Delivery(outbox(), replies.id).digest_id, a);
  EXPECT_FALSE(*outbox().FindReplies(a));
  auto late = outbox().SaveRepliesProgress(replies.id, 4, 2000, At(5));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, "conflict");
}

TEST_P(PipelineSuite, ADigestBecomesTheThreadRootOfTheFindingsItListsThatHaveNone) {
  CreateProject(pipeline(), "web");
  CreateProject(pipeline(), "api");
  const int64_t a = Enqueue(pipeline(), "web", "team/a", At(0));
  const int64_t b = Enqueue(pipeline(), "api", "team/a", At(0));
  ASSERT_TRUE(outbox().PutThreadRoot("web", "fp-old", "chan-1", "first-post"));
  SentPost sent;
  sent.ids = {a, b};
  sent.post_id = "digest-post";
  sent.channel_id = "chan-1";
  sent.now = At(1);
  sent.listed = {{"web", "fp-new"}, {"api", "fp-new"}, {"web", "fp-old"}};
  ASSERT_TRUE(outbox().RecordSent(sent));
  EXPECT_EQ(**outbox().GetThreadRoot("web", "fp-new", "chan-1"), "digest-post");
  EXPECT_EQ(**outbox().GetThreadRoot("api", "fp-new", "chan-1"), "digest-post");
  EXPECT_EQ(**outbox().GetThreadRoot("web", "fp-old", "chan-1"), "first-post")
      << "a finding announced before keeps its first post";
  EXPECT_FALSE(outbox().GetThreadRoot("web", "fp-new", "chan-2")->has_value());
}

TEST_P(PipelineSuite, ADeliveryInDoubtIsSendingInEveryView) {
  CreateProject(pipeline(), "web");
  const int64_t doubt = Enqueue(pipeline(), "web", "team/a", At(0));
  const int64_t waiting = Enqueue(pipeline(), "web", "team/a", At(0));
  const int64_t sent = Enqueue(pipeline(), "web", "team/b", At(0));
  ASSERT_TRUE(outbox().MarkInDoubt({doubt}, At(1)));
  ASSERT_TRUE(outbox().MarkSent({sent}, "p", "c", At(1)));
  EXPECT_EQ(Delivery(outbox(), doubt).state, DeliveryState::kSending);
  EXPECT_THAT(Ids(outbox().ListDeliveries({.state = DeliveryState::kSending})),
              ElementsAre(doubt));
  EXPECT_THAT(Ids(outbox().ListDeliveries({.state = DeliveryState::kPending})),
              ElementsAre(waiting));
  EXPECT_THAT(Ids(outbox().ListDeliveries({.state = DeliveryState::kSending, .project = "web"})),
              ElementsAre(doubt));
  EXPECT_THAT(Ids(outbox().ListDeliveries({.state = DeliveryState::kPending, .project = "web"})),
              ElementsAre(waiting));
  EXPECT_THAT(Ids(outbox().ListDeliveries({.state = DeliveryState::kSent, .project = "web"})),
              ElementsAre(sent));
  EXPECT_THAT(QueueIds(outbox(), "team/a"), ElementsAre(doubt, waiting));

  // Rescheduled, it is pending again; marked again, sending again.
  ASSERT_TRUE(outbox().Reschedule(doubt, At(5), true, "server_error", "HTTP 502", At(2), std::nullopt));
  EXPECT_EQ(Delivery(outbox(), doubt).state, DeliveryState::kPending);
  ASSERT_TRUE(outbox().MarkInDoubt({doubt}, At(6)));
  EXPECT_EQ(Delivery(outbox(), doubt).state, DeliveryState::kSending);
  ASSERT_TRUE(outbox().MarkFinal(doubt, DeliveryState::kDead, "expired", "gave up", At(7)));
  EXPECT_EQ(Delivery(outbox(), doubt).state, DeliveryState::kDead);
  auto attempts = outbox().ListAttempts(doubt);
  ASSERT_TRUE(attempts);
  ASSERT_EQ(attempts->size(), 2u);
  EXPECT_EQ((*attempts)[0].code, "server_error");
  EXPECT_EQ((*attempts)[1].code, "expired");
}

TEST_P(PipelineSuite, CountByStateIndexesByDeliveryState) {
  CreateProject(pipeline(), "web");
  auto empty = outbox().CountByState();
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, (std::array<int64_t, 5>{}));
  std::vector<int64_t> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(Enqueue(pipeline(), "web", "team/a", At(i)));
  ASSERT_TRUE(outbox().MarkInDoubt({ids[0]}, At(9)));
  ASSERT_TRUE(outbox().MarkSent({ids[1], ids[2]}, "p", "c", At(9)));
  ASSERT_TRUE(outbox().MarkFinal(ids[3], DeliveryState::kFailed, "x", "y", At(9)));
  ASSERT_TRUE(outbox().MarkFinal(ids[4], DeliveryState::kDead, "x", "y", At(9)));
  auto counts = outbox().CountByState();
  ASSERT_TRUE(counts);
  auto at = [&](DeliveryState s) { return (*counts)[static_cast<int>(s)]; };
  EXPECT_EQ(at(DeliveryState::kPending), 2);
  EXPECT_EQ(at(DeliveryState::kSending), 1);
  EXPECT_EQ(at(DeliveryState::kSent), 2);
  EXPECT_EQ(at(DeliveryState::kFailed), 1);
  EXPECT_EQ(at(DeliveryState::kDead), 1);
}

}  // namespace
}  // namespace tocsin::store::testing
