// Streaming scrambling and descrambling of whole transport streams, in constant memory: a framer
// that cuts bytes into packets and resynchronises after corruption, and the packet processors.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <vector>

#include "ts/ciphers.h"
#include "ts/psi.h"

namespace dcas::ts {

struct StreamError {
  std::uint64_t offset;  // byte offset in the input stream
  Error error;
};

struct StreamStats {
  std::uint64_t packets = 0;      // whole packets processed
  std::uint64_t scrambled = 0;    // scrambler: packets it scrambled; descrambler: scrambled on input
  std::uint64_t descrambled = 0;  // descrambler: packets it descrambled
  std::uint64_t no_key = 0;       // scrambled with a parity whose key is not set: left as they were
  std::uint64_t errors = 0;       // corrupt packets and lost bytes, each reported with its offset
};

// Cuts a byte stream into 188-byte packets. After a byte that should be a sync byte is not, it
// reports ts_sync_lost at that offset and resumes at the next 0x47 that is followed by another
// 0x47 188 bytes later (or ends the input). A trailing partial packet is ts_truncated_packet.
// An input in which not one packet was found. Errors: ts_sync_lost, naming `input`.
Error not_a_transport_stream(std::string_view input);

class PacketFramer {
 public:
  // Appends the complete packets found in `data` (after what earlier calls left over) to `out`,
  // and the stream offset of each to `offsets`.
  void feed(ByteView data, Bytes& out, std::vector<std::uint64_t>& offsets, std::vector<StreamError>& errors);
  // End of input: whatever is left is a truncated packet.
  void finish(std::vector<StreamError>& errors);
  // After finish: an input in which not one packet was found is not a transport stream (an
  // empty one included). Errors: ts_sync_lost, naming `input`.
  Result<void> require_a_packet(std::string_view input) const;

 private:
  std::uint64_t packets_ = 0;
  Bytes carry_;
  std::uint64_t offset_ = 0;  // stream offset of carry_[0]
  bool in_sync_ = true;
};

// Follows the PSI a stream carries (PAT, CAT and the PMTs the PAT announces), so that a broken
// section is reported with its packet's offset and the scrambler knows which PIDs carry PMTs.
class PsiMonitor {
 public:
  void feed(const PacketInfo& info, ByteView packet, std::uint64_t offset, std::vector<StreamError>& errors);
  bool is_pmt_pid(std::uint16_t pid) const { return pmt_pids_.contains(pid); }

 private:
  std::map<std::uint16_t, SectionAssembler> assemblers_;
  std::set<std::uint16_t> pmt_pids_;
};

class Descrambler {
 public:
  explicit Descrambler(Algorithm algorithm);
  // A new control word for one parity takes effect from the next packet of that parity, so the
  // headend's usual order (change the key of the parity not on air) loses no packet.
  Result<void> set_key(Scrambling parity, ByteView cw);
  // Descrambles whole packets in place and clears their scrambling bits. `offsets` holds each
  // packet's stream offset, for error reports (empty: packets[0] is at offset 0, the rest follow).
  void process(std::span<std::uint8_t> packets, std::span<const std::uint64_t> offsets, StreamStats& stats,
               std::vector<StreamError>& errors);

 private:
  void flush(Scrambling parity);
  std::unique_ptr<PayloadCipher> cipher_;
  PsiMonitor psi_;
  std::array<std::vector<std::span<std::uint8_t>>, 2> batch_;
};

class Scrambler {
 public:
  // `pids`: the PIDs to scramble; empty means every PID except PSI/SI (0x0000-0x001f), the null
  // PID and the PMT PIDs announced by the PAT.
  Scrambler(Algorithm algorithm, std::set<std::uint16_t> pids);
  Result<void> set_key(Scrambling parity, ByteView cw);
  void set_parity(Scrambling parity) { parity_ = parity; }  // the key on air
  void process(std::span<std::uint8_t> packets, std::span<const std::uint64_t> offsets, StreamStats& stats,
               std::vector<StreamError>& errors);

 private:
  bool selected(std::uint16_t pid) const;
  std::unique_ptr<PayloadCipher> cipher_;
  std::set<std::uint16_t> pids_;
  PsiMonitor psi_;
  Scrambling parity_ = Scrambling::even;
  std::vector<std::span<std::uint8_t>> batch_;
};

}  // namespace dcas::ts
