// The delivery engine end to end: the SQLite outbox, the engine's threads, libcurl, and the
// Mattermost emulator misbehaving the ways a real server and network do. Waits are bounded waits
// on conditions (posts arriving, a delivery reaching a state); time that matters to the outcome
// (backoff) is a FakeClock the test moves.
#include <set>

#include "core/strings.hpp"
#include "delivery_rig.hpp"

namespace tocsin::outbox {
namespace {

using domain::DeliveryState;
using nlohmann::json;
using ::testing::HasSubstr;
using testing::NewFindingEvent;
using testing::StatusChangedEvent;
using tocsin::testing::FakeClock;

class Delivery : public DeliveryRig {};

TEST_F(Delivery, PostsArriveRenderedAndInOrderPerChannel) {
  StartEngine();
  std::vector<int64_t> a, b;
  for (int round = 0; round < 5; ++round) {
    for (int64_t id : EnqueueNew(round * 10, round * 10 + 5, "sec/alerts")) a.push_back(id);
    for (int64_t id : EnqueueNew(round * 10 + 5, round * 10 + 10, ops_)) b.push_back(id);
  }
  ASSERT_TRUE(WaitUntil([&] { return emu_->TotalPosts() >= 50; }));
  EXPECT_EQ(PostedIds(alerts_), a);
  EXPECT_EQ(PostedIds(ops_), b);
  const auto posts = emu_->Posts(alerts_);
  EXPECT_THAT(posts.front().message, HasSubstr("New **high** vulnerability in Acme Web"));
  EXPECT_TRUE(posts.front().notified_mentions.empty());
  ASSERT_TRUE(WaitUntil([&] { return Counter("tocsin_deliveries_total", {"sent", "ok"}) >= 50; }));
  EXPECT_EQ(Row(a.front()).channel_id, alerts_);
  EXPECT_EQ(Row(b.back()).state, DeliveryState::kSent);
  EXPECT_EQ(emu_->TotalPosts(), 50u);
  // Every lease was released after its records: no channel was taken for one left standing.
  EXPECT_EQ(Counter("tocsin_delivery_reconciles_total", {"not_found"}), 0);
  EXPECT_EQ(Counter("tocsin_delivery_reconciles_total", {"found"}), 0);
}

// A sender that died after Mattermost created its post and before the record: its lease row is
// all that says so (docs/decisions/0004). The restarted instance (same owner name) must look
// before it sends anything in that channel.
TEST_F(Delivery, ALeaseLeftStandingByACrashedSenderIsReconciledBeforeAnythingIsSent) {
  const auto ids = EnqueueNew(0, 3, "sec/alerts");
  const auto ops_ids = EnqueueNew(3, 5, ops_);
  // The dead process: it claimed both channels and created the first post of one.
  auto claimed = store_->ClaimChannels(TestOptions().owner, clock_->Now(), 60s, 10);
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 2u);
  for (const auto& claim : *claimed) EXPECT_FALSE(claim.unreleased_since) << "fresh claims";
  auto installation = store_->InstallationId();
  ASSERT_TRUE(installation);
  auto http = net::MakeCurlHttpClient({});
  mattermost::Client client(*http, emu_->base_url(), Secret(token_));
  // Without its pending_post_id: the server's 30 s de-dup must not be what prevents a second
  // post here, the look-up must.
  json body = {{"channel_id", alerts_},
               {"message", "posted by the process that died"},
               {"props",
                {{"tocsin_delivery_id", std::to_string(ids[0])},
                 {"tocsin_installation", *installation},
                 {"from_tocsin", "true"}}}};
  auto created = client.CreatePost(body);
  ASSERT_TRUE(created) << created.error().ToString();

  StartEngine();
  ASSERT_TRUE(WaitState(ids.back(), DeliveryState::kSent));
  ASSERT_TRUE(WaitState(ops_ids.back(), DeliveryState::kSent));
  EXPECT_EQ(PostedIds(alerts_), ids) << "the first one once, from before the crash";
  EXPECT_EQ(PostedIds(ops_), ops_ids);
  EXPECT_EQ(Row(ids[0]).post_id, created->id);
  EXPECT_EQ(Counter("tocsin_delivery_reconciles_total", {"found"}), 1);
  EXPECT_EQ(Counter("tocsin_delivery_reconciles_total", {"not_found"}), 1) << "ops, looked at";
  EXPECT_EQ(emu_->TotalPosts(), 5u);
}

// Records are written behind the posts (docs/decisions/0005): a sender that dies may leave
// several posts unrecorded. All of them are found by one look-up, and the rest go out once.
TEST_F(Delivery, SeveralPostsWhoseRecordsDiedWithTheirSenderAreAllFound) {
  const auto ids = EnqueueNew(0, 6, "sec/alerts");
  ASSERT_TRUE(store_->ClaimChannels(TestOptions().owner, clock_->Now(), 60s, 10));
  auto installation = store_->InstallationId();
  ASSERT_TRUE(installation);
  auto http = net::MakeCurlHttpClient({});
  mattermost::Client client(*http, emu_->base_url(), Secret(token_));
  std::vector<std::string> dead_posts;
  for (size_t k = 0; k < 3; ++k) {
    json body = {{"channel_id", alerts_},
                 {"message", "posted by the process that died"},
                 {"props",
                  {{"tocsin_delivery_id", std::to_string(ids[k])},
                   {"tocsin_installation", *installation},
                   {"tocsin_thread_key", "fp-" + std::to_string(k)},
                   {"from_tocsin", "true"}}}};
    auto created = client.CreatePost(body);
    ASSERT_TRUE(created) << created.error().ToString();
    dead_posts.push_back(created->id);
  }
  StartEngine();
  ASSERT_TRUE(WaitState(ids.back(), DeliveryState::kSent));
  EXPECT_EQ(PostedIds(alerts_), ids) << "each once, in order";
  EXPECT_EQ(emu_->TotalPosts(), 6u);
  for (size_t k = 0; k < 3; ++k) EXPECT_EQ(Row(ids[k]).post_id, dead_posts[k]) << k;
  EXPECT_EQ(Counter("tocsin_delivery_reconciles_total", {"found"}), 1) << "one look-up";
  // A later status change of one of them replies under the post the dead sender made.
  const auto change = Enqueue({StatusChangedEvent("acme", "fp-1", "resolved")}, "sec/alerts");
  ASSERT_TRUE(WaitState(change.front(), DeliveryState::kSent));
  EXPECT_EQ(emu_->Posts(alerts_).back().root_id, dead_posts[1]);
}

TEST_F(Delivery, AStatusChangeRepliesUnderTheFirstPostAndUpdatesIt) {
  StartEngine();
  EnqueueNew(1, 2, "sec/alerts");
  ASSERT_TRUE(emu_->WaitForPosts(1, kDeadline));
  const auto change = Enqueue({StatusChangedEvent("acme", "fp-1", "resolved")}, "sec/alerts");
  ASSERT_TRUE(WaitState(change[0], DeliveryState::kSent));
  const auto posts = emu_->Posts(alerts_);
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[1].root_id, posts[0].id);
  ASSERT_TRUE(WaitUntil([&] { return emu_->GetPost(posts[0].id)->edit_at > 0; }));
  const auto root = *emu_->GetPost(posts[0].id);
  EXPECT_THAT(root.message, HasSubstr("resolved"));
  EXPECT_EQ(root.props["tocsin_thread_key"], "fp-1");
}

TEST_F(Delivery, A429StormDeliversEverythingExactlyOnceAndCountsNoAttempt) {
  emu_->SetRateLimit(100, 10);
  StartEngine();  // no client-side cap: only the server paces
  std::vector<int64_t> ids;
  const std::string channels[] = {"sec/alerts", "sec/ops"};
  for (int i = 0; i < 4; ++i) {
    for (int64_t id : EnqueueNew(i * 50, i * 50 + 50, channels[i % 2])) ids.push_back(id);
  }
  ASSERT_TRUE(WaitUntil([&] { return emu_->TotalPosts() >= 200; }, 30s))
      << emu_->TotalPosts() << " posts";
  ASSERT_TRUE(WaitUntil([&] { return Counter("tocsin_deliveries_total", {"sent", "ok"}) >= 200; }));
  std::set<int64_t> unique;
  for (const auto& c : {alerts_, ops_}) {
    const auto posted = PostedIds(c);
    EXPECT_TRUE(std::is_sorted(posted.begin(), posted.end()));
    unique.insert(posted.begin(), posted.end());
  }
  EXPECT_EQ(unique.size(), 200u);
  EXPECT_EQ(emu_->TotalPosts(), 200u);
  for (int64_t id : ids) EXPECT_EQ(Row(id).attempts, 1) << id;  // a 429 is not an attempt
  int limited = 0;
  for (const auto& r : emu_->Requests()) limited += r.status == 429;
  RecordProperty("responses_429", limited);
}

TEST_F(Delivery, AfterTheServerWasDownEverythingArrivesInOrder) {
  FakeClock fake;
  clock_ = &fake;
  mmemu::Fault down;
  down.kind = mmemu::FaultKind::kCloseConnection;
  down.path_prefix = "/api/v4/posts";
  emu_->SetFault(down);
  StartEngine();
  const auto ids = EnqueueNew(0, 10, "sec/alerts");
  // The first create is dropped: the head waits out its backoff in doubt; the rest behind it.
  ASSERT_TRUE(WaitUntil([&] { return Row(ids[0]).attempts == 1; }));
  EXPECT_EQ(Row(ids[0]).state, DeliveryState::kSending);
  EXPECT_EQ(Row(ids[1]).state, DeliveryState::kPending);
  EXPECT_EQ(emu_->TotalPosts(), 0u);

  emu_->SetFault(mmemu::Fault{});
  fake.Advance(10min);
  engine_->Wake();
  ASSERT_TRUE(WaitUntil([&] { return emu_->TotalPosts() >= 10; }));
  ASSERT_TRUE(WaitState(ids.back(), DeliveryState::kSent));
  EXPECT_EQ(PostedIds(alerts_), ids);
  EXPECT_EQ(Counter("tocsin_delivery_reconciles_total", {"not_found"}), 1);
}

TEST_F(Delivery, AnAnswerLostAfterTheCommitDoesNotMakeASecondPost) {
  FakeClock fake;
  clock_ = &fake;
  mmemu::Fault lose;
  lose.kind = mmemu::FaultKind::kLoseResponseAfterCommit;
  lose.path_prefix = "/api/v4/posts";
  // libcurl re-sends a request once by itself when a reused connection turns out dead, and the
  // server's pending_post_id de-dup answers that repeat with the original post: lose both
  // answers so the delivery really is left in doubt.
  lose.count = 2;
  emu_->SetFault(lose);
  StartEngine();
  const auto ids = EnqueueNew(0, 3, "sec/alerts");
  ASSERT_TRUE(WaitUntil([&] { return Row(ids[0]).attempts == 1; }));
  EXPECT_EQ(Row(ids[0]).state, DeliveryState::kSending);  // in doubt: the post exists, we lost it
  EXPECT_EQ(emu_->TotalPosts(), 1u);
  emu_->SetFault(mmemu::Fault{});

  fake.Advance(10min);  // past the backoff and the server's 30 s de-dup window
  engine_->Wake();
  ASSERT_TRUE(WaitState(ids.back(), DeliveryState::kSent));
  EXPECT_EQ(emu_->TotalPosts(), 3u);
  EXPECT_EQ(PostedIds(alerts_), ids);
  EXPECT_EQ(Row(ids[0]).post_id, emu_->Posts(alerts_)[0].id);
  EXPECT_EQ(Counter("tocsin_delivery_reconciles_total", {"found"}), 1);
}

TEST_F(Delivery, ARevokedTokenPausesEverythingUntilTheTokenIsReplaced) {
  StartEngine();
  EnqueueNew(0, 1, "sec/alerts");
  ASSERT_TRUE(emu_->WaitForPosts(1, kDeadline));
  emu_->RevokeToken(token_);
  const auto ids = EnqueueNew(1, 6, "sec/alerts");
  const auto other = EnqueueNew(6, 8, "sec/ops");
  ASSERT_TRUE(WaitUntil([&] { return integration_.Status() == "auth_failed"; }));
  // The status is said first (the other workers stop at once), the row written just after.
  ASSERT_TRUE(WaitUntil([&] { return Row(ids[0]).last_error_code == "unauthorized"; }));
  EXPECT_EQ(emu_->TotalPosts(), 1u);
  EXPECT_EQ(Row(ids[0]).state, DeliveryState::kPending);
  EXPECT_EQ(Row(ids[0]).attempts, 0);  // not spent

  // An admin saves a new token: that alone ends the pause.
  const std::string fresh = emu_->CreateToken(bot_);
  Connect(fresh);
  engine_->Wake();
  ASSERT_TRUE(WaitUntil([&] { return emu_->TotalPosts() >= 8; }));
  ASSERT_TRUE(WaitState(other.back(), DeliveryState::kSent));
  ASSERT_TRUE(WaitState(ids.back(), DeliveryState::kSent));
  EXPECT_TRUE(WaitUntil([&] { return integration_.Status() == "ok"; }));
}

TEST_F(Delivery, APauseEndsWhenTheStatusIsNoLongerAuthFailed) {
  StartEngine();
  emu_->SetTokenActive(token_, false);
  const auto ids = EnqueueNew(0, 3, "sec/alerts");
  ASSERT_TRUE(WaitUntil([&] { return integration_.Status() == "auth_failed"; }));
  EXPECT_EQ(emu_->TotalPosts(), 0u);
  // The bot's token works again and a Test Connection says so.
  emu_->SetTokenActive(token_, true);
  integration_.SetStatus("ok");
  engine_->Wake();
  ASSERT_TRUE(WaitState(ids.back(), DeliveryState::kSent));
  EXPECT_EQ(PostedIds(alerts_), ids);
  EXPECT_EQ(Row(ids[0]).attempts, 1);
}

TEST_F(Delivery, AForbiddenChannelFailsItsDeliveryAndOtherChannelsGoOn) {
  StartEngine();
  const auto forbidden = EnqueueNew(0, 2, "sec/closed");
  const auto fine = EnqueueNew(2, 4, "sec/alerts");
  const auto missing = EnqueueNew(4, 5, "sec/nowhere");
  ASSERT_TRUE(WaitState(forbidden[1], DeliveryState::kFailed));
  ASSERT_TRUE(WaitState(missing[0], DeliveryState::kFailed));
  ASSERT_TRUE(WaitState(fine[1], DeliveryState::kSent));
  const auto row = Row(forbidden[0]);
  EXPECT_EQ(row.state, DeliveryState::kFailed);
  EXPECT_EQ(row.last_error_code, "forbidden");
  EXPECT_THAT(row.last_error, HasSubstr("the bot is not a member of channel sec/closed: add it"));
  EXPECT_THAT(Row(missing[0]).last_error, HasSubstr("channel sec/nowhere was not found"));
  EXPECT_EQ(emu_->Posts(alerts_).size(), 2u);
}

TEST_F(Delivery, ManyNewFindingsBecomeOneDigestWithTheListInItsThread) {
  StartEngine();
  const auto ids = EnqueueNew(0, 25, "sec/alerts", /*digest_threshold=*/10);
  ASSERT_TRUE(WaitState(ids.back(), DeliveryState::kSent));
  ASSERT_TRUE(WaitUntil([&] { return emu_->Posts(alerts_).size() >= 2; }));
  const auto posts = emu_->Posts(alerts_);
  EXPECT_THAT(posts[0].message, HasSubstr("25 new vulnerabilities"));
  std::string listed;
  for (size_t i = 1; i < posts.size(); ++i) {
    EXPECT_EQ(posts[i].root_id, posts[0].id);
    listed += posts[i].message;
  }
  for (int i = 0; i < 25; ++i) EXPECT_THAT(listed, HasSubstr("fp-" + std::to_string(i)));
  for (int64_t id : ids) {
    EXPECT_EQ(Row(id).post_id, posts[0].id);
    EXPECT_EQ(Row(id).digest_id, ids.front());
  }
}

TEST_F(Delivery, ADigestFitsAnOldServersLimit) {
  emu_->Stop();
  mmemu::Options old_server;
  old_server.max_post_runes = 4000;
  old_server.legacy_length_error = true;  // v9.11's id for "too long"
  Build(old_server);
  StartEngine();
  const auto ids = EnqueueNew(0, 300, "sec/alerts", /*digest_threshold=*/10);
  ASSERT_TRUE(WaitState(ids.back(), DeliveryState::kSent));
  const auto listed = [&] {
    std::string all;
    for (const auto& p : emu_->Posts(alerts_)) all += p.message + "\n";
    return all;
  };
  ASSERT_TRUE(WaitUntil([&] { return listed().find("fp-299\n") != std::string::npos; }));
  for (const auto& p : emu_->Posts(alerts_)) EXPECT_LE(CountRunes(p.message), 4000u);
  EXPECT_EQ(Counter("tocsin_delivery_followups_total", {"digest_reply", "rerendered"}), 0);
}

TEST_F(Delivery, RepliesRefusedAsTooLongAreRenderedAgainSmallerNotCut) {
  emu_->Stop();
  mmemu::Options tiny;
  tiny.max_post_runes = 1500;
  Build(tiny);
  StartEngine();
  const auto ids = EnqueueNew(0, 60, "sec/alerts", /*digest_threshold=*/10);
  ASSERT_TRUE(WaitState(ids.back(), DeliveryState::kSent));
  const auto listed = [&] {
    std::string all;
    for (const auto& p : emu_->Posts(alerts_)) all += p.message + "\n";
    return all;
  };
  ASSERT_TRUE(WaitUntil([&] { return listed().find("fp-59\n") != std::string::npos; }));
  for (int i = 0; i < 60; ++i) EXPECT_THAT(listed(), HasSubstr("fp-" + std::to_string(i) + "\n"));
  for (const auto& p : emu_->Posts(alerts_)) EXPECT_LE(CountRunes(p.message), 1500u);
  EXPECT_GE(Counter("tocsin_delivery_followups_total", {"digest_reply", "rerendered"}), 1);
}

TEST_F(Delivery, RepliesTheServerRefusesForAWhileArePostedLaterEachOnce) {
  FakeClock fake;
  clock_ = &fake;
  // The root and the first reply go out; every try at the second fails, then the server is well.
  mmemu::Fault down;
  down.kind = mmemu::FaultKind::kStatus;
  down.status = 503;
  down.path_prefix = "/api/v4/posts";
  down.skip = 2;
  down.count = 4;
  emu_->SetFault(down);
  StartEngine();
  const auto ids = EnqueueNew(0, 300, "sec/alerts", /*digest_threshold=*/10);
  const int64_t replies = ids.back() + 1;  // owed with the root, after everything queued
  ASSERT_TRUE(WaitUntil([&] {
    auto row = store_->GetDelivery(replies);
    return row && *row && (*row)->attempts == 1;
  }));
  EXPECT_EQ(Row(replies).state, DeliveryState::kPending);
  EXPECT_EQ(Row(replies).replies_posted, 1);
  EXPECT_EQ(Row(replies).last_error_code, "server_error");
  EXPECT_EQ(Row(ids.back()).state, DeliveryState::kSent) << "the digest itself is posted";
  ASSERT_EQ(emu_->Posts(alerts_).size(), 2u);

  fake.Advance(10min);  // past the backoff
  engine_->Wake();
  ASSERT_TRUE(WaitState(replies, DeliveryState::kSent));
  const auto posts = emu_->Posts(alerts_);
  std::string listed;
  for (size_t i = 1; i < posts.size(); ++i) {
    EXPECT_EQ(posts[i].root_id, posts[0].id);
    listed += posts[i].message + "\n";
  }
  for (int i = 0; i < 300; ++i) {
    const std::string line = "fp-" + std::to_string(i) + "\n";
    const size_t at = listed.find(line);
    EXPECT_NE(at, std::string::npos) << i;
    EXPECT_EQ(listed.find(line, at + 1), std::string::npos) << i << " listed twice";
  }
  EXPECT_EQ(Row(replies).post_id, posts.back().id);
}

TEST_F(Delivery, StopFinishesTheRequestInFlight) {
  mmemu::Fault slow;
  slow.kind = mmemu::FaultKind::kDelay;
  slow.delay_ms = 300;
  slow.path_prefix = "/api/v4/posts";
  emu_->SetFault(slow);
  StartEngine();
  const auto ids = EnqueueNew(0, 5, "sec/alerts");
  ASSERT_TRUE(emu_->WaitForHeldRequests(1, kDeadline));
  engine_->Stop();
  EXPECT_EQ(Row(ids[0]).state,
            DeliveryState::kSent);  // answered, and recorded, before Stop returned
  EXPECT_EQ(Row(ids[1]).state, DeliveryState::kPending);
  EXPECT_EQ(emu_->TotalPosts(), 1u);
}

TEST_F(Delivery, NothingIsClaimedWhileTheIntegrationIsInactive) {
  integration_.Set(std::nullopt);
  StartEngine();
  const auto ids = EnqueueNew(0, 1, "sec/alerts");
  EXPECT_FALSE(emu_->WaitForPosts(1, 300ms));
  EXPECT_EQ(Row(ids[0]).attempts, 0);
  Connect(token_);
  engine_->Wake();
  ASSERT_TRUE(WaitState(ids[0], DeliveryState::kSent));
}

}  // namespace
}  // namespace tocsin::outbox
