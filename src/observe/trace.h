// Traces (`--trace FILE.pcapng`): every frame a process sent or received on every link, the
// messages on its host's internal SM-TP bus, the CAS messages its host handed to the SM, and the
// roles' events, as a standard pcapng file (docs/spec.md §19) that capinfos, tshark and Wireshark
// open. Each record is an exported PDU (LINKTYPE_WIRESHARK_UPPER_PDU) naming the dissector
// `dcas_trace` (packaging/wireshark/dcas.lua) and, for socket links, its IP endpoints.
#pragma once

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "common/ids.h"
#include "protocol/events.h"

namespace dcas::observe {

// Which link a record was seen on: one pcapng interface per link and recording process.
enum class Link : std::uint8_t {
  host_ap = 1,    // the host's TCP connection to its AP: whole link frames (spec §13.1)
  ap_ta = 2,      // the AP-TA link inside its TLS: whole link frames
  sm_tp_bus = 3,  // the host's internal bus: one wire message each
  broadcast = 4,  // an EMM or ECM the host's receiver handed to its SM: one wire message
  events = 5,     // a role's event or failed check: one JSON object (docs/spec.md §16), UTF-8
};
std::string_view link_name(Link link);  // "host-ap", "ap-ta", "sm-tp-bus", "broadcast", "events"

// Who sent a record and to whom: the four roles (with common/ids.h's numbers) and the headend's CAS.
enum class Party : std::uint8_t { ta = 0, sm = 1, tp = 2, ap = 3, cas = 4 };
std::string_view party_label(Party party);  // "TA", "SM", "TP", "AP", "CAS"
inline Party party_of(Role role) { return static_cast<Party>(role); }

// The recording process's view of a link record (the pcapng epb_flags direction).
enum class Direction : std::uint8_t { unknown = 0, received = 1, sent = 2 };

struct Endpoint {
  Bytes address;  // 4 (IPv4) or 16 (IPv6) bytes
  std::uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

struct TraceRecord {
  std::chrono::system_clock::time_point at;  // kept to the microsecond
  std::string recorder;                      // the process that recorded it, e.g. "host 1a2b3c4d5e6f7081"
  Link link = Link::host_ap;
  Party from = Party::sm, to = Party::ap;
  Direction direction = Direction::unknown;
  std::optional<Endpoint> source, destination;  // socket links only
  Bytes bytes;
};

// The exported PDU of one record (its TLVs and the dcas_trace header and bytes), and back.
// Errors: trace_invalid (not a dcas_trace PDU, or one this version does not read).
Bytes encode_pdu(const TraceRecord& record);
Result<TraceRecord> decode_pdu(ByteView pdu);

// Writes a pcapng file, one block per record, flushed per record (a killed process leaves every
// record it wrote readable); thread-safe. An interface is described when first used.
class TraceWriter {
 public:
  // Creates or truncates `path` (mode 0600: a trace shows who paired with whom). Errors: io_error.
  static Result<std::shared_ptr<TraceWriter>> open(const std::filesystem::path& path);
  explicit TraceWriter(std::ofstream out);
  void write(const TraceRecord& record);

 private:
  std::uint32_t interface_for(const TraceRecord& record);
  std::mutex mutex_;
  std::ofstream out_;
  std::map<std::pair<std::string, Link>, std::uint32_t> interfaces_;
};

// A process's trace: where its records go and the name they carry (its interfaces' description).
// Empty (no --trace): every call does nothing.
struct Tracer {
  std::shared_ptr<TraceWriter> writer;
  std::string recorder;
  explicit operator bool() const { return writer != nullptr; }
  // Stamps `record` with the time and the recorder's name, and writes it.
  void write(TraceRecord record) const;
  // A message on the bus or the broadcast, recorded once by the host (no direction).
  void message(Link link, Party from, Party to, ByteView bytes) const;
  // A role's event, as the journal's JSON record (docs/spec.md §16).
  void event(Role at, const protocol::Event& event) const;
};

// Every record of a pcapng file DCAS wrote (other link types and blocks are skipped), in file
// order. Errors: io_error, trace_invalid (not pcapng, a big-endian section, or a block that
// runs past the file's end; a record cut off at the end of a file still being written is dropped).
Result<std::vector<TraceRecord>> read_trace(const std::filesystem::path& path);
// The same over a file's bytes; `name` names it in errors.
Result<std::vector<TraceRecord>> parse_trace(ByteView file, std::string_view name);

// Records of several traces in time order (stable for equal times), with the copy a receiver made
// of a frame its sender also recorded left out: what a diagram or timeline of one run shows.
std::vector<TraceRecord> one_run(std::vector<std::vector<TraceRecord>> traces);

}  // namespace dcas::observe
