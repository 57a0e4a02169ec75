#include "pki/crl.h"

#include <fmt/format.h>
#include <openssl/pem.h>

#include <algorithm>

#include "common/files.h"
#include "crypto/ossl.h"

namespace dcas::pki {

namespace {

using X509Crl = std::unique_ptr<X509_CRL, ossl::Deleter<X509_CRL_free>>;
using X509Revoked = std::unique_ptr<X509_REVOKED, ossl::Deleter<X509_REVOKED_free>>;
using Asn1Time = std::unique_ptr<ASN1_TIME, ossl::Deleter<ASN1_TIME_free>>;

TimePoint to_time_point(const ASN1_TIME* t) {
  struct tm tm {};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

Asn1Time asn1_time(TimePoint t) { return Asn1Time(ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(t))); }

// Big-endian, without leading zeros, as Certificate::serial().
Bytes integer_bytes(const ASN1_INTEGER* i) {
  ossl::Bignum bn(ASN1_INTEGER_to_BN(i, nullptr));
  if (!bn) return {};
  Bytes b(static_cast<std::size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), b.data());
  return b;
}

Bytes encode(X509_CRL* crl) {
  unsigned char* buf = nullptr;
  const int len = i2d_X509_CRL(crl, &buf);
  if (len <= 0) return {};
  Bytes der(buf, buf + len);
  OPENSSL_free(buf);
  return der;
}

}  // namespace

Result<Crl> Crl::verified(ByteView der, const Certificate& ta_root) {
  if (der.empty() || der.size() > max_crl_size)
    return fail(Errc::crl_invalid, fmt::format("a CRL of {} bytes (1 to {} accepted)", der.size(), max_crl_size));
  const unsigned char* p = der.data();
  X509Crl crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!crl || p != der.data() + der.size()) return ossl::fail_ossl(Errc::crl_invalid, "the CRL's DER does not parse");
  if (X509_CRL_get_version(crl.get()) != X509_CRL_VERSION_2) return fail(Errc::crl_invalid, "the CRL is not version 2");
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ta_root.x509())) != 0)
    return fail(Errc::crl_invalid, "the CRL was not issued by this TA");
  if (X509_CRL_get_signature_nid(crl.get()) != NID_sha256WithRSAEncryption)
    return fail(Errc::crl_invalid, "the CRL is not signed sha256WithRSAEncryption");
  if (X509_CRL_verify(crl.get(), X509_get0_pubkey(ta_root.x509())) != 1)
    return ossl::fail_ossl(Errc::crl_invalid, "the CRL's signature does not verify under the TA root");
  int critical = 0;
  std::unique_ptr<ASN1_INTEGER, ossl::Deleter<ASN1_INTEGER_free>> number(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, &critical, nullptr)));
  std::uint64_t n = 0;
  if (!number || ASN1_INTEGER_get_uint64(&n, number.get()) != 1 || n == 0)
    return fail(Errc::crl_invalid, "the CRL has no CRL number from 1 to 2^64-1");

  Crl out;
  out.number_ = n;
  out.this_update_ = to_time_point(X509_CRL_get0_lastUpdate(crl.get()));
  out.next_update_ = to_time_point(X509_CRL_get0_nextUpdate(crl.get()));
  const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i)
    out.serials_.push_back(integer_bytes(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
  std::sort(out.serials_.begin(), out.serials_.end());
  out.der_.assign(der.begin(), der.end());
  return out;
}

Result<Crl> Crl::load_file(const std::filesystem::path& path, const Certificate& ta_root) {
  DCAS_TRY_ASSIGN(content, read_binary_file(path));
  if (content.size() > 2 * max_crl_size) return fail(Errc::crl_invalid, path.string() + " is too large for a CRL");
  const std::string_view text(reinterpret_cast<const char*>(content.data()), content.size());
  if (text.find("-----BEGIN X509 CRL-----") == std::string_view::npos) return verified(content, ta_root);
  ossl::Bio bio(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
  X509Crl crl(bio ? PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!crl) return ossl::fail_ossl(Errc::crl_invalid, path.string() + ": the PEM CRL does not parse");
  return verified(encode(crl.get()), ta_root);
}

bool Crl::revokes(ByteView serial) const {
  const Bytes key(serial.begin(), serial.end());
  return std::binary_search(serials_.begin(), serials_.end(), key);
}

std::string Crl::pem() const {
  const unsigned char* p = der_.data();
  X509Crl crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der_.size())));
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  if (!crl || !bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) return {};
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

Result<Crl> make_crl(const crypto::RsaPrivateKey& ta_key, const Certificate& ta_root, std::uint64_t number,
                     const std::vector<RevokedCertificate>& revoked, TimePoint this_update, TimePoint next_update) {
  if (number == 0) return fail(Errc::invalid_argument, "CRL numbers start at 1");
  if (next_update <= this_update) return fail(Errc::invalid_argument, "the CRL's validity period is empty");
  X509Crl crl(X509_CRL_new());
  const auto last = asn1_time(this_update), next = asn1_time(next_update);
  if (!crl || !last || !next || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ta_root.x509())) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1 || X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "CRL fields");
  for (const auto& r : revoked) {
    X509Revoked entry(X509_REVOKED_new());
    ossl::Bignum bn(BN_bin2bn(r.serial.data(), static_cast<int>(r.serial.size()), nullptr));
    ossl::Asn1Integer serial(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
    const auto at = asn1_time(r.revoked_at);
    if (r.serial.empty() || !entry || !serial || !at || X509_REVOKED_set_serialNumber(entry.get(), serial.get()) != 1 ||
        X509_REVOKED_set_revocationDate(entry.get(), at.get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), entry.get()) != 1)
      return ossl::fail_ossl(Errc::crypto_failure, "CRL entry");
    entry.release();  // owned by the CRL now
  }
  ossl::Asn1Integer n(ASN1_INTEGER_new());
  if (!n || ASN1_INTEGER_set_uint64(n.get(), number) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, n.get(), 0, 0) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "CRL number");
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ta_root.x509(), nullptr, nullptr, crl.get(), 0);
  ossl::X509Ext aki(X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (!aki || X509_CRL_add_ext(crl.get(), aki.get(), -1) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "CRL authority key identifier");
  if (X509_CRL_sort(crl.get()) != 1 || X509_CRL_sign(crl.get(), ta_key.evp(), EVP_sha256()) <= 0)
    return ossl::fail_ossl(Errc::crypto_failure, "CRL signing");
  const Bytes der = encode(crl.get());
  if (der.empty()) return ossl::fail_ossl(Errc::crypto_failure, "CRL encoding");
  if (der.size() > max_crl_size)
    return fail(Errc::crl_invalid, fmt::format("a CRL of {} entries ({} bytes) exceeds the {} bytes that an "
                                               "announcement carries",
                                               revoked.size(), der.size(), max_crl_size));
  return Crl::verified(der, ta_root);
}

bool newer_than(const Crl& candidate, const std::optional<Crl>& held) {
  return !held || candidate.number() > held->number();
}

Result<bool> adopt_if_newer(std::optional<Crl>& held, ByteView der, const Certificate& ta_root) {
  DCAS_TRY_ASSIGN(crl, Crl::verified(der, ta_root));
  if (!newer_than(crl, held)) return false;
  held.emplace(std::move(crl));
  return true;
}

}  // namespace dcas::pki
