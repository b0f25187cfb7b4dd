#include "support/tocsin_server.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "core/strings.hpp"

namespace tocsin::testing {

namespace {
std::mutex g_log_mu;
std::ostringstream g_log_stream;
bool g_capturing = false;
}  // namespace

void CaptureLogs() {
  std::lock_guard lock(g_log_mu);
  if (g_capturing) return;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(g_log_stream);
  auto logger = std::make_shared<spdlog::logger>("test", sink);
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::trace);
  g_capturing = true;
}

std::string CapturedLogs() {
  spdlog::default_logger()->flush();
  std::lock_guard lock(g_log_mu);
  return g_log_stream.str();
}

nlohmann::json HttpReply::Json() const {
  return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
}

TocsinServer::TocsinServer(const std::function<void(config::Settings&)>& tweak) {
  CaptureLogs();
  settings_.listen = "127.0.0.1:0";
  settings_.data_dir = (dir_.path() / "var").string();
  settings_.mm_timeout = Millis(3000);
  // Lone new findings are posted at once unless a test sets a digest window (the default, 2 s,
  // would only slow every test that waits for one).
  settings_.digest_window = Millis(0);
  if (tweak) tweak(settings_);
  auto app = app::App::Create(settings_);
  if (!app) throw std::runtime_error("App::Create failed: " + app.error().message);
  app_ = std::move(*app);
  if (auto r = app_->Start(); !r) throw std::runtime_error("Start failed: " + r.error().message);
  port_ = app_->Port();
  std::ifstream in(settings_.data_dir + "/admin-token");
  std::getline(in, admin_token_);
  client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
  client_->set_tcp_nodelay(true);
  client_->set_read_timeout(30, 0);
}

TocsinServer::~TocsinServer() { Stop(); }

void TocsinServer::Stop() {
  if (app_) app_->Stop();
  app_.reset();
}

HttpReply TocsinServer::Record(httplib::Result r) {
  HttpReply reply;
  if (!r) {
    reply.status = -1;
    reply.body = "transport error: " + httplib::to_string(r.error());
    return reply;
  }
  reply.status = r->status;
  reply.body = r->body;
  reply.headers = r->headers;
  std::lock_guard lock(mu_);
  for (const auto& [k, v] : r->headers) transcript_ += k + ": " + v + "\n";
  transcript_ += r->body + "\n";
  return reply;
}

static httplib::Headers AuthHeaders(const std::string& token) {
  httplib::Headers h;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  return h;
}

HttpReply TocsinServer::Get(const std::string& path, const std::optional<std::string>& token) {
  return Record(client_->Get(path, AuthHeaders(token.value_or(admin_token_))));
}

HttpReply TocsinServer::Delete(const std::string& path, const std::optional<std::string>& token) {
  return Record(client_->Delete(path, AuthHeaders(token.value_or(admin_token_))));
}

HttpReply TocsinServer::Send(const std::string& method, const std::string& path,
                             const std::string& body, const std::string& content_type,
                             const std::optional<std::string>& token) {
  httplib::Request req;
  req.method = method;
  req.path = path;
  req.headers = AuthHeaders(token.value_or(admin_token_));
  if (!content_type.empty()) req.headers.emplace("Content-Type", content_type);
  req.body = body;
  return Record(client_->send(req));
}

std::string TocsinServer::Logs() const { return CapturedLogs(); }

std::string TocsinServer::Transcript() const {
  std::lock_guard lock(mu_);
  return transcript_;
}

}  // namespace tocsin::testing
