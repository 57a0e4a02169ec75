// `dcas bench protocol` and `dcas bench cw`: a complete SM-TP protocol run against the RSA
// operations it cannot avoid, and the control-word channel against its primitives.
#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "bench/harness.h"
#include "pki/authority.h"
#include "protocol/in_process.h"

namespace dcas::bench {
namespace {

using namespace protocol;

const TimePoint bench_time = std::chrono::sys_days{std::chrono::year{2026} / 6 / 1};

// One deployment with fresh keys, built once per process.
struct Fixture {
  crypto::SeededRandom rng{view("bench")};
  crypto::RsaPrivateKey ta_key = crypto::RsaPrivateKey::generate().value(),
                        ap_key = crypto::RsaPrivateKey::generate().value(),
                        sm_key = crypto::RsaPrivateKey::generate().value(),
                        tp_key = crypto::RsaPrivateKey::generate().value();
  pki::Validity validity{bench_time - std::chrono::days(1), bench_time + std::chrono::days(365)};
  pki::Certificate root = pki::make_root(ta_key, "Bench TA", validity, rng).value();
  Identity ap{ap_key, cert(Role::ap, "4100000000000001", ap_key), root};
  Identity sm{sm_key, cert(Role::sm, "5300000000000001", sm_key), root};
  Identity tp{tp_key, cert(Role::tp, "5400000000000001", tp_key), root};

  pki::Certificate cert(Role role, const char* id, const crypto::RsaPrivateKey& key) {
    return pki::issue_device(ta_key, root, role, from_hex(id).value(), key.public_key(), validity, rng).value();
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// power_up -> established, the TA's pair reset to Paired Only between runs (no RSA involved).
void protocol_run(benchmark::State& state) {
  auto& f = fixture();
  MemoryPairingStore store;
  const SmId sm_id = SmId::from_hex("5300000000000001").value();
  store.add_sm(sm_id, {SecureBytes(16, 1), SecureBytes(16, 2), SecureBytes(16, 3)}).value();
  store.add_tp(TpId::from_hex("5400000000000001").value()).value();
  TrustedAuthority ta({f.ta_key, f.root, f.root}, store, crypto::system_random());
  ta.register_ap(f.ap.certificate, bench_time).value();
  auto ap = AuthProxy::create(f.ap, crypto::system_random(), bench_time).value();
  InProcessNetwork net(ta, ap);
  auto host = net.add_host(f.sm, f.tp, crypto::system_random(), crypto::system_random(), bench_time).value();
  Output announce;
  announce.send(Peer::sm, ap.security_announce(Bytes(8, 'N'), 1).value());
  net.run(*host, Peer::ap, std::move(announce), bench_time);  // stores the AP certificate in the SM
  for (auto _ : state) {
    store.record_left(sm_id, bench_time).value();
    net.clear();
    net.run(*host, Peer::sm, host->sm->power_up(bench_time), bench_time);
    if (host->sm->state() != SecureMicro::State::established) state.SkipWithError("protocol run failed");
  }
}

// Exactly the RSA operations of one run (docs/performance.md lists them): 7 PSS signatures,
// 6 OAEP decryptions, 8 PSS verifications, 6 OAEP encryptions, 4 certificate signature checks.
void protocol_rsa_operations(benchmark::State& state) {
  auto& f = fixture();
  const Bytes msg(300, 0x5a), small(40, 0x11);
  const auto pub = f.sm_key.public_key();
  const auto sig = crypto::pss_sign(f.sm_key, msg, crypto::system_random()).value();
  const auto ct = crypto::oaep_encrypt(pub, small, crypto::system_random()).value();
  EVP_PKEY* ta_pub = X509_get0_pubkey(f.root.x509());
  for (auto _ : state) {
    for (int i = 0; i < 7; ++i) benchmark::DoNotOptimize(crypto::pss_sign(f.sm_key, msg, crypto::system_random()));
    for (int i = 0; i < 6; ++i) benchmark::DoNotOptimize(crypto::oaep_decrypt(f.sm_key, ct));
    for (int i = 0; i < 8; ++i) benchmark::DoNotOptimize(crypto::pss_verify(pub, msg, sig));
    for (int i = 0; i < 6; ++i) benchmark::DoNotOptimize(crypto::oaep_encrypt(pub, small, crypto::system_random()));
    for (int i = 0; i < 4; ++i) benchmark::DoNotOptimize(X509_verify(f.sm.certificate.x509(), ta_pub));
  }
}

// ---- CW channel ----

const Bytes cwek(16, 0x2a), hmac_key(20, 0x37);

ControlWords sample_cws() {
  ControlWords c;
  c.odd = std::array<std::uint8_t, 16>{1, 2, 3};
  c.even = std::array<std::uint8_t, 16>{4, 5, 6};
  return c;
}

void cw_seal_open(benchmark::State& state) {
  auto sealer = CwSealer::create(cwek, hmac_key).value();
  auto opener = CwOpener::create(cwek, hmac_key).value();
  const auto cws = sample_cws();
  CwMessage m;
  for (auto _ : state) {
    if (!sealer.seal_into(cws, bench_time, m)) state.SkipWithError("seal failed");
    auto opened = opener.open(m, bench_time);
    if (!opened) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(opened);
  }
}

// The primitives alone on the same bytes, in their rawest form: one AES-128 encryption and one
// decryption call over the 32 plaintext/ciphertext bytes (pre-keyed, no IV handling, no chaining)
// and two HMAC-SHA1 over the 70 authenticated bytes (pre-keyed; one makes the tag, one checks it).
void cw_primitives(benchmark::State& state) {
  EVP_CIPHER* aes = EVP_CIPHER_fetch(nullptr, "AES-128-ECB", nullptr);
  EVP_CIPHER_CTX* enc = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX* dec = EVP_CIPHER_CTX_new();
  EVP_CipherInit_ex2(enc, aes, cwek.data(), nullptr, 1, nullptr);
  EVP_CipherInit_ex2(dec, aes, cwek.data(), nullptr, 0, nullptr);
  EVP_CIPHER_CTX_set_padding(enc, 0);
  EVP_CIPHER_CTX_set_padding(dec, 0);
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* mac = EVP_MAC_CTX_new(hmac);
  char digest[] = "SHA1";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  EVP_MAC_init(mac, hmac_key.data(), hmac_key.size(), params);
  unsigned char plain[32] = {1}, ct[32], back[32], authenticated[70] = {2}, tag[20];
  int len = 0;
  std::size_t tag_len = 0;
  for (auto _ : state) {
    EVP_CipherUpdate(enc, ct, &len, plain, 32);
    for (int i = 0; i < 2; ++i) {
      EVP_MAC_init(mac, nullptr, 0, nullptr);
      EVP_MAC_update(mac, authenticated, sizeof authenticated);
      EVP_MAC_final(mac, tag, &tag_len, sizeof tag);
    }
    EVP_CipherUpdate(dec, back, &len, ct, 32);
    benchmark::DoNotOptimize(back);
    benchmark::DoNotOptimize(tag);
  }
  EVP_MAC_CTX_free(mac);
  EVP_MAC_free(hmac);
  EVP_CIPHER_CTX_free(enc);
  EVP_CIPHER_CTX_free(dec);
  EVP_CIPHER_free(aes);
}

BENCHMARK(protocol_run)->Name("protocol/run");
BENCHMARK(protocol_rsa_operations)->Name("protocol/rsa_operations");
BENCHMARK(cw_seal_open)->Name("cw/seal_open");
BENCHMARK(cw_primitives)->Name("cw/primitives");

const SuiteRegistration protocol_suite{
    Suite{"protocol",
          "One complete SM-TP protocol run (koo2010, in process) against the summed cost of its 31 RSA operations",
          {{"koo2010 run, power-up to key confirmation", "protocol/run", "protocol/rsa_operations"}}}};

const SuiteRegistration cw_suite{
    Suite{"cw",
          "Control-word message seal + open against AES-128-CBC encrypt + decrypt and two HMAC-SHA1 on the same bytes",
          {{"ControlWord seal + open", "cw/seal_open", "cw/primitives"}}}};

}  // namespace
}  // namespace dcas::bench
