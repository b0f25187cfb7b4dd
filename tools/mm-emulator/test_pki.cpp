// Throw-away certificates for TLS tests, generated with the OpenSSL API (EC P-256 keys, fast).
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <string>

#include "emulator.hpp"

namespace mmemu {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

PkeyPtr NewKey() { return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")); }

bool AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// Signs `key`'s certificate with `issuer_key` (self-signed when issuer is null).
X509Ptr MakeCert(EVP_PKEY* key, const std::string& common_name, X509* issuer, EVP_PKEY* issuer_key,
                 bool is_ca, const char* san, long not_before_s, long not_after_s) {
  X509Ptr cert(X509_new());
  if (!cert) return nullptr;
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7F;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after_s);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("mm-emulator test PKI"), -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  bool ok = true;
  if (is_ca) {
    ok = ok && AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    ok = ok && AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = ok && AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    ok = ok && AddExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
    ok = ok && AddExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
    ok = ok && AddExtension(cert.get(), signer, NID_subject_alt_name, san);
  }
  ok = ok && AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) {
    ok = ok && AddExtension(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  }
  EVP_PKEY* signing_key = issuer_key != nullptr ? issuer_key : key;
  if (!ok || X509_sign(cert.get(), signing_key, EVP_sha256()) == 0) return nullptr;
  return cert;
}

bool WriteCert(const std::string& path, X509* cert) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  bool ok = PEM_write_X509(f, cert) == 1;
  return std::fclose(f) == 0 && ok;
}

bool WriteKey(const std::string& path, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  bool ok = PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  return std::fclose(f) == 0 && ok;
}

}  // namespace

TestPki MakeTestPki(const std::string& dir) {
  constexpr long kDay = 24 * 3600;
  TestPki out;
  PkeyPtr ca_key = NewKey(), leaf_key = NewKey(), other_key = NewKey(), expired_key = NewKey();
  if (!ca_key || !leaf_key || !other_key || !expired_key) {
    std::fprintf(stderr, "mm-emulator: MakeTestPki: key generation failed\n");
    return out;
  }
  X509Ptr ca = MakeCert(ca_key.get(), "mm-emulator test CA", nullptr, nullptr, true, nullptr, -kDay,
                        30 * kDay);
  if (!ca) {
    std::fprintf(stderr, "mm-emulator: MakeTestPki: CA certificate failed\n");
    return out;
  }
  const char* local_san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  X509Ptr leaf = MakeCert(leaf_key.get(), "localhost", ca.get(), ca_key.get(), false, local_san,
                          -kDay, 30 * kDay);
  X509Ptr other = MakeCert(other_key.get(), "wrong.example", ca.get(), ca_key.get(), false,
                           "DNS:wrong.example", -kDay, 30 * kDay);
  X509Ptr expired = MakeCert(expired_key.get(), "localhost", ca.get(), ca_key.get(), false,
                             local_san, -3 * kDay, -kDay);
  if (!leaf || !other || !expired) {
    std::fprintf(stderr, "mm-emulator: MakeTestPki: leaf certificate failed\n");
    return out;
  }
  TestPki pki{dir + "/ca.pem",         dir + "/leaf.pem",           dir + "/leaf-key.pem",
              dir + "/other-host.pem", dir + "/other-host-key.pem", dir + "/expired.pem",
              dir + "/expired-key.pem"};
  bool ok = WriteCert(pki.ca_cert, ca.get()) && WriteCert(pki.leaf_cert, leaf.get()) &&
            WriteKey(pki.leaf_key, leaf_key.get()) && WriteCert(pki.other_host_cert, other.get()) &&
            WriteKey(pki.other_host_key, other_key.get()) &&
            WriteCert(pki.expired_cert, expired.get()) &&
            WriteKey(pki.expired_key, expired_key.get());
  if (!ok) {
    std::fprintf(stderr, "mm-emulator: MakeTestPki: cannot write PEM files into %s\n", dir.c_str());
    return out;
  }
  return pki;
}

}  // namespace mmemu
