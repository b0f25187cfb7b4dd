// config/config.hpp — one option table for flags, environment, TOML file and docs.
//
// Every setting of `tocsin serve` is one row of kOptions: its key (TOML name, dotted for tables:
// "mattermost.rate_per_second"), its flag ("--listen"), its environment variable
// ("TOCSIN_LISTEN"), default, and a one-line description. Resolve() applies precedence
// flag > environment > config file > default, validates every value and reports the first bad
// one with the key's name (and file:line for the TOML file). Unknown TOML keys are errors.
// docs/configuration.md is generated from the same table (`tocsin config docs`), and a test keeps
// them in sync.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace tocsin::config {

enum class Source { kDefault, kFile, kEnvironment, kFlag };
std::string_view SourceName(Source source);

struct Settings {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./var";
  std::string database;          // "" = SQLite in data_dir; "sqlite:PATH"; "postgres://..."
  std::string public_url;        // how users reach this service (links in posts); "" = http://<listen>
  std::string master_key_file;   // "" = <data_dir>/master.key
  std::string config_file;       // the TOML file, if any
  std::string log_level = "info";    // trace|debug|info|warn|error
  std::string log_format = "text";   // text|json
  int64_t max_event_body = 10 * 1024 * 1024;
  int64_t max_scan_body = 512LL * 1024 * 1024;
  int64_t max_json_depth = 64;
  // Delivery.
  double mm_rate_per_second = 10;  // 0 = no cap
  int64_t mm_burst = 20;
  Millis delivery_ttl{24LL * 3600 * 1000};
  int64_t delivery_workers = 16;
  Millis mm_timeout{10000};
  // How long a new finding waits for others to join its digest (SPEC §3, "the digest window").
  Millis digest_window{2000};

  // Where each key's value came from, for `tocsin config show`.
  std::map<std::string, Source> origins;
};

struct OptionSpec {
  std::string key;    // TOML key
  std::string flag;   // e.g. "--listen" ("" = file/env only)
  std::string env;    // e.g. "TOCSIN_LISTEN"
  std::string type;   // "string" | "int" | "number" | "duration" | "size" | "enum:a|b|c"
  std::string default_text;
  std::string description;
  bool in_file = true;  // false for "config" itself: the file cannot name another file
};

// The option table, in documentation order.
const std::vector<OptionSpec>& Options();
// The row for a key ("listen", "mattermost.burst"), or nullptr.
const OptionSpec* FindOption(std::string_view key);
// The row for a flag ("--listen"; the leading dashes are optional), or nullptr.
const OptionSpec* FindOptionByFlag(std::string_view flag);
// Every flag of the table ("--listen", "--data-dir", ...), in table order. The CLI registers each
// as a string option and passes the ones given, keyed by OptionSpec::key, in Inputs::flags.
std::vector<std::string> FlagNames();

// Flag and environment names follow from the key ("mattermost.burst" -> --mattermost-burst,
// TOCSIN_MATTERMOST_BURST) except for "config_file", which is --config / TOCSIN_CONFIG.
//
// Inputs to Resolve(): flag values (keyed by option key, only flags the user gave), the
// environment (a lookup function so tests need not touch the real one), and the config file path
// (from --config or TOCSIN_CONFIG; "" = none).
struct Inputs {
  std::map<std::string, std::string> flags;
  std::function<std::optional<std::string>(const std::string&)> getenv;
  std::string config_file;
};

// The real process environment, for Inputs::getenv.
std::optional<std::string> ProcessEnv(const std::string& name);

// Errors have code "invalid_config", a message that starts with where the value came from
// ("--listen (listen): ...", "TOCSIN_LISTEN (listen): ...", "/etc/tocsin.toml:3:10: listen: ...")
// and field = the key. An empty environment variable counts as unset. Values from a layer that a
// higher one overrides are not validated, but the file must always parse, with known keys of the
// right type.
Result<Settings> Resolve(const Inputs& inputs);

// Value syntaxes, shared with anything else that reads a size or duration from a user.
// Sizes: plain bytes ("1048576") or a number with a unit: B, KB/MB/GB (powers of 1000),
// KiB/MiB/GiB (powers of 1024); units are case-insensitive, a space before the unit is allowed.
Result<int64_t> ParseSize(std::string_view text);
// Durations: one or more <integer><unit> with unit ms, s, m, h, d ("500ms", "1h30m"); a unit is
// required.
Result<Millis> ParseDuration(std::string_view text);
std::string FormatSize(int64_t bytes);    // "10MiB", "1000", ...
std::string FormatDuration(Millis d);     // "24h", "90m", "1500ms", ...

// `listen` split into host (brackets removed from an IPv6 literal) and port.
struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
Result<ListenAddress> ParseListen(std::string_view text);

// "key = value  (source)" lines; the password of a database/public URL shows as <redacted>.
std::string Describe(const Settings& settings);
// The Markdown reference for docs/configuration.md.
std::string RenderDocs();

}  // namespace tocsin::config
