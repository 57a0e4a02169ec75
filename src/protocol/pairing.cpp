#include "protocol/pairing.h"

#include <fmt/format.h>

namespace dcas::protocol {

std::string_view pairing_state_name(PairingState psi) {
  switch (psi) {
    case PairingState::virgin: return "virgin";
    case PairingState::auth_paired: return "auth-paired";
    case PairingState::paired_only: return "paired-only";
  }
  return "unknown";
}

std::optional<PairingState> pairing_state_from_name(std::string_view name) {
  for (auto s : {PairingState::virgin, PairingState::auth_paired, PairingState::paired_only})
    if (pairing_state_name(s) == name) return s;
  return std::nullopt;
}

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::bound_virgin_pair: return "bound_virgin_pair";
    case Verdict::rejoined: return "rejoined";
    case Verdict::rejoined_after_lapse: return "rejoined_after_lapse";
    case Verdict::refused_unknown: return "refused_unknown";
    case Verdict::refused_bound_elsewhere: return "refused_bound_elsewhere";
    case Verdict::refused_active: return "refused_active";
    case Verdict::refused_revoked: return "refused_revoked";
  }
  return "unknown";
}

std::optional<Verdict> verdict_from_name(std::string_view name) {
  for (int v = 0; v <= static_cast<int>(Verdict::refused_revoked); ++v)
    if (verdict_name(static_cast<Verdict>(v)) == name) return static_cast<Verdict>(v);
  return std::nullopt;
}

PairingOutcome validate_pairing(const std::optional<SmRecord>& sm, const std::optional<TpRecord>& tp, TimePoint now,
                                std::chrono::seconds presence_lease, bool revoked) {
  // Fig. 6: no record for either ID -> terminate.
  if (!sm || !tp) return {Verdict::refused_unknown, {}, {}};
  if (revoked) return {Verdict::refused_revoked, {}, {}};
  SmRecord new_sm = *sm;
  TpRecord new_tp = *tp;
  new_sm.psi = new_tp.psi = PairingState::auth_paired;
  new_sm.presence_until = now + presence_lease;

  // Both Virgin (never validated, so never bound) -> bind, Auth/Paired.
  if (sm->psi == PairingState::virgin && tp->psi == PairingState::virgin && !sm->bound_tp && !tp->bound_sm) {
    new_sm.bound_tp = tp->id;
    new_tp.bound_sm = sm->id;
    return {Verdict::bound_virgin_pair, new_sm, new_tp};
  }
  // A pair, once bound, is never changed by the protocol: only its own partner qualifies.
  const bool bound_to_each_other = sm->bound_tp == tp->id && tp->bound_sm == sm->id;
  if (!bound_to_each_other) return {Verdict::refused_bound_elsewhere, {}, {}};
  if (sm->psi == PairingState::paired_only && tp->psi == PairingState::paired_only)
    return {Verdict::rejoined, new_sm, new_tp};
  // Auth/Paired: the host is on the network unless its presence lapsed, in which case it left
  // (a power cut, an unplugged box) and may come back; while present, a second request is a clone.
  if (sm->psi == PairingState::auth_paired && tp->psi == PairingState::auth_paired) {
    if (now >= sm->presence_until) return {Verdict::rejoined_after_lapse, new_sm, new_tp};
    return {Verdict::refused_active, {}, {}};
  }
  return {Verdict::refused_bound_elsewhere, {}, {}};  // inconsistent states: refuse, never repair silently
}

bool apply_left(SmRecord& sm, TpRecord* bound_tp) {
  if (sm.psi != PairingState::auth_paired) return false;
  sm.psi = PairingState::paired_only;
  sm.presence_until = {};
  if (bound_tp) bound_tp->psi = PairingState::paired_only;
  return true;
}

bool apply_presence(SmRecord& sm, TimePoint now, std::chrono::seconds presence_lease) {
  if (sm.psi != PairingState::auth_paired || now >= sm.presence_until) return false;
  sm.presence_until = now + presence_lease;
  return true;
}

// ---- in-memory store ----

Result<void> MemoryPairingStore::add_sm(const SmId& id, const SmSecrets& ki) {
  std::lock_guard lock(mutex_);
  if (sms_.contains(id)) return fail(Errc::already_exists, "SM " + id.hex() + " already registered");
  sms_.emplace(id, SmRecord{id, ki, PairingState::virgin, std::nullopt, {}});
  return {};
}

Result<void> MemoryPairingStore::add_tp(const TpId& id) {
  std::lock_guard lock(mutex_);
  if (tps_.contains(id)) return fail(Errc::already_exists, "TP " + id.hex() + " already registered");
  tps_.emplace(id, TpRecord{id, PairingState::virgin, std::nullopt});
  return {};
}

Result<std::optional<SmRecord>> MemoryPairingStore::find_sm(const SmId& id) {
  std::lock_guard lock(mutex_);
  auto it = sms_.find(id);
  if (it == sms_.end()) return std::optional<SmRecord>{};
  return std::optional<SmRecord>{it->second};
}

Result<std::optional<TpRecord>> MemoryPairingStore::find_tp(const TpId& id) {
  std::lock_guard lock(mutex_);
  auto it = tps_.find(id);
  if (it == tps_.end()) return std::optional<TpRecord>{};
  return std::optional<TpRecord>{it->second};
}

Result<PairingOutcome> MemoryPairingStore::validate_and_record(const SmId& sm, const TpId& tp, TimePoint now,
                                                               std::chrono::seconds presence_lease) {
  std::lock_guard lock(mutex_);
  auto s = sms_.find(sm);
  auto t = tps_.find(tp);
  const bool revoked = revoked_.contains({Role::sm, Bytes(sm.view().begin(), sm.view().end())}) ||
                       revoked_.contains({Role::tp, Bytes(tp.view().begin(), tp.view().end())});
  auto outcome =
      validate_pairing(s == sms_.end() ? std::nullopt : std::optional(s->second),
                       t == tps_.end() ? std::nullopt : std::optional(t->second), now, presence_lease, revoked);
  if (outcome.sm) s->second = *outcome.sm;
  if (outcome.tp) t->second = *outcome.tp;
  return outcome;
}

Result<PairingState> MemoryPairingStore::record_left(const SmId& sm, TimePoint) {
  std::lock_guard lock(mutex_);
  auto s = sms_.find(sm);
  if (s == sms_.end()) return fail(Errc::unknown_device, "SM " + sm.hex());
  apply_left(s->second, s->second.bound_tp ? &tps_.at(*s->second.bound_tp) : nullptr);
  return s->second.psi;
}

Result<PairingState> MemoryPairingStore::record_present(const SmId& sm, TimePoint now,
                                                        std::chrono::seconds presence_lease) {
  std::lock_guard lock(mutex_);
  auto s = sms_.find(sm);
  if (s == sms_.end()) return fail(Errc::unknown_device, "SM " + sm.hex());
  apply_presence(s->second, now, presence_lease);
  return s->second.psi;
}

Result<Bytes> MemoryPairingStore::current_crl() {
  std::lock_guard lock(mutex_);
  return crl_;
}

void MemoryPairingStore::revoke(Role role, ByteView id, Bytes crl) {
  std::lock_guard lock(mutex_);
  revoked_.insert({role, Bytes(id.begin(), id.end())});
  crl_ = std::move(crl);
}

void apply_unpair(SmRecord& sm, TpRecord* bound_tp) {
  if (bound_tp) *bound_tp = {bound_tp->id, PairingState::virgin, std::nullopt};
  sm.psi = PairingState::virgin;
  sm.bound_tp.reset();
  sm.presence_until = {};
}

}  // namespace dcas::protocol
