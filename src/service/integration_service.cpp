#include "service/integration_service.hpp"

#include <unistd.h>

#include <filesystem>

#include "core/strings.hpp"

namespace tocsin::service {

namespace {

nlohmann::json LastTest(const std::string& stored) {
  if (stored.empty()) return nullptr;
  auto parsed = nlohmann::json::parse(stored, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? nlohmann::json(nullptr) : parsed;
}

std::string ValidateCaFile(const std::string& path) {
  if (path.empty()) return {};
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return "CA file " + path + " does not exist or is not a regular file on this server";
  }
  if (::access(path.c_str(), R_OK) != 0) return "CA file " + path + " is not readable by Tocsin";
  return {};
}

}  // namespace

nlohmann::json IntegrationService::View(const std::optional<store::MattermostSettings>& s) const {
  if (!s) {
    return {{"url", ""},          {"insecure", false}, {"ca_file", ""},
            {"active", false},    {"token_set", false}, {"token_hint", ""},
            {"status", "unknown"}, {"last_test", nullptr}, {"updated_at", nullptr}};
  }
  return {{"url", s->url},
          {"insecure", s->insecure},
          {"ca_file", s->ca_file},
          {"active", s->active},
          {"token_set", !s->token_sealed.empty()},
          {"token_hint", s->token_hint},
          {"status", s->status},
          {"last_test", LastTest(s->last_test_json)},
          {"updated_at", s->updated_at ? nlohmann::json(FormatRfc3339(FromUnixMillis(s->updated_at)))
                                       : nlohmann::json(nullptr)}};
}

Result<nlohmann::json> IntegrationService::GetMattermost() {
  auto s = store_.GetMattermostSettings();
  if (!s) return Unexpected(s.error());
  return View(*s);
}

Result<nlohmann::json> IntegrationService::ListIntegrations() {
  auto s = store_.GetMattermostSettings();
  if (!s) return Unexpected(s.error());
  const auto& v = *s;
  nlohmann::json item = {
      {"name", "mattermost"},
      {"title", "Mattermost"},
      {"active", v && v->active},
      {"configured", v && !v->url.empty() && !v->token_sealed.empty()},
      {"status", v ? v->status : "unknown"},
      {"last_test", v ? LastTest(v->last_test_json) : nlohmann::json(nullptr)}};
  return nlohmann::json{{"items", nlohmann::json::array({item})}, {"next_cursor", nullptr}};
}

Result<nlohmann::json> IntegrationService::SaveMattermost(const MattermostUpdate& update,
                                                          const std::string& actor,
                                                          std::vector<FieldError>* problems) {
  auto current = store_.GetMattermostSettings();
  if (!current) return Unexpected(current.error());
  store::MattermostSettings next = current->value_or(store::MattermostSettings{});
  const bool first_save = !current->has_value();
  std::vector<FieldError> errors;
  std::vector<std::string> changed;

  if (update.url) {
    std::string url(Trim(*update.url));
    while (EndsWith(url, "/")) url.pop_back();
    if (auto why = mattermost::ValidateBaseUrl(url); !why.empty()) {
      errors.push_back({"url", why});
    } else if (url != next.url) {
      next.url = url;
      changed.push_back("url");
    }
  } else if (next.url.empty()) {
    errors.push_back({"url", "url is required: the address of your Mattermost server, e.g. "
                             "https://chat.example.com"});
  }
  if (update.token) {
    const std::string_view t = Trim(update.token->Reveal());
    if (t.empty()) {
      errors.push_back({"token", "token must not be empty; leave it out to keep the stored one"});
    } else if (t.size() > 512) {
      errors.push_back({"token", "token is longer than 512 characters: paste only the token"});
    } else {
      Secret trimmed{std::string(t)};
      next.token_sealed = key_.Seal(trimmed);
      next.token_hint = trimmed.Hint();
      changed.push_back("token");
    }
  } else if (next.token_sealed.empty()) {
    errors.push_back({"token", "token is required: a bot access token or a personal access "
                               "token (see docs/mattermost-setup.md)"});
  }
  if (update.insecure && *update.insecure != next.insecure) {
    next.insecure = *update.insecure;
    changed.push_back("insecure");
  }
  if (update.ca_file) {
    if (auto why = ValidateCaFile(*update.ca_file); !why.empty()) {
      errors.push_back({"ca_file", why});
    } else if (*update.ca_file != next.ca_file) {
      next.ca_file = *update.ca_file;
      changed.push_back("ca_file");
    }
  }
  const bool want_active = update.active.value_or(first_save ? true : next.active);
  if (want_active != next.active || first_save) {
    next.active = want_active;
    changed.push_back("active");
  }

  if (!errors.empty()) {
    if (problems) *problems = errors;
    return Fail("invalid_request", errors.front().field + ": " + errors.front().message,
                "fix the fields named in the error and save again", errors.front().field);
  }
  // A new address or token invalidates what the last test said; a new token also lifts an
  // auth_failed pause (SPEC §4).
  for (const auto& c : changed) {
    if (c == "url" || c == "token" || c == "insecure" || c == "ca_file") {
      next.status = "unknown";
      break;
    }
  }
  next.updated_at = ToUnixMillis(clock_.Now());
  store::AuditEntry audit;
  audit.at = next.updated_at;
  audit.actor = actor;
  audit.action = first_save ? "integration.mattermost.create" : "integration.mattermost.update";
  audit.target = "integration:mattermost";
  audit.detail_json = nlohmann::json{{"changed", changed},
                                     {"url", next.url},
                                     {"insecure", next.insecure},
                                     {"active", next.active}}
                          .dump();
  if (auto r = store_.SaveMattermostSettings(next, audit); !r) return Unexpected(r.error());
  if (on_change_) on_change_();
  return View(next);
}

Result<nlohmann::json> IntegrationService::DeleteMattermost(const std::string& actor) {
  auto current = store_.GetMattermostSettings();
  if (!current) return Unexpected(current.error());
  store::MattermostSettings next = current->value_or(store::MattermostSettings{});
  next.active = false;
  next.token_sealed.clear();
  next.token_hint.clear();
  next.status = "unknown";
  next.updated_at = ToUnixMillis(clock_.Now());
  store::AuditEntry audit;
  audit.at = next.updated_at;
  audit.actor = actor;
  audit.action = "integration.mattermost.delete";
  audit.target = "integration:mattermost";
  audit.detail_json = R"({"changed":["active","token"]})";
  if (auto r = store_.SaveMattermostSettings(next, audit); !r) return Unexpected(r.error());
  if (on_change_) on_change_();
  return View(next);
}

Result<mattermost::TestResult> IntegrationService::TestMattermost(const MattermostProbe& probe) {
  auto current = store_.GetMattermostSettings();
  if (!current) return Unexpected(current.error());
  const store::MattermostSettings saved = current->value_or(store::MattermostSettings{});

  mattermost::ConnectionSettings cs;
  cs.url = probe.url ? std::string(Trim(*probe.url)) : saved.url;
  while (EndsWith(cs.url, "/")) cs.url.pop_back();
  cs.insecure = probe.insecure.value_or(saved.insecure);
  cs.ca_file = probe.ca_file.value_or(saved.ca_file);
  bool uses_saved_token = false;
  if (probe.token && !Trim(probe.token->Reveal()).empty()) {
    cs.token = Secret(std::string(Trim(probe.token->Reveal())));
  } else if (!saved.token_sealed.empty()) {
    auto opened = key_.Open(saved.token_sealed);
    if (!opened) return Unexpected(opened.error());
    cs.token = std::move(*opened);
    uses_saved_token = true;
  }

  mattermost::TestResult result;
  if (cs.url.empty()) {
    result.code = "invalid_url";
    result.message = "No Mattermost URL is configured";
    result.hint = "Enter the address of your Mattermost server, e.g. https://chat.example.com";
  } else if (cs.token.empty()) {
    result.code = "token_invalid";
    result.message = "No access token is configured";
    result.hint = "Paste a bot access token or a personal access token (see "
                  "docs/mattermost-setup.md)";
  } else if (auto why = ValidateCaFile(cs.ca_file); !why.empty()) {
    result.code = "tls_error";
    result.message = why;
    result.hint = "Give the path of a readable PEM file on the Tocsin server, or clear CA file";
  } else {
    result = mattermost::TestConnection(cs, probe.channel, http_, test_timeout_);
  }

  // Record the outcome when it speaks about the saved configuration: a success lifts an
  // auth_failed pause, a 401 sets it (SPEC §4).
  const bool about_saved = current->has_value() && cs.url == saved.url && uses_saved_token &&
                           cs.insecure == saved.insecure && cs.ca_file == saved.ca_file;
  if (about_saved) {
    // forbidden / channel_not_found mean the token itself was accepted.
    const bool token_works = result.ok || result.code == "forbidden" ||
                             result.code == "channel_not_found";
    const std::string status = token_works                       ? "ok"
                               : result.code == "token_invalid" ? "auth_failed"
                                                                : "failing";
    nlohmann::json last = {{"at", FormatRfc3339(clock_.Now())},
                           {"ok", result.ok},
                           {"code", result.code},
                           {"message", result.message}};
    if (auto r = store_.UpdateMattermostStatus(status, last.dump()); !r) {
      return Unexpected(r.error());
    }
    if (on_change_) on_change_();
  }
  return result;
}

Result<std::optional<mattermost::ConnectionSettings>> IntegrationService::ActiveConnection() {
  auto current = store_.GetMattermostSettings();
  if (!current) return Unexpected(current.error());
  if (!*current || !(*current)->active || (*current)->token_sealed.empty() ||
      (*current)->url.empty()) {
    return std::optional<mattermost::ConnectionSettings>{};
  }
  auto token = key_.Open((*current)->token_sealed);
  if (!token) return Unexpected(token.error());
  mattermost::ConnectionSettings cs;
  cs.url = (*current)->url;
  cs.token = std::move(*token);
  cs.insecure = (*current)->insecure;
  cs.ca_file = (*current)->ca_file;
  return std::optional<mattermost::ConnectionSettings>(std::move(cs));
}

}  // namespace tocsin::service
