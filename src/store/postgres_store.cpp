#include "store/postgres_store.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <list>

#include "crypto/aead.h"
#include "store/records.h"
#include "store/transitions.h"

namespace dcas::store {

namespace {

using protocol::PairingState;

// libpq's messages end in a newline and may span lines ("...failed: Connection refused\n\tIs the
// server running...?"): one line, for an error that is one line.
std::string one_line(std::string_view message) {
  std::string out;
  for (const char c : message) {
    const bool space = c == '\n' || c == '\t' || c == '\r' || c == ' ';
    if (!space)
      out += c;
    else if (!out.empty() && out.back() != ' ')
      out += ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultFree>;

// Parameters for PQexecParams: byte strings go binary (no escaping), the rest as text.
class Params {
 public:
  Params& bytes(ByteView b) {
    if (b.empty()) return null();
    storage_.emplace_back(b.begin(), b.end());
    push(storage_.back().data(), static_cast<int>(b.size()), 1);
    return *this;
  }
  Params& text(std::string_view t) {
    storage_.emplace_back(t.begin(), t.end());
    storage_.back().push_back('\0');
    push(storage_.back().data(), 0, 0);
    return *this;
  }
  Params& integer(std::int64_t v) { return text(std::to_string(v)); }
  Params& null() {
    push(nullptr, 0, 0);
    return *this;
  }
  int count() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  void push(const char* v, int len, int format) {
    values_.push_back(v);
    lengths_.push_back(len);
    formats_.push_back(format);
  }
  std::list<std::string> storage_;  // stable addresses
  std::vector<const char*> values_;
  std::vector<int> lengths_, formats_;
};

Result<PgResult> run(PGconn* conn, const char* sql, const Params& p = Params{}) {
  PgResult r(PQexecParams(conn, sql, p.count(), nullptr, p.values(), p.lengths(), p.formats(), 0));
  const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const char* message = r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn);
    const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    // 23505: unique violation (a device registered twice).
    if (state && std::string_view(state) == "23505") return fail(Errc::already_exists, one_line(message));
    // The server went away (a restart, a failover): the next call reconnects (connected()).
    if (PQstatus(conn) == CONNECTION_BAD) return fail(Errc::store_unavailable, one_line(message));
    return fail(Errc::store_error, one_line(message));
  }
  return r;
}

Bytes bytea(PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return {};
  std::size_t len = 0;
  unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col)), &len);
  Bytes out(raw, raw + len);
  PQfreemem(raw);
  return out;
}
std::int64_t integer(PGresult* r, int row, int col) { return std::stoll(PQgetvalue(r, row, col)); }
std::string text(PGresult* r, int row, int col) { return PQgetvalue(r, row, col); }

}  // namespace

PostgresPairingStore::PostgresPairingStore(PGconn* conn, ByteView key) : conn_(conn), key_(key.begin(), key.end()) {}
PostgresPairingStore::~PostgresPairingStore() { PQfinish(conn_); }

Result<std::unique_ptr<PostgresPairingStore>> PostgresPairingStore::open(const std::string& conninfo,
                                                                         ByteView operator_key) {
  if (operator_key.size() != crypto::aead_key_size) return fail(Errc::bad_length, "the operator key must be 32 bytes");
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (!conn || PQstatus(conn) != CONNECTION_OK) {
    Error e{Errc::store_error,
            fmt::format("cannot connect: {}", conn ? one_line(PQerrorMessage(conn)) : "out of memory")};
    PQfinish(conn);
    return std::unexpected(e);
  }
  std::unique_ptr<PostgresPairingStore> store(new PostgresPairingStore(conn, operator_key));
  DCAS_TRY(store->migrate());
  DCAS_TRY(store->check_operator_key());
  return store;
}

// A lost connection is made again, only ever between transactions: inside one, a new connection
// would run the rest of it outside any transaction.
Result<void> PostgresPairingStore::connected() {
  if (PQstatus(conn_) == CONNECTION_OK) return {};
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK)
    return fail(Errc::store_unavailable, fmt::format("cannot reconnect: {}", one_line(PQerrorMessage(conn_))));
  return {};
}

template <typename F>
auto PostgresPairingStore::transaction(F&& body) -> decltype(body()) {
  std::lock_guard lock(mutex_);
  if (auto up = connected(); !up) return std::unexpected(up.error());
  if (auto begun = run(conn_, "BEGIN"); !begun) return std::unexpected(begun.error());
  auto result = body();
  if (!result) {
    (void)run(conn_, "ROLLBACK");
    return result;
  }
  if (auto committed = run(conn_, "COMMIT"); !committed) return std::unexpected(committed.error());
  return result;
}

Result<void> PostgresPairingStore::migrate() {
  return transaction([&]() -> Result<void> {
    // One migrator at a time, whatever the number of TA processes starting together.
    DCAS_TRY(run(conn_, "SELECT pg_advisory_xact_lock(7267206)"));
    // Only this transaction: the server's NOTICE that the table exists is not worth a log line.
    DCAS_TRY(run(conn_, "SET LOCAL client_min_messages = warning"));
    DCAS_TRY(run(conn_, "CREATE TABLE IF NOT EXISTS dcas_schema (version INTEGER NOT NULL)"));
    DCAS_TRY_ASSIGN(v, run(conn_, "SELECT COALESCE(MAX(version), 0) FROM dcas_schema"));
    const std::int64_t version = integer(v.get(), 0, 0);
    if (version > schema_version)
      return fail(Errc::store_schema,
                  fmt::format("database schema {} is newer than this program's {}", version, schema_version));
    if (version < 1) {
      DCAS_TRY(run(conn_,
                   "CREATE TABLE sm (id BYTEA PRIMARY KEY CHECK (length(id) = 8), ki_sealed BYTEA NOT NULL,"
                   " psi INTEGER NOT NULL DEFAULT 0, bound_tp BYTEA, presence_until_ms BIGINT NOT NULL DEFAULT 0)"));
      DCAS_TRY(run(conn_,
                   "CREATE TABLE tp (id BYTEA PRIMARY KEY CHECK (length(id) = 8), psi INTEGER NOT NULL DEFAULT 0, "
                   "bound_sm BYTEA)"));
      DCAS_TRY(run(
          conn_,
          "CREATE TABLE audit (seq BIGSERIAL PRIMARY KEY, at_ms BIGINT NOT NULL, actor TEXT NOT NULL,"
          " action TEXT NOT NULL, sm TEXT NOT NULL DEFAULT '', tp TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL)"));
      DCAS_TRY(run(conn_,
                   "CREATE FUNCTION dcas_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$"));
      DCAS_TRY(run(conn_,
                   "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit "
                   "FOR EACH ROW EXECUTE FUNCTION dcas_audit_append_only()"));
      DCAS_TRY(run(conn_, "INSERT INTO dcas_schema (version) VALUES (1)"));
    }
    if (version < 2) {  // the operator key's check value (records.h)
      DCAS_TRY(
          run(conn_, "CREATE TABLE store_key_check (id INTEGER PRIMARY KEY CHECK (id = 1), sealed BYTEA NOT NULL)"));
      DCAS_TRY(run(conn_, "INSERT INTO dcas_schema (version) VALUES (2)"));
    }
    if (version < 3) {  // certificates issued, their revocation (final), the CRL (its number only goes up)
      DCAS_TRY(run(conn_,
                   "CREATE TABLE certificate (serial BYTEA PRIMARY KEY, role TEXT NOT NULL, device_id BYTEA NOT NULL"
                   " CHECK (length(device_id) = 8), not_after_ms BIGINT NOT NULL, der BYTEA NOT NULL,"
                   " revoked_at_ms BIGINT, reason TEXT NOT NULL DEFAULT '')"));
      DCAS_TRY(run(conn_, "CREATE INDEX certificate_device ON certificate (role, device_id)"));
      DCAS_TRY(run(conn_,
                   "CREATE FUNCTION dcas_revocation_is_final() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN IF TG_OP = 'DELETE' OR OLD.revoked_at_ms IS NOT NULL THEN "
                   "RAISE EXCEPTION 'a revocation is final and certificates on record are never deleted'; END IF; "
                   "RETURN NEW; END $$"));
      DCAS_TRY(run(conn_,
                   "CREATE TRIGGER revocation_is_final BEFORE UPDATE OR DELETE ON certificate "
                   "FOR EACH ROW EXECUTE FUNCTION dcas_revocation_is_final()"));
      DCAS_TRY(
          run(conn_, "CREATE TABLE crl (id INTEGER PRIMARY KEY CHECK (id = 1), number BIGINT NOT NULL, der BYTEA)"));
      DCAS_TRY(run(conn_, "INSERT INTO crl (id, number) VALUES (1, 0)"));
      DCAS_TRY(run(conn_,
                   "CREATE FUNCTION dcas_crl_number_goes_up() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN IF NEW.number <= OLD.number THEN RAISE EXCEPTION 'the CRL number only goes up'; "
                   "END IF; RETURN NEW; END $$"));
      DCAS_TRY(run(conn_,
                   "CREATE TRIGGER crl_number_goes_up BEFORE UPDATE ON crl "
                   "FOR EACH ROW EXECUTE FUNCTION dcas_crl_number_goes_up()"));
      DCAS_TRY(run(conn_, "INSERT INTO dcas_schema (version) VALUES (3)"));
    }
    return {};
  });
}

Result<void> PostgresPairingStore::audit(std::int64_t at_ms, std::string_view actor, std::string_view action,
                                         std::string_view sm, std::string_view tp, std::string_view detail) {
  Params p;
  p.integer(at_ms).text(actor).text(action).text(sm).text(tp).text(detail);
  DCAS_TRY(run(conn_, "INSERT INTO audit (at_ms, actor, action, sm, tp, detail) VALUES ($1,$2,$3,$4,$5,$6)", p));
  return {};
}

Result<std::optional<protocol::SmRecord>> PostgresPairingStore::read_sm(const SmId& id, bool lock) {
  Params p;
  p.bytes(id.view());
  DCAS_TRY_ASSIGN(r, run(conn_,
                         lock ? "SELECT ki_sealed, psi, bound_tp, presence_until_ms FROM sm WHERE id = $1 FOR UPDATE"
                              : "SELECT ki_sealed, psi, bound_tp, presence_until_ms FROM sm WHERE id = $1",
                         p));
  if (PQntuples(r.get()) == 0) return std::optional<protocol::SmRecord>{};
  DCAS_TRY_ASSIGN(ki, open_ki(view(key_), id, bytea(r.get(), 0, 0)));
  protocol::SmRecord rec;
  rec.id = id;
  rec.ki = std::move(ki);
  rec.psi = static_cast<PairingState>(integer(r.get(), 0, 1));
  if (const Bytes tp = bytea(r.get(), 0, 2); !tp.empty()) rec.bound_tp = TpId::from_bytes(tp).value();
  rec.presence_until = from_ms(integer(r.get(), 0, 3));
  return std::optional<protocol::SmRecord>{std::move(rec)};
}

Result<std::optional<protocol::TpRecord>> PostgresPairingStore::read_tp(const TpId& id, bool lock) {
  Params p;
  p.bytes(id.view());
  DCAS_TRY_ASSIGN(r, run(conn_,
                         lock ? "SELECT psi, bound_sm FROM tp WHERE id = $1 FOR UPDATE"
                              : "SELECT psi, bound_sm FROM tp WHERE id = $1",
                         p));
  if (PQntuples(r.get()) == 0) return std::optional<protocol::TpRecord>{};
  protocol::TpRecord rec;
  rec.id = id;
  rec.psi = static_cast<PairingState>(integer(r.get(), 0, 0));
  if (const Bytes sm = bytea(r.get(), 0, 1); !sm.empty()) rec.bound_sm = SmId::from_bytes(sm).value();
  return std::optional<protocol::TpRecord>{std::move(rec)};
}

Result<void> PostgresPairingStore::write_sm(const protocol::SmRecord& r) {
  Params p;
  p.integer(static_cast<int>(r.psi));
  if (r.bound_tp)
    p.bytes(r.bound_tp->view());
  else
    p.null();
  p.integer(to_ms(r.presence_until)).bytes(r.id.view());
  DCAS_TRY(run(conn_, "UPDATE sm SET psi = $1, bound_tp = $2, presence_until_ms = $3 WHERE id = $4", p));
  return {};
}

Result<void> PostgresPairingStore::write_tp(const protocol::TpRecord& r) {
  Params p;
  p.integer(static_cast<int>(r.psi));
  if (r.bound_sm)
    p.bytes(r.bound_sm->view());
  else
    p.null();
  p.bytes(r.id.view());
  DCAS_TRY(run(conn_, "UPDATE tp SET psi = $1, bound_sm = $2 WHERE id = $3", p));
  return {};
}

Result<void> PostgresPairingStore::add_sm(const SmId& id, const protocol::SmSecrets& ki) {
  const NewDevice device{Role::sm, id.bytes, ki};
  return add_devices({&device, 1});
}

Result<void> PostgresPairingStore::add_tp(const TpId& id) {
  const NewDevice device{Role::tp, id.bytes, std::nullopt};
  return add_devices({&device, 1});
}

Result<void> PostgresPairingStore::add_devices(std::span<const NewDevice> devices) {
  for (const auto& d : devices) DCAS_TRY(check_new_device(d));
  return transaction([&]() -> Result<void> {
    for (const auto& d : devices) DCAS_TRY(insert_device(d));
    return {};
  });
}

Result<void> PostgresPairingStore::insert_device(const NewDevice& d) {
  const std::string id = to_hex(d.id);
  Params p;
  if (d.role == Role::sm) {
    DCAS_TRY_ASSIGN(sealed, seal_ki(view(key_), SmId{d.id}, *d.ki));
    p.bytes(d.id).bytes(sealed);
    DCAS_TRY(run(conn_, "INSERT INTO sm (id, ki_sealed) VALUES ($1, $2)", p));
    return audit(wall_ms(), "provisioning", "register_sm", id, "", "virgin");
  }
  p.bytes(d.id);
  DCAS_TRY(run(conn_, "INSERT INTO tp (id) VALUES ($1)", p));
  return audit(wall_ms(), "provisioning", "register_tp", "", id, "virgin");
}

Result<std::optional<protocol::SmRecord>> PostgresPairingStore::find_sm(const SmId& id) {
  std::lock_guard lock(mutex_);
  DCAS_TRY(connected());
  return read_sm(id, false);
}

Result<std::optional<protocol::TpRecord>> PostgresPairingStore::find_tp(const TpId& id) {
  std::lock_guard lock(mutex_);
  DCAS_TRY(connected());
  return read_tp(id, false);
}

Result<bool> PostgresPairingStore::device_revoked(Role role, ByteView id) {
  Params p;
  p.text(role_name(role)).bytes(id);
  DCAS_TRY_ASSIGN(r, run(conn_,
                         "SELECT 1 FROM certificate WHERE role = $1 AND device_id = $2 AND revoked_at_ms IS NOT NULL "
                         "LIMIT 1",
                         p));
  return PQntuples(r.get()) > 0;
}

Result<std::vector<IssuedCertificate>> PostgresPairingStore::select_certificates(std::optional<Role> role,
                                                                                 ByteView id) {
  Params p;
  if (role) p.text(role_name(*role)).bytes(id);
  DCAS_TRY_ASSIGN(r, run(conn_,
                         role ? "SELECT role, device_id, serial, not_after_ms, revoked_at_ms, reason, der FROM "
                                "certificate WHERE role = $1 AND device_id = $2 ORDER BY not_after_ms"
                              : "SELECT role, device_id, serial, not_after_ms, revoked_at_ms, reason, der FROM "
                                "certificate ORDER BY role, device_id, not_after_ms",
                         p));
  std::vector<IssuedCertificate> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    const auto row_role = role_from_name(text(r.get(), i, 0));
    if (!row_role) return fail(Errc::store_schema, "a certificate row names no role");
    IssuedCertificate c{*row_role,    bytea(r.get(), i, 1), bytea(r.get(), i, 2), from_ms(integer(r.get(), i, 3)),
                        std::nullopt, text(r.get(), i, 5),  bytea(r.get(), i, 6)};
    if (!PQgetisnull(r.get(), i, 4)) c.revoked_at = from_ms(integer(r.get(), i, 4));
    out.push_back(std::move(c));
  }
  return out;
}

Result<void> PostgresPairingStore::insert_certificate(const IssuedCertificate& c) {
  Params p;
  p.bytes(c.serial).text(role_name(c.role)).bytes(c.device_id).integer(to_ms(c.not_after)).bytes(c.der);
  DCAS_TRY(
      run(conn_, "INSERT INTO certificate (serial, role, device_id, not_after_ms, der) VALUES ($1,$2,$3,$4,$5)", p));
  return {};
}

Result<void> PostgresPairingStore::mark_revoked(ByteView serial, std::int64_t at_ms, std::string_view reason) {
  Params p;
  p.integer(at_ms).text(reason).bytes(serial);
  DCAS_TRY(run(conn_, "UPDATE certificate SET revoked_at_ms = $1, reason = $2 WHERE serial = $3", p));
  return {};
}

Result<std::vector<pki::RevokedCertificate>> PostgresPairingStore::revoked_unexpired(std::int64_t now_ms) {
  Params p;
  p.integer(now_ms);
  DCAS_TRY_ASSIGN(r, run(conn_,
                         "SELECT serial, revoked_at_ms FROM certificate WHERE revoked_at_ms IS NOT NULL AND "
                         "not_after_ms > $1 ORDER BY serial",
                         p));
  std::vector<pki::RevokedCertificate> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back({bytea(r.get(), i, 0), from_ms(integer(r.get(), i, 1))});
  return out;
}

Result<std::uint64_t> PostgresPairingStore::lock_crl() {
  DCAS_TRY_ASSIGN(r, run(conn_, "SELECT number FROM crl WHERE id = 1 FOR UPDATE"));
  if (PQntuples(r.get()) != 1) return fail(Errc::store_schema, "the crl table has no row");
  return static_cast<std::uint64_t>(integer(r.get(), 0, 0));
}

Result<void> PostgresPairingStore::write_crl(std::uint64_t number, ByteView der) {
  Params p;
  p.integer(static_cast<std::int64_t>(number)).bytes(der);
  DCAS_TRY(run(conn_, "UPDATE crl SET number = $1, der = $2 WHERE id = 1", p));
  return {};
}

Result<Bytes> PostgresPairingStore::current_crl() {
  std::lock_guard lock(mutex_);
  DCAS_TRY(connected());
  DCAS_TRY_ASSIGN(r, run(conn_, "SELECT der FROM crl WHERE id = 1"));
  return PQntuples(r.get()) > 0 ? bytea(r.get(), 0, 0) : Bytes{};
}

Result<std::vector<IssuedCertificate>> PostgresPairingStore::certificates() {
  std::lock_guard lock(mutex_);
  DCAS_TRY(connected());
  return select_certificates(std::nullopt, {});
}

// Row access for the shared transition bodies (store/transitions.h): inside a transition every
// row read is locked (FOR UPDATE).
struct PostgresPairingStore::Rows {
  PostgresPairingStore& store;
  auto device_revoked(Role role, ByteView id) { return store.device_revoked(role, id); }
  auto certificates_of(Role role, ByteView id) { return store.select_certificates(role, id); }
  auto insert_certificate(const IssuedCertificate& c) { return store.insert_certificate(c); }
  auto mark_revoked(ByteView serial, std::int64_t at_ms, std::string_view reason) {
    return store.mark_revoked(serial, at_ms, reason);
  }
  auto revoked_unexpired(std::int64_t now_ms) { return store.revoked_unexpired(now_ms); }
  auto lock_crl() { return store.lock_crl(); }
  auto write_crl(std::uint64_t number, ByteView der) { return store.write_crl(number, der); }
  auto read_sm(const SmId& id) { return store.read_sm(id, true); }
  auto read_tp(const TpId& id) { return store.read_tp(id, true); }
  auto write_sm(const protocol::SmRecord& r) { return store.write_sm(r); }
  auto write_tp(const protocol::TpRecord& r) { return store.write_tp(r); }
  auto audit(std::int64_t at_ms, std::string_view actor, std::string_view action, std::string_view sm,
             std::string_view tp, std::string_view detail) {
    return store.audit(at_ms, actor, action, sm, tp, detail);
  }
};

Result<protocol::PairingOutcome> PostgresPairingStore::validate_and_record(const SmId& sm, const TpId& tp,
                                                                           protocol::TimePoint now,
                                                                           std::chrono::seconds presence_lease) {
  return transaction([&] {
    Rows rows{*this};
    return transitions::validate(rows, sm, tp, now, presence_lease);
  });
}

Result<PairingState> PostgresPairingStore::record_left(const SmId& sm, protocol::TimePoint now) {
  return leave(sm, now, "ta");
}

Result<PairingState> PostgresPairingStore::operator_leave(const SmId& sm, protocol::TimePoint now) {
  return leave(sm, now, "operator");
}

Result<PairingState> PostgresPairingStore::leave(const SmId& sm, protocol::TimePoint now, std::string_view actor) {
  return transaction([&] {
    Rows rows{*this};
    return transitions::leave(rows, sm, now, actor);
  });
}

Result<void> PostgresPairingStore::unpair(const SmId& sm, std::string_view reason, protocol::TimePoint now) {
  if (reason.empty()) return fail(Errc::invalid_argument, "an unpairing needs a reason for the audit log");
  return transaction([&] {
    Rows rows{*this};
    return transitions::unpair(rows, sm, reason, now);
  });
}

Result<void> PostgresPairingStore::record_certificate(const IssuedCertificate& certificate, protocol::TimePoint now) {
  return transaction([&] {
    Rows rows{*this};
    return transitions::record_certificate(rows, certificate, now);
  });
}

Result<pki::Crl> PostgresPairingStore::revoke(Role role, ByteView id, std::string_view reason, protocol::TimePoint now,
                                              const CrlSigner& sign) {
  return transaction([&] {
    Rows rows{*this};
    return transitions::revoke(rows, role, id, reason, now, sign);
  });
}

Result<pki::Crl> PostgresPairingStore::publish_crl(protocol::TimePoint now, const CrlSigner& sign) {
  return transaction([&] {
    Rows rows{*this};
    return transitions::publish_crl(rows, now, sign);
  });
}

Result<std::vector<SmSummary>> PostgresPairingStore::list_sms(std::optional<PairingState> state) {
  std::lock_guard lock(mutex_);
  DCAS_TRY(connected());
  return select_sms(state);
}

Result<std::vector<SmSummary>> PostgresPairingStore::select_sms(std::optional<PairingState> state) {
  DCAS_TRY_ASSIGN(r, run(conn_, "SELECT id, psi, bound_tp, presence_until_ms FROM sm ORDER BY id"));
  std::vector<SmSummary> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    SmSummary row{SmId::from_bytes(bytea(r.get(), i, 0)).value_or(SmId{}),
                  static_cast<PairingState>(integer(r.get(), i, 1)), std::nullopt, from_ms(integer(r.get(), i, 3))};
    if (const Bytes tp = bytea(r.get(), i, 2); !tp.empty()) row.bound_tp = TpId::from_bytes(tp).value_or(TpId{});
    if (!state || row.psi == *state) out.push_back(row);
  }
  return out;
}

Result<std::map<PairingState, std::size_t>> PostgresPairingStore::count_sms() {
  std::lock_guard lock(mutex_);
  DCAS_TRY(connected());
  DCAS_TRY_ASSIGN(r, run(conn_, "SELECT psi, COUNT(*) FROM sm GROUP BY psi"));
  std::map<PairingState, std::size_t> out;
  for (int i = 0; i < PQntuples(r.get()); ++i)
    out[static_cast<PairingState>(integer(r.get(), i, 0))] = static_cast<std::size_t>(integer(r.get(), i, 1));
  return out;
}

Result<PairingState> PostgresPairingStore::record_present(const SmId& sm, protocol::TimePoint now,
                                                          std::chrono::seconds presence_lease) {
  return transaction([&] {
    Rows rows{*this};
    return transitions::presence(rows, sm, now, presence_lease);
  });
}

Result<std::vector<protocol::TpRecord>> PostgresPairingStore::list_tps() {
  std::lock_guard lock(mutex_);
  DCAS_TRY(connected());
  return select_tps();
}

Result<std::vector<protocol::TpRecord>> PostgresPairingStore::select_tps() {
  DCAS_TRY_ASSIGN(r, run(conn_, "SELECT id, psi, bound_sm FROM tp ORDER BY id"));
  std::vector<protocol::TpRecord> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    protocol::TpRecord row{TpId::from_bytes(bytea(r.get(), i, 0)).value_or(TpId{}),
                           static_cast<PairingState>(integer(r.get(), i, 1)), std::nullopt};
    if (const Bytes sm = bytea(r.get(), i, 2); !sm.empty()) row.bound_sm = SmId::from_bytes(sm).value_or(SmId{});
    out.push_back(row);
  }
  return out;
}

Result<std::vector<AuditEntry>> PostgresPairingStore::audit_log() {
  std::lock_guard lock(mutex_);
  DCAS_TRY(connected());
  return select_audit();
}

Result<std::vector<AuditEntry>> PostgresPairingStore::select_audit() {
  DCAS_TRY_ASSIGN(r, run(conn_, "SELECT seq, at_ms, actor, action, sm, tp, detail FROM audit ORDER BY seq"));
  std::vector<AuditEntry> out;
  for (int i = 0; i < PQntuples(r.get()); ++i)
    out.push_back({integer(r.get(), i, 0), integer(r.get(), i, 1), text(r.get(), i, 2), text(r.get(), i, 3),
                   text(r.get(), i, 4), text(r.get(), i, 5), text(r.get(), i, 6)});
  return out;
}

// REPEATABLE READ: every statement of the transaction sees the snapshot of its first.
Result<StoreSnapshot> PostgresPairingStore::snapshot() {
  return transaction([&]() -> Result<StoreSnapshot> {
    DCAS_TRY(run(conn_, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    DCAS_TRY_ASSIGN(sms, select_sms(std::nullopt));
    DCAS_TRY_ASSIGN(tps, select_tps());
    DCAS_TRY_ASSIGN(audit, select_audit());
    return StoreSnapshot{std::move(sms), std::move(tps), std::move(audit)};
  });
}

Result<void> PostgresPairingStore::check_operator_key() {
  return transaction([&]() -> Result<void> {
    DCAS_TRY(run(conn_, "LOCK TABLE store_key_check IN EXCLUSIVE MODE"));  // one TA writes the check
    DCAS_TRY_ASSIGN(check, run(conn_, "SELECT sealed FROM store_key_check WHERE id = 1"));
    if (PQntuples(check.get()) > 0) return open_key_check(view(key_), bytea(check.get(), 0, 0));
    // A store from before the check (schema 1) or a new one: its first SM's Ki opens, or the key is wrong.
    DCAS_TRY_ASSIGN(first, run(conn_, "SELECT id, ki_sealed FROM sm ORDER BY id LIMIT 1"));
    if (PQntuples(first.get()) > 0) {
      DCAS_TRY_ASSIGN(id, SmId::from_bytes(bytea(first.get(), 0, 0)));
      DCAS_TRY(open_ki(view(key_), id, bytea(first.get(), 0, 1)));
    }
    DCAS_TRY_ASSIGN(sealed, seal_key_check(view(key_)));
    Params p;
    p.bytes(sealed);
    DCAS_TRY(run(conn_, "INSERT INTO store_key_check (id, sealed) VALUES (1, $1)", p));
    return {};
  });
}

}  // namespace dcas::store
