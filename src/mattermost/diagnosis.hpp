// mattermost/diagnosis.hpp — Test Connection: tell an admin exactly what is wrong.
//
// TestConnection() probes a Mattermost server with the given settings and classifies the outcome
// into one of the stable codes of SPEC §5 ("Test Connection codes"), each with a specific message
// and a hint saying what to do next. It never throws, never returns the token in any text, and
// always answers (the API wraps it in a 200).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/clock.hpp"
#include "core/secret.hpp"
#include "net/http_client.hpp"

namespace tocsin::mattermost {

struct ConnectionSettings {
  std::string url;  // base URL, e.g. https://chat.example.com or https://example.com/mattermost
  Secret token;
  bool insecure = false;
  std::string ca_file;
};

struct TokenOwner {
  std::string id;
  std::string username;
  bool is_bot = false;
};

// Codes, as in SPEC §5: ok, invalid_url, connection_failed, tls_error, not_mattermost,
// token_invalid, forbidden, channel_not_found, server_error.
struct TestResult {
  bool ok = false;
  std::string code;
  std::string message;
  std::string hint;
  std::string server_version;  // e.g. "9.11.2" from X-Version-Id; "" if unknown
  std::optional<TokenOwner> user;
  std::optional<std::string> channel_id;  // resolved id when a channel was checked
};

nlohmann::json ToJson(const TestResult& result);

// Checks, in order: URL shape; reachability + that it is a Mattermost API (GET /api/v4/system/ping);
// the token (GET /api/v4/users/me); and, when `channel` is given (a 26-char id or "team/channel"),
// that the channel exists and the token's user may post there.
// `make_client` builds the HttpClient for these settings (tests pass a fake or a real curl client).
// `timeout` bounds each request (connecting takes at most min(timeout, 5 s) of it); the ping is
// sent without the token, so a URL that is not Mattermost never receives it.
using HttpClientFactory = std::function<std::unique_ptr<net::HttpClient>(const net::HttpClientOptions&)>;
TestResult TestConnection(const ConnectionSettings& settings, const std::optional<std::string>& channel,
                          const HttpClientFactory& make_client, Millis timeout = Millis(10000));

// URL validation shared by Save and Test Connection: "" when fine, else what is wrong with it.
std::string ValidateBaseUrl(const std::string& url);

}  // namespace tocsin::mattermost
