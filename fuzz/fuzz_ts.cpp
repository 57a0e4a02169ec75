// libFuzzer target: the transport-stream framer, packet parser, section reassembly, PSI parsers
// and the descrambler on arbitrary bytes. Nothing may crash, hang or read out of bounds.
#include <cstdint>

#include "ts/stream.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dcas;
  static ts::Descrambler descrambler = [] {
    ts::Descrambler d(ts::Algorithm::idsa);
    (void)d.set_key(ts::Scrambling::even, Bytes(16, 1));
    return d;
  }();
  ts::PacketFramer framer;
  Bytes packets;
  std::vector<std::uint64_t> offsets;
  std::vector<ts::StreamError> errors;
  // Two chunks, so that packets and sections straddle feed() calls.
  const std::size_t half = size / 2;
  framer.feed(ByteView(data, half), packets, offsets, errors);
  framer.feed(ByteView(data + half, size - half), packets, offsets, errors);
  framer.finish(errors);

  std::map<std::uint16_t, ts::SectionAssembler> assemblers;
  for (std::size_t at = 0; at + ts::packet_size <= packets.size(); at += ts::packet_size) {
    auto info = ts::parse_packet(ByteView(packets).subspan(at, ts::packet_size));
    if (!info || !info->has_payload) continue;
    auto out = assemblers[info->pid].feed(ByteView(packets).subspan(at + info->payload_offset, info->payload_size()),
                                          info->payload_unit_start);
    for (const auto& section : out.sections) {
      (void)ts::parse_pat(section);
      (void)ts::parse_pmt(section);
      (void)ts::parse_cat(section);
      (void)ts::parse_private_section(section);
    }
  }
  ts::StreamStats stats;
  descrambler.process(packets, offsets, stats, errors);
  return 0;
}
