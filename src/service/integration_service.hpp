// service/integration_service.hpp — the global Mattermost notification tool (SPEC §1, §5).
//
// Owns the rules of the settings resource: validation with field-level errors, the sealed token
// (never returned: only token_set and the last four characters), status bookkeeping (ok,
// auth_failed, failing, unknown) and the audit trail of every change. Test Connection runs the
// diagnosis in mattermost/ with the saved settings, or with unsaved ones overlaid on them.
// Thread-safe: all state lives in the Store.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "mattermost/diagnosis.hpp"
#include "security/crypto.hpp"
#include "store/store.hpp"

namespace tocsin::service {

// A partial update: absent members keep the stored value.
struct MattermostUpdate {
  std::optional<std::string> url;
  std::optional<Secret> token;
  std::optional<bool> insecure;
  std::optional<std::string> ca_file;
  std::optional<bool> active;
};

// What Test Connection may override (the drawer's unsaved values).
struct MattermostProbe {
  std::optional<std::string> url;
  std::optional<Secret> token;
  std::optional<bool> insecure;
  std::optional<std::string> ca_file;
  std::optional<std::string> channel;
};

// One field-level validation problem.
struct FieldError {
  std::string field;
  std::string message;
};

class IntegrationService {
 public:
  IntegrationService(store::Store& store, const security::MasterKey& key, const Clock& clock,
                     mattermost::HttpClientFactory http, Millis test_timeout)
      : store_(store), key_(key), clock_(clock), http_(std::move(http)),
        test_timeout_(test_timeout) {}

  // The public view of the settings (SPEC §5): never the token.
  Result<nlohmann::json> GetMattermost();
  // Every notification tool, for GET /api/v1/integrations.
  Result<nlohmann::json> ListIntegrations();
  // Validates and saves; on validation failure returns code "invalid_request" with the first
  // problem and fills `problems` with all of them.
  Result<nlohmann::json> SaveMattermost(const MattermostUpdate& update, const std::string& actor,
                                        std::vector<FieldError>* problems);
  // Deactivates and erases the stored token.
  Result<nlohmann::json> DeleteMattermost(const std::string& actor);
  // Always yields a TestResult (configuration gaps become invalid_url/token_invalid results);
  // an Error only when the store fails.
  Result<mattermost::TestResult> TestMattermost(const MattermostProbe& probe);

  // Called after every saved change (settings, deletion, a recorded test outcome), so caches of
  // the settings (the delivery engine's) refresh at once.
  void SetOnChange(std::function<void()> fn) { on_change_ = std::move(fn); }

  // For the delivery side (issue 3): the decrypted settings when active and complete.
  Result<std::optional<mattermost::ConnectionSettings>> ActiveConnection();

 private:
  nlohmann::json View(const std::optional<store::MattermostSettings>& s) const;

  store::Store& store_;
  const security::MasterKey& key_;
  const Clock& clock_;
  mattermost::HttpClientFactory http_;
  Millis test_timeout_;
  std::function<void()> on_change_;
};

}  // namespace tocsin::service
