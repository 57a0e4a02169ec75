// Written by hand: no maintained library exposes the FIPS 186-2 change-notice-1 generator (it was
// withdrawn with FIPS 186-3); only its building block, the SHA-1 compression function, comes from
// OpenSSL.
#define OPENSSL_SUPPRESS_DEPRECATED  // SHA1_Transform is the only public entry to the raw compression
#include "crypto/fips186_prf.h"

#include <fmt/format.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>

namespace dcas::crypto {

namespace {

// G(t, c) of FIPS 186-2 Appendix 3.3: SHA-1's compression function with H0..H4 = t (SHA-1's
// initial value), applied to one 512-bit block holding c followed by zeros: no SHA-1 padding.
std::array<std::uint8_t, 20> g_function(ByteView xval) {
  std::array<std::uint8_t, 64> block{};
  std::copy(xval.begin(), xval.end(), block.begin());
  SHA_CTX ctx;
  SHA1_Init(&ctx);  // sets H0..H4 to t = 67452301 efcdab89 98badcfe 10325476 c3d2e1f0
  SHA1_Transform(&ctx, block.data());
  std::array<std::uint8_t, 20> w{};
  const unsigned int h[5] = {ctx.h0, ctx.h1, ctx.h2, ctx.h3, ctx.h4};
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 4; ++j)
      w[static_cast<std::size_t>(4 * i + j)] = static_cast<std::uint8_t>(h[i] >> (24 - 8 * j));
  secure_wipe(&ctx, sizeof ctx);
  secure_wipe(block.data(), block.size());
  return w;
}

// xkey = (1 + xkey + w) mod 2^b, all big-endian; w is right-aligned (it is a 160-bit integer).
void advance_xkey(std::span<std::uint8_t> xkey, const std::array<std::uint8_t, 20>& w) {
  unsigned carry = 1;
  for (std::size_t k = 0; k < xkey.size(); ++k) {
    const std::size_t i = xkey.size() - 1 - k;
    carry += xkey[i];
    if (k < w.size()) carry += w[w.size() - 1 - k];
    xkey[i] = static_cast<std::uint8_t>(carry);
    carry >>= 8;
  }
}

}  // namespace

Result<SecureBytes> fips186_2_prf(ByteView seed, std::size_t out_len) {
  if (seed.size() < fips186_prf_min_seed || seed.size() > fips186_prf_max_seed)
    return fail(Errc::bad_length, fmt::format("PRF seed must be {} to {} bytes, got {}", fips186_prf_min_seed,
                                              fips186_prf_max_seed, seed.size()));
  SecureBytes xkey(seed.begin(), seed.end());
  SecureBytes out;
  out.reserve(out_len + 20);
  while (out.size() < out_len) {
    auto w = g_function(view(xkey));
    out.insert(out.end(), w.begin(), w.end());
    advance_xkey(xkey, w);
    secure_wipe(w.data(), w.size());
  }
  out.resize(out_len);
  return out;
}

}  // namespace dcas::crypto
