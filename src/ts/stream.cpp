#include "ts/stream.h"

#include <fmt/format.h>

namespace dcas::ts {

// ---- framing ----

void PacketFramer::feed(ByteView data, Bytes& out, std::vector<std::uint64_t>& offsets,
                        std::vector<StreamError>& errors) {
  carry_.insert(carry_.end(), data.begin(), data.end());
  std::size_t i = 0;
  while (carry_.size() - i >= packet_size) {
    if (carry_[i] == sync_byte &&
        (in_sync_ || carry_.size() - i < 2 * packet_size || carry_[i + packet_size] == sync_byte)) {
      in_sync_ = true;
      ++packets_;
      offsets.push_back(offset_ + i);
      out.insert(out.end(), carry_.begin() + static_cast<std::ptrdiff_t>(i),
                 carry_.begin() + static_cast<std::ptrdiff_t>(i + packet_size));
      i += packet_size;
      continue;
    }
    if (in_sync_) {
      errors.push_back(
          {offset_ + i, {Errc::ts_sync_lost, fmt::format("byte 0x{:02x} where a sync byte belongs", carry_[i])}});
      in_sync_ = false;
    }
    // Resynchronising: needs a second sync byte one packet later before trusting a candidate.
    if (carry_.size() - i < 2 * packet_size) break;
    ++i;
  }
  carry_.erase(carry_.begin(), carry_.begin() + static_cast<std::ptrdiff_t>(i));
  offset_ += i;
}

void PacketFramer::finish(std::vector<StreamError>& errors) {
  if (!carry_.empty())
    errors.push_back({offset_,
                      {in_sync_ ? Errc::ts_truncated_packet : Errc::ts_sync_lost,
                       fmt::format("{} bytes at the end are not a whole packet", carry_.size())}});
  offset_ += carry_.size();
  carry_.clear();
}

Error not_a_transport_stream(std::string_view input) {
  return {Errc::ts_sync_lost, fmt::format("{} is not a transport stream: no 188-byte packet in it", input)};
}

Result<void> PacketFramer::require_a_packet(std::string_view input) const {
  if (packets_ > 0) return {};
  if (offset_ == 0) return fail(Errc::ts_sync_lost, fmt::format("{} is empty: not a transport stream", input));
  return std::unexpected(not_a_transport_stream(input));
}

// ---- PSI ----

void PsiMonitor::feed(const PacketInfo& info, ByteView packet, std::uint64_t offset, std::vector<StreamError>& errors) {
  const bool psi = info.pid == pat_pid || info.pid == cat_pid || pmt_pids_.contains(info.pid);
  if (!psi || !info.has_payload || info.scrambling != Scrambling::clear) return;
  auto out = assemblers_[info.pid].feed(packet.subspan(info.payload_offset), info.payload_unit_start);
  for (auto& e : out.errors) errors.push_back({offset, std::move(e)});
  if (info.pid != pat_pid) return;
  for (const auto& section : out.sections)
    if (auto pat = parse_pat(section))
      for (auto [number, pid] : pat->programs)
        if (number != 0) pmt_pids_.insert(pid);
}

// ---- descrambling ----

namespace {
std::size_t slot(Scrambling s) { return s == Scrambling::odd ? 1 : 0; }
std::uint64_t offset_of(std::span<const std::uint64_t> offsets, std::size_t index) {
  return index < offsets.size() ? offsets[index] : index * packet_size;
}
}  // namespace

Descrambler::Descrambler(Algorithm algorithm) : cipher_(PayloadCipher::create(algorithm)) {}

Result<void> Descrambler::set_key(Scrambling parity, ByteView cw) {
  flush(Scrambling::even);  // packets already queued keep the key they were queued under
  flush(Scrambling::odd);
  return cipher_->set_key(parity, cw);
}

void Descrambler::flush(Scrambling parity) {
  auto& batch = batch_[slot(parity)];
  if (batch.empty()) return;
  cipher_->decrypt(parity, batch);
  batch.clear();
}

void Descrambler::process(std::span<std::uint8_t> packets, std::span<const std::uint64_t> offsets, StreamStats& stats,
                          std::vector<StreamError>& errors) {
  const bool has_key[4] = {false, false, cipher_->has_key(Scrambling::even), cipher_->has_key(Scrambling::odd)};
  constexpr std::size_t prefetch_distance = 8 * packet_size;  // hides memory latency on large buffers
  for (std::size_t at = 0; at + packet_size <= packets.size(); at += packet_size) {
    if (at + prefetch_distance + packet_size <= packets.size()) {
      __builtin_prefetch(packets.data() + at + prefetch_distance, 1);
      __builtin_prefetch(packets.data() + at + prefetch_distance + 64, 1);
      __builtin_prefetch(packets.data() + at + prefetch_distance + 128, 1);
    }
    auto packet = packets.subspan(at, packet_size);
    ++stats.packets;
    auto info = parse_packet_fast(packet.data());
    if (!info) {
      ++stats.errors;
      errors.push_back({offset_of(offsets, at / packet_size), parse_packet(packet).error()});
      continue;  // left as it is
    }
    if (info->scrambling == Scrambling::clear) {
      const std::size_t before = errors.size();
      psi_.feed(*info, packet, offset_of(offsets, at / packet_size), errors);
      stats.errors += errors.size() - before;
      continue;
    }
    ++stats.scrambled;
    if (info->scrambling == Scrambling::reserved) {
      ++stats.errors;
      errors.push_back({offset_of(offsets, at / packet_size),
                        {Errc::ts_reserved_scrambling, "transport_scrambling_control 01 is reserved"}});
      continue;
    }
    if (!has_key[static_cast<int>(info->scrambling)]) {
      ++stats.no_key;
      continue;
    }
    if (info->has_payload) {
      auto& batch = batch_[slot(info->scrambling)];
      batch.push_back(packet.subspan(info->payload_offset));
      if (batch.size() >= cipher_->preferred_batch()) flush(info->scrambling);
    }
    set_scrambling(packet, Scrambling::clear);
    ++stats.descrambled;
  }
  flush(Scrambling::even);
  flush(Scrambling::odd);
}

// ---- scrambling ----

Scrambler::Scrambler(Algorithm algorithm, std::set<std::uint16_t> pids)
    : cipher_(PayloadCipher::create(algorithm)), pids_(std::move(pids)) {}

Result<void> Scrambler::set_key(Scrambling parity, ByteView cw) { return cipher_->set_key(parity, cw); }

bool Scrambler::selected(std::uint16_t pid) const {
  if (!pids_.empty()) return pids_.contains(pid);
  return pid > 0x001f && pid != null_pid && !psi_.is_pmt_pid(pid);
}

void Scrambler::process(std::span<std::uint8_t> packets, std::span<const std::uint64_t> offsets, StreamStats& stats,
                        std::vector<StreamError>& errors) {
  for (std::size_t at = 0; at + packet_size <= packets.size(); at += packet_size) {
    auto packet = packets.subspan(at, packet_size);
    ++stats.packets;
    auto info = parse_packet(packet);
    if (!info) {
      ++stats.errors;
      errors.push_back({offset_of(offsets, at / packet_size), info.error()});
      continue;
    }
    // PSI is never scrambled; the PAT tells which PIDs carry PMTs.
    const std::size_t before = errors.size();
    psi_.feed(*info, packet, offset_of(offsets, at / packet_size), errors);
    stats.errors += errors.size() - before;
    if (!selected(info->pid) || !info->has_payload || info->scrambling != Scrambling::clear) continue;
    batch_.push_back(packet.subspan(info->payload_offset));
    set_scrambling(packet, parity_);
    ++stats.scrambled;
    if (batch_.size() >= cipher_->preferred_batch()) {
      cipher_->encrypt(parity_, batch_);
      batch_.clear();
    }
  }
  if (!batch_.empty()) cipher_->encrypt(parity_, batch_);
  batch_.clear();
}

}  // namespace dcas::ts
