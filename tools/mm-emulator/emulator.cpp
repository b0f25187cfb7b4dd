// Server lifecycle, world building, faults, rate limiting, the request log and the /_emulator/
// control API. The Mattermost endpoints are in api.cpp.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "emulator_impl.hpp"
#include "text.hpp"

namespace mmemu {
namespace {

// Workers of the embedded server: every idle keep-alive connection and every hung request holds
// one, so leave plenty (cpp-httplib's default of 8 starves the ninth client).
constexpr size_t kWorkerThreads = 64;
constexpr size_t kMaxLoggedRequests = 100000;

std::string Md5Hex(const std::string& input) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(input.data(), input.size(), digest, &length, EVP_md5(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

int SocketPort(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  }
  return -1;
}

// cpp-httplib does not hand handlers their socket, and a fault must be able to drop a connection
// without answering. Connected sockets are found by their local and peer ports: the server side of
// a connection is the only descriptor whose local port is the listening port and whose peer port
// is the client's (the client's own descriptor, if in this process, has them the other way round).
// peer_port < 0 matches every accepted connection of the listening port. shutdown() (not close)
// leaves the descriptor to cpp-httplib, whose next read or write then fails and closes it.
void ShutdownConnections(int local_port, int peer_port) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;
  int dir_fd = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == dir_fd) continue;
    sockaddr_storage local{}, peer{};
    socklen_t local_length = sizeof local, peer_length = sizeof peer;
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &local_length) !=
        0) {
      continue;
    }
    if (SocketPort(local) != local_port) continue;
    if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0) {
      continue;  // the listening socket
    }
    if (peer_port >= 0 && SocketPort(peer) != peer_port) continue;
    shutdown(static_cast<int>(fd), SHUT_RDWR);  // right away: the number may be reused later
  }
  closedir(dir);
}

const char* FaultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kNone:
      return "none";
    case FaultKind::kStatus:
      return "status";
    case FaultKind::kCloseConnection:
      return "close_connection";
    case FaultKind::kDelay:
      return "delay";
    case FaultKind::kHang:
      return "hang";
    case FaultKind::kLoseResponseAfterCommit:
      return "lose_response_after_commit";
    case FaultKind::kHangAfterCommit:
      return "hang_after_commit";
  }
  return "none";
}

bool ParseFaultKind(const std::string& name, FaultKind* kind) {
  for (FaultKind k : {FaultKind::kNone, FaultKind::kStatus, FaultKind::kCloseConnection,
                      FaultKind::kDelay, FaultKind::kHang, FaultKind::kLoseResponseAfterCommit,
                      FaultKind::kHangAfterCommit}) {
    if (name == FaultKindName(k)) {
      *kind = k;
      return true;
    }
  }
  return false;
}

// Where Mattermost's root router sends a request that misses the subpath:
// path.Join(subpath, path) plus the raw query.
std::string SubpathLocation(const std::string& subpath, const std::string& target) {
  size_t q = target.find('?');
  std::string query = q == std::string::npos ? "" : target.substr(q);
  std::string joined = subpath + "/" + target.substr(0, q);
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= joined.size()) {
    size_t slash = joined.find('/', start);
    if (slash == std::string::npos) slash = joined.size();
    std::string part = joined.substr(start, slash - start);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = slash + 1;
  }
  std::string location;
  for (const std::string& part : parts) location += "/" + part;
  return (location.empty() ? "/" : location) + query;
}

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// Go's net/http adds Date to every response.
std::string HttpDate() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[utc.tm_wday],
                utc.tm_mday, kMonths[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min,
                utc.tm_sec);
  return buffer;
}

bool ValidExplicitToken(const std::string& token) {
  if (token.empty() || token.size() > 64) return false;
  for (char c : token) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum) return false;
  }
  return true;
}

}  // namespace

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t SteadyMs() { return SteadyNs() / 1000000; }

// ---------------------------------------------------------------------------------------------
// Lifecycle.

Emulator::Impl::Impl(Options options) : options_(std::move(options)) {
  // "/mattermost/" and "mattermost" both mean "/mattermost"; "/" means none.
  std::string& sub = options_.subpath;
  while (!sub.empty() && sub.back() == '/') sub.pop_back();
  if (!sub.empty() && sub.front() != '/') sub.insert(sub.begin(), '/');
  user_access_tokens_enabled_ = options_.enable_user_access_tokens;
  major_version_ = std::atoi(options_.version.c_str());
  // <version>.<build number>.<client config hash>.<licensed>; "dev" is what dev builds report.
  version_header_ =
      options_.version + ".dev." + Md5Hex("mm-emulator " + options_.version) + ".false";
}

Emulator::Impl::~Impl() { Stop(); }

bool Emulator::Impl::Start() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (running_) return true;
  bool tls = !options_.cert_file.empty() && !options_.key_file.empty();
  if (tls) {
    auto ssl =
        std::make_unique<httplib::SSLServer>(options_.cert_file.c_str(), options_.key_file.c_str());
    if (!ssl->is_valid()) {
      std::fprintf(stderr, "mm-emulator: cannot load TLS certificate %s / key %s\n",
                   options_.cert_file.c_str(), options_.key_file.c_str());
      return false;
    }
    SSL_CTX_set_min_proto_version(ssl->ssl_context(), TLS1_2_VERSION);  // TLSMinVer "1.2"
    server_ = std::move(ssl);
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  server_->new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  server_->set_tcp_nodelay(true);
  // cpp-httplib's default adds SO_REUSEPORT, which lets a second emulator silently share a busy
  // port; keep only SO_REUSEADDR, as Go's listener does.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server_->set_keep_alive_max_count(1000000);  // Go servers do not cap requests per connection
  server_->set_keep_alive_timeout(60);         // Mattermost's IdleTimeout
  server_->set_payload_max_length(64u << 20);  // the API's own 300 kB limit answers 413 itself
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    try {
      Handle(req, res);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mm-emulator: internal error on %s %s: %s\n", req.method.c_str(),
                   req.path.c_str(), e.what());
      res.status = 500;
      res.set_content(
          "{\"id\":\"api.emulator.internal.app_error\",\"message\":\"Internal error.\","
          "\"detailed_error\":\"\",\"status_code\":500}",
          "application/json");
    }
  };
  const std::string kAny = ".*";
  server_->Get(kAny, handler);
  server_->Post(kAny, handler);
  server_->Put(kAny, handler);
  server_->Patch(kAny, handler);
  server_->Delete(kAny, handler);
  server_->Options(kAny, handler);

  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host);
  } else if (!server_->bind_to_port(options_.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    std::fprintf(stderr, "mm-emulator: cannot listen on %s:%d (%s)\n", options_.host.c_str(),
                 options_.port, std::strerror(errno));
    server_.reset();
    return false;
  }
  port_ = port;

  // A dropped TLS connection makes OpenSSL write to a closed socket; that must not kill the
  // process.
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    signal(SIGPIPE, SIG_IGN);
  }

  stopping_ = false;
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // stop() is a no-op until the listen loop runs, so Stop() right after Start() needs it running.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!server_->is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!server_->is_running()) {
    std::fprintf(stderr, "mm-emulator: the server thread did not start\n");
    server_->stop();
    thread_.join();
    server_.reset();
    return false;
  }
  running_ = true;
  return true;
}

void Emulator::Impl::Stop() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (!running_) return;
  {
    std::lock_guard<std::mutex> lock(fault_mu_);
    stopping_ = true;
  }
  fault_cv_.notify_all();  // releases delayed and hung requests
  server_->stop();
  // Idle keep-alive connections would otherwise hold their workers until the keep-alive timeout.
  ShutdownConnections(port_, -1);
  thread_.join();
  server_.reset();
  running_ = false;
}

// ---------------------------------------------------------------------------------------------
// Request plumbing.

void Emulator::Impl::DropConnection(const httplib::Request& req) {
  if (req.ssl != nullptr) {
    int fd = SSL_get_fd(req.ssl);
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
    return;
  }
  ShutdownConnections(req.local_port, req.remote_port);
}

void Emulator::Impl::Record(const httplib::Request& req, int status, int64_t at_ms) {
  RequestRecord record;
  record.method = req.method;
  record.path = req.path;  // never the query: it may hold access_token
  std::string auth = req.get_header_value("Authorization");
  if (auth.size() > 6 && AsciiLower(auth.substr(0, 6)) == "bearer") {
    record.authorization_scheme = "Bearer";
  } else if (auth.size() > 5 && AsciiLower(auth.substr(0, 5)) == "token") {
    record.authorization_scheme = "Token";
  }
  record.status = status;
  record.at_ms = at_ms;
  std::lock_guard<std::mutex> lock(log_mu_);
  log_.push_back(std::move(record));
  if (log_.size() > kMaxLoggedRequests) log_.pop_front();
}

Fault Emulator::Impl::DrawFault(const std::string& path, uint64_t* release) {
  std::lock_guard<std::mutex> lock(fault_mu_);
  *release = fault_release_;
  if (fault_.kind == FaultKind::kNone || fault_.count == 0) return Fault{};
  if (!fault_.path_prefix.empty() && !StartsWith(path, fault_.path_prefix)) return Fault{};
  if (fault_.skip > 0) {
    --fault_.skip;
    return Fault{};
  }
  Fault drawn = fault_;
  if (fault_.count > 0 && --fault_.count == 0) fault_ = Fault{};
  return drawn;
}

bool Emulator::Impl::SufferFault(const Fault& fault, uint64_t release) {
  std::unique_lock<std::mutex> lock(fault_mu_);
  ++held_requests_;
  fault_cv_.notify_all();  // WaitForHeldRequests
  if (fault.kind == FaultKind::kDelay) {
    fault_cv_.wait_for(lock, std::chrono::milliseconds(fault.delay_ms),
                       [&] { return stopping_.load(); });
  } else if (fault.kind == FaultKind::kHang) {
    fault_cv_.wait(lock, [&] { return stopping_.load() || fault_release_ != release; });
  }
  --held_requests_;
  return !stopping_;
}

void Emulator::Impl::Handle(const httplib::Request& req, httplib::Response& res) {
  int64_t at_ms = NowMs();
  // cpp-httplib compresses after the handler according to the request's Accept-Encoding (and
  // would offer brotli, which Mattermost never sends). The request object is ours for the
  // duration of the call, so rewrite the header to say exactly what this response may use.
  auto& mutable_req = const_cast<httplib::Request&>(req);
  std::string accept_encoding = req.get_header_value("Accept-Encoding");
  mutable_req.headers.erase("Accept-Encoding");

  const std::string& path = req.path;
  const std::string& sub = options_.subpath;
  if (StartsWith(path, "/_emulator/")) {
    HandleControl(req, res, path);
    return;
  }
  if (!sub.empty() && StartsWith(path, sub + "/_emulator/")) {
    HandleControl(req, res, path.substr(sub.size()));
    return;
  }

  res.set_header("Date", HttpDate());
  // The rate limiter wraps the whole router (§9): it runs first and adds its headers to every
  // response that passes.
  {
    std::lock_guard<std::mutex> lock(rate_mu_);
    if (limiter_) {
      RateLimitResult r = limiter_->Take(req.remote_addr, SteadyNs());
      res.set_header("X-Ratelimit-Limit", std::to_string(r.limit));
      res.set_header("X-Ratelimit-Remaining", std::to_string(r.remaining));
      res.set_header("X-Ratelimit-Reset", std::to_string(CeilSeconds(r.reset_after_ns)));
      if (r.limited) {
        res.set_header("Retry-After", std::to_string(CeilSeconds(r.retry_after_ns)));
        res.set_header("X-Content-Type-Options", "nosniff");
        res.status = 429;
        res.set_content("limit exceeded\n", "text/plain; charset=utf-8");
        Record(req, 429, at_ms);
        return;
      }
    }
  }

  std::string api_path = path;
  if (!sub.empty()) {
    if (path == sub || StartsWith(path, sub + "/")) {
      api_path = path.substr(sub.size());
    } else {
      // RootRouter's NotFoundHandler: path.Join(subpath, path), query kept, 302.
      std::string location = SubpathLocation(sub, req.target);
      res.status = 302;
      res.set_header("Location", location);
      if (req.method == "GET") {
        res.set_content("<a href=\"" + HtmlEscape(location) + "\">Found</a>.\n\n",
                        "text/html; charset=utf-8");
      }
      Record(req, 302, at_ms);
      return;
    }
  }
  if (!StartsWith(api_path, "/api/")) {
    res.status = 404;  // the web app would be served here; there is none
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_content("404 page not found\n", "text/plain; charset=utf-8");
    Record(req, 404, at_ms);
    return;
  }

  ApiContext ctx{req, res, NewId(), api_path, {}, std::nullopt, Fault{}, 0, false};
  ctx.fault = DrawFault(api_path, &ctx.fault_release);
  bool is_create_post = req.method == "POST" && api_path == "/api/v4/posts";
  switch (ctx.fault.kind) {
    case FaultKind::kCloseConnection:
      // Recorded first: once the connection drops the client may send its next request, whose
      // record must come after this one (tests read the log as the order of arrival).
      Record(req, 0, at_ms);
      DropConnection(req);
      return;
    case FaultKind::kStatus: {
      SetStandardHeaders(ctx);
      AppError error{ctx.fault.status, "api.emulator.fault_injected.app_error",
                     "Fault injected by the emulator.", ""};
      WriteError(ctx, error);
      Record(req, ctx.fault.status, at_ms);
      return;
    }
    case FaultKind::kDelay:
    case FaultKind::kHang:
      if (!is_create_post && !SufferFault(ctx.fault, ctx.fault_release)) {
        Record(req, 0, at_ms);
        DropConnection(req);
        return;
      }
      break;
    default:
      break;
  }

  HandleApi(ctx);
  // A create that ended before its commit window (an error, a de-dup hit) still waits.
  if (is_create_post && !ctx.drop && !ctx.fault_suffered &&
      (ctx.fault.kind == FaultKind::kDelay || ctx.fault.kind == FaultKind::kHang) &&
      !SufferFault(ctx.fault, ctx.fault_release)) {
    ctx.drop = true;
  }
  if (ctx.fault.kind == FaultKind::kHangAfterCommit && !ctx.drop) {
    // Stored; the answer waits (a client that dies meanwhile never learns of its post).
    Fault hang = ctx.fault;
    hang.kind = FaultKind::kHang;
    if (!SufferFault(hang, ctx.fault_release)) ctx.drop = true;
  }

  if (ctx.drop || ctx.fault.kind == FaultKind::kLoseResponseAfterCommit) {
    Record(req, 0, at_ms);  // before the drop, as above
    DropConnection(req);
    return;
  }
  // gzhttp wraps the API handlers only, and leaves bodies under 1 KiB alone.
  if (ctx.compressible && res.body.size() >= 1024 &&
      AsciiLower(accept_encoding).find("gzip") != std::string::npos) {
    mutable_req.set_header("Accept-Encoding", "gzip");
  }
  Record(req, res.status, at_ms);
}

// ---------------------------------------------------------------------------------------------
// Control API (/_emulator/, not part of Mattermost).

void Emulator::Impl::HandleControl(const httplib::Request& req, httplib::Response& res,
                                   const std::string& path) {
  auto reply = [&](int status, const nlohmann::json& body) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    "application/json");
  };
  auto parse = [&](nlohmann::json* out) {
    *out = nlohmann::json::parse(req.body, nullptr, false);
    if (out->is_discarded() || !out->is_object()) {
      reply(400, {{"error", "the body must be a JSON object"}});
      return false;
    }
    return true;
  };
  auto post_json = [](const Post& p) {
    return nlohmann::json{{"id", p.id},
                          {"channel_id", p.channel_id},
                          {"root_id", p.root_id},
                          {"user_id", p.user_id},
                          {"message", p.message},
                          {"pending_post_id", p.pending_post_id},
                          {"type", p.type},
                          {"props", p.props},
                          {"create_at", p.create_at},
                          {"update_at", p.update_at},
                          {"edit_at", p.edit_at},
                          {"notified_mentions", p.notified_mentions}};
  };

  if (req.method == "GET" && path == "/_emulator/posts") {
    std::string channel_id = req.get_param_value("channel_id");
    nlohmann::json list = nlohmann::json::array();
    std::lock_guard<std::mutex> lock(mu_);
    if (channel_id.empty()) {
      for (const std::string& id : post_order_) list.push_back(post_json(posts_.at(id).post));
    } else if (auto it = channels_.find(channel_id); it != channels_.end()) {
      for (const std::string& id : it->second.post_ids) {
        list.push_back(post_json(posts_.at(id).post));
      }
    }
    reply(200, list);
    return;
  }
  if (req.method == "GET" && path == "/_emulator/stats") {
    std::lock_guard<std::mutex> lock(mu_);
    reply(200, {{"posts", post_order_.size()}});
    return;
  }
  if (req.method == "POST" && path == "/_emulator/fault") {
    nlohmann::json body;
    if (!parse(&body)) return;
    Fault fault;
    if (!ParseFaultKind(body.value("kind", "none"), &fault.kind)) {
      reply(400, {{"error",
                   "kind must be none, status, close_connection, delay, hang, "
                   "lose_response_after_commit or hang_after_commit"}});
      return;
    }
    fault.status = body.value("status", 500);
    fault.delay_ms = body.value("delay_ms", 0);
    fault.path_prefix = body.value("path_prefix", "");
    fault.count = body.value("count", -1);
    fault.skip = body.value("skip", 0);
    // Swap in the new fault.
    {
      std::lock_guard<std::mutex> lock(fault_mu_);
      fault_ = fault;
      ++fault_release_;
    }
    fault_cv_.notify_all();
    reply(200, {{"ok", true}, {"kind", FaultKindName(fault.kind)}});
    return;
  }
  if (req.method == "POST" && path == "/_emulator/rate_limit") {
    nlohmann::json body;
    if (!parse(&body)) return;
    double per_second = body.value("per_second", 0.0);
    int burst = body.value("burst", 100);
    std::lock_guard<std::mutex> lock(rate_mu_);
    limiter_ = per_second > 0 ? std::make_unique<GcraRateLimiter>(per_second, burst) : nullptr;
    reply(200, {{"ok", true}});
    return;
  }
  if (req.method == "POST" && path == "/_emulator/tokens/revoke") {
    nlohmann::json body;
    if (!parse(&body)) return;
    std::string token = body.value("token", "");
    std::lock_guard<std::mutex> lock(mu_);
    bool revoked = tokens_.erase(token) > 0;
    reply(revoked ? 200 : 404, {{"ok", revoked}});
    return;
  }
  if (req.method == "POST" && path == "/_emulator/seed") {
    nlohmann::json body;
    if (!parse(&body)) return;
    nlohmann::json result = owner_->Seed(body);
    reply(result.contains("error") ? 400 : 200, result);
    return;
  }
  reply(404, {{"error", "unknown control route " + req.method + " " + path}});
}

// ---------------------------------------------------------------------------------------------
// World building (callers of the *Locked helpers hold mu_).

std::string Emulator::Impl::AddUserLocked(const std::string& username, bool bot) {
  std::string key = AsciiLower(username);
  if (auto it = user_by_name_.find(key); it != user_by_name_.end()) return it->second;
  UserRec user;
  user.id = NewId();
  user.username = key;
  user.is_bot = bot;
  user.create_at = user.update_at = NowMs();
  user_by_name_[key] = user.id;
  std::string id = user.id;
  users_.emplace(id, std::move(user));
  return id;
}

std::string Emulator::Impl::AddTeamLocked(const std::string& name,
                                          const std::string& display_name) {
  if (auto it = team_by_name_.find(name); it != team_by_name_.end()) return it->second;
  TeamRec team;
  team.id = NewId();
  team.name = name;
  team.display_name = display_name.empty() ? name : display_name;
  team.invite_id = NewId();
  team.create_at = NowMs();
  team_by_name_[name] = team.id;
  std::string id = team.id;
  teams_.emplace(id, std::move(team));
  return id;
}

std::string Emulator::Impl::AddChannelLocked(const std::string& team_id, const std::string& name,
                                             char type, const std::string& display_name) {
  auto team = teams_.find(team_id);
  if (team == teams_.end()) {
    std::fprintf(stderr, "mm-emulator: AddChannel: unknown team %s\n", team_id.c_str());
    return "";
  }
  if (auto it = team->second.channels_by_name.find(name);
      it != team->second.channels_by_name.end()) {
    return it->second;
  }
  ChannelRec channel;
  channel.id = NewId();
  channel.team_id = team_id;
  channel.name = name;
  channel.display_name = display_name.empty() ? name : display_name;
  channel.type = type == 'P' ? 'P' : 'O';
  channel.create_at = channel.update_at = NowMs();
  team->second.channels_by_name[name] = channel.id;
  std::string id = channel.id;
  channels_.emplace(id, std::move(channel));
  return id;
}

std::string Emulator::Impl::AddTokenLocked(const std::string& user_id, const std::string& token) {
  if (users_.count(user_id) == 0) {
    std::fprintf(stderr, "mm-emulator: CreateToken: unknown user %s\n", user_id.c_str());
    return "";
  }
  TokenRec record;
  record.id = NewId();
  record.token = token.empty() ? NewId() : token;
  record.user_id = user_id;
  std::string value = record.token;
  tokens_[value] = std::move(record);
  return value;
}

void Emulator::Impl::AddTeamMemberLocked(const std::string& team_id, const std::string& user_id) {
  auto team = teams_.find(team_id);
  if (team == teams_.end() || users_.count(user_id) == 0) {
    std::fprintf(stderr, "mm-emulator: AddTeamMember: unknown team or user\n");
    return;
  }
  team->second.members.insert(user_id);
}

void Emulator::Impl::AddChannelMemberLocked(const std::string& channel_id,
                                            const std::string& user_id) {
  auto channel = channels_.find(channel_id);
  if (channel == channels_.end() || users_.count(user_id) == 0) {
    std::fprintf(stderr, "mm-emulator: AddChannelMember: unknown channel or user\n");
    return;
  }
  int64_t now = NowMs();
  channel->second.members.emplace(user_id, MemberRec{now, now});
}

void Emulator::Impl::RememberPending(const std::string& key, const std::string& post_id,
                                     int64_t now_ms) {
  uint64_t seq = ++pending_seq_;
  pending_[key] = PendingRec{post_id, now_ms + options_.dedup_ttl_ms, seq};
  pending_fifo_.emplace_back(seq, key);
  TrimPending(now_ms);
}

void Emulator::Impl::TrimPending(int64_t now_ms) {
  constexpr size_t kPendingPostIdsCacheSize = 25000;
  while (!pending_fifo_.empty()) {
    const auto& [seq, key] = pending_fifo_.front();
    auto it = pending_.find(key);
    if (it != pending_.end() && it->second.seq == seq) {
      bool expired = it->second.expires_ms <= now_ms;
      if (!expired && pending_.size() <= kPendingPostIdsCacheSize) break;
      pending_.erase(it);
    }
    pending_fifo_.pop_front();  // evicted, or a stale entry of a key since removed or renewed
  }
}

// ---------------------------------------------------------------------------------------------
// Public API.

Emulator::Emulator(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->owner_ = this;
}
Emulator::~Emulator() { impl_->Stop(); }

bool Emulator::Start() { return impl_->Start(); }
void Emulator::Stop() { impl_->Stop(); }
int Emulator::port() const { return impl_->port_; }

std::string Emulator::base_url() const {
  const Options& o = impl_->options_;
  bool tls = !o.cert_file.empty() && !o.key_file.empty();
  std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  return std::string(tls ? "https" : "http") + "://" + host + ":" + std::to_string(port()) +
         o.subpath;
}

std::string Emulator::AddTeam(const std::string& name, const std::string& display_name) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->AddTeamLocked(name, display_name);
}

std::string Emulator::AddChannel(const std::string& team_id, const std::string& name, char type) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->AddChannelLocked(team_id, name, type, "");
}

std::string Emulator::AddUser(const std::string& username) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->AddUserLocked(username, false);
}

std::string Emulator::AddBot(const std::string& username) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->AddUserLocked(username, true);
}

std::string Emulator::CreateToken(const std::string& user_id) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->AddTokenLocked(user_id, "");
}

void Emulator::AddTeamMember(const std::string& team_id, const std::string& user_id) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->AddTeamMemberLocked(team_id, user_id);
}

void Emulator::AddChannelMember(const std::string& channel_id, const std::string& user_id) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->AddChannelMemberLocked(channel_id, user_id);
}

void Emulator::RevokeToken(const std::string& token) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->tokens_.erase(token);
}

void Emulator::SetTokenActive(const std::string& token, bool active) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  if (auto it = impl_->tokens_.find(token); it != impl_->tokens_.end()) it->second.active = active;
}

void Emulator::SetUserActive(const std::string& user_id, bool active) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  if (auto it = impl_->users_.find(user_id); it != impl_->users_.end()) {
    it->second.active = active;
    it->second.delete_at = active ? 0 : NowMs();
    it->second.update_at = NowMs();
  }
}

void Emulator::SetUserAccessTokensEnabled(bool enabled) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->user_access_tokens_enabled_ = enabled;
}

void Emulator::ArchiveChannel(const std::string& channel_id) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  if (auto it = impl_->channels_.find(channel_id); it != impl_->channels_.end()) {
    it->second.delete_at = it->second.update_at = NowMs();
  }
}

void Emulator::GrantSystemRole(const std::string& user_id, const std::string& role) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  if (auto it = impl_->users_.find(user_id); it != impl_->users_.end()) {
    it->second.roles.insert(role);
  }
}

void Emulator::SetRateLimit(double per_second, int max_burst) {
  std::lock_guard<std::mutex> lock(impl_->rate_mu_);
  impl_->limiter_ =
      per_second > 0 ? std::make_unique<GcraRateLimiter>(per_second, max_burst) : nullptr;
}

void Emulator::SetFault(const Fault& fault) {
  {
    std::lock_guard<std::mutex> lock(impl_->fault_mu_);
    impl_->fault_ = fault;
    ++impl_->fault_release_;
  }
  impl_->fault_cv_.notify_all();
}

std::vector<Post> Emulator::Posts(const std::string& channel_id) const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  std::vector<Post> out;
  auto it = impl_->channels_.find(channel_id);
  if (it == impl_->channels_.end()) return out;
  out.reserve(it->second.post_ids.size());
  for (const std::string& id : it->second.post_ids) out.push_back(impl_->posts_.at(id).post);
  return out;
}

std::optional<Post> Emulator::GetPost(const std::string& post_id) const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  auto it = impl_->posts_.find(post_id);
  if (it == impl_->posts_.end()) return std::nullopt;
  return it->second.post;
}

size_t Emulator::TotalPosts() const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->post_order_.size();
}

std::vector<RequestRecord> Emulator::Requests() const {
  std::lock_guard<std::mutex> lock(impl_->log_mu_);
  return {impl_->log_.begin(), impl_->log_.end()};
}

void Emulator::ClearRequests() {
  std::lock_guard<std::mutex> lock(impl_->log_mu_);
  impl_->log_.clear();
}

bool Emulator::WaitForPosts(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mu_);
  return impl_->posts_cv_.wait_for(lock, timeout, [&] { return impl_->post_order_.size() >= n; });
}

bool Emulator::WaitForHeldRequests(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->fault_mu_);
  return impl_->fault_cv_.wait_for(lock, timeout, [&] { return impl_->held_requests_ >= n; });
}

// ---------------------------------------------------------------------------------------------
// Seed.

nlohmann::json Emulator::Seed(const nlohmann::json& world) {
  nlohmann::json result = {{"teams", nlohmann::json::object()},
                           {"channels", nlohmann::json::object()},
                           {"users", nlohmann::json::object()},
                           {"tokens", nlohmann::json::object()}};
  auto fail = [&](const std::string& message) {
    result["error"] = message;
    return result;
  };
  if (!world.is_object()) return fail("the world must be a JSON object");
  std::lock_guard<std::mutex> lock(impl_->mu_);
  Impl& w = *impl_;
  if (auto it = world.find("user_access_tokens_enabled"); it != world.end()) {
    if (!it->is_boolean()) return fail("user_access_tokens_enabled must be a boolean");
    w.user_access_tokens_enabled_ = it->get<bool>();
  }
  // "team/channel" -> channel id, for memberships below.
  auto channel_id_of = [&](const std::string& ref) -> std::string {
    size_t slash = ref.find('/');
    if (slash == std::string::npos) return "";
    auto team = w.team_by_name_.find(ref.substr(0, slash));
    if (team == w.team_by_name_.end()) return "";
    auto& channels = w.teams_.at(team->second).channels_by_name;
    auto channel = channels.find(ref.substr(slash + 1));
    return channel == channels.end() ? "" : channel->second;
  };

  const nlohmann::json empty = nlohmann::json::array();
  const nlohmann::json& teams = world.contains("teams") ? world["teams"] : empty;
  if (!teams.is_array()) return fail("teams must be an array");
  for (const auto& team : teams) {
    if (!team.is_object() || !team.value("name", nlohmann::json()).is_string()) {
      return fail("every team needs a string name");
    }
    std::string team_name = team["name"].get<std::string>();
    std::string team_id = w.AddTeamLocked(team_name, team.value("display_name", ""));
    result["teams"][team_name] = team_id;
    const nlohmann::json& channels = team.contains("channels") ? team["channels"] : empty;
    if (!channels.is_array()) return fail("channels of team " + team_name + " must be an array");
    for (const auto& channel : channels) {
      if (!channel.is_object() || !channel.value("name", nlohmann::json()).is_string()) {
        return fail("every channel needs a string name");
      }
      std::string type = channel.value("type", "O");
      if (type != "O" && type != "P") return fail("channel type must be \"O\" or \"P\"");
      std::string name = channel["name"].get<std::string>();
      std::string id =
          w.AddChannelLocked(team_id, name, type[0], channel.value("display_name", ""));
      if (channel.value("archived", false)) {
        ChannelRec& rec = w.channels_.at(id);
        rec.delete_at = rec.update_at = NowMs();
      }
      result["channels"][team_name + "/" + name] = id;
    }
  }

  const nlohmann::json& users = world.contains("users") ? world["users"] : empty;
  if (!users.is_array()) return fail("users must be an array");
  for (const auto& user : users) {
    if (!user.is_object() || !user.value("username", nlohmann::json()).is_string()) {
      return fail("every user needs a string username");
    }
    std::string username = user["username"].get<std::string>();
    std::string id = w.AddUserLocked(username, user.value("bot", false));
    UserRec& rec = w.users_.at(id);
    result["users"][rec.username] = id;
    if (!user.value("active", true)) {
      rec.active = false;
      rec.delete_at = NowMs();
    }
    if (auto roles = user.find("roles"); roles != user.end()) {
      if (!roles->is_array()) return fail("roles of " + username + " must be an array");
      for (const auto& role : *roles) {
        if (!role.is_string()) return fail("roles of " + username + " must be strings");
        rec.roles.insert(role.get<std::string>());
      }
    }
    if (auto member_of = user.find("teams"); member_of != user.end()) {
      if (!member_of->is_array()) return fail("teams of " + username + " must be an array");
      for (const auto& team : *member_of) {
        auto team_it = team.is_string() ? w.team_by_name_.find(team.get<std::string>())
                                        : w.team_by_name_.end();
        if (team_it == w.team_by_name_.end()) {
          return fail(username + ": unknown team " + team.dump());
        }
        w.AddTeamMemberLocked(team_it->second, id);
      }
    }
    if (auto member_of = user.find("channels"); member_of != user.end()) {
      if (!member_of->is_array()) return fail("channels of " + username + " must be an array");
      for (const auto& channel : *member_of) {
        std::string channel_id =
            channel.is_string() ? channel_id_of(channel.get<std::string>()) : "";
        if (channel_id.empty()) {
          return fail(username + ": unknown channel " + channel.dump() + " (use \"team/channel\")");
        }
        w.AddChannelMemberLocked(channel_id, id);
      }
    }
    std::vector<std::string> explicit_tokens;
    if (auto token = user.find("token"); token != user.end()) {
      if (!token->is_string()) return fail("token of " + username + " must be a string");
      explicit_tokens.push_back(token->get<std::string>());
    }
    if (auto tokens = user.find("tokens"); tokens != user.end()) {
      if (!tokens->is_array()) return fail("tokens of " + username + " must be an array");
      for (const auto& token : *tokens) {
        if (!token.is_string()) return fail("tokens of " + username + " must be strings");
        explicit_tokens.push_back(token.get<std::string>());
      }
    }
    nlohmann::json& minted = result["tokens"][rec.username];
    minted = nlohmann::json::array();
    for (const std::string& token : explicit_tokens) {
      if (!ValidExplicitToken(token)) {
        return fail("token of " + username + " must be 1-64 letters/digits (real ones are 26)");
      }
      minted.push_back(w.AddTokenLocked(id, token));
    }
    if (user.value("create_token", false)) minted.push_back(w.AddTokenLocked(id, ""));
  }
  return result;
}

}  // namespace mmemu
