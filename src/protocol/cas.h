// The CAS's key hierarchy (docs/spec.md, "CAS"): the headend's EMMs carry a product key to one SM
// under that SM's CA key (from its personalized client image); its ECMs carry a channel's odd/even
// control words under the product key. Both are encrypt-then-MAC: AES-128-CBC under a cipher key
// and HMAC-SHA1 under a MAC key, the two derived from the 16-byte CA or product key.
//
// The headend seals (seal_emm, seal_ecm); the CA client in the SM opens (CaClient), and releases
// control words only for products it holds a current entitlement to.
#pragma once

#include <map>

#include "protocol/cw_channel.h"

namespace dcas::protocol {

inline constexpr std::size_t cas_key_size = 16;  // CA keys and product keys

// cipher = SHA-256(0x01 || "DCAS CAS" || K)[0..16), mac = SHA-256(0x02 || "DCAS CAS" || K)[0..20).
struct CasKeys {
  SecureBytes cipher;
  SecureBytes mac;
};
// Errors: bad_length (K not 16 bytes).
Result<CasKeys> derive_cas_keys(ByteView key);

struct Entitlement {
  std::uint64_t product_id = 0;
  std::uint64_t expires_at = 0;  // seconds since the Unix epoch
  std::uint64_t issued_at = 0;   // ms since the Unix epoch: the CA client refuses an EMM older than one it took
  std::uint64_t key_epoch = 1;   // which of the product's keys the EMM carries (docs/spec.md §15.4)
};

// A product key the CA client holds, with the entitlement of the EMM that brought it: what the SM
// keeps in its secure memory across power cycles.
struct HeldProductKey {
  Entitlement entitlement;
  SecureBytes key;  // 16 bytes
};

// Errors: bad_length, random_failure, crypto_failure.
Result<Bytes> seal_emm(ByteView ca_key, const SmId& sm, const Entitlement& e, ByteView product_key,
                       crypto::RandomSource& rng);
// `cws`: both slots (the period on air and the next); `key_epoch`: the epoch of `product_key`.
// Errors: as seal_emm, invalid_argument.
Result<Bytes> seal_ecm(ByteView product_key, std::uint64_t product_id, std::uint64_t crypto_period,
                       const ControlWords& cws, crypto::RandomSource& rng, std::uint64_t key_epoch = 1);

// The CA client application of an installed image: entitlements from EMMs, control words from ECMs.
class CaClient {
 public:
  // Errors: bad_length.
  static Result<CaClient> create(const SmId& sm, ByteView ca_key);

  // Errors: wire errors, not_addressed (for another SM: ignored, not an attack), mac_invalid,
  // emm_replayed (issued before the product's last accepted EMM). A valid EMM replaces the
  // product's entitlement (its expiry) and adds the key of its epoch: the client holds the key in
  // use and the highest it was given, so a key sent ahead of a switch waits beside the one in use
  // (docs/spec.md §15.4).
  Result<Entitlement> on_emm(ByteView message);
  // The control words of an ECM, once per crypto period: nullopt for a repeat of the period
  // already delivered. Errors: wire errors, not_entitled (no entitlement, or no key of the ECM's
  // epoch: the product was rekeyed without this SM), entitlement_expired, mac_invalid,
  // ecm_replayed (an earlier period than one accepted), bad_plaintext. Nothing changes on error;
  // an accepted ECM of a newer epoch retires the keys of older ones.
  Result<std::optional<ControlWords>> on_ecm(ByteView message, TimePoint now);

  // The latest entitlement per product (its key epoch: the highest held).
  std::map<std::uint64_t, Entitlement> entitlements() const;
  // Every key held, for the SM's secure memory, and back (a restored client knows no period yet).
  // Errors (restore): bad_length.
  std::vector<HeldProductKey> held() const;
  Result<void> restore(const std::vector<HeldProductKey>& keys);

 private:
  struct EpochKey {
    CasKeys keys;
    SecureBytes raw;
    Entitlement entitlement;  // of the EMM that brought it
  };
  struct Product {
    Entitlement entitlement;                 // the latest EMM's: expiry, issue time
    std::map<std::uint64_t, EpochKey> keys;  // by epoch: the one in use and the highest
    std::uint64_t retired_below = 0;         // an ECM of this epoch was accepted: older keys are gone for good
    std::optional<std::uint64_t> last_period;
  };
  CaClient(SmId sm, CasKeys keys) : sm_(sm), keys_(std::move(keys)) {}
  void hold(const Entitlement& e, SecureBytes key, CasKeys keys);
  SmId sm_;
  CasKeys keys_;
  std::map<std::uint64_t, Product> products_;
};

}  // namespace dcas::protocol
