#include "crypto/aead.h"

#include <openssl/err.h>

#include "crypto/ossl.h"

namespace dcas::crypto {

namespace {
const EVP_CIPHER* gcm() {
  static const ossl::Cipher cipher(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
  return cipher.get();
}
}  // namespace

Result<Bytes> aead_seal(ByteView key, ByteView aad, ByteView plaintext, RandomSource& rng) {
  if (key.size() != aead_key_size) return fail(Errc::bad_length, "the AES-256-GCM key must be 32 bytes");
  Bytes out(12 + plaintext.size() + 16);
  DCAS_TRY(rng.fill(std::span(out).first(12)));
  ossl::CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex2(ctx.get(), gcm(), key.data(), out.data(), nullptr) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data() + 12, &len, plaintext.data(), static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + 12 + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, out.data() + out.size() - 16) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "AES-256-GCM sealing");
  return out;
}

Result<SecureBytes> aead_open(ByteView key, ByteView aad, ByteView sealed) {
  if (key.size() != aead_key_size) return fail(Errc::bad_length, "the AES-256-GCM key must be 32 bytes");
  if (sealed.size() < aead_overhead) return fail(Errc::decrypt_failed, "sealed value too short");
  SecureBytes out(sealed.size() - aead_overhead);
  ossl::CipherCtx ctx(EVP_CIPHER_CTX_new());
  Bytes tag(sealed.end() - 16, sealed.end());
  int len = 0, final_len = 0;
  const bool ok =
      ctx && EVP_DecryptInit_ex2(ctx.get(), gcm(), key.data(), sealed.data(), nullptr) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), out.data(), &len, sealed.data() + 12, static_cast<int>(out.size())) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), out.data() + len, &final_len) == 1;
  if (!ok) {
    ERR_clear_error();
    return fail(Errc::decrypt_failed, "AES-256-GCM: wrong key or altered value");
  }
  return out;
}

}  // namespace dcas::crypto
