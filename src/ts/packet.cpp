#include "ts/packet.h"

#include <fmt/format.h>

namespace dcas::ts {

Result<PacketInfo> parse_packet(ByteView p) {
  if (p.size() != packet_size) return fail(Errc::ts_truncated_packet, fmt::format("{} bytes, not 188", p.size()));
  if (p[0] != sync_byte) return fail(Errc::ts_sync_lost, fmt::format("sync byte is 0x{:02x}", p[0]));
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
    const std::size_t length = p[4];
    // With a payload the field leaves at least one payload byte (0..182); without one it fills the
    // packet (183) (ISO/IEC 13818-1 §2.4.3.5).
    const std::size_t max_length = info.has_payload ? 182 : 183;
    if (length > max_length)
      return fail(Errc::ts_bad_adaptation_field,
                  fmt::format("adaptation_field_length {} exceeds {}", length, max_length));
    offset += 1 + length;
  }
  info.payload_offset = info.has_payload ? offset : packet_size;
  return info;
}

}  // namespace dcas::ts
