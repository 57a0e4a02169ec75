// The headend's CAS on the broadcast (docs/spec.md, "CAS in the transport stream"): it scrambles a
// clear MPEG-TS with control words that change every crypto period, inserts the ECMs of the
// channel's product on the ECM PID and the subscribers' EMMs on the EMM PID, and signals both (a
// CA_descriptor in every PMT, a CAT), so that ordinary TS tools see a scrambled service.
//
// Crypto periods are timed by the stream's PCR: period n covers [n, n+1) x the period length from
// the first PCR. At each boundary the ECM of the new period (its CW on air, and the next period's)
// goes out before the first packet scrambled with it, with the CAT and the EMMs; the current ECM is
// repeated after every PMT and at least every `ecm_repeat_packets`.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>

#include "headend/product_key.h"
#include "protocol/cw_channel.h"
#include "ts/stream.h"

namespace dcas::headend {

inline constexpr std::uint8_t ecm_table_even = 0x80, ecm_table_odd = 0x81, emm_table = 0x82;

struct BroadcastConfig {
  ts::Algorithm algorithm = ts::Algorithm::csa2;
  std::chrono::milliseconds crypto_period{2'000};  // 1-20 s
  std::uint64_t product_id = 1;
  std::uint16_t ca_system_id = 0x7dca;  // not registered with DVB: the project's own value
  std::uint16_t ecm_pid = 0x0ff0, emm_pid = 0x0ff1;
  std::size_t ecm_repeat_packets = 2'000;  // the current ECM again after this many input packets
  // With a next product key: the crypto period from which the ECMs are sealed under it (its EMMs go
  // out in every period before: at least 1).
  std::uint64_t rekey_after = 2;
};

// A subscriber's EMM and the epoch of the product key it carries.
struct SealedEmm {
  std::uint64_t key_epoch = 1;
  Bytes message;
};

struct BroadcastStats {
  std::uint64_t packets_in = 0, packets_out = 0, scrambled = 0, errors = 0;
  std::uint64_t crypto_periods = 0, ecm_sections = 0, emm_sections = 0;
  std::set<std::uint16_t> elementary_pids;
  std::uint64_t key_epoch = 1;               // of the last ECM sent
  std::optional<std::uint64_t> switched_at;  // the period whose ECM first used the next key
};

class Broadcaster {
 public:
  // `keys`: the product key in use and, after a rekeying, the next one: the ECMs switch to it at
  // period `config.rekey_after`. `emms`: the sealed EMMs of every subscriber (protocol::seal_emm),
  // for either epoch, repeated every crypto period while their epoch is on air or ahead of it.
  // Errors: invalid_argument (period outside 1-20 s, PIDs clashing, rekey_after 0, a next key not
  // of a later epoch than the current one), bad_length (product key).
  static Result<Broadcaster> create(BroadcastConfig config, ProductKeys keys, std::vector<SealedEmm> emms,
                                    crypto::RandomSource& rng);

  // Whole 188-byte packets in (see ts::PacketFramer), the broadcast's packets appended to `out`,
  // scrambled. Errors: crypto and random failures; broken input packets pass on unchanged and are
  // counted.
  Result<void> process(ByteView packets, Bytes& out);
  const BroadcastStats& stats() const { return stats_; }

  Broadcaster(Broadcaster&&) = default;
  ~Broadcaster() { secure_wipe(cws_.data(), sizeof cws_); }  // the control words

 private:
  Broadcaster(BroadcastConfig config, ProductKeys keys, std::vector<SealedEmm> emms, crypto::RandomSource& rng)
      : config_(config), keys_(std::move(keys)), emms_(std::move(emms)), rng_(rng) {}
  Result<void> start_period(std::uint64_t period, Bytes& out);
  Result<void> scramble_pending(Bytes& out);
  void on_pmt_section(ByteView section, std::uint16_t pid, Bytes& out);
  void scramble_streams(const std::set<std::uint16_t>& pids, Bytes& out);
  void emit_section(ByteView section, std::uint16_t pid, Bytes& out);
  void emit_ecm(Bytes& out);
  std::optional<std::uint64_t> period_at(ByteView packet, const ts::PacketInfo& info);

  BroadcastConfig config_;
  ProductKeys keys_;
  std::vector<SealedEmm> emms_;
  crypto::RandomSource& rng_;
  BroadcastStats stats_;

  std::optional<ts::Scrambler> scrambler_;  // once a PMT named elementary streams: all of theirs
  std::set<std::uint16_t> elementary_pids_;
  std::optional<std::uint16_t> pcr_program_pmt_;  // the PMT PID whose program's PCR times the periods
  std::size_t pending_from_ = 0;                  // `out` offset from which packets await scrambling (in process)
  std::map<std::uint16_t, ts::SectionAssembler> assemblers_;
  std::set<std::uint16_t> pmt_pids_;
  std::optional<std::uint16_t> pcr_pid_;
  std::map<std::uint16_t, std::uint8_t> continuity_;  // of the PIDs whose packets this class writes

  bool started_ = false;
  std::uint64_t period_ = 0;
  // The PCR at which period 0 began; signed: after a PCR that went backwards it may lie before 0.
  std::optional<std::int64_t> origin_;
  std::optional<std::uint64_t> last_pcr_;
  std::array<std::array<std::uint8_t, protocol::cw_slot_size>, 2> cws_{};  // [0] even, [1] odd
  Bytes current_ecm_;
  std::size_t since_ecm_ = 0;
};

}  // namespace dcas::headend
