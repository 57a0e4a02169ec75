#include "host/receiver.h"

#include <fmt/format.h>

namespace dcas::host {

namespace {
auto now() { return std::chrono::system_clock::now(); }
}  // namespace

Receiver::Receiver(protocol::HostDriver& host, ts::Algorithm algorithm, std::uint16_t ca_system_id, LogSink log)
    : host_(host), algorithm_(algorithm), ca_system_id_(ca_system_id), log_(std::move(log)), descrambler_(algorithm) {}

void Receiver::feed(ByteView data, Bytes& out) {
  Bytes packets;
  std::vector<std::uint64_t> offsets;
  std::vector<ts::StreamError> errors;
  framer_.feed(data, packets, offsets, errors);
  stats_.stream_errors += errors.size();
  process(packets, out);
}

void Receiver::finish(Bytes&) {
  std::vector<ts::StreamError> errors;
  framer_.finish(errors);
  stats_.stream_errors += errors.size();
}

void Receiver::descramble(std::span<std::uint8_t> packets) {
  if (packets.empty()) return;
  ts::StreamStats stats;
  std::vector<ts::StreamError> errors;
  descrambler_.process(packets, {}, stats, errors);
  stats_.descrambled += stats.descrambled;
  stats_.left_scrambled += stats.no_key;
  stats_.stream_errors += errors.size();
}

// Packets are descrambled in runs; a run ends where an ECM brought new control words, so that they
// apply from the next packet on.
void Receiver::process(std::span<std::uint8_t> packets, Bytes& out) {
  std::size_t run_start = 0;
  for (std::size_t at = 0; at + ts::packet_size <= packets.size(); at += ts::packet_size) {
    ++stats_.packets;
    auto packet = packets.subspan(at, ts::packet_size);
    auto info = ts::parse_packet_fast(packet.data());
    if (!info || !info->has_payload || info->scrambling != ts::Scrambling::clear) continue;
    const std::uint16_t pid = info->pid;
    const bool psi = pid == ts::pat_pid || pid == ts::cat_pid || pmt_pids_.contains(pid);
    const bool cas = pid == ecm_pid_ || pid == emm_pid_;
    if (!psi && !cas) continue;
    auto sections = assemblers_[pid].feed(packet.subspan(info->payload_offset), info->payload_unit_start);
    stats_.stream_errors += sections.errors.size();
    for (const auto& section : sections.sections) cas ? on_cas_section(section) : on_psi(pid, section);
    // New control words end the run: the packets so far are descrambled with the keys they were
    // sent under. (ECMs repeat far more often than keys change; most leave the run, and the
    // descrambler's batches, whole.)
    if (cas && control_words_changed()) {
      descramble(packets.subspan(run_start, at + ts::packet_size - run_start));
      run_start = at + ts::packet_size;
      install_control_words();
    }
  }
  descramble(packets.subspan(run_start));
  out.insert(out.end(), packets.begin(), packets.end());
}

void Receiver::on_psi(std::uint16_t pid, ByteView section) {
  if (pid == ts::pat_pid) {
    if (auto pat = ts::parse_pat(section))
      for (auto [number, pmt_pid] : pat->programs)
        if (number != 0) pmt_pids_.insert(pmt_pid);
    return;
  }
  auto find = [&](const std::vector<ts::CaDescriptor>& ca) -> std::optional<std::uint16_t> {
    for (const auto& d : ca)
      if (d.ca_system_id == ca_system_id_) return d.ca_pid;
    return std::nullopt;
  };
  if (pid == ts::cat_pid) {
    if (auto cat = ts::parse_cat(section))
      if (auto emm = find(cat->ca)) emm_pid_ = emm;
    return;
  }
  if (auto pmt = ts::parse_pmt(section)) {
    auto ecm = find(pmt->ca);
    for (const auto& s : pmt->streams)
      if (!ecm) ecm = find(s.ca);
    if (ecm && ecm != ecm_pid_) log_(fmt::format("ECM PID 0x{:04x} for CA system 0x{:04x}", *ecm, ca_system_id_));
    if (ecm) ecm_pid_ = ecm;
  }
}

void Receiver::on_cas_section(ByteView section) {
  auto parsed = ts::parse_private_section(section);
  if (!parsed) {
    ++stats_.refused[std::string(errc_name(parsed.error().code))];
    return;
  }
  const bool ecm = parsed->table_id == 0x80 || parsed->table_id == 0x81;
  ++(ecm ? stats_.ecms : stats_.emms);
  const auto step = host_.broadcast(parsed->payload, now());
  if (step.sm_refused) {
    if (step.sm_refused->code == Errc::not_addressed) {
      ++stats_.emms_for_others;
      return;
    }
    const std::string name(errc_name(step.sm_refused->code));
    if (stats_.refused[name]++ == 0) log_(fmt::format("SM refused a CAS message: {}", step.sm_refused->message()));
    return;
  }
  if (step.tp_refused) {
    const std::string name(errc_name(step.tp_refused->code));
    if (stats_.refused[name]++ == 0) log_(fmt::format("TP refused a ControlWord: {}", step.tp_refused->message()));
  }
  if (step.control_words_installed) ++stats_.control_word_updates;
}

bool Receiver::control_words_changed() const {
  return host_.tp().control_word(protocol::Parity::even) != installed_[0] ||
         host_.tp().control_word(protocol::Parity::odd) != installed_[1];
}

// The TP's current control words into the descrambler, where they changed.
void Receiver::install_control_words() {
  const std::size_t length = ts::cw_size(algorithm_);
  for (auto parity : {protocol::Parity::even, protocol::Parity::odd}) {
    auto cw = host_.tp().control_word(parity);
    auto& installed = installed_[parity == protocol::Parity::odd ? 1 : 0];
    if (!cw || cw == installed) continue;
    if (auto set = descrambler_.set_key(parity == protocol::Parity::odd ? ts::Scrambling::odd : ts::Scrambling::even,
                                        ByteView(*cw).first(length));
        !set) {
      log_(fmt::format("descrambler refused a control word: {}", set.error().message()));
      continue;
    }
    installed = cw;
  }
}

}  // namespace dcas::host
