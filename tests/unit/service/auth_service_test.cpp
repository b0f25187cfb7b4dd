// AuthService: tokens authenticate by hash, and recently found ones are served from memory.
#include "service/auth_service.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "store/sqlite/sqlite_store.hpp"
#include "support/fake_clock.hpp"

namespace tocsin::service {
namespace {

namespace fs = std::filesystem;
using testing::FakeClock;

// A real store that counts token lookups.
class CountingStore final : public store::Store {
 public:
  explicit CountingStore(std::unique_ptr<store::sqlite::SqliteStore> inner)
      : inner_(std::move(inner)) {}
  int lookups() const { return lookups_.load(); }

  Result<void> Ping() override { return inner_->Ping(); }
  Result<std::optional<store::MattermostSettings>> GetMattermostSettings() override {
    return inner_->GetMattermostSettings();
  }
  Result<void> SaveMattermostSettings(const store::MattermostSettings& s,
                                      const store::AuditEntry& a) override {
    return inner_->SaveMattermostSettings(s, a);
  }
  Result<void> UpdateMattermostStatus(const std::string& status,
                                      const std::string& last_test_json) override {
    return inner_->UpdateMattermostStatus(status, last_test_json);
  }
  Result<void> CreateApiToken(const store::ApiToken& t, const store::AuditEntry& a) override {
    return inner_->CreateApiToken(t, a);
  }
  Result<std::optional<store::ApiToken>> FindApiTokenByHash(const std::string& hash) override {
    ++lookups_;
    return inner_->FindApiTokenByHash(hash);
  }
  Result<int64_t> CountApiTokens() override { return inner_->CountApiTokens(); }
  Result<void> AppendAudit(const store::AuditEntry& e) override { return inner_->AppendAudit(e); }
  Result<std::vector<store::AuditEntry>> ListAudit(int limit, int64_t before_id) override {
    return inner_->ListAudit(limit, before_id);
  }
  store::PipelineStore& pipeline() override { return inner_->pipeline(); }

 private:
  std::unique_ptr<store::sqlite::SqliteStore> inner_;
  std::atomic<int> lookups_{0};
};

class AuthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tocsin-auth-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto opened = store::sqlite::SqliteStore::Open((dir_ / "tocsin.db").string());
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::make_unique<CountingStore>(std::move(*opened));
    auth_ = std::make_unique<AuthService>(*store_, clock_);
  }
  void TearDown() override {
    auth_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  fs::path dir_;
  FakeClock clock_;
  std::unique_ptr<CountingStore> store_;
  std::unique_ptr<AuthService> auth_;
};

TEST_F(AuthServiceTest, AFoundTokenIsServedFromMemoryForTenSeconds) {
  auto created = auth_->CreateToken("ci", "project:web", "admin");
  ASSERT_TRUE(created);
  for (int i = 0; i < 3; ++i) {
    auto who = auth_->Authenticate(created->token);
    ASSERT_TRUE(who && who->has_value());
    EXPECT_EQ((*who)->name, "ci");
    EXPECT_EQ((*who)->role, "project:web");
  }
  EXPECT_EQ(store_->lookups(), 1) << "one read, then memory";

  clock_.Advance(std::chrono::milliseconds(9999));
  ASSERT_TRUE(auth_->Authenticate(created->token));
  EXPECT_EQ(store_->lookups(), 1);
  clock_.Advance(std::chrono::milliseconds(1));
  auto again = auth_->Authenticate(created->token);
  ASSERT_TRUE(again && again->has_value());
  EXPECT_EQ(store_->lookups(), 2) << "after 10 s the store is asked again";

  clock_.Advance(std::chrono::hours(-1));  // the clock went back: the entry is not trusted
  ASSERT_TRUE(auth_->Authenticate(created->token));
  EXPECT_EQ(store_->lookups(), 3);
}

TEST_F(AuthServiceTest, UnknownTokensAreNeverRememberedSoANewTokenWorksAtOnce) {
  const Secret unknown("tcn_not-a-token");
  for (int i = 0; i < 3; ++i) {
    auto who = auth_->Authenticate(unknown);
    ASSERT_TRUE(who);
    EXPECT_FALSE(who->has_value());
  }
  EXPECT_EQ(store_->lookups(), 3);
  auto empty = auth_->Authenticate(Secret(""));
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->has_value());
  EXPECT_EQ(store_->lookups(), 3) << "an empty token is refused without a lookup";

  // A token created by another process (tocsin token create) is found on its first use.
  AuthService other(*store_, clock_);
  auto created = other.CreateToken("later", "admin", "system");
  ASSERT_TRUE(created);
  auto who = auth_->Authenticate(created->token);
  ASSERT_TRUE(who && who->has_value());
  EXPECT_EQ((*who)->name, "later");
}

}  // namespace
}  // namespace tocsin::service
