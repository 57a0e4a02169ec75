// Client image download (SM <-> AP, PS) and the CAS (EMM, ECM -> CW channel -> TP), I/O-free: each
// check of the bootloader and the CA client has a test where exactly that check fails and nothing
// is installed or released. The PS side here is the real sealing code with the AP's test key.
#include <unistd.h>

#include <fstream>

#include "headend/broadcast.h"
#include "host/receiver.h"
#include "protocol/cas.h"
#include "protocol/client_image.h"
#include "protocol_support.h"
#include "ts/compare.h"

namespace dcas {
namespace {

using namespace dcas::test;
using protocol::SecureMicro;

struct DownloadTest : ::testing::Test {
  Deployment d;
  std::unique_ptr<protocol::InProcessHost> h = d.host("5300000000000001", "5400000000000001");
  crypto::SeededRandom rng{view("download-test")};
  SecureBytes ca_key = SecureBytes(16, 0xca);

  void SetUp() override {
    d.announce(*h);
    ASSERT_TRUE(d.established(*h));
  }
  // Sends the SM's ImageKeyRequest to the AP and returns the grant (for `offered` version).
  protocol::AuthProxy::ImageGrant grant(std::uint64_t offered = 1) {
    auto out = h->sm->request_image();
    EXPECT_TRUE(out.ok());
    EXPECT_EQ(out.messages.size(), 1u);
    auto g = d.ap.grant_image_key(h->session, out.messages.at(0).bytes, offered);
    EXPECT_TRUE(g) << g.error().message();
    return std::move(*g);
  }
  protocol::ImageContents contents(std::uint64_t version = 1) {
    return {d.network_id, version, h->sm->id(), ca_key, Bytes(3000, 0xc0)};
  }
  Bytes sealed(const protocol::ImageContents& c, ByteView key) {
    return protocol::seal_client_image(c, key, key_for("ap1"), rng).value();
  }
  static const crypto::RsaPrivateKey& key_for(const std::string& name) { return test::key(name); }
  protocol::Output deliver(ByteView bytes) { return h->sm->receive(Role::ap, bytes, t0); }
  // Runs the whole download of `version`; returns the SM's last output.
  protocol::Output download(std::uint64_t version = 1) {
    auto g = grant(version);
    EXPECT_TRUE(h->sm->receive(Role::ap, g.message, t0).ok());
    return deliver(sealed(contents(version), view(g.image_key)));
  }
};

TEST_F(DownloadTest, AVirginSmDownloadsAndInstallsItsPersonalizedImage) {
  EXPECT_TRUE(h->sm->wants_image());
  EXPECT_FALSE(h->sm->installed_image());
  auto out = download();
  ASSERT_TRUE(out.ok()) << out.error->message();
  EXPECT_TRUE(protocol::is<protocol::events::ImageInstalled>(out.events.back()));
  auto image = h->sm->installed_image();
  ASSERT_TRUE(image);
  EXPECT_EQ(image->version, 1u);
  EXPECT_EQ(image->network_id, d.network_id);
  EXPECT_TRUE(equal_ct(view(image->ca_key), view(ca_key)));
  EXPECT_EQ(h->sm->download(), SecureMicro::Download::none);
  EXPECT_FALSE(h->sm->wants_image());
}

TEST_F(DownloadTest, TheApGrantsOnlyAfterTheTaValidatedTheSmOnThatSession) {
  auto out = h->sm->request_image();
  auto g = d.ap.grant_image_key(h->session + 1000, out.messages.at(0).bytes, 1);
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().code, Errc::image_not_authenticated);
  d.ap.drop_session(h->session);  // the host went away: its validation with it
  g = d.ap.grant_image_key(h->session, out.messages.at(0).bytes, 1);
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().code, Errc::image_not_authenticated);
}

TEST_F(DownloadTest, TheApRefusesARequestWithABadSignatureOrAnotherSmsId) {
  auto out = h->sm->request_image();
  Bytes forged = out.messages.at(0).bytes;
  forged[forged.size() - 1] ^= 0x01;  // inside the signature
  auto g = d.ap.grant_image_key(h->session, forged, 1);
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().code, Errc::signature_invalid);
  auto m = wire::decode(out.messages.at(0).bytes).value();
  std::get<wire::ImageKeyRequest>(m.body).sm_id = Bytes(8, 0x53);
  g = d.ap.grant_image_key(h->session, wire::encode(m), 1);
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().code, Errc::id_mismatch);
}

TEST_F(DownloadTest, AGrantForAnotherRequestOrNotSignedByTheApIsRefused) {
  auto g = grant();
  auto m = wire::decode(g.message).value();
  std::get<wire::ImageKeyGrant>(m.body).nonce = Bytes(16, 0);
  auto resigned = protocol::sign_and_encode(m, key_for("ap1"), rng).value();
  auto out = deliver(resigned);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error->code, Errc::image_wrong_target);
  EXPECT_EQ(h->sm->download(), SecureMicro::Download::none);
  EXPECT_EQ(h->sm->state(), SecureMicro::State::established);  // the CW channel stands

  g = grant();
  m = wire::decode(g.message).value();
  auto by_another_key = protocol::sign_and_encode(m, key_for("tp1"), rng).value();
  out = deliver(by_another_key);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error->code, Errc::signature_invalid);
}

TEST_F(DownloadTest, AGrantWhoseKeyIsNotForThisSmIsRefused) {
  auto g = grant();
  auto m = wire::decode(g.message).value();
  // The image key encrypted to another key (the TP's): the SM cannot decrypt it.
  std::get<wire::ImageKeyGrant>(m.body).encrypted_image_key =
      crypto::oaep_encrypt(key_for("tp1").public_key(), Bytes(16, 1), rng).value();
  auto out = deliver(protocol::sign_and_encode(m, key_for("ap1"), rng).value());
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error->code, Errc::decrypt_failed);
  EXPECT_EQ(h->sm->download(), SecureMicro::Download::none);
}

TEST_F(DownloadTest, AnImageWhoseContentsDisagreeWithItsEnvelopeIsRefused) {
  auto g = grant();
  ASSERT_TRUE(h->sm->receive(Role::ap, g.message, t0).ok());
  // Personalized for another SM inside, relabelled for this one outside and signed again.
  auto other = contents();
  other.sm = SmId::from_hex("5300000000000099").value();
  auto m = wire::decode(sealed(other, view(g.image_key))).value();
  std::get<wire::ClientImage>(m.body).sm_id = Bytes(h->sm->id().bytes.begin(), h->sm->id().bytes.end());
  auto out = deliver(protocol::sign_and_encode(m, key_for("ap1"), rng).value());
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error->code, Errc::image_invalid);
  EXPECT_FALSE(h->sm->installed_image());
}

TEST_F(DownloadTest, AnImageOutOfTurnIsRefusedWithoutEndingTheChannel) {
  auto out = deliver(sealed(contents(), Bytes(16, 1)));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error->code, Errc::unexpected_message);
  EXPECT_EQ(h->sm->state(), SecureMicro::State::established);
}

// Each bootloader check, failing alone; the previous image (none here, version 1 in the next test)
// stays installed.
TEST_F(DownloadTest, EveryBootloaderCheckRefusesATamperedOrForeignImage) {
  struct Case {
    std::string name;
    std::function<Bytes(const protocol::ImageContents&, ByteView key)> make;
    Errc expected;
  };
  const std::vector<Case> cases = {
      {"flipped ciphertext bit",
       [&](const auto& c, ByteView key) {
         auto b = sealed(c, key);
         b[200] ^= 0x01;
         return b;
       },
       Errc::signature_invalid},
      {"signed by another key",
       [&](const auto& c, ByteView key) {
         auto m = wire::decode(sealed(c, key)).value();
         return protocol::sign_and_encode(m, key_for("tp1"), rng).value();
       },
       Errc::signature_invalid},
      {"for another SM",
       [&](const auto& c, ByteView key) {
         auto other = c;
         other.sm = SmId::from_hex("5300000000000099").value();
         return sealed(other, key);
       },
       Errc::image_wrong_target},
      {"another version than granted",
       [&](const auto& c, ByteView key) {
         auto other = c;
         other.version = 7;
         return sealed(other, key);
       },
       Errc::image_wrong_target},
      {"another network",
       [&](const auto& c, ByteView key) {
         auto other = c;
         other.network_id = Bytes(8, 0x99);
         return sealed(other, key);
       },
       Errc::image_wrong_target},
      {"encrypted under another key", [&](const auto& c, ByteView) { return sealed(c, Bytes(16, 0x42)); },
       Errc::image_invalid},
  };
  for (const auto& c : cases) {
    auto g = grant();
    ASSERT_TRUE(h->sm->receive(Role::ap, g.message, t0).ok());
    auto out = deliver(c.make(contents(), view(g.image_key)));
    ASSERT_FALSE(out.ok()) << c.name;
    EXPECT_EQ(out.error->code, c.expected) << c.name << ": " << out.error->message();
    EXPECT_FALSE(h->sm->installed_image()) << c.name;
    EXPECT_EQ(h->sm->download(), SecureMicro::Download::none) << c.name;
  }
}

TEST_F(DownloadTest, AFailedUpdateLeavesThePreviousImageAndNoDowngradeIsAccepted) {
  ASSERT_TRUE(download(2).ok());
  // A tampered version 3 fails: version 2 stays.
  auto g = grant(3);
  ASSERT_TRUE(h->sm->receive(Role::ap, g.message, t0).ok());
  auto b = sealed(contents(3), view(g.image_key));
  b[300] ^= 0x80;
  EXPECT_FALSE(deliver(b).ok());
  EXPECT_EQ(h->sm->installed_image()->version, 2u);
  // An older version on the same network is refused at the grant, before any download.
  g = grant(1);
  auto out = h->sm->receive(Role::ap, g.message, t0);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error->code, Errc::image_downgrade);
  EXPECT_EQ(h->sm->installed_image()->version, 2u);
  // A newer one installs.
  ASSERT_TRUE(download(3).ok());
  EXPECT_EQ(h->sm->installed_image()->version, 3u);
}

TEST_F(DownloadTest, AnnouncementsDecideWhetherAnImageIsWanted) {
  ASSERT_TRUE(download(1).ok());
  d.announce(*h);  // version 1 of the same network: nothing to fetch
  EXPECT_FALSE(h->sm->wants_image());
  protocol::Output out;
  out.send(Role::sm, d.ap.security_announce(d.network_id, 2).value(), h->session);
  d.net.run(*h, Role::ap, std::move(out), t0);
  EXPECT_TRUE(h->sm->wants_image());  // a newer version
  out = {};
  out.send(Role::sm, d.ap.security_announce(d.network_id, 0).value(), h->session);
  d.net.run(*h, Role::ap, std::move(out), t0);
  EXPECT_FALSE(h->sm->wants_image());  // version 0: no image on offer
}

// The CAS through the SM: EMM -> entitlement, ECM -> CWs -> ControlWord -> TP.
TEST_F(DownloadTest, TheCaClientTurnsEntitledEcmsIntoControlWordsAtTheTp) {
  const Bytes product_key(16, 0x9a);
  protocol::ControlWords cws;
  cws.cw_length = 8;
  cws.even.emplace();
  cws.odd.emplace();
  cws.even->fill(0);
  cws.odd->fill(0);
  for (int i = 0; i < 8; ++i)
    (*cws.even)[i] = static_cast<std::uint8_t>(i), (*cws.odd)[i] = static_cast<std::uint8_t>(0x80 + i);
  const auto ecm = protocol::seal_ecm(product_key, 7, 1, cws, rng).value();
  auto out = h->sm->receive_cas(ecm, t0);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error->code, Errc::no_image);

  ASSERT_TRUE(download().ok());
  out = h->sm->receive_cas(ecm, t0);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error->code, Errc::not_entitled);
  EXPECT_TRUE(out.messages.empty());

  const auto until = static_cast<std::uint64_t>(protocol::to_unix_ms(t0) / 1000 + 3600);
  const auto emm = protocol::seal_emm(view(ca_key), h->sm->id(), {7, until}, product_key, rng).value();
  out = h->sm->receive_cas(emm, t0);
  ASSERT_TRUE(out.ok()) << out.error->message();
  out = h->sm->receive_cas(ecm, t0);
  ASSERT_TRUE(out.ok()) << out.error->message();
  ASSERT_EQ(out.messages.size(), 1u);
  EXPECT_EQ(out.messages[0].to, Role::tp);
  ASSERT_TRUE(h->tp->receive(out.messages[0].bytes, t0).ok());
  EXPECT_EQ(h->tp->control_word(protocol::Parity::even), cws.even);
  EXPECT_EQ(h->tp->control_word(protocol::Parity::odd), cws.odd);
  // The same period again (ECMs repeat): nothing new for the TP.
  out = h->sm->receive_cas(ecm, t0);
  EXPECT_TRUE(out.ok());
  EXPECT_TRUE(out.messages.empty());
}

struct CaClientTest : ::testing::Test {
  crypto::SeededRandom rng{view("ca-client")};
  SmId sm = SmId::from_hex("5300000000000001").value();
  Bytes ca_key = Bytes(16, 0xca), product_key = Bytes(16, 0x9a);
  protocol::CaClient client = protocol::CaClient::create(sm, ca_key).value();
  std::uint64_t until = static_cast<std::uint64_t>(protocol::to_unix_ms(t0) / 1000 + 60);
  protocol::ControlWords cws = [] {
    protocol::ControlWords c;
    c.cw_length = 16;
    c.odd.emplace();
    c.even.emplace();
    c.odd->fill(0x0d);
    c.even->fill(0x0e);
    return c;
  }();
  Bytes emm(std::uint64_t product = 7) {
    return protocol::seal_emm(ca_key, sm, {product, until}, product_key, rng).value();
  }
  Bytes ecm(std::uint64_t period, std::uint64_t product = 7) {
    return protocol::seal_ecm(product_key, product, period, cws, rng).value();
  }
  Errc ecm_error(ByteView m, protocol::TimePoint now = t0) {
    auto r = client.on_ecm(m, now);
    return r ? Errc::ok : r.error().code;
  }
};

TEST_F(CaClientTest, EmmChecks) {
  auto other = protocol::seal_emm(ca_key, SmId::from_hex("5300000000000002").value(), {7, until}, product_key, rng);
  EXPECT_EQ(client.on_emm(*other).error().code, Errc::not_addressed);
  auto flipped = emm();
  flipped[40] ^= 0x01;  // inside the IV
  EXPECT_EQ(client.on_emm(flipped).error().code, Errc::mac_invalid);
  auto foreign = protocol::seal_emm(Bytes(16, 0x01), sm, {7, until}, product_key, rng);
  EXPECT_EQ(client.on_emm(*foreign).error().code, Errc::mac_invalid);  // another network's CA key
  EXPECT_TRUE(client.entitlements().empty());
  auto e = client.on_emm(emm());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->product_id, 7u);
  EXPECT_EQ(client.entitlements().at(7).expires_at, until);
  // A newer EMM shortens the entitlement; the older one replayed cannot lengthen it again.
  auto newer = protocol::seal_emm(ca_key, sm, {7, until - 30, 2000}, product_key, rng).value();
  ASSERT_TRUE(client.on_emm(newer));
  auto older = protocol::seal_emm(ca_key, sm, {7, until + 3600, 1000}, product_key, rng).value();
  EXPECT_EQ(client.on_emm(older).error().code, Errc::emm_replayed);
  EXPECT_EQ(client.entitlements().at(7).expires_at, until - 30);
}

TEST_F(CaClientTest, AnEcmWithAMalformedLayoutIsRefusedEvenWithAGoodMac) {
  ASSERT_TRUE(client.on_emm(emm()));
  // What only a faulty headend could send: an unknown slot bit, authenticated by the right key.
  auto m = wire::decode(ecm(5)).value();
  auto& body = std::get<wire::Ecm>(m.body);
  body.layout = {0x04, 16};
  const auto keys = protocol::derive_cas_keys(product_key).value();
  const auto tag = crypto::hmac_sha1(view(keys.mac), wire::authenticated_bytes(m));
  body.mac.assign(tag.begin(), tag.end());
  EXPECT_EQ(ecm_error(wire::encode(m)), Errc::bad_plaintext);
  EXPECT_EQ(ecm_error(ecm(5)), Errc::ok);  // nothing changed: period 5 is still accepted
}

TEST_F(CaClientTest, EcmChecks) {
  EXPECT_EQ(ecm_error(ecm(5)), Errc::not_entitled);
  ASSERT_TRUE(client.on_emm(emm()));
  EXPECT_EQ(ecm_error(ecm(5, 8)), Errc::not_entitled);  // another product
  auto flipped = ecm(5);
  flipped[20] ^= 0x01;
  EXPECT_EQ(ecm_error(flipped), Errc::mac_invalid);
  auto r = client.on_ecm(ecm(5), t0);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->odd, cws.odd);
  EXPECT_EQ((*r)->even, cws.even);
  EXPECT_EQ(ecm_error(ecm(4)), Errc::ecm_replayed);
  r = client.on_ecm(ecm(5), t0);
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);  // a repeat
  EXPECT_EQ(ecm_error(ecm(6), t0 + std::chrono::seconds(61)), Errc::entitlement_expired);
  EXPECT_EQ(ecm_error(ecm(6)), Errc::ok);
}

// ---- product rekeying (docs/spec.md §15.4) ----

struct RekeyTest : CaClientTest {
  Bytes next_key = Bytes(16, 0x9b);
  Bytes emm_of(std::uint64_t epoch, std::uint64_t issued = 1000) {
    return protocol::seal_emm(ca_key, sm, {7, until, issued, epoch}, epoch == 1 ? product_key : next_key, rng).value();
  }
  Bytes ecm_of(std::uint64_t epoch, std::uint64_t period) {
    return protocol::seal_ecm(epoch == 1 ? product_key : next_key, 7, period, cws, rng, epoch).value();
  }
};

TEST_F(RekeyTest, TheNextKeyWaitsBesideTheOneInUseUntilTheSwitchThenTheOldOneIsRetired) {
  ASSERT_TRUE(client.on_emm(emm_of(1)));
  ASSERT_TRUE(client.on_emm(emm_of(2)));  // sent ahead of the switch
  EXPECT_EQ(ecm_error(ecm_of(1, 0)), Errc::ok);
  EXPECT_EQ(ecm_error(ecm_of(1, 1)), Errc::ok);
  EXPECT_EQ(ecm_error(ecm_of(2, 2)), Errc::ok);  // the switch: no gap
  EXPECT_EQ(client.entitlements().at(7).key_epoch, 2u);
  // The old key is gone for good: its ECMs, and its EMMs repeated, change nothing.
  EXPECT_EQ(ecm_error(ecm_of(1, 3)), Errc::not_entitled);
  ASSERT_TRUE(client.on_emm(emm_of(1)));
  EXPECT_EQ(ecm_error(ecm_of(1, 4)), Errc::not_entitled);
  EXPECT_EQ(ecm_error(ecm_of(2, 4)), Errc::ok);
}

TEST_F(RekeyTest, AnSmLeftOutOfTheNextKeysEmmsGetsNoControlWordsAfterTheSwitch) {
  ASSERT_TRUE(client.on_emm(emm_of(1)));  // it held the key before it was unsubscribed
  EXPECT_EQ(ecm_error(ecm_of(1, 0)), Errc::ok);
  auto r = client.on_ecm(ecm_of(2, 1), t0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::not_entitled);
  EXPECT_NE(r.error().detail.find("epoch 2"), std::string::npos) << r.error().detail;
}

TEST_F(RekeyTest, TheKeysHeldSurviveARestoreAndOnlyTheTwoHighestEpochsAreKept) {
  ASSERT_TRUE(client.on_emm(emm_of(1)));
  ASSERT_TRUE(client.on_emm(emm_of(2)));
  auto restored = protocol::CaClient::create(sm, ca_key).value();
  ASSERT_TRUE(restored.restore(client.held()));
  EXPECT_TRUE(restored.on_ecm(ecm_of(1, 0), t0));
  EXPECT_TRUE(restored.on_ecm(ecm_of(2, 1), t0));
  // Epoch 3 arrives before any ECM: epoch 1 is the one in use and stays, epoch 2 (never switched
  // to: the headend skipped it) goes. Two keys at most.
  const Bytes third(16, 0x9c);
  ASSERT_TRUE(client.on_emm(protocol::seal_emm(ca_key, sm, {7, until, 1000, 3}, third, rng).value()));
  auto held = client.held();
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(held[0].entitlement.key_epoch, 1u);
  EXPECT_EQ(held[1].entitlement.key_epoch, 3u);
  EXPECT_EQ(ecm_error(ecm_of(1, 0)), Errc::ok);  // no gap before the switch
  // In use is the last ECM's epoch: once epoch 3 is on air, a fourth key replaces nothing but 3's rival.
  EXPECT_EQ(client.on_ecm(protocol::seal_ecm(third, 7, 1, cws, rng, 3).value(), t0).has_value(), true);
  ASSERT_TRUE(client.on_emm(protocol::seal_emm(ca_key, sm, {7, until, 1000, 4}, next_key, rng).value()));
  held = client.held();
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(held[0].entitlement.key_epoch, 3u);
  EXPECT_EQ(held[1].entitlement.key_epoch, 4u);
}

}  // namespace
}  // namespace dcas

// ---- the CAS on the broadcast: the headend's Broadcaster, the host's Receiver ----

namespace dcas {
namespace {

using namespace dcas::test;
namespace fs = std::filesystem;

Bytes read_file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}
void write_file_bytes(const fs::path& p, const Bytes& b) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
std::uint16_t pid_of(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[1] & 0x1f) << 8 | p[2]); }

struct BroadcastTest : DownloadTest {
  const Bytes product_key = Bytes(16, 0x9a);
  const fs::path source = ffmpeg_ts(4);
  headend::BroadcastConfig config = [] {
    headend::BroadcastConfig c;
    c.crypto_period = std::chrono::seconds(1);
    c.product_id = 7;
    return c;
  }();

  void SetUp() override {
    DownloadTest::SetUp();
    ASSERT_TRUE(download().ok());
  }
  Bytes emm_for(const SmId& sm, ByteView ca) {
    const auto until = static_cast<std::uint64_t>(protocol::to_unix_ms(std::chrono::system_clock::now()) / 1000 + 3600);
    return protocol::seal_emm(ca, sm, {7, until}, product_key, rng).value();
  }
  // One product key (epoch 1), EMMs carrying it.
  headend::ProductKeys keys() const { return {{1, SecureBytes(product_key.begin(), product_key.end())}, std::nullopt}; }
  static std::vector<headend::SealedEmm> of_epoch_1(std::vector<Bytes> emms) {
    std::vector<headend::SealedEmm> out;
    for (auto& e : emms) out.push_back({1, std::move(e)});
    return out;
  }
  Bytes scramble(std::vector<Bytes> emms, headend::BroadcastStats* stats = nullptr) {
    auto b = headend::Broadcaster::create(config, keys(), of_epoch_1(std::move(emms)), rng).value();
    const Bytes in = read_file_bytes(source);
    Bytes out;
    // In uneven chunks, as a file is read.
    for (std::size_t at = 0; at < in.size(); at += 188 * 777) {
      const auto n = std::min<std::size_t>(188 * 777, in.size() - at);
      EXPECT_TRUE(b.process(ByteView(in).subspan(at, n), out));
    }
    if (stats) *stats = b.stats();
    return out;
  }
  // The host's side: a real SM and TP (the test's, with the CW channel up). The receiver uses the
  // wall clock, as a host does: the CW channel's staleness check runs on it.
  host::ReceiverStats receive(const Bytes& scrambled, const fs::path& out_file) {
    host::Receiver receiver(*h->driver, config.algorithm, config.ca_system_id, [](std::string_view) {});
    Bytes out;
    receiver.feed(scrambled, out);
    receiver.finish(out);
    write_file_bytes(out_file, out);
    return receiver.stats();
  }
  fs::path temp(const std::string& name) {
    return fs::temp_directory_path() / ("dcas-bc-" + std::to_string(::getpid()) + "-" + name);
  }
};

TEST_F(BroadcastTest, AnEntitledHostGetsTheProgrammeBackPacketForPacket) {
  headend::BroadcastStats st;
  const Bytes scrambled = scramble({emm_for(h->sm->id(), view(ca_key))}, &st);
  EXPECT_GE(st.crypto_periods, 4u);
  EXPECT_EQ(st.elementary_pids, (std::set<std::uint16_t>{0x100, 0x101}));
  const Bytes clear = read_file_bytes(source);
  std::map<std::uint16_t, std::vector<const std::uint8_t*>> src;
  for (std::size_t at = 0; at + 188 <= clear.size(); at += 188) src[pid_of(&clear[at])].push_back(&clear[at]);
  std::map<std::uint16_t, std::size_t> seen;
  std::vector<ts::Scrambling> parities;
  bool cat = false, ca_descriptor = false;
  for (std::size_t at = 0; at + 188 <= scrambled.size(); at += 188) {
    const std::uint8_t* p = &scrambled[at];
    auto info = ts::parse_packet(ByteView(p, 188)).value();
    const bool es = st.elementary_pids.contains(info.pid);
    if (!es) {
      EXPECT_EQ(info.scrambling, ts::Scrambling::clear) << "PSI, ECM and EMM packets stay clear";
      cat |= info.pid == ts::cat_pid;
      if (info.pid == 0x1000 && info.payload_unit_start) {
        auto pmt = ts::parse_pmt(ByteView(p + 5, 183).first(3 + ((p[6] & 0x0f) << 8 | p[7])));
        ca_descriptor |= pmt && !pmt->ca.empty() && pmt->ca[0].ca_pid == config.ecm_pid &&
                         pmt->ca[0].ca_system_id == config.ca_system_id;
      }
      continue;
    }
    // Header and adaptation field as in the source, only the scrambling bits set.
    const std::uint8_t* original = src[info.pid].at(seen[info.pid]++);
    EXPECT_EQ(p[1], original[1]);
    EXPECT_EQ(p[3] & 0x3f, original[3] & 0x3f);
    if (info.has_adaptation_field) EXPECT_TRUE(std::equal(p + 4, p + info.payload_offset, original + 4));
    if (info.has_payload && info.payload_size() >= 8) {
      EXPECT_NE(info.scrambling, ts::Scrambling::clear);
      if (parities.empty() || parities.back() != info.scrambling) parities.push_back(info.scrambling);
    }
  }
  EXPECT_TRUE(cat);
  EXPECT_TRUE(ca_descriptor);
  // The key changes once per crypto period, alternating parity.
  EXPECT_GE(parities.size(), 4u);
  for (std::size_t i = 1; i < parities.size(); ++i) EXPECT_NE(parities[i], parities[i - 1]);

  const auto out = temp("entitled.ts");
  const auto rs = receive(scrambled, out);
  EXPECT_EQ(rs.control_word_updates, st.crypto_periods);
  EXPECT_EQ(rs.left_scrambled, 0u);
  EXPECT_TRUE(rs.refused.empty());
  const auto c = ts::compare_programme(source, out).value();
  EXPECT_TRUE(c.identical) << c.first_difference;
  fs::remove(out);
}

// A looped source: at the join the PCR goes back to the start. The periods go on from where they
// were (the control words keep changing), and the host still gets the programme back.
TEST_F(BroadcastTest, APcrThatGoesBackwardsDoesNotFreezeTheControlWords) {
  const Bytes once = read_file_bytes(source);
  Bytes twice = once;
  twice.insert(twice.end(), once.begin(), once.end());
  const auto looped = temp("looped-source.ts");
  write_file_bytes(looped, twice);
  auto b = headend::Broadcaster::create(config, keys(), of_epoch_1({emm_for(h->sm->id(), view(ca_key))}), rng).value();
  Bytes scrambled;
  ASSERT_TRUE(b.process(twice, scrambled));
  EXPECT_GE(b.stats().crypto_periods, 7u);  // about 4 per pass of the 4 s source
  const auto out = temp("looped.ts");
  const auto rs = receive(scrambled, out);
  EXPECT_EQ(rs.control_word_updates, b.stats().crypto_periods);
  EXPECT_EQ(rs.left_scrambled, 0u);
  const auto c = ts::compare_programme(looped, out).value();
  EXPECT_TRUE(c.identical) << c.first_difference;
  fs::remove(out);
  fs::remove(looped);
}

TEST_F(BroadcastTest, WithoutAnEntitlementNoControlWordReachesTheTp) {
  // An EMM for another SM only; and one for this SM under another network's CA key.
  const Bytes scrambled = scramble(
      {emm_for(SmId::from_hex("5300000000000099").value(), view(ca_key)), emm_for(h->sm->id(), Bytes(16, 0x01))});
  const auto out = temp("unentitled.ts");
  const auto rs = receive(scrambled, out);
  EXPECT_EQ(rs.control_word_updates, 0u);
  EXPECT_GT(rs.emms_for_others, 0u);
  EXPECT_GT(rs.refused.at("mac_invalid"), 0u);
  EXPECT_GT(rs.refused.at("not_entitled"), 0u);
  EXPECT_GT(rs.left_scrambled, 0u);
  const auto c = ts::compare_programme(source, out).value();
  EXPECT_FALSE(c.identical);
  EXPECT_LT(c.matching_packets * 10, c.source_packets);
  fs::remove(out);
}

TEST_F(BroadcastTest, ReplayedAndTamperedEcmsInTheStreamAreRefusedAndChangeNothing) {
  headend::BroadcastStats st;
  Bytes scrambled = scramble({emm_for(h->sm->id(), view(ca_key))}, &st);
  std::vector<std::size_t> ecms;
  for (std::size_t at = 0; at + 188 <= scrambled.size(); at += 188)
    if (pid_of(&scrambled[at]) == config.ecm_pid) ecms.push_back(at);
  ASSERT_GT(ecms.size(), 10u);
  // A copy of the first ECM packet (period 0) replaces a repeat late in the stream; another repeat
  // gets a flipped byte inside its message.
  std::copy_n(&scrambled[ecms[0]], 188, &scrambled[ecms[ecms.size() - 3]]);
  scrambled[ecms[ecms.size() - 5] + 40] ^= 0x01;
  const auto out = temp("replayed.ts");
  const auto rs = receive(scrambled, out);
  EXPECT_EQ(rs.refused.at("ecm_replayed"), 1u);
  EXPECT_EQ(rs.refused.size(), 2u);  // and the tampered one, as a MAC or decoding failure
  const auto c = ts::compare_programme(source, out).value();
  EXPECT_TRUE(c.identical) << c.first_difference;
  fs::remove(out);
}

// A rekeying on the broadcast: the subscriber given the next key's EMMs keeps the programme without
// a gap; an SM that holds only the old key (unsubscribed before the broadcast) loses it within one
// crypto period of the switch.
TEST_F(BroadcastTest, ARekeyingSwitchesTheEcmsAndOnlyTheSmsGivenTheNextKeyFollow) {
  const Bytes next_key(16, 0x9b);
  // Each run on a product of its own: the SM's state for one does not carry into the other.
  auto rekeyed = [&](bool with_next_emm, std::uint64_t product, headend::BroadcastStats* stats) {
    const auto until = static_cast<std::uint64_t>(protocol::to_unix_ms(std::chrono::system_clock::now()) / 1000 + 3600);
    std::vector<headend::SealedEmm> emms{
        {1, protocol::seal_emm(view(ca_key), h->sm->id(), {product, until, 1, 1}, product_key, rng).value()}};
    if (with_next_emm)
      emms.push_back({2, protocol::seal_emm(view(ca_key), h->sm->id(), {product, until, 1, 2}, next_key, rng).value()});
    headend::ProductKeys keys{{1, SecureBytes(product_key.begin(), product_key.end())},
                              headend::ProductKey{2, SecureBytes(next_key.begin(), next_key.end())}};
    auto c = config;
    c.rekey_after = 2;
    c.product_id = product;
    auto b = headend::Broadcaster::create(c, std::move(keys), std::move(emms), rng).value();
    Bytes out;
    EXPECT_TRUE(b.process(read_file_bytes(source), out));
    *stats = b.stats();
    return out;
  };
  headend::BroadcastStats st;
  const auto kept = temp("rekeyed-kept.ts");
  auto rs = receive(rekeyed(true, 7, &st), kept);
  ASSERT_TRUE(st.switched_at.has_value());
  EXPECT_EQ(*st.switched_at, 2u);
  EXPECT_EQ(st.key_epoch, 2u);
  // Both epochs' EMMs before the switch, only the new one's after.
  EXPECT_EQ(st.emm_sections, 2 * 2 + (st.crypto_periods - 2));
  EXPECT_EQ(rs.control_word_updates, st.crypto_periods);
  EXPECT_EQ(rs.left_scrambled, 0u);
  auto c = ts::compare_programme(source, kept).value();
  EXPECT_TRUE(c.identical) << c.first_difference;

  // The same SM as an unsubscribed one: it holds the old key only (from the EMMs of before).
  const auto lost = temp("rekeyed-lost.ts");
  rs = receive(rekeyed(false, 8, &st), lost);
  EXPECT_EQ(rs.control_word_updates, 2u);  // periods 0 and 1, under the old key
  EXPECT_GT(rs.refused.at("not_entitled"), 0u);
  c = ts::compare_programme(source, lost).value();
  EXPECT_FALSE(c.identical);
  // Periods 0-2 play (period 1's ECM also carried period 2's CW), none after.
  EXPECT_GT(c.matching_packets, 0u);
  EXPECT_LT(c.matching_packets, c.source_packets);
  fs::remove(kept);
  fs::remove(lost);
}

}  // namespace
}  // namespace dcas