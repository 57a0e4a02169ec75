#include "crypto/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>

#include "crypto/aes.h"
#include "crypto/hash.h"
#include "crypto/ossl.h"

namespace dcas::crypto {

Result<SecureBytes> RandomSource::bytes(std::size_t n) {
  SecureBytes out(n);
  if (auto r = fill(out); !r) return std::unexpected(r.error());
  return out;
}

Result<void> SystemRandom::fill(std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t chunk = std::min<std::size_t>(out.size() - done, INT_MAX);
    if (RAND_bytes(out.data() + done, static_cast<int>(chunk)) != 1)
      return ossl::fail_ossl(Errc::random_failure, "RAND_bytes failed");
    done += chunk;
  }
  return {};
}

SeededRandom::SeededRandom(ByteView seed) {
  const auto digest = sha256(seed);
  key_.assign(digest.begin(), digest.begin() + 16);
}

Result<void> SeededRandom::fill(std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    if (buffered_.empty()) {
      std::array<std::uint8_t, 16> counter{};
      for (int i = 0; i < 8; ++i) counter[15 - i] = static_cast<std::uint8_t>(block_counter_ >> (8 * i));
      ++block_counter_;
      auto block = aes128_ecb_encrypt_block(view(key_), counter);
      if (!block) return fail(Errc::random_failure, "seeded stream: " + block.error().detail);
      buffered_.assign(block->begin(), block->end());
    }
    const std::size_t take = std::min(buffered_.size(), out.size() - done);
    std::copy_n(buffered_.begin(), take, out.begin() + static_cast<std::ptrdiff_t>(done));
    buffered_.erase(buffered_.begin(), buffered_.begin() + static_cast<std::ptrdiff_t>(take));
    done += take;
  }
  return {};
}

RandomSource& system_random() {
  static SystemRandom instance;
  return instance;
}

}  // namespace dcas::crypto
