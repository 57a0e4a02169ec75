#include "crypto/kex.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include <cstdlib>

#include "crypto/ossl.h"

namespace dcas::crypto {

namespace {

using Kdf = std::unique_ptr<EVP_KDF, ossl::Deleter<EVP_KDF_free>>;
using KdfCtx = std::unique_ptr<EVP_KDF_CTX, ossl::Deleter<EVP_KDF_CTX_free>>;

Result<ossl::PKey> x25519_private(ByteView scalar) {
  ossl::PKey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, scalar.data(), scalar.size()));
  if (!key) return ossl::fail_ossl(Errc::crypto_failure, "X25519 private key");
  return key;
}

// One HKDF call in the given mode (extract only, or expand only).
Result<SecureBytes> hkdf(int mode, ByteView key, ByteView salt_or_info, std::size_t length) {
  static const Kdf kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return ossl::fail_ossl(Errc::crypto_failure, "HKDF unavailable");
  KdfCtx ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return ossl::fail_ossl(Errc::crypto_failure, "HKDF context");
  char digest[] = "SHA256";
  // OpenSSL wants non-const pointers in OSSL_PARAM; it only reads them.
  auto* k = const_cast<std::uint8_t*>(key.data());
  auto* s = const_cast<std::uint8_t*>(salt_or_info.data());
  // An empty salt or info is left out: OpenSSL then uses RFC 5869's defaults (a zero salt, no info).
  OSSL_PARAM params[5];
  std::size_t n = 0;
  params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, k, key.size());
  if (!salt_or_info.empty())
    params[n++] = OSSL_PARAM_construct_octet_string(
        mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY ? OSSL_KDF_PARAM_SALT : OSSL_KDF_PARAM_INFO, s, salt_or_info.size());
  params[n] = OSSL_PARAM_construct_end();
  SecureBytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "HKDF");
  return out;
}

}  // namespace

struct X25519Key::State {
  ossl::PKey key;
};

X25519Key::X25519Key(std::unique_ptr<State> state, Bytes pub) : state_(std::move(state)), public_(std::move(pub)) {}
X25519Key::X25519Key(X25519Key&&) noexcept = default;
X25519Key& X25519Key::operator=(X25519Key&&) noexcept = default;
X25519Key::~X25519Key() = default;

Result<X25519Key> X25519Key::generate(RandomSource& rng) {
  DCAS_TRY_ASSIGN(scalar, rng.bytes(x25519_size));
  return from_private(view(scalar));
}

Result<X25519Key> X25519Key::from_private(ByteView scalar) {
  if (scalar.size() != x25519_size) return fail(Errc::key_invalid, "an X25519 private key is 32 bytes");
  DCAS_TRY_ASSIGN(key, x25519_private(scalar));
  Bytes pub(x25519_size);
  std::size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len) != 1 || len != x25519_size)
    return ossl::fail_ossl(Errc::crypto_failure, "X25519 public key");
  return X25519Key(std::make_unique<State>(State{std::move(key)}), std::move(pub));
}

Result<SecureBytes> X25519Key::shared_secret(ByteView peer_public) const {
  if (peer_public.size() != x25519_size) return fail(Errc::key_invalid, "an X25519 public key is 32 bytes");
  ossl::PKey peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public.data(), peer_public.size()));
  if (!peer) return ossl::fail_ossl(Errc::key_invalid, "X25519 public key");
  ossl::PKeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, state_->key.get(), nullptr));
  SecureBytes secret(x25519_size);
  std::size_t len = secret.size();
  // OpenSSL refuses a low-order peer point itself (the all-zero result of RFC 7748 §6.1).
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), secret.data(), &len) != 1 || len != x25519_size)
    return ossl::fail_ossl(Errc::key_invalid, "X25519 with the peer's key");
  const SecureBytes zeros(x25519_size, 0);
  if (equal_ct(view(secret), view(zeros))) return fail(Errc::key_invalid, "X25519 shared secret is all zeros");
  return secret;
}

Result<SecureBytes> hkdf_extract(ByteView salt, ByteView ikm) {
  return hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm, salt, 32);
}

Result<SecureBytes> hkdf_expand(ByteView prk, ByteView info, std::size_t length) {
  if (length == 0 || length > 255 * 32) return fail(Errc::invalid_argument, "HKDF-Expand length");
  return hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, info, length);
}

Sha256Digest hmac_sha256(ByteView key, std::initializer_list<ByteView> parts) {
  static const ossl::Mac mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  ossl::MacCtx ctx(mac ? EVP_MAC_CTX_new(mac.get()) : nullptr);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  Sha256Digest out{};
  std::size_t len = 0;
  // As for the digests (hash.cpp): with in-memory inputs this cannot fail unless OpenSSL is broken.
  if (!ctx || EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1) std::abort();
  for (auto p : parts)
    if (EVP_MAC_update(ctx.get(), p.data(), p.size()) != 1) std::abort();
  if (EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size()) std::abort();
  return out;
}

}  // namespace dcas::crypto
