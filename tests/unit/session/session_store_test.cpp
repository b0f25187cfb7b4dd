// The web UI's session store and cookie helpers (api/session.hpp).
#include <gtest/gtest.h>

#include <set>

#include "api/session.hpp"
#include "core/random.hpp"
#include "support/fake_clock.hpp"

namespace tocsin::api {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using testing::FakeClock;

class SessionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { InitRandom(); }
  FakeClock clock_;
};

TEST_F(SessionStoreTest, ACreatedSessionIsFoundByItsIdWithItsTokenHashAndCsrfToken) {
  SessionStore store(clock_);
  NewSession s = store.Create("hash-a");
  EXPECT_EQ(s.id.size(), 64u);
  EXPECT_EQ(s.csrf_token.size(), 64u);
  EXPECT_NE(s.id, s.csrf_token);
  auto found = store.Find(s.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->token_hash, "hash-a");
  EXPECT_EQ(found->csrf_token, s.csrf_token);
}

TEST_F(SessionStoreTest, UnknownOrEmptyIdsFindNothing) {
  SessionStore store(clock_);
  NewSession s = store.Create("hash-a");
  EXPECT_FALSE(store.Find(""));
  EXPECT_FALSE(store.Find("nope"));
  EXPECT_FALSE(store.Find(s.csrf_token));  // the CSRF token is not a session id
  EXPECT_FALSE(store.Find(s.id.substr(0, 63)));
}

TEST_F(SessionStoreTest, IdsAndCsrfTokensAreUnique) {
  SessionStore store(clock_);
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    NewSession s = store.Create("h");
    EXPECT_TRUE(seen.insert(s.id).second);
    EXPECT_TRUE(seen.insert(s.csrf_token).second);
  }
}

TEST_F(SessionStoreTest, AnIdleSessionExpiresAfterTheIdleTimeout) {
  SessionStore store(clock_);  // 12 h idle by default
  NewSession s = store.Create("h");
  clock_.Advance(hours(12) - minutes(1));
  EXPECT_TRUE(store.Find(s.id));
  clock_.Advance(hours(12));
  EXPECT_FALSE(store.Find(s.id));
  EXPECT_EQ(store.size(), 0u);  // the expired session was dropped
}

TEST_F(SessionStoreTest, UseKeepsASessionAliveUntilTheAbsoluteLimit) {
  SessionStore store(clock_, {.idle = hours(2), .absolute = hours(10), .max_sessions = 10});
  NewSession s = store.Create("h");
  for (int i = 0; i < 9; ++i) {
    clock_.Advance(hours(1));
    ASSERT_TRUE(store.Find(s.id)) << "hour " << i + 1;
  }
  clock_.Advance(hours(1));
  EXPECT_FALSE(store.Find(s.id));
}

TEST_F(SessionStoreTest, RemoveSignsOutOneSession) {
  SessionStore store(clock_);
  NewSession a = store.Create("h");
  NewSession b = store.Create("h");
  EXPECT_TRUE(store.Remove(a.id));
  EXPECT_FALSE(store.Remove(a.id));
  EXPECT_FALSE(store.Find(a.id));
  EXPECT_TRUE(store.Find(b.id));
}

TEST_F(SessionStoreTest, RemoveForTokenEndsEverySessionOfThatToken) {
  SessionStore store(clock_);
  NewSession a1 = store.Create("token-a");
  NewSession a2 = store.Create("token-a");
  NewSession b = store.Create("token-b");
  store.RemoveForToken("token-a");
  EXPECT_FALSE(store.Find(a1.id));
  EXPECT_FALSE(store.Find(a2.id));
  EXPECT_TRUE(store.Find(b.id));
}

TEST_F(SessionStoreTest, AtCapacityTheLeastRecentlyUsedSessionGoes) {
  SessionStore store(clock_, {.idle = hours(12), .absolute = hours(100), .max_sessions = 3});
  NewSession a = store.Create("h");
  clock_.Advance(minutes(1));
  NewSession b = store.Create("h");
  clock_.Advance(minutes(1));
  NewSession c = store.Create("h");
  clock_.Advance(minutes(1));
  ASSERT_TRUE(store.Find(a.id));  // a is now the most recently used
  clock_.Advance(minutes(1));
  NewSession d = store.Create("h");
  EXPECT_EQ(store.size(), 3u);
  EXPECT_TRUE(store.Find(a.id));
  EXPECT_FALSE(store.Find(b.id));
  EXPECT_TRUE(store.Find(c.id));
  EXPECT_TRUE(store.Find(d.id));
}

TEST(CsrfTokensEqual, OnlyTheSameNonEmptyTokenMatches) {
  EXPECT_TRUE(CsrfTokensEqual("abc123", "abc123"));
  EXPECT_FALSE(CsrfTokensEqual("abc123", "abc124"));
  EXPECT_FALSE(CsrfTokensEqual("abc123", "abc12"));
  EXPECT_FALSE(CsrfTokensEqual("abc123", ""));
  EXPECT_FALSE(CsrfTokensEqual("", ""));  // a session always has a token; empty never passes
}

TEST(CookieValue, FindsTheNamedCookieAmongOthers) {
  EXPECT_EQ(CookieValue("tocsin_session=abc", "tocsin_session"), "abc");
  EXPECT_EQ(CookieValue("a=1; tocsin_session=abc; b=2", "tocsin_session"), "abc");
  EXPECT_EQ(CookieValue("a=1;tocsin_session=\"abc\"", "tocsin_session"), "abc");
  EXPECT_EQ(CookieValue("x_tocsin_session=evil; tocsin_session=ok", "tocsin_session"), "ok");
  EXPECT_FALSE(CookieValue("x_tocsin_session=evil", "tocsin_session"));
  EXPECT_FALSE(CookieValue("", "tocsin_session"));
  EXPECT_FALSE(CookieValue("tocsin_session", "tocsin_session"));
  EXPECT_EQ(CookieValue("tocsin_session=", "tocsin_session"), "");
}

TEST(SessionCookie, IsHttpOnlyStrictForTheWholeSiteAndSecureOnlyOverHttps) {
  const std::string plain = SessionCookie("id1", false);
  EXPECT_EQ(plain, "tocsin_session=id1; Path=/; HttpOnly; SameSite=Strict");
  const std::string secure = SessionCookie("id1", true);
  EXPECT_EQ(secure, "tocsin_session=id1; Path=/; HttpOnly; SameSite=Strict; Secure");
  const std::string cleared = ClearedSessionCookie(false);
  EXPECT_EQ(cleared.rfind("tocsin_session=;", 0), 0u);
  EXPECT_NE(cleared.find("Max-Age=0"), std::string::npos);
}

}  // namespace
}  // namespace tocsin::api
