#include "headend/broadcast.h"

#include <fmt/format.h>

#include "protocol/cas.h"

namespace dcas::headend {

namespace {

ts::Scrambling parity_of(std::uint64_t period) { return period % 2 ? ts::Scrambling::odd : ts::Scrambling::even; }
std::size_t slot_of(std::uint64_t period) { return period % 2; }

// The 27 MHz PCR of a packet whose adaptation field carries one.
std::optional<std::uint64_t> pcr_of(ByteView p, const ts::PacketInfo& info) {
  if (!info.has_adaptation_field || p[4] < 7 || !(p[5] & 0x10)) return std::nullopt;
  const std::uint64_t base = std::uint64_t{p[6]} << 25 | std::uint64_t{p[7]} << 17 | std::uint64_t{p[8]} << 9 |
                             std::uint64_t{p[9]} << 1 | p[10] >> 7;
  const std::uint64_t extension = (std::uint64_t{p[10]} & 1) << 8 | p[11];
  return base * 300 + extension;
}

}  // namespace

Result<Broadcaster> Broadcaster::create(BroadcastConfig config, ProductKeys keys, std::vector<SealedEmm> emms,
                                        crypto::RandomSource& rng) {
  if (config.crypto_period < std::chrono::seconds(1) || config.crypto_period > std::chrono::seconds(20))
    return fail(Errc::invalid_argument, "the crypto period must be 1-20 s");
  const auto reserved = [](std::uint16_t pid) { return pid <= 0x001f || pid >= ts::null_pid; };
  if (config.ecm_pid == config.emm_pid || reserved(config.ecm_pid) || reserved(config.emm_pid))
    return fail(Errc::invalid_argument, "ECM and EMM PIDs must differ and lie in 0x0020-0x1ffe");
  if (keys.current.key.size() != protocol::cas_key_size ||
      (keys.next && keys.next->key.size() != protocol::cas_key_size))
    return fail(Errc::bad_length, "product keys are 16 bytes");
  if (keys.next && (keys.next->epoch <= keys.current.epoch || config.rekey_after == 0))
    return fail(Errc::invalid_argument,
                "the next product key is of a later epoch than the current one, switched to after at least one period");
  for (const auto& emm : emms)
    if (emm.message.size() > ts::max_private_payload)
      return fail(Errc::invalid_argument, "EMM too large for a section");
  return Broadcaster(config, std::move(keys), std::move(emms), rng);
}

void Broadcaster::emit_section(ByteView section, std::uint16_t pid, Bytes& out) {
  for (const auto& packet : ts::packetize(section, pid, continuity_[pid])) {
    out.insert(out.end(), packet.begin(), packet.end());
    ++stats_.packets_out;
  }
}

void Broadcaster::emit_ecm(Bytes& out) {
  emit_section(ts::build_private_section(period_ % 2 ? ecm_table_odd : ecm_table_even, current_ecm_), config_.ecm_pid,
               out);
  ++stats_.ecm_sections;
  since_ecm_ = 0;
}

// Period `period` goes on air: its CW was the "next" one of the previous ECM (or is drawn now, at
// the start); the period after it gets a fresh CW in the parity that is off air.
Result<void> Broadcaster::start_period(std::uint64_t period, Bytes& out) {
  DCAS_TRY(scramble_pending(out));  // the packets so far keep the keys they were sent under
  const std::size_t cw_length = ts::cw_size(config_.algorithm);
  auto draw = [&](std::size_t slot) -> Result<void> {
    DCAS_TRY_ASSIGN(cw, rng_.bytes(cw_length));
    cws_[slot].fill(0);
    std::copy(cw.begin(), cw.end(), cws_[slot].begin());
    if (scrambler_)
      DCAS_TRY(scrambler_->set_key(slot ? ts::Scrambling::odd : ts::Scrambling::even,
                                   ByteView(cws_[slot]).first(cw_length)));
    return {};
  };
  // A PCR that jumped over periods: the announced "next" CW is not the one on air, both are new.
  if (!started_ || period > period_ + 1) DCAS_TRY(draw(slot_of(period)));
  DCAS_TRY(draw(slot_of(period + 1)));
  started_ = true;
  period_ = period;
  ++stats_.crypto_periods;
  if (scrambler_) scrambler_->set_parity(parity_of(period));

  protocol::ControlWords cws;
  cws.cw_length = static_cast<std::uint8_t>(cw_length);
  cws.even = cws_[0];
  cws.odd = cws_[1];
  // A rekeying: from period `rekey_after` on, the ECMs are under the next key, whose EMMs went out
  // in every period before.
  const bool switched = keys_.next && period >= config_.rekey_after;
  const ProductKey& key = switched ? *keys_.next : keys_.current;
  if (switched && !stats_.switched_at) stats_.switched_at = period;
  stats_.key_epoch = key.epoch;
  DCAS_TRY_ASSIGN(ecm, protocol::seal_ecm(view(key.key), config_.product_id, period, cws, rng_, key.epoch));
  current_ecm_ = std::move(ecm);
  emit_section(ts::build_cat({{{config_.ca_system_id, config_.emm_pid}}}), ts::cat_pid, out);
  for (const auto& emm : emms_) {
    if (emm.key_epoch < key.epoch) continue;  // a retired key is not sent again
    emit_section(ts::build_private_section(emm_table, emm.message), config_.emm_pid, out);
    ++stats_.emm_sections;
  }
  emit_ecm(out);
  return {};
}

Result<void> Broadcaster::scramble_pending(Bytes& out) {
  if (scrambler_ && pending_from_ < out.size()) {
    ts::StreamStats stats;
    std::vector<ts::StreamError> errors;
    scrambler_->process(std::span<std::uint8_t>(out).subspan(pending_from_), {}, stats, errors);
    stats_.scrambled += stats.scrambled;
  }
  pending_from_ = out.size();
  return {};
}

// The PMT again with the ECM PID in a program-level CA_descriptor; the elementary streams of every
// PMT are scrambled (a PMT that names a new stream adds it from its next packet on).
void Broadcaster::on_pmt_section(ByteView section, std::uint16_t pid, Bytes& out) {
  auto pmt = ts::parse_pmt(section);
  if (!pmt) {
    ++stats_.errors;
    return;
  }
  std::erase_if(pmt->ca, [&](const ts::CaDescriptor& d) { return d.ca_system_id == config_.ca_system_id; });
  pmt->ca.push_back({config_.ca_system_id, config_.ecm_pid});
  // One clock for the crypto periods: the PCR of the first program seen.
  if (!pcr_program_pmt_) pcr_program_pmt_ = pid;
  if (*pcr_program_pmt_ == pid) pcr_pid_ = pmt->pcr_pid;
  std::set<std::uint16_t> pids = elementary_pids_;
  for (const auto& s : pmt->streams)
    if (s.pid != config_.ecm_pid && s.pid != config_.emm_pid) pids.insert(s.pid);
  if (pids != elementary_pids_) scramble_streams(pids, out);
  emit_section(ts::build_pmt(*pmt), pid, out);
  // The ECM follows every PMT: a receiver tuning in learns the ECM PID there and needs the ECM next.
  emit_ecm(out);
}

void Broadcaster::scramble_streams(const std::set<std::uint16_t>& pids, Bytes& out) {
  (void)scramble_pending(out);  // what came before goes out as the previous scrambler left it
  elementary_pids_ = pids;
  stats_.elementary_pids = pids;
  scrambler_.emplace(config_.algorithm, pids);
  const std::size_t cw_length = ts::cw_size(config_.algorithm);
  (void)scrambler_->set_key(ts::Scrambling::even, ByteView(cws_[0]).first(cw_length));
  (void)scrambler_->set_key(ts::Scrambling::odd, ByteView(cws_[1]).first(cw_length));
  scrambler_->set_parity(parity_of(period_));
}

std::optional<std::uint64_t> Broadcaster::period_at(ByteView packet, const ts::PacketInfo& info) {
  if (!pcr_pid_ || info.pid != *pcr_pid_) return std::nullopt;
  auto pcr = pcr_of(packet, info);
  if (!pcr) return std::nullopt;
  const std::int64_t ticks_per_period = static_cast<std::int64_t>(config_.crypto_period.count()) * 27'000;
  const auto now = static_cast<std::int64_t>(*pcr);  // below 2^33 x 300: no overflow
  // A PCR going backwards (discontinuity, wrap): the clock restarts at the start of the current period.
  if (!origin_ || (last_pcr_ && *pcr < *last_pcr_))
    origin_ = now - static_cast<std::int64_t>(period_) * ticks_per_period;
  last_pcr_ = pcr;
  return static_cast<std::uint64_t>((now - *origin_) / ticks_per_period);
}

Result<void> Broadcaster::process(ByteView packets, Bytes& out) {
  pending_from_ = out.size();
  for (std::size_t at = 0; at + ts::packet_size <= packets.size(); at += ts::packet_size) {
    const ByteView packet = packets.subspan(at, ts::packet_size);
    ++stats_.packets_in;
    if (!started_) DCAS_TRY(start_period(0, out));
    auto info = ts::parse_packet(packet);
    if (!info) {
      ++stats_.errors;
      out.insert(out.end(), packet.begin(), packet.end());
      ++stats_.packets_out;
      continue;
    }
    if (auto period = period_at(packet, *info); period && *period > period_) DCAS_TRY(start_period(*period, out));
    if (++since_ecm_ >= config_.ecm_repeat_packets) emit_ecm(out);
    // The headend owns the CAT, the ECM and EMM PIDs and rewrites the PMTs.
    if (info->pid == ts::cat_pid || info->pid == config_.ecm_pid || info->pid == config_.emm_pid) continue;
    const bool pmt = pmt_pids_.contains(info->pid);
    if ((info->pid == ts::pat_pid || pmt) && info->has_payload) {
      auto sections = assemblers_[info->pid].feed(packet.subspan(info->payload_offset), info->payload_unit_start);
      stats_.errors += sections.errors.size();
      for (const auto& section : sections.sections) {
        if (pmt) {
          on_pmt_section(section, info->pid, out);
        } else if (auto pat = ts::parse_pat(section)) {
          for (auto [number, pmt_pid] : pat->programs)
            if (number != 0) pmt_pids_.insert(pmt_pid);
        }
      }
    }
    if (pmt) continue;
    out.insert(out.end(), packet.begin(), packet.end());
    ++stats_.packets_out;
  }
  return scramble_pending(out);  // everything appended leaves scrambled: the caller may write it out
}

}  // namespace dcas::headend
