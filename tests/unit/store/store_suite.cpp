// The shared Store behaviour: every backend must pass these (see store_suite.hpp).
#include "store_suite.hpp"

#include <gmock/gmock.h>

#include <set>
#include <thread>
#include <vector>

namespace tocsin::store::testing {
namespace {

using ::testing::HasSubstr;

MattermostSettings SampleSettings() {
  MattermostSettings s;
  s.url = "https://chat.example.com";
  s.token_sealed = "c2VhbGVkLXRva2VuLWJ5dGVz";
  s.token_hint = "wxyz";
  s.insecure = true;
  s.ca_file = "/etc/ssl/ca.pem";
  s.active = true;
  s.status = "ok";
  s.last_test_json = R"({"ok":true,"code":"ok"})";
  s.updated_at = 1796378400123;
  return s;
}

AuditEntry Audit(const std::string& action, int64_t at = 1796378400000) {
  AuditEntry e;
  e.at = at;
  e.actor = "admin";
  e.action = action;
  e.target = "integration:mattermost";
  e.detail_json = R"({"changed":["url"]})";
  return e;
}

ApiToken Token(const std::string& id, const std::string& hash) {
  ApiToken t;
  t.id = id;
  t.name = "ci-" + id;
  t.role = "project:acme-web";
  t.hash = hash;
  t.created_at = 1796378400000;
  return t;
}

void ExpectSameSettings(const MattermostSettings& a, const MattermostSettings& b) {
  EXPECT_EQ(a.url, b.url);
  EXPECT_EQ(a.token_sealed, b.token_sealed);
  EXPECT_EQ(a.token_hint, b.token_hint);
  EXPECT_EQ(a.insecure, b.insecure);
  EXPECT_EQ(a.ca_file, b.ca_file);
  EXPECT_EQ(a.active, b.active);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.last_test_json, b.last_test_json);
  EXPECT_EQ(a.updated_at, b.updated_at);
}

std::vector<AuditEntry> AllAudit(Store& store) {
  auto entries = store.ListAudit(1000, 0);
  EXPECT_TRUE(entries) << entries.error().message;
  return entries ? *entries : std::vector<AuditEntry>{};
}

TEST_P(StoreSuite, PingAnswers) { EXPECT_TRUE(store_->Ping()); }

TEST_P(StoreSuite, SettingsAreAbsentUntilSaved) {
  auto s = store_->GetMattermostSettings();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_FALSE(s->has_value());
}

TEST_P(StoreSuite, SettingsRoundTripWithTheirAuditEntry) {
  ASSERT_TRUE(
      store_->SaveMattermostSettings(SampleSettings(), Audit("integration.mattermost.update")));
  auto s = store_->GetMattermostSettings();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->has_value());
  ExpectSameSettings(**s, SampleSettings());
  const auto audit = AllAudit(*store_);
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].action, "integration.mattermost.update");
  EXPECT_EQ(audit[0].detail_json, R"({"changed":["url"]})");
}

TEST_P(StoreSuite, SavingAgainReplacesEveryField) {
  ASSERT_TRUE(store_->SaveMattermostSettings(SampleSettings(), Audit("a1")));
  MattermostSettings next;  // all defaults: empty strings, false flags
  next.url = "http://other.example:8065";
  next.updated_at = 1796378500000;
  ASSERT_TRUE(store_->SaveMattermostSettings(next, Audit("a2")));
  auto s = store_->GetMattermostSettings();
  ASSERT_TRUE(s && s->has_value());
  ExpectSameSettings(**s, next);
  EXPECT_EQ(AllAudit(*store_).size(), 2u);
}

TEST_P(StoreSuite, StatusUpdateKeepsTheSettings) {
  ASSERT_TRUE(store_->SaveMattermostSettings(SampleSettings(), Audit("save")));
  ASSERT_TRUE(store_->UpdateMattermostStatus("auth_failed", R"({"code":"token_invalid"})"));
  auto s = store_->GetMattermostSettings();
  ASSERT_TRUE(s && s->has_value());
  MattermostSettings expected = SampleSettings();
  expected.status = "auth_failed";
  expected.last_test_json = R"({"code":"token_invalid"})";
  ExpectSameSettings(**s, expected);
  EXPECT_EQ(AllAudit(*store_).size(), 1u) << "a status update is not a configuration change";
}

TEST_P(StoreSuite, StatusUpdateBeforeAnySaveCreatesDefaultSettings) {
  ASSERT_TRUE(store_->UpdateMattermostStatus("failing", "{}"));
  auto s = store_->GetMattermostSettings();
  ASSERT_TRUE(s && s->has_value());
  MattermostSettings expected;
  expected.status = "failing";
  expected.last_test_json = "{}";
  ExpectSameSettings(**s, expected);
}

TEST_P(StoreSuite, TokensAreCreatedFoundByHashAndCounted) {
  auto count = store_->CountApiTokens();
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 0);
  ASSERT_TRUE(store_->CreateApiToken(Token("t1", "hash-1"), Audit("token.create")));
  ASSERT_TRUE(store_->CreateApiToken(Token("t2", "hash-2"), Audit("token.create")));
  count = store_->CountApiTokens();
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 2);

  auto found = store_->FindApiTokenByHash("hash-2");
  ASSERT_TRUE(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->id, "t2");
  EXPECT_EQ((*found)->name, "ci-t2");
  EXPECT_EQ((*found)->role, "project:acme-web");
  EXPECT_EQ((*found)->hash, "hash-2");
  EXPECT_EQ((*found)->created_at, 1796378400000);

  auto missing = store_->FindApiTokenByHash("hash-3");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
  EXPECT_EQ(AllAudit(*store_).size(), 2u);
}

TEST_P(StoreSuite, DuplicateTokenHashIsAConflictAndWritesNothing) {
  ASSERT_TRUE(store_->CreateApiToken(Token("t1", "same-hash"), Audit("token.create")));
  auto dup = store_->CreateApiToken(Token("t2", "same-hash"), Audit("token.create"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, "conflict");
  EXPECT_EQ(dup.error().field, "hash");
  EXPECT_THAT(dup.error().message, ::testing::Not(HasSubstr("same-hash")));
  EXPECT_EQ(*store_->CountApiTokens(), 1);
  EXPECT_EQ(AllAudit(*store_).size(), 1u) << "the audit entry shares the failed transaction";
}

TEST_P(StoreSuite, DuplicateTokenIdIsAConflict) {
  ASSERT_TRUE(store_->CreateApiToken(Token("t1", "h1"), Audit("token.create")));
  auto dup = store_->CreateApiToken(Token("t1", "h2"), Audit("token.create"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, "conflict");
}

TEST_P(StoreSuite, AuditIsListedNewestFirstAndPages) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(store_->AppendAudit(Audit("action." + std::to_string(i), 1000 + i)));
  }
  const auto all = AllAudit(*store_);
  ASSERT_EQ(all.size(), 7u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].action, "action." + std::to_string(6 - i));
    EXPECT_EQ(all[i].at, 1000 + 6 - static_cast<int64_t>(i));
    if (i > 0) {
      EXPECT_LT(all[i].id, all[i - 1].id);
    }
  }

  // Page through with before_id = the last id seen.
  std::vector<std::string> paged;
  int64_t before = 0;
  for (int page = 0; page < 10; ++page) {  // bounded: 7 entries need 3 pages + 1 empty
    auto entries = store_->ListAudit(3, before);
    ASSERT_TRUE(entries);
    if (entries->empty()) break;
    EXPECT_LE(entries->size(), 3u);
    for (const auto& e : *entries) paged.push_back(e.action);
    before = entries->back().id;
  }
  ASSERT_EQ(paged.size(), 7u);
  for (size_t i = 0; i < paged.size(); ++i) EXPECT_EQ(paged[i], all[i].action);

  auto none = store_->ListAudit(0, 0);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreSuite, AuditKeepsTextExactlyAndDefaultsEmptyDetail) {
  AuditEntry e = Audit("x");
  e.actor = "O'Brien \"ops\" \xF0\x9F\x94\x94";
  e.detail_json = R"({"note":"it's \"quoted\"; DROP TABLE audit_log;--"})";
  ASSERT_TRUE(store_->AppendAudit(e));
  AuditEntry empty = Audit("y");
  empty.detail_json = "";
  ASSERT_TRUE(store_->AppendAudit(empty));
  const auto all = AllAudit(*store_);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].actor, e.actor);
  EXPECT_EQ(all[1].detail_json, e.detail_json);
  EXPECT_EQ(all[0].detail_json, "{}");
}

TEST_P(StoreSuite, MigrationsAreIdempotentOnReopen) {
  const int64_t latest = backend_->LatestKnownVersion();
  ASSERT_GE(latest, 1);
  EXPECT_EQ(backend_->SchemaVersion(), latest);
  EXPECT_EQ(backend_->MigrationRows(), latest);
  for (int i = 0; i < 2; ++i) {
    Reopen();
    EXPECT_EQ(backend_->SchemaVersion(), latest);
    EXPECT_EQ(backend_->MigrationRows(), latest);
  }
}

TEST_P(StoreSuite, NewerSchemaIsRefusedNamingBothVersions) {
  const int64_t latest = backend_->LatestKnownVersion();
  store_.reset();
  backend_->RecordSchemaVersion(latest + 5);
  auto opened = backend_->Open();
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "schema_too_new");
  EXPECT_THAT(opened.error().message, HasSubstr("version " + std::to_string(latest + 5)));
  EXPECT_THAT(opened.error().message, HasSubstr("up to " + std::to_string(latest)));
  EXPECT_FALSE(opened.error().hint.empty());
}

TEST_P(StoreSuite, DataPersistsAcrossReopen) {
  ASSERT_TRUE(store_->SaveMattermostSettings(SampleSettings(), Audit("save")));
  ASSERT_TRUE(store_->CreateApiToken(Token("t1", "h1"), Audit("token.create")));
  Reopen();
  auto s = store_->GetMattermostSettings();
  ASSERT_TRUE(s && s->has_value());
  ExpectSameSettings(**s, SampleSettings());
  auto t = store_->FindApiTokenByHash("h1");
  ASSERT_TRUE(t && t->has_value());
  EXPECT_EQ((*t)->id, "t1");
  EXPECT_EQ(AllAudit(*store_).size(), 2u);
  // Ids keep growing after a restart (the log is append-only, ids are cursors).
  const int64_t last_id = AllAudit(*store_).front().id;
  ASSERT_TRUE(store_->AppendAudit(Audit("after")));
  EXPECT_GT(AllAudit(*store_).front().id, last_id);
}

TEST_P(StoreSuite, ConcurrentWritersAllLand) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!store_->AppendAudit(Audit("t" + std::to_string(t) + "." + std::to_string(i)))) {
          ++failures[t];
        }
        if (!store_->GetMattermostSettings()) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
  const auto all = AllAudit(*store_);
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<int64_t> ids;
  for (const auto& e : all) ids.insert(e.id);
  EXPECT_EQ(ids.size(), all.size());
}

}  // namespace
}  // namespace tocsin::store::testing
