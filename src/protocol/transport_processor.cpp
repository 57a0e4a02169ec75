#include "protocol/transport_processor.h"

#include <fmt/format.h>

#include "crypto/hash.h"
#include "protocol/derivation.h"
#include "protocol/envelope.h"
#include "protocol/pairing_statement.h"

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
constexpr Accepts koo2010_messages[] = {
    {MessageType::tp_cert_req, When::always},  // a new run may start at any time (the SM rebooted)
    {MessageType::cwek_gen_info, When::awaiting_cwek_gen_info},
    {MessageType::control_word, When::with_cw_keys},  // the CW channel, beside the handshake
};
constexpr Accepts hardened1_messages[] = {
    {MessageType::tp_cert_req_h1, When::always},  // a new run; the working keys stay until it completes
    {MessageType::cwek_gen_info_h1, When::awaiting_cwek_gen_info},
    {MessageType::control_word, When::with_cw_keys},
};

std::span<const Accepts> accepted_messages(wire::Profile p) {
  if (p == wire::Profile::hardened1) return hardened1_messages;
  return koo2010_messages;
}

}  // namespace

Result<TransportProcessor> TransportProcessor::create(Identity identity, NonVolatile<TpMemory>& memory,
                                                      crypto::RandomSource& rng, TimePoint now, CwPolicy policy,
                                                      wire::Profile profile) {
  DCAS_TRY_ASSIGN(self, pki::verify_device(identity.certificate, identity.ta_root, Role::tp, now));
  TpId id;
  id.bytes = self.id;
  TransportProcessor tp(std::move(identity), id, memory, rng, policy, profile);
  if (const auto held = memory.load(); held && !held->crl.empty()) {
    DCAS_TRY_ASSIGN(crl, pki::Crl::verified(held->crl, tp.identity_.ta_root));
    tp.crl_.emplace(std::move(crl));
  }
  return tp;
}

// Revocation (docs/spec.md §18): the host hands over each CRL an announcement carries; the TP
// trusts only the TA's signature on it.
Output TransportProcessor::update_crl(ByteView der) {
  Output out;
  std::optional<pki::Crl> held = crl_;
  auto adopted = pki::adopt_if_newer(held, der, identity_.ta_root);
  if (!adopted || !*adopted) {  // an older CRL never replaces a newer one
    if (!adopted) out.error = adopted.error();
    return out;
  }
  auto memory = memory_.load().value_or(TpMemory{});
  memory.crl = held->der();
  if (auto stored = memory_.store(memory); !stored) {
    out.error = stored.error();
    return out;
  }
  crl_ = std::move(held);
  out.event(events::CrlAdopted{crl_->number(), crl_->size()});
  std::string role, device;
  if (crl_->revokes(identity_.certificate))
    role = "tp", device = id_.hex();
  else if (!channel_sm_serial_.empty() && crl_->revokes(channel_sm_serial_))
    role = "sm", device = channel_sm_.hex();
  if (role.empty() || !opener_) return out;
  opener_.reset();
  installed_ = ControlWords{};
  out.event(events::CwChannelRevoked{role, device, crl_->number()});
  revoked_channel_ = Error{Errc::cert_revoked, fmt::format("{} {} is revoked (CRL {}): no more control words", role,
                                                           device, crl_->number())};
  stop(out, *revoked_channel_);
  return out;
}

TransportProcessor::TransportProcessor(Identity identity, TpId id, NonVolatile<TpMemory>& memory,
                                       crypto::RandomSource& rng, CwPolicy policy, wire::Profile profile)
    : identity_(std::move(identity)), id_(id), memory_(memory), rng_(rng), policy_(policy), profile_(profile) {}

void TransportProcessor::stop(Output& out, Error error) {
  state_ = Handshake::stopped;
  run_.reset();  // the ephemeral key goes with the run
  out.event(events::ProtocolStopped{error});
  out.error = std::move(error);
}

bool TransportProcessor::accepts(MessageType type) const {
  for (const auto& a : accepted_messages(profile_)) {
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
  auto type = peek_type(bytes, profile_);
  const bool mid_handshake = state_ == Handshake::awaiting_cwek_gen_info;
  if (!type) {
    out.error = type.error();
    if (mid_handshake) stop(out, type.error());
    return out;
  }
  const auto t = static_cast<MessageType>(*type);
  if (!accepts(t)) {
    Error e{Errc::unexpected_message, fmt::format("{} in state {}", wire::type_name(t), state_name(state_))};
    if (t == MessageType::control_word && revoked_channel_) e = *revoked_channel_;  // why there are no keys
    if (mid_handshake)
      stop(out, std::move(e));
    else
      out.error = std::move(e);
    return out;
  }
  switch (t) {
    case MessageType::tp_cert_req:
    case MessageType::tp_cert_req_h1: {
      auto r = t == MessageType::tp_cert_req ? on_tp_cert_req(out, bytes, now) : on_tp_cert_req_h1(out, bytes, now);
      if (!r)
        stop(out, r.error());
      else
        state_ = Handshake::awaiting_cwek_gen_info;
      break;
    }
    case MessageType::cwek_gen_info:
    case MessageType::cwek_gen_info_h1: {
      auto r = t == MessageType::cwek_gen_info ? on_cwek_gen_info(out, bytes) : on_cwek_gen_info_h1(out, bytes, now);
      if (!r)
        stop(out, r.error());
      else
        state_ = Handshake::established;
      break;
    }
    default: on_control_word(out, bytes, now); break;
  }
  return out;
}

// Initialization step 2: Cert(SM) verifies; SM_ID and Pub(SM) go to secure non-volatile memory.
Result<void> TransportProcessor::verify_sm(Output& out, ByteView certificate, TimePoint now) {
  sm_key_.reset();
  if (crl_ && crl_->revokes(identity_.certificate))
    return fail(Errc::cert_revoked, fmt::format("this TP is revoked (CRL {})", crl_->number()));
  DCAS_TRY_ASSIGN(cert, certificates_.parse(certificate));
  DCAS_TRY_ASSIGN(sm, pki::verify_device(cert, identity_.ta_root, Role::sm, now));
  if (crl_ && crl_->revokes(cert))
    return fail(Errc::cert_revoked, fmt::format("SM {} is revoked (CRL {})", to_hex(sm.id), crl_->number()));
  auto memory = memory_.load().value_or(TpMemory{});
  memory.sm_id.assign(sm.id.begin(), sm.id.end());
  memory.sm_public_key = sm.public_key_der;
  DCAS_TRY(memory_.store(memory));
  run_sm_serial_ = cert.serial();
  sm_id_.bytes = sm.id;
  sm_key_ = sm.public_key;
  out.event(events::SmCertificateVerified{sm_id_});
  return {};
}

Result<void> TransportProcessor::on_tp_cert_req(Output& out, ByteView bytes, TimePoint now) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::TpCertReq>(bytes));
  DCAS_TRY(verify_sm(out, m.second.sm_certificate, now));
  out.send(Role::sm, wire::encode({wire::Profile::koo2010, wire::TpCertRsp{identity_.certificate.der()}, {}}));
  return {};
}

// The new keys replace the working ones: called only once every check of the run has passed.
Result<void> TransportProcessor::install_keys(ByteView cwek, ByteView hmac_key) {
  // A CRL that arrived during the run: no channel with a revoked party.
  if (crl_ && (crl_->revokes(identity_.certificate) || crl_->revokes(run_sm_serial_)))
    return fail(Errc::cert_revoked,
                fmt::format("SM {} or this TP was revoked during the run (CRL {})", sm_id_.hex(), crl_->number()));
  DCAS_TRY_ASSIGN(opener, CwOpener::create(cwek, hmac_key, policy_));
  opener_.emplace(std::move(opener));
  installed_ = ControlWords{};
  channel_sm_ = sm_id_;
  channel_sm_serial_ = run_sm_serial_;
  revoked_channel_.reset();
  return {};
}

// hardened1 step 2 (docs/spec.md §17.4): a fresh nonce and ephemeral key, signed with the SM's
// nonce and ID, so that the TA and the SM both know this TP answered this run.
Result<void> TransportProcessor::on_tp_cert_req_h1(Output& out, ByteView bytes, TimePoint now) {
  run_.reset();
  DCAS_TRY_ASSIGN(m, decode_as<wire::TpCertReqH1>(bytes));
  DCAS_TRY(verify_sm(out, m.second.sm_certificate, now));
  DCAS_TRY_ASSIGN(nonce, rng_.bytes(nonce_size));
  DCAS_TRY_ASSIGN(ephemeral, crypto::X25519Key::generate(rng_));
  wire::TpCertRspH1 answer{Bytes(sm_id_.bytes.begin(), sm_id_.bytes.end()),
                           m.second.sm_nonce,
                           Bytes(nonce.begin(), nonce.end()),
                           ephemeral.public_key(),
                           {},
                           identity_.certificate.der()};
  DCAS_TRY_ASSIGN(encoded, sign_and_encode({wire::Profile::hardened1, std::move(answer), {}}, identity_.key, rng_));
  run_ = RunH1{m.second.sm_nonce, Bytes(nonce.begin(), nonce.end()), Bytes(bytes.begin(), bytes.end()), encoded,
               std::move(ephemeral)};
  out.send(Role::sm, std::move(encoded));
  return {};
}

// hardened1 step 7: the TA's statement speaks of this SM, this TP and this run; the SM proves it
// derived the same keys. Only then do the new keys replace the working ones.
Result<void> TransportProcessor::on_cwek_gen_info_h1(Output& out, ByteView bytes, TimePoint now) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::CwekGenInfoH1>(bytes));
  DCAS_TRY(verify_signature(m.first, *sm_key_, "SM"));
  DCAS_TRY_ASSIGN(accepted, accept_statement(m.second.pairing_statement, identity_.ta_root, identity_.key, Role::tp,
                                             {sm_id_, id_, run_->sm_nonce, run_->tp_nonce}, now));
  const auto& statement = accepted.statement;
  const auto& kpk = accepted.kpk;
  DCAS_TRY_ASSIGN(derived, run_key_schedule(*run_->ephemeral, m.second.ephemeral_key, view(kpk),
                                            {run_->request, run_->answer, statement.encoded, m.second.ephemeral_key}));
  const auto& keys = derived.keys;
  const auto& th = derived.transcript;
  const auto expected = key_confirmation(view(keys.confirm_key), "SM", th);
  if (!equal_ct(expected, m.second.confirmation))
    return fail(Errc::key_confirmation_failed, "the SM's key confirmation differs from the TP's");
  const auto mine = key_confirmation(view(keys.confirm_key), "TP", th);
  DCAS_TRY(install_keys(view(keys.cwek), view(keys.hmac_key)));
  run_.reset();
  out.event(events::KeysDerived{sm_id_});
  out.send(Role::sm,
           wire::encode({wire::Profile::hardened1, wire::CwekGenInfoCnfmH1{Bytes(mine.begin(), mine.end())}, {}}));
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
  DCAS_TRY(install_keys(view(cwek), view(hmac_key)));
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
