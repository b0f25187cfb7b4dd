// Neutralize / NeutralizePlain / Truncate: untrusted text made inert (SPEC §3, API-FACTS §5.1).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/strings.hpp"
#include "hostile_corpus.hpp"
#include "markdown_check.hpp"
#include "render/post.hpp"

namespace tocsin::render {
namespace {

using testing::ActiveSpecials;
using testing::HostileCorpus;
using testing::HasForbiddenCharacters;
using testing::Mentions;

TEST(Neutralize, NothingInTheHostileCorpusCanMention) {
  for (const auto& s : HostileCorpus()) {
    for (bool single : {true, false}) {
      const std::string out = Neutralize(s, single);
      EXPECT_TRUE(Mentions(out).empty()) << "input: " << s << "\noutput: " << out;
      EXPECT_TRUE(IsValidUtf8(out)) << s;
    }
    const std::string plain = NeutralizePlain(s);
    EXPECT_TRUE(Mentions(plain).empty()) << "plain of: " << s;
  }
}

TEST(Neutralize, LeavesNoActiveMarkdownInTheHostileCorpus) {
  for (const auto& s : HostileCorpus()) {
    for (bool single : {true, false}) {
      const std::string out = Neutralize(s, single);
      EXPECT_EQ(ActiveSpecials(out, "[]()<>`|#!~&$*_\\"), "") << "input: " << s << "\n" << out;
    }
  }
}

TEST(Neutralize, RemovesControlAndInvisibleCharacters) {
  for (const auto& s : HostileCorpus()) {
    EXPECT_FALSE(HasForbiddenCharacters(Neutralize(s, true), false)) << s;
    EXPECT_FALSE(HasForbiddenCharacters(Neutralize(s, false), true)) << s;
    EXPECT_FALSE(HasForbiddenCharacters(NeutralizePlain(s), false)) << s;
  }
}

TEST(Neutralize, NoLineCanStartABlock) {
  // Headings, quotes, lists, setext underlines, fences, tables, indented code: every line of a
  // multi-line result starts with a character that begins nothing but a paragraph.
  for (const auto& s : HostileCorpus()) {
    const std::string out = Neutralize(s, false);
    for (const auto& line : Split(out, '\n')) {
      if (line.empty()) continue;
      EXPECT_NE(line[0], ' ') << line;
      EXPECT_EQ(std::string("#>-+=*`~|").find(line[0]), std::string::npos) << line;
      size_t d = 0;
      while (d < line.size() && line[d] >= '0' && line[d] <= '9') ++d;
      if (d > 0 && d < line.size()) {
        EXPECT_NE(line[d], '.') << line;
        EXPECT_NE(line[d], ')') << line;
      }
    }
  }
}

TEST(Neutralize, MentionsGetAZeroWidthSpaceAfterTheAt) {
  EXPECT_EQ(Neutralize("@channel"), "@\u200Bchannel");
  EXPECT_EQ(Neutralize("ping @alice."), "ping @\u200Balice.");
  EXPECT_EQ(Neutralize("\xEF\xBC\xA0here"), "\xEF\xBC\xA0\u200Bhere");
  // The attacker's own zero-width characters are dropped first, then ours goes in.
  EXPECT_EQ(Neutralize("@\u200D\u200Ball"), "@\u200Ball");
}

TEST(Neutralize, EscapesMarkdownWithBackslashes) {
  EXPECT_EQ(Neutralize("[x](https://evil)"), "\\[x\\]\\(https://evil\\)");
  EXPECT_EQ(Neutralize("![img](http://x/y.png)"), "\\!\\[img\\]\\(http://x/y.png\\)");
  EXPECT_EQ(Neutralize("<https://evil|click>"), "\\<https://evil\\|click\\>");
  EXPECT_EQ(Neutralize("a_b*c~d`e#f&g$h\\i"), "a\\_b\\*c\\~d\\`e\\#f\\&g\\$h\\\\i");
}

TEST(Neutralize, KeepsOrdinaryTextReadable) {
  EXPECT_EQ(Neutralize("SQL injection in src/db.js:42 - pg 8.7.1, \"quoted\"; 100%"),
            "SQL injection in src/db.js:42 - pg 8.7.1, \"quoted\"; 100%");
  EXPECT_EQ(Neutralize("Gr\xC3\xBC\xC3\x9F" "e \xF0\x9F\x94\x94"), "Gr\xC3\xBC\xC3\x9F" "e \xF0\x9F\x94\x94");
}

TEST(Neutralize, SingleLineFoldsEveryKindOfLineBreakIntoOneSpace) {
  EXPECT_EQ(Neutralize("a\r\nb\rc\nd\u2028e\u2029f\x0Bg\x0Ch\xC2\x85i", true), "a b c d e f g h i");
  EXPECT_EQ(Neutralize("  a \n\n\n  b  ", true), "a b");
  EXPECT_EQ(Neutralize("tab\tsep", true), "tab sep");
}

TEST(Neutralize, MultiLineKeepsParagraphsButNoMoreThanOneBlankLine) {
  EXPECT_EQ(Neutralize("\n\nfirst\n  second\n\n\n\n\nthird\n\n", false),
            "first\nsecond\n\nthird");
}

TEST(Neutralize, LineStartMarkersAreEscaped) {
  EXPECT_EQ(Neutralize("- a\n+ b\n= c\n12. d\n3) e\n# f\n> g", false),
            "\\- a\n\\+ b\n\\= c\n12\\. d\n3\\) e\n\\# f\n\\> g");
  EXPECT_EQ(Neutralize("1. first", true), "1\\. first");
  // Not at a line start, they are left alone.
  EXPECT_EQ(Neutralize("a - b + c = 1. d", true), "a - b + c = 1. d");
}

TEST(Neutralize, InvalidUtf8BecomesReplacementCharacters) {
  const std::string out = Neutralize("bad \xFF\xC3 end");
  EXPECT_TRUE(IsValidUtf8(out));
  EXPECT_EQ(out, "bad \xEF\xBF\xBD\xEF\xBF\xBD end");
}

TEST(Neutralize, AppliedTwiceOnlyAddsEscapes) {
  for (const auto& s : HostileCorpus()) {
    const std::string twice = Neutralize(Neutralize(s));
    EXPECT_TRUE(Mentions(twice).empty()) << s;
  }
}

TEST(NeutralizePlain, BreaksMentionsWithoutBackslashes) {
  EXPECT_EQ(NeutralizePlain("[x](y) @here\n# z"), "[x](y) @\u200Bhere # z");
}

TEST(Truncate, LeavesShortTextAlone) {
  EXPECT_EQ(Truncate("short", 5), "short");
  EXPECT_EQ(Truncate("", 0), "");
}

TEST(Truncate, CutsToTheLimitWithAMarker) {
  const std::string out = Truncate(std::string(100, 'a'), 20);
  EXPECT_EQ(CountRunes(out), 20u);
  EXPECT_EQ(out, std::string(7, 'a') + "\u2026 (truncated)");
}

TEST(Truncate, CountsCodePointsAndNeverSplitsOne) {
  std::string s;
  for (int i = 0; i < 50; ++i) s += "\xF0\x9F\x94\x94";  // U+1F514, 4 bytes
  const std::string out = Truncate(s, 20);
  EXPECT_TRUE(IsValidUtf8(out));
  EXPECT_EQ(CountRunes(out), 20u);
}

TEST(Truncate, DoesNotLeaveADanglingEscape) {
  const std::string escaped = Neutralize(std::string(30, '['));  // "\[\[\[..."
  for (size_t n = 14; n < 40; ++n) {
    const std::string out = Truncate(escaped, n);
    EXPECT_LE(CountRunes(out), n);
    EXPECT_EQ(ActiveSpecials(out), "") << out;
  }
}

TEST(Truncate, TinyLimitsStillHoldTheLimit) {
  for (size_t n = 0; n <= 14; ++n) EXPECT_LE(CountRunes(Truncate(std::string(50, 'x'), n)), n);
}

TEST(Truncate, CuttingAMentionNeverRejoinsIt) {
  const std::string s = Neutralize("xxxxxxxx @channel @channel @channel");
  for (size_t n = 14; n < 40; ++n) EXPECT_TRUE(Mentions(Truncate(s, n)).empty()) << n;
}

// The fast path (text that needs no change is returned as it is) must give exactly what the
// general path gives, for any text: generated strings over an alphabet of everything the rules
// look at (specials, spaces, tabs, line breaks, '@', '&', digits and '.', block markers, non-ASCII,
// invisible characters), deterministic.
TEST(Neutralize, TheFastPathAgreesWithTheGeneralPathEverywhere) {
  const std::vector<std::string> alphabet = {
      "a", "Z", "0", "7", ".", " ", "\t", "\n", "\r\n", "@", "&", "-", "+", "=", "*", "_", "#",
      "[", "]", "(", ")", "!", "<", ">", "`", "~", "|", "$", "\\", "/", ":", "\x01", "\x7f",
      "\xc3\xa9", "\xe2\x80\x8b", "\xef\xbc\xa0", "\xe2\x80\xae"};
  uint64_t state = 0x9E3779B97F4A7C15ull;
  const auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  size_t unchanged = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    const size_t len = next() % 12;
    // Half the strings from the plain letters only, so the fast path is taken often.
    const size_t span = (i % 2 == 0) ? 4 : alphabet.size();
    for (size_t k = 0; k < len; ++k) text += alphabet[next() % span];
    for (const bool single : {true, false}) {
      ASSERT_EQ(Neutralize(text, single), internal::NeutralizeGeneral(text, single, true))
          << "[" << text << "] single=" << single;
    }
    ASSERT_EQ(NeutralizePlain(text), internal::NeutralizeGeneral(text, true, false))
        << "[" << text << "]";
    if (Neutralize(text) == text) ++unchanged;
  }
  EXPECT_GT(unchanged, 5000u) << "the fast path's case is common in the sample";
}

TEST(SeverityColor, IsFixedPerSeverity) {
  EXPECT_EQ(SeverityColor("critical"), "#8B0000");
  EXPECT_EQ(SeverityColor("high"), "#E01E5A");
  EXPECT_EQ(SeverityColor("medium"), "#ECB22E");
  EXPECT_EQ(SeverityColor("low"), "#2EB67D");
  EXPECT_EQ(SeverityColor("info"), "#808080");
  EXPECT_EQ(SeverityColor("bogus"), "#808080");
}

}  // namespace
}  // namespace tocsin::render
