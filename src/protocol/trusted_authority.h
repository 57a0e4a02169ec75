// The Trusted Authority's part of pairing (paper IV.2.B step 3, Fig. 6): it validates the
// KeyPairingID against the pairing state and answers with a KPK, or with the failure KPK.
#pragma once

#include <chrono>
#include <map>
#include <shared_mutex>

#include "protocol/pairing.h"
#include "protocol/role.h"

namespace dcas::protocol {

struct TaPolicy {
  // How long an Auth/Paired host counts as on the network after its last validation or presence
  // report from its AP (docs/spec.md, "Pairing state").
  std::chrono::seconds presence_lease{600};
};

class TrustedAuthority {
 public:
  // `identity` holds the TA root key and certificate (the paper's Prv(TA)/Pub(TA)).
  TrustedAuthority(Identity identity, PairingStore& store, crypto::RandomSource& rng, TaPolicy policy = {})
      : identity_(std::move(identity)), store_(store), rng_(rng), policy_(policy) {}

  // Admits an AP whose TA-issued certificate verifies; returns its ID. Errors: cert_*.
  Result<ApId> register_ap(const pki::Certificate& certificate, TimePoint now);

  // A message from an AP on `session`: KeyRequest (AP->TA), answered on the same session, or
  // HostPresence. Safe to call from several threads at once when the store and the RandomSource
  // are (the network service does so; each transition is atomic in the store).
  Output receive(std::uint64_t session, ByteView bytes, TimePoint now);

 private:
  Result<void> on_key_request(Output& out, std::uint64_t session, ByteView bytes, TimePoint now);
  Result<void> on_host_presence(Output& out, ByteView bytes, TimePoint now);
  Result<crypto::RsaPublicKey> ap_key(ByteView ap_id) const;

  Identity identity_;
  PairingStore& store_;
  crypto::RandomSource& rng_;
  TaPolicy policy_;
  mutable std::shared_mutex aps_mutex_;
  std::map<ApId, crypto::RsaPublicKey> aps_;
};

}  // namespace dcas::protocol
