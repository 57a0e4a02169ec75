#include "protocol/secure_micro.h"

#include <fmt/format.h>

#include "crypto/hash.h"
#include "crypto/kex.h"
#include "protocol/client_image.h"
#include "protocol/derivation.h"
#include "protocol/envelope.h"
#include "protocol/pairing_statement.h"

namespace dcas::protocol {

using wire::MessageType;

std::string_view SecureMicro::state_name(State s) {
  switch (s) {
    case State::idle: return "idle";
    case State::awaiting_tp_certificate: return "awaiting_tp_certificate";
    case State::awaiting_key_response: return "awaiting_key_response";
    case State::awaiting_key_confirmation: return "awaiting_key_confirmation";
    case State::established: return "established";
    case State::stopped: return "stopped";
  }
  return "unknown";
}

Result<SecureMicro> SecureMicro::create(Identity identity, NonVolatile<SmMemory>& memory, crypto::RandomSource& rng,
                                        TimePoint now, wire::Profile profile) {
  DCAS_TRY_ASSIGN(self, pki::verify_device(identity.certificate, identity.ta_root, Role::sm, now));
  SmId id;
  id.bytes = self.id;
  SecureMicro sm(std::move(identity), id, memory, rng, profile);
  if (const auto held = memory.load(); held && !held->crl.empty()) {
    // Verified before it was stored; verified again, so a damaged memory cannot hold a forged one.
    DCAS_TRY_ASSIGN(crl, pki::Crl::verified(held->crl, sm.identity_.ta_root));
    sm.crl_.emplace(std::move(crl));
  }
  if (auto image = sm.installed_image()) {
    DCAS_TRY_ASSIGN(client, CaClient::create(id, view(image->ca_key)));
    DCAS_TRY(client.restore(memory.load()->entitlements));  // the product keys survive a power cycle
    sm.ca_client_.emplace(std::move(client));
  }
  return sm;
}

std::optional<InstalledImage> SecureMicro::installed_image() const {
  auto memory = memory_.load();
  return memory ? memory->image : std::nullopt;
}

SecureMicro::SecureMicro(Identity identity, SmId id, NonVolatile<SmMemory>& memory, crypto::RandomSource& rng,
                         wire::Profile profile)
    : identity_(std::move(identity)), id_(id), memory_(memory), rng_(rng), profile_(profile) {}

void SecureMicro::stop(Output& out, Error error) {
  state_ = State::stopped;
  download_ = Download::none;
  wipe(image_key_);
  sealer_.reset();
  cwek_.clear();
  hmac_key_.clear();
  run_.reset();
  out.event(events::ProtocolStopped{error});
  out.error = std::move(error);
}

Output SecureMicro::power_up(TimePoint now) {
  const auto memory = memory_.load().value_or(SmMemory{});
  if (memory.ap_certificate.empty()) {
    Output out;
    out.event(events::WaitingForAnnounce{});
    state_ = State::idle;
    return out;
  }
  return start(Trigger::power_up, now);
}

Output SecureMicro::start(Trigger trigger, TimePoint now) {
  Output out;
  if (crl_ && crl_->revokes(identity_.certificate))
    return stop(out, Error{Errc::cert_revoked, fmt::format("this SM is revoked (CRL {})", crl_->number())}), out;
  const auto memory = memory_.load().value_or(SmMemory{});
  // The AP certificate was verified when it arrived; it is checked again for the current time.
  auto ap_cert = certificates_.parse(memory.ap_certificate);
  if (!ap_cert) return stop(out, Error{Errc::no_announce, "no usable AP certificate"}), out;
  if (crl_ && crl_->revokes(*ap_cert))
    return stop(out, Error{Errc::cert_revoked, fmt::format("the stored AP is revoked (CRL {})", crl_->number())}), out;
  auto ap = pki::verify_device(*ap_cert, identity_.ta_root, Role::ap, now);
  if (!ap) return stop(out, ap.error()), out;
  ap_key_ = ap->public_key;
  tp_key_.reset();
  sealer_.reset();
  download_ = Download::none;  // a download in progress needs the new run's validation
  wipe(image_key_);
  run_.reset();
  state_ = State::awaiting_tp_certificate;
  out.event(events::ProtocolStarted{trigger});
  if (profile_ == wire::Profile::koo2010) {
    out.send(Role::tp, wire::encode({wire::Profile::koo2010, wire::TpCertReq{identity_.certificate.der()}, {}}));
    return out;
  }
  // hardened1 step 1: a fresh N_SM with Cert(SM).
  auto nonce = rng_.bytes(nonce_size);
  if (!nonce) return stop(out, nonce.error()), out;
  RunH1 run;
  run.sm_nonce.assign(nonce->begin(), nonce->end());
  run.request =
      wire::encode({wire::Profile::hardened1, wire::TpCertReqH1{run.sm_nonce, identity_.certificate.der()}, {}});
  out.send(Role::tp, run.request);
  run_ = std::move(run);
  return out;
}

namespace {

// Which message the SM accepts from whom, and when (docs/spec.md §9.1). Announcements may arrive
// at any time; the download's messages run beside the CW channel and are only refused out of turn;
// a handshake message out of turn stops a run in progress (paper IV.2: the protocol terminates).
enum class When {
  always,
  awaiting_tp_certificate,
  awaiting_key_response,
  awaiting_key_confirmation,
  awaiting_image_key,
  awaiting_image
};
struct Accepts {
  Role from;
  MessageType type;
  When when;
};
// Both profiles: the same steps; the handshake's message types are each profile's own.
constexpr Accepts koo2010_messages[] = {
    {Role::ap, MessageType::security_announce, When::always},
    {Role::ap, MessageType::dcas_download, When::always},
    {Role::tp, MessageType::tp_cert_rsp, When::awaiting_tp_certificate},
    {Role::ap, MessageType::key_response_ap, When::awaiting_key_response},
    {Role::tp, MessageType::cwek_gen_info_cnfm, When::awaiting_key_confirmation},
    {Role::ap, MessageType::image_key_grant, When::awaiting_image_key},
    {Role::ap, MessageType::client_image, When::awaiting_image},
};
constexpr Accepts hardened1_messages[] = {
    {Role::ap, MessageType::security_announce, When::always},
    {Role::ap, MessageType::dcas_download, When::always},
    {Role::tp, MessageType::tp_cert_rsp_h1, When::awaiting_tp_certificate},
    {Role::ap, MessageType::key_response_ap_h1, When::awaiting_key_response},
    {Role::tp, MessageType::cwek_gen_info_cnfm_h1, When::awaiting_key_confirmation},
    {Role::ap, MessageType::image_key_grant, When::awaiting_image_key},
    {Role::ap, MessageType::client_image, When::awaiting_image},
};

std::span<const Accepts> accepted_messages(wire::Profile p) {
  if (p == wire::Profile::hardened1) return hardened1_messages;
  return koo2010_messages;
}

bool is_download_message(MessageType t) { return t == MessageType::image_key_grant || t == MessageType::client_image; }

}  // namespace

bool SecureMicro::accepts(Role from, MessageType type) const {
  for (const auto& a : accepted_messages(profile_)) {
    if (a.from != from || a.type != type) continue;
    switch (a.when) {
      case When::always: return true;
      case When::awaiting_tp_certificate: return state_ == State::awaiting_tp_certificate;
      case When::awaiting_key_response: return state_ == State::awaiting_key_response;
      case When::awaiting_key_confirmation: return state_ == State::awaiting_key_confirmation;
      case When::awaiting_image_key: return download_ == Download::awaiting_image_key;
      case When::awaiting_image: return download_ == Download::awaiting_image;
    }
  }
  return false;
}

bool SecureMicro::mid_run() const {
  return state_ != State::idle && state_ != State::established && state_ != State::stopped;
}

Output SecureMicro::receive(Role from, ByteView bytes, TimePoint now) {
  Output out;
  auto type = peek_type(bytes, profile_);
  if (!type) {
    out.error = type.error();
    if (mid_run()) stop(out, type.error());
    return out;
  }
  const auto t = static_cast<MessageType>(*type);
  if (!accepts(from, t)) {
    if (from == Role::ap && is_download_message(t)) {
      out.error = Error{Errc::unexpected_message, fmt::format("{} with no download awaiting it", wire::type_name(t))};
      return out;
    }
    Error e{Errc::unexpected_message,
            fmt::format("{} from {} in state {}", wire::type_name(t), role_label(from), state_name(state_))};
    if (mid_run())
      stop(out, std::move(e));
    else
      out.error = std::move(e);
    return out;
  }
  switch (t) {
    case MessageType::security_announce: on_announcement(out, bytes, now, false); break;
    case MessageType::dcas_download: on_announcement(out, bytes, now, true); break;
    case MessageType::tp_cert_rsp:
    case MessageType::tp_cert_rsp_h1: on_tp_cert_rsp(out, bytes, now); break;
    case MessageType::key_response_ap:
    case MessageType::key_response_ap_h1: on_key_response(out, bytes, now); break;
    case MessageType::cwek_gen_info_cnfm:
    case MessageType::cwek_gen_info_cnfm_h1: on_cwek_gen_info_cnfm(out, bytes); break;
    case MessageType::image_key_grant: on_image_key_grant(out, bytes); break;
    default: on_client_image(out, bytes); break;
  }
  return out;
}

namespace {
// What a verified SecurityAnnounce or DCASDownload tells the SM.
struct Announcement {
  Bytes network_id;
  std::uint64_t image_version = 0;
  Bytes ap_certificate;
  bool addressed_to_us = true;
  Bytes crl;        // DER, empty: none carried
  Bytes ap_serial;  // of the verified Cert(AP)
};

// Whether the offered image is one this SM should fetch: version 0 offers none; an SM without an
// image, or with one of another network, takes any version; otherwise only a newer one.
bool needs_image(const SmMemory& memory, const Announcement& a) {
  if (a.image_version == 0) return false;
  if (!memory.image || memory.image->network_id != a.network_id) return true;
  return a.image_version > memory.image->version;
}
}  // namespace

void SecureMicro::on_announcement(Output& out, ByteView bytes, TimePoint now, bool download) {
  auto checked = [&]() -> Result<Announcement> {
    Announcement a;
    wire::Message message;
    if (download) {
      DCAS_TRY_ASSIGN(m, decode_as<wire::DcasDownload>(bytes));
      a = {m.second.network_id,
           m.second.image_version,
           m.second.ap_certificate,
           equal_ct(m.second.target_sm_id, id_.view()),
           m.second.crl,
           {}};
      message = std::move(m.first);
    } else {
      DCAS_TRY_ASSIGN(m, decode_as<wire::SecurityAnnounce>(bytes));
      a = {m.second.network_id, m.second.image_version, m.second.ap_certificate, true, m.second.crl, {}};
      message = std::move(m.first);
    }
    if (!a.addressed_to_us) return a;
    DCAS_TRY_ASSIGN(cert, certificates_.parse(a.ap_certificate));
    DCAS_TRY_ASSIGN(ap, pki::verify_device(cert, identity_.ta_root, Role::ap, now));
    DCAS_TRY(verify_signature(message, ap.public_key, "AP"));
    a.ap_serial = cert.serial();
    return a;
  }();
  if (!checked) {
    out.error = checked.error();  // a forged announcement does not disturb a run in progress
    out.event(events::AnnouncementRefused{checked.error()});
    return;
  }
  if (!checked->addressed_to_us) {
    out.event(events::DownloadIgnored{events::IgnoredBecause::addressed_to_another_sm});
    return;
  }
  // Revocation (docs/spec.md §18): the newest CRL, then whether it revokes the AP, this SM or its TP.
  auto refused = [&](Error e) {
    out.error = e;
    out.event(events::AnnouncementRefused{std::move(e)});
  };
  if (!checked->crl.empty())
    if (auto adopted = adopt_crl(out, checked->crl); !adopted) return refused(adopted.error());
  if (crl_ && crl_->revokes(checked->ap_serial))
    return refused({Errc::cert_revoked, fmt::format("the announcing AP is revoked (CRL {})", crl_->number())});
  if (cut_off_if_revoked(out)) return;
  auto memory = memory_.load().value_or(SmMemory{});
  const bool moved = memory.network_id != checked->network_id;
  const bool virgin = !memory.image;
  image_wanted_ = needs_image(memory, *checked);
  memory.network_id = checked->network_id;
  memory.ap_certificate = checked->ap_certificate;
  if (auto stored = memory_.store(memory); !stored) return stop(out, stored.error());

  std::optional<Trigger> trigger;
  if (download && !virgin)
    trigger = Trigger::dcas_download;
  else if (!download && virgin)
    trigger = Trigger::security_announce_virgin;
  else if (!download && moved)
    trigger = Trigger::security_announce_after_move;
  if (!trigger) {
    if (download)
      out.event(events::DownloadIgnored{events::IgnoredBecause::virgin_sm});
    else
      out.event(events::AnnounceNoChange{});
    return;
  }
  out.append(start(*trigger, now));
}

Result<void> SecureMicro::adopt_crl(Output& out, ByteView der) {
  std::optional<pki::Crl> held = crl_;
  DCAS_TRY_ASSIGN(adopted, pki::adopt_if_newer(held, der, identity_.ta_root));
  if (!adopted) return {};  // an older CRL never replaces a newer one
  auto memory = memory_.load().value_or(SmMemory{});
  memory.crl = held->der();
  DCAS_TRY(memory_.store(memory));  // kept only once it is in secure memory
  crl_ = std::move(held);
  out.event(events::CrlAdopted{crl_->number(), crl_->size()});
  return {};
}

std::optional<Error> SecureMicro::revocation() const {
  if (!crl_) return std::nullopt;
  if (crl_->revokes(identity_.certificate))
    return Error{Errc::cert_revoked, fmt::format("SM {} is revoked (CRL {})", id_.hex(), crl_->number())};
  if (!tp_serial_.empty() && crl_->revokes(tp_serial_))
    return Error{Errc::cert_revoked, fmt::format("TP {} is revoked (CRL {})", tp_id_.hex(), crl_->number())};
  return std::nullopt;
}

bool SecureMicro::cut_off_if_revoked(Output& out) {
  if (!crl_) return false;
  const bool self = crl_->revokes(identity_.certificate);
  if (!self && (tp_serial_.empty() || !crl_->revokes(tp_serial_))) return false;
  const std::string role = self ? "sm" : "tp", device = self ? id_.hex() : tp_id_.hex();
  // A revoked TP is forgotten with its channel: the next run verifies whichever TP the box has now.
  if (!self) tp_serial_.clear();
  // Reported once: a revoked SM stays stopped through every later announcement.
  if (state_ == State::stopped && !sealer_) return self;
  out.event(events::CwChannelRevoked{role, device, crl_->number()});
  stop(out, {Errc::cert_revoked,
             fmt::format("{} {} is revoked (CRL {}): no more control words", role, device, crl_->number())});
  return true;
}

Result<void> SecureMicro::remember_tp(Output& out, const pki::VerifiedDevice& tp, const pki::Certificate& cert) {
  if (crl_ && crl_->revokes(cert))
    return fail(Errc::cert_revoked, fmt::format("TP {} is revoked (CRL {})", to_hex(tp.id), crl_->number()));
  tp_serial_ = cert.serial();
  tp_id_.bytes = tp.id;
  tp_key_ = tp.public_key;
  auto memory = memory_.load().value_or(SmMemory{});
  memory.tp_id.assign(tp.id.begin(), tp.id.end());
  memory.tp_public_key = tp.public_key_der;
  DCAS_TRY(memory_.store(memory));
  out.event(events::TpCertificateVerified{tp_id_});
  return {};
}

Result<void> SecureMicro::tp_cert_rsp_checks(Output& out, ByteView bytes, TimePoint now) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::TpCertRsp>(bytes));
  DCAS_TRY_ASSIGN(cert, certificates_.parse(m.second.tp_certificate));
  DCAS_TRY_ASSIGN(tp, pki::verify_device(cert, identity_.ta_root, Role::tp, now));
  DCAS_TRY(remember_tp(out, tp, cert));
  // Pairing step 1: KeyRequest = E(Pub(AP), SM_ID || TP_ID), signed by the SM, Cert(SM) in clear.
  DCAS_TRY_ASSIGN(encrypted, encrypt_to(*ap_key_, key_pairing_id(id_, tp_id_), rng_));
  DCAS_TRY_ASSIGN(
      request,
      sign_and_encode({wire::Profile::koo2010, wire::KeyRequestFromSm{encrypted, {}, identity_.certificate.der()}, {}},
                      identity_.key, rng_));
  out.send(Role::ap, std::move(request));
  return {};
}

// hardened1 step 2 at the SM: the TP answered this run (its signature over our nonce and ID); the
// whole answer goes to the TA, which checks the same before it binds anything.
Result<void> SecureMicro::tp_cert_rsp_h1_checks(Output& out, ByteView bytes, TimePoint now) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::TpCertRspH1>(bytes));
  DCAS_TRY_ASSIGN(cert, certificates_.parse(m.second.tp_certificate));
  DCAS_TRY_ASSIGN(tp, pki::verify_device(cert, identity_.ta_root, Role::tp, now));
  if (!equal_ct(m.second.sm_id, id_.view())) return fail(Errc::id_mismatch, "the TP answered another SM");
  if (!equal_ct(m.second.sm_nonce, run_->sm_nonce)) return fail(Errc::not_fresh, "the TP answered another run");
  DCAS_TRY(verify_signature(m.first, tp.public_key, "TP"));
  DCAS_TRY(remember_tp(out, tp, cert));
  run_->answer.assign(bytes.begin(), bytes.end());
  run_->tp_nonce = m.second.tp_nonce;
  run_->tp_ephemeral = m.second.ephemeral_key;
  DCAS_TRY_ASSIGN(
      request,
      sign_and_encode({wire::Profile::hardened1,
                       wire::KeyRequestFromSmH1{to_unix_ms(now), run_->answer, {}, identity_.certificate.der()},
                       {}},
                      identity_.key, rng_));
  out.send(Role::ap, std::move(request));
  return {};
}

void SecureMicro::on_tp_cert_rsp(Output& out, ByteView bytes, TimePoint now) {
  auto result =
      profile_ == wire::Profile::koo2010 ? tp_cert_rsp_checks(out, bytes, now) : tp_cert_rsp_h1_checks(out, bytes, now);
  if (!result) return stop(out, result.error());
  state_ = State::awaiting_key_response;
}

Result<void> SecureMicro::key_response_checks(Output& out, ByteView bytes, TimePoint) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::KeyResponseFromAp>(bytes));
  DCAS_TRY(verify_signature(m.first, *ap_key_, "AP"));
  DCAS_TRY_ASSIGN(kpk, decrypt_exact(identity_.key, m.second.encrypted_kpk, kpk_size, "KPK"));
  DCAS_TRY_ASSIGN(ta_key, identity_.ta_root.public_key());
  if (!crypto::pss_verify(ta_key, view(kpk), m.second.ta_kpk_signature))
    return fail(Errc::signature_invalid, "TA signature on the KPK does not verify");
  // CWEK generation step 1: a KPK of twenty 0xFF bytes is the TA's refusal.
  if (is_failure_kpk(view(kpk))) return fail(Errc::pairing_refused, "the TA refused SM_ID/TP_ID (failure KPK)");
  out.event(events::KpkReceived{});

  DCAS_TRY_ASSIGN(rand_hmac, rng_.bytes(rand_hmac_size));
  DCAS_TRY_ASSIGN(cwek, derive_cwek(view(kpk), id_, tp_id_));
  DCAS_TRY_ASSIGN(hmac_key, derive_hmac_key(view(rand_hmac), id_, tp_id_));
  cwek_ = std::move(cwek);
  hmac_key_ = std::move(hmac_key);
  SecureBytes payload(kpk.begin(), kpk.end());
  payload.insert(payload.end(), rand_hmac.begin(), rand_hmac.end());
  DCAS_TRY_ASSIGN(encrypted, encrypt_to(*tp_key_, view(payload), rng_));
  DCAS_TRY_ASSIGN(
      info, sign_and_encode({wire::Profile::koo2010, wire::CwekGenInfo{encrypted, m.second.ta_kpk_signature, {}}, {}},
                            identity_.key, rng_));
  out.send(Role::tp, std::move(info));
  return {};
}

// hardened1 step 6 at the SM: the statement is about this run; the KPK only ever travelled
// encrypted to the SM and the TP. The CW keys come from it, a fresh X25519 exchange and the
// transcript, and the SM proves it holds them.
Result<void> SecureMicro::key_response_h1_checks(Output& out, ByteView bytes, TimePoint now) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::KeyResponseFromApH1>(bytes));
  DCAS_TRY(verify_signature(m.first, *ap_key_, "AP"));
  DCAS_TRY_ASSIGN(accepted, accept_statement(m.second.pairing_statement, identity_.ta_root, identity_.key, Role::sm,
                                             {id_, tp_id_, run_->sm_nonce, run_->tp_nonce}, now));
  const auto& statement = accepted.statement;
  const auto& kpk = accepted.kpk;
  out.event(events::KpkReceived{});
  DCAS_TRY_ASSIGN(ephemeral, crypto::X25519Key::generate(rng_));
  DCAS_TRY_ASSIGN(derived, run_key_schedule(ephemeral, run_->tp_ephemeral, view(kpk),
                                            {run_->request, run_->answer, statement.encoded, ephemeral.public_key()}));
  run_->transcript = derived.transcript;
  const auto confirmation = key_confirmation(view(derived.keys.confirm_key), "SM", run_->transcript);
  cwek_ = std::move(derived.keys.cwek);
  hmac_key_ = std::move(derived.keys.hmac_key);
  run_->confirm_key = std::move(derived.keys.confirm_key);
  DCAS_TRY_ASSIGN(
      info, sign_and_encode(
                {wire::Profile::hardened1,
                 wire::CwekGenInfoH1{
                     ephemeral.public_key(), statement.encoded, Bytes(confirmation.begin(), confirmation.end()), {}},
                 {}},
                identity_.key, rng_));
  out.send(Role::tp, std::move(info));
  return {};
}

void SecureMicro::on_key_response(Output& out, ByteView bytes, TimePoint now) {
  auto r = profile_ == wire::Profile::koo2010 ? key_response_checks(out, bytes, now)
                                              : key_response_h1_checks(out, bytes, now);
  if (!r) return stop(out, r.error());
  state_ = State::awaiting_key_confirmation;
}

Result<void> SecureMicro::cnfm_checks(Output& out, ByteView bytes) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::CwekGenInfoCnfm>(bytes));
  DCAS_TRY(verify_signature(m.first, *tp_key_, "TP"));
  DCAS_TRY_ASSIGN(hashes, decrypt_exact(identity_.key, m.second.encrypted_key_hashes, 64, "H(CWEK) || H(HMAC_KEY)"));
  const auto h_cwek = crypto::sha256(view(cwek_));
  const auto h_hmac = crypto::sha256(view(hmac_key_));
  // Both comparisons always run, in constant time: the result reveals nothing about which failed.
  const bool same = equal_ct(ByteView(hashes).first(32), h_cwek) & equal_ct(ByteView(hashes).subspan(32), h_hmac);
  if (!same) return fail(Errc::key_confirmation_failed, "the TP's key hashes differ from the SM's");
  DCAS_TRY_ASSIGN(sealer, CwSealer::create(view(cwek_), view(hmac_key_)));
  sealer_.emplace(std::move(sealer));
  out.event(events::KeysConfirmed{tp_id_});
  return {};
}

Result<void> SecureMicro::cnfm_h1_checks(Output& out, ByteView bytes) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::CwekGenInfoCnfmH1>(bytes));
  const auto expected = key_confirmation(view(run_->confirm_key), "TP", run_->transcript);
  if (!equal_ct(expected, m.second.confirmation))
    return fail(Errc::key_confirmation_failed, "the TP's key confirmation differs from the SM's");
  DCAS_TRY_ASSIGN(sealer, CwSealer::create(view(cwek_), view(hmac_key_)));
  sealer_.emplace(std::move(sealer));
  run_.reset();
  out.event(events::KeysConfirmed{tp_id_});
  return {};
}

void SecureMicro::on_cwek_gen_info_cnfm(Output& out, ByteView bytes) {
  auto r = profile_ == wire::Profile::koo2010 ? cnfm_checks(out, bytes) : cnfm_h1_checks(out, bytes);
  if (!r) return stop(out, r.error());
  // A CRL that arrived during the run: no channel with a revoked party.
  if (auto revoked = revocation()) return stop(out, *revoked);
  state_ = State::established;
}

// Download step 1: ImageKeyRequest = installed version, SM_ID, a fresh nonce, signed by the SM.
// The AP answers only on a connection whose KeyRequest the TA validated (paper Fig. 2 step 2).
Output SecureMicro::request_image() {
  Output out;
  if (state_ != State::established || download_ != Download::none) {
    out.error = Error{Errc::unexpected_message, fmt::format("no image download in state {}", state_name(state_))};
    return out;
  }
  auto request = [&]() -> Result<Bytes> {
    DCAS_TRY_ASSIGN(nonce, rng_.bytes(16));
    nonce_.assign(nonce.begin(), nonce.end());
    const auto image = installed_image();
    return sign_and_encode(
        {profile_,
         wire::ImageKeyRequest{image ? image->version : 0, Bytes(id_.bytes.begin(), id_.bytes.end()), nonce_, {}},
         {}},
        identity_.key, rng_);
  }();
  if (!request) return end_download(out, request.error()), out;
  image_wanted_ = false;
  download_ = Download::awaiting_image_key;
  out.event(events::ImageRequested{});
  out.send(Role::ap, std::move(*request));
  return out;
}

Result<void> SecureMicro::grant_checks(ByteView bytes) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::ImageKeyGrant>(bytes));
  DCAS_TRY(verify_signature(m.first, *ap_key_, "AP"));
  if (!equal_ct(m.second.sm_id, id_.view()) || !equal_ct(m.second.nonce, nonce_))
    return fail(Errc::image_wrong_target, "ImageKeyGrant names another SM or request");
  const auto memory = memory_.load().value_or(SmMemory{});
  if (memory.image && memory.image->network_id == memory.network_id && m.second.image_version < memory.image->version)
    return fail(Errc::image_downgrade,
                fmt::format("version {} offered, {} installed", m.second.image_version, memory.image->version));
  DCAS_TRY_ASSIGN(key, decrypt_exact(identity_.key, m.second.encrypted_image_key, image_key_size, "image key"));
  image_key_ = std::move(key);
  granted_version_ = m.second.image_version;
  return {};
}

void SecureMicro::on_image_key_grant(Output& out, ByteView bytes) {
  if (auto r = grant_checks(bytes); !r) return end_download(out, r.error());
  download_ = Download::awaiting_image;
  out.event(events::ImageKeyEstablished{granted_version_});
}

// The bootloader: the image is installed only when every check passed, in one durable write.
Result<InstalledImage> SecureMicro::install(ByteView bytes) {
  DCAS_TRY_ASSIGN(image, open_client_image(bytes, *ap_key_, view(image_key_), id_, granted_version_));
  auto memory = memory_.load().value_or(SmMemory{});
  if (image.network_id != memory.network_id)
    return fail(Errc::image_wrong_target, "image for network " + to_hex(image.network_id));
  DCAS_TRY_ASSIGN(client, CaClient::create(id_, view(image.ca_key)));
  // Product keys came under the old image's CA key: they stay only if the new image has the same.
  if (memory.image && equal_ct(view(memory.image->ca_key), view(image.ca_key)))
    DCAS_TRY(client.restore(memory.entitlements));
  else
    memory.entitlements.clear();
  const auto digest = crypto::sha256(image.code);
  memory.image = InstalledImage{image.network_id, image.version, image.ca_key, Bytes(digest.begin(), digest.end())};
  DCAS_TRY(memory_.store(memory));
  ca_client_.emplace(std::move(client));
  return *memory.image;
}

void SecureMicro::on_client_image(Output& out, ByteView bytes) {
  auto installed = install(bytes);
  if (!installed) return end_download(out, installed.error());
  download_ = Download::none;
  wipe(image_key_);
  const ByteView digest = ByteView(installed->code_digest).first(8);
  out.event(events::ImageInstalled{installed->version, Bytes(digest.begin(), digest.end())});
}

Output SecureMicro::abandon_download(Error why) {
  Output out;
  end_download(out, std::move(why));
  return out;
}

void SecureMicro::end_download(Output& out, Error error) {
  download_ = Download::none;
  wipe(image_key_);
  out.event(events::DownloadFailed{error});
  out.error = std::move(error);
}

Output SecureMicro::receive_cas(ByteView message, TimePoint now) {
  Output out;
  auto type = peek_type(message);
  if (!type) return out.error = type.error(), out;
  if (!ca_client_) return out.error = Error{Errc::no_image, "no CA client image installed"}, out;
  // Without the CW channel an ECM's control words could not leave: it is not consumed.
  if (static_cast<MessageType>(*type) == MessageType::ecm && (state_ != State::established || !sealer_))
    return out.error = Error{Errc::unexpected_message, "ECM with no CW channel to the TP"}, out;
  if (static_cast<MessageType>(*type) == MessageType::emm) {
    auto e = ca_client_->on_emm(message);
    if (!e) return out.error = e.error(), out;
    if (auto kept = keep_entitlements(); !kept) return out.error = kept.error(), out;
    out.event(events::Entitlement{e->product_id, e->expires_at, e->key_epoch});
    return out;
  }
  auto cws = ca_client_->on_ecm(message, now);
  if (!cws) return out.error = cws.error(), out;
  if (!*cws) return out;  // a repeat of the period already delivered
  if (auto kept = keep_entitlements(); !kept) return out.error = kept.error(), out;  // a retired epoch
  auto sealed = seal_control_words(**cws, now);
  if (!sealed) return out.error = sealed.error(), out;
  out.send(Role::tp, Bytes(sealed->begin(), sealed->end()));
  return out;
}

// The CA client's product keys to secure memory when they changed (EMMs repeat every period: most
// change nothing and cost no write).
Result<void> SecureMicro::keep_entitlements() {
  auto memory = memory_.load().value_or(SmMemory{});
  auto held = ca_client_->held();
  const auto same = [](const HeldProductKey& a, const HeldProductKey& b) {
    return a.entitlement.product_id == b.entitlement.product_id && a.entitlement.key_epoch == b.entitlement.key_epoch &&
           a.entitlement.issued_at == b.entitlement.issued_at && a.entitlement.expires_at == b.entitlement.expires_at;
  };
  if (std::equal(held.begin(), held.end(), memory.entitlements.begin(), memory.entitlements.end(), same)) return {};
  memory.entitlements = std::move(held);
  return memory_.store(memory);
}

Result<CwMessage> SecureMicro::seal_control_words(const ControlWords& cws, TimePoint now) {
  if (state_ != State::established || !sealer_)
    return fail(Errc::unexpected_message, fmt::format("no CW channel in state {}", state_name(state_)));
  return sealer_->seal(cws, now);
}

}  // namespace dcas::protocol
