// A raw HTTP/1.1 client over a POSIX socket, for the framing cases a real client library will not
// produce (malformed requests, dribbled headers, pipelining, Expect: 100-continue). Every read
// waits with poll() against a deadline, so a test never hangs on a server that says nothing.
#pragma once

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tocsin::api::raw_http {

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class RawConnection {
 public:
  using Ms = std::chrono::milliseconds;

  // Connects to host (a numeric address) and port; nullopt when the connection is refused.
  static std::optional<RawConnection> Connect(const std::string& host, uint16_t port) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) {
      return std::nullopt;
    }
    const int fd = socket(found->ai_family, found->ai_socktype, found->ai_protocol);
    const bool ok = fd >= 0 && connect(fd, found->ai_addr, found->ai_addrlen) == 0;
    freeaddrinfo(found);
    if (!ok) {
      if (fd >= 0) close(fd);
      return std::nullopt;
    }
    return RawConnection(fd);
  }

  RawConnection(RawConnection&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), pending_(std::move(other.pending_)) {}
  RawConnection& operator=(RawConnection&&) = delete;
  RawConnection(const RawConnection&) = delete;
  ~RawConnection() {
    if (fd_ >= 0) close(fd_);
  }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // One response: status line, header, and a Content-Length body (none for HEAD and 1xx/204/304).
  std::optional<RawResponse> ReadResponse(Ms timeout = Ms(5000), bool head = false) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t end = std::string::npos;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return std::nullopt;
    }
    RawResponse response;
    const std::string head_text = pending_.substr(0, end);
    pending_.erase(0, end + 4);
    size_t line_end = head_text.find("\r\n");
    const std::string status_line = head_text.substr(0, line_end);
    if (status_line.size() < 12) return std::nullopt;
    response.status = std::stoi(status_line.substr(9, 3));
    while (line_end != std::string::npos) {
      const size_t start = line_end + 2;
      line_end = head_text.find("\r\n", start);
      const std::string line = head_text.substr(start, line_end - start);
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t value_start = colon + 1;
      while (value_start < line.size() && line[value_start] == ' ') ++value_start;
      response.headers[name] = line.substr(value_start);
    }
    const bool bodiless =
        head || response.status < 200 || response.status == 204 || response.status == 304;
    const std::string length = response.Header("content-length");
    if (!bodiless && !length.empty()) {
      const size_t n = std::stoul(length);
      while (pending_.size() < n) {
        if (!Fill(deadline)) return std::nullopt;
      }
      response.body = pending_.substr(0, n);
      pending_.erase(0, n);
    }
    return response;
  }

  // True when the server closes the connection (EOF or reset) before `timeout`.
  bool WaitClosed(Ms timeout = Ms(5000)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto result = FillOnce(deadline);
      if (result == FillResult::kClosed) return true;
      if (result == FillResult::kTimeout) return false;
    }
  }

  // Bytes received but not consumed by ReadResponse.
  const std::string& Pending() const { return pending_; }

 private:
  enum class FillResult { kData, kClosed, kTimeout };

  explicit RawConnection(int fd) : fd_(fd) {}

  bool Fill(std::chrono::steady_clock::time_point deadline) {
    return FillOnce(deadline) == FillResult::kData;
  }

  FillResult FillOnce(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      const auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return FillResult::kTimeout;
      pollfd p{fd_, POLLIN, 0};
      const int ready = poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return FillResult::kTimeout;
      char buffer[16384];
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return FillResult::kClosed;
      pending_.append(buffer, static_cast<size_t>(n));
      return FillResult::kData;
    }
  }

  int fd_ = -1;
  std::string pending_;
};

// True when a TCP connection to host:port is accepted by the kernel.
inline bool CanConnect(const std::string& host, uint16_t port) {
  return RawConnection::Connect(host, port).has_value();
}

}  // namespace tocsin::api::raw_http
