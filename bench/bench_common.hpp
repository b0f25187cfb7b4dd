// bench_common.hpp — what the end-to-end benchmarks share: a kept-alive HTTP/1.1 client over a
// raw socket, child processes (`tocsin serve`, `mm-emulator`) that are always stopped, /proc
// readers (CPU time, RSS, load average), a "stack" that starts and wires the two servers, and the
// one line format every figure is printed in.
//
// The benchmarks are black-box: they talk to the real binaries over 127.0.0.1 only, and link no
// Tocsin library, so what they measure is what a deployment gets.
//
// Figures are printed as `RESULT | id | what | measured | target | verdict | load | note |`
// lines (a Markdown table row after the prefix), which scripts/bench.sh collects into a table;
// everything else on stdout is commentary for a person watching.
//
// Threading: an HttpConnection belongs to one thread. Everything else is used from main.
#pragma once

#include <functional>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace tocsin::bench {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

// A benchmark that cannot go on throws this; main() catches it, the stack's destructors stop the
// child processes on the way out.
struct BenchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

double Seconds(Clock::duration d);
double Millis(Clock::duration d);
// Wall clock in milliseconds since the epoch (the emulator stamps posts with this clock).
double WallMs();

struct HttpResponse {
  int status = 0;  // 0: no answer (error() on the connection says why)
  std::string body;
};

// One kept-alive HTTP/1.1 connection to host:port with TCP_NODELAY. A request on a connection the
// server closed while idle is sent again once on a new connection; anything else is reported, not
// retried (an event POST without an id is not idempotent).
class HttpConnection {
 public:
  HttpConnection(std::string host, int port);
  explicit HttpConnection(const std::string& base_url);  // http://host:port
  ~HttpConnection();
  HttpConnection(HttpConnection&& other) noexcept;
  HttpConnection& operator=(HttpConnection&&) = delete;
  HttpConnection(const HttpConnection&) = delete;

  void SetBearer(std::string token) { bearer_ = std::move(token); }
  void SetTimeout(std::chrono::seconds t) { timeout_ = t; }

  HttpResponse Request(std::string_view method, std::string_view target, std::string_view body = {},
                       std::string_view content_type = "application/json");
  HttpResponse Get(std::string_view target) { return Request("GET", target); }
  // The request, or BenchError naming it when the status is not `expect`.
  Json Call(std::string_view method, std::string_view target, const Json& body, int expect);
  Json GetJson(std::string_view target);

  const std::string& error() const { return error_; }

 private:
  bool Connect();
  void Close();
  bool SendAll(std::string_view data);
  // Reads one complete answer; `got_any` tells whether any byte of it arrived.
  bool ReadResponse(HttpResponse* out, bool* close_after, bool* got_any);
  bool Fill();  // reads more bytes into buf_; false on EOF/error/timeout

  std::string host_;
  int port_ = 0;
  int fd_ = -1;
  bool reused_ = false;
  std::string bearer_;
  std::chrono::seconds timeout_{30};
  std::string buf_;  // bytes received and not yet consumed
  std::string error_;
};

// A child process whose stdout and stderr go to a log file. Stopped (SIGTERM, then SIGKILL after
// 10 s) by Stop() or the destructor; it also gets SIGKILL if the benchmark itself dies.
class Child {
 public:
  Child(const std::vector<std::string>& argv, std::string log_path);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  // Waits until the log holds `marker`; returns the word that follows it (up to white space).
  std::string WaitForLog(std::string_view marker, std::chrono::milliseconds timeout);
  void Stop();

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  std::string name_;
};

// /proc readers. CPU seconds are utime + stime of the whole process (all its threads).
double CpuSeconds(pid_t pid);
int64_t StatusKb(pid_t pid, const char* field);  // "VmRSS", "VmHWM"; -1 when unreadable
int64_t WrittenBytes(pid_t pid);  // /proc/<pid>/io wchar: bytes passed to write() and pwrite()
double LoadAverage1();
std::string LoadAverageText();  // "4.12 3.90 3.55"

// Where the binaries are. Defaults are relative to this executable in a build tree
// (build/bench/x → build/src/tocsin, build/tools/mm-emulator/mm-emulator, build/bench/sarif_gen).
struct Paths {
  std::string tocsin, emulator, sarif_gen;
  std::string work_dir;           // scratch directory, made by ParseArgs and removed by Cleanup
  bool keep = false;              // --keep: leave the scratch directory (logs, databases) in place
  std::vector<std::string> rest;  // arguments ParseArgs did not know
};
Paths ParseArgs(int argc, char** argv, const char* name);
// A benchmark's own flag: "--name VALUE" into an int, long or double, or a bare "--name" switch
// that sets a bool to true.
struct Flag {
  std::string name;
  std::variant<int*, long*, double*, bool*> target;
};
// Reads `args` (Paths::rest) into the flags; an unknown flag, a missing value or one that is not
// a number is a BenchError that names the flag.
void ReadFlags(const std::vector<std::string>& args, const std::vector<Flag>& flags);
void Cleanup(const Paths& paths);
// A benchmark's main: parses the shared arguments, runs `run`, always cleans up, and turns an
// exception into one line on stderr and exit status 1.
int BenchMain(int argc, char** argv, const char* name,
              const std::function<void(const Paths&)>& run);

struct StackOptions {
  int channels = 10;                      // emulator channels bench/c00 … (bot is a member)
  int workers = 4;                        // --delivery-workers; 0 = the default (16)
  std::optional<double> rate_per_second;  // --mattermost-rate-per-second; nullopt = default
  std::string name = "stack";             // subdirectory of the scratch dir
};

// An mm-emulator and a `tocsin serve` pointed at it: the Mattermost integration saved (URL and the
// bot's token), ready for projects. Both processes stop with the object.
class Stack {
 public:
  Stack(const Paths& paths, const StackOptions& options);
  ~Stack();

  HttpConnection Api() const;  // to tocsin, with the admin token
  HttpConnection Emu() const;  // to the emulator
  pid_t tocsin_pid() const { return tocsin_->pid(); }
  pid_t emulator_pid() const { return emulator_->pid(); }
  static std::string Channel(int i);  // "bench/c03"

  // Creates project `name` routing every event type to `channel` with this digest threshold.
  void AddProject(const std::string& name, const std::string& channel, int digest_threshold);
  // Creates project `name` with no Mattermost link: its events create no deliveries.
  void AddProjectWithoutLink(const std::string& name);
  int64_t EmulatorPosts(HttpConnection& emu) const;
  // Polls the emulator until it holds `target` posts; returns the time it got there, or nullopt
  // at the deadline.
  std::optional<Clock::time_point> WaitForPosts(HttpConnection& emu, int64_t target,
                                                Clock::time_point deadline) const;
  // Polls until tocsin has no pending or sending delivery (or the deadline).
  bool WaitForDrained(HttpConnection& api, Clock::time_point deadline) const;
  void SetFault(const Json& fault) const;

 private:
  std::string dir_;
  std::unique_ptr<Child> emulator_, tocsin_;
  std::string emulator_url_;
  int tocsin_port_ = 0;
  std::string admin_token_;
};

// A vulnerability.new event as compact JSON; `tag` goes into the fingerprint and the title.
std::string NewFindingEvent(const std::string& project, const std::string& tag);

// Percentile (0..100) of an unsorted sample; sorts it.
double Percentile(std::vector<double>& v, double p);

// Prints one figure. `verdict` is "met", "missed" or "—" (no target); load is sampled now.
void Report(const std::string& id, const std::string& what, const std::string& measured,
            const std::string& target, const std::string& verdict, const std::string& note = "");
std::string Verdict(bool met);
std::string Fmt(double v, int decimals = 0);  // 12345.6 → "12,346"

}  // namespace tocsin::bench
