// FakeHttpClient: an HttpClient that answers from a script and records what it was asked.
//
// A `FakeServer` holds the script (answers by method + path-with-query, where the path is what
// follows scheme://host:port) and the record of requests; `Factory()` hands out clients bound to
// it, as TestConnection's HttpClientFactory wants. An unscripted request fails the test and gets
// a NetError, so a test cannot pass by accident on a path it did not expect.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mattermost/diagnosis.hpp"
#include "net/http_client.hpp"

namespace tocsin::mattermost::testing {

struct RecordedRequest {
  std::string method;
  std::string url;
  std::string path;  // path + query
  std::vector<net::Header> headers;
  std::string body;
  std::string bearer_token;  // revealed: tests assert where the token went
};

class FakeServer {
 public:
  void On(const std::string& method, const std::string& path, net::HttpResult result) {
    script_[{method, path}] = std::move(result);
  }
  net::HttpResult Answer(const net::HttpRequest& request) {
    RecordedRequest r{request.method,  request.url,  PathOf(request.url),
                      request.headers, request.body, request.bearer_token.Reveal()};
    requests_.push_back(r);
    auto it = script_.find({r.method, r.path});
    if (it == script_.end()) {
      ADD_FAILURE() << "unscripted request: " << r.method << " " << r.url;
      return tl::unexpected(net::NetError{net::NetErrorKind::kOther, "unscripted"});
    }
    return it->second;
  }
  const std::vector<RecordedRequest>& requests() const { return requests_; }
  const std::optional<net::HttpClientOptions>& options() const { return options_; }
  int clients_made() const { return clients_made_; }

  HttpClientFactory Factory();

 private:
  static std::string PathOf(const std::string& url) {
    const size_t scheme = url.find("://");
    const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    return slash == std::string::npos ? "/" : url.substr(slash);
  }

  std::map<std::pair<std::string, std::string>, net::HttpResult> script_;
  std::vector<RecordedRequest> requests_;
  std::optional<net::HttpClientOptions> options_;
  int clients_made_ = 0;
};

class FakeHttpClient final : public net::HttpClient {
 public:
  explicit FakeHttpClient(FakeServer& server) : server_(server) {}
  net::HttpResult Send(const net::HttpRequest& request) override { return server_.Answer(request); }

 private:
  FakeServer& server_;
};

inline HttpClientFactory FakeServer::Factory() {
  return [this](const net::HttpClientOptions& options) -> std::unique_ptr<net::HttpClient> {
    options_ = options;
    ++clients_made_;
    return std::make_unique<FakeHttpClient>(*this);
  };
}

// --- canned answers, shaped like Mattermost's (API-FACTS §2, §11) -----------------------------

inline net::HttpResponse Json(long status, const nlohmann::json& body,
                              std::vector<net::Header> extra = {}) {
  net::HttpResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"},
               {"X-Request-Id", "req4711req4711req4711req47"},
               {"X-Version-Id", "9.11.2.12345.0123456789abcdef.false"}};
  for (auto& h : extra) r.headers.push_back(std::move(h));
  r.body = body.dump();
  return r;
}

inline net::HttpResponse AppError(long status, const std::string& id, const std::string& message) {
  return Json(status, {{"id", id},
                       {"message", message},
                       {"detailed_error", ""},
                       {"request_id", "req4711req4711req4711req47"},
                       {"status_code", status}});
}

inline net::HttpResponse Text(long status, std::string content_type, std::string body,
                              std::vector<net::Header> extra = {}) {
  net::HttpResponse r;
  r.status = status;
  r.headers = {{"Content-Type", std::move(content_type)}};
  for (auto& h : extra) r.headers.push_back(std::move(h));
  r.body = std::move(body);
  return r;
}

inline net::HttpResponse PingOk() {
  return Json(200, {{"status", "OK"}, {"ActiveSearchBackend", "database"}});
}

inline net::HttpResponse Me(const std::string& username, bool is_bot) {
  nlohmann::json user = {{"id", "uid4uid4uid4uid4uid4uid4ui"},
                         {"username", username},
                         {"roles", "system_user"},
                         {"delete_at", 0}};
  if (is_bot) user["is_bot"] = true;
  return Json(200, user);
}

inline net::HttpResponse ChannelJson(const std::string& id, const std::string& name,
                                     int64_t delete_at = 0) {
  return Json(200, {{"id", id},
                    {"team_id", "tid4tid4tid4tid4tid4tid4ti"},
                    {"name", name},
                    {"display_name", "Security Alerts"},
                    {"type", "O"},
                    {"delete_at", delete_at}});
}

inline net::HttpResponse MemberJson(const std::string& channel_id) {
  return Json(200, {{"channel_id", channel_id},
                    {"user_id", "uid4uid4uid4uid4uid4uid4ui"},
                    {"roles", "channel_user"}});
}

inline net::HttpResult NetFail(net::NetErrorKind kind, std::string detail) {
  return tl::unexpected(net::NetError{kind, std::move(detail)});
}

}  // namespace tocsin::mattermost::testing
