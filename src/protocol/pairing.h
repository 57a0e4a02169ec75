// Pairing state (paper Table 1, Figs. 5 and 6) and the TA's registry interface.
//
// The PSI rules live in one pure function, validate_pairing(); every store (in memory here, SQLite
// and PostgreSQL in src/store/) applies it inside one atomic transaction.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "common/ids.h"
#include "protocol/derivation.h"
#include "protocol/pairing_state.h"
#include "protocol/role.h"

namespace dcas::protocol {

struct SmRecord {
  SmId id;
  SmSecrets ki;
  PairingState psi = PairingState::virgin;
  std::optional<TpId> bound_tp;
  TimePoint presence_until{};  // Auth/Paired only: the host counts as on the network until then
};

struct TpRecord {
  TpId id;
  PairingState psi = PairingState::virgin;
  std::optional<SmId> bound_sm;
};

// The validation of paper Fig. 6, with the presence rule of docs/spec.md ("Pairing state"):
// an Auth/Paired pair whose presence has lapsed counts as having left the network (Paired Only).
// Returns the verdict; on success also the records as they must be written.
struct PairingOutcome {
  Verdict verdict;
  std::optional<SmRecord> sm;  // updated records to store (success only)
  std::optional<TpRecord> tp;
};
// `revoked`: the operator revoked the SM or the TP; nothing changes.
PairingOutcome validate_pairing(const std::optional<SmRecord>& sm, const std::optional<TpRecord>& tp, TimePoint now,
                                std::chrono::seconds presence_lease, bool revoked = false);

// The host left the network: Auth/Paired -> Paired Only for the SM and its bound TP (whose record
// the caller passes if it has one). Returns false, changing nothing, in any other state.
bool apply_left(SmRecord& sm, TpRecord* bound_tp);
// The host is on the network: extends an Auth/Paired pair's presence, unless it already lapsed
// (a lapsed pair has left and must be validated again). Returns whether anything changed.
bool apply_presence(SmRecord& sm, TimePoint now, std::chrono::seconds presence_lease);

// An operator unpairs: the SM and its bound TP (whose record the caller passes if it has one)
// become Virgin and unbound: the only way a binding ever changes.
void apply_unpair(SmRecord& sm, TpRecord* bound_tp);

// The TA's device registry and pairing table. Every method is atomic.
class PairingStore {
 public:
  virtual ~PairingStore() = default;
  virtual Result<void> add_sm(const SmId& id, const SmSecrets& ki) = 0;
  virtual Result<void> add_tp(const TpId& id) = 0;
  virtual Result<std::optional<SmRecord>> find_sm(const SmId& id) = 0;
  virtual Result<std::optional<TpRecord>> find_tp(const TpId& id) = 0;
  // Reads both records, applies validate_pairing and writes the result, as one transaction that is
  // durable before this returns: the KPK may leave the TA only after it.
  virtual Result<PairingOutcome> validate_and_record(const SmId& sm, const TpId& tp, TimePoint now,
                                                     std::chrono::seconds presence_lease) = 0;
  // The AP saw the host leave: Auth/Paired -> Paired Only. Errors: unknown_device.
  virtual Result<PairingState> record_left(const SmId& sm, TimePoint now) = 0;
  // The AP saw the host on the network: extends an Auth/Paired pair's presence. Errors: unknown_device.
  virtual Result<PairingState> record_present(const SmId& sm, TimePoint now, std::chrono::seconds presence_lease) = 0;
  // The current CRL (DER) the operator issued (docs/spec.md §18); empty before the first.
  virtual Result<Bytes> current_crl() = 0;
};

// In-memory store for tests and benchmarks (the durable stores are in src/store/).
class MemoryPairingStore final : public PairingStore {
 public:
  Result<void> add_sm(const SmId& id, const SmSecrets& ki) override;
  Result<void> add_tp(const TpId& id) override;
  Result<std::optional<SmRecord>> find_sm(const SmId& id) override;
  Result<std::optional<TpRecord>> find_tp(const TpId& id) override;
  Result<PairingOutcome> validate_and_record(const SmId& sm, const TpId& tp, TimePoint now,
                                             std::chrono::seconds presence_lease) override;
  Result<PairingState> record_left(const SmId& sm, TimePoint now) override;
  Result<PairingState> record_present(const SmId& sm, TimePoint now, std::chrono::seconds presence_lease) override;
  Result<Bytes> current_crl() override;
  // What an operator's revocation records here: validations of the device are refused from now
  // on, and `crl` is the CRL the TA serves.
  void revoke(Role role, ByteView id, Bytes crl);

 private:
  std::mutex mutex_;
  std::set<std::pair<Role, Bytes>> revoked_;
  Bytes crl_;
  std::map<SmId, SmRecord> sms_;
  std::map<TpId, TpRecord> tps_;
};

}  // namespace dcas::protocol
