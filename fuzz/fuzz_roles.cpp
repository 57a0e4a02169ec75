// libFuzzer target: every role's message handler, in each state it can wait in, under each profile,
// on arbitrary bytes. A handler must return an error or messages, never crash, hang or leak. States
// are reached by replaying a real run's messages (recorded once per profile at start-up) into fresh
// role instances. The first input byte chooses the handler (low 7 bits) and the profile (bit 7:
// hardened1).
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>

#include "pki/authority.h"
#include "protocol/in_process.h"
#include "wire/message.h"

namespace {

using namespace dcas;
using namespace dcas::protocol;
using wire::Profile;

const TimePoint now = std::chrono::sys_days{std::chrono::year{2026} / 6 / 1};

crypto::RsaPrivateKey load_key(const char* name) {
  return crypto::RsaPrivateKey::load_pem_file(std::string(DCAS_SOURCE_DIR) + "/tests/data/keys/" + name + ".pem")
      .value();
}

struct World {
  Profile profile;
  crypto::SeededRandom rng{view("fuzz")};
  crypto::RsaPrivateKey ta_key = load_key("ta"), ap_key = load_key("ap1"), sm_key = load_key("sm1"),
                        tp_key = load_key("tp1");
  pki::Validity validity{now - std::chrono::days(365), now + std::chrono::days(365)};
  pki::Certificate root = pki::make_root(ta_key, "Fuzz TA", validity, rng).value();
  Identity ap_id{ap_key, cert(Role::ap, "4100000000000001", ap_key), root};
  Identity sm_id{sm_key, cert(Role::sm, "5300000000000001", sm_key), root};
  Identity tp_id{tp_key, cert(Role::tp, "5400000000000001", tp_key), root};
  std::vector<Hop> transcript;  // one complete run

  pki::Certificate cert(Role role, const char* id, const crypto::RsaPrivateKey& key) {
    return pki::issue_device(ta_key, root, role, from_hex(id).value(), key.public_key(), validity, rng).value();
  }

  explicit World(Profile p) : profile(p) {
    MemoryPairingStore store;
    store
        .add_sm(SmId::from_hex("5300000000000001").value(),
                {SecureBytes(16, 1), SecureBytes(16, 2), SecureBytes(16, 3)})
        .value();
    store.add_tp(TpId::from_hex("5400000000000001").value()).value();
    TrustedAuthority ta({ta_key, root, root}, store, rng, {}, profile);
    ta.register_ap(ap_id.certificate, now).value();
    AuthProxy ap = AuthProxy::create(ap_id, rng, now, {}, profile).value();
    InProcessNetwork net(ta, ap);
    auto host = net.add_host(sm_id, tp_id, rng, rng, now).value();
    Output announce;
    announce.send(Role::sm, ap.security_announce(Bytes(8, 'N'), 1).value());
    net.run(*host, Role::ap, std::move(announce), now);
    if (host->sm->state() != SecureMicro::State::established) std::abort();
    transcript = net.transcript;
  }

  // The first `n` messages of the run addressed to `to`.
  std::vector<Hop> sent_to(Role to, std::size_t n) const {
    std::vector<Hop> out;
    for (const auto& h : transcript)
      if (h.to == to && out.size() < n) out.push_back(h);
    return out;
  }
};

Profile current = Profile::koo2010;  // the input's profile (the first byte's bit 7)

World& world() {
  static World koo(Profile::koo2010), hardened(Profile::hardened1);
  return current == Profile::hardened1 ? hardened : koo;
}

void fuzz_sm(ByteView input, std::size_t replayed, Role from) {
  auto& w = world();
  MemoryNonVolatile<SmMemory> memory;
  auto sm = SecureMicro::create(w.sm_id, memory, w.rng, now, w.profile).value();
  for (const auto& hop : w.sent_to(Role::sm, replayed)) (void)sm.receive(hop.from, hop.bytes, now);
  (void)sm.receive(from, input, now);
}

void fuzz_tp(ByteView input, std::size_t replayed) {
  auto& w = world();
  MemoryNonVolatile<TpMemory> memory;
  auto tp = TransportProcessor::create(w.tp_id, memory, w.rng, now, {}, w.profile).value();
  for (const auto& hop : w.sent_to(Role::tp, replayed)) (void)tp.receive(hop.bytes, now);
  (void)tp.receive(input, now);
}

void fuzz_ap(ByteView input, bool from_ta) {
  auto& w = world();
  auto ap = AuthProxy::create(w.ap_id, w.rng, now, {}, w.profile).value();
  if (from_ta) {
    for (const auto& hop : w.sent_to(Role::ap, 1)) (void)ap.receive_from_sm(1, hop.bytes, now);
    (void)ap.receive_from_ta(1, input, now);
  } else {
    (void)ap.receive_from_sm(1, input, now);
  }
}

// An SM whose CW channel stands (the run's first four messages to it replayed).
struct EstablishedSm {
  MemoryNonVolatile<SmMemory> memory;
  std::optional<SecureMicro> sm;
  explicit EstablishedSm(bool with_image) {
    auto& w = world();
    if (with_image) {
      SmMemory m;
      m.image = InstalledImage{Bytes(8, 'N'), 1, SecureBytes(16, 0xca), Bytes(32, 0)};
      (void)memory.store(m);
    }
    sm.emplace(SecureMicro::create(w.sm_id, memory, w.rng, now, w.profile).value());
    for (const auto& hop : w.sent_to(Role::sm, 4)) (void)sm->receive(hop.from, hop.bytes, now);
  }
};

// An AP that relayed the run's pairing on session 1: the TA validated the SM there.
AuthProxy validated_ap() {
  auto& w = world();
  auto ap = AuthProxy::create(w.ap_id, w.rng, now, {}, w.profile).value();
  for (const auto& hop : w.sent_to(Role::ap, 2))
    hop.from == Role::sm ? (void)ap.receive_from_sm(1, hop.bytes, now) : (void)ap.receive_from_ta(1, hop.bytes, now);
  return ap;
}

// The download, in each state the SM waits in: for the grant, and (with a genuine grant) for the image.
void fuzz_download(ByteView input, bool granted) {
  EstablishedSm host(false);
  auto request = host.sm->request_image();
  if (granted && !request.messages.empty()) {
    auto ap = validated_ap();
    if (auto grant = ap.grant_image_key(1, request.messages[0].bytes, 1))
      (void)host.sm->receive(Role::ap, grant->message, now);
  }
  (void)host.sm->receive(Role::ap, input, now);
}

// The CA client of an installed image: EMMs and ECMs from the broadcast.
void fuzz_cas(ByteView input) {
  EstablishedSm host(true);
  (void)host.sm->receive_cas(input, now);
}

void fuzz_grant(ByteView input) {
  auto ap = validated_ap();
  (void)ap.grant_image_key(1, input, 1);
}

void fuzz_ta(ByteView input) {
  auto& w = world();
  MemoryPairingStore store;
  (void)store.add_sm(SmId::from_hex("5300000000000001").value(),
                     {SecureBytes(16, 1), SecureBytes(16, 2), SecureBytes(16, 3)});
  (void)store.add_tp(TpId::from_hex("5400000000000001").value());
  TrustedAuthority ta({w.ta_key, w.root, w.root}, store, w.rng, {}, w.profile);
  (void)ta.register_ap(w.ap_id.certificate, now);
  (void)ta.receive(1, input, now);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const ByteView input(data + 1, size - 1);
  current = (data[0] & 0x80) ? Profile::hardened1 : Profile::koo2010;
  // The SM receives (from the AP, from the TP) in this order: announce, TPCertRsp, KeyResponse, Cnfm.
  switch ((data[0] & 0x7f) % 14) {
    case 0: fuzz_sm(input, 0, Role::ap); break;  // idle
    case 1: fuzz_sm(input, 1, Role::tp); break;  // awaiting TPCertRsp
    case 2: fuzz_sm(input, 2, Role::ap); break;  // awaiting KeyResponse
    case 3: fuzz_sm(input, 3, Role::tp); break;  // awaiting CWEKGenInfoCnfm
    case 4: fuzz_tp(input, 0); break;            // idle
    case 5: fuzz_tp(input, 1); break;            // awaiting CWEKGenInfo
    case 6: fuzz_tp(input, 2); break;            // established: ControlWord
    case 7: fuzz_ap(input, false); break;
    case 8: fuzz_ap(input, true); break;
    case 10: fuzz_download(input, false); break;  // awaiting ImageKeyGrant
    case 11: fuzz_download(input, true); break;   // awaiting ClientImage
    case 12: fuzz_cas(input); break;              // EMM, ECM
    case 13: fuzz_grant(input); break;            // ImageKeyRequest at the AP
    default: fuzz_ta(input); break;
  }
  return 0;
}
