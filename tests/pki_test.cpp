#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <set>

#include "common/files.h"
#include "crypto/hash.h"
#include "provisioning/device_files.h"
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
  EXPECT_EQ(device->public_key_der, key("sm1").public_key().to_der());  // the certificate's own SPKI bytes
  EXPECT_EQ(cert.common_name(), "5300000000000001");
  EXPECT_FALSE(cert.is_ca());
  EXPECT_TRUE(ta_root().is_ca());
}

// Spec §5, key identifiers: SHA-1 of the subjectPublicKey bits; a device's AKI is the root's SKI
// and nothing else; the root has no AKI.
TEST(Pki, KeyIdentifiersAreTheSha1OfThePublicKeyBits) {
  const auto ski_of = [](const pki::Certificate& c) {
    const ASN1_OCTET_STRING* id = X509_get0_subject_key_id(c.x509());
    return id ? Bytes(id->data, id->data + id->length) : Bytes();
  };
  const auto key_bits_sha1 = [](const pki::Certificate& c) {
    const ASN1_BIT_STRING* bits = X509_get0_pubkey_bitstr(c.x509());
    const auto digest = crypto::sha1(ByteView(bits->data, static_cast<std::size_t>(bits->length)));
    return Bytes(digest.begin(), digest.end());
  };
  const auto& root = test::ta_root();
  const auto device = test::issue(Role::sm, "5300000000000042", "sm1");
  EXPECT_EQ(ski_of(root), key_bits_sha1(root));
  EXPECT_EQ(ski_of(device), key_bits_sha1(device));
  EXPECT_EQ(X509_get0_authority_key_id(root.x509()), nullptr);
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(device.x509());
  ASSERT_NE(aki, nullptr);
  EXPECT_EQ(Bytes(aki->data, aki->data + aki->length), ski_of(root));
  EXPECT_EQ(X509_get0_authority_issuer(device.x509()), nullptr);
  EXPECT_EQ(X509_get0_authority_serial(device.x509()), nullptr);
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

// A stamp (for load tests) makes what issue_device makes: every field but the serial and the
// signature alike, a fresh serial each time, and each certificate verifies as that device.
TEST(Pki, AStampedCertificateIsTheDeviceCertificateIssueDeviceMakes) {
  const auto validity = test::valid_for_a_year();
  const auto id = from_hex("10ad000000000007").value();
  const auto plain =
      pki::issue_device(key("ta"), ta_root(), Role::tp, id, key("tp1").public_key(), validity, test::test_rng())
          .value();
  auto stamp = pki::DeviceCertificateStamp::create(key("ta"), ta_root(), Role::tp, key("tp1").public_key(), validity,
                                                   test::test_rng())
                   .value();
  const auto first = pki::Certificate::from_der(stamp.issue(id, test::test_rng()).value()).value();
  const auto other_id = from_hex("10ad000000000008").value();
  const auto second = pki::Certificate::from_der(stamp.issue(other_id, test::test_rng()).value()).value();
  for (const auto* c : {&first, &second}) {
    EXPECT_TRUE(pki::verify_device(*c, ta_root(), Role::tp, now()));
    EXPECT_EQ(c->issuer_text(), plain.issuer_text());
    EXPECT_EQ(c->roles(), plain.roles());
    EXPECT_EQ(c->is_ca(), plain.is_ca());
    EXPECT_EQ(c->public_key_der(), plain.public_key_der());
    EXPECT_EQ(c->not_after(), plain.not_after());
    EXPECT_EQ(X509_get_ext_count(c->x509()), X509_get_ext_count(plain.x509()));
  }
  EXPECT_EQ(first.subject_text(), plain.subject_text());
  EXPECT_EQ(second.common_name(), "10ad000000000008");
  EXPECT_NE(first.serial(), second.serial());
  EXPECT_EQ(first.serial().size(), plain.serial().size());
  EXPECT_EQ(stamp.issue(Bytes(7, 0), test::test_rng()).error().code, Errc::invalid_argument);
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

// Re-signs a modified copy of a TA-issued certificate with the TA key: a certificate the TA could
// have issued, but with content issue_device never produces.
pki::Certificate resigned(const pki::Certificate& cert, const std::function<void(X509*)>& modify) {
  X509* copy = X509_dup(cert.x509());
  modify(copy);
  EXPECT_GT(X509_sign(copy, key("ta").evp(), EVP_sha256()), 0);
  unsigned char* buf = nullptr;
  const int len = i2d_X509(copy, &buf);
  Bytes der(buf, buf + len);
  OPENSSL_free(buf);
  X509_free(copy);
  return pki::Certificate::from_der(der).value();
}

TEST(Pki, ACertificateWithoutRoleIsRejected) {
  const auto no_role = resigned(issue(Role::sm, "5300000000000010", "sm1"), [](X509* x) {
    X509_EXTENSION* ext = X509_delete_ext(x, X509_get_ext_by_NID(x, NID_ext_key_usage, -1));
    X509_EXTENSION_free(ext);
  });
  auto r = pki::verify_device(no_role, ta_root(), Role::sm, now());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::cert_wrong_role);
  EXPECT_NE(r.error().detail.find("no DCAS role"), std::string::npos);
}

TEST(Pki, ACertificateWithTwoRolesIsRejected) {
  const auto two_roles = resigned(issue(Role::sm, "5300000000000011", "sm1"), [](X509* x) {
    X509_EXTENSION_free(X509_delete_ext(x, X509_get_ext_by_NID(x, NID_ext_key_usage, -1)));
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    const std::string value = "critical," + pki::role_oid(Role::sm) + "," + pki::role_oid(Role::tp);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_ext_key_usage, value.c_str());
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  });
  EXPECT_EQ(pki::verify_device(two_roles, ta_root(), Role::sm, now()).error().code, Errc::cert_wrong_role);
  EXPECT_EQ(pki::verify_device(two_roles, ta_root(), Role::tp, now()).error().code, Errc::cert_wrong_role);
}

TEST(Pki, ACommonNameThatIsNotAnIdIsRejected) {
  for (const char* cn : {"53000000000000", "5300000000000O01", "5300000000000ABC", "530000000000000100"}) {
    const auto bad = resigned(issue(Role::sm, "5300000000000012", "sm1"), [cn](X509* x) {
      X509_NAME* name = X509_get_subject_name(x);
      X509_NAME_ENTRY_free(X509_NAME_delete_entry(name, X509_NAME_get_index_by_NID(name, NID_commonName, -1)));
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
    });
    EXPECT_EQ(pki::verify_device(bad, ta_root(), Role::sm, now()).error().code, Errc::cert_bad_id) << cn;
  }
}

TEST(Pki, AWeakDeviceKeyIsRejected) {
  const auto weak =
      crypto::RsaPrivateKey::from_pem(read_text_file(test::source_dir() / "tests/data/keys/weak1024.pem").value());
  ASSERT_FALSE(weak);  // our own loader refuses it; build the certificate with OpenSSL directly
  const auto pem = read_text_file(test::source_dir() / "tests/data/keys/weak1024.pem").value();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* weak_key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(weak_key, nullptr);
  const auto cert =
      resigned(issue(Role::sm, "5300000000000013", "sm1"), [weak_key](X509* x) { X509_set_pubkey(x, weak_key); });
  EVP_PKEY_free(weak_key);
  EXPECT_EQ(pki::verify_device(cert, ta_root(), Role::sm, now()).error().code, Errc::key_invalid);
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

const provisioning::RecordDevice nothing_to_record =
    [](const pki::Certificate&, const std::optional<protocol::SmSecrets>&) -> Result<void> { return {}; };

TEST(Provisioning, TaDirectoryAndDeviceFiles) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / ("dcas-prov-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto ta = provisioning::init_ta_directory(dir / "ta", "Provisioning TA", 30, false);
  ASSERT_TRUE(ta) << ta.error().message();
  EXPECT_EQ(provisioning::init_ta_directory(dir / "ta", "again", 30, false).error().code, Errc::io_error);
  auto loaded = provisioning::load_ta_directory(dir / "ta").value();
  const Bytes id = from_hex("5300000000000042").value();
  auto sm = provisioning::issue_device_files(loaded, Role::sm, ByteView(id), dir / "out", 30, crypto::system_random(),
                                             nothing_to_record);
  ASSERT_TRUE(sm) << sm.error().message();
  EXPECT_TRUE(pki::verify_device(sm->certificate, loaded.certificate, Role::sm, now()));
  const auto ki = provisioning::load_ki_file(sm->directory / "ki.txt").value();
  EXPECT_EQ(ki.ki1.size(), 16u);
  EXPECT_NE(ki.ki1, ki.ki2);
  EXPECT_EQ(fs::status(sm->directory / "ki.txt").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(sm->directory / "key.pem").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(provisioning::issue_device_files(loaded, Role::sm, ByteView(id), dir / "out", 30, crypto::system_random(),
                                             nothing_to_record)
                .error()
                .code,
            Errc::already_exists);  // never overwrite a device
  // A damaged Ki file is refused with what is wrong.
  write_secret_file(dir / "ki-short.txt", view("ki1 = 00\nki2 = 00\nki3 = 00\n")).value();
  EXPECT_EQ(provisioning::load_ki_file(dir / "ki-short.txt").error().code, Errc::bad_length);
  write_secret_file(dir / "ki-missing.txt", view("ki1 = 000102030405060708090a0b0c0d0e0f\n")).value();
  EXPECT_EQ(provisioning::load_ki_file(dir / "ki-missing.txt").error().code, Errc::invalid_argument);
  EXPECT_EQ(provisioning::load_ki_file(dir / "nonexistent").error().code, Errc::io_error);
  // A TA directory whose key does not match its certificate is refused.
  fs::copy_file(sm->directory / "key.pem", dir / "ta" / "ta.key", fs::copy_options::overwrite_existing);
  EXPECT_EQ(provisioning::load_ta_directory(dir / "ta").error().code, Errc::key_invalid);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dcas

namespace dcas {
namespace {

TEST(CertificateCache, ParsesOnceAndEvictsTheLeastRecentlyUsed) {
  pki::CertificateCache cache(2);
  const auto a = test::issue(Role::sm, "5300000000000021", "sm1"), b = test::issue(Role::tp, "5400000000000021", "tp1"),
             c = test::issue(Role::ap, "4100000000000021", "ap1");
  const auto first = cache.parse(a.der()).value();
  EXPECT_EQ(cache.parse(a.der()).value().x509(), first.x509());  // the same parsed object
  (void)cache.parse(b.der()).value();
  (void)cache.parse(c.der()).value();                            // evicts a
  EXPECT_NE(cache.parse(a.der()).value().x509(), first.x509());  // parsed again
  EXPECT_EQ(cache.parse(Bytes{0x30, 0x00}).error().code, Errc::cert_invalid);
}

}  // namespace
}  // namespace dcas
