// AES-256-GCM, for secrets at rest (the TA store seals each SM's Ki under the operator key).
#pragma once

#include "common/bytes.h"
#include "crypto/random.h"

namespace dcas::crypto {

inline constexpr std::size_t aead_key_size = 32;
inline constexpr std::size_t aead_overhead = 12 + 16;  // nonce before, tag after

// Returns nonce (12, random) || ciphertext || tag (16). `aad` is authenticated, not stored.
// Errors: bad_length (key), random_failure, crypto_failure.
Result<Bytes> aead_seal(ByteView key, ByteView aad, ByteView plaintext, RandomSource& rng);
// Errors: bad_length, decrypt_failed (wrong key, wrong aad, or altered).
Result<SecureBytes> aead_open(ByteView key, ByteView aad, ByteView sealed);

}  // namespace dcas::crypto
