// ingest/fingerprint.hpp — the identity of a scanner result across scans (SPEC §5, "Finding
// identity across scans"), as pure functions so the rules can be tested without SARIF.
//
// A result's identity comes from the first usable source, in this order:
//   1. the scanner's `fingerprints` (one key at a time, in kFingerprintKeyOrder, then the other
//      keys in byte order),
//   2. `correlationGuid`,
//   3. `partialFingerprints` (same key order; column fingerprints are never used alone, and the
//      rule id is part of the identity because a partial fingerprint names a place, not a finding),
//   4. a hash of rule id + normalised path + package name (without version) or, for a URL
//      location, the tested parameter, or else the whitespace-normalised snippet.
// Never a line number: a finding that moves down a file keeps its identity. A value is unusable
// when it is a known placeholder (Semgrep's "requires login", "", "null", ...) or when, within
// one run, it is carried by results of different rules or paths (different paths only, for
// partial fingerprints): such a value identifies nothing and the next source is tried.
//
// The fingerprint is "<scanner>:<32 hex digits>" (BLAKE2b-128 of the source, key and value, or of
// the fallback fields, separated by NUL bytes), so two scanners never collide and every
// fingerprint fits the event reader's 512-character limit. Stateless; safe from any thread.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tocsin::ingest {

// Preferred keys of `fingerprints` / `partialFingerprints`, first wins; other keys follow in byte
// order. matchBasedId/v1 is Semgrep's, primaryLocationLineHash CodeQL's (a hash of the line's
// text and its neighbours plus an occurrence counter, so it survives a move).
inline constexpr std::string_view kFingerprintKeyOrder[] = {
    "matchBasedId/v1", "primaryLocationLineHash", "primaryLocationLineHash/v1"};

enum class IdentitySource { kFingerprints, kCorrelationGuid, kPartialFingerprints, kComputed };
std::string_view Name(IdentitySource s);

// What identity is made from, for one result. Keys/values as the document gave them.
// The views point at strings the caller keeps alive until AssignIdentities returns (the SARIF
// reader: the fields of the findings being built, so 100,000 results are not copied once more).
struct IdentityInput {
  std::vector<std::pair<std::string, std::string>> fingerprints;
  std::string correlation_guid;
  std::vector<std::pair<std::string, std::string>> partial_fingerprints;
  std::string_view rule_id;
  std::string_view path;       // normalised (see NormalizeArtifactUri)
  std::string_view component;  // package, e.g. "log4j-core@2.14.1" or a purl ("" if none)
  std::string parameter;       // the tested parameter of a web location ("" if none)
  std::string snippet;         // region.snippet.text as given ("" if none)
  std::string_view tool;       // "" unless the document mixes tools: then the run's scanner
};

struct Identity {
  std::string fingerprint;  // "<scanner>:<hex>"
  IdentitySource source = IdentitySource::kComputed;
  int skipped = 0;  // candidate values passed over (placeholder or repeated)
};

// One identity per input, same order. Repetition is judged within `run`, so pass one SARIF run
// (all of its results) at a time.
std::vector<Identity> AssignIdentities(std::string_view scanner,
                                       std::span<const IdentityInput> run);

// True for values that scanners emit when they have no real fingerprint.
bool IsPlaceholderFingerprint(std::string_view value);

// Lower-case hex BLAKE2b-128 of the parts, each followed by a NUL byte.
std::string HashParts(std::initializer_list<std::string_view> parts);

// Runs of whitespace become one space; leading and trailing whitespace go.
std::string NormalizeSnippet(std::string_view snippet);

// The package without its version: "pkg:npm/%40scope/x@1.2" -> "pkg:npm/%40scope/x",
// "@scope/x@1.2" -> "@scope/x", "log4j-core@2.14.1" -> "log4j-core"; qualifiers (?...) and
// subpaths (#...) of a purl go too.
std::string_view PackageName(std::string_view component);

// A scanner name as Tocsin keys it: lower case, [a-z0-9._-] (anything else becomes '-', runs of
// '-' collapse, leading/trailing '-' go), at most 64 characters. "Semgrep OSS" -> "semgrep-oss".
// "" when nothing is left.
std::string ScannerSlug(std::string_view name);

}  // namespace tocsin::ingest
