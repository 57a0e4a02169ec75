#include "pki/authority.h"

#include <fmt/format.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "crypto/ossl.h"

namespace dcas::pki {

Validity Validity::starting_now(int days) {
  const auto now = std::chrono::system_clock::now();
  return {now - std::chrono::hours(1), now + std::chrono::days(days)};
}

namespace {

Result<ossl::Asn1Integer> random_serial(crypto::RandomSource& rng) {
  std::array<std::uint8_t, 16> bytes{};
  DCAS_TRY(rng.fill(bytes));
  bytes[0] = static_cast<std::uint8_t>((bytes[0] & 0x7f) | 0x40);  // positive, and exactly 16 bytes long
  ossl::Bignum bn(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  ossl::Asn1Integer serial(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
  if (!serial) return ossl::fail_ossl(Errc::crypto_failure, "serial number");
  return serial;
}

Result<void> set_name(X509* cert, std::string_view cn, bool subject) {
  ossl::X509Name name(X509_NAME_new());
  if (!name ||
      X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("DCAS"), -1, -1,
                                 0) != 1 ||
      X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.data()),
                                 static_cast<int>(cn.size()), -1, 0) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "certificate name");
  if ((subject ? X509_set_subject_name(cert, name.get()) : X509_set_issuer_name(cert, name.get())) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "certificate name");
  return {};
}

Result<void> add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ossl::X509Ext ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, fmt::format("certificate extension {}", OBJ_nid2sn(nid)));
  return {};
}

Result<ossl::X509Ptr> new_cert(EVP_PKEY* subject_key, const Validity& validity, crypto::RandomSource& rng) {
  if (validity.not_after <= validity.not_before) return fail(Errc::invalid_argument, "validity period is empty");
  ossl::X509Ptr cert(X509_new());
  DCAS_TRY_ASSIGN(serial, random_serial(rng));
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(cert.get(), serial.get()) != 1 ||
      !ASN1_TIME_set(X509_getm_notBefore(cert.get()), std::chrono::system_clock::to_time_t(validity.not_before)) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert.get()), std::chrono::system_clock::to_time_t(validity.not_after)) ||
      X509_set_pubkey(cert.get(), subject_key) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "certificate fields");
  return cert;
}

// Signs the certificate as it stands and encodes it.
Result<Bytes> signed_der(X509* cert, const crypto::RsaPrivateKey& ta_key) {
  if (X509_sign(cert, ta_key.evp(), EVP_sha256()) <= 0)
    return ossl::fail_ossl(Errc::crypto_failure, "certificate signing");
  unsigned char* buf = nullptr;
  const int len = i2d_X509(cert, &buf);
  if (len <= 0) return ossl::fail_ossl(Errc::crypto_failure, "certificate encoding");
  Bytes der(buf, buf + len);
  OPENSSL_free(buf);
  return der;
}

Result<Certificate> sign(ossl::X509Ptr cert, const crypto::RsaPrivateKey& ta_key) {
  DCAS_TRY_ASSIGN(der, signed_der(cert.get(), ta_key));
  return Certificate::from_der(der);
}

}  // namespace

Result<Certificate> make_root(const crypto::RsaPrivateKey& ta_key, std::string_view name, const Validity& validity,
                              crypto::RandomSource& rng) {
  if (name.empty() || name.size() > 64) return fail(Errc::invalid_argument, "TA name must be 1 to 64 characters");
  DCAS_TRY_ASSIGN(cert, new_cert(ta_key.evp(), validity, rng));
  DCAS_TRY(set_name(cert.get(), name, true));
  DCAS_TRY(set_name(cert.get(), name, false));
  DCAS_TRY(add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  DCAS_TRY(add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  DCAS_TRY(add_ext(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  return sign(std::move(cert), ta_key);
}

namespace {

// Every field of a device certificate but its serial's randomness and the signature.
Result<ossl::X509Ptr> device_fields(const Certificate& ta_root, Role role, ByteView id,
                                    const crypto::RsaPublicKey& subject_key, const Validity& validity,
                                    crypto::RandomSource& rng) {
  if (role == Role::ta) return fail(Errc::invalid_argument, "the TA issues device certificates for sm, tp or ap only");
  if (id.size() != device_id_size) return fail(Errc::invalid_argument, "device ID must be 8 bytes");
  DCAS_TRY_ASSIGN(cert, new_cert(subject_key.evp(), validity, rng));
  DCAS_TRY(set_name(cert.get(), to_hex(id), true));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ta_root.x509())) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "issuer name");
  DCAS_TRY(add_ext(cert.get(), ta_root.x509(), NID_basic_constraints, "critical,CA:FALSE"));
  DCAS_TRY(add_ext(cert.get(), ta_root.x509(), NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  DCAS_TRY(add_ext(cert.get(), ta_root.x509(), NID_ext_key_usage, "critical," + role_oid(role)));
  DCAS_TRY(add_ext(cert.get(), ta_root.x509(), NID_subject_key_identifier, "hash"));
  DCAS_TRY(add_ext(cert.get(), ta_root.x509(), NID_authority_key_identifier, "keyid:always"));
  return std::move(cert);
}

}  // namespace

Result<Certificate> issue_device(const crypto::RsaPrivateKey& ta_key, const Certificate& ta_root, Role role,
                                 ByteView id, const crypto::RsaPublicKey& subject_key, const Validity& validity,
                                 crypto::RandomSource& rng) {
  DCAS_TRY_ASSIGN(cert, device_fields(ta_root, role, id, subject_key, validity, rng));
  return sign(std::move(cert), ta_key);
}

Result<DeviceCertificateStamp> DeviceCertificateStamp::create(const crypto::RsaPrivateKey& ta_key,
                                                              const Certificate& ta_root, Role role,
                                                              const crypto::RsaPublicKey& subject_key,
                                                              const Validity& validity, crypto::RandomSource& rng) {
  DCAS_TRY_ASSIGN(cert, device_fields(ta_root, role, Bytes(device_id_size, 0), subject_key, validity, rng));
  return DeviceCertificateStamp(std::shared_ptr<X509>(cert.release(), X509_free), ta_key);
}

Result<Bytes> DeviceCertificateStamp::issue(ByteView id, crypto::RandomSource& rng) {
  if (id.size() != device_id_size) return fail(Errc::invalid_argument, "device ID must be 8 bytes");
  DCAS_TRY_ASSIGN(serial, random_serial(rng));
  if (X509_set_serialNumber(model_.get(), serial.get()) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "certificate fields");
  DCAS_TRY(set_name(model_.get(), to_hex(id), true));
  return signed_der(model_.get(), ta_key_);
}

}  // namespace dcas::pki
