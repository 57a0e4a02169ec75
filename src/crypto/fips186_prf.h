// The FIPS 186-2 (Change Notice 1) general-purpose random number generator, used by the paper as the
// PRF for KPK: KPK = PRF(H(Ki1 || Ki2 || Ki3 || SM_ID || TP_ID || RAND)) msb(160).
#pragma once

#include <cstddef>

#include "common/bytes.h"

namespace dcas::crypto {

inline constexpr std::size_t fips186_prf_min_seed = 20;  // b >= 160 bits
inline constexpr std::size_t fips186_prf_max_seed = 64;  // b <= 512 bits

// Runs FIPS 186-2 CN1 Appendix 3.1 with XSEED = 0 and b = 8 * seed.size(): XKEY = seed; for each
// 20-byte output block w = G(t, XKEY), XKEY = (1 + XKEY + w) mod 2^b. G is the SHA-1 compression
// function (Appendix 3.3) on XKEY zero-padded to 512 bits. Returns the first `out_len` bytes of
// w0 || w1 || ... Errors: bad_length (seed not 20..64 bytes).
Result<SecureBytes> fips186_2_prf(ByteView seed, std::size_t out_len);

}  // namespace dcas::crypto
