// The control-word channel from SM to TP (docs/spec.md, "The control-word message").
//
// After key confirmation the SM seals each odd/even control-word update into a ControlWord
// message: AES-128-CBC under CWEK with IV = AES-128(CWEK, 0^8 || sequence), then HMAC-SHA1 under
// HMAC_KEY over the authenticated bytes (encrypt-then-MAC). The TP opens it: MAC first (constant
// time), then sequence (replay and reorder), then age, and only then decrypts. This path runs
// every crypto period, so it allocates nothing per message and encodes the fixed layout directly;
// the generic codec decodes the same bytes (the tests hold the two to each other).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

#include "common/bytes.h"
#include "crypto/aes.h"
#include "crypto/hash.h"
#include "protocol/role.h"

namespace dcas::protocol {

inline constexpr std::size_t cw_slot_size = 16;
inline constexpr std::size_t cw_message_size = 98;  // header 8 + fields 90

enum class Parity : std::uint8_t { even = 0, odd = 1 };

// One update: each slot present or not, all CWs of one length (8 bytes for DVB-CSA2, 16 for AES).
struct ControlWords {
  std::uint8_t cw_length = 16;
  std::optional<std::array<std::uint8_t, cw_slot_size>> odd;
  std::optional<std::array<std::uint8_t, cw_slot_size>> even;
  ~ControlWords();  // wipes the control words
  ControlWords() = default;
  ControlWords(const ControlWords&) = default;
  ControlWords& operator=(const ControlWords&) = default;
};

using CwMessage = std::array<std::uint8_t, cw_message_size>;

// The block whose AES-128 encryption under CWEK is a ControlWord's IV: 0^8 || sequence (spec §6.6).
std::array<std::uint8_t, 16> cw_nonce_block(std::uint64_t sequence);

// The cw_layout and two-slot plaintext (odd || even, each CW zero-padded to 16 bytes) that the
// ControlWord message and the ECM share. Errors: invalid_argument (no slot, a length not 8 or 16).
Result<std::array<std::uint8_t, 2>> slot_layout(const ControlWords& cws);
void write_slots(const ControlWords& cws, std::span<std::uint8_t, 2 * cw_slot_size> out);
// Errors: bad_plaintext (an unknown slot bit, no slot, a bad length, or non-zero padding).
Result<ControlWords> read_slots(ByteView layout, std::span<const std::uint8_t, 2 * cw_slot_size> plain);

struct CwPolicy {
  std::chrono::milliseconds max_age{30'000};    // older messages are stale (crypto periods are 1-20 s)
  std::chrono::milliseconds max_future{2'000};  // SM and TP share the host's clock; allow small skew
};

class CwSealer {
 public:
  // Errors: bad_length (CWEK not 16 bytes, HMAC_KEY not 20), crypto_failure.
  static Result<CwSealer> create(ByteView cwek, ByteView hmac_key);
  // Seals the next update; sequence numbers start at 1. Errors: invalid_argument (no slot, a CW
  // length other than 8 or 16), crypto_failure.
  Result<CwMessage> seal(const ControlWords& cws, TimePoint now);
  // The same, written into `out` without a copy (the per-crypto-period path).
  Result<void> seal_into(const ControlWords& cws, TimePoint now, CwMessage& out);
  std::uint64_t last_sequence() const { return sequence_; }

 private:
  CwSealer(crypto::Aes128 cbc, crypto::HmacSha1 mac) : cbc_(std::move(cbc)), mac_(std::move(mac)) {}
  // One AES-128-CBC context for the life of the keys, never re-initialised (re-setting an IV in
  // OpenSSL 3 costs more than the three block encryptions of a message). It chains from the last
  // block it produced; seal() cancels that by XORing it into the nonce block.
  crypto::Aes128 cbc_;
  std::array<std::uint8_t, 16> chain_{};  // the context's current chaining value
  crypto::HmacSha1 mac_;
  std::uint64_t sequence_ = 0;
};

class CwOpener {
 public:
  static Result<CwOpener> create(ByteView cwek, ByteView hmac_key, CwPolicy policy = {});
  // Errors: wire errors (not a ControlWord message), mac_invalid, cw_replayed, cw_stale,
  // bad_plaintext (layout or padding wrong). On any error nothing changes.
  Result<ControlWords> open(ByteView message, TimePoint now);
  std::uint64_t last_sequence() const { return last_sequence_; }

 private:
  CwOpener(crypto::Aes128 encrypt, crypto::Aes128 decrypt, crypto::HmacSha1 mac, CwPolicy policy)
      : encrypt_(std::move(encrypt)), decrypt_(std::move(decrypt)), mac_(std::move(mac)), policy_(policy) {}
  crypto::Aes128 encrypt_;  // derives the IV
  crypto::Aes128 decrypt_;  // both ciphertext blocks in one call; the CBC XOR is done here
  crypto::HmacSha1 mac_;
  CwPolicy policy_;
  std::uint64_t last_sequence_ = 0;
};

}  // namespace dcas::protocol
