#include "cli/cli.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "app/app.hpp"
#include "cli/scan_upload.hpp"
#include "config/config.hpp"
#include "core/random.hpp"
#include "core/strings.hpp"
#include "core/version.hpp"
#include "mattermost/diagnosis.hpp"
#include "net/http_client.hpp"
#include "service/auth_service.hpp"
#include "store/store.hpp"

namespace tocsin::cli {

namespace {

// Registers every option of the configuration table that has a flag, so `serve`, `token create`
// and `config show` accept the same flags and resolve them the same way.
class ConfigFlags {
 public:
  void Register(CLI::App* cmd) {
    for (const auto& spec : config::Options()) {
      if (spec.flag.empty()) continue;
      auto& slot = values_[spec.key];
      options_[spec.key] = cmd->add_option(spec.flag, slot, spec.description);
    }
    if (!values_.count("config_file")) {
      options_["config_file"] = cmd->add_option("--config", config_file_, "TOML configuration file");
    }
  }

  Result<config::Settings> Resolve() const {
    config::Inputs in;
    for (const auto& [key, opt] : options_) {
      if (opt->count() == 0) continue;
      if (key == "config_file" && !values_.count("config_file")) {
        in.config_file = config_file_;
      } else {
        in.flags[key] = values_.at(key);
      }
    }
    in.getenv = [](const std::string& name) -> std::optional<std::string> {
      const char* v = std::getenv(name.c_str());
      if (!v) return std::nullopt;
      return std::string(v);
    };
    if (in.config_file.empty()) {
      if (auto it = in.flags.find("config_file"); it != in.flags.end()) in.config_file = it->second;
    }
    return config::Resolve(in);
  }

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, CLI::Option*> options_;
  std::string config_file_;
};

int PrintError(const Error& e, int code = 2) {
  std::cerr << "tocsin: " << e.message << "\n";
  if (!e.hint.empty()) std::cerr << "  hint: " << e.hint << "\n";
  return code;
}

int MattermostTest(const std::string& url, std::string token, bool insecure,
                   const std::string& ca_file, const std::string& channel) {
  net::GlobalInit();
  if (token == "-") {
    // Read the token from stdin so it stays out of shell history and `ps`.
    std::getline(std::cin, token);
  } else if (token.empty()) {
    if (const char* env = std::getenv("TOCSIN_MATTERMOST_TOKEN")) token = env;
  }
  mattermost::ConnectionSettings s;
  s.url = std::string(Trim(url));
  s.token = Secret(std::string(Trim(token)));
  s.insecure = insecure;
  s.ca_file = ca_file;
  std::optional<std::string> ch;
  if (!channel.empty()) ch = channel;
  mattermost::TestResult r;
  if (s.token.empty()) {
    r.code = "token_invalid";
    r.message = "No access token given";
    r.hint = "pass --token TOKEN, --token - (read from stdin) or set TOCSIN_MATTERMOST_TOKEN";
  } else {
    r = mattermost::TestConnection(
        s, ch, [](const net::HttpClientOptions& o) { return net::MakeCurlHttpClient(o); });
  }
  const bool tty = ::isatty(STDOUT_FILENO);
  const char* green = tty ? "\033[32m" : "";
  const char* red = tty ? "\033[31m" : "";
  const char* reset = tty ? "\033[0m" : "";
  if (r.ok) {
    std::cout << green << "ok" << reset << ": " << r.message << "\n";
    if (r.user) std::cout << "  user id " << r.user->id << "\n";
    if (r.channel_id) std::cout << "  channel " << channel << " = " << *r.channel_id << "\n";
    return 0;
  }
  std::cout << red << r.code << reset << ": " << r.message << "\n";
  if (!r.hint.empty()) std::cout << "  hint: " << r.hint << "\n";
  return 1;
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"Tocsin: application-security events into Mattermost"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("tocsin ") + kVersion);

  // serve
  auto* serve = app.add_subcommand("serve", "Run the service: API, web UI, delivery workers");
  ConfigFlags serve_flags;
  serve_flags.Register(serve);

  // mattermost test
  auto* mm = app.add_subcommand("mattermost", "Mattermost connection tools");
  mm->require_subcommand(1);
  auto* mm_test = mm->add_subcommand("test", "Test Connection from a shell (exit 0 only for ok)");
  std::string url, token, ca_file, channel;
  bool insecure = false;
  mm_test->add_option("--url", url, "Mattermost base URL, e.g. https://chat.example.com")->required();
  mm_test->add_option("--token", token,
                      "bot or personal access token; '-' reads it from stdin; default "
                      "$TOCSIN_MATTERMOST_TOKEN");
  mm_test->add_flag("--insecure", insecure, "do not verify the server's TLS certificate");
  mm_test->add_option("--ca-file", ca_file, "PEM file of the CA that signed the server certificate");
  mm_test->add_option("--channel", channel, "also check posting to this channel (id or team/channel)");

  // token create
  auto* tok = app.add_subcommand("token", "API tokens");
  tok->require_subcommand(1);
  auto* tok_create = tok->add_subcommand("create", "Create an API token (printed once)");
  ConfigFlags token_flags;
  token_flags.Register(tok_create);
  std::string tok_name, tok_role;
  tok_create->add_option("--name", tok_name, "a name for the token (shown in the audit log)")->required();
  tok_create->add_option("--role", tok_role, "admin or project:NAME")->required();

  // config
  auto* cfg = app.add_subcommand("config", "Configuration");
  cfg->require_subcommand(1);
  auto* cfg_show = cfg->add_subcommand("show", "Print each setting, its value and where it came from");
  ConfigFlags show_flags;
  show_flags.Register(cfg_show);
  auto* cfg_docs = cfg->add_subcommand("docs", "Print the configuration reference (Markdown)");

  // scan upload
  auto* scan = app.add_subcommand("scan", "Scans");
  scan->require_subcommand(1);
  auto* upload = scan->add_subcommand("upload", "Upload a SARIF file (from CI) and print the summary");
  ScanUploadOptions up;
  upload->add_option("--server", up.server, "Tocsin's base URL, e.g. https://tocsin.example.com")->required();
  upload->add_option("--token", up.token,
                     "API token (default $TOCSIN_TOKEN; - reads it from standard input)");
  upload->add_option("--project", up.project, "project name")->required();
  upload->add_option("--scanner", up.scanner, "scanner name (default: the tool named in the file)");
  upload->add_option("--branch", up.branch, "branch (default: default)");
  upload->add_flag("--insecure", up.insecure, "do not verify the server's TLS certificate");
  upload->add_option("--ca-file", up.ca_file, "PEM file of the CA that signed the server certificate");
  upload->add_flag("--json", up.json, "print the server's JSON answer");
  upload->add_option("file", up.file, "the SARIF file (plain or .gz)")->required();

  auto* version = app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error is 2, whatever CLI11's own code.
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (version->parsed()) {
    std::cout << "tocsin " << kVersion << "\n";
    return 0;
  }
  if (cfg_docs->parsed()) {
    std::cout << config::RenderDocs();
    return 0;
  }
  if (cfg_show->parsed()) {
    auto s = show_flags.Resolve();
    if (!s) return PrintError(s.error());
    std::cout << config::Describe(*s);
    return 0;
  }
  if (mm_test->parsed()) return MattermostTest(url, token, insecure, ca_file, channel);
  if (upload->parsed()) {
    if (up.token.empty()) {
      if (const char* env = std::getenv("TOCSIN_TOKEN")) up.token = env;
    }
    return RunScanUpload(up);
  }
  if (tok_create->parsed()) {
    auto s = token_flags.Resolve();
    if (!s) return PrintError(s.error());
    InitRandom();
    auto store = store::OpenStore(s->database, s->data_dir);
    if (!store) return PrintError(store.error(), 1);
    service::AuthService auth(**store, SystemClock::Instance());
    auto created = auth.CreateToken(tok_name, tok_role, "cli");
    if (!created) return PrintError(created.error(), created.error().code == "invalid_request" ? 2 : 1);
    std::cout << created->token.Reveal() << "\n";
    std::cerr << "token '" << tok_name << "' (" << tok_role
              << ") created; it is shown only this once — store it now\n";
    return 0;
  }
  if (serve->parsed()) {
    auto s = serve_flags.Resolve();
    if (!s) return PrintError(s.error());
    app::SetupLogging(s->log_level, s->log_format);
    return app::RunServe(*s);
  }
  return 2;
}

}  // namespace tocsin::cli
