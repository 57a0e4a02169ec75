// `dcas demo`: the most complete demonstration of what DCAS does so far, on embedded defaults in a
// temporary directory. It grows into the full system demo (TA, headend, hosts, scrambled TS).
#include <fmt/format.h>
#include <unistd.h>

#include "cli/commands.h"
#include "kat/selftest.h"
#include "pki/provisioning.h"
#include "protocol/derivation.h"
#include "wire/message.h"

namespace dcas::cli {

namespace {

struct Timeline {
  int step = 0;
  bool all_ok = true;
  void event(std::string_view who, std::string_view what) { fmt::print("{:>3}  {:<5} {}\n", ++step, who, what); }
  void check(std::string_view what, bool ok, std::string_view detail = {}) {
    all_ok = all_ok && ok;
    fmt::print("       {} {}{}{}\n", ok ? "ok  " : "FAIL", what, detail.empty() ? "" : ": ", detail);
  }
};

Result<void> run_demo(const std::filesystem::path& dir, Timeline& t) {
  t.event("SM/TP", "power-up self-test: every known-answer vector");
  for (const auto& o : kat::run_all()) t.check(fmt::format("{} ({} vectors)", o.file, o.passed), o.ok());

  t.event("TA", fmt::format("creates its root key and self-signed certificate in {}", (dir / "ta").string()));
  DCAS_TRY_ASSIGN(ta, pki::init_ta_directory(dir / "ta", "DCAS Demo TA", 3650, true));
  t.check("TA root", true, ta.certificate.subject_text());

  std::map<Role, pki::IssuedDevice> devices;
  for (Role role : {Role::sm, Role::tp, Role::ap}) {
    DCAS_TRY_ASSIGN(d, pki::issue_device_files(ta, role, std::nullopt, dir / "issued", 3650, crypto::system_random()));
    t.event("TA", fmt::format("issues {} {}: key pair, certificate{}", role_name(role), to_hex(d.id),
                              role == Role::sm ? ", Ki1..Ki3" : ""));
    devices.emplace(role, d);
  }

  const auto now = std::chrono::system_clock::now();
  t.event("TP", "verifies Cert(SM) against the TA root (initialization step 2)");
  auto sm_ok = pki::verify_device(devices.at(Role::sm).certificate, ta.certificate, Role::sm, now);
  t.check("SM certificate", sm_ok.has_value(), sm_ok ? "SM_ID " + to_hex(sm_ok->id) : sm_ok.error().message());
  t.event("SM", "verifies Cert(TP) against the TA root (initialization step 3)");
  auto tp_ok = pki::verify_device(devices.at(Role::tp).certificate, ta.certificate, Role::tp, now);
  t.check("TP certificate", tp_ok.has_value(), tp_ok ? "TP_ID " + to_hex(tp_ok->id) : tp_ok.error().message());
  t.event("SM", "is handed a TP certificate where the AP's is required");
  auto wrong = pki::verify_device(devices.at(Role::tp).certificate, ta.certificate, Role::ap, now);
  t.check("refused", !wrong.has_value() && wrong.error().code == Errc::cert_wrong_role,
          wrong ? "accepted!" : wrong.error().message());

  t.event("TA", "derives the pair's KPK, and from it the CWEK (paper Tables 2 and 3)");
  DCAS_TRY_ASSIGN(ki, pki::load_ki_file(devices.at(Role::sm).directory / "ki.txt"));
  DCAS_TRY_ASSIGN(sm_id, SmId::from_bytes(devices.at(Role::sm).id));
  DCAS_TRY_ASSIGN(tp_id, TpId::from_bytes(devices.at(Role::tp).id));
  DCAS_TRY_ASSIGN(rand, crypto::system_random().bytes(protocol::rand_size));
  DCAS_TRY_ASSIGN(kpk, protocol::derive_kpk(ki, sm_id, tp_id, view(rand)));
  DCAS_TRY_ASSIGN(cwek, protocol::derive_cwek(view(kpk), sm_id, tp_id));
  t.check("KPK (160 bits) and CWEK (128 bits) derived; values are secret and not shown",
          kpk.size() == protocol::kpk_size && cwek.size() == protocol::cwek_size);

  t.event("SM", "encodes TPCertReq with Cert(SM); the TP decodes it strictly");
  const wire::Message req{wire::Profile::koo2010, wire::TpCertReq{devices.at(Role::sm).certificate.der()}, {}};
  const Bytes encoded = wire::encode(req);
  auto decoded = wire::decode(encoded);
  t.check(fmt::format("{} bytes, round trip", encoded.size()),
          decoded.has_value() && wire::encode(*decoded) == encoded);
  Bytes cut(encoded.begin(), encoded.end() - 1);
  auto truncated = wire::decode(cut);
  t.check("a truncated copy is refused", !truncated, truncated ? "accepted!" : truncated.error().message());
  return {};
}

}  // namespace

void add_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Demonstrate DCAS end to end on embedded defaults (temporary directory)");
  static std::string keep;
  cmd->add_option("--keep", keep, "Keep the TA and issued devices in this directory");
  cmd->callback([] {
    namespace fs = std::filesystem;
    const fs::path dir =
        keep.empty() ? fs::temp_directory_path() / fmt::format("dcas-demo-{}", ::getpid()) : fs::path(keep);
    Timeline t;
    fmt::print("DCAS demo: identities, certificate checks, key derivations and the wire codec\n\n");
    auto r = run_demo(dir, t);
    if (keep.empty()) fs::remove_all(dir);
    if (!r) return report_error("demo", r.error());
    fmt::print("\n{}\n", t.all_ok ? "demo: every check behaved as specified" : "demo: a check FAILED");
    if (!t.all_ok) exit_status() = exit_failure;
  });
}

}  // namespace dcas::cli
