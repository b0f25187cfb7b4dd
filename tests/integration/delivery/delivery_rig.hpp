// The delivery engine's integration rig: the SQLite outbox, the engine's threads, libcurl and
// the Mattermost emulator (a team "sec" with channels alerts and ops, where the bot is a member,
// and closed, where it is not). Shared by the behaviour tests and the performance figures.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "emulator.hpp"
#include "net/http_client.hpp"
#include "outbox/engine.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "support/fake_clock.hpp"
#include "support/temp_dir.hpp"
#include "unit/outbox/outbox_fakes.hpp"

namespace tocsin::outbox {

using namespace std::chrono_literals;

inline constexpr auto kDeadline = 15s;

class DeliveryRig : public ::testing::Test {
 protected:
  void SetUp() override { Build(mmemu::Options{}); }

  void Build(mmemu::Options options) {
    emu_ = std::make_unique<mmemu::Emulator>(options);
    ASSERT_TRUE(emu_->Start());
    team_ = emu_->AddTeam("sec");
    alerts_ = emu_->AddChannel(team_, "alerts");
    ops_ = emu_->AddChannel(team_, "ops");
    closed_ = emu_->AddChannel(team_, "closed");  // public, the bot is not a member
    bot_ = emu_->AddBot("tocsin-bot");
    emu_->AddTeamMember(team_, bot_);
    emu_->AddChannelMember(alerts_, bot_);
    emu_->AddChannelMember(ops_, bot_);
    token_ = emu_->CreateToken(bot_);

    auto store =
        store::sqlite::SqliteStore::Open(dir_.str() + "/tocsin" + std::to_string(++dbs_) + ".db");
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    domain::Project project;
    project.name = "acme";
    project.display_name = "Acme Web";
    store::AuditEntry audit;
    audit.actor = "test";
    audit.action = "project.create";
    audit.target = "acme";
    audit.detail_json = "{}";
    ASSERT_TRUE(store_->CreateProject(project, audit));
    Connect(token_);
    integration_.SetStatus("ok");
  }

  void TearDown() override {
    if (engine_) engine_->Stop();
    if (emu_) emu_->Stop();
  }

  void Connect(const std::string& token) {
    mattermost::ConnectionSettings conn;
    conn.url = emu_->base_url();
    conn.token = Secret(token);
    integration_.Set(conn);
  }

  // Unlimited client-side rate unless a test asks otherwise: the tests are about behaviour.
  static EngineOptions TestOptions() {
    EngineOptions options;
    options.owner = "test-instance";
    options.rate_per_second = 0;
    options.timeout = 5s;
    return options;
  }

  void StartEngine(EngineOptions options = TestOptions()) {
    engine_ = MakeEngine(
        *store_, integration_, *clock_,
        [](const net::HttpClientOptions& o) { return net::MakeCurlHttpClient(o); }, metrics_,
        options);
    engine_->Start();
  }

  // Writes events and their deliveries in one transaction, as the event service does, and
  // wakes the engine. Returns the delivery ids.
  std::vector<int64_t> Enqueue(const std::vector<nlohmann::json>& events,
                               const std::string& channel, int digest_threshold = 1000) {
    std::vector<int64_t> ids;
    const TimePoint now = clock_->Now();
    auto r = store_->Transact([&](store::IngestTx& tx) -> Result<void> {
      for (const nlohmann::json& event : events) {
        store::StoredEvent stored;
        stored.project = "acme";
        stored.type = *domain::ParseEventType(event["type"].get<std::string>());
        stored.occurred_at = stored.received_at = now;
        stored.body_json = event.dump();
        auto seq = tx.InsertEvent(stored);
        if (!seq) return Unexpected(seq.error());
        store::NewDelivery d;
        d.project = "acme";
        d.channel = channel;
        d.event_seq = *seq;
        d.event_type = stored.type;
        if (event.contains("finding")) d.thread_key = event["finding"]["fingerprint"];
        d.digest_threshold = digest_threshold;
        d.created_at = now;
        d.expires_at = now + 24h;
        auto id = tx.InsertDelivery(d);
        if (!id) return Unexpected(id.error());
        ids.push_back(*id);
      }
      return {};
    });
    EXPECT_TRUE(r) << r.error().message;
    if (engine_) engine_->Wake();
    return ids;
  }
  std::vector<int64_t> EnqueueNew(int from, int to, const std::string& channel,
                                  int digest_threshold = 1000) {
    std::vector<nlohmann::json> events;
    for (int i = from; i < to; ++i)
      events.push_back(testing::NewFindingEvent("acme", "fp-" + std::to_string(i)));
    return Enqueue(events, channel, digest_threshold);
  }

  store::DeliveryRecord Row(int64_t id) { return **store_->GetDelivery(id); }

  // Bounded wait until `done()`: woken by new posts, else checked every 20 ms.
  bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = kDeadline) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      emu_->WaitForPosts(emu_->TotalPosts() + 1, 20ms);
    }
    return true;
  }
  bool WaitState(int64_t id, domain::DeliveryState state) {
    return WaitUntil([&] { return Row(id).state == state; });
  }

  // The delivery ids of a channel's posts, in the order the posts were created.
  std::vector<int64_t> PostedIds(const std::string& channel) {
    std::vector<int64_t> ids;
    for (const auto& p : emu_->Posts(channel)) {
      if (p.props.contains("tocsin_delivery_id")) {
        ids.push_back(std::stoll(p.props["tocsin_delivery_id"].get<std::string>()));
      }
    }
    return ids;
  }
  double Counter(const std::string& name, const std::vector<std::string>& labels) {
    return metrics_.Counter(name, "", {}).Get(labels);
  }

  tocsin::testing::TempDir dir_;
  int dbs_ = 0;
  std::unique_ptr<mmemu::Emulator> emu_;
  std::string team_, alerts_, ops_, closed_, bot_, token_;
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  testing::FakeIntegration integration_;
  Metrics metrics_;
  const Clock* clock_ = &SystemClock::Instance();
  std::unique_ptr<Engine> engine_;
};

}  // namespace tocsin::outbox
