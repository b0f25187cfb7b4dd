#include "security/crypto.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "support/temp_dir.hpp"

namespace tocsin::security {
namespace {

namespace fs = std::filesystem;
using ::tocsin::testing::TempDir;

unsigned ModeOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteWithMode(const fs::path& p, const std::string& content, unsigned mode) {
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
  }
  ASSERT_EQ(::chmod(p.c_str(), mode), 0);
}

MasterKey KeyOf(char fill) { return MasterKey::FromBytesForTest(std::string(32, fill)); }

// 32 bytes of 'k', base64.
constexpr char kValidKeyLine[] = "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=\n";

TEST(Seal, RoundTripsThePlaintext) {
  const MasterKey key = KeyOf('a');
  const std::string sealed = key.Seal(Secret("mattermost-token-1234"));
  auto opened = key.Open(sealed);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened->Reveal(), "mattermost-token-1234");
  EXPECT_EQ(sealed.find("mattermost-token"), std::string::npos);
}

TEST(Seal, RoundTripsAnEmptySecret) {
  const MasterKey key = KeyOf('a');
  auto opened = key.Open(key.Seal(Secret("")));
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->Reveal(), "");
}

TEST(Seal, UsesAFreshNonceEachTime) {
  const MasterKey key = KeyOf('a');
  EXPECT_NE(key.Seal(Secret("same")), key.Seal(Secret("same")));
}

TEST(Open, WrongKeyIsSecretUnreadable) {
  const std::string sealed = KeyOf('a').Seal(Secret("tok"));
  auto opened = KeyOf('b').Open(sealed);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "secret_unreadable");
  EXPECT_NE(opened.error().hint.find("master key"), std::string::npos);
  EXPECT_NE(opened.error().hint.find("re-enter the token"), std::string::npos);
}

TEST(Open, TamperedCiphertextIsSecretUnreadable) {
  const MasterKey key = KeyOf('a');
  std::string sealed = key.Seal(Secret("a-token-of-some-length"));
  // Flip a character in the middle (still valid base64, different bytes).
  char& c = sealed[sealed.size() / 2];
  c = (c == 'A') ? 'B' : 'A';
  auto opened = key.Open(sealed);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "secret_unreadable");
}

TEST(Open, GarbageIsSecretUnreadable) {
  const MasterKey key = KeyOf('a');
  const std::vector<std::string> garbage_values = {
      "", "not base64 at all!", "AAAA", "QUJD", std::string(1000, 'A'), std::string("\0\xff", 2)};
  for (const std::string& garbage : garbage_values) {
    auto opened = key.Open(garbage);
    ASSERT_FALSE(opened) << garbage;
    EXPECT_EQ(opened.error().code, "secret_unreadable");
  }
}

TEST(MasterKeyFile, IsCreatedWithMode0600InA0700DataDir) {
  TempDir tmp;
  const fs::path data_dir = tmp.path() / "var" / "tocsin";
  auto key = MasterKey::LoadOrCreate("", data_dir.string());
  ASSERT_TRUE(key) << key.error().message;
  const fs::path file = data_dir / "master.key";
  ASSERT_TRUE(fs::exists(file));
  EXPECT_EQ(ModeOf(file), 0600u);
  EXPECT_EQ(ModeOf(data_dir), 0700u);
  const std::string content = ReadAll(file);
  ASSERT_FALSE(content.empty());
  EXPECT_EQ(content.back(), '\n');
  EXPECT_EQ(content.find('\n'), content.size() - 1) << "one line";
  EXPECT_EQ(content.size(), 44u + 1u);  // base64 of 32 bytes + newline
  // No temp files left behind.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(data_dir)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(MasterKeyFile, IsReusedAcrossLoads) {
  TempDir tmp;
  auto first = MasterKey::LoadOrCreate("", tmp.str());
  ASSERT_TRUE(first);
  const std::string before = ReadAll(tmp.path() / "master.key");
  const std::string sealed = first->Seal(Secret("persisted"));
  auto second = MasterKey::LoadOrCreate("", tmp.str());
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(ReadAll(tmp.path() / "master.key"), before);
  auto opened = second->Open(sealed);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->Reveal(), "persisted");
}

TEST(MasterKeyFile, ExplicitFileIsUsedAndMustExist) {
  TempDir tmp;
  const fs::path file = tmp.path() / "custom.key";
  auto missing = MasterKey::LoadOrCreate(file.string(), tmp.str());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "invalid_master_key");
  EXPECT_NE(missing.error().message.find(file.string()), std::string::npos);
  EXPECT_NE(missing.error().message.find("does not exist"), std::string::npos);
  EXPECT_FALSE(fs::exists(file)) << "an explicit key file is never created";
  EXPECT_FALSE(fs::exists(tmp.path() / "master.key"));

  WriteWithMode(file, kValidKeyLine, 0600);
  auto key = MasterKey::LoadOrCreate(file.string(), tmp.str());
  ASSERT_TRUE(key) << key.error().message;
  auto opened = KeyOf('k').Open(key->Seal(Secret("x")));
  ASSERT_TRUE(opened) << "the key is the file's bytes";
  EXPECT_EQ(opened->Reveal(), "x");
}

TEST(MasterKeyFile, AcceptsReadOnlyMode0400) {
  TempDir tmp;
  const fs::path file = tmp.path() / "ro.key";
  WriteWithMode(file, kValidKeyLine, 0400);
  EXPECT_TRUE(MasterKey::LoadOrCreate(file.string(), ""));
}

TEST(MasterKeyFile, PermissiveModeIsRefusedWithChmodHint) {
  TempDir tmp;
  for (unsigned mode : {0644u, 0640u, 0604u, 0700u, 0666u}) {
    const fs::path file = tmp.path() / "master.key";
    WriteWithMode(file, kValidKeyLine, mode);
    auto key = MasterKey::LoadOrCreate("", tmp.str());
    ASSERT_FALSE(key) << fmt::format("{:o}", mode);
    EXPECT_EQ(key.error().code, "invalid_master_key");
    EXPECT_NE(key.error().message.find(file.string()), std::string::npos);
    EXPECT_NE(key.error().message.find(fmt::format("{:04o}", mode)), std::string::npos);
    EXPECT_EQ(key.error().hint, "chmod 600 " + file.string());
    EXPECT_EQ(ReadAll(file), kValidKeyLine) << "a refused key file is left alone";
  }
}

TEST(MasterKeyFile, NotBase64IsNamed) {
  TempDir tmp;
  const fs::path file = tmp.path() / "k";
  WriteWithMode(file, "this is *not* base64\n", 0600);
  auto key = MasterKey::LoadOrCreate(file.string(), "");
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message.find(file.string()), std::string::npos);
  EXPECT_NE(key.error().message.find("not base64"), std::string::npos);
}

TEST(MasterKeyFile, WrongLengthIsNamed) {
  TempDir tmp;
  const fs::path file = tmp.path() / "k";
  WriteWithMode(file, "c2hvcnQ=\n", 0600);  // "short"
  auto key = MasterKey::LoadOrCreate(file.string(), "");
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message.find(file.string()), std::string::npos);
  EXPECT_NE(key.error().message.find("5 bytes, expected 32"), std::string::npos);
}

TEST(MasterKeyFile, EmptyFileIsNamed) {
  TempDir tmp;
  const fs::path file = tmp.path() / "k";
  WriteWithMode(file, "\n", 0600);
  auto key = MasterKey::LoadOrCreate(file.string(), "");
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message.find("is empty"), std::string::npos);
}

TEST(MasterKeyFile, DirectoryIsNotAKeyFile) {
  TempDir tmp;
  auto key = MasterKey::LoadOrCreate(tmp.str(), "");
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message.find("not a regular file"), std::string::npos);
}

TEST(MasterKeyFile, UnreadableFileIsNamed) {
  TempDir tmp;
  const fs::path file = tmp.path() / "k";
  WriteWithMode(file, kValidKeyLine, 0000);
  const auto check = [&file] {
    auto key = MasterKey::LoadOrCreate(file.string(), "");
    return !key && key.error().message.find("cannot be read") != std::string::npos &&
           key.error().message.find(file.string()) != std::string::npos;
  };
  if (::geteuid() != 0) {
    EXPECT_TRUE(check());
    return;
  }
  // Root reads any file (CI runs as root): the check runs in a child that has become nobody.
  fs::permissions(tmp.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  fflush(nullptr);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const bool dropped = ::setgid(65534) == 0 && ::setuid(65534) == 0 && ::geteuid() != 0;
    ::_exit(!dropped ? 2 : check() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: no 'cannot be read' naming the file; 2: setuid failed";
}

TEST(MasterKeyFile, ErrorsNeverContainTheKey) {
  TempDir tmp;
  const fs::path file = tmp.path() / "k";
  WriteWithMode(file, kValidKeyLine, 0644);
  auto key = MasterKey::LoadOrCreate(file.string(), "");
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().message.find("a2tra2"), std::string::npos);
  EXPECT_EQ(key.error().hint.find("a2tra2"), std::string::npos);
}

TEST(ApiToken, HasPrefixAnd256BitsOfBase64Url) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const Secret token = GenerateApiToken();
    const std::string& t = token.Reveal();
    ASSERT_EQ(t.rfind("tcn_", 0), 0u);
    ASSERT_EQ(t.size(), 4u + 43u);  // 32 bytes, base64url without padding
    for (char c : t.substr(4)) {
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << t;
    }
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 50u);
}

TEST(ApiToken, HashIsStableHexBlake2b256) {
  // BLAKE2b-256 of the empty string (RFC 7693 parameters, unkeyed).
  EXPECT_EQ(HashApiToken(Secret("")),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  const Secret token = GenerateApiToken();
  EXPECT_EQ(HashApiToken(token), HashApiToken(Secret(token.Reveal())));
  EXPECT_NE(HashApiToken(token), HashApiToken(GenerateApiToken()));
  EXPECT_EQ(HashApiToken(token).size(), 64u);
}

TEST(WritePrivateFile, WritesContentWithMode0600) {
  TempDir tmp;
  const fs::path file = tmp.path() / "admin-token";
  ASSERT_TRUE(WritePrivateFile(file.string(), "tcn_abc\n"));
  EXPECT_EQ(ReadAll(file), "tcn_abc\n");
  EXPECT_EQ(ModeOf(file), 0600u);
}

TEST(WritePrivateFile, ReplacesAnExistingFileAndItsMode) {
  TempDir tmp;
  const fs::path file = tmp.path() / "f";
  WriteWithMode(file, "old content that is longer", 0644);
  ASSERT_TRUE(WritePrivateFile(file.string(), "new"));
  EXPECT_EQ(ReadAll(file), "new");
  EXPECT_EQ(ModeOf(file), 0600u);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1) << "no temp file left behind";
}

TEST(WritePrivateFile, MissingDirectoryIsAnErrorNamingThePath) {
  TempDir tmp;
  const fs::path file = tmp.path() / "no" / "such" / "dir" / "f";
  auto r = WritePrivateFile(file.string(), "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "write_failed");
  EXPECT_NE(r.error().message.find(file.string()), std::string::npos);
}

}  // namespace
}  // namespace tocsin::security
