// CurlHttpClient: HttpClient over one reused libcurl easy handle.
//
// The handle is reset (curl_easy_reset keeps live connections, the DNS cache and TLS sessions)
// and fully re-configured for every request, so no option of one request can leak into the next,
// while the connection itself is kept alive. Nothing here logs: the caller decides what to say.
#include <curl/curl.h>
#include <fmt/format.h>
#include <sodium.h>

#include <cstring>
#include <mutex>

#include "core/strings.hpp"
#include "core/version.hpp"
#include "net/curl_error.hpp"
#include "net/http_client.hpp"
#include "net/url.hpp"

namespace tocsin::net {
namespace {

// Owns a curl_slist and wipes its strings before freeing them: one of them carries the token.
class HeaderList {
 public:
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList() {
    for (curl_slist* item = list_; item != nullptr; item = item->next) {
      sodium_memzero(item->data, std::strlen(item->data));
    }
    curl_slist_free_all(list_);
  }
  bool Append(const std::string& line) {
    curl_slist* next = curl_slist_append(list_, line.c_str());
    if (next == nullptr) return false;
    list_ = next;
    return true;
  }
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

// Per-transfer state the callbacks write into.
struct Transfer {
  HttpResponse response;
  size_t max_body = 0;
  bool body_too_large = false;
  bool connected = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (transfer->response.body.size() + n > transfer->max_body) {
    transfer->body_too_large = true;
    return 0;  // makes libcurl abort with CURLE_WRITE_ERROR
  }
  transfer->response.body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  // A new status line starts a new header block (after 100 Continue or a proxy's CONNECT
  // answer): only the final response's headers are reported.
  if (StartsWith(line, "HTTP/")) {
    transfer->response.headers.clear();
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return n;  // blank line or obs-fold
  transfer->response.headers.push_back(
      Header{std::string(Trim(line.substr(0, colon))), std::string(Trim(line.substr(colon + 1)))});
  return n;
}

// Called once the connection (including any TLS handshake) is ready and the request is about to
// be sent: from here on a timeout is the server's slowness, not a connect problem.
int OnPrereq(void* user, char*, char*, int, int) {
  static_cast<Transfer*>(user)->connected = true;
  return CURL_PREREQFUNC_OK;
}

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(const HttpClientOptions& options)
      : options_(options), handle_(curl_easy_init()) {
    if (options_.user_agent.empty()) options_.user_agent = kUserAgent;
  }
  ~CurlHttpClient() override {
    if (handle_ != nullptr) curl_easy_cleanup(handle_);
  }
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  HttpResult Send(const HttpRequest& request) override;

 private:
  HttpClientOptions options_;
  CURL* handle_;
  // A member rather than a local: the handle keeps pointing at it between transfers.
  char error_buffer_[CURL_ERROR_SIZE] = {};
};

NetError MakeError(NetErrorKind kind, std::string detail) {
  return NetError{kind, std::move(detail)};
}

HttpResult CurlHttpClient::Send(const HttpRequest& request) {
  using Unexpected = tl::unexpected<NetError>;
  if (handle_ == nullptr)
    return Unexpected(MakeError(NetErrorKind::kOther, "curl_easy_init failed"));
  auto url = ParseHttpUrl(request.url);
  if (!url) {
    return Unexpected(
        MakeError(NetErrorKind::kInvalidUrl, fmt::format("invalid URL: {}", url.error())));
  }
  if (request.method.empty() || HasLineBreak(request.method)) {
    return Unexpected(MakeError(NetErrorKind::kOther, "invalid HTTP method"));
  }
  const std::string& token = request.bearer_token.Reveal();
  if (HasLineBreak(token)) {
    return Unexpected(MakeError(NetErrorKind::kOther, "the token contains a line break"));
  }

  CURL* h = handle_;
  curl_easy_reset(h);
  error_buffer_[0] = '\0';
  Transfer transfer;
  transfer.max_body = options_.max_response_bytes;

  HeaderList headers;
  for (const auto& header : request.headers) {
    if (HasLineBreak(header.name) || HasLineBreak(header.value)) {
      return Unexpected(MakeError(NetErrorKind::kOther,
                                  fmt::format("header {} contains a line break", header.name)));
    }
    headers.Append(fmt::format("{}: {}", header.name, header.value));
  }
  // libcurl would otherwise wait up to a second for "100 Continue" before sending a large body.
  headers.Append("Expect:");
  if (!token.empty()) {
    std::string line = "Authorization: Bearer " + token;
    headers.Append(line);
    sodium_memzero(line.data(), line.size());
  }

  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer_);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  // Our headers (the Authorization above all) go to the server only, never to a proxy.
  curl_easy_setopt(h, CURLOPT_HEADEROPT, static_cast<long>(CURLHEADER_SEPARATE));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  // No Accept-Encoding: Mattermost answers Tocsin's requests with a few KB of JSON, and gzip
  // on both ends cost more CPU per post than the bytes it saves (docs/performance.md). Without
  // it the server sends plain bodies, and the size cap below applies to what arrives.
  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(options_.max_response_bytes));
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, options_.insecure ? 0L : 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, options_.insecure ? 0L : 2L);
  if (!options_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, &OnPrereq);
  curl_easy_setopt(h, CURLOPT_PREREQDATA, &transfer);

  const std::string& method = request.method;
  if (method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (!request.body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    if (method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  const CURLcode code = curl_easy_perform(h);
  CurlFailure failure = ReadCurlFailure(h, code, error_buffer_);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &transfer.response.status);
  // The handle must not keep pointers into this call's header list and request body; the reset
  // keeps the live connection.
  curl_easy_reset(h);
  if (code != CURLE_OK) {
    failure.connected = transfer.connected;
    failure.body_too_large = transfer.body_too_large;
    failure.ca_file = options_.ca_file;
    failure.max_response_bytes = options_.max_response_bytes;
    NetError error = ClassifyCurlFailure(failure);
    error.detail = Redact(std::move(error.detail), token);
    return Unexpected(std::move(error));
  }
  return std::move(transfer.response);
}

}  // namespace

std::unique_ptr<HttpClient> MakeCurlHttpClient(const HttpClientOptions& options) {
  GlobalInit();
  return std::make_unique<CurlHttpClient>(options);
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace tocsin::net
