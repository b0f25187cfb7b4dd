// render/post.hpp — events → Mattermost posts (SPEC §3). Pure and golden-tested.
//
// Every function returns the JSON body of a post ({"message", "props": {"attachments": [...]}})
// without channel_id/root_id/pending_post_id, which the sender adds. Untrusted text (anything
// that came from a scanner or an API caller) goes through Neutralize(): it can never mention
// (@channel, @all, @here, @user), inject links or images, or break the layout. Posts are cut to
// fit `max_runes` (Mattermost counts code points; the message and the attachment texts together
// stay within it, see PostRunes) with a visible marker.
//
// Input: the stored event JSON, i.e. ingest::EventToJson plus what the service knows — for a
// status change "from", "to", "transition", "actor"; the finding completed from the store
// ("title", "severity", "status", ...); for a scan "new", "resolved", "reopened", "baseline".
// Missing or mistyped members render as absent; nothing here throws on odd input.
// docs/messages.md shows every post. Stateless; safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace tocsin::render {

struct Context {
  std::string project;          // project name
  std::string project_display;  // display name ("" = name)
  std::string public_url;       // Tocsin's base URL for finding links ("" = none)
  size_t max_runes = 16383;     // message limit of the server (4000 on old servers)
};

// Makes untrusted text inert for Mattermost Markdown: breaks @mentions with U+200B, escapes
// Markdown link/image/emphasis/heading/table syntax and HTML-ish brackets, folds newlines when
// `single_line`. Idempotent enough that applying it twice only adds escapes.
std::string Neutralize(std::string_view text, bool single_line = true);
// The plain-text form for `fallback` (push/e-mail notification text, never rendered as Markdown,
// so backslash escapes would show): controls and invisible characters removed, newlines folded,
// U+200B after every '@' (and '&', so no character reference can spell one). No Markdown escaping.
std::string NeutralizePlain(std::string_view text);

namespace internal {
// Neutralize without its fast path for text that needs no change (tests and the fuzzer check
// that both give the same answer): `markdown` false is NeutralizePlain.
std::string NeutralizeGeneral(std::string_view text, bool single_line, bool markdown);
}  // namespace internal
// Cuts to at most `max_runes` code points (never inside a UTF-8 sequence), ending in "… (truncated)".
std::string Truncate(std::string_view text, size_t max_runes);
// What a post costs against max_runes: the message plus every attachment's fallback, pretext,
// title, text, footer, author_name and field titles and values, in code points. Every Render*
// result and Shrink result stays within its max_runes by this count.
size_t PostRunes(const nlohmann::json& post);

// Severity colour: critical #8B0000, high #E01E5A, medium #ECB22E, low #2EB67D, info #808080.
std::string SeverityColor(std::string_view severity);

// The post for one stored event (the SPEC event JSON, with "finding" etc. filled by Tocsin).
nlohmann::json RenderEvent(const nlohmann::json& event, const Context& ctx);
// The patch for a finding's first post after a status change: the same attachment showing the
// current status (and the transition) — {"message", "props"}.
nlohmann::json RenderFindingPatch(const nlohmann::json& status_changed_event, const Context& ctx);
// Digest of many new findings for one channel: the root post (counts by severity + the top
// findings by severity) and thread replies listing every finding, each reply within max_runes.
struct Digest {
  nlohmann::json root;
  std::vector<nlohmann::json> replies;
};
Digest RenderDigest(const std::vector<nlohmann::json>& new_finding_events, const Context& ctx);
// "Send test message" from project settings.
nlohmann::json RenderTestMessage(const Context& ctx, std::string_view channel);
// A shorter rendering of `post` after the server refused it as too long (SPEC §4): brings
// PostRunes within `max_runes` (4000 for old servers), cutting then dropping attachment texts
// (the description) first, then titles/fields, then the message. A post that already fits comes
// back unchanged — if the server still refuses it, give up rather than loop. For a digest reply
// prefer re-rendering the digest with a smaller Context::max_runes: Shrink cuts lines off a reply,
// a re-render spreads them over more replies.
nlohmann::json Shrink(const nlohmann::json& post, size_t max_runes);

}  // namespace tocsin::render
