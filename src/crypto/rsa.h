// RSA keys, RSAES-OAEP (the paper's E) and RSASSA-PSS (the paper's S).
//
// Parameters (docs/spec.md, "Cryptographic parameters"): OAEP with SHA-256, MGF1-SHA-256 and an
// empty label; PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt. Encryption and signing encode
// the message by hand (RFC 8017 7.1.1 and 9.1.1) and then apply OpenSSL's raw RSA operation, so
// that the OAEP seed and the PSS salt come from the injected RandomSource: a seeded source then
// reproduces protocol transcripts byte for byte. Decryption and verification are OpenSSL's own,
// so every message we produce is checked by an independent implementation.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/bytes.h"
#include "crypto/random.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace dcas::crypto {

inline constexpr std::size_t pss_salt_size = 32;
inline constexpr std::size_t sha256_size = 32;

class RsaPublicKey {
 public:
  // DER SubjectPublicKeyInfo. Errors: key_invalid.
  static Result<RsaPublicKey> from_der(ByteView spki);
  // Takes a reference on an EVP_PKEY (e.g. from a certificate). Errors: key_invalid (not RSA).
  static Result<RsaPublicKey> from_evp(EVP_PKEY* key);
  Bytes to_der() const;
  std::size_t modulus_bits() const;
  std::size_t modulus_bytes() const { return (modulus_bits() + 7) / 8; }
  EVP_PKEY* evp() const { return key_.get(); }

 private:
  explicit RsaPublicKey(std::shared_ptr<EVP_PKEY> k) : key_(std::move(k)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

class RsaPrivateKey {
 public:
  // Fresh key from OpenSSL's CSPRNG, public exponent 65537. Errors: crypto_failure.
  static Result<RsaPrivateKey> generate(unsigned bits = 2048);
  // DER PKCS#8. Errors: key_invalid.
  static Result<RsaPrivateKey> from_der(ByteView pkcs8);
  static Result<RsaPrivateKey> from_pem(std::string_view pem);
  // Errors: io_error, pem_invalid, key_invalid.
  static Result<RsaPrivateKey> load_pem_file(const std::filesystem::path& path);

  // PKCS#8 PEM, unencrypted, in zeroizing memory.
  SecureBytes to_pem() const;
  // Writes the PEM with mode 0600 (owner read/write only), replacing an existing file.
  // Errors: io_error.
  Result<void> save_pem_file(const std::filesystem::path& path) const;

  RsaPublicKey public_key() const;
  std::size_t modulus_bytes() const;
  EVP_PKEY* evp() const { return key_.get(); }

 private:
  explicit RsaPrivateKey(std::shared_ptr<EVP_PKEY> k) : key_(std::move(k)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

// E(Pub, m). Errors: bad_length (m longer than k - 66 bytes), crypto_failure, random_failure.
Result<Bytes> oaep_encrypt(const RsaPublicKey& key, ByteView message, RandomSource& rng);
// Errors: decrypt_failed (any padding or size problem; one error so it is no padding oracle).
Result<SecureBytes> oaep_decrypt(const RsaPrivateKey& key, ByteView ciphertext);

// S(Prv, m): signature of exactly modulus_bytes() bytes. Errors: crypto_failure, random_failure.
Result<Bytes> pss_sign(const RsaPrivateKey& key, ByteView message, RandomSource& rng);
// Errors: signature_invalid.
Result<void> pss_verify(const RsaPublicKey& key, ByteView message, ByteView signature);

// OpenSSL's own OAEP encryption and PSS signing with the same parameters, drawing from OpenSSL's
// generator: the benchmarks' bound and the tests' cross-check.
namespace openssl_reference {
Result<Bytes> oaep_encrypt(const RsaPublicKey& key, ByteView message);
Result<Bytes> pss_sign(const RsaPrivateKey& key, ByteView message);
}  // namespace openssl_reference

}  // namespace dcas::crypto
