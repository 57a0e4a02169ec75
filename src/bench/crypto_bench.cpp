// `dcas bench crypto`: the crypto layer against the primitives it is built on.
#define OPENSSL_SUPPRESS_DEPRECATED  // SHA1_Transform: the bound for the PRF's compression call
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
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
// The RSA primitive alone (RSAEP / RSASP1, no padding) on a modulus-sized block: the limit any
// padded encryption or signature can reach.
void rsa_raw(benchmark::State& state, bool private_op) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, bench_key().evp(), nullptr);
  if (private_op)
    EVP_PKEY_decrypt_init(ctx);
  else
    EVP_PKEY_encrypt_init(ctx);
  EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING);
  Bytes block(bench_key().modulus_bytes(), 0x33), out(block.size());
  block[0] = 0;
  for (auto _ : state) {
    std::size_t len = out.size();
    if (private_op)
      EVP_PKEY_decrypt(ctx, out.data(), &len, block.data(), block.size());
    else
      EVP_PKEY_encrypt(ctx, out.data(), &len, block.data(), block.size());
    benchmark::DoNotOptimize(out);
  }
  EVP_PKEY_CTX_free(ctx);
}
void rsa_public_raw(benchmark::State& state) { rsa_raw(state, false); }
void rsa_private_raw(benchmark::State& state) { rsa_raw(state, true); }
void oaep_decrypt(benchmark::State& state) {
  const auto ct = crypto::oaep_encrypt(bench_key().public_key(), message, crypto::system_random()).value();
  for (auto _ : state) benchmark::DoNotOptimize(crypto::oaep_decrypt(bench_key(), ct));
}
void pss_dcas(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(crypto::pss_sign(bench_key(), message, crypto::system_random()));
}
void pss_verify(benchmark::State& state) {
  const auto sig = crypto::pss_sign(bench_key(), message, crypto::system_random()).value();
  const auto pub = bench_key().public_key();
  for (auto _ : state) benchmark::DoNotOptimize(crypto::pss_verify(pub, message, sig));
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

BENCHMARK(oaep_dcas)->Name("crypto/oaep_encrypt");
BENCHMARK(oaep_decrypt)->Name("crypto/oaep_decrypt");
BENCHMARK(pss_dcas)->Name("crypto/pss_sign");
BENCHMARK(pss_verify)->Name("crypto/pss_verify");
BENCHMARK(rsa_public_raw)->Name("crypto/rsa_public_raw");
BENCHMARK(rsa_private_raw)->Name("crypto/rsa_private_raw");
BENCHMARK(kpk_derivation)->Name("crypto/kpk/dcas");
BENCHMARK(kpk_primitives)->Name("crypto/kpk/primitives");

const SuiteRegistration crypto_suite{
    Suite{"crypto",
          "RSAES-OAEP and RSASSA-PSS (2048) against the bare RSA operation; KPK derivation against its primitives",
          {
              {"RSAES-OAEP encrypt (injected RNG)", "crypto/oaep_encrypt", "crypto/rsa_public_raw"},
              {"RSAES-OAEP decrypt", "crypto/oaep_decrypt", "crypto/rsa_private_raw"},
              {"RSASSA-PSS sign (injected RNG)", "crypto/pss_sign", "crypto/rsa_private_raw"},
              {"RSASSA-PSS verify", "crypto/pss_verify", "crypto/rsa_public_raw"},
              {"KPK derivation", "crypto/kpk/dcas", "crypto/kpk/primitives"},
          }}};

}  // namespace
}  // namespace dcas::bench
