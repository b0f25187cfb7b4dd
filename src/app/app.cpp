#include "app/app.hpp"

#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "api/api.hpp"
#include "api/http_server.hpp"
#include "core/memory.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "core/version.hpp"
#include "net/http_client.hpp"
#include "outbox/engine.hpp"
#include "security/crypto.hpp"
#include "service/auth_service.hpp"
#include "service/event_service.hpp"
#include "service/integration_service.hpp"
#include "service/project_service.hpp"
#include "store/pipeline.hpp"
#include "store/store.hpp"

namespace tocsin::app {

namespace {

std::string InstanceName(const std::string& data_dir) {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::error_code ec;
  const auto dir = std::filesystem::absolute(data_dir, ec);
  return std::string(host) + ":" + (ec ? data_dir : dir.lexically_normal().string());
}

// The engine's view of the global integration, read through a short cache: deliveries check it
// for every claim, and a saved change must show within a second.
class CachedIntegrationState final : public outbox::IntegrationState {
 public:
  CachedIntegrationState(store::Store& store, service::IntegrationService& integrations,
                         const Clock& clock)
      : store_(store), integrations_(integrations), clock_(clock) {}

  std::optional<mattermost::ConnectionSettings> Connection() override {
    std::lock_guard lock(mu_);
    Refresh();
    return connection_;
  }

  std::string Status() override {
    std::lock_guard lock(mu_);
    Refresh();
    return status_;
  }

  bool Active() { return Connection().has_value(); }

  void ReportStatus(const std::string& status, const std::string& detail) override {
    std::lock_guard lock(mu_);
    auto current = store_.GetMattermostSettings();
    if (!current || !*current || (*current)->status == status) return;
    if (auto r = store_.UpdateMattermostStatus(status, (*current)->last_test_json); !r) {
      spdlog::warn("cannot record integration status status={} error={}", status,
                   r.error().message);
      return;
    }
    spdlog::warn("mattermost integration status changed from={} to={} detail={}",
                 (*current)->status, status, detail);
    status_ = status;
  }

  void Invalidate() {
    std::lock_guard lock(mu_);
    fetched_at_ = TimePoint{};
  }

 private:
  // A read that fails (the store, or the master key opening the token) keeps what was known and
  // is tried again at the next call: taken for "inactive", it would have made the events
  // accepted meanwhile create no deliveries.
  void Refresh() {
    const TimePoint now = clock_.Now();
    if (fetched_at_ != TimePoint{} && now - fetched_at_ < Millis(500) && now >= fetched_at_) return;
    auto conn = integrations_.ActiveConnection();
    auto s = store_.GetMattermostSettings();
    if (!conn || !s) {
      if (!read_failing_) {  // once per run of failures: this is asked for every event
        spdlog::warn("cannot read the Mattermost integration; keeping its last known state "
                     "error={}",
                     (!conn ? conn.error() : s.error()).message);
      }
      read_failing_ = true;
      return;
    }
    if (read_failing_) spdlog::info("the Mattermost integration can be read again");
    read_failing_ = false;
    fetched_at_ = now;
    connection_ = std::move(*conn);
    status_ = *s ? (*s)->status : "unknown";
  }

  store::Store& store_;
  service::IntegrationService& integrations_;
  const Clock& clock_;
  std::mutex mu_;
  TimePoint fetched_at_{};
  bool read_failing_ = false;
  std::optional<mattermost::ConnectionSettings> connection_;
  std::string status_ = "unknown";
};

class AppImpl final : public App {
 public:
  AppImpl(const config::Settings& settings, const Clock& clock, std::unique_ptr<store::Store> store,
          security::MasterKey key, mattermost::HttpClientFactory http)
      : settings_(settings),
        clock_(clock),
        store_(std::move(store)),
        key_(std::move(key)),
        http_(std::move(http)),
        auth_(*store_, clock_),
        integrations_(*store_, key_, clock_, http_, settings_.mm_timeout),
        state_(*store_, integrations_, clock_),
        projects_(store_->pipeline(), integrations_, clock_, http_, settings_.public_url),
        events_(
            store_->pipeline(), clock_, settings_.delivery_ttl, settings_.digest_window,
            [this] { return state_.Active(); }, [this] { engine_->Wake(); }) {}

  Result<void> Init() {
    integrations_.SetOnChange([this] {
      state_.Invalidate();
      if (engine_) engine_->Wake();
    });
    auto created = auth_.EnsureAdminToken(settings_.data_dir);
    if (!created) return Unexpected(created.error());
    if (*created) admin_token_path_ = **created;
    outbox::EngineOptions eo;
    eo.workers = static_cast<int>(settings_.delivery_workers);
    eo.rate_per_second = settings_.mm_rate_per_second;
    eo.burst = static_cast<int>(settings_.mm_burst);
    eo.timeout = settings_.mm_timeout;
    eo.public_url = settings_.public_url;
    eo.digest_window = settings_.digest_window;
    // A lease owner that survives a restart: after a crash the same instance takes its channels
    // back at once instead of waiting out its own leases (instances sharing a database differ by
    // host or data directory).
    eo.owner = InstanceName(settings_.data_dir);
    engine_ = outbox::MakeEngine(store_->pipeline(), state_, clock_, http_, metrics_, eo);
    api::ServerOptions options;
    options.listen = settings_.listen;
    options.body_limit = api::MakeBodyLimit(settings_);
    api::ApiDeps deps{settings_, *store_,  auth_,    integrations_, projects_, events_,
                      store_->pipeline(), metrics_, clock_, [this] { engine_->Wake(); }};
    server_ = api::MakeHttpServer(options, api::MakeApiHandler(deps));
    return {};
  }

  Result<void> Start() override {
    if (auto r = server_->Start(); !r) return r;
    engine_->Start();
    return {};
  }
  uint16_t Port() const override { return server_->Port(); }
  void Stop() override {
    // Stop taking requests first, then let the engine finish what it is sending.
    if (server_) server_->Stop(std::chrono::seconds(10));
    if (engine_) engine_->Stop();
  }
  const std::string& CreatedAdminTokenPath() const override { return admin_token_path_; }

 private:
  config::Settings settings_;
  const Clock& clock_;
  std::unique_ptr<store::Store> store_;
  security::MasterKey key_;
  Metrics metrics_;
  mattermost::HttpClientFactory http_;
  service::AuthService auth_;
  service::IntegrationService integrations_;
  CachedIntegrationState state_;
  service::ProjectService projects_;
  service::EventService events_;
  std::unique_ptr<outbox::Engine> engine_;
  std::unique_ptr<api::HttpServer> server_;
  std::string admin_token_path_;
};

}  // namespace

Result<std::unique_ptr<App>> App::Create(const config::Settings& settings, AppHooks hooks) {
  InitRandom();
  std::error_code ec;
  std::filesystem::create_directories(settings.data_dir, ec);
  if (ec) {
    return Fail("invalid_config",
                "cannot create the data directory " + settings.data_dir + ": " + ec.message(),
                "choose a writable --data-dir");
  }
  std::filesystem::permissions(settings.data_dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  auto key = security::MasterKey::LoadOrCreate(settings.master_key_file, settings.data_dir);
  if (!key) return Unexpected(key.error());
  auto store = store::OpenStore(settings.database, settings.data_dir);
  if (!store) return Unexpected(store.error());
  const Clock& clock = hooks.clock ? *hooks.clock : SystemClock::Instance();
  auto http = hooks.http_factory ? hooks.http_factory : [](const net::HttpClientOptions& o) {
    return net::MakeCurlHttpClient(o);
  };
  auto app = std::make_unique<AppImpl>(settings, clock, std::move(*store), std::move(*key),
                                       std::move(http));
  if (auto r = app->Init(); !r) return Unexpected(r.error());
  return std::unique_ptr<App>(std::move(app));
}

namespace {

// One JSON object per line: {"time","level","msg"}; the message is escaped.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        msg.time.time_since_epoch()).count();
    std::string line = "{\"time\":\"" + FormatRfc3339(FromUnixMillis(ms)) + "\",\"level\":\"" +
                       std::string(spdlog::level::to_string_view(msg.level).data(),
                                   spdlog::level::to_string_view(msg.level).size()) +
                       "\",\"msg\":\"";
    for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
      switch (c) {
        case '"': line += "\\\""; break;
        case '\\': line += "\\\\"; break;
        case '\n': line += "\\n"; break;
        case '\r': line += "\\r"; break;
        case '\t': line += "\\t"; break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            line += fmt::format("\\u{:04x}", c);
          } else {
            line += c;
          }
      }
    }
    line += "\"}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

void SetupLogging(const std::string& level, const std::string& format) {
  auto logger = spdlog::stderr_color_mt("tocsin");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  if (format == "json") {
    spdlog::set_formatter(std::make_unique<JsonFormatter>());
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
  }
  spdlog::flush_on(spdlog::level::info);
}

int RunServe(const config::Settings& settings) {
  // Block the stop signals before any thread starts, so only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  net::GlobalInit();

  auto app = App::Create(settings);
  if (!app) {
    spdlog::error("cannot start: {} — {}", app.error().message, app.error().hint);
    return 1;
  }
  if (auto r = (*app)->Start(); !r) {
    spdlog::error("cannot start: {} — {}", r.error().message, r.error().hint);
    return 1;
  }
  spdlog::info("tocsin {} serving port={} data_dir={} database={} allocator={}", kVersion,
               (*app)->Port(), settings.data_dir,
               settings.database.empty() ? "sqlite (data dir)" : "configured", AllocatorName());
  if (!(*app)->CreatedAdminTokenPath().empty()) {
    spdlog::info("first start: an admin API token was written to {} (mode 0600); use it as "
                 "'Authorization: Bearer <token>' or to sign in to the web UI",
                 (*app)->CreatedAdminTokenPath());
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*app)->Stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace tocsin::app
