// Handlers for projects, project links, events, findings and deliveries (SPEC §5).

#include <algorithm>
#include <charconv>

#include "api/api_impl.hpp"
#include "core/memory.hpp"
#include "ingest/event_reader.hpp"
#include "ingest/sarif.hpp"

namespace tocsin::api::internal {

namespace {

using nlohmann::json;

json FindingJson(const domain::Finding& f) {
  json j = ingest::FindingToJson(f);
  j["id"] = f.id;
  j["project"] = f.project;
  j["status"] = std::string(domain::Name(f.status));
  j["first_seen"] = FormatRfc3339(f.first_seen);
  j["last_seen"] = FormatRfc3339(f.last_seen);
  return j;
}

std::optional<int64_t> ParseId(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

Result<int> LimitParam(const Request& req, int def, int max) {
  auto l = req.Query("limit");
  if (!l) return def;
  auto v = ParseId(*l);
  if (!v || *v > max) {
    return Fail("invalid_request", "limit must be an integer from 1 to " + std::to_string(max),
                "", "limit");
  }
  return static_cast<int>(*v);
}

}  // namespace

void Api::AddPipelineRoutes() {
  router_.Add("POST", "/api/v1/projects",
              Auth([this](const Request& req, const RouteMatch&, const Principal& who) {
                return CreateProject(req, who);
              }, true));
  router_.Add("GET", "/api/v1/projects",
              Auth([this](const Request& req, const RouteMatch&, const Principal& who) {
                auto limit = LimitParam(req, 100, 500);
                if (!limit) return ErrorResponse(limit.error());
                const std::string after = req.Query("cursor").value_or("");
                auto list = d_.projects.List(who, *limit, after);
                if (!list) return ErrorResponse(list.error());
                json items = json::array();
                for (const auto& p : *list) items.push_back(service::ProjectToJson(p));
                json next = nullptr;
                if (static_cast<int>(list->size()) == *limit) next = list->back().name;
                return JsonResponse(200, {{"items", items}, {"next_cursor", next}});
              }, false));
  router_.Add("GET", "/api/v1/projects/{name}",
              Auth([this](const Request&, const RouteMatch& m, const Principal& who) {
                auto p = d_.projects.Get(m.params.at("name"), who);
                if (!p) return ErrorResponse(p.error());
                return JsonResponse(200, service::ProjectToJson(*p));
              }, false));
  router_.Add("PATCH", "/api/v1/projects/{name}",
              Auth([this](const Request& req, const RouteMatch& m, const Principal& who) {
                return PatchProject(req, m.params.at("name"), who);
              }, false));
  router_.Add("DELETE", "/api/v1/projects/{name}",
              Auth([this](const Request&, const RouteMatch& m, const Principal& who) {
                auto r = d_.projects.Delete(m.params.at("name"), who);
                if (!r) return ErrorResponse(r.error());
                Response resp;
                resp.status = 204;
                return resp;
              }, false));
  router_.Add("GET", "/api/v1/projects/{name}/integrations/mattermost",
              Auth([this](const Request&, const RouteMatch& m, const Principal& who) {
                auto link = d_.projects.GetLink(m.params.at("name"), who);
                if (!link) return ErrorResponse(link.error());
                return JsonResponse(200, service::LinkToJson(*link));
              }, false));
  router_.Add("PUT", "/api/v1/projects/{name}/integrations/mattermost",
              Auth([this](const Request& req, const RouteMatch& m, const Principal& who) {
                return PutLink(req, m.params.at("name"), who);
              }, false));
  router_.Add("POST", "/api/v1/projects/{name}/integrations/mattermost/test",
              Auth([this](const Request&, const RouteMatch& m, const Principal& who) {
                auto r = d_.projects.SendTestMessages(m.params.at("name"), who);
                if (!r) return ErrorResponse(r.error());
                return JsonResponse(200, *r);
              }, false));
  router_.Add("POST", "/api/v1/projects/{name}/integrations/mattermost/preview",
              Auth([this](const Request& req, const RouteMatch& m, const Principal& who) {
                return PreviewLink(req, m.params.at("name"), who);
              }, false));
  router_.Add("POST", "/api/v1/projects/{name}/scans",
              Auth([this](const Request& req, const RouteMatch& m, const Principal& who) {
                return PostScan(req, m.params.at("name"), who);
              }, false));
  router_.Add("GET", "/api/v1/projects/{name}/scans",
              Auth([this](const Request& req, const RouteMatch& m, const Principal& who) {
                return ListScans(req, m.params.at("name"), who);
              }, false));
  router_.Add("POST", "/api/v1/events",
              Auth([this](const Request& req, const RouteMatch&, const Principal& who) {
                return PostEvents(req, who);
              }, false));
  router_.Add("GET", "/api/v1/projects/{name}/findings",
              Auth([this](const Request& req, const RouteMatch& m, const Principal& who) {
                return ListFindings(req, m.params.at("name"), who);
              }, false));
  router_.Add("GET", "/api/v1/findings/{id}",
              Auth([this](const Request&, const RouteMatch& m, const Principal& who) {
                return GetFinding(m.params.at("id"), who);
              }, false));
  router_.Add("PATCH", "/api/v1/findings/{id}",
              Auth([this](const Request& req, const RouteMatch& m, const Principal& who) {
                return PatchFinding(req, m.params.at("id"), who);
              }, false));
  router_.Add("GET", "/api/v1/deliveries",
              Auth([this](const Request& req, const RouteMatch&, const Principal& who) {
                return ListDeliveries(req, who);
              }, false));
  router_.Add("POST", "/api/v1/deliveries/{id}/retry",
              Auth([this](const Request&, const RouteMatch& m, const Principal& who) {
                return RetryDelivery(m.params.at("id"), who);
              }, false));
}

Response Api::CreateProject(const Request& req, const Principal& who) {
  auto body = Body(req);
  if (!body) return ErrorResponse(body.error());
  ObjectReader in(*body);
  domain::Project p;
  p.name = in.String("name", true).value_or("");
  p.display_name = in.String("display_name").value_or("");
  p.url = in.String("url").value_or("");
  if (auto r = in.Finish(); !r) return ErrorResponse(r.error());
  auto created = d_.projects.Create(p, who);
  if (!created) return ErrorResponse(created.error());
  Response r = JsonResponse(201, service::ProjectToJson(*created));
  r.headers.emplace_back("Location", "/api/v1/projects/" + created->name);
  return r;
}

Response Api::PatchProject(const Request& req, const std::string& name, const Principal& who) {
  auto body = Body(req);
  if (!body) return ErrorResponse(body.error());
  ObjectReader in(*body);
  service::ProjectPatch patch;
  patch.display_name = in.String("display_name");
  patch.url = in.String("url");
  if (auto r = in.Finish(); !r) return ErrorResponse(r.error());
  auto p = d_.projects.Update(name, patch, who);
  if (!p) return ErrorResponse(p.error());
  return JsonResponse(200, service::ProjectToJson(*p));
}

Response Api::PutLink(const Request& req, const std::string& name, const Principal& who) {
  auto body = Body(req);
  if (!body) return ErrorResponse(body.error());
  auto link = service::LinkFromJson(*body);
  if (!link) return ErrorResponse(link.error());
  auto saved = d_.projects.SaveLink(name, *link, who);
  if (!saved) return ErrorResponse(saved.error());
  return JsonResponse(200, service::LinkToJson(*saved));
}

Response Api::PreviewLink(const Request& req, const std::string& name, const Principal& who) {
  auto body = Body(req);
  if (!body) return ErrorResponse(body.error());
  json event = *body;
  // The project is the one in the path; an event may leave it out.
  if (event.is_object() && !event.contains("project")) event["project"] = name;
  auto in = ingest::ReadEvent(event, "");
  if (!in) return ErrorResponse(in.error());
  if (in->project != name) {
    return ErrorResponse(Error{"invalid_request", "/project must be '" + name + "' here", "",
                               "/project"});
  }
  auto r = d_.projects.Preview(name, *in, who);
  if (!r) return ErrorResponse(r.error());
  return JsonResponse(200, *r);
}

Response Api::PostEvents(const Request& req, const Principal& who) {
  auto body = Body(req);
  if (!body) return ErrorResponse(body.error());
  auto events = ingest::ReadEvents(*body);
  if (!events) return ErrorResponse(events.error());
  const bool batch = body->is_object() && body->contains("events");
  auto out = d_.events.Ingest(*events, who, batch);
  if (!out) return ErrorResponse(out.error());
  return JsonResponse(202, {{"accepted", out->accepted},
                            {"duplicates", out->duplicates},
                            {"ids", out->ids}});
}

// Scans with this many findings give the allocator's free memory back afterwards (PostScan).
constexpr int64_t kTrimAfterFindings = 10000;

Response Api::PostScan(const Request& req, const std::string& name, const Principal& who) {
  auto project = d_.projects.Get(name, who);
  if (!project) return ErrorResponse(project.error());
  if (const auto ct = req.Header("content-type")) {
    const std::string media = ToLower(Trim(std::string_view(*ct).substr(0, ct->find(';'))));
    if (media != "application/json" && media != "application/sarif+json" &&
        media != "application/gzip" && media != "application/octet-stream") {
      return ErrorResponse(Error{"unsupported_media_type",
                                 "Content-Type " + media + " is not a SARIF upload",
                                 "send application/sarif+json or application/json (gzip allowed: "
                                 "Content-Encoding: gzip or application/gzip)"});
    }
  }
  if (const auto ce = req.Header("content-encoding")) {
    const std::string enc = ToLower(Trim(*ce));
    if (enc != "gzip" && enc != "identity") {
      return ErrorResponse(Error{"unsupported_media_type",
                                 "Content-Encoding " + enc + " is not supported",
                                 "send the SARIF plain or gzip-compressed"});
    }
  }
  const std::string branch = req.Query("branch").value_or("default");
  // The same rules as an event's branch and scanner, so a scan and its events agree.
  if (branch.empty() || !ingest::IsValidLabel(branch, ingest::kMaxBranchRunes)) {
    return ErrorResponse(Error{"invalid_request",
                               "branch must be 1 to 200 printable characters", "", "branch"});
  }
  const std::string scanner = req.Query("scanner").value_or("");
  if (!ingest::IsValidLabel(scanner, ingest::kMaxScannerRunes)) {
    return ErrorResponse(Error{"invalid_request", "scanner must be at most 100 printable characters", "",
                               "scanner"});
  }
  if (Trim(req.body).empty()) {
    return ErrorResponse(Error{"invalid_sarif", "the request body is empty",
                               "send a SARIF 2.1.0 document as the body"});
  }
  ingest::SarifLimits limits;
  limits.max_inflated_bytes = static_cast<size_t>(d_.settings.max_scan_body);
  const auto start = std::chrono::steady_clock::now();
  // Parse the body in place rather than copy a document of up to max_scan_body (see Handler).
  auto parsed = ingest::ReadSarifBuffer(std::move(const_cast<Request&>(req).body), limits, scanner);
  if (!parsed) {
    Error e = parsed.error();
    if (e.hint.empty()) e.hint = "check that the file is SARIF 2.1.0 as the scanner wrote it";
    return ErrorResponse(e, e.code == "payload_too_large" ? 413 : 400);
  }
  if (parsed->scanner.empty()) {
    return ErrorResponse(Error{"invalid_request",
                               "the document names no tool and no scanner was given",
                               "add ?scanner=NAME to the URL", "scanner"});
  }
  auto out = d_.events.IngestScan(name, branch, *parsed, who);
  if (!out) return ErrorResponse(out.error());
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start).count();
  spdlog::info("scan ingested project={} scanner={} branch={} findings={} new={} resolved={} "
               "reopened={} baseline={} duration_ms={}",
               name, out->scanner, branch, out->findings, out->new_count, out->resolved,
               out->reopened, out->baseline, ms);
  json body = out->ToJson();
  body["project"] = name;
  body["results"] = parsed->results;
  body["duplicates"] = parsed->duplicates;
  body["suppressed"] = parsed->suppressed;
  body["truncated"] = parsed->truncated;
  body["notes"] = parsed->notes;
  if (!parsed->error.empty()) body["error"] = parsed->error;
  if (out->findings >= kTrimAfterFindings) {
    // A big scan leaves tens of MB free inside the allocator's heaps, in pieces the next
    // requests cannot all reuse: free the findings now, not after the answer, and give that
    // memory back to the system (docs/performance.md, figure 8d).
    std::vector<domain::Finding>().swap(parsed->findings);
    ReturnFreeMemory();
  }
  return JsonResponse(201, body);
}

Response Api::ListScans(const Request& req, const std::string& name, const Principal& who) {
  auto project = d_.projects.Get(name, who);
  if (!project) return ErrorResponse(project.error());
  auto limit = LimitParam(req, 50, 500);
  if (!limit) return ErrorResponse(limit.error());
  int64_t before = 0;
  if (auto c = req.Query("cursor")) {
    auto v = ParseId(*c);
    if (!v) return ErrorResponse(Error{"invalid_request", "cursor is not valid", "", "cursor"});
    before = *v;
  }
  auto scans = d_.pipeline.ListScans(name, *limit, before);
  if (!scans) return ErrorResponse(scans.error());
  json items = json::array();
  for (const auto& s : *scans) {
    json j = json::parse(s.summary_json, nullptr, false);
    if (j.is_discarded()) j = json::object();
    j["id"] = s.id;
    j["received_at"] = FormatRfc3339(s.received_at);
    items.push_back(std::move(j));
  }
  json next = nullptr;
  if (static_cast<int>(scans->size()) == *limit) next = std::to_string(scans->back().id);
  return JsonResponse(200, {{"items", items}, {"next_cursor", next}});
}

Response Api::ListFindings(const Request& req, const std::string& name, const Principal& who) {
  auto project = d_.projects.Get(name, who);
  if (!project) return ErrorResponse(project.error());
  store::FindingFilter filter;
  filter.project = name;
  if (auto s = req.Query("status"); s && !s->empty()) {
    filter.status = domain::ParseFindingStatus(*s);
    if (!filter.status) {
      return ErrorResponse(Error{"invalid_request",
                                 "status must be open, resolved, false_positive or accepted_risk",
                                 "", "status"});
    }
  }
  if (auto s = req.Query("min_severity"); s && !s->empty()) {
    filter.min_severity = domain::ParseSeverity(*s);
    if (!filter.min_severity) {
      return ErrorResponse(Error{"invalid_request",
                                 "min_severity must be critical, high, medium, low or info", "",
                                 "min_severity"});
    }
  }
  if (auto fp = req.Query("fingerprint"); fp && !fp->empty()) filter.fingerprint = *fp;
  auto limit = LimitParam(req, 100, 1000);
  if (!limit) return ErrorResponse(limit.error());
  filter.limit = *limit;
  if (auto c = req.Query("cursor")) {
    auto v = ParseId(*c);
    if (!v) return ErrorResponse(Error{"invalid_request", "cursor is not valid", "", "cursor"});
    filter.after_id = *v;
  }
  auto list = d_.pipeline.ListFindings(filter);
  if (!list) return ErrorResponse(list.error());
  json items = json::array();
  for (const auto& f : *list) items.push_back(FindingJson(f));
  json next = nullptr;
  if (static_cast<int>(list->size()) == filter.limit) next = std::to_string(list->back().id);
  return JsonResponse(200, {{"items", items}, {"next_cursor", next}});
}

Response Api::GetFinding(const std::string& id, const Principal& who) {
  auto n = ParseId(id);
  auto f = n ? d_.pipeline.GetFinding(*n) : Result<std::optional<domain::Finding>>{};
  if (!f) return ErrorResponse(f.error());
  if (!n || !*f || !who.MayUseProject((*f)->project)) {
    return ErrorResponse(Error{"not_found", "no finding with id " + id, ""});
  }
  return JsonResponse(200, FindingJson(**f));
}

Response Api::PatchFinding(const Request& req, const std::string& id, const Principal& who) {
  auto n = ParseId(id);
  if (!n) return ErrorResponse(Error{"not_found", "no finding with id " + id, ""});
  auto body = Body(req);
  if (!body) return ErrorResponse(body.error());
  ObjectReader in(*body);
  auto status = in.String("status", true);
  auto comment = in.String("comment").value_or("");
  if (auto r = in.Finish(); !r) return ErrorResponse(r.error());
  auto parsed = domain::ParseFindingStatus(*status);
  if (!parsed) {
    return ErrorResponse(Error{"invalid_request",
                               "/status must be open, resolved, false_positive or accepted_risk",
                               "", "/status"});
  }
  if (comment.size() > 4000) {
    return ErrorResponse(Error{"invalid_request", "/comment: at most 4000 characters", "",
                               "/comment"});
  }
  auto f = d_.events.ChangeStatus({*n, *parsed, comment}, who);
  if (!f) return ErrorResponse(f.error());
  return JsonResponse(200, FindingJson(*f));
}

Response Api::ListDeliveries(const Request& req, const Principal& who) {
  store::DeliveryFilter filter;
  if (auto s = req.Query("state"); s && !s->empty()) {
    filter.state = domain::ParseDeliveryState(*s);
    if (!filter.state) {
      return ErrorResponse(Error{"invalid_request",
                                 "state must be pending, sending, sent, failed or dead", "",
                                 "state"});
    }
  }
  if (auto p = req.Query("project"); p && !p->empty()) filter.project = *p;
  if (!who.IsAdmin()) {
    const std::string mine = who.role.substr(std::string("project:").size());
    if (filter.project && *filter.project != mine) {
      return ErrorResponse(Error{"forbidden", "this token may only see project " + mine, ""});
    }
    filter.project = mine;
  }
  auto limit = LimitParam(req, 50, 500);
  if (!limit) return ErrorResponse(limit.error());
  filter.limit = *limit;
  if (auto c = req.Query("cursor")) {
    auto v = ParseId(*c);
    if (!v) return ErrorResponse(Error{"invalid_request", "cursor is not valid", "", "cursor"});
    filter.before_id = *v;
  }
  auto list = d_.pipeline.outbox().ListDeliveries(filter);
  if (!list) return ErrorResponse(list.error());
  auto mm = d_.store.GetMattermostSettings();
  const std::string mm_url = mm && *mm ? (*mm)->url : "";
  json items = json::array();
  for (const auto& d : *list) {
    json j = {{"id", d.id},
              {"project", d.project},
              {"channel", d.channel},
              {"kind", d.kind},
              {"event_id", d.event_seq},
              {"event_type", std::string(domain::Name(d.event_type))},
              {"state", std::string(domain::Name(d.state))},
              {"attempts", d.attempts},
              {"created_at", FormatRfc3339(d.created_at)},
              {"updated_at", FormatRfc3339(d.updated_at)},
              {"next_attempt_at", FormatRfc3339(d.next_attempt_at)},
              {"last_error", d.last_error},
              {"last_error_code", d.last_error_code},
              {"post_id", d.post_id}};
    j["post_url"] = d.post_id.empty() || mm_url.empty()
                        ? json(nullptr)
                        : json(mm_url + "/_redirect/pl/" + d.post_id);
    items.push_back(std::move(j));
  }
  json next = nullptr;
  if (static_cast<int>(list->size()) == filter.limit) next = std::to_string(list->back().id);
  return JsonResponse(200, {{"items", items}, {"next_cursor", next}});
}

Response Api::RetryDelivery(const std::string& id, const Principal& who) {
  auto n = ParseId(id);
  auto d = n ? d_.pipeline.outbox().GetDelivery(*n)
             : Result<std::optional<store::DeliveryRecord>>{};
  if (!d) return ErrorResponse(d.error());
  if (!n || !*d || !who.MayUseProject((*d)->project)) {
    return ErrorResponse(Error{"not_found", "no delivery with id " + id, ""});
  }
  const TimePoint now = d_.clock.Now();
  store::AuditEntry audit;
  audit.at = ToUnixMillis(now);
  audit.actor = who.name;
  audit.action = "delivery.retry";
  audit.target = "delivery:" + id;
  audit.detail_json = json{{"previous_state", std::string(domain::Name((*d)->state))}}.dump();
  auto ok = d_.pipeline.outbox().Retry(*n, now, now + d_.settings.delivery_ttl, audit);
  if (!ok) return ErrorResponse(ok.error());
  if (!*ok) {
    return ErrorResponse(Error{"conflict",
                               "delivery " + id + " is " +
                                   std::string(domain::Name((*d)->state)) +
                                   "; only failed or dead deliveries can be retried",
                               ""});
  }
  if (d_.wake_delivery) d_.wake_delivery();
  return JsonResponse(200, {{"id", *n}, {"state", "pending"}});
}

}  // namespace tocsin::api::internal
