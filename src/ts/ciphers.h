// The TS payload ciphers: DVB-CSA2 (ETSI ETR 289, on Debian's libdvbcsa), DVB-CISSA (ETSI TS 103
// 127) and ATIS-IDSA (ATIS-0800006, with the DVS-042 / ANSI-SCTE 52 residue handling), the last
// two on OpenSSL AES-128.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "common/bytes.h"
#include "ts/packet.h"

namespace dcas::ts {

enum class Algorithm { csa2, cissa, idsa };
std::string_view algorithm_name(Algorithm a);  // "csa2", "cissa", "idsa"
std::optional<Algorithm> algorithm_from_name(std::string_view name);
std::size_t cw_size(Algorithm a);  // 8 for DVB-CSA2, 16 for the AES-based ones

using Payloads = std::span<const std::span<std::uint8_t>>;

// One key per parity; transforms many payloads in place per call, so that the bit-sliced CSA2
// implementation can process a whole batch at once.
class PayloadCipher {
 public:
  virtual ~PayloadCipher() = default;
  // Errors: bad_length (CW of the wrong size), crypto_failure.
  virtual Result<void> set_key(Scrambling parity, ByteView cw) = 0;
  virtual bool has_key(Scrambling parity) const = 0;
  virtual void decrypt(Scrambling parity, Payloads payloads) = 0;
  virtual void encrypt(Scrambling parity, Payloads payloads) = 0;
  // How many payloads one call handles best (the CSA2 batch size; 1 for AES).
  virtual std::size_t preferred_batch() const = 0;

  static std::unique_ptr<PayloadCipher> create(Algorithm algorithm);
};

}  // namespace dcas::ts
