// The Authentication Proxy's part of pairing (paper IV.2.B steps 2 and 4) and its announcements.
//
// The AP serves many SMs at once. The caller gives each SM conversation a session number; the
// AP keeps, per session, the SM it authenticated until the TA's answer comes back on that session.
#pragma once

#include <map>
#include <optional>

#include "protocol/role.h"

namespace dcas::protocol {

class AuthProxy {
 public:
  // Errors: cert_* (the identity's own certificate is not a valid AP certificate).
  static Result<AuthProxy> create(Identity identity, crypto::RandomSource& rng, TimePoint now);

  // KeyRequest (SM->AP) on `session`: verify Cert(SM), the SM's signature and that the
  // KeyPairingID names this SM; re-encrypt for the TA and sign. Sends KeyRequest (AP->TA) on the
  // same session.
  Output receive_from_sm(std::uint64_t session, ByteView bytes, TimePoint now);
  // KeyResponse (TA->AP) on `session`: verify the TA's signature, re-encrypt the KPK for the SM of
  // that session, pass S(Prv(TA), KPK) through unchanged, sign. Sends KeyResponse (AP->SM), with
  // event "key_response_relayed" for a pairing KPK or "refusal_relayed" for the failure KPK.
  Output receive_from_ta(std::uint64_t session, ByteView bytes, TimePoint now);
  // Client image download step 1 (docs/spec.md, "Client image download"): ImageKeyRequest (SM->AP)
  // on `session`. Only an SM whose KeyRequest the TA validated on this session is served (the TA's
  // result relayed to the AP, paper Fig. 2 step 2); its signature is verified with the key from
  // its verified certificate, a fresh image key is drawn and sent under Pub(SM) in the signed
  // ImageKeyGrant for `offered_version`. The caller hands the key to the PS.
  // Errors: wire errors, image_not_authenticated, id_mismatch, signature_invalid, crypto failures.
  struct ImageGrant {
    SmId sm;
    std::uint64_t installed_version = 0;
    SecureBytes image_key;
    Bytes message;  // ImageKeyGrant (AP->SM)
  };
  Result<ImageGrant> grant_image_key(std::uint64_t session, ByteView bytes, std::uint64_t offered_version);

  // Forgets a session (the SM went away, or the TA did not answer in time).
  void drop_session(std::uint64_t session) {
    pending_.erase(session);
    validated_.erase(session);
  }
  std::size_t pending_sessions() const { return pending_.size(); }
  // The SM a session's request was made for, while the TA's answer is awaited.
  std::optional<SmId> pending_sm(std::uint64_t session) const {
    auto it = pending_.find(session);
    return it == pending_.end() ? std::nullopt : std::optional<SmId>(it->second.sm_id);
  }

  // Signed announcements (the protocol's triggers) and presence reports to the TA.
  Result<Bytes> security_announce(ByteView network_id, std::uint64_t image_version);
  Result<Bytes> dcas_download(ByteView network_id, std::uint64_t image_version, const SmId& target);
  Result<Bytes> host_presence(const SmId& sm, bool present);

  const ApId& id() const { return id_; }
  Bytes certificate_der() const { return identity_.certificate.der(); }

 private:
  struct Pending {
    SmId sm_id;
    crypto::RsaPublicKey sm_key;
  };
  AuthProxy(Identity identity, ApId id, crypto::RandomSource& rng)
      : identity_(std::move(identity)), id_(id), rng_(rng) {}
  Result<void> relay_request(Output& out, std::uint64_t session, ByteView bytes, TimePoint now);
  Result<void> relay_response(Output& out, std::uint64_t session, ByteView bytes);

  Identity identity_;
  ApId id_;
  crypto::RandomSource& rng_;
  std::map<std::uint64_t, Pending> pending_;
  std::map<std::uint64_t, Pending> validated_;  // sessions whose SM the TA validated (pairing KPK relayed)
  pki::CertificateCache certificates_{256};
};

}  // namespace dcas::protocol
