// An in-process `tocsin serve` on 127.0.0.1:0 over a temporary data dir, with an HTTP client
// that already carries the admin token. Log lines are captured so tests can check them for
// secrets.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "app/app.hpp"
#include "config/config.hpp"
#include "support/temp_dir.hpp"

namespace tocsin::testing {

struct HttpReply {
  int status = 0;
  std::string body;
  httplib::Headers headers;
  nlohmann::json Json() const;
};

class TocsinServer {
 public:
  // `tweak` may change settings before start (listen and data_dir are set already).
  explicit TocsinServer(const std::function<void(config::Settings&)>& tweak = {});
  ~TocsinServer();

  uint16_t port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& admin_token() const { return admin_token_; }
  const TempDir& dir() const { return dir_; }
  config::Settings& settings() { return settings_; }

  // Requests with the admin token (or `token` when given; "" sends no Authorization header).
  HttpReply Get(const std::string& path, const std::optional<std::string>& token = std::nullopt);
  HttpReply Delete(const std::string& path, const std::optional<std::string>& token = std::nullopt);
  HttpReply Send(const std::string& method, const std::string& path, const std::string& body,
                 const std::string& content_type = "application/json",
                 const std::optional<std::string>& token = std::nullopt);
  HttpReply Put(const std::string& path, const nlohmann::json& body) {
    return Send("PUT", path, body.dump());
  }
  HttpReply Post(const std::string& path, const nlohmann::json& body) {
    return Send("POST", path, body.dump());
  }

  // Everything logged since the server started, and every response body seen by this client.
  std::string Logs() const;
  std::string Transcript() const;

  void Stop();

 private:
  HttpReply Record(httplib::Result r);

  TempDir dir_;
  config::Settings settings_;
  std::unique_ptr<app::App> app_;
  uint16_t port_ = 0;
  std::string admin_token_;
  std::unique_ptr<httplib::Client> client_;
  mutable std::mutex mu_;
  std::string transcript_;
};

// Installs a log sink that captures every spdlog line (process-wide) from now on.
void CaptureLogs();
std::string CapturedLogs();

}  // namespace tocsin::testing
