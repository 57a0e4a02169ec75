// The world an attack runs in: a TA with its store, an AP, hosts of SMs and TPs, all real roles
// driven in one process (protocol/in_process.h), with fresh RSA keys made once per process; and
// the attacker's tools: the recorded traffic, and what a leaked key lets one compute.
#pragma once

#include <memory>
#include <optional>

#include "attack/attack.h"
#include "pki/authority.h"
#include "pki/crl.h"
#include "protocol/cw_channel.h"
#include "protocol/in_process.h"
#include "protocol/pairing.h"

namespace dcas::attack {

using protocol::TimePoint;

// The eight steps of either profile's handshake, named once for both.
enum class Step {
  tp_cert_req,
  tp_cert_rsp,
  key_request_sm,
  key_request_ap,
  key_response_ta,
  key_response_ap,
  cwek_gen_info,
  cwek_gen_info_cnfm
};
wire::MessageType type_of_step(wire::Profile profile, Step step);

// Devices of the world: SMs 1-3 and TPs 1-3, each with its own key; key 0 of each kind is the
// attacker's own (a key the TA never certified).
const crypto::RsaPrivateKey& sm_key(int n);
const crypto::RsaPrivateKey& tp_key(int n);
const crypto::RsaPrivateKey& ap_key();
const crypto::RsaPrivateKey& ta_key();
SmId sm_id(int n);
TpId tp_id(int n);

class World {
  // Declared first: the members below are built from them.
  crypto::SeededRandom rng_{view("attacker")}, pki_rng_{view("pki")}, ta_rng_{view("ta")}, ap_rng_{view("ap")};

 public:
  explicit World(wire::Profile profile);
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  const wire::Profile profile;
  const TimePoint t0;  // when the world starts; every certificate is valid for a day around it
  pki::Certificate root;
  pki::Certificate ap_certificate;
  protocol::MemoryPairingStore store;
  protocol::TrustedAuthority ta;
  protocol::AuthProxy ap;
  protocol::InProcessNetwork net;

  pki::Certificate sm_certificate(int n);
  pki::Certificate tp_certificate(int n);
  // A set-top box with SM n and TP m (registered at the TA unless already).
  std::unique_ptr<protocol::InProcessHost> box(int sm, int tp);
  // The SM of `from` moved into `to`: its secure memory goes with it.
  void move_sm(const protocol::InProcessHost& from, protocol::InProcessHost& to);

  void announce(protocol::InProcessHost& box, TimePoint at);
  void power_up(protocol::InProcessHost& box, TimePoint at);
  // The box's connection to the AP ends; the AP's report reaches the TA.
  void leave(protocol::InProcessHost& box, TimePoint at);
  bool established(const protocol::InProcessHost& box) const;
  // Bytes arriving at the AP from an SM on `session` (a connection of the attacker's), relayed to
  // the TA and back. Returns the first failed check, if any.
  std::optional<protocol::Failure> through_ap(std::uint64_t session, ByteView request, TimePoint at);

  // The box's SM seals `cws`; the bytes, and whether its TP installed them.
  struct Delivery {
    Bytes message;
    std::optional<Error> refused;
  };
  Delivery send_cws(protocol::InProcessHost& box, const protocol::ControlWords& cws, TimePoint at);
  // The last recorded message of a step (or type) on a box's session.
  std::optional<Bytes> recorded(Step step, std::uint64_t session) const;
  std::optional<Bytes> recorded(wire::MessageType type, std::uint64_t session) const;
  // The first failed check recorded since `from` (an index into net.failures).
  std::optional<protocol::Failure> failure_since(std::size_t from = 0) const;

  crypto::RandomSource& rng() { return rng_; }
  // CRL number `number` of the world's TA, revoking these certificates (docs/spec.md §18).
  pki::Crl crl_revoking(std::uint64_t number, const std::vector<pki::Certificate>& revoked) const;

 private:
  std::vector<std::unique_ptr<crypto::SeededRandom>> device_rngs_;
};

// Control words of the kind the headend sends, distinct per `tag`.
protocol::ControlWords sample_cws(std::uint8_t tag);
bool same_cws(const protocol::ControlWords& a, const protocol::ControlWords& b);

// What an eavesdropper with CWEK alone reads from a recorded ControlWord (the MAC unchecked).
// Errors: wire errors, bad_plaintext (the plaintext is not a CW layout: wrong key).
Result<protocol::ControlWords> decrypt_cw(ByteView cwek, ByteView control_word);

Verdict succeeded(std::string obtained);
Verdict refused(const protocol::Failure& f);
Verdict refused(const Error& e, std::string_view by);

}  // namespace dcas::attack
