// The host's receiver (docs/spec.md, "CAS in the transport stream"): it reads a scrambled broadcast,
// finds the CA system's ECM PID (PMT CA_descriptor) and EMM PID (CAT), hands every ECM and EMM to
// the SM's CA client, passes the ControlWord messages the SM seals to the TP, and descrambles with
// the control words the TP installed. The SM and TP stay separate roles: the host's driver carries
// the bytes between them, as the host's interface manager would.
#pragma once

#include <map>
#include <set>

#include "common/log.h"
#include "protocol/host_driver.h"
#include "ts/stream.h"

namespace dcas::host {

struct ReceiverStats {
  std::uint64_t packets = 0;
  std::uint64_t ecms = 0, emms = 0, emms_for_others = 0;
  std::uint64_t control_word_updates = 0;  // ControlWord messages the TP accepted
  std::uint64_t descrambled = 0, left_scrambled = 0;
  std::map<std::string, std::uint64_t> refused;  // CAS messages refused, by error name
  std::uint64_t stream_errors = 0;
};

class Receiver {
 public:
  Receiver(protocol::HostDriver& host, ts::Algorithm algorithm, std::uint16_t ca_system_id, LogSink log);
  // Any bytes of the stream; whole packets are appended to `out`.
  void feed(ByteView data, Bytes& out);
  void finish(Bytes& out);
  const ReceiverStats& stats() const { return stats_; }
  ~Receiver() { secure_wipe(installed_.data(), sizeof installed_); }  // the control words

 private:
  void process(std::span<std::uint8_t> packets, Bytes& out);
  void on_psi(std::uint16_t pid, ByteView section);
  void on_cas_section(ByteView section);
  bool control_words_changed() const;
  void install_control_words();
  void descramble(std::span<std::uint8_t> packets);

  protocol::HostDriver& host_;
  ts::Algorithm algorithm_;
  std::uint16_t ca_system_id_;
  LogSink log_;
  ReceiverStats stats_;
  ts::PacketFramer framer_;
  ts::Descrambler descrambler_;
  std::map<std::uint16_t, ts::SectionAssembler> assemblers_;
  std::set<std::uint16_t> pmt_pids_;
  std::optional<std::uint16_t> ecm_pid_, emm_pid_;
  std::array<std::optional<std::array<std::uint8_t, protocol::cw_slot_size>>, 2> installed_;  // even, odd
};

}  // namespace dcas::host
