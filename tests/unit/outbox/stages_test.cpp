// The delivery pipeline, stage by stage, with an in-memory outbox, an in-memory Mattermost and a
// fake clock: what each stage does to a delivery and what it asks of the server.
#include "outbox/stages.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "core/strings.hpp"
#include "outbox_fakes.hpp"
#include "render/post.hpp"

namespace tocsin::outbox {
namespace {

using domain::DeliveryState;
using nlohmann::json;
using testing::AppErrorAnswer;
using ::testing::Contains;
using testing::Delivery;
using ::testing::ElementsAre;
using testing::FakeIntegration;
using testing::FakeMattermost;
using testing::FakeOutbox;
using testing::FakeWaiter;
using ::testing::HasSubstr;
using testing::JsonAnswer;
using testing::kChannelId;
using testing::NetFailure;
using testing::NewFindingEvent;
using testing::StatusChangedEvent;
using testing::TooManyRequests;
using tocsin::testing::FakeClock;

constexpr char kInstallation[] = "inst";
constexpr char kChannel[] = "sec/alerts";

// One engine's worth of stages around fakes; Run() serves the head of a channel like a worker.
struct Rig {
  explicit Rig(double rate_per_second = 0, int burst = 1, Millis digest_window = Millis(0))
      : bucket(clock, rate_per_second, burst) {
    PipelineDeps deps{outbox,
                      clock,
                      channels,
                      pacer,
                      backoff,
                      delivery_metrics,
                      status,
                      limits,
                      kInstallation,
                      "https://tocsin.example.com",
                      [](const std::string&) { return std::string(); },
                      [this] { ++paused; },
                      Millis(5000)};
    deps.digest_window = digest_window;
    pipeline = BuildPipeline(deps);
  }

  int64_t Add(const json& event, const std::string& channel = kChannel) {
    return outbox.Add(Delivery(event, channel, clock.Now()));
  }
  int64_t AddNew(int i, const std::string& channel = kChannel,
                 const std::string& project = "acme") {
    return Add(NewFindingEvent(project, "fp-" + std::to_string(i)), channel);
  }

  Job Run(const std::string& channel = kChannel, int limit = 100) {
    queue = *outbox.ChannelQueue(channel, limit);
    return RunOn(queue, "", static_cast<int>(queue.size()) >= limit);
  }
  // One job over `in_hand` (part of `queue`), as the engine runs it for lease owner `owner`.
  Job RunOn(std::span<const store::DeliveryRecord> in_hand, const std::string& owner,
            bool truncated = false) {
    Job job;
    job.queue = in_hand;
    job.client = &client;
    job.lease_owner = owner;
    job.queue_truncated = truncated;
    pipeline.Run(job);
    return job;
  }
  // One job over queue[from...] with records written behind, as the engine runs it.
  Job RunBehind(size_t from, const std::string& owner = "", bool truncated = false) {
    Job job;
    job.queue = std::span<const store::DeliveryRecord>(queue).subspan(from);
    job.client = &client;
    job.lease_owner = owner;
    job.queue_truncated = truncated;
    job.behind = &behind;
    pipeline.Run(job);
    return job;
  }
  // The head of a channel the engine claimed over a lease left standing since `since`.
  Job RunSuspect(TimePoint since, const std::string& channel = kChannel) {
    queue = *outbox.ChannelQueue(channel, 100);
    Job job;
    job.queue = queue;
    job.client = &client;
    job.suspect = true;
    job.in_doubt_since = since;
    job.doubt_open = true;
    pipeline.Run(job);
    return job;
  }

  double Count(const std::string& outcome, const std::string& reason) {
    return metrics.Counter("tocsin_deliveries_total", "", {}).Get({outcome, reason});
  }
  double FollowUps(const std::string& kind, const std::string& result) {
    return metrics.Counter("tocsin_delivery_followups_total", "", {}).Get({kind, result});
  }

  FakeClock clock;
  FakeOutbox outbox;
  FakeMattermost http;
  FakeIntegration integration;
  Metrics metrics;
  DeliveryMetrics delivery_metrics{metrics};
  TokenBucket bucket;
  FakeWaiter waiter{clock};
  Pacer pacer{bucket, waiter, Millis(5000)};
  ChannelCache channels{clock, Millis(60000)};
  ServerLimits limits;
  Backoff backoff{BackoffPolicy{Millis(1000), Millis(300000), Jitter::kNone}};
  StatusTracker status{integration};
  int paused = 0;
  Pipeline pipeline;
  mattermost::Client client{http, "https://chat.example.com", Secret("tok4tok4tok4tok4tok4tok4to")};
  std::vector<store::DeliveryRecord> queue;
  std::vector<store::SentPost> behind;
};

// ---- the builder -------------------------------------------------------------------------------

TEST(Pipeline, TheBuilderReadsTopToBottom) {
  Rig rig;
  EXPECT_THAT(rig.pipeline.StageNames(),
              ElementsAre("resolve", "coalesce", "reconcile", "expire", "thread", "render",
                          "rate_limit", "send", "classify", "record", "follow_up"));
}

// ---- send --------------------------------------------------------------------------------------

TEST(Send, ASinglePostIsNotMarkedBeforeItGoesItsRecordIsTheOneWrite) {
  // A crash before the record is told by the channel's lease (docs/decisions/0004), so the
  // delivery row is written once, after the answer.
  Rig rig;
  const int64_t id = rig.AddNew(1);
  bool checked = false;
  rig.http.OnRequest([&](const FakeMattermost::Request& r) {
    if (r.method != "POST") return;
    const auto row = rig.outbox.Row(id);
    EXPECT_EQ(row.state, DeliveryState::kPending);
    EXPECT_FALSE(row.in_doubt_since.has_value());
    EXPECT_TRUE(rig.outbox.Calls().empty());
    checked = true;
  });
  const Job job = rig.Run();
  EXPECT_TRUE(checked);
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kSent);
  const auto row = rig.outbox.Row(id);
  EXPECT_EQ(row.state, DeliveryState::kSent);
  EXPECT_EQ(row.post_id, job.outcome.post_id);
  EXPECT_EQ(row.channel_id, kChannelId);
  EXPECT_FALSE(row.in_doubt_since.has_value());
  EXPECT_EQ(rig.Count("sent", "ok"), 1);
}

TEST(Send, ThePostCarriesADeterministicPendingIdAndTheDeliveryId) {
  Rig rig;
  const int64_t id = rig.AddNew(1);
  rig.Run();
  const auto posts = rig.http.Posts();
  ASSERT_EQ(posts.size(), 1u);
  const json& body = posts[0].body;
  EXPECT_EQ(body["pending_post_id"], "inst-" + std::to_string(id));
  EXPECT_EQ(body["channel_id"], kChannelId);
  EXPECT_EQ(body["props"]["tocsin_delivery_id"], std::to_string(id));
  EXPECT_EQ(body["props"]["from_tocsin"], "true");
  EXPECT_EQ(body["props"]["tocsin_installation"], "inst");
  EXPECT_EQ(body["props"]["tocsin_thread_key"], "fp-1");
  EXPECT_FALSE(body.contains("root_id"));
  EXPECT_THAT(body["message"].get<std::string>(), HasSubstr("New **high** vulnerability"));
  EXPECT_THAT(body["props"]["attachments"].dump(), HasSubstr("SQL injection in fp-1"));
}

TEST(Send, ANewFindingsPostBecomesItsThreadRootBeforeItIsMarkedSent) {
  Rig rig;
  rig.AddNew(1);
  const Job job = rig.Run();
  const auto roots = rig.outbox.Roots();
  ASSERT_EQ(roots.size(), 1u);
  EXPECT_EQ(roots.begin()->first,
            std::make_tuple(std::string("acme"), std::string("fp-1"), kChannelId));
  EXPECT_EQ(roots.begin()->second, job.outcome.post_id);
  const auto calls = rig.outbox.Calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_THAT(calls[0], HasSubstr("PutThreadRoot"));
  EXPECT_THAT(calls[1], HasSubstr("MarkSent"));
}

TEST(Send, ADigestIsMarkedInDoubtAsAWholeBeforeItGoes) {
  // After a crash, the set a digest covered must be known: it is marked, committed, first.
  Rig rig;
  std::vector<int64_t> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(rig.AddNew(i));
  bool checked = false;
  rig.http.OnRequest([&](const FakeMattermost::Request& r) {
    if (r.method != "POST" || checked) return;
    const auto mark = rig.outbox.Row(ids[0]).in_doubt_since;
    ASSERT_TRUE(mark.has_value());
    for (int64_t id : ids) {
      EXPECT_EQ(rig.outbox.Row(id).state, DeliveryState::kSending) << id;
      EXPECT_EQ(rig.outbox.Row(id).in_doubt_since, mark) << id;
    }
    checked = true;
  });
  const Job job = rig.Run();
  EXPECT_TRUE(checked);
  EXPECT_TRUE(job.digest);
  EXPECT_THAT(rig.outbox.Calls().front(), HasSubstr("MarkInDoubt"));
}

TEST(Send, AStoreThatCannotMarkADigestSendsNothing) {
  Rig rig;
  for (int i = 0; i < 12; ++i) rig.AddNew(i);
  rig.outbox.FailWrites(true);
  const Job job = rig.Run();
  EXPECT_TRUE(rig.http.Posts().empty());
  EXPECT_FALSE(job.store_error.empty());
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kAborted);
}

TEST(Send, ASinglePostWhoseRecordFailsSaysSoForTheWorkerToKeepTheLease) {
  Rig rig;
  const int64_t id = rig.AddNew(1);
  rig.outbox.FailWrites(true);
  const Job job = rig.Run();
  EXPECT_EQ(rig.http.Posts().size(), 1u) << "posted; only the record failed";
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kSent);
  EXPECT_FALSE(job.store_error.empty());
  EXPECT_EQ(rig.outbox.Row(id).state, DeliveryState::kPending);
}

// ---- record ------------------------------------------------------------------------------------

TEST(Record, TheLastPostInHandReleasesAnEmptyChannelWithItsRecord) {
  Rig rig;
  const int64_t first = rig.AddNew(1);
  const int64_t second = rig.AddNew(2);
  ASSERT_FALSE(rig.outbox.ClaimChannels("me", rig.clock.Now(), Millis(30000), 1)->empty());

  // Two in hand: the first post keeps the lease (more is queued).
  rig.queue = *rig.outbox.ChannelQueue(kChannel, 100);
  const Job job = rig.RunOn(std::span(rig.queue).first(1), "me");
  EXPECT_EQ(rig.outbox.Row(first).state, DeliveryState::kSent);
  EXPECT_FALSE(job.released) << "the second delivery is still queued";
  EXPECT_TRUE(rig.outbox.LeaseUntil(kChannel).has_value());

  // The last one: sent, and the lease goes with the record.
  const Job last = rig.RunOn(std::span(rig.queue).subspan(1, 1), "me");
  EXPECT_EQ(rig.outbox.Row(second).state, DeliveryState::kSent);
  EXPECT_TRUE(last.released);
  EXPECT_FALSE(rig.outbox.LeaseUntil(kChannel).has_value());
}

TEST(Record, AJobWithFollowUpsOrATruncatedQueueKeepsTheLease) {
  Rig rig;
  rig.AddNew(1);
  ASSERT_FALSE(rig.Run().released) << "no lease owner given: nothing to release";
  // A status change whose root post gets patched after the reply: the follow-up needs the lease.
  rig.Add(StatusChangedEvent("acme", "fp-1", "resolved"));
  ASSERT_FALSE(rig.outbox.ClaimChannels("me", rig.clock.Now(), Millis(30000), 1)->empty());
  rig.queue = *rig.outbox.ChannelQueue(kChannel, 100);
  ASSERT_EQ(rig.queue.size(), 1u);
  const Job job = rig.RunOn(rig.queue, "me");
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kSent);
  EXPECT_TRUE(job.patch.is_object());
  EXPECT_FALSE(job.released);
  EXPECT_TRUE(rig.outbox.LeaseUntil(kChannel).has_value());

  rig.AddNew(2);
  rig.queue = *rig.outbox.ChannelQueue(kChannel, 1);
  const Job truncated = rig.RunOn(rig.queue, "me", /*truncated=*/true);
  EXPECT_EQ(truncated.outcome.kind, OutcomeKind::kSent);
  EXPECT_FALSE(truncated.released) << "more may be queued beyond what was read";
}

// ---- records written behind (docs/decisions/0005) ----------------------------------------------

TEST(Behind, PostsBeforeTheLastInHandAreRecordedTogetherWithIt) {
  Rig rig;
  const std::vector<int64_t> ids = {rig.AddNew(1), rig.AddNew(2), rig.AddNew(3)};
  ASSERT_FALSE(rig.outbox.ClaimChannels("me", rig.clock.Now(), Millis(30000), 1)->empty());
  rig.queue = *rig.outbox.ChannelQueue(kChannel, 100);
  const auto calls_before = rig.outbox.Calls().size();
  EXPECT_EQ(rig.RunBehind(0, "me").outcome.kind, OutcomeKind::kSent);
  EXPECT_EQ(rig.RunBehind(1, "me").outcome.kind, OutcomeKind::kSent);
  EXPECT_EQ(rig.http.Posts().size(), 2u);
  EXPECT_EQ(rig.behind.size(), 2u);
  EXPECT_EQ(rig.outbox.Row(ids[0]).state, DeliveryState::kPending) << "not written yet";
  EXPECT_EQ(rig.outbox.Calls().size(), calls_before) << "no store write per post";

  const Job last = rig.RunBehind(2, "me");
  EXPECT_TRUE(rig.behind.empty());
  EXPECT_TRUE(last.released) << "the last record released the channel, with the others";
  const auto calls = rig.outbox.Calls();
  ASSERT_GT(calls.size(), calls_before);
  EXPECT_EQ(calls[calls_before], "RecordSentAll 3");
  for (int64_t id : ids) EXPECT_EQ(rig.outbox.Row(id).state, DeliveryState::kSent) << id;
  EXPECT_EQ(rig.outbox.Roots().size(), 3u) << "each new finding's post is its thread root";
}

TEST(Behind, AStatusChangeSeesTheRootOfAPostStillBehind) {
  Rig rig;
  rig.AddNew(1);
  rig.Add(StatusChangedEvent("acme", "fp-1", "resolved"));
  rig.AddNew(2);
  rig.queue = *rig.outbox.ChannelQueue(kChannel, 100);
  const Job first = rig.RunBehind(0);
  ASSERT_EQ(rig.behind.size(), 1u);
  const Job change = rig.RunBehind(1);
  EXPECT_TRUE(rig.behind.empty()) << "written before the thread stage read the roots";
  const auto posts = rig.http.Posts();
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[1].body["root_id"], first.outcome.post_id);
  EXPECT_EQ(change.outcome.kind, OutcomeKind::kSent);
}

TEST(Behind, AFailureIsRecordedOnlyAfterThePostsBeforeIt) {
  Rig rig;
  const int64_t sent = rig.AddNew(1);
  const int64_t refused = rig.AddNew(2);
  rig.AddNew(3);
  rig.queue = *rig.outbox.ChannelQueue(kChannel, 100);
  rig.RunBehind(0);
  ASSERT_EQ(rig.behind.size(), 1u);
  rig.http.Next("POST /api/v4/posts", JsonAnswer(503, {{"id", "x"}, {"message", "down"}}));
  const Job job = rig.RunBehind(1);
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kRetry);
  EXPECT_TRUE(rig.behind.empty());
  EXPECT_EQ(rig.outbox.Row(sent).state, DeliveryState::kSent);
  EXPECT_EQ(rig.outbox.Row(refused).state, DeliveryState::kPending);
  const auto calls = rig.outbox.Calls();
  const auto all = std::find(calls.begin(), calls.end(), "RecordSentAll 1");
  ASSERT_NE(all, calls.end());
  EXPECT_NE(std::find_if(all, calls.end(),
                         [&](const std::string& c) {
                           return c.rfind("Reschedule " + std::to_string(refused), 0) == 0;
                         }),
            calls.end())
      << "the reschedule came after the record before it";
}

TEST(Behind, AStoreThatCannotWriteThemSaysSo) {
  Rig rig;
  rig.AddNew(1);
  rig.AddNew(2);
  rig.AddNew(3);
  rig.queue = *rig.outbox.ChannelQueue(kChannel, 100);
  rig.RunBehind(0);
  rig.RunBehind(1);
  rig.outbox.FailWrites(true);
  const Job last = rig.RunBehind(2, "me");
  EXPECT_FALSE(last.store_error.empty()) << "the worker keeps the lease: the next claim looks";
  EXPECT_EQ(rig.http.Posts().size(), 3u);
}

TEST(Behind, AReadOfTheQueueThatFindsNothingMoreSaysSo) {
  // Coalesce reads further when a run reaches the end of what is in hand; when the channel
  // holds no more, the worker must not read again for every delivery.
  Rig rig;
  for (int i = 0; i < 5; ++i) rig.AddNew(i);  // under the digest threshold (10)
  rig.queue = *rig.outbox.ChannelQueue(kChannel, 5);
  const Job job = rig.RunOn(rig.queue, "", /*truncated=*/true);
  EXPECT_FALSE(job.digest);
  EXPECT_TRUE(job.read_to_end);
  EXPECT_TRUE(job.more.empty());
}

// ---- threads -----------------------------------------------------------------------------------

struct ThreadRig : Rig {
  ThreadRig() {
    http.Seed(
        "root4root4root4root4root4r",
        {{"message", "new finding"},
         {"props",
          {{"tocsin_thread_key", "fp-1"}, {"tocsin_delivery_id", "7"}, {"from_bot", "true"}}}});
    (void)outbox.PutThreadRoot("acme", "fp-1", kChannelId, "root4root4root4root4root4r");
  }
};

TEST(Thread, AStatusChangeRepliesUnderTheFirstPostAndPatchesIt) {
  ThreadRig rig;
  rig.Add(StatusChangedEvent("acme", "fp-1", "resolved"));
  const Job job = rig.Run();
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kSent);
  const auto posts = rig.http.Posts();
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].body["root_id"], "root4root4root4root4root4r");
  const auto root = rig.http.Created().at("root4root4root4root4root4r");
  EXPECT_THAT(root["message"].get<std::string>(), HasSubstr("resolved"));
  EXPECT_EQ(root["props"]["tocsin_thread_key"], "fp-1");  // our marks survive the patch
  EXPECT_EQ(root["props"]["tocsin_delivery_id"], "7");
  EXPECT_TRUE(root["props"].contains("attachments"));
  EXPECT_EQ(rig.FollowUps("patch", "patched"), 1);
}

TEST(Thread, AStatusChangeOfAFindingNotAnnouncedHereIsARootPost) {
  Rig rig;
  rig.Add(StatusChangedEvent("acme", "fp-9", "resolved"));
  const Job job = rig.Run();
  const auto posts = rig.http.Posts();
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_FALSE(posts[0].body.contains("root_id"));
  EXPECT_EQ(rig.outbox.Roots().size(), 1u);  // later changes reply to it
  EXPECT_EQ(rig.outbox.Roots().begin()->second, job.outcome.post_id);
}

TEST(Thread, AFailedPatchIsLoggedNotRetried) {
  ThreadRig rig;
  const int64_t id = rig.Add(StatusChangedEvent("acme", "fp-1", "resolved"));
  rig.http.Next("PUT /api/v4/posts/", JsonAnswer(503, {{"id", "x"}, {"message", "down"}}));
  const Job job = rig.Run();
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kSent);
  EXPECT_EQ(rig.outbox.Row(id).state, DeliveryState::kSent);
  int puts = 0;
  for (const auto& r : rig.http.Requests()) puts += r.method == "PUT";
  EXPECT_EQ(puts, 1);
  EXPECT_EQ(rig.FollowUps("patch", "failed"), 1);
}

TEST(Thread, APostThatIsNotAboutTheFindingIsNotPatched) {
  Rig rig;
  rig.http.Seed("digest4digest4digest4diges",
                {{"message", "12 new"}, {"props", {{"tocsin_digest_count", 12}}}});
  (void)rig.outbox.PutThreadRoot("acme", "fp-1", kChannelId, "digest4digest4digest4diges");
  rig.Add(StatusChangedEvent("acme", "fp-1", "resolved"));
  rig.Run();
  for (const auto& r : rig.http.Requests()) EXPECT_NE(r.method, "PUT");
  EXPECT_EQ(rig.FollowUps("patch", "skipped"), 1);
}

TEST(Thread, WhenTheRootIsGoneTheReplyBecomesTheNewRoot) {
  Rig rig;
  (void)rig.outbox.PutThreadRoot("acme", "fp-1", kChannelId, "gone4gone4gone4gone4gone4g");
  rig.Add(StatusChangedEvent("acme", "fp-1", "resolved"));
  rig.http.Next("POST /api/v4/posts",
                AppErrorAnswer(400, "api.post.create_post.root_id.app_error"));
  const Job job = rig.Run();
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kSent);
  const auto posts = rig.http.Posts();
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(posts[0].body["root_id"], "gone4gone4gone4gone4gone4g");
  EXPECT_FALSE(posts[1].body.contains("root_id"));
  EXPECT_EQ(rig.outbox.Roots().begin()->second, job.outcome.post_id);
}

// ---- reconcile ---------------------------------------------------------------------------------

struct DoubtRig : Rig {
  DoubtRig() {
    id = AddNew(1);
    marked_at = clock.Now() - Millis(5000);
    outbox.Update(id, [&](store::DeliveryRecord& d) {
      d.state = DeliveryState::kSending;
      d.in_doubt_since = marked_at;
    });
  }
  int64_t id = 0;
  TimePoint marked_at;
};

TEST(Reconcile, APostFoundForADeliveryInDoubtIsMarkedSentWithoutPostingAgain) {
  DoubtRig rig;
  rig.http.Seed(
      "found4found4found4found4fo",
      {{"message", "x"},
       {"props",
        {{"tocsin_delivery_id", std::to_string(rig.id)}, {"tocsin_installation", "inst"}}}});
  const Job job = rig.Run();
  EXPECT_TRUE(rig.http.Posts().empty());
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kSent);
  EXPECT_EQ(job.outcome.reason, "reconciled");
  EXPECT_EQ(rig.outbox.Row(rig.id).post_id, "found4found4found4found4fo");
  EXPECT_EQ(rig.outbox.Roots().begin()->second, "found4found4found4found4fo");
  EXPECT_EQ(rig.http.last_since(), std::to_string(ToUnixMillis(rig.marked_at - Millis(60000))));
  EXPECT_EQ(rig.Count("sent", "reconciled"), 1);
}

TEST(Reconcile, NotFoundIsSentAgainWithTheSamePendingIdAndTheFirstMark) {
  DoubtRig rig;
  rig.http.OnRequest([&](const FakeMattermost::Request& r) {
    if (r.method == "POST") {
      EXPECT_EQ(rig.outbox.Row(rig.id).in_doubt_since, rig.marked_at);
    }
  });
  const Job job = rig.Run();
  const auto posts = rig.http.Posts();
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].body["pending_post_id"], "inst-" + std::to_string(rig.id));
  EXPECT_EQ(job.outcome.reason, "ok");
  EXPECT_EQ(rig.metrics.Counter("tocsin_delivery_reconciles_total", "", {}).Get({"not_found"}), 1);
}

TEST(Reconcile, AnotherInstallationsPostIsNotOurs) {
  DoubtRig rig;
  rig.http.Seed("other4other4other4other4ot", {{"message", "x"},
                                               {"props",
                                                {{"tocsin_delivery_id", std::to_string(rig.id)},
                                                 {"tocsin_installation", "someone-else"}}}});
  rig.Run();
  EXPECT_EQ(rig.http.Posts().size(), 1u);
}

TEST(Reconcile, AFailedLookupRetriesAndKeepsTheDoubt) {
  DoubtRig rig;
  rig.http.Next("GET /api/v4/channels/" + kChannelId + "/posts",
                JsonAnswer(503, {{"id", "x"}, {"message", "down"}}));
  const Job job = rig.Run();
  EXPECT_TRUE(rig.http.Posts().empty());
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kRetry);
  const auto row = rig.outbox.Row(rig.id);
  EXPECT_EQ(row.state, DeliveryState::kSending);
  EXPECT_EQ(row.in_doubt_since, rig.marked_at);
  EXPECT_EQ(row.attempts, 1);
  ASSERT_TRUE(job.hold_lease_until.has_value());
  EXPECT_EQ(*job.hold_lease_until, job.outcome.next);
}

// A channel claimed over a lease left standing: its head may have gone out as a single post.

TEST(Reconcile, ALeaseLeftStandingMakesTheHeadLookedForFirst) {
  Rig rig;
  const int64_t id = rig.AddNew(1);
  const TimePoint since = rig.clock.Now() + Millis(2000);  // the lease is younger than the row
  rig.http.Seed(
      "found4found4found4found4fo",
      {{"message", "x"},
       {"props", {{"tocsin_delivery_id", std::to_string(id)}, {"tocsin_installation", "inst"}}}});
  const Job job = rig.RunSuspect(since);
  EXPECT_TRUE(rig.http.Posts().empty());
  EXPECT_EQ(job.outcome.reason, "reconciled");
  EXPECT_EQ(rig.outbox.Row(id).state, DeliveryState::kSent);
  EXPECT_EQ(rig.outbox.Row(id).post_id, "found4found4found4found4fo");
  EXPECT_EQ(rig.http.last_since(), std::to_string(ToUnixMillis(since - Millis(60000))));
  EXPECT_EQ(rig.metrics.Counter("tocsin_delivery_reconciles_total", "", {}).Get({"found"}), 1);
}

TEST(Reconcile, ALeaseLeftStandingWithNothingPostedSendsTheHeadOnce) {
  Rig rig;
  const int64_t id = rig.AddNew(1);
  const Job job = rig.RunSuspect(rig.clock.Now());
  ASSERT_EQ(rig.http.Posts().size(), 1u);
  EXPECT_EQ(rig.http.Posts()[0].body["pending_post_id"], "inst-" + std::to_string(id));
  EXPECT_EQ(job.outcome.reason, "ok");
  EXPECT_EQ(rig.metrics.Counter("tocsin_delivery_reconciles_total", "", {}).Get({"not_found"}), 1);
}

TEST(Reconcile, AnUnmarkedHeadFoundPostedSettlesAloneEvenWhereADigestWouldForm) {
  // Only a single post can be unrecorded without a mark; the rest of the run is still queued.
  Rig rig;
  std::vector<int64_t> ids;
  for (int i = 0; i < 15; ++i) ids.push_back(rig.AddNew(i));
  rig.http.Seed(
      "single4single4single4singl",
      {{"message", "x"},
       {"props",
        {{"tocsin_delivery_id", std::to_string(ids[0])}, {"tocsin_installation", "inst"}}}});
  const Job job = rig.RunSuspect(rig.clock.Now());
  EXPECT_FALSE(job.digest);
  EXPECT_EQ(job.covered, 1u);
  EXPECT_EQ(job.outcome.reason, "reconciled");
  EXPECT_EQ(rig.outbox.Row(ids[0]).post_id, "single4single4single4singl");
  EXPECT_EQ(rig.outbox.Row(ids[1]).state, DeliveryState::kPending);
  EXPECT_TRUE(rig.http.Posts().empty());
}

TEST(Reconcile, AFailedLookupOfASuspectHeadMarksItInDoubtInTheRow) {
  Rig rig;
  const int64_t id = rig.AddNew(1);
  const TimePoint since = rig.clock.Now() - Millis(7000);
  rig.http.Next("GET /api/v4/channels/" + kChannelId + "/posts",
                JsonAnswer(503, {{"id", "x"}, {"message", "down"}}));
  const Job job = rig.RunSuspect(since);
  EXPECT_TRUE(rig.http.Posts().empty());
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kRetry);
  const auto row = rig.outbox.Row(id);
  EXPECT_EQ(row.state, DeliveryState::kSending) << "the doubt outlives the lease now";
  EXPECT_EQ(row.in_doubt_since, since);
  ASSERT_TRUE(job.hold_lease_until.has_value());
}

TEST(Reconcile, ThePostsAfterAFoundHeadAreFoundTooAndSettledWithIt) {
  // Records written behind are lost with a crash; the posts are in the channel in order.
  Rig rig;
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(rig.AddNew(i));
  for (int k = 0; k < 3; ++k) {
    const std::string post_id = "posted" + std::to_string(k) + std::string(19, 'x');
    rig.http.Seed(post_id, {{"message", "x"},
                            {"props",
                             {{"tocsin_delivery_id", std::to_string(ids[static_cast<size_t>(k)])},
                              {"tocsin_installation", "inst"},
                              {"tocsin_thread_key", "fp-" + std::to_string(k)}}}});
  }
  const Job job = rig.RunSuspect(rig.clock.Now());
  EXPECT_EQ(job.outcome.reason, "reconciled");
  EXPECT_EQ(job.covered, 3u);
  EXPECT_TRUE(rig.http.Posts().empty());
  for (int k = 0; k < 3; ++k) {
    const auto row = rig.outbox.Row(ids[static_cast<size_t>(k)]);
    EXPECT_EQ(row.state, DeliveryState::kSent) << k;
    EXPECT_EQ(row.post_id, "posted" + std::to_string(k) + std::string(19, 'x')) << k;
    EXPECT_EQ(row.digest_id, 0) << "each its own post, not a digest";
  }
  EXPECT_EQ(rig.outbox.Row(ids[3]).state, DeliveryState::kPending);
  EXPECT_EQ(rig.outbox.Roots().size(), 3u) << "their thread roots, read off the posts";
}

// ---- coalesce ----------------------------------------------------------------------------------

TEST(Coalesce, MoreNewFindingsThanTheThresholdBecomeOneDigest) {
  Rig rig;
  std::vector<int64_t> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(rig.AddNew(i));
  const Job job = rig.Run();
  EXPECT_TRUE(job.digest);
  EXPECT_EQ(job.covered, 12u);
  const auto posts = rig.http.Posts();
  ASSERT_GE(posts.size(), 2u);
  EXPECT_THAT(posts[0].body["message"].get<std::string>(), HasSubstr("12 new vulnerabilities"));
  EXPECT_EQ(posts[0].body["props"]["tocsin_digest_count"], 12);
  const std::string root = job.outcome.post_id;
  for (int64_t id : ids) {
    const auto row = rig.outbox.Row(id);
    EXPECT_EQ(row.state, DeliveryState::kSent);
    EXPECT_EQ(row.post_id, root);
    EXPECT_EQ(row.digest_id, ids.front());
  }
  for (size_t i = 1; i < posts.size(); ++i) {
    EXPECT_EQ(posts[i].body["root_id"], root);
    EXPECT_EQ(posts[i].body["pending_post_id"],
              "inst-" + std::to_string(ids.front()) + "-r" + std::to_string(i - 1));
  }
  // Each listed finding's thread is the digest's: a later status change replies there (the
  // digest itself is never patched, PatchRoot finds it is not about that finding).
  const auto roots = rig.outbox.Roots();
  EXPECT_EQ(roots.size(), 12u);
  for (const auto& [key, post] : roots) EXPECT_EQ(post, root) << std::get<1>(key);
  EXPECT_EQ(rig.Count("sent", "digest"), 12);
  EXPECT_EQ(rig.FollowUps("digest_reply", "posted"), static_cast<double>(posts.size() - 1));
}

TEST(Coalesce, TheCoveredDeliveriesAreSentBeforeTheRepliesArePosted) {
  Rig rig;
  std::vector<int64_t> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(rig.AddNew(i));
  rig.http.OnRequest([&](const FakeMattermost::Request& r) {
    if (r.method == "POST" && r.body.contains("root_id")) {
      EXPECT_EQ(rig.outbox.Row(ids.back()).state, DeliveryState::kSent);
    }
  });
  rig.Run();
}

TEST(Coalesce, AYoungNewFindingWaitsOutTheDigestWindowForOthersToJoin) {
  Rig rig(0, 1, Millis(2000));
  const TimePoint start = rig.clock.Now();
  const int64_t first = rig.AddNew(0);
  const Job job = rig.Run();
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kDeferred);
  EXPECT_TRUE(rig.http.Posts().empty()) << "nothing posted";
  auto row = rig.outbox.Row(first);
  EXPECT_EQ(row.state, DeliveryState::kPending);
  EXPECT_EQ(row.next_attempt_at, start + Millis(2000));
  EXPECT_EQ(row.attempts, 0) << "a wait, not an attempt";
  EXPECT_EQ(rig.Count("deferred", "digest_window"), 1);

  // The rest of the burst arrives one by one within the window: one digest when it is over.
  for (int i = 1; i < 12; ++i) {
    rig.clock.Advance(Millis(100));
    rig.AddNew(i);
  }
  rig.clock.Advance(Millis(900));
  const Job digest = rig.Run();
  EXPECT_TRUE(digest.digest);
  EXPECT_EQ(digest.covered, 12u);
  EXPECT_THAT(rig.http.Posts()[0].body["message"].get<std::string>(),
              HasSubstr("12 new vulnerabilities"));
}

TEST(Coalesce, ALoneNewFindingIsPostedWhenTheWindowIsOver) {
  Rig rig(0, 1, Millis(2000));
  const int64_t id = rig.AddNew(0);
  rig.clock.Advance(Millis(2000));
  const Job job = rig.Run();
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kSent);
  EXPECT_FALSE(job.digest);
  EXPECT_EQ(rig.outbox.Row(id).state, DeliveryState::kSent);
}

TEST(Coalesce, EnoughForADigestAtOnceDoesNotWait) {
  Rig rig(0, 1, Millis(2000));
  for (int i = 0; i < 12; ++i) rig.AddNew(i);
  const Job job = rig.Run();
  EXPECT_TRUE(job.digest) << "a scan or a batch is a burst already";
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kSent);
}

TEST(Coalesce, NoWindowWhereNoDigestCanForm) {
  Rig rig(0, 1, Millis(2000));
  const int64_t id = rig.AddNew(0);
  rig.outbox.Update(id, [](store::DeliveryRecord& d) { d.digest_threshold = kMaxDigest; });
  EXPECT_EQ(rig.Run().outcome.kind, OutcomeKind::kSent);
  const int64_t status = rig.Add(StatusChangedEvent("acme", "fp-0", "resolved"));
  EXPECT_EQ(rig.Run().outcome.kind, OutcomeKind::kSent) << "only new findings coalesce";
  EXPECT_EQ(rig.outbox.Row(status).state, DeliveryState::kSent);
}

TEST(Coalesce, AtTheThresholdEachFindingIsItsOwnPost) {
  Rig rig;
  for (int i = 0; i < 10; ++i) rig.AddNew(i);
  const Job job = rig.Run();
  EXPECT_FALSE(job.digest);
  EXPECT_EQ(job.covered, 1u);
}

TEST(Coalesce, TheRunEndsAtAnotherKindOfEventOrProject) {
  Rig rig;
  for (int i = 0; i < 11; ++i) rig.AddNew(i);
  rig.Add(StatusChangedEvent("acme", "fp-0", "resolved"));
  for (int i = 20; i < 30; ++i) rig.AddNew(i);
  EXPECT_EQ(rig.Run().covered, 11u);

  Rig other;
  for (int i = 0; i < 5; ++i) other.AddNew(i);
  for (int i = 0; i < 20; ++i) other.AddNew(i, kChannel, "beta");
  EXPECT_FALSE(other.Run().digest);
}

TEST(Coalesce, AQueueCutAtTheReadLimitIsReadFurther) {
  Rig rig;
  for (int i = 0; i < 15; ++i) rig.AddNew(i);
  const Job job = rig.Run(kChannel, /*limit=*/5);
  EXPECT_TRUE(job.digest);
  EXPECT_EQ(job.covered, 15u);
  EXPECT_EQ(job.more.size(), 15u);
}

TEST(Coalesce, AThresholdNoDigestCanPassReadsNothingFurther) {
  Rig rig;
  for (int i = 0; i < 8; ++i) {
    const int64_t id = rig.AddNew(i);
    rig.outbox.Update(id, [](store::DeliveryRecord& d) { d.digest_threshold = kMaxDigest; });
  }
  rig.queue = *rig.outbox.ChannelQueue(kChannel, 4);
  const int reads = rig.outbox.queue_reads();
  const Job job = rig.RunOn(rig.queue, "", /*truncated=*/true);
  EXPECT_FALSE(job.digest);
  EXPECT_EQ(rig.outbox.queue_reads(), reads) << "no digest can form: no longer read per post";
}

TEST(Coalesce, AHeadInDoubtKeepsTheSetItWasSentWith) {
  Rig rig;
  std::vector<int64_t> ids;
  for (int i = 0; i < 15; ++i) ids.push_back(rig.AddNew(i));
  const TimePoint mark = rig.clock.Now() - Millis(3000);
  for (int i = 0; i < 12; ++i) {
    rig.outbox.Update(ids[static_cast<size_t>(i)], [&](store::DeliveryRecord& d) {
      d.state = DeliveryState::kSending;
      d.in_doubt_since = mark;
    });
  }
  // The root was created before the crash: found, all twelve sent with it, replies follow.
  rig.http.Seed(
      "root4root4root4root4root4r",
      {{"message", "12 new"},
       {"props",
        {{"tocsin_delivery_id", std::to_string(ids[0])}, {"tocsin_installation", "inst"}}}});
  const Job job = rig.Run();
  EXPECT_EQ(job.covered, 12u);
  EXPECT_EQ(job.outcome.reason, "reconciled");
  EXPECT_EQ(rig.outbox.Row(ids[11]).post_id, "root4root4root4root4root4r");
  EXPECT_EQ(rig.outbox.Row(ids[12]).state, DeliveryState::kPending);
  for (const auto& p : rig.http.Posts()) EXPECT_EQ(p.body["root_id"], "root4root4root4root4root4r");
}

TEST(Coalesce, RepliesAreRenderedForOldServersAndSmallerAgainWhenRefused) {
  Rig rig;
  for (int i = 0; i < 120; ++i) rig.AddNew(i);
  rig.http.Next("POST /api/v4/posts", JsonAnswer(201, {{"id", "root4root4root4root4root4r"},
                                                       {"channel_id", kChannelId},
                                                       {"message", "120 new"}}));
  rig.http.Next("POST /api/v4/posts",
                AppErrorAnswer(400, "model.post.is_valid.message_length.app_error"));
  rig.Run();
  const auto posts = rig.http.Posts();
  ASSERT_GE(posts.size(), 3u);
  EXPECT_GT(CountRunes(posts[1].body["message"].get<std::string>()), 2000u);  // refused
  EXPECT_LE(CountRunes(posts[1].body["message"].get<std::string>()), 4000u);
  std::string listed;
  for (size_t i = 2; i < posts.size(); ++i) {
    const std::string message = posts[i].body["message"].get<std::string>();
    EXPECT_LE(CountRunes(message), 2000u);
    listed += message + "\n";
  }
  for (int i = 0; i < 120; ++i) EXPECT_THAT(listed, HasSubstr("fp-" + std::to_string(i) + "\n"));
  EXPECT_EQ(posts[2].body["pending_post_id"], posts[1].body["pending_post_id"]);
  EXPECT_EQ(rig.FollowUps("digest_reply", "rerendered"), 1);
  EXPECT_EQ(rig.limits.max_runes.load(), 2000u);
}

TEST(Coalesce, ADigestsRepliesAreADeliveryOfTheirOwnSentWithTheLastReply) {
  Rig rig;
  std::vector<int64_t> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(rig.AddNew(i));
  const Job job = rig.Run();
  ASSERT_TRUE(job.digest);
  const auto posts = rig.http.Posts();
  ASSERT_EQ(posts.size(), 2u);  // the root and one reply
  const int64_t replies = ids.back() + 1;
  EXPECT_THAT(rig.outbox.Calls(), Contains("AddReplies " + std::to_string(replies) + " of " +
                                           std::to_string(ids.front())));
  const auto row = rig.outbox.Row(replies);
  EXPECT_EQ(row.kind, "replies");
  EXPECT_EQ(row.state, DeliveryState::kSent);
  EXPECT_EQ(row.digest_id, ids.front());
  EXPECT_EQ(row.post_id, rig.http.Created().rbegin()->first) << "the last reply";
  EXPECT_EQ(rig.Count("sent", "replies"), 1);
}

// The replies of a digest the fake server created, in order, as one text.
std::string CreatedReplies(Rig& rig, const std::string& root) {
  std::string listed;
  for (const auto& [id, post] : rig.http.Created()) {
    if (post.value("root_id", "") == root) listed += post["message"].get<std::string>() + "\n";
  }
  return listed;
}

size_t Occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(Coalesce, RepliesThatCannotGoOutNowAreOwedAndGoOnFromWhereTheyStopped) {
  Rig rig;
  std::vector<int64_t> ids;
  for (int i = 0; i < 120; ++i) ids.push_back(rig.AddNew(i));
  // The root and the first reply go out; the server then fails every try at the second.
  rig.http.Next("POST /api/v4/posts", JsonAnswer(201, {{"id", "root4root4root4root4root4r"},
                                                       {"channel_id", kChannelId},
                                                       {"message", "120 new"}}));
  rig.http.Next("POST /api/v4/posts", JsonAnswer(201, {{"id", "repl4repl4repl4repl4repl4r"},
                                                       {"channel_id", kChannelId},
                                                       {"message", "1"}}));
  for (int i = 0; i < 4; ++i) {
    rig.http.Next("POST /api/v4/posts", JsonAnswer(503, {{"id", "x"}, {"message", "down"}}));
  }
  const Job job = rig.Run();
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kSent) << "the digest is posted all the same";
  const auto first = rig.http.Posts();
  ASSERT_EQ(first.size(), 6u);
  const std::string listed_first = first[1].body["message"].get<std::string>() + "\n";
  for (size_t i = 2; i < 6; ++i) EXPECT_EQ(first[i].body["pending_post_id"], "inst-1-r1");
  const int64_t replies = ids.back() + 1;
  auto row = rig.outbox.Row(replies);
  EXPECT_EQ(row.state, DeliveryState::kPending);
  EXPECT_EQ(row.replies_posted, 1);
  EXPECT_EQ(row.replies_runes, 4000);
  EXPECT_EQ(row.attempts, 1);
  EXPECT_EQ(row.last_error_code, "server_error");
  EXPECT_GT(row.next_attempt_at, rig.clock.Now());
  for (int64_t id : ids) EXPECT_EQ(rig.outbox.Row(id).state, DeliveryState::kSent);

  // Its turn, later: the list goes on at the second reply, under the same root.
  rig.clock.Advance(Millis(600000));
  const Job later = rig.Run();
  EXPECT_EQ(later.head().id, replies);
  EXPECT_EQ(later.outcome.kind, OutcomeKind::kSent);
  const auto all = rig.http.Posts();
  ASSERT_GE(all.size(), 7u);
  EXPECT_EQ(all[6].body["pending_post_id"], "inst-1-r1");
  EXPECT_EQ(all[6].body["root_id"], "root4root4root4root4root4r");
  row = rig.outbox.Row(replies);
  EXPECT_EQ(row.state, DeliveryState::kSent);
  EXPECT_EQ(row.post_id, rig.http.Created().rbegin()->first);
  const std::string listed = listed_first + CreatedReplies(rig, "root4root4root4root4root4r");
  for (int i = 0; i < 120; ++i) {
    EXPECT_EQ(Occurrences(listed, "fp-" + std::to_string(i) + "\n"), 1u) << i;
  }
}

TEST(Coalesce, RepliesWhoseDigestIsNotRecordedFail) {
  Rig rig;
  store::DeliveryRecord orphan =
      Delivery(NewFindingEvent("acme", "fp-1"), kChannel, rig.clock.Now());
  orphan.kind = "replies";
  orphan.digest_id = 999;
  const int64_t id = rig.outbox.Add(orphan);
  const Job job = rig.Run();
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kFailed);
  EXPECT_EQ(rig.outbox.Row(id).state, DeliveryState::kFailed);
  EXPECT_EQ(rig.outbox.Row(id).last_error_code, "digest_missing");
  EXPECT_TRUE(rig.http.Posts().empty());
}

TEST(Coalesce, ADigestThatFailedCleanlyPutsItsOtherDeliveriesBackToPending) {
  Rig rig;
  std::vector<int64_t> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(rig.AddNew(i));
  rig.http.Next("POST /api/v4/posts", JsonAnswer(503, {{"id", "x"}, {"message", "down"}}));
  const Job job = rig.Run();
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kRetry);
  for (int64_t id : ids) {
    const auto row = rig.outbox.Row(id);
    EXPECT_EQ(row.state, DeliveryState::kPending) << id;
    EXPECT_FALSE(row.in_doubt_since.has_value()) << id;
  }
  EXPECT_EQ(rig.outbox.Row(ids[0]).attempts, 1);
  EXPECT_EQ(rig.outbox.Row(ids[1]).attempts, 0);
}

TEST(Coalesce, APermanentlyRefusedDigestFailsAsAWhole) {
  Rig rig;
  std::vector<int64_t> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(rig.AddNew(i));
  rig.http.Next("POST /api/v4/posts", AppErrorAnswer(403, "api.context.permissions.app_error"));
  rig.Run();
  for (int64_t id : ids) EXPECT_EQ(rig.outbox.Row(id).state, DeliveryState::kFailed);
  EXPECT_EQ(rig.Count("failed", "forbidden"), 12);
}

// ---- too long ----------------------------------------------------------------------------------

json LongEvent() {
  json e = NewFindingEvent("acme", "fp-long");
  e["finding"]["description"] = std::string(20000, 'x');
  return e;
}

TEST(TooLong, ARefusedPostIsShrunkAndResentAtOnce) {
  Rig rig;
  const int64_t id = rig.Add(LongEvent());
  rig.http.Next("POST /api/v4/posts",
                AppErrorAnswer(400, "model.post.is_valid.message_length.app_error"));
  const Job job = rig.Run();
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kSent);
  const auto posts = rig.http.Posts();
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_GT(render::PostRunes(posts[0].body), 4000u);
  EXPECT_LE(render::PostRunes(posts[1].body), 4000u);
  EXPECT_EQ(posts[1].body["pending_post_id"], posts[0].body["pending_post_id"]);
  EXPECT_EQ(rig.limits.max_runes.load(), 4000u);  // the next post is rendered to fit at once
  EXPECT_EQ(rig.outbox.Row(id).attempts, 1);
}

TEST(TooLong, TwoShrinksThenTheDeliveryFails) {
  Rig rig;
  const int64_t id = rig.Add(LongEvent());
  for (int i = 0; i < 3; ++i) {
    rig.http.Next("POST /api/v4/posts",
                  AppErrorAnswer(400, "model.post.is_valid.message_length.app_error"));
  }
  const Job job = rig.Run();
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kFailed);
  EXPECT_EQ(rig.http.Posts().size(), 3u);
  EXPECT_EQ(rig.outbox.Row(id).last_error_code, "message_too_long");
}

// ---- rate limits -------------------------------------------------------------------------------

TEST(RateLimit, AShort429IsWaitedOutInPlace) {
  Rig rig;
  const int64_t id = rig.AddNew(1);
  rig.http.Next("POST /api/v4/posts", TooManyRequests(1));
  const Job job = rig.Run();
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kSent);
  EXPECT_EQ(rig.http.Posts().size(), 2u);
  EXPECT_GE(rig.waiter.waited(), Millis(1000));
  EXPECT_EQ(rig.outbox.Row(id).attempts, 1);  // MarkSent's; the 429 counted nothing
}

TEST(RateLimit, ALong429ReschedulesWithoutCountingAnAttempt) {
  Rig rig;
  const int64_t id = rig.AddNew(1);
  rig.http.Next("POST /api/v4/posts", TooManyRequests(60));
  const TimePoint start = rig.clock.Now();
  const Job job = rig.Run();
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kRateLimited);
  const auto row = rig.outbox.Row(id);
  EXPECT_EQ(row.state, DeliveryState::kPending);
  EXPECT_EQ(row.attempts, 0);
  EXPECT_EQ(row.next_attempt_at, start + Millis(60000));
  EXPECT_EQ(rig.bucket.BlockedFor(), Millis(60000));
  EXPECT_EQ(rig.Count("rate_limited", "rate_limited"), 1);
}

TEST(RateLimit, TheClientCapPacesRequestsInPlace) {
  Rig rig(/*rate_per_second=*/2, /*burst=*/1);
  rig.AddNew(1);
  rig.AddNew(2);
  rig.Run();  // the channel lookup takes the burst's token; the post waits for the next
  EXPECT_EQ(rig.waiter.waited(), Millis(500));
  rig.Run();
  EXPECT_EQ(rig.waiter.waited(), Millis(1000));
  EXPECT_EQ(rig.http.Posts().size(), 2u);
}

TEST(RateLimit, StoppingWhileWaitingAbortsWithoutRecordingAnything) {
  Rig rig;
  rig.AddNew(1);
  rig.bucket.OnRateLimited(Millis(2000));
  rig.waiter.set_stopping(true);
  const Job job = rig.Run();
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kAborted);
  EXPECT_TRUE(rig.outbox.Calls().empty());
}

// ---- auth and status ---------------------------------------------------------------------------

TEST(Auth, A401PausesDeliveryAndSaysTheTokenFailed) {
  Rig rig;
  const int64_t id = rig.AddNew(1);
  rig.http.Next("POST /api/v4/posts", AppErrorAnswer(401, "api.context.session_expired.app_error"));
  const Job job = rig.Run();
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kPaused);
  EXPECT_EQ(rig.paused, 1);
  EXPECT_EQ(rig.integration.Status(), "auth_failed");
  const auto row = rig.outbox.Row(id);
  EXPECT_EQ(row.state, DeliveryState::kPending);
  EXPECT_EQ(row.attempts, 0);
  EXPECT_EQ(row.last_error_code, "unauthorized");
}

TEST(Auth, A401ToTheReplacedTokenNeitherPausesNorSaysTheNewTokenFailed) {
  Rig rig;
  const int64_t id = rig.AddNew(1);
  mattermost::ConnectionSettings old_settings{"https://chat.example.com",
                                              Secret("tok4tok4tok4tok4tok4tok4to"), false, ""};
  mattermost::ConnectionSettings new_settings = old_settings;
  new_settings.token = Secret("tok5tok5tok5tok5tok5tok5to");
  const ServerKey asked_with = ServerKey::Of(old_settings);
  // The request went out with the old token; an admin saved a new one before its answer came.
  rig.status.UseServer(ServerKey::Of(new_settings));
  rig.queue = *rig.outbox.ChannelQueue(kChannel, 100);
  rig.http.Next("POST /api/v4/posts", AppErrorAnswer(401, "api.context.session_expired.app_error"));
  Job job;
  job.queue = rig.queue;
  job.client = &rig.client;
  job.server = &asked_with;
  rig.pipeline.Run(job);
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kPaused);  // this delivery waits its short pause
  EXPECT_EQ(rig.paused, 0);                           // but the others are not held
  EXPECT_EQ(rig.integration.Status(), "unknown");
  EXPECT_THAT(rig.integration.Reports(), ElementsAre());
  EXPECT_EQ(rig.outbox.Row(id).attempts, 0);

  // The same answer to the current settings does pause.
  rig.http.Next("POST /api/v4/posts", AppErrorAnswer(401, "api.context.session_expired.app_error"));
  rig.clock.Advance(Millis(1000));
  const ServerKey current = ServerKey::Of(new_settings);
  Job again;
  rig.queue = *rig.outbox.ChannelQueue(kChannel, 100);
  again.queue = rig.queue;
  again.client = &rig.client;
  again.server = &current;
  rig.pipeline.Run(again);
  EXPECT_EQ(rig.paused, 1);
  EXPECT_EQ(rig.integration.Status(), "auth_failed");
}

TEST(Auth, ASuccessAfterAFailingStatusReportsOk) {
  Rig rig;
  rig.integration.SetStatus("failing");
  rig.AddNew(1);
  rig.AddNew(2);
  rig.Run();
  rig.Run();
  EXPECT_THAT(rig.integration.Reports(), ElementsAre("ok: a post was delivered"));
}

TEST(Auth, TlsErrorsMarkTheIntegrationFailing) {
  Rig rig;
  rig.AddNew(1);
  rig.http.Next("GET /api/v4/teams", NetFailure(net::NetErrorKind::kTlsUntrusted));
  const Job job = rig.Run();
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kRetry);
  EXPECT_EQ(rig.integration.Status(), "failing");
}

// ---- channels ----------------------------------------------------------------------------------

TEST(Resolve, AChannelIsLookedUpOncePerMinute) {
  Rig rig;
  rig.AddNew(1);
  rig.AddNew(2);
  rig.Run();
  rig.Run();
  int lookups = 0;
  for (const auto& r : rig.http.Requests()) lookups += r.method == "GET";
  EXPECT_EQ(lookups, 1);
  rig.clock.Advance(Millis(60000));
  rig.AddNew(3);
  rig.Run();
  lookups = 0;
  for (const auto& r : rig.http.Requests()) lookups += r.method == "GET";
  EXPECT_EQ(lookups, 2);
}

TEST(Resolve, AMissingChannelFailsWithItsDiagnosisAndIsRemembered) {
  Rig rig;
  const int64_t first = rig.AddNew(1, "sec/nope");
  const int64_t second = rig.AddNew(2, "sec/nope");
  rig.http.Next("GET /api/v4/teams/name/sec/channels/name/nope",
                AppErrorAnswer(404, "app.channel.get_by_name.missing.app_error"));
  rig.Run("sec/nope");
  rig.Run("sec/nope");
  EXPECT_EQ(rig.outbox.Row(first).state, DeliveryState::kFailed);
  EXPECT_THAT(rig.outbox.Row(first).last_error, HasSubstr("channel sec/nope was not found"));
  EXPECT_EQ(rig.outbox.Row(second).state, DeliveryState::kFailed);
  EXPECT_EQ(rig.http.Requests().size(), 1u);  // the second did not ask again
}

TEST(Resolve, ANonMemberBotFailsThatDeliveryWithWhatToDo) {
  Rig rig;
  const int64_t id = rig.AddNew(1);
  rig.http.Next("POST /api/v4/posts", AppErrorAnswer(403, "api.context.permissions.app_error"));
  rig.Run();
  const auto row = rig.outbox.Row(id);
  EXPECT_EQ(row.state, DeliveryState::kFailed);
  EXPECT_EQ(row.last_error_code, "forbidden");
  EXPECT_THAT(row.last_error, HasSubstr("the bot is not a member of channel sec/alerts: add it"));
}

TEST(Resolve, AnArchivedChannelFailsWithoutPosting) {
  Rig rig;
  const int64_t id = rig.AddNew(1);
  rig.http.Next("GET /api/v4/teams", JsonAnswer(200, {{"id", kChannelId},
                                                      {"name", "alerts"},
                                                      {"type", "O"},
                                                      {"delete_at", 1700000000000}}));
  rig.Run();
  EXPECT_TRUE(rig.http.Posts().empty());
  EXPECT_EQ(rig.outbox.Row(id).last_error_code, "channel_archived");
}

// ---- network trouble ---------------------------------------------------------------------------

TEST(Network, ALostAnswerKeepsTheDeliveryInDoubtAndHoldsTheChannel) {
  Rig rig;
  const int64_t id = rig.AddNew(1);
  const TimePoint sent_at = rig.clock.Now();
  rig.http.Next("POST /api/v4/posts", NetFailure(net::NetErrorKind::kTimeout));
  const Job job = rig.Run();
  EXPECT_EQ(job.outcome.kind, OutcomeKind::kRetry);
  const auto row = rig.outbox.Row(id);
  EXPECT_EQ(row.state, DeliveryState::kSending);
  EXPECT_EQ(row.in_doubt_since, sent_at) << "marked with the reschedule, from the send's start";
  EXPECT_EQ(row.attempts, 1);
  ASSERT_TRUE(job.hold_lease_until.has_value());
  EXPECT_EQ(*job.hold_lease_until, job.outcome.next);
}

TEST(Network, A503BacksOffAndClearsTheMark) {
  Rig rig;
  const int64_t id = rig.AddNew(1);
  rig.http.Next("POST /api/v4/posts", JsonAnswer(503, {{"id", "x"}, {"message", "down"}}));
  const Job job = rig.Run();
  const auto row = rig.outbox.Row(id);
  EXPECT_EQ(row.state, DeliveryState::kPending);
  EXPECT_FALSE(row.in_doubt_since.has_value());
  EXPECT_EQ(row.attempts, 1);
  EXPECT_EQ(row.next_attempt_at, rig.clock.Now() + Millis(1000));
  EXPECT_FALSE(job.hold_lease_until.has_value());
  EXPECT_EQ(rig.Count("retried", "server_error"), 1);
}

// ---- expiry ------------------------------------------------------------------------------------

TEST(Expire, ADeliveryTriedUntilItsExpiryIsDead) {
  Rig rig;
  const int64_t id = rig.AddNew(1);
  rig.outbox.Update(id, [&](store::DeliveryRecord& d) {
    d.attempts = 12;
    d.last_error = "HTTP 503";
    d.expires_at = rig.clock.Now() - Millis(1);
  });
  rig.Run();
  EXPECT_TRUE(rig.http.Posts().empty());
  const auto row = rig.outbox.Row(id);
  EXPECT_EQ(row.state, DeliveryState::kDead);
  EXPECT_EQ(row.last_error_code, "expired");
  EXPECT_THAT(row.last_error, HasSubstr("HTTP 503"));
}

TEST(Expire, ADeliveryNeverTriedGetsItsChanceEvenAfterExpiry) {
  Rig rig;
  const int64_t id = rig.AddNew(1);
  rig.outbox.Update(id,
                    [&](store::DeliveryRecord& d) { d.expires_at = rig.clock.Now() - Millis(1); });
  rig.Run();
  EXPECT_EQ(rig.outbox.Row(id).state, DeliveryState::kSent);
}

// ---- render ------------------------------------------------------------------------------------

TEST(Render, AnUnreadableEventFailsInsteadOfBlockingTheChannel) {
  Rig rig;
  const int64_t id = rig.AddNew(1);
  rig.outbox.Update(id, [](store::DeliveryRecord& d) { d.event_body_json = "{broken"; });
  rig.Run();
  EXPECT_EQ(rig.outbox.Row(id).state, DeliveryState::kFailed);
  EXPECT_EQ(rig.outbox.Row(id).last_error_code, "invalid_event");
}

TEST(Render, ATestDeliveryPostsTheTestMessage) {
  Rig rig;
  store::DeliveryRecord d = Delivery(NewFindingEvent("acme", "x"), kChannel, rig.clock.Now());
  d.kind = "test";
  d.event_type = domain::EventType::kScanCompleted;
  d.thread_key.clear();
  rig.outbox.Add(d);
  rig.Run();
  const auto posts = rig.http.Posts();
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_THAT(posts[0].body["message"].get<std::string>(), HasSubstr("test message"));
}

}  // namespace
}  // namespace tocsin::outbox
