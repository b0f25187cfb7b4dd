// api/http_server.cpp — HttpServer on Boost.Beast 1.74 with C++20 coroutines.
//
// Threading: one io thread runs the io_context: the accept loop and one coroutine per
// connection. Handlers run on a boost::asio::thread_pool; the connection coroutine co_spawns the
// call onto the pool and awaits it, so the io thread never blocks, and a keep-alive connection
// that sits idle is a suspended coroutine frame waiting for readability, not a thread.
// Everything that touches a socket, the acceptor or the connection registry runs on the io
// thread; Start/Stop talk to it by posting.
//
// Timeouts use our own steady_timer per connection rather than beast::tcp_stream: tcp_stream
// closes the socket when it expires, and a client whose header stalls should first be told 408.
//
// Beast stays inside this file on purpose: it costs ~25 s of compile time per translation unit.
// clang-format off
#include <utility>  // Before any Asio header: g++ 12 with Boost 1.74 needs std::exchange declared.
// clang-format on

#include "api/http_server.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "core/strings.hpp"

namespace tocsin::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

constexpr uint64_t kDefaultBodyLimit = 10ull * 1024 * 1024;
// Capacity reserved beyond Content-Length: simdjson's SIMDJSON_PADDING (see Serve, step 3).
constexpr size_t kBodySlack = 64;
// Read size for big request bodies (see Serve, step 3).
constexpr size_t kBodyReadSize = 64 * 1024;
// After an error answer the rest of the request may still be arriving. Closing at once would
// make the kernel reset the connection and the client could lose our answer, so we read and
// discard for a while first (nginx's "lingering close"), bounded in time.
constexpr auto kLingerIdle = std::chrono::seconds(1);
constexpr auto kLingerTotal = std::chrono::seconds(5);
constexpr size_t kLingerChunk = 16 * 1024;
// How long Stop lets the io thread wind down on its own before stopping it outright.
constexpr auto kIoDrain = std::chrono::seconds(2);
// The destructor's Stop: only waits when requests are actually running.
constexpr auto kDestructorGrace = std::chrono::seconds(5);
constexpr auto kAcceptBackoff = std::chrono::milliseconds(50);

// --- Small pure helpers --------------------------------------------------------------------

// Beast 1.74 hands out boost::string_view, which does not convert to std::string_view.
std::string_view Sv(beast::string_view s) { return {s.data(), s.size()}; }

std::string ToUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strict percent-decoding for the path: a malformed escape or a NUL byte is an error, because
// a path that means two things to two layers is how traversal bugs start. '+' stays a '+'.
std::optional<std::string> DecodePath(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    const int hi = HexValue(in[i + 1]);
    const int lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

struct SplitTargetResult {
  std::string_view path;
  std::string_view query;
};

// Origin form ("/a?b"), asterisk form ("*", OPTIONS) and absolute form ("http://h/a?b", which
// RFC 7230 §5.3.2 says a server must accept) are understood; anything else is a bad request.
std::optional<SplitTargetResult> SplitTarget(std::string_view target) {
  const size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  const std::string_view query =
      q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  if (StartsWith(path, "/") || path == "*") return SplitTargetResult{path, query};
  const std::string lower = ToLower(path.substr(0, 8));
  size_t scheme_end = 0;
  if (StartsWith(lower, "http://")) {
    scheme_end = 7;
  } else if (StartsWith(lower, "https://")) {
    scheme_end = 8;
  } else {
    return std::nullopt;
  }
  const size_t slash = path.find('/', scheme_end);
  path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
  return SplitTargetResult{path, query};
}

// RFC 7230 token characters, for header names a handler sets.
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    const bool ok = (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// No CR, LF or other control bytes except tab: a handler echoing input into a header must not
// be able to split the response.
bool IsFieldValue(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7f) return false;
  }
  return true;
}

// The server owns the message framing; a handler cannot override it.
bool IsFramingHeader(std::string_view name) {
  const std::string lower = ToLower(name);
  return lower == "content-length" || lower == "transfer-encoding" || lower == "connection" ||
         lower == "keep-alive" || lower == "upgrade";
}

Response ErrorResponse(int status, std::string_view code, std::string_view message,
                       std::string_view hint) {
  nlohmann::ordered_json body;
  body["error"]["code"] = code;
  body["error"]["message"] = message;
  body["error"]["hint"] = hint;
  Response response;
  response.status = status;
  response.content_type = "application/json";
  response.body = body.dump();
  return response;
}

Response InternalError() {
  return ErrorResponse(500, "internal_error", "The server failed while handling the request.",
                       "Try again; if it keeps failing, the server log has the details.");
}

// --- Listen address ------------------------------------------------------------------------

Unexpected ListenFailed(std::string_view listen, std::string_view reason, std::string hint) {
  return Fail("listen_failed", fmt::format("cannot listen on {}: {}", listen, reason),
              std::move(hint), "listen");
}

struct HostPort {
  std::string host;
  std::string port;
};

Result<HostPort> ParseListen(std::string_view listen) {
  const std::string kFormatHint =
      "Use host:port, e.g. 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080 (port 0 picks a free one).";
  std::string_view host;
  std::string_view port;
  if (StartsWith(listen, "[")) {
    const size_t close = listen.find(']');
    if (close == std::string_view::npos) {
      return ListenFailed(listen, "the IPv6 address has no closing ']'", kFormatHint);
    }
    host = listen.substr(1, close - 1);
    const std::string_view rest = listen.substr(close + 1);
    if (!StartsWith(rest, ":")) return ListenFailed(listen, "no port given", kFormatHint);
    port = rest.substr(1);
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos) {
      return ListenFailed(listen, "no port given", kFormatHint);
    }
    host = listen.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      return ListenFailed(listen, "an IPv6 address must be written in brackets", kFormatHint);
    }
    port = listen.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoul(std::string(port)) > 65535) {
    return ListenFailed(listen, fmt::format("'{}' is not a port number (0-65535)", port),
                        kFormatHint);
  }
  // ":8080" means every IPv4 interface, as in most servers' listen syntax.
  return HostPort{host.empty() ? std::string("0.0.0.0") : std::string(host), std::string(port)};
}

std::string ListenHint(const error_code& ec) {
  if (ec == asio::error::address_in_use) {
    return "Another process already listens on this address: stop it or choose another "
           "address or port (--listen).";
  }
  if (ec == asio::error::access_denied || ec == asio::error::no_permission) {
    return "Ports below 1024 need privileges: use a higher port, or grant the binary "
           "CAP_NET_BIND_SERVICE.";
  }
  if (ec == boost::system::errc::address_not_available ||
      ec == asio::error::address_family_not_supported) {
    return "The address is not assigned to this machine: use 127.0.0.1, 0.0.0.0, [::] or one of "
           "its own addresses.";
  }
  return "Check the --listen value (host:port, IPv6 in brackets).";
}

std::string RemoteAddress(const tcp::socket& socket) {
  error_code ec;
  const tcp::endpoint endpoint = socket.remote_endpoint(ec);
  if (ec) return {};
  const asio::ip::address address = endpoint.address();
  // An IPv4 client of a dual-stack [::] listener shows as ::ffff:a.b.c.d; report it as IPv4.
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

bool IsHttpParseError(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

// The Transfer-Encoding we cannot decode, or nullopt when the request is fine. Only plain
// "chunked" is accepted: Beast treats any other coding on a request as "no body", which would
// let the rest of the stream be read as the next request (request smuggling).
std::optional<std::string> UnsupportedTransferEncoding(const http::request_header<>& header) {
  std::vector<std::string> codings;
  std::string raw;
  for (auto [it, end] = header.equal_range(http::field::transfer_encoding); it != end; ++it) {
    if (!raw.empty()) raw += ", ";
    raw += Sv(it->value());
    for (const std::string& part : Split(Sv(it->value()), ',')) {
      const std::string_view trimmed = Trim(part);
      if (!trimmed.empty()) codings.push_back(ToLower(trimmed));
    }
  }
  if (raw.empty()) return std::nullopt;
  if (codings.size() == 1 && codings.front() == "chunked") return std::nullopt;
  return raw;
}

// --- Connection ----------------------------------------------------------------------------

// One accepted socket and its deadline. Lives in a shared_ptr because the timer's completion
// may run after the connection's coroutine has finished. Only touched on the io thread.
struct Connection : std::enable_shared_from_this<Connection> {
  explicit Connection(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}

  // Cancels whatever socket operation is pending when `d` elapses; `timed_out` tells why.
  void Arm(SteadyClock::duration d) {
    timed_out = false;
    timer.expires_after(d);
    timer.async_wait([self = shared_from_this()](error_code ec) {
      // A stale expiry (the operation finished and the timer was re-armed or disarmed before
      // this ran) finds the expiry in the future and does nothing.
      if (ec || self->timer.expiry() > asio::steady_timer::clock_type::now()) return;
      self->timed_out = true;
      error_code ignored;
      self->socket.cancel(ignored);
    });
  }
  void Disarm() { timer.expires_at(asio::steady_timer::time_point::max()); }
  // Stop: close now; the pending operation completes with operation_aborted.
  void Abort() {
    aborted = true;
    error_code ignored;
    timer.cancel();
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  tcp::socket socket;
  asio::steady_timer timer;
  beast::flat_buffer buffer;
  std::string remote_address;
  bool busy = false;  // a request is past its header: Stop lets it finish within the grace
  bool timed_out = false;
  bool aborted = false;
};

enum class After { kKeepAlive, kClose, kLingerClose };

class BeastHttpServer final : public HttpServer {
 public:
  BeastHttpServer(ServerOptions options, Handler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        pool_(static_cast<size_t>(std::max(1, options_.worker_threads))) {}

  ~BeastHttpServer() override { Stop(kDestructorGrace); }

  Result<void> Start() override {
    std::lock_guard lifecycle(lifecycle_mu_);
    if (started_) {
      return ListenFailed(options_.listen, "the server was already started",
                          "Create a new server to listen again.");
    }
    auto host_port = ParseListen(options_.listen);
    if (!host_port) return Unexpected(host_port.error());

    error_code ec;
    tcp::resolver resolver(ioc_);
    const auto results =
        resolver.resolve(host_port->host, host_port->port,
                         tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) {
      return ListenFailed(options_.listen,
                          fmt::format("cannot resolve '{}': {}", host_port->host,
                                      ec ? ec.message() : std::string("no address")),
                          "Use an IP address, or a name this machine can resolve.");
    }
    const tcp::endpoint endpoint = results.begin()->endpoint();
    error_code ignored;
    const auto fail = [&](const error_code& error) {
      acceptor_.close(ignored);
      return ListenFailed(options_.listen, error.message(), ListenHint(error));
    };
    if (acceptor_.open(endpoint.protocol(), ec); ec) return fail(ec);
    if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail(ec);
    if (acceptor_.bind(endpoint, ec); ec) return fail(ec);
    if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) return fail(ec);
    port_ = acceptor_.local_endpoint(ec).port();
    if (ec) return fail(ec);

    started_ = true;
    asio::co_spawn(ioc_, AcceptLoop(), [](std::exception_ptr e) { LogEscaped(e, "accept loop"); });
    io_thread_ = std::thread([this] { RunIo(); });
    spdlog::info("HTTP server listening. address={} port={} worker_threads={}", options_.listen,
                 port_.load(), std::max(1, options_.worker_threads));
    return Ok();
  }

  uint16_t Port() const override { return port_.load(); }

  void Stop(std::chrono::milliseconds grace) override {
    std::lock_guard lifecycle(lifecycle_mu_);
    if (!started_ || stopped_) return;
    stopped_ = true;

    // 1. No new connections; connections waiting for their next request go away now.
    stopping_ = true;
    asio::post(ioc_, [this] {
      error_code ignored;
      acceptor_.close(ignored);
      for (Connection* c : connections_) {
        if (!c->busy) c->Abort();
      }
    });
    // 2. Requests already past their header get the grace period to finish.
    {
      std::unique_lock lock(mu_);
      if (!in_flight_cv_.wait_for(lock, grace, [this] { return in_flight_ == 0; })) {
        spdlog::warn(
            "HTTP server stop: grace period over with requests still running; closing their "
            "connections and waiting for their handlers to return. in_flight={} grace_ms={}",
            in_flight_, grace.count());
      }
    }
    // 3. Close everything; handlers not started yet answer 503 without running.
    abandon_ = true;
    asio::post(ioc_, [this] {
      for (Connection* c : connections_) c->Abort();
    });
    pool_.join();
    // 4. The io thread normally runs out of work by itself; stop it if something lingers.
    {
      std::unique_lock lock(mu_);
      io_done_cv_.wait_for(lock, kIoDrain, [this] { return io_done_; });
    }
    ioc_.stop();
    if (io_thread_.joinable()) io_thread_.join();
    spdlog::info("HTTP server stopped. address={}", options_.listen);
  }

 private:
  // Counts a request from the end of its header until its response is written; Stop waits for
  // the count to reach zero.
  class InFlight {
   public:
    InFlight(BeastHttpServer& server, Connection& connection)
        : server_(server), connection_(connection) {
      connection_.busy = true;
      std::lock_guard lock(server_.mu_);
      ++server_.in_flight_;
    }
    ~InFlight() {
      connection_.busy = false;
      std::lock_guard lock(server_.mu_);
      if (--server_.in_flight_ == 0) server_.in_flight_cv_.notify_all();
    }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

   private:
    BeastHttpServer& server_;
    Connection& connection_;
  };

  static void LogEscaped(const std::exception_ptr& e, std::string_view where) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("HTTP server coroutine failed. where={} error={}", where, ex.what());
    } catch (...) {
      spdlog::error("HTTP server coroutine failed. where={} error=unknown", where);
    }
  }

  void RunIo() {
    // Coroutines catch their own exceptions; this loop only keeps the server alive should a
    // stray one escape a completion handler (each throw consumes that handler).
    for (;;) {
      try {
        ioc_.run();
        break;
      } catch (const std::exception& e) {
        spdlog::error("HTTP io thread caught an exception; continuing. error={}", e.what());
      }
    }
    std::lock_guard lock(mu_);
    io_done_ = true;
    io_done_cv_.notify_all();
  }

  asio::awaitable<void> AcceptLoop() {
    for (;;) {
      error_code ec;
      tcp::socket socket =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (stopping_ || !acceptor_.is_open()) co_return;
      if (ec) {
        // Out of file descriptors and the like: keep serving the connections we have, and back
        // off a little so the io thread does not spin on a full descriptor table.
        spdlog::warn("HTTP server could not accept a connection. error={}", ec.message());
        asio::steady_timer backoff(ioc_);
        backoff.expires_after(kAcceptBackoff);
        co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      asio::co_spawn(ioc_, Serve(std::make_shared<Connection>(std::move(socket))),
                     [](std::exception_ptr e) { LogEscaped(e, "connection"); });
    }
  }

  asio::awaitable<void> Serve(std::shared_ptr<Connection> connection) {
    Connection& c = *connection;
    connections_.insert(&c);
    struct Unregister {
      std::unordered_set<Connection*>& set;
      Connection* c;
      ~Unregister() { set.erase(c); }
    } unregister{connections_, &c};

    error_code ec;
    c.socket.set_option(tcp::no_delay(true), ec);
    c.remote_address = RemoteAddress(c.socket);
    After after = After::kKeepAlive;
    // Each iteration is one request; the loop ends on close, error, timeout or Stop.
    while (after == After::kKeepAlive && !stopping_ && !c.aborted) {
      after = co_await ServeOne(c);
    }
    if (after == After::kLingerClose && !c.aborted) co_await Linger(c);
    if (!c.aborted) {
      c.socket.shutdown(tcp::socket::shutdown_send, ec);
      c.socket.close(ec);
    }
    c.timer.cancel();
  }

  // Reads one request, runs the handler and writes the answer.
  asio::awaitable<After> ServeOne(Connection& c) {
    error_code ec;
    // 1. Idle: wait for the next request's first byte without a buffer or a thread.
    if (c.buffer.size() == 0) {
      c.buffer.shrink_to_fit();
      c.Arm(options_.idle_timeout);
      co_await c.socket.async_wait(tcp::socket::wait_read,
                                   asio::redirect_error(asio::use_awaitable, ec));
      c.Disarm();
      if (ec || c.aborted || stopping_) co_return After::kClose;
    }

    // 2. The header, against the slowloris clock. The body limit depends on the path, so it
    // is checked by hand once the header is in (Beast would otherwise apply its 1 MiB default).
    http::request_parser<http::string_body> parser;
    parser.header_limit(options_.header_limit);
    parser.body_limit(std::numeric_limits<uint64_t>::max());
    c.Arm(options_.header_timeout);
    co_await http::async_read_header(c.socket, c.buffer, parser,
                                     asio::redirect_error(asio::use_awaitable, ec));
    c.Disarm();
    if (c.aborted) co_return After::kClose;
    if (ec) {
      if (c.timed_out) {
        co_await Write(c,
                       ErrorResponse(408, "timeout", "The request header took too long.",
                                     "Send the whole request header at once."),
                       11, false, false);
        co_return After::kLingerClose;
      }
      if (ec == http::error::header_limit) {
        co_await Write(c,
                       ErrorResponse(431, "header_too_large",
                                     fmt::format("The request header is larger than {} bytes.",
                                                 options_.header_limit),
                                     "Send fewer or shorter header fields (cookies, tokens)."),
                       11, false, false);
        co_return After::kLingerClose;
      }
      if (IsHttpParseError(ec)) {
        co_await Write(
            c,
            ErrorResponse(400, "bad_request",
                          fmt::format("The request is not valid HTTP/1.1: {}.", ec.message()),
                          "Check the client; this server speaks HTTP/1.1."),
            11, false, false);
        co_return After::kLingerClose;
      }
      co_return After::kClose;  // the client went away (EOF, reset) mid-header or before it
    }

    InFlight in_flight(*this, c);
    const auto& header = parser.get();
    const unsigned version = header.version() == 10 ? 10 : 11;
    const bool head = header.method() == http::verb::head;
    const auto reject = [&](int status, std::string_view code, std::string message,
                            std::string_view hint) -> asio::awaitable<After> {
      co_await Write(c, ErrorResponse(status, code, message, hint), version, false, head);
      co_return After::kLingerClose;
    };

    if (header.version() != 10 && header.version() != 11) {
      co_return co_await reject(505, "not_implemented",
                                "This server speaks HTTP/1.0 and HTTP/1.1 only.", "Use HTTP/1.1.");
    }
    if (auto coding = UnsupportedTransferEncoding(header)) {
      co_return co_await reject(
          501, "not_implemented",
          fmt::format("Transfer-Encoding '{}' is not supported; only 'chunked' is.", *coding),
          "Send the body with Content-Length or chunked; compress it with Content-Encoding.");
    }

    Request request;
    request.method = ToUpper(Sv(header.method_string()));
    request.target = std::string(Sv(header.target()));
    const auto split = SplitTarget(request.target);
    if (!split) {
      co_return co_await reject(400, "bad_request", "The request target is not a path.",
                                "Send an origin-form target such as /api/v1/projects.");
    }
    auto path = DecodePath(split->path);
    if (!path) {
      co_return co_await reject(400, "bad_request",
                                "The request path has an invalid percent-encoding or a NUL byte.",
                                "Percent-encode reserved bytes as %XX with two hex digits.");
    }
    request.path = std::move(*path);
    request.query = std::string(split->query);
    request.remote_address = c.remote_address;
    for (const auto& field : header) {
      request.headers.emplace_back(ToLower(Sv(field.name_string())),
                                   std::string(Sv(field.value())));
    }

    // 3. The body, within the limit for this path.
    const uint64_t limit = BodyLimitFor(request);
    const auto too_large = [&] {
      return ErrorResponse(413, "payload_too_large",
                           fmt::format("The request body is larger than {} bytes, the limit "
                                       "for {} {}.",
                                       limit, request.method, request.path),
                           "Send a smaller body, or split it into several requests.");
    };
    if (const auto length = parser.content_length(); length && *length > limit) {
      // Answered before reading the body, and without 100 Continue, so a client that waits
      // for it never sends the body at all.
      co_await Write(c, too_large(), version, false, head);
      co_return After::kLingerClose;
    }
    parser.body_limit(limit);
    if (const auto length = parser.content_length(); length && *length > 0) {
      // Room for the padding a JSON parser appends (simdjson reads up to 64 bytes past the
      // end): the SARIF reader pads the body in place instead of copying a document of up to
      // max_scan_body into a buffer twice its size (docs/performance.md, figure 8c).
      parser.get().body().reserve(static_cast<size_t>(*length) + kBodySlack);
    }
    if (!parser.is_done()) {
      const auto expect = request.Header("expect");
      if (version == 11 && expect && ToLower(Trim(*expect)) == "100-continue") {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        c.Arm(options_.idle_timeout);
        co_await asio::async_write(c.socket, asio::buffer(kContinue.data(), kContinue.size()),
                                   asio::redirect_error(asio::use_awaitable, ec));
        c.Disarm();
        if (ec || c.aborted) co_return After::kClose;
      }
    }
    // Each read of the body goes through the connection's buffer and is bounded by its free
    // capacity: the ~1 KiB left after the header would cost a recv and a timer re-arm per KiB
    // of a 100 MB upload (180 MB/s on loopback). Big bodies are read 64 KiB at a time (Beast's
    // largest read); the buffer shrinks back afterwards, so idle connections stay small.
    const auto body_length = parser.content_length();
    const bool big_body = !parser.is_done() && (!body_length || *body_length > kBodyReadSize);
    if (big_body) c.buffer.reserve(c.buffer.size() + kBodyReadSize);
    while (!parser.is_done()) {
      c.Arm(options_.idle_timeout);
      co_await http::async_read_some(c.socket, c.buffer, parser,
                                     asio::redirect_error(asio::use_awaitable, ec));
      c.Disarm();
      if (c.aborted) co_return After::kClose;
      if (!ec) continue;
      if (c.timed_out) {
        co_return co_await reject(408, "timeout", "The request body stopped arriving.",
                                  "Send the body without long pauses.");
      }
      if (ec == http::error::body_limit) {
        co_await Write(c, too_large(), version, false, head);
        co_return After::kLingerClose;
      }
      if (IsHttpParseError(ec)) {
        co_return co_await reject(400, "bad_request",
                                  fmt::format("The request body is malformed: {}.", ec.message()),
                                  "Check the client's chunked encoding or Content-Length.");
      }
      co_return After::kClose;
    }
    if (big_body) c.buffer.shrink_to_fit();
    request.body = std::move(parser.get().body());

    // 4. The handler, on the pool; the io thread serves other connections meanwhile.
    if (abandon_) co_return After::kClose;
    Response response;
    try {
      response =
          co_await asio::co_spawn(pool_.get_executor(), Invoke(request), asio::use_awaitable);
    } catch (const std::exception& e) {
      spdlog::error("Request dispatch failed; answering 500. method={} path={} error={}",
                    request.method, request.path, e.what());
      response = InternalError();
    }
    if (c.aborted) co_return After::kClose;

    // 5. The answer.
    const bool keep_alive = header.keep_alive() && !stopping_;
    if (!co_await Write(c, std::move(response), version, keep_alive, head)) {
      co_return After::kClose;
    }
    co_return keep_alive ? After::kKeepAlive : After::kClose;
  }

  // The configured limit; a body_limit callback that throws gets the default rather than
  // tearing down the connection coroutine.
  uint64_t BodyLimitFor(const Request& request) const {
    if (!options_.body_limit) return kDefaultBodyLimit;
    try {
      return options_.body_limit(request.method, request.path);
    } catch (const std::exception& e) {
      spdlog::error("body_limit callback threw; using the default. path={} error={}", request.path,
                    e.what());
    } catch (...) {
      spdlog::error("body_limit callback threw; using the default. path={}", request.path);
    }
    return kDefaultBodyLimit;
  }

  // Runs on the pool. `request` lives in the awaiting connection coroutine's frame.
  asio::awaitable<Response> Invoke(const Request& request) { co_return CallHandler(request); }

  Response CallHandler(const Request& request) {
    if (abandon_) {
      return ErrorResponse(503, "unavailable", "The server is shutting down.",
                           "Retry the request in a moment.");
    }
    try {
      return handler_(request);
    } catch (const std::exception& e) {
      // The text may carry internals (SQL, paths): it goes to the log, never to the client.
      spdlog::error("Request handler threw; answered 500. method={} path={} error={}",
                    request.method, request.path, e.what());
    } catch (...) {
      spdlog::error("Request handler threw; answered 500. method={} path={} error=unknown",
                    request.method, request.path);
    }
    return InternalError();
  }

  // Writes `response`; false when the connection is no longer usable.
  asio::awaitable<bool> Write(Connection& c, Response response, unsigned version, bool keep_alive,
                              bool head) {
    if (response.status < 200 || response.status > 599) {
      spdlog::error("Handler returned an invalid HTTP status; answering 500. status={}",
                    response.status);
      response = InternalError();
    }
    http::response<http::string_body> message;
    message.version(version);
    message.result(static_cast<unsigned>(response.status));
    for (auto& [name, value] : response.headers) {
      if (!IsToken(name) || !IsFieldValue(value)) {
        spdlog::warn("Dropped an invalid response header. name={}", IsToken(name) ? name : "?");
        continue;
      }
      if (IsFramingHeader(name)) continue;
      message.insert(name, value);
    }
    // 204 and 304 never carry a body (RFC 7230 §3.3.3).
    if (response.status != 204 && response.status != 304) {
      if (!response.content_type.empty()) {
        message.set(http::field::content_type, response.content_type);
      }
      message.body() = std::move(response.body);
      message.content_length(message.body().size());
    }
    message.keep_alive(keep_alive);

    error_code ec;
    c.Arm(options_.idle_timeout);
    if (head) {
      // HEAD: the header of what GET would send, Content-Length included, and no body.
      http::response_serializer<http::string_body> serializer(message);
      co_await http::async_write_header(c.socket, serializer,
                                        asio::redirect_error(asio::use_awaitable, ec));
    } else {
      co_await http::async_write(c.socket, message, asio::redirect_error(asio::use_awaitable, ec));
    }
    c.Disarm();
    co_return !ec && !c.aborted;
  }

  asio::awaitable<void> Linger(Connection& c) {
    error_code ec;
    c.socket.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    c.buffer.consume(c.buffer.size());
    const auto deadline = SteadyClock::now() + kLingerTotal;
    while (!c.aborted) {
      const auto now = SteadyClock::now();
      if (now >= deadline) break;
      c.Arm(std::min<SteadyClock::duration>(kLingerIdle, deadline - now));
      co_await c.socket.async_read_some(c.buffer.prepare(kLingerChunk),
                                        asio::redirect_error(asio::use_awaitable, ec));
      c.Disarm();
      if (ec) break;  // EOF: the client has read our answer and closed
    }
  }

  const ServerOptions options_;
  const Handler handler_;

  std::mutex lifecycle_mu_;  // serialises Start and Stop
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> stopping_{false};  // no new requests; answers say Connection: close
  std::atomic<bool> abandon_{false};   // grace is over: close everything

  std::mutex mu_;
  std::condition_variable in_flight_cv_;
  std::condition_variable io_done_cv_;
  int in_flight_ = 0;
  bool io_done_ = false;

  // Io thread only. Declared before ioc_ so it outlives the coroutine frames that ioc_
  // destroys when a stuck Stop had to stop it outright.
  std::unordered_set<Connection*> connections_;

  asio::io_context ioc_{1};
  // Declared after ioc_: destroyed first, while the io_context that its queued work refers to
  // is still alive.
  asio::thread_pool pool_;
  tcp::acceptor acceptor_{ioc_};
  std::thread io_thread_;
};

}  // namespace

std::unique_ptr<HttpServer> MakeHttpServer(ServerOptions options, Handler handler) {
  return std::make_unique<BeastHttpServer>(std::move(options), std::move(handler));
}

}  // namespace tocsin::api
