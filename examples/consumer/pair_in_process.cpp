// The four roles of the SM-TP protocol in one process, from the installed protocol core: a TA
// root and TA-issued certificates, an AP, and one host whose SM and TP pair and then carry a
// control word. Exit status 0 only if both profiles pair and the TP opens the control words.
#include <dcas/crypto/random.h>
#include <dcas/pki/authority.h>
#include <dcas/protocol/in_process.h>
#include <dcas/protocol/pairing.h>

#include <cstdio>

using namespace dcas;

namespace {

Result<pki::Certificate> issue(const crypto::RsaPrivateKey& ta_key, const pki::Certificate& root, Role role,
                               std::string_view id_hex, const crypto::RsaPrivateKey& key) {
  DCAS_TRY_ASSIGN(id, from_hex(id_hex));
  return pki::issue_device(ta_key, root, role, id, key.public_key(), pki::Validity::starting_now(30),
                           crypto::system_random());
}

Result<void> pair_and_carry_a_control_word(wire::Profile profile) {
  auto& rng = crypto::system_random();
  const auto now = std::chrono::system_clock::now();
  DCAS_TRY_ASSIGN(ta_key, crypto::RsaPrivateKey::generate());
  DCAS_TRY_ASSIGN(ap_key, crypto::RsaPrivateKey::generate());
  DCAS_TRY_ASSIGN(sm_key, crypto::RsaPrivateKey::generate());
  DCAS_TRY_ASSIGN(tp_key, crypto::RsaPrivateKey::generate());
  DCAS_TRY_ASSIGN(root, pki::make_root(ta_key, "Example TA", pki::Validity::starting_now(30), rng));
  DCAS_TRY_ASSIGN(ap_cert, issue(ta_key, root, Role::ap, "4100000000000001", ap_key));
  DCAS_TRY_ASSIGN(sm_cert, issue(ta_key, root, Role::sm, "5300000000000001", sm_key));
  DCAS_TRY_ASSIGN(tp_cert, issue(ta_key, root, Role::tp, "5400000000000001", tp_key));

  protocol::MemoryPairingStore store;
  protocol::TrustedAuthority ta({ta_key, root, root}, store, rng, protocol::TaPolicy{}, profile);
  DCAS_TRY(ta.register_ap(ap_cert, now));
  DCAS_TRY_ASSIGN(ap, protocol::AuthProxy::create({ap_key, ap_cert, root}, rng, now, {}, profile));
  DCAS_TRY_ASSIGN(ki_a, rng.bytes(16));
  DCAS_TRY_ASSIGN(ki_b, rng.bytes(16));
  DCAS_TRY_ASSIGN(ki_c, rng.bytes(16));
  DCAS_TRY_ASSIGN(sm_id, SmId::from_hex("5300000000000001"));
  DCAS_TRY_ASSIGN(tp_id, TpId::from_hex("5400000000000001"));
  DCAS_TRY(store.add_sm(sm_id, {ki_a, ki_b, ki_c}));
  DCAS_TRY(store.add_tp(tp_id));

  protocol::InProcessNetwork network(ta, ap);
  DCAS_TRY_ASSIGN(host, network.add_host({sm_key, sm_cert, root}, {tp_key, tp_cert, root}, rng, rng, now));
  protocol::Output announce;
  DCAS_TRY_ASSIGN(announcement, ap.security_announce(Bytes{'N', 'E', 'T', '0', '0', '0', '0', '1'}, 1));
  announce.send(Role::sm, std::move(announcement), host->session);
  network.run(*host, Role::ap, std::move(announce), now);
  if (!network.failures.empty()) return std::unexpected(network.failures.front().error);
  std::printf("%s: SM %s paired with TP %s in %zu messages\n", std::string(wire::profile_name(profile)).c_str(),
              host->sm->id().hex().c_str(), host->tp->id().hex().c_str(), network.transcript.size());

  protocol::ControlWords cws;
  cws.cw_length = 16;
  cws.odd.emplace();
  cws.odd->fill(0x5a);
  DCAS_TRY_ASSIGN(sealed, host->sm->seal_control_words(cws, now));
  const auto opened = host->tp->receive(sealed, now);
  if (opened.error) return std::unexpected(*opened.error);
  std::printf("%s: the TP opened the SM's control words\n", std::string(wire::profile_name(profile)).c_str());
  return {};
}

}  // namespace

int main() {
  for (const auto profile : {wire::Profile::hardened1, wire::Profile::koo2010}) {
    if (auto r = pair_and_carry_a_control_word(profile); !r) {
      std::fprintf(stderr, "pair_in_process: %s\n", r.error().message().c_str());
      return 1;
    }
  }
  return 0;
}
