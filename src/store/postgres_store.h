// The TA's pairing store on PostgreSQL (libpq), for operators who run several TA processes on one
// database. Same contract and same schema idea as the SQLite store: every transition is one
// transaction (rows locked with SELECT ... FOR UPDATE, SM before TP), committed with the server's
// default synchronous_commit=on before the KPK may leave; Ki sealed with AES-256-GCM under the
// operator key; an append-only audit log; versioned migrations under an advisory lock.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store/operator_store.h"

typedef struct pg_conn PGconn;

namespace dcas::store {

class PostgresPairingStore final : public OperatorStore {
 public:
  // `conninfo`: a libpq connection string or postgresql:// URI. Errors: store_error, store_schema,
  // bad_length.
  static Result<std::unique_ptr<PostgresPairingStore>> open(const std::string& conninfo, ByteView operator_key);
  ~PostgresPairingStore() override;

  static constexpr int schema_version = 3;

  Result<void> add_sm(const SmId& id, const protocol::SmSecrets& ki) override;
  Result<void> add_tp(const TpId& id) override;
  Result<void> add_devices(std::span<const NewDevice> devices) override;
  Result<std::optional<protocol::SmRecord>> find_sm(const SmId& id) override;
  Result<std::optional<protocol::TpRecord>> find_tp(const TpId& id) override;
  Result<protocol::PairingOutcome> validate_and_record(const SmId& sm, const TpId& tp, protocol::TimePoint now,
                                                       std::chrono::seconds presence_lease) override;
  Result<protocol::PairingState> record_left(const SmId& sm, protocol::TimePoint now) override;
  Result<protocol::PairingState> record_present(const SmId& sm, protocol::TimePoint now,
                                                std::chrono::seconds presence_lease) override;
  Result<std::vector<AuditEntry>> audit_log() override;
  Result<protocol::PairingState> operator_leave(const SmId& sm, protocol::TimePoint now) override;
  Result<void> unpair(const SmId& sm, std::string_view reason, protocol::TimePoint now) override;
  Result<std::vector<SmSummary>> list_sms(std::optional<protocol::PairingState> state) override;
  Result<std::map<protocol::PairingState, std::size_t>> count_sms() override;
  Result<std::vector<protocol::TpRecord>> list_tps() override;
  Result<StoreSnapshot> snapshot() override;
  Result<Bytes> current_crl() override;
  Result<void> record_certificate(const IssuedCertificate& certificate, protocol::TimePoint now) override;
  Result<std::vector<IssuedCertificate>> certificates() override;
  Result<pki::Crl> revoke(Role role, ByteView id, std::string_view reason, protocol::TimePoint now,
                          const CrlSigner& sign) override;
  Result<pki::Crl> publish_crl(protocol::TimePoint now, const CrlSigner& sign) override;

 private:
  // Revocation rows (store/transitions.h); the caller holds mutex_ (inside a transaction).
  Result<bool> device_revoked(Role role, ByteView id);
  Result<std::vector<IssuedCertificate>> select_certificates(std::optional<Role> role, ByteView id);
  Result<void> insert_certificate(const IssuedCertificate& c);
  Result<void> mark_revoked(ByteView serial, std::int64_t at_ms, std::string_view reason);
  Result<std::vector<pki::RevokedCertificate>> revoked_unexpired(std::int64_t now_ms);
  Result<std::uint64_t> lock_crl();
  Result<void> write_crl(std::uint64_t number, ByteView der);
  // The queries behind list_sms, list_tps, audit_log and snapshot; the caller holds mutex_.
  Result<std::vector<SmSummary>> select_sms(std::optional<protocol::PairingState> state);
  Result<std::vector<protocol::TpRecord>> select_tps();
  Result<std::vector<AuditEntry>> select_audit();
  // Opens one sealed value with the operator key, or records the check if the store has none.
  Result<void> check_operator_key();
  PostgresPairingStore(PGconn* conn, ByteView key);
  Result<void> migrate();
  // The connection, made again if the server dropped it; the caller holds mutex_. Errors: store_unavailable.
  Result<void> connected();
  template <typename F>
  auto transaction(F&& body) -> decltype(body());
  Result<std::optional<protocol::SmRecord>> read_sm(const SmId& id, bool lock);
  Result<std::optional<protocol::TpRecord>> read_tp(const TpId& id, bool lock);
  Result<void> write_sm(const protocol::SmRecord& r);
  Result<void> write_tp(const protocol::TpRecord& r);
  Result<protocol::PairingState> leave(const SmId& sm, protocol::TimePoint now, std::string_view actor);
  struct Rows;  // row access for store/transitions.h
  Result<void> audit(std::int64_t at_ms, std::string_view actor, std::string_view action, std::string_view sm,
                     std::string_view tp, std::string_view detail);
  // One registration of add_devices; the caller is in a transaction.
  Result<void> insert_device(const NewDevice& device);

  PGconn* conn_;
  SecureBytes key_;
  std::mutex mutex_;
};

}  // namespace dcas::store
