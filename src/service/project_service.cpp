#include "service/project_service.hpp"

#include <set>

#include "core/random.hpp"
#include "core/strings.hpp"
#include "mattermost/client.hpp"
#include "mattermost/resolve.hpp"
#include "render/post.hpp"
#include "rules/routing.hpp"

namespace tocsin::service {

namespace {

using nlohmann::json;

constexpr size_t kMaxRoutes = 50;
constexpr size_t kMaxThresholds = 20;

store::AuditEntry Audit(const Clock& clock, const Principal& actor, std::string action,
                        std::string target, json detail) {
  store::AuditEntry a;
  a.at = ToUnixMillis(clock.Now());
  a.actor = actor.name;
  a.action = std::move(action);
  a.target = std::move(target);
  a.detail_json = detail.dump();
  return a;
}

std::string ValidateUrl(const std::string& url) {
  if (url.empty()) return {};
  if (!(StartsWith(url, "https://") || StartsWith(url, "http://")) || url.size() > 2048) {
    return "url must be an http(s) URL of at most 2048 characters";
  }
  return {};
}

Unexpected BadField(const std::string& pointer, const std::string& message) {
  return Fail("invalid_request", pointer + ": " + message, "see docs/api.md (Route JSON)", pointer);
}

}  // namespace

json ProjectToJson(const domain::Project& p) {
  return {{"name", p.name},
          {"display_name", p.display_name},
          {"url", p.url},
          {"created_at", FormatRfc3339(p.created_at)}};
}

json LinkToJson(const domain::ProjectLink& link) {
  json routes = json::array();
  for (const auto& r : link.routes) {
    json events = json::array();
    for (auto t : domain::kAllEventTypes) {
      if (r.events.count(t)) events.push_back(std::string(domain::Name(t)));
    }
    routes.push_back({{"channel", r.channel},
                      {"events", events},
                      {"min_severity", std::string(domain::Name(r.min_severity))},
                      {"digest_threshold", r.digest_threshold},
                      {"baseline", r.baseline_full ? "full" : "summary"}});
  }
  json thresholds = json::array();
  for (const auto& t : link.thresholds) {
    thresholds.push_back({{"severity", std::string(domain::Name(t.severity))}, {"count", t.count}});
  }
  return {{"enabled", link.enabled}, {"routes", routes}, {"thresholds", thresholds}};
}

Result<domain::ProjectLink> LinkFromJson(const json& body) {
  if (!body.is_object()) return BadField("/", "the body must be a JSON object");
  domain::ProjectLink link;
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() != "enabled" && it.key() != "routes" && it.key() != "thresholds") {
      return BadField("/" + it.key(), "unknown field");
    }
  }
  if (auto e = body.find("enabled"); e != body.end()) {
    if (!e->is_boolean()) return BadField("/enabled", "must be true or false");
    link.enabled = e->get<bool>();
  } else {
    link.enabled = true;
  }
  if (auto routes = body.find("routes"); routes != body.end() && !routes->is_null()) {
    if (!routes->is_array()) return BadField("/routes", "must be an array of routes");
    if (routes->size() > kMaxRoutes) {
      return BadField("/routes", "at most " + std::to_string(kMaxRoutes) + " routes");
    }
    for (size_t i = 0; i < routes->size(); ++i) {
      const json& r = (*routes)[i];
      const std::string p = "/routes/" + std::to_string(i);
      if (!r.is_object()) return BadField(p, "a route must be an object");
      domain::Route route;
      for (auto it = r.begin(); it != r.end(); ++it) {
        static const std::set<std::string> kKnown = {"channel", "events", "min_severity",
                                                     "digest_threshold", "baseline"};
        if (!kKnown.count(it.key())) return BadField(p + "/" + it.key(), "unknown field");
      }
      auto ch = r.find("channel");
      if (ch == r.end() || !ch->is_string()) {
        return BadField(p + "/channel", "required: a channel id or \"team-name/channel-name\"");
      }
      if (!domain::ParseChannelRef(ch->get<std::string>())) {
        return BadField(p + "/channel",
                          "'" + ch->get<std::string>() +
                              "' is neither a 26-character channel id nor team-name/channel-name");
      }
      route.channel = ch->get<std::string>();
      auto ev = r.find("events");
      if (ev == r.end() || ev->is_null()) {
        for (auto t : domain::kAllEventTypes) route.events.insert(t);
      } else {
        if (!ev->is_array() || ev->empty()) {
          return BadField(p + "/events", "must be a non-empty array of event types");
        }
        for (size_t k = 0; k < ev->size(); ++k) {
          const json& t = (*ev)[k];
          auto type = t.is_string() ? domain::ParseEventType(t.get<std::string>()) : std::nullopt;
          if (!type) {
            return BadField(p + "/events/" + std::to_string(k),
                              "unknown event type; one of vulnerability.new, "
                              "vulnerability.status_changed, vulnerability.threshold_crossed, "
                              "scan.completed");
          }
          route.events.insert(*type);
        }
      }
      if (auto ms = r.find("min_severity"); ms != r.end() && !ms->is_null()) {
        auto sev = ms->is_string() ? domain::ParseSeverity(ms->get<std::string>()) : std::nullopt;
        if (!sev) {
          return BadField(p + "/min_severity", "one of critical, high, medium, low, info");
        }
        route.min_severity = *sev;
      }
      if (auto dt = r.find("digest_threshold"); dt != r.end() && !dt->is_null()) {
        if (!dt->is_number_integer() || dt->get<int64_t>() < 1 ||
            dt->get<int64_t>() > domain::kMaxDigestThreshold) {
          return BadField(p + "/digest_threshold", "an integer from 1 to 1000");
        }
        route.digest_threshold = static_cast<int>(dt->get<int64_t>());
      }
      if (auto b = r.find("baseline"); b != r.end() && !b->is_null()) {
        if (!b->is_string() || (*b != "summary" && *b != "full")) {
          return BadField(p + "/baseline", "\"summary\" or \"full\"");
        }
        route.baseline_full = *b == "full";
      }
      link.routes.push_back(std::move(route));
    }
  }
  if (auto th = body.find("thresholds"); th != body.end() && !th->is_null()) {
    if (!th->is_array()) return BadField("/thresholds", "must be an array");
    if (th->size() > kMaxThresholds) {
      return BadField("/thresholds", "at most " + std::to_string(kMaxThresholds) + " thresholds");
    }
    for (size_t i = 0; i < th->size(); ++i) {
      const json& t = (*th)[i];
      const std::string p = "/thresholds/" + std::to_string(i);
      if (!t.is_object()) return BadField(p, "a threshold must be an object");
      for (auto it = t.begin(); it != t.end(); ++it) {
        if (it.key() != "severity" && it.key() != "count") {
          return BadField(p + "/" + it.key(), "unknown field");
        }
      }
      domain::Threshold threshold;
      auto sev = t.contains("severity") && t["severity"].is_string()
                     ? domain::ParseSeverity(t["severity"].get<std::string>())
                     : std::nullopt;
      if (!sev) return BadField(p + "/severity", "required: critical, high, medium, low or info");
      threshold.severity = *sev;
      if (!t.contains("count") || !t["count"].is_number_integer() ||
          t["count"].get<int64_t>() < 1) {
        return BadField(p + "/count", "required: an integer of at least 1");
      }
      threshold.count = t["count"].get<int64_t>();
      link.thresholds.push_back(threshold);
    }
  }
  return link;
}

Result<domain::Project> ProjectService::Visible(const std::string& name, const Principal& actor) {
  if (!actor.MayUseProject(name)) {
    // A project token does not learn whether other projects exist.
    return Fail("not_found", "project '" + name + "' does not exist", "");
  }
  auto p = store_.GetProject(name);
  if (!p) return Unexpected(p.error());
  if (!*p) {
    return Fail("not_found", "project '" + name + "' does not exist",
                "list projects with GET /api/v1/projects");
  }
  return **p;
}

Result<domain::Project> ProjectService::Create(const domain::Project& in, const Principal& actor) {
  if (!actor.IsAdmin()) return Fail("forbidden", "only admin tokens may create projects", "");
  if (!domain::IsValidProjectName(in.name)) {
    return Fail("invalid_request",
                "/name: '" + in.name + "' is not a project name: 1 to 64 characters of a-z, 0-9, "
                "'.', '_', '-', starting with a letter or digit",
                "", "/name");
  }
  if (in.display_name.size() > 200) {
    return Fail("invalid_request", "/display_name: at most 200 characters", "", "/display_name");
  }
  if (auto why = ValidateUrl(in.url); !why.empty()) {
    return Fail("invalid_request", "/url: " + why, "", "/url");
  }
  domain::Project p = in;
  p.created_at = clock_.Now();
  auto r = store_.CreateProject(
      p, Audit(clock_, actor, "project.create", "project:" + p.name, ProjectToJson(p)));
  if (!r) {
    if (r.error().code == "conflict") {
      return Fail("conflict", "project '" + p.name + "' already exists",
                  "choose another name or update it with PATCH", "/name");
    }
    return Unexpected(r.error());
  }
  return p;
}

Result<domain::Project> ProjectService::Get(const std::string& name, const Principal& actor) {
  return Visible(name, actor);
}

Result<std::vector<domain::Project>> ProjectService::List(const Principal& actor, int limit,
                                                          const std::string& after) {
  if (!actor.IsAdmin()) {
    const std::string mine = actor.role.substr(std::string("project:").size());
    std::vector<domain::Project> out;
    if (mine > after) {
      auto p = store_.GetProject(mine);
      if (!p) return Unexpected(p.error());
      if (*p) out.push_back(**p);
    }
    return out;
  }
  return store_.ListProjects(limit, after);
}

Result<domain::Project> ProjectService::Update(const std::string& name, const ProjectPatch& patch,
                                               const Principal& actor) {
  auto p = Visible(name, actor);
  if (!p) return p;
  if (!actor.IsAdmin()) return Fail("forbidden", "only admin tokens may change projects", "");
  if (patch.display_name) {
    if (patch.display_name->size() > 200) {
      return Fail("invalid_request", "/display_name: at most 200 characters", "", "/display_name");
    }
    p->display_name = *patch.display_name;
  }
  if (patch.url) {
    if (auto why = ValidateUrl(*patch.url); !why.empty()) {
      return Fail("invalid_request", "/url: " + why, "", "/url");
    }
    p->url = *patch.url;
  }
  if (auto r = store_.UpdateProject(
          *p, Audit(clock_, actor, "project.update", "project:" + name, ProjectToJson(*p)));
      !r) {
    return Unexpected(r.error());
  }
  return p;
}

Result<void> ProjectService::Delete(const std::string& name, const Principal& actor) {
  auto p = Visible(name, actor);
  if (!p) return Unexpected(p.error());
  if (!actor.IsAdmin()) return Fail("forbidden", "only admin tokens may delete projects", "");
  return store_.DeleteProject(name,
                              Audit(clock_, actor, "project.delete", "project:" + name, json::object()));
}

Result<domain::ProjectLink> ProjectService::GetLink(const std::string& project,
                                                    const Principal& actor) {
  auto p = Visible(project, actor);
  if (!p) return Unexpected(p.error());
  return store_.GetLink(project);
}

Result<domain::ProjectLink> ProjectService::SaveLink(const std::string& project,
                                                     const domain::ProjectLink& link,
                                                     const Principal& actor) {
  auto p = Visible(project, actor);
  if (!p) return Unexpected(p.error());
  if (auto r = store_.SaveLink(project, link,
                               Audit(clock_, actor, "project.mattermost.update",
                                     "project:" + project, LinkToJson(link)));
      !r) {
    return Unexpected(r.error());
  }
  return link;
}

Result<json> ProjectService::SendTestMessages(const std::string& project, const Principal& actor) {
  auto p = Visible(project, actor);
  if (!p) return Unexpected(p.error());
  auto link = store_.GetLink(project);
  if (!link) return Unexpected(link.error());
  auto conn = integrations_.ActiveConnection();
  if (!conn) return Unexpected(conn.error());
  if (!*conn) {
    return Fail("invalid_request", "the Mattermost integration is not active",
                "activate it under Integrations › Notification Tools first");
  }
  if (link->routes.empty()) {
    return Fail("invalid_request", "project '" + project + "' has no routes",
                "add a route (a channel) to the project's Mattermost settings first");
  }
  net::HttpClientOptions opts;
  opts.insecure = (*conn)->insecure;
  opts.ca_file = (*conn)->ca_file;
  auto http = http_(opts);
  mattermost::Client client(*http, (*conn)->url, (*conn)->token);
  render::Context ctx{p->name, p->display_name, public_url_};
  json results = json::array();
  std::set<std::string> done;
  for (const auto& route : link->routes) {
    if (!done.insert(route.channel).second) continue;
    json item = {{"channel", route.channel}};
    auto channel = mattermost::ResolveChannel(client, route.channel);
    mattermost::ApiResult<mattermost::Post> post = tl::unexpected(mattermost::ApiError{});
    if (channel) {
      json body = render::RenderTestMessage(ctx, route.channel);
      body["channel_id"] = channel->id;
      body["pending_post_id"] = "tocsin-test-" + NewId();
      post = client.CreatePost(body);
    }
    const mattermost::ApiError* err = !channel ? &channel.error() : (!post ? &post.error() : nullptr);
    if (!err) {
      item["ok"] = true;
      item["code"] = "ok";
      item["message"] = "Test message posted";
      item["post_id"] = post->id;
      item["channel_id"] = channel->id;
    } else {
      const auto c = mattermost::Classify(*err);
      item["ok"] = false;
      std::string code = c.error_class == mattermost::ErrorClass::kAuthFailed ? "token_invalid"
                         : err->http_status == 404                           ? "channel_not_found"
                         : err->http_status == 403                           ? "forbidden"
                         : err->http_status >= 500                           ? "server_error"
                         : err->net_error                                    ? "connection_failed"
                                                                             : c.reason;
      item["code"] = code;
      item["message"] = err->ToString();
      item["hint"] = code == "forbidden"
                         ? "add the bot to this channel (or its team), then try again"
                     : code == "channel_not_found"
                         ? "check the channel id or team-name/channel-name; a private channel is "
                           "only visible to its members"
                     : code == "token_invalid"
                         ? "the token was refused: run Test Connection under Integrations › "
                           "Notification Tools"
                         : "check the Mattermost server and try again";
    }
    results.push_back(item);
  }
  return json{{"results", results}};
}

Result<json> ProjectService::Preview(const std::string& project, const ingest::EventInput& event,
                                     const Principal& actor) {
  auto p = Visible(project, actor);
  if (!p) return Unexpected(p.error());
  auto link = store_.GetLink(project);
  if (!link) return Unexpected(link.error());
  std::optional<domain::Severity> severity;
  if (event.finding && event.finding_severity_given) severity = event.finding->severity;
  if (event.threshold) severity = event.threshold->severity;
  json body = ingest::EventToJson(event);
  body["project"] = project;
  if (!body.contains("occurred_at")) body["occurred_at"] = FormatRfc3339(clock_.Now());
  if (event.type == domain::EventType::kStatusChanged && event.status) {
    body["to"] = std::string(domain::Name(*event.status));
    body["from"] = "open";
    body["transition"] = domain::TransitionName(domain::FindingStatus::kOpen, *event.status);
    body["actor"] = actor.name;
  }
  render::Context ctx{p->name, p->display_name, public_url_};
  json matches = json::array();
  const auto idx = rules::MatchRoutes(*link, event.type, severity);
  for (size_t i : idx) {
    matches.push_back({{"route", i},
                       {"channel", link->routes[i].channel},
                       {"post", render::RenderEvent(body, ctx)}});
  }
  return json{{"enabled", link->enabled}, {"matches", matches}};
}

}  // namespace tocsin::service
