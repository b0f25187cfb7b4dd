// api/api_impl.hpp — internal: the Api class shared by the handler files (api.cpp for
// health, settings and audit; api_pipeline.cpp for projects, events, findings, deliveries).
#pragma once

#include <chrono>

#include <spdlog/spdlog.h>

#include "api/api.hpp"
#include "api/json_input.hpp"
#include "api/responses.hpp"
#include "api/router.hpp"
#include "api/session.hpp"
#include "api/web_ui.hpp"
#include "core/strings.hpp"
#include "core/version.hpp"

namespace tocsin::api::internal {

using service::Principal;

class Api {
 public:
  explicit Api(ApiDeps deps) : d_(deps) {
    requests_ = &d_.metrics.Counter("tocsin_http_requests_total",
                                    "HTTP requests answered, by route group and status class",
                                    {"group", "status"});
    d_.metrics.Gauge("tocsin_build_info", "Build information", {"version"}).Set({kVersion}, 1);
    Routes();
  }

  Response Handle(const Request& req) {
    const auto start = std::chrono::steady_clock::now();
    Response r = router_.Dispatch(req);
    // The web UI (web_ui.hpp): its files, and index.html for its client-side routes.
    if (r.status == 404) {
      if (auto ui = web_.Serve(req)) r = std::move(*ui);
    }
    AddSecurityHeaders(&r);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    const std::string group = StartsWith(req.path, "/api/") ? "api" : "other";
    requests_->Add({group, std::to_string(r.status / 100) + "xx"});
    // The path only: query strings and bodies may carry secrets.
    spdlog::debug("request served method={} path={} status={} duration_us={}", req.method,
                  req.path, r.status, us);
    return r;
  }

 private:
  using Authed = std::function<Response(const Request&, const RouteMatch&, const Principal&)>;

  // Wraps a route so it runs only for a valid token with the needed role.
  Router::Fn Auth(Authed fn, bool admin_only) {
    return [this, fn = std::move(fn), admin_only](const Request& req, const RouteMatch& m) {
      auto principal = Authenticate(req);
      if (!principal) return ErrorResponse(principal.error());
      if (admin_only && !principal->IsAdmin()) {
        return ErrorResponse(Error{"forbidden",
                                   "this endpoint needs an admin token; token '" +
                                       principal->name + "' has role " + principal->role,
                                   "use an admin API token"});
      }
      return fn(req, m, *principal);
    };
  }

  Result<Principal> Authenticate(const Request& req) {
    static const std::string kHint =
        "send Authorization: Bearer <api token>; the first admin token is in "
        "<data-dir>/admin-token, more come from `tocsin token create`";
    const auto header = req.Header("authorization");
    if (!header) {
      // The web UI's alternative: a session cookie (+ X-CSRF-Token when changing state).
      if (auto id = SessionIdOf(req)) return AuthenticateSession(req, *id);
      return Fail("unauthorized", "the Authorization header is missing", kHint);
    }
    const std::string_view h = Trim(*header);
    if (h.size() < 7 || ToLower(h.substr(0, 7)) != "bearer ") {
      return Fail("unauthorized", "the Authorization header must use the Bearer scheme", kHint);
    }
    Secret token{std::string(Trim(h.substr(7)))};
    auto p = d_.auth.Authenticate(token);
    if (!p) return Unexpected(p.error());
    if (!*p) return Fail("unauthorized", "the API token is not valid (unknown or revoked)", kHint);
    return **p;
  }

  Result<nlohmann::json> Body(const Request& req, bool allow_empty = false) {
    return ParseJsonBody(req, static_cast<int>(d_.settings.max_json_depth), allow_empty);
  }

  static Response FromResult(const Result<nlohmann::json>& r, int status = 200) {
    if (!r) return ErrorResponse(r.error());
    return JsonResponse(status, *r);
  }

  void Routes() {
    router_.Add("GET", "/healthz", [](const Request&, const RouteMatch&) {
      return JsonResponse(200, {{"status", "ok"}, {"version", kVersion}});
    });
    router_.Add("GET", "/readyz", [this](const Request&, const RouteMatch&) {
      if (auto ping = d_.store.Ping(); !ping) {
        return ErrorResponse(Error{"not_ready", "the database is not reachable: " +
                                                    ping.error().message,
                                   "check the database settings and that it is running"});
      }
      return JsonResponse(200, {{"status", "ready"}});
    });
    router_.Add("GET", "/metrics", [this](const Request&, const RouteMatch&) {
      Response r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = d_.metrics.Render();
      return r;
    });

    router_.Add("GET", "/api/v1/integrations",
                Auth([this](const Request&, const RouteMatch&, const Principal&) {
                  return FromResult(d_.integrations.ListIntegrations());
                }, true));
    router_.Add("GET", "/api/v1/integrations/mattermost",
                Auth([this](const Request&, const RouteMatch&, const Principal&) {
                  return FromResult(d_.integrations.GetMattermost());
                }, true));
    router_.Add("PUT", "/api/v1/integrations/mattermost",
                Auth([this](const Request& req, const RouteMatch&, const Principal& who) {
                  return PutMattermost(req, who);
                }, true));
    router_.Add("DELETE", "/api/v1/integrations/mattermost",
                Auth([this](const Request&, const RouteMatch&, const Principal& who) {
                  return FromResult(d_.integrations.DeleteMattermost(who.name));
                }, true));
    router_.Add("POST", "/api/v1/integrations/mattermost/test",
                Auth([this](const Request& req, const RouteMatch&, const Principal&) {
                  return TestMattermost(req);
                }, true));
    AddPipelineRoutes();
    AddSessionRoutes();
    router_.Add("GET", "/api/v1/audit",
                Auth([this](const Request& req, const RouteMatch&, const Principal&) {
                  return ListAudit(req);
                }, true));
  }

  Response PutMattermost(const Request& req, const Principal& who) {
    auto body = Body(req);
    if (!body) return ErrorResponse(body.error());
    ObjectReader in(*body);
    service::MattermostUpdate update;
    update.url = in.String("url");
    if (auto t = in.String("token")) update.token = Secret(std::move(*t));
    update.insecure = in.Bool("insecure");
    update.ca_file = in.String("ca_file");
    update.active = in.Bool("active");
    if (auto r = in.Finish(); !r) return ErrorResponse(r.error());
    std::vector<service::FieldError> problems;
    auto saved = d_.integrations.SaveMattermost(update, who.name, &problems);
    if (!saved) {
      Response r = ErrorResponse(saved.error());
      if (!problems.empty()) {
        auto j = nlohmann::json::parse(r.body);
        for (const auto& p : problems) {
          j["error"]["fields"].push_back({{"field", p.field}, {"message", p.message}});
        }
        r.body = j.dump();
      }
      return r;
    }
    spdlog::info("mattermost settings saved actor={}", who.name);
    return JsonResponse(200, *saved);
  }

  Response TestMattermost(const Request& req) {
    auto body = Body(req, /*allow_empty=*/true);
    if (!body) return ErrorResponse(body.error());
    ObjectReader in(*body);
    service::MattermostProbe probe;
    probe.url = in.String("url");
    if (auto t = in.String("token")) probe.token = Secret(std::move(*t));
    probe.insecure = in.Bool("insecure");
    probe.ca_file = in.String("ca_file");
    probe.channel = in.String("channel");
    if (probe.channel && Trim(*probe.channel).empty()) probe.channel.reset();
    in.Bool("active");  // the drawer may send its whole form; "active" plays no part in a test
    if (auto r = in.Finish(); !r) return ErrorResponse(r.error());
    auto result = d_.integrations.TestMattermost(probe);
    if (!result) return ErrorResponse(result.error());
    spdlog::info("mattermost test connection ok={} code={}", result->ok, result->code);
    return JsonResponse(200, mattermost::ToJson(*result));
  }

  Response ListAudit(const Request& req) {
    int limit = 50;
    int64_t before = 0;
    try {
      if (auto l = req.Query("limit")) limit = std::clamp(std::stoi(*l), 1, 500);
      if (auto b = req.Query("cursor")) before = std::stoll(*b);
    } catch (const std::exception&) {
      return ErrorResponse(Error{"invalid_request", "limit and cursor must be integers", "",
                                 "limit"});
    }
    auto entries = d_.store.ListAudit(limit, before);
    if (!entries) return ErrorResponse(entries.error());
    nlohmann::json items = nlohmann::json::array();
    for (const auto& e : *entries) {
      auto detail = nlohmann::json::parse(e.detail_json, nullptr, false);
      items.push_back({{"id", e.id},
                       {"at", FormatRfc3339(FromUnixMillis(e.at))},
                       {"actor", e.actor},
                       {"action", e.action},
                       {"target", e.target},
                       {"detail", detail.is_discarded() ? nlohmann::json(nullptr) : detail}});
    }
    nlohmann::json next = nullptr;
    if (static_cast<int>(entries->size()) == limit && !entries->empty()) {
      next = std::to_string(entries->back().id);
    }
    return JsonResponse(200, {{"items", items}, {"next_cursor", next}});
  }

  // The web UI's sign-in sessions (session_api.cpp).
  void AddSessionRoutes();
  static std::optional<std::string> SessionIdOf(const Request& req);
  Result<Principal> AuthenticateSession(const Request& req, const std::string& id);
  Response CreateSession(const Request& req);
  Response GetSession(const Request& req);
  Response DeleteSession(const Request& req);

  void AddPipelineRoutes();
  Response CreateProject(const Request& req, const Principal& who);
  Response PatchProject(const Request& req, const std::string& name, const Principal& who);
  Response PutLink(const Request& req, const std::string& name, const Principal& who);
  Response PreviewLink(const Request& req, const std::string& name, const Principal& who);
  Response PostEvents(const Request& req, const Principal& who);
  Response PostScan(const Request& req, const std::string& name, const Principal& who);
  Response ListScans(const Request& req, const std::string& name, const Principal& who);
  Response ListFindings(const Request& req, const std::string& name, const Principal& who);
  Response GetFinding(const std::string& id, const Principal& who);
  Response PatchFinding(const Request& req, const std::string& id, const Principal& who);
  Response ListDeliveries(const Request& req, const Principal& who);
  Response RetryDelivery(const std::string& id, const Principal& who);

  ApiDeps d_;
  Router router_;
  MetricFamily* requests_ = nullptr;
  SessionStore sessions_{d_.clock};
  WebUi web_;
};

}  // namespace tocsin::api::internal
