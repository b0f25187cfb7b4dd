// bench_latency — accept → post latency at a fixed offered load, and the CPU a steady stream costs.
//
//   bench_latency [--rate R] [--seconds S] [--channels N] [--tocsin PATH] [--emulator PATH]
//
// `tocsin serve --mattermost-rate-per-second 0` (the default 16 workers) and an unlimited mm-emulator; one
// project per channel, routed with digest_threshold 1000 so nothing is coalesced. Events are sent
// one per POST on an open-loop schedule (event i leaves at t0 + i / R, whatever the answers to
// the ones before did; two sender threads so one slow answer does not hold the next event back).
// Each event's send time (wall clock, ms) is kept under a sequence number carried in its
// fingerprint; after the run every post is read once from /_emulator/posts and its `create_at`
// (the emulator's wall clock, ms) minus the send time is that event's latency. Resolution: 1 ms.
//
// Figures:
//   5   accept → post latency p50 / p99 / max at R events/s (default 200) for S seconds (10).
//   4b  tocsin CPU per event at that steady rate (whole process, /proc/<pid>/stat); reported,
//       the ≤ 0.2 ms target being 4a's (bench_delivery).
#include <atomic>
#include <cmath>
#include <cstdio>
#include <thread>

#include "bench_common.hpp"

namespace tocsin::bench {
namespace {

struct Options {
  double rate = 200;
  double seconds = 10;
  int channels = 10;
};

Options ReadOptions(const std::vector<std::string>& args) {
  Options o;
  ReadFlags(args, {{"--rate", &o.rate}, {"--seconds", &o.seconds}, {"--channels", &o.channels}});
  if (o.rate <= 0 || o.rate > 5000 || o.seconds <= 0 || o.seconds > 120 || o.channels < 1 ||
      o.channels > 50) {
    throw BenchError("--rate 1..5000, --seconds 1..120, --channels 1..50");
  }
  return o;
}

void Run(const Paths& paths, const Options& o) {
  Stack stack(paths,
              {.channels = o.channels, .workers = 0, .rate_per_second = 0.0, .name = "latency"});
  for (int i = 0; i < o.channels; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "p%02d", i);
    stack.AddProject(name, Stack::Channel(i), 1000);
  }
  HttpConnection emu = stack.Emu();
  {  // warm-up: one post per channel (channel lookups cached, connections open)
    HttpConnection api = stack.Api();
    const int64_t before = stack.EmulatorPosts(emu);
    for (int i = 0; i < o.channels; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "p%02d", i);
      api.Call("POST", "/api/v1/events",
               Json::parse(NewFindingEvent(name, "warm" + std::to_string(i))), 202);
    }
    if (!stack.WaitForPosts(emu, before + o.channels, Clock::now() + std::chrono::seconds(20))) {
      throw BenchError("warm-up posts did not arrive");
    }
  }

  const int total = static_cast<int>(std::lround(o.rate * o.seconds));
  std::vector<double> sent_ms(static_cast<size_t>(total), 0);
  std::vector<double> answer_ms(static_cast<size_t>(total), 0);
  std::atomic<int> failures{0}, late{0};
  const int64_t posts0 = stack.EmulatorPosts(emu);
  const pid_t pid = stack.tocsin_pid();
  const double cpu0 = CpuSeconds(pid);
  const auto t0 = Clock::now() + std::chrono::milliseconds(50);
  const auto interval = std::chrono::duration<double>(1.0 / o.rate);
  constexpr int kSenders = 2;
  std::vector<std::thread> senders;
  for (int k = 0; k < kSenders; ++k) {
    senders.emplace_back([&, k] {
      HttpConnection api = stack.Api();
      for (int i = k; i < total; i += kSenders) {
        char name[16];
        std::snprintf(name, sizeof name, "p%02d", i % o.channels);
        const std::string body = NewFindingEvent(name, "latseq" + std::to_string(i) + "z");
        const auto due = t0 + std::chrono::duration_cast<Clock::duration>(interval * i);
        if (Clock::now() > due + std::chrono::milliseconds(5)) ++late;
        std::this_thread::sleep_until(due);
        const auto s = Clock::now();
        sent_ms[static_cast<size_t>(i)] = WallMs();
        const HttpResponse r = api.Request("POST", "/api/v1/events", body);
        answer_ms[static_cast<size_t>(i)] = Millis(Clock::now() - s);
        if (r.status != 202 && failures++ == 0) {
          std::fprintf(stderr, "event answered %d: %s %s\n", r.status,
                       r.body.substr(0, 300).c_str(), api.error().c_str());
        }
      }
    });
  }
  for (auto& t : senders) t.join();
  const double send_s = Seconds(Clock::now() - t0);
  const auto done =
      stack.WaitForPosts(emu, posts0 + total, Clock::now() + std::chrono::seconds(30));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const double cpu = CpuSeconds(pid) - cpu0;

  // Match each post to its event by the sequence number in the fingerprint/title.
  const Json posts = emu.GetJson("/_emulator/posts");
  std::vector<double> latency;
  std::vector<char> seen(static_cast<size_t>(total), 0);
  int unmatched = 0;
  for (const Json& p : posts) {
    const std::string text = p.dump();
    const size_t at = text.find("latseq");
    if (at == std::string::npos) continue;
    const int seq = std::atoi(text.c_str() + at + 6);
    if (seq < 0 || seq >= total || seen[static_cast<size_t>(seq)]) {
      ++unmatched;
      continue;
    }
    seen[static_cast<size_t>(seq)] = 1;
    latency.push_back(p.at("create_at").get<double>() -
                      std::floor(sent_ms[static_cast<size_t>(seq)]));
  }
  const size_t matched = latency.size();
  const double p50 = Percentile(latency, 50), p90 = Percentile(latency, 90),
               p99 = Percentile(latency, 99), max = Percentile(latency, 100);
  const double a50 = Percentile(answer_ms, 50), a99 = Percentile(answer_ms, 99);
  std::printf(
      "latency: %d events at %.0f/s over %.2f s (%d sent late, %d failed); %zu posts matched, "
      "%d duplicates%s; accept→post p50 %.0f p90 %.0f p99 %.0f max %.0f ms; API answer p50 %.2f "
      "p99 %.2f ms; tocsin CPU %.2f s\n",
      total, o.rate, send_s, late.load(), failures.load(), matched, unmatched,
      done ? "" : " (NOT ALL ARRIVED)", p50, p90, p99, max, a50, a99, cpu);
  const bool ok = done && matched == static_cast<size_t>(total) && !failures;
  Report("5",
         "accept → post latency at " + Fmt(o.rate) + " events/s, " + std::to_string(o.channels) +
             " channels",
         "p50 " + Fmt(p50) + " ms, p99 " + Fmt(p99) + " ms", "p99 ≤ 50 ms",
         Verdict(ok && p99 <= 50),
         Fmt(total) + " events over " + Fmt(o.seconds) + " s; max " + Fmt(max) +
             " ms; API 202 p50 " + Fmt(a50, 2) + " ms, p99 " + Fmt(a99, 1) + " ms" +
             (ok ? "" : "; INCOMPLETE: " + std::to_string(matched) + " matched"));
  const double ms_per_event = cpu * 1000 / total;
  // Reported beside 4a, not against the target: the CPU per event is read in the
  // throughput run (4a), as its comparison with another router's throughput run is
  // (docs/performance.md, "CPU per event: which run").
  Report("4b", "tocsin CPU per event, steady " + Fmt(o.rate) + "/s (accepted → posted)",
         Fmt(ms_per_event, 3) + " ms", "— (4a is the target's)", "—",
         "one event per request; the run's whole-process CPU ÷ events");
  const int64_t hwm_kb = StatusKb(pid, "VmHWM");
  std::printf("tocsin VmHWM after the run: %.1f MiB\n", hwm_kb / 1024.0);
}

}  // namespace
}  // namespace tocsin::bench

int main(int argc, char** argv) {
  return tocsin::bench::BenchMain(argc, argv, "bench_latency", [](const tocsin::bench::Paths& paths) {
    tocsin::bench::Run(paths, tocsin::bench::ReadOptions(paths.rest));
  });
}
