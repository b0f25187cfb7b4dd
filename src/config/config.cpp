#include "config/config.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <variant>

#include "core/strings.hpp"

namespace tocsin::config {
namespace {

// ---------------------------------------------------------------------------------------------
// The option table. Everything else (flags, env names, TOML keys, validation, docs, Describe) is
// derived from these rows, so adding a setting is one row plus one Settings field.

enum class Kind { kString, kInt, kNumber, kDuration, kSize, kEnum };

using Field = std::variant<std::string Settings::*, int64_t Settings::*, double Settings::*,
                           Millis Settings::*>;

// Checks (and may normalise) a string value; returns the problem, or "" when it is fine.
using StringCheck = std::string (*)(std::string& value);

struct Option {
  const char* key;
  Kind kind;
  Field field;
  const char* description;
  const char* hint;          // what a good value looks like
  const char* choices = "";  // kEnum: "a|b|c"
  double min = 0;            // numbers, sizes, durations (ms): smallest allowed value
  StringCheck check = nullptr;
  bool in_file = true;
  // Names that do not follow the rule "--" + key with dashes / "TOCSIN_" + KEY.
  const char* flag = nullptr;
  const char* env = nullptr;
};

std::string CheckListen(std::string& value) {
  auto parsed = ParseListen(value);
  return parsed ? std::string() : parsed.error().message;
}

std::string CheckNotEmpty(std::string& value) {
  return Trim(value).empty() ? "must not be empty" : "";
}

std::string CheckDatabase(std::string& value) {
  if (value.empty()) return "";
  if (StartsWith(value, "sqlite:")) {
    return value.size() > 7 ? "" : "sqlite: needs a path, e.g. sqlite:/var/lib/tocsin/tocsin.db";
  }
  if (StartsWith(value, "postgres://") || StartsWith(value, "postgresql://")) return "";
  // Not echoed: a database URL may carry a password.
  return "is not a database URL this tocsin understands: use \"\" (SQLite in the data dir), "
         "sqlite:PATH or postgres://...";
}

std::string CheckPublicUrl(std::string& value) {
  if (value.empty()) return "";
  const std::string lower = ToLower(value);
  size_t rest = 0;
  if (StartsWith(lower, "http://")) {
    rest = 7;
  } else if (StartsWith(lower, "https://")) {
    rest = 8;
  } else {
    return fmt::format("\"{}\" is not an http(s) URL", value);
  }
  for (char c : value) {
    if (static_cast<unsigned char>(c) <= ' ')
      return "must not contain spaces or control characters";
  }
  const std::string_view authority = std::string_view(value).substr(rest);
  if (authority.empty() || authority.front() == '/') return "has no host";
  // Links are built as public_url + "/path"; a trailing slash would double it.
  while (value.size() > rest + 1 && value.back() == '/') value.pop_back();
  return "";
}

const std::vector<Option>& Table() {
  static const std::vector<Option> kTable = {
      {.key = "listen",
       .kind = Kind::kString,
       .field = &Settings::listen,
       .description = "Address and port of the HTTP server (API, web UI, metrics). Port 0 picks a "
                      "free port.",
       .hint = "use host:port, e.g. 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080",
       .check = CheckListen},
      {.key = "data_dir",
       .kind = Kind::kString,
       .field = &Settings::data_dir,
       .description = "Directory for the SQLite database, the master key and the admin token; "
                      "created with mode 0700 if missing.",
       .hint = "give a directory path, e.g. /var/lib/tocsin",
       .check = CheckNotEmpty},
      {.key = "database",
       .kind = Kind::kString,
       .field = &Settings::database,
       .description = "Empty for SQLite in the data dir (tocsin.db), `sqlite:PATH` for another "
                      "SQLite file, `postgres://...` for PostgreSQL.",
       .hint = "use \"\", sqlite:/path/to/tocsin.db or postgres://user@host/db",
       .check = CheckDatabase},
      {.key = "public_url",
       .kind = Kind::kString,
       .field = &Settings::public_url,
       .description = "How users reach this service, for links in Mattermost posts; empty means "
                      "`http://<listen>`. A trailing slash is dropped.",
       .hint = "use an http:// or https:// URL, e.g. https://tocsin.example.com",
       .check = CheckPublicUrl},
      {.key = "master_key_file",
       .kind = Kind::kString,
       .field = &Settings::master_key_file,
       .description = "Key that encrypts the stored Mattermost token (must exist, mode 0600); "
                      "empty means `<data_dir>/master.key`, created on first start.",
       .hint = "give the path of a file holding 32 random bytes, base64"},
      {.key = "config_file",
       .kind = Kind::kString,
       .field = &Settings::config_file,
       .description = "TOML configuration file to read; empty means none. Flag or environment "
                      "only.",
       .hint = "give the path of a TOML file",
       .in_file = false,
       .flag = "--config",
       .env = "TOCSIN_CONFIG"},
      {.key = "log_level",
       .kind = Kind::kEnum,
       .field = &Settings::log_level,
       .description = "Least severe log level written: trace, debug, info, warn or error.",
       .hint = "use one of trace, debug, info, warn, error",
       .choices = "trace|debug|info|warn|error"},
      {.key = "log_format",
       .kind = Kind::kEnum,
       .field = &Settings::log_format,
       .description = "`text` for people, `json` for one JSON object per line.",
       .hint = "use text or json",
       .choices = "text|json"},
      {.key = "limits.max_event_body",
       .kind = Kind::kSize,
       .field = &Settings::max_event_body,
       .description = "Largest accepted body of POST /api/v1/events; larger requests get 413.",
       .hint = "use bytes or a size like 10MiB",
       .min = 1},
      {.key = "limits.max_scan_body",
       .kind = Kind::kSize,
       .field = &Settings::max_scan_body,
       .description = "Largest accepted SARIF upload; larger requests get 413.",
       .hint = "use bytes or a size like 512MiB",
       .min = 1},
      {.key = "limits.max_json_depth",
       .kind = Kind::kInt,
       .field = &Settings::max_json_depth,
       .description = "Deepest nesting of arrays/objects accepted in a JSON body.",
       .hint = "use a whole number such as 64",
       .min = 1},
      {.key = "mattermost.rate_per_second",
       .kind = Kind::kNumber,
       .field = &Settings::mm_rate_per_second,
       .description = "Posts per second to one Mattermost server when it sends no rate-limit "
                      "headers; 0 turns the cap off.",
       .hint = "use a number such as 10 (0 = no cap)"},
      {.key = "mattermost.burst",
       .kind = Kind::kInt,
       .field = &Settings::mm_burst,
       .description = "Posts that may go out at once before the rate cap applies.",
       .hint = "use a whole number such as 20",
       .min = 1},
      {.key = "mattermost.timeout",
       .kind = Kind::kDuration,
       .field = &Settings::mm_timeout,
       .description = "Timeout of one request to Mattermost (connect and response).",
       .hint = "use a duration such as 10s",
       .min = 1},
      {.key = "delivery.ttl",
       .kind = Kind::kDuration,
       .field = &Settings::delivery_ttl,
       .description = "How long a delivery is retried before it is marked dead.",
       .hint = "use a duration such as 24h",
       .min = 1},
      {.key = "delivery.workers",
       .kind = Kind::kInt,
       .field = &Settings::delivery_workers,
       .description = "Channels served in parallel, each worker with its own connection to "
                      "Mattermost (a server taking 50 ms per post needs about 16 for 300 posts/s).",
       .hint = "use a whole number such as 16",
       .min = 1},
      {.key = "delivery.digest_window",
       .kind = Kind::kDuration,
       .field = &Settings::digest_window,
       .description = "How long a new finding waits before it is posted alone, so that findings "
                      "sent one by one in a burst still make one digest when there are more than "
                      "the route's digest_threshold; 0 posts each at once.",
       .hint = "use a duration such as 2s (0s = no wait)",
       .min = 0},
  };
  return kTable;
}

std::string FlagFor(std::string_view key) {
  std::string flag = "--";
  for (char c : key) flag.push_back(c == '.' || c == '_' ? '-' : c);
  return flag;
}

std::string EnvFor(std::string_view key) {
  std::string env = "TOCSIN_";
  for (char c : key) {
    env.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return env;
}

std::string FlagOf(const Option& o) { return o.flag ? o.flag : FlagFor(o.key); }
std::string EnvOf(const Option& o) { return o.env ? o.env : EnvFor(o.key); }

std::vector<std::string> ChoicesOf(const Option& o) { return Split(o.choices, '|'); }

// ---------------------------------------------------------------------------------------------
// Values.

using Value = std::variant<std::string, int64_t, double, Millis>;

std::string TypeName(const Option& o) {
  switch (o.kind) {
    case Kind::kString:
      return "string";
    case Kind::kInt:
      return "int";
    case Kind::kNumber:
      return "number";
    case Kind::kDuration:
      return "duration";
    case Kind::kSize:
      return "size";
    case Kind::kEnum:
      return std::string("enum:") + o.choices;
  }
  return "string";
}

std::string ExpectedTomlType(const Option& o) {
  switch (o.kind) {
    case Kind::kString:
      return "a string";
    case Kind::kInt:
      return "an integer";
    case Kind::kNumber:
      return "a number";
    case Kind::kDuration:
      return "a duration string such as \"30s\"";
    case Kind::kSize:
      return "a size: an integer (bytes) or a string such as \"10MiB\"";
    case Kind::kEnum: {
      std::string out = "one of";
      for (const auto& c : ChoicesOf(o)) out += " \"" + c + "\"";
      return out;
    }
  }
  return "a string";
}

// A TOML basic string ("..."), the form people expect to copy; toml++ would print '...'.
std::string TomlQuote(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04X}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

// Greedy word wrap for comments in the sample file.
std::vector<std::string> Wrap(std::string_view text, size_t width) {
  std::vector<std::string> lines(1);
  for (const auto& word : Split(text, ' ')) {
    if (!lines.back().empty() && lines.back().size() + 1 + word.size() > width)
      lines.emplace_back();
    if (!lines.back().empty()) lines.back() += ' ';
    lines.back() += word;
  }
  return lines;
}

std::string FormatNumber(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

// "postgres://user:pw@host/db" -> "postgres://user:<redacted>@host/db": Describe prints every
// value, and a database URL is the one that may hold a password.
std::string RedactUrlPassword(std::string url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const size_t start = scheme + 3;
  const size_t end = url.find_first_of("/?#", start);
  const size_t at = url.rfind('@', end == std::string::npos ? std::string::npos : end);
  if (at == std::string::npos || at < start) return url;
  const size_t colon = url.find(':', start);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "<redacted>" + url.substr(at);
}

// The value as a TOML literal, for Describe and the sample file.
std::string ValueText(const Option& o, const Settings& s) {
  return std::visit(
      [&](auto member) -> std::string {
        const auto& v = s.*member;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return TomlQuote(v);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          if (o.kind == Kind::kSize) {
            const std::string text = FormatSize(v);
            return text.find_first_not_of("0123456789") == std::string::npos ? text
                                                                             : "\"" + text + "\"";
          }
          return fmt::format("{}", v);
        } else if constexpr (std::is_same_v<T, double>) {
          return FormatNumber(v);
        } else {
          return "\"" + FormatDuration(v) + "\"";
        }
      },
      o.field);
}

// The default for the docs table: plain text, no TOML quoting.
std::string DefaultText(const Option& o) {
  static const Settings kDefaults;
  return std::visit(
      [&](auto member) -> std::string {
        const auto& v = kDefaults.*member;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, int64_t>) {
          return o.kind == Kind::kSize ? FormatSize(v) : fmt::format("{}", v);
        } else if constexpr (std::is_same_v<T, double>) {
          return FormatNumber(v);
        } else {
          return FormatDuration(v);
        }
      },
      o.field);
}

Result<int64_t> ParseNonNegativeInt(std::string_view text) {
  text = Trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (!text.empty() && text.front() == '-') {
    return Fail("invalid_config", fmt::format("must not be negative, got {}", text));
  }
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return Fail("invalid_config", fmt::format("\"{}\" is not a whole number", text));
  }
  int64_t v = 0;
  for (char c : text) {
    if (v > (std::numeric_limits<int64_t>::max() - (c - '0')) / 10) {
      return Fail("invalid_config", fmt::format("{} is too large", text));
    }
    v = v * 10 + (c - '0');
  }
  return v;
}

// A value given as text (flag or environment), converted to the option's type.
Result<Value> FromText(const Option& o, const std::string& text) {
  switch (o.kind) {
    case Kind::kString:
    case Kind::kEnum:
      return Value(text);
    case Kind::kInt: {
      auto v = ParseNonNegativeInt(text);
      if (!v) return tl::unexpected(v.error());
      return Value(*v);
    }
    case Kind::kSize: {
      auto v = ParseSize(text);
      if (!v) return tl::unexpected(v.error());
      return Value(*v);
    }
    case Kind::kDuration: {
      auto v = ParseDuration(text);
      if (!v) return tl::unexpected(v.error());
      return Value(*v);
    }
    case Kind::kNumber: {
      const std::string t(Trim(text));
      if (t.empty() || t.find_first_not_of("0123456789.eE+-") != std::string::npos) {
        return Fail("invalid_config", fmt::format("\"{}\" is not a number", text));
      }
      char* end = nullptr;
      errno = 0;
      const double v = std::strtod(t.c_str(), &end);
      if (end != t.c_str() + t.size() || errno == ERANGE || !std::isfinite(v)) {
        return Fail("invalid_config", fmt::format("\"{}\" is not a number", text));
      }
      return Value(v);
    }
  }
  return Fail("invalid_config", "unsupported option type");
}

const char* TomlTypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date/time";
    default:
      return "nothing";
  }
}

// A value from the TOML file: native types where TOML has them, text syntax otherwise.
// Returns the problem text ("" = ok) through `problem`, so the caller can add file:line.
std::optional<Value> FromToml(const Option& o, const toml::node& node, std::string* problem) {
  auto wrong_type = [&] {
    *problem = fmt::format("expected {}, got {}", ExpectedTomlType(o), TomlTypeName(node));
    return std::nullopt;
  };
  switch (o.kind) {
    case Kind::kString:
    case Kind::kEnum:
      if (auto s = node.value<std::string>(); s && node.is_string()) return Value(*s);
      return wrong_type();
    case Kind::kInt:
      if (node.is_integer()) return Value(node.as_integer()->get());
      return wrong_type();
    case Kind::kNumber:
      if (node.is_integer()) return Value(static_cast<double>(node.as_integer()->get()));
      if (node.is_floating_point()) {
        const double v = node.as_floating_point()->get();
        if (!std::isfinite(v)) {
          *problem = "must be a finite number";
          return std::nullopt;
        }
        return Value(v);
      }
      return wrong_type();
    case Kind::kSize:
      if (node.is_integer()) return Value(node.as_integer()->get());
      if (node.is_string()) {
        auto v = ParseSize(node.as_string()->get());
        if (!v) {
          *problem = v.error().message;
          return std::nullopt;
        }
        return Value(*v);
      }
      return wrong_type();
    case Kind::kDuration:
      if (node.is_string()) {
        auto v = ParseDuration(node.as_string()->get());
        if (!v) {
          *problem = v.error().message;
          return std::nullopt;
        }
        return Value(*v);
      }
      return wrong_type();
  }
  return wrong_type();
}

// Range, enum and per-key checks; may normalise the value. Returns the problem or "".
std::string Validate(const Option& o, Value& value) {
  auto too_small = [&](double v) -> std::string {
    if (v >= o.min) return "";
    if (o.min == 0) return fmt::format("must not be negative, got {}", FormatNumber(v));
    return fmt::format("must be at least {}, got {}", FormatNumber(o.min), FormatNumber(v));
  };
  if (auto* s = std::get_if<std::string>(&value)) {
    if (o.kind == Kind::kEnum) {
      const auto choices = ChoicesOf(o);
      if (std::find(choices.begin(), choices.end(), *s) == choices.end()) {
        return fmt::format("\"{}\" is not one of {}", *s, fmt::join(choices, ", "));
      }
    }
    return o.check ? o.check(*s) : "";
  }
  if (auto* i = std::get_if<int64_t>(&value)) {
    if (*i < 0) return fmt::format("must not be negative, got {}", *i);
    return too_small(static_cast<double>(*i));
  }
  if (auto* d = std::get_if<double>(&value)) return too_small(*d);
  if (auto* m = std::get_if<Millis>(&value)) {
    if (m->count() < o.min) {
      return m->count() < 0 ? "must not be negative" : "must be longer than 0";
    }
  }
  return "";
}

void Assign(const Option& o, const Value& value, Settings* s) {
  std::visit(
      [&](auto member) {
        using T = std::decay_t<decltype(s->*member)>;
        s->*member = std::get<T>(value);
      },
      o.field);
}

const Option* FindRow(std::string_view key) {
  for (const auto& o : Table()) {
    if (key == o.key) return &o;
  }
  return nullptr;
}

const Option* ConfigFileRow() {
  static const Option* row = FindRow("config_file");
  return row;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string UnknownKeyHint(std::string_view key) {
  const Option* best = nullptr;
  size_t best_distance = 4;  // only suggest near misses
  for (const auto& o : Table()) {
    if (!o.in_file) continue;
    const std::string_view candidate = o.key;
    size_t d = EditDistance(key, candidate);
    // "rate_per_second" under the wrong table, or without it.
    const auto dot = candidate.rfind('.');
    if (dot != std::string_view::npos) {
      const std::string_view leaf = candidate.substr(dot + 1);
      const auto kdot = key.rfind('.');
      const std::string_view kleaf = kdot == std::string_view::npos ? key : key.substr(kdot + 1);
      if (kleaf == leaf) d = std::min<size_t>(d, 1);
    }
    if (d < best_distance) {
      best_distance = d;
      best = &o;
    }
  }
  if (best)
    return fmt::format("did you mean {}? (docs/configuration.md lists every key)", best->key);
  return "docs/configuration.md lists every key";
}

// ---------------------------------------------------------------------------------------------
// The TOML file.

struct FileValue {
  Value value;
  std::string where;  // "path:line:col"
};

std::string Where(const std::string& path, const toml::source_region& src) {
  return fmt::format("{}:{}:{}", path, src.begin.line, src.begin.column);
}

Unexpected ConfigError(const std::string& message, const std::string& hint,
                       const std::string& key) {
  return Fail("invalid_config", message, hint, key);
}

Result<void> CollectTable(const std::string& path, const toml::table& table,
                          const std::string& prefix, std::map<std::string, FileValue>* out) {
  for (auto&& [k, node] : table) {
    const std::string key = prefix + std::string(k.str());
    if (const toml::table* sub = node.as_table()) {
      // A table is fine if some option lives under it.
      bool known_table = false;
      for (const auto& o : Table()) {
        if (StartsWith(o.key, key + ".")) known_table = true;
      }
      if (!known_table) {
        return ConfigError(fmt::format("{}: unknown table [{}]", Where(path, k.source()), key),
                           UnknownKeyHint(key), key);
      }
      if (auto r = CollectTable(path, *sub, key + ".", out); !r) return r;
      continue;
    }
    const Option* o = FindRow(key);
    if (o == nullptr && key == std::string_view(ConfigFileRow()->flag).substr(2)) {
      o = ConfigFileRow();  // "config = ..." means the same thing
    }
    if (o == nullptr) {
      return ConfigError(fmt::format("{}: unknown key \"{}\"", Where(path, k.source()), key),
                         UnknownKeyHint(key), key);
    }
    if (!o->in_file) {
      return ConfigError(fmt::format("{}: \"{}\" cannot be set inside the config file",
                                     Where(path, k.source()), key),
                         fmt::format("pass {} or set {} instead", FlagOf(*o), EnvOf(*o)), o->key);
    }
    std::string problem;
    auto value = FromToml(*o, node, &problem);
    if (!value) {
      return ConfigError(fmt::format("{}: {}: {}", Where(path, node.source()), key, problem),
                         o->hint, key);
    }
    (*out)[key] = FileValue{std::move(*value), Where(path, node.source())};
  }
  return Ok();
}

Result<std::map<std::string, FileValue>> LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return ConfigError(fmt::format("config file {} cannot be read: {}", path, std::strerror(errno)),
                       "check the path given by --config or TOCSIN_CONFIG", "config_file");
  }
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string content = buf.str();
  std::map<std::string, FileValue> values;
  try {
    const toml::table root = toml::parse(content, path);
    if (auto r = CollectTable(path, root, "", &values); !r) return tl::unexpected(r.error());
  } catch (const toml::parse_error& e) {
    return ConfigError(fmt::format("{}: {}", Where(path, e.source()), e.description()),
                       "fix the TOML syntax at that line", "config_file");
  }
  return values;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string_view SourceName(Source source) {
  switch (source) {
    case Source::kDefault:
      return "default";
    case Source::kFile:
      return "file";
    case Source::kEnvironment:
      return "environment";
    case Source::kFlag:
      return "flag";
  }
  return "default";
}

const std::vector<OptionSpec>& Options() {
  static const std::vector<OptionSpec> kSpecs = [] {
    std::vector<OptionSpec> specs;
    for (const auto& o : Table()) {
      specs.push_back(OptionSpec{.key = o.key,
                                 .flag = FlagOf(o),
                                 .env = EnvOf(o),
                                 .type = TypeName(o),
                                 .default_text = DefaultText(o),
                                 .description = o.description,
                                 .in_file = o.in_file});
    }
    return specs;
  }();
  return kSpecs;
}

const OptionSpec* FindOption(std::string_view key) {
  for (const auto& spec : Options()) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

const OptionSpec* FindOptionByFlag(std::string_view flag) {
  while (!flag.empty() && flag.front() == '-') flag.remove_prefix(1);
  for (const auto& spec : Options()) {
    if (std::string_view(spec.flag).substr(2) == flag) return &spec;
  }
  return nullptr;
}

std::vector<std::string> FlagNames() {
  std::vector<std::string> flags;
  for (const auto& spec : Options()) {
    if (!spec.flag.empty()) flags.push_back(spec.flag);
  }
  return flags;
}

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

Result<Settings> Resolve(const Inputs& inputs) {
  auto env = [&](const std::string& name) -> std::optional<std::string> {
    if (!inputs.getenv) return std::nullopt;
    auto v = inputs.getenv(name);
    if (v && v->empty()) return std::nullopt;
    return v;
  };

  for (const auto& [key, value] : inputs.flags) {
    if (FindRow(key) == nullptr) {
      return ConfigError(fmt::format("unknown option \"{}\"", key), "see tocsin serve --help", key);
    }
  }

  Settings settings;

  // Which file, and where that choice came from.
  std::string file;
  Source file_source = Source::kDefault;
  if (auto it = inputs.flags.find(ConfigFileRow()->key); it != inputs.flags.end()) {
    file = it->second;
    file_source = Source::kFlag;
  } else if (!inputs.config_file.empty()) {
    file = inputs.config_file;
    file_source = Source::kFlag;
  } else if (auto v = env(EnvOf(*ConfigFileRow()))) {
    file = *v;
    file_source = Source::kEnvironment;
  }
  std::map<std::string, FileValue> file_values;
  if (!file.empty()) {
    auto loaded = LoadFile(file);
    if (!loaded) return tl::unexpected(loaded.error());
    file_values = std::move(*loaded);
  }

  for (const auto& o : Table()) {
    const std::string key = o.key;
    if (&o == ConfigFileRow()) {
      settings.config_file = file;
      settings.origins[key] = file_source;
      continue;
    }
    std::optional<Value> value;
    std::string where;  // how an error names the place the value came from
    Source source = Source::kDefault;
    std::optional<std::string> text;
    if (auto it = inputs.flags.find(key); it != inputs.flags.end()) {
      text = it->second;
      where = fmt::format("{} ({})", FlagOf(o), key);
      source = Source::kFlag;
    } else if (auto v = env(EnvOf(o))) {
      text = *v;
      where = fmt::format("{} ({})", EnvOf(o), key);
      source = Source::kEnvironment;
    } else if (auto fit = file_values.find(key); fit != file_values.end()) {
      value = fit->second.value;
      where = fmt::format("{}: {}", fit->second.where, key);
      source = Source::kFile;
    }
    if (text) {
      auto parsed = FromText(o, *text);
      if (!parsed) {
        return ConfigError(fmt::format("{}: {}", where, parsed.error().message), o.hint, key);
      }
      value = std::move(*parsed);
    }
    if (value) {
      if (std::string problem = Validate(o, *value); !problem.empty()) {
        return ConfigError(fmt::format("{}: {}", where, problem), o.hint, key);
      }
      Assign(o, *value, &settings);
    }
    settings.origins[key] = source;
  }
  return settings;
}

std::string Describe(const Settings& settings) {
  size_t width = 0;
  for (const auto& o : Table()) width = std::max(width, std::string_view(o.key).size());
  std::string out;
  for (const auto& o : Table()) {
    const auto it = settings.origins.find(o.key);
    const Source source = it == settings.origins.end() ? Source::kDefault : it->second;
    std::string origin(SourceName(source));
    if (source == Source::kEnvironment) origin += " " + EnvOf(o);
    if (source == Source::kFlag) origin += " " + FlagOf(o);
    if (source == Source::kFile) origin += " " + settings.config_file;
    Settings shown = settings;
    shown.database = RedactUrlPassword(settings.database);
    shown.public_url = RedactUrlPassword(settings.public_url);
    out += fmt::format("{:<{}} = {}  ({})\n", o.key, width, ValueText(o, shown), origin);
  }
  return out;
}

std::string RenderDocs() {
  auto cell = [](std::string_view text) {
    std::string out;
    for (char c : text) {
      if (c == '|') out += '\\';
      out += c;
    }
    return out;
  };
  std::string md;
  md +=
      "<!-- Generated from src/config/config.cpp by `tocsin config docs`; do not edit by hand. "
      "-->\n\n";
  md += "### Options\n\n";
  md += "| key | flag | env | default | description |\n";
  md += "|---|---|---|---|---|\n";
  for (const auto& spec : Options()) {
    const std::string def = spec.default_text.empty() ? "\"\"" : spec.default_text;
    md += fmt::format("| `{}` | `{}` | `{}` | `{}` | {} |\n", spec.key, spec.flag, spec.env,
                      cell(def), cell(spec.description));
  }
  md += "\n### Value formats\n\n";
  md +=
      "- **size**: bytes (`1048576`) or a number with a unit: `B`, `KB`/`MB`/`GB` (powers of "
      "1000), `KiB`/`MiB`/`GiB` (powers of 1024), e.g. `10MiB`, `512MB`. In the TOML file a size "
      "may also be a plain integer.\n";
  md +=
      "- **duration**: one or more whole numbers with a unit `ms`, `s`, `m`, `h` or `d`, e.g. "
      "`500ms`, `30s`, `5m`, `24h`, `1h30m`. A unit is required.\n";
  md += "- **listen**: `host:port`; IPv6 literals in brackets (`[::1]:8080`); port 0-65535.\n";
  md += "- Numbers must not be negative.\n";

  md += "\n### Sample configuration file\n\n";
  md +=
      "Every key at its default, commented out. Tables must stay as they are; uncomment a key "
      "below its table.\n\n";
  md += "```toml\n";
  const Settings defaults;
  std::string current_table;
  bool first = true;
  for (const auto& o : Table()) {
    if (!o.in_file) continue;
    const std::string_view key = o.key;
    const auto dot = key.find('.');
    const std::string table = dot == std::string_view::npos ? "" : std::string(key.substr(0, dot));
    const std::string leaf =
        dot == std::string_view::npos ? std::string(key) : std::string(key.substr(dot + 1));
    if (table != current_table) {
      md += fmt::format("\n[{}]\n", table);
      current_table = table;
      first = true;
    }
    if (!first) md += "\n";
    first = false;
    for (const auto& line : Wrap(o.description, 98)) md += fmt::format("# {}\n", line);
    md += fmt::format("# {} = {}\n", leaf, ValueText(o, defaults));
  }
  md += "```\n";
  return md;
}

// ---------------------------------------------------------------------------------------------
// Value syntaxes.

Result<int64_t> ParseSize(std::string_view text) {
  const std::string_view t = Trim(text);
  size_t digits = 0;
  while (digits < t.size() && std::isdigit(static_cast<unsigned char>(t[digits]))) ++digits;
  if (!t.empty() && t.front() == '-') {
    return Fail("invalid_config", fmt::format("size must not be negative, got \"{}\"", text));
  }
  if (digits == 0) {
    return Fail("invalid_config",
                fmt::format("\"{}\" is not a size (use bytes or e.g. 10MiB, 512MB)", text));
  }
  auto number = ParseNonNegativeInt(t.substr(0, digits));
  if (!number) return tl::unexpected(number.error());
  const std::string unit = ToLower(Trim(t.substr(digits)));
  static const std::pair<const char*, int64_t> kUnits[] = {
      {"", 1},
      {"b", 1},
      {"kb", 1000},
      {"mb", 1000 * 1000},
      {"gb", 1000LL * 1000 * 1000},
      {"kib", 1024},
      {"mib", 1024 * 1024},
      {"gib", 1024LL * 1024 * 1024},
  };
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) {
      if (*number > std::numeric_limits<int64_t>::max() / factor) {
        return Fail("invalid_config", fmt::format("size \"{}\" is too large", text));
      }
      return *number * factor;
    }
  }
  return Fail("invalid_config",
              fmt::format("\"{}\" has an unknown size unit \"{}\" (use B, KB, MB, GB, KiB, MiB, "
                          "GiB)",
                          text, Trim(t.substr(digits))));
}

Result<Millis> ParseDuration(std::string_view text) {
  const std::string_view t = Trim(text);
  auto bad = [&] {
    return Fail("invalid_config",
                fmt::format("\"{}\" is not a duration (use e.g. 500ms, 30s, 5m, 24h)", text));
  };
  if (t.empty()) return bad();
  if (t.front() == '-') {
    return Fail("invalid_config", fmt::format("duration must not be negative, got \"{}\"", text));
  }
  int64_t total = 0;
  size_t i = 0;
  while (i < t.size()) {
    const size_t start = i;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
    if (i == start) return bad();
    auto number = ParseNonNegativeInt(t.substr(start, i - start));
    if (!number) return bad();
    const size_t unit_start = i;
    while (i < t.size() && std::isalpha(static_cast<unsigned char>(t[i]))) ++i;
    const std::string_view unit = t.substr(unit_start, i - unit_start);
    int64_t factor = 0;
    if (unit == "ms") {
      factor = 1;
    } else if (unit == "s") {
      factor = 1000;
    } else if (unit == "m") {
      factor = 60 * 1000;
    } else if (unit == "h") {
      factor = 3600 * 1000;
    } else if (unit == "d") {
      factor = 24LL * 3600 * 1000;
    } else if (unit.empty() && i == t.size()) {
      return Fail("invalid_config",
                  fmt::format("duration \"{}\" needs a unit (ms, s, m, h, d), e.g. 30s", text));
    } else if (unit.empty()) {
      return bad();
    } else {
      return Fail("invalid_config",
                  fmt::format("\"{}\" has an unknown duration unit \"{}\" (use ms, s, m, h, d)",
                              text, unit));
    }
    if (*number > (std::numeric_limits<int64_t>::max() - total) / factor) {
      return Fail("invalid_config", fmt::format("duration \"{}\" is too long", text));
    }
    total += *number * factor;
  }
  return Millis(total);
}

std::string FormatSize(int64_t bytes) {
  static const std::pair<const char*, int64_t> kUnits[] = {
      {"GiB", 1024LL * 1024 * 1024}, {"MiB", 1024 * 1024}, {"KiB", 1024}};
  if (bytes > 0) {
    for (const auto& [name, factor] : kUnits) {
      if (bytes % factor == 0) return fmt::format("{}{}", bytes / factor, name);
    }
  }
  return fmt::format("{}", bytes);
}

std::string FormatDuration(Millis d) {
  const int64_t ms = d.count();
  if (ms == 0) return "0s";
  if (ms % (3600 * 1000) == 0) return fmt::format("{}h", ms / (3600 * 1000));
  if (ms % (60 * 1000) == 0) return fmt::format("{}m", ms / (60 * 1000));
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

Result<ListenAddress> ParseListen(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Fail("invalid_config", fmt::format("\"{}\" {}", text, why));
  };
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("has an unclosed [ in the IPv6 address");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("is not host:port (the port is missing after ])");
    }
    port = text.substr(close + 2);
    // An optional zone follows '%' (fe80::1%eth0).
    const std::string_view address = host.substr(0, host.find('%'));
    const std::string_view zone =
        address.size() < host.size() ? host.substr(address.size() + 1) : std::string_view("-");
    bool zone_ok = !zone.empty();
    for (char c : zone) {
      zone_ok = zone_ok &&
                (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
    }
    if (address.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos ||
        address.find(':') == std::string_view::npos || !zone_ok) {
      return bad("does not hold an IPv6 address between [ and ]");
    }
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("is not host:port (no port)");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return bad("is not host:port (write IPv6 addresses in brackets, e.g. [::1]:8080)");
    }
    if (host.empty()) return bad("has no host (use 0.0.0.0:PORT for every interface)");
    for (char c : host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
        return bad(fmt::format("has an invalid character '{}' in the host", c));
      }
    }
  }
  if (port.empty()) return bad("has no port");
  if (port.find_first_not_of("0123456789") != std::string_view::npos || port.size() > 5) {
    return bad(fmt::format("has a port \"{}\" that is not a number from 0 to 65535", port));
  }
  const int value = std::stoi(std::string(port));
  if (value > 65535) return bad(fmt::format("has port {}, outside 0-65535", value));
  return ListenAddress{std::string(host), static_cast<uint16_t>(value)};
}

}  // namespace tocsin::config
