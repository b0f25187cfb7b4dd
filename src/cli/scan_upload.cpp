#include "cli/scan_upload.hpp"

#include <curl/curl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/strings.hpp"
#include "core/version.hpp"
#include "net/curl_error.hpp"
#include "net/http_client.hpp"

namespace tocsin::cli {

namespace {

// Reads the file in chunks and hands curl gzip-compressed bytes.
class GzipSource {
 public:
  // `passthrough`: the file is gzip already and is sent as it is.
  GzipSource(FILE* f, int64_t size, bool passthrough)
      : file_(f), size_(size), passthrough_(passthrough) {
    // 15 + 16: gzip wrapper; level 6 is zlib's balance of speed and ratio.
    ok_ = deflateInit2(&z_, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~GzipSource() { deflateEnd(&z_); }
  bool ok() const { return ok_; }
  int64_t read_bytes() const { return read_; }
  int64_t size() const { return size_; }
  bool failed() const { return failed_; }

  size_t Fill(char* out, size_t cap) {
    if (passthrough_) {
      const size_t n = std::fread(out, 1, cap, file_);
      if (n < cap && std::ferror(file_)) {
        failed_ = true;
        return CURL_READFUNC_ABORT;
      }
      read_ += static_cast<int64_t>(n);
      return n;
    }
    z_.next_out = reinterpret_cast<Bytef*>(out);
    z_.avail_out = static_cast<uInt>(cap);
    while (z_.avail_out > 0 && !done_) {
      if (z_.avail_in == 0 && !eof_) {
        const size_t n = std::fread(in_, 1, sizeof in_, file_);
        if (n < sizeof in_) {
          if (std::ferror(file_)) {
            failed_ = true;
            return CURL_READFUNC_ABORT;
          }
          eof_ = true;
        }
        read_ += static_cast<int64_t>(n);
        z_.next_in = reinterpret_cast<Bytef*>(in_);
        z_.avail_in = static_cast<uInt>(n);
      }
      const int rc = deflate(&z_, eof_ ? Z_FINISH : Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        done_ = true;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        failed_ = true;
        return CURL_READFUNC_ABORT;
      }
    }
    return cap - z_.avail_out;
  }

 private:
  FILE* file_;
  int64_t size_;
  bool passthrough_;
  z_stream z_{};
  char in_[64 * 1024];
  bool ok_ = false, eof_ = false, done_ = false, failed_ = false;
  int64_t read_ = 0;
};

size_t ReadCb(char* buffer, size_t size, size_t nitems, void* user) {
  return static_cast<GzipSource*>(user)->Fill(buffer, size * nitems);
}

size_t WriteCb(char* data, size_t size, size_t nmemb, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() > (8u << 20)) return 0;
  out->append(data, size * nmemb);
  return size * nmemb;
}

struct Progress {
  GzipSource* source;
  bool tty;
  int last_percent = -1;
};

int ProgressCb(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* p = static_cast<Progress*>(user);
  if (!p->tty || p->source->size() <= 0) return 0;
  const int percent = static_cast<int>(100 * p->source->read_bytes() / p->source->size());
  if (percent == p->last_percent) return 0;
  p->last_percent = percent;
  constexpr int kWidth = 30;
  const int filled = percent * kWidth / 100;
  std::cerr << "\r  uploading [" << std::string(filled, '#') << std::string(kWidth - filled, ' ')
            << "] " << fmt::format("{:3}%", percent) << "  "
            << fmt::format("{:.1f}/{:.1f} MB", p->source->read_bytes() / 1e6,
                           p->source->size() / 1e6)
            << std::flush;
  return 0;
}

std::string Escape(const std::string& s) {
  char* e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
}

void PrintSummary(const nlohmann::json& j) {
  auto get = [&](const char* k) { return j.value(k, nlohmann::json(0)).dump(); };
  std::cout << "scan " << get("id") << " of " << j.value("project", "") << ": scanner "
            << j.value("scanner", "") << ", branch " << j.value("branch", "") << ", "
            << j.value("status", "") << (j.value("baseline", false) ? " (baseline)" : "")
            << "\n";
  std::cout << "  findings " << get("findings") << ": new " << get("new") << ", resolved "
            << get("resolved") << ", reopened " << get("reopened") << ", unchanged "
            << get("unchanged") << "\n";
  if (j.contains("counts")) {
    std::cout << "  by severity:";
    for (const char* s : {"critical", "high", "medium", "low", "info"}) {
      std::cout << " " << s << " " << j["counts"].value(s, 0);
    }
    std::cout << "\n";
  }
  std::cout << "  notifications queued: " << get("deliveries") << "\n";
}

// What to do about a failed exchange, by what failed (net::ClassifyCurlFailure's kinds).
std::string NetHint(net::NetErrorKind kind, const std::string& server, int timeout_s) {
  using net::NetErrorKind;
  switch (kind) {
    case NetErrorKind::kTlsUntrusted:
      return "the server's certificate is not trusted here: pass --ca-file with the CA that "
             "signed it (or --insecure, for a test server only)";
    case NetErrorKind::kTlsHostMismatch:
      return "the certificate is for another host name: use the name it was issued for in "
             "--server";
    case NetErrorKind::kTlsExpired:
      return "the server's certificate has expired or is not valid yet (or this machine's clock "
             "is wrong)";
    case NetErrorKind::kTlsOther:
      return "the TLS handshake failed: is " + server +
             " an https server, and is the --ca-file a PEM certificate?";
    case NetErrorKind::kTimeout:
      return "no answer within " + std::to_string(timeout_s) +
             " s: the server may be overloaded, or the file very large for this link";
    case NetErrorKind::kDnsFailure:
      return "the host name in --server does not resolve from here";
    default:
      return "check --server (" + server + ") and that the Tocsin server is reachable from here";
  }
}

// An answer that is not Tocsin's JSON error (a proxy's page, another server): what it likely
// means, by status.
std::string StatusHint(long status) {
  switch (status) {
    case 401:
    case 403:
      return "check the API token (--token, or TOCSIN_TOKEN)";
    case 404:
      return "this answer did not come from Tocsin: is --server Tocsin's base URL (not "
             "Mattermost's, and without /api/v1)?";
    case 413:
      return "the file is larger than a proxy in front of Tocsin accepts: raise its limit "
             "(nginx: client_max_body_size), or upload the file gzipped (.gz is sent as it is)";
    case 502:
    case 503:
    case 504:
      return "a proxy in front of Tocsin could not reach it: is the Tocsin server running?";
    default:
      return "is --server the Tocsin server's base URL?";
  }
}

// `--token -`: the token is the first line of standard input (so that it appears in no process
// list or shell history).
std::optional<std::string> ReadTokenFromStdin() {
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  const std::string_view token = Trim(line);
  if (token.empty()) return std::nullopt;
  return std::string(token);
}

}  // namespace

int RunScanUpload(const ScanUploadOptions& options) {
  ScanUploadOptions o = options;
  if (o.token == "-") {
    auto token = ReadTokenFromStdin();
    if (!token) {
      std::cerr << "tocsin: --token - reads the token from standard input, which was empty\n";
      return 2;
    }
    o.token = std::move(*token);
  }
  if (o.server.empty() || o.project.empty() || o.file.empty()) {
    std::cerr << "tocsin: --server, --project and a SARIF file are required\n";
    return 2;
  }
  if (o.token.empty()) {
    std::cerr << "tocsin: no API token: pass --token or set TOCSIN_TOKEN\n";
    return 2;
  }
  struct stat st {};
  if (::stat(o.file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    std::cerr << "tocsin: cannot read " << o.file << ": not a regular file\n";
    return 2;
  }
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(o.file.c_str(), "rb"), &std::fclose);
  if (!f) {
    std::cerr << "tocsin: cannot open " << o.file << "\n";
    return 2;
  }
  net::GlobalInit();
  unsigned char magic[2] = {0, 0};
  const bool gzipped = std::fread(magic, 1, 2, f.get()) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  std::rewind(f.get());
  GzipSource source(f.get(), static_cast<int64_t>(st.st_size), gzipped);
  if (!source.ok()) {
    std::cerr << "tocsin: cannot initialise gzip\n";
    return 1;
  }
  std::string server = o.server;
  while (EndsWith(server, "/")) server.pop_back();
  std::string url = server + "/api/v1/projects/" + Escape(o.project) + "/scans";
  std::string sep = "?";
  if (!o.scanner.empty()) {
    url += sep + "scanner=" + Escape(o.scanner);
    sep = "&";
  }
  if (!o.branch.empty()) url += sep + "branch=" + Escape(o.branch);

  CURL* curl = curl_easy_init();
  std::unique_ptr<CURL, void (*)(CURL*)> guard(curl, &curl_easy_cleanup);
  std::string body;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/sarif+json");
  headers = curl_slist_append(headers, "Content-Encoding: gzip");
  headers = curl_slist_append(headers, ("Authorization: Bearer " + o.token).c_str());
  headers = curl_slist_append(headers, "Expect:");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> hguard(headers, &curl_slist_free_all);
  Progress progress{&source, static_cast<bool>(::isatty(STDERR_FILENO))};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, &ReadCb);
  curl_easy_setopt(curl, CURLOPT_READDATA, &source);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteCb);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, kUserAgent);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, static_cast<long>(o.timeout_s));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &ProgressCb);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &progress);
  if (o.insecure) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!o.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, o.ca_file.c_str());

  const CURLcode rc = curl_easy_perform(curl);
  if (progress.tty && progress.last_percent >= 0) std::cerr << "\n";
  if (rc != CURLE_OK) {
    net::CurlFailure failure = net::ReadCurlFailure(curl, rc, errbuf);
    failure.ca_file = o.ca_file;
    const net::NetError error = net::ClassifyCurlFailure(failure);
    std::cerr << "tocsin: upload to " << server << " failed: " << Redact(error.detail, o.token)
              << "\n";
    if (source.failed()) {
      std::cerr << "  reading " << o.file << " failed\n";
    } else {
      std::cerr << "  hint: " << NetHint(error.kind, server, o.timeout_s) << "\n";
    }
    return 1;
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (status != 201) {
    if (!j.is_discarded() && j.contains("error")) {
      std::cerr << "tocsin: the server refused the scan (HTTP " << status
                << "): " << j["error"].value("message", "") << "\n";
      const std::string hint = j["error"].value("hint", "");
      if (!hint.empty()) std::cerr << "  hint: " << hint << "\n";
    } else {
      std::cerr << "tocsin: unexpected answer HTTP " << status << " from " << server << "\n";
      std::cerr << "  hint: " << StatusHint(status) << "\n";
    }
    return 1;
  }
  if (o.json || j.is_discarded()) {
    std::cout << body << "\n";
  } else {
    PrintSummary(j);
  }
  return 0;
}

}  // namespace tocsin::cli
