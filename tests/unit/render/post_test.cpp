// The posts of SPEC §3: what each event looks like, links, limits, digests and shrinking.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "core/strings.hpp"
#include "hostile_corpus.hpp"
#include "markdown_check.hpp"
#include "render/post.hpp"

namespace tocsin::render {
namespace {

using nlohmann::json;

json Finding() {
  return json::parse(R"json({
    "fingerprint": "semgrep:sqli:src/db.js", "title": "SQL injection in query()",
    "severity": "critical", "status": "open", "scanner": "semgrep", "rule_id": "js.sqli",
    "cwe": "CWE-89", "cve": "CVE-2026-1234", "cvss": 9.8,
    "location": {"path": "src/db.js", "line": 42, "component": "pg@8.7.1"},
    "description": "User input reaches the query.", "link": "https://scanner.example.com/f/1"})json");
}

json NewEvent(json finding = Finding()) {
  return json{{"type", "vulnerability.new"}, {"project", "acme-web"}, {"finding", finding}};
}

Context Ctx(size_t max_runes = 16383) {
  Context ctx;
  ctx.project = "acme-web";
  ctx.max_runes = max_runes;
  return ctx;
}

const json& Attachment(const json& post) { return post["props"]["attachments"][0]; }

// The field named `title`, or null.
json FieldValue(const json& post, const std::string& title) {
  for (const auto& f : Attachment(post)["fields"]) {
    if (f["title"] == title) return f["value"];
  }
  return nullptr;
}

// Every invariant of a rendered post at once; returns the first problem or "".
std::string Problems(const json& post, size_t max_runes) {
  if (PostRunes(post) > max_runes) {
    return "PostRunes " + std::to_string(PostRunes(post)) + " > " + std::to_string(max_runes);
  }
  for (const auto& t : testing::MarkdownTexts(post)) {
    if (!testing::Mentions(t.text).empty()) return t.where + " mentions: " + t.text;
    if (!testing::ActiveSpecials(t.text).empty()) return t.where + " has Markdown: " + t.text;
    if (testing::HasForbiddenCharacters(t.text, t.multi_line)) return t.where + " has controls";
    if (!IsValidUtf8(t.text)) return t.where + " is not UTF-8";
  }
  for (const auto& f : testing::PlainTexts(post)) {
    if (!testing::Mentions(f).empty()) return "plain text mentions: " + f;
    if (testing::HasForbiddenCharacters(f, false)) return "plain text has controls";
  }
  return "";
}

// --- vulnerability.new -----------------------------------------------------------------------

TEST(NewFindingPost, MessageIsOneShortLine) {
  const json post = RenderEvent(NewEvent(), Ctx());
  EXPECT_EQ(post["message"], ":rotating_light: New **critical** vulnerability in acme-web");
}

TEST(NewFindingPost, UsesTheDisplayNameWhenThereIsOne) {
  Context ctx = Ctx();
  ctx.project_display = "ACME Web Shop";
  const json post = RenderEvent(NewEvent(), ctx);
  EXPECT_EQ(post["message"], ":rotating_light: New **critical** vulnerability in ACME Web Shop");
  EXPECT_EQ(FieldValue(post, "Project"), "ACME Web Shop");
}

TEST(NewFindingPost, IsOneAttachmentWithTheFindingsFields) {
  const json post = RenderEvent(NewEvent(), Ctx());
  ASSERT_EQ(post["props"]["attachments"].size(), 1u);
  const json& a = Attachment(post);
  EXPECT_EQ(a["color"], "#8B0000");
  EXPECT_EQ(a["title"], "SQL injection in query()");
  EXPECT_EQ(a["title_link"], "https://scanner.example.com/f/1");
  EXPECT_EQ(a["text"], "User input reaches the query.");
  EXPECT_EQ(a["footer"], "Tocsin");
  EXPECT_EQ(FieldValue(post, "Severity"), "Critical (CVSS 9.8)");
  EXPECT_EQ(FieldValue(post, "Project"), "acme-web");
  EXPECT_EQ(FieldValue(post, "Scanner"), "semgrep");
  EXPECT_EQ(FieldValue(post, "Status"), "open");
  EXPECT_EQ(FieldValue(post, "Rule / CWE / CVE"), "js.sqli \u00B7 CWE-89 \u00B7 CVE-2026-1234");
  EXPECT_EQ(FieldValue(post, "Location"), "src/db.js:42 \u00B7 pg@\u200B8.7.1");
  EXPECT_EQ(a["fallback"],
            "New critical vulnerability in acme-web: SQL injection in query() (src/db.js:42 "
            "\u00B7 pg@\u200B8.7.1)");
}

TEST(NewFindingPost, ShortFieldsAreShortAndLongOnesAreNot) {
  json finding = Finding();
  finding["location"]["path"] = std::string(80, 'p');
  const json post = RenderEvent(NewEvent(finding), Ctx());
  for (const auto& f : Attachment(post)["fields"]) {
    EXPECT_EQ(f["short"].get<bool>(), CountRunes(f["value"].get<std::string>()) <= 40)
        << f.dump();
  }
}

TEST(NewFindingPost, ColourFollowsSeverity) {
  for (const char* sev : {"critical", "high", "medium", "low", "info"}) {
    json finding = Finding();
    finding["severity"] = sev;
    const json post = RenderEvent(NewEvent(finding), Ctx());
    EXPECT_EQ(Attachment(post)["color"], SeverityColor(sev)) << sev;
    EXPECT_NE(post["message"].get<std::string>().find(std::string("**") + sev + "**"),
              std::string::npos);
  }
}

TEST(NewFindingPost, OptionalFieldsAreLeftOutWhenAbsent) {
  const json post = RenderEvent(
      NewEvent({{"fingerprint", "f"}, {"title", "T"}, {"severity", "low"}}), Ctx());
  std::set<std::string> titles;
  for (const auto& f : Attachment(post)["fields"]) titles.insert(f["title"].get<std::string>());
  EXPECT_EQ(titles, (std::set<std::string>{"Severity", "Project", "Status"}));
  EXPECT_FALSE(Attachment(post).contains("text"));
  EXPECT_FALSE(Attachment(post).contains("title_link"));
  EXPECT_EQ(FieldValue(post, "Status"), "open");
}

TEST(NewFindingPost, LinksToTocsinWhenTheFindingHasNoUsableLink) {
  Context ctx = Ctx();
  ctx.public_url = "https://tocsin.example.com/";
  for (const char* link : {"", "javascript:alert(1)", "ftp://x/y", "https://x/a b"}) {
    json finding = Finding();
    finding["link"] = link;
    finding["fingerprint"] = "a b/c?d&e#f";
    const json post = RenderEvent(NewEvent(finding), ctx);
    EXPECT_EQ(Attachment(post)["title_link"],
              "https://tocsin.example.com/projects/acme-web/findings?fingerprint="
              "a%20b%2Fc%3Fd%26e%23f")
        << link;
  }
}

TEST(NewFindingPost, LinkedTitleIsPlainTextAndUnlinkedTitleIsEscapedMarkdown) {
  // Clients show a linked title as the link's raw text and an unlinked one as Markdown.
  json finding = Finding();
  finding["title"] = "Use of eval() in @alice's [helper]";
  EXPECT_EQ(Attachment(RenderEvent(NewEvent(finding), Ctx()))["title"],
            "Use of eval() in @\u200Balice's [helper]");
  finding.erase("link");
  EXPECT_EQ(Attachment(RenderEvent(NewEvent(finding), Ctx()))["title"],
            "Use of eval\\(\\) in @\u200Balice's \\[helper\\]");
}

TEST(NewFindingPost, HasNoTitleLinkWithoutEither) {
  json finding = Finding();
  finding.erase("link");
  EXPECT_FALSE(Attachment(RenderEvent(NewEvent(finding), Ctx())).contains("title_link"));
}

TEST(NewFindingPost, UntitledFindingFallsBackToItsFingerprint) {
  const json post =
      RenderEvent(NewEvent({{"fingerprint", "fp:@here"}, {"severity", "high"}}), Ctx());
  EXPECT_EQ(Attachment(post)["title"], "fp:@\u200Bhere");
}

TEST(NewFindingPost, WrongTypesInTheStoredEventRenderAsAbsentWithoutThrowing) {
  const json odd = json::parse(R"json({"type": "vulnerability.new", "project": 5, "finding": {
      "fingerprint": 1, "title": ["x"], "severity": 3, "cvss": "high", "location": "here",
      "description": {"a": 1}, "link": 7, "scanner": null}})json");
  json post;
  ASSERT_NO_THROW(post = RenderEvent(odd, Ctx()));
  EXPECT_EQ(Problems(post, 16383), "");
  for (const json& garbage : {json(), json::array(), json("text"), json::object()}) {
    ASSERT_NO_THROW(post = RenderEvent(garbage, Ctx()));
    EXPECT_EQ(Problems(post, 16383), "");
  }
}

// --- vulnerability.status_changed ------------------------------------------------------------

json StatusEvent() {
  return json{{"type", "vulnerability.status_changed"},
              {"project", "acme-web"},
              {"finding", Finding()},
              {"from", "open"},
              {"to", "resolved"},
              {"transition", "resolved"},
              {"actor", "alice"},
              {"comment", "fixed in #912"}};
}

TEST(StatusChangePost, SaysFromToTransitionActorAndComment) {
  const json post = RenderEvent(StatusEvent(), Ctx());
  EXPECT_EQ(post["message"], "Status: open \u2192 resolved (resolved) by alice: fixed in \\#912");
  EXPECT_EQ(Attachment(post)["title"], "SQL injection in query()");
  EXPECT_EQ(Attachment(post)["color"], "good");
}

TEST(StatusChangePost, LeavesOutWhatItDoesNotKnow) {
  json event = StatusEvent();
  event.erase("actor");
  event.erase("comment");
  event.erase("from");
  event.erase("transition");
  EXPECT_EQ(RenderEvent(event, Ctx())["message"], "Status: resolved (resolved)");
}

TEST(StatusChangePost, DerivesTheTransitionAndReadsTheApiStatusMember) {
  json event = StatusEvent();
  event.erase("to");
  event.erase("transition");
  event["from"] = "resolved";
  event["status"] = "open";
  event.erase("comment");
  EXPECT_EQ(RenderEvent(event, Ctx())["message"], "Status: resolved \u2192 open (reopened) by alice");
}

TEST(FindingPatch, IsTheOriginalPostShowingTheCurrentStatus) {
  const json original = RenderEvent(NewEvent(), Ctx());
  const json patch = RenderFindingPatch(StatusEvent(), Ctx());
  EXPECT_EQ(patch["message"], original["message"].get<std::string>() + "\nNow: resolved (by alice)");
  EXPECT_EQ(FieldValue(patch, "Status"), "resolved");
  json a = Attachment(patch), b = Attachment(original);
  a.erase("fields");
  b.erase("fields");
  EXPECT_EQ(a, b);
}

// --- scan.completed --------------------------------------------------------------------------

json ScanEvent(const std::string& status = "succeeded") {
  return json{{"type", "scan.completed"},
              {"project", "acme-web"},
              {"scan",
               {{"scanner", "semgrep"},
                {"branch", "main"},
                {"status", status},
                {"started_at", "2026-12-04T10:00:00.000Z"},
                {"finished_at", "2026-12-04T10:00:42.000Z"},
                {"link", "https://ci.example.com/7"},
                {"counts", {{"critical", 1}, {"high", 4}, {"medium", 0}, {"low", 2}, {"info", 0}}},
                {"new", 3},
                {"resolved", 1},
                {"reopened", 2},
                {"baseline", false}}}};
}

TEST(ScanPost, SummarisesTheScan) {
  const json post = RenderEvent(ScanEvent(), Ctx());
  EXPECT_EQ(post["message"], ":white_check_mark: **semgrep** scan of acme-web (main) succeeded");
  const json& a = Attachment(post);
  EXPECT_EQ(a["color"], "good");
  EXPECT_EQ(a["title_link"], "https://ci.example.com/7");
  EXPECT_EQ(FieldValue(post, "Duration"), "42s");
  EXPECT_EQ(FieldValue(post, "Critical"), "1");
  EXPECT_EQ(FieldValue(post, "High"), "4");
  EXPECT_EQ(FieldValue(post, "Low"), "2");
  EXPECT_EQ(FieldValue(post, "New"), "3");
  EXPECT_EQ(FieldValue(post, "Resolved"), "1");
  EXPECT_EQ(FieldValue(post, "Reopened"), "2");
  EXPECT_FALSE(a.contains("text"));
}

TEST(ScanPost, FailedScanIsDangerAndCarriesTheError) {
  json event = ScanEvent("failed");
  event["scan"]["error"] = "exit code 2";
  const json post = RenderEvent(event, Ctx());
  EXPECT_EQ(post["message"], ":x: **semgrep** scan of acme-web (main) failed");
  EXPECT_EQ(Attachment(post)["color"], "danger");
  EXPECT_EQ(Attachment(post)["text"], "Error: exit code 2");
}

TEST(ScanPost, BaselineSaysSo) {
  json event = ScanEvent();
  event["scan"]["baseline"] = true;
  const json post = RenderEvent(event, Ctx());
  EXPECT_NE(post["message"].get<std::string>().find("baseline"), std::string::npos);
  EXPECT_NE(Attachment(post)["text"].get<std::string>().find("Its 7 findings are recorded"),
            std::string::npos);
}

TEST(ScanPost, DurationReadsNaturally) {
  json event = ScanEvent();
  event["scan"]["finished_at"] = "2026-12-04T10:05:07.000Z";
  EXPECT_EQ(FieldValue(RenderEvent(event, Ctx()), "Duration"), "5m 07s");
  event["scan"]["finished_at"] = "2026-12-04T13:04:59.000Z";
  EXPECT_EQ(FieldValue(RenderEvent(event, Ctx()), "Duration"), "3h 04m");
  event["scan"].erase("started_at");
  EXPECT_TRUE(FieldValue(RenderEvent(event, Ctx()), "Duration").is_null());
}

// --- threshold, test message -----------------------------------------------------------------

TEST(ThresholdPost, SaysWhichWayItWasCrossed) {
  json event = {{"type", "vulnerability.threshold_crossed"}, {"project", "acme-web"},
                {"severity", "high"}, {"threshold", 3}, {"count", 5}, {"direction", "above"}};
  EXPECT_EQ(RenderEvent(event, Ctx())["message"],
            ":chart_with_upwards_trend: Open high-or-above findings in acme-web: 5 (threshold 3) "
            "\u2014 crossed above");
  event["count"] = 2;
  event["direction"] = "below";
  event["severity"] = "critical";
  EXPECT_EQ(RenderEvent(event, Ctx())["message"],
            ":chart_with_downwards_trend: Open critical findings in acme-web: 2 (threshold 3) "
            "\u2014 crossed below");
}

TEST(TestMessage, NamesProjectAndChannel) {
  const std::string message = RenderTestMessage(Ctx(), "security/alerts")["message"];
  EXPECT_NE(message.find("Tocsin test message for project **acme-web** to channel security/alerts"),
            std::string::npos);
}

// --- untrusted text everywhere ---------------------------------------------------------------

// Puts `s` into every untrusted string of every kind of event.
std::vector<json> EventsCarrying(const std::string& s) {
  json finding = {{"fingerprint", s}, {"title", s},   {"severity", "high"},
                  {"scanner", s},     {"rule_id", s}, {"cwe", s},
                  {"cve", s},         {"location", {{"path", s}, {"line", 3}, {"component", s}}},
                  {"description", s}, {"link", s}};
  json status = StatusEvent();
  status["finding"] = finding;
  status["actor"] = s;
  status["comment"] = s;
  status["from"] = s;
  json scan = ScanEvent("failed");
  scan["scan"]["scanner"] = s;
  scan["scan"]["branch"] = s;
  scan["scan"]["error"] = s;
  scan["scan"]["link"] = s;
  return {NewEvent(finding), status, scan,
          json{{"type", "vulnerability.threshold_crossed"}, {"project", s}, {"severity", s}}};
}

TEST(UntrustedText, NeverMentionsLinksOrBreaksLayoutInAnyPost) {
  for (size_t max_runes : {size_t{16383}, size_t{4000}, size_t{500}}) {
    Context ctx = Ctx(max_runes);
    for (const auto& s : testing::HostileCorpus()) {
      ctx.project_display = s;
      for (const auto& event : EventsCarrying(s)) {
        EXPECT_EQ(Problems(RenderEvent(event, ctx), max_runes), "") << s;
      }
      EXPECT_EQ(Problems(RenderFindingPatch(EventsCarrying(s)[1], ctx), max_runes), "") << s;
      EXPECT_EQ(Problems(RenderTestMessage(ctx, s), max_runes), "") << s;
      const Digest d = RenderDigest(EventsCarrying(s), ctx);
      EXPECT_EQ(Problems(d.root, max_runes), "") << s;
      for (const auto& r : d.replies) EXPECT_EQ(Problems(r, max_runes), "") << s;
    }
  }
}

// --- limits ----------------------------------------------------------------------------------

TEST(Limits, LongDescriptionIsCutWithAMarkerAndThePostFits) {
  for (size_t max_runes : {size_t{16383}, size_t{4000}}) {
    json finding = Finding();
    finding["description"] = std::string(100000, 'd');
    const json post = RenderEvent(NewEvent(finding), Ctx(max_runes));
    EXPECT_LE(PostRunes(post), max_runes);
    EXPECT_GT(PostRunes(post), max_runes - 20) << "the description should use the room it has";
    EXPECT_TRUE(EndsWith(Attachment(post)["text"].get<std::string>(), "\u2026 (truncated)"));
    EXPECT_EQ(FieldValue(post, "Severity"), "Critical (CVSS 9.8)") << "fields survive";
  }
}

TEST(Limits, LongTitleAndFieldsAreCappedSoTheDescriptionKeepsRoom) {
  json finding = Finding();
  finding["title"] = std::string(1000, 't');
  finding["location"]["path"] = std::string(4000, 'p');
  const json post = RenderEvent(NewEvent(finding), Ctx(4000));
  EXPECT_LE(CountRunes(Attachment(post)["title"].get<std::string>()), 300u);
  EXPECT_LE(CountRunes(FieldValue(post, "Location").get<std::string>()), 300u);
  EXPECT_EQ(Attachment(post)["text"], "User input reaches the query.");
}

TEST(Limits, LongCommentKeepsTheMessageWithinTheLimit) {
  json event = StatusEvent();
  event["comment"] = std::string(4000, 'c');
  for (size_t max_runes : {size_t{16383}, size_t{4000}, size_t{1000}}) {
    const json post = RenderEvent(event, Ctx(max_runes));
    EXPECT_LE(PostRunes(post), max_runes);
    EXPECT_TRUE(EndsWith(post["message"].get<std::string>(), "\u2026 (truncated)"));
  }
}

// --- Shrink ----------------------------------------------------------------------------------

TEST(Shrink, DropsTheDescriptionBeforeAnythingElse) {
  json finding = Finding();
  finding["description"] = std::string(10000, 'd');
  const json post = RenderEvent(NewEvent(finding), Ctx());
  const json small = Shrink(post, 4000);
  EXPECT_LE(PostRunes(small), 4000u);
  EXPECT_EQ(small["message"], post["message"]);
  EXPECT_EQ(Attachment(small)["fields"], Attachment(post)["fields"]);
  EXPECT_EQ(Attachment(small)["title"], Attachment(post)["title"]);
  EXPECT_LT(CountRunes(Attachment(small)["text"].get<std::string>()), 4000u);

  // At 400 only a snippet of the description is left; everything else is still whole.
  const json tiny = Shrink(post, 400);
  EXPECT_LE(PostRunes(tiny), 400u);
  EXPECT_LT(CountRunes(Attachment(tiny).value("text", "")), 100u);
  EXPECT_EQ(Attachment(tiny)["fields"], Attachment(post)["fields"]);
  EXPECT_EQ(tiny["message"], post["message"]);

  // At 250 the description is gone and the rest is cut.
  const json tinier = Shrink(post, 250);
  EXPECT_LE(PostRunes(tinier), 250u);
  EXPECT_FALSE(Attachment(tinier).contains("text"));
}

TEST(Shrink, HoldsAnyLimitAndKeepsTextInert) {
  for (const auto& s : testing::HostileCorpus()) {
    const json post = RenderEvent(EventsCarrying(s)[0], Ctx());
    for (size_t limit : {size_t{4000}, size_t{1000}, size_t{200}, size_t{50}, size_t{10}}) {
      EXPECT_EQ(Problems(Shrink(post, limit), limit), "") << s << " at " << limit;
    }
  }
}

TEST(Shrink, LeavesAPostThatFitsUnchanged) {
  const json post = RenderEvent(NewEvent(), Ctx());
  EXPECT_EQ(Shrink(post, 16383), post);
}

TEST(Shrink, CutsALongMessage) {
  const json post = json{{"message", std::string(10000, 'm')}, {"props", json::object()}};
  const json small = Shrink(post, 4000);
  EXPECT_EQ(CountRunes(small["message"].get<std::string>()), 4000u);
}

// --- digest ----------------------------------------------------------------------------------

std::vector<json> ManyFindings(size_t n, size_t title_words = 3) {
  const char* severities[] = {"low", "critical", "medium", "high", "info"};
  std::vector<json> events;
  for (size_t i = 0; i < n; ++i) {
    std::string title = "Finding " + std::to_string(i);
    for (size_t w = 0; w < title_words; ++w) title += " word";
    events.push_back(NewEvent({{"fingerprint", "fp-" + std::to_string(i)},
                               {"title", title},
                               {"severity", severities[i % 5]},
                               {"location", {{"path", "src/f" + std::to_string(i) + ".js"}}}}));
  }
  return events;
}

TEST(Digest, RootCountsBySeverityAndListsTheTopTen) {
  const Digest d = RenderDigest(ManyFindings(23), Ctx());
  EXPECT_EQ(d.root["message"],
            ":rotating_light: **23 new vulnerabilities** in acme-web: 5 critical, 4 high, "
            "5 medium, 5 low, 4 info");
  EXPECT_EQ(FieldValue(d.root, "Critical"), "5");
  EXPECT_EQ(FieldValue(d.root, "Info"), "4");
  const std::string text = Attachment(d.root)["text"];
  const auto lines = Split(text, '\n');
  ASSERT_GE(lines.size(), 12u);
  // The five criticals in the order they came, then the highs.
  EXPECT_EQ(lines[0], "- **critical** Finding 1 word word word \u2014 src/f1.js");
  EXPECT_EQ(lines[4], "- **critical** Finding 21 word word word \u2014 src/f21.js");
  EXPECT_EQ(lines[5], "- **high** Finding 3 word word word \u2014 src/f3.js");
  EXPECT_EQ(lines[8], "- **high** Finding 18 word word word \u2014 src/f18.js");
  EXPECT_EQ(lines[9], "- **medium** Finding 2 word word word \u2014 src/f2.js");
  EXPECT_EQ(lines[10], "");
  EXPECT_EQ(lines[11], "Full list in the thread.");
  EXPECT_EQ(Attachment(d.root)["title"], "Top 10 of 23 by severity");
  EXPECT_EQ(Attachment(d.root)["color"], "#8B0000");
}

TEST(Digest, RepliesListEveryFindingOnceInSeverityOrder) {
  const auto events = ManyFindings(500, 12);
  for (size_t max_runes : {size_t{16383}, size_t{4000}, size_t{1000}}) {
    const Digest d = RenderDigest(events, Ctx(max_runes));
    EXPECT_LE(PostRunes(d.root), max_runes);
    std::vector<std::string> seen;
    for (const auto& r : d.replies) {
      EXPECT_LE(CountRunes(r["message"].get<std::string>()), max_runes);
      const auto lines = Split(r["message"].get<std::string>(), '\n');
      EXPECT_TRUE(StartsWith(lines[0], "New vulnerabilities in acme-web (")) << lines[0];
      for (size_t k = 1; k < lines.size(); ++k) seen.push_back(lines[k]);
    }
    ASSERT_EQ(seen.size(), events.size()) << max_runes;
    std::set<std::string> unique(seen.begin(), seen.end());
    EXPECT_EQ(unique.size(), events.size());
    EXPECT_TRUE(StartsWith(seen.front(), "- **critical**"));
    EXPECT_TRUE(StartsWith(seen.back(), "- **info**"));
    // Replies are packed: more than one per reply for these short lines, and few replies.
    EXPECT_LT(d.replies.size(), events.size() / 5);
    if (max_runes == 4000) {
      EXPECT_GT(d.replies.size(), 1u);
      EXPECT_EQ(Split(d.replies[0]["message"].get<std::string>(), '\n')[0],
                "New vulnerabilities in acme-web (1\u2013" +
                    std::to_string(Split(d.replies[0]["message"].get<std::string>(), '\n').size() -
                                   1) +
                    " of 500):");
    }
  }
}

TEST(Digest, SmallDigestHasOneReplyAndNoTopOfTitle) {
  const Digest d = RenderDigest(ManyFindings(3), Ctx());
  ASSERT_EQ(d.replies.size(), 1u);
  EXPECT_EQ(Attachment(d.root)["title"], "By severity");
  EXPECT_EQ(d.root["message"],
            ":rotating_light: **3 new vulnerabilities** in acme-web: 1 critical, 1 medium, 1 low");
}

TEST(Digest, OneFindingIsSingular) {
  const Digest d = RenderDigest(ManyFindings(1), Ctx());
  EXPECT_EQ(d.root["message"],
            ":information_source: **1 new vulnerability** in acme-web: 1 low");
}

TEST(Digest, EmptyDigestIsARootWithoutReplies) {
  const Digest d = RenderDigest({}, Ctx());
  EXPECT_TRUE(d.replies.empty());
  EXPECT_EQ(Problems(d.root, 16383), "");
}

}  // namespace
}  // namespace tocsin::render
