// bench_scan — SARIF uploads end to end: POST /api/v1/projects/{name}/scans on a real
// `tocsin serve`, through to the digest post in the emulator.
//
//   bench_scan [--big-results N] [--sarif-gen PATH] [--tocsin PATH] [--emulator PATH] [--keep]
//
// Logs come from bench/sarif_gen (CodeQL's shape, ~1 KB per result, deterministic: a log of N
// results is a prefix of a log of M > N results, so a smaller log is "the previous scan").
// Default settings otherwise (4 workers, the client cap of 10 requests/s, digest_threshold 10).
//
// Figures:
//   8a  a 1,000-result scan after a baseline of its first 900 (100 new findings): time from the
//       start of the upload to the digest's root post in the emulator (its create_at, ms).
//   8b  the same 1,000-result scan after a baseline of its first 10 (990 new).
//   8c  a 100,000-result log (~100 MB), the project's first scan (baseline): upload start → 201,
//       and tocsin's peak RSS (VmHWM) against the file's size.
//   8d  the same log again (100,000 unchanged findings): upload → 201.
// The in-process parse alone is bench/sarif_bench's figure (docs/scans.md).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "bench_common.hpp"

namespace tocsin::bench {
namespace {

struct Options {
  long big_results = 100000;
};

Options ReadOptions(const std::vector<std::string>& args) {
  Options o;
  ReadFlags(args, {{"--big-results", &o.big_results}});
  return o;
}

std::string Generate(const Paths& paths, long results) {
  const std::string out = paths.work_dir + "/scan-" + std::to_string(results) + ".sarif";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(paths.sarif_gen.c_str(), paths.sarif_gen.c_str(), "--results",
            std::to_string(results).c_str(), "--out", out.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    throw BenchError("sarif_gen failed: " + paths.sarif_gen);
  }
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Upload {
  double seconds = 0;
  double start_wall_ms = 0;
  Json answer;
};

Upload PostScan(HttpConnection& api, const std::string& project, const std::string& body) {
  Upload u;
  u.start_wall_ms = WallMs();
  const auto t0 = Clock::now();
  const HttpResponse r =
      api.Request("POST", "/api/v1/projects/" + project + "/scans?scanner=codeql&branch=main", body,
                  "application/sarif+json");
  u.seconds = Seconds(Clock::now() - t0);
  if (r.status != 201) {
    throw BenchError("scan upload answered " + std::to_string(r.status) + ": " +
                     r.body.substr(0, 300) + api.error());
  }
  u.answer = Json::parse(r.body);
  return u;
}

std::set<std::string> PostIds(HttpConnection& emu) {
  std::set<std::string> ids;
  for (const Json& p : emu.GetJson("/_emulator/posts")) ids.insert(p.at("id").get<std::string>());
  return ids;
}

// Baseline `baseline_file`, wait until delivered, then upload `scan_file` and time the digest.
void DigestAfterBaseline(Stack& stack, const std::string& project, const std::string& baseline,
                         const std::string& scan, const std::string& id, const std::string& what) {
  HttpConnection api = stack.Api();
  api.SetTimeout(std::chrono::seconds(60));
  HttpConnection emu = stack.Emu();
  const Upload base = PostScan(api, project, baseline);
  if (!stack.WaitForDrained(api, Clock::now() + std::chrono::seconds(30))) {
    throw BenchError("the baseline's summary was not delivered in 30 s");
  }
  const std::set<std::string> before = PostIds(emu);
  const int64_t count0 = stack.EmulatorPosts(emu);

  const Upload up = PostScan(api, project, scan);
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  std::optional<Json> root;
  while (!root && Clock::now() < deadline) {
    if (stack.EmulatorPosts(emu) > count0) {
      for (const Json& p : emu.GetJson("/_emulator/posts")) {
        if (!before.count(p.at("id").get<std::string>()) && p.contains("props") &&
            p["props"].contains("tocsin_digest_count")) {
          root = p;
          break;
        }
      }
    }
    if (!root) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!root) {
    Report(id, what, "no digest in 30 s", "≤ 1 s", Verdict(false));
    return;
  }
  const double ms = (*root)["create_at"].get<double>() - std::floor(up.start_wall_ms);
  std::printf(
      "%s: baseline %.0f ms (%s new), upload %.0f ms → 201 (new %s), digest root of %s "
      "after %.0f ms\n",
      project.c_str(), base.seconds * 1000, base.answer.value("new", Json()).dump().c_str(),
      up.seconds * 1000, up.answer.value("new", Json()).dump().c_str(),
      (*root)["props"]["tocsin_digest_count"].dump().c_str(), ms);
  Report(id, what, Fmt(ms) + " ms", "≤ 1 s", Verdict(ms <= 1000),
         "upload → 201 " + Fmt(up.seconds * 1000) + " ms; digest of " +
             (*root)["props"]["tocsin_digest_count"].dump() + " findings");
}

void Run(const Paths& paths, const Options& o) {
  if (::access(paths.sarif_gen.c_str(), X_OK) != 0) {
    throw BenchError("not an executable: " + paths.sarif_gen + " (--sarif-gen)");
  }
  const std::string f10 = ReadFile(Generate(paths, 10));
  const std::string f900 = ReadFile(Generate(paths, 900));
  const std::string f1000 = ReadFile(Generate(paths, 1000));

  {
    Stack stack(paths,
                {.channels = 2, .workers = 4, .rate_per_second = std::nullopt, .name = "scan"});
    stack.AddProject("scan-a", Stack::Channel(0), 10);
    stack.AddProject("scan-b", Stack::Channel(1), 10);
    DigestAfterBaseline(stack, "scan-a", f900, f1000, "8a",
                        "1,000-result scan after a 900-result baseline: upload → digest root");
    DigestAfterBaseline(stack, "scan-b", f10, f1000, "8b",
                        "1,000-result scan after a 10-result baseline: upload → digest root");
  }

  const std::string big_path = Generate(paths, o.big_results);
  std::string big = ReadFile(big_path);
  const double file_mb = big.size() / 1e6;
  Stack stack(paths,
              {.channels = 1, .workers = 4, .rate_per_second = std::nullopt, .name = "bigscan"});
  stack.AddProject("big", Stack::Channel(0), 10);
  const pid_t pid = stack.tocsin_pid();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int64_t rss0_kb = StatusKb(pid, "VmRSS");
  HttpConnection api = stack.Api();
  api.SetTimeout(std::chrono::seconds(300));
  const double cpu0 = CpuSeconds(pid);
  const int64_t w0 = WrittenBytes(pid);
  const Upload first = PostScan(api, "big", big);
  const double cpu1 = CpuSeconds(pid);
  const int64_t w1 = WrittenBytes(pid);
  const int64_t hwm1_kb = StatusKb(pid, "VmHWM");
  const int64_t rss1_kb = StatusKb(pid, "VmRSS");  // what the first upload left resident
  const Upload second = PostScan(api, "big", big);
  const double cpu2 = CpuSeconds(pid);
  const int64_t w2 = WrittenBytes(pid);
  const int64_t hwm2_kb = StatusKb(pid, "VmHWM");
  std::printf("big: tocsin wrote %.0f MB during the first upload, %.0f MB during the second\n",
              (w1 - w0) / 1e6, (w2 - w1) / 1e6);
  const double peak_mb = hwm1_kb * 1024 / 1e6;
  std::printf(
      "big: %.1f MB, %s results; first upload %.2f s (CPU %.2f s, new %s), VmHWM %.1f MB (idle "
      "%.1f MB); again %.2f s (CPU %.2f s, unchanged %s), VmHWM %.1f MB\n",
      file_mb, first.answer.value("results", Json()).dump().c_str(), first.seconds, cpu1 - cpu0,
      first.answer.value("new", Json()).dump().c_str(), peak_mb, rss0_kb * 1024 / 1e6,
      second.seconds, cpu2 - cpu1, second.answer.value("unchanged", Json()).dump().c_str(),
      hwm2_kb * 1024 / 1e6);
  Report("8c",
         Fmt(static_cast<double>(o.big_results)) + "-result SARIF upload (" + Fmt(file_mb, 1) +
             " MB), first scan",
         Fmt(first.seconds, 2) + " s; peak RSS " + Fmt(peak_mb) +
             " MB = " + Fmt(peak_mb / file_mb, 2) + "× file",
         "≤ 3 s; ≤ 2× file", Verdict(first.seconds <= 3 && peak_mb <= 2 * file_mb),
         "upload start → 201; tocsin CPU " + Fmt(cpu1 - cpu0, 2) + " s, wrote " +
             Fmt((w1 - w0) / 1e6) + " MB; VmHWM of the process (" + Fmt(rss0_kb * 1024 / 1e6, 1) +
             " MB before)");
  const double peak2_mb = hwm2_kb * 1024 / 1e6;
  Report("8d", "the same log again (all unchanged)",
         Fmt(second.seconds, 2) + " s; peak RSS " + Fmt(peak2_mb) +
             " MB = " + Fmt(peak2_mb / file_mb, 2) + "× file",
         "≤ 3 s; ≤ 2× file", Verdict(second.seconds <= 3 && peak2_mb <= 2 * file_mb),
         "tocsin CPU " + Fmt(cpu2 - cpu1, 2) + " s, wrote " + Fmt((w2 - w1) / 1e6) +
             " MB; same process as 8c: " + Fmt(rss1_kb * 1024 / 1e6) +
             " MB resident before this upload");
}

}  // namespace
}  // namespace tocsin::bench

int main(int argc, char** argv) {
  return tocsin::bench::BenchMain(argc, argv, "bench_scan", [](const tocsin::bench::Paths& paths) {
    tocsin::bench::Run(paths, tocsin::bench::ReadOptions(paths.rest));
  });
}
