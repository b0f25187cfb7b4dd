#include "support/raw_tcp_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <stdexcept>
#include <string>

namespace tocsin::testing {
namespace {

constexpr size_t kMaxRequestHead = 64 * 1024;

int BindLoopback(int* port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("bind() failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

void WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the client went away; nothing to report
    off += static_cast<size_t>(n);
  }
}

}  // namespace

RawTcpServer::RawTcpServer(Options options) : options_(std::move(options)) {
  listen_fd_ = BindLoopback(&port_);
  if (::listen(listen_fd_, 64) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("listen() failed");
  }
  if (::pipe2(wake_fds_, O_CLOEXEC) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("pipe2() failed");
  }
  thread_ = std::thread([this] { Run(); });
}

RawTcpServer::~RawTcpServer() {
  const char byte = 'x';
  (void)!::write(wake_fds_[1], &byte, 1);
  thread_.join();
  for (int fd : connections_) ::close(fd);
  ::close(listen_fd_);
  ::close(wake_fds_[0]);
  ::close(wake_fds_[1]);
}

std::string RawTcpServer::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

int RawTcpServer::accepted() const {
  std::lock_guard lock(mu_);
  return accepted_;
}

bool RawTcpServer::WaitForAccepted(int n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return accepted_ >= n; });
}

void RawTcpServer::Run() {
  // Connections still waiting for their request head (answer mode only), with what arrived.
  std::map<int, std::string> pending;
  while (true) {
    std::vector<pollfd> fds{{wake_fds_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (const auto& [fd, _] : pending) fds.push_back({fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents != 0) return;
    if (fds[1].revents & POLLIN) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        {
          std::lock_guard lock(mu_);
          ++accepted_;
          connections_.push_back(fd);
        }
        cv_.notify_all();
        if (options_.answer) pending[fd];
      }
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      const int fd = fds[i].fd;
      std::string& head = pending[fd];
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) head.append(buf, static_cast<size_t>(n));
      const bool complete =
          head.find("\r\n\r\n") != std::string::npos || n <= 0 || head.size() >= kMaxRequestHead;
      if (!complete) continue;
      pending.erase(fd);
      if (n > 0) WriteAll(fd, *options_.answer);
      if (options_.close_after_answer) {
        std::lock_guard lock(mu_);
        std::erase(connections_, fd);
        ::close(fd);
      }
    }
  }
}

ClosedPort::ClosedPort() { fd_ = BindLoopback(&port_); }

ClosedPort::~ClosedPort() { ::close(fd_); }

SilentPort::SilentPort() {
  listen_fd_ = BindLoopback(&port_);
  // Backlog 0 still queues one connection; the next SYNs are dropped (never answered with RST).
  if (::listen(listen_fd_, 0) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("listen() failed");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  // Fill the queue: connect until one attempt stays unanswered (bounded: a handful of tries).
  for (int i = 0; i < 8; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) break;
    fillers_.push_back(fd);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) continue;
    if (errno != EINPROGRESS) break;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 200) == 0) return;  // this SYN was dropped: the queue is full
  }
  for (int fd : fillers_) ::close(fd);
  ::close(listen_fd_);
  throw std::runtime_error("could not fill the accept queue of a loopback listener");
}

SilentPort::~SilentPort() {
  for (int fd : fillers_) ::close(fd);
  ::close(listen_fd_);
}

}  // namespace tocsin::testing
