#include "core/random.hpp"

#include <sodium.h>

#include <cstdlib>
#include <stdexcept>

namespace tocsin {

void InitRandom() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

std::string NewId() {
  static constexpr char kAlphabet[] = "ybndrfg8ejkmcpqxot1uwisza345h769";
  InitRandom();
  unsigned char bytes[17];
  randombytes_buf(bytes, sizeof bytes);
  std::string id;
  id.reserve(26);
  uint32_t acc = 0;
  int bits = 0;
  size_t i = 0;
  while (id.size() < 26) {
    if (bits < 5) {
      acc = (acc << 8) | bytes[i++];
      bits += 8;
    }
    id.push_back(kAlphabet[(acc >> (bits - 5)) & 31]);
    bits -= 5;
  }
  return id;
}

std::string RandomHex(size_t n) {
  InitRandom();
  std::string bytes(n, '\0');
  randombytes_buf(bytes.data(), n);
  std::string hex(n * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(bytes.data()), n);
  hex.pop_back();
  return hex;
}

uint32_t RandomBelow(uint32_t bound) {
  InitRandom();
  return randombytes_uniform(bound);
}

}  // namespace tocsin
