#include "protocol/transport_processor.h"

#include <fmt/format.h>

#include "crypto/hash.h"
#include "protocol/derivation.h"
#include "protocol/envelope.h"

namespace dcas::protocol {

using wire::MessageType;

std::string_view TransportProcessor::state_name(Handshake s) {
  switch (s) {
    case Handshake::idle: return "idle";
    case Handshake::awaiting_cwek_gen_info: return "awaiting_cwek_gen_info";
    case Handshake::established: return "established";
    case Handshake::stopped: return "stopped";
  }
  return "unknown";
}

namespace {

// Which message the TP accepts when (docs/spec.md §9.1). Anything else is refused; in the middle of
// a handshake it also stops that run (paper IV.2: the protocol terminates).
enum class When { always, awaiting_cwek_gen_info, with_cw_keys };
struct Accepts {
  MessageType type;
  When when;
};
constexpr Accepts accepted_messages[] = {
    {MessageType::tp_cert_req, When::always},  // a new run may start at any time (the SM rebooted)
    {MessageType::cwek_gen_info, When::awaiting_cwek_gen_info},
    {MessageType::control_word, When::with_cw_keys},  // the CW channel, beside the handshake
};

}  // namespace

Result<TransportProcessor> TransportProcessor::create(Identity identity, NonVolatile<TpMemory>& memory,
                                                      crypto::RandomSource& rng, TimePoint now, CwPolicy policy) {
  DCAS_TRY_ASSIGN(self, pki::verify_device(identity.certificate, identity.ta_root, Role::tp, now));
  TpId id;
  id.bytes = self.id;
  return TransportProcessor(std::move(identity), id, memory, rng, policy);
}

TransportProcessor::TransportProcessor(Identity identity, TpId id, NonVolatile<TpMemory>& memory,
                                       crypto::RandomSource& rng, CwPolicy policy)
    : identity_(std::move(identity)), id_(id), memory_(memory), rng_(rng), policy_(policy) {}

void TransportProcessor::stop(Output& out, Error error) {
  state_ = Handshake::stopped;
  out.event(events::ProtocolStopped{error});
  out.error = std::move(error);
}

bool TransportProcessor::accepts(MessageType type) const {
  for (const auto& a : accepted_messages) {
    if (a.type != type) continue;
    switch (a.when) {
      case When::always: return true;
      case When::awaiting_cwek_gen_info: return state_ == Handshake::awaiting_cwek_gen_info;
      case When::with_cw_keys: return opener_.has_value();
    }
  }
  return false;
}

Output TransportProcessor::receive(ByteView bytes, TimePoint now) {
  Output out;
  auto type = peek_type(bytes);
  const bool mid_handshake = state_ == Handshake::awaiting_cwek_gen_info;
  if (!type) {
    out.error = type.error();
    if (mid_handshake) stop(out, type.error());
    return out;
  }
  const auto t = static_cast<MessageType>(*type);
  if (!accepts(t)) {
    Error e{Errc::unexpected_message, fmt::format("{} in state {}", wire::type_name(t), state_name(state_))};
    if (mid_handshake)
      stop(out, std::move(e));
    else
      out.error = std::move(e);
    return out;
  }
  switch (t) {
    case MessageType::tp_cert_req:
      if (auto r = on_tp_cert_req(out, bytes, now); !r)
        stop(out, r.error());
      else
        state_ = Handshake::awaiting_cwek_gen_info;
      break;
    case MessageType::cwek_gen_info:
      if (auto r = on_cwek_gen_info(out, bytes); !r)
        stop(out, r.error());
      else
        state_ = Handshake::established;
      break;
    default: on_control_word(out, bytes, now); break;
  }
  return out;
}

Result<void> TransportProcessor::on_tp_cert_req(Output& out, ByteView bytes, TimePoint now) {
  sm_key_.reset();
  DCAS_TRY_ASSIGN(m, decode_as<wire::TpCertReq>(bytes));
  DCAS_TRY_ASSIGN(cert, certificates_.parse(m.second.sm_certificate));
  DCAS_TRY_ASSIGN(sm, pki::verify_device(cert, identity_.ta_root, Role::sm, now));
  // Initialization step 2: SM_ID and Pub(SM) go to secure non-volatile memory.
  DCAS_TRY(memory_.store(TpMemory{Bytes(sm.id.begin(), sm.id.end()), sm.public_key.to_der()}));
  sm_id_.bytes = sm.id;
  sm_key_ = sm.public_key;
  out.event(events::SmCertificateVerified{sm_id_});
  out.send(Role::sm, wire::encode({wire::Profile::koo2010, wire::TpCertRsp{identity_.certificate.der()}, {}}));
  return {};
}

Result<void> TransportProcessor::on_cwek_gen_info(Output& out, ByteView bytes) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::CwekGenInfo>(bytes));
  DCAS_TRY(verify_signature(m.first, *sm_key_, "SM"));
  DCAS_TRY_ASSIGN(payload, decrypt_exact(identity_.key, m.second.encrypted_kpk_rand_hmac, kpk_size + rand_hmac_size,
                                         "KPK || RANDHMAC"));
  const ByteView kpk = ByteView(payload).first(kpk_size);
  const ByteView rand_hmac = ByteView(payload).subspan(kpk_size);
  // The threat of paper III.2.A: only a KPK the TA signed may become a CWEK.
  DCAS_TRY_ASSIGN(ta_key, identity_.ta_root.public_key());
  if (!crypto::pss_verify(ta_key, kpk, m.second.ta_kpk_signature))
    return fail(Errc::signature_invalid, "TA signature on the KPK does not verify");
  if (is_failure_kpk(kpk)) return fail(Errc::pairing_refused, "the SM forwarded the TA's failure KPK");
  DCAS_TRY_ASSIGN(cwek, derive_cwek(kpk, sm_id_, id_));
  DCAS_TRY_ASSIGN(hmac_key, derive_hmac_key(rand_hmac, sm_id_, id_));
  const auto h_cwek = crypto::sha256(view(cwek));
  const auto h_hmac = crypto::sha256(view(hmac_key));
  DCAS_TRY_ASSIGN(encrypted, encrypt_to(*sm_key_, concat({h_cwek, h_hmac}), rng_));
  DCAS_TRY_ASSIGN(
      cnfm, sign_and_encode({wire::Profile::koo2010, wire::CwekGenInfoCnfm{encrypted, {}}, {}}, identity_.key, rng_));
  // The new keys replace the old ones only now that every check passed.
  DCAS_TRY_ASSIGN(opener, CwOpener::create(view(cwek), view(hmac_key), policy_));
  opener_.emplace(std::move(opener));
  installed_ = ControlWords{};
  out.event(events::KeysDerived{sm_id_});
  out.send(Role::sm, std::move(cnfm));
  return {};
}

void TransportProcessor::on_control_word(Output& out, ByteView bytes, TimePoint now) {
  auto cws = opener_->open(bytes, now);
  if (!cws) {
    out.error = cws.error();  // the last good control words stay in use
    out.event(events::ControlWordRefused{cws.error()});
    return;
  }
  if (cws->odd) installed_.odd = cws->odd;
  if (cws->even) installed_.even = cws->even;
  installed_.cw_length = cws->cw_length;
  out.event(events::ControlWordsInstalled{opener_->last_sequence(), cws->odd.has_value(), cws->even.has_value()});
}

std::optional<std::array<std::uint8_t, cw_slot_size>> TransportProcessor::control_word(Parity parity) const {
  return parity == Parity::odd ? installed_.odd : installed_.even;
}

}  // namespace dcas::protocol
