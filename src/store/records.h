// What the durable stores share: time in the database (milliseconds since the epoch), the Ki
// sealed under the operator key, and the audit text of a validation.
#pragma once

#include <chrono>
#include <string>

#include "protocol/pairing.h"

namespace dcas::store {

inline std::int64_t to_ms(protocol::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline protocol::TimePoint from_ms(std::int64_t ms) { return protocol::TimePoint(std::chrono::milliseconds(ms)); }
inline std::int64_t wall_ms() { return to_ms(std::chrono::system_clock::now()); }

// nonce || AES-256-GCM(operator key, Ki1 || Ki2 || Ki3) || tag, the SM_ID as associated data.
// Errors: bad_length (a Ki not 16 bytes), random_failure, crypto_failure.
Result<Bytes> seal_ki(ByteView operator_key, const SmId& sm, const protocol::SmSecrets& ki);
// Errors: store_key_invalid (wrong key, another SM's record, or altered).
Result<protocol::SmSecrets> open_ki(ByteView operator_key, const SmId& sm, ByteView sealed);

// The store's key check (spec §12): nonce || AES-256-GCM(operator key, "DCAS TA store") || tag,
// with "dcas-store-key-check" as associated data, written once; a store opened with another key
// does not open it. Errors: random_failure, crypto_failure / store_key_invalid.
Result<Bytes> seal_key_check(ByteView operator_key);
Result<void> open_key_check(ByteView operator_key, ByteView sealed);

// "virgin -> auth-paired (bound_virgin_pair)"
std::string validation_detail(const std::optional<protocol::SmRecord>& before, const protocol::PairingOutcome& outcome);

}  // namespace dcas::store
