#include "protocol/derivation.h"

#include <fmt/format.h>

#include <algorithm>

#include "crypto/fips186_prf.h"
#include "crypto/hash.h"
#include "crypto/kex.h"

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

namespace dcas::protocol {

namespace {
std::array<std::uint8_t, 4> length_prefix(ByteView m) {
  const auto n = static_cast<std::uint32_t>(m.size());
  return {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
          static_cast<std::uint8_t>(n)};
}
}  // namespace

std::array<std::uint8_t, 32> transcript_hash(ByteView tp_cert_req, ByteView tp_cert_rsp, ByteView statement,
                                             ByteView sm_ephemeral) {
  const auto l1 = length_prefix(tp_cert_req), l2 = length_prefix(tp_cert_rsp), l3 = length_prefix(statement);
  return crypto::sha256(
      {view("DCAS hardened1 transcript"), l1, tp_cert_req, l2, tp_cert_rsp, l3, statement, sm_ephemeral});
}

Result<HandshakeKeys> derive_handshake_keys(ByteView kpk, ByteView shared_secret, ByteView transcript) {
  if (auto r = require_size(kpk, kpk_size, "KPK"); !r) return std::unexpected(r.error());
  if (auto r = require_size(shared_secret, crypto::x25519_size, "X25519 shared secret"); !r)
    return std::unexpected(r.error());
  SecureBytes ikm(kpk.begin(), kpk.end());
  ikm.insert(ikm.end(), shared_secret.begin(), shared_secret.end());
  DCAS_TRY_ASSIGN(prk, crypto::hkdf_extract(transcript, view(ikm)));
  HandshakeKeys keys;
  DCAS_TRY_ASSIGN(cwek, crypto::hkdf_expand(view(prk), view("DCAS hardened1 CWEK"), cwek_size));
  DCAS_TRY_ASSIGN(hmac_key, crypto::hkdf_expand(view(prk), view("DCAS hardened1 HMAC_KEY"), hmac_key_size));
  DCAS_TRY_ASSIGN(confirm, crypto::hkdf_expand(view(prk), view("DCAS hardened1 confirm"), confirmation_size));
  keys.cwek = std::move(cwek);
  keys.hmac_key = std::move(hmac_key);
  keys.confirm_key = std::move(confirm);
  return keys;
}

std::array<std::uint8_t, 32> key_confirmation(ByteView confirm_key, std::string_view who, ByteView transcript) {
  return crypto::hmac_sha256(confirm_key, {view(who), transcript});
}

Result<RunKeys> run_key_schedule(const crypto::X25519Key& own, ByteView peer_ephemeral, ByteView kpk,
                                 const RunMessages& run) {
  DCAS_TRY_ASSIGN(shared, own.shared_secret(peer_ephemeral));
  RunKeys out;
  out.transcript = transcript_hash(run.tp_cert_req, run.tp_cert_rsp, run.statement, run.sm_ephemeral);
  DCAS_TRY_ASSIGN(keys, derive_handshake_keys(kpk, view(shared), out.transcript));
  out.keys = std::move(keys);
  return out;
}

}  // namespace dcas::protocol
