#include "ingest/fingerprint.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <unordered_map>

#include "core/strings.hpp"

namespace tocsin::ingest {
namespace {

struct Candidate {
  IdentitySource source;
  std::string_view key;
  std::string_view value;
};

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Preferred keys first (in kFingerprintKeyOrder), then the rest in byte order.
std::vector<const std::pair<std::string, std::string>*> OrderedKeys(
    const std::vector<std::pair<std::string, std::string>>& entries) {
  auto rank = [](std::string_view key) {
    const auto* it =
        std::find(std::begin(kFingerprintKeyOrder), std::end(kFingerprintKeyOrder), key);
    return static_cast<size_t>(it - std::begin(kFingerprintKeyOrder));
  };
  std::vector<const std::pair<std::string, std::string>*> out;
  out.reserve(entries.size());
  for (const auto& e : entries) out.push_back(&e);
  std::stable_sort(out.begin(), out.end(), [&](const auto* a, const auto* b) {
    const size_t ra = rank(a->first), rb = rank(b->first);
    if (ra != rb) return ra < rb;
    return a->first < b->first;
  });
  return out;
}

// A column fingerprint says where on a line a finding starts: it tells two findings of one line
// apart but identifies nothing alone (CodeQL's primaryLocationStartColumnFingerprint is "4").
bool IsColumnKey(std::string_view key) {
  return key.find("ColumnFingerprint") != std::string_view::npos;
}

std::vector<Candidate> Candidates(const IdentityInput& in) {
  std::vector<Candidate> out;
  for (const auto* e : OrderedKeys(in.fingerprints)) {
    out.push_back({IdentitySource::kFingerprints, e->first, e->second});
  }
  if (!in.correlation_guid.empty()) {
    out.push_back({IdentitySource::kCorrelationGuid, "", in.correlation_guid});
  }
  for (const auto* e : OrderedKeys(in.partial_fingerprints)) {
    if (IsColumnKey(e->first)) continue;
    out.push_back({IdentitySource::kPartialFingerprints, e->first, e->second});
  }
  return out;
}

// The key under which repetitions of a candidate value are counted: views into the results, so
// counting copies nothing (a run of 100,000 results would otherwise hold tens of MB of keys).
struct ValueRef {
  IdentitySource source;
  std::string_view key;
  std::string_view value;
  bool operator==(const ValueRef&) const = default;
};

struct ValueRefHash {
  size_t operator()(const ValueRef& r) const {
    const std::hash<std::string_view> h;
    size_t seed = h(r.value);
    seed ^= h(r.key) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
    return seed ^ static_cast<size_t>(r.source);
  }
};

// Was a value seen in the same place twice? A full fingerprint belongs to one rule at one path;
// a partial one to one path (the rule is added to its identity).
bool SameContext(IdentitySource source, const IdentityInput& a, const IdentityInput& b) {
  if (source == IdentitySource::kPartialFingerprints) return a.path == b.path;
  return a.rule_id == b.rule_id && a.path == b.path;
}

bool IsWebPath(std::string_view path) {
  return StartsWith(path, "http://") || StartsWith(path, "https://");
}

}  // namespace

std::string_view Name(IdentitySource s) {
  switch (s) {
    case IdentitySource::kFingerprints:
      return "fingerprints";
    case IdentitySource::kCorrelationGuid:
      return "correlationGuid";
    case IdentitySource::kPartialFingerprints:
      return "partialFingerprints";
    case IdentitySource::kComputed:
      return "computed";
  }
  return "computed";
}

bool IsPlaceholderFingerprint(std::string_view value) {
  const std::string_view v = Trim(value);
  static constexpr std::string_view kPlaceholders[] = {
      "", "requires login", "null", "none", "undefined", "n/a", "unknown", "0"};
  if (v.size() > 14) return false;  // the longest placeholder; real fingerprints are longer
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  for (std::string_view p : kPlaceholders) {
    if (p.size() == v.size() &&
        std::equal(p.begin(), p.end(), v.begin(), [&](char a, char b) { return a == lower(b); })) {
      return true;
    }
  }
  return false;
}

std::string HashParts(std::initializer_list<std::string_view> parts) {
  crypto_generichash_state state;
  std::array<unsigned char, 16> digest{};
  crypto_generichash_init(&state, nullptr, 0, digest.size());
  static constexpr unsigned char kSeparator = 0;
  for (std::string_view p : parts) {
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(p.data()), p.size());
    crypto_generichash_update(&state, &kSeparator, 1);
  }
  crypto_generichash_final(&state, digest.data(), digest.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(digest.size() * 2);
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}

std::string NormalizeSnippet(std::string_view snippet) {
  std::string out;
  out.reserve(snippet.size());
  bool pending_space = false;
  for (char c : snippet) {
    if (IsSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

std::string_view PackageName(std::string_view component) {
  std::string_view s = Trim(component);
  if (StartsWith(s, "pkg:")) {
    // purl: pkg:type/namespace/name@version?qualifiers#subpath
    s = s.substr(0, s.find_first_of("?#"));
  }
  const size_t at = s.rfind('@');
  // A leading '@' is an npm scope, not a version separator.
  if (at != std::string_view::npos && at > 0 && s.find('/', at) == std::string_view::npos) {
    s = s.substr(0, at);
  }
  return s;
}

std::string ScannerSlug(std::string_view name) {
  std::string out;
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    char mapped;
    if (c >= 'A' && c <= 'Z') {
      mapped = static_cast<char>(c - 'A' + 'a');
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_') {
      mapped = static_cast<char>(c);
    } else {
      mapped = '-';
    }
    if (mapped == '-' && (out.empty() || out.back() == '-')) continue;
    out.push_back(mapped);
    if (out.size() >= 64) break;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

std::vector<Identity> AssignIdentities(std::string_view scanner,
                                       std::span<const IdentityInput> run) {
  // A value seen in two contexts identifies nothing. Only the first context is kept.
  struct Seen {
    const IdentityInput* first;
    bool repeated = false;
  };
  std::unordered_map<ValueRef, Seen, ValueRefHash> seen;
  seen.reserve(run.size());
  // Every result's candidates in one array, result i's at [offsets[i], offsets[i + 1]), each
  // with its verdict: the count of its value (node-based map: the pointer stays valid), nullptr
  // for a placeholder.
  std::vector<Candidate> candidates;
  std::vector<const Seen*> verdicts;
  std::vector<size_t> offsets;
  candidates.reserve(run.size());
  verdicts.reserve(run.size());
  offsets.reserve(run.size() + 1);
  for (const IdentityInput& in : run) {
    offsets.push_back(candidates.size());
    for (const Candidate& c : Candidates(in)) {
      candidates.push_back(c);
      if (IsPlaceholderFingerprint(c.value)) {
        verdicts.push_back(nullptr);
        continue;
      }
      auto [it, inserted] = seen.try_emplace(ValueRef{c.source, c.key, c.value}, Seen{&in});
      if (!inserted && !SameContext(c.source, *it->second.first, in)) it->second.repeated = true;
      verdicts.push_back(&it->second);
    }
  }
  offsets.push_back(candidates.size());

  std::vector<Identity> out;
  out.reserve(run.size());
  for (size_t i = 0; i < run.size(); ++i) {
    const IdentityInput& in = run[i];
    Identity id;
    std::string digest;
    for (size_t k = offsets[i]; k < offsets[i + 1]; ++k) {
      const Candidate& c = candidates[k];
      if (!verdicts[k] || verdicts[k]->repeated) {
        ++id.skipped;
        continue;
      }
      id.source = c.source;
      const std::string_view rule =
          c.source == IdentitySource::kPartialFingerprints ? std::string_view(in.rule_id) : "";
      digest = HashParts({in.tool, Name(c.source), c.key, c.value, rule});
      break;
    }
    if (digest.empty()) {
      id.source = IdentitySource::kComputed;
      std::string discriminator;
      if (!in.component.empty()) {
        discriminator = "package:" + std::string(PackageName(in.component));
      } else if (IsWebPath(in.path)) {
        // A web finding's snippet is response evidence that changes between runs.
        discriminator = "parameter:" + in.parameter;
      } else {
        discriminator = "snippet:" + NormalizeSnippet(in.snippet);
      }
      digest =
          HashParts({in.tool, Name(IdentitySource::kComputed), in.rule_id, in.path, discriminator});
    }
    id.fingerprint.reserve(scanner.size() + 1 + digest.size());
    id.fingerprint.append(scanner).append(":").append(digest);
    out.push_back(std::move(id));
  }
  return out;
}

}  // namespace tocsin::ingest
