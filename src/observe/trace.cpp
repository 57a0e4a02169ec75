#include "observe/trace.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>

#include "common/byte_reader.h"
#include "observe/journal.h"

namespace dcas::observe {
namespace {

constexpr std::uint32_t section_header_block = 0x0A0D0D0A;
constexpr std::uint32_t interface_description_block = 1;
constexpr std::uint32_t enhanced_packet_block = 6;
constexpr std::uint32_t byte_order_magic = 0x1A2B3C4D;
constexpr std::uint16_t linktype_upper_pdu = 252;  // LINKTYPE_WIRESHARK_UPPER_PDU
constexpr std::uint16_t opt_end = 0, opt_if_name = 2, opt_if_description = 3, opt_if_tsresol = 9, opt_epb_flags = 2,
                        opt_shb_userappl = 4;

// Exported-PDU tags (Wireshark's wsutil/exported_pdu_tlvs.h).
constexpr std::uint16_t tag_end = 0, tag_dissector_name = 12, tag_ipv4_src = 20, tag_ipv4_dst = 21, tag_ipv6_src = 22,
                        tag_ipv6_dst = 23, tag_port_type = 24, tag_src_port = 25, tag_dst_port = 26;
constexpr std::uint32_t port_type_tcp = 2;
constexpr std::string_view dissector_name = "dcas_trace";
constexpr std::uint8_t record_version = 1;

std::size_t padded(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

// pcapng is written in the writer's byte order, announced by the magic; DCAS always writes
// little-endian, so the file is the same on every machine. (ByteWriter is big-endian.)
struct LittleEndian {
  Bytes out;
  void u16(std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
  }
  void u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v));
    u16(static_cast<std::uint16_t>(v >> 16));
  }
  void bytes(ByteView b) {
    out.insert(out.end(), b.begin(), b.end());
    out.resize(padded(out.size()), 0);
  }
  void option(std::uint16_t code, ByteView value) {
    u16(code);
    u16(static_cast<std::uint16_t>(value.size()));
    bytes(value);
  }
  void option(std::uint16_t code, std::string_view text) {
    option(code, ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }
};

Bytes block(std::uint32_t type, const Bytes& body) {
  LittleEndian b;
  const auto total = static_cast<std::uint32_t>(body.size() + 12);
  b.u32(type);
  b.u32(total);
  b.out.insert(b.out.end(), body.begin(), body.end());
  b.u32(total);
  return b.out;
}

Bytes section_header() {
  LittleEndian b;
  b.u32(byte_order_magic);
  b.u16(1);  // major version
  b.u16(0);
  b.u32(0xFFFFFFFF);  // section length: not given (two halves of -1)
  b.u32(0xFFFFFFFF);
  b.option(opt_shb_userappl, std::string_view("dcas"));
  b.u16(opt_end);
  b.u16(0);
  return block(section_header_block, b.out);
}

Bytes interface_description(const TraceRecord& record) {
  LittleEndian b;
  b.u16(linktype_upper_pdu);
  b.u16(0);
  b.u32(0);  // snaplen: no limit
  b.option(opt_if_name, link_name(record.link));
  b.option(opt_if_description, record.recorder);
  b.u16(opt_end);
  b.u16(0);
  return block(interface_description_block, b.out);
}

std::uint64_t micros_since_epoch(std::chrono::system_clock::time_point t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

Bytes enhanced_packet(std::uint32_t interface, const TraceRecord& record) {
  const Bytes pdu = encode_pdu(record);
  const std::uint64_t ts = micros_since_epoch(record.at);
  LittleEndian b;
  b.u32(interface);
  b.u32(static_cast<std::uint32_t>(ts >> 32));
  b.u32(static_cast<std::uint32_t>(ts));
  b.u32(static_cast<std::uint32_t>(pdu.size()));
  b.u32(static_cast<std::uint32_t>(pdu.size()));
  b.bytes(pdu);
  if (record.direction != Direction::unknown) {
    LittleEndian flags;
    flags.u32(static_cast<std::uint32_t>(record.direction));
    b.option(opt_epb_flags, flags.out);
  }
  b.u16(opt_end);
  b.u16(0);
  return block(enhanced_packet_block, b.out);
}

void tlv(ByteWriter& w, std::uint16_t tag, ByteView value) {
  w.u16(tag);
  w.u16(static_cast<std::uint16_t>(value.size()));
  w.bytes(value);
}
Bytes u32_be(std::uint32_t v) {
  ByteWriter w;
  w.u32(v);
  return w.data();
}

// A bounds-checked little-endian view of one pcapng block's body.
struct LittleReader {
  ByteView data;
  std::size_t pos = 0;
  bool has(std::size_t n) const { return n <= data.size() - pos; }
  std::uint16_t u16() {
    const auto v = static_cast<std::uint16_t>(data[pos] | data[pos + 1] << 8);
    pos += 2;
    return v;
  }
  std::uint32_t u32() {
    const std::uint32_t lo = u16();
    return lo | std::uint32_t{u16()} << 16;
  }
};

struct Option {
  std::uint16_t code;
  ByteView value;
};
// The options from `r`'s position to the end of the block (an option cut short ends the list).
std::vector<Option> options(LittleReader r) {
  std::vector<Option> out;
  while (r.has(4)) {
    const std::uint16_t code = r.u16(), length = r.u16();
    if (code == opt_end || !r.has(padded(length))) break;
    out.push_back({code, r.data.subspan(r.pos, length)});
    r.pos += padded(length);
  }
  return out;
}
std::string text(ByteView v) { return std::string(v.begin(), v.end()); }

struct Interface {
  std::uint16_t linktype = 0;
  std::string name, description;
  std::uint64_t ticks_per_second = 1'000'000;
};

Interface parse_interface(LittleReader r) {
  Interface i;
  if (!r.has(8)) return i;
  i.linktype = r.u16();
  r.pos += 6;
  for (const auto& o : options(r)) {
    if (o.code == opt_if_name) i.name = text(o.value);
    if (o.code == opt_if_description) i.description = text(o.value);
    if (o.code == opt_if_tsresol && o.value.size() == 1) {
      const std::uint8_t r8 = o.value[0];
      std::uint64_t ticks = 1;
      const unsigned exponent = r8 & 0x7f;
      if (exponent > 18) continue;  // finer than attoseconds: not a resolution a writer uses
      for (unsigned k = 0; k < exponent; ++k) ticks *= (r8 & 0x80) ? 2 : 10;
      i.ticks_per_second = ticks;
    }
  }
  return i;
}

}  // namespace

std::string_view link_name(Link link) {
  switch (link) {
    case Link::host_ap: return "host-ap";
    case Link::ap_ta: return "ap-ta";
    case Link::sm_tp_bus: return "sm-tp-bus";
    case Link::broadcast: return "broadcast";
    case Link::events: return "events";
  }
  return "unknown";
}

std::string_view party_label(Party party) {
  switch (party) {
    case Party::ta: return "TA";
    case Party::sm: return "SM";
    case Party::tp: return "TP";
    case Party::ap: return "AP";
    case Party::cas: return "CAS";
  }
  return "?";
}

Bytes encode_pdu(const TraceRecord& record) {
  ByteWriter w;
  Bytes name(dissector_name.begin(), dissector_name.end());
  name.resize(padded(name.size()), 0);  // trailing NULs are allowed and keep the TLVs aligned
  tlv(w, tag_dissector_name, name);
  if (record.source && record.destination) {
    const bool v6 = record.source->address.size() == 16;
    tlv(w, v6 ? tag_ipv6_src : tag_ipv4_src, record.source->address);
    tlv(w, v6 ? tag_ipv6_dst : tag_ipv4_dst, record.destination->address);
    tlv(w, tag_port_type, u32_be(port_type_tcp));
    tlv(w, tag_src_port, u32_be(record.source->port));
    tlv(w, tag_dst_port, u32_be(record.destination->port));
  }
  tlv(w, tag_end, {});
  w.u8(record_version);
  w.u8(static_cast<std::uint8_t>(record.link));
  w.u8(static_cast<std::uint8_t>(record.from));
  w.u8(static_cast<std::uint8_t>(record.to));
  w.bytes(record.bytes);
  return w.data();
}

Result<TraceRecord> decode_pdu(ByteView pdu) {
  ByteReader r(pdu);
  TraceRecord record;
  bool ours = false;
  Endpoint source, destination;
  for (;;) {
    auto tag = r.u16();
    auto length = r.u16();
    if (!tag || !length) return fail(Errc::trace_invalid, "exported PDU: its tags run past the record");
    auto value = r.take(*length);
    if (!value) return fail(Errc::trace_invalid, "exported PDU: a tag's value runs past the record");
    if (*tag == tag_end) break;
    if (*tag == tag_dissector_name) {
      std::string name = text(*value);
      name.erase(std::find(name.begin(), name.end(), '\0'), name.end());
      ours = name == dissector_name;
    }
    const auto port = [&] {
      return static_cast<std::uint16_t>(value->size() == 4 ? (*value)[2] << 8 | (*value)[3] : 0);
    };
    if (*tag == tag_ipv4_src || *tag == tag_ipv6_src) source.address.assign(value->begin(), value->end());
    if (*tag == tag_ipv4_dst || *tag == tag_ipv6_dst) destination.address.assign(value->begin(), value->end());
    if (*tag == tag_src_port) source.port = port();
    if (*tag == tag_dst_port) destination.port = port();
  }
  if (!ours) return fail(Errc::trace_invalid, "exported PDU: not one for the dcas_trace dissector");
  auto version = r.u8();
  auto link = r.u8();
  auto from = r.u8();
  auto to = r.u8();
  if (!to) return fail(Errc::trace_invalid, "dcas_trace record: shorter than its 4-byte header");
  if (*version != record_version)
    return fail(Errc::trace_invalid, fmt::format("dcas_trace record: version {} is not 1", *version));
  if (*link < 1 || *link > 5 || *from > 4 || *to > 4)
    return fail(Errc::trace_invalid, "dcas_trace record: unknown link or party");
  record.link = static_cast<Link>(*link);
  record.from = static_cast<Party>(*from);
  record.to = static_cast<Party>(*to);
  if (!source.address.empty() && !destination.address.empty()) {
    record.source = std::move(source);
    record.destination = std::move(destination);
  }
  auto rest = r.take(r.remaining());
  record.bytes.assign(rest->begin(), rest->end());
  return record;
}

Result<std::shared_ptr<TraceWriter>> TraceWriter::open(const std::filesystem::path& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return fail(Errc::io_error, fmt::format("cannot create {}", path.string()));
  ::chmod(path.c_str(), 0600);
  auto writer = std::make_shared<TraceWriter>(std::move(out));
  return writer;
}

TraceWriter::TraceWriter(std::ofstream out) : out_(std::move(out)) {
  const Bytes shb = section_header();
  out_.write(reinterpret_cast<const char*>(shb.data()), static_cast<std::streamsize>(shb.size()));
  out_.flush();
}

std::uint32_t TraceWriter::interface_for(const TraceRecord& record) {
  const auto key = std::make_pair(record.recorder, record.link);
  if (auto it = interfaces_.find(key); it != interfaces_.end()) return it->second;
  const Bytes idb = interface_description(record);
  out_.write(reinterpret_cast<const char*>(idb.data()), static_cast<std::streamsize>(idb.size()));
  const auto id = static_cast<std::uint32_t>(interfaces_.size());
  interfaces_.emplace(key, id);
  return id;
}

void TraceWriter::write(const TraceRecord& record) {
  const std::lock_guard lock(mutex_);
  const std::uint32_t interface = interface_for(record);
  const Bytes epb = enhanced_packet(interface, record);
  out_.write(reinterpret_cast<const char*>(epb.data()), static_cast<std::streamsize>(epb.size()));
  out_.flush();
}

void Tracer::write(TraceRecord record) const {
  if (!writer) return;
  record.at = std::chrono::system_clock::now();
  record.recorder = recorder;
  writer->write(record);
}

void Tracer::message(Link link, Party from, Party to, ByteView bytes) const {
  if (!writer) return;
  write(TraceRecord{
      {}, {}, link, from, to, Direction::unknown, std::nullopt, std::nullopt, Bytes(bytes.begin(), bytes.end())});
}

void Tracer::event(Role at, const protocol::Event& event) const {
  if (!writer) return;
  const std::string json = to_json(Record{EventRecord{at, event}}).dump();
  message(Link::events, party_of(at), party_of(at),
          ByteView(reinterpret_cast<const std::uint8_t*>(json.data()), json.size()));
}

Result<std::vector<TraceRecord>> read_trace(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(Errc::io_error, fmt::format("cannot read {}", path.string()));
  const Bytes file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_trace(file, path.string());
}

Result<std::vector<TraceRecord>> parse_trace(ByteView file, std::string_view name) {
  const auto bad = [&](std::string_view why) { return fail(Errc::trace_invalid, fmt::format("{}: {}", name, why)); };
  std::vector<TraceRecord> records;
  std::vector<Interface> interfaces;
  std::size_t pos = 0;
  bool in_section = false;
  while (file.size() - pos >= 12) {
    LittleReader head{file.subspan(pos)};
    const std::uint32_t type = head.u32(), length = head.u32();
    if (type == section_header_block) {
      const std::uint32_t magic = head.u32();
      if (magic != byte_order_magic)
        return bad(magic == 0x4D3C2B1A ? "a big-endian pcapng section (DCAS reads little-endian ones)"
                                       : "not a pcapng file");
      in_section = true;
      interfaces.clear();
    }
    if (!in_section) return bad("not a pcapng file (no section header first)");
    if (length < 12 || length % 4 != 0) return bad(fmt::format("a block of length {} at offset {}", length, pos));
    if (length > file.size() - pos) break;  // the last block is still being written
    LittleReader body{file.subspan(pos + 8, length - 12)};
    pos += length;
    if (type == interface_description_block) interfaces.push_back(parse_interface(body));
    if (type != enhanced_packet_block || !body.has(20)) continue;
    const std::uint32_t id = body.u32();
    const std::uint64_t ts = std::uint64_t{body.u32()} << 32 | body.u32();
    const std::uint32_t captured = body.u32();
    body.pos += 4;
    if (id >= interfaces.size()) return bad("a packet on an interface never described");
    if (!body.has(padded(captured))) return bad("a packet longer than its block");
    const Interface& iface = interfaces[id];
    if (iface.linktype != linktype_upper_pdu) continue;
    auto record = decode_pdu(body.data.subspan(body.pos, captured));
    if (!record) continue;  // another exporter's PDU
    body.pos += padded(captured);
    for (const auto& o : options(body))
      if (o.code == opt_epb_flags && o.value.size() == 4) record->direction = static_cast<Direction>(o.value[0] & 3);
    record->recorder = iface.description;
    const auto seconds = ts / iface.ticks_per_second, rest = ts % iface.ticks_per_second;
    // The clock counts nanoseconds in 64 bits: a time past 2242 (2^33 s) is not one it can hold.
    if (seconds >= (std::uint64_t{1} << 33)) return bad("a packet's timestamp is beyond the year 2242");
    const auto micros =
        static_cast<std::uint64_t>(static_cast<unsigned __int128>(rest) * 1'000'000 / iface.ticks_per_second);
    record->at =
        std::chrono::system_clock::time_point(std::chrono::seconds(seconds) + std::chrono::microseconds(micros));
    records.push_back(std::move(*record));
  }
  if (!in_section) return bad("not a pcapng file (empty or too short)");
  return records;
}

std::vector<TraceRecord> one_run(std::vector<std::vector<TraceRecord>> traces) {
  std::vector<TraceRecord> all;
  for (auto& t : traces) std::move(t.begin(), t.end(), std::back_inserter(all));
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
  const auto framed = [](const TraceRecord& r) { return r.link == Link::host_ap || r.link == Link::ap_ta; };
  std::map<std::pair<Link, Bytes>, std::size_t> sent;
  for (const auto& r : all)
    if (framed(r) && r.direction == Direction::sent) ++sent[{r.link, r.bytes}];
  std::vector<TraceRecord> out;
  for (auto& r : all) {
    if (framed(r) && r.direction == Direction::received) {
      auto it = sent.find({r.link, r.bytes});
      if (it != sent.end() && it->second > 0) {
        --it->second;
        continue;
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace dcas::observe
