// `dcas demo`: the most complete demonstration of DCAS so far, on embedded defaults in a temporary
// directory: identities from the TA, the SM-TP security protocol end to end (in one process),
// control words to the TP, and the paper's SM-sharing threat refused. It grows into the full
// system demo (headend, hosts as processes, a scrambled transport stream).
#include <fmt/format.h>
#include <unistd.h>

#include "cli/commands.h"
#include "kat/selftest.h"
#include "pki/provisioning.h"
#include "protocol/in_process.h"
#include "wire/message.h"

namespace dcas::cli {

namespace {

using namespace protocol;

struct Timeline {
  int step = 0;
  bool all_ok = true;
  void act(std::string_view title) { fmt::print("\n{}\n", title); }
  void line(std::string_view who, std::string_view what) { fmt::print("{:>4}  {:<8} {}\n", ++step, who, what); }
  void check(std::string_view what, bool ok, std::string_view detail = {}) {
    all_ok = all_ok && ok;
    fmt::print("              {} {}{}{}\n", ok ? "ok  " : "FAIL", what, detail.empty() ? "" : ": ", detail);
  }
  void note(Peer at, std::string_view what, std::string_view detail) {
    fmt::print("              {:<3} {}{}{}\n", peer_name(at), what, detail.empty() ? "" : ": ", detail);
  }
};

Result<Identity> load_identity(const pki::IssuedDevice& d) { return pki::load_device_identity(d.directory); }

void watch(InProcessNetwork& net, Timeline& t) {
  net.on_hop = [&t](const Hop& hop) {
    auto header = wire::decode_header(hop.bytes);
    const auto name = header ? wire::type_name(static_cast<wire::MessageType>(header->type)) : "(undecodable)";
    t.line(fmt::format("{} -> {}", peer_name(hop.from), peer_name(hop.to)),
           fmt::format("{}, {} bytes", name, hop.bytes.size()));
  };
  net.on_event = [&t](const Observation& o) { t.note(o.at, o.event.what, o.event.detail); };
  net.on_failure = [&t](const Failure& f) { t.note(f.at, "error", f.error.message()); };
}

Result<void> run_demo(const std::filesystem::path& dir, Timeline& t) {
  const auto now = std::chrono::system_clock::now();
  t.act("1. Power-up self-test (every known-answer vector)");
  for (const auto& o : kat::run_all()) t.check(fmt::format("{} ({} vectors)", o.file, o.passed), o.ok());

  t.act("2. The TA issues identities (paper Fig. 2 step 1)");
  DCAS_TRY_ASSIGN(ta, pki::init_ta_directory(dir / "ta", "DCAS Demo TA", 3650, true));
  t.line("TA", "root key and self-signed certificate: " + ta.certificate.subject_text());
  std::map<std::string, pki::IssuedDevice> devices;
  for (auto [name, role] : {std::pair{"sm", Role::sm}, {"tp", Role::tp}, {"ap", Role::ap}, {"tp2", Role::tp}}) {
    DCAS_TRY_ASSIGN(d, pki::issue_device_files(ta, role, std::nullopt, dir / "issued", 3650, crypto::system_random()));
    t.line("TA",
           fmt::format("issues {} {}{}", role_name(role), to_hex(d.id), role == Role::sm ? " with Ki1..Ki3" : ""));
    devices.emplace(name, d);
  }
  MemoryPairingStore store;
  DCAS_TRY_ASSIGN(ki, pki::load_ki_file(devices.at("sm").directory / "ki.txt"));
  DCAS_TRY_ASSIGN(sm_id, SmId::from_bytes(devices.at("sm").id));
  DCAS_TRY(store.add_sm(sm_id, ki));
  for (const char* tp : {"tp", "tp2"}) {
    DCAS_TRY_ASSIGN(tp_id, TpId::from_bytes(devices.at(tp).id));
    DCAS_TRY(store.add_tp(tp_id));
  }
  t.line("TA", "registers the SM (with its Ki) and both TPs as Virgin in its pairing store");

  TrustedAuthority authority({ta.key, ta.certificate, ta.certificate}, store, crypto::system_random());
  DCAS_TRY(authority.register_ap(devices.at("ap").certificate, now));
  DCAS_TRY_ASSIGN(ap_identity, load_identity(devices.at("ap")));
  DCAS_TRY_ASSIGN(ap, AuthProxy::create(ap_identity, crypto::system_random(), now));
  InProcessNetwork net(authority, ap);
  DCAS_TRY_ASSIGN(sm_identity, load_identity(devices.at("sm")));
  DCAS_TRY_ASSIGN(tp_identity, load_identity(devices.at("tp")));
  DCAS_TRY_ASSIGN(host, net.add_host(sm_identity, tp_identity, crypto::system_random(), crypto::system_random(), now));

  t.act("3. The SM-TP security protocol: initialization, pairing, CWEK generation (paper IV)");
  watch(net, t);
  const Bytes network_id{'M', 'S', 'O', '-', 'D', 'E', 'M', 'O'};
  Output announce;
  DCAS_TRY_ASSIGN(announcement, ap.security_announce(network_id, 1));
  announce.send(Peer::sm, announcement);
  net.run(*host, Peer::ap, std::move(announce), now);
  const bool established = host->sm->state() == SecureMicro::State::established &&
                           host->tp->state() == TransportProcessor::State::established;
  t.check("SM and TP share CWEK and HMAC_KEY (key confirmation passed)", established);
  DCAS_TRY_ASSIGN(record, store.find_sm(sm_id));
  t.check("the TA holds the pair as Auth/Paired", record && record->psi == Psi::auth_paired);

  t.act("4. Control words from SM to TP (encrypted under CWEK, MAC under HMAC_KEY)");
  ControlWords cws;
  cws.cw_length = 16;
  DCAS_TRY_ASSIGN(odd, crypto::system_random().bytes(16));
  DCAS_TRY_ASSIGN(even, crypto::system_random().bytes(16));
  cws.odd.emplace();
  cws.even.emplace();
  std::copy(odd.begin(), odd.end(), cws.odd->begin());
  std::copy(even.begin(), even.end(), cws.even->begin());
  DCAS_TRY_ASSIGN(message, host->sm->seal_control_words(cws, now));
  t.line("SM -> TP", fmt::format("ControlWord, {} bytes, sequence 1", message.size()));
  auto delivered = host->tp->receive(message, now);
  t.check("TP installed the odd and even CWs (values secret, not shown)",
          delivered.ok() && host->tp->control_word(Parity::odd) == cws.odd &&
              host->tp->control_word(Parity::even) == cws.even);
  auto tampered = message;
  tampered[50] ^= 0x01;
  auto refused = host->tp->receive(tampered, now);
  t.check("a tampered copy is refused", !refused.ok(), refused.ok() ? "accepted!" : refused.error->message());
  auto replayed = host->tp->receive(message, now);
  t.check("a replayed copy is refused", !replayed.ok(), replayed.ok() ? "accepted!" : replayed.error->message());

  t.act("5. Threat: the SM moved into another host (SM sharing, paper III.1.A)");
  DCAS_TRY_ASSIGN(other_tp, load_identity(devices.at("tp2")));
  DCAS_TRY_ASSIGN(sm_again, load_identity(devices.at("sm")));
  DCAS_TRY_ASSIGN(other_host, net.add_host(sm_again, other_tp, crypto::system_random(), crypto::system_random(), now));
  DCAS_TRY_ASSIGN(left, ap.host_presence(sm_id, false));
  (void)authority.receive(0, left, now);  // the first host left the network: its pair is Paired Only
  t.line("AP -> TA", "HostPresence: the first host left the network");
  net.failures.clear();
  Output again;
  DCAS_TRY_ASSIGN(announcement2, ap.security_announce(network_id, 1));
  again.send(Peer::sm, announcement2);
  net.run(*other_host, Peer::ap, std::move(again), now);
  const bool refused_sharing = !net.failures.empty() && net.failures.back().error.code == Errc::pairing_refused;
  t.check("the TA refuses the SM with a foreign TP; the SM stops", refused_sharing);
  return {};
}

}  // namespace

void add_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Demonstrate DCAS end to end on embedded defaults (temporary directory)");
  static std::string keep;
  cmd->add_option("--keep", keep, "Keep the TA and the issued devices in this directory");
  cmd->callback([] {
    namespace fs = std::filesystem;
    const fs::path dir =
        keep.empty() ? fs::temp_directory_path() / fmt::format("dcas-demo-{}", ::getpid()) : fs::path(keep);
    Timeline t;
    fmt::print("DCAS demo: TA identities, the SM-TP security protocol (koo2010), control words, a refused threat\n");
    auto r = run_demo(dir, t);
    if (keep.empty()) fs::remove_all(dir);
    if (!r) return report_error("demo", r.error());
    fmt::print("\n{}\n", t.all_ok ? "demo: every check behaved as the paper says" : "demo: a check FAILED");
    if (!t.all_ok) exit_status() = exit_failure;
  });
}

}  // namespace dcas::cli
