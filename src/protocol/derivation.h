// The paper's key derivations (Tables 2 and 3), in one place.
//
//   KeyPairingID = SM_ID || TP_ID
//   KPK      = PRF(H(Ki1 || Ki2 || Ki3 || SM_ID || TP_ID || RAND)) msb(160)
//   CWEK     = H(KPK || SM_ID || TP_ID) msb(128)
//   HMAC_KEY = H(RANDHMAC || SM_ID || TP_ID) msb(160)
//
// H is SHA-256, PRF the FIPS 186-2 CN1 generator seeded with the 32-byte digest (b = 256).
#pragma once

#include "common/bytes.h"
#include "common/ids.h"

namespace dcas::protocol {

inline constexpr std::size_t ki_size = 16;         // each of Ki1..Ki3: 128 bits
inline constexpr std::size_t rand_size = 40;       // RAND: 320 bits
inline constexpr std::size_t kpk_size = 20;        // KPK: 160 bits
inline constexpr std::size_t cwek_size = 16;       // CWEK: 128 bits (AES-128)
inline constexpr std::size_t hmac_key_size = 20;   // HMAC_KEY: 160 bits
inline constexpr std::size_t rand_hmac_size = 20;  // RANDHMAC: 160 bits (our choice, docs/spec.md)
inline constexpr std::size_t key_pairing_id_size = 2 * device_id_size;

struct SmSecrets {
  SecureBytes ki1, ki2, ki3;  // each ki_size bytes
};

Bytes key_pairing_id(const SmId& sm, const TpId& tp);

// Errors: bad_length (a Ki or RAND of the wrong size).
Result<SecureBytes> derive_kpk(const SmSecrets& ki, const SmId& sm, const TpId& tp, ByteView rand);
// Errors: bad_length (KPK not 20 bytes).
Result<SecureBytes> derive_cwek(ByteView kpk, const SmId& sm, const TpId& tp);
// Errors: bad_length (RANDHMAC not 20 bytes).
Result<SecureBytes> derive_hmac_key(ByteView rand_hmac, const SmId& sm, const TpId& tp);

// The KPK the TA sends when validation fails: twenty 0xFF bytes.
SecureBytes failure_kpk();
bool is_failure_kpk(ByteView kpk);

}  // namespace dcas::protocol
