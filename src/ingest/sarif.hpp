// ingest/sarif.hpp — a SARIF 2.1.0 document (optionally gzip) read into findings (SPEC §5, scans
// endpoint; docs/scans.md says what is read from where).
//
// ReadSarif walks the document once with simdjson On-Demand (no DOM), keeping only what a Finding
// needs, then resolves rules (tool.driver.rules and tool.extensions[].rules, by rule.index /
// ruleIndex within rule.toolComponent, else by id), locations (artifactLocation against
// originalUriBaseIds and run.artifacts), severity and identity (ingest/fingerprint.hpp), and
// merges results that share an identity. The result is a ParsedScan of deduplicated findings
// plus what the lifecycle diff must know: was the scan complete?
//
// Errors: Error{code "invalid_sarif", message naming the problem, field = JSON pointer such as
// "/runs/0/results/3/locations"} for input that is not SARIF 2.1.0 (not JSON, invalid UTF-8,
// nesting deeper than SarifLimits::max_depth, wrong version, missing runs, wrong types); code
// "payload_too_large" for a gzip body that inflates past max_inflated_bytes, or more results,
// rules or artifacts than the limits allow. Over-long strings are truncated with "…" (counted in
// ParsedScan::truncated), never an error. Nothing here throws, does I/O or reads a clock; safe from
// any thread (each call has its own parser).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "domain/types.hpp"

namespace tocsin::ingest {

struct SarifLimits {
  size_t max_inflated_bytes = size_t{512} << 20;  // a gzip body may inflate to this much
  size_t max_results = 1'000'000;                 // results over all runs
  size_t max_depth = 256;                         // JSON nesting
  // Rules (all tool components) and artifacts per run: each costs memory even when the log
  // writes it as "{}", so they are bounded like results.
  size_t max_rules = 200'000;
  size_t max_artifacts = 1'000'000;
  // Characters (code points) kept per field; longer values are cut and end with "…".
  size_t max_title = 1000;
  size_t max_description = 65536;
  size_t max_path = 4096;
  size_t max_rule_id = 500;
  size_t max_component = 500;
  size_t max_snippet = 4096;  // read for identity only; never stored
  size_t max_notes = 20;      // tool error notifications kept in ParsedScan::notes
};

struct ParsedScan {
  std::string scanner;       // the scanner key: the caller's name, else tool.driver.name (slug)
  std::string tool_name;     // tool.driver.name of the first run, as written
  std::string tool_version;  // its semanticVersion or version
  // One per identity, in order of first appearance. project, branch, status, first/last_seen are
  // the caller's to fill; scanner is `scanner`.
  std::vector<domain::Finding> findings;
  std::array<int64_t, 5> counts{};  // findings per severity, indexed by static_cast<int>(Severity)

  int64_t runs = 0;
  int64_t results = 0;       // result objects in the document
  int64_t duplicates = 0;    // results merged into an earlier finding with the same identity
  int64_t suppressed = 0;    // results suppressed in source or absent from the baseline
  int64_t not_findings = 0;  // results of kind "pass" or "notApplicable"
  int64_t truncated = 0;     // string fields cut to the limits
  int64_t fingerprints_skipped = 0;  // placeholder or repeated fingerprint values passed over

  // False when an invocation reported executionSuccessful: false.
  bool succeeded = true;
  // True when the findings are the whole truth for this scanner: it succeeded and every run
  // computed its results (SARIF: "results" absent or null means they were not computed). Only a
  // complete scan may resolve findings.
  bool complete = true;
  // Why the scan failed or is incomplete (first reason; "" when neither).
  std::string error;
  // Files a tool execution notification of level "error" named: the tool could not analyse them,
  // so findings there are not resolved by this scan.
  std::vector<std::string> unscanned_paths;
  // Messages of the tool's error notifications (at most SarifLimits::max_notes, each ≤ 1000).
  std::vector<std::string> notes;
};

// `document` may be gzip (magic bytes 1f 8b), inflated under limits.max_inflated_bytes. A plain
// document is copied once into a padded buffer; a gzip one is inflated straight into one.
// `scanner` overrides tool.driver.name as the scanner key (it is slugged the same way); pass ""
// to use the document's.
Result<ParsedScan> ReadSarif(std::string_view document, const SarifLimits& limits = {},
                             std::string_view scanner = {});

// The same, taking ownership of the buffer so a plain document is parsed in place (no copy when
// its capacity leaves 64 bytes of room; the buffer is released before the findings are built).
Result<ParsedScan> ReadSarifBuffer(std::string&& document, const SarifLimits& limits = {},
                                   std::string_view scanner = {});

// True when `data` starts with the gzip magic bytes.
bool IsGzip(std::string_view data);

// Inflates a gzip stream (concatenated members too). More than `max_out` bytes → Error
// "payload_too_large" naming the cap; a first pass counts the output in a 64 KiB buffer and
// stops at the cap, then a second inflates into an exactly sized buffer, so a bomb costs
// inflating `max_out` bytes, never `max_out` bytes of memory. Corrupt data → "invalid_sarif".
// `padding` extra bytes (spaces) follow the output in the string, for simdjson: the returned size()
// includes them.
Result<std::string> Gunzip(std::string_view data, size_t max_out, size_t padding = 0);

// An artifactLocation.uri made comparable across machines: "file://" dropped, %XX decoded for
// file paths, backslashes made slashes, "./", "//" and ".." segments resolved, and any of
// `absolute_roots` (the absolute originalUriBaseIds, decoded) cut off the front so a path is
// relative to the repository. http(s) URLs keep scheme, host and path (query and fragment go:
// they vary between runs and may carry tokens).
std::string NormalizeArtifactUri(std::string_view uri, std::span<const std::string> absolute_roots);

// "CWE-89" from "CWE-89", "CWE-89: Improper ...", "cwe-089", "external/cwe/cwe-89" or "89";
// "" when `s` names none.
std::string ExtractCwe(std::string_view s);
// The first "CVE-YYYY-NNNN..." in `s` (case-insensitive, returned upper case), or "".
std::string ExtractCve(std::string_view s);

// SARIF severity inputs to Tocsin's severity (docs/scans.md, "Severity").
// security-severity (CVSS-like 0..10): ≥ 9 critical, ≥ 7 high, ≥ 4 medium, > 0 low, 0 info.
domain::Severity SeverityFromScore(double score);
// critical/high/medium/moderate/low/info/informational/note/none, and error → high,
// warning → medium, recommendation → low (case-insensitive); nullopt for anything else.
std::optional<domain::Severity> SeverityFromWord(std::string_view word);
// The SARIF level: error → high, warning → medium, note → low, none → info; nullopt otherwise.
std::optional<domain::Severity> SeverityFromLevel(std::string_view level);

}  // namespace tocsin::ingest
