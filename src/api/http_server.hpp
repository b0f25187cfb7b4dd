// api/http_server.hpp — the inbound HTTP seam (Boost.Beast inside, plain structs outside).
//
// HttpServer accepts HTTP/1.1 connections on one io thread with C++20 coroutines, reads each
// request (headers + body up to a per-request limit chosen from the path), hands it to the
// Handler on a small blocking pool (handlers may touch the database), and writes the response.
// Keep-alive connections that sit idle cost a coroutine frame, not a thread, so idle browser
// connections never starve API clients. Only http_server.cpp includes Beast.
//
// Errors in the request framing (bad HTTP, header too large, body over the limit) are answered
// by the server itself with the SPEC's JSON error shape, without calling the handler.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace tocsin::api {

struct Request {
  std::string method;  // upper case
  std::string target;  // raw request target, path + query
  std::string path;    // percent-decoded path without the query
  std::string query;   // raw query string without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote_address;
  std::optional<std::string> Header(std::string_view lower_name) const;
  // Decoded query parameter; nullopt when absent.
  std::optional<std::string> Query(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// The Request is the server's own non-const object and is not read after the handler returns, so
// a handler may move a large body out of it (const_cast) instead of copying it: the scan upload
// does, to parse hundreds of megabytes in place.
using Handler = std::function<Response(const Request&)>;
// Returns the body limit (bytes) for a request, from its method and path, before the body is read.
using BodyLimit = std::function<uint64_t(std::string_view method, std::string_view path)>;

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";  // host:port; "[::1]:0" etc.; port 0 picks a free one
  int worker_threads = 4;                   // the blocking pool for handlers
  BodyLimit body_limit;                     // default: 10 MiB for everything
  std::chrono::seconds idle_timeout{60};
  // From the first byte of a request to the end of its header: cuts slowloris clients (408).
  std::chrono::milliseconds header_timeout{30000};
  uint32_t header_limit = 16 * 1024;  // request line + header fields; over it: 431
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // Binds and starts serving on background threads. Error (code "listen_failed") names the
  // address and the reason (in use, permission, bad address).
  virtual Result<void> Start() = 0;
  // The bound port (useful with port 0).
  virtual uint16_t Port() const = 0;
  // Stops accepting, lets in-flight requests finish (up to `grace`), closes idle connections.
  // Idempotent. Past `grace` the remaining connections are closed, but Stop still waits for
  // running handlers to return (threads are joined), so handlers must be bounded. Never call it
  // from a handler.
  virtual void Stop(std::chrono::milliseconds grace) = 0;
};

std::unique_ptr<HttpServer> MakeHttpServer(ServerOptions options, Handler handler);

}  // namespace tocsin::api
