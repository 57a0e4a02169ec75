#include "protocol/auth_proxy.h"

#include <fmt/format.h>

#include "protocol/client_image.h"
#include "protocol/derivation.h"
#include "protocol/envelope.h"

namespace dcas::protocol {

using wire::MessageType;

Result<AuthProxy> AuthProxy::create(Identity identity, crypto::RandomSource& rng, TimePoint now) {
  DCAS_TRY_ASSIGN(self, pki::verify_device(identity.certificate, identity.ta_root, Role::ap, now));
  ApId id;
  id.bytes = self.id;
  return AuthProxy(std::move(identity), id, rng);
}

Output AuthProxy::receive_from_sm(std::uint64_t session, ByteView bytes, TimePoint now) {
  Output out;
  auto type = peek_type(bytes);
  if (!type) return out.error = type.error(), out;
  if (*type != static_cast<std::uint8_t>(MessageType::key_request_sm)) {
    out.error =
        Error{Errc::unexpected_message, fmt::format("{} from an SM", wire::type_name(static_cast<MessageType>(*type)))};
    return out;
  }
  if (auto r = relay_request(out, session, bytes, now); !r) {
    pending_.erase(session);
    out.error = r.error();  // discarded; the protocol terminates for this SM (paper IV.2.B step 2)
    out.event("key_request_refused", r.error().message());
    return out;
  }
  validated_.erase(session);  // a new run: image keys wait for the TA's new answer
  return out;
}

Result<void> AuthProxy::relay_request(Output& out, std::uint64_t session, ByteView bytes, TimePoint now) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::KeyRequestFromSm>(bytes));
  // The certificate rides outside the signature: it must itself chain to the TA, as an SM's.
  DCAS_TRY_ASSIGN(cert, certificates_.parse(m.second.sm_certificate));
  DCAS_TRY_ASSIGN(sm, pki::verify_device(cert, identity_.ta_root, Role::sm, now));
  DCAS_TRY(verify_signature(m.first, sm.public_key, "SM"));
  DCAS_TRY_ASSIGN(kpid,
                  decrypt_exact(identity_.key, m.second.encrypted_key_pairing_id, key_pairing_id_size, "KeyPairingID"));
  // The SM may only ask for itself: the KeyPairingID's SM_ID is the one its certificate names.
  if (!equal_ct(ByteView(kpid).first(device_id_size), sm.id))
    return fail(Errc::id_mismatch, fmt::format("KeyPairingID names another SM than Cert(SM) ({})", to_hex(sm.id)));
  SmId sm_id;
  sm_id.bytes = sm.id;
  out.event("sm_authenticated", "SM_ID " + sm_id.hex());

  DCAS_TRY_ASSIGN(ta_key, identity_.ta_root.public_key());
  DCAS_TRY_ASSIGN(encrypted, encrypt_to(ta_key, view(kpid), rng_));
  DCAS_TRY_ASSIGN(request,
                  sign_and_encode({wire::Profile::koo2010,
                                   wire::KeyRequestFromAp{Bytes(id_.bytes.begin(), id_.bytes.end()), encrypted, {}},
                                   {}},
                                  identity_.key, rng_));
  pending_.insert_or_assign(session, Pending{sm_id, sm.public_key});
  out.send(Peer::ta, std::move(request), session);
  return {};
}

Output AuthProxy::receive_from_ta(std::uint64_t session, ByteView bytes, TimePoint) {
  Output out;
  auto type = peek_type(bytes);
  if (!type) return out.error = type.error(), out;
  if (*type != static_cast<std::uint8_t>(MessageType::key_response_ta) || !pending_.contains(session)) {
    out.error = Error{Errc::unexpected_message, fmt::format("{} from the TA on session {} with no request pending",
                                                            wire::type_name(static_cast<MessageType>(*type)), session)};
    return out;
  }
  if (auto r = relay_response(out, session, bytes); !r) {
    validated_.erase(session);
    out.error = r.error();
    out.event("key_response_refused", r.error().message());
  }
  pending_.erase(session);
  return out;
}

Result<void> AuthProxy::relay_response(Output& out, std::uint64_t session, ByteView bytes) {
  const Pending& pending = pending_.at(session);
  DCAS_TRY_ASSIGN(m, decode_as<wire::KeyResponseFromTa>(bytes));
  DCAS_TRY_ASSIGN(ta_key, identity_.ta_root.public_key());
  DCAS_TRY(verify_signature(m.first, ta_key, "TA"));
  DCAS_TRY_ASSIGN(kpk, decrypt_exact(identity_.key, m.second.encrypted_kpk, kpk_size, "KPK"));
  DCAS_TRY_ASSIGN(encrypted, encrypt_to(pending.sm_key, view(kpk), rng_));
  DCAS_TRY_ASSIGN(
      response,
      sign_and_encode({wire::Profile::koo2010, wire::KeyResponseFromAp{encrypted, m.second.ta_kpk_signature, {}}, {}},
                      identity_.key, rng_));
  const bool refused = is_failure_kpk(view(kpk));
  out.event(refused ? "refusal_relayed" : "key_response_relayed", "to SM " + pending.sm_id.hex());
  out.send(Peer::sm, std::move(response), session);
  if (refused)
    validated_.erase(session);
  else
    validated_.insert_or_assign(session, pending);
  return {};
}

Result<AuthProxy::ImageGrant> AuthProxy::grant_image_key(std::uint64_t session, ByteView bytes,
                                                         std::uint64_t offered_version) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::ImageKeyRequest>(bytes));
  auto it = validated_.find(session);
  if (it == validated_.end())
    return fail(Errc::image_not_authenticated, "no SM validated by the TA on this connection");
  const Pending& sm = it->second;
  if (!equal_ct(m.second.sm_id, sm.sm_id.view()))
    return fail(Errc::id_mismatch,
                "ImageKeyRequest names SM " + to_hex(m.second.sm_id) + ", the TA validated " + sm.sm_id.hex());
  DCAS_TRY(verify_signature(m.first, sm.sm_key, "SM"));
  DCAS_TRY_ASSIGN(image_key, rng_.bytes(image_key_size));
  DCAS_TRY_ASSIGN(encrypted, encrypt_to(sm.sm_key, view(image_key), rng_));
  DCAS_TRY_ASSIGN(
      grant,
      sign_and_encode({wire::Profile::koo2010,
                       wire::ImageKeyGrant{offered_version, m.second.sm_id, m.second.nonce, std::move(encrypted), {}},
                       {}},
                      identity_.key, rng_));
  return ImageGrant{sm.sm_id, m.second.installed_version, std::move(image_key), std::move(grant)};
}

Result<Bytes> AuthProxy::security_announce(ByteView network_id, std::uint64_t image_version) {
  if (network_id.size() != 8) return fail(Errc::bad_length, "network ID must be 8 bytes");
  return sign_and_encode(
      {wire::Profile::koo2010,
       wire::SecurityAnnounce{
           Bytes(network_id.begin(), network_id.end()), image_version, {}, identity_.certificate.der()},
       {}},
      identity_.key, rng_);
}

Result<Bytes> AuthProxy::dcas_download(ByteView network_id, std::uint64_t image_version, const SmId& target) {
  if (network_id.size() != 8) return fail(Errc::bad_length, "network ID must be 8 bytes");
  return sign_and_encode({wire::Profile::koo2010,
                          wire::DcasDownload{Bytes(network_id.begin(), network_id.end()),
                                             image_version,
                                             Bytes(target.bytes.begin(), target.bytes.end()),
                                             {},
                                             identity_.certificate.der()},
                          {}},
                         identity_.key, rng_);
}

Result<Bytes> AuthProxy::host_presence(const SmId& sm, bool present) {
  return sign_and_encode({wire::Profile::koo2010,
                          wire::HostPresence{Bytes(id_.bytes.begin(), id_.bytes.end()),
                                             Bytes(sm.bytes.begin(), sm.bytes.end()),
                                             {static_cast<std::uint8_t>(present ? 1 : 0)},
                                             {}},
                          {}},
                         identity_.key, rng_);
}

}  // namespace dcas::protocol
