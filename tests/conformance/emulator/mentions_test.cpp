// API-FACTS checklist 16: which @-mentions would notify (§5.1), on the scanner and through posts.
#include "mentions.hpp"

#include "emulator_fixture.hpp"

namespace mmemu::testing {
namespace {

std::vector<std::string> Scan(const std::string& markdown) {
  MentionScanner scanner([](const std::string& word) { return word == "@alice"; });
  scanner.ScanMarkdown(markdown);
  return scanner.hits();
}

using Hits = std::vector<std::string>;

TEST(MentionScanner, ChannelWideMentionsAnyCase) {
  EXPECT_EQ(Scan("hey @channel"), (Hits{"@channel"}));
  EXPECT_EQ(Scan("@ALL and @Here"), (Hits{"@all", "@here"}));
  EXPECT_EQ(Scan("nothing to see"), Hits{});
}

TEST(MentionScanner, WordsSplitOnPunctuationButNotOnDotsDashesColons) {
  EXPECT_EQ(Scan("(@channel)"), (Hits{"@channel"}));
  EXPECT_EQ(Scan("@channel."), (Hits{"@channel"}));  // trailing . - : _ stripped
  EXPECT_EQ(Scan("@channel:"), (Hits{"@channel"}));
  EXPECT_EQ(Scan("foo.@channel"), (Hits{"@channel"}));  // split further on . - :
  EXPECT_EQ(Scan("@channelx"), Hits{});
  EXPECT_EQ(Scan("me@channel.com"), Hits{});
  EXPECT_EQ(Scan("@alice, look"), (Hits{"@alice"}));
  EXPECT_EQ(Scan("@alice_"), (Hits{"@alice"}));
  EXPECT_EQ(Scan("@bob"), Hits{});  // not a keyword in this channel
}

TEST(MentionScanner, ZeroWidthSpaceBreaksAMention) {
  EXPECT_EQ(Scan("@\xE2\x80\x8B"
                 "channel"),
            Hits{});
  EXPECT_EQ(Scan("@\xE2\x80\x8B"
                 "alice"),
            Hits{});
}

TEST(MentionScanner, CodeIsNotScanned) {
  EXPECT_EQ(Scan("`@channel`"), Hits{});
  EXPECT_EQ(Scan("``@channel``"), Hits{});
  EXPECT_EQ(Scan("```\n@channel\n```"), Hits{});
  EXPECT_EQ(Scan("~~~\n@here\n~~~\nafter @all"), (Hits{"@all"}));
  EXPECT_EQ(Scan("    @channel"), Hits{});                    // indented code
  EXPECT_EQ(Scan("text\n    @channel"), (Hits{"@channel"}));  // no code inside a paragraph
  EXPECT_EQ(Scan("```\nnever closed @channel"), Hits{});
  EXPECT_EQ(Scan("`unclosed @channel"), (Hits{"@channel"}));
}

TEST(MentionScanner, ContainersAreScanned) {
  EXPECT_EQ(Scan("> quoted @channel"), (Hits{"@channel"}));
  EXPECT_EQ(Scan("- item @here"), (Hits{"@here"}));
  EXPECT_EQ(Scan("1. first\n2. @all"), (Hits{"@all"}));
  EXPECT_EQ(Scan("# heading @channel"), (Hits{"@channel"}));  // no headings in this parser
  EXPECT_EQ(Scan("> ```\n> @channel\n> ```"), Hits{});
}

TEST(MentionScanner, LinksAutolinksEmojiAndEscapes) {
  EXPECT_EQ(Scan("[@channel](http://example.com)"), (Hits{"@channel"}));  // link text is text
  EXPECT_EQ(Scan("see http://example.com/@channel"), Hits{});             // autolink
  EXPECT_EQ(Scan("see www.example.com/@channel"), Hits{});
  EXPECT_EQ(Scan(":smile:@channel"), (Hits{"@channel"}));
  EXPECT_EQ(Scan("\\@channel"), (Hits{"@channel"}));       // an escape does not protect
  EXPECT_EQ(Scan("&#64;channel"), Hits{});                 // a reference does not merge forward
  EXPECT_EQ(Scan("@channe&#108;"), (Hits{"@channel"}));    // ...but merges backward
  EXPECT_EQ(Scan("<b>@channel</b>"), (Hits{"@channel"}));  // no HTML in this parser
}

TEST(MentionScanner, HugeTextsAreNotScanned) {
  EXPECT_EQ(Scan(std::string(131073, 'a') + " @channel"), Hits{});
}

TEST(MentionFields, MessageAttachmentPretextTextAndFieldValues) {
  json props = {{"attachments",
                 {{{"pretext", "p"},
                   {"text", "t"},
                   {"title", "not scanned"},
                   {"fields", {{{"title", "T"}, {"value", "v"}}, {{"value", 5}}}}},
                  {{"text", 7}}}}};  // does not decode: skipped
  EXPECT_EQ(MentionFields("m", props), (std::vector<std::string>{"m", "p", "t", "v"}));
}

TEST(ChannelMentionPattern, MatchesTheServerRegex) {
  EXPECT_TRUE(HasChannelMentionPattern("hi @channel"));
  EXPECT_TRUE(HasChannelMentionPattern("`@ALL`"));  // not Markdown-aware
  EXPECT_FALSE(HasChannelMentionPattern("a@channel"));
  EXPECT_FALSE(HasChannelMentionPattern("@channels"));
}

class Mentions : public EmulatorTest {
 protected:
  std::vector<std::string> MentionsOf(const json& post, const std::string& token) {
    auto r = CreatePost(token, post);
    EXPECT_TRUE(r);
    if (!r || r->status != 201) return {"<" + (r ? std::to_string(r->status) : "no answer") + ">"};
    return emu_->GetPost(Body(r).value("id", ""))->notified_mentions;
  }
};

TEST_F(Mentions, MessageAndAttachmentsOfAStoredPost) {
  json attachment = {{"pretext", "@here"},
                     {"text", "ping @alice"},
                     {"title", "@all"},
                     {"fields", {{{"title", "f"}, {"value", "@channel"}}}}};
  EXPECT_EQ(MentionsOf({{"channel_id", alerts_},
                        {"message", "plain"},
                        {"props", {{"attachments", {attachment}}}}},
                       bot_token_),
            (Hits{"@here", "@alice", "@channel"}));
}

TEST_F(Mentions, NeutralisedTextDoesNotNotify) {
  EXPECT_EQ(MentionsOf({{"channel_id", alerts_},
                        {"message",
                         "@\xE2\x80\x8B"
                         "channel `@all` @\xE2\x80\x8B"
                         "alice"}},
                       bot_token_),
            Hits{});
}

TEST_F(Mentions, UsersOutsideTheChannelAndTheAuthorAreNotNotified) {
  std::string carol = emu_->AddUser("carol");
  emu_->AddTeamMember(team_, carol);
  EXPECT_EQ(
      MentionsOf({{"channel_id", alerts_}, {"message", "@carol @tocsin-bot @alice"}}, bot_token_),
      (Hits{"@alice"}));
}

TEST_F(Mentions, PostAllBotOutsideTheChannelCannotMentionTheChannel) {
  emu_->GrantSystemRole(bot_, "system_post_all");
  auto r = CreatePost(bot_token_, {{"channel_id", scans_}, {"message", "@channel @alice"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201);
  EXPECT_EQ(Body(r)["props"].value("mention_highlight_disabled", false), true);
  EXPECT_EQ(emu_->GetPost(Body(r).value("id", ""))->notified_mentions, (Hits{"@alice"}));
}

TEST_F(Mentions, PatchRecomputesMentions) {
  auto r = CreatePost(bot_token_, {{"channel_id", alerts_}, {"message", "quiet"}});
  std::string id = Body(r).value("id", "");
  ASSERT_EQ(Put("/api/v4/posts/" + id + "/patch", bot_token_, json{{"message", "now @all"}}.dump())
                ->status,
            200);
  EXPECT_EQ(emu_->GetPost(id)->notified_mentions, (Hits{"@all"}));
}

}  // namespace
}  // namespace mmemu::testing
