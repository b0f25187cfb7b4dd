#include "config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "support/temp_dir.hpp"

namespace tocsin::config {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::tocsin::testing::TempDir;

// Inputs with a fake environment, built up by each test.
struct Fixture {
  std::map<std::string, std::string> env;
  Inputs inputs;

  Fixture() {
    inputs.getenv = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
  }
  Result<Settings> Run() { return Resolve(inputs); }
};

std::string WriteFile(const TempDir& dir, const std::string& name, const std::string& content) {
  const fs::path p = dir.path() / name;
  std::ofstream(p, std::ios::binary) << content;
  return p.string();
}

// ---------------------------------------------------------------------------------------------
// Precedence.

TEST(Precedence, NothingGivenMeansDefaults) {
  Fixture f;
  auto s = f.Run();
  ASSERT_TRUE(s) << s.error().message;
  const Settings d;
  EXPECT_EQ(s->listen, d.listen);
  EXPECT_EQ(s->data_dir, "./var");
  EXPECT_EQ(s->max_event_body, 10 * 1024 * 1024);
  EXPECT_EQ(s->delivery_ttl, Millis(24LL * 3600 * 1000));
  EXPECT_EQ(s->origins.at("listen"), Source::kDefault);
  EXPECT_EQ(s->origins.size(), Options().size()) << "every key has an origin";
}

TEST(Precedence, FileOverridesDefault) {
  TempDir tmp;
  Fixture f;
  f.inputs.config_file = WriteFile(tmp, "t.toml", "listen = \"127.0.0.1:9000\"\n");
  auto s = f.Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->listen, "127.0.0.1:9000");
  EXPECT_EQ(s->origins.at("listen"), Source::kFile);
  EXPECT_EQ(s->origins.at("data_dir"), Source::kDefault);
  EXPECT_EQ(s->config_file, f.inputs.config_file);
}

TEST(Precedence, EnvironmentOverridesFile) {
  TempDir tmp;
  Fixture f;
  f.inputs.config_file = WriteFile(tmp, "t.toml", "listen = \"127.0.0.1:9000\"\n");
  f.env["TOCSIN_LISTEN"] = "127.0.0.1:9001";
  auto s = f.Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->listen, "127.0.0.1:9001");
  EXPECT_EQ(s->origins.at("listen"), Source::kEnvironment);
}

TEST(Precedence, FlagOverridesEnvironment) {
  TempDir tmp;
  Fixture f;
  f.inputs.config_file = WriteFile(tmp, "t.toml", "listen = \"127.0.0.1:9000\"\n");
  f.env["TOCSIN_LISTEN"] = "127.0.0.1:9001";
  f.inputs.flags["listen"] = "127.0.0.1:9002";
  auto s = f.Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->listen, "127.0.0.1:9002");
  EXPECT_EQ(s->origins.at("listen"), Source::kFlag);
}

TEST(Precedence, EachLayerAppliesPerKey) {
  TempDir tmp;
  Fixture f;
  f.inputs.config_file = WriteFile(tmp, "t.toml",
                                   "data_dir = \"/from/file\"\n"
                                   "log_level = \"debug\"\n"
                                   "[mattermost]\nburst = 5\n");
  f.env["TOCSIN_LOG_LEVEL"] = "warn";
  f.env["TOCSIN_MATTERMOST_BURST"] = "7";
  f.inputs.flags["mattermost.burst"] = "9";
  auto s = f.Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->data_dir, "/from/file");
  EXPECT_EQ(s->log_level, "warn");
  EXPECT_EQ(s->mm_burst, 9);
  EXPECT_EQ(s->origins.at("data_dir"), Source::kFile);
  EXPECT_EQ(s->origins.at("log_level"), Source::kEnvironment);
  EXPECT_EQ(s->origins.at("mattermost.burst"), Source::kFlag);
}

TEST(Precedence, EmptyEnvironmentVariableCountsAsUnset) {
  TempDir tmp;
  Fixture f;
  f.inputs.config_file = WriteFile(tmp, "t.toml", "log_format = \"json\"\n");
  f.env["TOCSIN_LOG_FORMAT"] = "";
  auto s = f.Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->log_format, "json");
}

TEST(Precedence, ConfigFileFromEnvironmentOrFlag) {
  TempDir tmp;
  const std::string a = WriteFile(tmp, "a.toml", "data_dir = \"/a\"\n");
  const std::string b = WriteFile(tmp, "b.toml", "data_dir = \"/b\"\n");
  Fixture f;
  f.env["TOCSIN_CONFIG"] = a;
  auto s = f.Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->data_dir, "/a");
  EXPECT_EQ(s->origins.at("config_file"), Source::kEnvironment);

  f.inputs.flags["config_file"] = b;
  s = f.Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->data_dir, "/b");
  EXPECT_EQ(s->config_file, b);
  EXPECT_EQ(s->origins.at("config_file"), Source::kFlag);
}

TEST(Precedence, EveryTypeReadsFromEveryLayer) {
  TempDir tmp;
  Fixture f;
  f.inputs.config_file = WriteFile(tmp, "t.toml",
                                   "[limits]\n"
                                   "max_event_body = \"1MiB\"\n"
                                   "max_scan_body = 2048\n"
                                   "max_json_depth = 10\n"
                                   "[mattermost]\n"
                                   "rate_per_second = 2.5\n"
                                   "timeout = \"1500ms\"\n"
                                   "[delivery]\n"
                                   "ttl = \"1h30m\"\n"
                                   "workers = 2\n");
  auto s = f.Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->max_event_body, 1024 * 1024);
  EXPECT_EQ(s->max_scan_body, 2048);
  EXPECT_EQ(s->max_json_depth, 10);
  EXPECT_DOUBLE_EQ(s->mm_rate_per_second, 2.5);
  EXPECT_EQ(s->mm_timeout, Millis(1500));
  EXPECT_EQ(s->delivery_ttl, Millis(90 * 60 * 1000));
  EXPECT_EQ(s->delivery_workers, 2);

  f.env["TOCSIN_LIMITS_MAX_EVENT_BODY"] = "512MB";
  f.env["TOCSIN_MATTERMOST_RATE_PER_SECOND"] = "0";
  f.inputs.flags["delivery.ttl"] = "5m";
  f.inputs.flags["limits.max_scan_body"] = "100";
  s = f.Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->max_event_body, 512LL * 1000 * 1000);
  EXPECT_DOUBLE_EQ(s->mm_rate_per_second, 0);
  EXPECT_EQ(s->delivery_ttl, Millis(5 * 60 * 1000));
  EXPECT_EQ(s->max_scan_body, 100);
}

// ---------------------------------------------------------------------------------------------
// Validation: every error names the key and where the value came from.

struct BadValue {
  std::string key;
  std::string value;
  std::string problem;  // a fragment of the message
};

const std::vector<BadValue>& BadValues() {
  static const std::vector<BadValue> kBad = {
      {"listen", "localhost", "no port"},
      {"listen", "127.0.0.1:65536", "outside 0-65535"},
      {"listen", "127.0.0.1:http", "not a number"},
      {"listen", "::1:8080", "brackets"},
      {"listen", "[::1]", "port is missing"},
      {"listen", ":8080", "no host"},
      {"listen", "127.0.0.1:", "no port"},
      {"data_dir", " ", "must not be empty"},
      {"database", "mysql://x", "not a database URL"},
      {"database", "sqlite:", "needs a path"},
      {"public_url", "ftp://example.com", "not an http(s) URL"},
      {"public_url", "example.com", "not an http(s) URL"},
      {"public_url", "https://", "no host"},
      {"log_level", "verbose", "not one of trace, debug, info, warn, error"},
      {"log_format", "xml", "not one of text, json"},
      {"limits.max_event_body", "10 parsecs", "unknown size unit"},
      {"limits.max_event_body", "-5", "must not be negative"},
      {"limits.max_scan_body", "0", "at least 1"},
      {"limits.max_json_depth", "deep", "not a whole number"},
      {"limits.max_json_depth", "-1", "must not be negative"},
      {"mattermost.rate_per_second", "-1", "must not be negative"},
      {"mattermost.rate_per_second", "fast", "not a number"},
      {"mattermost.rate_per_second", "inf", "not a number"},
      {"mattermost.burst", "0", "at least 1"},
      {"mattermost.timeout", "10", "needs a unit"},
      {"mattermost.timeout", "0s", "longer than 0"},
      {"delivery.ttl", "1 week", "not a duration"},
      {"delivery.ttl", "-1h", "must not be negative"},
      {"delivery.workers", "1.5", "not a whole number"},
      {"delivery.digest_window", "-2s", "must not be negative"},
  };
  return kBad;
}

TEST(Validation, ADigestWindowOfZeroTurnsTheWaitOff) {
  Fixture f;
  EXPECT_EQ(f.Run()->digest_window, Millis(2000));
  f.env["TOCSIN_DELIVERY_DIGEST_WINDOW"] = "0s";
  auto s = f.Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->digest_window, Millis(0));
  f.env["TOCSIN_DELIVERY_DIGEST_WINDOW"] = "750ms";
  EXPECT_EQ(f.Run()->digest_window, Millis(750));
}

TEST(Validation, EnvironmentErrorsNameTheVariableAndKey) {
  for (const auto& bad : BadValues()) {
    Fixture f;
    const OptionSpec* spec = FindOption(bad.key);
    ASSERT_NE(spec, nullptr) << bad.key;
    f.env[spec->env] = bad.value;
    auto s = f.Run();
    ASSERT_FALSE(s) << bad.key << "=" << bad.value;
    EXPECT_EQ(s.error().code, "invalid_config");
    EXPECT_EQ(s.error().field, bad.key);
    EXPECT_THAT(s.error().message, HasSubstr(spec->env + " (" + bad.key + "): "));
    EXPECT_THAT(s.error().message, HasSubstr(bad.problem)) << bad.key << "=" << bad.value;
    EXPECT_FALSE(s.error().hint.empty()) << bad.key;
  }
}

TEST(Validation, FlagErrorsNameTheFlagAndKey) {
  for (const auto& bad : BadValues()) {
    Fixture f;
    const OptionSpec* spec = FindOption(bad.key);
    ASSERT_NE(spec, nullptr) << bad.key;
    f.inputs.flags[bad.key] = bad.value;
    auto s = f.Run();
    ASSERT_FALSE(s) << bad.key << "=" << bad.value;
    EXPECT_EQ(s.error().field, bad.key);
    EXPECT_THAT(s.error().message, HasSubstr(spec->flag + " (" + bad.key + "): "));
    EXPECT_THAT(s.error().message, HasSubstr(bad.problem)) << bad.key << "=" << bad.value;
  }
}

TEST(Validation, FileErrorsNameFileLineAndKey) {
  TempDir tmp;
  Fixture f;
  f.inputs.config_file =
      WriteFile(tmp, "t.toml", "# comment\nlisten = \"127.0.0.1:1\"\n\nlog_level = \"loud\"\n");
  auto s = f.Run();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "log_level");
  EXPECT_THAT(s.error().message, HasSubstr(f.inputs.config_file + ":4:"));
  EXPECT_THAT(s.error().message, HasSubstr("log_level: \"loud\" is not one of"));
}

TEST(Validation, FileValueInATableNamesTheDottedKey) {
  TempDir tmp;
  Fixture f;
  f.inputs.config_file = WriteFile(tmp, "t.toml", "[delivery]\nworkers = 0\n");
  auto s = f.Run();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "delivery.workers");
  EXPECT_THAT(s.error().message, HasSubstr(":2:"));
  EXPECT_THAT(s.error().message, HasSubstr("delivery.workers: must be at least 1"));
}

TEST(Validation, OverriddenBadValueInALowerLayerIsIgnored) {
  Fixture f;
  f.env["TOCSIN_LOG_LEVEL"] = "loud";
  f.inputs.flags["log_level"] = "debug";
  auto s = f.Run();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->log_level, "debug");
}

TEST(Validation, GoodValuesAreAccepted) {
  const std::vector<std::pair<std::string, std::string>> good = {
      {"listen", "127.0.0.1:0"},
      {"listen", "[::1]:8080"},
      {"listen", "0.0.0.0:65535"},
      {"listen", "localhost:8080"},
      {"listen", "[fe80::1%eth0]:80"},
      {"database", "sqlite:/tmp/x.db"},
      {"database", "postgres://u@h/db"},
      {"database", "postgresql://h/db"},
      {"public_url", "https://a.example"},
      {"public_url", "HTTP://a:8080/sub"},
      {"mattermost.rate_per_second", "0.5"},
      {"limits.max_event_body", "10 MiB"},
  };
  for (const auto& [key, value] : good) {
    Fixture f;
    f.inputs.flags[key] = value;
    auto s = f.Run();
    EXPECT_TRUE(s) << key << "=" << value << ": " << s.error().message;
  }
}

TEST(Validation, PublicUrlLosesTrailingSlash) {
  Fixture f;
  f.inputs.flags["public_url"] = "https://tocsin.example.com/base/";
  auto s = f.Run();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->public_url, "https://tocsin.example.com/base");
}

TEST(Validation, UnknownFlagKeyIsAnError) {
  Fixture f;
  f.inputs.flags["lissten"] = "x";
  auto s = f.Run();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "lissten");
}

// ---------------------------------------------------------------------------------------------
// The TOML file itself.

TEST(ConfigFile, SyntaxErrorHasFileAndLine) {
  TempDir tmp;
  Fixture f;
  f.inputs.config_file = WriteFile(tmp, "t.toml", "listen = \"127.0.0.1:1\"\n\ndata_dir = \n");
  auto s = f.Run();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "invalid_config");
  EXPECT_THAT(s.error().message, HasSubstr(f.inputs.config_file + ":3:"));
}

TEST(ConfigFile, DuplicateKeyIsASyntaxError) {
  TempDir tmp;
  Fixture f;
  f.inputs.config_file = WriteFile(tmp, "t.toml", "listen = \"a:1\"\nlisten = \"b:2\"\n");
  auto s = f.Run();
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message, HasSubstr(":2:"));
}

TEST(ConfigFile, UnknownKeyIsNamedWithLineAndSuggestion) {
  TempDir tmp;
  Fixture f;
  f.inputs.config_file = WriteFile(tmp, "t.toml", "listen = \"127.0.0.1:1\"\nlissten = \"x:1\"\n");
  auto s = f.Run();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "lissten");
  EXPECT_THAT(s.error().message, HasSubstr(f.inputs.config_file + ":2:"));
  EXPECT_THAT(s.error().message, HasSubstr("unknown key \"lissten\""));
  EXPECT_THAT(s.error().hint, HasSubstr("did you mean listen?"));
}

TEST(ConfigFile, KeyInTheWrongTableIsUnknown) {
  TempDir tmp;
  Fixture f;
  f.inputs.config_file = WriteFile(tmp, "t.toml", "[delivery]\nburst = 3\n");
  auto s = f.Run();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "delivery.burst");
  EXPECT_THAT(s.error().message, HasSubstr(":2:"));
  EXPECT_THAT(s.error().hint, HasSubstr("mattermost.burst"));
}

TEST(ConfigFile, UnknownTableIsNamed) {
  TempDir tmp;
  Fixture f;
  f.inputs.config_file = WriteFile(tmp, "t.toml", "\n[slack]\nurl = \"x\"\n");
  auto s = f.Run();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "slack");
  EXPECT_THAT(s.error().message, HasSubstr(":2:"));
  EXPECT_THAT(s.error().message, HasSubstr("unknown table [slack]"));
}

TEST(ConfigFile, TableNameUsedAsAValueIsUnknown) {
  TempDir tmp;
  Fixture f;
  f.inputs.config_file = WriteFile(tmp, "t.toml", "mattermost = 3\n");
  auto s = f.Run();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "mattermost");
}

TEST(ConfigFile, WrongTypeNamesKeyAndExpectedType) {
  struct Case {
    std::string toml;
    std::string key;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"listen = 8080\n", "listen", "expected a string, got an integer"},
      {"[delivery]\nworkers = \"4\"\n", "delivery.workers", "expected an integer, got a string"},
      {"[delivery]\nworkers = 4.0\n", "delivery.workers", "expected an integer, got a float"},
      {"[delivery]\nttl = 3600\n", "delivery.ttl", "expected a duration string"},
      {"[mattermost]\nrate_per_second = \"10\"\n", "mattermost.rate_per_second",
       "expected a number, got a string"},
      {"[limits]\nmax_scan_body = true\n", "limits.max_scan_body", "expected a size"},
      {"log_level = [\"info\"]\n", "log_level", "expected one of \"trace\""},
  };
  for (const auto& c : cases) {
    TempDir tmp;
    Fixture f;
    f.inputs.config_file = WriteFile(tmp, "t.toml", c.toml);
    auto s = f.Run();
    ASSERT_FALSE(s) << c.toml;
    EXPECT_EQ(s.error().field, c.key);
    EXPECT_THAT(s.error().message, HasSubstr(c.key + ": " + c.expected)) << c.toml;
    EXPECT_THAT(s.error().message, HasSubstr(f.inputs.config_file + ":"));
  }
}

TEST(ConfigFile, CannotNameAnotherConfigFile) {
  TempDir tmp;
  Fixture f;
  f.inputs.config_file = WriteFile(tmp, "t.toml", "config = \"other.toml\"\n");
  auto s = f.Run();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "config_file");
  EXPECT_THAT(s.error().hint, HasSubstr("--config"));
  f.inputs.config_file = WriteFile(tmp, "u.toml", "config_file = \"other.toml\"\n");
  s = f.Run();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "config_file");
}

TEST(ConfigFile, MissingFileIsNamed) {
  Fixture f;
  f.inputs.config_file = "/nonexistent/tocsin.toml";
  auto s = f.Run();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "config_file");
  EXPECT_THAT(s.error().message, HasSubstr("/nonexistent/tocsin.toml"));
}

// ---------------------------------------------------------------------------------------------
// Value syntaxes.

TEST(Durations, ParseUnitsAndCompounds) {
  const std::vector<std::pair<std::string, int64_t>> cases = {
      {"24h", 24LL * 3600 * 1000},
      {"500ms", 500},
      {"5m", 300000},
      {"30s", 30000},
      {"1h30m", 5400000},
      {"2d", 2LL * 86400 * 1000},
      {" 10s ", 10000},
      {"1m30s250ms", 90250},
      {"0s", 0},
  };
  for (const auto& [text, ms] : cases) {
    auto d = ParseDuration(text);
    ASSERT_TRUE(d) << text << ": " << d.error().message;
    EXPECT_EQ(d->count(), ms) << text;
  }
  for (const std::string bad :
       {"", "10", "h", "1.5h", "5 m", "3w", "-5s", "10s5", "s10", "99999999999999999999h"}) {
    EXPECT_FALSE(ParseDuration(bad)) << bad;
  }
}

TEST(Durations, FormatPicksTheLargestExactUnit) {
  EXPECT_EQ(FormatDuration(Millis(24LL * 3600 * 1000)), "24h");
  EXPECT_EQ(FormatDuration(Millis(90 * 60 * 1000)), "90m");
  EXPECT_EQ(FormatDuration(Millis(10000)), "10s");
  EXPECT_EQ(FormatDuration(Millis(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(Millis(0)), "0s");
  for (int64_t ms : {1LL, 999LL, 61000LL, 86400000LL * 3}) {
    EXPECT_EQ(ParseDuration(FormatDuration(Millis(ms)))->count(), ms);
  }
}

TEST(Sizes, ParsePlainBytesAndUnits) {
  const std::vector<std::pair<std::string, int64_t>> cases = {
      {"0", 0},
      {"1048576", 1048576},
      {"10MiB", 10LL * 1024 * 1024},
      {"512MB", 512LL * 1000 * 1000},
      {"1GiB", 1LL << 30},
      {"2gb", 2000000000LL},
      {"4 KiB", 4096},
      {"7B", 7},
      {"3kb", 3000},
  };
  for (const auto& [text, bytes] : cases) {
    auto v = ParseSize(text);
    ASSERT_TRUE(v) << text << ": " << v.error().message;
    EXPECT_EQ(*v, bytes) << text;
  }
  for (const std::string bad :
       {"", "MiB", "1.5MiB", "10 parsecs", "-1", "10TiB", "9999999999999999999", "9999999999GiB"}) {
    EXPECT_FALSE(ParseSize(bad)) << bad;
  }
}

TEST(Sizes, FormatUsesBinaryUnitsWhenExact) {
  EXPECT_EQ(FormatSize(10 * 1024 * 1024), "10MiB");
  EXPECT_EQ(FormatSize(512LL * 1024 * 1024), "512MiB");
  EXPECT_EQ(FormatSize(1000), "1000");
  EXPECT_EQ(FormatSize(2048), "2KiB");
  EXPECT_EQ(FormatSize(0), "0");
}

TEST(Listen, SplitsHostAndPort) {
  auto v4 = ParseListen("127.0.0.1:8080");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8080);
  auto v6 = ParseListen("[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  EXPECT_FALSE(ParseListen("[::1]:65536"));
  EXPECT_FALSE(ParseListen("[nothex]:80"));
  EXPECT_FALSE(ParseListen("[::1:80"));
  EXPECT_FALSE(ParseListen("a b:80"));
  EXPECT_FALSE(ParseListen("host:123456"));
}

// ---------------------------------------------------------------------------------------------
// The option table, Describe and the docs.

TEST(Options, CoverTheDocumentedNames) {
  const std::vector<std::pair<std::string, std::string>> named = {
      {"--listen", "TOCSIN_LISTEN"},
      {"--data-dir", "TOCSIN_DATA_DIR"},
      {"--database", "TOCSIN_DATABASE"},
      {"--public-url", "TOCSIN_PUBLIC_URL"},
      {"--config", "TOCSIN_CONFIG"},
      {"--log-level", "TOCSIN_LOG_LEVEL"},
      {"--log-format", "TOCSIN_LOG_FORMAT"},
      {"--master-key-file", "TOCSIN_MASTER_KEY_FILE"},
      {"--mattermost-rate-per-second", "TOCSIN_MATTERMOST_RATE_PER_SECOND"},
      {"--delivery-ttl", "TOCSIN_DELIVERY_TTL"},
  };
  for (const auto& [flag, env] : named) {
    const OptionSpec* spec = FindOptionByFlag(flag);
    ASSERT_NE(spec, nullptr) << flag;
    EXPECT_EQ(spec->env, env);
    EXPECT_EQ(FindOption(spec->key), spec);
  }
  EXPECT_EQ(FindOptionByFlag("data-dir"), FindOption("data_dir"));
  EXPECT_EQ(FindOptionByFlag("--nope"), nullptr);
  // 17 Settings fields besides `origins`.
  EXPECT_EQ(Options().size(), 17u);
  EXPECT_EQ(FlagNames().size(), Options().size());
  for (const auto& spec : Options()) {
    EXPECT_FALSE(spec.description.empty()) << spec.key;
    EXPECT_FALSE(spec.type.empty()) << spec.key;
  }
}

TEST(Options, DefaultTextMatchesSettingsDefaults) {
  EXPECT_EQ(FindOption("listen")->default_text, "127.0.0.1:8080");
  EXPECT_EQ(FindOption("limits.max_event_body")->default_text, "10MiB");
  EXPECT_EQ(FindOption("limits.max_scan_body")->default_text, "512MiB");
  EXPECT_EQ(FindOption("delivery.ttl")->default_text, "24h");
  EXPECT_EQ(FindOption("delivery.digest_window")->default_text, "2s");
  EXPECT_EQ(FindOption("mattermost.timeout")->default_text, "10s");
  EXPECT_EQ(FindOption("mattermost.rate_per_second")->default_text, "10");
  EXPECT_EQ(FindOption("log_level")->type, "enum:trace|debug|info|warn|error");
}

TEST(Describe, ShowsEveryKeyValueAndOrigin) {
  Fixture f;
  f.env["TOCSIN_DATA_DIR"] = "/srv/tocsin";
  f.inputs.flags["delivery.ttl"] = "2h";
  auto s = f.Run();
  ASSERT_TRUE(s);
  const std::string text = Describe(*s);
  EXPECT_THAT(text, HasSubstr("\"/srv/tocsin\"  (environment TOCSIN_DATA_DIR)"));
  EXPECT_THAT(text, HasSubstr("\"2h\"  (flag --delivery-ttl)"));
  EXPECT_THAT(text, HasSubstr("\"127.0.0.1:8080\"  (default)"));
  for (const auto& spec : Options()) EXPECT_THAT(text, HasSubstr(spec.key)) << spec.key;
}

TEST(Describe, NeverShowsADatabasePassword) {
  Fixture f;
  f.env["TOCSIN_DATABASE"] = "postgres://tocsin:s3cret-pw@db.internal:5432/tocsin";
  auto s = f.Run();
  ASSERT_TRUE(s) << s.error().message;
  const std::string text = Describe(*s);
  EXPECT_THAT(text, ::testing::Not(HasSubstr("s3cret-pw")));
  EXPECT_THAT(text, HasSubstr("postgres://tocsin:<redacted>@db.internal:5432/tocsin"));
  EXPECT_EQ(s->database, "postgres://tocsin:s3cret-pw@db.internal:5432/tocsin");
}

TEST(Validation, BadDatabaseUrlIsNotEchoed) {
  Fixture f;
  f.env["TOCSIN_DATABASE"] = "mysql://root:hunter2@db/x";
  auto s = f.Run();
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message, ::testing::Not(HasSubstr("hunter2")));
}

TEST(Describe, QuotesStringsAsTomlBasicStrings) {
  Fixture f;
  f.inputs.flags["data_dir"] = "C:\\a \"b\"";
  auto s = f.Run();
  ASSERT_TRUE(s);
  EXPECT_THAT(Describe(*s), HasSubstr(R"(= "C:\\a \"b\"")"));
}

TEST(Docs, TableHasARowPerOption) {
  const std::string docs = RenderDocs();
  EXPECT_THAT(docs, HasSubstr("| key | flag | env | default | description |"));
  for (const auto& spec : Options()) {
    EXPECT_THAT(docs, HasSubstr("| `" + spec.key + "` | `" + spec.flag + "` | `" + spec.env + "`"));
  }
}

// The sample file, with every key uncommented, is valid and spells out the defaults.
TEST(Docs, SampleFileUncommentedResolvesToDefaults) {
  const std::string docs = RenderDocs();
  const auto begin = docs.find("```toml\n");
  const auto end = docs.find("```\n", begin + 8);
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  std::string sample = docs.substr(begin + 8, end - begin - 8);
  sample = std::regex_replace(sample, std::regex("^# ([a-z_]+ = )", std::regex::multiline), "$1");
  TempDir tmp;
  Fixture f;
  f.inputs.config_file = WriteFile(tmp, "sample.toml", sample);
  auto s = f.Run();
  ASSERT_TRUE(s) << s.error().message << "\n" << sample;
  const Settings d;
  EXPECT_EQ(Describe(*s).find("(default)"), std::string::npos)
      << "every key should come from the file:\n"
      << Describe(*s);
  EXPECT_EQ(s->listen, d.listen);
  EXPECT_EQ(s->max_scan_body, d.max_scan_body);
  EXPECT_EQ(s->delivery_ttl, d.delivery_ttl);
  EXPECT_DOUBLE_EQ(s->mm_rate_per_second, d.mm_rate_per_second);
}

// docs/configuration.md embeds RenderDocs() verbatim. To refresh it after changing the table:
//   TOCSIN_UPDATE_DOCS=1 unit_config --gtest_filter=Docs.*
TEST(Docs, ConfigurationMdIsUpToDate) {
  const fs::path path = fs::path(TOCSIN_SOURCE_DIR) / "docs" / "configuration.md";
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << path;
  std::stringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  const std::string docs = RenderDocs();
  if (text.find(docs) == std::string::npos && std::getenv("TOCSIN_UPDATE_DOCS") != nullptr) {
    const std::string kBegin = "<!-- BEGIN GENERATED -->\n";
    const std::string kEnd = "<!-- END GENERATED -->\n";
    const auto b = text.find(kBegin);
    const auto e = text.find(kEnd);
    ASSERT_TRUE(b != std::string::npos && e != std::string::npos && b < e)
        << "configuration.md lost its generated-section markers";
    text = text.substr(0, b + kBegin.size()) + docs + text.substr(e);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }
  EXPECT_NE(text.find(docs), std::string::npos)
      << path << " is out of date with the option table; regenerate it with "
      << "TOCSIN_UPDATE_DOCS=1 unit_config --gtest_filter=Docs.* (or `tocsin config docs`)";
}

}  // namespace
}  // namespace tocsin::config
