#include "crypto/aes.h"

#include "crypto/ossl.h"

namespace dcas::crypto {

struct Aes128::State {
  ossl::CipherCtx ctx;
  AesMode mode;
};

Aes128::Aes128(std::unique_ptr<State> s) : state_(std::move(s)) {}
Aes128::Aes128(Aes128&&) noexcept = default;
Aes128& Aes128::operator=(Aes128&&) noexcept = default;
Aes128::~Aes128() = default;

namespace {
const EVP_CIPHER* cipher_for(AesMode mode) {
  static const ossl::Cipher ecb(EVP_CIPHER_fetch(nullptr, "AES-128-ECB", nullptr));
  static const ossl::Cipher cbc(EVP_CIPHER_fetch(nullptr, "AES-128-CBC", nullptr));
  static const ossl::Cipher ctr(EVP_CIPHER_fetch(nullptr, "AES-128-CTR", nullptr));
  switch (mode) {
    case AesMode::ecb: return ecb.get();
    case AesMode::cbc: return cbc.get();
    case AesMode::ctr: return ctr.get();
  }
  return nullptr;
}
}  // namespace

Result<Aes128> Aes128::create(AesMode mode, AesDirection direction, ByteView key) {
  if (key.size() != aes128_key_size) return fail(Errc::bad_length, "AES-128 key must be 16 bytes");
  auto state = std::make_unique<State>();
  state->mode = mode;
  state->ctx.reset(EVP_CIPHER_CTX_new());
  const int enc = direction == AesDirection::encrypt ? 1 : 0;
  if (!state->ctx || EVP_CipherInit_ex2(state->ctx.get(), cipher_for(mode), key.data(), nullptr, enc, nullptr) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "AES-128 key setup failed");
  EVP_CIPHER_CTX_set_padding(state->ctx.get(), 0);
  return Aes128(std::move(state));
}

Result<void> Aes128::run(ByteView iv, ByteView in, std::span<std::uint8_t> out) {
  if (out.size() != in.size()) return fail(Errc::bad_length, "AES output size must equal input size");
  if (state_->mode != AesMode::ctr && in.size() % 16 != 0)
    return fail(Errc::bad_length, "AES-ECB/CBC input must be a multiple of 16 bytes");
  if (state_->mode != AesMode::ecb && iv.size() != 16) return fail(Errc::bad_length, "AES IV must be 16 bytes");
  // Re-init with the key already scheduled: only the IV changes (ECB has none: no re-init).
  if (state_->mode != AesMode::ecb &&
      EVP_CipherInit_ex2(state_->ctx.get(), nullptr, nullptr, iv.data(), -1, nullptr) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "AES IV setup failed");
  return run_continuing(in, out);
}

Result<void> Aes128::run_continuing(ByteView in, std::span<std::uint8_t> out) {
  if (out.size() != in.size()) return fail(Errc::bad_length, "AES output size must equal input size");
  if (state_->mode != AesMode::ctr && in.size() % 16 != 0)
    return fail(Errc::bad_length, "AES-ECB/CBC input must be a multiple of 16 bytes");
  if (in.empty()) return {};
  // Whole blocks go straight to the cipher (EVP_Cipher): no partial-block buffering to manage,
  // which matters when a call handles one short TS payload or CW message.
  if (state_->mode != AesMode::ctr) {
    if (EVP_Cipher(state_->ctx.get(), out.data(), in.data(), static_cast<unsigned int>(in.size())) <= 0)
      return ossl::fail_ossl(Errc::crypto_failure, "AES operation failed");
    return {};
  }
  int len = 0;
  if (EVP_CipherUpdate(state_->ctx.get(), out.data(), &len, in.data(), static_cast<int>(in.size())) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "AES operation failed");
  return {};
}

Result<AesBlock> aes128_ecb_encrypt_block(ByteView key, ByteView block) {
  if (block.size() != 16) return fail(Errc::bad_length, "AES block must be 16 bytes");
  auto aes = Aes128::create(AesMode::ecb, AesDirection::encrypt, key);
  if (!aes) return std::unexpected(aes.error());
  AesBlock out{};
  if (auto r = aes->run({}, block, out); !r) return std::unexpected(r.error());
  return out;
}

Result<Bytes> aes128_run(AesMode mode, AesDirection direction, ByteView key, ByteView iv, ByteView in) {
  auto aes = Aes128::create(mode, direction, key);
  if (!aes) return std::unexpected(aes.error());
  Bytes out(in.size());
  if (auto r = aes->run(iv, in, out); !r) return std::unexpected(r.error());
  return out;
}

}  // namespace dcas::crypto
