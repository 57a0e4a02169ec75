#include "protocol/auth_proxy.h"

#include <fmt/format.h>

#include "protocol/client_image.h"
#include "protocol/derivation.h"
#include "protocol/envelope.h"
#include "protocol/pairing_statement.h"

namespace dcas::protocol {

using wire::MessageType;

Result<AuthProxy> AuthProxy::create(Identity identity, crypto::RandomSource& rng, TimePoint now, ApPolicy policy,
                                    wire::Profile profile) {
  DCAS_TRY_ASSIGN(self, pki::verify_device(identity.certificate, identity.ta_root, Role::ap, now));
  ApId id;
  id.bytes = self.id;
  return AuthProxy(std::move(identity), id, rng, policy, profile, now);
}

namespace {
MessageType request_type(wire::Profile p) {
  return p == wire::Profile::hardened1 ? MessageType::key_request_sm_h1 : MessageType::key_request_sm;
}
MessageType response_type(wire::Profile p) {
  return p == wire::Profile::hardened1 ? MessageType::key_response_ta_h1 : MessageType::key_response_ta;
}
}  // namespace

std::size_t AuthProxy::pending_sessions() const {
  std::size_t n = 0;
  for (const auto& [session, s] : sessions_) n += s.answer_due.has_value();
  return n;
}

std::optional<SmId> AuthProxy::session_sm(std::uint64_t session) const {
  auto it = sessions_.find(session);
  return it == sessions_.end() ? std::nullopt : it->second.sm;
}

Output AuthProxy::receive_from_sm(std::uint64_t session, ByteView bytes, TimePoint now) {
  Output out;
  auto refuse = [&](Error why) {
    out.event(events::KeyRequestRefused{why});
    out.refuse(Role::sm, why, session);
    out.error = std::move(why);
    return out;
  };
  auto type = peek_type(bytes, profile_);
  if (!type) return refuse(type.error());
  if (*type != static_cast<std::uint8_t>(request_type(profile_)))
    return refuse(
        {Errc::unexpected_message, fmt::format("{} from an SM", wire::type_name(static_cast<MessageType>(*type)))});
  Session& s = sessions_[session];
  if (s.answer_due) return refuse({Errc::unexpected_message, "a KeyRequest of this host is already at the TA"});
  if (!ta_reachable_) return refuse({Errc::net_unavailable, "the TA is not reachable"});
  // The protocol terminates for this SM on a failed check (paper IV.2.B step 2).
  if (auto r = relay_request(out, s, session, bytes, now); !r) return refuse(r.error());
  return out;
}

std::uint64_t AuthProxy::link_time(TimePoint now) {
  // Strictly increasing even when two messages leave within the same millisecond or the clock
  // steps back: the TA takes each time only once.
  last_link_time_ = std::max(to_unix_ms(now), last_link_time_ + 1);
  return last_link_time_;
}

void AuthProxy::end_presence(Output& out, Session& s, TimePoint now) {
  if (!s.sm) return;
  auto report = host_presence(*s.sm, false, now);
  if (!report) {
    out.error = report.error();
    return;
  }
  out.event(events::PresenceEnded{*s.sm});
  out.messages.push_back({Role::ta, std::move(*report), 0, std::nullopt, true});
  s.may_be_bound = false;
}

Result<void> AuthProxy::refuse_revoked(const pki::Certificate& cert, std::string_view what) const {
  if (crl_ && crl_->revokes(cert))
    return fail(Errc::cert_revoked, fmt::format("{} {} is revoked (CRL {})", what, cert.common_name(), crl_->number()));
  return {};
}

Output AuthProxy::update_crl(ByteView der, TimePoint now) {
  Output out;
  auto adopted = pki::adopt_if_newer(crl_, der, identity_.ta_root);
  if (!adopted) {
    out.error = adopted.error();
    return out;
  }
  if (!*adopted) return out;
  out.event(events::CrlAdopted{crl_->number(), crl_->size()});
  for (auto& [session, s] : sessions_)
    if (!s.sm_serial.empty() && crl_->revokes(s.sm_serial)) {
      s.validated = false;  // no image key, no presence renewal
      end_presence(out, s, now);
    }
  return out;
}

// koo2010: the certificate rides outside the signature, so it must itself chain to the TA, as an
// SM's; the KeyPairingID is re-encrypted for the TA.
Result<AuthProxy::Authenticated> AuthProxy::authenticate_koo2010(ByteView bytes, TimePoint now) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::KeyRequestFromSm>(bytes));
  DCAS_TRY_ASSIGN(cert, certificates_.parse(m.second.sm_certificate));
  DCAS_TRY_ASSIGN(sm, pki::verify_device(cert, identity_.ta_root, Role::sm, now));
  DCAS_TRY(refuse_revoked(cert, "SM"));
  DCAS_TRY(verify_signature(m.first, sm.public_key, "SM"));
  DCAS_TRY_ASSIGN(kpid,
                  decrypt_exact(identity_.key, m.second.encrypted_key_pairing_id, key_pairing_id_size, "KeyPairingID"));
  // The SM may only ask for itself: the KeyPairingID's SM_ID is the one its certificate names.
  if (!equal_ct(ByteView(kpid).first(device_id_size), sm.id))
    return fail(Errc::id_mismatch, fmt::format("KeyPairingID names another SM than Cert(SM) ({})", to_hex(sm.id)));
  DCAS_TRY_ASSIGN(ta_key, identity_.ta_root.public_key());
  DCAS_TRY_ASSIGN(encrypted, encrypt_to(ta_key, view(kpid), rng_));
  DCAS_TRY_ASSIGN(
      request,
      sign_and_encode({wire::Profile::koo2010,
                       wire::KeyRequestFromAp{Bytes(id_.bytes.begin(), id_.bytes.end()), encrypted, link_time(now), {}},
                       {}},
                      identity_.key, rng_));
  return Authenticated{std::move(sm), std::move(request), cert.serial()};
}

// hardened1: the SM's request goes to the TA whole, under the AP's signature; the TA checks the
// TP's part. The AP checks the SM and that the TP answered this SM.
Result<AuthProxy::Authenticated> AuthProxy::authenticate_h1(ByteView bytes, TimePoint now) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::KeyRequestFromSmH1>(bytes));
  DCAS_TRY_ASSIGN(cert, certificates_.parse(m.second.sm_certificate));
  DCAS_TRY_ASSIGN(sm, pki::verify_device(cert, identity_.ta_root, Role::sm, now));
  DCAS_TRY(refuse_revoked(cert, "SM"));
  DCAS_TRY(verify_signature(m.first, sm.public_key, "SM"));
  DCAS_TRY_ASSIGN(hello, decode_as<wire::TpCertRspH1>(m.second.tp_hello));
  if (!equal_ct(hello.second.sm_id, sm.id))
    return fail(Errc::id_mismatch, fmt::format("the TP's answer names another SM than Cert(SM) ({})", to_hex(sm.id)));
  DCAS_TRY_ASSIGN(
      request,
      sign_and_encode(
          {wire::Profile::hardened1,
           wire::KeyRequestFromApH1{
               Bytes(id_.bytes.begin(), id_.bytes.end()), link_time(now), Bytes(bytes.begin(), bytes.end()), {}},
           {}},
          identity_.key, rng_));
  return Authenticated{std::move(sm), std::move(request), cert.serial()};
}

Result<void> AuthProxy::relay_request(Output& out, Session& s, std::uint64_t session, ByteView bytes, TimePoint now) {
  DCAS_TRY_ASSIGN(
      checked, profile_ == wire::Profile::hardened1 ? authenticate_h1(bytes, now) : authenticate_koo2010(bytes, now));
  SmId sm_id;
  sm_id.bytes = checked.sm.id;
  out.event(events::SmAuthenticated{sm_id});
  // The SM runs the protocol again where the TA validated it (DCASDownload, or a restart): the box
  // proved itself here, so its presence ends before the new request (spec §9.3).
  if (s.validated) end_presence(out, s, now);
  s.validated = false;  // a new run: image keys wait for the TA's new answer
  s.sm = sm_id;
  s.sm_key = checked.sm.public_key;
  s.sm_serial = std::move(checked.serial);
  s.answer_due = now + policy_.answer_timeout;
  out.send(Role::ta, std::move(checked.request), session);
  return {};
}

Output AuthProxy::receive_from_ta(std::uint64_t session, ByteView bytes, TimePoint) {
  Output out;
  auto type = peek_type(bytes, profile_);
  if (!type) return out.error = type.error(), out;
  auto it = sessions_.find(session);
  if (*type != static_cast<std::uint8_t>(response_type(profile_)) || it == sessions_.end() || !it->second.answer_due) {
    out.error = Error{Errc::unexpected_message, fmt::format("{} from the TA on session {} with no request pending",
                                                            wire::type_name(static_cast<MessageType>(*type)), session)};
    return out;
  }
  Session& s = it->second;
  s.answer_due.reset();
  if (auto r = relay_response(out, s, session, bytes); !r) {
    s.validated = false;
    out.error = r.error();
    out.event(events::KeyResponseRefused{r.error()});
    out.refuse(Role::sm, r.error(), session);
  }
  return out;
}

Result<AuthProxy::Relayed> AuthProxy::relay_koo2010(const Session& s, ByteView bytes) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::KeyResponseFromTa>(bytes));
  DCAS_TRY_ASSIGN(ta_key, identity_.ta_root.public_key());
  DCAS_TRY(verify_signature(m.first, ta_key, "TA"));
  DCAS_TRY_ASSIGN(kpk, decrypt_exact(identity_.key, m.second.encrypted_kpk, kpk_size, "KPK"));
  DCAS_TRY_ASSIGN(encrypted, encrypt_to(*s.sm_key, view(kpk), rng_));
  DCAS_TRY_ASSIGN(
      response,
      sign_and_encode({wire::Profile::koo2010, wire::KeyResponseFromAp{encrypted, m.second.ta_kpk_signature, {}}, {}},
                      identity_.key, rng_));
  return Relayed{std::move(response), !is_failure_kpk(view(kpk))};
}

// hardened1: the AP reads the statement's verdict but never sees the KPK (encrypted to the SM and
// the TP by the TA); it passes the statement on unchanged under its own signature.
Result<AuthProxy::Relayed> AuthProxy::relay_h1(const Session& s, ByteView bytes) {
  DCAS_TRY_ASSIGN(ta_key, identity_.ta_root.public_key());
  DCAS_TRY_ASSIGN(statement, open_statement(bytes, ta_key));
  if (statement.sm != *s.sm)
    return fail(Errc::id_mismatch, fmt::format("the TA's statement is about SM {}, this session's is {}",
                                               statement.sm.hex(), s.sm->hex()));
  DCAS_TRY_ASSIGN(
      response,
      sign_and_encode({wire::Profile::hardened1, wire::KeyResponseFromApH1{Bytes(bytes.begin(), bytes.end()), {}}, {}},
                      identity_.key, rng_));
  return Relayed{std::move(response), statement.paired};
}

Result<void> AuthProxy::relay_response(Output& out, Session& s, std::uint64_t session, ByteView bytes) {
  // A CRL adopted while the request was at the TA: the answer does not reach the revoked SM.
  if (crl_ && crl_->revokes(s.sm_serial))
    return fail(Errc::cert_revoked, fmt::format("SM {} was revoked (CRL {})", s.sm->hex(), crl_->number()));
  DCAS_TRY_ASSIGN(relayed, profile_ == wire::Profile::hardened1 ? relay_h1(s, bytes) : relay_koo2010(s, bytes));
  if (!relayed.paired) {
    out.event(events::RefusalRelayed{*s.sm});
    s.validated = false;
  } else {
    // Once the TA validated the SM here, its leaving is reported, whatever a later request gets.
    out.event(events::KeyResponseRelayed{*s.sm});
    s.validated = s.may_be_bound = true;
  }
  out.send(Role::sm, std::move(relayed.response), session);
  return {};
}

Output AuthProxy::ta_refused(std::uint64_t session, Error why) {
  Output out;
  auto it = sessions_.find(session);
  if (it == sessions_.end() || !it->second.answer_due) {
    out.error = Error{Errc::unexpected_message, fmt::format("an error from the TA on session {} with no request "
                                                            "pending: {}",
                                                            session, why.message())};
    return out;
  }
  it->second.answer_due.reset();
  out.refuse(Role::sm, std::move(why), session);
  return out;
}

void AuthProxy::fail_awaiting(Output& out, Session& s, std::uint64_t session, Error why) {
  s.answer_due.reset();
  s.may_be_bound = true;  // the TA may have validated the SM and its answer been lost
  if (s.sm) out.event(events::AnswerTimedOut{*s.sm, why});
  out.refuse(Role::sm, std::move(why), session);
}

Output AuthProxy::close_session(std::uint64_t session, TimePoint now) {
  Output out;
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return out;
  Session& s = it->second;
  if (s.answer_due) s.may_be_bound = true;  // the TA's answer is still out: it may have validated the SM
  if (s.may_be_bound) end_presence(out, s, now);
  sessions_.erase(it);
  return out;
}

Output AuthProxy::ta_link_down(TimePoint) {
  Output out;
  ta_reachable_ = false;
  for (auto& [session, s] : sessions_)
    if (s.answer_due) fail_awaiting(out, s, session, {Errc::net_unavailable, "lost the link to the TA"});
  return out;
}

void AuthProxy::set_presence_interval(std::chrono::milliseconds interval, TimePoint now) {
  policy_.presence_interval = interval;
  next_renewal_ = std::min(next_renewal_, now + interval);
}

TimePoint AuthProxy::next_expiry() const {
  TimePoint next = next_renewal_;
  for (const auto& [session, s] : sessions_)
    if (s.answer_due && *s.answer_due < next) next = *s.answer_due;
  return next;
}

Output AuthProxy::on_timeout(TimePoint now) {
  Output out;
  for (auto& [session, s] : sessions_)
    if (s.answer_due && *s.answer_due <= now)
      fail_awaiting(out, s, session, {Errc::net_timeout, "no answer from the TA in time"});
  if (now >= next_renewal_) {
    // Renewals are periodic: one lost is replaced by the next, so they need no acknowledgement.
    for (const auto& [session, s] : sessions_) {
      if (!s.validated || !s.sm) continue;
      auto report = host_presence(*s.sm, true, now);
      if (!report) {
        out.error = report.error();
        continue;
      }
      out.send(Role::ta, std::move(*report), 0);
    }
    next_renewal_ = now + policy_.presence_interval;
  }
  return out;
}

Result<AuthProxy::ImageGrant> AuthProxy::grant_image_key(std::uint64_t session, ByteView bytes,
                                                         std::uint64_t offered_version) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::ImageKeyRequest>(bytes));
  auto it = sessions_.find(session);
  if (it == sessions_.end() || !it->second.validated)
    return fail(Errc::image_not_authenticated, "no SM validated by the TA on this connection");
  const Session& sm = it->second;
  if (crl_ && crl_->revokes(sm.sm_serial))
    return fail(Errc::cert_revoked, fmt::format("SM {} is revoked (CRL {})", sm.sm->hex(), crl_->number()));
  if (!equal_ct(m.second.sm_id, sm.sm->view()))
    return fail(Errc::id_mismatch,
                "ImageKeyRequest names SM " + to_hex(m.second.sm_id) + ", the TA validated " + sm.sm->hex());
  DCAS_TRY(verify_signature(m.first, *sm.sm_key, "SM"));
  DCAS_TRY_ASSIGN(image_key, rng_.bytes(image_key_size));
  DCAS_TRY_ASSIGN(encrypted, encrypt_to(*sm.sm_key, view(image_key), rng_));
  DCAS_TRY_ASSIGN(
      grant,
      sign_and_encode({profile_,
                       wire::ImageKeyGrant{offered_version, m.second.sm_id, m.second.nonce, std::move(encrypted), {}},
                       {}},
                      identity_.key, rng_));
  return ImageGrant{*sm.sm, m.second.installed_version, std::move(image_key), std::move(grant)};
}

Result<Bytes> AuthProxy::security_announce(ByteView network_id, std::uint64_t image_version) {
  if (network_id.size() != 8) return fail(Errc::bad_length, "network ID must be 8 bytes");
  return sign_and_encode({profile_,
                          wire::SecurityAnnounce{Bytes(network_id.begin(), network_id.end()),
                                                 image_version,
                                                 {},
                                                 identity_.certificate.der(),
                                                 crl_ ? crl_->der() : Bytes{}},
                          {}},
                         identity_.key, rng_);
}

Result<Bytes> AuthProxy::dcas_download(ByteView network_id, std::uint64_t image_version, const SmId& target) {
  if (network_id.size() != 8) return fail(Errc::bad_length, "network ID must be 8 bytes");
  return sign_and_encode({profile_,
                          wire::DcasDownload{Bytes(network_id.begin(), network_id.end()),
                                             image_version,
                                             Bytes(target.bytes.begin(), target.bytes.end()),
                                             {},
                                             identity_.certificate.der(),
                                             crl_ ? crl_->der() : Bytes{}},
                          {}},
                         identity_.key, rng_);
}

Result<Bytes> AuthProxy::renew_report(ByteView report, TimePoint now) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::HostPresence>(report));
  if (!equal_ct(m.second.ap_id, id_.view())) return fail(Errc::id_mismatch, "a report of another AP");
  DCAS_TRY_ASSIGN(sm, SmId::from_bytes(m.second.sm_id));
  return host_presence(sm, m.second.presence[0] == 1, now);
}

Result<Bytes> AuthProxy::host_presence(const SmId& sm, bool present, TimePoint now) {
  return sign_and_encode({profile_,
                          wire::HostPresence{Bytes(id_.bytes.begin(), id_.bytes.end()),
                                             link_time(now),
                                             Bytes(sm.bytes.begin(), sm.bytes.end()),
                                             {static_cast<std::uint8_t>(present ? 1 : 0)},
                                             {}},
                          {}},
                         identity_.key, rng_);
}

}  // namespace dcas::protocol
