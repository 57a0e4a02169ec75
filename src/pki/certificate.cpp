#include "pki/certificate.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <algorithm>

#include "common/files.h"
#include "crypto/ossl.h"

namespace dcas::pki {

std::string role_oid(Role role) {
  switch (role) {
    case Role::sm: return std::string(dcas_oid_arc) + ".1.1";
    case Role::tp: return std::string(dcas_oid_arc) + ".1.2";
    case Role::ap: return std::string(dcas_oid_arc) + ".1.3";
    case Role::ta: return {};
  }
  return {};
}

namespace {

std::shared_ptr<X509> share(X509* x) { return std::shared_ptr<X509>(x, X509_free); }

std::string name_text(const X509_NAME* name) {
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) < 0) return {};
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

TimePoint to_time_point(const ASN1_TIME* t) {
  struct tm tm {};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string oid_text(const ASN1_OBJECT* obj) {
  char buf[128];
  const int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
  if (n <= 0 || n >= static_cast<int>(sizeof buf)) return {};
  return std::string(buf, static_cast<std::size_t>(n));
}

bool is_lower_hex_id(std::string_view cn) {
  if (cn.size() != 2 * device_id_size) return false;
  return std::all_of(cn.begin(), cn.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

Result<Certificate> Certificate::from_der(ByteView der) {
  const unsigned char* p = der.data();
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (!x) return ossl::fail_ossl(Errc::cert_invalid, "certificate DER does not parse");
  auto shared = share(x);
  if (p != der.data() + der.size()) return fail(Errc::cert_invalid, "trailing bytes after certificate DER");
  return Certificate(std::move(shared));
}

Result<Certificate> Certificate::from_pem(std::string_view pem) {
  ossl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509* x = bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (!x) return ossl::fail_ossl(Errc::cert_invalid, "certificate PEM does not parse");
  return Certificate(share(x));
}

Result<Certificate> Certificate::load_file(const std::filesystem::path& path) {
  DCAS_TRY_ASSIGN(content, read_text_file(path));
  auto cert = content.find("-----BEGIN") != std::string::npos ? from_pem(content) : from_der(view(content));
  if (!cert) return fail(cert.error().code, fmt::format("{}: {}", path.string(), cert.error().detail));
  return cert;
}

Result<void> Certificate::save_pem_file(const std::filesystem::path& path) const {
  return write_public_file(path, view(pem()));
}

Bytes Certificate::der() const {
  unsigned char* buf = nullptr;
  const int len = i2d_X509(cert_.get(), &buf);
  Bytes out;
  if (len > 0) out.assign(buf, buf + len);
  OPENSSL_free(buf);
  return out;
}

std::string Certificate::pem() const {
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert_.get()) != 1) return {};
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string Certificate::common_name() const {
  const X509_NAME* name = X509_get_subject_name(cert_.get());
  const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return {};
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                     static_cast<std::size_t>(ASN1_STRING_length(data)));
}

std::string Certificate::subject_text() const { return name_text(X509_get_subject_name(cert_.get())); }
std::string Certificate::issuer_text() const { return name_text(X509_get_issuer_name(cert_.get())); }

Bytes Certificate::serial() const {
  ossl::Bignum bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert_.get()), nullptr));
  if (!bn) return {};
  Bytes b(static_cast<std::size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), b.data());
  return b;
}

std::string Certificate::serial_hex() const { return to_hex(serial()); }

TimePoint Certificate::not_before() const { return to_time_point(X509_get0_notBefore(cert_.get())); }
TimePoint Certificate::not_after() const { return to_time_point(X509_get0_notAfter(cert_.get())); }

bool Certificate::is_ca() const { return X509_check_ca(cert_.get()) != 0; }

std::vector<Role> Certificate::roles() const {
  std::vector<Role> out;
  ossl::ExtKeyUsage eku(
      static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(cert_.get(), NID_ext_key_usage, nullptr, nullptr)));
  if (!eku) return out;
  for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    const std::string oid = oid_text(sk_ASN1_OBJECT_value(eku.get(), i));
    for (Role r : {Role::sm, Role::tp, Role::ap})
      if (oid == role_oid(r)) out.push_back(r);
  }
  return out;
}

crypto::Sha256Digest Certificate::fingerprint() const { return crypto::sha256(der()); }

Result<crypto::RsaPublicKey> Certificate::public_key() const {
  EVP_PKEY* key = X509_get0_pubkey(cert_.get());
  if (!key) return ossl::fail_ossl(Errc::key_invalid, "certificate has no usable public key");
  return crypto::RsaPublicKey::from_evp(key);
}

Bytes Certificate::public_key_der() const {
  unsigned char* buffer = nullptr;
  const int size = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert_.get()), &buffer);
  Bytes out;
  if (size > 0) out.assign(buffer, buffer + size);
  OPENSSL_free(buffer);
  return out;
}

Result<Certificate> CertificateCache::parse(ByteView der) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->first.size() == der.size() && std::equal(der.begin(), der.end(), it->first.begin())) {
      auto entry = std::move(*it);
      entries_.erase(it);
      entries_.push_back(std::move(entry));
      return entries_.back().second;
    }
  }
  DCAS_TRY_ASSIGN(cert, Certificate::from_der(der));
  if (entries_.size() >= capacity_ && !entries_.empty()) entries_.erase(entries_.begin());
  entries_.emplace_back(Bytes(der.begin(), der.end()), cert);
  return cert;
}

namespace {

Error chain_error(int code, int depth) {
  const std::string where = depth == 0 ? "certificate" : "TA root";
  const std::string reason = X509_verify_cert_error_string(code);
  switch (code) {
    case X509_V_ERR_CERT_HAS_EXPIRED: return Error{Errc::cert_expired, where + " has expired"};
    case X509_V_ERR_CERT_NOT_YET_VALID: return Error{Errc::cert_not_yet_valid, where + " is not yet valid"};
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return Error{Errc::cert_foreign, "certificate was not issued by this TA (" + reason + ")"};
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return Error{Errc::cert_bad_signature, "certificate signature does not verify with the TA key"};
    default: return Error{Errc::cert_invalid, where + ": " + reason};
  }
}

}  // namespace

Result<VerifiedDevice> verify_device(const Certificate& cert, const Certificate& ta_root, Role expected, TimePoint at) {
  ossl::X509Store store(X509_STORE_new());
  ossl::X509StoreCtx ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ta_root.x509()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert.x509(), nullptr) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "certificate verification setup");
  X509_STORE_CTX_set_time(ctx.get(), 0, std::chrono::system_clock::to_time_t(at));
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_X509_STRICT);
  if (X509_verify_cert(ctx.get()) != 1) {
    ERR_clear_error();
    return std::unexpected(chain_error(X509_STORE_CTX_get_error(ctx.get()), X509_STORE_CTX_get_error_depth(ctx.get())));
  }
  // A chain of length one means the certificate *is* the trusted root: not a device.
  if (X509_STORE_CTX_get0_chain(ctx.get()) == nullptr || sk_X509_num(X509_STORE_CTX_get0_chain(ctx.get())) != 2 ||
      cert.is_ca())
    return fail(Errc::cert_invalid, "a CA certificate was presented where a device certificate is required");

  const auto roles = cert.roles();
  if (roles.empty()) return fail(Errc::cert_wrong_role, "certificate carries no DCAS role");
  if (roles.size() != 1 || roles.front() != expected)
    return fail(Errc::cert_wrong_role,
                fmt::format("certificate role is {}, expected {}", role_name(roles.front()), role_name(expected)));
  const std::string cn = cert.common_name();
  if (!is_lower_hex_id(cn)) return fail(Errc::cert_bad_id, "Common Name is not a 16-hex-digit device ID");
  DCAS_TRY_ASSIGN(key, cert.public_key());
  VerifiedDevice device{expected, {}, key, cert.public_key_der()};
  auto id = from_hex(cn);
  std::copy(id->begin(), id->end(), device.id.begin());
  return device;
}

}  // namespace dcas::pki
