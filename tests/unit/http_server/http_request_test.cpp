#include <gtest/gtest.h>

#include "api/http_server.hpp"

namespace tocsin::api {
namespace {

Request WithQuery(std::string query) {
  Request request;
  request.query = std::move(query);
  return request;
}

TEST(RequestHeader, FindsLowerCasedNameWhateverCaseTheCallerUses) {
  Request request;
  request.headers = {{"content-type", "application/json"}, {"x-trace", "1"}, {"x-trace", "2"}};
  EXPECT_EQ(request.Header("content-type"), "application/json");
  EXPECT_EQ(request.Header("Content-Type"), "application/json");
  EXPECT_EQ(request.Header("x-trace"), "1");  // a repeated header answers its first value
  EXPECT_EQ(request.Header("authorization"), std::nullopt);
}

TEST(RequestQuery, DecodesPlusAndPercentEscapes) {
  const Request request = WithQuery("scanner=sem+grep&branch=feature%2Fx%20y&empty=&flag");
  EXPECT_EQ(request.Query("scanner"), "sem grep");
  EXPECT_EQ(request.Query("branch"), "feature/x y");
  EXPECT_EQ(request.Query("empty"), "");
  EXPECT_EQ(request.Query("flag"), "");
  EXPECT_EQ(request.Query("missing"), std::nullopt);
}

TEST(RequestQuery, MatchesDecodedNamesAndAnswersTheFirstOccurrence) {
  const Request request = WithQuery("min%5Fseverity=high&min_severity=low");
  EXPECT_EQ(request.Query("min_severity"), "high");
}

TEST(RequestQuery, KeepsMalformedEscapesAsWritten) {
  const Request request = WithQuery("a=100%&b=%zz&c=%4");
  EXPECT_EQ(request.Query("a"), "100%");
  EXPECT_EQ(request.Query("b"), "%zz");
  EXPECT_EQ(request.Query("c"), "%4");
}

TEST(RequestQuery, IgnoresEmptyPairsAndAValueWithoutAName) {
  const Request request = WithQuery("&&=orphan&status=open&");
  EXPECT_EQ(request.Query("status"), "open");
  EXPECT_EQ(request.Query(""), std::nullopt);
}

TEST(RequestQuery, EmptyQueryHasNoParameters) { EXPECT_EQ(WithQuery("").Query("a"), std::nullopt); }

}  // namespace
}  // namespace tocsin::api
