#include "common/byte_reader.h"
#include "crypto/rsa.h"
#include "test_support.h"
#include "wire/message.h"

namespace dcas {
namespace {

using wire::Message;

Bytes filled(std::size_t n, std::uint8_t v) { return Bytes(n, v); }

// One valid instance of every message type, with recognisable field contents.
std::vector<Message> samples() {
  const Bytes cert = filled(700, 0x30);
  const Bytes rsa = filled(256, 0xa1), sig = filled(256, 0x5e), ta_sig = filled(256, 0x7a);
  return {
      {wire::Profile::koo2010, wire::TpCertReq{cert}, {}},
      {wire::Profile::koo2010, wire::TpCertRsp{cert}, {}},
      {wire::Profile::koo2010, wire::KeyRequestFromSm{rsa, sig, cert}, {}},
      {wire::Profile::koo2010, wire::KeyRequestFromAp{filled(8, 0x41), rsa, 1780000000000, sig}, {}},
      {wire::Profile::koo2010, wire::KeyResponseFromTa{rsa, ta_sig, sig}, {}},
      {wire::Profile::koo2010, wire::KeyResponseFromAp{rsa, ta_sig, sig}, {}},
      {wire::Profile::koo2010, wire::CwekGenInfo{rsa, ta_sig, sig}, {}},
      {wire::Profile::koo2010, wire::CwekGenInfoCnfm{rsa, sig}, {}},
      {wire::Profile::koo2010,
       wire::ControlWord{42, 1700000000000, {0x03, 0x10}, filled(32, 0xc0), filled(20, 0xaa)},
       {}},
      {wire::Profile::koo2010, wire::SecurityAnnounce{filled(8, 0x4e), 7, sig, cert}, {}},
      {wire::Profile::koo2010, wire::DcasDownload{filled(8, 0x4e), 8, filled(8, 0x53), sig, cert}, {}},
      {wire::Profile::koo2010, wire::HostPresence{filled(8, 0x41), 1780000000000, filled(8, 0x53), {0x01}, sig}, {}},
      {wire::Profile::koo2010, wire::ImageKeyRequest{1, filled(8, 0x53), filled(16, 0x6e), sig}, {}},
      {wire::Profile::koo2010, wire::ImageKeyGrant{2, filled(8, 0x53), filled(16, 0x6e), rsa, sig}, {}},
      {wire::Profile::koo2010,
       wire::ClientImage{filled(8, 0x4e), 2, filled(8, 0x53), filled(16, 0x1f), filled(4096, 0xe1), sig},
       {}},
      {wire::Profile::koo2010,
       wire::Emm{1700000000000, filled(8, 0x53), filled(16, 0x1f), 7, 1800000000, filled(16, 0xe2), filled(20, 0xaa)},
       {}},
      {wire::Profile::koo2010,
       wire::Ecm{{0x03, 0x08}, filled(32, 0xc0), filled(16, 0x1f), 7, 12, filled(20, 0xaa)},
       {}},
  };
}

// Builds raw bytes: header fields as given, body from (tag, value) pairs in the order given.
Bytes raw(std::uint8_t type, const std::vector<std::pair<std::uint16_t, Bytes>>& fields, std::uint8_t version = 1,
          std::uint8_t profile = 1, std::uint8_t flags = 0) {
  ByteWriter w;
  w.u8(version);
  w.u8(profile);
  w.u8(type);
  w.u8(flags);
  w.u32(0);
  for (const auto& [tag, value] : fields) {
    w.u16(tag);
    w.u16(static_cast<std::uint16_t>(value.size()));
    w.bytes(value);
  }
  w.patch_u32(4, static_cast<std::uint32_t>(w.size() - 8));
  return w.take();
}

Errc decode_error(ByteView b) {
  auto m = wire::decode(b);
  return m ? Errc::ok : m.error().code;
}

TEST(Wire, EveryMessageRoundTrips) {
  for (const auto& m : samples()) {
    const Bytes encoded = wire::encode(m);
    auto decoded = wire::decode(encoded);
    ASSERT_TRUE(decoded) << wire::type_name(wire::type_of(m)) << ": " << decoded.error().message();
    EXPECT_EQ(wire::type_of(*decoded), wire::type_of(m));
    EXPECT_EQ(wire::encode(*decoded), encoded) << wire::type_name(wire::type_of(m));
    EXPECT_EQ(decoded->authenticated, wire::authenticated_bytes(m));
  }
}

TEST(Wire, EveryTruncatedPrefixOfEveryMessageIsRejected) {
  for (const auto& m : samples()) {
    const Bytes encoded = wire::encode(m);
    for (std::size_t n = 0; n < encoded.size(); ++n)
      ASSERT_EQ(decode_error(ByteView(encoded).first(n)), Errc::wire_truncated)
          << wire::type_name(wire::type_of(m)) << " prefix " << n;
  }
}

TEST(Wire, TruncatedFieldInsideACorrectlySizedBodyIsRejected) {
  // The header's length matches the data, but the last field claims more bytes than remain.
  Bytes b = raw(0x01, {{0x0080, filled(10, 1)}});
  b[8 + 3] = 11;  // field length 11, only 10 bytes follow
  EXPECT_EQ(decode_error(b), Errc::wire_truncated);
  EXPECT_EQ(decode_error(Bytes{1, 1, 1, 0, 0, 0, 0, 1, 0}), Errc::wire_truncated);  // body of one byte: half a tag
}

TEST(Wire, TrailingBytesAreRejected) {
  for (const auto& m : samples()) {
    Bytes encoded = wire::encode(m);
    encoded.push_back(0);
    EXPECT_EQ(decode_error(encoded), Errc::wire_trailing_bytes) << wire::type_name(wire::type_of(m));
  }
}

TEST(Wire, HeaderChecksEachHaveTheirOwnError) {
  const Bytes body = filled(100, 0x30);
  EXPECT_EQ(decode_error(raw(0x01, {{0x0080, body}}, 2)), Errc::wire_bad_version);
  EXPECT_EQ(decode_error(raw(0x01, {{0x0080, body}}, 1, 3)), Errc::wire_unknown_profile);
  EXPECT_EQ(decode_error(raw(0x01, {{0x0080, body}}, 1, 0)), Errc::wire_unknown_profile);
  // Each profile's handshake types exist only in that profile.
  EXPECT_EQ(decode_error(raw(0x01, {{0x0080, body}}, 1, 2)), Errc::wire_unknown_type);
  EXPECT_EQ(decode_error(raw(0x11, {{0x0030, filled(32, 1)}, {0x0080, body}}, 1, 1)), Errc::wire_unknown_type);
  EXPECT_TRUE(wire::decode(raw(0x11, {{0x0030, filled(32, 1)}, {0x0080, body}}, 1, 2)).has_value());
  EXPECT_EQ(decode_error(raw(0x30, {{0x0080, body}})), Errc::wire_unknown_type);
  EXPECT_EQ(decode_error(raw(0x60, {{0x0080, body}})), Errc::wire_unknown_type);
  EXPECT_EQ(decode_error(raw(0x00, {{0x0080, body}})), Errc::wire_unknown_type);
  EXPECT_EQ(decode_error(raw(0x01, {{0x0080, body}}, 1, 1, 0x80)), Errc::wire_reserved_flags);
  Bytes huge = raw(0x01, {{0x0080, body}});
  huge[4] = 0x00, huge[5] = 0x01, huge[6] = 0x00, huge[7] = 0x00;  // 65536-byte body
  EXPECT_EQ(decode_error(huge), Errc::wire_too_large);
  EXPECT_EQ(wire::decode_header(huge).error().code, Errc::wire_too_large);
}

TEST(Wire, FieldChecksEachHaveTheirOwnError) {
  const Bytes cert = filled(100, 0x30), rsa = filled(256, 1);
  // Unknown mandatory field (bit 15 clear) and unknown ignorable field (bit 15 set).
  EXPECT_EQ(decode_error(raw(0x01, {{0x0050, {1}}, {0x0080, cert}})), Errc::wire_unknown_mandatory_field);
  EXPECT_EQ(decode_error(raw(0x01, {{0x0080, cert}, {0x8090, {1}}})), Errc::ok);
  // Ordering is by field number: the ignorable bit does not move a field.
  EXPECT_EQ(decode_error(raw(0x01, {{0x8050, {1}}, {0x0080, cert}})), Errc::ok);
  EXPECT_EQ(decode_error(raw(0x01, {{0x0080, cert}, {0x8080, {1}}})), Errc::wire_duplicate_field);
  // A known field number with the ignorable bit is not that field (spec §6.2): skipped, so the
  // field is missing; and the field itself cannot follow it.
  EXPECT_EQ(decode_error(raw(0x01, {{0x8080, cert}})), Errc::wire_missing_field);
  EXPECT_EQ(decode_error(raw(0x01, {{0x8080, cert}, {0x0080, cert}})), Errc::wire_duplicate_field);
  // Duplicate, misordered, bad length, missing, not in this message.
  EXPECT_EQ(decode_error(raw(0x01, {{0x0080, cert}, {0x0080, cert}})), Errc::wire_duplicate_field);
  EXPECT_EQ(decode_error(raw(0x08, {{0x007e, rsa}, {0x0005, rsa}})), Errc::wire_field_order);
  EXPECT_EQ(decode_error(raw(0x08, {{0x0005, filled(255, 1)}, {0x007e, rsa}})), Errc::wire_field_length);
  EXPECT_EQ(decode_error(raw(0x01, {{0x0080, {}}})), Errc::wire_field_length);
  EXPECT_EQ(
      decode_error(raw(
          0x10, {{0x0010, filled(8, 0)}, {0x0011, filled(16, 0)}, {0x0012, filled(20, 0)}, {0x007f, filled(20, 0)}})),
      Errc::wire_field_length);  // CW ciphertext not a multiple of 16
  EXPECT_EQ(decode_error(raw(0x08, {{0x0005, rsa}})), Errc::wire_missing_field);
  EXPECT_EQ(decode_error(raw(0x01, {})), Errc::wire_missing_field);
  EXPECT_EQ(decode_error(raw(0x02, {{0x0005, rsa}, {0x0080, cert}})), Errc::wire_unexpected_field);
}

TEST(Wire, ExtensionsAreAuthenticatedOrRefused) {
  const Bytes rsa = filled(256, 1);
  // Before the signature an ignorable extension is covered by it...
  auto before = wire::decode(raw(0x08, {{0x0005, rsa}, {0x8050, {9, 9}}, {0x007e, rsa}}));
  ASSERT_TRUE(before) << before.error().message();
  const Bytes expected_tbs = concat({Bytes{1, 1, 8, 0}, Bytes{0, 5, 1, 0}, rsa, Bytes{0x80, 0x50, 0, 2, 9, 9}});
  EXPECT_EQ(before->authenticated, expected_tbs);
  // ...after it, it would ride along unauthenticated: refused.
  EXPECT_EQ(decode_error(raw(0x08, {{0x0005, rsa}, {0x007e, rsa}, {0x8090, {9}}})), Errc::wire_unexpected_field);
}

TEST(Wire, KeyRequestCertificateIsOutsideTheSignature) {
  const auto m = samples()[2];
  const Bytes tbs = wire::authenticated_bytes(m);
  const Bytes whole = wire::encode(m);
  // header(4) + encrypted_key_pairing_id TLV (4 + 256): the signature and certificate are not covered.
  EXPECT_EQ(tbs.size(), 4u + 4u + 256u);
  EXPECT_TRUE(std::equal(tbs.begin(), tbs.begin() + 4, whole.begin()));
  EXPECT_TRUE(std::equal(tbs.begin() + 4, tbs.end(), whole.begin() + 8));
}

TEST(Wire, ASignedMessageVerifiesOverWhatWasReceived) {
  const auto& k = test::key("sm1");
  Message m{wire::Profile::koo2010, wire::CwekGenInfo{filled(256, 3), filled(256, 4), {}}, {}};
  std::get<wire::CwekGenInfo>(m.body).signature =
      crypto::pss_sign(k, wire::authenticated_bytes(m), test::test_rng()).value();
  Bytes encoded = wire::encode(m);
  auto decoded = wire::decode(encoded).value();
  EXPECT_TRUE(
      crypto::pss_verify(k.public_key(), decoded.authenticated, std::get<wire::CwekGenInfo>(decoded.body).signature));
  encoded[20] ^= 1;  // a bit inside the encrypted payload
  decoded = wire::decode(encoded).value();
  EXPECT_FALSE(
      crypto::pss_verify(k.public_key(), decoded.authenticated, std::get<wire::CwekGenInfo>(decoded.body).signature));
}

TEST(Wire, ControlWordExampleMatchesTheSpec) {
  // docs/spec.md, "Example: a ControlWord message" shows exactly these bytes.
  const Message m{wire::Profile::koo2010,
                  wire::ControlWord{1, 0x1122334455667788, {0x03, 0x10}, filled(32, 0x22), filled(20, 0x33)},
                  {}};
  const std::string hex = to_hex(wire::encode(m));
  EXPECT_EQ(hex,
            "010110000000005a"
            "001000080000000000000001"
            "00110008112233445566778800120002031000130020" +
                std::string(64, '2') + "007f0014" + std::string(40, '3'));
  const std::string spec = test::read_spec();
  std::string compact;
  for (char c : spec)
    if (std::isxdigit(static_cast<unsigned char>(c))) compact += c;
  EXPECT_NE(compact.find(hex), std::string::npos) << "docs/spec.md no longer shows this encoding";
}

TEST(Wire, TypeNamesAreThePapers) {
  EXPECT_EQ(wire::type_name(wire::MessageType::tp_cert_req), "TPCertReq (SM->TP)");
  EXPECT_EQ(wire::type_name(wire::MessageType::cwek_gen_info_cnfm), "CWEKGenInfoCnfm (TP->SM)");
}

}  // namespace
}  // namespace dcas
