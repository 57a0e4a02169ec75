#include "protocol/derivation.h"

#include <fmt/format.h>

#include <algorithm>

#include "crypto/fips186_prf.h"
#include "crypto/hash.h"

namespace dcas::protocol {

namespace {
Result<void> require_size(ByteView b, std::size_t n, std::string_view what) {
  if (b.size() != n) return fail(Errc::bad_length, fmt::format("{} must be {} bytes, got {}", what, n, b.size()));
  return {};
}

SecureBytes msb(const crypto::Sha256Digest& digest, std::size_t bytes) {
  return SecureBytes(digest.begin(), digest.begin() + static_cast<std::ptrdiff_t>(bytes));
}
}  // namespace

Bytes key_pairing_id(const SmId& sm, const TpId& tp) { return concat({sm.view(), tp.view()}); }

Result<SecureBytes> derive_kpk(const SmSecrets& ki, const SmId& sm, const TpId& tp, ByteView rand) {
  for (auto [k, name] : {std::pair{&ki.ki1, "Ki1"}, std::pair{&ki.ki2, "Ki2"}, std::pair{&ki.ki3, "Ki3"}})
    if (auto r = require_size(view(*k), ki_size, name); !r) return std::unexpected(r.error());
  if (auto r = require_size(rand, rand_size, "RAND"); !r) return std::unexpected(r.error());
  auto seed = crypto::sha256({view(ki.ki1), view(ki.ki2), view(ki.ki3), sm.view(), tp.view(), rand});
  auto kpk = crypto::fips186_2_prf(seed, kpk_size);
  secure_wipe(seed.data(), seed.size());
  return kpk;
}

Result<SecureBytes> derive_cwek(ByteView kpk, const SmId& sm, const TpId& tp) {
  if (auto r = require_size(kpk, kpk_size, "KPK"); !r) return std::unexpected(r.error());
  auto digest = crypto::sha256({kpk, sm.view(), tp.view()});
  auto out = msb(digest, cwek_size);
  secure_wipe(digest.data(), digest.size());
  return out;
}

Result<SecureBytes> derive_hmac_key(ByteView rand_hmac, const SmId& sm, const TpId& tp) {
  if (auto r = require_size(rand_hmac, rand_hmac_size, "RANDHMAC"); !r) return std::unexpected(r.error());
  auto digest = crypto::sha256({rand_hmac, sm.view(), tp.view()});
  auto out = msb(digest, hmac_key_size);
  secure_wipe(digest.data(), digest.size());
  return out;
}

SecureBytes failure_kpk() { return SecureBytes(kpk_size, 0xff); }

bool is_failure_kpk(ByteView kpk) {
  const auto f = failure_kpk();
  return equal_ct(kpk, view(f));
}

}  // namespace dcas::protocol
