#include "ts/ciphers.h"

#include <dvbcsa/dvbcsa.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "crypto/aes.h"

namespace dcas::ts {

std::string_view algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::csa2: return "csa2";
    case Algorithm::cissa: return "cissa";
    case Algorithm::idsa: return "idsa";
  }
  return "unknown";
}

std::optional<Algorithm> algorithm_from_name(std::string_view name) {
  for (Algorithm a : {Algorithm::csa2, Algorithm::cissa, Algorithm::idsa})
    if (algorithm_name(a) == name) return a;
  return std::nullopt;
}

std::size_t cw_size(Algorithm a) { return a == Algorithm::csa2 ? 8 : 16; }

namespace {

std::size_t slot(Scrambling parity) { return parity == Scrambling::odd ? 1 : 0; }

// ---- DVB-CSA2: libdvbcsa's bit-sliced batch API ----

class Csa2Cipher final : public PayloadCipher {
 public:
  Csa2Cipher() : batch_size_(dvbcsa_bs_batch_size()) {
    for (auto& k : keys_) k.reset(dvbcsa_bs_key_alloc());
    batch_.resize(batch_size_ + 1);
  }
  Result<void> set_key(Scrambling parity, ByteView cw) override {
    if (cw.size() != 8) return fail(Errc::bad_length, "a DVB-CSA2 control word is 8 bytes");
    dvbcsa_cw_t key;
    std::copy(cw.begin(), cw.end(), key);
    dvbcsa_bs_key_set(key, keys_[slot(parity)].get());
    secure_wipe(key, sizeof key);
    has_[slot(parity)] = true;
    return {};
  }
  bool has_key(Scrambling parity) const override { return has_[slot(parity)]; }
  void decrypt(Scrambling parity, Payloads payloads) override { run(parity, payloads, dvbcsa_bs_decrypt); }
  void encrypt(Scrambling parity, Payloads payloads) override { run(parity, payloads, dvbcsa_bs_encrypt); }
  std::size_t preferred_batch() const override { return batch_size_; }

 private:
  using BatchFn = void (*)(const dvbcsa_bs_key_s*, const dvbcsa_bs_batch_s*, unsigned int);
  void run(Scrambling parity, Payloads payloads, BatchFn fn) {
    for (std::size_t start = 0; start < payloads.size(); start += batch_size_) {
      const std::size_t n = std::min(batch_size_, payloads.size() - start);
      for (std::size_t i = 0; i < n; ++i)
        batch_[i] = {payloads[start + i].data(), static_cast<unsigned int>(payloads[start + i].size())};
      batch_[n] = {nullptr, 0};
      fn(keys_[slot(parity)].get(), batch_.data(), 184);
    }
  }
  struct KeyFree {
    void operator()(dvbcsa_bs_key_s* k) const { dvbcsa_bs_key_free(k); }
  };
  std::size_t batch_size_;
  std::array<std::unique_ptr<dvbcsa_bs_key_s, KeyFree>, 2> keys_;
  std::array<bool, 2> has_{};
  std::vector<dvbcsa_bs_batch_s> batch_;
};

// ---- AES-128 CBC family: DVB-CISSA and ATIS-IDSA ----
//
// Written by hand around OpenSSL's AES block functions, because no library frames TS payloads
// (whole blocks in CBC, then each standard's own rule for the residue). Decryption runs all whole
// blocks of a payload through one ECB call (blocks decrypt independently) and applies the CBC XOR
// here, so no per-packet IV re-initialisation is needed.

constexpr std::array<std::uint8_t, 16> cissa_iv = {'D', 'V', 'B', 'T', 'M', 'C', 'P', 'T',
                                                   'A', 'E', 'S', 'C', 'I', 'S', 'S', 'A'};
constexpr std::array<std::uint8_t, 16> idsa_iv{};  // ATIS-0800006: IV of zeros

class AesCbcCipher final : public PayloadCipher {
 public:
  explicit AesCbcCipher(Algorithm a) : algorithm_(a), iv_(a == Algorithm::cissa ? cissa_iv : idsa_iv) {}

  Result<void> set_key(Scrambling parity, ByteView cw) override {
    if (cw.size() != 16)
      return fail(Errc::bad_length, fmt::format("a {} control word is 16 bytes", algorithm_name(algorithm_)));
    auto& k = keys_[slot(parity)];
    DCAS_TRY_ASSIGN(enc, crypto::Aes128::create(crypto::AesMode::ecb, crypto::AesDirection::encrypt, cw));
    DCAS_TRY_ASSIGN(dec, crypto::Aes128::create(crypto::AesMode::ecb, crypto::AesDirection::decrypt, cw));
    DCAS_TRY_ASSIGN(cbc, crypto::Aes128::create(crypto::AesMode::cbc, crypto::AesDirection::encrypt, cw));
    DCAS_TRY_ASSIGN(cbc_dec, crypto::Aes128::create(crypto::AesMode::cbc, crypto::AesDirection::decrypt, cw));
    // The decryption context runs on for the life of the key; it starts from our IV.
    std::array<std::uint8_t, 16> ignored{};
    DCAS_TRY(cbc_dec.run(iv_, ByteView{}, std::span<std::uint8_t>(ignored.data(), 0)));
    k.encrypt.emplace(std::move(enc));
    k.decrypt.emplace(std::move(dec));
    k.cbc_encrypt.emplace(std::move(cbc));
    k.cbc_decrypt.emplace(std::move(cbc_dec));
    k.chain = iv_;
    return {};
  }
  bool has_key(Scrambling parity) const override { return keys_[slot(parity)].decrypt.has_value(); }
  std::size_t preferred_batch() const override { return 128; }

  // Decrypts a batch with two OpenSSL calls, whatever its size: the whole blocks of every payload
  // are gathered into one buffer and CBC-decrypted together on a context that runs on from batch
  // to batch (no IV re-initialisation); each payload's first block is then corrected from the
  // chaining value it was decrypted under to the standard's IV. For IDSA the residue keystreams,
  // AES(last ciphertext block), are made in one ECB call as well.
  // Each payload is CBC-decrypted in place by one call on a context that runs on from payload to
  // payload (no IV re-initialisation, which costs more than the decryption in OpenSSL 3); its first
  // block is then corrected from the chaining value it was decrypted under to the standard's IV.
  // IDSA residue keystreams, AES(last ciphertext block or IV), are made for the whole batch in one
  // ECB call.
  void decrypt(Scrambling parity, Payloads payloads) override {
    auto& k = keys_[slot(parity)];
    const bool idsa = algorithm_ == Algorithm::idsa;
    if (idsa && keystream_.size() < payloads.size() * 16) keystream_.resize(payloads.size() * 16);
    std::size_t residues = 0;
    std::array<std::uint8_t, 16> last;
    for (auto payload : payloads) {
      const std::size_t whole = payload.size() & ~std::size_t{15};
      std::memcpy(last.data(), whole > 0 ? payload.data() + whole - 16 : iv_.data(), 16);
      if (whole > 0) {
        (void)k.cbc_decrypt->run_continuing(payload.first(whole), payload.first(whole));
        xor16(payload.data(), k.chain.data(), iv_.data());
        k.chain = last;
      }
      if (idsa && whole != payload.size()) std::memcpy(keystream_.data() + 16 * residues++, last.data(), 16);
    }
    if (residues > 0) apply_residues(k, payloads, residues);
  }

  void encrypt(Scrambling parity, Payloads payloads) override {
    auto& k = keys_[slot(parity)];
    for (auto payload : payloads) {
      const std::size_t whole = payload.size() / 16 * 16;
      std::array<std::uint8_t, 16> last_cipher = iv_;
      if (whole > 0) {
        (void)k.cbc_encrypt->run(iv_, payload.first(whole), payload.first(whole));
        std::copy_n(payload.begin() + static_cast<std::ptrdiff_t>(whole - 16), 16, last_cipher.begin());
      }
      apply_residue(k, payload.subspan(whole), last_cipher);
    }
  }

 private:
  struct Keys {
    std::optional<crypto::Aes128> encrypt, decrypt, cbc_encrypt, cbc_decrypt;
    std::array<std::uint8_t, 16> chain{};  // cbc_decrypt's current chaining value
  };

  // block ^= a ^ b, 16 bytes, as two 64-bit words.
  static void xor16(std::uint8_t* block, const std::uint8_t* a, const std::uint8_t* b) {
    for (int w = 0; w < 2; ++w) {
      std::uint64_t x, y, z;
      std::memcpy(&x, block + 8 * w, 8);
      std::memcpy(&y, a + 8 * w, 8);
      std::memcpy(&z, b + 8 * w, 8);
      x ^= y ^ z;
      std::memcpy(block + 8 * w, &x, 8);
    }
  }

  // IDSA residues of a decrypted batch: `blocks` keystream inputs (one per payload with a residue,
  // in order) are already in keystream_; one ECB call turns them into keystream, XORed in here.
  void apply_residues(Keys& k, Payloads payloads, std::size_t blocks) {
    (void)k.encrypt->run({}, ByteView(keystream_).first(16 * blocks), std::span(keystream_).first(16 * blocks));
    std::size_t at = 0;
    for (auto payload : payloads) {
      const std::size_t residue = payload.size() % 16;
      if (residue == 0) continue;
      std::uint8_t* tail = payload.data() + payload.size() - residue;
      const std::uint8_t* stream = keystream_.data() + at;
      std::size_t j = 0;
      if (residue >= 8) {  // full payloads have 8: one 64-bit XOR
        std::uint64_t x, y;
        std::memcpy(&x, tail, 8);
        std::memcpy(&y, stream, 8);
        x ^= y;
        std::memcpy(tail, &x, 8);
        j = 8;
      }
      for (; j < residue; ++j) tail[j] ^= stream[j];
      at += 16;
    }
  }

  // DVB-CISSA leaves the residue in clear. ATIS-IDSA (DVS-042) XORs it with AES(last ciphertext
  // block), or AES(IV) when the payload has no whole block; the same operation both ways.
  void apply_residue(Keys& k, std::span<std::uint8_t> residue, const std::array<std::uint8_t, 16>& last_cipher) {
    if (algorithm_ != Algorithm::idsa || residue.empty()) return;
    std::array<std::uint8_t, 16> stream{};
    (void)k.encrypt->run({}, last_cipher, stream);
    for (std::size_t i = 0; i < residue.size(); ++i) residue[i] ^= stream[i];
  }

  Algorithm algorithm_;
  std::array<std::uint8_t, 16> iv_;
  std::array<Keys, 2> keys_;
  std::vector<std::uint8_t> keystream_;
};

}  // namespace

std::unique_ptr<PayloadCipher> PayloadCipher::create(Algorithm algorithm) {
  if (algorithm == Algorithm::csa2) return std::make_unique<Csa2Cipher>();
  return std::make_unique<AesCbcCipher>(algorithm);
}

}  // namespace dcas::ts
