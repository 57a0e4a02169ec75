#include "protocol/pairing_statement.h"

#include <fmt/format.h>

#include "protocol/derivation.h"
#include "protocol/envelope.h"

namespace dcas::protocol {

namespace {
TimePoint from_unix_ms(std::uint64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }
}  // namespace

Result<Bytes> make_statement(const StatementTerms& terms, ByteView kpk, const crypto::RsaPublicKey& sm_key,
                             const crypto::RsaPublicKey& tp_key, const crypto::RsaPrivateKey& ta_key,
                             crypto::RandomSource& rng) {
  DCAS_TRY_ASSIGN(for_sm, encrypt_to(sm_key, kpk, rng));
  DCAS_TRY_ASSIGN(for_tp, encrypt_to(tp_key, kpk, rng));
  wire::KeyResponseFromTaH1 body{Bytes(terms.sm.bytes.begin(), terms.sm.bytes.end()),
                                 Bytes(terms.sm_nonce.begin(), terms.sm_nonce.end()),
                                 Bytes(terms.tp_nonce.begin(), terms.tp_nonce.end()),
                                 Bytes(terms.tp.bytes.begin(), terms.tp.bytes.end()),
                                 std::move(for_sm),
                                 std::move(for_tp),
                                 to_unix_ms(terms.not_after),
                                 {static_cast<std::uint8_t>(terms.paired ? 1 : 0)},
                                 {}};
  return sign_and_encode({wire::Profile::hardened1, std::move(body), {}}, ta_key, rng);
}

Result<PairingStatement> open_statement(ByteView bytes, const crypto::RsaPublicKey& ta_key) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::KeyResponseFromTaH1>(bytes));
  DCAS_TRY(verify_signature(m.first, ta_key, "TA"));
  const auto& b = m.second;
  if (b.result[0] > 1) return fail(Errc::bad_plaintext, "a pairing statement's result is 0 or 1");
  DCAS_TRY_ASSIGN(sm, SmId::from_bytes(b.sm_id));
  DCAS_TRY_ASSIGN(tp, TpId::from_bytes(b.tp_id));
  return PairingStatement{sm,
                          tp,
                          b.sm_nonce,
                          b.tp_nonce,
                          b.result[0] == 1,
                          from_unix_ms(b.not_after),
                          b.kpk_for_sm,
                          b.kpk_for_tp,
                          Bytes(bytes.begin(), bytes.end())};
}

Result<void> check_statement(const PairingStatement& s, const SmId& sm, const TpId& tp, ByteView sm_nonce,
                             ByteView tp_nonce, TimePoint now) {
  if (s.sm != sm || s.tp != tp)
    return fail(Errc::id_mismatch, fmt::format("the pairing statement is about SM {} and TP {}, not SM {} and TP {}",
                                               s.sm.hex(), s.tp.hex(), sm.hex(), tp.hex()));
  // Both comparisons always run: the result reveals nothing about which nonce differed.
  if (!(equal_ct(s.sm_nonce, sm_nonce) & equal_ct(s.tp_nonce, tp_nonce)))
    return fail(Errc::not_fresh, "the pairing statement is about another run (nonces differ)");
  if (now > s.not_after) return fail(Errc::not_fresh, "the pairing statement has expired");
  if (!s.paired) return fail(Errc::pairing_refused, "the TA refused this pair in this run");
  return {};
}

Result<AcceptedStatement> accept_statement(ByteView bytes, const pki::Certificate& ta_root,
                                           const crypto::RsaPrivateKey& own_key, Role self, const RunTerms& run,
                                           TimePoint now) {
  DCAS_TRY_ASSIGN(ta_key, ta_root.public_key());
  DCAS_TRY_ASSIGN(statement, open_statement(bytes, ta_key));
  DCAS_TRY(check_statement(statement, run.sm, run.tp, run.sm_nonce, run.tp_nonce, now));
  DCAS_TRY_ASSIGN(
      kpk, decrypt_exact(own_key, self == Role::sm ? statement.kpk_for_sm : statement.kpk_for_tp, kpk_size, "KPK"));
  return AcceptedStatement{std::move(statement), std::move(kpk)};
}

}  // namespace dcas::protocol
