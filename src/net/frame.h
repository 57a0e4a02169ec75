// The link framing that carries the spec's messages over TCP (docs/spec.md, "Transport"):
//
//   u32 length (of everything after it) | u8 kind | u64 stream | payload
//
// I/O-free: the socket adapters (net/channel.h) read the fixed header, check it here, then read
// the payload. Every limit is checked before a byte of payload is accepted.
#pragma once

#include <array>
#include <cstdint>

#include "common/bytes.h"
#include "common/error.h"

namespace dcas::net {

enum class FrameKind : std::uint8_t {
  message = 0x01,      // payload: one wire message (docs/spec.md, "Wire format")
  hello = 0x02,        // AP -> TA, first frame of a link: the AP's certificate (DER)
  welcome = 0x03,      // TA -> AP: the AP is admitted; empty payload
  ping = 0x04,         // keeps an idle link alive; empty payload, never answered
  ack = 0x05,          // TA -> AP: the HostPresence report sent on `stream` is recorded; empty payload
  crl_request = 0x06,  // AP -> TA: send the current CRL; empty payload
  crl = 0x07,          // TA -> AP: the current CRL (DER), empty when none was issued (spec §18)
  error = 0x7f,        // u16 error code | UTF-8 detail: the request on `stream` (0: the link) failed
};
std::string_view frame_kind_name(FrameKind kind);

inline constexpr std::size_t frame_header_size = 13;       // length + kind + stream
inline constexpr std::size_t default_max_payload = 65536;  // far above any koo2010 message (< 4 KiB)
inline constexpr std::size_t max_error_detail = 512;

struct Frame {
  FrameKind kind = FrameKind::message;
  std::uint64_t stream = 0;  // the AP's session for a host's request on the AP-TA link; 0 otherwise
  Bytes payload;
};

struct FrameHeader {
  FrameKind kind;
  std::uint64_t stream;
  std::size_t payload_size;
};

Bytes encode_frame(const Frame& frame);
// Errors: net_frame_too_large (payload over `max_payload`), net_bad_frame (length below the
// header's 9 bytes, or an unknown kind).
Result<FrameHeader> parse_frame_header(std::span<const std::uint8_t, frame_header_size> header,
                                       std::size_t max_payload);

Frame error_frame(const Error& error, std::uint64_t stream = 0);
// The error an error frame carries. Errors: net_bad_frame (shorter than its code).
Result<Error> parse_error_payload(ByteView payload);

}  // namespace dcas::net
