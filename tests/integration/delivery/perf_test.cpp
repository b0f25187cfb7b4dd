// Performance figures of the delivery engine (docs/delivery.md, "Measured"). They take about half
// a minute and measure rather than judge, so they run only with TOCSIN_PERF=1:
//   TOCSIN_PERF=1 ./integration_delivery --gtest_filter='DeliveryPerf.*'
// CPU is the engine's own threads (named tocsin-dispatch / tocsin-send-N: dispatching, SQLite
// outbox writes, rendering, libcurl), read from /proc, so the in-process emulator's work is not
// counted.
#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>

#include "delivery_rig.hpp"

namespace tocsin::outbox {
namespace {

using Steady = std::chrono::steady_clock;

// CPU time (ms) of this process's threads whose name starts with "tocsin-".
double EngineCpuMs() {
  double total_ns = 0;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return 0;
  while (dirent* entry = readdir(dir)) {
    const std::string tid = entry->d_name;
    if (tid == "." || tid == "..") continue;
    std::ifstream comm("/proc/self/task/" + tid + "/comm");
    std::string name;
    std::getline(comm, name);
    if (name.rfind("tocsin-", 0) != 0) continue;
    std::ifstream schedstat("/proc/self/task/" + tid + "/schedstat");
    double on_cpu_ns = 0;
    schedstat >> on_cpu_ns;
    total_ns += on_cpu_ns;
  }
  closedir(dir);
  return total_ns / 1e6;
}

double ThreadCpuMs() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_utime.tv_sec * 1e3 + usage.ru_utime.tv_usec / 1e3 + usage.ru_stime.tv_sec * 1e3 +
         usage.ru_stime.tv_usec / 1e3;
}

double Seconds(Steady::duration d) { return std::chrono::duration<double>(d).count(); }

class DeliveryPerf : public DeliveryRig {
 protected:
  void SetUp() override {
    if (std::getenv("TOCSIN_PERF") == nullptr) GTEST_SKIP() << "set TOCSIN_PERF=1 to measure";
    DeliveryRig::SetUp();
  }

  std::vector<std::string> Channels(int n) {
    std::vector<std::string> refs;
    for (int i = 0; i < n; ++i) {
      const std::string id = emu_->AddChannel(team_, "c" + std::to_string(i));
      emu_->AddChannelMember(id, bot_);
      refs.push_back("sec/c" + std::to_string(i));
    }
    return refs;
  }

  // n deliveries spread over `channels`, written 200 per transaction.
  void Preload(int n, const std::vector<std::string>& channels) {
    int made = 0;
    while (made < n) {
      for (const auto& c : channels) {
        const int batch = std::min(200 / static_cast<int>(channels.size()) + 1, n - made);
        if (batch <= 0) break;
        EnqueueNew(made, made + batch, c);
        made += batch;
      }
    }
  }

  void Report(const std::string& key, double value, const char* unit) {
    std::printf("[ figure   ] %-44s %10.3f %s\n", key.c_str(), value, unit);
    RecordProperty(key, std::to_string(value));
  }
};

TEST_F(DeliveryPerf, ThroughputToAnUnlimitedServer) {
  constexpr int kPosts = 6000;
  const auto channels = Channels(10);
  Preload(kPosts, channels);
  EngineOptions options = TestOptions();
  options.workers = 4;
  const auto start = Steady::now();
  StartEngine(options);
  ASSERT_TRUE(WaitUntil([&] { return emu_->TotalPosts() >= kPosts; }, 120s));
  const double seconds = Seconds(Steady::now() - start);
  const double cpu_ms = EngineCpuMs();
  Report("throughput_posts_per_s (10 channels, 4 workers)", kPosts / seconds, "posts/s");
  Report("engine_cpu_per_post", cpu_ms / kPosts, "ms");
}

TEST_F(DeliveryPerf, LatencyAcceptedToPostedAt200EventsPerSecond) {
  constexpr int kEvents = 1000;
  const auto channels = Channels(5);
  StartEngine();
  std::map<int64_t, int64_t> accepted_ms;  // delivery id → when its transaction committed
  double ingest_cpu_ms = 0;
  const auto start = Steady::now();
  for (int i = 0; i < kEvents; ++i) {
    std::this_thread::sleep_until(start + std::chrono::microseconds(5000LL * i));  // 200/s load
    const double cpu0 = ThreadCpuMs();
    const auto ids = EnqueueNew(i, i + 1, channels[static_cast<size_t>(i) % channels.size()]);
    ingest_cpu_ms += ThreadCpuMs() - cpu0;
    accepted_ms[ids[0]] = ToUnixMillis(SystemClock::Instance().Now());
  }
  ASSERT_TRUE(WaitUntil([&] { return emu_->TotalPosts() >= kEvents; }, 60s));
  std::vector<int64_t> latencies;
  for (const auto& [delivery, at] : accepted_ms) {
    const auto row = Row(delivery);
    const auto post = emu_->GetPost(row.post_id);
    if (!post) continue;
    latencies.push_back(post->create_at - at);
  }
  ASSERT_EQ(latencies.size(), static_cast<size_t>(kEvents));
  std::sort(latencies.begin(), latencies.end());
  const auto pct = [&](double p) {
    return static_cast<double>(latencies[static_cast<size_t>(p * (latencies.size() - 1))]);
  };
  Report("latency_p50 (200 events/s, 5 channels)", pct(0.50), "ms");
  Report("latency_p99 (200 events/s, 5 channels)", pct(0.99), "ms");
  Report("latency_max (200 events/s, 5 channels)", static_cast<double>(latencies.back()), "ms");
  Report("engine_cpu_per_event at 200/s", EngineCpuMs() / kEvents, "ms");
  Report("ingest_tx_cpu_per_event (test thread, SQLite)", ingest_cpu_ms / kEvents, "ms");
}

TEST_F(DeliveryPerf, ASlowServerStillFlowsAcrossChannels) {
  const auto channels = Channels(20);
  mmemu::Fault slow;
  slow.kind = mmemu::FaultKind::kDelay;
  slow.delay_ms = 50;
  slow.path_prefix = "/api/v4/posts";
  emu_->SetFault(slow);
  for (int workers : {4, 20}) {
    const int posts = workers * 60;
    const size_t before = emu_->TotalPosts();
    Preload(posts, channels);
    EngineOptions options = TestOptions();
    options.workers = workers;
    const auto start = Steady::now();
    StartEngine(options);
    ASSERT_TRUE(WaitUntil([&] { return emu_->TotalPosts() >= before + posts; }, 120s));
    const double seconds = Seconds(Steady::now() - start);
    engine_->Stop();
    Report("posts_per_s, server answers after 50 ms, 20 channels, " + std::to_string(workers) +
               " workers",
           posts / seconds, "posts/s");
  }
}

}  // namespace
}  // namespace tocsin::outbox
