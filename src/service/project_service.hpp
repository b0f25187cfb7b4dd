// service/project_service.hpp — projects and their Mattermost links (SPEC §1, §5): validation,
// audit, "Send test message" and the preview dry run.
// Thread-safe: state lives in the store.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "domain/types.hpp"
#include "ingest/event_reader.hpp"
#include "mattermost/diagnosis.hpp"
#include "service/auth_service.hpp"
#include "service/integration_service.hpp"
#include "store/pipeline.hpp"

namespace tocsin::service {

nlohmann::json ProjectToJson(const domain::Project& p);
nlohmann::json LinkToJson(const domain::ProjectLink& link);
// Reads a link from the PUT body, naming the first bad field by JSON pointer.
Result<domain::ProjectLink> LinkFromJson(const nlohmann::json& body);

struct ProjectPatch {
  std::optional<std::string> display_name;
  std::optional<std::string> url;
};

class ProjectService {
 public:
  ProjectService(store::PipelineStore& store, IntegrationService& integrations,
                 const Clock& clock, mattermost::HttpClientFactory http, std::string public_url)
      : store_(store), integrations_(integrations), clock_(clock), http_(std::move(http)),
        public_url_(std::move(public_url)) {}

  Result<domain::Project> Create(const domain::Project& project, const Principal& actor);
  Result<domain::Project> Get(const std::string& name, const Principal& actor);
  Result<std::vector<domain::Project>> List(const Principal& actor, int limit,
                                            const std::string& after);
  Result<domain::Project> Update(const std::string& name, const ProjectPatch& patch,
                                 const Principal& actor);
  Result<void> Delete(const std::string& name, const Principal& actor);

  Result<domain::ProjectLink> GetLink(const std::string& project, const Principal& actor);
  Result<domain::ProjectLink> SaveLink(const std::string& project, const domain::ProjectLink& link,
                                       const Principal& actor);
  // Posts a test message to every route's channel now; one result per channel.
  Result<nlohmann::json> SendTestMessages(const std::string& project, const Principal& actor);
  // Which routes an event would match and the exact post each would get; posts nothing.
  Result<nlohmann::json> Preview(const std::string& project, const ingest::EventInput& event,
                                 const Principal& actor);

 private:
  Result<domain::Project> Visible(const std::string& name, const Principal& actor);

  store::PipelineStore& store_;
  IntegrationService& integrations_;
  const Clock& clock_;
  mattermost::HttpClientFactory http_;
  std::string public_url_;
};

}  // namespace tocsin::service
