// Helpers for the SARIF tests: fixtures from tests/data/sarif, small edits of them, gzip.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "ingest/sarif.hpp"

namespace tocsin::ingest::testing {

inline std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(TOCSIN_TEST_DATA_DIR) + "/sarif/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing fixture " << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `text` with the one occurrence of `from` replaced by `to` (the test fails if it is not there
// exactly once, so an edited fixture cannot silently stop exercising the case).
inline std::string ReplaceOnce(std::string text, std::string_view from, std::string_view to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "not found: " << from;
  if (at == std::string::npos) return text;
  EXPECT_EQ(text.find(from, at + 1), std::string::npos) << "found twice: " << from;
  text.replace(at, from.size(), to);
  return text;
}

inline std::string ReplaceAll(std::string text, std::string_view from, std::string_view to) {
  size_t at = 0;
  int n = 0;
  while ((at = text.find(from, at)) != std::string::npos) {
    text.replace(at, from.size(), to);
    at += to.size();
    ++n;
  }
  EXPECT_GT(n, 0) << "not found: " << from;
  return text;
}

inline std::string Gzip(std::string_view data, int level = Z_DEFAULT_COMPRESSION) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// A minimal valid log around `results` (a JSON array) and optional extra run members.
inline std::string Log(std::string_view results, std::string_view run_extra = "",
                       std::string_view driver_extra = "") {
  std::string s = R"({"version":"2.1.0","runs":[{"tool":{"driver":{"name":"Tester")";
  s += driver_extra;
  s += R"(}},"results":)";
  s += results;
  s += run_extra;
  s += "}]}";
  return s;
}

inline ParsedScan MustRead(std::string_view doc, const SarifLimits& limits = {},
                           std::string_view scanner = {}) {
  auto r = ReadSarif(doc, limits, scanner);
  EXPECT_TRUE(r.has_value()) << (r ? ""
                                   : r.error().code + ": " + r.error().message + " at " +
                                         r.error().field);
  return r ? std::move(*r) : ParsedScan{};
}

inline Error MustFail(std::string_view doc, const SarifLimits& limits = {},
                      std::string_view scanner = {}) {
  auto r = ReadSarif(doc, limits, scanner);
  EXPECT_FALSE(r.has_value()) << "read " << (r ? r->findings.size() : 0) << " findings";
  return r ? Error{} : r.error();
}

inline const domain::Finding* ByRule(const ParsedScan& scan, std::string_view rule_id,
                                     size_t nth = 0) {
  for (const auto& f : scan.findings) {
    if (f.rule_id == rule_id && nth-- == 0) return &f;
  }
  ADD_FAILURE() << "no finding " << nth << " for rule " << rule_id;
  return nullptr;
}

}  // namespace tocsin::ingest::testing
