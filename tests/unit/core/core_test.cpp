#include <gtest/gtest.h>

#include <fmt/format.h>
#include <sstream>

#include "core/clock.hpp"
#include "core/random.hpp"
#include "core/secret.hpp"
#include "core/strings.hpp"

namespace tocsin {
namespace {

TEST(Secret, FormatsAsRedactedEverywhere) {
  Secret s("super-secret-token-value");
  EXPECT_EQ(fmt::format("{}", s), "<redacted>");
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str(), "<redacted>");
  EXPECT_EQ(s.Reveal(), "super-secret-token-value");
}

TEST(Secret, HintShowsOnlyLastFourOfLongValues) {
  EXPECT_EQ(Secret("abcdefghijklmnop").Hint(), "mnop");
  EXPECT_EQ(Secret("short").Hint(), "");
}

TEST(Secret, ComparesByValue) {
  EXPECT_TRUE(Secret("a1") == Secret("a1"));
  EXPECT_FALSE(Secret("a1") == Secret("a2"));
  EXPECT_FALSE(Secret("a1") == Secret("a12"));
}

TEST(Ids, AreTwentySixCharsOfMattermostAlphabet) {
  for (int i = 0; i < 100; ++i) {
    const std::string id = NewId();
    ASSERT_EQ(id.size(), 26u);
    for (char c : id) EXPECT_NE(std::string("ybndrfg8ejkmcpqxot1uwisza345h769").find(c), std::string::npos);
  }
  EXPECT_NE(NewId(), NewId());
}

TEST(Utf8, AcceptsValidAndRejectsBroken) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("gr\xC3\xBC\xC3\x9F" "e \xF0\x9F\x94\x94"));
  EXPECT_FALSE(IsValidUtf8("\xC3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xFF"));
}

TEST(Utf8, CountsRunesNotBytes) {
  EXPECT_EQ(CountRunes("abc"), 3u);
  EXPECT_EQ(CountRunes("\xF0\x9F\x94\x94"), 1u);
}

TEST(Rfc3339, RoundTripsAndHonoursOffsets) {
  TimePoint t;
  ASSERT_TRUE(ParseRfc3339("2026-12-04T10:00:00Z", &t));
  EXPECT_EQ(FormatRfc3339(t), "2026-12-04T10:00:00.000Z");
  ASSERT_TRUE(ParseRfc3339("2026-12-04T12:00:00.250+02:00", &t));
  EXPECT_EQ(FormatRfc3339(t), "2026-12-04T10:00:00.250Z");
  EXPECT_FALSE(ParseRfc3339("2026-12-04 10:00", &t));
  EXPECT_FALSE(ParseRfc3339("2026-13-04T10:00:00Z", &t));
  EXPECT_FALSE(ParseRfc3339("2026-12-04T10:00:00", &t));  // no zone
}

TEST(Redact, ReplacesEveryOccurrence) {
  EXPECT_EQ(Redact("a TOK b TOK", "TOK"), "a <redacted> b <redacted>");
  EXPECT_EQ(Redact("nothing", ""), "nothing");
}

}  // namespace
}  // namespace tocsin
