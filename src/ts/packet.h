// MPEG-2 transport stream packets (ISO/IEC 13818-1 §2.4.3): parsing the 4-byte header and the
// adaptation field, bounds-checked, over one 188-byte packet.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "common/bytes.h"
#include "common/error.h"

namespace dcas::ts {

inline constexpr std::size_t packet_size = 188;
inline constexpr std::uint8_t sync_byte = 0x47;
inline constexpr std::uint16_t null_pid = 0x1fff;

// transport_scrambling_control (2 bits): 00 clear, 10 even key, 11 odd key (01 reserved).
enum class Scrambling : std::uint8_t { clear = 0, reserved = 1, even = 2, odd = 3 };

struct PacketInfo {
  std::uint16_t pid = 0;
  bool transport_error = false;
  bool payload_unit_start = false;
  Scrambling scrambling = Scrambling::clear;
  bool has_adaptation_field = false;
  bool has_payload = false;
  std::uint8_t continuity_counter = 0;
  std::size_t payload_offset = packet_size;  // first payload byte (packet_size when there is none)

  std::size_t payload_size() const { return packet_size - payload_offset; }
};

// Parses one packet. Errors: ts_truncated_packet (not 188 bytes), ts_sync_lost (first byte is not
// 0x47), ts_bad_adaptation_field (adaptation_field_length beyond the packet, or 183 with a payload).
Result<PacketInfo> parse_packet(ByteView packet);

// The same checks without an error message, for the per-packet hot paths; nullopt where
// parse_packet() fails (call it then for the error).
inline std::optional<PacketInfo> parse_packet_fast(const std::uint8_t* p) {
  if (p[0] != sync_byte) return std::nullopt;
  PacketInfo info;
  info.transport_error = p[1] & 0x80;
  info.payload_unit_start = p[1] & 0x40;
  info.pid = static_cast<std::uint16_t>((p[1] & 0x1f) << 8 | p[2]);
  info.scrambling = static_cast<Scrambling>(p[3] >> 6);
  info.has_adaptation_field = p[3] & 0x20;
  info.has_payload = p[3] & 0x10;
  info.continuity_counter = p[3] & 0x0f;
  std::size_t offset = 4;
  if (info.has_adaptation_field) {
    if (p[4] > (info.has_payload ? 182 : 183)) return std::nullopt;
    offset += 1 + p[4];
  }
  info.payload_offset = info.has_payload ? offset : packet_size;
  return info;
}

// Rewrites the two transport_scrambling_control bits of a packet.
inline void set_scrambling(std::span<std::uint8_t> packet, Scrambling s) {
  packet[3] = static_cast<std::uint8_t>((packet[3] & 0x3f) | (static_cast<std::uint8_t>(s) << 6));
}

}  // namespace dcas::ts
