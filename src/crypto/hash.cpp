#include "crypto/hash.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdlib>

#include "crypto/ossl.h"

namespace dcas::crypto {

namespace {

// Fetched once: EVP_MD_fetch per call costs more than hashing a short message.
const EVP_MD* md_sha256() {
  static const ossl::Md md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  return md.get();
}
const EVP_MD* md_sha1() {
  static const ossl::Md md(EVP_MD_fetch(nullptr, "SHA1", nullptr));
  return md.get();
}

// Digest failures are impossible for in-memory inputs with a fetched algorithm; if OpenSSL is broken
// there is no safe way to continue, so stop rather than return a wrong digest.
[[noreturn]] void digest_unavailable() { std::abort(); }

template <typename Digest>
Digest digest_parts(const EVP_MD* md, std::initializer_list<ByteView> parts) {
  Digest out{};
  // One context per thread, reused: allocating a context costs as much as hashing a short input.
  thread_local const ossl::MdCtx ctx(EVP_MD_CTX_new());
  if (!md || !ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) digest_unavailable();
  for (auto p : parts)
    if (EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1) digest_unavailable();
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size()) digest_unavailable();
  return out;
}

}  // namespace

Sha256Digest sha256(ByteView data) { return digest_parts<Sha256Digest>(md_sha256(), {data}); }
Sha256Digest sha256(std::initializer_list<ByteView> parts) { return digest_parts<Sha256Digest>(md_sha256(), parts); }
Sha1Digest sha1(ByteView data) { return digest_parts<Sha1Digest>(md_sha1(), {data}); }

Sha1Digest hmac_sha1(ByteView key, ByteView data) {
  Sha1Digest out{};
  unsigned int len = 0;
  if (!HMAC(md_sha1(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len) ||
      len != out.size())
    digest_unavailable();
  return out;
}

struct HmacSha1::State {
  ossl::MacCtx keyed;
};

HmacSha1::HmacSha1(std::unique_ptr<State> s) : state_(std::move(s)) {}
HmacSha1::HmacSha1(HmacSha1&&) noexcept = default;
HmacSha1& HmacSha1::operator=(HmacSha1&&) noexcept = default;
HmacSha1::~HmacSha1() = default;

Result<HmacSha1> HmacSha1::create(ByteView key) {
  static const ossl::Mac mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) return ossl::fail_ossl(Errc::crypto_failure, "HMAC unavailable");
  ossl::MacCtx ctx(EVP_MAC_CTX_new(mac.get()));
  char digest_name[] = "SHA1";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                         OSSL_PARAM_construct_end()};
  if (!ctx || EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1)
    return ossl::fail_ossl(Errc::crypto_failure, "HMAC-SHA1 key setup failed");
  auto state = std::make_unique<State>();
  state->keyed = std::move(ctx);
  return HmacSha1(std::move(state));
}

Result<Sha1Digest> HmacSha1::mac(std::initializer_list<ByteView> parts) {
  EVP_MAC_CTX* ctx = state_->keyed.get();
  // A NULL key re-initialises HMAC with the key already set (OpenSSL 3 EVP_MAC_init).
  if (EVP_MAC_init(ctx, nullptr, 0, nullptr) != 1) return ossl::fail_ossl(Errc::crypto_failure, "HMAC re-init failed");
  for (auto p : parts)
    if (EVP_MAC_update(ctx, p.data(), p.size()) != 1)
      return ossl::fail_ossl(Errc::crypto_failure, "HMAC update failed");
  Sha1Digest out{};
  std::size_t len = 0;
  if (EVP_MAC_final(ctx, out.data(), &len, out.size()) != 1 || len != out.size())
    return ossl::fail_ossl(Errc::crypto_failure, "HMAC final failed");
  return out;
}

void mgf1_sha256_xor(ByteView seed, std::span<std::uint8_t> inout) {
  std::size_t done = 0;
  for (std::uint32_t counter = 0; done < inout.size(); ++counter) {
    const std::uint8_t c[4] = {static_cast<std::uint8_t>(counter >> 24), static_cast<std::uint8_t>(counter >> 16),
                               static_cast<std::uint8_t>(counter >> 8), static_cast<std::uint8_t>(counter)};
    auto block = sha256({seed, ByteView(c, 4)});
    for (std::size_t i = 0; i < block.size() && done < inout.size(); ++i) inout[done++] ^= block[i];
    secure_wipe(block.data(), block.size());
  }
}

}  // namespace dcas::crypto
