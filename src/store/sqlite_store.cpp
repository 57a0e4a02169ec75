#include "store/sqlite_store.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <utility>

#include "crypto/aead.h"
#include "store/records.h"
#include "store/sqlite_util.h"
#include "store/transitions.h"

namespace dcas::store {

namespace {

using protocol::PairingState;
using namespace sqlite;

// A cached statement lent for one use: reset and unbound when the borrower is done with it.
class Borrowed {
 public:
  explicit Borrowed(sqlite3_stmt* s) : s_(s) {}
  Borrowed(Borrowed&& other) noexcept : s_(std::exchange(other.s_, nullptr)) {}
  Borrowed(const Borrowed&) = delete;
  Borrowed& operator=(const Borrowed&) = delete;
  Borrowed& operator=(Borrowed&&) = delete;
  ~Borrowed() {
    if (!s_) return;
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_;
};

}  // namespace

SqlitePairingStore::SqlitePairingStore(sqlite3* db, ByteView key) : db_(db), key_(key.begin(), key.end()) {}
SqlitePairingStore::~SqlitePairingStore() {
  for (auto& [sql, statement] : statements_) sqlite3_finalize(statement);
  sqlite3_close(db_);
}

// The transitions' statements are prepared once: parsing them again on every transition cost
// more than the rest of the transaction's CPU work.
Result<sqlite3_stmt*> SqlitePairingStore::statement(const char* sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
      return std::unexpected(db_error(db_, "prepare"));
    it = statements_.emplace(sql, s).first;
  }
  return it->second;
}

Result<std::unique_ptr<SqlitePairingStore>> SqlitePairingStore::open(const std::filesystem::path& path,
                                                                     ByteView operator_key, Create create) {
  if (operator_key.size() != crypto::aead_key_size) return fail(Errc::bad_length, "the operator key must be 32 bytes");
  DCAS_TRY_ASSIGN(db, open_database(path, create));
  std::unique_ptr<SqlitePairingStore> store(new SqlitePairingStore(db.release(), operator_key));
  DCAS_TRY(store->migrate());
  DCAS_TRY(store->check_operator_key());
  return store;
}

Result<void> SqlitePairingStore::exec(const char* sql) { return sqlite::exec(db_, sql); }

// Versioned migrations: PRAGMA user_version is the schema version; each step runs once, in one
// transaction with the version bump.
Result<void> SqlitePairingStore::migrate() {
  static const char* const steps[] = {
      // 1: devices, pairing state, append-only audit log
      "CREATE TABLE sm (id BLOB PRIMARY KEY CHECK (length(id) = 8), ki_sealed BLOB NOT NULL,"
      " psi INTEGER NOT NULL DEFAULT 0, bound_tp BLOB, presence_until_ms INTEGER NOT NULL DEFAULT 0);"
      "CREATE TABLE tp (id BLOB PRIMARY KEY CHECK (length(id) = 8), psi INTEGER NOT NULL DEFAULT 0, bound_sm BLOB);"
      "CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, actor TEXT NOT NULL,"
      " action TEXT NOT NULL, sm TEXT NOT NULL DEFAULT '', tp TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL);"
      "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); "
      "END;"
      "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); "
      "END;",
      // 2: the operator key's check value (records.h), so that a wrong key is refused at open
      "CREATE TABLE store_key_check (id INTEGER PRIMARY KEY CHECK (id = 1), sealed BLOB NOT NULL);",
      // 3: the certificates the TA issued, their revocation (final) and the CRL (its number only goes up)
      "CREATE TABLE certificate (serial BLOB PRIMARY KEY, role TEXT NOT NULL, device_id BLOB NOT NULL"
      " CHECK (length(device_id) = 8), not_after_ms INTEGER NOT NULL, der BLOB NOT NULL, revoked_at_ms INTEGER,"
      " reason TEXT NOT NULL DEFAULT '');"
      "CREATE INDEX certificate_device ON certificate (role, device_id);"
      "CREATE TRIGGER certificate_no_delete BEFORE DELETE ON certificate BEGIN"
      " SELECT RAISE(ABORT, 'certificates on record are never deleted'); END;"
      "CREATE TRIGGER revocation_is_final BEFORE UPDATE ON certificate WHEN OLD.revoked_at_ms IS NOT NULL BEGIN"
      " SELECT RAISE(ABORT, 'a revocation is final'); END;"
      "CREATE TABLE crl (id INTEGER PRIMARY KEY CHECK (id = 1), number INTEGER NOT NULL, der BLOB);"
      "INSERT INTO crl (id, number) VALUES (1, 0);"
      "CREATE TRIGGER crl_number_goes_up BEFORE UPDATE ON crl WHEN NEW.number <= OLD.number BEGIN"
      " SELECT RAISE(ABORT, 'the CRL number only goes up'); END;",
  };
  static_assert(std::size(steps) == schema_version);
  std::lock_guard lock(mutex_);
  return sqlite::migrate(db_, steps);
}

template <typename F>
auto SqlitePairingStore::transaction(F&& body) -> decltype(body()) {
  std::lock_guard lock(mutex_);
  // IMMEDIATE takes the write lock up front: two TAs racing on one file serialise here instead of
  // both reading the Virgin state.
  if (auto begun = exec("BEGIN IMMEDIATE"); !begun) return std::unexpected(begun.error());
  auto result = body();
  if (!result) {
    (void)exec("ROLLBACK");
    return result;
  }
  if (auto committed = exec("COMMIT"); !committed) {
    (void)exec("ROLLBACK");
    return std::unexpected(committed.error());
  }
  return result;
}

Result<void> SqlitePairingStore::audit(std::int64_t at_ms, std::string_view actor, std::string_view action,
                                       std::string_view sm, std::string_view tp, std::string_view detail) {
  DCAS_TRY_ASSIGN(cached, statement("INSERT INTO audit (at_ms, actor, action, sm, tp, detail) VALUES (?,?,?,?,?,?)"));
  const Borrowed s(cached);
  sqlite3_bind_int64(s.get(), 1, at_ms);
  bind_text(s.get(), 2, actor);
  bind_text(s.get(), 3, action);
  bind_text(s.get(), 4, sm);
  bind_text(s.get(), 5, tp);
  bind_text(s.get(), 6, detail);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return std::unexpected(db_error(db_, "audit"));
  return {};
}

Result<std::optional<protocol::SmRecord>> SqlitePairingStore::read_sm(const SmId& id) {
  DCAS_TRY_ASSIGN(cached, statement("SELECT ki_sealed, psi, bound_tp, presence_until_ms FROM sm WHERE id = ?"));
  const Borrowed s(cached);
  bind_blob(s.get(), 1, id.view());
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return std::optional<protocol::SmRecord>{};
  if (rc != SQLITE_ROW) return std::unexpected(db_error(db_, "read SM"));
  DCAS_TRY_ASSIGN(ki, open_ki(view(key_), id, column_blob(s.get(), 0)));
  protocol::SmRecord r;
  r.id = id;
  r.ki = std::move(ki);
  r.psi = static_cast<PairingState>(sqlite3_column_int(s.get(), 1));
  if (const Bytes tp = column_blob(s.get(), 2); !tp.empty()) r.bound_tp = TpId::from_bytes(tp).value();
  r.presence_until = from_ms(sqlite3_column_int64(s.get(), 3));
  return std::optional<protocol::SmRecord>{std::move(r)};
}

Result<std::optional<protocol::TpRecord>> SqlitePairingStore::read_tp(const TpId& id) {
  DCAS_TRY_ASSIGN(cached, statement("SELECT psi, bound_sm FROM tp WHERE id = ?"));
  const Borrowed s(cached);
  bind_blob(s.get(), 1, id.view());
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return std::optional<protocol::TpRecord>{};
  if (rc != SQLITE_ROW) return std::unexpected(db_error(db_, "read TP"));
  protocol::TpRecord r;
  r.id = id;
  r.psi = static_cast<PairingState>(sqlite3_column_int(s.get(), 0));
  if (const Bytes sm = column_blob(s.get(), 1); !sm.empty()) r.bound_sm = SmId::from_bytes(sm).value();
  return std::optional<protocol::TpRecord>{std::move(r)};
}

Result<void> SqlitePairingStore::write_sm(const protocol::SmRecord& r) {
  DCAS_TRY_ASSIGN(cached, statement("UPDATE sm SET psi = ?, bound_tp = ?, presence_until_ms = ? WHERE id = ?"));
  const Borrowed s(cached);
  sqlite3_bind_int(s.get(), 1, static_cast<int>(r.psi));
  bind_blob(s.get(), 2, r.bound_tp ? r.bound_tp->view() : ByteView{});
  sqlite3_bind_int64(s.get(), 3, to_ms(r.presence_until));
  bind_blob(s.get(), 4, r.id.view());
  if (sqlite3_step(s.get()) != SQLITE_DONE) return std::unexpected(db_error(db_, "write SM"));
  return {};
}

Result<void> SqlitePairingStore::write_tp(const protocol::TpRecord& r) {
  DCAS_TRY_ASSIGN(cached, statement("UPDATE tp SET psi = ?, bound_sm = ? WHERE id = ?"));
  const Borrowed s(cached);
  sqlite3_bind_int(s.get(), 1, static_cast<int>(r.psi));
  bind_blob(s.get(), 2, r.bound_sm ? r.bound_sm->view() : ByteView{});
  bind_blob(s.get(), 3, r.id.view());
  if (sqlite3_step(s.get()) != SQLITE_DONE) return std::unexpected(db_error(db_, "write TP"));
  return {};
}

Result<void> SqlitePairingStore::add_sm(const SmId& id, const protocol::SmSecrets& ki) {
  const NewDevice device{Role::sm, id.bytes, ki};
  return add_devices({&device, 1});
}

Result<void> SqlitePairingStore::add_tp(const TpId& id) {
  const NewDevice device{Role::tp, id.bytes, std::nullopt};
  return add_devices({&device, 1});
}

Result<void> SqlitePairingStore::add_devices(std::span<const NewDevice> devices) {
  for (const auto& d : devices) DCAS_TRY(check_new_device(d));
  return transaction([&]() -> Result<void> {
    for (const auto& d : devices) DCAS_TRY(insert_device(d));
    return {};
  });
}

Result<void> SqlitePairingStore::insert_device(const NewDevice& d) {
  const std::string id = to_hex(d.id);
  if (d.role == Role::sm) {
    DCAS_TRY_ASSIGN(sealed, seal_ki(view(key_), SmId{d.id}, *d.ki));
    DCAS_TRY_ASSIGN(cached, statement("INSERT INTO sm (id, ki_sealed) VALUES (?, ?)"));
    const Borrowed s(cached);
    bind_blob(s.get(), 1, d.id);
    bind_blob(s.get(), 2, sealed);
    if (sqlite3_step(s.get()) != SQLITE_DONE)
      return fail(Errc::already_exists, fmt::format("SM {} already registered ({})", id, sqlite3_errmsg(db_)));
    return audit(wall_ms(), "provisioning", "register_sm", id, "", "virgin");
  }
  DCAS_TRY_ASSIGN(cached, statement("INSERT INTO tp (id) VALUES (?)"));
  const Borrowed s(cached);
  bind_blob(s.get(), 1, d.id);
  if (sqlite3_step(s.get()) != SQLITE_DONE)
    return fail(Errc::already_exists, fmt::format("TP {} already registered ({})", id, sqlite3_errmsg(db_)));
  return audit(wall_ms(), "provisioning", "register_tp", "", id, "virgin");
}

Result<std::optional<protocol::SmRecord>> SqlitePairingStore::find_sm(const SmId& id) {
  std::lock_guard lock(mutex_);
  return read_sm(id);
}

Result<std::optional<protocol::TpRecord>> SqlitePairingStore::find_tp(const TpId& id) {
  std::lock_guard lock(mutex_);
  return read_tp(id);
}

Result<bool> SqlitePairingStore::device_revoked(Role role, ByteView id) {
  DCAS_TRY_ASSIGN(cached, statement("SELECT 1 FROM certificate WHERE role = ? AND device_id = ? AND revoked_at_ms IS "
                                    "NOT NULL LIMIT 1"));
  const Borrowed s(cached);
  bind_text(s.get(), 1, role_name(role));
  bind_blob(s.get(), 2, id);
  const int rc = sqlite3_step(s.get());
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return std::unexpected(db_error(db_, "read revocation"));
  return rc == SQLITE_ROW;
}

namespace {
constexpr const char* certificate_columns =
    "SELECT role, device_id, serial, not_after_ms, revoked_at_ms, reason, der FROM certificate";

Result<IssuedCertificate> certificate_row(sqlite3_stmt* s) {
  const auto role = role_from_name(column_text(s, 0));
  if (!role) return fail(Errc::store_schema, "a certificate row names no role");
  IssuedCertificate c{*role,        column_blob(s, 1), column_blob(s, 2), from_ms(sqlite3_column_int64(s, 3)),
                      std::nullopt, column_text(s, 5), column_blob(s, 6)};
  if (sqlite3_column_type(s, 4) != SQLITE_NULL) c.revoked_at = from_ms(sqlite3_column_int64(s, 4));
  return c;
}
}  // namespace

Result<std::vector<IssuedCertificate>> SqlitePairingStore::select_certificates(std::optional<Role> role, ByteView id) {
  const std::string sql = std::string(certificate_columns) + (role ? " WHERE role = ? AND device_id = ?" : "") +
                          " ORDER BY role, device_id, not_after_ms";
  DCAS_TRY_ASSIGN(s, prepare(db_, sql.c_str()));
  if (role) {
    bind_text(s.get(), 1, role_name(*role));
    bind_blob(s.get(), 2, id);
  }
  std::vector<IssuedCertificate> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    DCAS_TRY_ASSIGN(c, certificate_row(s.get()));
    out.push_back(std::move(c));
  }
  if (rc != SQLITE_DONE) return std::unexpected(db_error(db_, "read certificates"));
  return out;
}

Result<void> SqlitePairingStore::insert_certificate(const IssuedCertificate& c) {
  DCAS_TRY_ASSIGN(
      s, prepare(db_, "INSERT INTO certificate (serial, role, device_id, not_after_ms, der) VALUES (?,?,?,?,?)"));
  bind_blob(s.get(), 1, c.serial);
  bind_text(s.get(), 2, role_name(c.role));
  bind_blob(s.get(), 3, c.device_id);
  sqlite3_bind_int64(s.get(), 4, to_ms(c.not_after));
  bind_blob(s.get(), 5, c.der);
  if (sqlite3_step(s.get()) != SQLITE_DONE)
    return fail(Errc::already_exists,
                fmt::format("certificate {} on record already ({})", to_hex(c.serial), sqlite3_errmsg(db_)));
  return {};
}

Result<void> SqlitePairingStore::mark_revoked(ByteView serial, std::int64_t at_ms, std::string_view reason) {
  DCAS_TRY_ASSIGN(s, prepare(db_, "UPDATE certificate SET revoked_at_ms = ?, reason = ? WHERE serial = ?"));
  sqlite3_bind_int64(s.get(), 1, at_ms);
  bind_text(s.get(), 2, reason);
  bind_blob(s.get(), 3, serial);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return std::unexpected(db_error(db_, "revoke"));
  return {};
}

Result<std::vector<pki::RevokedCertificate>> SqlitePairingStore::revoked_unexpired(std::int64_t now_ms) {
  DCAS_TRY_ASSIGN(s, prepare(db_,
                             "SELECT serial, revoked_at_ms FROM certificate WHERE revoked_at_ms IS NOT NULL AND "
                             "not_after_ms > ? ORDER BY serial"));
  sqlite3_bind_int64(s.get(), 1, now_ms);
  std::vector<pki::RevokedCertificate> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW)
    out.push_back({column_blob(s.get(), 0), from_ms(sqlite3_column_int64(s.get(), 1))});
  if (rc != SQLITE_DONE) return std::unexpected(db_error(db_, "read revocations"));
  return out;
}

// BEGIN IMMEDIATE already holds the write lock: the number read is the one this transaction bumps.
Result<std::uint64_t> SqlitePairingStore::crl_number() {
  DCAS_TRY_ASSIGN(s, prepare(db_, "SELECT number FROM crl WHERE id = 1"));
  if (sqlite3_step(s.get()) != SQLITE_ROW) return std::unexpected(db_error(db_, "read the CRL number"));
  return static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0));
}

Result<void> SqlitePairingStore::write_crl(std::uint64_t number, ByteView der) {
  DCAS_TRY_ASSIGN(s, prepare(db_, "UPDATE crl SET number = ?, der = ? WHERE id = 1"));
  sqlite3_bind_int64(s.get(), 1, static_cast<std::int64_t>(number));
  bind_blob(s.get(), 2, der);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return std::unexpected(db_error(db_, "write the CRL"));
  return {};
}

Result<Bytes> SqlitePairingStore::current_crl() {
  std::lock_guard lock(mutex_);
  DCAS_TRY_ASSIGN(s, prepare(db_, "SELECT der FROM crl WHERE id = 1"));
  const int rc = sqlite3_step(s.get());
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return std::unexpected(db_error(db_, "read the CRL"));
  return rc == SQLITE_ROW ? column_blob(s.get(), 0) : Bytes{};
}

Result<std::vector<IssuedCertificate>> SqlitePairingStore::certificates() {
  std::lock_guard lock(mutex_);
  return select_certificates(std::nullopt, {});
}

// Row access for the shared transition bodies (store/transitions.h).
struct SqlitePairingStore::Rows {
  SqlitePairingStore& store;
  auto device_revoked(Role role, ByteView id) { return store.device_revoked(role, id); }
  auto certificates_of(Role role, ByteView id) { return store.select_certificates(role, id); }
  auto insert_certificate(const IssuedCertificate& c) { return store.insert_certificate(c); }
  auto mark_revoked(ByteView serial, std::int64_t at_ms, std::string_view reason) {
    return store.mark_revoked(serial, at_ms, reason);
  }
  auto revoked_unexpired(std::int64_t now_ms) { return store.revoked_unexpired(now_ms); }
  auto lock_crl() { return store.crl_number(); }
  auto write_crl(std::uint64_t number, ByteView der) { return store.write_crl(number, der); }
  auto read_sm(const SmId& id) { return store.read_sm(id); }
  auto read_tp(const TpId& id) { return store.read_tp(id); }
  auto write_sm(const protocol::SmRecord& r) { return store.write_sm(r); }
  auto write_tp(const protocol::TpRecord& r) { return store.write_tp(r); }
  auto audit(std::int64_t at_ms, std::string_view actor, std::string_view action, std::string_view sm,
             std::string_view tp, std::string_view detail) {
    return store.audit(at_ms, actor, action, sm, tp, detail);
  }
};

Result<protocol::PairingOutcome> SqlitePairingStore::validate_and_record(const SmId& sm, const TpId& tp,
                                                                         protocol::TimePoint now,
                                                                         std::chrono::seconds presence_lease) {
  return transaction([&] {
    Rows rows{*this};
    return transitions::validate(rows, sm, tp, now, presence_lease);
  });
}

Result<PairingState> SqlitePairingStore::record_left(const SmId& sm, protocol::TimePoint now) {
  return leave(sm, now, "ta");
}

Result<PairingState> SqlitePairingStore::operator_leave(const SmId& sm, protocol::TimePoint now) {
  return leave(sm, now, "operator");
}

Result<PairingState> SqlitePairingStore::leave(const SmId& sm, protocol::TimePoint now, std::string_view actor) {
  return transaction([&] {
    Rows rows{*this};
    return transitions::leave(rows, sm, now, actor);
  });
}

Result<PairingState> SqlitePairingStore::record_present(const SmId& sm, protocol::TimePoint now,
                                                        std::chrono::seconds presence_lease) {
  return transaction([&] {
    Rows rows{*this};
    return transitions::presence(rows, sm, now, presence_lease);
  });
}

Result<void> SqlitePairingStore::unpair(const SmId& sm, std::string_view reason, protocol::TimePoint now) {
  if (reason.empty()) return fail(Errc::invalid_argument, "an unpairing needs a reason for the audit log");
  return transaction([&] {
    Rows rows{*this};
    return transitions::unpair(rows, sm, reason, now);
  });
}

Result<void> SqlitePairingStore::record_certificate(const IssuedCertificate& certificate, protocol::TimePoint now) {
  return transaction([&] {
    Rows rows{*this};
    return transitions::record_certificate(rows, certificate, now);
  });
}

Result<pki::Crl> SqlitePairingStore::revoke(Role role, ByteView id, std::string_view reason, protocol::TimePoint now,
                                            const CrlSigner& sign) {
  return transaction([&] {
    Rows rows{*this};
    return transitions::revoke(rows, role, id, reason, now, sign);
  });
}

Result<pki::Crl> SqlitePairingStore::publish_crl(protocol::TimePoint now, const CrlSigner& sign) {
  return transaction([&] {
    Rows rows{*this};
    return transitions::publish_crl(rows, now, sign);
  });
}

Result<std::vector<SmSummary>> SqlitePairingStore::list_sms(std::optional<PairingState> state) {
  std::lock_guard lock(mutex_);
  return select_sms(state);
}

Result<std::vector<SmSummary>> SqlitePairingStore::select_sms(std::optional<PairingState> state) {
  DCAS_TRY_ASSIGN(s, prepare(db_, "SELECT id, psi, bound_tp, presence_until_ms FROM sm ORDER BY id"));
  std::vector<SmSummary> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    SmSummary row{SmId::from_bytes(column_blob(s.get(), 0)).value_or(SmId{}),
                  static_cast<PairingState>(sqlite3_column_int(s.get(), 1)), std::nullopt,
                  from_ms(sqlite3_column_int64(s.get(), 3))};
    if (const Bytes tp = column_blob(s.get(), 2); !tp.empty()) row.bound_tp = TpId::from_bytes(tp).value_or(TpId{});
    if (!state || row.psi == *state) out.push_back(row);
  }
  if (rc != SQLITE_DONE) return std::unexpected(db_error(db_, "list SMs"));
  return out;
}

Result<std::map<PairingState, std::size_t>> SqlitePairingStore::count_sms() {
  std::lock_guard lock(mutex_);
  DCAS_TRY_ASSIGN(s, prepare(db_, "SELECT psi, COUNT(*) FROM sm GROUP BY psi"));
  std::map<PairingState, std::size_t> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW)
    out[static_cast<PairingState>(sqlite3_column_int(s.get(), 0))] =
        static_cast<std::size_t>(sqlite3_column_int64(s.get(), 1));
  if (rc != SQLITE_DONE) return std::unexpected(db_error(db_, "count SMs"));
  return out;
}

Result<std::vector<protocol::TpRecord>> SqlitePairingStore::list_tps() {
  std::lock_guard lock(mutex_);
  return select_tps();
}

Result<std::vector<protocol::TpRecord>> SqlitePairingStore::select_tps() {
  DCAS_TRY_ASSIGN(s, prepare(db_, "SELECT id, psi, bound_sm FROM tp ORDER BY id"));
  std::vector<protocol::TpRecord> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    protocol::TpRecord row{TpId::from_bytes(column_blob(s.get(), 0)).value_or(TpId{}),
                           static_cast<PairingState>(sqlite3_column_int(s.get(), 1)), std::nullopt};
    if (const Bytes sm = column_blob(s.get(), 2); !sm.empty()) row.bound_sm = SmId::from_bytes(sm).value_or(SmId{});
    out.push_back(row);
  }
  if (rc != SQLITE_DONE) return std::unexpected(db_error(db_, "list TPs"));
  return out;
}

Result<std::vector<AuditEntry>> SqlitePairingStore::audit_log() {
  std::lock_guard lock(mutex_);
  return select_audit();
}

Result<std::vector<AuditEntry>> SqlitePairingStore::select_audit() {
  DCAS_TRY_ASSIGN(s, prepare(db_, "SELECT seq, at_ms, actor, action, sm, tp, detail FROM audit ORDER BY seq"));
  std::vector<AuditEntry> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW)
    out.push_back({sqlite3_column_int64(s.get(), 0), sqlite3_column_int64(s.get(), 1), column_text(s.get(), 2),
                   column_text(s.get(), 3), column_text(s.get(), 4), column_text(s.get(), 5), column_text(s.get(), 6)});
  if (rc != SQLITE_DONE) return std::unexpected(db_error(db_, "read audit log"));
  return out;
}

// One read transaction: in WAL mode every statement in it sees the database as of its first read.
Result<StoreSnapshot> SqlitePairingStore::snapshot() {
  std::lock_guard lock(mutex_);
  DCAS_TRY(exec("BEGIN"));
  auto read = [&]() -> Result<StoreSnapshot> {
    StoreSnapshot out;
    DCAS_TRY_ASSIGN(sms, select_sms(std::nullopt));
    DCAS_TRY_ASSIGN(tps, select_tps());
    DCAS_TRY_ASSIGN(audit, select_audit());
    return StoreSnapshot{std::move(sms), std::move(tps), std::move(audit)};
  }();
  (void)exec(read ? "COMMIT" : "ROLLBACK");
  return read;
}

Result<void> SqlitePairingStore::check_operator_key() {
  return transaction([&]() -> Result<void> {
    DCAS_TRY_ASSIGN(check, prepare(db_, "SELECT sealed FROM store_key_check WHERE id = 1"));
    if (sqlite3_step(check.get()) == SQLITE_ROW) return open_key_check(view(key_), column_blob(check.get(), 0));
    // A store from before the check (schema 1) or a new one: its first SM's Ki opens, or the key is wrong.
    DCAS_TRY_ASSIGN(first, prepare(db_, "SELECT id, ki_sealed FROM sm ORDER BY id LIMIT 1"));
    if (sqlite3_step(first.get()) == SQLITE_ROW) {
      DCAS_TRY_ASSIGN(id, SmId::from_bytes(column_blob(first.get(), 0)));
      DCAS_TRY(open_ki(view(key_), id, column_blob(first.get(), 1)));
    }
    DCAS_TRY_ASSIGN(sealed, seal_key_check(view(key_)));
    DCAS_TRY_ASSIGN(insert, prepare(db_, "INSERT INTO store_key_check (id, sealed) VALUES (1, ?)"));
    bind_blob(insert.get(), 1, sealed);
    if (sqlite3_step(insert.get()) != SQLITE_DONE) return std::unexpected(db_error(db_, "record the key check"));
    return {};
  });
}

}  // namespace dcas::store
