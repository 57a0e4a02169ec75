// `dcas bench descramble`: descrambling throughput on a large transport stream for each
// algorithm, against the cipher's own limit on a buffer of the same size.
#include <benchmark/benchmark.h>
#include <dvbcsa/dvbcsa.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <random>

#include "bench/harness.h"
#include "common/bytes.h"
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

// ---- against tsdecrypt: both tools as processes on the same scrambled file ----

namespace fs = std::filesystem;

struct FileRace {
  fs::path dir, scrambled, ours, theirs;
  std::uint64_t size = 0;
  std::string self;
};

// A 12 MB stream with PAT and PMT (tsdecrypt needs them), scrambled with a constant CW.
const FileRace& race() {
  static const FileRace r = [] {
    FileRace f;
    f.dir = fs::temp_directory_path() / fmt::format("dcas-bench-{}", ::getpid());
    fs::create_directories(f.dir);
    f.scrambled = f.dir / "scrambled.ts", f.ours = f.dir / "dcas.ts", f.theirs = f.dir / "tsdecrypt.ts";
    f.self = fs::read_symlink("/proc/self/exe").string();
    std::uint8_t cc_pat = 0, cc_pmt = 0;
    const Bytes pat = ts::build_pat({1, {{1, 0x1000}}});
    const Bytes pmt = ts::build_pmt({1, 0x100, {}, {{0x02, 0x100, {}}}});
    Bytes stream;
    std::mt19937 rng(11);
    for (std::size_t i = 0; i < 65536; ++i) {
      if (i % 256 == 0) {
        for (const auto& p : ts::packetize(pat, ts::pat_pid, cc_pat)) stream.insert(stream.end(), p.begin(), p.end());
        for (const auto& p : ts::packetize(pmt, 0x1000, cc_pmt)) stream.insert(stream.end(), p.begin(), p.end());
      }
      std::array<std::uint8_t, ts::packet_size> p;
      for (auto& b : p) b = static_cast<std::uint8_t>(rng());
      p[0] = ts::sync_byte, p[1] = 0x01, p[2] = 0x00, p[3] = static_cast<std::uint8_t>(0x10 | (i & 0x0f));
      stream.insert(stream.end(), p.begin(), p.end());
    }
    ts::Scrambler scrambler(ts::Algorithm::csa2, {});
    (void)scrambler.set_key(ts::Scrambling::even, csa2_cw);
    ts::StreamStats stats;
    std::vector<ts::StreamError> errors;
    scrambler.process(stream, {}, stats, errors);
    std::FILE* out = std::fopen(f.scrambled.c_str(), "wb");
    if (out) {
      std::fwrite(stream.data(), 1, stream.size(), out);
      std::fclose(out);
    }
    f.size = stream.size();
    return f;
  }();
  static const struct Cleanup {
    const fs::path& dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{r.dir};
  return r;
}

std::string cw_hex() { return to_hex(csa2_cw); }

void file_dcas(benchmark::State& state) {
  const auto& r = race();
  const std::string cmd = fmt::format("{} descramble --algo csa2 --cw-even {} {} {} 2>/dev/null", r.self, cw_hex(),
                                      r.scrambled.string(), r.ours.string());
  for (auto _ : state)
    if (std::system(cmd.c_str()) != 0) state.SkipWithError("dcas descramble failed");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * r.size));
}

// The elementary-stream packets of a file (PID 0x100), for the identity check.
Bytes es_packets(const fs::path& path) {
  Bytes out;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return out;
  std::array<std::uint8_t, ts::packet_size> p;
  while (std::fread(p.data(), 1, p.size(), f) == p.size())
    if (((p[1] & 0x1f) << 8 | p[2]) == 0x100) out.insert(out.end(), p.begin(), p.end());
  std::fclose(f);
  return out;
}

void file_tsdecrypt(benchmark::State& state) {
  const auto& r = race();
  // tsdecrypt's constant CW is the odd and the even CW together.
  const std::string cmd = fmt::format("tsdecrypt -Y {}{} -I file://{} -O file://{} >/dev/null 2>&1", cw_hex(), cw_hex(),
                                      r.scrambled.string(), r.theirs.string());
  for (auto _ : state)
    if (std::system(cmd.c_str()) != 0) state.SkipWithError("tsdecrypt is not available");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * r.size));
  // The race counts only if both produced the same elementary stream.
  const Bytes ours = es_packets(r.ours), theirs = es_packets(r.theirs);
  if (ours.empty() || ours != theirs) state.SkipWithError("dcas and tsdecrypt outputs differ");
}

BENCHMARK_CAPTURE(descramble, csa2, ts::Algorithm::csa2)->Name("descramble/csa2")->UseRealTime();
BENCHMARK_CAPTURE(descramble, cissa, ts::Algorithm::cissa)->Name("descramble/cissa")->UseRealTime();
BENCHMARK_CAPTURE(descramble, idsa, ts::Algorithm::idsa)->Name("descramble/idsa")->UseRealTime();
BENCHMARK(aes_cbc_limit)->Name("descramble/aes128_cbc_limit")->UseRealTime();
BENCHMARK(csa2_limit)->Name("descramble/libdvbcsa_batch_limit")->UseRealTime();
BENCHMARK(file_dcas)->Name("descramble/file_dcas")->UseRealTime()->Iterations(2);
BENCHMARK(file_tsdecrypt)->Name("descramble/file_tsdecrypt")->UseRealTime()->Iterations(1);

const SuiteRegistration descramble_suite{Suite{
    "descramble",
    "Descrambling a 6 MB transport stream per algorithm against the cipher's own limit on the same bytes",
    {
        {"DVB-CSA2 descramble", "descramble/csa2", "descramble/libdvbcsa_batch_limit", Unit::megabytes_per_second},
        {"DVB-CISSA descramble", "descramble/cissa", "descramble/aes128_cbc_limit", Unit::megabytes_per_second},
        {"ATIS-IDSA descramble", "descramble/idsa", "descramble/aes128_cbc_limit", Unit::megabytes_per_second},
        {"DVB-CSA2 file, dcas vs tsdecrypt", "descramble/file_dcas", "descramble/file_tsdecrypt",
         Unit::megabytes_per_second, /*comparison=*/true},
    }}};

}  // namespace
}  // namespace dcas::bench
