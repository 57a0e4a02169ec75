// What the hardened1 profile adds to the paper's primitives: X25519 (RFC 7748) for the ephemeral
// key agreement between SM and TP, HKDF-SHA256 (RFC 5869) for deriving keys from it, and
// HMAC-SHA256 (RFC 2104, FIPS 198-1) for key confirmation. All on OpenSSL 3.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/hash.h"
#include "crypto/random.h"

namespace dcas::crypto {

inline constexpr std::size_t x25519_size = 32;

// An ephemeral X25519 private key. Its scalar is drawn from the injected random source (so a
// seeded source reproduces a run); OpenSSL holds it (in its secure heap, cleansed on free) and
// frees it when the key goes.
class X25519Key {
 public:
  // Errors: random_failure, crypto_failure.
  static Result<X25519Key> generate(RandomSource& rng);
  // Errors: key_invalid (not 32 bytes), crypto_failure.
  static Result<X25519Key> from_private(ByteView scalar);

  const Bytes& public_key() const { return public_; }
  // X25519(our scalar, peer's public value). Errors: key_invalid (not 32 bytes, or a low-order
  // point: the shared secret is all zeros, RFC 7748 §6.1), crypto_failure.
  Result<SecureBytes> shared_secret(ByteView peer_public) const;

  X25519Key(X25519Key&&) noexcept;
  X25519Key& operator=(X25519Key&&) noexcept;
  ~X25519Key();

 private:
  struct State;
  X25519Key(std::unique_ptr<State> state, Bytes pub);
  std::unique_ptr<State> state_;  // the EVP_PKEY: made once, so the public value is computed once
  Bytes public_;
};

// HKDF-Extract(salt, IKM) -> PRK (32 bytes). Errors: crypto_failure.
Result<SecureBytes> hkdf_extract(ByteView salt, ByteView ikm);
// HKDF-Expand(PRK, info, L), L <= 255 * 32. Errors: crypto_failure, invalid_argument.
Result<SecureBytes> hkdf_expand(ByteView prk, ByteView info, std::size_t length);

// HMAC-SHA256 (RFC 4231 vectors). Any key length.
Sha256Digest hmac_sha256(ByteView key, std::initializer_list<ByteView> parts);

}  // namespace dcas::crypto
