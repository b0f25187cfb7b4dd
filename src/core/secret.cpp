#include "core/secret.hpp"

#include <sodium.h>

namespace tocsin {

Secret::~Secret() {
  if (!value_.empty()) sodium_memzero(value_.data(), value_.size());
}

std::string Secret::Hint() const {
  if (value_.size() < 12) return {};
  return value_.substr(value_.size() - 4);
}

bool Secret::operator==(const Secret& other) const {
  if (value_.size() != other.value_.size()) return false;
  return sodium_memcmp(value_.data(), other.value_.data(), value_.size()) == 0;
}

}  // namespace tocsin
