#include "ts/psi.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "common/byte_reader.h"

namespace dcas::ts {

std::uint32_t crc32_mpeg2(ByteView data) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i << 24;
      for (int k = 0; k < 8; ++k) c = (c & 0x80000000u) ? (c << 1) ^ 0x04c11db7u : c << 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0xffffffffu;
  for (std::uint8_t b : data) crc = (crc << 8) ^ table[((crc >> 24) ^ b) & 0xff];
  return crc;
}

// ---- reassembly ----

SectionAssembler::Output SectionAssembler::feed(ByteView payload, bool unit_start) {
  Output out;
  if (payload.empty()) return out;
  if (unit_start) {
    const std::size_t pointer = payload[0];
    if (pointer + 1 > payload.size()) {
      out.errors.push_back({Errc::ts_bad_section, fmt::format("pointer_field {} beyond the payload", pointer)});
      pending_.clear();
      synced_ = false;
      return out;
    }
    // Bytes before the pointer finish the previous section; a new one starts after them.
    if (synced_) {
      pending_.insert(pending_.end(), payload.begin() + 1, payload.begin() + 1 + static_cast<std::ptrdiff_t>(pointer));
      drain(out);
      if (!pending_.empty()) out.errors.push_back({Errc::ts_bad_section, "section cut short by a new one"});
    }
    pending_.assign(payload.begin() + 1 + static_cast<std::ptrdiff_t>(pointer), payload.end());
    synced_ = true;
  } else if (synced_) {
    pending_.insert(pending_.end(), payload.begin(), payload.end());
  }
  if (synced_) drain(out);
  return out;
}

void SectionAssembler::drain(Output& out) {
  while (!pending_.empty()) {
    if (pending_[0] == 0xff) {  // stuffing: the rest of the packet is padding
      pending_.clear();
      return;
    }
    if (pending_.size() < 3) return;
    const std::size_t length = 3 + (static_cast<std::size_t>(pending_[1] & 0x0f) << 8 | pending_[2]);
    if (length > max_section_size) {
      out.errors.push_back({Errc::ts_bad_section, fmt::format("section_length {} too large", length - 3)});
      pending_.clear();
      synced_ = false;
      return;
    }
    if (pending_.size() < length) return;
    Bytes section(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(length));
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(length));
    const bool syntax = section[1] & 0x80;
    if (syntax && (length < 12 || crc32_mpeg2(section) != 0))
      out.errors.push_back({Errc::ts_bad_crc, fmt::format("table 0x{:02x}: CRC_32 mismatch", section[0])});
    else
      out.sections.push_back(std::move(section));
  }
}

// ---- parsing ----

namespace {

// The long-form header and body of a section: checks table_id, length and CRC; returns the bytes
// between the 8-byte header and the CRC.
Result<std::pair<std::uint16_t, ByteView>> long_section(ByteView s, std::uint8_t table_id, std::string_view name) {
  if (s.size() < 12) return fail(Errc::ts_bad_section, fmt::format("{} shorter than 12 bytes", name));
  if (s[0] != table_id) return fail(Errc::ts_bad_section, fmt::format("{}: table_id 0x{:02x}", name, s[0]));
  const std::size_t length = 3 + (static_cast<std::size_t>(s[1] & 0x0f) << 8 | s[2]);
  if (length != s.size())
    return fail(Errc::ts_bad_section, fmt::format("{}: section_length disagrees with its size", name));
  if (crc32_mpeg2(s) != 0) return fail(Errc::ts_bad_crc, fmt::format("{}: CRC_32 mismatch", name));
  const std::uint16_t extension = static_cast<std::uint16_t>(s[3] << 8 | s[4]);
  return std::pair{extension, s.subspan(8, s.size() - 12)};
}

Result<std::vector<CaDescriptor>> ca_descriptors(ByteView loop) {
  std::vector<CaDescriptor> out;
  ByteReader r(loop);
  while (!r.at_end()) {
    DCAS_TRY_ASSIGN(tag, r.u8());
    DCAS_TRY_ASSIGN(len, r.u8());
    auto body = r.take(len);
    if (!body) return fail(Errc::ts_bad_section, "descriptor runs past its loop");
    if (tag == 0x09) {
      if (len < 4) return fail(Errc::ts_bad_section, "CA_descriptor shorter than 4 bytes");
      const auto& b = *body;
      out.push_back(
          {static_cast<std::uint16_t>(b[0] << 8 | b[1]), static_cast<std::uint16_t>((b[2] & 0x1f) << 8 | b[3])});
    }
  }
  return out;
}

Result<ByteView> loop(ByteReader& r, std::string_view what) {
  DCAS_TRY_ASSIGN(length, r.u16());
  auto body = r.take(length & 0x0fff);
  if (!body) return fail(Errc::ts_bad_section, fmt::format("{} runs past the section", what));
  return *body;
}

}  // namespace

Result<Pat> parse_pat(ByteView s) {
  DCAS_TRY_ASSIGN(body, long_section(s, 0x00, "PAT"));
  if (body.second.size() % 4 != 0) return fail(Errc::ts_bad_section, "PAT entries are 4 bytes each");
  Pat pat{body.first, {}};
  for (std::size_t i = 0; i < body.second.size(); i += 4) {
    const auto* e = body.second.data() + i;
    pat.programs[static_cast<std::uint16_t>(e[0] << 8 | e[1])] = static_cast<std::uint16_t>((e[2] & 0x1f) << 8 | e[3]);
  }
  return pat;
}

Result<Pmt> parse_pmt(ByteView s) {
  DCAS_TRY_ASSIGN(body, long_section(s, 0x02, "PMT"));
  Pmt pmt;
  pmt.program_number = body.first;
  ByteReader r(body.second);
  auto pcr = r.u16();
  if (!pcr) return fail(Errc::ts_bad_section, "PMT too short");
  pmt.pcr_pid = *pcr & 0x1fff;
  DCAS_TRY_ASSIGN(program_info, loop(r, "program_info"));
  DCAS_TRY_ASSIGN(program_ca, ca_descriptors(program_info));
  pmt.ca = program_ca;
  while (!r.at_end()) {
    auto type = r.u8();
    auto pid = r.u16();
    if (!type || !pid) return fail(Errc::ts_bad_section, "PMT stream entry cut short");
    DCAS_TRY_ASSIGN(es_info, loop(r, "ES_info"));
    DCAS_TRY_ASSIGN(es_ca, ca_descriptors(es_info));
    pmt.streams.push_back({*type, static_cast<std::uint16_t>(*pid & 0x1fff), es_ca});
  }
  return pmt;
}

Result<Cat> parse_cat(ByteView s) {
  DCAS_TRY_ASSIGN(body, long_section(s, 0x01, "CAT"));
  DCAS_TRY_ASSIGN(ca, ca_descriptors(body.second));
  return Cat{ca};
}

// ---- building ----

namespace {

Bytes finish_section(std::uint8_t table_id, std::uint16_t extension, const Bytes& body) {
  ByteWriter w;
  w.u8(table_id);
  w.u16(static_cast<std::uint16_t>(0xb000 | (body.size() + 9)));  // syntax=1, '0', reserved, length
  w.u16(extension);
  w.u8(0xc1);  // reserved, version 0, current_next 1
  w.u8(0);     // section_number
  w.u8(0);     // last_section_number
  w.bytes(body);
  w.u32(crc32_mpeg2(w.data()));
  return w.take();
}

void put_ca(ByteWriter& w, const std::vector<CaDescriptor>& ca) {
  for (const auto& d : ca) {
    w.u8(0x09);
    w.u8(4);
    w.u16(d.ca_system_id);
    w.u16(static_cast<std::uint16_t>(0xe000 | d.ca_pid));
  }
}

}  // namespace

Bytes build_pat(const Pat& pat) {
  ByteWriter w;
  for (auto [number, pid] : pat.programs) {
    w.u16(number);
    w.u16(static_cast<std::uint16_t>(0xe000 | pid));
  }
  return finish_section(0x00, pat.transport_stream_id, w.take());
}

Bytes build_pmt(const Pmt& pmt) {
  ByteWriter w;
  w.u16(static_cast<std::uint16_t>(0xe000 | pmt.pcr_pid));
  ByteWriter info;
  put_ca(info, pmt.ca);
  w.u16(static_cast<std::uint16_t>(0xf000 | info.size()));
  w.bytes(info.data());
  for (const auto& s : pmt.streams) {
    w.u8(s.stream_type);
    w.u16(static_cast<std::uint16_t>(0xe000 | s.pid));
    ByteWriter es;
    put_ca(es, s.ca);
    w.u16(static_cast<std::uint16_t>(0xf000 | es.size()));
    w.bytes(es.data());
  }
  return finish_section(0x02, pmt.program_number, w.take());
}

Bytes build_cat(const Cat& cat) {
  ByteWriter w;
  put_ca(w, cat.ca);
  return finish_section(0x01, 0xffff, w.take());
}

Bytes build_private_section(std::uint8_t table_id, ByteView payload) {
  ByteWriter w;
  w.u8(table_id);
  w.u16(static_cast<std::uint16_t>(0x7000 | (payload.size() & 0x0fff)));  // syntax 0, private 1, reserved
  w.bytes(payload);
  return w.take();
}

Result<PrivateSection> parse_private_section(ByteView section) {
  if (section.size() < 3) return fail(Errc::ts_bad_section, "private section shorter than its header");
  if (section[1] & 0x80) return fail(Errc::ts_bad_section, "a CAS section uses the short syntax");
  const std::size_t length = (section[1] & 0x0f) << 8 | section[2];
  if (length != section.size() - 3) return fail(Errc::ts_bad_section, "private section length mismatch");
  return PrivateSection{section[0], section.subspan(3)};
}

std::vector<std::array<std::uint8_t, packet_size>> packetize(ByteView section, std::uint16_t pid, std::uint8_t& cc) {
  std::vector<std::array<std::uint8_t, packet_size>> packets;
  std::size_t done = 0;
  while (done < section.size() || packets.empty()) {
    std::array<std::uint8_t, packet_size> p;
    p.fill(0xff);
    const bool first = packets.empty();
    p[0] = sync_byte;
    p[1] = static_cast<std::uint8_t>((first ? 0x40 : 0) | (pid >> 8));
    p[2] = static_cast<std::uint8_t>(pid);
    p[3] = static_cast<std::uint8_t>(0x10 | (cc++ & 0x0f));
    std::size_t at = 4;
    if (first) p[at++] = 0;  // pointer_field
    const std::size_t n = std::min(packet_size - at, section.size() - done);
    std::copy_n(section.begin() + static_cast<std::ptrdiff_t>(done), n, p.begin() + static_cast<std::ptrdiff_t>(at));
    done += n;
    packets.push_back(p);
  }
  return packets;
}

}  // namespace dcas::ts
