#include "net/frame.h"

#include <fmt/format.h>

#include "common/byte_reader.h"

namespace dcas::net {

std::string_view frame_kind_name(FrameKind kind) {
  switch (kind) {
    case FrameKind::message: return "message";
    case FrameKind::hello: return "hello";
    case FrameKind::welcome: return "welcome";
    case FrameKind::ping: return "ping";
    case FrameKind::ack: return "ack";
    case FrameKind::crl_request: return "crl_request";
    case FrameKind::crl: return "crl";
    case FrameKind::error: return "error";
  }
  return "unknown";
}

namespace {
constexpr std::size_t length_covers = frame_header_size - 4;  // kind + stream

bool known_kind(std::uint8_t k) { return (k >= 0x01 && k <= 0x07) || k == 0x7f; }
}  // namespace

Bytes encode_frame(const Frame& frame) {
  ByteWriter w;
  w.u32(static_cast<std::uint32_t>(length_covers + frame.payload.size()));
  w.u8(static_cast<std::uint8_t>(frame.kind));
  w.u64(frame.stream);
  w.bytes(frame.payload);
  return std::move(w).take();
}

Result<FrameHeader> parse_frame_header(std::span<const std::uint8_t, frame_header_size> header,
                                       std::size_t max_payload) {
  ByteReader r(header);
  DCAS_TRY_ASSIGN(length, r.u32());
  DCAS_TRY_ASSIGN(kind, r.u8());
  DCAS_TRY_ASSIGN(stream, r.u64());
  if (length < length_covers) return fail(Errc::net_bad_frame, fmt::format("frame length {} below 9", length));
  const std::size_t payload = length - length_covers;
  if (payload > max_payload)
    return fail(Errc::net_frame_too_large, fmt::format("frame payload {} over the cap of {}", payload, max_payload));
  if (!known_kind(kind)) return fail(Errc::net_bad_frame, fmt::format("unknown frame kind 0x{:02x}", kind));
  return FrameHeader{static_cast<FrameKind>(kind), stream, payload};
}

Frame error_frame(const Error& error, std::uint64_t stream) {
  ByteWriter w;
  w.u16(static_cast<std::uint16_t>(error.code));
  std::string detail = error.detail;
  if (detail.size() > max_error_detail) detail.resize(max_error_detail);
  w.bytes(ByteView(reinterpret_cast<const std::uint8_t*>(detail.data()), detail.size()));
  return {FrameKind::error, stream, std::move(w).take()};
}

Result<Error> parse_error_payload(ByteView payload) {
  ByteReader r(payload);
  auto code = r.u16();
  if (!code) return fail(Errc::net_bad_frame, "error frame shorter than its code");
  const auto rest = r.take(r.remaining()).value();
  return Error{static_cast<Errc>(*code), std::string(rest.begin(), rest.end())};
}

}  // namespace dcas::net
