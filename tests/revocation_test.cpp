// Revocation (docs/spec.md §18): the TA store's record of certificates and its CRL on every
// backend, and each party's refusal of a revoked device, under both profiles.
#include <fmt/format.h>

#include "pki/crl.h"
#include "protocol_support.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace dcas {
namespace {

namespace fs = std::filesystem;
using namespace test;
using protocol::Verdict;
using SmState = protocol::SecureMicro::State;

const Bytes operator_key(32, 0x4c);

// ---- the store: certificates on record, revocation, the CRL ----

class RevocationStore : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      const auto dir = fs::temp_directory_path() / ("dcas-revocation-" + std::to_string(::getpid()));
      fs::create_directories(dir);
      std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::replace(name.begin(), name.end(), '/', '-');  // "Test/sqlite"
      const auto path = dir / (name + ".db");
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix);
      store_ = store::SqlitePairingStore::open(path, operator_key).value();
    } else {
      const auto uri = fresh_postgres("revocation");
      if (!uri) GTEST_SKIP() << "no PostgreSQL cluster: run through scripts/test.sh (DCAS_TEST_POSTGRES)";
      store_ = store::PostgresPairingStore::open(*uri, operator_key).value();
    }
  }
  store::IssuedCertificate issued(Role role, std::string_view id_hex, const std::string& key_name) {
    const auto cert = issue(role, id_hex, key_name);
    return {role, from_hex(id_hex).value(), cert.serial(), cert.not_after(), std::nullopt, {}, cert.der()};
  }
  store::CrlSigner signer() {
    return [](std::uint64_t n, const std::vector<pki::RevokedCertificate>& entries) {
      return pki::make_crl(key("ta"), ta_root(), n, entries, now(), now() + std::chrono::days(30));
    };
  }
  std::unique_ptr<store::OperatorStore> store_;
  const SmId sm = SmId::from_hex("5300000000000001").value();
  const TpId tp = TpId::from_hex("5400000000000001").value();
};

TEST_P(RevocationStore, RevokingADeviceListsEveryCertificateOfItOnTheNextCrl) {
  ASSERT_TRUE(store_->add_sm(sm, {SecureBytes(16, 1), SecureBytes(16, 2), SecureBytes(16, 3)}));
  const auto first = issued(Role::sm, sm.hex(), "sm1"), second = issued(Role::sm, sm.hex(), "sm2");
  const auto other = issued(Role::sm, "5300000000000002", "sm1");
  for (const auto& c : {first, second, other}) ASSERT_TRUE(store_->record_certificate(c, now()));
  EXPECT_EQ(store_->current_crl().value(), Bytes{});  // none before the first revocation

  auto crl = store_->revoke(Role::sm, sm.view(), "stolen", now(), signer());
  ASSERT_TRUE(crl) << crl.error().message();
  EXPECT_EQ(crl->number(), 1u);
  EXPECT_TRUE(crl->revokes(first.serial));
  EXPECT_TRUE(crl->revokes(second.serial));
  EXPECT_FALSE(crl->revokes(other.serial));
  EXPECT_EQ(store_->current_crl().value(), crl->der());
  // The TA refuses it at validation from now on; the audit log names the revocation and its reason.
  ASSERT_TRUE(store_->add_tp(tp));
  EXPECT_EQ(store_->validate_and_record(sm, tp, t0, 600s).value().verdict, Verdict::refused_revoked);
  EXPECT_EQ(store_->find_sm(sm).value()->psi, protocol::PairingState::virgin);
  bool audited = false;
  const auto audit = store_->audit_log().value();
  for (const auto& e : audit)
    audited |= e.action == "revoke" && e.detail.find("stolen") != std::string::npos && e.sm == sm.hex();
  EXPECT_TRUE(audited);
  const auto certs = store_->certificates().value();
  ASSERT_EQ(certs.size(), 3u);
  for (const auto& c : certs)
    EXPECT_EQ(c.revoked_at.has_value(), c.device_id == Bytes(sm.view().begin(), sm.view().end()));
}

TEST_P(RevocationStore, TheCrlNumberOnlyGoesUpAndRevocationIsFinal) {
  const auto ap = issued(Role::ap, "4100000000000001", "ap1");
  ASSERT_TRUE(store_->record_certificate(ap, now()));
  EXPECT_EQ(store_->revoke(Role::ap, ap.device_id, "compromised", now(), signer())->number(), 1u);
  EXPECT_EQ(store_->revoke(Role::ap, ap.device_id, "again", now(), signer()).error().code, Errc::already_exists);
  auto next = store_->publish_crl(now(), signer());
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_EQ(next->number(), 2u);
  EXPECT_TRUE(next->revokes(ap.serial));  // the same entries under the new number
  // A revoked device gets no new certificate (renewal is refused).
  EXPECT_EQ(store_->record_certificate(issued(Role::ap, "4100000000000001", "ap2"), now()).error().code,
            Errc::cert_revoked);
  // A signer that hands back another number is refused, and nothing changes.
  const store::CrlSigner wrong = [](std::uint64_t n, const std::vector<pki::RevokedCertificate>& e) {
    return pki::make_crl(key("ta"), ta_root(), n + 5, e, now(), now() + std::chrono::days(1));
  };
  EXPECT_FALSE(store_->publish_crl(now(), wrong));
  EXPECT_EQ(pki::Crl::verified(store_->current_crl().value(), ta_root())->number(), 2u);
}

TEST_P(RevocationStore, OnlyDevicesOnRecordCanBeRevokedAndOnlyWithAReason) {
  EXPECT_EQ(store_->revoke(Role::tp, tp.view(), "lost", now(), signer()).error().code, Errc::not_found);
  ASSERT_TRUE(store_->record_certificate(issued(Role::tp, tp.hex(), "tp1"), now()));
  EXPECT_EQ(store_->revoke(Role::tp, tp.view(), "", now(), signer()).error().code, Errc::invalid_argument);
  const auto renewed = issued(Role::tp, tp.hex(), "tp1");  // a new serial for the same device: recorded
  ASSERT_TRUE(store_->record_certificate(renewed, now()));
  EXPECT_EQ(store_->record_certificate(renewed, now()).error().code, Errc::already_exists);
  EXPECT_EQ(store_->current_crl().value(), Bytes{});  // the refusals issued nothing
}

INSTANTIATE_TEST_SUITE_P(Backends, RevocationStore, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& test) { return test.param; });

// ---- the roles: each party's refusal ----

class Revocation : public ::testing::TestWithParam<wire::Profile> {
 protected:
  Deployment d{GetParam()};
  std::unique_ptr<protocol::InProcessHost> h = d.host("5300000000000001", "5400000000000001");
  std::uint64_t next_number_ = 1;

  pki::Crl crl_revoking(const std::vector<pki::Certificate>& certs) {
    std::vector<pki::RevokedCertificate> entries;
    for (const auto& c : certs) entries.push_back({c.serial(), t0});
    return pki::make_crl(key("ta"), d.root, next_number_++, entries, t0, t0 + std::chrono::days(30)).value();
  }
  // What the operator's `ta revoke` does to the TA's store, and the AP's next fetch of the CRL.
  pki::Crl revoke(Role role, const pki::Certificate& cert) {
    const auto crl = crl_revoking({cert});
    d.store.revoke(role, from_hex(cert.common_name()).value(), crl.der());
    const auto out = d.ap.update_crl(crl.der(), t0);
    EXPECT_TRUE(out.find<protocol::events::CrlAdopted>() != nullptr);
    return crl;
  }
  protocol::ControlWords some_cws() {
    protocol::ControlWords cws;
    cws.cw_length = 8;
    cws.odd = std::array<std::uint8_t, 16>{1, 2, 3, 4, 5, 6, 7, 8};
    return cws;
  }
  const protocol::events::CwChannelRevoked* cut_off(Role at) const {
    for (const auto& o : d.net.events)
      if (o.at == at)
        if (const auto* e = std::get_if<protocol::events::CwChannelRevoked>(&o.event)) return e;
    return nullptr;
  }
  void expect_failure(Role at, Errc code) {
    auto f = d.first_failure();
    ASSERT_TRUE(f.has_value()) << "no failure recorded";
    EXPECT_EQ(f->at, at) << f->error.message();
    EXPECT_EQ(f->error.code, code) << f->error.message();
    EXPECT_FALSE(d.established(*h));
  }
};

TEST_P(Revocation, TheTaRefusesARevokedSmAtValidation) {
  const auto crl = crl_revoking({h->sm->certificate()});
  d.store.revoke(Role::sm, h->sm->id().view(), crl.der());  // the AP has not fetched the CRL yet
  d.announce(*h);
  expect_failure(Role::ta, Errc::cert_revoked);
  EXPECT_EQ(d.store.find_sm(h->sm->id()).value()->psi, protocol::PairingState::virgin);
}

TEST_P(Revocation, TheTaRefusesARevokedTpAtValidation) {
  const auto crl = crl_revoking({h->tp->certificate()});
  d.store.revoke(Role::tp, h->tp->id().view(), crl.der());
  d.announce(*h);
  expect_failure(Role::ta, Errc::cert_revoked);
}

TEST_P(Revocation, TheTaRefusesARevokedAp) {
  const auto crl = crl_revoking({d.ap_cert});
  d.store.revoke(Role::ap, from_hex("4100000000000001").value(), crl.der());
  EXPECT_EQ(d.ta.register_ap(d.ap_cert, t0).error().code, Errc::cert_revoked);
  // Another AP of the same TA is still admitted.
  EXPECT_TRUE(d.ta.register_ap(d.certificate(Role::ap, "4100000000000002", "ap2"), t0));
}

TEST_P(Revocation, TheTaDropsAnAdmittedApOnceItsCrlRevokesIt) {
  const auto crl = crl_revoking({d.ap_cert});
  d.store.revoke(Role::ap, from_hex("4100000000000001").value(), crl.der());
  ASSERT_EQ(d.ta.current_crl().value(), crl.der());  // what an AP's next crl_request reads
  d.announce(*h);  // the AP has not learned it is revoked: its KeyRequest reaches the TA
  expect_failure(Role::ta, Errc::cert_revoked);
}

// The CRL rides outside the AP's signature (its own authenticates it), so whoever holds the host
// can keep it from the SM: the AP's check does not depend on the SM's.
TEST_P(Revocation, TheApRefusesARevokedSmThatNeverSawTheCrl) {
  revoke(Role::sm, h->sm->certificate());
  d.net.tamper = [](protocol::Hop& hop) {
    if (type_of(hop) != wire::MessageType::security_announce) return;
    auto m = wire::decode(hop.bytes).value();
    std::get<wire::SecurityAnnounce>(m.body).crl.clear();
    hop.bytes = wire::encode(m);
  };
  d.announce(*h);
  expect_failure(Role::ap, Errc::cert_revoked);
  EXPECT_FALSE(h->sm->crl_number().has_value());
}

TEST_P(Revocation, TheSmRefusesARevokedTp) {
  const auto crl = crl_revoking({h->tp->certificate()});
  d.ap.update_crl(crl.der(), t0);  // the TA's store does not know: the SM's own check stops the run
  // The announcement reaches the SM alone (a TP that ignores CRLs); the SM's answer is dropped.
  (void)h->sm->receive(Role::ap, d.ap.security_announce(d.network_id, 1).value(), t0);
  EXPECT_EQ(h->sm->crl_number(), crl.number());
  d.power_up(*h);
  expect_failure(Role::sm, Errc::cert_revoked);
}

TEST_P(Revocation, TheTpRefusesARevokedSm) {
  const auto crl = crl_revoking({h->sm->certificate()});
  // The TP learns the CRL from the host, the SM not yet: the TP refuses the SM's TPCertReq.
  ASSERT_TRUE(h->tp->update_crl(crl.der()).ok());
  d.announce(*h);
  expect_failure(Role::tp, Errc::cert_revoked);
}

TEST_P(Revocation, TheSmRefusesAnAnnouncementOfARevokedAp) {
  revoke(Role::ap, d.ap_cert);
  d.announce(*h);
  expect_failure(Role::sm, Errc::cert_revoked);
  EXPECT_EQ(h->sm->state(), SmState::idle);  // no run started
}

TEST_P(Revocation, APairedHostWhoseSmIsRevokedLosesItsCwChannelAtTheNextAnnouncement) {
  d.announce(*h);
  ASSERT_TRUE(d.established(*h));
  ASSERT_TRUE(h->sm->seal_control_words(some_cws(), t0));
  revoke(Role::sm, h->sm->certificate());
  d.net.clear();
  d.announce(*h);
  ASSERT_NE(cut_off(Role::sm), nullptr);
  EXPECT_EQ(cut_off(Role::sm)->revoked, "sm");
  ASSERT_NE(cut_off(Role::tp), nullptr);
  EXPECT_EQ(h->sm->state(), SmState::stopped);
  EXPECT_FALSE(h->tp->has_cw_keys());
  EXPECT_EQ(h->sm->seal_control_words(some_cws(), t0).error().code, Errc::unexpected_message);
  // A power cycle does not bring it back: the CRL is in the SM's secure memory.
  auto rebooted = protocol::SecureMicro::create({key("sm1"), h->sm->certificate(), d.root}, h->sm_memory, test_rng(),
                                                t0, GetParam());
  ASSERT_TRUE(rebooted);
  EXPECT_EQ(rebooted->crl_number(), h->sm->crl_number());
  EXPECT_EQ(rebooted->power_up(t0).error->code, Errc::cert_revoked);
}

TEST_P(Revocation, APairedHostWhoseTpIsRevokedLosesItsCwChannelAtTheNextAnnouncement) {
  d.announce(*h);
  ASSERT_TRUE(d.established(*h));
  revoke(Role::tp, h->tp->certificate());
  d.net.clear();
  d.announce(*h);
  ASSERT_NE(cut_off(Role::sm), nullptr);
  EXPECT_EQ(cut_off(Role::sm)->revoked, "tp");
  EXPECT_EQ(cut_off(Role::sm)->device, "5400000000000001");
  EXPECT_FALSE(h->tp->has_cw_keys());
  EXPECT_EQ(h->sm->seal_control_words(some_cws(), t0).error().code, Errc::unexpected_message);
}

TEST_P(Revocation, AnOlderCrlNeverReplacesANewerOne) {
  const auto older = crl_revoking({});
  const auto newer = crl_revoking({h->tp->certificate()});
  ASSERT_TRUE(d.ap.update_crl(newer.der(), t0).ok());
  EXPECT_EQ(d.ap.update_crl(older.der(), t0).find<protocol::events::CrlAdopted>(), nullptr);
  EXPECT_EQ(d.ap.crl_number(), newer.number());
  ASSERT_TRUE(h->tp->update_crl(newer.der()).ok());
  EXPECT_EQ(h->tp->update_crl(older.der()).find<protocol::events::CrlAdopted>(), nullptr);
  EXPECT_EQ(h->tp->crl_number(), newer.number());
  EXPECT_EQ(h->tp_memory.load()->crl, newer.der());
}

TEST_P(Revocation, AForgedCrlIsRefusedByEveryParty) {
  const auto foreign_root = pki::make_root(key("ta_foreign"), "DCAS Test TA", fixed_validity, test_rng()).value();
  const auto forged =
      pki::make_crl(key("ta_foreign"), foreign_root, 99, {{h->tp->certificate().serial(), t0}}, t0, t0 + 24h).value();
  EXPECT_EQ(d.ap.update_crl(forged.der(), t0).error->code, Errc::crl_invalid);
  EXPECT_EQ(h->tp->update_crl(forged.der()).error->code, Errc::crl_invalid);
  EXPECT_FALSE(d.ap.crl_number().has_value());
  EXPECT_FALSE(h->tp->crl_number().has_value());
  // Nothing is cut off: the pair pairs.
  d.announce(*h);
  EXPECT_TRUE(d.established(*h));
}

TEST_P(Revocation, TheSmRefusesAnAnnouncementCarryingAForgedCrl) {
  const auto foreign_root = pki::make_root(key("ta_foreign"), "DCAS Test TA", fixed_validity, test_rng()).value();
  const auto forged = pki::make_crl(key("ta_foreign"), foreign_root, 9, {}, t0, t0 + 24h).value();
  auto m = wire::decode(d.ap.security_announce(d.network_id, 1).value()).value();
  std::get<wire::SecurityAnnounce>(m.body).crl = forged.der();  // outside the AP's signature
  const auto out = h->sm->receive(Role::ap, wire::encode(m), t0);
  ASSERT_TRUE(out.error.has_value());
  EXPECT_EQ(out.error->code, Errc::crl_invalid);
  EXPECT_FALSE(h->sm->crl_number().has_value());
  EXPECT_EQ(h->sm->state(), SmState::idle);  // refused before any trigger
}

TEST_P(Revocation, ARevokedTpAnswersNoTpCertReq) {
  ASSERT_TRUE(h->tp->update_crl(crl_revoking({h->tp->certificate()}).der()).ok());
  d.announce(*h);  // the announcement carries no CRL: the SM does not know
  expect_failure(Role::tp, Errc::cert_revoked);
}

// The CRL reaches the host while the handshake runs (after TPCertReq): the TP installs no keys.
TEST_P(Revocation, ACrlArrivingDuringTheRunStopsItAtTheTp) {
  const auto crl = crl_revoking({h->sm->certificate()});
  const auto info =
      GetParam() == wire::Profile::hardened1 ? wire::MessageType::cwek_gen_info_h1 : wire::MessageType::cwek_gen_info;
  d.net.tamper = [&](protocol::Hop& hop) {
    if (type_of(hop) == info) (void)h->tp->update_crl(crl.der());
  };
  d.announce(*h);
  expect_failure(Role::tp, Errc::cert_revoked);
  EXPECT_FALSE(h->tp->has_cw_keys());
}

// A session whose SM a new CRL revokes is no longer validated: its presence ends at once and it
// gets no image key.
TEST_P(Revocation, TheApEndsARevokedSmsSessionAndGrantsItNoImageKey) {
  d.announce(*h);
  ASSERT_TRUE(d.established(*h));
  const auto request = h->sm->request_image();
  ASSERT_TRUE(request.ok());
  const auto adopted = d.ap.update_crl(crl_revoking({h->sm->certificate()}).der(), t0);
  bool left = false;
  for (const auto& m : adopted.messages) left |= m.to == Role::ta && m.must_arrive;
  EXPECT_TRUE(left) << "no HostPresence(left) for the revoked SM";
  const auto grant = d.ap.grant_image_key(h->session, request.messages.at(0).bytes, 1);
  ASSERT_FALSE(grant);
  EXPECT_EQ(grant.error().code, Errc::image_not_authenticated);
}

INSTANTIATE_TEST_SUITE_P(Profiles, Revocation, ::testing::Values(wire::Profile::koo2010, wire::Profile::hardened1),
                         [](const auto& instance) { return std::string(wire::profile_name(instance.param)); });

}  // namespace
}  // namespace dcas
