// AES-128 in the modes the protocol and the descramblers use: ECB (single blocks, key derivation of
// IVs), CBC without padding (CW channel, DVB-CISSA, ATIS-IDSA), CTR.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "common/bytes.h"

namespace dcas::crypto {

using AesBlock = std::array<std::uint8_t, 16>;
inline constexpr std::size_t aes128_key_size = 16;

enum class AesMode { ecb, cbc, ctr };
enum class AesDirection { encrypt, decrypt };

// A keyed AES-128 context reused across messages: the key schedule is computed once.
class Aes128 {
 public:
  // Errors: bad_length (key not 16 bytes), crypto_failure.
  static Result<Aes128> create(AesMode mode, AesDirection direction, ByteView key);

  // Processes `in` into `out` (same size) starting from `iv` (ignored for ECB). For ECB and CBC the
  // size must be a multiple of 16: there is no padding. Errors: bad_length, crypto_failure.
  Result<void> run(ByteView iv, ByteView in, std::span<std::uint8_t> out);
  // CBC and CTR: continues from where the previous call left the chaining value or counter,
  // without setting an IV. Errors: bad_length, crypto_failure.
  Result<void> run_continuing(ByteView in, std::span<std::uint8_t> out);

 private:
  struct State;
  explicit Aes128(std::unique_ptr<State> s);

 public:
  Aes128(Aes128&&) noexcept;
  Aes128& operator=(Aes128&&) noexcept;
  ~Aes128();

 private:
  std::unique_ptr<State> state_;
};

// One-shot helpers.
Result<AesBlock> aes128_ecb_encrypt_block(ByteView key, ByteView block);
Result<Bytes> aes128_run(AesMode mode, AesDirection direction, ByteView key, ByteView iv, ByteView in);

}  // namespace dcas::crypto
