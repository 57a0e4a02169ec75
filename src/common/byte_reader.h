// The one bounds-checked reader and writer every wire decoder and encoder goes through.
// A ByteReader never reads past its span: each getter fails with wire_truncated on short input and
// advances only on success (the BoringSSL CBS idiom); callers finish with expect_end().
#pragma once

#include <cstdint>
#include <span>

#include "common/bytes.h"
#include "common/error.h"

namespace dcas {

class ByteReader {
 public:
  explicit ByteReader(ByteView data) : data_(data) {}

  Result<std::uint8_t> u8() {
    DCAS_TRY_ASSIGN(b, take(1));
    return b[0];
  }
  Result<std::uint16_t> u16() {
    DCAS_TRY_ASSIGN(b, take(2));
    return static_cast<std::uint16_t>(b[0] << 8 | b[1]);
  }
  Result<std::uint32_t> u32() {
    DCAS_TRY_ASSIGN(b, take(4));
    return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
  }
  Result<std::uint64_t> u64() {
    DCAS_TRY_ASSIGN(hi, u32());
    DCAS_TRY_ASSIGN(lo, u32());
    return std::uint64_t{hi} << 32 | lo;
  }
  // The next n bytes, as a view into the input. Errors: wire_truncated.
  Result<ByteView> take(std::size_t n) {
    if (n > remaining()) return fail(Errc::wire_truncated, "input ends inside a field");
    ByteView out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  // Errors: wire_trailing_bytes.
  Result<void> expect_end() const {
    if (remaining() != 0) return fail(Errc::wire_trailing_bytes, "bytes left after the message");
    return {};
  }

  std::size_t remaining() const { return data_.size() - pos_; }
  std::size_t position() const { return pos_; }
  bool at_end() const { return remaining() == 0; }

 private:
  ByteView data_;
  std::size_t pos_ = 0;
};

class ByteWriter {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) {
    u8(static_cast<std::uint8_t>(v >> 8));
    u8(static_cast<std::uint8_t>(v));
  }
  void u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v >> 16));
    u16(static_cast<std::uint16_t>(v));
  }
  void u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v >> 32));
    u32(static_cast<std::uint32_t>(v));
  }
  void bytes(ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }
  // Overwrites 4 bytes at `offset` (a length reserved earlier).
  void patch_u32(std::size_t offset, std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
      out_[offset + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
  }

  std::size_t size() const { return out_.size(); }
  const Bytes& data() const { return out_; }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
};

}  // namespace dcas
