#include "net/curl_error.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <cerrno>
#include <optional>

namespace tocsin::net {
namespace {

// X509_V_ERR_* values from <openssl/x509_vfy.h>, spelled out so this file does not depend on
// which TLS library libcurl was built with (the verify result is only set by OpenSSL builds).
constexpr long kX509UnableToGetIssuerCert = 2;
constexpr long kX509CertNotYetValid = 9;
constexpr long kX509CertHasExpired = 10;
constexpr long kX509DepthZeroSelfSigned = 18;
constexpr long kX509SelfSignedInChain = 19;
constexpr long kX509UnableToGetIssuerLocally = 20;
constexpr long kX509UnableToVerifyLeaf = 21;
constexpr long kX509InvalidCa = 24;
constexpr long kX509CertUntrusted = 27;
constexpr long kX509HostnameMismatch = 62;
constexpr long kX509IpAddressMismatch = 64;

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

std::optional<NetErrorKind> KindFromVerifyResult(long result) {
  switch (result) {
    case kX509UnableToGetIssuerCert:
    case kX509DepthZeroSelfSigned:
    case kX509SelfSignedInChain:
    case kX509UnableToGetIssuerLocally:
    case kX509UnableToVerifyLeaf:
    case kX509InvalidCa:
    case kX509CertUntrusted:
      return NetErrorKind::kTlsUntrusted;
    case kX509CertNotYetValid:
    case kX509CertHasExpired:
      return NetErrorKind::kTlsExpired;
    case kX509HostnameMismatch:
    case kX509IpAddressMismatch:
      return NetErrorKind::kTlsHostMismatch;
    default:
      return std::nullopt;
  }
}

// libcurl checks the host name itself after OpenSSL accepted the chain, so a mismatch leaves the
// verify result at X509_V_OK and is only recognisable by its message.
std::optional<NetErrorKind> KindFromTlsText(const std::string& text) {
  if (Contains(text, "does not match target host") || Contains(text, "matches target host") ||
      Contains(text, "hostname mismatch") || Contains(text, "IP address mismatch")) {
    return NetErrorKind::kTlsHostMismatch;
  }
  if (Contains(text, "expired") || Contains(text, "not yet valid"))
    return NetErrorKind::kTlsExpired;
  if (Contains(text, "self-signed") || Contains(text, "self signed") ||
      Contains(text, "unable to get local issuer") || Contains(text, "unable to get issuer")) {
    return NetErrorKind::kTlsUntrusted;
  }
  return std::nullopt;
}

NetErrorKind ClassifyConnectFailure(const CurlFailure& f) {
  switch (f.os_errno) {
    case ECONNREFUSED:
      return NetErrorKind::kConnectionRefused;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
      return NetErrorKind::kUnreachable;
    case ETIMEDOUT:
      return NetErrorKind::kConnectTimeout;
    default:
      break;
  }
  if (Contains(f.error_text, "Timeout") || Contains(f.error_text, "timed out")) {
    return NetErrorKind::kConnectTimeout;
  }
  return NetErrorKind::kOther;
}

}  // namespace

CurlFailure ReadCurlFailure(void* handle, int code, const char* error_buffer) {
  CurlFailure failure;
  failure.code = code;
  curl_easy_getinfo(handle, CURLINFO_OS_ERRNO, &failure.os_errno);
  curl_easy_getinfo(handle, CURLINFO_SSL_VERIFYRESULT, &failure.ssl_verify_result);
  failure.error_text = error_buffer != nullptr && error_buffer[0] != '\0'
                           ? error_buffer
                           : curl_easy_strerror(static_cast<CURLcode>(code));
  return failure;
}

NetError ClassifyCurlFailure(const CurlFailure& f) {
  NetError error;
  error.detail = f.error_text;
  switch (static_cast<CURLcode>(f.code)) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      // libcurl reports an answer that is not HTTP at all as "Received HTTP/0.9 when not allowed"
      // under CURLE_UNSUPPORTED_PROTOCOL: that is the peer's fault, not the URL's.
      error.kind =
          Contains(f.error_text, "HTTP/0.9") ? NetErrorKind::kProtocol : NetErrorKind::kInvalidUrl;
      break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      error.kind = NetErrorKind::kDnsFailure;
      break;
    case CURLE_COULDNT_CONNECT:
      error.kind = ClassifyConnectFailure(f);
      break;
    case CURLE_OPERATION_TIMEDOUT:
      if (f.connected) {
        error.kind = NetErrorKind::kTimeout;
      } else if (Contains(f.error_text, "Resolving timed out")) {
        error.kind = NetErrorKind::kDnsFailure;  // the resolver never answered
      } else {
        error.kind = NetErrorKind::kConnectTimeout;
      }
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
      error.kind =
          KindFromVerifyResult(f.ssl_verify_result)
              .value_or(KindFromTlsText(f.error_text).value_or(NetErrorKind::kTlsUntrusted));
      break;
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
      error.kind = NetErrorKind::kTlsOther;
      if (!f.ca_file.empty() && !Contains(error.detail, f.ca_file)) {
        error.detail = fmt::format("{} (CA file \"{}\")", error.detail, f.ca_file);
      }
      break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
      error.kind = KindFromVerifyResult(f.ssl_verify_result).value_or(NetErrorKind::kTlsOther);
      break;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
      if (f.body_too_large || f.code == CURLE_FILESIZE_EXCEEDED) {
        error.kind = NetErrorKind::kResponseTooLarge;
        error.detail =
            fmt::format("the response body is larger than {} bytes", f.max_response_bytes);
      } else {
        error.kind = NetErrorKind::kOther;
      }
      break;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_PARTIAL_FILE:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
      error.kind = NetErrorKind::kProtocol;
      break;
    default:
      error.kind = NetErrorKind::kOther;
      break;
  }
  if (error.detail.empty()) error.detail = curl_easy_strerror(static_cast<CURLcode>(f.code));
  return error;
}

}  // namespace tocsin::net
