// What the TA's operator tools and services need from a pairing store, whatever its backend:
// the protocol's PairingStore, plus the audit log and the audited operator actions.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "pki/crl.h"
#include "protocol/pairing.h"

namespace dcas::store {

// Whether opening a store may create it (only `dcas ta init` and tests do).
enum class Create { if_missing, never };

struct AuditEntry {
  std::int64_t seq = 0;
  std::int64_t at_ms = 0;
  std::string actor;   // "ta", "operator", "provisioning"
  std::string action;  // "register_sm", "validate", "left", ...
  std::string sm, tp;  // hex IDs, empty when not applicable
  std::string detail;  // e.g. "virgin -> auth-paired (bound_virgin_pair)"
};

// One SM's pairing state, without its Ki.
struct SmSummary {
  SmId id;
  protocol::PairingState psi;
  std::optional<TpId> bound_tp;
  protocol::TimePoint presence_until;
};

// The SMs, TPs and audit log as of one moment.
struct StoreSnapshot {
  std::vector<SmSummary> sms;
  std::vector<protocol::TpRecord> tps;
  std::vector<AuditEntry> audit;
};

// A device certificate the TA issued, and whether the operator revoked it.
struct IssuedCertificate {
  Role role = Role::sm;
  Bytes device_id;  // 8 bytes
  Bytes serial;     // as pki::Certificate::serial()
  protocol::TimePoint not_after{};
  std::optional<protocol::TimePoint> revoked_at;
  std::string reason;  // why it was revoked; empty if it is not
  Bytes der;
};
// A device to register as Virgin: an SM with its Ki, or a TP (add_devices).
struct NewDevice {
  Role role = Role::sm;
  std::array<std::uint8_t, device_id_size> id{};
  std::optional<protocol::SmSecrets> ki;  // an SM's; none for a TP
};

// Whether add_devices can register it. Errors: invalid_argument.
Result<void> check_new_device(const NewDevice& device);

// Signs CRL number N listing these certificates (the TA key stays with the caller).
using CrlSigner = std::function<Result<pki::Crl>(std::uint64_t number, const std::vector<pki::RevokedCertificate>&)>;

class OperatorStore : public protocol::PairingStore {
 public:
  // Registers every device as add_sm and add_tp do, audited the same way, in one transaction:
  // all or none (a load test registers its hosts a few thousand per transaction). Errors: already_exists,
  // invalid_argument (a role other than sm or tp, an SM without Ki, a TP with), the backend's.
  virtual Result<void> add_devices(std::span<const NewDevice> devices) = 0;
  virtual Result<std::vector<AuditEntry>> audit_log() = 0;
  // Operator actions, each audited with actor "operator".
  // The host left the network (Auth/Paired -> Paired Only). Errors: unknown_device.
  virtual Result<protocol::PairingState> operator_leave(const SmId& sm, protocol::TimePoint now) = 0;
  // Unbinds an SM from its TP and makes both Virgin again: the only way a binding ever changes.
  // Errors: unknown_device, invalid_argument (empty reason).
  virtual Result<void> unpair(const SmId& sm, std::string_view reason, protocol::TimePoint now) = 0;
  // Every SM record, optionally only those in one state, ordered by ID.
  virtual Result<std::vector<SmSummary>> list_sms(std::optional<protocol::PairingState> state) = 0;
  // How many SMs are in each pairing state (a state no SM is in is absent): one query, for --metrics.
  virtual Result<std::map<protocol::PairingState, std::size_t>> count_sms() = 0;
  // Every TP record, ordered by ID.
  virtual Result<std::vector<protocol::TpRecord>> list_tps() = 0;
  // Every SM and TP record and the whole audit log, read in one transaction (one snapshot of the
  // database, whatever other TAs commit meanwhile): what a consistency check reads.
  virtual Result<StoreSnapshot> snapshot() = 0;

  // Revocation and renewal (docs/spec.md §18).
  // Records a certificate the TA issued, audited. Errors: cert_revoked (the device is revoked),
  // already_exists (the serial is on record).
  virtual Result<void> record_certificate(const IssuedCertificate& certificate, protocol::TimePoint now) = 0;
  // Every certificate on record, ordered by role, device ID and expiry.
  virtual Result<std::vector<IssuedCertificate>> certificates() = 0;
  // Revokes every certificate of the device and issues the next CRL, in one transaction, audited.
  // Errors: not_found (no certificate on record), already_exists (revoked already), invalid_argument
  // (an empty reason, a CRL too large), the signer's.
  virtual Result<pki::Crl> revoke(Role role, ByteView id, std::string_view reason, protocol::TimePoint now,
                                  const CrlSigner& sign) = 0;
  // Issues the next CRL with the same entries (a new number and validity), audited.
  virtual Result<pki::Crl> publish_crl(protocol::TimePoint now, const CrlSigner& sign) = 0;
};

// Opens the store a `--db` option names: "sqlite:PATH", "postgresql://..." or "postgres://..."
// (any libpq URI), or, when `db` is empty, TA_DIR/ta.sqlite. The operator key comes from
// load_operator_key(ta_dir). Only `ta init` creates an SQLite store: every other command names
// one that exists. Errors: invalid_argument (unknown scheme), io_error (no such SQLite store), as
// the backends' open.
Result<std::unique_ptr<OperatorStore>> open_store(std::string_view db, const std::filesystem::path& ta_dir,
                                                  Create create = Create::never);

// Checks that the store is consistent: every binding is mutual and agrees in PSI, and every SM's
// state is the one its audit log ends in. Returns the problems found (empty when consistent).
Result<std::vector<std::string>> check_consistency(OperatorStore& store);

}  // namespace dcas::store
