// net/http_client.hpp — the outbound HTTP seam.
//
// Everything that talks to a Mattermost server goes through `HttpClient`, so the Mattermost
// client and its diagnosis are tested with a fake, and the libcurl implementation is tested once
// against real local servers. Failures below HTTP (DNS, refused, timeout, TLS) come back as a
// classified `NetError`, never as an exception; any HTTP status (including 4xx/5xx) is a
// successful `HttpResponse`.
//
// Threading: one HttpClient is used by one thread at a time (libcurl easy handles are not
// thread-safe); it keeps its connection alive between calls.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "core/secret.hpp"

namespace tocsin::net {

struct Header {
  std::string name;
  std::string value;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // absolute http(s) URL
  std::vector<Header> headers;
  std::string body;
  // Sent as "Authorization: Bearer <token>" to the request's own host only. Redirects are never
  // followed, so the token cannot reach another host.
  Secret bearer_token;
};

struct HttpResponse {
  long status = 0;
  std::vector<Header> headers;  // in received order; names as sent by the server
  std::string body;
  // Case-insensitive header lookup; nullopt when absent.
  std::optional<std::string> GetHeader(std::string_view name) const;
};

enum class NetErrorKind {
  kInvalidUrl,         // not an absolute http(s) URL, or a scheme other than http/https
  kDnsFailure,         // the host name did not resolve
  kConnectionRefused,  // something answered the SYN with RST: nothing listens on that port
  kUnreachable,        // no route to the host / network unreachable
  kConnectTimeout,     // no TCP (or TLS) connection within the connect timeout
  kTimeout,            // connected, but no complete answer within the total timeout
  kTlsUntrusted,       // certificate chain not trusted (self-signed, unknown CA)
  kTlsHostMismatch,    // certificate is for another host name
  kTlsExpired,         // certificate expired or not yet valid
  kTlsOther,           // handshake failed for another reason (protocol, bad CA file)
  kResponseTooLarge,   // the body exceeded HttpClientOptions::max_response_bytes
  kProtocol,           // malformed HTTP from the peer, connection reset mid-response
  kOther,
};

// Stable snake_case name ("connection_refused"), usable as a metrics label.
std::string_view NetErrorKindName(NetErrorKind kind);
// True for the four kTls* kinds.
bool IsTlsError(NetErrorKind kind);

struct NetError {
  NetErrorKind kind = NetErrorKind::kOther;
  std::string detail;  // libcurl's explanation; never contains the token
};

using HttpResult = tl::expected<HttpResponse, NetError>;

struct HttpClientOptions {
  bool insecure = false;  // skip certificate and host verification
  std::string ca_file;    // PEM bundle to trust instead of the system store ("" = system)
  Millis connect_timeout{5000};
  Millis total_timeout{15000};
  size_t max_response_bytes = 8 * 1024 * 1024;
  std::string user_agent;  // default kUserAgent ("tocsin/<version>")
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual HttpResult Send(const HttpRequest& request) = 0;
};

// libcurl implementation. Proxies come from the environment (http_proxy, https_proxy, no_proxy),
// as libcurl reads them. Only http and https are allowed.
std::unique_ptr<HttpClient> MakeCurlHttpClient(const HttpClientOptions& options);

// Must be called once at process start, before threads (curl_global_init).
void GlobalInit();

}  // namespace tocsin::net
