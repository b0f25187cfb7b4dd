// core/random.hpp — identifiers and random bytes (libsodium's CSPRNG).
#pragma once

#include <cstdint>
#include <string>

namespace tocsin {

// 26 characters of lower-case base32 (130 bits), the same shape as Mattermost ids.
std::string NewId();
// `n` random bytes, hex encoded.
std::string RandomHex(size_t n);
// Uniform in [0, bound).
uint32_t RandomBelow(uint32_t bound);

// Must be called once before any other function of this header (sodium_init); idempotent.
void InitRandom();

}  // namespace tocsin
