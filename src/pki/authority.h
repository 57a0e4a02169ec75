// Issuing certificates: the self-signed TA root and the TA-issued device certificates.
#pragma once

#include <chrono>

#include "common/ids.h"
#include "crypto/random.h"
#include "crypto/rsa.h"
#include "pki/certificate.h"

namespace dcas::pki {

struct Validity {
  TimePoint not_before;
  TimePoint not_after;
  // [now - 1 hour, now + days]: the hour absorbs clock skew between TA and devices.
  static Validity starting_now(int days);
};

// Self-signed root: CA:TRUE (path length 0), keyCertSign and cRLSign, subject "O=DCAS, CN=<name>".
// Errors: invalid_argument, crypto_failure.
Result<Certificate> make_root(const crypto::RsaPrivateKey& ta_key, std::string_view name, const Validity& validity,
                              crypto::RandomSource& rng);

// Device certificate for `role` (sm, tp or ap) with subject "O=DCAS, CN=<16 hex digits of id>",
// CA:FALSE, digitalSignature and keyEncipherment, the role's critical EKU, a random 128-bit serial,
// signed sha256WithRSAEncryption by the TA. Errors: invalid_argument, crypto_failure.
Result<Certificate> issue_device(const crypto::RsaPrivateKey& ta_key, const Certificate& ta_root, Role role,
                                 ByteView id, const crypto::RsaPublicKey& subject_key, const Validity& validity,
                                 crypto::RandomSource& rng);

}  // namespace dcas::pki
