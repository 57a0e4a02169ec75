#include "ts/compare.h"

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <map>
#include <vector>

#include "common/files.h"
#include "ts/psi.h"
#include "ts/stream.h"

namespace dcas::ts {

namespace {

// Packets by PID, in order (views into `data`).
std::map<std::uint16_t, std::vector<ByteView>> by_pid(const Bytes& data) {
  std::map<std::uint16_t, std::vector<ByteView>> out;
  for (std::size_t at = 0; at + packet_size <= data.size(); at += packet_size) {
    const ByteView p(data.data() + at, packet_size);
    if (p[0] != sync_byte) continue;
    out[static_cast<std::uint16_t>((p[1] & 0x1f) << 8 | p[2])].push_back(p);
  }
  return out;
}

std::set<std::uint16_t> elementary_pids(const std::map<std::uint16_t, std::vector<ByteView>>& packets) {
  std::set<std::uint16_t> pmt_pids, es;
  auto sections_of = [&](std::uint16_t pid, auto&& use) {
    auto it = packets.find(pid);
    if (it == packets.end()) return;
    SectionAssembler assembler;
    for (auto p : it->second) {
      auto info = parse_packet(p);
      if (!info || !info->has_payload) continue;
      for (const auto& s : assembler.feed(p.subspan(info->payload_offset), info->payload_unit_start).sections) use(s);
    }
  };
  sections_of(pat_pid, [&](const Bytes& s) {
    if (auto pat = parse_pat(s))
      for (auto [number, pid] : pat->programs)
        if (number != 0) pmt_pids.insert(pid);
  });
  for (auto pmt_pid : pmt_pids)
    sections_of(pmt_pid, [&](const Bytes& s) {
      if (auto pmt = parse_pmt(s))
        for (const auto& stream : pmt->streams) es.insert(stream.pid);
    });
  return es;
}

}  // namespace

Result<ProgrammeComparison> compare_programme(const std::filesystem::path& source,
                                              const std::filesystem::path& output) {
  DCAS_TRY_ASSIGN(source_bytes, read_binary_file(source));
  DCAS_TRY_ASSIGN(output_bytes, read_binary_file(output));
  const auto src = by_pid(source_bytes), out = by_pid(output_bytes);
  for (const auto& [packets, path] : {std::pair{&src, &source}, std::pair{&out, &output}})
    if (packets->empty()) return std::unexpected(not_a_transport_stream(path->string()));
  ProgrammeComparison c;
  c.elementary_pids = elementary_pids(src);
  if (c.elementary_pids.empty()) return fail(Errc::ts_no_elementary_stream, "the source names no elementary stream");
  c.identical = true;
  for (auto pid : c.elementary_pids) {
    static const std::vector<ByteView> none;
    const auto& a = src.contains(pid) ? src.at(pid) : none;
    const auto& b = out.contains(pid) ? out.at(pid) : none;
    c.source_packets += a.size();
    for (std::size_t i = 0; i < a.size(); ++i) {
      const bool same = i < b.size() && std::equal(a[i].begin(), a[i].end(), b[i].begin());
      c.matching_packets += same;
      if (!same && c.first_difference.empty())
        c.first_difference = fmt::format("PID 0x{:04x}, packet {} of {}", pid, i + 1, a.size());
    }
    if (a.size() != b.size() && c.first_difference.empty())
      c.first_difference =
          fmt::format("PID 0x{:04x}: {} packets in the source, {} in the output", pid, a.size(), b.size());
  }
  c.identical = c.first_difference.empty();
  return c;
}

}  // namespace dcas::ts
