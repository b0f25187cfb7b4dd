// mm-emulator: the fake Mattermost server as a standalone process (demo, browser tests,
// benchmarks). Without --seed it builds the demo world and prints its ids and tokens; it serves
// until SIGINT or SIGTERM.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "emulator.hpp"

namespace {

bool SplitListen(const std::string& listen, std::string* host, int* port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  *host = listen.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);  // [::1]:8065
  }
  try {
    size_t used = 0;
    *port = std::stoi(listen.substr(colon + 1), &used);
    return used == listen.size() - colon - 1 && *port >= 0 && *port <= 65535 && !host->empty();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "mm-emulator: a fake Mattermost server (REST API v4 subset) for tests and demos. "
      "Not a real Mattermost; /_emulator/ is its control API."};
  std::string listen = "127.0.0.1:8065";
  mmemu::Options options;
  double rate_limit = 0;
  int burst = 100;
  bool pat_disabled = false;
  std::string seed_file;
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0 picks a free one)")
      ->capture_default_str();
  app.add_option("--subpath", options.subpath, "serve under this path, e.g. /mattermost");
  app.add_option("--tls-cert", options.cert_file, "PEM certificate (with --tls-key: HTTPS)");
  app.add_option("--tls-key", options.key_file, "PEM private key");
  app.add_option("--version", options.version, "server version reported in X-Version-Id")
      ->capture_default_str();
  app.add_option("--max-post-runes", options.max_post_runes,
                 "longest message accepted, in code points (4000 mimics old servers)")
      ->capture_default_str();
  app.add_flag("--pat-disabled", pat_disabled,
               "EnableUserAccessTokens=false: humans' tokens answer 401, bots' still work");
  app.add_option("--rate-limit", rate_limit, "requests per second per client IP (0 = off)");
  app.add_option("--burst", burst, "rate limiter MaxBurst")->capture_default_str();
  app.add_option("--seed", seed_file, "JSON file describing the world (see README.md)");
  app.add_option("--dedup-ttl-ms", options.dedup_ttl_ms,
                 "how long a pending_post_id is remembered (0 = not at all)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (!SplitListen(listen, &options.host, &options.port)) {
    std::cerr << "mm-emulator: --listen must be HOST:PORT, got \"" << listen << "\"\n";
    return 2;
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    std::cerr << "mm-emulator: --tls-cert and --tls-key go together\n";
    return 2;
  }
  options.enable_user_access_tokens = !pat_disabled;

  // Block the stop signals before any thread starts so only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  mmemu::Emulator emulator(options);
  std::ostringstream banner;
  if (!seed_file.empty()) {
    std::ifstream in(seed_file);
    nlohmann::json world = nlohmann::json::parse(in, nullptr, false);
    if (!in || world.is_discarded()) {
      std::cerr << "mm-emulator: cannot read JSON from --seed " << seed_file << "\n";
      return 2;
    }
    nlohmann::json ids = emulator.Seed(world);
    if (ids.contains("error")) {
      std::cerr << "mm-emulator: --seed " << seed_file << ": " << ids["error"].get<std::string>()
                << "\n";
      return 2;
    }
    banner << "  seeded from " << seed_file << ":\n" << ids.dump(2) << "\n";
  } else {
    std::string team = emulator.AddTeam("security", "Security");
    std::string alerts = emulator.AddChannel(team, "alerts", 'O');
    std::string scans = emulator.AddChannel(team, "scans", 'O');
    std::string incidents = emulator.AddChannel(team, "incidents", 'P');
    std::string bot = emulator.AddBot("tocsin-bot");
    emulator.AddTeamMember(team, bot);
    emulator.AddChannelMember(alerts, bot);
    emulator.AddChannelMember(scans, bot);
    std::string alice = emulator.AddUser("alice");
    emulator.AddTeamMember(team, alice);
    for (const std::string& channel : {alerts, scans, incidents}) {
      emulator.AddChannelMember(channel, alice);
    }
    std::string bot_token = emulator.CreateToken(bot);
    std::string alice_token = emulator.CreateToken(alice);
    banner << "  team     security            " << team << "\n"
           << "  channel  security/alerts     " << alerts << "  (public, bot is a member)\n"
           << "  channel  security/scans      " << scans << "  (public, bot is a member)\n"
           << "  channel  security/incidents  " << incidents << "  (private, bot is NOT a member)\n"
           << "  bot      tocsin-bot          " << bot << "\n"
           << "  user     alice               " << alice << "\n"
           << "  bot token (tocsin-bot):  " << bot_token << "\n"
           << "  user token (alice, PAT): " << alice_token
           << (pat_disabled ? "  (PATs disabled: answers 401)" : "") << "\n";
  }
  if (rate_limit > 0) emulator.SetRateLimit(rate_limit, burst);

  if (!emulator.Start()) return 1;
  std::cout << "mm-emulator: fake Mattermost " << options.version << " (not a real server)\n"
            << "listening on " << emulator.base_url() << "\n"
            << banner.str() << "  control API (not Mattermost): " << emulator.base_url()
            << "/_emulator/\n"
            << "Ctrl-C stops.\n"
            << std::flush;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::cout << "mm-emulator: stopping (" << (signal_number == SIGINT ? "SIGINT" : "SIGTERM")
            << ")\n"
            << std::flush;
  emulator.Stop();
  return 0;
}
