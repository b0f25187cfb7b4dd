// app/app.hpp — the composition root: the only place that names concrete implementations.
//
// App::Create opens the store (running migrations), loads or creates the master key, makes the
// first admin token, and wires services into the HTTP API; Start() binds and serves on background
// threads; Stop() drains. RunServe() is `tocsin serve`: it blocks until SIGINT/SIGTERM and shuts
// down gracefully. Tests build an App in-process on port 0.
#pragma once

#include <memory>
#include <string>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "mattermost/diagnosis.hpp"

namespace tocsin::app {

struct AppHooks {
  const Clock* clock = nullptr;                 // default: the system clock
  mattermost::HttpClientFactory http_factory;   // default: libcurl
};

class App {
 public:
  static Result<std::unique_ptr<App>> Create(const config::Settings& settings, AppHooks hooks = {});
  virtual ~App() = default;
  virtual Result<void> Start() = 0;
  virtual uint16_t Port() const = 0;
  virtual void Stop() = 0;
  // Set when this start created the first admin token file.
  virtual const std::string& CreatedAdminTokenPath() const = 0;
};

// Configures spdlog: level (trace..error) and format ("text" or "json" lines) on stderr.
void SetupLogging(const std::string& level, const std::string& format);

// `tocsin serve`: returns the process exit code.
int RunServe(const config::Settings& settings);

}  // namespace tocsin::app
