// Pairing state (paper Table 1, Figs. 5-6), the reboot and leave decisions of docs/spec.md, and the
// paper's SM-sharing threat, end to end through the TA.
#include "protocol_support.h"

namespace dcas {
namespace {

using namespace test;
using protocol::PairingState;
using protocol::Verdict;

protocol::SmRecord sm_record(PairingState psi, std::optional<TpId> tp, protocol::TimePoint presence_until = {}) {
  return {SmId::from_hex("5300000000000001").value(), {}, psi, tp, presence_until};
}
protocol::TpRecord tp_record(PairingState psi, std::optional<SmId> sm) {
  return {TpId::from_hex("5400000000000001").value(), psi, sm};
}
const SmId sm_a = SmId::from_hex("5300000000000001").value();
const TpId tp_a = TpId::from_hex("5400000000000001").value();
const TpId tp_b = TpId::from_hex("5400000000000002").value();

// ---- validate_pairing: every row of the decision ----

TEST(PairingRules, VirginPairIsBound) {
  auto o =
      protocol::validate_pairing(sm_record(PairingState::virgin, {}), tp_record(PairingState::virgin, {}), t0, 600s);
  EXPECT_EQ(o.verdict, Verdict::bound_virgin_pair);
  EXPECT_EQ(o.sm->psi, PairingState::auth_paired);
  EXPECT_EQ(o.tp->psi, PairingState::auth_paired);
  EXPECT_EQ(o.sm->bound_tp, tp_a);
  EXPECT_EQ(o.tp->bound_sm, sm_a);
  EXPECT_EQ(o.sm->presence_until, t0 + 600s);
}

TEST(PairingRules, PairedOnlyPairRejoins) {
  auto o = protocol::validate_pairing(sm_record(PairingState::paired_only, tp_a),
                                      tp_record(PairingState::paired_only, sm_a), t0, 600s);
  EXPECT_EQ(o.verdict, Verdict::rejoined);
  EXPECT_EQ(o.sm->psi, PairingState::auth_paired);
}

TEST(PairingRules, UnknownDevicesAreRefused) {
  EXPECT_EQ(protocol::validate_pairing(std::nullopt, tp_record(PairingState::virgin, {}), t0, 600s).verdict,
            Verdict::refused_unknown);
  EXPECT_EQ(protocol::validate_pairing(sm_record(PairingState::virgin, {}), std::nullopt, t0, 600s).verdict,
            Verdict::refused_unknown);
}

TEST(PairingRules, APairIsNeverChangedByTheProtocol) {
  // SM bound to TP B asks with TP A (virgin): refused, and nothing is written.
  auto o = protocol::validate_pairing(sm_record(PairingState::paired_only, tp_b), tp_record(PairingState::virgin, {}),
                                      t0, 600s);
  EXPECT_EQ(o.verdict, Verdict::refused_bound_elsewhere);
  EXPECT_FALSE(o.sm.has_value());
  // Virgin SM with a TP bound to someone else.
  EXPECT_EQ(protocol::validate_pairing(sm_record(PairingState::virgin, {}),
                                       tp_record(PairingState::paired_only, SmId{}), t0, 600s)
                .verdict,
            Verdict::refused_bound_elsewhere);
}

TEST(PairingRules, AnActivePairIsNotServedTwice) {
  auto o = protocol::validate_pairing(sm_record(PairingState::auth_paired, tp_a, t0 + 1s),
                                      tp_record(PairingState::auth_paired, sm_a), t0, 600s);
  EXPECT_EQ(o.verdict, Verdict::refused_active);
}

TEST(PairingRules, ALapsedPresenceCountsAsHavingLeft) {
  auto o = protocol::validate_pairing(sm_record(PairingState::auth_paired, tp_a, t0),
                                      tp_record(PairingState::auth_paired, sm_a), t0, 600s);
  EXPECT_EQ(o.verdict, Verdict::rejoined_after_lapse);
  EXPECT_EQ(o.sm->presence_until, t0 + 600s);
}

TEST(PairingRules, InconsistentStatesAreRefused) {
  EXPECT_EQ(protocol::validate_pairing(sm_record(PairingState::auth_paired, tp_a),
                                       tp_record(PairingState::paired_only, sm_a), t0, 600s)
                .verdict,
            Verdict::refused_bound_elsewhere);
}

// ---- The store ----

TEST(MemoryStore, LeaveAndPresenceTransitions) {
  protocol::MemoryPairingStore store;
  store.add_sm(sm_a, {}).value();
  store.add_tp(tp_a).value();
  EXPECT_EQ(store.add_tp(tp_a).error().code, Errc::already_exists);
  EXPECT_EQ(store.record_left(sm_a, t0).value(), PairingState::virgin);  // only Auth/Paired can leave
  EXPECT_EQ(store.validate_and_record(sm_a, tp_a, t0, 60s).value().verdict, Verdict::bound_virgin_pair);
  EXPECT_EQ(store.record_present(sm_a, t0 + 50s, 60s).value(), PairingState::auth_paired);
  EXPECT_EQ(store.find_sm(sm_a).value()->presence_until, t0 + 110s);
  EXPECT_EQ(store.record_left(sm_a, t0 + 60s).value(), PairingState::paired_only);
  EXPECT_EQ(store.find_tp(tp_a).value()->psi, PairingState::paired_only);
  EXPECT_EQ(store.record_left(SmId{}, t0).error().code, Errc::unknown_device);
  EXPECT_EQ(store.record_present(SmId{}, t0, 1s).error().code, Errc::unknown_device);
}

// ---- Through the TA, end to end ----

struct PairingFlow : ::testing::Test {
  Deployment d;
  std::unique_ptr<protocol::InProcessHost> h = d.host("5300000000000001", "5400000000000001");
  PairingState psi() { return d.store.find_sm(h->sm->id()).value()->psi; }
  // The TA's verdict on the last KeyRequest.
  std::optional<protocol::Verdict> last_verdict() {
    for (auto it = d.net.events.rbegin(); it != d.net.events.rend(); ++it) {
      if (const auto* v = std::get_if<protocol::events::PairingValidated>(&it->event)) return v->verdict;
      if (const auto* r = std::get_if<protocol::events::PairingRefused>(&it->event)) return r->verdict;
    }
    return std::nullopt;
  }
};

TEST_F(PairingFlow, HostLeavesAndRejoins) {
  d.announce(*h);
  ASSERT_TRUE(d.established(*h));
  EXPECT_EQ(psi(), PairingState::auth_paired);
  d.report_presence(*h, false);  // the AP saw the host leave the network
  EXPECT_EQ(psi(), PairingState::paired_only);
  d.net.clear();
  d.power_up(*h, t0 + 1h);
  EXPECT_TRUE(d.established(*h));
  EXPECT_EQ(psi(), PairingState::auth_paired);
  EXPECT_EQ(last_verdict(), protocol::Verdict::rejoined);
}

TEST_F(PairingFlow, APowerCutDoesNotBrickTheBox) {
  d.announce(*h);
  ASSERT_TRUE(d.established(*h));
  // Power cut: nobody reports the host gone (the AP has not seen its connection end: it forgets the
  // session without a report); it reboots within its presence lease -> refused ...
  d.ap.drop_session(h->session);
  d.net.clear();
  d.power_up(*h, t0 + 1min);
  EXPECT_EQ(h->sm->state(), protocol::SecureMicro::State::stopped);
  EXPECT_EQ(last_verdict(), protocol::Verdict::refused_active);
  // ... its AP reports it gone when its connection dropped, and the retry succeeds.
  d.report_presence(*h, false, t0 + 2min);
  d.net.clear();
  d.power_up(*h, t0 + 2min);
  EXPECT_TRUE(d.established(*h));
}

TEST_F(PairingFlow, WithoutAnyReportTheLeaseLapsesAndTheBoxComesBack) {
  d.announce(*h);
  d.ap.drop_session(h->session);  // gone without a word, as after a power cut
  d.net.clear();
  d.power_up(*h, t0 + 601s);
  EXPECT_TRUE(d.established(*h));
  EXPECT_EQ(last_verdict(), protocol::Verdict::rejoined_after_lapse);
}

TEST_F(PairingFlow, AClonedPairIsNotServedTwice) {
  d.announce(*h);
  ASSERT_TRUE(d.established(*h));
  // A second box with copies of the same SM and TP identities, while the original is present.
  auto clone = d.host("5300000000000001", "5400000000000001", "sm1", "tp1", /*register_at_ta=*/false);
  for (int minute = 1; minute <= 30; ++minute) {
    d.report_presence(*h, true, t0 + std::chrono::minutes(minute));  // the original stays online
    d.net.clear();
    d.announce(*clone, t0 + std::chrono::minutes(minute));
    ASSERT_FALSE(d.established(*clone)) << minute;
    ASSERT_EQ(d.first_failure()->error.code, Errc::pairing_refused);
  }
}

TEST_F(PairingFlow, SmSharingIsRefused) {
  // Paper III.1.A: a subscriber's SM moved into another host (another TP).
  d.announce(*h);
  ASSERT_TRUE(d.established(*h));
  d.report_presence(*h, false);
  auto other_host = d.host("5300000000000001", "5400000000000002", "sm1", "tp2", /*register_at_ta=*/false);
  d.store.add_tp(other_host->tp->id()).value();
  d.net.clear();
  d.announce(*other_host, t0 + 1h);
  EXPECT_FALSE(d.established(*other_host));
  EXPECT_EQ(d.first_failure()->error.code, Errc::pairing_refused);
  EXPECT_EQ(last_verdict(), protocol::Verdict::refused_bound_elsewhere);
  // The binding is unchanged, and the SM still pairs in its own host.
  EXPECT_EQ(d.store.find_sm(h->sm->id()).value()->bound_tp, h->tp->id());
  d.net.clear();
  d.power_up(*h, t0 + 2h);
  EXPECT_TRUE(d.established(*h));
}

TEST_F(PairingFlow, AForgedSmWithDisclosedIdsButItsOwnKeyIsRefused) {
  // Paper III.2.A: the attacker knows SM_ID and TP_ID (they are in public certificates) and presents
  // the victim's certificate, but signs with its own key.
  auto forged = d.host("5300000000000001", "5400000000000001", "sm2", "tp1", /*register_at_ta=*/false);
  const auto victim_cert = d.certificate(Role::sm, "5300000000000001", "sm1");
  d.net.tamper = [&](protocol::Hop& hop) {
    if (type_of(hop) != wire::MessageType::key_request_sm) return;
    auto m = protocol::decode_as<wire::KeyRequestFromSm>(hop.bytes).value();
    m.second.sm_certificate = victim_cert.der();
    hop.bytes = wire::encode({wire::Profile::koo2010, m.second, {}});
  };
  d.announce(*forged);
  EXPECT_FALSE(d.established(*forged));
  EXPECT_EQ(d.first_failure()->at, Role::ap);
  EXPECT_EQ(d.first_failure()->error.code, Errc::signature_invalid);
  EXPECT_EQ(psi(), PairingState::virgin);  // the TA never saw a request
}

// The link's freshness (docs/spec.md §13.5): each AP time is taken once, within the TA's window.
TEST_F(PairingFlow, TheTaTakesEachApMessageOnceAndOnlyWhenFresh) {
  d.announce(*h);
  ASSERT_TRUE(d.established(*h));
  const auto left = d.ap.host_presence(h->sm->id(), false, t0 + 1s).value();
  EXPECT_TRUE(d.ta.receive(0, left, t0 + 1s).ok());
  EXPECT_EQ(psi(), PairingState::paired_only);
  d.power_up(*h, t0 + 2s);  // validated again: present
  ASSERT_EQ(psi(), PairingState::auth_paired);
  auto replayed = d.ta.receive(0, left, t0 + 3s);
  ASSERT_TRUE(replayed.error.has_value());
  EXPECT_EQ(replayed.error->code, Errc::not_fresh) << replayed.error->message();
  EXPECT_EQ(psi(), PairingState::auth_paired);  // the replay ended nothing
  // Made in time but delivered after the window, or dated beyond it: refused.
  const auto old = d.ap.host_presence(h->sm->id(), false, t0 + 4s).value();
  EXPECT_EQ(d.ta.receive(0, old, t0 + 4s + 121s).error->code, Errc::not_fresh);
  // The AP's times strictly increase, even for messages made at the same instant.
  const auto a = d.ap.host_presence(h->sm->id(), true, t0 + 6s).value();
  const auto b = d.ap.host_presence(h->sm->id(), true, t0 + 6s).value();
  EXPECT_TRUE(d.ta.receive(0, a, t0 + 6s).ok());
  EXPECT_TRUE(d.ta.receive(0, b, t0 + 6s).ok());
  const auto future = d.ap.host_presence(h->sm->id(), false, t0 + 10min).value();
  EXPECT_EQ(d.ta.receive(0, future, t0 + 7s).error->code, Errc::not_fresh);
  EXPECT_EQ(psi(), PairingState::auth_paired);
}

TEST_F(PairingFlow, AQueuedReportIsSignedAgainForANewLink) {
  d.announce(*h);
  const auto report = d.ap.host_presence(h->sm->id(), false, t0).value();
  const auto renewed = d.ap.renew_report(report, t0 + 10min).value();
  EXPECT_EQ(d.ta.receive(0, report, t0 + 10min).error->code, Errc::not_fresh);
  EXPECT_TRUE(d.ta.receive(0, renewed, t0 + 10min).ok());
  EXPECT_EQ(psi(), PairingState::paired_only);
}

TEST_F(PairingFlow, PresenceReportsMustComeFromARegisteredAp) {
  auto msg = d.ap.host_presence(h->sm->id(), false, t0).value();
  msg[38] ^= 1;  // inside the SM_ID value (header 8, ap_id 12, issued_at 12, sm_id's tag and length 4)
  EXPECT_EQ(d.ta.receive(0, msg, t0).error->code, Errc::signature_invalid);
  // An AP with a valid certificate that the TA never admitted.
  auto stranger = protocol::AuthProxy::create(d.identity(Role::ap, "4100000000000002", "ap2"), d.ap_rng, t0).value();
  EXPECT_EQ(d.ta.receive(0, stranger.host_presence(h->sm->id(), false, t0).value(), t0).error->code,
            Errc::unknown_device);
  d.announce(*h);
  ASSERT_TRUE(d.established(*h));
  EXPECT_EQ(psi(), PairingState::auth_paired);  // neither report moved the pair
}

}  // namespace
}  // namespace dcas

// ---- The AP's session policy, without sockets (protocol/auth_proxy.h) ----

namespace dcas::test {

TEST_F(PairingFlow, ARerunOnTheValidatedSessionEndsThePresenceFirst) {
  d.announce(*h);
  ASSERT_TRUE(d.established(*h));
  d.net.clear();
  d.power_up(*h, t0 + 1min);  // e.g. a DCASDownload: the same connection, the box proved itself here
  EXPECT_TRUE(d.established(*h));
  EXPECT_EQ(last_verdict(), protocol::Verdict::rejoined);
  bool ended = false;
  for (const auto& o : d.net.events) ended = ended || protocol::is<protocol::events::PresenceEnded>(o.event);
  EXPECT_TRUE(ended);
}

TEST_F(PairingFlow, AnAnswerThatNeverComesFailsTheRequestAndTheHostIsReportedGone) {
  d.net.tamper = [](protocol::Hop& hop) {
    if (hop.from == Role::ta) hop.bytes.clear();  // the TA's answer is lost
  };
  d.announce(*h);
  EXPECT_EQ(d.ap.pending_sessions(), 1u);
  EXPECT_EQ(d.ap.next_expiry(), t0 + 15s);
  auto early = d.ap.on_timeout(t0 + 14s);
  EXPECT_TRUE(early.messages.empty());
  auto late = d.ap.on_timeout(t0 + 15s);
  ASSERT_EQ(late.messages.size(), 1u);
  EXPECT_EQ(late.messages[0].to, Role::sm);
  ASSERT_TRUE(late.messages[0].refusal);
  EXPECT_EQ(late.messages[0].refusal->code, Errc::net_timeout);
  ASSERT_NE(late.find<protocol::events::AnswerTimedOut>(), nullptr);
  // The TA may have validated it: when the host goes, its presence ends, as a report that must arrive.
  auto closed = d.ap.close_session(h->session, t0 + 16s);
  ASSERT_EQ(closed.messages.size(), 1u);
  EXPECT_EQ(closed.messages[0].to, Role::ta);
  EXPECT_TRUE(closed.messages[0].must_arrive);
  EXPECT_TRUE(d.ta.receive(0, closed.messages[0].bytes, t0 + 16s).ok());
  EXPECT_EQ(psi(), PairingState::paired_only);
}

TEST_F(PairingFlow, TheApRenewsTheValidatedHostsPresenceEveryInterval) {
  d.announce(*h);
  ASSERT_TRUE(d.established(*h));
  EXPECT_EQ(d.ap.next_expiry(), t0 + 200s);
  auto renewal = d.ap.on_timeout(t0 + 200s);
  ASSERT_EQ(renewal.messages.size(), 1u);
  EXPECT_FALSE(renewal.messages[0].must_arrive);  // one lost is replaced by the next
  EXPECT_TRUE(d.ta.receive(0, renewal.messages[0].bytes, t0 + 200s).ok());
  EXPECT_EQ(d.ap.next_expiry(), t0 + 400s);
  // The renewal extended the pair's presence lease at the TA.
  EXPECT_EQ(d.store.find_sm(h->sm->id()).value()->presence_until, t0 + 200s + 600s);
}

TEST_F(PairingFlow, NoKeyRequestIsRelayedWhileTheTaLinkIsDown) {
  (void)d.ap.ta_link_down(t0);
  d.announce(*h);
  EXPECT_EQ(d.ap.pending_sessions(), 0u);
  ASSERT_FALSE(d.net.failures.empty());
  EXPECT_EQ(d.net.failures.back().error.code, Errc::net_unavailable);
  d.ap.ta_link_up();
  d.net.clear();
  d.power_up(*h);
  EXPECT_TRUE(d.established(*h));
}

}  // namespace dcas::test
