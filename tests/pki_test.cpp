#include <set>

#include "pki/provisioning.h"
#include "test_support.h"

namespace dcas {
namespace {

using namespace std::chrono_literals;
using test::issue;
using test::key;
using test::now;
using test::ta_root;

TEST(Pki, DeviceCertificateVerifiesWithIdAndRole) {
  const auto cert = issue(Role::sm, "5300000000000001", "sm1");
  auto device = pki::verify_device(cert, ta_root(), Role::sm, now());
  ASSERT_TRUE(device) << device.error().message();
  EXPECT_EQ(to_hex(device->id), "5300000000000001");
  EXPECT_EQ(device->role, Role::sm);
  EXPECT_EQ(device->public_key.to_der(), key("sm1").public_key().to_der());
  EXPECT_EQ(cert.common_name(), "5300000000000001");
  EXPECT_FALSE(cert.is_ca());
  EXPECT_TRUE(ta_root().is_ca());
}

TEST(Pki, EveryRoleIsEnforcedAgainstEveryOther) {
  const std::pair<Role, const char*> devices[] = {{Role::sm, "sm1"}, {Role::tp, "tp1"}, {Role::ap, "ap1"}};
  for (auto [role, key_name] : devices) {
    const auto cert = issue(role, "0000000000000001", key_name);
    for (auto [expected, unused] : devices) {
      auto r = pki::verify_device(cert, ta_root(), expected, now());
      if (expected == role) {
        EXPECT_TRUE(r) << role_name(role);
      } else {
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, Errc::cert_wrong_role) << role_name(role) << " as " << role_name(expected);
        EXPECT_NE(r.error().detail.find(std::string(role_name(role))), std::string::npos);
      }
    }
  }
}

TEST(Pki, ForeignTaWithTheSameNameIsRejected) {
  const auto foreign_root =
      pki::make_root(key("ta_foreign"), "DCAS Test TA", test::valid_for_a_year(), test::test_rng()).value();
  const auto id = from_hex("5300000000000002").value();
  const auto cert = pki::issue_device(key("ta_foreign"), foreign_root, Role::sm, id, key("sm1").public_key(),
                                      test::valid_for_a_year(), test::test_rng())
                        .value();
  EXPECT_EQ(pki::verify_device(cert, ta_root(), Role::sm, now()).error().code, Errc::cert_foreign);
  EXPECT_TRUE(pki::verify_device(cert, foreign_root, Role::sm, now()));
}

TEST(Pki, ExpiredAndNotYetValidAreRejected) {
  const auto expired = issue(Role::tp, "5400000000000001", "tp1", {now() - 48h, now() - 24h});
  EXPECT_EQ(pki::verify_device(expired, ta_root(), Role::tp, now()).error().code, Errc::cert_expired);
  const auto future = issue(Role::tp, "5400000000000001", "tp1", {now() + 24h, now() + 48h});
  EXPECT_EQ(pki::verify_device(future, ta_root(), Role::tp, now()).error().code, Errc::cert_not_yet_valid);
  // The same certificate is valid at a time inside its period: verification uses the given time.
  EXPECT_TRUE(pki::verify_device(future, ta_root(), Role::tp, now() + 36h));
}

TEST(Pki, AnExpiredRootFailsNamingTheRoot) {
  const auto cert = issue(Role::sm, "5300000000000003", "sm1", {now() - 1h, now() + 24h * 3650});
  auto r = pki::verify_device(cert, ta_root(), Role::sm, now() + 24h * 400);  // root lasts a year
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::cert_expired);
  EXPECT_NE(r.error().detail.find("TA root"), std::string::npos);
}

TEST(Pki, TamperedSignatureIsRejected) {
  auto der = issue(Role::sm, "5300000000000004", "sm1").der();
  der[der.size() - 10] ^= 0x01;  // inside the signature value
  const auto tampered = pki::Certificate::from_der(der).value();
  EXPECT_EQ(pki::verify_device(tampered, ta_root(), Role::sm, now()).error().code, Errc::cert_bad_signature);
}

TEST(Pki, TamperedContentIsRejected) {
  const auto cert = issue(Role::sm, "5300000000000005", "sm1");
  auto der = cert.der();
  const std::string cn = "5300000000000005";
  auto at = std::search(der.begin(), der.end(), cn.begin(), cn.end());
  ASSERT_NE(at, der.end());
  at[15] = '6';  // claim another SM_ID
  const auto tampered = pki::Certificate::from_der(der).value();
  EXPECT_EQ(pki::verify_device(tampered, ta_root(), Role::sm, now()).error().code, Errc::cert_bad_signature);
}

TEST(Pki, TheRootIsNotADevice) {
  EXPECT_EQ(pki::verify_device(ta_root(), ta_root(), Role::sm, now()).error().code, Errc::cert_invalid);
}

TEST(Pki, GarbageIsNotACertificate) {
  EXPECT_EQ(pki::Certificate::from_der(Bytes{0x30, 0x03, 0x02, 0x01}).error().code, Errc::cert_invalid);
  auto der = ta_root().der();
  der.push_back(0);
  EXPECT_EQ(pki::Certificate::from_der(der).error().code, Errc::cert_invalid);
  EXPECT_EQ(pki::Certificate::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").error().code,
            Errc::cert_invalid);
}

TEST(Pki, SerialsAreUnique) {
  std::set<std::string> serials;
  for (int i = 0; i < 50; ++i) serials.insert(issue(Role::tp, "5400000000000009", "tp2").serial_hex());
  EXPECT_EQ(serials.size(), 50u);
  for (const auto& s : serials) EXPECT_EQ(s.size(), 32u);  // 128 bits, positive
}

TEST(Pki, PemRoundTrip) {
  const auto cert = issue(Role::ap, "4100000000000001", "ap1");
  EXPECT_EQ(pki::Certificate::from_pem(cert.pem()).value().der(), cert.der());
}

TEST(Provisioning, TaDirectoryAndDeviceFiles) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / ("dcas-prov-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto ta = pki::init_ta_directory(dir / "ta", "Provisioning TA", 30, false);
  ASSERT_TRUE(ta) << ta.error().message();
  EXPECT_EQ(pki::init_ta_directory(dir / "ta", "again", 30, false).error().code, Errc::io_error);
  auto loaded = pki::load_ta_directory(dir / "ta").value();
  const Bytes id = from_hex("5300000000000042").value();
  auto sm = pki::issue_device_files(loaded, Role::sm, ByteView(id), dir / "out", 30, crypto::system_random());
  ASSERT_TRUE(sm) << sm.error().message();
  EXPECT_TRUE(pki::verify_device(sm->certificate, loaded.certificate, Role::sm, now()));
  const auto ki = pki::load_ki_file(sm->directory / "ki.txt").value();
  EXPECT_EQ(ki.ki1.size(), 16u);
  EXPECT_NE(ki.ki1, ki.ki2);
  EXPECT_EQ(fs::status(sm->directory / "ki.txt").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(sm->directory / "key.pem").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(
      pki::issue_device_files(loaded, Role::sm, ByteView(id), dir / "out", 30, crypto::system_random()).error().code,
      Errc::io_error);  // never overwrite a device
  // A TA directory whose key does not match its certificate is refused.
  fs::copy_file(sm->directory / "key.pem", dir / "ta" / "ta.key", fs::copy_options::overwrite_existing);
  EXPECT_EQ(pki::load_ta_directory(dir / "ta").error().code, Errc::key_invalid);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dcas
