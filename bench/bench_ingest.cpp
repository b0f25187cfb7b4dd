// bench_ingest — how fast `tocsin serve` accepts events over HTTP, and its memory.
//
//   bench_ingest [--batches N] [--clients N] [--single-seconds S] [--single-clients N]
//                [--tocsin PATH] [--emulator PATH] [--keep]
//
// One `tocsin serve` (default settings: 4 delivery workers, the client-side rate cap of 10/s) with
// one project routed to one emulator channel, so every accepted event also writes its delivery in
// the same transaction, as in production; the engine drains that backlog slowly in the background
// (digests at 10 requests/s), which is what a default installation does after a burst.
//
// Figures:
//   1  batch ingest: POST /api/v1/events {"events":[1,000 new findings]} from `--clients`
//   kept-alive
//      connections; events/s counted from 202 answers (the API answers after the commit).
//   2  single-event requests/s: `--single-clients` threads, each one kept-alive connection, one new
//      finding per POST, for `--single-seconds`.
//   6  RSS after start (idle, configured) and the peak (VmHWM) after both loads.
// Also printed: the API's latency per request and tocsin's CPU per event in each phase.
#include <atomic>
#include <cstdio>
#include <thread>

#include "bench_common.hpp"

namespace tocsin::bench {
namespace {

struct Options {
  int batches = 60;
  int batch_size = 1000;
  int clients = 2;
  double single_seconds = 8;
  int single_clients = 8;
};

Options ReadOptions(const std::vector<std::string>& args) {
  Options o;
  ReadFlags(args, {{"--batches", &o.batches},
                   {"--clients", &o.clients},
                   {"--single-seconds", &o.single_seconds},
                   {"--single-clients", &o.single_clients}});
  return o;
}

std::string Batch(const std::string& project, const std::string& prefix, int size) {
  std::string body = R"({"events":[)";
  for (int i = 0; i < size; ++i) {
    if (i) body += ',';
    body += NewFindingEvent(project, prefix + "-" + std::to_string(i));
  }
  body += "]}";
  return body;
}

struct BatchRun {
  double events = 0, rate = 0, p50_ms = 0, cpu_us_per_event = 0, written_per_event = 0;
  int failures = 0;
};

// POSTs `batches` bodies of o.batch_size new findings of `project` from o.clients connections.
BatchRun RunBatches(Stack& stack, const std::string& project, const Options& o, int batches) {
  const pid_t pid = stack.tocsin_pid();
  std::vector<std::string> bodies;
  bodies.reserve(static_cast<size_t>(batches));
  for (int b = 0; b < batches; ++b) {
    bodies.push_back(Batch(project, std::string("b").append(std::to_string(b)), o.batch_size));
  }
  const size_t body_bytes = bodies[0].size();
  {  // one warm-up batch, not counted
    HttpConnection api = stack.Api();
    api.Call("POST", "/api/v1/events", Json::parse(Batch(project, "warm", o.batch_size)), 202);
  }
  std::atomic<int> next{0};
  std::atomic<int64_t> accepted{0};
  std::atomic<int> failures{0};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(o.clients));
  const double cpu0 = CpuSeconds(pid);
  const int64_t written0 = WrittenBytes(pid);
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::seconds(60);
  std::vector<std::thread> threads;
  for (int c = 0; c < o.clients; ++c) {
    threads.emplace_back([&, c] {
      HttpConnection api = stack.Api();
      for (int b; (b = next++) < batches && Clock::now() < deadline;) {
        const auto s = Clock::now();
        const HttpResponse r = api.Request("POST", "/api/v1/events", bodies[b]);
        latencies[static_cast<size_t>(c)].push_back(Millis(Clock::now() - s));
        if (r.status == 202) {
          accepted += o.batch_size;
        } else if (failures++ == 0) {
          std::fprintf(stderr, "batch answered %d: %s %s\n", r.status,
                       r.body.substr(0, 300).c_str(), api.error().c_str());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double secs = Seconds(Clock::now() - t0);
  const double cpu = CpuSeconds(pid) - cpu0;
  const double written = static_cast<double>(WrittenBytes(pid) - written0);
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  BatchRun r;
  r.events = static_cast<double>(accepted);
  r.rate = r.events / secs;
  r.p50_ms = Percentile(all, 50);
  r.failures = failures;
  const double per_event = 1.0 / std::max(1.0, r.events);
  r.cpu_us_per_event = cpu * 1e6 * per_event;
  r.written_per_event = written * per_event;
  std::printf(
      "batch %s: %.0f events in %.2f s (%d clients, %zu KiB bodies), %d failed; per request "
      "p50 %.0f ms p99 %.0f ms; tocsin CPU %.2f s = %.1f µs/event; written %.1f MB = %.0f "
      "bytes/event (WAL, checkpoints, responses)\n",
      project.c_str(), r.events, secs, o.clients, body_bytes / 1024, r.failures, r.p50_ms,
      Percentile(all, 99), cpu, r.cpu_us_per_event, written / 1e6, r.written_per_event);
  return r;
}

void Run(const Paths& paths, const Options& o) {
  Stack stack(paths,
              {.channels = 1, .workers = 4, .rate_per_second = std::nullopt, .name = "ingest"});
  stack.AddProject("ingest", Stack::Channel(0), 10);
  const pid_t pid = stack.tocsin_pid();

  std::this_thread::sleep_for(std::chrono::seconds(1));
  const int64_t idle_kb = StatusKb(pid, "VmRSS");
  std::printf("idle: VmRSS %lld KiB, VmHWM %lld KiB\n", static_cast<long long>(idle_kb),
              static_cast<long long>(StatusKb(pid, "VmHWM")));
  Report("6a", "RSS idle (started, configured)", Fmt(idle_kb / 1024.0, 1) + " MiB", "≤ 30 MiB",
         Verdict(idle_kb <= 30 * 1024), "VmRSS 1 s after start");

  // --- 1: batches ------------------------------------------------------------------------------
  const BatchRun with = RunBatches(stack, "ingest", o, o.batches);
  Report("1", "batch ingest, 1,000 new findings per POST", Fmt(with.rate) + " events/s",
         "≥ 20,000 events/s", Verdict(with.rate >= 20000 && !with.failures),
         Fmt(with.events) + " events, " + std::to_string(o.clients) + " clients; p50 " +
             Fmt(with.p50_ms) + " ms/request; CPU " + Fmt(with.cpu_us_per_event) + " µs/event; " +
             Fmt(with.written_per_event / 1000, 1) + " KB written/event" +
             (with.failures ? "; " + std::to_string(with.failures) + " failed" : ""));
  // The same without deliveries: what the findings and events alone cost (and how much of the
  // above is the outbox and the engine's digests running alongside).
  stack.AddProjectWithoutLink("bare");
  const BatchRun bare = RunBatches(stack, "bare", o, std::max(1, o.batches / 2));
  Report("1b", "batch ingest, project without a link (no deliveries)", Fmt(bare.rate) + " events/s",
         "—", "—",
         Fmt(bare.events) + " events; CPU " + Fmt(bare.cpu_us_per_event) + " µs/event; " +
             Fmt(bare.written_per_event / 1000, 1) + " KB written/event");

  // --- 2: single events ------------------------------------------------------------------------
  {
    std::atomic<int64_t> ok{0};
    std::atomic<int> failures{0};
    std::atomic<bool> stop{false};
    std::vector<std::vector<double>> latencies(static_cast<size_t>(o.single_clients));
    const double cpu0 = CpuSeconds(pid);
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < o.single_clients; ++c) {
      threads.emplace_back([&, c] {
        HttpConnection api = stack.Api();
        auto& lat = latencies[static_cast<size_t>(c)];
        lat.reserve(100000);
        // Bounded in count as well as time.
        for (int n = 0; n < 200000 && !stop; ++n) {
          const std::string body = NewFindingEvent(
              "ingest",
              std::string("s").append(std::to_string(c)).append("-").append(std::to_string(n)));
          const auto s = Clock::now();
          const HttpResponse r = api.Request("POST", "/api/v1/events", body);
          lat.push_back(Millis(Clock::now() - s));
          if (r.status == 202) {
            ++ok;
          } else if (failures++ == 0) {
            std::fprintf(stderr, "single event answered %d: %s %s\n", r.status,
                         r.body.substr(0, 300).c_str(), api.error().c_str());
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(o.single_seconds));
    stop = true;
    for (auto& t : threads) t.join();
    const double secs = Seconds(Clock::now() - t0);
    const double cpu = CpuSeconds(pid) - cpu0;
    std::vector<double> all;
    for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
    const double rate = static_cast<double>(ok) / secs;
    std::printf(
        "single: %lld requests in %.2f s (%d clients), %d failed; p50 %.2f ms p99 %.2f ms max "
        "%.1f ms; tocsin CPU %.2f s = %.0f µs/request\n",
        static_cast<long long>(ok.load()), secs, o.single_clients, failures.load(),
        Percentile(all, 50), Percentile(all, 99), Percentile(all, 100), cpu,
        cpu * 1e6 / static_cast<double>(std::max<int64_t>(1, ok)));
    Report("2", "single-event POSTs, kept-alive", Fmt(rate) + " requests/s", "≥ 3,000/s",
           Verdict(rate >= 3000 && !failures),
           std::to_string(o.single_clients) + " clients; p50 " + Fmt(Percentile(all, 50), 2) +
               " ms, p99 " + Fmt(Percentile(all, 99), 1) + " ms; CPU " +
               Fmt(cpu * 1e6 / static_cast<double>(std::max<int64_t>(1, ok))) + " µs/request" +
               (failures ? "; " + std::to_string(failures) + " failed" : ""));
  }

  const int64_t hwm_kb = StatusKb(pid, "VmHWM");
  Report("6b", "RSS peak under ingest load (VmHWM)", Fmt(hwm_kb / 1024.0, 1) + " MiB", "—", "—",
         "after figures 1 and 2 (" + Fmt(o.batch_size) + "-event bodies of ~" +
             Fmt(o.batch_size * 0.45) + " KB)");
}

}  // namespace
}  // namespace tocsin::bench

int main(int argc, char** argv) {
  return tocsin::bench::BenchMain(argc, argv, "bench_ingest", [](const tocsin::bench::Paths& paths) {
    tocsin::bench::Run(paths, tocsin::bench::ReadOptions(paths.rest));
  });
}
