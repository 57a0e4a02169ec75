// `dcas bench crypto`: the crypto layer against the primitives it is built on.
#define OPENSSL_SUPPRESS_DEPRECATED  // SHA1_Transform: the bound for the PRF's compression call
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "bench/harness.h"
#include "crypto/rsa.h"
#include "protocol/derivation.h"

namespace dcas::bench {
namespace {

const crypto::RsaPrivateKey& bench_key() {
  static const crypto::RsaPrivateKey key = crypto::RsaPrivateKey::generate(2048).value();
  return key;
}

const Bytes message(32, 0x5a);  // the size of a KeyPairingID or KPK || RANDHMAC, roughly

void oaep_dcas(benchmark::State& state) {
  const auto pub = bench_key().public_key();
  for (auto _ : state) benchmark::DoNotOptimize(crypto::oaep_encrypt(pub, message, crypto::system_random()));
}
void oaep_openssl(benchmark::State& state) {
  const auto pub = bench_key().public_key();
  for (auto _ : state) benchmark::DoNotOptimize(crypto::openssl_reference::oaep_encrypt(pub, message));
}
void pss_dcas(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(crypto::pss_sign(bench_key(), message, crypto::system_random()));
}
void pss_openssl(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(crypto::openssl_reference::pss_sign(bench_key(), message));
}

void kpk_derivation(benchmark::State& state) {
  const protocol::SmSecrets ki{SecureBytes(16, 1), SecureBytes(16, 2), SecureBytes(16, 3)};
  const SmId sm{};
  const TpId tp{};
  const Bytes rand(protocol::rand_size, 7);
  for (auto _ : state) benchmark::DoNotOptimize(protocol::derive_kpk(ki, sm, tp, rand));
}
// The primitives alone: one SHA-256 over the 104-byte seed input and one SHA-1 compression.
void kpk_primitives(benchmark::State& state) {
  const Bytes input(3 * protocol::ki_size + 2 * device_id_size + protocol::rand_size, 1);
  unsigned char digest[32];
  unsigned char block[64] = {};
  EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);  // fetched once, context reused: the best case
  EVP_MD_CTX* ctx256 = EVP_MD_CTX_new();
  for (auto _ : state) {
    EVP_DigestInit_ex(ctx256, sha256, nullptr);
    EVP_DigestUpdate(ctx256, input.data(), input.size());
    EVP_DigestFinal_ex(ctx256, digest, nullptr);
    std::copy(digest, digest + 32, block);
    SHA_CTX ctx;
    SHA1_Init(&ctx);
    SHA1_Transform(&ctx, block);
    benchmark::DoNotOptimize(ctx);
  }
  EVP_MD_CTX_free(ctx256);
  EVP_MD_free(sha256);
}

BENCHMARK(oaep_dcas)->Name("crypto/oaep_encrypt/dcas");
BENCHMARK(oaep_openssl)->Name("crypto/oaep_encrypt/openssl");
BENCHMARK(pss_dcas)->Name("crypto/pss_sign/dcas");
BENCHMARK(pss_openssl)->Name("crypto/pss_sign/openssl");
BENCHMARK(kpk_derivation)->Name("crypto/kpk/dcas");
BENCHMARK(kpk_primitives)->Name("crypto/kpk/primitives");

const SuiteRegistration crypto_suite{Suite{
    "crypto",
    "RSAES-OAEP and RSASSA-PSS with injected randomness against OpenSSL's own; KPK derivation against its primitives",
    {
        {"RSAES-OAEP encrypt (2048, injected RNG)", "crypto/oaep_encrypt/dcas", "crypto/oaep_encrypt/openssl"},
        {"RSASSA-PSS sign (2048, injected RNG)", "crypto/pss_sign/dcas", "crypto/pss_sign/openssl"},
        {"KPK derivation", "crypto/kpk/dcas", "crypto/kpk/primitives"},
    }}};

}  // namespace
}  // namespace dcas::bench
