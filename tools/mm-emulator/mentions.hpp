// Which @-mentions in a post would notify, following Mattermost's server rules (API-FACTS §5.1):
// the texts are parsed with the server's Markdown subset (paragraphs inside block quotes and list
// items; fenced and indented code, inline code spans, autolinks and emoji excluded; link text
// included), adjacent text runs are merged only when their source ranges touch (so `\@channel`
// still mentions but `&#64;channel` does not), words are split on every rune that is not a
// letter, digit or one of `: . - _ @`, and a U+200B breaks a mention.
//
// Deliberate simplifications: reference-link definitions are not recognised (their text is
// scanned, which is stricter), the named-entity table covers the common and ASCII-producing
// entities only, and Unicode letter/digit classes come from glibc's C.UTF-8 locale.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace mmemu {

class MentionScanner {
 public:
  // `is_user_keyword` answers for a candidate such as "@alice" (already lower-cased, or the word as
  // written: the server looks both up) whether it is a user keyword in this channel.
  explicit MentionScanner(std::function<bool(const std::string&)> is_user_keyword);

  // Scans one field (message, attachment pretext/text, field value). Texts over 131072 bytes are
  // skipped, as the server does.
  void ScanMarkdown(std::string_view markdown);

  // "@channel", "@all", "@here" and matched user keywords, deduplicated, in order of appearance.
  const std::vector<std::string>& hits() const { return hits_; }

  // The plain-text word rule alone (StandardMentionParser.ProcessText); exposed for tests.
  void ProcessText(std::string_view text);

 private:
  bool CheckForMention(const std::string& word);
  void Hit(const std::string& mention);

  std::function<bool(const std::string&)> is_user_keyword_;
  std::vector<std::string> hits_;
};

// The texts the server searches for mentions: the message, then per attachment its pretext, text
// and string field values (field values are scanned since v11; applied to every version here
// because it is the stricter choice). Attachments that would not decode into the server's struct
// are skipped like the server skips them.
std::vector<std::string> MentionFields(const std::string& message, const nlohmann::json& props);

// Whether an element of props.attachments would decode into the server's SlackAttachment struct;
// the server silently drops (never scans, never returns) attachments that do not.
bool AttachmentDecodes(const nlohmann::json& attachment);

// The regex the server uses to flag @channel/@all/@here in a message for
// `mention_highlight_disabled` (`\B@(channel|all|here)\b`, case-insensitive); not Markdown-aware.
bool HasChannelMentionPattern(std::string_view message);

}  // namespace mmemu
