// Loopback TCP endpoints that misbehave on purpose, for testing clients' network error handling.
//
// RawTcpServer listens on 127.0.0.1 (ephemeral port) and accepts connections on its own thread.
// By default it holds every connection open without ever answering (a hung server: clients hit
// their total timeout). Given `answer`, it reads the request head (up to the blank line, bounded)
// and writes those raw bytes, then closes the connection if `close_after_answer`.
// ClosedPort is a loopback port that is bound but not listening: connecting to it is refused
// (Linux answers the SYN with RST), and as long as it lives nobody else can take the port.
// SilentPort is a loopback port whose accept queue is full: the kernel drops further SYNs, so a
// connect attempt neither succeeds nor is refused and runs into the client's connect timeout.
// The destructors stop and join within a bounded time; nothing here sleeps.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace tocsin::testing {

class RawTcpServer {
 public:
  struct Options {
    std::optional<std::string> answer;  // nullopt: accept and never answer
    bool close_after_answer = true;
  };
  RawTcpServer() : RawTcpServer(Options{}) {}
  explicit RawTcpServer(Options options);
  ~RawTcpServer();
  RawTcpServer(const RawTcpServer&) = delete;
  RawTcpServer& operator=(const RawTcpServer&) = delete;

  int port() const { return port_; }
  std::string url() const;  // "http://127.0.0.1:<port>"
  // Number of connections accepted so far.
  int accepted() const;
  // Waits (bounded) until at least `n` connections were accepted.
  bool WaitForAccepted(int n, std::chrono::milliseconds timeout) const;

 private:
  void Run();

  Options options_;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // a pipe: writing to it ends Run()
  int port_ = 0;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  int accepted_ = 0;
  std::vector<int> connections_;
  std::thread thread_;
};

class ClosedPort {
 public:
  ClosedPort();
  ~ClosedPort();
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class SilentPort {
 public:
  SilentPort();
  ~SilentPort();
  SilentPort(const SilentPort&) = delete;
  SilentPort& operator=(const SilentPort&) = delete;
  int port() const { return port_; }

 private:
  int listen_fd_ = -1;
  std::vector<int> fillers_;
  int port_ = 0;
};

}  // namespace tocsin::testing
