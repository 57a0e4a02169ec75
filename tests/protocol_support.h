// A deterministic in-process deployment for protocol tests: fixed keys, fixed certificates (fixed
// validity, seeded serials), seeded random sources and a fixed clock, so runs are reproducible.
#pragma once

#include <functional>

#include "protocol/envelope.h"
#include "protocol/in_process.h"
#include "protocol/pairing.h"
#include "test_support.h"

namespace dcas::test {

using namespace std::chrono_literals;

// 2026-06-01T00:00:00Z, inside every fixed certificate's validity.
inline const protocol::TimePoint t0 = std::chrono::sys_days{std::chrono::year{2026} / 6 / 1};
inline const pki::Validity fixed_validity{std::chrono::sys_days{std::chrono::year{2025} / 1 / 1},
                                          std::chrono::sys_days{std::chrono::year{2035} / 1 / 1}};

// One draw from a seeded stream: which stream, the bytes it gave, and how many messages the
// network had carried when it was made (the draw goes into the next message, or into set-up).
struct Draw {
  std::string stream;
  Bytes bytes;
  std::size_t messages_before = 0;
};

// Every seeded draw of a deployment, in order; `messages` counts the messages carried so far.
struct DrawLog {
  std::vector<Draw> draws;
  std::function<std::size_t()> messages = [] { return std::size_t{0}; };
};

// A seeded source (crypto::SeededRandom, unchanged) that also records its draws, in order, in a
// log shared by a deployment's streams: the transcript test shows the order each party draws in.
// A test double only in that it records.
class RecordingRandom final : public crypto::RandomSource {
 public:
  RecordingRandom(std::string seed, DrawLog& log) : stream_(std::move(seed)), rng_(view(stream_)), log_(log) {}
  Result<void> fill(std::span<std::uint8_t> out) override {
    auto r = rng_.fill(out);
    if (r) log_.draws.push_back({stream_, Bytes(out.begin(), out.end()), log_.messages()});
    return r;
  }

 private:
  std::string stream_;
  crypto::SeededRandom rng_;
  DrawLog& log_;
};

struct Deployment {
  wire::Profile profile = wire::Profile::koo2010;  // declared first: the roles below are built with it
  DrawLog draws;                                   // every seeded draw of the run, in order
  RecordingRandom pki_rng{"pki", draws}, ta_rng{"ta", draws}, ap_rng{"ap", draws}, host_rng{"hosts", draws};
  pki::Certificate root = pki::make_root(key("ta"), "DCAS Test TA", fixed_validity, pki_rng).value();
  protocol::MemoryPairingStore store;
  protocol::TrustedAuthority ta{protocol::Identity{key("ta"), root, root}, store, ta_rng, protocol::TaPolicy{600s},
                                profile};
  pki::Certificate ap_cert = certificate(Role::ap, "4100000000000001", "ap1");
  protocol::AuthProxy ap = protocol::AuthProxy::create({key("ap1"), ap_cert, root}, ap_rng, t0, {}, profile).value();
  protocol::InProcessNetwork net{ta, ap};
  Bytes network_id = Bytes{'N', 'E', 'T', '0', '0', '0', '0', '1'};
  std::vector<std::unique_ptr<RecordingRandom>> rngs;

  explicit Deployment(wire::Profile p = wire::Profile::koo2010) : profile(p) {
    ta.register_ap(ap_cert, t0).value();
    draws.messages = [this] { return net.transcript.size(); };
  }
  Deployment(const Deployment&) = delete;  // the draw log points back at this deployment
  Deployment& operator=(const Deployment&) = delete;

  pki::Certificate certificate(Role role, std::string_view id, const std::string& key_name,
                               pki::Validity validity = fixed_validity) {
    return pki::issue_device(key("ta"), root, role, from_hex(id).value(), key(key_name).public_key(), validity, pki_rng)
        .value();
  }
  protocol::Identity identity(Role role, std::string_view id, const std::string& key_name) {
    return {key(key_name), certificate(role, id, key_name), root};
  }
  // Registers the SM (with fresh Ki) and the TP at the TA, and builds the host.
  std::unique_ptr<protocol::InProcessHost> host(std::string_view sm_id, std::string_view tp_id,
                                                std::string sm_key = "sm1", std::string tp_key = "tp1",
                                                bool register_at_ta = true) {
    if (register_at_ta) {
      protocol::SmSecrets ki{ta_rng.bytes(16).value(), ta_rng.bytes(16).value(), ta_rng.bytes(16).value()};
      store.add_sm(SmId::from_hex(sm_id).value(), ki).value();
      (void)store.add_tp(TpId::from_hex(tp_id).value());  // a TP may already be registered
    }
    rngs.push_back(std::make_unique<RecordingRandom>(std::string("sm") + std::string(sm_id), draws));
    auto& sm_rng = *rngs.back();
    rngs.push_back(std::make_unique<RecordingRandom>(std::string("tp") + std::string(tp_id), draws));
    auto& tp_rng = *rngs.back();
    // The TP's certificate is issued before the SM's: the order the stored transcripts record.
    auto tp = identity(Role::tp, tp_id, tp_key);
    auto sm = identity(Role::sm, sm_id, sm_key);
    return net.add_host(std::move(sm), std::move(tp), sm_rng, tp_rng, t0).value();
  }

  // The AP broadcasts SecurityAnnounce to this host's SM.
  void announce(protocol::InProcessHost& h, protocol::TimePoint now = t0) {
    protocol::Output out;
    out.send(Role::sm, ap.security_announce(network_id, 1).value(), h.session);
    net.run(h, Role::ap, std::move(out), now);
  }
  void power_up(protocol::InProcessHost& h, protocol::TimePoint now = t0) {
    net.run(h, Role::sm, h.sm->power_up(now), now);
  }
  void report_presence(const protocol::InProcessHost& h, bool present, protocol::TimePoint now = t0) {
    const auto msg = ap.host_presence(h.sm->id(), present, now).value();
    const auto out = ta.receive(0, msg, now);
    ASSERT_TRUE(out.ok()) << out.error->message();
  }

  bool established(const protocol::InProcessHost& h) const {
    return h.sm->state() == protocol::SecureMicro::State::established &&
           h.tp->handshake() == protocol::TransportProcessor::Handshake::established;
  }
  // The first failure recorded, if any.
  std::optional<protocol::Failure> first_failure() const {
    if (net.failures.empty()) return std::nullopt;
    return net.failures.front();
  }
};

inline wire::MessageType type_of(const protocol::Hop& hop) {
  return static_cast<wire::MessageType>(wire::decode_header(hop.bytes).value().type);
}

}  // namespace dcas::test
