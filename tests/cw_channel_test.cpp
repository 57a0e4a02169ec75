// The control-word channel: the construction of docs/spec.md recomputed independently, and the
// TP's refusal of tampered, replayed, reordered, stale and malformed messages.
#include "protocol/cw_channel.h"

#include "crypto/aes.h"
#include "crypto/hash.h"
#include "protocol/envelope.h"
#include "protocol_support.h"
#include "wire/message.h"

namespace dcas {
namespace {

using namespace test;
using protocol::ControlWords;
using protocol::CwOpener;
using protocol::CwSealer;

const Bytes cwek = from_hex("2af681b20c9f04257f724e55889eb138").value();
const Bytes hmac_key = from_hex("373a6a8da7c65e9b618c46085e5e16d241a0ac14").value();

ControlWords sample(std::uint8_t seed = 1) {
  ControlWords c;
  c.cw_length = 16;
  c.odd = std::array<std::uint8_t, 16>{};
  c.even = std::array<std::uint8_t, 16>{};
  for (int i = 0; i < 16; ++i)
    (*c.odd)[i] = static_cast<std::uint8_t>(seed + i), (*c.even)[i] = static_cast<std::uint8_t>(0x80 + seed + i);
  return c;
}

// The spec's construction, written again from the text: IV = AES-128(CWEK, 0^8 || seq);
// ciphertext = AES-128-CBC(CWEK, IV, odd slot || even slot); mac = HMAC-SHA1(HMAC_KEY, header[0..4) ||
// the body up to the mac field).
wire::Message by_the_spec(std::uint64_t seq, std::uint64_t issued_at, Bytes layout, Bytes plaintext) {
  Bytes n(16, 0);
  for (int i = 0; i < 8; ++i) n[8 + i] = static_cast<std::uint8_t>(seq >> (56 - 8 * i));
  const auto iv = crypto::aes128_ecb_encrypt_block(cwek, n).value();
  const auto ct = crypto::aes128_run(crypto::AesMode::cbc, crypto::AesDirection::encrypt, cwek, iv, plaintext).value();
  wire::Message m{wire::Profile::koo2010, wire::ControlWord{seq, issued_at, layout, ct, {}}, {}};
  const auto mac = crypto::hmac_sha1(hmac_key, wire::authenticated_bytes(m));
  std::get<wire::ControlWord>(m.body).mac.assign(mac.begin(), mac.end());
  return m;
}

struct CwChannel : ::testing::Test {
  CwSealer sealer = CwSealer::create(cwek, hmac_key).value();
  CwOpener opener = CwOpener::create(cwek, hmac_key).value();
};

TEST_F(CwChannel, SealedMessagesAreTheSpecsConstruction) {
  const auto c = sample();
  const auto sealed = sealer.seal(c, t0).value();
  Bytes plaintext(c.odd->begin(), c.odd->end());
  plaintext.insert(plaintext.end(), c.even->begin(), c.even->end());
  const auto expected = by_the_spec(1, protocol::to_unix_ms(t0), {0x03, 0x10}, plaintext);
  EXPECT_EQ(to_hex(sealed), to_hex(wire::encode(expected)));
  // And the generic codec decodes the fast path's bytes to the same message.
  EXPECT_EQ(wire::encode(wire::decode(sealed).value()), Bytes(sealed.begin(), sealed.end()));
}

TEST_F(CwChannel, OpensWhatWasSealed) {
  for (std::uint8_t i = 1; i <= 5; ++i) {
    auto c = sample(i);
    if (i % 2) c.even.reset();
    const auto opened = opener.open(sealer.seal(c, t0).value(), t0).value();
    EXPECT_EQ(opened.odd, c.odd);
    EXPECT_EQ(opened.even, c.even);
  }
  EXPECT_EQ(opener.last_sequence(), 5u);
}

TEST_F(CwChannel, EightByteCwsForDvbCsa) {
  ControlWords c;
  c.cw_length = 8;
  c.even = std::array<std::uint8_t, 16>{1, 2, 3, 4, 5, 6, 7, 8};
  const auto opened = opener.open(sealer.seal(c, t0).value(), t0).value();
  EXPECT_EQ(opened.cw_length, 8);
  EXPECT_EQ(opened.even, c.even);
  EXPECT_FALSE(opened.odd.has_value());
}

TEST_F(CwChannel, EveryBitFlipIsRefused) {
  const auto sealed = sealer.seal(sample(), t0).value();
  for (std::size_t byte = 0; byte < sealed.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      auto m = sealed;
      m[byte] ^= static_cast<std::uint8_t>(1 << bit);
      ASSERT_FALSE(opener.open(m, t0).has_value()) << "byte " << byte << " bit " << bit;
    }
  }
  EXPECT_TRUE(opener.open(sealed, t0).has_value());  // the refusals changed nothing
}

TEST_F(CwChannel, ReplayedAndReorderedMessagesAreRefused) {
  const auto first = sealer.seal(sample(1), t0).value();
  const auto second = sealer.seal(sample(2), t0).value();
  ASSERT_TRUE(opener.open(second, t0));
  EXPECT_EQ(opener.open(first, t0).error().code, Errc::cw_replayed);   // reordered
  EXPECT_EQ(opener.open(second, t0).error().code, Errc::cw_replayed);  // replayed
}

TEST_F(CwChannel, StaleAndFutureMessagesAreRefused) {
  const auto m = sealer.seal(sample(), t0).value();
  EXPECT_EQ(opener.open(m, t0 + 30001ms).error().code, Errc::cw_stale);
  EXPECT_EQ(opener.open(m, t0 - 2001ms).error().code, Errc::cw_stale);
  EXPECT_TRUE(opener.open(m, t0 + 30000ms));  // the limit itself is accepted
}

TEST_F(CwChannel, MalformedLayoutsAreRefusedAfterTheMac) {
  const Bytes plaintext(32, 0x01);
  const auto now_ms = protocol::to_unix_ms(t0);
  // Undefined slot bit, no slot, CW length 12, padding after an 8-byte CW not zero.
  for (const Bytes& layout : {Bytes{0x07, 0x10}, Bytes{0x00, 0x10}, Bytes{0x01, 0x0c}, Bytes{0x01, 0x08}}) {
    const auto m = wire::encode(by_the_spec(9, now_ms, layout, plaintext));
    EXPECT_EQ(opener.open(m, t0).error().code, Errc::bad_plaintext) << to_hex(layout);
  }
  EXPECT_EQ(opener.last_sequence(), 0u);
}

TEST_F(CwChannel, AnExtensionBeforeTheMacIsAuthenticated) {
  auto m = by_the_spec(3, protocol::to_unix_ms(t0), {0x02, 0x10}, Bytes(32, 0));
  // Insert an ignorable field (number 0x50) before the mac and recompute the MAC over it.
  Bytes encoded = wire::encode(m);
  const Bytes ext{0x80, 0x50, 0x00, 0x01, 0x99};
  encoded.insert(encoded.begin() + 74, ext.begin(), ext.end());
  encoded[7] = static_cast<std::uint8_t>(encoded[7] + ext.size());
  const auto decoded = wire::decode(encoded).value();
  const auto mac = crypto::hmac_sha1(hmac_key, decoded.authenticated);
  std::copy(mac.begin(), mac.end(), encoded.end() - 20);
  EXPECT_TRUE(opener.open(encoded, t0));
}

TEST_F(CwChannel, KeysOfTheWrongSizeAreRefused) {
  EXPECT_EQ(CwSealer::create(Bytes(15), hmac_key).error().code, Errc::bad_length);
  EXPECT_EQ(CwOpener::create(cwek, Bytes(16)).error().code, Errc::bad_length);
  EXPECT_EQ(sealer.seal(ControlWords{}, t0).error().code, Errc::invalid_argument);
  auto bad = sample();
  bad.cw_length = 12;
  EXPECT_EQ(sealer.seal(bad, t0).error().code, Errc::invalid_argument);
}

TEST(CwChannelAtTheTp, TheLastGoodKeysStayAfterRefusals) {
  Deployment d;
  auto h = d.host("5300000000000001", "5400000000000001");
  d.announce(*h);
  ASSERT_TRUE(d.established(*h));
  const auto good = sample(1);
  ASSERT_TRUE(h->tp->receive(h->sm->seal_control_words(good, t0).value(), t0).ok());
  auto tampered = h->sm->seal_control_words(sample(2), t0).value();
  tampered[50] ^= 1;
  EXPECT_EQ(h->tp->receive(tampered, t0).error->code, Errc::mac_invalid);
  EXPECT_EQ(h->tp->control_word(protocol::Parity::odd), good.odd);
  // A failed new handshake (a forged TPCertReq) leaves the channel working.
  EXPECT_FALSE(h->tp->receive(wire::encode({wire::Profile::koo2010, wire::TpCertReq{Bytes(10, 1)}, {}}), t0).ok());
  EXPECT_EQ(h->tp->handshake(), protocol::TransportProcessor::Handshake::stopped);
  const auto next = sample(3);
  EXPECT_TRUE(h->tp->receive(h->sm->seal_control_words(next, t0 + 1s).value(), t0 + 1s).ok());
  EXPECT_EQ(h->tp->control_word(protocol::Parity::even), next.even);
}

TEST(CwChannelAtTheTp, ARekeyedPairUsesOnlyTheNewKeys) {
  Deployment d;
  auto h = d.host("5300000000000001", "5400000000000001");
  d.announce(*h);
  const auto old_message = h->sm->seal_control_words(sample(1), t0).value();
  d.report_presence(*h, false);
  d.power_up(*h, t0 + 1s);
  ASSERT_TRUE(d.established(*h));
  EXPECT_EQ(h->tp->receive(old_message, t0 + 1s).error->code, Errc::mac_invalid);  // old CWEK is gone
  EXPECT_TRUE(h->tp->receive(h->sm->seal_control_words(sample(2), t0 + 1s).value(), t0 + 1s).ok());
}

}  // namespace
}  // namespace dcas
