// The hardened1 profile's handshake end to end in one process (docs/spec.md §17), and for each of
// its checks a run where exactly that check fails and the protocol stops with its error.
#include "crypto/kex.h"
#include "protocol/derivation.h"
#include "protocol/pairing_statement.h"
#include "protocol_support.h"

namespace dcas {
namespace {

using namespace test;
using protocol::Hop;
using protocol::PairingState;
using wire::MessageType;

// Replaces a message of `type` in flight by `edit(body)`, re-signed with `signer` (none: not
// signed): a peer that holds the right key but sends the wrong content.
template <typename T>
std::function<void(Hop&)> rewrite(MessageType type, std::string signer, std::function<void(T&)> edit) {
  return [=](Hop& hop) {
    if (type_of(hop) != type) return;
    auto decoded = protocol::decode_as<T>(hop.bytes).value();
    edit(decoded.second);
    crypto::SeededRandom rng(view("rewrite"));
    wire::Message m{wire::Profile::hardened1, decoded.second, {}};
    hop.bytes = signer.empty() ? wire::encode(m) : protocol::sign_and_encode(m, key(signer), rng).value();
  };
}

// The TA's statement with `edit` applied, signed again by the TA.
Bytes resigned_statement(ByteView statement, const std::function<void(wire::KeyResponseFromTaH1&)>& edit) {
  auto decoded = protocol::decode_as<wire::KeyResponseFromTaH1>(statement).value();
  edit(decoded.second);
  crypto::SeededRandom rng(view("statement"));
  return protocol::sign_and_encode({wire::Profile::hardened1, decoded.second, {}}, key("ta"), rng).value();
}

// The statement changed on its way from the TA (the AP relays it; the SM is the first to check).
std::function<void(Hop&)> edit_statement(std::function<void(wire::KeyResponseFromTaH1&)> edit) {
  return [=](Hop& hop) {
    if (type_of(hop) == MessageType::key_response_ta_h1) hop.bytes = resigned_statement(hop.bytes, edit);
  };
}

// The statement changed inside CWEKGenInfo, which the SM signs again: only the TP can see it.
std::function<void(Hop&)> edit_statement_to_tp(std::function<void(wire::KeyResponseFromTaH1&)> edit) {
  return rewrite<wire::CwekGenInfoH1>(MessageType::cwek_gen_info_h1, "sm1", [=](wire::CwekGenInfoH1& b) {
    b.pairing_statement = resigned_statement(b.pairing_statement, edit);
  });
}

struct HardenedTest : ::testing::Test {
  Deployment d{wire::Profile::hardened1};
  std::unique_ptr<protocol::InProcessHost> h = d.host("5300000000000001", "5400000000000001");

  void expect_stopped_with(Role at, Errc code) {
    auto f = d.first_failure();
    ASSERT_TRUE(f.has_value()) << "no failure recorded";
    EXPECT_EQ(f->at, at) << f->error.message();
    EXPECT_EQ(f->error.code, code) << f->error.message();
    EXPECT_FALSE(d.established(*h));
  }
  protocol::ControlWords sample_cws(std::uint8_t fill = 7) {
    protocol::ControlWords cws;
    cws.cw_length = 16;
    cws.odd = std::array<std::uint8_t, 16>{};
    cws.odd->fill(fill);
    return cws;
  }
};

TEST_F(HardenedTest, VirginPairCompletesTheHandshake) {
  d.announce(*h);
  ASSERT_TRUE(d.net.failures.empty()) << d.net.failures.front().error.message();
  ASSERT_TRUE(d.established(*h));
  std::vector<MessageType> order;
  for (const auto& hop : d.net.transcript) order.push_back(type_of(hop));
  EXPECT_EQ(order,
            (std::vector<MessageType>{
                MessageType::security_announce, MessageType::tp_cert_req_h1, MessageType::tp_cert_rsp_h1,
                MessageType::key_request_sm_h1, MessageType::key_request_ap_h1, MessageType::key_response_ta_h1,
                MessageType::key_response_ap_h1, MessageType::cwek_gen_info_h1, MessageType::cwek_gen_info_cnfm_h1}));
  for (const auto& hop : d.net.transcript)
    EXPECT_EQ(wire::decode_header(hop.bytes)->profile, static_cast<std::uint8_t>(wire::Profile::hardened1));
  EXPECT_EQ(d.store.find_sm(h->sm->id()).value()->psi, PairingState::auth_paired);
  const auto msg = h->sm->seal_control_words(sample_cws(), t0).value();
  const auto out = h->tp->receive(msg, t0 + 5ms);
  ASSERT_TRUE(out.ok()) << out.error->message();
  EXPECT_EQ(h->tp->control_word(protocol::Parity::odd), sample_cws().odd);
}

// ---- TPCertRsp (h1) at the SM ----

TEST_F(HardenedTest, SmRefusesATpAnswerToAnotherRun) {
  d.net.tamper =
      rewrite<wire::TpCertRspH1>(MessageType::tp_cert_rsp_h1, "tp1", [](wire::TpCertRspH1& b) { b.sm_nonce[0] ^= 1; });
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::not_fresh);
}

TEST_F(HardenedTest, SmRefusesATpAnswerToAnotherSm) {
  d.net.tamper =
      rewrite<wire::TpCertRspH1>(MessageType::tp_cert_rsp_h1, "tp1", [](wire::TpCertRspH1& b) { b.sm_id[7] ^= 1; });
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::id_mismatch);
}

TEST_F(HardenedTest, SmRefusesATpAnswerNotSignedByThatTp) {
  d.net.tamper = rewrite<wire::TpCertRspH1>(MessageType::tp_cert_rsp_h1, "tp2", [](wire::TpCertRspH1&) {});
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::signature_invalid);
}

// ---- KeyRequest at the AP and the TA ----

TEST_F(HardenedTest, ApRefusesATpAnswerForAnotherSm) {
  // The SM (its key) forwards a TP answer made for another SM.
  d.net.tamper = rewrite<wire::KeyRequestFromSmH1>(MessageType::key_request_sm_h1, "sm1", [](auto& b) {
    auto hello = protocol::decode_as<wire::TpCertRspH1>(b.tp_hello).value();
    hello.second.sm_id[7] ^= 1;
    crypto::SeededRandom rng(view("hello"));
    b.tp_hello = protocol::sign_and_encode({wire::Profile::hardened1, hello.second, {}}, key("tp1"), rng).value();
  });
  d.announce(*h);
  expect_stopped_with(Role::ap, Errc::id_mismatch);
}

TEST_F(HardenedTest, TaRefusesATpAnswerTheTpDidNotSign) {
  // The SM's own key signs the request; the TP's part of it is forged (another TP's key): the TA
  // binds nothing (paper: the TP_ID half would otherwise be unauthenticated).
  d.net.tamper = rewrite<wire::KeyRequestFromSmH1>(MessageType::key_request_sm_h1, "sm1", [](auto& b) {
    auto hello = protocol::decode_as<wire::TpCertRspH1>(b.tp_hello).value();
    crypto::SeededRandom rng(view("hello"));
    b.tp_hello = protocol::sign_and_encode({wire::Profile::hardened1, hello.second, {}}, key("tp2"), rng).value();
  });
  d.announce(*h);
  expect_stopped_with(Role::ta, Errc::signature_invalid);
  EXPECT_EQ(d.store.find_sm(h->sm->id()).value()->psi, PairingState::virgin);
}

TEST_F(HardenedTest, TaRefusesAStaleKeyRequest) {
  d.net.tamper =
      rewrite<wire::KeyRequestFromSmH1>(MessageType::key_request_sm_h1, "sm1", [](auto& b) { b.issued_at -= 121'000; });
  d.announce(*h);
  expect_stopped_with(Role::ta, Errc::not_fresh);
  EXPECT_EQ(d.store.find_sm(h->sm->id()).value()->psi, PairingState::virgin);
}

TEST_F(HardenedTest, ApRefusesAStatementAboutAnotherSm) {
  d.net.tamper = edit_statement([](auto& b) { b.sm_id[7] ^= 1; });
  d.announce(*h);
  expect_stopped_with(Role::ap, Errc::id_mismatch);
}

TEST_F(HardenedTest, ApRefusesAStatementNotSignedByTheTa) {
  d.net.tamper = [](Hop& hop) {
    if (type_of(hop) == MessageType::key_response_ta_h1) hop.bytes[hop.bytes.size() - 9] ^= 1;
  };
  d.announce(*h);
  expect_stopped_with(Role::ap, Errc::signature_invalid);
}

// ---- KeyResponse (AP->SM, h1) at the SM ----

TEST_F(HardenedTest, SmRefusesAStatementForAnotherRun) {
  d.net.tamper = edit_statement([](auto& b) { b.tp_nonce[3] ^= 1; });
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::not_fresh);
}

TEST_F(HardenedTest, SmRefusesAStatementForAnotherTp) {
  d.net.tamper = edit_statement([](auto& b) { b.tp_id[7] ^= 1; });
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::id_mismatch);
}

TEST_F(HardenedTest, SmRefusesAnExpiredStatement) {
  d.net.tamper = edit_statement([](auto& b) { b.not_after = protocol::to_unix_ms(t0) - 1; });
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::not_fresh);
}

TEST_F(HardenedTest, SmStopsOnARefusalOfThisRun) {
  d.net.tamper = edit_statement([](auto& b) { b.result = {0}; });
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::pairing_refused);
}

TEST_F(HardenedTest, SmRefusesABadApSignature) {
  d.net.tamper = rewrite<wire::KeyResponseFromApH1>(MessageType::key_response_ap_h1, "ap2", [](auto&) {});
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::signature_invalid);
}

TEST_F(HardenedTest, SmRefusesAKpkNotForIt) {
  d.net.tamper = edit_statement([](auto& b) { b.kpk_for_sm = b.kpk_for_tp; });
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::decrypt_failed);
}

// ---- CWEKGenInfo (h1) at the TP ----

TEST_F(HardenedTest, TpRefusesABadSmSignature) {
  d.net.tamper = rewrite<wire::CwekGenInfoH1>(MessageType::cwek_gen_info_h1, "sm2", [](auto&) {});
  d.announce(*h);
  expect_stopped_with(Role::tp, Errc::signature_invalid);
}

TEST_F(HardenedTest, TpRefusesAStatementForAnotherRun) {
  d.net.tamper = edit_statement_to_tp([](auto& b) { b.tp_nonce[0] ^= 1; });
  d.announce(*h);
  expect_stopped_with(Role::tp, Errc::not_fresh);
}

TEST_F(HardenedTest, TpRefusesAStatementForAnotherTp) {
  d.net.tamper = edit_statement_to_tp([](auto& b) { b.tp_id[7] ^= 1; });
  d.announce(*h);
  expect_stopped_with(Role::tp, Errc::id_mismatch);
}

TEST_F(HardenedTest, TpRefusesARefusal) {
  d.net.tamper = edit_statement_to_tp([](auto& b) { b.result = {0}; });
  d.announce(*h);
  expect_stopped_with(Role::tp, Errc::pairing_refused);
}

TEST_F(HardenedTest, TpRefusesAStatementTheTaDidNotSign) {
  d.net.tamper = rewrite<wire::CwekGenInfoH1>(
      MessageType::cwek_gen_info_h1, "sm1", [](auto& b) { b.pairing_statement[b.pairing_statement.size() - 5] ^= 1; });
  d.announce(*h);
  expect_stopped_with(Role::tp, Errc::signature_invalid);
}

TEST_F(HardenedTest, TpRefusesAWrongSmConfirmation) {
  d.net.tamper =
      rewrite<wire::CwekGenInfoH1>(MessageType::cwek_gen_info_h1, "sm1", [](auto& b) { b.confirmation[0] ^= 1; });
  d.announce(*h);
  expect_stopped_with(Role::tp, Errc::key_confirmation_failed);
}

TEST_F(HardenedTest, TpRefusesALowOrderEphemeralKey) {
  d.net.tamper = rewrite<wire::CwekGenInfoH1>(MessageType::cwek_gen_info_h1, "sm1",
                                              [](auto& b) { b.ephemeral_key = Bytes(32, 0); });
  d.announce(*h);
  expect_stopped_with(Role::tp, Errc::key_invalid);
}

TEST_F(HardenedTest, TpRefusesAnEphemeralKeyChangedAfterTheSmConfirmed) {
  // A valid point, but not the one the SM's confirmation covers.
  d.net.tamper = rewrite<wire::CwekGenInfoH1>(MessageType::cwek_gen_info_h1, "sm1", [](auto& b) {
    crypto::SeededRandom rng(view("other"));
    b.ephemeral_key = crypto::X25519Key::generate(rng).value().public_key();
  });
  d.announce(*h);
  expect_stopped_with(Role::tp, Errc::key_confirmation_failed);
}

// ---- CWEKGenInfoCnfm (h1) at the SM ----

TEST_F(HardenedTest, SmRefusesAWrongTpConfirmation) {
  d.net.tamper = rewrite<wire::CwekGenInfoCnfmH1>(MessageType::cwek_gen_info_cnfm_h1, "",
                                                  [](auto& b) { b.confirmation[31] ^= 1; });
  d.announce(*h);
  expect_stopped_with(Role::sm, Errc::key_confirmation_failed);
}

// ---- Profiles do not mix ----

TEST(HardenedProfile, EachRoleRefusesTheOtherProfilesHandshake) {
  Deployment koo;  // a koo2010 deployment's messages, shown to hardened1 roles
  auto kh = koo.host("5300000000000001", "5400000000000001");
  koo.announce(*kh);
  ASSERT_TRUE(koo.established(*kh));
  Deployment hard{wire::Profile::hardened1};
  auto hh = hard.host("5300000000000001", "5400000000000001");
  hard.announce(*hh);
  ASSERT_TRUE(hard.established(*hh));
  for (const auto& hop : koo.net.transcript) {
    const auto type = type_of(hop);
    if (type == MessageType::security_announce) continue;  // shared by both profiles
    protocol::Output out;
    switch (hop.to) {
      case Role::sm: out = hh->sm->receive(hop.from, hop.bytes, t0); break;
      case Role::tp: out = hh->tp->receive(hop.bytes, t0); break;
      case Role::ap:
        out = hop.from == Role::ta ? hard.ap.receive_from_ta(hop.session, hop.bytes, t0)
                                   : hard.ap.receive_from_sm(hop.session, hop.bytes, t0);
        break;
      case Role::ta: out = hard.ta.receive(hop.session, hop.bytes, t0); break;
    }
    ASSERT_TRUE(out.error.has_value()) << wire::type_name(type);
    EXPECT_EQ(out.error->code, Errc::profile_mismatch) << wire::type_name(type);
  }
  EXPECT_TRUE(hard.established(*hh));  // none of it disturbed the hardened host
}

}  // namespace
}  // namespace dcas
