#include "net/http_client.hpp"

#include "core/strings.hpp"

namespace tocsin::net {

std::optional<std::string> HttpResponse::GetHeader(std::string_view name) const {
  const std::string wanted = ToLower(name);
  for (const auto& header : headers) {
    if (header.name.size() == wanted.size() && ToLower(header.name) == wanted) return header.value;
  }
  return std::nullopt;
}

std::string_view NetErrorKindName(NetErrorKind kind) {
  switch (kind) {
    case NetErrorKind::kInvalidUrl:
      return "invalid_url";
    case NetErrorKind::kDnsFailure:
      return "dns_failure";
    case NetErrorKind::kConnectionRefused:
      return "connection_refused";
    case NetErrorKind::kUnreachable:
      return "unreachable";
    case NetErrorKind::kConnectTimeout:
      return "connect_timeout";
    case NetErrorKind::kTimeout:
      return "timeout";
    case NetErrorKind::kTlsUntrusted:
      return "tls_untrusted";
    case NetErrorKind::kTlsHostMismatch:
      return "tls_host_mismatch";
    case NetErrorKind::kTlsExpired:
      return "tls_expired";
    case NetErrorKind::kTlsOther:
      return "tls_other";
    case NetErrorKind::kResponseTooLarge:
      return "response_too_large";
    case NetErrorKind::kProtocol:
      return "protocol";
    case NetErrorKind::kOther:
      return "other";
  }
  return "other";
}

bool IsTlsError(NetErrorKind kind) {
  return kind == NetErrorKind::kTlsUntrusted || kind == NetErrorKind::kTlsHostMismatch ||
         kind == NetErrorKind::kTlsExpired || kind == NetErrorKind::kTlsOther;
}

}  // namespace tocsin::net
