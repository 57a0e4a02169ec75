#include "ts/packet.h"

#include <fmt/format.h>

namespace dcas::ts {

Result<PacketInfo> parse_packet(ByteView p) {
  if (p.size() != packet_size) return fail(Errc::ts_truncated_packet, fmt::format("{} bytes, not 188", p.size()));
  if (p[0] != sync_byte) return fail(Errc::ts_sync_lost, fmt::format("sync byte is 0x{:02x}", p[0]));
  if (auto info = parse_packet_fast(p.data())) return *info;
  const bool payload = p[3] & 0x10;
  return fail(Errc::ts_bad_adaptation_field,
              fmt::format("adaptation_field_length {} exceeds {}", p[4], payload ? 182 : 183));
}

}  // namespace dcas::ts
