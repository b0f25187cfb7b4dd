// API-FACTS checklist 8-13: create-post permission matrix, the 201 body, limits, threads,
// pending_post_id de-duplication, patch, reading posts back.
#include <thread>

#include "emulator_fixture.hpp"

namespace mmemu::testing {
namespace {

std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

class CreatePostTest : public EmulatorTest {
 protected:
  json Created(const json& post, const std::string& token = "") {
    auto r = CreatePost(token.empty() ? bot_token_ : token, post);
    EXPECT_TRUE(r);
    if (!r) return json();
    EXPECT_EQ(r->status, 201) << r->body;
    return Body(r);
  }
};

TEST_F(CreatePostTest, MemberGets201WithTheStoredPost) {
  auto r = CreatePost(bot_token_,
                      {{"channel_id", alerts_}, {"message", "hello"}, {"pending_post_id", "p-1"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  json post = Body(r);
  EXPECT_EQ(post.value("id", "").size(), 26u);
  EXPECT_EQ(post.value("channel_id", ""), alerts_);
  EXPECT_EQ(post.value("user_id", ""), bot_);
  EXPECT_EQ(post.value("message", ""), "hello");
  EXPECT_EQ(post.value("pending_post_id", ""), "p-1");
  EXPECT_GT(post.value("create_at", int64_t{0}), int64_t{1600000000000});  // milliseconds
  EXPECT_EQ(post.value("update_at", int64_t{0}), post.value("create_at", int64_t{1}));
  EXPECT_EQ(post.value("edit_at", 1), 0);
  EXPECT_EQ(post["props"].value("from_bot", ""), "true");
  EXPECT_EQ(post["metadata"], json::object());
  EXPECT_FALSE(post.contains("file_ids"));
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  std::optional<mmemu::Post> stored = emu_->GetPost(post.value("id", ""));
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->message, "hello");
  EXPECT_EQ(emu_->TotalPosts(), 1u);
}

TEST_F(CreatePostTest, HumansHaveNoFromBotAndUserIdIsAlwaysTheCaller) {
  json post = Created({{"channel_id", alerts_}, {"message", "x"}, {"user_id", bot_}}, alice_token_);
  EXPECT_EQ(post.value("user_id", ""), alice_);
  EXPECT_FALSE(post["props"].contains("from_bot"));
}

TEST_F(CreatePostTest, PermissionMatrixForADefaultBot) {
  struct Case {
    std::string channel_id;
    int status;
    const char* id;
  };
  for (const Case& c : std::vector<Case>{
           {ops_, 201, ""},                                         // private, member
           {scans_, 403, "api.context.permissions.app_error"},      // public, not a member
           {general_, 403, "api.context.permissions.app_error"},    // another team
           {incidents_, 403, "api.context.permissions.app_error"},  // private, not a member
           {std::string(26, 'x'), 403, "api.context.permissions.app_error"},   // unknown id
           {"not-an-id", 403, "api.context.permissions.app_error"},            // malformed
           {"", 403, "api.context.permissions.app_error"},                     // empty
           {old_, 400, "api.post.create_post.can_not_post_to_deleted.error"},  // archived member
       }) {
    auto r = CreatePost(bot_token_, {{"channel_id", c.channel_id}, {"message", "m"}});
    if (c.status == 201) {
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 201) << c.channel_id;
    } else {
      ExpectAppError(r, c.status, c.id);
    }
  }
}

TEST_F(CreatePostTest, ArchivedChannelWithoutMembershipFailsPermissionFirst) {
  emu_->ArchiveChannel(scans_);
  ExpectAppError(CreatePost(bot_token_, {{"channel_id", scans_}, {"message", "m"}}), 403,
                 "api.context.permissions.app_error");
}

TEST_F(CreatePostTest, PostAllRolePostsAnywhere) {
  emu_->GrantSystemRole(bot_, "system_post_all");
  Created({{"channel_id", general_}, {"message", "m"}});
  Created({{"channel_id", incidents_}, {"message", "m"}});
}

TEST_F(CreatePostTest, PostAllPublicRolePostsToPublicChannelsOnly) {
  emu_->GrantSystemRole(bot_, "system_post_all_public");
  Created({{"channel_id", general_}, {"message", "m"}});
  ExpectAppError(CreatePost(bot_token_, {{"channel_id", incidents_}, {"message", "m"}}), 403,
                 "api.context.permissions.app_error");
}

TEST_F(CreatePostTest, AdminPostingToAnUnknownChannelIs400) {
  emu_->GrantSystemRole(bot_, "system_admin");
  ExpectAppError(CreatePost(bot_token_, {{"channel_id", std::string(26, 'x')}, {"message", "m"}}),
                 400, "api.context.invalid_param.app_error");
}

TEST_F(CreatePostTest, EmptyMessageIsAllowed) { Created({{"channel_id", alerts_}}); }

TEST_F(CreatePostTest, BadJsonAndWrongTypesAre400InvalidBody) {
  for (const std::string& body :
       {std::string("{"), std::string("[]"), std::string("{\"message\": 5}"),
        std::string("{\"props\": []}"), std::string(""), std::string("{\"file_ids\": [1]}")}) {
    auto r = Post("/api/v4/posts", bot_token_, body);
    ExpectAppError(r, 400, "api.context.invalid_body_param.app_error");
    EXPECT_EQ(Body(r).value("message", ""), "Invalid or missing post in request body.") << body;
  }
}

TEST_F(CreatePostTest, TrailingBytesAfterTheJsonValueAreIgnoredLikeGo) {
  auto r = Post("/api/v4/posts", bot_token_,
                json{{"channel_id", alerts_}, {"message", "m"}}.dump() + " trailing");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
}

TEST_F(CreatePostTest, InvalidUtf8IsReplacedNotRejected) {
  std::string body = "{\"channel_id\":\"" + alerts_ +
                     "\",\"message\":\"a\xff"
                     "b\"}";
  auto r = Post("/api/v4/posts", bot_token_, body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201);
  EXPECT_EQ(Body(r).value("message", ""),
            "a\xEF\xBF\xBD"
            "b");
}

TEST_F(CreatePostTest, BodyOverThePayloadLimitIs413) {
  json post = {
      {"channel_id", alerts_}, {"message", "m"}, {"props", {{"pad", std::string(310000, 'a')}}}};
  ExpectAppError(CreatePost(bot_token_, post), 413, "api.context.request_body_too_large.app_error");
}

TEST_F(CreatePostTest, SystemAndUnknownTypesAreRejected) {
  ExpectAppError(CreatePost(bot_token_, {{"channel_id", alerts_}, {"type", "system_join_channel"}}),
                 400, "api.context.invalid_param.app_error");
  ExpectAppError(CreatePost(bot_token_, {{"channel_id", alerts_}, {"type", "weird"}}), 400,
                 "model.post.is_valid.type.app_error");
  Created({{"channel_id", alerts_}, {"type", "slack_attachment"}});
  Created({{"channel_id", alerts_}, {"type", "custom_tocsin"}});
}

class Limits : public CreatePostTest {};

TEST_F(Limits, MessageLimitCountsCodePointsNotBytes) {
  Created({{"channel_id", alerts_}, {"message", Repeat("\xC3\xA9", 16383)}});          // 2 bytes
  Created({{"channel_id", alerts_}, {"message", Repeat("\xF0\x9F\x94\xA5", 16383)}});  // 4 bytes
  ExpectAppError(
      CreatePost(bot_token_, {{"channel_id", alerts_}, {"message", std::string(16384, 'a')}}), 400,
      "model.post.is_valid.message_length.app_error");
  EXPECT_EQ(emu_->TotalPosts(), 2u);  // rejected, never truncated
}

TEST_F(Limits, OldServersUseTheMsgErrorIdAndA4000Limit) {
  Options options;
  options.max_post_runes = 4000;
  options.legacy_length_error = true;
  StartWith(options);
  Created({{"channel_id", alerts_}, {"message", std::string(4000, 'a')}});
  ExpectAppError(
      CreatePost(bot_token_, {{"channel_id", alerts_}, {"message", std::string(4001, 'a')}}), 400,
      "model.post.is_valid.msg.app_error");
}

TEST_F(Limits, PropsOver800000RunesAre400) {
  // The limit applies to the props as stored, after the server re-types attachments with every
  // field present: 4000 empty attachments are a 12 kB body but over 800000 runes of props.
  json many = json::array();
  for (int i = 0; i < 4000; ++i) many.push_back(json::object());
  ExpectAppError(
      CreatePost(bot_token_, {{"channel_id", alerts_}, {"props", {{"attachments", many}}}}), 400,
      "model.post.is_valid.props.app_error");
  Created({{"channel_id", alerts_}, {"props", {{"pad", std::string(290000, 'a')}}}});
}

TEST_F(Limits, TenFileIdsPassElevenAre400) {
  std::vector<std::string> ten(10, std::string(26, 'f'));
  json post = Created({{"channel_id", alerts_}, {"file_ids", ten}});
  EXPECT_FALSE(post.contains("file_ids"));  // no such uploads: the server drops them
  std::vector<std::string> eleven(11, std::string(26, 'f'));
  ExpectAppError(CreatePost(bot_token_, {{"channel_id", alerts_}, {"file_ids", eleven}}), 400,
                 "model.post.is_valid.file_ids.app_error");
}

class Attachments : public CreatePostTest {};

TEST_F(Attachments, IntegrationIsStrippedOnTheWireAndActionIdsGenerated) {
  json attachment = {
      {"fallback", "f"},
      {"text", "t"},
      {"actions",
       {{{"name", "Ack"},
         {"integration", {{"url", "http://127.0.0.1:1/hook"}, {"context", {{"k", "v"}}}}}},
        {{"id", "keepme"}, {"name", "Mute"}}}}};
  json post = Created({{"channel_id", alerts_}, {"props", {{"attachments", {attachment}}}}});
  json actions = post["props"]["attachments"][0]["actions"];
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_FALSE(actions[0].contains("integration"));
  EXPECT_EQ(actions[0].value("id", "").size(), 26u);
  EXPECT_EQ(actions[1].value("id", ""), "keepme");
  // Re-serialised like the server's struct: every string field present.
  EXPECT_EQ(post["props"]["attachments"][0].value("pretext", "x"), "");
  EXPECT_TRUE(post["props"]["attachments"][0]["fields"].is_null());
  // The store keeps the integration (a button click needs it).
  mmemu::Post stored = *emu_->GetPost(post.value("id", ""));
  EXPECT_EQ(stored.props["attachments"][0]["actions"][0]["integration"].value("url", ""),
            "http://127.0.0.1:1/hook");
  EXPECT_EQ(stored.props["attachments"][0]["actions"][0].value("id", ""),
            actions[0].value("id", ""));
}

TEST_F(Attachments, AttachmentsThatDoNotDecodeAreDropped) {
  json post = Created(
      {{"channel_id", alerts_}, {"props", {{"attachments", {{{"text", 5}}, {{"text", "ok"}}}}}}});
  ASSERT_EQ(post["props"]["attachments"].size(), 1u);
  EXPECT_EQ(post["props"]["attachments"][0].value("text", ""), "ok");
}

class Threads : public CreatePostTest {};

TEST_F(Threads, ReplyToARootIsCountedOnTheThread) {
  json root = Created({{"channel_id", alerts_}, {"message", "root"}});
  json reply = Created({{"channel_id", alerts_}, {"root_id", root["id"]}, {"message", "r"}});
  EXPECT_EQ(reply.value("root_id", ""), root.value("id", ""));
  json again = Body(Get("/api/v4/posts/" + root.value("id", ""), bot_token_));
  EXPECT_EQ(again.value("reply_count", 0), 1);
}

TEST_F(Threads, InvalidRoots) {
  json root = Created({{"channel_id", alerts_}, {"message", "root"}});
  json reply = Created({{"channel_id", alerts_}, {"root_id", root["id"]}});
  json other_root = Created({{"channel_id", ops_}, {"message", "elsewhere"}});
  ExpectAppError(
      CreatePost(bot_token_, {{"channel_id", alerts_}, {"root_id", std::string(26, 'n')}}), 400,
      "api.post.create_post.root_id.app_error");
  ExpectAppError(CreatePost(bot_token_, {{"channel_id", alerts_}, {"root_id", "bad"}}), 400,
                 "api.post.create_post.root_id.app_error");
  ExpectAppError(CreatePost(bot_token_, {{"channel_id", alerts_}, {"root_id", other_root["id"]}}),
                 400, "api.post.create_post.channel_root_id.app_error");
  ExpectAppError(CreatePost(bot_token_, {{"channel_id", alerts_}, {"root_id", reply["id"]}}), 400,
                 "api.post.create_post.root_id.app_error");
}

TEST_F(Threads, PriorityOnlyOnRootsAndAckNeedsALicence) {
  json priority = {{"priority", "urgent"}};
  json root = Created({{"channel_id", alerts_}, {"metadata", {{"priority", priority}}}});
  EXPECT_EQ(root["metadata"]["priority"].value("priority", ""), "urgent");
  ExpectAppError(CreatePost(bot_token_, {{"channel_id", alerts_},
                                         {"root_id", root["id"]},
                                         {"metadata", {{"priority", priority}}}}),
                 400,
                 "api.post.post_priority.priority_post_only_allowed_for_root_post.request_error");
  ExpectAppError(
      CreatePost(
          bot_token_,
          {{"channel_id", alerts_},
           {"metadata", {{"priority", {{"priority", "important"}, {"requested_ack", true}}}}}}),
      501, "license_error.feature_unavailable");
}

class Dedup : public CreatePostTest {
 protected:
  // A create with `key` sent from a thread of its own, for a fault that holds it; its answer
  // lands in `out` once the fault is cleared (join the thread first).
  std::thread CreateInBackground(const std::string& key, std::optional<httplib::Result>& out) {
    return std::thread([this, key, &out] {
      out.emplace(CreatePost(bot_token_, {{"channel_id", alerts_}, {"pending_post_id", key}}));
    });
  }
};

TEST_F(Dedup, CompletedDuplicateReturnsTheSamePostWith201) {
  json first = Created({{"channel_id", alerts_}, {"message", "m"}, {"pending_post_id", "k1"}});
  json second = Created({{"channel_id", alerts_}, {"message", "m"}, {"pending_post_id", "k1"}});
  EXPECT_EQ(second.value("id", ""), first.value("id", ""));
  EXPECT_EQ(emu_->TotalPosts(), 1u);
}

TEST_F(Dedup, KeyIsTheRawStringNotScopedByUserOrChannel) {
  json first = Created({{"channel_id", alerts_}, {"message", "m"}, {"pending_post_id", "k2"}});
  json other = Created({{"channel_id", general_}, {"message", "x"}, {"pending_post_id", "k2"}},
                       alice_token_);
  EXPECT_EQ(other.value("id", ""), first.value("id", ""));  // v9.11 hands back the original
}

TEST_F(Dedup, PermissionAndArchivedChecksStillApplyToTheRepeat) {
  Created({{"channel_id", alerts_}, {"pending_post_id", "k3"}});
  ExpectAppError(CreatePost(bot_token_, {{"channel_id", incidents_}, {"pending_post_id", "k3"}}),
                 403, "api.context.permissions.app_error");
}

TEST_F(Dedup, FailedCreateFreesTheKey) {
  ExpectAppError(CreatePost(bot_token_, {{"channel_id", alerts_},
                                         {"root_id", std::string(26, 'n')},
                                         {"pending_post_id", "k4"}}),
                 400, "api.post.create_post.root_id.app_error");
  Created({{"channel_id", alerts_}, {"pending_post_id", "k4"}});
  EXPECT_EQ(emu_->TotalPosts(), 1u);
}

TEST_F(Dedup, ExpiredKeyCreatesANewPost) {
  Options options;
  options.dedup_ttl_ms = 0;  // every entry is already expired when the next request looks
  StartWith(options);
  json first = Created({{"channel_id", alerts_}, {"pending_post_id", "k5"}});
  json second = Created({{"channel_id", alerts_}, {"pending_post_id", "k5"}});
  EXPECT_NE(first.value("id", ""), second.value("id", ""));
  EXPECT_EQ(emu_->TotalPosts(), 2u);
}

TEST_F(Dedup, InFlightDuplicateIs500PendingThenTheFirstCompletes) {
  emu_->SetFault({FaultKind::kHang, 0, 0, "/api/v4/posts", 1});
  std::optional<httplib::Result> first;
  std::thread slow = CreateInBackground("k6", first);
  ASSERT_TRUE(emu_->WaitForHeldRequests(1, std::chrono::seconds(5)));
  ExpectAppError(CreatePost(bot_token_, {{"channel_id", alerts_}, {"pending_post_id", "k6"}}), 500,
                 "api.post.deduplicate_create_post.pending");
  emu_->SetFault({});  // releases the held create
  slow.join();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->status, 201);
  json retry = Created({{"channel_id", alerts_}, {"pending_post_id", "k6"}});
  EXPECT_EQ(retry.value("id", ""), Body(*first).value("id", ""));
  EXPECT_EQ(emu_->TotalPosts(), 1u);
}

TEST_F(Dedup, LostResponseAfterCommitThenRetryGetsTheSamePost) {
  emu_->SetFault({FaultKind::kLoseResponseAfterCommit, 0, 0, "/api/v4/posts", 1});
  auto lost = CreatePost(bot_token_, {{"channel_id", alerts_}, {"pending_post_id", "k7"}});
  EXPECT_FALSE(lost);                 // the connection closed without an answer
  EXPECT_EQ(emu_->TotalPosts(), 1u);  // but the post was committed
  json retry = Created({{"channel_id", alerts_}, {"pending_post_id", "k7"}});
  EXPECT_EQ(retry.value("id", ""), emu_->Posts(alerts_).at(0).id);
  EXPECT_EQ(emu_->TotalPosts(), 1u);
}

TEST_F(Dedup, HangAfterCommitStoresThePostAndHoldsTheAnswer) {
  // What a client killed while waiting leaves behind: a post it never heard of.
  emu_->SetFault({FaultKind::kHangAfterCommit, 0, 0, "/api/v4/posts", 1});
  std::optional<httplib::Result> held;
  std::thread waiting = CreateInBackground("k8", held);
  ASSERT_TRUE(emu_->WaitForHeldRequests(1, std::chrono::seconds(5)));
  EXPECT_EQ(emu_->TotalPosts(), 1u) << "stored before the answer";
  emu_->SetFault({});  // releases the answer
  waiting.join();
  ASSERT_TRUE(held && *held);
  EXPECT_EQ((*held)->status, 201);
  EXPECT_EQ(Body(*held).value("id", ""), emu_->Posts(alerts_).at(0).id);
}

class Patch : public CreatePostTest {};

TEST_F(Patch, UpdatesMessageAndSetsEditAt) {
  json post = Created({{"channel_id", alerts_}, {"message", "before"}});
  auto r = Put("/api/v4/posts/" + post.value("id", "") + "/patch", bot_token_,
               json{{"message", "after"}}.dump());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json patched = Body(r);
  EXPECT_EQ(patched.value("message", ""), "after");
  EXPECT_GT(patched.value("edit_at", int64_t{0}), int64_t{0});
  EXPECT_EQ(emu_->GetPost(post.value("id", ""))->message, "after");
}

TEST_F(Patch, PropsReplaceTheWholeMap) {
  json post = Created({{"channel_id", alerts_}, {"props", {{"a", "1"}, {"b", "2"}}}});
  json patched = Body(Put("/api/v4/posts/" + post.value("id", "") + "/patch", bot_token_,
                          json{{"props", {{"c", "3"}}}}.dump()));
  EXPECT_EQ(patched["props"], (json{{"c", "3"}}));
}

TEST_F(Patch, Errors) {
  json post = Created({{"channel_id", alerts_}, {"message", "m"}});
  std::string path = "/api/v4/posts/" + post.value("id", "") + "/patch";
  ExpectAppError(Put("/api/v4/posts/" + std::string(26, 'u') + "/patch", bot_token_, "{}"), 403,
                 "api.context.permissions.app_error");
  ExpectAppError(Put(path, bot_token_, json{{"message", std::string(16384, 'a')}}.dump()), 400,
                 "model.post.is_valid.message_length.app_error");
  ExpectAppError(Put(path, alice_token_, json{{"message", "not yours"}}.dump()), 403,
                 "api.context.permissions.app_error");
  ExpectAppError(Put(path, bot_token_, "{"), 400, "api.context.invalid_body_param.app_error");
  emu_->ArchiveChannel(alerts_);
  ExpectAppError(Put(path, bot_token_, json{{"message", "x"}}.dump()), 400,
                 "api.post.patch_post.can_not_update_post_in_deleted.error");
}

class ReadPosts : public CreatePostTest {};

TEST_F(ReadPosts, GetPostByIdAndItsErrors) {
  json post = Created({{"channel_id", ops_}, {"message", "m"}});
  EXPECT_EQ(Body(Get("/api/v4/posts/" + post.value("id", ""), alice_token_)).value("message", ""),
            "m");
  ExpectAppError(Get("/api/v4/posts/" + std::string(26, 'u'), bot_token_), 404,
                 "app.post.get.app_error");
  json secret = Created({{"channel_id", incidents_}, {"message", "s"}}, alice_token_);
  ExpectAppError(Get("/api/v4/posts/" + secret.value("id", ""), bot_token_), 403,
                 "api.context.permissions.app_error");
}

TEST_F(ReadPosts, ChannelPostsIsAPostListNewestFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(
        Created({{"channel_id", alerts_}, {"message", std::to_string(i)}}).value("id", ""));
  }
  auto r = Get("/api/v4/channels/" + alerts_ + "/posts?page=0&per_page=2", bot_token_);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  json list = Body(r);
  EXPECT_EQ(list["order"], (json{ids[4], ids[3]}));
  EXPECT_EQ(list["posts"].size(), 2u);
  EXPECT_EQ(list.value("next_post_id", "x"), "");
  EXPECT_EQ(list.value("prev_post_id", ""), ids[2]);
  EXPECT_EQ(list.value("first_inaccessible_post_time", 1), 0);
  json page2 = Body(Get("/api/v4/channels/" + alerts_ + "/posts?page=1&per_page=2", bot_token_));
  EXPECT_EQ(page2["order"], (json{ids[2], ids[1]}));
  EXPECT_EQ(page2.value("next_post_id", ""), ids[3]);
}

TEST_F(ReadPosts, SinceReturnsPostsChangedAfterTheTime) {
  json first = Created({{"channel_id", alerts_}, {"message", "old"}});
  int64_t since = first.value("create_at", int64_t{0});
  json all = Body(
      Get("/api/v4/channels/" + alerts_ + "/posts?since=" + std::to_string(since - 1), bot_token_));
  EXPECT_EQ(all["order"], (json{first["id"]}));
  json none = Body(
      Get("/api/v4/channels/" + alerts_ + "/posts?since=" + std::to_string(since), bot_token_));
  EXPECT_TRUE(none["order"].empty());
  ExpectAppError(Get("/api/v4/channels/" + alerts_ + "/posts?since=abc", bot_token_), 400,
                 "api.context.invalid_param.app_error");
}

TEST_F(ReadPosts, ChannelPostsNeedsReadPermission) {
  EXPECT_EQ(Get("/api/v4/channels/" + scans_ + "/posts", bot_token_)->status, 200);  // public
  ExpectAppError(Get("/api/v4/channels/" + incidents_ + "/posts", bot_token_), 403,
                 "api.context.permissions.app_error");
  ExpectAppError(Get("/api/v4/channels/" + std::string(26, 'q') + "/posts", bot_token_), 404,
                 "app.channel.get.existing.app_error");
}

}  // namespace
}  // namespace mmemu::testing
