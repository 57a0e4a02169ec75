#include "protocol/derivation.h"

#include "common/records.h"
#include "kat/embedded.h"
#include "test_support.h"

namespace dcas {
namespace {

const Record& worked_example() {
  static const auto records = [] {
    for (const auto& f : kat::embedded_files())
      if (f.name == "dcas_derivations.txt") return parse_records(f.content).value();
    throw std::runtime_error("dcas_derivations.txt not embedded");
  }();
  return records.at(0);
}

TEST(Derivation, SpecShowsTheWorkedExampleTheCodeComputes) {
  const std::string spec = test::read_spec();
  for (const char* name : {"Ki1", "Ki2", "Ki3", "SmId", "TpId", "Rand", "RandHmac", "Kpk", "Cwek", "HmacKey"}) {
    const std::string value = worked_example().word(name).value();
    EXPECT_NE(spec.find(value), std::string::npos) << "docs/spec.md lacks " << name << " = " << value;
  }
}

TEST(Derivation, InputsOfTheWrongSizeAreRefused) {
  const SmId sm{};
  const TpId tp{};
  protocol::SmSecrets ki{SecureBytes(16), SecureBytes(16), SecureBytes(15)};
  EXPECT_EQ(protocol::derive_kpk(ki, sm, tp, Bytes(40)).error().code, Errc::bad_length);
  ki.ki3.resize(16);
  EXPECT_EQ(protocol::derive_kpk(ki, sm, tp, Bytes(39)).error().code, Errc::bad_length);
  EXPECT_TRUE(protocol::derive_kpk(ki, sm, tp, Bytes(40)));
  EXPECT_EQ(protocol::derive_cwek(Bytes(19), sm, tp).error().code, Errc::bad_length);
  EXPECT_EQ(protocol::derive_hmac_key(Bytes(21), sm, tp).error().code, Errc::bad_length);
}

TEST(Derivation, KpkDependsOnEveryInput) {
  protocol::SmSecrets ki{SecureBytes(16, 1), SecureBytes(16, 2), SecureBytes(16, 3)};
  const SmId sm = SmId::from_hex("5300000000000001").value();
  const TpId tp = TpId::from_hex("5400000000000002").value();
  const Bytes rand(40, 9);
  const auto base = protocol::derive_kpk(ki, sm, tp, rand).value();
  EXPECT_EQ(base.size(), 20u);
  EXPECT_NE(protocol::derive_kpk(ki, sm, TpId::from_hex("5400000000000003").value(), rand).value(), base);
  EXPECT_NE(protocol::derive_kpk(ki, SmId::from_hex("5300000000000002").value(), tp, rand).value(), base);
  EXPECT_NE(protocol::derive_kpk(ki, sm, tp, Bytes(40, 8)).value(), base);
  ki.ki2[0] ^= 1;
  EXPECT_NE(protocol::derive_kpk(ki, sm, tp, rand).value(), base);
}

TEST(Derivation, FailureKpkIsTwentyFfBytes) {
  EXPECT_EQ(to_hex(view(protocol::failure_kpk())), std::string(40, 'f'));
  EXPECT_TRUE(protocol::is_failure_kpk(view(protocol::failure_kpk())));
  Bytes almost(20, 0xff);
  almost[19] = 0xfe;
  EXPECT_FALSE(protocol::is_failure_kpk(almost));
  EXPECT_EQ(to_hex(protocol::key_pairing_id(SmId::from_hex("5300000000000001").value(),
                                            TpId::from_hex("5400000000000002").value())),
            "53000000000000015400000000000002");
}

}  // namespace
}  // namespace dcas
