// API-FACTS checklist 7: team/channel lookups, channel members, joining (§3.4-§3.7).
#include "emulator_fixture.hpp"

namespace mmemu::testing {
namespace {

class ChannelByName : public EmulatorTest {
 protected:
  httplib::Result Lookup(const std::string& team, const std::string& channel,
                         const std::string& token, const std::string& query = "") {
    return Get("/api/v4/teams/name/" + team + "/channels/name/" + channel + query, token);
  }
};

TEST_F(ChannelByName, MemberGetsTheChannel) {
  auto r = Lookup("security", "alerts", bot_token_);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  json channel = Body(r);
  EXPECT_EQ(channel.value("id", ""), alerts_);
  EXPECT_EQ(channel.value("type", ""), "O");
  EXPECT_EQ(channel.value("team_id", ""), team_);
  for (const char* key :
       {"create_at", "update_at", "delete_at", "display_name", "name", "header", "purpose",
        "last_post_at", "total_msg_count", "extra_update_at", "creator_id", "scheme_id", "props",
        "group_constrained", "shared", "total_msg_count_root", "policy_id", "last_root_post_at"}) {
    EXPECT_TRUE(channel.contains(key)) << key;
  }
}

TEST_F(ChannelByName, PublicChannelOfOwnTeamNeedsNoChannelMembership) {
  EXPECT_EQ(Lookup("security", "scans", bot_token_)->status, 200);
}

TEST_F(ChannelByName, UnknownTeamIs404BeforeAnyPermissionCheck) {
  ExpectAppError(Lookup("nosuchteam", "alerts", bot_token_), 404,
                 "app.team.get_by_name.missing.app_error");
}

TEST_F(ChannelByName, UnknownArchivedAndHiddenPrivateChannelsAre404) {
  ExpectAppError(Lookup("security", "nope", bot_token_), 404,
                 "app.channel.get_by_name.missing.app_error");
  ExpectAppError(Lookup("security", "old", bot_token_), 404,
                 "app.channel.get_by_name.missing.app_error");
  ExpectAppError(Lookup("security", "incidents", bot_token_), 404,
                 "app.channel.get_by_name.missing.app_error");
}

TEST_F(ChannelByName, ArchivedChannelWithIncludeDeleted) {
  auto r = Lookup("security", "old", bot_token_, "?include_deleted=true");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_GT(Body(r).value("delete_at", 0), 0);
}

TEST_F(ChannelByName, PublicChannelInAnotherTeamIs403) {
  ExpectAppError(Lookup("other", "general", bot_token_), 403, "api.context.permissions.app_error");
}

TEST_F(ChannelByName, NamesThatAreNotMattermostNamesAre400) {
  ExpectAppError(Lookup("security", "Alerts", bot_token_), 400,
                 "api.context.invalid_url_param.app_error");
  ExpectAppError(Lookup("Security", "alerts", bot_token_), 400,
                 "api.context.invalid_url_param.app_error");
}

class GetChannel : public EmulatorTest {};

TEST_F(GetChannel, UnknownIdIs404ExistenceLeaksHere) {
  ExpectAppError(Get("/api/v4/channels/" + std::string(26, 'a'), bot_token_), 404,
                 "app.channel.get.existing.app_error");
}

TEST_F(GetChannel, MalformedIdIs400) {
  ExpectAppError(Get("/api/v4/channels/abc", bot_token_), 400,
                 "api.context.invalid_url_param.app_error");
}

TEST_F(GetChannel, PermissionRules) {
  EXPECT_EQ(Get("/api/v4/channels/" + alerts_, bot_token_)->status, 200);
  EXPECT_EQ(Get("/api/v4/channels/" + scans_, bot_token_)->status, 200);  // public, same team
  ExpectAppError(Get("/api/v4/channels/" + incidents_, bot_token_), 403,
                 "api.context.permissions.app_error");
  ExpectAppError(Get("/api/v4/channels/" + general_, bot_token_), 403,
                 "api.context.permissions.app_error");
}

TEST_F(GetChannel, ArchivedChannelIsReturnedWithDeleteAt) {
  auto r = Get("/api/v4/channels/" + old_, bot_token_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_GT(Body(r).value("delete_at", 0), 0);
}

class ChannelMember : public EmulatorTest {};

TEST_F(ChannelMember, MemberGetsItsMembership) {
  auto r = Get("/api/v4/channels/" + alerts_ + "/members/me", bot_token_);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  json member = Body(r);
  EXPECT_EQ(member.value("channel_id", ""), alerts_);
  EXPECT_EQ(member.value("user_id", ""), bot_);
  EXPECT_EQ(member.value("roles", ""), "channel_user");
  for (const char* key :
       {"last_viewed_at", "msg_count", "mention_count", "mention_count_root",
        "urgent_mention_count", "msg_count_root", "notify_props", "last_update_at", "scheme_guest",
        "scheme_user", "scheme_admin", "explicit_roles"}) {
    EXPECT_TRUE(member.contains(key)) << key;
  }
}

TEST_F(ChannelMember, NonMemberAskingAboutItselfIs403Not404) {
  ExpectAppError(Get("/api/v4/channels/" + scans_ + "/members/me", bot_token_), 403,
                 "api.context.permissions.app_error");
  ExpectAppError(Get("/api/v4/channels/" + std::string(26, 'z') + "/members/me", bot_token_), 403,
                 "api.context.permissions.app_error");
}

TEST_F(ChannelMember, MemberAskingAboutANonMemberIs404) {
  ExpectAppError(Get("/api/v4/channels/" + scans_ + "/members/" + bot_, alice_token_), 404,
                 "app.channel.get_member.missing.app_error");
}

class JoinChannel : public EmulatorTest {
 protected:
  httplib::Result Join(const std::string& channel, const std::string& token,
                       const std::string& user_id) {
    return Post("/api/v4/channels/" + channel + "/members", token,
                json{{"user_id", user_id}}.dump());
  }
};

TEST_F(JoinChannel, SelfJoinOfPublicChannelIs201AndPostsASystemMessage) {
  auto r = Join(scans_, bot_token_, bot_);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(Body(r).value("user_id", ""), bot_);
  EXPECT_EQ(Body(r).value("channel_id", ""), scans_);
  std::vector<mmemu::Post> posts = emu_->Posts(scans_);
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].type, "system_join_channel");
  EXPECT_EQ(posts[0].message, "tocsin-bot joined the channel.");
  EXPECT_EQ(Get("/api/v4/channels/" + scans_ + "/members/me", bot_token_)->status, 200);
}

TEST_F(JoinChannel, JoiningAgainIs201WithTheExistingMember) {
  ASSERT_EQ(Join(scans_, bot_token_, bot_)->status, 201);
  EXPECT_EQ(Join(scans_, bot_token_, bot_)->status, 201);
  EXPECT_EQ(emu_->Posts(scans_).size(), 1u);
}

TEST_F(JoinChannel, NotInTheTeamIs403) {
  ExpectAppError(Join(general_, bot_token_, bot_), 403, "api.context.permissions.app_error");
}

TEST_F(JoinChannel, PrivateChannelIs403) {
  ExpectAppError(Join(incidents_, bot_token_, bot_), 403, "api.context.permissions.app_error");
}

TEST_F(JoinChannel, MemberAddsAnotherTeamMember) {
  auto r = Join(incidents_, alice_token_, bot_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(emu_->Posts(incidents_).at(0).type, "system_add_to_channel");
}

TEST_F(JoinChannel, AddingSomeoneOutsideTheTeamIs404) {
  std::string dave = emu_->AddUser("dave");
  ExpectAppError(Join(alerts_, alice_token_, dave), 404, "app.team.get_member.missing.app_error");
}

TEST_F(JoinChannel, MissingOrInvalidUserIdIs400) {
  ExpectAppError(Post("/api/v4/channels/" + scans_ + "/members", bot_token_, "{}"), 400,
                 "api.context.invalid_body_param.app_error");
  ExpectAppError(Join(scans_, bot_token_, "short"), 400,
                 "api.context.invalid_body_param.app_error");
  ExpectAppError(Post("/api/v4/channels/" + scans_ + "/members", bot_token_, "not json"), 400,
                 "api.context.invalid_body_param.app_error");
}

TEST_F(JoinChannel, UnknownChannelIs404) {
  ExpectAppError(Join(std::string(26, 'q'), bot_token_, bot_), 404,
                 "app.channel.get.existing.app_error");
}

}  // namespace
}  // namespace mmemu::testing
