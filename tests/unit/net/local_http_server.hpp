// LocalHttpServer: a cpp-httplib server (plain or TLS) on 127.0.0.1, ephemeral port, own thread.
// Register handlers on server() before Start(); the destructor stops and joins. Shared by the net
// unit tests and the diagnosis integration tests (a plain HTML server that is not Mattermost).
#pragma once

#include <httplib.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace tocsin::testing {

class LocalHttpServer {
 public:
  LocalHttpServer() : server_(std::make_unique<httplib::Server>()), scheme_("http") {}
  // TLS server with a PEM certificate (chain) and key.
  LocalHttpServer(const std::string& cert_file, const std::string& key_file)
      : server_(std::make_unique<httplib::SSLServer>(cert_file.c_str(), key_file.c_str())),
        scheme_("https") {
    if (!server_->is_valid()) throw std::runtime_error("cannot load TLS certificate " + cert_file);
  }
  ~LocalHttpServer() {
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  LocalHttpServer(const LocalHttpServer&) = delete;
  LocalHttpServer& operator=(const LocalHttpServer&) = delete;

  httplib::Server& server() { return *server_; }

  // Binds and starts serving. The socket listens once this returns, so requests made right after
  // wait in the backlog instead of failing.
  void Start() {
    server_->set_tcp_nodelay(true);
    port_ = server_->bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("cannot bind a loopback port");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    // stop() is a no-op until the accept loop runs, so a server destroyed right after Start()
    // would never end: wait (bounded) for the loop.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!server_->is_running()) {
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("server not running");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  int port() const { return port_; }
  // e.g. url("/x") == "http://127.0.0.1:1234/x"; `host` lets TLS tests use another name.
  std::string url(const std::string& path = "", const std::string& host = "127.0.0.1") const {
    return scheme_ + "://" + host + ":" + std::to_string(port_) + path;
  }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::string scheme_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace tocsin::testing
