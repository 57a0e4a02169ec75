#include "crypto/rsa.h"

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>

#include "common/files.h"
#include "crypto/hash.h"
#include "crypto/ossl.h"

namespace dcas::crypto {

namespace {

std::shared_ptr<EVP_PKEY> share(EVP_PKEY* k) { return std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free); }

bool is_rsa(EVP_PKEY* k) { return k != nullptr && EVP_PKEY_is_a(k, "RSA") == 1; }

constexpr std::size_t min_modulus_bits = 2048;

Result<void> check_usable(EVP_PKEY* k) {
  if (!is_rsa(k)) return fail(Errc::key_invalid, "not an RSA key");
  if (EVP_PKEY_get_bits(k) < static_cast<int>(min_modulus_bits))
    return fail(Errc::key_invalid,
                fmt::format("RSA modulus of {} bits is below {}", EVP_PKEY_get_bits(k), min_modulus_bits));
  return {};
}

enum class RawOp { public_encrypt, private_decrypt };

// m^e or c^d mod n with no padding: the RSA primitive on a block already encoded by the caller.
Result<Bytes> raw_rsa(EVP_PKEY* key, RawOp op, ByteView block) {
  ossl::PKeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx) return ossl::fail_ossl(Errc::crypto_failure, "RSA context");
  const bool enc = op == RawOp::public_encrypt;
  if ((enc ? EVP_PKEY_encrypt_init(ctx.get()) : EVP_PKEY_decrypt_init(ctx.get())) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_NO_PADDING) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "RSA raw operation setup");
  Bytes out(static_cast<std::size_t>(EVP_PKEY_get_size(key)));
  std::size_t len = out.size();
  const int rc = enc ? EVP_PKEY_encrypt(ctx.get(), out.data(), &len, block.data(), block.size())
                     : EVP_PKEY_decrypt(ctx.get(), out.data(), &len, block.data(), block.size());
  if (rc != 1) return ossl::fail_ossl(Errc::crypto_failure, "RSA raw operation");
  out.resize(len);
  return out;
}

Result<void> set_oaep(EVP_PKEY_CTX* ctx) {
  if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, "SHA256", nullptr) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, "SHA256", nullptr) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "OAEP parameters");
  return {};
}

Result<void> set_pss(EVP_PKEY_CTX* ctx) {
  if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, "SHA256", nullptr) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, static_cast<int>(pss_salt_size)) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "PSS parameters");
  return {};
}

}  // namespace

// ---- public key ----

Result<RsaPublicKey> RsaPublicKey::from_der(ByteView spki) {
  const unsigned char* p = spki.data();
  EVP_PKEY* k = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()));
  if (!k) return ossl::fail_ossl(Errc::key_invalid, "public key DER");
  auto shared = share(k);
  if (p != spki.data() + spki.size()) return fail(Errc::key_invalid, "trailing bytes after public key");
  if (auto r = check_usable(k); !r) return std::unexpected(r.error());
  return RsaPublicKey(std::move(shared));
}

Result<RsaPublicKey> RsaPublicKey::from_evp(EVP_PKEY* key) {
  if (auto r = check_usable(key); !r) return std::unexpected(r.error());
  EVP_PKEY_up_ref(key);
  return RsaPublicKey(share(key));
}

Bytes RsaPublicKey::to_der() const {
  unsigned char* buf = nullptr;
  const int len = i2d_PUBKEY(key_.get(), &buf);
  Bytes out;
  if (len > 0) out.assign(buf, buf + len);
  OPENSSL_free(buf);
  return out;
}

std::size_t RsaPublicKey::modulus_bits() const { return static_cast<std::size_t>(EVP_PKEY_get_bits(key_.get())); }

// ---- private key ----

Result<RsaPrivateKey> RsaPrivateKey::generate(unsigned bits) {
  if (bits < min_modulus_bits) return fail(Errc::invalid_argument, "RSA keys must have at least 2048 bits");
  EVP_PKEY* k = EVP_RSA_gen(bits);
  if (!k) return ossl::fail_ossl(Errc::crypto_failure, "RSA key generation");
  return RsaPrivateKey(share(k));
}

Result<RsaPrivateKey> RsaPrivateKey::from_der(ByteView pkcs8) {
  const unsigned char* p = pkcs8.data();
  EVP_PKEY* k = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(pkcs8.size()));
  if (!k) return ossl::fail_ossl(Errc::key_invalid, "private key DER");
  auto shared = share(k);
  if (auto r = check_usable(k); !r) return std::unexpected(r.error());
  return RsaPrivateKey(std::move(shared));
}

Result<RsaPrivateKey> RsaPrivateKey::from_pem(std::string_view pem) {
  ossl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* k = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (!k) return ossl::fail_ossl(Errc::pem_invalid, "private key PEM");
  auto shared = share(k);
  if (auto r = check_usable(k); !r) return std::unexpected(r.error());
  return RsaPrivateKey(std::move(shared));
}

Result<RsaPrivateKey> RsaPrivateKey::load_pem_file(const std::filesystem::path& path) {
  auto text = read_text_file(path);
  if (!text) return std::unexpected(text.error());
  auto key = from_pem(*text);
  secure_wipe(text->data(), text->size());
  if (!key) return fail(key.error().code, fmt::format("{}: {}", path.string(), key.error().detail));
  return key;
}

SecureBytes RsaPrivateKey::to_pem() const {
  ossl::Bio bio(BIO_new(BIO_s_secmem()));
  SecureBytes out;
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) return out;
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  if (len > 0) out.assign(data, data + len);
  return out;
}

Result<void> RsaPrivateKey::save_pem_file(const std::filesystem::path& path) const {
  const SecureBytes pem = to_pem();
  if (pem.empty()) return ossl::fail_ossl(Errc::crypto_failure, "private key PEM encoding");
  return write_secret_file(path, view(pem));
}

RsaPublicKey RsaPrivateKey::public_key() const {
  return RsaPublicKey::from_evp(key_.get()).value();  // an RsaPrivateKey is always a usable RSA key
}

std::size_t RsaPrivateKey::modulus_bytes() const { return static_cast<std::size_t>(EVP_PKEY_get_size(key_.get())); }

// ---- OAEP (RFC 8017 7.1) ----

Result<Bytes> oaep_encrypt(const RsaPublicKey& key, ByteView message, RandomSource& rng) {
  constexpr std::size_t h = sha256_size;
  const std::size_t k = key.modulus_bytes();
  if (message.size() + 2 * h + 2 > k)
    return fail(Errc::bad_length, fmt::format("OAEP message of {} bytes exceeds {}", message.size(), k - 2 * h - 2));
  // EM = 0x00 || maskedSeed || maskedDB, DB = lHash || PS || 0x01 || M
  SecureBytes em(k, 0);
  const std::span<std::uint8_t> seed(em.data() + 1, h);
  const std::span<std::uint8_t> db(em.data() + 1 + h, k - h - 1);
  const auto lhash = sha256(ByteView{});
  std::copy(lhash.begin(), lhash.end(), db.begin());
  db[db.size() - message.size() - 1] = 0x01;
  std::copy(message.begin(), message.end(), db.end() - static_cast<std::ptrdiff_t>(message.size()));
  if (auto r = rng.fill(seed); !r) return std::unexpected(r.error());
  mgf1_sha256_xor(seed, db);
  mgf1_sha256_xor(db, seed);
  return raw_rsa(key.evp(), RawOp::public_encrypt, view(em));
}

Result<SecureBytes> oaep_decrypt(const RsaPrivateKey& key, ByteView ciphertext) {
  ossl::PKeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.evp(), nullptr));
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1) return ossl::fail_ossl(Errc::crypto_failure, "OAEP setup");
  if (auto r = set_oaep(ctx.get()); !r) return std::unexpected(r.error());
  SecureBytes out(key.modulus_bytes());
  std::size_t len = out.size();
  if (ciphertext.size() != key.modulus_bytes() ||
      EVP_PKEY_decrypt(ctx.get(), out.data(), &len, ciphertext.data(), ciphertext.size()) != 1) {
    ERR_clear_error();
    return fail(Errc::decrypt_failed, "RSAES-OAEP decryption failed");
  }
  out.resize(len);
  return out;
}

// ---- PSS (RFC 8017 9.1) ----

Result<Bytes> pss_sign(const RsaPrivateKey& key, ByteView message, RandomSource& rng) {
  constexpr std::size_t h = sha256_size;
  constexpr std::size_t s = pss_salt_size;
  const std::size_t mod_bits = static_cast<std::size_t>(EVP_PKEY_get_bits(key.evp()));
  const std::size_t em_bits = mod_bits - 1;
  const std::size_t em_len = (em_bits + 7) / 8;
  const std::size_t k = key.modulus_bytes();
  // EM = maskedDB || H || 0xbc, DB = PS || 0x01 || salt, H = Hash(0x00*8 || mHash || salt)
  Bytes em(k, 0);  // public once signed; the leading k - em_len bytes stay zero
  const std::span<std::uint8_t> body(em.data() + (k - em_len), em_len);
  const std::span<std::uint8_t> db(body.data(), em_len - h - 1);
  const std::span<std::uint8_t> salt(db.data() + db.size() - s, s);
  if (auto r = rng.fill(salt); !r) return std::unexpected(r.error());
  const auto mhash = sha256(message);
  const std::uint8_t zeros[8] = {};
  const auto hh = sha256({ByteView(zeros, 8), mhash, salt});
  db[db.size() - s - 1] = 0x01;
  mgf1_sha256_xor(hh, db);
  db[0] &= static_cast<std::uint8_t>(0xff >> (8 * em_len - em_bits));
  std::copy(hh.begin(), hh.end(), body.begin() + static_cast<std::ptrdiff_t>(db.size()));
  body[em_len - 1] = 0xbc;
  return raw_rsa(key.evp(), RawOp::private_decrypt, em);
}

Result<void> pss_verify(const RsaPublicKey& key, ByteView message, ByteView signature) {
  ossl::MdCtx md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  if (!md || EVP_DigestVerifyInit_ex(md.get(), &pctx, "SHA256", nullptr, nullptr, key.evp(), nullptr) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "PSS verify setup");
  if (auto r = set_pss(pctx); !r) return std::unexpected(r.error());
  if (signature.size() != key.modulus_bytes() ||
      EVP_DigestVerify(md.get(), signature.data(), signature.size(), message.data(), message.size()) != 1) {
    ERR_clear_error();
    return fail(Errc::signature_invalid, "RSASSA-PSS signature does not verify");
  }
  return {};
}

namespace openssl_reference {

Result<Bytes> oaep_encrypt(const RsaPublicKey& key, ByteView message) {
  ossl::PKeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.evp(), nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1) return ossl::fail_ossl(Errc::crypto_failure, "OAEP setup");
  if (auto r = set_oaep(ctx.get()); !r) return std::unexpected(r.error());
  Bytes out(key.modulus_bytes());
  std::size_t len = out.size();
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, message.data(), message.size()) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "OAEP encryption");
  out.resize(len);
  return out;
}

Result<Bytes> pss_sign(const RsaPrivateKey& key, ByteView message) {
  ossl::MdCtx md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!md || EVP_DigestSignInit_ex(md.get(), &pctx, "SHA256", nullptr, nullptr, key.evp(), nullptr) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "PSS sign setup");
  if (auto r = set_pss(pctx); !r) return std::unexpected(r.error());
  Bytes out(key.modulus_bytes());
  std::size_t len = out.size();
  if (EVP_DigestSign(md.get(), out.data(), &len, message.data(), message.size()) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "PSS signing");
  out.resize(len);
  return out;
}

}  // namespace openssl_reference

}  // namespace dcas::crypto
