// The attack scenarios. Each builds a world, lets the protocol run as it would, does what the
// attacker can do with what the attacker holds, and reports what it obtained or which check of
// which role stopped it. Under koo2010 the attacker uses the paper's derivations; under hardened1
// the same goal is tried with that profile's messages.
#include <fmt/format.h>

#include "attack/link_attacks.h"
#include "attack/world.h"
#include "crypto/hash.h"
#include "crypto/kex.h"
#include "protocol/derivation.h"
#include "protocol/envelope.h"
#include "protocol/pairing_statement.h"

namespace dcas::attack {

namespace {

using namespace std::chrono_literals;
using protocol::InProcessHost;
using wire::MessageType;
using wire::Profile;

constexpr Profile koo = Profile::koo2010;

Result<Verdict> missing(std::string_view what) {
  return fail(Errc::invalid_argument, fmt::format("the scenario found no {} to work with", what));
}

// ---- What an attacker computes with a leaked key (koo2010) ----

// The KPK and the TA's signature on it, from a KeyResponse (AP->SM) and Prv(SM).
struct SignedKpk {
  SecureBytes kpk;
  Bytes ta_signature;
};
Result<SignedKpk> kpk_from_response(ByteView response, const crypto::RsaPrivateKey& sm) {
  DCAS_TRY_ASSIGN(m, protocol::decode_as<wire::KeyResponseFromAp>(response));
  DCAS_TRY_ASSIGN(kpk, crypto::oaep_decrypt(sm, m.second.encrypted_kpk));
  return SignedKpk{std::move(kpk), m.second.ta_kpk_signature};
}

// CWEK and HMAC_KEY of a koo2010 run, from its CWEKGenInfo and Prv(TP).
struct CwKeys {
  SecureBytes cwek, hmac_key;
};
Result<CwKeys> keys_from_cwek_gen_info(ByteView info, const crypto::RsaPrivateKey& tp, const SmId& sm,
                                       const TpId& tp_id) {
  DCAS_TRY_ASSIGN(m, protocol::decode_as<wire::CwekGenInfo>(info));
  DCAS_TRY_ASSIGN(plain, crypto::oaep_decrypt(tp, m.second.encrypted_kpk_rand_hmac));
  if (plain.size() != protocol::kpk_size + protocol::rand_hmac_size)
    return fail(Errc::bad_plaintext, "KPK || RANDHMAC");
  DCAS_TRY_ASSIGN(cwek, protocol::derive_cwek(ByteView(plain).first(protocol::kpk_size), sm, tp_id));
  DCAS_TRY_ASSIGN(hmac, protocol::derive_hmac_key(ByteView(plain).subspan(protocol::kpk_size), sm, tp_id));
  return CwKeys{std::move(cwek), std::move(hmac)};
}

// A koo2010 CWEKGenInfo an SM key holder makes: any signed KPK, any RANDHMAC, to any TP.
Result<Bytes> forge_cwek_gen_info(const SignedKpk& kpk, ByteView rand_hmac, const crypto::RsaPublicKey& tp,
                                  const crypto::RsaPrivateKey& sm, crypto::RandomSource& rng) {
  SecureBytes payload(kpk.kpk.begin(), kpk.kpk.end());
  payload.insert(payload.end(), rand_hmac.begin(), rand_hmac.end());
  DCAS_TRY_ASSIGN(encrypted, crypto::oaep_encrypt(tp, view(payload), rng));
  return protocol::sign_and_encode({koo, wire::CwekGenInfo{encrypted, kpk.ta_signature, {}}, {}}, sm, rng);
}

// The attacker's control words under keys it holds, as a ControlWord message.
Result<Bytes> attacker_cws(ByteView cwek, ByteView hmac_key, std::uint8_t tag, TimePoint at) {
  DCAS_TRY_ASSIGN(sealer, protocol::CwSealer::create(cwek, hmac_key));
  DCAS_TRY_ASSIGN(m, sealer.seal(sample_cws(tag), at));
  return Bytes(m.begin(), m.end());
}

// ---- What an attacker does in a hardened1 run ----

// A CWEKGenInfo (h1) from an SM key holder to a TP, for the TP's current run (its TPCertRsp),
// carrying a statement the attacker has (one from another run: it has no other). Every value the
// attacker can compute is right: the SM signature, the X25519 exchange, the confirmation.
Result<Bytes> forge_cwek_gen_info_h1(ByteView tp_cert_req, ByteView tp_cert_rsp, ByteView statement, ByteView kpk,
                                     const crypto::RsaPrivateKey& sm, crypto::RandomSource& rng) {
  DCAS_TRY_ASSIGN(hello, protocol::decode_as<wire::TpCertRspH1>(tp_cert_rsp));
  DCAS_TRY_ASSIGN(ephemeral, crypto::X25519Key::generate(rng));
  DCAS_TRY_ASSIGN(derived, protocol::run_key_schedule(ephemeral, hello.second.ephemeral_key, kpk,
                                                      {tp_cert_req, tp_cert_rsp, statement, ephemeral.public_key()}));
  const auto confirmation = protocol::key_confirmation(view(derived.keys.confirm_key), "SM", derived.transcript);
  return protocol::sign_and_encode({Profile::hardened1,
                                    wire::CwekGenInfoH1{ephemeral.public_key(),
                                                        Bytes(statement.begin(), statement.end()),
                                                        Bytes(confirmation.begin(), confirmation.end()),
                                                        {}},
                                    {}},
                                   sm, rng);
}

// The statement inside a recorded KeyResponse (AP->SM, h1).
Result<Bytes> statement_of(ByteView response) {
  DCAS_TRY_ASSIGN(m, protocol::decode_as<wire::KeyResponseFromApH1>(response));
  return m.second.pairing_statement;
}

// The recorded run's keys as an attacker with a leaked long-term key computes them under
// hardened1: the KPK decrypts, but the X25519 secret was never on the wire and the ephemeral
// values are gone, so the best it can do is a guess. Opens a recorded ControlWord with the result.
Verdict open_with_guessed_secret(ByteView kpk, ByteView statement, World& w, std::uint64_t session,
                                 ByteView control_word) {
  auto req = w.recorded(Step::tp_cert_req, session), rsp = w.recorded(Step::tp_cert_rsp, session),
       info = w.recorded(Step::cwek_gen_info, session);
  auto m = protocol::decode_as<wire::CwekGenInfoH1>(*info).value();
  auto guess = crypto::X25519Key::generate(w.rng()).value();
  auto keys =
      protocol::run_key_schedule(guess, m.second.ephemeral_key, kpk, {*req, *rsp, statement, m.second.ephemeral_key})
          .value()
          .keys;
  auto opener = protocol::CwOpener::create(view(keys.cwek), view(keys.hmac_key)).value();
  auto opened = opener.open(control_word, w.t0 + 2s);
  if (opened) return succeeded("opened the recorded control words with a guessed X25519 secret");
  return refused(opened.error(), "offline");
}

// A paired box (SM 1, TP 1) at t0.
std::unique_ptr<InProcessHost> paired_box(World& w, int sm = 1, int tp = 1) {
  auto b = w.box(sm, tp);
  w.announce(*b, w.t0);
  return b;
}

// ---- SM sharing ----

// The SM of a paired box moves to another box (with TP `tp`); the TA refuses the new pair, and the
// SM's own KeyResponse from its old box is put in place of the refusal.
Result<Verdict> moved_sm_with_replayed_response(Profile p, int tp, bool attacker_reads) {
  World w(p);
  auto home = paired_box(w);
  if (!w.established(*home)) return missing("paired box");
  auto old_response = w.recorded(Step::key_response_ap, home->session);
  if (!old_response) return missing("KeyResponse");
  auto away = w.box(1, tp);
  w.move_sm(*home, *away);
  const auto response_type = type_of_step(p, Step::key_response_ap);
  w.net.tamper = [&](protocol::Hop& hop) {
    if (hop.session == away->session &&
        wire::decode_header(hop.bytes)->type == static_cast<std::uint8_t>(response_type))
      hop.bytes = *old_response;
  };
  const std::size_t before = w.net.failures.size();
  w.power_up(*away, w.t0 + 60s);
  w.net.tamper = nullptr;
  if (!w.established(*away)) {
    auto f = w.failure_since(before);
    if (!f) return missing("failure");
    return refused(*f);
  }
  auto delivery = w.send_cws(*away, sample_cws(0x51), w.t0 + 61s);
  if (delivery.refused) return refused(*delivery.refused, "TP");
  if (!attacker_reads) return succeeded("the new box's TP installed the moved SM's control words (SM sharing)");
  // The attacker's own TP: its key opens CWEKGenInfo, and so every control word.
  auto info = w.recorded(Step::cwek_gen_info, away->session);
  auto keys = keys_from_cwek_gen_info(*info, tp_key(tp), sm_id(1), tp_id(tp));
  if (!keys) return refused(keys.error(), "offline");
  auto cws = decrypt_cw(view(keys->cwek), delivery.message);
  if (!cws || !same_cws(*cws, sample_cws(0x51))) return missing("readable control words");
  return succeeded("read the moved SM's control words in clear with its own TP's key");
}

// ---- A leaked SM key ----

Result<Verdict> leaked_sm_key_any_tp(Profile p) {
  World w(p);
  auto own = paired_box(w, 1, 1);     // the attacker's SM's own pairing: one old signed KPK
  auto victim = paired_box(w, 2, 2);  // another box, whose TP is attacked on its bus
  if (!w.established(*own) || !w.established(*victim)) return missing("paired boxes");
  auto response = *w.recorded(Step::key_response_ap, own->session);
  auto& tp = *victim->tp;
  const TimePoint at = w.t0 + 30s;
  Bytes info;
  if (p == koo) {
    auto hello = tp.receive(wire::encode({koo, wire::TpCertReq{w.sm_certificate(1).der()}, {}}), at);
    if (hello.error) return refused(*hello.error, "TP");
    auto kpk = kpk_from_response(response, sm_key(1)).value();
    info = forge_cwek_gen_info(kpk, Bytes(20, 0x11), tp_key(2).public_key(), sm_key(1), w.rng()).value();
  } else {
    const auto drawn = w.rng().bytes(32).value();
    const Bytes nonce(drawn.begin(), drawn.end());
    const Bytes req = wire::encode({p, wire::TpCertReqH1{nonce, w.sm_certificate(1).der()}, {}});
    auto hello = tp.receive(req, at);
    if (hello.error) return refused(*hello.error, "TP");
    auto statement = statement_of(response).value();
    auto st = protocol::open_statement(statement, ta_key().public_key()).value();
    auto kpk = crypto::oaep_decrypt(sm_key(1), st.kpk_for_sm).value();
    info = forge_cwek_gen_info_h1(req, hello.messages.at(0).bytes, statement, view(kpk), sm_key(1), w.rng()).value();
  }
  auto installed = tp.receive(info, at + 1s);
  if (installed.error) return refused(*installed.error, "TP");
  if (p != koo) return succeeded("the victim's TP accepted keys from an old statement");
  auto kpk = kpk_from_response(response, sm_key(1)).value();
  auto cwek = protocol::derive_cwek(view(kpk.kpk), sm_id(1), tp_id(2)).value();
  auto hmac = protocol::derive_hmac_key(Bytes(20, 0x11), sm_id(1), tp_id(2)).value();
  auto mine = tp.receive(attacker_cws(view(cwek), view(hmac), 0x66, at + 2s).value(), at + 2s);
  if (mine.error || tp.control_word(protocol::Parity::odd) != sample_cws(0x66).odd)
    return missing("installed attacker control words");
  auto genuine = w.send_cws(*victim, sample_cws(0x22), at + 3s);
  return succeeded(fmt::format("any TP installs the attacker's control words; its own SM's are then refused ({})",
                               genuine.refused ? errc_name(genuine.refused->code) : "accepted"));
}

// ---- Replays that roll a TP back ----

enum class Rollback { no_key, old_keys_leaked, tp_key };

Result<Verdict> roll_tp_back(Profile p, Rollback how) {
  World w(p);
  auto b = paired_box(w);
  if (!w.established(*b)) return missing("paired box");
  auto req1 = *w.recorded(Step::tp_cert_req, b->session);
  auto info1 = *w.recorded(Step::cwek_gen_info, b->session);
  auto old_cw = w.send_cws(*b, sample_cws(0x01), w.t0 + 1s);
  w.power_up(*b, w.t0 + 10s);  // a second run on the same connection: new keys
  if (!w.established(*b)) return missing("second run");
  if (auto d = w.send_cws(*b, sample_cws(0x02), w.t0 + 11s); d.refused) return missing("second run's CWs");

  // The attacker, on the bus, replays the first run's TPCertReq and CWEKGenInfo to the TP.
  auto& tp = *b->tp;
  (void)tp.receive(req1, w.t0 + 12s);
  auto replayed = tp.receive(info1, w.t0 + 12s);
  if (replayed.error) {
    // The replay is refused; the TP must still be on its working keys.
    auto genuine = w.send_cws(*b, sample_cws(0x03), w.t0 + 13s);
    if (genuine.refused) return succeeded("the TP dropped its working keys for a run that never completed");
    return refused(*replayed.error, "TP");
  }
  if (how == Rollback::no_key) {
    auto genuine = w.send_cws(*b, sample_cws(0x03), w.t0 + 13s);
    auto again = tp.receive(old_cw.message, w.t0 + 14s);
    return succeeded(
        fmt::format("the TP went back to the recorded run's keys: its SM's control words are refused "
                    "({}) and a recorded ControlWord is accepted again ({})",
                    genuine.refused ? errc_name(genuine.refused->code) : "accepted",
                    again.error ? errc_name(again.error->code) : "accepted"));
  }
  // The old run's keys (leaked, or computed with Prv(TP)): the attacker's control words go in.
  auto keys = keys_from_cwek_gen_info(info1, tp_key(1), sm_id(1), tp_id(1)).value();
  auto mine = tp.receive(attacker_cws(view(keys.cwek), view(keys.hmac_key), 0x66, w.t0 + 15s).value(), w.t0 + 15s);
  if (mine.error) return refused(*mine.error, "TP");
  return succeeded(how == Rollback::tp_key
                       ? "with Prv(TP) alone, the TP installed the attacker's control words as if from its SM"
                       : "with the old run's keys, the TP installed the attacker's control words");
}

// ---- Forward secrecy: a recording, and a long-term key leaked later ----

enum class Leak { tp, sm, ap };

Result<Verdict> recorded_cws_after_leak(Profile p, Leak leak) {
  World w(p);
  auto b = paired_box(w);
  if (!w.established(*b)) return missing("paired box");
  auto cw = w.send_cws(*b, sample_cws(0x77), w.t0 + 1s);
  const auto s = b->session;
  if (p == koo) {
    SecureBytes cwek;
    if (leak == Leak::tp) {
      cwek = keys_from_cwek_gen_info(*w.recorded(Step::cwek_gen_info, s), tp_key(1), sm_id(1), tp_id(1)).value().cwek;
    } else {
      auto plain = leak == Leak::sm ? kpk_from_response(*w.recorded(Step::key_response_ap, s), sm_key(1))
                                    : [&]() -> Result<SignedKpk> {
        DCAS_TRY_ASSIGN(m, protocol::decode_as<wire::KeyResponseFromTa>(*w.recorded(Step::key_response_ta, s)));
        DCAS_TRY_ASSIGN(kpk, crypto::oaep_decrypt(ap_key(), m.second.encrypted_kpk));
        return SignedKpk{std::move(kpk), {}};
      }();
      if (!plain) return refused(plain.error(), "offline");
      cwek = protocol::derive_cwek(view(plain->kpk), sm_id(1), tp_id(1)).value();
    }
    auto cws = decrypt_cw(view(cwek), cw.message);
    if (!cws || !same_cws(*cws, sample_cws(0x77))) return refused(Error{Errc::decrypt_failed, "no CWs"}, "offline");
    return succeeded("decrypted the recorded control words with a key leaked after the run");
  }
  const auto statement = statement_of(*w.recorded(Step::key_response_ap, s)).value();
  auto st = protocol::open_statement(statement, ta_key().public_key()).value();
  const auto& key = leak == Leak::tp ? tp_key(1) : leak == Leak::sm ? sm_key(1) : ap_key();
  auto kpk = crypto::oaep_decrypt(key, leak == Leak::tp ? st.kpk_for_tp : st.kpk_for_sm);
  if (!kpk) return refused(Error{Errc::decrypt_failed, "the AP's key opens no KPK"}, "offline");
  return open_with_guessed_secret(view(*kpk), statement, w, s, cw.message);
}

// ---- Key control ----

// The SM (its owner holds Prv(SM)) imposes keys on its TP: a RANDHMAC of its choice, or the KPK of
// an earlier run.
Result<Verdict> sm_imposes_keys(Profile p, bool old_kpk) {
  World w(p);
  auto b = w.box(1, 1);
  std::optional<Bytes> earlier;
  if (old_kpk) {
    w.announce(*b, w.t0);
    earlier = w.recorded(Step::key_response_ap, b->session);
  }
  const Bytes chosen(20, 0x00);
  if (p == koo) {
    w.net.tamper = [&](protocol::Hop& hop) {
      if (wire::decode_header(hop.bytes)->type != static_cast<std::uint8_t>(MessageType::cwek_gen_info)) return;
      auto response = old_kpk ? *earlier : *w.recorded(Step::key_response_ap, b->session);
      auto kpk = kpk_from_response(response, sm_key(1)).value();
      hop.bytes = forge_cwek_gen_info(kpk, chosen, tp_key(1).public_key(), sm_key(1), w.rng()).value();
    };
  } else if (old_kpk) {
    // hardened1: the SM puts the earlier run's statement (and its KPK) in this run's CWEKGenInfo.
    w.net.tamper = [&](protocol::Hop& hop) {
      if (wire::decode_header(hop.bytes)->type != static_cast<std::uint8_t>(MessageType::cwek_gen_info_h1)) return;
      auto statement = statement_of(*earlier).value();
      auto st = protocol::open_statement(statement, ta_key().public_key()).value();
      auto kpk = crypto::oaep_decrypt(sm_key(1), st.kpk_for_sm).value();
      hop.bytes =
          forge_cwek_gen_info_h1(*w.recorded(Step::tp_cert_req, b->session), *w.recorded(Step::tp_cert_rsp, b->session),
                                 statement, view(kpk), sm_key(1), w.rng())
              .value();
    };
  }
  const std::size_t before = w.net.failures.size();
  if (old_kpk)
    w.power_up(*b, w.t0 + 10s);
  else
    w.announce(*b, w.t0);
  w.net.tamper = nullptr;
  if (auto f = w.failure_since(before); f && f->at == Role::tp) return refused(*f);
  // The keys the SM wanted: the paper's derivations over its own choice.
  auto kpk = kpk_from_response(old_kpk ? *earlier : *w.recorded(Step::key_response_ap, b->session), sm_key(1));
  SecureBytes cwek(16, 0x5a), hmac(20, 0x5a);  // hardened1: the SM's preselected keys
  if (kpk) {
    cwek = protocol::derive_cwek(view(kpk->kpk), sm_id(1), tp_id(1)).value();
    hmac = protocol::derive_hmac_key(chosen, sm_id(1), tp_id(1)).value();
  }
  auto mine = b->tp->receive(attacker_cws(view(cwek), view(hmac), 0x66, w.t0 + 20s).value(), w.t0 + 20s);
  if (mine.error) return refused(*mine.error, "TP");
  return succeeded(old_kpk ? "the TP took the CWEK of an earlier run again, from an old TA-signed KPK"
                           : "the TP keyed its CW channel with the HMAC_KEY the SM chose (RANDHMAC alone)");
}

// ---- Freshness toward the SM ----

Result<Verdict> stale_response_to_sm(Profile p, bool failure) {
  World w(p);
  auto home = paired_box(w);
  if (!w.established(*home)) return missing("paired box");
  Bytes stale = *w.recorded(Step::key_response_ap, home->session);
  if (failure) {  // a refusal: the SM tried another box's TP once
    auto other = w.box(1, 2);
    w.move_sm(*home, *other);
    w.power_up(*other, w.t0 + 20s);
    stale = *w.recorded(Step::key_response_ap, other->session);
  }
  w.leave(*home, w.t0 + 30s);
  const auto response_type = static_cast<std::uint8_t>(type_of_step(p, Step::key_response_ap));
  w.net.tamper = [&](protocol::Hop& hop) {
    if (hop.session == home->session && wire::decode_header(hop.bytes)->type == response_type) hop.bytes = stale;
  };
  const std::size_t before = w.net.failures.size();
  w.power_up(*home, w.t0 + 60s);
  w.net.tamper = nullptr;
  auto f = w.failure_since(before);
  if (failure) {
    if (f && f->at == Role::sm && f->error.code == Errc::pairing_refused)
      return succeeded("the SM took a recorded refusal as the TA's answer and stopped (pairing_refused)");
    return f ? refused(*f) : missing("refusal");
  }
  if (w.established(*home)) return succeeded("the SM and TP established keys from an earlier run's KPK again");
  return f ? refused(*f) : missing("failure");
}

// ---- Freshness toward the TA ----

// A box pairs and leaves; minutes later its recorded request is replayed (through the AP, or on
// the AP-TA link) and the attacker's connection stays open; then the real box comes back.
Result<Verdict> replayed_request_lockout(Profile p, bool on_ta_link) {
  World w(p);
  auto b = paired_box(w);
  if (!w.established(*b)) return missing("paired box");
  auto request = *w.recorded(on_ta_link ? Step::key_request_ap : Step::key_request_sm, b->session);
  w.leave(*b, w.t0 + 60s);
  const TimePoint later = w.t0 + 15min;
  if (on_ta_link) {
    auto out = w.ta.receive(999, request, later);
    if (out.error) return refused(*out.error, "TA");
  } else if (auto f = w.through_ap(999, request, later)) {
    return refused(*f);
  }
  const std::size_t before = w.net.failures.size();
  w.power_up(*b, later + 1min);
  if (w.established(*b)) return refused(Error{Errc::ok, "the real box paired"}, "nobody");
  auto f = w.failure_since(before);
  return succeeded(fmt::format("the replay re-validated the pair: the real box is refused ({})",
                               f ? f->error.message() : "no answer"));
}

// ---- The TP_ID half of the pair ----

Result<Verdict> victim_tp_bound(Profile p) {
  World w(p);
  auto victim = w.box(2, 2);    // a virgin box, never seen by the attacker
  auto attacker = w.box(3, 3);  // a genuine virgin SM in the attacker's box
  const Bytes victim_cert = w.tp_certificate(2).der();
  const auto rsp_type = static_cast<std::uint8_t>(type_of_step(p, Step::tp_cert_rsp));
  w.net.tamper = [&](protocol::Hop& hop) {
    if (hop.session != attacker->session || wire::decode_header(hop.bytes)->type != rsp_type) return;
    if (p == koo) {
      hop.bytes = wire::encode({koo, wire::TpCertRsp{victim_cert}, {}});
      return;
    }
    // The attacker cannot sign as the victim's TP: its best is its own TP's key.
    auto m = protocol::decode_as<wire::TpCertRspH1>(hop.bytes).value();
    m.second.tp_certificate = victim_cert;
    hop.bytes = protocol::sign_and_encode({p, m.second, {}}, tp_key(3), w.rng()).value();
  };
  const std::size_t before = w.net.failures.size();
  w.announce(*attacker, w.t0);
  w.net.tamper = nullptr;
  const auto bound = w.store.find_tp(tp_id(2)).value();
  if (!bound || bound->bound_sm != sm_id(3)) {
    auto f = w.failure_since(before);
    return f ? refused(*f) : missing("failure");
  }
  w.announce(*victim, w.t0 + 30s);
  auto f = w.failure_since(before);
  return succeeded(fmt::format("the victim's TP is bound to the attacker's SM; the victim's own pair is refused ({})",
                               w.established(*victim) ? "no: it paired" : "pairing_refused"));
}

// ---- The AP-TA link ----

Result<Verdict> replayed_presence_left(Profile p) {
  World w(p);
  auto original = paired_box(w);
  if (!w.established(*original)) return missing("paired box");
  // The original leaves once (its AP's report recorded), comes back, and is online.
  Bytes left;
  for (auto& m : w.ap.close_session(original->session, w.t0 + 60s).messages) {
    if (m.to != Role::ta) continue;
    left = m.bytes;
    (void)w.ta.receive(0, m.bytes, w.t0 + 60s);
  }
  w.power_up(*original, w.t0 + 90s);
  if (!w.established(*original) || left.empty()) return missing("returning box");
  // A perfect clone (copies of the same SM and TP) is refused while the original is online ...
  auto clone = w.box(1, 1);
  w.move_sm(*original, *clone);
  w.power_up(*clone, w.t0 + 100s);
  if (w.established(*clone)) return missing("refusal of the clone");
  // ... until the recorded report is replayed to the TA.
  auto out = w.ta.receive(0, left, w.t0 + 110s);
  if (out.error) return refused(*out.error, "TA");
  const std::size_t before = w.net.failures.size();
  w.power_up(*clone, w.t0 + 120s);
  if (!w.established(*clone)) {
    auto f = w.failure_since(before);
    return f ? refused(*f) : missing("failure");
  }
  return succeeded("a replayed HostPresence(left) let a clone pair while the original box is online");
}

// ---- What holds ----

Result<Verdict> forged_sm(Profile p) {
  World w(p);
  auto rogue_root = pki::make_root(sm_key(0), "Rogue TA", {w.t0 - 1h, w.t0 + 1h}, w.rng()).value();
  auto forged = pki::issue_device(sm_key(0), rogue_root, Role::sm, sm_id(1).view(), sm_key(0).public_key(),
                                  {w.t0 - 1h, w.t0 + 1h}, w.rng())
                    .value();
  auto b = w.box(1, 1);
  const Bytes req = p == koo ? wire::encode({p, wire::TpCertReq{forged.der()}, {}})
                             : wire::encode({p, wire::TpCertReqH1{Bytes(32, 7), forged.der()}, {}});
  auto out = b->tp->receive(req, w.t0);
  if (out.error) return refused(*out.error, "TP");
  return succeeded("the TP accepted an SM certificate the TA never issued");
}

Result<Verdict> sm_asks_for_another(Profile p) {
  World w(p);
  auto other = paired_box(w, 2, 2);
  auto b = w.box(1, 1);
  Bytes request;
  if (p == koo) {
    auto kpid = protocol::key_pairing_id(sm_id(2), tp_id(2));
    auto encrypted = crypto::oaep_encrypt(ap_key().public_key(), kpid, w.rng()).value();
    request = protocol::sign_and_encode({p, wire::KeyRequestFromSm{encrypted, {}, w.sm_certificate(1).der()}, {}},
                                        sm_key(1), w.rng())
                  .value();
  } else {  // the other box's TP answer, which names SM 2
    auto hello = *w.recorded(Step::tp_cert_rsp, other->session);
    request = protocol::sign_and_encode(
                  {p, wire::KeyRequestFromSmH1{protocol::to_unix_ms(w.t0), hello, {}, w.sm_certificate(1).der()}, {}},
                  sm_key(1), w.rng())
                  .value();
  }
  if (auto f = w.through_ap(b->session, request, w.t0 + 1s)) return refused(*f);
  return succeeded("an SM obtained a validation for another SM's pair");
}

Result<Verdict> clone_with_other_tp(Profile p) {
  World w(p);
  auto home = paired_box(w);
  auto clone = w.box(1, 2);
  w.move_sm(*home, *clone);
  const std::size_t before = w.net.failures.size();
  w.power_up(*clone, w.t0 + 30s);
  if (w.established(*clone)) return succeeded("the TA validated an SM with a TP it is not bound to");
  auto f = w.failure_since(before);
  return f ? refused(*f) : missing("failure");
}

// SM-side key-compromise impersonation: with Prv(SM) the attacker plays the SM's TP (TP 1) to it.
Result<Verdict> impersonate_tp_to_sm(Profile p) {
  World w(p);
  auto b = w.box(1, 3);  // the attacker's TP 3 sits on the bus, presenting TP 1's certificate
  const Bytes tp1_cert = w.tp_certificate(1).der();
  (void)w.box(2, 1);  // registers TP 1
  const auto rsp_type = static_cast<std::uint8_t>(type_of_step(p, Step::tp_cert_rsp));
  w.net.tamper = [&](protocol::Hop& hop) {
    if (wire::decode_header(hop.bytes)->type != rsp_type || hop.session != b->session) return;
    if (p == koo) {
      hop.bytes = wire::encode({koo, wire::TpCertRsp{tp1_cert}, {}});
    } else {
      auto m = protocol::decode_as<wire::TpCertRspH1>(hop.bytes).value();
      m.second.tp_certificate = tp1_cert;
      hop.bytes = protocol::sign_and_encode({p, m.second, {}}, tp_key(3), w.rng()).value();
    }
  };
  const std::size_t before = w.net.failures.size();
  w.announce(*b, w.t0);
  w.net.tamper = nullptr;
  if (b->sm->state() != protocol::SecureMicro::State::awaiting_key_confirmation) {
    auto f = w.failure_since(before);
    return f ? refused(*f) : missing("failure");
  }
  // koo2010: the attacker knows the KPK (Prv(SM)) but must sign the confirmation as TP 1.
  auto kpk = kpk_from_response(*w.recorded(Step::key_response_ap, b->session), sm_key(1)).value();
  auto cwek = protocol::derive_cwek(view(kpk.kpk), sm_id(1), tp_id(1)).value();
  const auto h = crypto::sha256(view(cwek));
  auto encrypted = crypto::oaep_encrypt(sm_key(1).public_key(), concat({h, h}), w.rng()).value();
  auto cnfm = protocol::sign_and_encode({koo, wire::CwekGenInfoCnfm{encrypted, {}}, {}}, tp_key(3), w.rng()).value();
  auto out = b->sm->receive(Role::tp, cnfm, w.t0 + 1s);
  if (out.error) return refused(*out.error, "SM");
  return succeeded("the SM confirmed keys with an impersonated TP");
}

// Unknown key-share: the attacker, a genuine SM 3 owner, makes TP 1 believe it shares its keys with
// SM 3 while SM 1 believes it shares them with TP 1.
Result<Verdict> unknown_key_share(Profile p) {
  World w(p);
  auto b = w.box(1, 1);
  (void)w.box(3, 3);
  const Bytes sm3_cert = w.sm_certificate(3).der();
  const auto req_type = static_cast<std::uint8_t>(type_of_step(p, Step::tp_cert_req));
  const auto info_type = static_cast<std::uint8_t>(type_of_step(p, Step::cwek_gen_info));
  w.net.tamper = [&](protocol::Hop& hop) {
    const auto type = wire::decode_header(hop.bytes)->type;
    if (type == req_type) {
      if (p == koo) {
        hop.bytes = wire::encode({koo, wire::TpCertReq{sm3_cert}, {}});
      } else {
        auto m = protocol::decode_as<wire::TpCertReqH1>(hop.bytes).value();
        m.second.sm_certificate = sm3_cert;
        hop.bytes = wire::encode({p, m.second, {}});
      }
    } else if (type == info_type) {  // the SM's message, signed again as SM 3
      auto m = wire::decode(hop.bytes).value();
      hop.bytes = protocol::sign_and_encode({p, m.body, {}}, sm_key(3), w.rng()).value();
    }
  };
  const std::size_t before = w.net.failures.size();
  w.announce(*b, w.t0);
  w.net.tamper = nullptr;
  if (w.established(*b)) return succeeded("the SM and the TP confirmed keys each believes it shares with another");
  auto f = w.failure_since(before);
  return f ? refused(*f) : missing("failure");
}

Result<Verdict> cw_replay(Profile p, bool reorder) {
  World w(p);
  auto b = paired_box(w);
  if (!w.established(*b)) return missing("paired box");
  auto first = w.send_cws(*b, sample_cws(1), w.t0 + 1s);
  Bytes again = first.message;
  if (reorder) {  // the attacker holds back message 2, lets 3 through, then delivers 2
    auto second = b->sm->seal_control_words(sample_cws(2), w.t0 + 2s).value();
    again.assign(second.begin(), second.end());
    (void)w.send_cws(*b, sample_cws(3), w.t0 + 3s);
  }
  auto out = b->tp->receive(again, w.t0 + 4s);
  if (out.error) return refused(*out.error, "TP");
  return succeeded("the TP installed a replayed or reordered ControlWord");
}

Result<Verdict> downgrade(Profile p) {
  World w(p);
  auto b = paired_box(w);
  const Bytes cert = w.sm_certificate(1).der();
  const Bytes other = p == koo ? wire::encode({Profile::hardened1, wire::TpCertReqH1{Bytes(32, 1), cert}, {}})
                               : wire::encode({koo, wire::TpCertReq{cert}, {}});
  auto out = b->tp->receive(other, w.t0 + 1s);
  if (out.error) return refused(*out.error, "TP");
  return succeeded("the TP started the other profile's handshake");
}

// ---- Revocation (docs/spec.md §18) ----

// A paired box whose SM the operator revoked while its host was away; the network's AP has not
// fetched the CRL yet, so only the TA's store knows. Null when the box did not pair.
std::unique_ptr<InProcessHost> box_with_revoked_sm(World& w) {
  auto b = paired_box(w);
  if (!w.established(*b)) return nullptr;
  w.leave(*b, w.t0 + 10s);
  w.store.revoke(Role::sm, sm_id(1).view(), w.crl_revoking(1, {b->sm->certificate()}).der());
  return b;
}

// The revoked SM's host comes back.
Result<Verdict> revoked_sm_rejoins(Profile p) {
  World w(p);
  auto b = box_with_revoked_sm(w);
  if (!b) return missing("paired box");
  const std::size_t before = w.net.failures.size();
  w.power_up(*b, w.t0 + 20s);
  if (w.established(*b)) return succeeded("the TA validated a revoked SM: new CW keys");
  auto f = w.failure_since(before);
  return f ? refused(*f) : missing("failure");
}

// The revoked SM's host does what koo2010 lets it: the TA answers the rejoin with an error and no
// KeyResponse, and the host hands the waiting SM the KeyResponse of its last run instead.
Result<Verdict> revoked_sm_replays_response(Profile p) {
  World w(p);
  auto b = box_with_revoked_sm(w);
  if (!b) return missing("paired box");
  const Bytes stale = *w.recorded(Step::key_response_ap, b->session);
  w.power_up(*b, w.t0 + 20s);  // the TA refuses: cert_revoked
  if (w.established(*b)) return succeeded("the TA validated a revoked SM: new CW keys");
  const std::size_t before = w.net.failures.size();
  protocol::Output replay;
  replay.send(Role::sm, stale, b->session);
  w.net.run(*b, Role::ap, std::move(replay), w.t0 + 25s);
  if (w.established(*b))
    return succeeded("the revoked SM and its TP keyed up again from the SM's recorded KeyResponse");
  auto f = w.failure_since(before);
  return f ? refused(*f) : missing("failure");
}

// A modified SM ignores the CRL that revokes it and goes on sending control words; the TP, a
// genuine chip, reads the CRL the host hands it from the same announcement.
Result<Verdict> revoked_sm_keeps_sending(Profile p) {
  World w(p);
  auto b = paired_box(w);
  if (!w.established(*b)) return missing("paired box");
  const auto crl = w.crl_revoking(1, {b->sm->certificate()});
  (void)b->tp->update_crl(crl.der());  // the SM never looks at it
  const auto d = w.send_cws(*b, sample_cws(9), w.t0 + 5s);
  if (!d.refused) return succeeded("the TP installed control words from a revoked SM");
  return refused(*d.refused, "TP");
}

// The SM holds CRL 2, which revokes its TP; the attacker's box (whose revoked TP ignores CRLs)
// replays an announcement the AP signed when CRL 1 (which does not) was current, so that the SM
// pairs with the revoked TP again.
Result<Verdict> crl_rollback(Profile p) {
  World w(p);
  auto b = w.box(1, 1);
  w.ap.update_crl(w.crl_revoking(1, {}).der(), w.t0);
  const Bytes old_announce = w.ap.security_announce(Bytes(8, 'N'), 0).value();
  w.ap.update_crl(w.crl_revoking(2, {b->tp->certificate()}).der(), w.t0);
  // CRL 2 reaches the SM alone: the attacker's host keeps it from the TP and drops the SM's answer.
  (void)b->sm->receive(Role::ap, w.ap.security_announce(Bytes(8, 'N'), 0).value(), w.t0);
  if (b->sm->crl_number() != std::optional<std::uint64_t>(2)) return missing("CRL 2 at the SM");
  const std::size_t before = w.net.failures.size();
  protocol::Output replay;
  replay.send(Role::sm, old_announce, b->session);
  w.net.run(*b, Role::ap, std::move(replay), w.t0 + 5s);
  w.power_up(*b, w.t0 + 10s);
  if (w.established(*b)) return succeeded("the old CRL replaced the newer one: the SM paired with a revoked TP");
  auto f = w.failure_since(before);
  return f ? refused(*f) : missing("failure");
}

constexpr Expected wins{true, Errc::ok, ""};
constexpr Expected by(Errc e, std::string_view role) { return {false, e, role}; }

}  // namespace

const std::vector<Scenario>& scenarios() {
  using E = Errc;
  static const std::vector<Scenario> all = {
      {"sm-sharing-replay", "SM-TP pairing (V.1): a pair once bound is never changed",
       "a moved SM and its own recorded KeyResponse; no key", wins, by(E::id_mismatch, "SM"),
       [](Profile p) { return moved_sm_with_replayed_response(p, 2, false); }},
      {"sm-sharing-own-tp", "SM-TP pairing (V.1); CWs secret on the bus",
       "a moved SM, its recorded KeyResponse and a TP of the attacker's own (its key)", wins, by(E::id_mismatch, "SM"),
       [](Profile p) { return moved_sm_with_replayed_response(p, 3, true); }},
      {"leaked-sm-key-any-tp", "Indirect connection TA-TP (V.2): the TP gets no forged KPK from the SM",
       "Prv(SM) and one old (KPK, TA signature) of that SM", wins, by(E::id_mismatch, "TP"), leaked_sm_key_any_tp},
      {"tp-rollback-replay", "Known-key security (V.2): a unique CWEK for every session",
       "a recording of the bus; no key", wins, by(E::not_fresh, "TP"),
       [](Profile p) { return roll_tp_back(p, Rollback::no_key); }},
      {"tp-rollback-leaked-keys", "Known-key security (V.2)", "a recording and one old run's CWEK and HMAC_KEY", wins,
       by(E::not_fresh, "TP"), [](Profile p) { return roll_tp_back(p, Rollback::old_keys_leaked); }},
      {"tp-kci", "Key-compromise impersonation (V.2): a leaked key of A does not let one impersonate others to A",
       "Prv(TP) and a recording", wins, by(E::not_fresh, "TP"),
       [](Profile p) { return roll_tp_back(p, Rollback::tp_key); }},
      {"fs-leak-tp-key", "Perfect forward secrecy (V.2)", "a recording; Prv(TP) leaked after the run", wins,
       by(E::mac_invalid, "offline"), [](Profile p) { return recorded_cws_after_leak(p, Leak::tp); }},
      {"fs-leak-sm-key", "Perfect forward secrecy (V.2)", "a recording; Prv(SM) leaked after the run", wins,
       by(E::mac_invalid, "offline"), [](Profile p) { return recorded_cws_after_leak(p, Leak::sm); }},
      {"fs-leak-ap-key", "Perfect forward secrecy (V.2); the AP holds no KPK",
       "a recording; the AP's key leaked (or a curious headend)", wins, by(E::decrypt_failed, "offline"),
       [](Profile p) { return recorded_cws_after_leak(p, Leak::ap); }},
      {"key-control-randhmac", "Key control (V.2): no entity forces the keys to a preselected value",
       "the SM's own key (a modified SM)", wins, by(E::mac_invalid, "TP"),
       [](Profile p) { return sm_imposes_keys(p, false); }},
      {"key-control-old-kpk", "Key control (V.2); known-key security", "Prv(SM) and an earlier run's KeyResponse", wins,
       by(E::not_fresh, "TP"), [](Profile p) { return sm_imposes_keys(p, true); }},
      {"stale-failure-response", "Freshness toward the SM: a refusal is the TA's answer to this run",
       "a recorded refusal; no key", wins, by(E::id_mismatch, "SM"),
       [](Profile p) { return stale_response_to_sm(p, true); }},
      {"stale-success-response", "Freshness toward the SM: a KPK is for this run only",
       "a recorded KeyResponse; no key", wins, by(E::not_fresh, "SM"),
       [](Profile p) { return stale_response_to_sm(p, false); }},
      {"replayed-key-request-lockout", "Freshness toward the TA: a request is validated once",
       "a 15-minute-old recorded KeyRequest (SM->AP); no key", wins, by(E::not_fresh, "TA"),
       [](Profile p) { return replayed_request_lockout(p, false); }},
      {"victim-tp-binding", "Disclosed SM_ID and TP_ID threat (V.2): IDs are authenticated",
       "a genuine SM and a victim's public Cert(TP)", wins, by(E::signature_invalid, "SM"), victim_tp_bound},
      {"link-no-proof-of-possession", "The AP-TA link (our design): only the AP holding its key is admitted",
       "the AP's public certificate; a key and a certificate of its own for the AP's ID", by(E::net_tls, "TA"),
       by(E::net_tls, "TA"), link_without_key},
      {"link-replayed-presence-left", "The AP-TA link: a report counts once",
       "a recorded HostPresence(left); a clone box", by(E::not_fresh, "TA"), by(E::not_fresh, "TA"),
       replayed_presence_left},
      {"link-replayed-key-request", "The AP-TA link: a request is validated once",
       "a 15-minute-old recorded KeyRequest (AP->TA)", by(E::not_fresh, "TA"), by(E::not_fresh, "TA"),
       [](Profile p) { return replayed_request_lockout(p, true); }},
      {"forged-sm", "Disclosed SM_ID threat (V.2): an SM is what the TA certified", "a certificate of its own making",
       by(E::cert_foreign, "TP"), by(E::cert_foreign, "TP"), forged_sm},
      {"sm-asks-for-another", "Disclosed SM_ID threat (V.2): an SM asks only for itself",
       "Prv(SM) and another box's recording", by(E::id_mismatch, "AP"), by(E::id_mismatch, "AP"), sm_asks_for_another},
      {"clone-with-other-tp", "SM-TP pairing (V.1): the TA's pair check", "a copy of a paired SM in another box",
       by(E::pairing_refused, "SM"), by(E::pairing_refused, "SM"), clone_with_other_tp},
      {"sm-kci", "Key-compromise impersonation (V.2), SM side: Prv(SM) does not let one play a TP to the SM",
       "Prv(SM), a TP of its own", by(E::signature_invalid, "SM"), by(E::signature_invalid, "SM"),
       impersonate_tp_to_sm},
      {"unknown-key-share", "Unknown key-share (V.2): key confirmation", "a genuine SM of its own (its key)",
       by(E::decrypt_failed, "SM"), by(E::id_mismatch, "SM"), unknown_key_share},
      {"cw-replay", "The CW channel: a ControlWord counts once", "a recording of the bus", by(E::cw_replayed, "TP"),
       by(E::cw_replayed, "TP"), [](Profile p) { return cw_replay(p, false); }},
      {"cw-reorder", "The CW channel: ControlWords in order", "the bus, holding a message back",
       by(E::cw_replayed, "TP"), by(E::cw_replayed, "TP"), [](Profile p) { return cw_replay(p, true); }},
      {"downgrade", "Profiles: a device runs one handshake only", "the bus; the other profile's messages",
       by(E::profile_mismatch, "TP"), by(E::profile_mismatch, "TP"), downgrade},
      {"revoked-sm-rejoins", "Revocation (our design): a revoked SM gets no new CW keys",
       "a revoked SM in its own box, before the AP has the CRL", by(E::cert_revoked, "TA"), by(E::cert_revoked, "TA"),
       revoked_sm_rejoins},
      {"revoked-sm-replays-response", "Revocation: a revoked SM gets no new CW keys, whatever its host replays",
       "a revoked SM in its own box, before the AP has the CRL; the KeyResponse of its last run", wins,
       by(E::not_fresh, "SM"), revoked_sm_replays_response},
      {"revoked-sm-keeps-sending", "Revocation: a revoked SM's control words stop at the next announcement",
       "a revoked SM modified to ignore the CRL", by(E::cert_revoked, "TP"), by(E::cert_revoked, "TP"),
       revoked_sm_keeps_sending},
      {"crl-rollback", "Revocation: an older CRL never replaces a newer one",
       "an announcement recorded when an older CRL was current", by(E::cert_revoked, "SM"), by(E::cert_revoked, "SM"),
       crl_rollback},
      {"link-revoked-ap", "Revocation: the TA admits no revoked AP", "a revoked AP's key and certificate",
       by(E::cert_revoked, "TA"), by(E::cert_revoked, "TA"), link_revoked_ap},
  };
  return all;
}

const Scenario* find_scenario(std::string_view name) {
  for (const auto& s : scenarios())
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace dcas::attack
