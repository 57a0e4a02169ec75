// `dcas bench descramble`: descrambling throughput on a large transport stream for each
// algorithm, against the cipher's own limit on a buffer of the same size.
#include <benchmark/benchmark.h>
#include <dvbcsa/dvbcsa.h>
#include <openssl/evp.h>

#include <random>

#include "bench/harness.h"
#include "ts/stream.h"

namespace dcas::bench {
namespace {

constexpr std::size_t stream_packets = 32768;  // 6 MB: well beyond the caches
const Bytes csa2_cw = {1, 2, 3, 6, 5, 6, 7, 18};
const Bytes aes_cw = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

const Bytes& key_for(ts::Algorithm a) { return a == ts::Algorithm::csa2 ? csa2_cw : aes_cw; }

// A stream of full-payload packets on one PID, scrambled with the even key.
Bytes scrambled_stream(ts::Algorithm algorithm) {
  Bytes stream(stream_packets * ts::packet_size);
  std::mt19937 rng(7);
  for (auto& b : stream) b = static_cast<std::uint8_t>(rng());
  for (std::size_t i = 0; i < stream_packets; ++i) {
    auto* p = stream.data() + i * ts::packet_size;
    p[0] = ts::sync_byte, p[1] = 0x01, p[2] = 0x00, p[3] = static_cast<std::uint8_t>(0x10 | (i & 0x0f));
  }
  ts::Scrambler scrambler(algorithm, {0x100});
  (void)scrambler.set_key(ts::Scrambling::even, key_for(algorithm));
  ts::StreamStats stats;
  std::vector<ts::StreamError> errors;
  scrambler.process(stream, {}, stats, errors);
  return stream;
}

void descramble(benchmark::State& state, ts::Algorithm algorithm) {
  Bytes stream = scrambled_stream(algorithm);
  ts::Descrambler descrambler(algorithm);
  (void)descrambler.set_key(ts::Scrambling::even, key_for(algorithm));
  ts::StreamStats stats;
  std::vector<ts::StreamError> errors;
  for (auto _ : state) {
    // Mark the packets scrambled again, outside the timing: the cost of AES or CSA does not depend
    // on whether the payload is still the ciphertext.
    state.PauseTiming();
    for (std::size_t i = 0; i < stream_packets; ++i) stream[i * ts::packet_size + 3] |= 0x80;
    state.ResumeTiming();
    descrambler.process(stream, {}, stats, errors);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream.size()));
}

// OpenSSL AES-128-CBC decryption of one buffer of the stream's size, in one call.
void aes_cbc_limit(benchmark::State& state) {
  Bytes buffer(stream_packets * ts::packet_size / 16 * 16, 0x5a);
  EVP_CIPHER* cbc = EVP_CIPHER_fetch(nullptr, "AES-128-CBC", nullptr);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  const unsigned char iv[16] = {};
  EVP_CipherInit_ex2(ctx, cbc, aes_cw.data(), iv, 0, nullptr);
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  int len = 0;
  for (auto _ : state) {
    EVP_CipherInit_ex2(ctx, nullptr, nullptr, iv, -1, nullptr);
    EVP_CipherUpdate(ctx, buffer.data(), &len, buffer.data(), static_cast<int>(buffer.size()));
    benchmark::DoNotOptimize(buffer.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream_packets * ts::packet_size));
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(cbc);
}

// libdvbcsa's bit-sliced decryption of the same payloads in full batches.
void csa2_limit(benchmark::State& state) {
  Bytes stream = scrambled_stream(ts::Algorithm::csa2);
  dvbcsa_bs_key_s* key = dvbcsa_bs_key_alloc();
  dvbcsa_cw_t cw;
  std::copy(csa2_cw.begin(), csa2_cw.end(), cw);
  dvbcsa_bs_key_set(cw, key);
  const unsigned batch_size = dvbcsa_bs_batch_size();
  std::vector<std::vector<dvbcsa_bs_batch_s>> batches;
  for (std::size_t i = 0; i < stream_packets; i += batch_size) {
    auto& b = batches.emplace_back();
    for (std::size_t j = i; j < std::min<std::size_t>(i + batch_size, stream_packets); ++j)
      b.push_back({stream.data() + j * ts::packet_size + 4, 184});
    b.push_back({nullptr, 0});
  }
  for (auto _ : state)
    for (const auto& b : batches) dvbcsa_bs_decrypt(key, b.data(), 184);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream.size()));
  dvbcsa_bs_key_free(key);
}

BENCHMARK_CAPTURE(descramble, csa2, ts::Algorithm::csa2)->Name("descramble/csa2")->UseRealTime();
BENCHMARK_CAPTURE(descramble, cissa, ts::Algorithm::cissa)->Name("descramble/cissa")->UseRealTime();
BENCHMARK_CAPTURE(descramble, idsa, ts::Algorithm::idsa)->Name("descramble/idsa")->UseRealTime();
BENCHMARK(aes_cbc_limit)->Name("descramble/aes128_cbc_limit")->UseRealTime();
BENCHMARK(csa2_limit)->Name("descramble/libdvbcsa_batch_limit")->UseRealTime();

const SuiteRegistration descramble_suite{Suite{
    "descramble",
    "Descrambling a 6 MB transport stream per algorithm against the cipher's own limit on the same bytes",
    {
        {"DVB-CSA2 descramble", "descramble/csa2", "descramble/libdvbcsa_batch_limit", Unit::megabytes_per_second},
        {"DVB-CISSA descramble", "descramble/cissa", "descramble/aes128_cbc_limit", Unit::megabytes_per_second},
        {"ATIS-IDSA descramble", "descramble/idsa", "descramble/aes128_cbc_limit", Unit::megabytes_per_second},
    }}};

}  // namespace
}  // namespace dcas::bench
