// The TA's pairing store on SQLite: one file, WAL journal, synchronous=FULL, so a transition is on
// disk when validate_and_record() returns and the KPK may leave (docs/spec.md, "TA store").
// Each SM's Ki are sealed with AES-256-GCM under the operator key (the SM_ID is the associated
// data, so sealed Ki cannot be moved between records). Every transition and provisioning step is
// appended to an audit log the schema forbids updating or deleting.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "store/operator_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace dcas::store {

class SqlitePairingStore final : public OperatorStore {
 public:
  // Opens (creating it if `create` allows) and migrates the database. `operator_key`: 32 bytes.
  // Errors: store_error, store_schema (written by a newer version), bad_length, io_error (no
  // database and Create::never).
  static Result<std::unique_ptr<SqlitePairingStore>> open(const std::filesystem::path& path, ByteView operator_key,
                                                          Create create = Create::if_missing);
  ~SqlitePairingStore() override;

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
  // Revocation rows (store/transitions.h); the caller holds mutex_.
  Result<bool> device_revoked(Role role, ByteView id);
  Result<std::vector<IssuedCertificate>> select_certificates(std::optional<Role> role, ByteView id);
  Result<void> insert_certificate(const IssuedCertificate& c);
  Result<void> mark_revoked(ByteView serial, std::int64_t at_ms, std::string_view reason);
  Result<std::vector<pki::RevokedCertificate>> revoked_unexpired(std::int64_t now_ms);
  Result<std::uint64_t> crl_number();
  Result<void> write_crl(std::uint64_t number, ByteView der);
  // The queries behind list_sms, list_tps, audit_log and snapshot; the caller holds mutex_.
  Result<std::vector<SmSummary>> select_sms(std::optional<protocol::PairingState> state);
  Result<std::vector<protocol::TpRecord>> select_tps();
  Result<std::vector<AuditEntry>> select_audit();
  // Opens one sealed value with the operator key, or records the check if the store has none.
  Result<void> check_operator_key();
  SqlitePairingStore(sqlite3* db, ByteView key);
  Result<void> migrate();
  Result<void> exec(const char* sql);
  Result<void> audit(std::int64_t at_ms, std::string_view actor, std::string_view action, std::string_view sm,
                     std::string_view tp, std::string_view detail);
  // One registration of add_devices; the caller is in a transaction.
  Result<void> insert_device(const NewDevice& device);
  Result<std::optional<protocol::SmRecord>> read_sm(const SmId& id);
  Result<std::optional<protocol::TpRecord>> read_tp(const TpId& id);
  Result<void> write_sm(const protocol::SmRecord& r);
  Result<void> write_tp(const protocol::TpRecord& r);
  Result<protocol::PairingState> leave(const SmId& sm, protocol::TimePoint now, std::string_view actor);
  struct Rows;  // row access for store/transitions.h
  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any error).
  template <typename F>
  auto transaction(F&& body) -> decltype(body());

  // A prepared statement from the cache; the caller resets it after use (Borrowed in the .cpp).
  Result<sqlite3_stmt*> statement(const char* sql);

  sqlite3* db_;
  std::map<std::string_view, sqlite3_stmt*> statements_;  // by SQL text: the transitions' statements
  SecureBytes key_;
  std::mutex mutex_;  // one connection, one transaction at a time; other processes lock the file
};

}  // namespace dcas::store
