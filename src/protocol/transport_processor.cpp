#include "protocol/transport_processor.h"

#include <fmt/format.h>

#include "crypto/hash.h"
#include "protocol/derivation.h"
#include "protocol/envelope.h"

namespace dcas::protocol {

using wire::MessageType;

std::string_view TransportProcessor::state_name(State s) {
  switch (s) {
    case State::idle: return "idle";
    case State::awaiting_cwek_gen_info: return "awaiting_cwek_gen_info";
    case State::established: return "established";
    case State::stopped: return "stopped";
  }
  return "unknown";
}

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
  state_ = State::stopped;
  out.event("protocol_stopped", error.message());
  out.error = std::move(error);
}

Output TransportProcessor::receive(ByteView bytes, TimePoint now) {
  Output out;
  auto type = peek_type(bytes);
  if (!type) {
    out.error = type.error();
    if (state_ == State::awaiting_cwek_gen_info) stop(out, type.error());
    return out;
  }
  switch (static_cast<MessageType>(*type)) {
    case MessageType::tp_cert_req:  // a new run may start at any time (the SM rebooted)
      if (auto r = on_tp_cert_req(out, bytes, now); !r)
        stop(out, r.error());
      else
        state_ = State::awaiting_cwek_gen_info;
      return out;
    case MessageType::cwek_gen_info:
      if (state_ == State::awaiting_cwek_gen_info) {
        if (auto r = on_cwek_gen_info(out, bytes); !r)
          stop(out, r.error());
        else
          state_ = State::established;
        return out;
      }
      break;
    case MessageType::control_word:
      if (opener_) return on_control_word(out, bytes, now), out;
      break;
    default: break;
  }
  Error e{Errc::unexpected_message,
          fmt::format("{} in state {}", wire::type_name(static_cast<MessageType>(*type)), state_name(state_))};
  if (state_ == State::awaiting_cwek_gen_info)
    stop(out, std::move(e));
  else
    out.error = std::move(e);
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
  out.event("sm_certificate_verified", "SM_ID " + sm_id_.hex());
  out.send(Peer::sm, wire::encode({wire::Profile::koo2010, wire::TpCertRsp{identity_.certificate.der()}, {}}));
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
  out.event("keys_derived", "CWEK and HMAC_KEY derived for SM " + sm_id_.hex());
  out.send(Peer::sm, std::move(cnfm));
  return {};
}

void TransportProcessor::on_control_word(Output& out, ByteView bytes, TimePoint now) {
  auto cws = opener_->open(bytes, now);
  if (!cws) {
    out.error = cws.error();  // the last good control words stay in use
    out.event("control_word_refused", cws.error().message());
    return;
  }
  if (cws->odd) installed_.odd = cws->odd;
  if (cws->even) installed_.even = cws->even;
  installed_.cw_length = cws->cw_length;
  out.event("control_words_installed", fmt::format("sequence {}{}{}", opener_->last_sequence(), cws->odd ? ", odd" : "",
                                                   cws->even ? ", even" : ""));
}

std::optional<std::array<std::uint8_t, cw_slot_size>> TransportProcessor::control_word(Parity parity) const {
  return parity == Parity::odd ? installed_.odd : installed_.even;
}

}  // namespace dcas::protocol
