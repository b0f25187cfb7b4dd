// ClassifyCurlFailure for the cases a loopback test cannot produce.
#include "net/curl_error.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <cerrno>

#include "net/url.hpp"

namespace tocsin::net {
namespace {

CurlFailure Failure(CURLcode code, std::string text = "") {
  CurlFailure f;
  f.code = code;
  f.error_text = std::move(text);
  return f;
}

TEST(ClassifyCurlFailure, ConnectFailuresByErrno) {
  CurlFailure f = Failure(CURLE_COULDNT_CONNECT, "Failed to connect to x port 1");
  f.os_errno = ECONNREFUSED;
  EXPECT_EQ(ClassifyCurlFailure(f).kind, NetErrorKind::kConnectionRefused);
  f.os_errno = ENETUNREACH;
  EXPECT_EQ(ClassifyCurlFailure(f).kind, NetErrorKind::kUnreachable);
  f.os_errno = EHOSTUNREACH;
  EXPECT_EQ(ClassifyCurlFailure(f).kind, NetErrorKind::kUnreachable);
  f.os_errno = ETIMEDOUT;
  EXPECT_EQ(ClassifyCurlFailure(f).kind, NetErrorKind::kConnectTimeout);
  f.os_errno = 0;
  EXPECT_EQ(ClassifyCurlFailure(f).kind, NetErrorKind::kOther);
  EXPECT_EQ(ClassifyCurlFailure(f).detail, "Failed to connect to x port 1");
}

TEST(ClassifyCurlFailure, TimeoutBeforeConnectIsConnectTimeoutAfterIsTimeout) {
  CurlFailure f = Failure(CURLE_OPERATION_TIMEDOUT, "Connection timed out after 300 ms");
  EXPECT_EQ(ClassifyCurlFailure(f).kind, NetErrorKind::kConnectTimeout);
  f.connected = true;
  EXPECT_EQ(ClassifyCurlFailure(f).kind, NetErrorKind::kTimeout);
  EXPECT_EQ(ClassifyCurlFailure(
                Failure(CURLE_OPERATION_TIMEDOUT, "Resolving timed out after 5000 milliseconds"))
                .kind,
            NetErrorKind::kDnsFailure);
}

TEST(ClassifyCurlFailure, DnsFailure) {
  EXPECT_EQ(ClassifyCurlFailure(Failure(CURLE_COULDNT_RESOLVE_HOST)).kind,
            NetErrorKind::kDnsFailure);
  EXPECT_EQ(ClassifyCurlFailure(Failure(CURLE_COULDNT_RESOLVE_PROXY)).kind,
            NetErrorKind::kDnsFailure);
}

TEST(ClassifyCurlFailure, TlsVerifyResults) {
  CurlFailure f = Failure(CURLE_PEER_FAILED_VERIFICATION, "SSL certificate problem");
  f.ssl_verify_result = 18;  // X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
  EXPECT_EQ(ClassifyCurlFailure(f).kind, NetErrorKind::kTlsUntrusted);
  f.ssl_verify_result = 20;  // X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
  EXPECT_EQ(ClassifyCurlFailure(f).kind, NetErrorKind::kTlsUntrusted);
  f.ssl_verify_result = 10;  // X509_V_ERR_CERT_HAS_EXPIRED
  EXPECT_EQ(ClassifyCurlFailure(f).kind, NetErrorKind::kTlsExpired);
  f.ssl_verify_result = 9;  // X509_V_ERR_CERT_NOT_YET_VALID
  EXPECT_EQ(ClassifyCurlFailure(f).kind, NetErrorKind::kTlsExpired);
  f.ssl_verify_result = 62;  // X509_V_ERR_HOSTNAME_MISMATCH
  EXPECT_EQ(ClassifyCurlFailure(f).kind, NetErrorKind::kTlsHostMismatch);
}

TEST(ClassifyCurlFailure, TlsHostMismatchFromLibcurlsOwnCheck) {
  EXPECT_EQ(ClassifyCurlFailure(Failure(CURLE_PEER_FAILED_VERIFICATION,
                                        "SSL: no alternative certificate subject name matches "
                                        "target host name 'localhost'"))
                .kind,
            NetErrorKind::kTlsHostMismatch);
  EXPECT_EQ(ClassifyCurlFailure(Failure(CURLE_PEER_FAILED_VERIFICATION,
                                        "SSL: certificate subject name 'a' does not match target "
                                        "host name 'b'"))
                .kind,
            NetErrorKind::kTlsHostMismatch);
  EXPECT_EQ(ClassifyCurlFailure(Failure(CURLE_PEER_FAILED_VERIFICATION, "weird")).kind,
            NetErrorKind::kTlsUntrusted);
}

TEST(ClassifyCurlFailure, BadCaFileNamesTheFile) {
  CurlFailure f = Failure(CURLE_SSL_CACERT_BADFILE, "error setting certificate verify locations");
  f.ca_file = "/etc/tocsin/ca.pem";
  const NetError error = ClassifyCurlFailure(f);
  EXPECT_EQ(error.kind, NetErrorKind::kTlsOther);
  EXPECT_NE(error.detail.find("/etc/tocsin/ca.pem"), std::string::npos) << error.detail;
}

TEST(ClassifyCurlFailure, NotHttpAtAllIsProtocolNotInvalidUrl) {
  EXPECT_EQ(
      ClassifyCurlFailure(Failure(CURLE_UNSUPPORTED_PROTOCOL, "Received HTTP/0.9 when not allowed"))
          .kind,
      NetErrorKind::kProtocol);
  EXPECT_EQ(
      ClassifyCurlFailure(Failure(CURLE_UNSUPPORTED_PROTOCOL, "Protocol \"ftp\" disabled")).kind,
      NetErrorKind::kInvalidUrl);
}

TEST(ClassifyCurlFailure, FallsBackToCurlsDescription) {
  const NetError error = ClassifyCurlFailure(Failure(CURLE_OUT_OF_MEMORY));
  EXPECT_EQ(error.kind, NetErrorKind::kOther);
  EXPECT_FALSE(error.detail.empty());
}

TEST(NetErrorKindName, IsStableSnakeCase) {
  EXPECT_EQ(NetErrorKindName(NetErrorKind::kConnectionRefused), "connection_refused");
  EXPECT_EQ(NetErrorKindName(NetErrorKind::kTlsHostMismatch), "tls_host_mismatch");
  EXPECT_TRUE(IsTlsError(NetErrorKind::kTlsExpired));
  EXPECT_FALSE(IsTlsError(NetErrorKind::kTimeout));
}

TEST(ParseHttpUrl, AcceptsBaseUrlsWithAndWithoutSubpath) {
  auto url = ParseHttpUrl("HTTPS://Chat.Example.com/mattermost/");
  ASSERT_TRUE(url) << url.error();
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "Chat.Example.com");
  EXPECT_EQ(url->port, 443);
  EXPECT_FALSE(url->explicit_port);
  EXPECT_EQ(url->path, "/mattermost/");
  EXPECT_EQ(url->HostPort(), "Chat.Example.com:443");

  url = ParseHttpUrl("http://127.0.0.1:8065");
  ASSERT_TRUE(url) << url.error();
  EXPECT_EQ(url->port, 8065);
  EXPECT_EQ(url->path, "");
  EXPECT_EQ(url->Origin(), "http://127.0.0.1:8065");

  url = ParseHttpUrl("http://[::1]:8065/x?a=b#c");
  ASSERT_TRUE(url) << url.error();
  EXPECT_EQ(url->host, "[::1]");
  EXPECT_EQ(url->HostPort(), "[::1]:8065");
  EXPECT_TRUE(url->has_query);
  EXPECT_EQ(url->query, "a=b");
  EXPECT_TRUE(url->has_fragment);
}

TEST(ParseHttpUrl, SaysWhatIsWrong) {
  EXPECT_NE(ParseHttpUrl("").error().find("empty"), std::string::npos);
  EXPECT_NE(ParseHttpUrl("chat.example.com").error().find("https://chat.example.com"),
            std::string::npos);
  EXPECT_NE(ParseHttpUrl("ftp://x").error().find("\"ftp\""), std::string::npos);
  EXPECT_NE(ParseHttpUrl("https://").error().find("no host"), std::string::npos);
  EXPECT_NE(ParseHttpUrl("https://a b").error().find("space"), std::string::npos);
  EXPECT_NE(ParseHttpUrl("https://x:99999").error().find("99999"), std::string::npos);
  EXPECT_NE(ParseHttpUrl("https://x:").error().find("no port"), std::string::npos);
  EXPECT_NE(ParseHttpUrl("https://u:p@x").error().find("user name"), std::string::npos);
  EXPECT_NE(ParseHttpUrl("https://ex%61mple.com").error().find("'%'"), std::string::npos);
  EXPECT_NE(ParseHttpUrl("https://[::1").error().find("]"), std::string::npos);
}

TEST(EncodePathSegment, KeepsNamesAndEscapesEverythingElse) {
  EXPECT_EQ(EncodePathSegment("town-square_1.x~"), "town-square_1.x~");
  EXPECT_EQ(EncodePathSegment("a/b c"), "a%2Fb%20c");
  EXPECT_EQ(EncodePathSegment(".."), "%2E%2E");
  EXPECT_EQ(EncodePathSegment("?#"), "%3F%23");
}

}  // namespace
}  // namespace tocsin::net
