// A second opinion on "no post can mention": the emulator's model of the server's mention parser
// (tools/mm-emulator/mentions.hpp: Markdown-aware, Go's word rules), with every @word treated as
// a real user so a single one would count.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hostile_corpus.hpp"
#include "mentions.hpp"
#include "render/post.hpp"

namespace tocsin::render {
namespace {

using nlohmann::json;

std::vector<std::string> Hits(const json& post) {
  mmemu::MentionScanner scanner(
      [](const std::string& word) { return word.size() > 1 && word[0] == '@'; });
  const json props = post.contains("props") ? post["props"] : json::object();
  for (const auto& text : mmemu::MentionFields(post.value("message", ""), props)) {
    scanner.ScanMarkdown(text);
  }
  // Also the texts the server does not scan, in case a client or a later version does.
  for (const auto& a : props.value("attachments", json::array())) {
    for (const char* key : {"title", "fallback"}) {
      if (a.contains(key)) scanner.ScanMarkdown(a[key].get<std::string>());
    }
  }
  return scanner.hits();
}

TEST(MentionScanner, SeesMentionsInUnneutralizedText) {
  // The check can fail: raw hostile text does mention.
  const json raw = {{"message", "@channel and @alice"}, {"props", json::object()}};
  EXPECT_EQ(Hits(raw).size(), 2u);
}

TEST(MentionScanner, FindsNoMentionInAnyRenderedPostOfTheHostileCorpus) {
  for (const auto& s : testing::HostileCorpus()) {
    Context ctx;
    ctx.project = "acme-web";
    ctx.project_display = s;
    const json finding = {{"fingerprint", s}, {"title", s}, {"severity", "high"}, {"scanner", s},
                          {"rule_id", s}, {"location", {{"path", s}, {"component", s}}},
                          {"description", s}};
    const json created = {{"type", "vulnerability.new"}, {"project", "acme-web"},
                          {"finding", finding}};
    const json changed = {{"type", "vulnerability.status_changed"}, {"project", "acme-web"},
                          {"finding", finding}, {"from", "open"}, {"to", "resolved"},
                          {"actor", s}, {"comment", s}};
    const json scan = {{"type", "scan.completed"}, {"project", "acme-web"},
                       {"scan", {{"scanner", s}, {"branch", s}, {"status", "failed"},
                                 {"error", s}}}};
    std::vector<json> posts = {RenderEvent(created, ctx), RenderEvent(changed, ctx),
                               RenderEvent(scan, ctx), RenderFindingPatch(changed, ctx),
                               RenderTestMessage(ctx, s), Shrink(RenderEvent(created, ctx), 300)};
    const Digest d = RenderDigest({created, created}, ctx);
    posts.push_back(d.root);
    posts.insert(posts.end(), d.replies.begin(), d.replies.end());
    for (const auto& post : posts) {
      EXPECT_TRUE(Hits(post).empty()) << s << "\n" << post.dump();
      EXPECT_FALSE(mmemu::HasChannelMentionPattern(post.value("message", ""))) << s;
    }
  }
}

}  // namespace
}  // namespace tocsin::render
