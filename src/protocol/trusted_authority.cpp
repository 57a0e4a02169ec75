#include "protocol/trusted_authority.h"

#include <fmt/format.h>

#include "pki/crl.h"
#include "protocol/envelope.h"
#include "protocol/pairing_statement.h"

namespace dcas::protocol {

using wire::MessageType;

// The caller holds aps_mutex_. The store's CRL, if newer than the one applied: every admitted AP
// it revokes is dropped. The numbers decide, so a CRL read before another thread applied a newer
// one changes nothing.
Result<void> TrustedAuthority::apply_crl(ByteView der) {
  DCAS_TRY_ASSIGN(adopted, pki::adopt_if_newer(crl_, der, identity_.ta_root));
  if (!adopted) return {};
  for (auto it = aps_.begin(); it != aps_.end();)
    if (crl_->revokes(it->second.serial)) {
      revoked_aps_.insert(it->first);
      it = aps_.erase(it);
    } else {
      ++it;
    }
  return {};
}

Result<ApId> TrustedAuthority::register_ap(const pki::Certificate& certificate, TimePoint now) {
  DCAS_TRY_ASSIGN(ap, pki::verify_device(certificate, identity_.ta_root, Role::ap, now));
  DCAS_TRY_ASSIGN(crl_der, store_.current_crl());
  ApId id;
  id.bytes = ap.id;
  std::unique_lock lock(aps_mutex_);
  if (!crl_der.empty()) DCAS_TRY(apply_crl(crl_der));
  if (crl_ && crl_->revokes(certificate))
    return fail(Errc::cert_revoked, fmt::format("AP {} is revoked (CRL {})", id.hex(), crl_->number()));
  aps_.insert_or_assign(id, RegisteredAp{ap.public_key, certificate.serial()});
  revoked_aps_.erase(id);  // a certificate the current CRL does not list
  return id;
}

Result<Bytes> TrustedAuthority::current_crl() {
  DCAS_TRY_ASSIGN(der, store_.current_crl());
  std::unique_lock lock(aps_mutex_);
  if (!der.empty()) DCAS_TRY(apply_crl(der));
  return der;
}

Result<crypto::RsaPublicKey> TrustedAuthority::ap_key(ByteView ap_id) const {
  DCAS_TRY_ASSIGN(id, ApId::from_bytes(ap_id));
  std::shared_lock lock(aps_mutex_);
  if (revoked_aps_.contains(id)) return fail(Errc::cert_revoked, "AP " + id.hex() + " is revoked");
  auto it = aps_.find(id);
  if (it == aps_.end()) return fail(Errc::unknown_device, "AP " + id.hex() + " is not registered with this TA");
  return it->second.key;
}

Result<void> TrustedAuthority::take_ap_time(const ApId& ap, std::uint64_t issued_at, TimePoint now) {
  const auto at = TimePoint(std::chrono::milliseconds(issued_at));
  if (at < now - policy_.link_window || at > now + policy_.link_window)
    return fail(Errc::not_fresh, fmt::format("AP {}'s message is outside the TA's time window", ap.hex()));
  std::lock_guard lock(seen_mutex_);
  auto& seen = seen_[ap];
  // Times older than the window are refused above, so they need not be remembered.
  const std::uint64_t oldest = to_unix_ms(now - policy_.link_window);
  seen.erase(seen.begin(), seen.lower_bound(oldest));
  if (!seen.insert(issued_at).second)
    return fail(Errc::not_fresh, fmt::format("AP {}'s message was seen before: a replay", ap.hex()));
  return {};
}

Output TrustedAuthority::receive(std::uint64_t session, ByteView bytes, TimePoint now) {
  Output out;
  auto type = peek_type(bytes, profile_);
  Result<void> r;
  if (!type)
    r = std::unexpected(type.error());
  else
    switch (static_cast<MessageType>(*type)) {
      case MessageType::key_request_ap: r = on_key_request(out, session, bytes, now); break;
      case MessageType::key_request_ap_h1: r = on_key_request_h1(out, session, bytes, now); break;
      case MessageType::host_presence: r = on_host_presence(out, bytes, now); break;
      default:
        r = fail(Errc::unexpected_message,
                 fmt::format("{} sent to the TA", wire::type_name(static_cast<MessageType>(*type))));
    }
  if (!r) {
    out.error = r.error();  // discarded: no answer (paper IV.2.B step 3)
    out.event(events::RequestRefused{r.error()});
  }
  return out;
}

Result<void> TrustedAuthority::on_key_request(Output& out, std::uint64_t session, ByteView bytes, TimePoint now) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::KeyRequestFromAp>(bytes));
  DCAS_TRY_ASSIGN(ap, ap_key(m.second.ap_id));
  DCAS_TRY(verify_signature(m.first, ap, "AP"));
  DCAS_TRY(take_ap_time(ApId::from_bytes(m.second.ap_id).value(), m.second.issued_at, now));
  DCAS_TRY_ASSIGN(kpid,
                  decrypt_exact(identity_.key, m.second.encrypted_key_pairing_id, key_pairing_id_size, "KeyPairingID"));
  DCAS_TRY_ASSIGN(sm, SmId::from_bytes(ByteView(kpid).first(device_id_size)));
  DCAS_TRY_ASSIGN(tp, TpId::from_bytes(ByteView(kpid).subspan(device_id_size)));

  DCAS_TRY_ASSIGN(decision, decide(out, sm, tp, now));
  const SecureBytes& kpk = decision.kpk;
  DCAS_TRY_ASSIGN(kpk_signature, crypto::pss_sign(identity_.key, view(kpk), rng_));
  DCAS_TRY_ASSIGN(encrypted, encrypt_to(ap, view(kpk), rng_));
  DCAS_TRY_ASSIGN(response,
                  sign_and_encode({wire::Profile::koo2010, wire::KeyResponseFromTa{encrypted, kpk_signature, {}}, {}},
                                  identity_.key, rng_));
  out.send(Role::ap, std::move(response), session);
  return {};
}

Result<pki::VerifiedDevice> TrustedAuthority::verify_certificate(ByteView der, Role role, TimePoint now) {
  Result<pki::Certificate> cert = [&] {
    std::lock_guard lock(certificates_mutex_);
    return certificates_.parse(der);
  }();
  if (!cert) return std::unexpected(cert.error());
  return pki::verify_device(*cert, identity_.ta_root, role, now);
}

Result<TrustedAuthority::Decision> TrustedAuthority::decide(Output& out, const SmId& sm, const TpId& tp,
                                                            TimePoint now) {
  if (!policy_.accept_load_test && (is_load_test_id(sm.view()) || is_load_test_id(tp.view())))
    return fail(
        Errc::load_test_identity,
        fmt::format("SM {} or TP {} is a load-test identity, and this TA runs no load test", sm.hex(), tp.hex()));
  // One atomic, durable transition; the KPK is computed and sent only after it is recorded.
  DCAS_TRY_ASSIGN(outcome, store_.validate_and_record(sm, tp, now, policy_.presence_lease));
  if (outcome.verdict == Verdict::refused_unknown)
    return fail(Errc::unknown_device, fmt::format("no record for SM {} and TP {}", sm.hex(), tp.hex()));
  if (outcome.verdict == Verdict::refused_revoked) {  // like an unknown device: no KeyResponse at all
    out.event(events::PairingRefused{sm, tp, outcome.verdict});
    return fail(Errc::cert_revoked, fmt::format("the operator revoked SM {} or TP {}", sm.hex(), tp.hex()));
  }
  if (!verdict_succeeds(outcome.verdict)) {
    out.event(events::PairingRefused{sm, tp, outcome.verdict});
    return Decision{false, failure_kpk()};
  }
  DCAS_TRY_ASSIGN(rand, rng_.bytes(rand_size));
  DCAS_TRY_ASSIGN(kpk, derive_kpk(outcome.sm->ki, sm, tp, view(rand)));
  out.event(events::PairingValidated{sm, tp, outcome.verdict});
  return Decision{true, std::move(kpk)};
}

// hardened1 (docs/spec.md §17.5): the TA checks the whole run before it binds anything: the AP,
// the SM and its time, and the TP's signature over this SM's nonce. Its answer is a statement about
// that run, the KPK encrypted to the SM and the TP only.
Result<void> TrustedAuthority::on_key_request_h1(Output& out, std::uint64_t session, ByteView bytes, TimePoint now) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::KeyRequestFromApH1>(bytes));
  DCAS_TRY_ASSIGN(ap, ap_key(m.second.ap_id));
  DCAS_TRY(verify_signature(m.first, ap, "AP"));
  DCAS_TRY(take_ap_time(ApId::from_bytes(m.second.ap_id).value(), m.second.issued_at, now));
  DCAS_TRY_ASSIGN(request, decode_as<wire::KeyRequestFromSmH1>(m.second.sm_request));
  DCAS_TRY_ASSIGN(sm, verify_certificate(request.second.sm_certificate, Role::sm, now));
  DCAS_TRY(verify_signature(request.first, sm.public_key, "SM"));
  const auto issued = TimePoint(std::chrono::milliseconds(request.second.issued_at));
  if (issued < now - policy_.request_window || issued > now + policy_.request_window)
    return fail(Errc::not_fresh, "the KeyRequest's time is outside the TA's window");
  DCAS_TRY_ASSIGN(hello, decode_as<wire::TpCertRspH1>(request.second.tp_hello));
  DCAS_TRY_ASSIGN(tp, verify_certificate(hello.second.tp_certificate, Role::tp, now));
  DCAS_TRY(verify_signature(hello.first, tp.public_key, "TP"));
  if (!equal_ct(hello.second.sm_id, sm.id)) return fail(Errc::id_mismatch, "the TP answered another SM");
  SmId sm_id;
  sm_id.bytes = sm.id;
  TpId tp_id;
  tp_id.bytes = tp.id;

  DCAS_TRY_ASSIGN(decision, decide(out, sm_id, tp_id, now));
  DCAS_TRY_ASSIGN(statement, make_statement({sm_id, tp_id, hello.second.sm_nonce, hello.second.tp_nonce,
                                             decision.paired, now + policy_.statement_lifetime},
                                            view(decision.kpk), sm.public_key, tp.public_key, identity_.key, rng_));
  out.send(Role::ap, std::move(statement), session);
  return {};
}

Result<void> TrustedAuthority::on_host_presence(Output& out, ByteView bytes, TimePoint now) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::HostPresence>(bytes));
  DCAS_TRY_ASSIGN(ap, ap_key(m.second.ap_id));
  DCAS_TRY(verify_signature(m.first, ap, "AP"));
  DCAS_TRY(take_ap_time(ApId::from_bytes(m.second.ap_id).value(), m.second.issued_at, now));
  DCAS_TRY_ASSIGN(sm, SmId::from_bytes(m.second.sm_id));
  const std::uint8_t presence = m.second.presence[0];
  if (presence > 1) return fail(Errc::bad_plaintext, "presence must be 0 (left) or 1 (present)");
  if (presence == 0) {
    DCAS_TRY_ASSIGN(psi, store_.record_left(sm, now));
    out.event(events::HostLeft{sm, psi});
  } else {
    DCAS_TRY_ASSIGN(psi, store_.record_present(sm, now, policy_.presence_lease));
    out.event(events::HostPresent{sm, psi});
  }
  return {};
}

}  // namespace dcas::protocol
