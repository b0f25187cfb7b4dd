#include "security/crypto.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "core/random.hpp"
#include "core/strings.hpp"

namespace tocsin::security {
namespace {

namespace fs = std::filesystem;

constexpr size_t kKeyBytes = crypto_secretbox_KEYBYTES;  // 32
static_assert(kKeyBytes == 32, "the key file format promises 32 bytes");
constexpr int kPrivateMode = 0600;

std::string ErrnoText(int err) { return std::strerror(err); }

Unexpected KeyError(const std::string& path, const std::string& problem, std::string hint) {
  return Fail("invalid_master_key", fmt::format("master key file {}: {}", path, problem),
              std::move(hint), path);
}

std::string Base64Encode(const unsigned char* data, size_t size, int variant) {
  std::string out(sodium_base64_encoded_len(size, variant), '\0');
  sodium_bin2base64(out.data(), out.size(), data, size, variant);
  out.pop_back();  // the terminating NUL sodium writes
  return out;
}

// Decodes standard base64, with or without padding. False on anything else.
bool Base64Decode(std::string_view text, std::vector<unsigned char>* out) {
  out->clear();
  if (text.empty()) return false;  // nothing we store or read is empty
  out->assign(text.size(), 0);
  for (int variant : {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING}) {
    size_t len = 0;
    const char* end = nullptr;
    if (sodium_base642bin(out->data(), out->size(), text.data(), text.size(), nullptr, &len, &end,
                          variant) == 0 &&
        end == text.data() + text.size()) {
      out->resize(len);
      return true;
    }
  }
  out->clear();
  return false;
}

// fsync on a directory makes a rename/link inside it durable.
void SyncDirectory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

fs::path ParentOrDot(const fs::path& path) {
  return path.has_parent_path() ? path.parent_path() : fs::path(".");
}

// Writes `content` into a fresh 0600 temp file beside `path`, fsynced. Returns the temp path.
Result<fs::path> WriteTempBeside(const fs::path& path, const std::string& content) {
  const fs::path temp =
      ParentOrDot(path) / fmt::format(".{}.tmp-{}", path.filename().string(), RandomHex(6));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, kPrivateMode);
  if (fd < 0) {
    const int err = errno;
    return Fail("write_failed",
                fmt::format("cannot create {} beside {}: {}", temp.filename().string(),
                            path.string(), ErrnoText(err)),
                "check that the directory exists and is writable", path.string());
  }
  auto fail = [&](const char* what) -> Unexpected {
    const int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return Fail("write_failed",
                fmt::format("cannot {} {}: {}", what, path.string(), ErrnoText(err)),
                "check free disk space and permissions", path.string());
  };
  // The umask can only remove bits, but be explicit: the file must be exactly 0600.
  if (::fchmod(fd, kPrivateMode) != 0) return fail("set the mode of");
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("sync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return Fail("write_failed", fmt::format("cannot close {}: {}", path.string(), ErrnoText(err)),
                "check free disk space", path.string());
  }
  return temp;
}

// Like WritePrivateFile, but never replaces an existing file: two processes starting together
// on an empty data dir must end up with the same key, not each with its own.
// Returns false (no error) when `path` already exists.
Result<bool> CreatePrivateFileExclusive(const fs::path& path, const std::string& content) {
  auto temp = WriteTempBeside(path, content);
  if (!temp) return tl::unexpected(temp.error());
  const int rc = ::link(temp->c_str(), path.c_str());
  const int err = errno;
  ::unlink(temp->c_str());
  if (rc != 0) {
    if (err == EEXIST) return false;
    return Fail("write_failed", fmt::format("cannot create {}: {}", path.string(), ErrnoText(err)),
                "check that the directory is writable", path.string());
  }
  SyncDirectory(ParentOrDot(path));
  return true;
}

// Creates `dir` and any missing parents with mode 0700 (the data dir holds the key and the
// database; nobody else needs to list it). Existing directories are left as they are.
Result<void> EnsurePrivateDir(const fs::path& dir) {
  if (dir.empty()) return Ok();
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return Ok();
  fs::path current;
  for (const auto& part : dir) {
    current /= part;
    if (fs::is_directory(current, ec)) continue;
    if (::mkdir(current.c_str(), 0700) != 0 && errno != EEXIST) {
      const int err = errno;
      return Fail(
          "write_failed",
          fmt::format("cannot create data directory {}: {}", current.string(), ErrnoText(err)),
          "create it by hand or choose another --data-dir", dir.string());
    }
  }
  return Ok();
}

// Reading is done on the open descriptor (fstat, read) so the mode we check is the mode of the
// bytes we read, even if the path is swapped meanwhile.
Result<MasterKey> LoadKeyFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return KeyError(path, "does not exist", "check the path");
    return KeyError(path, fmt::format("cannot be read: {}", ErrnoText(err)),
                    "make the file readable by the user running tocsin (and by nobody else: "
                    "chmod 600 " +
                        path + ")");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return KeyError(path, fmt::format("cannot be read: {}", ErrnoText(err)), "check the path");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return KeyError(path, "is not a regular file", "point it at the key file itself");
  }
  const unsigned mode = st.st_mode & 07777;
  if ((mode & ~static_cast<unsigned>(kPrivateMode)) != 0) {
    ::close(fd);
    return KeyError(path,
                    fmt::format("mode {:04o} is more permissive than 0600; refusing to use a key "
                                "others can read",
                                mode),
                    "chmod 600 " + path);
  }
  std::string text;
  char buf[512];
  while (text.size() < 4096) {  // a key file is ~45 bytes; anything huge is not a key file
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      sodium_memzero(text.data(), text.size());
      return KeyError(path, fmt::format("cannot be read: {}", ErrnoText(err)), "check the file");
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  sodium_memzero(buf, sizeof buf);
  ::close(fd);

  const std::string_view line = Trim(text);
  auto wipe = [&] { sodium_memzero(text.data(), text.size()); };
  if (line.empty()) {
    wipe();
    return KeyError(path, "is empty",
                    "delete it to have a new key created (stored tokens must then be re-entered), "
                    "or restore the original");
  }
  std::vector<unsigned char> raw;
  if (!Base64Decode(line, &raw)) {
    wipe();
    return KeyError(path, "is not base64 (expected one line: 32 random bytes, base64-encoded)",
                    "generate one with: head -c 32 /dev/urandom | base64 > FILE && chmod 600 FILE");
  }
  wipe();
  if (raw.size() != kKeyBytes) {
    const size_t got = raw.size();
    sodium_memzero(raw.data(), raw.size());
    return KeyError(path, fmt::format("decodes to {} bytes, expected {}", got, kKeyBytes),
                    "generate one with: head -c 32 /dev/urandom | base64 > FILE && chmod 600 FILE");
  }
  MasterKey key = MasterKey::FromBytesForTest(std::string(raw.begin(), raw.end()));
  sodium_memzero(raw.data(), raw.size());
  return key;
}

}  // namespace

Result<MasterKey> MasterKey::LoadOrCreate(const std::string& key_file,
                                          const std::string& data_dir) {
  InitRandom();
  if (!key_file.empty()) {
    std::error_code ec;
    if (!fs::exists(key_file, ec)) {
      return KeyError(key_file, "does not exist",
                      "TOCSIN_MASTER_KEY_FILE must name an existing key file; unset it to use "
                      "<data-dir>/master.key (created on first start)");
    }
    return LoadKeyFile(key_file);
  }

  const fs::path dir = data_dir.empty() ? fs::path(".") : fs::path(data_dir);
  const fs::path path = dir / "master.key";
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (auto made = EnsurePrivateDir(dir); !made) return tl::unexpected(made.error());
    unsigned char raw[kKeyBytes];
    randombytes_buf(raw, sizeof raw);
    std::string line = Base64Encode(raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL) + "\n";
    sodium_memzero(raw, sizeof raw);
    auto created = CreatePrivateFileExclusive(path, line);
    sodium_memzero(line.data(), line.size());
    if (!created) return tl::unexpected(created.error());
    // Whether we created it or lost the race to another process, the file on disk is the key.
  }
  return LoadKeyFile(path.string());
}

MasterKey MasterKey::FromBytesForTest(const std::string& raw32) {
  if (raw32.size() != kKeyBytes) {
    // A broken invariant in the caller, not an environment problem.
    throw std::invalid_argument("MasterKey needs exactly 32 bytes");
  }
  InitRandom();
  return MasterKey(Secret(raw32));
}

std::string MasterKey::Seal(const Secret& plaintext) const {
  const std::string& msg = plaintext.Reveal();
  std::vector<unsigned char> box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES +
                                 msg.size());
  unsigned char* nonce = box.data();
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(box.data() + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), nonce,
                        reinterpret_cast<const unsigned char*>(raw_.Reveal().data()));
  return Base64Encode(box.data(), box.size(), sodium_base64_VARIANT_ORIGINAL);
}

Result<Secret> MasterKey::Open(const std::string& sealed) const {
  auto unreadable = [] {
    return Fail("secret_unreadable", "the stored secret cannot be decrypted",
                "the master key changed or the stored value was altered? re-enter the token");
  };
  std::vector<unsigned char> box;
  if (!Base64Decode(sealed, &box)) return unreadable();
  if (box.size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) return unreadable();
  const size_t ct_len = box.size() - crypto_secretbox_NONCEBYTES;
  std::string plain(ct_len - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(
          reinterpret_cast<unsigned char*>(plain.data()), box.data() + crypto_secretbox_NONCEBYTES,
          ct_len, box.data(), reinterpret_cast<const unsigned char*>(raw_.Reveal().data())) != 0) {
    return unreadable();
  }
  Secret out(std::move(plain));
  return out;
}

Secret GenerateApiToken() {
  InitRandom();
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  Secret token("tcn_" + Base64Encode(raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING));
  sodium_memzero(raw, sizeof raw);
  return token;
}

std::string HashApiToken(const Secret& token) {
  InitRandom();
  unsigned char hash[32];
  const std::string& value = token.Reveal();
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(value.data()),
                     value.size(), nullptr, 0);
  std::string hex(sizeof hash * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), hash, sizeof hash);
  hex.pop_back();
  return hex;
}

Result<void> WritePrivateFile(const std::string& path, const std::string& content) {
  InitRandom();
  const fs::path target(path);
  auto temp = WriteTempBeside(target, content);
  if (!temp) return tl::unexpected(temp.error());
  if (::rename(temp->c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp->c_str());
    return Fail("write_failed", fmt::format("cannot replace {}: {}", path, ErrnoText(err)),
                "check that the directory is writable", path);
  }
  SyncDirectory(ParentOrDot(target));
  return Ok();
}

}  // namespace tocsin::security
