// net/curl_error.hpp — libcurl failure → NetError, as a pure function (internal to net).
//
// Kept apart from the transfer code so the cases that cannot be produced on loopback (network
// unreachable, a certificate not yet valid) are still tested. Takes plain integers so callers and
// tests need no curl types.
#pragma once

#include <string>

#include "net/http_client.hpp"

namespace tocsin::net {

struct CurlFailure {
  int code = 0;                 // CURLcode
  long os_errno = 0;            // CURLINFO_OS_ERRNO
  long ssl_verify_result = 0;   // CURLINFO_SSL_VERIFYRESULT (an X509_V_ERR_* value)
  bool connected = false;       // TCP (and TLS) connection established, request being sent
  bool body_too_large = false;  // our write callback refused more bytes
  std::string error_text;       // CURLOPT_ERRORBUFFER, or curl_easy_strerror when that is empty
  std::string ca_file;          // HttpClientOptions::ca_file, named in CA-file errors
  size_t max_response_bytes = 0;
};

NetError ClassifyCurlFailure(const CurlFailure& failure);

// What libcurl tells of a failed transfer on `handle` (a CURL*): the code, the OS errno, the TLS
// verification result, and the error buffer's text (curl_easy_strerror's when it is empty).
// The caller adds what only it knows (connected, body_too_large, ca_file, max_response_bytes).
CurlFailure ReadCurlFailure(void* handle, int code, const char* error_buffer);

}  // namespace tocsin::net
