// The hostile corpus shared by the render tests.
#pragma once

#include <string>
#include <vector>

namespace tocsin::render::testing {

// Strings a scanner or API caller might send to make a post notify people, link somewhere,
// render an image, or break the layout.
inline std::vector<std::string> HostileCorpus() {
  return {
      "@channel",
      "@ALL",
      "@here:",
      "@alice.",
      "hey @alice, look",
      "@Channel's finding",
      "(@here)",
      "@@channel",
      "mail bob@example.com",
      "<!channel>",
      "<!here|here>",
      "<@U12345>",
      "[x](https://evil)",
      "[click me][ref]\n\n[ref]: https://evil",
      "![img](http://x/y.png)",
      "<https://evil|click>",
      "<https://evil>",
      "```\ncode @channel\n```",
      "`@here`",
      "~~~\nfence\n~~~",
      "# heading",
      "### Impact\nbad",
      "Title\n===",
      "Title\n---",
      "| a | b |\n|---|---|\n| 1 | 2 |",
      "| table |",
      "> quoted @all",
      "- item\n- @here",
      "1. first\n2) second",
      "    indented code block",
      "**bold** _it_ ~~strike~~ *em*",
      "$\\LaTeX$ and $$x$$",
      "&#64;channel",
      "&#x40;all",
      "&commat;here",
      "\\@channel",
      "\\\\@channel",
      "\xEF\xBC\xA0" "channel",                // U+FF20 FULLWIDTH COMMERCIAL AT
      "\xEF\xB9\xAB" "here",                  // U+FE6B SMALL COMMERCIAL AT
      "@\xE2\x80\x8D" "channel",              // ZWJ between @ and the word
      "@\xE2\x80\x8B" "channel",              // a ZWSP the attacker put there themselves
      "@\xE2\x81\xA0" "all",                  // WORD JOINER
      "@\xEF\xBB\xBF" "here",                 // BOM / ZWNBSP
      "\xE2\x80\xAE" "gnp.exe",               // RIGHT-TO-LEFT OVERRIDE
      "\xE2\x81\xA7" "isolate\xE2\x81\xA9",  // RLI ... PDI
      "a\x00" "b\x07" "c\x1B[31mred\x7F",
      std::string("nul\0inside", 10),
      "c1 \xC2\x85 NEL \xC2\x9B CSI",
      "line\r\nbreak\rcr\xE2\x80\xA8ls\xE2\x80\xA9ps\x0Bvt\x0C" "ff",
      "tab\tseparated",
      "@\xCC\x81" "all",                      // combining mark after @
      "@channel\xCC\x81",
      "tag \xF3\xA0\x80\x81\xF3\xA0\x81\xA3hidden",  // Unicode tag characters
      "invalid \xFF\xFE bytes @here",
      "javascript:alert(1)",
      "<script>alert(1)</script>",
      "~town-square",
      "#hashtag",
      "@" + std::string(5000, 'a'),
      std::string(20000, 'x') + " @channel",
  };
}

}  // namespace tocsin::render::testing
