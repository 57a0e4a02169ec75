// The Trusted Authority's part of pairing (paper IV.2.B step 3, Fig. 6): it validates the
// KeyPairingID against the pairing state and answers with a KPK, or with the failure KPK.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>

#include "pki/crl.h"
#include "protocol/pairing.h"
#include "protocol/role.h"

namespace dcas::protocol {

struct TaPolicy {
  // How long an Auth/Paired host counts as on the network after its last validation or presence
  // report from its AP (docs/spec.md, "Pairing state").
  std::chrono::seconds presence_lease{600};
  // hardened1 (docs/spec.md §17.5): a KeyRequest whose SM time is further than this from the TA's
  // clock is stale; a pairing statement is void this long after the TA signed it.
  std::chrono::seconds request_window{120};
  std::chrono::seconds statement_lifetime{60};
  // Both profiles (docs/spec.md §13.5): an AP's message whose time is further than this from the
  // TA's clock, or whose time the TA has already taken from that AP, is refused (not_fresh).
  std::chrono::seconds link_window{120};
  // Load-test identities (docs/spec.md §22) are refused unless the operator runs a load test.
  bool accept_load_test = false;
};

class TrustedAuthority {
 public:
  // `identity` holds the TA root key and certificate (the paper's Prv(TA)/Pub(TA)).
  // `profile`: the handshake validated (the other one's messages are refused: profile_mismatch).
  TrustedAuthority(Identity identity, PairingStore& store, crypto::RandomSource& rng, TaPolicy policy = {},
                   wire::Profile profile = wire::Profile::koo2010)
      : identity_(std::move(identity)), store_(store), rng_(rng), policy_(policy), profile_(profile) {}
  wire::Profile profile() const { return profile_; }

  // Admits an AP whose TA-issued certificate verifies and is not on the operator's CRL; returns its
  // ID. Errors: cert_* (cert_revoked), crl_invalid, the store's.
  Result<ApId> register_ap(const pki::Certificate& certificate, TimePoint now);
  // The operator's current CRL (DER), for the APs (docs/spec.md §18); empty before the first. A
  // registered AP it revokes is dropped: its requests are refused from then on (cert_revoked).
  // The TA server calls it at each AP's crl_request and on a timer of its own.
  // Errors: the store's, crl_invalid.
  Result<Bytes> current_crl();

  // A message from an AP on `session`: KeyRequest (AP->TA), answered on the same session, or
  // HostPresence. Safe to call from several threads at once when the store and the RandomSource
  // are (the network service does so; each transition is atomic in the store).
  Output receive(std::uint64_t session, ByteView bytes, TimePoint now);

 private:
  Result<void> on_key_request(Output& out, std::uint64_t session, ByteView bytes, TimePoint now);
  Result<void> on_key_request_h1(Output& out, std::uint64_t session, ByteView bytes, TimePoint now);
  Result<void> on_host_presence(Output& out, ByteView bytes, TimePoint now);
  // The pairing transition and the KPK it yields (the failure KPK on a refusal).
  struct Decision {
    bool paired = false;
    SecureBytes kpk;
  };
  Result<Decision> decide(Output& out, const SmId& sm, const TpId& tp, TimePoint now);
  Result<crypto::RsaPublicKey> ap_key(ByteView ap_id) const;
  // The link's freshness: each AP time once, within the window. Thread-safe.
  Result<void> take_ap_time(const ApId& ap, std::uint64_t issued_at, TimePoint now);

  Identity identity_;
  PairingStore& store_;
  crypto::RandomSource& rng_;
  TaPolicy policy_;
  wire::Profile profile_;
  // hardened1: the certificates in requests, parsed once (decoding a public key costs more than
  // verifying a signature with it, docs/performance.md).
  std::mutex certificates_mutex_;
  pki::CertificateCache certificates_{1024};
  Result<pki::VerifiedDevice> verify_certificate(ByteView der, Role role, TimePoint now);
  mutable std::shared_mutex aps_mutex_;
  struct RegisteredAp {
    crypto::RsaPublicKey key;
    Bytes serial;  // of its certificate, for the CRL
  };
  std::map<ApId, RegisteredAp> aps_;
  std::set<ApId> revoked_aps_;
  std::optional<pki::Crl> crl_;  // the newest CRL applied to aps_
  Result<void> apply_crl(ByteView der);
  std::mutex seen_mutex_;
  std::map<ApId, std::set<std::uint64_t>> seen_;  // per AP, the times taken within the window
};

}  // namespace dcas::protocol
