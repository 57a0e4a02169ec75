// `dcas bench protocol` and `dcas bench cw`: a complete SM-TP protocol run against the RSA
// operations it cannot avoid, and the control-word channel against its primitives.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "bench/harness.h"
#include "bench/public_key_work.h"
#include "headend/broadcast.h"
#include "host/receiver.h"
#include "pki/authority.h"
#include "protocol/cas.h"
#include "protocol/client_image.h"
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

// One SM and TP registered at a TA, its AP, and the host, announced to (the SM knows the AP).
struct Deployment {
  const SmId sm_id = SmId::from_hex("5300000000000001").value();
  MemoryPairingStore store;
  TrustedAuthority ta;
  AuthProxy ap;
  InProcessNetwork net;
  std::unique_ptr<InProcessHost> host;

  explicit Deployment(wire::Profile profile = wire::Profile::koo2010)
      : ta(register_devices(store), store, crypto::system_random(), {}, profile),
        ap(AuthProxy::create(fixture().ap, crypto::system_random(), bench_time, {}, profile).value()),
        net(ta, ap) {
    auto& f = fixture();
    ta.register_ap(f.ap.certificate, bench_time).value();
    host = net.add_host(f.sm, f.tp, crypto::system_random(), crypto::system_random(), bench_time).value();
    Output announce;
    announce.send(Role::sm, ap.security_announce(Bytes(8, 'N'), 1).value(), host->session);
    net.run(*host, Role::ap, std::move(announce), bench_time);
  }
  // Registers the devices; returns the TA's identity (a helper so the store is filled first).
  static Identity register_devices(MemoryPairingStore& store) {
    store
        .add_sm(SmId::from_hex("5300000000000001").value(),
                {SecureBytes(16, 1), SecureBytes(16, 2), SecureBytes(16, 3)})
        .value();
    store.add_tp(TpId::from_hex("5400000000000001").value()).value();
    return {fixture().ta_key, fixture().root, fixture().root};
  }
};

// power_up -> established, the TA's pair reset to Paired Only between runs (no RSA involved).
void protocol_run(benchmark::State& state, wire::Profile profile) {
  Deployment d(profile);
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    // The clock advances: the TA takes each of the AP's times once, within its window.
    const auto now =
        bench_time + std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    d.store.record_left(d.sm_id, now).value();
    d.net.clear();
    d.net.run(*d.host, Role::sm, d.host->sm->power_up(now), now);
    if (d.host->sm->state() != SecureMicro::State::established) state.SkipWithError("protocol run failed");
  }
}

// The public-key operations of one run of `profile` (bench/public_key_work.h), with the keys of
// the run's four roles.
void protocol_public_key_work(benchmark::State& state, wire::Profile profile) {
  auto& f = fixture();
  auto work = PublicKeyWork::create({f.sm_key, f.tp_key, f.ap_key, f.ta_key, f.root, f.sm.certificate});
  if (!work) return state.SkipWithError(work.error().message().c_str());
  for (auto _ : state)
    if (!work->run_once(profile)) state.SkipWithError("a public-key operation failed");
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

// ---- the host's receiver: demux, CA client, CW channel, descrambling ----

constexpr std::size_t broadcast_packets = 32768;  // 6 MB; one packet per millisecond of PCR: 33 s

// A clear programme: PAT and PMT every 100 packets, one elementary stream (PID 0x100) whose every
// 40th packet carries a PCR advancing 1 ms per packet.
Bytes clear_programme() {
  Bytes out;
  std::uint8_t cc_pat = 0, cc_pmt = 0, cc_es = 0;
  std::uint64_t state = 7;
  const Bytes pat = ts::build_pat({1, {{1, 0x1000}}}), pmt = ts::build_pmt({1, 0x100, {}, {{0x02, 0x100, {}}}});
  for (std::size_t i = 0; out.size() < broadcast_packets * ts::packet_size; ++i) {
    if (i % 100 == 0) {
      for (const auto& p : ts::packetize(pat, ts::pat_pid, cc_pat)) out.insert(out.end(), p.begin(), p.end());
      for (const auto& p : ts::packetize(pmt, 0x1000, cc_pmt)) out.insert(out.end(), p.begin(), p.end());
      continue;
    }
    std::array<std::uint8_t, ts::packet_size> p{};
    p[0] = ts::sync_byte, p[1] = 0x01, p[2] = 0x00;
    std::size_t at = 4;
    if (i % 40 == 1) {  // adaptation field with a PCR (base in 90 kHz units)
      const std::uint64_t base = i * 90;
      p[3] = static_cast<std::uint8_t>(0x30 | (cc_es++ & 0x0f));
      p[4] = 7, p[5] = 0x10;
      p[6] = static_cast<std::uint8_t>(base >> 25), p[7] = static_cast<std::uint8_t>(base >> 17);
      p[8] = static_cast<std::uint8_t>(base >> 9), p[9] = static_cast<std::uint8_t>(base >> 1);
      p[10] = static_cast<std::uint8_t>((base & 1) << 7 | 0x7e), p[11] = 0;
      at = 12;
    } else {
      p[3] = static_cast<std::uint8_t>(0x10 | (cc_es++ & 0x0f));
    }
    for (; at < ts::packet_size; ++at)
      p[at] = static_cast<std::uint8_t>((state = state * 6364136223846793005u + 1) >> 56);
    out.insert(out.end(), p.begin(), p.end());
  }
  out.resize(broadcast_packets * ts::packet_size);
  return out;
}

// A host (SM and TP established, the image installed by a real download) and two broadcasts of
// the programme under two product keys: alternating them, each starts with an EMM carrying a new
// product key, so the CA client accepts its ECMs from period 0 again.
struct ReceiverFixture {
  Deployment d;
  std::unique_ptr<InProcessHost>& host = d.host;
  std::array<Bytes, 2> broadcasts;

  ReceiverFixture() {
    auto& f = fixture();
    const SecureBytes ca_key(16, 0xca);
    auto request = host->sm->request_image();
    auto grant = d.ap.grant_image_key(host->session, request.messages.at(0).bytes, 1).value();
    (void)host->sm->receive(Role::ap, grant.message, bench_time);
    const auto image = seal_client_image({Bytes(8, 'N'), 1, host->sm->id(), ca_key, Bytes(1000, 0xc0)},
                                         view(grant.image_key), f.ap_key, f.rng)
                           .value();
    if (!host->sm->receive(Role::ap, image, bench_time).ok()) std::abort();
    const Bytes clear = clear_programme();
    for (int i = 0; i < 2; ++i) {
      const Bytes product_key(16, static_cast<std::uint8_t>(0x90 + i));
      const auto emm = seal_emm(view(ca_key), host->sm->id(), {1, ~std::uint64_t{0} >> 1}, product_key, f.rng).value();
      headend::BroadcastConfig config;
      config.crypto_period = std::chrono::seconds(1);
      auto b = headend::Broadcaster::create(config, {{1, SecureBytes(product_key.begin(), product_key.end())}, {}},
                                            {{1, emm}}, f.rng)
                   .value();
      b.process(clear, broadcasts[i]).value();
    }
  }
};

ReceiverFixture& receiver_fixture() {
  static ReceiverFixture f;
  return f;
}

void receiver(benchmark::State& state) {
  auto& f = receiver_fixture();
  Bytes out;
  out.reserve(f.broadcasts[0].size() + ts::packet_size);
  // Alternates across Google Benchmark's runs too: the same broadcast twice in a row would replay
  // its ECMs to the CA client, which refuses them (ecm_replayed).
  static std::size_t which = 0;
  std::size_t descrambled = 0;
  for (auto _ : state) {
    host::Receiver r(*f.host->driver, ts::Algorithm::csa2, headend::BroadcastConfig{}.ca_system_id,
                     [](std::string_view) {});
    out.clear();
    r.feed(f.broadcasts[which ^= 1], out);
    descrambled = r.stats().descrambled;
    if (r.stats().control_word_updates < 30 || r.stats().left_scrambled)
      state.SkipWithError(fmt::format("the receiver lost CWs: {} updates, {} left scrambled",
                                      r.stats().control_word_updates, r.stats().left_scrambled)
                              .c_str());
  }
  state.counters["descrambled"] = static_cast<double>(descrambled);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * f.broadcasts[0].size()));
}

// The bare descrambler on the same broadcast, its two keys set once: the CSA work alone.
void receiver_descramble_limit(benchmark::State& state) {
  auto& f = receiver_fixture();
  Bytes stream = f.broadcasts[0];
  ts::Descrambler d(ts::Algorithm::csa2);
  (void)d.set_key(ts::Scrambling::even, Bytes(8, 1));
  (void)d.set_key(ts::Scrambling::odd, Bytes(8, 2));
  ts::StreamStats stats;
  std::vector<ts::StreamError> errors;
  for (auto _ : state) {
    state.PauseTiming();
    std::copy(f.broadcasts[0].begin(), f.broadcasts[0].end(), stream.begin());
    state.ResumeTiming();
    d.process(stream, {}, stats, errors);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream.size()));
}

BENCHMARK_CAPTURE(protocol_run, koo2010, wire::Profile::koo2010)->Name("protocol/run");
BENCHMARK_CAPTURE(protocol_public_key_work, koo2010, wire::Profile::koo2010)->Name("protocol/rsa_operations");
BENCHMARK_CAPTURE(protocol_run, hardened1, wire::Profile::hardened1)->Name("protocol/run_hardened1");
BENCHMARK_CAPTURE(protocol_public_key_work, hardened1, wire::Profile::hardened1)
    ->Name("protocol/public_key_work_hardened1");
BENCHMARK(cw_seal_open)->Name("cw/seal_open");
BENCHMARK(cw_primitives)->Name("cw/primitives");
BENCHMARK(receiver)->Name("receiver/broadcast")->UseRealTime();
BENCHMARK(receiver_descramble_limit)->Name("receiver/descrambler_limit")->UseRealTime();

const SuiteRegistration protocol_suite{Suite{
    "protocol",
    "One complete SM-TP protocol run (in process) against the summed cost of its public-key operations: koo2010's "
    "33 RSA operations, hardened1's 28 RSA operations and 4 X25519 multiplications; and hardened1 against "
    "koo2010",
    {{"koo2010 run, power-up to key confirmation", "protocol/run", "protocol/rsa_operations"},
     {"hardened1 run, power-up to key confirmation", "protocol/run_hardened1", "protocol/public_key_work_hardened1"},
     {"hardened1 run against the koo2010 run (speed-up)", "protocol/run_hardened1", "protocol/run",
      Unit::ops_per_second, true}}}};

const SuiteRegistration cw_suite{
    Suite{"cw",
          "Control-word message seal + open against AES-128-CBC encrypt + decrypt and two HMAC-SHA1 on the same bytes",
          {{"ControlWord seal + open", "cw/seal_open", "cw/primitives"}}}};

const SuiteRegistration receiver_suite{
    Suite{"receiver",
          "The host's receiver on a 6 MB CSA2 broadcast with 1 s crypto periods (demux, ECM/EMM to the CA client, "
          "ControlWord to the TP, descrambling) against the bare descrambler on the same bytes",
          {{"receiver, broadcast to programme", "receiver/broadcast", "receiver/descrambler_limit",
            Unit::megabytes_per_second}}}};

}  // namespace
}  // namespace dcas::bench
