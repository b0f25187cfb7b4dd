// libFuzzer target: any bytes into the SARIF reader (plain or gzip) must give findings or a clean
// error, never a crash, a hang or undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ingest/sarif.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tocsin::ingest::SarifLimits limits;
  limits.max_inflated_bytes = 8 << 20;  // keep each input cheap
  limits.max_results = 10000;
  auto r = tocsin::ingest::ReadSarif(
      std::string_view(reinterpret_cast<const char*>(data), size), limits);
  if (r) {
    for (const auto& f : r->findings) {
      if (f.fingerprint.empty()) __builtin_trap();  // every finding has an identity
    }
  } else if (r.error().code.empty() || r.error().message.empty()) {
    __builtin_trap();  // every error says what is wrong
  }
  return 0;
}
