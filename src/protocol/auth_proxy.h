// The Authentication Proxy's part of pairing (paper IV.2.B steps 2 and 4), its announcements, and
// its session policy (docs/spec.md §9.3, §13.2).
//
// The AP serves many hosts at once; the caller numbers each host's connection (a session). Per
// session the AP keeps the SM it authenticated, whether a KeyRequest is at the TA (and until when
// it waits for the answer), and whether the TA validated that SM. From these it decides, without
// any I/O:
//   - a second KeyRequest while one is at the TA is refused; none is relayed while the TA link is
//     down (net_unavailable);
//   - an SM the TA validated on this session that runs the protocol again first has its presence
//     ended (HostPresence left), since the box proved itself here (spec §9.3);
//   - a host whose SM the TA may have validated (a pairing KPK relayed, or an answer that never
//     came) is reported gone when its session closes (HostPresence left, `must_arrive`);
//   - an answer not in by the answer timeout, or lost with the TA link, fails the request
//     (net_timeout / net_unavailable) and counts as "may have been validated";
//   - every presence interval, each validated session's presence is renewed (HostPresence present).
// Timers are the caller's: it asks next_expiry() and calls on_timeout(now) when that time comes.
#pragma once

#include <map>
#include <optional>

#include "pki/crl.h"
#include "protocol/role.h"

namespace dcas::protocol {

struct ApPolicy {
  std::chrono::milliseconds answer_timeout{15'000};      // for the TA's answer to a KeyRequest
  std::chrono::milliseconds presence_interval{200'000};  // presence renewals for validated hosts
};

class AuthProxy {
 public:
  // Errors: cert_* (the identity's own certificate is not a valid AP certificate).
  // `profile`: the handshake relayed (the other one's messages are refused: profile_mismatch).
  static Result<AuthProxy> create(Identity identity, crypto::RandomSource& rng, TimePoint now, ApPolicy policy = {},
                                  wire::Profile profile = wire::Profile::koo2010);

  // KeyRequest (SM->AP) on `session`: verify Cert(SM), the SM's signature and that the
  // KeyPairingID names this SM; re-encrypt for the TA and sign. Sends KeyRequest (AP->TA) on the
  // same session; a refusal goes back to the SM (Outgoing::refusal).
  Output receive_from_sm(std::uint64_t session, ByteView bytes, TimePoint now);
  // KeyResponse (TA->AP) on `session`: verify the TA's signature, re-encrypt the KPK for the SM of
  // that session, pass S(Prv(TA), KPK) through unchanged, sign. Sends KeyResponse (AP->SM), with
  // event KeyResponseRelayed for a pairing KPK or RefusalRelayed for the failure KPK. An answer on
  // a session with no request at the TA (late, or unsolicited) is refused and dropped.
  Output receive_from_ta(std::uint64_t session, ByteView bytes, TimePoint now);
  // The TA answered `session`'s request with an error: it goes back to the SM. Nothing was
  // recorded at the TA (it refuses before any transition), so nothing is reported later.
  Output ta_refused(std::uint64_t session, Error why);
  // The host of `session` went away: its presence ends if the TA may have validated its SM.
  Output close_session(std::uint64_t session, TimePoint now);
  // The link to the TA came up, or went down (every request at the TA fails: net_unavailable).
  void ta_link_up() { ta_reachable_ = true; }
  Output ta_link_down(TimePoint now);

  // The earliest time at which on_timeout has something to do.
  TimePoint next_expiry() const;
  // A new interval between presence renewals (a configuration reload): the next renewal is due
  // no later than one new interval from `now`; the caller re-reads next_expiry().
  void set_presence_interval(std::chrono::milliseconds interval, TimePoint now);
  std::chrono::milliseconds presence_interval() const { return policy_.presence_interval; }
  // Answer timeouts and presence renewals due at `now`.
  Output on_timeout(TimePoint now);

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

  // Forgets a session without reporting anything (tests; close_session is the host leaving).
  void drop_session(std::uint64_t session) { sessions_.erase(session); }
  // Sessions with a KeyRequest at the TA.
  std::size_t pending_sessions() const;
  // The SM last authenticated on `session`, if any.
  std::optional<SmId> session_sm(std::uint64_t session) const;

  // Revocation (docs/spec.md §18). A CRL from the TA: kept if it verifies under the TA root and is
  // newer than the one held (event CrlAdopted); an older one changes nothing. From then on a
  // KeyRequest or ImageKeyRequest of a revoked SM is refused (cert_revoked), a session whose SM it
  // revokes is no longer validated (its presence ends), and every announcement carries it.
  // Errors: crl_invalid.
  Output update_crl(ByteView der, TimePoint now);
  std::optional<std::uint64_t> crl_number() const {
    return crl_ ? std::optional<std::uint64_t>(crl_->number()) : std::nullopt;
  }

  // Signed announcements (the protocol's triggers) and presence reports to the TA.
  Result<Bytes> security_announce(ByteView network_id, std::uint64_t image_version);
  Result<Bytes> dcas_download(ByteView network_id, std::uint64_t image_version, const SmId& target);
  // A HostPresence and a KeyRequest (AP->TA) carry the AP's time, strictly increasing from one
  // message to the next (docs/spec.md §13.5), so the TA refuses any of them replayed.
  Result<Bytes> host_presence(const SmId& sm, bool present, TimePoint now);
  // A report kept for a new link (its first one was not acknowledged), signed again with a fresh
  // time. Errors: wire errors (not a HostPresence of this AP), crypto failures.
  Result<Bytes> renew_report(ByteView report, TimePoint now);

  const ApId& id() const { return id_; }
  wire::Profile profile() const { return profile_; }
  Bytes certificate_der() const { return identity_.certificate.der(); }

 private:
  struct Session {
    std::optional<SmId> sm;  // the SM last authenticated here
    std::optional<crypto::RsaPublicKey> sm_key;
    Bytes sm_serial;                      // of its certificate, for the CRL
    std::optional<TimePoint> answer_due;  // a KeyRequest is at the TA, awaited until then
    bool validated = false;               // the TA validated this SM here (a pairing KPK relayed)
    bool may_be_bound = false;            // the TA may have validated it: report it gone at the end
  };
  AuthProxy(Identity identity, ApId id, crypto::RandomSource& rng, ApPolicy policy, wire::Profile profile,
            TimePoint now)
      : identity_(std::move(identity)),
        id_(id),
        rng_(rng),
        policy_(policy),
        profile_(profile),
        next_renewal_(now + policy.presence_interval) {}
  Result<void> relay_request(Output& out, Session& s, std::uint64_t session, ByteView bytes, TimePoint now);
  Result<void> relay_response(Output& out, Session& s, std::uint64_t session, ByteView bytes);
  // Each profile's check of the SM's request: the authenticated SM and the request for the TA.
  struct Authenticated {
    pki::VerifiedDevice sm;
    Bytes request;
    Bytes serial;  // of Cert(SM)
  };
  Result<Authenticated> authenticate_koo2010(ByteView bytes, TimePoint now);
  Result<Authenticated> authenticate_h1(ByteView bytes, TimePoint now);
  // Each profile's relay of the TA's answer: the message for the SM, and whether it pairs.
  struct Relayed {
    Bytes response;
    bool paired = false;
  };
  Result<Relayed> relay_koo2010(const Session& s, ByteView bytes);
  Result<Relayed> relay_h1(const Session& s, ByteView bytes);
  void end_presence(Output& out, Session& s, TimePoint now);
  Result<void> refuse_revoked(const pki::Certificate& cert, std::string_view what) const;
  std::uint64_t link_time(TimePoint now);
  void fail_awaiting(Output& out, Session& s, std::uint64_t session, Error why);

  Identity identity_;
  ApId id_;
  crypto::RandomSource& rng_;
  ApPolicy policy_;
  wire::Profile profile_;
  std::map<std::uint64_t, Session> sessions_;
  std::uint64_t last_link_time_ = 0;  // the time of the last message to the TA, ms
  bool ta_reachable_ = true;
  TimePoint next_renewal_;
  pki::CertificateCache certificates_{256};
  std::optional<pki::Crl> crl_;
};

}  // namespace dcas::protocol
