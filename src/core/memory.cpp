#include "core/memory.hpp"

#include <malloc.h>

#include <cstddef>

// Defined when jemalloc is linked in (it replaces malloc and adds mallctl); null otherwise.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

// jemalloc's options, read at its start when it is linked in (ignored otherwise). Freed pages
// go back to the system after a second instead of ten, and are not kept as "muzzy" in between:
// a big scan's freed findings would otherwise still be resident when the next one starts
// (docs/performance.md, figures 8c and 8d: peak RSS within 2× the log either way). The
// MALLOC_CONF environment variable still overrides these.
extern "C" {
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): jemalloc's interface
const char* malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0";
}

namespace tocsin {

std::string AllocatorName() {
  if (mallctl == nullptr) return "glibc";
  const char* version = nullptr;
  size_t size = sizeof version;
  if (mallctl("version", static_cast<void*>(&version), &size, nullptr, 0) != 0 ||
      version == nullptr) {
    return "jemalloc";
  }
  return std::string("jemalloc-") + version;
}

void ReturnFreeMemory() {
  if (mallctl != nullptr) {
    // MALLCTL_ARENAS_ALL (4096): every arena's unused dirty pages go back now.
    (void)mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
    return;
  }
  malloc_trim(0);
}

}  // namespace tocsin
