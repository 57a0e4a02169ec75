// The random source every role draws from. Production uses OpenSSL's CSPRNG; tests inject a seeded
// deterministic source so that whole protocol runs reproduce byte for byte.
#pragma once

#include <cstdint>
#include <span>

#include "common/bytes.h"
#include "common/error.h"

namespace dcas::crypto {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // Fills `out` entirely. Errors: random_failure.
  virtual Result<void> fill(std::span<std::uint8_t> out) = 0;

  Result<SecureBytes> bytes(std::size_t n);
};

// OpenSSL's default DRBG (RAND_bytes), seeded from the operating system.
class SystemRandom final : public RandomSource {
 public:
  Result<void> fill(std::span<std::uint8_t> out) override;
};

// Deterministic stream for tests and reproducible transcripts: AES-128-CTR keyed with the first 16
// bytes of SHA-256(seed), counter starting at zero. NOT for production keys.
class SeededRandom final : public RandomSource {
 public:
  explicit SeededRandom(ByteView seed);
  Result<void> fill(std::span<std::uint8_t> out) override;

 private:
  SecureBytes key_;
  std::uint64_t block_counter_ = 0;
  SecureBytes buffered_;  // unused keystream bytes of the last block
};

// The process-wide system random source.
RandomSource& system_random();

}  // namespace dcas::crypto
