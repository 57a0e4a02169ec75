// The TA's certificate revocation list (docs/spec.md §18): an X.509 v2 CRL signed by the TA root,
// with a CRL number that only goes up. Any party holding the TA root checks it; `openssl crl
// -verify -CAfile ta.crt` accepts it.
#pragma once

#include <vector>

#include "crypto/random.h"
#include "crypto/rsa.h"
#include "pki/certificate.h"

namespace dcas::pki {

// The largest CRL a party accepts, and the TA issues: it travels inside SecurityAnnounce and
// DCASDownload, whose whole encoding fits in 64 KiB beside an AP certificate.
inline constexpr std::size_t max_crl_size = 49152;

struct RevokedCertificate {
  Bytes serial;  // big-endian, as Certificate::serial()
  TimePoint revoked_at;
};

class Crl {
 public:
  // Parses a DER CRL and verifies it against the TA root: issuer is the root's subject, the
  // signature verifies under the root's key, a CRL number is present. Errors: crl_invalid
  // (oversized, not DER, no CRL number, another issuer, a bad signature).
  static Result<Crl> verified(ByteView der, const Certificate& ta_root);
  // As verified(), from PEM or DER in a file. Errors: io_error, crl_invalid.
  static Result<Crl> load_file(const std::filesystem::path& path, const Certificate& ta_root);

  std::uint64_t number() const { return number_; }
  TimePoint this_update() const { return this_update_; }
  TimePoint next_update() const { return next_update_; }
  // Whether the certificate with this serial is on the list.
  bool revokes(ByteView serial) const;
  bool revokes(const Certificate& cert) const { return revokes(cert.serial()); }
  std::size_t size() const { return serials_.size(); }
  const Bytes& der() const { return der_; }
  std::string pem() const;

 private:
  Crl() = default;
  std::uint64_t number_ = 0;
  TimePoint this_update_{}, next_update_{};
  std::vector<Bytes> serials_;  // sorted
  Bytes der_;
};

// Signs CRL number `number` listing `revoked`, valid from `this_update` to `next_update`.
// Errors: invalid_argument (number 0, an empty period), crl_invalid (the result over max_crl_size:
// too many revocations for an announcement), crypto_failure.
Result<Crl> make_crl(const crypto::RsaPrivateKey& ta_key, const Certificate& ta_root, std::uint64_t number,
                     const std::vector<RevokedCertificate>& revoked, TimePoint this_update, TimePoint next_update);

// Of two CRLs (either may be absent), the one a party keeps: the higher number. An older CRL
// never replaces a newer one.
bool newer_than(const Crl& candidate, const std::optional<Crl>& held);

// What every party does with a CRL it is given: verifies it against the TA root and keeps it in
// `held` if newer. Returns whether `held` changed. Errors: as Crl::verified.
Result<bool> adopt_if_newer(std::optional<Crl>& held, ByteView der, const Certificate& ta_root);

}  // namespace dcas::pki
