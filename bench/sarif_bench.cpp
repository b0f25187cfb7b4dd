// sarif_bench — reads a SARIF file the way the scans endpoint does and prints what it costs:
// parse + identity (ingest::ReadSarifBuffer), then the lifecycle diff against a previous scan
// (rules::DiffScan), results per second and the process's peak RSS (getrusage).
//
//   sarif_bench FILE [--gzip]    (--gzip: compress it first and read the gzip body instead)
//
// The "previous scan" is made from this one: 90% of its findings known (so 10% are new), a
// few thousand that are gone (resolved), some resolved ones back, some false positives.
#include <sys/resource.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "ingest/sarif.hpp"
#include "rules/scan_diff.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

long PeakRssKb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

std::string Deflate(const std::string& data) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  // Not a zero-filled string: untouched pages of the bound stay out of the peak RSS.
  const size_t bound = deflateBound(&zs, data.size());
  std::unique_ptr<char[]> buffer(new char[bound]);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(buffer.get());
  zs.avail_out = static_cast<uInt>(bound);
  deflate(&zs, Z_FINISH);
  std::string out(buffer.get(), zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: sarif_bench FILE [--gzip]\n");
    return 2;
  }
  const bool gzip = argc > 2 && !std::strcmp(argv[2], "--gzip");
  std::string body;
  {
    std::ifstream in(argv[1], std::ios::binary | std::ios::ate);
    if (!in) {
      std::perror(argv[1]);
      return 1;
    }
    const auto size = static_cast<size_t>(in.tellg());
    in.seekg(0);
    // Room for simdjson's padding, as a server that knows it would leave: no copy.
    body.reserve(size + 64);
    body.resize(size);
    in.read(body.data(), static_cast<std::streamsize>(size));
  }
  const size_t file_size = body.size();
  if (gzip) body = Deflate(body);
  const size_t body_size = body.size();
  const long rss_before = PeakRssKb();

  const auto t0 = Clock::now();
  auto scan = tocsin::ingest::ReadSarifBuffer(std::move(body));
  const auto t1 = Clock::now();
  if (!scan) {
    std::fprintf(stderr, "%s: %s (%s)\n", scan.error().code.c_str(), scan.error().message.c_str(),
                 scan.error().field.c_str());
    return 1;
  }

  const long peak_after_parse_kb = PeakRssKb();
  tocsin::rules::KnownFindings known;
  known.reserve(scan->findings.size());
  for (size_t i = 0; i < scan->findings.size(); ++i) {
    const auto& f = scan->findings[i];
    if (i % 10 == 0) continue;  // new in this scan
    auto status = tocsin::domain::FindingStatus::kOpen;
    if (i % 97 == 0) status = tocsin::domain::FindingStatus::kResolved;
    if (i % 101 == 0) status = tocsin::domain::FindingStatus::kFalsePositive;
    known.emplace(f.fingerprint, tocsin::rules::KnownFinding{status, f.severity, f.location.path});
  }
  for (size_t i = 0; i < scan->findings.size() / 20; ++i) {
    known.emplace("codeql:gone-" + std::to_string(i),
                  tocsin::rules::KnownFinding{tocsin::domain::FindingStatus::kOpen,
                                              tocsin::domain::Severity::kHigh, "src/old.js"});
  }
  const auto t2 = Clock::now();
  const auto diff = tocsin::rules::DiffScan(known, scan->findings,
                                            {.first_scan = false, .complete = scan->complete});
  const auto t3 = Clock::now();

  const double parse_ms = Ms(t1 - t0), diff_ms = Ms(t3 - t2);
  const long peak_kb = PeakRssKb();
  std::printf("file              %.1f MB%s\n", file_size / 1e6,
              gzip ? (" (gzip body " + std::to_string(body_size / 1000000) + " MB)").c_str() : "");
  std::printf("results           %lld (findings %zu, duplicates %lld)\n",
              static_cast<long long>(scan->results), scan->findings.size(),
              static_cast<long long>(scan->duplicates));
  std::printf("parse + identity  %.0f ms (%.0f results/s, %.0f MB/s)\n", parse_ms,
              scan->results / (parse_ms / 1000), file_size / 1e6 / (parse_ms / 1000));
  std::printf(
      "diff              %.0f ms (new %lld, unchanged %lld, reopened %lld, silent %lld, "
      "resolved %lld)\n",
      diff_ms, static_cast<long long>(diff.new_count), static_cast<long long>(diff.unchanged_count),
      static_cast<long long>(diff.reopened_count), static_cast<long long>(diff.silent_count),
      static_cast<long long>(diff.resolved_count));
  std::printf("total             %.0f ms\n", parse_ms + diff_ms);
  std::printf("peak RSS          %.1f MB (%.2fx the file; %.1f MB before parsing, %.1f MB after)\n",
              peak_kb / 1e3, peak_kb * 1e3 / static_cast<double>(file_size), rss_before / 1e3,
              peak_after_parse_kb / 1e3);
  return 0;
}
