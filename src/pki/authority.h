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

// Many device certificates of one role over one subject key, as issue_device makes them, fast:
// what does not change from one to the next (the key, the extensions, the validity, the issuer) is
// built and encoded once; each certificate gets its own random serial and subject and is signed.
// issue_device pays about three times the signature for encoding and decoding the public key;
// a load test (provisioning/load_identities.h) issues 100,000s over a small pool of keys.
// Not thread-safe: one per thread.
class DeviceCertificateStamp {
 public:
  // Errors: as issue_device.
  static Result<DeviceCertificateStamp> create(const crypto::RsaPrivateKey& ta_key, const Certificate& ta_root,
                                               Role role, const crypto::RsaPublicKey& subject_key,
                                               const Validity& validity, crypto::RandomSource& rng);
  // The certificate for device `id`, DER. Errors: invalid_argument, crypto_failure, random_failure.
  Result<Bytes> issue(ByteView id, crypto::RandomSource& rng);

 private:
  DeviceCertificateStamp(std::shared_ptr<X509> model, crypto::RsaPrivateKey ta_key)
      : model_(std::move(model)), ta_key_(std::move(ta_key)) {}
  std::shared_ptr<X509> model_;
  crypto::RsaPrivateKey ta_key_;
};

}  // namespace dcas::pki
