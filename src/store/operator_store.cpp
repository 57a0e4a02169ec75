#include "store/operator_store.h"

#include <fmt/format.h>

#include <map>

#include "store/operator_key.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace dcas::store {

Result<void> check_new_device(const NewDevice& device) {
  if (device.role == Role::sm && !device.ki)
    return fail(Errc::invalid_argument, fmt::format("SM {} registered without its Ki", to_hex(device.id)));
  if (device.role == Role::tp && device.ki)
    return fail(Errc::invalid_argument, fmt::format("TP {} registered with Ki", to_hex(device.id)));
  if (device.role != Role::sm && device.role != Role::tp)
    return fail(Errc::invalid_argument, "only SMs and TPs are registered as devices");
  return {};
}

Result<std::unique_ptr<OperatorStore>> open_store(std::string_view db_option, const std::filesystem::path& ta_dir,
                                                  Create create) {
  DCAS_TRY_ASSIGN(key, load_operator_key(ta_dir));
  const std::string db = db_option.empty() ? "sqlite:" + (ta_dir / "ta.sqlite").string() : std::string(db_option);
  if (db.starts_with("sqlite:")) {
    const std::filesystem::path path(db.substr(7));
    auto s = SqlitePairingStore::open(path, view(key), create);
    if (!s && s.error().code == Errc::io_error)
      return fail(Errc::io_error, fmt::format("no TA store at {} (dcas ta init creates one)", path.string()));
    if (!s) return std::unexpected(s.error());
    return std::unique_ptr<OperatorStore>(std::move(*s));
  }
  if (db.starts_with("postgresql://") || db.starts_with("postgres://")) {
    DCAS_TRY_ASSIGN(s, PostgresPairingStore::open(db, view(key)));
    return std::unique_ptr<OperatorStore>(std::move(s));
  }
  return fail(Errc::invalid_argument, "--db must be sqlite:PATH or a postgresql:// URI");
}

namespace {

// The state an audit entry leaves its SM in: the word after "-> " in its detail ("virgin" for a
// registration), or nothing for entries that do not concern an SM's state.
std::optional<std::string> state_after(const AuditEntry& e) {
  if (e.sm.empty()) return std::nullopt;
  if (e.action == "register_sm") return "virgin";
  // Only transitions change a state; a revocation's reason, say, may hold any text.
  if (e.action != "validate" && e.action != "left" && e.action != "unpair") return std::nullopt;
  const auto arrow = e.detail.find("-> ");
  if (arrow == std::string::npos) return std::nullopt;
  const auto start = arrow + 3;
  return e.detail.substr(start, e.detail.find_first_of(" :", start) - start);
}

}  // namespace

Result<std::vector<std::string>> check_consistency(OperatorStore& store) {
  DCAS_TRY_ASSIGN(snapshot, store.snapshot());
  const auto& [sms, tps, log] = snapshot;
  std::map<TpId, protocol::TpRecord> tp_by_id;
  for (const auto& tp : tps) tp_by_id.emplace(tp.id, tp);
  std::map<std::string, std::string> audited_state;
  for (const auto& e : log)
    if (auto s = state_after(e)) audited_state[e.sm] = *s;

  std::vector<std::string> problems;
  std::map<SmId, const SmSummary*> sm_by_id;
  for (const auto& sm : sms) {
    sm_by_id.emplace(sm.id, &sm);
    const auto psi = protocol::pairing_state_name(sm.psi);
    if (sm.psi == protocol::PairingState::virgin && sm.bound_tp)
      problems.push_back(fmt::format("SM {} is virgin but bound to TP {}", sm.id.hex(), sm.bound_tp->hex()));
    if (sm.psi != protocol::PairingState::virgin) {
      auto tp = sm.bound_tp ? tp_by_id.find(*sm.bound_tp) : tp_by_id.end();
      if (tp == tp_by_id.end())
        problems.push_back(fmt::format("SM {} is {} without a bound TP on record", sm.id.hex(), psi));
      else if (tp->second.bound_sm != sm.id || tp->second.psi != sm.psi)
        problems.push_back(fmt::format("SM {} ({}) and its TP {} ({}) disagree", sm.id.hex(), psi, tp->first.hex(),
                                       protocol::pairing_state_name(tp->second.psi)));
    }
    auto audited = audited_state.find(sm.id.hex());
    if (audited == audited_state.end())
      problems.push_back(fmt::format("SM {} has no audit entry", sm.id.hex()));
    else if (audited->second != psi)
      problems.push_back(fmt::format("SM {} is {} but its audit log ends in {}", sm.id.hex(), psi, audited->second));
  }
  for (const auto& tp : tps) {
    if (!tp.bound_sm) {
      if (tp.psi != protocol::PairingState::virgin)
        problems.push_back(
            fmt::format("TP {} is {} without a bound SM", tp.id.hex(), protocol::pairing_state_name(tp.psi)));
      continue;
    }
    auto sm = sm_by_id.find(*tp.bound_sm);
    if (sm == sm_by_id.end() || sm->second->bound_tp != tp.id)
      problems.push_back(
          fmt::format("TP {} is bound to SM {}, which is not bound to it", tp.id.hex(), tp.bound_sm->hex()));
  }
  return problems;
}

}  // namespace dcas::store
