// api/api.hpp — the HTTP API of SPEC §5: routes, authentication, error mapping.
//
// Handlers are thin: read the request strictly (json_input.hpp), call a service, map the result
// (responses.hpp). Authentication: `Authorization: Bearer <api token>` on every /api/v1 call;
// roles are checked per route. Request outcomes are counted in Metrics and logged without
// query strings or bodies (they may carry tokens).
#pragma once

#include <memory>

#include "api/http_server.hpp"
#include "config/config.hpp"
#include "core/metrics.hpp"
#include "service/auth_service.hpp"
#include "service/event_service.hpp"
#include "service/integration_service.hpp"
#include "service/project_service.hpp"
#include "store/store.hpp"

namespace tocsin::api {

struct ApiDeps {
  const config::Settings& settings;
  store::Store& store;
  service::AuthService& auth;
  service::IntegrationService& integrations;
  service::ProjectService& projects;
  service::EventService& events;
  store::PipelineStore& pipeline;
  Metrics& metrics;
  const Clock& clock;
  std::function<void()> wake_delivery;  // after a manual retry
};

// The server's request handler (all routes).
Handler MakeApiHandler(ApiDeps deps);
// Body size limit per route, from the settings (events 10 MiB, scans 512 MiB by default).
BodyLimit MakeBodyLimit(const config::Settings& settings);

}  // namespace tocsin::api
