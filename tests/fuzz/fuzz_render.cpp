// libFuzzer target: any stored-event JSON into the renderer. Posts must stay within the message
// limit, and text from the input must never become a mention (an '@' always followed by U+200B).
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "render/post.hpp"

namespace {
// Every '@' (or full-width variant) that render/ emits in Markdown text is followed by U+200B.
bool MentionsNeutralized(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '@' && s.compare(i + 1, 3, "\xE2\x80\x8B") != 0) return false;
  }
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return 0;
  tocsin::render::Context ctx{"acme-web", "Acme", "https://tocsin.example", 4000};
  const nlohmann::json post = tocsin::render::RenderEvent(j, ctx);
  if (tocsin::render::PostRunes(post) > ctx.max_runes) __builtin_trap();
  if (!MentionsNeutralized(post.value("message", ""))) __builtin_trap();
  if (post.contains("props") && post["props"].contains("attachments")) {
    for (const auto& a : post["props"]["attachments"]) {
      if (!MentionsNeutralized(a.value("text", "")) || !MentionsNeutralized(a.value("pretext", ""))) {
        __builtin_trap();
      }
    }
  }
  // Neutralize's fast path for text that needs no change gives what the general path gives.
  const std::string raw(reinterpret_cast<const char*>(data), size);
  for (const bool single : {true, false}) {
    if (tocsin::render::Neutralize(raw, single) !=
        tocsin::render::internal::NeutralizeGeneral(raw, single, true)) {
      __builtin_trap();
    }
  }
  if (tocsin::render::NeutralizePlain(raw) !=
      tocsin::render::internal::NeutralizeGeneral(raw, true, false)) {
    __builtin_trap();
  }
  std::vector<nlohmann::json> many(3, j);
  auto digest = tocsin::render::RenderDigest(many, ctx);
  for (const auto& reply : digest.replies) {
    if (tocsin::render::PostRunes(reply) > ctx.max_runes) __builtin_trap();
  }
  return 0;
}
