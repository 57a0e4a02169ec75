#include "attack/world.h"

#include <fmt/format.h>

#include "crypto/aes.h"
#include "protocol/envelope.h"

namespace dcas::attack {

namespace {

// RSA key generation costs tens of milliseconds a key: once per process for every world.
struct KeyPool {
  crypto::RsaPrivateKey ta = crypto::RsaPrivateKey::generate().value();
  crypto::RsaPrivateKey ap = crypto::RsaPrivateKey::generate().value();
  std::vector<crypto::RsaPrivateKey> sms, tps;
  KeyPool() {
    for (int i = 0; i <= 3; ++i) {
      sms.push_back(crypto::RsaPrivateKey::generate().value());
      tps.push_back(crypto::RsaPrivateKey::generate().value());
    }
  }
};
const KeyPool& pool() {
  static const KeyPool p;
  return p;
}

TimePoint world_start() {
  // The world's clock starts now so its certificates are valid by the machine's clock too.
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

pki::Validity day_around(TimePoint t) { return {t - std::chrono::hours(12), t + std::chrono::hours(12)}; }

}  // namespace

wire::MessageType type_of_step(wire::Profile profile, Step step) {
  using T = wire::MessageType;
  static constexpr T koo[] = {T::tp_cert_req,     T::tp_cert_rsp,     T::key_request_sm, T::key_request_ap,
                              T::key_response_ta, T::key_response_ap, T::cwek_gen_info,  T::cwek_gen_info_cnfm};
  static constexpr T h1[] = {T::tp_cert_req_h1,    T::tp_cert_rsp_h1,       T::key_request_sm_h1,
                             T::key_request_ap_h1, T::key_response_ta_h1,   T::key_response_ap_h1,
                             T::cwek_gen_info_h1,  T::cwek_gen_info_cnfm_h1};
  const auto i = static_cast<std::size_t>(step);
  return profile == wire::Profile::koo2010 ? koo[i] : h1[i];
}

const crypto::RsaPrivateKey& sm_key(int n) { return pool().sms.at(static_cast<std::size_t>(n)); }
const crypto::RsaPrivateKey& tp_key(int n) { return pool().tps.at(static_cast<std::size_t>(n)); }
const crypto::RsaPrivateKey& ap_key() { return pool().ap; }
const crypto::RsaPrivateKey& ta_key() { return pool().ta; }
SmId sm_id(int n) { return SmId::from_hex(fmt::format("53000000000000{:02x}", n)).value(); }
TpId tp_id(int n) { return TpId::from_hex(fmt::format("54000000000000{:02x}", n)).value(); }

World::World(wire::Profile p)
    : profile(p),
      t0(world_start()),
      root(pki::make_root(ta_key(), "DCAS Attack TA", day_around(t0), pki_rng_).value()),
      ap_certificate(pki::issue_device(ta_key(), root, Role::ap, from_hex("4100000000000001").value(),
                                       ap_key().public_key(), day_around(t0), pki_rng_)
                         .value()),
      ta({ta_key(), root, root}, store, ta_rng_, protocol::TaPolicy{}, p),
      ap(protocol::AuthProxy::create({ap_key(), ap_certificate, root}, ap_rng_, t0, {}, p).value()),
      net(ta, ap) {
  ta.register_ap(ap_certificate, t0).value();
}

pki::Certificate World::sm_certificate(int n) {
  return pki::issue_device(ta_key(), root, Role::sm, sm_id(n).view(), sm_key(n).public_key(), day_around(t0), pki_rng_)
      .value();
}
pki::Certificate World::tp_certificate(int n) {
  return pki::issue_device(ta_key(), root, Role::tp, tp_id(n).view(), tp_key(n).public_key(), day_around(t0), pki_rng_)
      .value();
}

pki::Crl World::crl_revoking(std::uint64_t number, const std::vector<pki::Certificate>& revoked) const {
  std::vector<pki::RevokedCertificate> entries;
  for (const auto& c : revoked) entries.push_back({c.serial(), t0});
  return pki::make_crl(ta_key(), root, number, entries, t0, t0 + std::chrono::days(7)).value();
}

std::unique_ptr<protocol::InProcessHost> World::box(int sm, int tp) {
  if (!store.find_sm(sm_id(sm)).value()) {
    protocol::SmSecrets ki{ta_rng_.bytes(16).value(), ta_rng_.bytes(16).value(), ta_rng_.bytes(16).value()};
    store.add_sm(sm_id(sm), ki).value();
  }
  if (!store.find_tp(tp_id(tp)).value()) store.add_tp(tp_id(tp)).value();
  device_rngs_.push_back(std::make_unique<crypto::SeededRandom>(view(fmt::format("sm{}", device_rngs_.size()))));
  auto& sm_rng = *device_rngs_.back();
  device_rngs_.push_back(std::make_unique<crypto::SeededRandom>(view(fmt::format("tp{}", device_rngs_.size()))));
  auto& tp_rng = *device_rngs_.back();
  return net
      .add_host({sm_key(sm), sm_certificate(sm), root}, {tp_key(tp), tp_certificate(tp), root}, sm_rng, tp_rng, t0)
      .value();
}

void World::move_sm(const protocol::InProcessHost& from, protocol::InProcessHost& to) {
  if (auto memory = from.sm_memory.load()) (void)to.sm_memory.store(*memory);
}

void World::announce(protocol::InProcessHost& b, TimePoint at) {
  protocol::Output out;
  out.send(Role::sm, ap.security_announce(Bytes(8, 'N'), 0).value(), b.session);
  net.run(b, Role::ap, std::move(out), at);
}

void World::power_up(protocol::InProcessHost& b, TimePoint at) { net.run(b, Role::sm, b.sm->power_up(at), at); }

void World::leave(protocol::InProcessHost& b, TimePoint at) {
  for (auto& m : ap.close_session(b.session, at).messages)
    if (m.to == Role::ta && !m.refusal) (void)ta.receive(0, m.bytes, at);
}

bool World::established(const protocol::InProcessHost& b) const {
  return b.sm->state() == protocol::SecureMicro::State::established &&
         b.tp->handshake() == protocol::TransportProcessor::Handshake::established;
}

std::optional<protocol::Failure> World::through_ap(std::uint64_t session, ByteView request, TimePoint at) {
  auto out = ap.receive_from_sm(session, request, at);
  if (out.error) return protocol::Failure{Role::ap, *out.error};
  for (auto& m : out.messages) {
    if (m.to != Role::ta || m.refusal) continue;
    auto answer = ta.receive(m.session, m.bytes, at);
    if (answer.error) {
      (void)ap.ta_refused(m.session, *answer.error);
      return protocol::Failure{Role::ta, *answer.error};
    }
    for (auto& r : answer.messages) {
      auto relayed = ap.receive_from_ta(r.session, r.bytes, at);
      if (relayed.error) return protocol::Failure{Role::ap, *relayed.error};
    }
  }
  return std::nullopt;
}

World::Delivery World::send_cws(protocol::InProcessHost& b, const protocol::ControlWords& cws, TimePoint at) {
  Delivery d;
  auto sealed = b.sm->seal_control_words(cws, at);
  if (!sealed) return d.refused = sealed.error(), d;
  d.message.assign(sealed->begin(), sealed->end());
  auto out = b.tp->receive(d.message, at);
  if (out.error) d.refused = out.error;
  return d;
}

std::optional<Bytes> World::recorded(wire::MessageType type, std::uint64_t session) const {
  for (auto it = net.transcript.rbegin(); it != net.transcript.rend(); ++it)
    if (it->session == session && wire::decode_header(it->bytes)->type == static_cast<std::uint8_t>(type))
      return it->bytes;
  return std::nullopt;
}

std::optional<Bytes> World::recorded(Step step, std::uint64_t session) const {
  return recorded(type_of_step(profile, step), session);
}

std::optional<protocol::Failure> World::failure_since(std::size_t from) const {
  if (net.failures.size() <= from) return std::nullopt;
  return net.failures[from];
}

protocol::ControlWords sample_cws(std::uint8_t tag) {
  protocol::ControlWords cws;
  cws.cw_length = 16;
  cws.odd = std::array<std::uint8_t, protocol::cw_slot_size>{};
  cws.even = std::array<std::uint8_t, protocol::cw_slot_size>{};
  cws.odd->fill(tag);
  cws.even->fill(static_cast<std::uint8_t>(tag ^ 0xff));
  return cws;
}

bool same_cws(const protocol::ControlWords& a, const protocol::ControlWords& b) {
  return a.cw_length == b.cw_length && a.odd == b.odd && a.even == b.even;
}

Result<protocol::ControlWords> decrypt_cw(ByteView cwek, ByteView control_word) {
  DCAS_TRY_ASSIGN(m, protocol::decode_as<wire::ControlWord>(control_word));
  // IV = AES-128(CWEK, 0^8 || sequence), then AES-128-CBC (docs/spec.md §6.6).
  DCAS_TRY_ASSIGN(iv, crypto::aes128_ecb_encrypt_block(cwek, protocol::cw_nonce_block(m.second.sequence)));
  DCAS_TRY_ASSIGN(
      plain, crypto::aes128_run(crypto::AesMode::cbc, crypto::AesDirection::decrypt, cwek, iv, m.second.ciphertext));
  std::array<std::uint8_t, 2 * protocol::cw_slot_size> slots{};
  std::copy(plain.begin(), plain.end(), slots.begin());
  return protocol::read_slots(m.second.layout, slots);
}

Verdict succeeded(std::string obtained) {
  Verdict v;
  v.succeeded = true;
  v.obtained = std::move(obtained);
  return v;
}

Verdict refused(const Error& e, std::string_view by) {
  Verdict v;
  v.refused_with = e.code;
  v.refused_by = std::string(by);
  v.detail = e.message();
  return v;
}

Verdict refused(const protocol::Failure& f) { return refused(f.error, role_label(f.at)); }

std::string Verdict::line() const {
  if (succeeded) return "SUCCEEDED: " + obtained;
  return fmt::format("refused: {} by {}", errc_name(refused_with), refused_by);
}

bool Expected::matches(const Verdict& v) const {
  if (succeeds) return v.succeeded;
  return !v.succeeded && v.refused_with == refused_with && v.refused_by == refused_by;
}

std::string Expected::line() const {
  if (succeeds) return "SUCCEEDED";
  return fmt::format("refused: {} by {}", errc_name(refused_with), refused_by);
}

}  // namespace dcas::attack
