// The shared pieces of the end-to-end benchmarks; see bench_common.hpp.
#include "bench_common.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <type_traits>

namespace tocsin::bench {

namespace fs = std::filesystem;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
double WallMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------------------------------------
// HttpConnection

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

HttpConnection::HttpConnection(std::string host, int port) : host_(std::move(host)), port_(port) {}

HttpConnection::HttpConnection(const std::string& base_url) {
  // http://host:port, nothing else (both servers print exactly that).
  constexpr std::string_view kScheme = "http://";
  const size_t colon = base_url.rfind(':');
  if (base_url.compare(0, kScheme.size(), kScheme) != 0 || colon < kScheme.size() ||
      colon + 1 >= base_url.size() ||
      base_url.find_first_not_of("0123456789/", colon + 1) != std::string::npos) {
    throw BenchError("not an http://host:port URL: " + base_url);
  }
  host_ = base_url.substr(kScheme.size(), colon - kScheme.size());
  port_ = std::stoi(base_url.substr(colon + 1));
}

HttpConnection::~HttpConnection() { Close(); }

HttpConnection::HttpConnection(HttpConnection&& other) noexcept
    : host_(std::move(other.host_)),
      port_(other.port_),
      fd_(std::exchange(other.fd_, -1)),
      reused_(other.reused_),
      bearer_(std::move(other.bearer_)),
      timeout_(other.timeout_),
      buf_(std::move(other.buf_)),
      error_(std::move(other.error_)) {}

void HttpConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buf_.clear();
}

bool HttpConnection::Connect() {
  Close();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error_ = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout_.count());
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  if (::inet_pton(AF_INET, host_ == "localhost" ? "127.0.0.1" : host_.c_str(), &addr.sin_addr) !=
      1) {
    error_ = "not an IPv4 address: " + host_;
    Close();
    return false;
  }
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error_ = std::string("connect: ") + std::strerror(errno);
    Close();
    return false;
  }
  reused_ = false;
  return true;
}

bool HttpConnection::SendAll(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = std::string("send: ") + std::strerror(errno);
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool HttpConnection::Fill() {
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) {
      buf_.append(chunk, static_cast<size_t>(n));
      return true;
    }
    error_ = n == 0
                 ? "connection closed by the server"
                 : std::string("recv: ") + (errno == EAGAIN ? "timed out" : std::strerror(errno));
    return false;
  }
}

bool HttpConnection::ReadResponse(HttpResponse* out, bool* close_after, bool* got_any) {
  *got_any = !buf_.empty();
  for (;;) {  // skips 1xx answers
    size_t header_end;
    while ((header_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return false;
      *got_any = true;
    }
    const std::string head = buf_.substr(0, header_end);
    buf_.erase(0, header_end + 4);
    // "HTTP/1.1 202 Accepted"
    const size_t sp = head.find(' ');
    if (sp == std::string::npos || head.size() < sp + 4) {
      error_ = "malformed status line";
      return false;
    }
    out->status = std::atoi(head.c_str() + sp + 1);
    int64_t length = -1;
    bool chunked = false;
    *close_after = head.compare(0, 8, "HTTP/1.0") == 0;
    std::istringstream lines(head);
    std::string line;
    std::getline(lines, line);
    while (std::getline(lines, line)) {
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      const std::string name = Lower(line.substr(0, colon));
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
      if (name == "content-length") length = std::stoll(value);
      if (name == "transfer-encoding" && Lower(value).find("chunked") != std::string::npos) {
        chunked = true;
      }
      if (name == "connection") *close_after = Lower(value) == "close";
    }
    if (out->status >= 100 && out->status < 200) continue;
    out->body.clear();
    if (chunked) {
      for (;;) {
        size_t eol;
        while ((eol = buf_.find("\r\n")) == std::string::npos) {
          if (!Fill()) return false;
        }
        const size_t size = std::stoul(buf_.substr(0, eol), nullptr, 16);
        buf_.erase(0, eol + 2);
        while (buf_.size() < size + 2) {
          if (!Fill()) return false;
        }
        out->body.append(buf_, 0, size);
        buf_.erase(0, size + 2);
        if (size == 0) break;  // (trailers are not used by either server)
      }
    } else if (length >= 0) {
      while (buf_.size() < static_cast<size_t>(length)) {
        if (!Fill()) return false;
      }
      out->body.assign(buf_, 0, static_cast<size_t>(length));
      buf_.erase(0, static_cast<size_t>(length));
    } else {  // until the server closes
      while (Fill()) {
      }
      out->body = std::move(buf_);
      buf_.clear();
      *close_after = true;
    }
    return true;
  }
}

HttpResponse HttpConnection::Request(std::string_view method, std::string_view target,
                                     std::string_view body, std::string_view content_type) {
  std::string head;
  head.reserve(256);
  head.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ");
  head.append(host_).append(":").append(std::to_string(port_)).append("\r\n");
  if (!bearer_.empty()) head.append("Authorization: Bearer ").append(bearer_).append("\r\n");
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    head.append("Content-Type: ").append(content_type).append("\r\n");
    head.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  head.append("\r\n");
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (fd_ < 0 && !Connect()) return {};
    const bool was_reused = reused_;
    HttpResponse out;
    bool close_after = false, got_any = false;
    // Small bodies go out with the header in one segment.
    bool sent =
        body.size() < 16384 ? SendAll(head + std::string(body)) : SendAll(head) && SendAll(body);
    if (sent && ReadResponse(&out, &close_after, &got_any)) {
      reused_ = true;
      if (close_after) Close();
      return out;
    }
    Close();
    // Only a kept-alive connection that died before answering anything is worth a second try.
    if (!was_reused || got_any) return {};
  }
  return {};
}

Json HttpConnection::Call(std::string_view method, std::string_view target, const Json& body,
                          int expect) {
  HttpResponse r = Request(method, target, body.is_null() ? std::string() : body.dump());
  if (r.status != expect) {
    throw BenchError(std::string(method) + " " + std::string(target) + " answered " +
                     std::to_string(r.status) + " (expected " + std::to_string(expect) +
                     "): " + (r.status ? r.body.substr(0, 500) : error_));
  }
  if (r.body.empty()) return Json();
  Json j = Json::parse(r.body, nullptr, false);
  if (j.is_discarded()) throw BenchError(std::string(target) + " answered non-JSON");
  return j;
}

Json HttpConnection::GetJson(std::string_view target) { return Call("GET", target, Json(), 200); }

// ---------------------------------------------------------------------------------------------
// Child

Child::Child(const std::vector<std::string>& argv, std::string log_path)
    : log_path_(std::move(log_path)), name_(fs::path(argv.at(0)).filename()) {
  const int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log < 0) throw BenchError("cannot create " + log_path_ + ": " + std::strerror(errno));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw BenchError(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    // Killed with the benchmark, whatever way it ends.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(127);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  ::close(log);
}

Child::~Child() { Stop(); }

void Child::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      std::fprintf(stderr, "%s (pid %d) did not stop in 10 s; killing it\n", name_.c_str(), pid_);
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
}

std::string Child::WaitForLog(std::string_view marker, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    std::ifstream in(log_path_);
    std::string line;
    while (std::getline(in, line)) {
      const size_t at = line.find(marker);
      if (at == std::string::npos) continue;
      const size_t start = at + marker.size();
      return line.substr(start, line.find_first_of(" \t\r", start) - start);
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw BenchError(name_ + " exited before it was ready; see " + log_path_);
    }
    if (Clock::now() > deadline) throw BenchError(name_ + " not ready in time; see " + log_path_);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// ---------------------------------------------------------------------------------------------
// /proc

double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name is in parentheses and may hold spaces: count fields after the last ')'.
  const size_t close = all.rfind(')');
  if (close == std::string::npos) throw BenchError("cannot read /proc/<pid>/stat");
  std::istringstream rest(all.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {  // field 3 is the state
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

int64_t StatusKb(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.compare(0, prefix.size(), prefix) == 0) {
      return std::stoll(line.substr(prefix.size()));
    }
  }
  return -1;
}

int64_t WrittenBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  std::string key;
  int64_t value = 0;
  while (in >> key >> value) {
    if (key == "wchar:") return value;
  }
  return -1;
}

std::string LoadAverageText() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

double LoadAverage1() {
  std::ifstream in("/proc/loadavg");
  double a = 0;
  in >> a;
  return a;
}

// ---------------------------------------------------------------------------------------------
// Paths

Paths ParseArgs(int argc, char** argv, const char* name) {
  Paths p;
  const fs::path self = fs::read_symlink("/proc/self/exe").parent_path();
  p.tocsin = (self / ".." / "src" / "tocsin").lexically_normal();
  p.emulator = (self / ".." / "tools" / "mm-emulator" / "mm-emulator").lexically_normal();
  p.sarif_gen = (self / "sarif_gen").lexically_normal();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw BenchError(a + " needs a value");
      return argv[++i];
    };
    if (a == "--tocsin") {
      p.tocsin = value();
    } else if (a == "--emulator") {
      p.emulator = value();
    } else if (a == "--sarif-gen") {
      p.sarif_gen = value();
    } else if (a == "--keep") {
      p.keep = true;
    } else {
      p.rest.push_back(a);
    }
  }
  for (const std::string* b : {&p.tocsin, &p.emulator}) {
    if (::access(b->c_str(), X_OK) != 0) throw BenchError("not an executable: " + *b);
  }
  std::string tmpl = (fs::temp_directory_path() / (std::string(name) + "-XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) throw BenchError("mkdtemp failed");
  p.work_dir = tmpl;
  std::printf("# %s: scratch %s, tocsin %s\n", name, p.work_dir.c_str(), p.tocsin.c_str());
  return p;
}

void ReadFlags(const std::vector<std::string>& args, const std::vector<Flag>& flags) {
  for (size_t i = 0; i < args.size(); ++i) {
    const auto flag = std::find_if(flags.begin(), flags.end(),
                                   [&](const Flag& f) { return f.name == args[i]; });
    if (flag == flags.end()) throw BenchError("unknown argument " + args[i]);
    if (bool* const* on = std::get_if<bool*>(&flag->target)) {
      **on = true;
      continue;
    }
    if (i + 1 >= args.size()) throw BenchError(flag->name + " needs a value");
    const std::string& text = args[++i];
    try {
      size_t used = 0;
      std::visit(
          [&](auto* target) {
            using T = std::remove_pointer_t<decltype(target)>;
            if constexpr (std::is_same_v<T, double>) {
              *target = std::stod(text, &used);
            } else if constexpr (!std::is_same_v<T, bool>) {
              *target = static_cast<T>(std::stol(text, &used));
            }
          },
          flag->target);
      if (used != text.size()) throw std::invalid_argument(text);
    } catch (const std::logic_error&) {  // invalid_argument, out_of_range
      throw BenchError(flag->name + " needs a number, not '" + text + "'");
    }
  }
}

void Cleanup(const Paths& paths) {
  if (paths.keep || paths.work_dir.empty()) return;
  std::error_code ec;
  fs::remove_all(paths.work_dir, ec);
}

// ---------------------------------------------------------------------------------------------
// Stack

namespace {

constexpr char kBotToken[] = "benchbot0token0000000000aa";  // 26 letters and digits

}  // namespace

std::string Stack::Channel(int i) {
  char name[32];
  std::snprintf(name, sizeof name, "bench/c%02d", i);
  return name;
}

Stack::Stack(const Paths& paths, const StackOptions& o) : dir_(paths.work_dir + "/" + o.name) {
  fs::create_directories(dir_);
  Json channels = Json::array(), names = Json::array();
  for (int i = 0; i < o.channels; ++i) {
    const std::string ref = Channel(i);
    channels.push_back({{"name", ref.substr(ref.find('/') + 1)}});
    names.push_back(ref);
  }
  const Json world = {{"teams", Json::array({{{"name", "bench"}, {"channels", channels}}})},
                      {"users", Json::array({{{"username", "tocsin-bot"},
                                              {"bot", true},
                                              {"teams", {"bench"}},
                                              {"channels", names},
                                              {"token", kBotToken}}})}};
  std::ofstream(dir_ + "/world.json") << world.dump();

  emulator_ =
      std::make_unique<Child>(std::vector<std::string>{paths.emulator, "--listen", "127.0.0.1:0",
                                                       "--seed", dir_ + "/world.json"},
                              dir_ + "/emulator.log");
  emulator_url_ = emulator_->WaitForLog("listening on ", std::chrono::seconds(20));

  std::vector<std::string> argv = {paths.tocsin, "serve",    "--listen",
                                   "127.0.0.1:0", "--data-dir", dir_ + "/data"};
  if (o.workers > 0) {
    argv.push_back("--delivery-workers");
    argv.push_back(std::to_string(o.workers));
  }
  if (o.rate_per_second) {
    argv.push_back("--mattermost-rate-per-second");
    char rate[32];
    std::snprintf(rate, sizeof rate, "%g", *o.rate_per_second);
    argv.push_back(rate);
  }
  tocsin_ = std::make_unique<Child>(argv, dir_ + "/tocsin.log");
  tocsin_port_ = std::stoi(tocsin_->WaitForLog("serving port=", std::chrono::seconds(30)));
  std::ifstream token_in(dir_ + "/data/admin-token");
  std::getline(token_in, admin_token_);
  if (admin_token_.empty()) throw BenchError("no admin token in " + dir_ + "/data/admin-token");

  HttpConnection api = Api();
  api.Call("PUT", "/api/v1/integrations/mattermost",
           {{"url", emulator_url_}, {"token", kBotToken}, {"active", true}}, 200);
}

Stack::~Stack() {
  // The server first: it must not see its Mattermost vanish mid-request and log retries.
  if (tocsin_) tocsin_->Stop();
  if (emulator_) emulator_->Stop();
}

HttpConnection Stack::Api() const {
  HttpConnection c("127.0.0.1", tocsin_port_);
  c.SetBearer(admin_token_);
  return c;
}

HttpConnection Stack::Emu() const { return HttpConnection(emulator_url_); }

void Stack::AddProject(const std::string& name, const std::string& channel, int digest_threshold) {
  HttpConnection api = Api();
  api.Call("POST", "/api/v1/projects", {{"name", name}}, 201);
  api.Call(
      "PUT", "/api/v1/projects/" + name + "/integrations/mattermost",
      {{"enabled", true},
       {"routes", Json::array({{{"channel", channel}, {"digest_threshold", digest_threshold}}})}},
      200);
}

void Stack::AddProjectWithoutLink(const std::string& name) {
  HttpConnection api = Api();
  api.Call("POST", "/api/v1/projects", {{"name", name}}, 201);
}

int64_t Stack::EmulatorPosts(HttpConnection& emu) const {
  return emu.GetJson("/_emulator/stats").at("posts").get<int64_t>();
}

std::optional<Clock::time_point> Stack::WaitForPosts(HttpConnection& emu, int64_t target,
                                                     Clock::time_point deadline) const {
  for (;;) {
    if (EmulatorPosts(emu) >= target) return Clock::now();
    if (Clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool Stack::WaitForDrained(HttpConnection& api, Clock::time_point deadline) const {
  for (;;) {
    const Json pending = api.GetJson("/api/v1/deliveries?state=pending&limit=1");
    const Json sending = api.GetJson("/api/v1/deliveries?state=sending&limit=1");
    if (pending.at("items").empty() && sending.at("items").empty()) return true;
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void Stack::SetFault(const Json& fault) const {
  HttpConnection emu = Emu();
  emu.Call("POST", "/_emulator/fault", fault, 200);
}

// ---------------------------------------------------------------------------------------------
// Events, statistics, reporting

std::string NewFindingEvent(const std::string& project, const std::string& tag) {
  // About the size of a scanner's finding: ~450 bytes.
  std::string e;
  e.reserve(512);
  e +=
      R"({"type":"vulnerability.new","project":")" + project +
      R"(","finding":{"fingerprint":"bench:)" + tag + R"(","title":"Benchmark finding )" + tag +
      R"( in user-controlled data flow","severity":"high","scanner":"bench","rule_id":"bench/rule-7","cwe":"CWE-89","location":{"path":"src/server/handlers/user.js","line":42,"component":"pg@8.7.1"},"description":"Data flows from a remote source to a SQL query without sanitization; an attacker may change the query.","link":"https://example.com/rules/bench-7"}})";
  return e;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
}

std::string Verdict(bool met) { return met ? "met" : "**missed**"; }

std::string Fmt(double v, int decimals) {
  char raw[64];
  std::snprintf(raw, sizeof raw, "%.*f", decimals, v);
  const std::string_view s = raw;
  const size_t sign = s[0] == '-' ? 1 : 0;
  const size_t int_end = std::min(s.find('.'), s.size());
  std::string out(s.substr(0, sign));
  for (size_t i = sign; i < int_end; ++i) {
    if (i > sign && (int_end - i) % 3 == 0) out.push_back(',');
    out.push_back(s[i]);
  }
  out.append(s.substr(int_end));
  return out;
}

void Report(const std::string& id, const std::string& what, const std::string& measured,
            const std::string& target, const std::string& verdict, const std::string& note) {
  std::printf("RESULT | %s | %s | %s | %s | %s | %s | %s |\n", id.c_str(), what.c_str(),
              measured.c_str(), target.c_str(), verdict.c_str(), LoadAverageText().c_str(),
              note.c_str());
  std::fflush(stdout);
}

int BenchMain(int argc, char** argv, const char* name,
              const std::function<void(const Paths&)>& run) {
  Paths paths;
  try {
    paths = ParseArgs(argc, argv, name);
    run(paths);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    Cleanup(paths);
    return 1;
  }
  Cleanup(paths);
  return 0;
}

}  // namespace tocsin::bench
