// Test Connection: each failure becomes one SPEC §5 code with a message naming the cause and a
// hint naming the fix. The probe order matters: the unauthenticated ping proves the URL reaches a
// Mattermost API before the token is sent anywhere, then /users/me judges the token, then the
// channel lookups judge permissions.
#include "mattermost/diagnosis.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <nlohmann/json.hpp>

#include "core/strings.hpp"
#include "mattermost/client.hpp"
#include "net/url.hpp"

namespace tocsin::mattermost {
namespace {

constexpr size_t kIdLength = 26;
constexpr const char* kPingPath = "/api/v4/system/ping";

// Everything a message needs to name the cause precisely.
struct Probe {
  const ConnectionSettings& settings;
  net::Url url;
  std::string base;  // normalized base URL
  net::HttpClientOptions options;
};

TestResult Outcome(std::string code, std::string message, std::string hint) {
  TestResult r;
  r.ok = code == "ok";
  r.code = std::move(code);
  r.message = std::move(message);
  r.hint = std::move(hint);
  return r;
}

std::string Seconds(Millis ms) {
  if (ms.count() % 1000 == 0) return fmt::format("{} s", ms.count() / 1000);
  return fmt::format("{:.1f} s", static_cast<double>(ms.count()) / 1000.0);
}

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || StartsWith(host, "127.") || host == "[::1]";
}

std::string Who(const TokenOwner& owner) {
  return fmt::format("{} @{}", owner.is_bot ? "bot" : "user", owner.username);
}

std::string AddToChannelHint(const TokenOwner& owner, const std::string& channel_name) {
  const std::string target = channel_name.empty() ? "the channel" : "~" + channel_name;
  return fmt::format(
      "Add @{0} to {1}: in Mattermost open {1}, then Members › Add (or type /invite @{0} there). "
      "{2}",
      owner.username, target,
      owner.is_bot ? "A bot must be a member of the team and of the channel to post."
                   : "The token's user must be a member of the channel to post.");
}

// --- below HTTP ---------------------------------------------------------------------------

TestResult FromNetError(const net::NetError& e, const Probe& p) {
  const std::string where = p.url.HostPort();
  const std::string& detail = e.detail;
  switch (e.kind) {
    case net::NetErrorKind::kInvalidUrl:
      return Outcome("invalid_url", fmt::format("The URL cannot be used: {}", detail),
                     "Enter the address you open Mattermost at in a browser, e.g. "
                     "https://chat.example.com or https://example.com/mattermost.");
    case net::NetErrorKind::kDnsFailure:
      return Outcome(
          "connection_failed",
          fmt::format("Connection failed: the host name \"{}\" could not be resolved "
                      "(DNS lookup failed: {}).",
                      p.url.host, detail),
          "Check the spelling of the host in the URL and that this server's DNS "
          "resolves it (e.g. `getent hosts " +
              p.url.host +
              "` on the Tocsin host). If "
              "Tocsin must go through a proxy, set https_proxy / no_proxy in its environment.");
    case net::NetErrorKind::kConnectionRefused:
      return Outcome("connection_failed",
                     fmt::format("Connection failed: {} refused the connection (nothing is "
                                 "listening on port {}).",
                                 where, p.url.port),
                     "Check the port in the URL (Mattermost itself listens on 8065 by default; "
                     "behind a reverse proxy it is usually 443) and that Mattermost or its proxy "
                     "is running.");
    case net::NetErrorKind::kUnreachable:
      return Outcome("connection_failed",
                     fmt::format("Connection failed: {} is unreachable from this server (no route "
                                 "to the host or network: {}).",
                                 where, detail),
                     "Check that this server can reach that address: routing, firewall rules, "
                     "VPN. Verify the host in the URL.");
    case net::NetErrorKind::kConnectTimeout:
      return Outcome(
          "connection_failed",
          fmt::format("Connection failed: timed out after {} connecting to {} (the "
                      "connection attempt got no answer).",
                      Seconds(p.options.connect_timeout), where),
          "A firewall is probably dropping the traffic, or the host is down. Check that " + where +
              " is reachable from this server.");
    case net::NetErrorKind::kTimeout:
      return Outcome("connection_failed",
                     fmt::format("Connection failed: {} accepted the connection but sent no "
                                 "complete answer within {}.",
                                 where, Seconds(p.options.total_timeout)),
                     "The server, or a proxy in front of it, is hanging or overloaded. Check "
                     "Mattermost's health and the proxy's upstream settings, then test again.");
    case net::NetErrorKind::kTlsUntrusted:
      if (!p.settings.ca_file.empty()) {
        return Outcome("tls_error",
                       fmt::format("TLS error: the certificate of {} is not signed by a CA in the "
                                   "CA file {} ({}).",
                                   where, p.settings.ca_file, detail),
                       "Put the certificate of the CA that issued the server's certificate (and "
                       "any intermediate) into the CA file, in PEM format.");
      }
      return Outcome("tls_error",
                     fmt::format("TLS error: the certificate of {} is not trusted: it is "
                                 "self-signed or issued by an unknown CA ({}).",
                                 where, detail),
                     "Give the CA certificate that issued it as CA file (PEM), or, for a "
                     "self-signed certificate you trust, enable Insecure to skip verification.");
    case net::NetErrorKind::kTlsHostMismatch:
      return Outcome("tls_error",
                     fmt::format("TLS error: the certificate of {} was issued for another host "
                                 "name than \"{}\" ({}).",
                                 where, p.url.host, detail),
                     "Use the host name the certificate was issued for in the URL (for example "
                     "the public name instead of an IP address), or fix the certificate. Insecure "
                     "would skip this check, at the cost of all protection.");
    case net::NetErrorKind::kTlsExpired:
      return Outcome("tls_error",
                     fmt::format("TLS error: the certificate of {} has expired or is not valid "
                                 "yet ({}).",
                                 where, detail),
                     "Renew the server's certificate, and check that this server's clock is "
                     "right. Insecure would skip this check, but fix the certificate instead.");
    case net::NetErrorKind::kTlsOther:
      if (!p.settings.ca_file.empty() && detail.find(p.settings.ca_file) != std::string::npos) {
        return Outcome("tls_error",
                       fmt::format("TLS error: the CA file {} could not be used ({}).",
                                   p.settings.ca_file, detail),
                       "Give the path of a readable PEM file with the CA certificate(s) on the "
                       "Tocsin server, or clear CA file to use the system's CAs.");
      }
      return Outcome(
          "tls_error",
          fmt::format("TLS error: the TLS handshake with {} failed ({}).", where, detail),
          p.url.scheme == "https"
              ? "Check that this port speaks TLS (for a plain-HTTP port use http://) "
                "and that the server supports TLS 1.2 or newer."
              : "Check the TLS settings of the server.");
    case net::NetErrorKind::kResponseTooLarge:
      return Outcome("not_mattermost",
                     fmt::format("{} answered with an unexpectedly large response ({}), not "
                                 "Mattermost's API.",
                                 where, detail),
                     "Check the base URL: it should be the address of Mattermost itself.");
    case net::NetErrorKind::kProtocol:
      return Outcome(
          "not_mattermost",
          fmt::format("{} answered, but not with a valid HTTP response ({}).", where, detail),
          p.url.scheme == "http"
              ? "Check the scheme and port: if this port serves TLS, use https://. "
                "Make sure the URL points at Mattermost or its reverse proxy."
              : "Check the port: make sure the URL points at Mattermost or its "
                "reverse proxy.");
    case net::NetErrorKind::kOther:
      break;
  }
  return Outcome("connection_failed",
                 fmt::format("Connection failed: could not talk to {} ({}).", where, detail),
                 "Verify the URL and that the server is reachable from this server.");
}

// --- HTTP answers that no step expects ------------------------------------------------------

std::string SubpathHint(const Probe& p) {
  if (p.url.path.empty() || p.url.path == "/") {
    return "Check the base URL. If Mattermost is served under a subpath (e.g. "
           "https://example.com/mattermost), include the subpath.";
  }
  return fmt::format(
      "Check the base URL: is \"{}\" the right subpath? Enter the address you open Mattermost "
      "at in a browser, without /api/v4.",
      p.url.path);
}

// A 3xx: say where it goes; a redirect of the ping to <prefix>/api/v4/system/ping means the
// prefix is the base URL to use (typically a missing subpath, API-FACTS §10).
TestResult FromRedirect(const ApiError& e, const Probe& p, const std::string& requested_path) {
  std::string location = e.location;
  if (StartsWith(location, "/")) location = p.url.Origin() + location;
  if (location.empty()) {
    return Outcome("not_mattermost",
                   fmt::format("{} answered with a redirect (HTTP {}) without a location, not "
                               "with Mattermost's API.",
                               p.url.HostPort(), e.http_status),
                   SubpathHint(p));
  }
  const std::string without_query = location.substr(0, location.find('?'));
  if (!requested_path.empty() && EndsWith(without_query, requested_path)) {
    const std::string suggested =
        NormalizeBaseUrl(without_query.substr(0, without_query.size() - requested_path.size()));
    auto target = net::ParseHttpUrl(suggested);
    if (target && target->scheme != p.url.scheme && target->host == p.url.host &&
        target->path == p.url.path) {
      return Outcome("not_mattermost",
                     fmt::format("The server redirects {}:// to {}:// (HTTP {} to {}).",
                                 p.url.scheme, target->scheme, e.http_status, location),
                     fmt::format("Use {} as the URL.", suggested));
    }
    if (target) {
      return Outcome("not_mattermost",
                     fmt::format("The server redirects the API to {} (HTTP {}): Mattermost is "
                                 "served at {}, not at {}. This is usually a missing subpath.",
                                 location, e.http_status, suggested, p.base),
                     fmt::format("Use {} as the URL.", suggested));
    }
  }
  return Outcome("not_mattermost",
                 fmt::format("The server redirects the API request to {} (HTTP {}), probably a "
                             "login page or another site, not Mattermost's API.",
                             location, e.http_status),
                 "Point the URL at Mattermost itself. A proxy that demands a login in front of "
                 "Mattermost must let API requests through.");
}

TestResult FromServerError(const ApiError& e, const Probe& p) {
  const std::string where = p.url.HostPort();
  if (e.mattermost_error_body) {
    return Outcome(
        "server_error",
        fmt::format("Mattermost answered HTTP {}: {} [{}].", e.http_status, e.message, e.id),
        e.request_id.empty()
            ? "Check Mattermost's logs (System Console › Server Logs), then test again."
            : fmt::format("Check Mattermost's logs (System Console › Server Logs) "
                          "for request id {}, then test again.",
                          e.request_id));
  }
  if (e.message.find("UNHEALTHY") != std::string::npos) {
    return Outcome("server_error",
                   fmt::format("Mattermost at {} reports itself unhealthy (HTTP {}: {}).", where,
                               e.http_status, e.message),
                   "Check Mattermost's database and file storage and its logs, then test again.");
  }
  if (e.http_status == 502 || e.http_status == 503 || e.http_status == 504) {
    return Outcome("server_error",
                   fmt::format("{} answered HTTP {} ({}): a proxy in front of Mattermost could "
                               "not get an answer from it, or Mattermost is unavailable.",
                               where, e.http_status, e.message),
                   "Check that Mattermost is running and that the proxy's upstream address is "
                   "right, then test again.");
  }
  return Outcome("server_error",
                 fmt::format("{} answered HTTP {} ({}).", where, e.http_status, e.message),
                 "Check the server's logs, then test again.");
}

TestResult FromRateLimit(const ApiError& e) {
  std::string when = e.retry_after ? fmt::format(" for {}", Seconds(*e.retry_after)) : "";
  return Outcome("server_error",
                 fmt::format("Mattermost is rate limiting this client (HTTP 429){}.", when),
                 "Wait and test again. If deliveries hit this often, lower Tocsin's "
                 "mattermost.rate_per_second or raise the server's RateLimitSettings.");
}

// The token check and channel checks share this for answers they have no specific meaning for.
TestResult FromUnexpected(const ApiError& e, const Probe& p, const std::string& what) {
  if (e.net_error) return FromNetError(*e.net_error, p);
  if (e.invalid_body) {
    return Outcome("not_mattermost",
                   fmt::format("{} answered {} with something that is not Mattermost's API: {}.",
                               p.url.HostPort(), what, e.message),
                   SubpathHint(p));
  }
  if (e.http_status >= 300 && e.http_status <= 399) return FromRedirect(e, p, "");
  if (e.http_status == 429) return FromRateLimit(e);
  if (e.http_status >= 500) return FromServerError(e, p);
  if (!e.mattermost_error_body) {
    return Outcome("not_mattermost",
                   fmt::format("{} answered {} with HTTP {} ({}), not as Mattermost would.",
                               p.url.HostPort(), what, e.http_status, e.message),
                   SubpathHint(p));
  }
  return Outcome("server_error",
                 fmt::format("Mattermost answered {} with HTTP {}: {} [{}].", what, e.http_status,
                             e.message, e.id),
                 "Check Mattermost's logs (System Console › Server Logs) and its version.");
}

// --- steps ----------------------------------------------------------------------------------

TestResult FromPingError(const ApiError& e, const Probe& p) {
  if (e.net_error) return FromNetError(*e.net_error, p);
  const std::string where = p.url.HostPort();
  if (e.invalid_body) {
    return Outcome("not_mattermost",
                   fmt::format("{} is not a Mattermost API: {}{} answered with {}.", p.base, p.base,
                               kPingPath, e.body_summary),
                   SubpathHint(p));
  }
  if (e.http_status >= 300 && e.http_status <= 399) return FromRedirect(e, p, kPingPath);
  if (e.http_status == 404) {
    return Outcome("not_mattermost",
                   fmt::format("There is no Mattermost API at {}: {}{} answered HTTP 404 ({}).",
                               p.base, p.base, kPingPath, e.message),
                   SubpathHint(p));
  }
  if (e.http_status == 401) {
    return Outcome("not_mattermost",
                   fmt::format("{} demands HTTP authentication even for Mattermost's public ping "
                               "(HTTP 401): something in front of Mattermost (a proxy?) blocks "
                               "the API.",
                               where),
                   "Point the URL at Mattermost itself, or let the proxy pass /api/v4 requests "
                   "that carry a Bearer token.");
  }
  if (e.http_status == 407) {
    return Outcome("connection_failed",
                   "Connection failed: the HTTP proxy from Tocsin's environment requires "
                   "authentication (HTTP 407).",
                   "Put the proxy credentials into https_proxy / http_proxy, or add the "
                   "Mattermost host to no_proxy.");
  }
  if (e.http_status == 429) return FromRateLimit(e);
  if (e.http_status >= 500) return FromServerError(e, p);
  return Outcome("not_mattermost",
                 fmt::format("{} answered Mattermost's ping with HTTP {} ({}): not a Mattermost "
                             "API, or something in front of it blocks the request.",
                             where, e.http_status, e.message),
                 SubpathHint(p));
}

// Why a token can look wrong, without quoting any of it.
std::string TokenShapeNote(const std::string& token) {
  if (StartsWith(ToLower(token), "bearer ")) {
    return " The token starts with \"Bearer \": paste only the token itself.";
  }
  if (std::any_of(token.begin(), token.end(),
                  [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
    return " The token contains spaces or line breaks: paste only the token itself.";
  }
  const bool alnum = std::all_of(token.begin(), token.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c));
  });
  if (token.size() != kIdLength || !alnum) {
    return fmt::format(
        " The token given is {} characters long{}; Mattermost tokens are {} letters "
        "and digits, so it may be incomplete or something else.",
        token.size(), alnum ? "" : " and contains other characters", kIdLength);
  }
  return {};
}

TestResult TokenInvalid(const Probe& p) {
  return Outcome(
      "token_invalid",
      "Mattermost rejected the token (HTTP 401). The server gives the same answer for every "
      "cause, so it is one of: the token is mistyped, revoked or expired; its user or bot account "
      "is deactivated (deactivating a bot's owner can disable the bot); or it is a personal "
      "access token and personal access tokens are turned off (System Console › Integrations › "
      "Integration Management; bot tokens are not affected)." +
          TokenShapeNote(p.settings.token.Reveal()),
      "Create a new token (System Console › Integrations › Bot Accounts › Create New Token for a "
      "bot, or Profile › Security › Personal Access Tokens for a user), check the account is "
      "active, and update the token here.");
}

TestResult FromMeError(const ApiError& e, const Probe& p) {
  if (e.http_status == 401) return TokenInvalid(p);
  if (e.http_status == 403) {
    return Outcome("forbidden",
                   fmt::format("Mattermost accepted the token but refuses to show its account "
                               "(HTTP 403: {}).",
                               e.message),
                   "Check the account's roles and any permission scheme restricting it; a "
                   "token for a normal active user or bot can read its own profile.");
  }
  if (e.http_status == 404 && !e.mattermost_error_body) return FromPingError(e, p);
  return FromUnexpected(e, p, "/api/v4/users/me");
}

constexpr const char* kChannelSpecHint =
    "Give the channel as team-name/channel-name, as in its URL "
    "(https://chat.example.com/<team-name>/channels/<channel-name>), or as its 26-character id "
    "(channel menu › View Info).";

std::string UpperCaseNote(const ChannelRef& ref) {
  auto has_upper = [](const std::string& s) {
    return std::any_of(s.begin(), s.end(),
                       [](char c) { return std::isupper(static_cast<unsigned char>(c)); });
  };
  return has_upper(ref.team) || has_upper(ref.name) ? " Mattermost's URL names are lower-case."
                                                    : "";
}

std::string ChannelLabel(const Channel& c) {
  if (c.display_name.empty() || c.display_name == c.name) return "~" + c.name;
  return fmt::format("~{} (\"{}\")", c.name, c.display_name);
}

// Returns the resolved channel, or the outcome to report.
tl::expected<Channel, TestResult> ResolveChannel(Client& client, const ChannelRef& ref,
                                                 const TokenOwner& owner, const Probe& p) {
  if (!ref.id.empty()) {
    auto channel = client.GetChannel(ref.id);
    if (channel) return *channel;
    const ApiError& e = channel.error();
    if (e.http_status == 404 && e.mattermost_error_body) {
      return tl::unexpected(Outcome(
          "channel_not_found",
          fmt::format("Channel not found: there is no channel with id {} on this server.", ref.id),
          "Check the channel id (channel menu › View Info in Mattermost), or give the channel as "
          "team-name/channel-name."));
    }
    if (e.http_status == 403) {
      return tl::unexpected(Outcome(
          "forbidden",
          fmt::format(
              "The {} may not see channel {}: it is a private channel the {} is not a member "
              "of, or in a team the {} has not joined.",
              Who(owner), ref.id, owner.is_bot ? "bot" : "user", owner.is_bot ? "bot" : "user"),
          fmt::format("Add @{} to the channel's team and then to the channel (channel menu › "
                      "Members › Add).",
                      owner.username)));
    }
    if (e.http_status == 401) return tl::unexpected(TokenInvalid(p));
    return tl::unexpected(FromUnexpected(e, p, "/api/v4/channels/" + ref.id));
  }
  auto channel = client.GetChannelByName(ref.team, ref.name);
  if (channel) return *channel;
  const ApiError& e = channel.error();
  if (e.http_status == 404 && e.id == "app.team.get_by_name.missing.app_error") {
    return tl::unexpected(
        Outcome("channel_not_found",
                fmt::format("Team not found: there is no team named \"{}\".{}", ref.team,
                            UpperCaseNote(ref)),
                "Use the team's URL name (https://chat.example.com/<team-name>/…), not its display "
                "name."));
  }
  if (e.http_status == 404 && e.mattermost_error_body) {
    return tl::unexpected(Outcome(
        "channel_not_found",
        fmt::format("Channel not found: team \"{}\" has no channel named \"{}\" that {} can see: "
                    "it does not exist, is archived, or is private and the {} is not a member."
                    "{}",
                    ref.team, ref.name, Who(owner), owner.is_bot ? "bot" : "user",
                    UpperCaseNote(ref)),
        fmt::format("Check the channel's URL name (https://chat.example.com/{}/channels/<name>). "
                    "For a private channel, add @{} to it first.",
                    ref.team, owner.username)));
  }
  if (e.http_status == 403) {
    return tl::unexpected(Outcome(
        "forbidden",
        fmt::format(
            "The {} is not a member of team \"{}\", so it cannot see or post to its channels.",
            Who(owner), ref.team),
        fmt::format("Add @{} to team \"{}\" (team menu › Add Members, or System Console › Teams), "
                    "then to the channel.",
                    owner.username, ref.team)));
  }
  if (e.http_status == 401) return tl::unexpected(TokenInvalid(p));
  return tl::unexpected(FromUnexpected(e, p, "the channel lookup"));
}

std::string OkHints(const Probe& p, const TokenOwner& owner) {
  std::vector<std::string> hints;
  if (p.url.scheme == "https" && p.settings.insecure) {
    hints.push_back(
        "Certificate verification is off (Insecure): giving the server's CA file "
        "instead keeps protection against interception.");
  }
  if (p.url.scheme == "http" && !IsLoopbackHost(p.url.host)) {
    hints.push_back(
        "The URL uses plain http://, so the token travels unencrypted: use https:// "
        "if the server offers it.");
  }
  if (!owner.is_bot) {
    hints.push_back(
        fmt::format("This is a personal access token of user @{}: posts will appear "
                    "as that user. A bot account is recommended.",
                    owner.username));
  }
  std::string out;
  for (const auto& h : hints) out += (out.empty() ? "" : " ") + h;
  return out;
}

TestResult Run(const ConnectionSettings& settings, const std::optional<std::string>& channel,
               const HttpClientFactory& make_client, Millis timeout) {
  const std::string base = NormalizeBaseUrl(settings.url);
  if (std::string why = ValidateBaseUrl(base); !why.empty()) {
    return Outcome("invalid_url", why,
                   "Enter the address you open Mattermost at in a browser, e.g. "
                   "https://chat.example.com or https://example.com/mattermost.");
  }
  net::HttpClientOptions options;
  options.insecure = settings.insecure;
  options.ca_file = settings.ca_file;
  options.total_timeout = timeout;
  options.connect_timeout = std::min(timeout, Millis(5000));
  Probe p{settings, *net::ParseHttpUrl(base), base, options};

  std::unique_ptr<net::HttpClient> http = make_client ? make_client(options) : nullptr;
  if (!http) {
    return Outcome("connection_failed", "Connection failed: no HTTP client could be created.",
                   "This is a bug in Tocsin; please report it.");
  }
  Client client(*http, base, settings.token);

  auto ping = client.Ping();
  if (!ping) return FromPingError(ping.error(), p);
  const std::string version = ping->version;

  if (settings.token.empty()) {
    TestResult r = Outcome("token_invalid", "No access token was given.",
                           "Paste the token of a bot account or a personal access token (see "
                           "docs/mattermost-setup.md).");
    r.server_version = version;
    return r;
  }
  auto me = client.GetMe();
  if (!me) {
    TestResult r = FromMeError(me.error(), p);
    r.server_version = version;
    return r;
  }
  const TokenOwner owner{me->id, me->username, me->is_bot};

  std::optional<Channel> checked;
  if (channel && !Trim(*channel).empty()) {
    const ChannelRef ref = ParseChannelRef(*channel);
    TestResult failure;
    if (!ref.problem.empty()) {
      failure = Outcome("channel_not_found", ref.problem, kChannelSpecHint);
    } else if (auto resolved = ResolveChannel(client, ref, owner, p); !resolved) {
      failure = std::move(resolved.error());
    } else if (resolved->delete_at > 0) {
      failure = Outcome("channel_not_found",
                        fmt::format("Channel {} ({}) is archived: Mattermost refuses posts to "
                                    "archived channels.",
                                    ChannelLabel(*resolved), resolved->id),
                        "Unarchive the channel in Mattermost, or choose another one.");
    } else if (auto member = client.GetMyChannelMembership(resolved->id); !member) {
      const ApiError& e = member.error();
      if (e.http_status == 403 || e.http_status == 404) {
        failure =
            Outcome("forbidden",
                    fmt::format("The {} is not a member of channel {}, so it cannot post there.",
                                Who(owner), ChannelLabel(*resolved)),
                    AddToChannelHint(owner, resolved->name));
      } else if (e.http_status == 401) {
        failure = TokenInvalid(p);
      } else {
        failure = FromUnexpected(e, p, "the channel membership check");
      }
    } else {
      checked = std::move(*resolved);
    }
    if (!checked) {
      failure.server_version = version;
      failure.user = owner;
      return failure;
    }
  }

  std::string message = fmt::format("Connection successful: Mattermost {}, token of {}",
                                    version.empty() ? "(version unknown)" : version, Who(owner));
  if (checked) message += fmt::format(", can post to {}", ChannelLabel(*checked));
  TestResult r = Outcome("ok", message + ".", OkHints(p, owner));
  r.server_version = version;
  r.user = owner;
  if (checked) r.channel_id = checked->id;
  return r;
}

// Every text that leaves TestConnection goes through here. Very short "tokens" are not redacted:
// they cannot be real tokens, and redacting them would garble every message.
void RedactResult(TestResult& r, const std::string& token) {
  if (token.size() < 6) return;
  r.message = Redact(std::move(r.message), token);
  r.hint = Redact(std::move(r.hint), token);
  r.server_version = Redact(std::move(r.server_version), token);
  if (r.user) {
    r.user->id = Redact(std::move(r.user->id), token);
    r.user->username = Redact(std::move(r.user->username), token);
  }
  if (r.channel_id) r.channel_id = Redact(std::move(*r.channel_id), token);
}

}  // namespace

std::string ValidateBaseUrl(const std::string& url) {
  auto parsed = net::ParseHttpUrl(url);
  if (!parsed) return "The URL is not valid: " + parsed.error() + ".";
  if (parsed->has_query)
    return "The URL must not contain a query (?…): give the base address only.";
  if (parsed->has_fragment)
    return "The URL must not contain a fragment (#…): give the base address only.";
  std::string path = parsed->path;
  while (EndsWith(path, "/")) path.pop_back();
  if (EndsWith(ToLower(path), "/api/v4") || ToLower(path).find("/api/v4/") != std::string::npos) {
    const std::string lower = ToLower(path);
    const std::string base = parsed->Origin() + path.substr(0, lower.find("/api/v4"));
    return fmt::format("The URL must be the server's base address, without /api/v4: use {}.", base);
  }
  if (path.find("//") != std::string::npos) return "The URL's path contains \"//\".";
  return {};
}

TestResult TestConnection(const ConnectionSettings& settings,
                          const std::optional<std::string>& channel,
                          const HttpClientFactory& make_client, Millis timeout) {
  TestResult result;
  try {
    result = Run(settings, channel, make_client, timeout);
  } catch (const std::exception& e) {
    // Nothing below should throw; if it does, the admin still gets an answer.
    result =
        Outcome("server_error", fmt::format("Test Connection failed unexpectedly: {}.", e.what()),
                "This is a bug in Tocsin; please report it with the server's logs.");
  }
  RedactResult(result, settings.token.Reveal());
  return result;
}

nlohmann::json ToJson(const TestResult& result) {
  nlohmann::json j = {{"ok", result.ok},
                      {"code", result.code},
                      {"message", result.message},
                      {"hint", result.hint},
                      {"server_version", result.server_version}};
  if (result.user) {
    j["user"] = {{"id", result.user->id},
                 {"username", result.user->username},
                 {"is_bot", result.user->is_bot}};
  } else {
    j["user"] = nullptr;
  }
  if (result.channel_id) j["channel_id"] = *result.channel_id;
  return j;
}

}  // namespace tocsin::mattermost
