// SHA-256 (the paper's H), SHA-1, and HMAC-SHA1 (the paper's HMAC).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>

#include "common/bytes.h"

namespace dcas::crypto {

using Sha256Digest = std::array<std::uint8_t, 32>;
using Sha1Digest = std::array<std::uint8_t, 20>;

// H(m). For H(a || b || c) pass the parts; nothing is copied into an intermediate buffer, so
// secrets in the parts do not leave their zeroizing containers.
Sha256Digest sha256(ByteView data);
Sha256Digest sha256(std::initializer_list<ByteView> parts);
Sha1Digest sha1(ByteView data);

// HMAC-SHA1 (RFC 2104). Any key length.
Sha1Digest hmac_sha1(ByteView key, ByteView data);

// A keyed HMAC-SHA1 context for many messages under one key (the control-word channel): the key
// is set once; each mac() re-initialises from the stored key without allocating. One owner at a
// time (not for concurrent use).
class HmacSha1 {
 public:
  static Result<HmacSha1> create(ByteView key);
  Result<Sha1Digest> mac(std::initializer_list<ByteView> parts);

  HmacSha1(HmacSha1&&) noexcept;
  HmacSha1& operator=(HmacSha1&&) noexcept;
  ~HmacSha1();

 private:
  struct State;
  explicit HmacSha1(std::unique_ptr<State> s);
  std::unique_ptr<State> state_;
};

// MGF1 (RFC 8017 B.2.1) with SHA-256, XORed into `inout` (the only way OAEP and PSS use it).
void mgf1_sha256_xor(ByteView seed, std::span<std::uint8_t> inout);

}  // namespace dcas::crypto
