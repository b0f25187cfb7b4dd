// security/crypto.hpp — the master key, the sealed Mattermost token, and API token hashes.
//
// MasterKey: 32 random bytes, base64 on one line, in TOCSIN_MASTER_KEY_FILE or
// <data-dir>/master.key (created 0600 on first start). Seal() encrypts with libsodium secretbox
// (XSalsa20-Poly1305, random nonce) and returns base64(nonce || ciphertext); Open() reverses it and
// fails cleanly on a wrong key or a tampered value (never crashes, never prints the plaintext).
// API tokens: "tcn_" + 32 random bytes (base64url); only their BLAKE2b hash is stored.
#pragma once

#include <string>

#include "core/result.hpp"
#include "core/secret.hpp"

namespace tocsin::security {

class MasterKey {
 public:
  // Loads `key_file` if given (it must exist), else <data_dir>/master.key, creating it with mode
  // 0600 when missing. Errors name the file and what is wrong (unreadable, wrong length, not base64,
  // too permissive mode).
  static Result<MasterKey> LoadOrCreate(const std::string& key_file, const std::string& data_dir);
  static MasterKey FromBytesForTest(const std::string& raw32);

  std::string Seal(const Secret& plaintext) const;
  Result<Secret> Open(const std::string& sealed) const;

 private:
  explicit MasterKey(Secret raw) : raw_(std::move(raw)) {}
  Secret raw_;
};

Secret GenerateApiToken();
std::string HashApiToken(const Secret& token);  // hex BLAKE2b-256

// Writes `content` to `path` atomically (temp file + rename) with mode 0600.
Result<void> WritePrivateFile(const std::string& path, const std::string& content);

}  // namespace tocsin::security
