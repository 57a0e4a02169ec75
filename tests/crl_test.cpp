// The TA's CRL (docs/spec.md §18): what a party accepts, and what openssl accepts.
#include "pki/crl.h"

#include <cstdlib>

#include "common/files.h"
#include "test_support.h"

namespace dcas {
namespace {

using namespace std::chrono_literals;
using test::issue;
using test::key;
using test::now;
using test::ta_root;

pki::Crl crl_revoking(std::uint64_t number, const std::vector<pki::Certificate>& certs) {
  std::vector<pki::RevokedCertificate> entries;
  for (const auto& c : certs) entries.push_back({c.serial(), now() - 1min});
  return pki::make_crl(key("ta"), ta_root(), number, entries, now() - 1min, now() + 24h).value();
}

TEST(Crl, ListsTheRevokedSerialsAndItsNumber) {
  const auto revoked = issue(Role::sm, "5300000000000001", "sm1");
  const auto kept = issue(Role::sm, "5300000000000002", "sm2");
  const auto crl = crl_revoking(7, {revoked});
  EXPECT_EQ(crl.number(), 7u);
  EXPECT_TRUE(crl.revokes(revoked));
  EXPECT_FALSE(crl.revokes(kept));
  EXPECT_EQ(crl.size(), 1u);
  auto again = pki::Crl::verified(crl.der(), ta_root());
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_TRUE(again->revokes(revoked.serial()));
}

TEST(Crl, OpensslVerifiesItAgainstTheTaRoot) {
  const auto dir = std::filesystem::temp_directory_path() / ("dcas-crl-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(ta_root().save_pem_file(dir / "ta.crt"));
  const auto crl = crl_revoking(3, {issue(Role::tp, "5400000000000001", "tp1")});
  ASSERT_TRUE(write_public_file(dir / "crl.pem", view(crl.pem())));
  const std::string cmd = "openssl crl -in " + (dir / "crl.pem").string() + " -noout -verify -CAfile " +
                          (dir / "ta.crt").string() + " -crlnumber > " + (dir / "out.txt").string() + " 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  const auto out = read_text_file(dir / "out.txt").value();
  EXPECT_NE(out.find("verify OK"), std::string::npos) << out;
  EXPECT_NE(out.find("crlNumber=0x03"), std::string::npos) << out;
  std::filesystem::remove_all(dir);
}

TEST(Crl, AForeignOrTamperedCrlIsRefused) {
  const auto crl = crl_revoking(1, {issue(Role::ap, "4100000000000001", "ap1")});
  // Another TA's root with the same name: its key does not verify the signature.
  const auto foreign = pki::make_root(key("ap2"), "DCAS Test TA", test::valid_for_a_year(), test::test_rng()).value();
  EXPECT_EQ(pki::Crl::verified(crl.der(), foreign).error().code, Errc::crl_invalid);
  // Any flipped byte: it no longer parses, or names another issuer, or fails its signature.
  for (std::size_t i = 0; i < crl.der().size(); i += 7) {
    Bytes bad = crl.der();
    bad[i] ^= 0x01;
    auto r = pki::Crl::verified(bad, ta_root());
    ASSERT_FALSE(r.has_value()) << "byte " << i;
    EXPECT_EQ(r.error().code, Errc::crl_invalid);
  }
  Bytes truncated(crl.der().begin(), crl.der().end() - 1);
  EXPECT_EQ(pki::Crl::verified(truncated, ta_root()).error().code, Errc::crl_invalid);
  Bytes trailing = crl.der();
  trailing.push_back(0);
  EXPECT_EQ(pki::Crl::verified(trailing, ta_root()).error().code, Errc::crl_invalid);
  EXPECT_EQ(pki::Crl::verified({}, ta_root()).error().code, Errc::crl_invalid);
  EXPECT_EQ(pki::Crl::verified(Bytes(pki::max_crl_size + 1, 0x30), ta_root()).error().code, Errc::crl_invalid);
}

TEST(Crl, AnOlderCrlNeverReplacesANewerOne) {
  const auto older = crl_revoking(4, {});
  const auto newer = crl_revoking(5, {issue(Role::sm, "5300000000000003", "sm1")});
  EXPECT_TRUE(pki::newer_than(older, std::nullopt));
  EXPECT_TRUE(pki::newer_than(newer, older));
  EXPECT_FALSE(pki::newer_than(older, newer));
  EXPECT_FALSE(pki::newer_than(newer, newer));
}

TEST(Crl, NumberZeroAndEmptyPeriodsAreRefused) {
  EXPECT_EQ(pki::make_crl(key("ta"), ta_root(), 0, {}, now(), now() + 1h).error().code, Errc::invalid_argument);
  EXPECT_EQ(pki::make_crl(key("ta"), ta_root(), 1, {}, now(), now()).error().code, Errc::invalid_argument);
}

TEST(Crl, OneTooLargeForAnAnnouncementIsNotIssued) {
  std::vector<pki::RevokedCertificate> many(2000, {Bytes(16, 0x41), now()});
  for (std::size_t i = 0; i < many.size(); ++i)
    many[i].serial[15] = static_cast<std::uint8_t>(i), many[i].serial[14] = static_cast<std::uint8_t>(i >> 8);
  EXPECT_EQ(pki::make_crl(key("ta"), ta_root(), 1, many, now(), now() + 1h).error().code, Errc::crl_invalid);
}

}  // namespace
}  // namespace dcas
