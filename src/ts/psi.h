// PSI sections (ISO/IEC 13818-1 §2.4.4): CRC_32, reassembly across packets, and the PAT, PMT
// (with CA_descriptor) and CAT a scrambled service needs; builders for the headend and tests.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "common/bytes.h"
#include "ts/packet.h"

namespace dcas::ts {

inline constexpr std::uint16_t pat_pid = 0x0000;
inline constexpr std::uint16_t cat_pid = 0x0001;
inline constexpr std::size_t max_section_size = 4096;  // private sections; PSI tables are <= 1024

// CRC-32/MPEG-2 (polynomial 0x04c11db7, initial 0xffffffff, no reflection, no final XOR). Written
// by hand: zlib's and OpenSSL's CRC-32 are the reflected variant.
std::uint32_t crc32_mpeg2(ByteView data);

// Reassembles the sections of one PID from its packets' payloads, following pointer_field and
// packing of several sections per packet. Complete sections are checked (length, CRC_32 when the
// section_syntax_indicator is set) and returned; broken ones are reported and dropped.
class SectionAssembler {
 public:
  struct Output {
    std::vector<Bytes> sections;
    std::vector<Error> errors;
  };
  // `payload` of a packet of this PID; `unit_start` is its payload_unit_start_indicator.
  Output feed(ByteView payload, bool unit_start);

 private:
  void drain(Output& out);
  Bytes pending_;
  bool synced_ = false;
};

struct CaDescriptor {
  std::uint16_t ca_system_id = 0;
  std::uint16_t ca_pid = 0;  // ECM PID in a PMT, EMM PID in the CAT
};

struct Pat {
  std::uint16_t transport_stream_id = 0;
  std::map<std::uint16_t, std::uint16_t> programs;  // program_number -> PMT PID (number 0: NIT)
};

struct PmtStream {
  std::uint8_t stream_type = 0;
  std::uint16_t pid = 0;
  std::vector<CaDescriptor> ca;
};

struct Pmt {
  std::uint16_t program_number = 0;
  std::uint16_t pcr_pid = 0;
  std::vector<CaDescriptor> ca;  // program-level CA_descriptors
  std::vector<PmtStream> streams;
};

struct Cat {
  std::vector<CaDescriptor> ca;
};

// Each parser takes one complete section. Errors: ts_bad_section (wrong table_id, lengths beyond
// the section), ts_bad_crc.
Result<Pat> parse_pat(ByteView section);
Result<Pmt> parse_pmt(ByteView section);
Result<Cat> parse_cat(ByteView section);

// Complete sections with CRC_32 (version 0, current, section 0 of 0).
Bytes build_pat(const Pat& pat);
Bytes build_pmt(const Pmt& pmt);
Bytes build_cat(const Cat& cat);

// A private section without the long syntax (section_syntax_indicator 0, private_indicator 1, no
// CRC): table_id, 12-bit length, payload. ECMs (table_id 0x80/0x81) and EMMs (0x82) travel so, one
// wire message per section. Errors (parse): ts_bad_section (long syntax, length mismatch).
inline constexpr std::size_t max_private_payload = max_section_size - 3;
Bytes build_private_section(std::uint8_t table_id, ByteView payload);
struct PrivateSection {
  std::uint8_t table_id = 0;
  ByteView payload;
};
Result<PrivateSection> parse_private_section(ByteView section);

// Splits a section into packets of `pid` (continuity counter from `cc`, advanced), stuffing with 0xff.
std::vector<std::array<std::uint8_t, packet_size>> packetize(ByteView section, std::uint16_t pid, std::uint8_t& cc);

}  // namespace dcas::ts
