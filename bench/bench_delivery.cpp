// bench_delivery — how fast the delivery engine turns accepted events into Mattermost posts, and
// what it costs in CPU.
//
//   bench_delivery [--events N] [--slow-events N] [--no-compare] [--bulk-workers N]
//                  [--tocsin PATH] [--emulator PATH]
//
// --bulk-workers sets figure 3's --delivery-workers (default 4; 0 = tocsin's default, 16). With
// 10 channels, 16 workers measured no better than 4 here (more threads, more hand-offs):
// 0.26-0.34 ms against 0.26-0.28 ms per event on 2026-12-05.
//
// Each scenario starts its own `tocsin serve --mattermost-rate-per-second 0` (no client-side cap)
// and an unlimited mm-emulator, with one project per channel routed with digest_threshold 1000, so
// nothing is coalesced (at most 1,000 deliveries per channel are queued) and every event is
// exactly one post.
//
// Figures:
//   3  posts/s: N events (default 6,000) over 10 channels, POSTed in 1,000-event batches as fast as
//      the API takes them; the clock runs from the first POST until the emulator's
//      /_emulator/stats shows all N posts (ingest included: there is no way to queue without
//      delivering, deliveries start at the first commit).
//   4  whole-process CPU per event, accepted → posted: utime + stime of the tocsin process
//      (/proc/<pid>/stat) over the same run, divided by N.
//   7  posts/s when the emulator answers every POST /api/v4/posts after 50 ms (a slow server),
//      events over 20 channels, --delivery-workers 20; and, for comparison, 4 workers.
#include <cstdio>
#include <thread>

#include "bench_common.hpp"

namespace tocsin::bench {
namespace {

struct Options {
  int events = 6000;
  int slow_events = 3000;
  bool no_compare = false;
  int bulk_workers = 4;
};

Options ReadOptions(const std::vector<std::string>& args) {
  Options o;
  ReadFlags(args, {{"--events", &o.events},
                   {"--slow-events", &o.slow_events},
                   {"--no-compare", &o.no_compare},
                   {"--bulk-workers", &o.bulk_workers}});
  return o;
}

std::string ProjectName(int i) {
  char name[16];
  std::snprintf(name, sizeof name, "p%02d", i);
  return name;
}

struct RunResult {
  int events = 0;
  double ingest_s = 0;  // first POST → last 202
  double total_s = 0;   // first POST → all posts in the emulator
  double tocsin_cpu_s = 0, emulator_cpu_s = 0;
  bool complete = false;
  int64_t delivered = 0;
};

// Sends `events` new findings spread round-robin over `channels` projects, in 1,000-event
// batches, and waits (at most `timeout`) until the emulator holds them all.
RunResult DeliverAll(Stack& stack, int channels, int events, const std::string& tag,
                     std::chrono::seconds timeout) {
  std::vector<std::string> bodies;
  for (int start = 0; start < events; start += 1000) {
    std::string body = R"({"events":[)";
    for (int j = start; j < std::min(events, start + 1000); ++j) {
      if (j != start) body += ',';
      body += NewFindingEvent(ProjectName(j % channels), tag + std::to_string(j));
    }
    body += "]}";
    bodies.push_back(std::move(body));
  }
  HttpConnection api = stack.Api();
  HttpConnection emu = stack.Emu();
  const int64_t posts0 = stack.EmulatorPosts(emu);
  RunResult r;
  r.events = events;
  const double cpu0 = CpuSeconds(stack.tocsin_pid());
  const double emu_cpu0 = CpuSeconds(stack.emulator_pid());
  const auto t0 = Clock::now();
  for (const std::string& body : bodies) {
    const HttpResponse resp = api.Request("POST", "/api/v1/events", body);
    if (resp.status != 202) {
      throw BenchError("events answered " + std::to_string(resp.status) + ": " +
                       resp.body.substr(0, 300) + api.error());
    }
  }
  r.ingest_s = Seconds(Clock::now() - t0);
  const auto done = stack.WaitForPosts(emu, posts0 + events, t0 + timeout);
  r.complete = done.has_value();
  r.total_s = Seconds(done.value_or(Clock::now()) - t0);
  r.delivered = stack.EmulatorPosts(emu) - posts0;
  // Let the last MarkSent and lease release land before reading the CPU clock.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  r.tocsin_cpu_s = CpuSeconds(stack.tocsin_pid()) - cpu0;
  r.emulator_cpu_s = CpuSeconds(stack.emulator_pid()) - emu_cpu0;
  std::printf(
      "%s: %d events, ingest %.2f s, all posted after %.2f s%s (%lld posts arrived); "
      "tocsin CPU %.2f s, emulator CPU %.2f s\n",
      tag.c_str(), events, r.ingest_s, r.total_s, r.complete ? "" : " (TIMED OUT)",
      static_cast<long long>(r.delivered), r.tocsin_cpu_s, r.emulator_cpu_s);
  std::fflush(stdout);
  return r;
}

void Bulk(const Paths& paths, const Options& o) {
  constexpr int kChannels = 10;
  Stack stack(paths, {.channels = kChannels,
                      .workers = o.bulk_workers,
                      .rate_per_second = 0.0,
                      .name = "bulk"});
  for (int i = 0; i < kChannels; ++i) stack.AddProject(ProjectName(i), Stack::Channel(i), 1000);
  // A small run first so the channel lookups are cached and the connections open, as on a server
  // that has been running.
  DeliverAll(stack, kChannels, 100, "warm", std::chrono::seconds(30));
  const RunResult r = DeliverAll(stack, kChannels, o.events, "bulk", std::chrono::seconds(90));
  const double rate = r.delivered / r.total_s;
  Report("3", "delivery, unlimited emulator, 10 channels, 4 workers", Fmt(rate) + " posts/s",
         "≥ 1,500 posts/s", Verdict(r.complete && rate >= 1500),
         Fmt(r.events) + " events; clock includes their ingest (" + Fmt(r.ingest_s, 2) + " s); " +
             (r.complete ? "all posted" : "TIMED OUT"));
  const double ms_per_event = r.tocsin_cpu_s * 1000 / r.events;
  Report("4a", "tocsin CPU per event, bulk (accepted → posted)", Fmt(ms_per_event, 3) + " ms",
         "≤ 0.2 ms", Verdict(ms_per_event <= 0.2),
         "utime+stime of the whole process over figure 3's run; emulator: " +
             Fmt(r.emulator_cpu_s * 1000 / r.events, 3) + " ms/post");
}

void Slow(const Paths& paths, const Options& o, int workers, int events, bool headline) {
  constexpr int kChannels = 20;
  Stack stack(paths, {.channels = kChannels,
                      .workers = workers,
                      .rate_per_second = 0.0,
                      .name = "slow-w" + std::to_string(workers)});
  for (int i = 0; i < kChannels; ++i) stack.AddProject(ProjectName(i), Stack::Channel(i), 1000);
  DeliverAll(stack, kChannels, kChannels, "warm", std::chrono::seconds(30));
  stack.SetFault({{"kind", "delay"}, {"delay_ms", 50}, {"path_prefix", "/api/v4/posts"}});
  const RunResult r = DeliverAll(stack, kChannels, events, "slow-w" + std::to_string(workers),
                                 std::chrono::seconds(90));
  stack.SetFault({{"kind", "none"}});
  const double rate = r.delivered / r.total_s;
  const std::string what = "delivery, every post answered after 50 ms, 20 channels, " +
                           std::to_string(workers) + " workers";
  if (headline) {
    Report("7", what, Fmt(rate) + " posts/s", "≥ 300 posts/s", Verdict(r.complete && rate >= 300),
           Fmt(events) + " events; ceiling " + std::to_string(workers) +
               " ÷ 50 ms = " + Fmt(workers / 0.05) + "/s" + (r.complete ? "" : "; TIMED OUT"));
  } else {
    Report("7b", what + ", for comparison", Fmt(rate) + " posts/s", "—", "—",
           Fmt(events) + " events; ceiling " + Fmt(workers / 0.05) + "/s");
  }
  (void)o;
}

void Run(const Paths& paths, const Options& o) {
  Bulk(paths, o);
  Slow(paths, o, 20, o.slow_events, true);
  if (!o.no_compare) Slow(paths, o, 4, std::max(100, o.slow_events / 5), false);
}

}  // namespace
}  // namespace tocsin::bench

int main(int argc, char** argv) {
  return tocsin::bench::BenchMain(argc, argv, "bench_delivery", [](const tocsin::bench::Paths& paths) {
    tocsin::bench::Run(paths, tocsin::bench::ReadOptions(paths.rest));
  });
}
