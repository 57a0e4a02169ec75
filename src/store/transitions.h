// The bodies of the store's transactions, written once for every backend. Each runs inside the
// backend's own transaction; `Rows` reads (and, where the backend locks, locks) and writes one
// row at a time:
//   read_sm(SmId) -> Result<optional<SmRecord>>, read_tp(TpId) -> Result<optional<TpRecord>>,
//   write_sm(SmRecord), write_tp(TpRecord), audit(at_ms, actor, action, sm_hex, tp_hex, detail),
//   device_revoked(Role, id) -> Result<bool>, certificates_of(Role, id) -> Result<vector<IssuedCertificate>>,
//   insert_certificate(IssuedCertificate), mark_revoked(serial, at_ms, reason),
//   revoked_unexpired(at_ms) -> Result<vector<pki::RevokedCertificate>>, lock_crl() -> Result<uint64_t>
//   (the current CRL number, 0 before the first, locked until the end of the transaction),
//   write_crl(number, der).
// Rows are always locked SM first, then TP, then the CRL, so that locking backends never deadlock.
#pragma once

#include <fmt/format.h>

#include "protocol/pairing.h"
#include "store/operator_store.h"
#include "store/records.h"

namespace dcas::store::transitions {

template <typename Rows>
Result<protocol::PairingOutcome> validate(Rows& rows, const SmId& sm, const TpId& tp, protocol::TimePoint now,
                                          std::chrono::seconds presence_lease) {
  DCAS_TRY_ASSIGN(sm_record, rows.read_sm(sm));
  DCAS_TRY_ASSIGN(tp_record, rows.read_tp(tp));
  DCAS_TRY_ASSIGN(sm_revoked, rows.device_revoked(Role::sm, sm.view()));
  DCAS_TRY_ASSIGN(tp_revoked, rows.device_revoked(Role::tp, tp.view()));
  auto outcome = protocol::validate_pairing(sm_record, tp_record, now, presence_lease, sm_revoked || tp_revoked);
  if (outcome.sm) DCAS_TRY(rows.write_sm(*outcome.sm));
  if (outcome.tp) DCAS_TRY(rows.write_tp(*outcome.tp));
  DCAS_TRY(rows.audit(to_ms(now), "ta", "validate", sm.hex(), tp.hex(), validation_detail(sm_record, outcome)));
  return outcome;
}

// The SM's record and that of its bound TP, if any. Errors: unknown_device.
template <typename Rows>
Result<std::pair<protocol::SmRecord, std::optional<protocol::TpRecord>>> read_pair(Rows& rows, const SmId& sm) {
  DCAS_TRY_ASSIGN(record, rows.read_sm(sm));
  if (!record) return fail(Errc::unknown_device, "SM " + sm.hex());
  std::optional<protocol::TpRecord> tp;
  if (record->bound_tp) {
    DCAS_TRY_ASSIGN(bound, rows.read_tp(*record->bound_tp));
    tp = std::move(bound);
  }
  return std::pair{std::move(*record), std::move(tp)};
}

template <typename Rows>
Result<protocol::PairingState> leave(Rows& rows, const SmId& sm, protocol::TimePoint now, std::string_view actor) {
  DCAS_TRY_ASSIGN(pair, read_pair(rows, sm));
  auto& [record, tp] = pair;
  if (!protocol::apply_left(record, tp ? &*tp : nullptr)) return record.psi;
  DCAS_TRY(rows.write_sm(record));
  if (tp) DCAS_TRY(rows.write_tp(*tp));
  DCAS_TRY(rows.audit(to_ms(now), actor, "left", sm.hex(), record.bound_tp ? record.bound_tp->hex() : "",
                      "auth-paired -> paired-only"));
  return protocol::PairingState::paired_only;
}

template <typename Rows>
Result<protocol::PairingState> presence(Rows& rows, const SmId& sm, protocol::TimePoint now,
                                        std::chrono::seconds presence_lease) {
  DCAS_TRY_ASSIGN(record, rows.read_sm(sm));
  if (!record) return fail(Errc::unknown_device, "SM " + sm.hex());
  if (protocol::apply_presence(*record, now, presence_lease)) DCAS_TRY(rows.write_sm(*record));
  return record->psi;
}

template <typename Rows>
Result<void> unpair(Rows& rows, const SmId& sm, std::string_view reason, protocol::TimePoint now) {
  DCAS_TRY_ASSIGN(pair, read_pair(rows, sm));
  auto& [record, tp] = pair;
  const std::string from(protocol::pairing_state_name(record.psi));
  const std::string tp_hex = record.bound_tp ? record.bound_tp->hex() : "";
  protocol::apply_unpair(record, tp ? &*tp : nullptr);
  DCAS_TRY(rows.write_sm(record));
  if (tp) DCAS_TRY(rows.write_tp(*tp));
  return rows.audit(to_ms(now), "operator", "unpair", sm.hex(), tp_hex, fmt::format("{} -> virgin: {}", from, reason));
}

// The next CRL: the number above the last, every revoked certificate that has not expired.
template <typename Rows>
Result<pki::Crl> publish_crl(Rows& rows, protocol::TimePoint now, const CrlSigner& sign) {
  DCAS_TRY_ASSIGN(number, rows.lock_crl());
  DCAS_TRY_ASSIGN(entries, rows.revoked_unexpired(to_ms(now)));
  DCAS_TRY_ASSIGN(crl, sign(number + 1, entries));
  if (crl.number() != number + 1) return fail(Errc::crypto_failure, "the CRL signer changed the CRL number");
  DCAS_TRY(rows.write_crl(crl.number(), crl.der()));
  DCAS_TRY(rows.audit(to_ms(now), "operator", "crl", "", "",
                      fmt::format("CRL {} issued, {} entries", crl.number(), entries.size())));
  return crl;
}

// Revokes every certificate on record for the device, then publishes the CRL that lists them. An
// SM's or TP's row is locked first, so that a validation in progress finishes before the revocation
// or sees it.
template <typename Rows>
Result<pki::Crl> revoke(Rows& rows, Role role, ByteView id, std::string_view reason, protocol::TimePoint now,
                        const CrlSigner& sign) {
  if (reason.empty()) return fail(Errc::invalid_argument, "a revocation needs a reason for the audit log");
  const std::string hex = to_hex(id);
  if (role == Role::sm) {
    DCAS_TRY_ASSIGN(sm, SmId::from_bytes(id));
    DCAS_TRY(rows.read_sm(sm));
  } else if (role == Role::tp) {
    DCAS_TRY_ASSIGN(tp, TpId::from_bytes(id));
    DCAS_TRY(rows.read_tp(tp));
  }
  // The CRL row is the lock a recording takes too: a certificate recorded at the same time is
  // either seen here, or refused there as revoked.
  DCAS_TRY(rows.lock_crl());
  DCAS_TRY_ASSIGN(certificates, rows.certificates_of(role, id));
  if (certificates.empty())
    return fail(Errc::not_found, fmt::format("no certificate on record for {} {}", role_name(role), hex));
  std::size_t revoked = 0;
  for (const auto& c : certificates)
    if (!c.revoked_at) {
      DCAS_TRY(rows.mark_revoked(c.serial, to_ms(now), reason));
      ++revoked;
    }
  if (revoked == 0) return fail(Errc::already_exists, fmt::format("{} {} is revoked already", role_name(role), hex));
  DCAS_TRY(rows.audit(to_ms(now), "operator", "revoke", role == Role::sm ? hex : "", role == Role::tp ? hex : "",
                      fmt::format("{} {}: {} certificate(s): {}", role_name(role), hex, revoked, reason)));
  return publish_crl(rows, now, sign);
}

// Records a certificate the TA issued (at `ta issue` and `ta renew`); a revoked device gets none.
template <typename Rows>
Result<void> record_certificate(Rows& rows, const IssuedCertificate& c, protocol::TimePoint now) {
  DCAS_TRY(rows.lock_crl());  // serialised with revoke (see there)
  DCAS_TRY_ASSIGN(revoked, rows.device_revoked(c.role, c.device_id));
  if (revoked)
    return fail(Errc::cert_revoked,
                fmt::format("{} {} is revoked: it gets no new certificate", role_name(c.role), to_hex(c.device_id)));
  DCAS_TRY(rows.insert_certificate(c));
  const std::string hex = to_hex(c.device_id);
  return rows.audit(to_ms(now), "provisioning", "certificate", c.role == Role::sm ? hex : "",
                    c.role == Role::tp ? hex : "",
                    fmt::format("{} {}: serial {}", role_name(c.role), hex, to_hex(c.serial)));
}

}  // namespace dcas::store::transitions
