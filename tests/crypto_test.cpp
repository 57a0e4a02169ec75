#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include "common/records.h"
#include "crypto/aes.h"
#include "crypto/fips186_prf.h"
#include "crypto/hash.h"
#include "kat/embedded.h"
#include "kat/selftest.h"
#include "test_support.h"

namespace dcas {
namespace {

using test::key;

// ---- Known-answer vectors (the same files `dcas selftest` runs) ----

class KatFile : public ::testing::TestWithParam<kat::EmbeddedFile> {};

TEST_P(KatFile, AllRecordsPass) {
  const auto outcome = kat::run_vector_file(GetParam().name, GetParam().content);
  for (const auto& f : outcome.failures) ADD_FAILURE() << GetParam().name << ": " << f;
  EXPECT_GT(outcome.passed, 0u);
}

}  // namespace
}  // namespace dcas

namespace dcas::kat {
void PrintTo(const EmbeddedFile& f, std::ostream* os) { *os << f.name; }
}  // namespace dcas::kat

namespace dcas {
namespace {

INSTANTIATE_TEST_SUITE_P(Embedded, KatFile,
                         ::testing::ValuesIn(kat::embedded_files().begin(), kat::embedded_files().end()),
                         [](const auto& test) {
                           std::string n(test.param.name.substr(0, test.param.name.find('.')));
                           return n;
                         });

TEST(Kat, EveryRunnerHasItsFile) {
  for (const auto& o : kat::run_all()) EXPECT_TRUE(o.ok()) << o.file;
}

TEST(Kat, AWrongExpectedValueFails) {
  const auto o = kat::run_vector_file(
      "sha.txt", "Algorithm = sha1\nMsg = 616263\nDigest = a9993e364706816aba3e25717850c26c9cd0d89e\n");
  ASSERT_EQ(o.failures.size(), 1u);
  EXPECT_NE(o.failures[0].find("SHA-1"), std::string::npos);
}

TEST(Kat, AnUnreadAttributeFails) {
  const auto o = kat::run_vector_file(
      "sha.txt", "Algorithm = sha1\nMsg = 616263\nDigest = a9993e364706816aba3e25717850c26c9cd0d89d\nTypo = 00\n");
  ASSERT_EQ(o.failures.size(), 1u);
  EXPECT_NE(o.failures[0].find("Typo"), std::string::npos);
}

TEST(Kat, AFileWithoutRunnerFails) { EXPECT_FALSE(kat::run_vector_file("nothing.txt", "A = 00\n").ok()); }

TEST(Kat, AnEmptyFilePassesNothing) { EXPECT_FALSE(kat::run_vector_file("sha.txt", "# only a comment\n").ok()); }

TEST(Records, RejectsMalformedLinesAndDuplicates) {
  EXPECT_EQ(parse_records("no equals sign\n").error().code, Errc::invalid_argument);
  EXPECT_EQ(parse_records("A = 1\nA = 2\n").error().code, Errc::invalid_argument);
  EXPECT_EQ(parse_records(" = 1\n").error().code, Errc::invalid_argument);
  auto two = parse_records("# c\nA = 01\n\nA = 02\nB = x\n");
  ASSERT_TRUE(two);
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1].line, 4u);
  EXPECT_EQ((*two)[1].hex("B").error().code, Errc::bad_hex);
}

// ---- Bytes ----

TEST(Hex, RoundTripsAndRejectsBadInput) {
  EXPECT_EQ(to_hex(from_hex("00ffA5").value()), "00ffa5");
  EXPECT_EQ(from_hex("abc").error().code, Errc::bad_hex);
  EXPECT_EQ(from_hex("zz").error().code, Errc::bad_hex);
  EXPECT_EQ(from_hex_exact("0011", 3, "x").error().code, Errc::bad_length);
  EXPECT_TRUE(from_hex("").value().empty());
}

TEST(ConstantTime, ComparesContentAndLength) {
  const Bytes a{1, 2, 3}, b{1, 2, 3}, c{1, 2, 4}, d{1, 2};
  EXPECT_TRUE(equal_ct(a, b));
  EXPECT_FALSE(equal_ct(a, c));
  EXPECT_FALSE(equal_ct(a, d));
}

// ---- Random sources ----

TEST(SeededRandom, IsDeterministicAndChunkIndependent) {
  crypto::SeededRandom a(view("seed")), b(view("seed")), c(view("other"));
  Bytes x(37), y1(5), y2(32), z(37);
  ASSERT_TRUE(a.fill(x));
  ASSERT_TRUE(b.fill(y1));
  ASSERT_TRUE(b.fill(y2));
  ASSERT_TRUE(c.fill(z));
  EXPECT_EQ(x, concat({y1, y2}));
  EXPECT_NE(x, z);
}

// The stream exactly as spec Appendix A defines it, computed with OpenSSL's EVP directly.
TEST(SeededRandom, IsTheStreamTheSpecDefines) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>("pki"), 3, digest);
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  ASSERT_EQ(EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_ecb(), nullptr, digest, nullptr), 1);
  EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
  Bytes counters(48, 0), expected(48);
  counters[15] = 0;
  counters[31] = 1;
  counters[47] = 2;
  int written = 0;
  ASSERT_EQ(EVP_EncryptUpdate(ctx.get(), expected.data(), &written, counters.data(), 48), 1);
  ASSERT_EQ(written, 48);
  crypto::SeededRandom seeded(view("pki"));
  Bytes first(7), rest(41);
  ASSERT_TRUE(seeded.fill(first));
  ASSERT_TRUE(seeded.fill(rest));
  EXPECT_EQ(concat({first, rest}), expected);
}

TEST(SystemRandom, ProducesDistinctOutputs) {
  auto a = crypto::system_random().bytes(32).value(), b = crypto::system_random().bytes(32).value();
  EXPECT_NE(a, b);
}

// ---- FIPS 186-2 PRF ----

TEST(Fips186Prf, RejectsSeedsOutsideTheStandardsRange) {
  EXPECT_EQ(crypto::fips186_2_prf(Bytes(19), 20).error().code, Errc::bad_length);
  EXPECT_EQ(crypto::fips186_2_prf(Bytes(65), 20).error().code, Errc::bad_length);
  EXPECT_TRUE(crypto::fips186_2_prf(Bytes(64), 20));
}

TEST(Fips186Prf, ShorterOutputsArePrefixes) {
  const Bytes seed(32, 0x42);
  const auto long_out = crypto::fips186_2_prf(seed, 100).value();
  const auto short_out = crypto::fips186_2_prf(seed, 7).value();
  EXPECT_TRUE(std::equal(short_out.begin(), short_out.end(), long_out.begin()));
}

TEST(Fips186Prf, XkeyArithmeticIsModuloTwoToTheB) {
  // An all-ones XKEY wraps around: the generator must not overflow into a 21st byte.
  const Bytes seed(20, 0xff);
  EXPECT_EQ(crypto::fips186_2_prf(seed, 60).value().size(), 60u);
}

// ---- Hashes and AES ----

TEST(HmacSha1, KeyedContextMatchesOneShotOverParts) {
  const Bytes k(20, 0x0b), m1{'H', 'i', ' '}, m2{'T', 'h', 'e', 'r', 'e'};
  auto keyed = crypto::HmacSha1::create(k).value();
  EXPECT_EQ(keyed.mac({m1, m2}).value(), crypto::hmac_sha1(k, concat({m1, m2})));
  EXPECT_EQ(keyed.mac({m1, m2}).value(), keyed.mac({concat({m1, m2})}).value());  // context reusable
}

TEST(Aes128, RejectsBadSizes) {
  EXPECT_EQ(crypto::Aes128::create(crypto::AesMode::cbc, crypto::AesDirection::encrypt, Bytes(15)).error().code,
            Errc::bad_length);
  auto aes = crypto::Aes128::create(crypto::AesMode::cbc, crypto::AesDirection::encrypt, Bytes(16)).value();
  Bytes out(17);
  EXPECT_EQ(aes.run(Bytes(16), Bytes(17), out).error().code, Errc::bad_length);
  Bytes out16(16);
  EXPECT_EQ(aes.run(Bytes(8), Bytes(16), out16).error().code, Errc::bad_length);
}

TEST(Aes128, ContextIsReusableAcrossIvs) {
  auto aes = crypto::Aes128::create(crypto::AesMode::cbc, crypto::AesDirection::encrypt, Bytes(16, 1)).value();
  Bytes a(32), b(32);
  ASSERT_TRUE(aes.run(Bytes(16, 0), Bytes(32, 9), a));
  ASSERT_TRUE(aes.run(Bytes(16, 0), Bytes(32, 9), b));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, crypto::aes128_run(crypto::AesMode::cbc, crypto::AesDirection::encrypt, Bytes(16, 1), Bytes(16, 0),
                                  Bytes(32, 9))
                   .value());
}

// ---- RSA ----

TEST(Rsa, GeneratesSavesOwnerOnlyAndLoads) {
  const auto generated = crypto::RsaPrivateKey::generate(2048).value();
  const auto path = std::filesystem::temp_directory_path() / ("dcas-key-" + std::to_string(::getpid()) + ".pem");
  ASSERT_TRUE(generated.save_pem_file(path));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const auto loaded = crypto::RsaPrivateKey::load_pem_file(path).value();
  EXPECT_EQ(loaded.public_key().to_der(), generated.public_key().to_der());
  std::filesystem::remove(path);
}

TEST(Rsa, RejectsKeysBelow2048Bits) {
  EXPECT_EQ(crypto::RsaPrivateKey::load_pem_file(test::source_dir() / "tests/data/keys/weak1024.pem").error().code,
            Errc::key_invalid);
  EXPECT_EQ(crypto::RsaPrivateKey::load_pem_file("/nonexistent/key.pem").error().code, Errc::io_error);
  EXPECT_EQ(crypto::RsaPrivateKey::from_pem("not a pem").error().code, Errc::pem_invalid);
}

TEST(RsaOaep, RoundTripsAndFailsClosed) {
  const Bytes msg(16, 0x33);
  const auto ct = crypto::oaep_encrypt(key("sm1").public_key(), msg, test::test_rng()).value();
  EXPECT_EQ(ct.size(), 256u);
  const auto pt = crypto::oaep_decrypt(key("sm1"), ct).value();
  EXPECT_EQ(Bytes(pt.begin(), pt.end()), msg);
  EXPECT_EQ(crypto::oaep_decrypt(key("sm2"), ct).error().code, Errc::decrypt_failed);  // wrong key
  for (std::size_t i : {0u, 1u, 100u, 255u}) {
    Bytes flipped = ct;
    flipped[i] ^= 0x01;
    EXPECT_EQ(crypto::oaep_decrypt(key("sm1"), flipped).error().code, Errc::decrypt_failed) << "byte " << i;
  }
  EXPECT_EQ(crypto::oaep_decrypt(key("sm1"), Bytes(ct.begin(), ct.end() - 1)).error().code, Errc::decrypt_failed);
  EXPECT_EQ(crypto::oaep_encrypt(key("sm1").public_key(), Bytes(191), test::test_rng()).error().code, Errc::bad_length);
  EXPECT_TRUE(crypto::oaep_encrypt(key("sm1").public_key(), Bytes(190), test::test_rng()));
}

TEST(RsaOaep, SeededEncryptionIsReproducible) {
  crypto::SeededRandom a(view("x")), b(view("x"));
  EXPECT_EQ(crypto::oaep_encrypt(key("tp1").public_key(), Bytes(20, 1), a).value(),
            crypto::oaep_encrypt(key("tp1").public_key(), Bytes(20, 1), b).value());
}

TEST(RsaPss, SignsVerifiesAndRejectsTampering) {
  const Bytes msg{'m', 's', 'g'};
  const auto sig = crypto::pss_sign(key("ap1"), msg, test::test_rng()).value();
  const auto pub = key("ap1").public_key();
  EXPECT_TRUE(crypto::pss_verify(pub, msg, sig));
  EXPECT_EQ(crypto::pss_verify(key("ap2").public_key(), msg, sig).error().code, Errc::signature_invalid);
  EXPECT_EQ(crypto::pss_verify(pub, Bytes{'m', 's', 'h'}, sig).error().code, Errc::signature_invalid);
  Bytes bad = sig;
  bad[128] ^= 0x80;
  EXPECT_EQ(crypto::pss_verify(pub, msg, bad).error().code, Errc::signature_invalid);
  EXPECT_EQ(crypto::pss_verify(pub, msg, Bytes(sig.begin(), sig.end() - 1)).error().code, Errc::signature_invalid);
  // OpenSSL's own PSS signatures with the same parameters verify too: the encodings agree.
  EXPECT_TRUE(crypto::pss_verify(pub, msg, crypto::openssl_reference::pss_sign(key("ap1"), msg).value()));
}

TEST(RsaPss, SeededSigningIsReproducible) {
  crypto::SeededRandom a(view("y")), b(view("y"));
  EXPECT_EQ(crypto::pss_sign(key("ta"), Bytes(5), a).value(), crypto::pss_sign(key("ta"), Bytes(5), b).value());
}

}  // namespace
}  // namespace dcas
