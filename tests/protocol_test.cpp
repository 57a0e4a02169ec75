// The SM-TP security protocol end to end in one process (paper section IV), and for every check a
// run where exactly that check fails and the protocol stops with its error.
#include <fmt/format.h>

#include "crypto/hash.h"
#include "protocol/derivation.h"
#include "protocol_support.h"

namespace dcas {
namespace {

using namespace test;
using protocol::Hop;
using protocol::PairingState;
using SmState = protocol::SecureMicro::State;
using TpState = protocol::TransportProcessor::Handshake;
using wire::MessageType;

// Replaces a message in flight by `edit(body)` re-signed with `signer`: a peer that holds the right
// key but sends the wrong content (the BoringSSL "ProtocolBugs" idea).
template <typename T>
std::function<void(Hop&)> rewrite(MessageType type, const std::string& signer, std::function<void(T&)> edit) {
  return [=](Hop& hop) {
    if (type_of(hop) != type) return;
    auto decoded = protocol::decode_as<T>(hop.bytes).value();
    edit(decoded.second);
    crypto::SeededRandom rng(view("rewrite"));
    hop.bytes = protocol::sign_and_encode({wire::Profile::koo2010, decoded.second, {}}, key(signer), rng).value();
  };
}

// Flips one bit of the message of `type` at `offset` from the end (inside its signature).
std::function<void(Hop&)> flip_signature(MessageType type, std::size_t from_end = 20) {
  return [=](Hop& hop) {
    if (type_of(hop) != type) return;
    // The signature is the last field but for KeyRequest (SM->AP), whose certificate follows it.
    auto m = wire::decode(hop.bytes).value();
    const Bytes auth = m.authenticated;
    hop.bytes[auth.size() + 4 + 4 + 256 - from_end] ^= 0x01;  // header 8, tag+len 4: inside the signature value
  };
}

Bytes garbage_rsa_block() { return Bytes(256, 0x42); }

struct ProtocolTest : ::testing::Test {
  Deployment d;
  std::unique_ptr<protocol::InProcessHost> h = d.host("5300000000000001", "5400000000000001");

  void expect_stopped_with(Role at, Errc code) {
    auto f = d.first_failure();
    ASSERT_TRUE(f.has_value()) << "no failure recorded";
    EXPECT_EQ(f->at, at) << f->error.message();
    EXPECT_EQ(f->error.code, code) << f->error.message();
    EXPECT_FALSE(d.established(*h));
  }
};

// ---- The whole protocol ----

TEST_F(ProtocolTest, VirginPairCompletesAllThreePhases) {
  d.announce(*h);
  ASSERT_TRUE(d.net.failures.empty()) << d.net.failures.front().error.message();
  ASSERT_TRUE(d.established(*h));
  std::vector<MessageType> order;
  for (const auto& hop : d.net.transcript) order.push_back(type_of(hop));
  EXPECT_EQ(order, (std::vector<MessageType>{
                       MessageType::security_announce, MessageType::tp_cert_req, MessageType::tp_cert_rsp,
                       MessageType::key_request_sm, MessageType::key_request_ap, MessageType::key_response_ta,
                       MessageType::key_response_ap, MessageType::cwek_gen_info, MessageType::cwek_gen_info_cnfm}));
  const auto sm = d.store.find_sm(h->sm->id()).value().value();
  EXPECT_EQ(sm.psi, PairingState::auth_paired);
  EXPECT_EQ(sm.bound_tp, h->tp->id());
  EXPECT_EQ(d.store.find_tp(h->tp->id()).value()->bound_sm, h->sm->id());
  // The TP stored the SM it verified in its secure memory (initialization step 2).
  EXPECT_EQ(to_hex(h->tp_memory.load()->sm_id), "5300000000000001");
  EXPECT_EQ(to_hex(h->sm_memory.load()->tp_id), "5400000000000001");
}

TEST_F(ProtocolTest, ControlWordsReachTheTp) {
  d.announce(*h);
  ASSERT_TRUE(d.established(*h));
  protocol::ControlWords cws;
  cws.cw_length = 8;
  cws.odd = std::array<std::uint8_t, 16>{1, 2, 3, 4, 5, 6, 7, 8};
  cws.even = std::array<std::uint8_t, 16>{9, 9, 9, 9, 9, 9, 9, 9};
  const auto msg = h->sm->seal_control_words(cws, t0).value();
  const auto out = h->tp->receive(msg, t0 + 5ms);
  ASSERT_TRUE(out.ok()) << out.error->message();
  EXPECT_EQ(h->tp->control_word(protocol::Parity::odd), cws.odd);
  EXPECT_EQ(h->tp->control_word(protocol::Parity::even), cws.even);
  EXPECT_EQ(h->tp->control_word_length(), 8);
}

TEST(Protocol, ManyPairsEachGetTheirOwnKeys) {
  Deployment d;
  std::vector<std::unique_ptr<protocol::InProcessHost>> hosts;
  for (int i = 0; i < 12; ++i) {
    // Keys are shared between devices here only to keep the test fast; IDs and certificates differ.
    hosts.push_back(d.host(fmt::format("53000000000001{:02x}", i), fmt::format("54000000000001{:02x}", i),
                           i % 2 ? "sm1" : "sm2", i % 2 ? "tp2" : "tp1"));
    d.announce(*hosts.back());
    ASSERT_TRUE(d.established(*hosts.back())) << i;
  }
  EXPECT_TRUE(d.net.failures.empty());
  // A CW message sealed for one pair does not open at another pair's TP: every CWEK differs.
  protocol::ControlWords cws;
  cws.even = std::array<std::uint8_t, 16>{7};
  const auto msg = hosts[0]->sm->seal_control_words(cws, t0).value();
  for (std::size_t i = 1; i < hosts.size(); ++i)
    EXPECT_EQ(hosts[i]->tp->receive(msg, t0).error->code, Errc::mac_invalid) << i;
  EXPECT_TRUE(hosts[0]->tp->receive(msg, t0).ok());
}

// ---- Initialization: certificates ----

TEST_F(ProtocolTest, TpRefusesAnSmCertificateFromAForeignTa) {
  auto foreign = pki::make_root(key("ta_foreign"), "DCAS Test TA", fixed_validity, d.pki_rng).value();
  auto foreign_sm = pki::issue_device(key("ta_foreign"), foreign, Role::sm, from_hex("5300000000000001").value(),
                                      key("sm1").public_key(), fixed_validity, d.pki_rng)
                        .value();
  d.net.tamper = [&](Hop& hop) {
    if (type_of(hop) == MessageType::tp_cert_req)
      hop.bytes = wire::encode({wire::Profile::koo2010, wire::TpCertReq{foreign_sm.der()}, {}});
  };
  d.announce(*h);
  expect_stopped_with(Role::tp, Errc::cert_foreign);
  EXPECT_EQ(h->tp->handshake(), TpState::stopped);
  EXPECT_FALSE(h->tp_memory.load().has_value());  // nothing stored from a refused certificate
}

TEST_F(ProtocolTest, TpRefusesAWrongRoleCertificate) {
  const auto tp_cert = d.certificate(Role::tp, "5300000000000001", "sm1");
  d.net.tamper = [&](Hop& hop) {
    if (type_of(hop) == MessageType::tp_cert_req)
      hop.bytes = wire::encode({wire::Profile::koo2010, wire::TpCertReq{tp_cert.der()}, {}});
  };
  d.announce(*h);
  expect_stopped_with(Role::tp, Errc::cert_wrong_role);
}

TEST_F(ProtocolTest, TpRefusesAnExpiredSmCertificate) {
  const auto expired = d.certificate(Role::sm, "5300000000000001", "sm1", {t0 - 48h, t0 - 24h});
  d.net.tamper = [&](Hop& hop) {
    if (type_of(hop) == MessageType::tp_cert_req)
      hop.bytes = wire::encode({wire::Profile::koo2010, wire::TpCertReq{expired.der()}, {}});
  };
  d.announce(*h);
  expect_stopped_with(Role::tp, Errc::cert_expired);
}

TEST_F(ProtocolTest, SmRefusesAnApCertificatePosingAsATp) {
  d.net.tamper = [&](Hop& hop) {
    if (type_of(hop) == MessageType::tp_cert_rsp)
      hop.bytes = wire::encode({wire::Profile::koo2010, wire::TpCertRsp{d.ap_cert.der()}, {}});
  };
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::cert_wrong_role);
  EXPECT_EQ(h->sm->state(), SmState::stopped);
}

TEST_F(ProtocolTest, SmRefusesAnExpiredTpCertificate) {
  const auto expired = d.certificate(Role::tp, "5400000000000001", "tp1", {t0 - 48h, t0 - 1s});
  d.net.tamper = [&](Hop& hop) {
    if (type_of(hop) == MessageType::tp_cert_rsp)
      hop.bytes = wire::encode({wire::Profile::koo2010, wire::TpCertRsp{expired.der()}, {}});
  };
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::cert_expired);
}

// ---- Pairing ----

TEST_F(ProtocolTest, ApRefusesABadSmSignature) {
  d.net.tamper = flip_signature(MessageType::key_request_sm);
  d.announce(*h);
  expect_stopped_with(Role::ap, Errc::signature_invalid);
  EXPECT_EQ(d.ap.pending_sessions(), 0u);
}

TEST_F(ProtocolTest, ApRefusesAForgedSmCertificateInTheClear) {
  // The certificate travels outside the signature; swapping in another SM's certificate fails the
  // signature check, because the signer's key is not the certificate's.
  const auto other = d.certificate(Role::sm, "5300000000000001", "sm2");
  d.net.tamper = [&](Hop& hop) {
    if (type_of(hop) != MessageType::key_request_sm) return;
    auto m = protocol::decode_as<wire::KeyRequestFromSm>(hop.bytes).value();
    m.second.sm_certificate = other.der();
    hop.bytes = wire::encode({wire::Profile::koo2010, m.second, {}});
  };
  d.announce(*h);
  expect_stopped_with(Role::ap, Errc::signature_invalid);
}

TEST_F(ProtocolTest, ApRefusesAKeyPairingIdForAnotherSm) {
  // A forged SM with a valid certificate of its own asks for a pair with a disclosed victim SM_ID.
  d.net.tamper = rewrite<wire::KeyRequestFromSm>(MessageType::key_request_sm, "sm1", [&](auto& body) {
    crypto::SeededRandom rng(view("x"));
    body.encrypted_key_pairing_id =
        crypto::oaep_encrypt(key("ap1").public_key(), from_hex("53000000000000995400000000000001").value(), rng)
            .value();
  });
  d.announce(*h);
  expect_stopped_with(Role::ap, Errc::id_mismatch);
}

TEST_F(ProtocolTest, ApRefusesAnUndecryptableKeyPairingId) {
  d.net.tamper = rewrite<wire::KeyRequestFromSm>(
      MessageType::key_request_sm, "sm1", [](auto& body) { body.encrypted_key_pairing_id = garbage_rsa_block(); });
  d.announce(*h);
  expect_stopped_with(Role::ap, Errc::decrypt_failed);
}

TEST_F(ProtocolTest, TaRefusesABadApSignature) {
  d.net.tamper = flip_signature(MessageType::key_request_ap);
  d.announce(*h);
  expect_stopped_with(Role::ta, Errc::signature_invalid);
  EXPECT_EQ(d.store.find_sm(h->sm->id()).value()->psi, PairingState::virgin);  // no transition
}

TEST_F(ProtocolTest, TaRefusesAnUnregisteredAp) {
  d.net.tamper = rewrite<wire::KeyRequestFromAp>(MessageType::key_request_ap, "ap1",
                                                 [](auto& body) { body.ap_id = from_hex("4100000000000099").value(); });
  d.announce(*h);
  expect_stopped_with(Role::ta, Errc::unknown_device);
}

TEST_F(ProtocolTest, TaRefusesAnUndecryptableKeyPairingId) {
  d.net.tamper = rewrite<wire::KeyRequestFromAp>(
      MessageType::key_request_ap, "ap1", [](auto& body) { body.encrypted_key_pairing_id = garbage_rsa_block(); });
  d.announce(*h);
  expect_stopped_with(Role::ta, Errc::decrypt_failed);
}

TEST_F(ProtocolTest, TaTerminatesForUnknownDevices) {
  Deployment fresh;
  auto unknown = fresh.host("5300000000000002", "5400000000000002", "sm1", "tp1", /*register_at_ta=*/false);
  fresh.announce(*unknown);
  auto f = fresh.first_failure();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->at, Role::ta);
  EXPECT_EQ(f->error.code, Errc::unknown_device);
  EXPECT_EQ(unknown->sm->state(), SmState::awaiting_key_response);  // no answer: the SM's caller times out
}

TEST_F(ProtocolTest, ApRefusesABadTaSignature) {
  d.net.tamper = flip_signature(MessageType::key_response_ta);
  d.announce(*h);
  expect_stopped_with(Role::ap, Errc::signature_invalid);
}

TEST_F(ProtocolTest, ApRefusesAnUndecryptableKpk) {
  d.net.tamper = rewrite<wire::KeyResponseFromTa>(MessageType::key_response_ta, "ta",
                                                  [](auto& body) { body.encrypted_kpk = garbage_rsa_block(); });
  d.announce(*h);
  expect_stopped_with(Role::ap, Errc::decrypt_failed);
}

TEST_F(ProtocolTest, SmRefusesABadApSignatureOnTheKeyResponse) {
  d.net.tamper = flip_signature(MessageType::key_response_ap);
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::signature_invalid);
}

TEST_F(ProtocolTest, SmRefusesAnUndecryptableKpk) {
  d.net.tamper = rewrite<wire::KeyResponseFromAp>(MessageType::key_response_ap, "ap1",
                                                  [](auto& body) { body.encrypted_kpk = garbage_rsa_block(); });
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::decrypt_failed);
}

TEST_F(ProtocolTest, SmRefusesAKpkWithoutAValidTaSignature) {
  // A compromised AP substitutes its own KPK, signing it with a key that is not the TA's.
  d.net.tamper = rewrite<wire::KeyResponseFromAp>(MessageType::key_response_ap, "ap1", [](auto& body) {
    crypto::SeededRandom rng(view("forged"));
    const Bytes kpk(20, 0x11);
    body.encrypted_kpk = crypto::oaep_encrypt(key("sm1").public_key(), kpk, rng).value();
    body.ta_kpk_signature = crypto::pss_sign(key("ta_foreign"), kpk, rng).value();
  });
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::signature_invalid);
  EXPECT_NE(d.first_failure()->error.detail.find("TA signature on the KPK"), std::string::npos);
}

TEST_F(ProtocolTest, SmStopsOnTheFailureKpk) {
  // The TP is bound elsewhere: the TA answers with twenty 0xFF bytes, signed.
  Deployment& dep = d;
  auto first = dep.host("5300000000000002", "5400000000000002", "sm2", "tp2");
  dep.announce(*first);
  ASSERT_TRUE(dep.established(*first));
  dep.net.clear();
  auto intruder = dep.host("5300000000000003", "5400000000000002", "sm1", "tp2", false);
  dep.store.add_sm(intruder->sm->id(), {SecureBytes(16, 1), SecureBytes(16, 2), SecureBytes(16, 3)}).value();
  dep.announce(*intruder);
  auto f = dep.first_failure();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->at, Role::sm);
  EXPECT_EQ(f->error.code, Errc::pairing_refused);
  EXPECT_EQ(intruder->sm->state(), SmState::stopped);
  for (const auto& hop : dep.net.transcript) EXPECT_NE(type_of(hop), MessageType::cwek_gen_info);  // TP never asked
}

// ---- CWEK generation ----

TEST_F(ProtocolTest, TpRefusesABadSmSignatureOnCwekGenInfo) {
  d.net.tamper = flip_signature(MessageType::cwek_gen_info);
  d.announce(*h);
  expect_stopped_with(Role::tp, Errc::signature_invalid);
}

TEST_F(ProtocolTest, TpRefusesAnUndecryptableCwekGenInfo) {
  d.net.tamper = rewrite<wire::CwekGenInfo>(MessageType::cwek_gen_info, "sm1",
                                            [](auto& body) { body.encrypted_kpk_rand_hmac = garbage_rsa_block(); });
  d.announce(*h);
  expect_stopped_with(Role::tp, Errc::decrypt_failed);
}

TEST_F(ProtocolTest, TpNeverDerivesACwekFromAKpkTheTaDidNotSign) {
  // Paper III.2.A, "indirect connection between TA and TP": a forged SM invents a KPK.
  d.net.tamper = rewrite<wire::CwekGenInfo>(MessageType::cwek_gen_info, "sm1", [](auto& body) {
    crypto::SeededRandom rng(view("forged"));
    const Bytes payload(40, 0x22);
    body.encrypted_kpk_rand_hmac = crypto::oaep_encrypt(key("tp1").public_key(), payload, rng).value();
    body.ta_kpk_signature = crypto::pss_sign(key("sm1"), Bytes(20, 0x22), rng).value();
  });
  d.announce(*h);
  expect_stopped_with(Role::tp, Errc::signature_invalid);
  // Nothing was derived: no control word can be installed.
  protocol::ControlWords cws;
  cws.even = std::array<std::uint8_t, 16>{1};
  auto forger = protocol::CwSealer::create(Bytes(16, 0x22), Bytes(20, 0x22)).value();
  EXPECT_EQ(h->tp->receive(forger.seal(cws, t0).value(), t0).error->code, Errc::unexpected_message);
  EXPECT_FALSE(h->tp->control_word(protocol::Parity::even).has_value());
}

TEST_F(ProtocolTest, TpRefusesTheFailureKpkEvenWhenSigned) {
  // Only the TA can sign; replaying its signed failure KPK must not yield a CWEK either.
  d.net.tamper = rewrite<wire::CwekGenInfo>(MessageType::cwek_gen_info, "sm1", [](auto& body) {
    crypto::SeededRandom rng(view("ff"));
    Bytes payload(40, 0xff);
    body.encrypted_kpk_rand_hmac = crypto::oaep_encrypt(key("tp1").public_key(), payload, rng).value();
    body.ta_kpk_signature = crypto::pss_sign(key("ta"), Bytes(20, 0xff), rng).value();
  });
  d.announce(*h);
  expect_stopped_with(Role::tp, Errc::pairing_refused);
}

TEST_F(ProtocolTest, SmRefusesABadTpSignatureOnTheConfirmation) {
  d.net.tamper = flip_signature(MessageType::cwek_gen_info_cnfm);
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::signature_invalid);
}

TEST_F(ProtocolTest, SmRefusesAnUndecryptableConfirmation) {
  d.net.tamper = rewrite<wire::CwekGenInfoCnfm>(MessageType::cwek_gen_info_cnfm, "tp1",
                                                [](auto& body) { body.encrypted_key_hashes = garbage_rsa_block(); });
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::decrypt_failed);
}

TEST_F(ProtocolTest, SmStopsWhenTheKeyHashesDiffer) {
  d.net.tamper = rewrite<wire::CwekGenInfoCnfm>(MessageType::cwek_gen_info_cnfm, "tp1", [](auto& body) {
    crypto::SeededRandom rng(view("hashes"));
    body.encrypted_key_hashes = crypto::oaep_encrypt(key("sm1").public_key(), Bytes(64, 0x5a), rng).value();
  });
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::key_confirmation_failed);
  EXPECT_EQ(h->sm->seal_control_words({}, t0).error().code, Errc::unexpected_message);  // no CW channel
}

// ---- Messages out of order, replayed, malformed ----

TEST_F(ProtocolTest, MessagesOutOfOrderAreErrorsNotCrashes) {
  d.announce(*h);
  ASSERT_TRUE(d.established(*h));
  const auto transcript = d.net.transcript;
  for (const auto& hop : transcript) {
    const auto type = type_of(hop);
    if ((hop.to == Role::sm && type != MessageType::security_announce) ||
        (hop.to == Role::tp && type != MessageType::tp_cert_req)) {
      const auto out = hop.to == Role::sm ? h->sm->receive(hop.from, hop.bytes, t0) : h->tp->receive(hop.bytes, t0);
      ASSERT_FALSE(out.ok()) << wire::type_name(type);
      EXPECT_EQ(out.error->code, Errc::unexpected_message) << wire::type_name(type);
    }
  }
  EXPECT_EQ(h->tp->handshake(), TpState::established);
  EXPECT_EQ(h->sm->state(), SmState::established);  // refused, not stopped: the channel stays up
}

TEST_F(ProtocolTest, AnEarlyMessageStopsARunInProgress) {
  // The SM waits for TPCertRsp; a replayed CWEKGenInfoCnfm arrives instead.
  d.announce(*h);
  const auto cnfm = d.net.transcript.back().bytes;
  d.net.clear();
  d.net.tamper = [&](Hop& hop) {
    if (type_of(hop) == MessageType::tp_cert_rsp) hop.bytes = cnfm;
  };
  d.power_up(*h);
  expect_stopped_with(Role::sm, Errc::unexpected_message);
}

TEST_F(ProtocolTest, GarbageIsAnErrorForEveryRole) {
  const Bytes junk{1, 2, 3};
  EXPECT_EQ(h->sm->receive(Role::tp, junk, t0).error->code, Errc::wire_truncated);
  EXPECT_EQ(h->tp->receive(junk, t0).error->code, Errc::wire_truncated);
  EXPECT_EQ(d.ap.receive_from_sm(1, junk, t0).error->code, Errc::wire_truncated);
  EXPECT_EQ(d.ap.receive_from_ta(1, junk, t0).error->code, Errc::wire_truncated);
  EXPECT_EQ(d.ta.receive(1, junk, t0).error->code, Errc::wire_truncated);
  const auto tp_cert_req = wire::encode({wire::Profile::koo2010, wire::TpCertReq{Bytes(10, 1)}, {}});
  EXPECT_EQ(d.ap.receive_from_sm(1, tp_cert_req, t0).error->code, Errc::unexpected_message);
  EXPECT_EQ(d.ta.receive(1, tp_cert_req, t0).error->code, Errc::unexpected_message);
  EXPECT_EQ(d.ap.receive_from_ta(7, tp_cert_req, t0).error->code, Errc::unexpected_message);
}

// ---- Triggers ----

TEST_F(ProtocolTest, PowerUpWithoutAnnouncementWaits) {
  d.power_up(*h);
  EXPECT_EQ(h->sm->state(), SmState::idle);
  EXPECT_TRUE(d.net.transcript.empty());
  ASSERT_FALSE(d.net.events.empty());
  EXPECT_TRUE(protocol::is<protocol::events::WaitingForAnnounce>(d.net.events.front().event));
}

TEST_F(ProtocolTest, NonVirginSmIgnoresAnAnnouncementOfItsOwnNetwork) {
  d.announce(*h);
  ASSERT_TRUE(d.established(*h));
  auto memory = h->sm_memory.load().value();
  memory.image = protocol::InstalledImage{d.network_id, 1, SecureBytes(16, 0x11), Bytes(32, 0)};
  h->sm_memory.store(memory).value();
  d.net.clear();
  d.announce(*h);
  EXPECT_EQ(d.net.transcript.size(), 1u);  // the announcement only
  EXPECT_TRUE(protocol::is<protocol::events::AnnounceNoChange>(d.net.events.back().event));
  EXPECT_TRUE(d.established(*h));
}

TEST_F(ProtocolTest, NonVirginSmStartsAfterMovingNetworks) {
  d.announce(*h);
  auto memory = h->sm_memory.load().value();
  memory.image = protocol::InstalledImage{d.network_id, 1, SecureBytes(16, 0x11), Bytes(32, 0)};
  h->sm_memory.store(memory).value();
  d.report_presence(*h, false);  // it left the old network
  d.network_id = Bytes{'N', 'E', 'T', '0', '0', '0', '0', '2'};
  d.net.clear();
  d.announce(*h);
  EXPECT_TRUE(d.established(*h));
  const auto* started = std::get_if<protocol::events::ProtocolStarted>(&d.net.events.front().event);
  ASSERT_NE(started, nullptr);
  EXPECT_EQ(started->trigger, protocol::Trigger::security_announce_after_move);
}

TEST_F(ProtocolTest, DcasDownloadStartsANonVirginSmOnly) {
  d.announce(*h);
  d.report_presence(*h, false);
  auto download = [&](const SmId& target) {
    d.net.clear();
    protocol::Output out;
    out.send(Role::sm, d.ap.dcas_download(d.network_id, 2, target).value());
    d.net.run(*h, Role::ap, std::move(out), t0);
  };
  auto ignored_because = [&]() -> std::optional<protocol::events::IgnoredBecause> {
    const auto* ignored = std::get_if<protocol::events::DownloadIgnored>(&d.net.events.back().event);
    return ignored ? std::optional(ignored->reason) : std::nullopt;
  };
  download(h->sm->id());  // still virgin: DCASDownload is not its trigger
  EXPECT_EQ(ignored_because(), protocol::events::IgnoredBecause::virgin_sm);
  auto memory = h->sm_memory.load().value();
  memory.image = protocol::InstalledImage{d.network_id, 1, SecureBytes(16, 0x11), Bytes(32, 0)};
  h->sm_memory.store(memory).value();
  download(SmId::from_hex("5300000000000077").value());  // addressed to another SM
  EXPECT_EQ(ignored_because(), protocol::events::IgnoredBecause::addressed_to_another_sm);
  download(h->sm->id());
  EXPECT_TRUE(d.established(*h));
}

TEST_F(ProtocolTest, AForgedAnnouncementIsRefused) {
  auto announce = d.ap.security_announce(d.network_id, 1).value();
  announce[40] ^= 1;  // inside the signed part
  const auto out = h->sm->receive(Role::ap, announce, t0);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error->code, Errc::signature_invalid);
  EXPECT_EQ(h->sm->state(), SmState::idle);
  EXPECT_TRUE(h->sm_memory.load().value_or(protocol::SmMemory{}).ap_certificate.empty());
}

}  // namespace
}  // namespace dcas
