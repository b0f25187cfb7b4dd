// Shared world and HTTP helpers for the emulator conformance tests: every test talks to a real
// in-process mmemu::Emulator over loopback HTTP with httplib::Client.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "emulator.hpp"

namespace mmemu::testing {

using nlohmann::json;

// The world:
//   team "security": bot, alice
//     alerts   (O)  bot, alice
//     scans    (O)  alice            (bot in the team, not in the channel)
//     incidents(P)  alice            (bot not a member)
//     ops      (P)  bot, alice
//     old      (O)  bot, alice       (archived)
//   team "other": alice
//     general  (O)  alice
class EmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override { StartWith(Options{}); }

  void StartWith(Options options) {
    emu_.reset();
    emu_ = std::make_unique<Emulator>(std::move(options));
    team_ = emu_->AddTeam("security", "Security");
    other_team_ = emu_->AddTeam("other");
    alerts_ = emu_->AddChannel(team_, "alerts", 'O');
    scans_ = emu_->AddChannel(team_, "scans", 'O');
    incidents_ = emu_->AddChannel(team_, "incidents", 'P');
    ops_ = emu_->AddChannel(team_, "ops", 'P');
    old_ = emu_->AddChannel(team_, "old", 'O');
    general_ = emu_->AddChannel(other_team_, "general", 'O');
    bot_ = emu_->AddBot("tocsin-bot");
    alice_ = emu_->AddUser("alice");
    emu_->AddTeamMember(team_, bot_);
    emu_->AddTeamMember(team_, alice_);
    emu_->AddTeamMember(other_team_, alice_);
    for (const std::string& c : {alerts_, ops_, old_}) emu_->AddChannelMember(c, bot_);
    for (const std::string& c : {alerts_, scans_, incidents_, ops_, old_, general_}) {
      emu_->AddChannelMember(c, alice_);
    }
    emu_->ArchiveChannel(old_);
    bot_token_ = emu_->CreateToken(bot_);
    alice_token_ = emu_->CreateToken(alice_);
    ASSERT_TRUE(emu_->Start());
  }

  std::unique_ptr<httplib::Client> Client() const {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", emu_->port());
    client->set_tcp_nodelay(true);
    client->set_connection_timeout(2);
    client->set_read_timeout(5);
    return client;
  }

  static httplib::Headers Bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }

  httplib::Result Get(const std::string& path, const std::string& token) const {
    return Client()->Get(path.c_str(), Bearer(token));
  }
  httplib::Result Post(const std::string& path, const std::string& token,
                       const std::string& body) const {
    return Client()->Post(path.c_str(), Bearer(token), body, "application/json");
  }
  httplib::Result Put(const std::string& path, const std::string& token,
                      const std::string& body) const {
    return Client()->Put(path.c_str(), Bearer(token), body, "application/json");
  }
  httplib::Result CreatePost(const std::string& token, const json& post) const {
    return Post("/api/v4/posts", token, post.dump());
  }

  static json Body(const httplib::Result& r) { return json::parse(r->body, nullptr, false); }

  // The AppError checks every error answer must pass (API-FACTS §2).
  static void ExpectAppError(const httplib::Result& r, int status, const std::string& id) {
    ASSERT_TRUE(r) << "no response";
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    json body = Body(r);
    ASSERT_TRUE(body.is_object()) << r->body;
    EXPECT_EQ(body.value("id", ""), id) << r->body;
    EXPECT_EQ(body.value("status_code", 0), status);
    EXPECT_EQ(body.value("detailed_error", "x"), "");
    EXPECT_FALSE(body.contains("is_oauth"));
    std::string request_id = r->get_header_value("X-Request-Id");
    EXPECT_EQ(request_id.size(), 26u);
    EXPECT_EQ(body.value("request_id", ""), request_id);
  }

  static std::set<std::string> Keys(const json& object) {
    std::set<std::string> keys;
    for (auto it = object.begin(); it != object.end(); ++it) keys.insert(it.key());
    return keys;
  }

  std::unique_ptr<Emulator> emu_;
  std::string team_, other_team_, alerts_, scans_, incidents_, ops_, old_, general_;
  std::string bot_, alice_, bot_token_, alice_token_;
};

}  // namespace mmemu::testing
