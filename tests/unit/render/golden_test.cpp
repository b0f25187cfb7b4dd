// Golden posts: tests/data/render/<case>.event.json → <case>.post.json.
//
// Each input names what to render:
//   {"render": "event" | "patch" | "digest" | "test_message" | "shrink",
//    "context": {"project", "project_display", "public_url", "max_runes"},   (all optional)
//    "event": {...}            for event, patch and shrink
//    "events": [...]           for digest
//    "channel": "team/chan"    for test_message
//    "shrink_to": 4000}        for shrink: render at context.max_runes, then Shrink to this
// A string may be written {"$repeat": "text", "times": N} to keep long inputs short on disk.
// The output of a digest is {"root": post, "replies": [posts]}.
//
// TOCSIN_UPDATE_GOLDEN=1 rewrites the .post.json files instead of comparing; review the diff.
// Besides the comparison every golden is checked for the invariants: within max_runes, no
// mention, no active Markdown, no control characters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/strings.hpp"
#include "markdown_check.hpp"
#include "render/post.hpp"

namespace tocsin::render {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const fs::path kDir = fs::path(TOCSIN_TEST_DATA_DIR) / "render";

std::vector<std::string> Cases() {
  std::vector<std::string> out;
  if (!fs::is_directory(kDir)) return out;
  for (const auto& e : fs::directory_iterator(kDir)) {
    const std::string name = e.path().filename().string();
    if (EndsWith(name, ".event.json")) out.push_back(name.substr(0, name.size() - 11));
  }
  std::sort(out.begin(), out.end());
  return out;
}

json Expand(const json& j) {
  if (j.is_object() && j.contains("$repeat")) {
    std::string out;
    const std::string unit = j["$repeat"].get<std::string>();
    for (int i = 0; i < j["times"].get<int>(); ++i) out += unit;
    return out;
  }
  if (j.is_object()) {
    json out = json::object();
    for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = Expand(it.value());
    return out;
  }
  if (j.is_array()) {
    json out = json::array();
    for (const auto& v : j) out.push_back(Expand(v));
    return out;
  }
  return j;
}

Context ReadContext(const json& j) {
  Context ctx;
  ctx.project = j.value("project", "acme-web");
  ctx.project_display = j.value("project_display", "");
  ctx.public_url = j.value("public_url", "");
  ctx.max_runes = j.value("max_runes", size_t{16383});
  return ctx;
}

// The posts a rendering produced, for the invariant checks.
std::vector<json> Posts(const json& output, const std::string& kind) {
  if (kind != "digest") return {output};
  std::vector<json> out = {output["root"]};
  for (const auto& r : output["replies"]) out.push_back(r);
  return out;
}

json Render(const json& input, size_t* limit) {
  const std::string kind = input.at("render").get<std::string>();
  const Context ctx = ReadContext(input.value("context", json::object()));
  *limit = ctx.max_runes;
  if (kind == "event") return RenderEvent(input.at("event"), ctx);
  if (kind == "patch") return RenderFindingPatch(input.at("event"), ctx);
  if (kind == "test_message") return RenderTestMessage(ctx, input.at("channel").get<std::string>());
  if (kind == "shrink") {
    *limit = input.at("shrink_to").get<size_t>();
    return Shrink(RenderEvent(input.at("event"), ctx), *limit);
  }
  if (kind == "digest") {
    std::vector<json> events;
    for (const auto& e : input.at("events")) events.push_back(e);
    const Digest d = RenderDigest(events, ctx);
    json replies = json::array();
    for (const auto& r : d.replies) replies.push_back(r);
    return json{{"root", d.root}, {"replies", replies}};
  }
  ADD_FAILURE() << "unknown render kind " << kind;
  return json();
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, MatchesAndHoldsTheInvariants) {
  const fs::path input_path = kDir / (GetParam() + ".event.json");
  const fs::path golden_path = kDir / (GetParam() + ".post.json");
  const json input = Expand(json::parse(ReadFile(input_path)));
  size_t limit = 0;
  const json output = Render(input, &limit);
  const std::string kind = input.at("render").get<std::string>();

  // ASCII-escaped so the zero-width spaces and other invisibles show in review.
  const std::string text = output.dump(2, ' ', true) + "\n";
  const char* update = std::getenv("TOCSIN_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::ofstream(golden_path, std::ios::binary) << text;
  } else {
    ASSERT_TRUE(fs::exists(golden_path))
        << golden_path << " is missing; run with TOCSIN_UPDATE_GOLDEN=1 and review it";
    EXPECT_EQ(json::parse(ReadFile(golden_path)), output)
        << "rendering of " << GetParam() << " changed; now:\n" << text;
  }

  for (const json& post : Posts(output, kind)) {
    EXPECT_LE(PostRunes(post), limit) << GetParam();
    EXPECT_LE(CountRunes(post["message"].get<std::string>()), limit);
    for (const auto& t : testing::MarkdownTexts(post)) {
      EXPECT_TRUE(testing::Mentions(t.text).empty()) << GetParam() << " " << t.where << ": " << t.text;
      EXPECT_EQ(testing::ActiveSpecials(t.text), "") << GetParam() << " " << t.where << ": " << t.text;
      EXPECT_FALSE(testing::HasForbiddenCharacters(t.text, t.multi_line)) << GetParam() << " " << t.where;
    }
    for (const auto& f : testing::PlainTexts(post)) {
      EXPECT_TRUE(testing::Mentions(f).empty()) << GetParam() << " plain text: " << f;
      EXPECT_FALSE(testing::HasForbiddenCharacters(f, false)) << GetParam() << " plain text";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Render, Golden, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (auto& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

TEST(GoldenFiles, ArePresentForEveryKindOfPost) {
  const auto cases = Cases();
  EXPECT_GE(cases.size(), 20u);
  for (const char* kind : {"event", "patch", "digest", "test_message", "shrink"}) {
    bool found = false;
    for (const auto& c : cases) {
      const json input = json::parse(ReadFile(kDir / (c + ".event.json")));
      found = found || input.value("render", "") == kind;
    }
    EXPECT_TRUE(found) << "no golden case renders " << kind;
  }
}

}  // namespace
}  // namespace tocsin::render
