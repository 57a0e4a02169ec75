// The hardened1 profile's pairing statement (docs/spec.md §17.2): the TA's signed answer to one
// KeyRequest, naming the pair, the run (both nonces), its verdict and a validity, with the KPK
// encrypted to each end of the pair. The TA writes it; the AP reads its verdict; the SM and the TP
// each check that it speaks of their own run before they use its KPK.
#pragma once

#include "common/ids.h"
#include "crypto/random.h"
#include "crypto/rsa.h"
#include "pki/certificate.h"
#include "protocol/role.h"

namespace dcas::protocol {

struct PairingStatement {
  SmId sm;
  TpId tp;
  Bytes sm_nonce, tp_nonce;
  bool paired = false;
  TimePoint not_after{};
  Bytes kpk_for_sm, kpk_for_tp;  // RSAES-OAEP ciphertexts
  Bytes encoded;                 // the message as the TA signed it
};

struct StatementTerms {
  SmId sm;
  TpId tp;
  ByteView sm_nonce, tp_nonce;
  bool paired;
  TimePoint not_after;
};
// Encrypts `kpk` to both ends and signs. Errors: crypto and random failures.
Result<Bytes> make_statement(const StatementTerms& terms, ByteView kpk, const crypto::RsaPublicKey& sm_key,
                             const crypto::RsaPublicKey& tp_key, const crypto::RsaPrivateKey& ta_key,
                             crypto::RandomSource& rng);

// Decodes a KeyResponse (TA->AP, h1) and verifies the TA's signature. Errors: wire errors,
// unexpected_message, signature_invalid, bad_plaintext (a result byte other than 0 or 1).
Result<PairingStatement> open_statement(ByteView bytes, const crypto::RsaPublicKey& ta_key);

// What each party of a run requires before using the statement: it names this SM and this TP
// (id_mismatch), this run's two nonces and has not expired (not_fresh), and it pairs (pairing_refused:
// a refusal counts only when it is about this run, so an old one cannot stop a new run).
Result<void> check_statement(const PairingStatement& statement, const SmId& sm, const TpId& tp, ByteView sm_nonce,
                             ByteView tp_nonce, TimePoint now);

// What the SM and the TP each do with a statement they are shown, in one place: open it with the
// TA root's key, check it speaks of their run, and decrypt their own copy of the KPK (`self`: Role::sm
// takes kpk_for_sm, Role::tp kpk_for_tp). Errors: as open_statement and check_statement,
// decrypt_failed, bad_plaintext.
struct RunTerms {
  SmId sm;
  TpId tp;
  ByteView sm_nonce, tp_nonce;
};
struct AcceptedStatement {
  PairingStatement statement;
  SecureBytes kpk;
};
Result<AcceptedStatement> accept_statement(ByteView bytes, const pki::Certificate& ta_root,
                                           const crypto::RsaPrivateKey& own_key, Role self, const RunTerms& run,
                                           TimePoint now);

}  // namespace dcas::protocol
