// The paper's key derivations (Tables 2 and 3), in one place.
//
//   KeyPairingID = SM_ID || TP_ID
//   KPK      = PRF(H(Ki1 || Ki2 || Ki3 || SM_ID || TP_ID || RAND)) msb(160)
//   CWEK     = H(KPK || SM_ID || TP_ID) msb(128)
//   HMAC_KEY = H(RANDHMAC || SM_ID || TP_ID) msb(160)
//
// H is SHA-256, PRF the FIPS 186-2 CN1 generator seeded with the 32-byte digest (b = 256).
#pragma once

#include <array>
#include <string_view>

#include "common/bytes.h"
#include "common/ids.h"
#include "crypto/kex.h"

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

// The hardened1 profile's keys (docs/spec.md §17.3), beside the paper's:
//
//   TH        = SHA-256("DCAS hardened1 transcript" || L(TPCertReq) || L(TPCertRsp) || L(statement) || E_SM)
//               where L(m) = len(m) as 4 bytes || m, over each message's bytes exactly as sent
//   ss        = X25519(e_SM, E_TP) = X25519(e_TP, E_SM)
//   PRK       = HKDF-Extract(salt = TH, IKM = KPK || ss)
//   CWEK      = HKDF-Expand(PRK, "DCAS hardened1 CWEK", 16)
//   HMAC_KEY  = HKDF-Expand(PRK, "DCAS hardened1 HMAC_KEY", 20)
//   K_confirm = HKDF-Expand(PRK, "DCAS hardened1 confirm", 32)
//   confirmation(X) = HMAC-SHA256(K_confirm, X || TH), X = "SM" or "TP"
namespace dcas::protocol {

inline constexpr std::size_t nonce_size = 32;         // N_SM and N_TP
inline constexpr std::size_t confirmation_size = 32;  // HMAC-SHA256

struct HandshakeKeys {
  SecureBytes cwek;         // 16 bytes
  SecureBytes hmac_key;     // 20 bytes
  SecureBytes confirm_key;  // 32 bytes
};

std::array<std::uint8_t, 32> transcript_hash(ByteView tp_cert_req, ByteView tp_cert_rsp, ByteView statement,
                                             ByteView sm_ephemeral);
// Errors: bad_length (KPK not 20 bytes, shared secret not 32), crypto_failure.
Result<HandshakeKeys> derive_handshake_keys(ByteView kpk, ByteView shared_secret, ByteView transcript);
// `who` is "SM" or "TP": each side proves the keys with its own label, so neither can reflect the other's.
std::array<std::uint8_t, 32> key_confirmation(ByteView confirm_key, std::string_view who, ByteView transcript);

// The whole key schedule of a run as one end computes it: ss from its own ephemeral key and the
// peer's public value, TH over the run's messages (E_SM the SM's public value), then the keys.
struct RunKeys {
  HandshakeKeys keys;
  std::array<std::uint8_t, 32> transcript{};
};
struct RunMessages {
  ByteView tp_cert_req, tp_cert_rsp, statement, sm_ephemeral;
};
// Errors: key_invalid (the peer's value), as derive_handshake_keys.
Result<RunKeys> run_key_schedule(const crypto::X25519Key& own, ByteView peer_ephemeral, ByteView kpk,
                                 const RunMessages& run);

}  // namespace dcas::protocol
