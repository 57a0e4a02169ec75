// X.509 certificates of the DCAS PKI: the TA root and the TA-issued SM, TP and AP certificates.
//
// A device certificate carries its 8-byte ID as 16 lowercase hex digits in the subject Common Name
// and its role as a critical extended key usage with one of the DCAS role OIDs below, so a TP
// certificate can never pass where an SM's or an AP's is required (docs/spec.md, "PKI").
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/ids.h"
#include "crypto/hash.h"
#include "crypto/rsa.h"

typedef struct x509_st X509;

namespace dcas::pki {

using TimePoint = std::chrono::system_clock::time_point;

// 2.25.<UUID b605e4f7-7279-4af6-9ce3-86118dfc31ec> is the DCAS arc (ITU-T X.667 UUID-based OID:
// unique without registration). Roles are <arc>.1.<n>.
inline constexpr std::string_view dcas_oid_arc = "2.25.241950100711321061758914092381962514924";
std::string role_oid(Role role);  // sm: <arc>.1.1, tp: <arc>.1.2, ap: <arc>.1.3; ta: empty

class Certificate {
 public:
  // Errors: cert_invalid.
  static Result<Certificate> from_der(ByteView der);
  static Result<Certificate> from_pem(std::string_view pem);
  // PEM or DER, detected from the content. Errors: io_error, cert_invalid.
  static Result<Certificate> load_file(const std::filesystem::path& path);
  // Errors: io_error.
  Result<void> save_pem_file(const std::filesystem::path& path) const;

  Bytes der() const;
  std::string pem() const;

  std::string common_name() const;   // empty if absent
  std::string subject_text() const;  // "O=DCAS, CN=0011223344556677"
  std::string issuer_text() const;
  Bytes serial() const;  // big-endian, without leading zeros: what a CRL entry names
  std::string serial_hex() const;
  TimePoint not_before() const;
  TimePoint not_after() const;
  bool is_ca() const;
  // The DCAS roles named in the extended key usage (normally exactly one; none for the TA root).
  std::vector<Role> roles() const;
  crypto::Sha256Digest fingerprint() const;  // SHA-256 of the DER
  // Errors: key_invalid (not RSA, or under 2048 bits).
  Result<crypto::RsaPublicKey> public_key() const;
  // The SubjectPublicKeyInfo (DER) as the certificate carries it: the bytes of
  // public_key().to_der(), without OpenSSL 3's encoder lookup, which costs about as much as an
  // RSA verification.
  Bytes public_key_der() const;

  X509* x509() const { return cert_.get(); }

 private:
  explicit Certificate(std::shared_ptr<X509> c) : cert_(std::move(c)) {}
  std::shared_ptr<X509> cert_;
};

// Parses each distinct certificate once. OpenSSL 3.0 spends ~150 us decoding a certificate's
// public key, more than the RSA verification itself, and a role sees the same few certificates
// again and again (its TP's, its AP's, a rebooting SM's). Keeps the last `capacity` encodings;
// one owner at a time.
class CertificateCache {
 public:
  explicit CertificateCache(std::size_t capacity = 64) : capacity_(capacity) {}
  // Errors: as Certificate::from_der.
  Result<Certificate> parse(ByteView der);

 private:
  std::size_t capacity_;
  std::vector<std::pair<Bytes, Certificate>> entries_;  // most recently used last
};

// What verification establishes about a device: its role, its ID (from the CN) and its key.
struct VerifiedDevice {
  Role role;
  std::array<std::uint8_t, device_id_size> id;
  crypto::RsaPublicKey public_key;
  Bytes public_key_der;  // its SubjectPublicKeyInfo, for the secure memories
};

// Verifies `cert` against the TA root at time `at`, then requires role `expected`.
// Errors, each naming what failed: cert_foreign (not issued by this TA), cert_bad_signature,
// cert_expired, cert_not_yet_valid (for the certificate or the root), cert_wrong_role,
// cert_bad_id (CN is not 16 lowercase hex digits), cert_invalid (anything else, e.g. a CA
// certificate presented as a device), key_invalid.
Result<VerifiedDevice> verify_device(const Certificate& cert, const Certificate& ta_root, Role expected, TimePoint at);

}  // namespace dcas::pki
