// The bodies of the store's transactions, written once for every backend. Each runs inside the
// backend's own transaction; `Rows` reads (and, where the backend locks, locks) and writes one
// row at a time:
//   read_sm(SmId) -> Result<optional<SmRecord>>, read_tp(TpId) -> Result<optional<TpRecord>>,
//   write_sm(SmRecord), write_tp(TpRecord), audit(at_ms, actor, action, sm_hex, tp_hex, detail).
// Rows are always read SM first, then TP, so that locking backends never deadlock.
#pragma once

#include <fmt/format.h>

#include "protocol/pairing.h"
#include "store/records.h"

namespace dcas::store::transitions {

template <typename Rows>
Result<protocol::PairingOutcome> validate(Rows& rows, const SmId& sm, const TpId& tp, protocol::TimePoint now,
                                          std::chrono::seconds presence_lease) {
  DCAS_TRY_ASSIGN(sm_record, rows.read_sm(sm));
  DCAS_TRY_ASSIGN(tp_record, rows.read_tp(tp));
  auto outcome = protocol::validate_pairing(sm_record, tp_record, now, presence_lease);
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

}  // namespace dcas::store::transitions
