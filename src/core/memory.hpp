// core/memory.hpp — the memory allocator, as far as the service needs to know about it.
//
// The tocsin binary is linked with jemalloc (Debian's libjemalloc, CMake option TOCSIN_JEMALLOC)
// unless it is a sanitizer or fuzzing build: the delivery path allocates and frees many small
// JSON nodes and strings on several threads, and glibc's allocator spent about a tenth of the
// sender threads' CPU on it (docs/performance.md). Libraries and tests are allocator-agnostic:
// what is linked is found at run time.
#pragma once

#include <string>

namespace tocsin {

// "jemalloc-5.3.0-0-g54eaed1d…" or "glibc", for the start-up log.
std::string AllocatorName();

// Gives memory the allocator holds free back to the system (after a big scan, whose freed
// findings would otherwise stay resident): jemalloc purges its arenas, glibc trims its heaps.
void ReturnFreeMemory();

}  // namespace tocsin
