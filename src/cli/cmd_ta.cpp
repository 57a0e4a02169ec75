// Trusted Authority commands: create the root, issue device identities.
#include <fmt/format.h>

#include "cli/commands.h"
#include "common/files.h"
#include "pki/crl.h"
#include "provisioning/device_files.h"
#include "store/operator_key.h"
#include "store/operator_store.h"
#include "store/records.h"

namespace dcas::cli {

namespace {

struct TaArgs {
  std::string dir;
  std::string name = "DCAS Trusted Authority";
  int days = 3650;
  bool force = false;
  std::string role;
  std::string ta_dir = ".";
  std::string out;
  std::string id;
  std::size_t count = 1;
  bool json = false;
  std::string state, reason, device;
  int crl_days = 30;
  int expiring = -1;  // ta list --expiring DAYS
  bool new_key = false;
  std::string db;  // --db: sqlite:PATH or postgresql://...; empty: TA_DIR/ta.sqlite
};

TaArgs& args() {
  static TaArgs a;
  return a;
}

nlohmann::json device_json(const provisioning::IssuedDevice& d) {
  return {{"role", role_name(d.role)},
          {"id", to_hex(d.id)},
          {"directory", d.directory.string()},
          {"serial", d.certificate.serial_hex()},
          {"fingerprint_sha256", to_hex(d.certificate.fingerprint())}};
}

store::IssuedCertificate issued_record(Role role, ByteView id, const pki::Certificate& cert) {
  return {role, Bytes(id.begin(), id.end()), cert.serial(), cert.not_after(), std::nullopt, {}, cert.der()};
}

// The TA's CRL signer: the TA key signs, each CRL valid for --crl-days.
store::CrlSigner crl_signer(const provisioning::TaIdentity& ta, int days) {
  return [&ta, days](std::uint64_t number, const std::vector<pki::RevokedCertificate>& entries) {
    const auto now = std::chrono::system_clock::now();
    return pki::make_crl(ta.key, ta.certificate, number, entries, now, now + std::chrono::days(days));
  };
}

// TA_DIR/crl.pem: the current CRL beside ta.crt, for `openssl crl -verify -CAfile ta.crt`.
Result<std::filesystem::path> write_crl_file(const pki::Crl& crl) {
  const auto& a = args();
  const std::filesystem::path file =
      a.out.empty() ? std::filesystem::path(a.ta_dir) / "crl.pem" : std::filesystem::path(a.out);
  DCAS_TRY(write_public_file(file, view(crl.pem())));
  return file;
}

void print_crl(const pki::Crl& crl, const std::filesystem::path& file) {
  if (args().json)
    print_json({{"crl_number", crl.number()}, {"entries", crl.size()}, {"file", file.string()}});
  else
    fmt::print("CRL {} ({} revoked certificate(s)) written to {}\n", crl.number(), crl.size(), file.string());
}

void run_revoke() {
  auto& a = args();
  const auto role = role_from_name(a.role);
  if (!role || *role == Role::ta)
    return report_error("ta revoke", {Errc::invalid_argument, "role must be sm, tp or ap"});
  auto id = from_hex_exact(a.device, device_id_size, "ID");
  if (!id) return report_error("ta revoke", id.error());
  if (a.reason.empty()) return report_error("ta revoke", {Errc::invalid_argument, "--reason must not be empty"});
  auto ta = provisioning::load_ta_directory(a.ta_dir);
  if (!ta) return report_error("ta revoke", ta.error());
  auto db = store::open_store(a.db, a.ta_dir);
  if (!db) return report_error("ta revoke", db.error());
  auto crl = (*db)->revoke(*role, *id, a.reason, std::chrono::system_clock::now(), crl_signer(*ta, a.crl_days));
  if (!crl) return report_error("ta revoke", crl.error());
  auto file = write_crl_file(*crl);
  if (!file) return report_error("ta revoke", file.error());
  if (!a.json) fmt::print("{} {} revoked (audited)\n", role_name(*role), to_hex(*id));
  print_crl(*crl, *file);
}

// A new certificate for a device on record: same role and ID, a new validity and serial, the same
// key or (--new-key) a new one. The store's records (an SM's Ki and pairing state) do not change.
void run_renew() {
  auto& a = args();
  const auto role = role_from_name(a.role);
  if (!role || *role == Role::ta)
    return report_error("ta renew", {Errc::invalid_argument, "role must be sm, tp or ap"});
  auto id = from_hex_exact(a.device, device_id_size, "ID");
  if (!id) return report_error("ta renew", id.error());
  auto ta = provisioning::load_ta_directory(a.ta_dir);
  if (!ta) return report_error("ta renew", ta.error());
  auto db = store::open_store(a.db, a.ta_dir);
  if (!db) return report_error("ta renew", db.error());
  auto on_record = (*db)->certificates();
  if (!on_record) return report_error("ta renew", on_record.error());
  const store::IssuedCertificate* latest = nullptr;  // ordered by expiry: the last one of the device
  for (const auto& c : *on_record)
    if (c.role == *role && c.device_id == *id) latest = &c;
  if (!latest)
    return report_error("ta renew", {Errc::not_found,
                                     fmt::format("no certificate on record for {} {}", role_name(*role), to_hex(*id))});
  if (latest->revoked_at)
    return report_error("ta renew", {Errc::cert_revoked, fmt::format("{} {} is revoked: it gets no new certificate",
                                                                     role_name(*role), to_hex(*id))});
  const std::filesystem::path dir =
      a.out.empty() ? std::filesystem::path(a.ta_dir) / "issued" / fmt::format("{}-{}", role_name(*role), to_hex(*id))
                    : std::filesystem::path(a.out);
  auto renewed = provisioning::renew_device_files(
      *ta, *role, *id, latest->der, dir, a.days, a.new_key, crypto::system_random(), [&](const pki::Certificate& cert) {
        return (*db)->record_certificate(issued_record(*role, *id, cert), std::chrono::system_clock::now());
      });
  if (!renewed) return report_error("ta renew", renewed.error());
  if (a.json) return print_json(device_json(*renewed));
  const auto days_valid = std::chrono::duration_cast<std::chrono::hours>(renewed->certificate.not_after() -
                                                                         std::chrono::system_clock::now())
                              .count() /
                          24;
  fmt::print("renewed {} {}\n  directory    {}\n  serial       {}\n  valid for    {} days\n", role_name(*role),
             to_hex(*id), renewed->directory.string(), renewed->certificate.serial_hex(), days_valid);
}

// ta list --expiring DAYS: the latest certificate of each device that is not revoked and expires
// within DAYS (or has expired).
void run_expiring() {
  auto& a = args();
  auto db = store::open_store(a.db, a.ta_dir);
  if (!db) return report_error("ta list", db.error());
  auto on_record = (*db)->certificates();
  if (!on_record) return report_error("ta list", on_record.error());
  std::map<std::pair<Role, Bytes>, const store::IssuedCertificate*> latest;
  for (const auto& c : *on_record) latest[{c.role, c.device_id}] = &c;  // ordered by expiry
  const auto now = std::chrono::system_clock::now();
  const auto horizon = now + std::chrono::days(a.expiring);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [device, c] : latest) {
    if (c->revoked_at || c->not_after > horizon) continue;
    const auto left = std::chrono::duration_cast<std::chrono::hours>(c->not_after - now).count();
    out.push_back({{"role", role_name(c->role)},
                   {"id", to_hex(c->device_id)},
                   {"serial", to_hex(c->serial)},
                   {"not_after_ms", store::to_ms(c->not_after)},
                   {"days_left", left >= 0 ? left / 24 : -((-left + 23) / 24)}});
  }
  if (a.json) return print_json(out);
  for (const auto& r : out)
    fmt::print("{} {}  serial {}  {}\n", r["role"].get<std::string>(), r["id"].get<std::string>(),
               r["serial"].get<std::string>(),
               r["days_left"].get<long>() < 0 ? "expired" : fmt::format("{} day(s) left", r["days_left"].get<long>()));
}

// The current CRL to a file, or (--issue) the next one: the same entries, a new number and validity.
void run_crl() {
  auto& a = args();
  auto ta = provisioning::load_ta_directory(a.ta_dir);
  if (!ta) return report_error("ta crl", ta.error());
  auto db = store::open_store(a.db, a.ta_dir);
  if (!db) return report_error("ta crl", db.error());
  Result<pki::Crl> crl = std::unexpected(Error{});
  if (a.force) {
    crl = (*db)->publish_crl(std::chrono::system_clock::now(), crl_signer(*ta, a.crl_days));
  } else {
    auto der = (*db)->current_crl();
    if (!der) return report_error("ta crl", der.error());
    if (der->empty())
      return report_error("ta crl", {Errc::not_found, "no CRL issued yet: `dcas ta crl --issue` issues one"});
    crl = pki::Crl::verified(*der, ta->certificate);
  }
  if (!crl) return report_error("ta crl", crl.error());
  auto file = write_crl_file(*crl);
  if (!file) return report_error("ta crl", file.error());
  print_crl(*crl, *file);
}

void run_init() {
  auto& a = args();
  // A new root starts a new store; what is there is checked before anything is changed.
  const auto old_store = std::filesystem::path(a.dir) / "ta.sqlite";
  std::error_code ec;
  if (a.db.empty() && std::filesystem::is_directory(old_store, ec))
    return report_error("ta init", {Errc::io_error, fmt::format("{} is a directory, not a TA store: move it away first",
                                                                old_store.string())});
  auto ta = provisioning::init_ta_directory(a.dir, a.name, a.days, a.force);
  if (!ta) return report_error("ta init", ta.error());
  // The pairing store and the key that seals the Ki in it.
  if (auto k = store::create_operator_key(a.dir); !k) return report_error("ta init", k.error());
  // With its write-ahead log and index: a stale log would be replayed into the new database.
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::filesystem::path file = old_store.string() + suffix;
    if (a.db.empty() && (std::filesystem::remove(file, ec), ec))
      return report_error("ta init",
                          {Errc::io_error, fmt::format("cannot remove {}: {}", file.string(), ec.message())});
  }
  if (auto db = store::open_store(a.db, a.dir, store::Create::if_missing); !db)
    return report_error("ta init", db.error());
  const std::string fp = to_hex(ta->certificate.fingerprint());
  if (a.json)
    print_json({{"directory", a.dir},
                {"certificate", (std::filesystem::path(a.dir) / "ta.crt").string()},
                {"fingerprint_sha256", fp}});
  else
    fmt::print(
        "TA root created in {}\n  certificate  {}/ta.crt\n  private key  {}/ta.key (mode 0600)\n  SHA-256      {}\n",
        a.dir, a.dir, a.dir, fp);
}

void run_issue() {
  auto& a = args();
  const auto role = role_from_name(a.role);
  if (!role || *role == Role::ta)
    return report_error("ta issue", Error{Errc::invalid_argument, "role must be sm, tp or ap"});
  if (!a.id.empty() && a.count != 1)
    return report_error("ta issue", Error{Errc::invalid_argument, "--id issues one device: it excludes --count"});
  std::optional<Bytes> id;
  if (!a.id.empty()) {
    auto parsed = from_hex_exact(a.id, device_id_size, "--id");
    if (!parsed) return report_error("ta issue", parsed.error());
    if (is_load_test_id(*parsed))
      return report_error("ta issue",
                          Error{Errc::invalid_argument,
                                "IDs beginning 10ad are load-test identities: `dcas loadgen issue` makes them"});
    id = *parsed;
  }
  auto ta = provisioning::load_ta_directory(a.ta_dir);
  if (!ta) return report_error("ta issue", ta.error());
  auto db = store::open_store(a.db, a.ta_dir);
  if (!db) return report_error("ta issue", db.error());
  const std::filesystem::path out =
      a.out.empty() ? std::filesystem::path(a.ta_dir) / "issued" : std::filesystem::path(a.out);
  nlohmann::json issued = nlohmann::json::array();
  for (std::size_t i = 0; i < a.count; ++i) {
    // Registered as Virgin and the certificate on record (so that it can be revoked and renewed by
    // the device's ID) before any file is written: what the manufacturer receives, the TA knows.
    const auto record = [&](const pki::Certificate& cert,
                            const std::optional<protocol::SmSecrets>& ki) -> Result<void> {
      auto device_id = from_hex(cert.common_name());
      if (!device_id) return std::unexpected(device_id.error());
      if (ki) DCAS_TRY((*db)->add_sm(SmId::from_bytes(*device_id).value(), *ki));
      if (*role == Role::tp) DCAS_TRY((*db)->add_tp(TpId::from_bytes(*device_id).value()));
      return (*db)->record_certificate(issued_record(*role, *device_id, cert), std::chrono::system_clock::now());
    };
    auto device = provisioning::issue_device_files(*ta, *role, id ? std::optional<ByteView>(*id) : std::nullopt, out,
                                                   a.days, crypto::system_random(), record);
    if (!device) return report_error("ta issue", device.error());
    issued.push_back(device_json(*device));
    if (!a.json && a.count == 1)
      fmt::print("issued {} {}\n  directory    {}\n  serial       {}\n", role_name(*role), to_hex(device->id),
                 device->directory.string(), device->certificate.serial_hex());
    show_progress("issued", i + 1, a.count);
  }
  if (a.json)
    print_json(issued);
  else if (a.count > 1)
    fmt::print("issued {} {} identities under {}\n", a.count, role_name(*role), out.string());
}

nlohmann::json sm_json(const store::SmSummary& r) {
  return {{"sm_id", r.id.hex()},
          {"state", protocol::pairing_state_name(r.psi)},
          {"bound_tp", r.bound_tp ? r.bound_tp->hex() : ""},
          {"presence_until_ms",
           std::chrono::duration_cast<std::chrono::milliseconds>(r.presence_until.time_since_epoch()).count()}};
}

void run_list(bool one) {
  auto& a = args();
  if (!one && a.expiring >= 0) {
    if (!a.state.empty())
      return report_error("ta list", {Errc::invalid_argument, "--expiring lists certificates: it excludes --state"});
    return run_expiring();
  }
  const std::string_view command = one ? "ta show" : "ta list";
  std::optional<protocol::PairingState> state;
  if (!a.state.empty()) {
    for (auto p :
         {protocol::PairingState::virgin, protocol::PairingState::auth_paired, protocol::PairingState::paired_only})
      if (protocol::pairing_state_name(p) == a.state) state = p;
    if (!state)
      return report_error(command, {Errc::invalid_argument, fmt::format("--state {}: expected virgin, auth-paired or "
                                                                        "paired-only",
                                                                        a.state)});
  }
  std::optional<SmId> wanted;  // ta show: a malformed ID is bad usage, not an unknown device
  if (one) {
    auto id = SmId::from_hex(a.device);
    if (!id) return report_error(command, id.error());
    wanted = *id;
  }
  auto db = store::open_store(a.db, a.ta_dir);
  if (!db) return report_error(command, db.error());
  auto rows = (*db)->list_sms(state);
  if (!rows) return report_error(command, rows.error());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : *rows)
    if (!one || r.id == *wanted) out.push_back(sm_json(r));
  if (one && out.empty()) return report_error(command, {Errc::unknown_device, "no SM " + wanted->hex()});
  if (a.json) return print_json(one ? out.at(0) : out);
  for (const auto& r : out)
    fmt::print("{}  {:<12} {}\n", r["sm_id"].get<std::string>(), r["state"].get<std::string>(),
               r["bound_tp"].get<std::string>().empty() ? "-" : "TP " + r["bound_tp"].get<std::string>());
}

void run_operator_action(bool unpair) {
  auto& a = args();
  const std::string_view command = unpair ? "ta unpair" : "ta leave";
  auto sm = SmId::from_hex(a.device);
  if (!sm) return report_error(command, sm.error());
  auto db = store::open_store(a.db, a.ta_dir);
  if (!db) return report_error(command, db.error());
  const auto now = std::chrono::system_clock::now();
  if (unpair) {
    if (auto r = (*db)->unpair(*sm, a.reason, now); !r) return report_error(command, r.error());
    fmt::print("SM {} unpaired (audited): both devices are Virgin again\n", sm->hex());
  } else {
    auto psi = (*db)->operator_leave(*sm, now);
    if (!psi) return report_error(command, psi.error());
    fmt::print("SM {}: {}\n", sm->hex(), protocol::pairing_state_name(*psi));
  }
}

void run_check() {
  auto& a = args();
  auto db = store::open_store(a.db, a.ta_dir);
  if (!db) return report_error("ta check", db.error());
  auto problems = store::check_consistency(**db);
  if (!problems) return report_error("ta check", problems.error());
  if (a.json)
    print_json({{"consistent", problems->empty()}, {"problems", *problems}});
  else if (problems->empty())
    fmt::print("store consistent: every binding is mutual and every SM's state matches its audit log\n");
  for (const auto& p : *problems)
    if (!a.json) fmt::print("problem: {}\n", p);
  if (!problems->empty()) exit_status() = exit_failure;
}

}  // namespace

void add_ta(CLI::App& app) {
  auto* ta = app.add_subcommand("ta", "Trusted Authority: root of the DCAS PKI");
  ta->require_subcommand(1);
  auto& a = args();
  static constexpr const char* db_help = "Pairing store: sqlite:PATH or postgresql://... (default: TA_DIR/ta.sqlite)";

  auto* init = ta->add_subcommand("init", "Create the TA root key and self-signed certificate in DIR");
  init->add_option("DIR", a.dir, "Directory for ta.key and ta.crt")->required();
  init->add_option("--name", a.name, "Common Name of the root")->capture_default_str();
  init->add_option("--days", a.days, "Validity in days")->check(CLI::Range(1, 36500))->capture_default_str();
  init->add_flag("--force", a.force, "Replace an existing TA in DIR");
  init->add_flag("--json", a.json, "Print the result as JSON");
  init->add_option("--db", a.db, "Pairing store: sqlite:PATH or postgresql://... (default: DIR/ta.sqlite)");
  init->callback(run_init);

  auto* issue =
      ta->add_subcommand("issue", "Issue device identities: key pair, certificate (and for an SM its Ki1..Ki3)");
  issue->add_option("ROLE", a.role, "sm, tp or ap")->required()->check(CLI::IsMember({"sm", "tp", "ap"}));
  issue->add_option("--ta", a.ta_dir, "TA directory (from `dcas ta init`)")->capture_default_str();
  issue->add_option("--db", a.db, db_help);
  issue->add_option("--out", a.out, "Output directory (default: TA_DIR/issued)");
  issue->add_option("--id", a.id, "Device ID, 16 hex digits (default: random)");
  issue->add_option("--count", a.count, "Number of devices to issue")->check(CLI::Range(1, 1000000));
  issue->add_option("--days", a.days, "Validity in days")->check(CLI::Range(1, 36500));
  issue->add_flag("--json", a.json, "Print the issued devices as JSON");
  issue->callback(run_issue);

  auto* show = ta->add_subcommand("show", "Show one SM's pairing state");
  show->add_option("SM_ID", a.device, "16 hex digits")->required();
  show->add_option("--ta", a.ta_dir, "TA directory")->capture_default_str();
  show->add_option("--db", a.db, db_help);
  show->add_flag("--json", a.json, "Print as JSON");
  show->callback([] { run_list(true); });

  auto* list = ta->add_subcommand("list", "List the SMs and their pairing state");
  list->add_option("--state", a.state, "Only this state")
      ->check(CLI::IsMember({"virgin", "auth-paired", "paired-only"}));
  list->add_option("--ta", a.ta_dir, "TA directory")->capture_default_str();
  list->add_option("--db", a.db, db_help);
  list->add_option("--expiring", a.expiring,
                   "List instead the certificates that expire within DAYS (the latest of each device, unrevoked)")
      ->check(CLI::Range(0, 36500));
  list->add_flag("--json", a.json, "Print as JSON");
  list->callback([] { run_list(false); });

  auto* leave =
      ta->add_subcommand("leave", "Record that a host left the network (Auth/Paired -> Paired Only), audited");
  leave->add_option("SM_ID", a.device, "16 hex digits")->required();
  leave->add_option("--ta", a.ta_dir, "TA directory")->capture_default_str();
  leave->add_option("--db", a.db, db_help);
  leave->callback([] { run_operator_action(false); });

  auto* unpair = ta->add_subcommand("unpair", "Unbind an SM from its TP (both Virgin again), audited");
  unpair->add_option("SM_ID", a.device, "16 hex digits")->required();
  unpair->add_option("--reason", a.reason, "Why, for the audit log")->required();
  unpair->add_option("--ta", a.ta_dir, "TA directory")->capture_default_str();
  unpair->add_option("--db", a.db, db_help);
  unpair->callback([] { run_operator_action(true); });

  auto* check = ta->add_subcommand(
      "check", "Check the store: bindings mutual, PSI agreeing, every SM's state matching its audit log");
  check->add_option("--ta", a.ta_dir, "TA directory")->capture_default_str();
  check->add_option("--db", a.db, db_help);
  check->add_flag("--json", a.json, "Print as JSON");
  check->callback(run_check);

  auto* revoke = ta->add_subcommand(
      "revoke", "Revoke every certificate of a device and issue the next CRL (TA_DIR/crl.pem), audited");
  revoke->add_option("ROLE", a.role, "sm, tp or ap")->required()->check(CLI::IsMember({"sm", "tp", "ap"}));
  revoke->add_option("ID", a.device, "16 hex digits")->required();
  revoke->add_option("--reason", a.reason, "Why, for the audit log")->required();
  revoke->add_option("--ta", a.ta_dir, "TA directory")->capture_default_str();
  revoke->add_option("--db", a.db, db_help);
  revoke->add_option("--out", a.out, "Where to write the CRL (default: TA_DIR/crl.pem)");
  revoke->add_option("--crl-days", a.crl_days, "The CRL's validity (nextUpdate) in days")
      ->check(CLI::Range(1, 3650))
      ->capture_default_str();
  revoke->add_flag("--json", a.json, "Print the result as JSON");
  revoke->callback(run_revoke);

  auto* renew = ta->add_subcommand(
      "renew", "Issue a device a new certificate (same ID, new validity; its pairing state is kept), audited");
  renew->add_option("ROLE", a.role, "sm, tp or ap")->required()->check(CLI::IsMember({"sm", "tp", "ap"}));
  renew->add_option("ID", a.device, "16 hex digits")->required();
  renew->add_option("--ta", a.ta_dir, "TA directory")->capture_default_str();
  renew->add_option("--db", a.db, db_help);
  renew->add_option("--out", a.out, "The device directory to update (default: TA_DIR/issued/ROLE-ID)");
  renew->add_option("--days", a.days, "Validity in days")->check(CLI::Range(1, 36500))->capture_default_str();
  renew->add_flag("--new-key", a.new_key, "Generate a new key pair (key.pem) instead of certifying the same key");
  renew->add_flag("--json", a.json, "Print the renewed device as JSON");
  renew->callback(run_renew);

  auto* crl = ta->add_subcommand("crl", "Write the current CRL (PEM), or issue the next one with --issue");
  crl->add_option("--ta", a.ta_dir, "TA directory")->capture_default_str();
  crl->add_option("--db", a.db, db_help);
  crl->add_option("--out", a.out, "Where to write the CRL (default: TA_DIR/crl.pem)");
  crl->add_flag("--issue", a.force, "Issue the next CRL: the same entries, a new number and validity");
  crl->add_option("--crl-days", a.crl_days, "The CRL's validity (nextUpdate) in days")
      ->check(CLI::Range(1, 3650))
      ->capture_default_str();
  crl->add_flag("--json", a.json, "Print the result as JSON");
  crl->callback(run_crl);

  add_services(app, *ta);
}

}  // namespace dcas::cli
