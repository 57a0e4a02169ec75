// The public-key operations one pairing run makes, by profile: the bound of every figure that pays
// for whole runs (`dcas bench protocol`, and the storm of `dcas loadgen run --bound`).
//
// Each operation is made with the key of the role that makes it in a run (four RSA keys of the
// run's size), over messages of about the run's size; docs/performance.md lists the operations.
#pragma once

#include <chrono>
#include <optional>

#include "common/error.h"
#include "crypto/kex.h"
#include "crypto/rsa.h"
#include "pki/certificate.h"
#include "wire/message.h"

namespace dcas::bench {

class PublicKeyWork {
 public:
  struct Keys {
    const crypto::RsaPrivateKey &sm, &tp, &ap, &ta;
    const pki::Certificate& root;                // the TA's certificate
    const pki::Certificate& device_certificate;  // a device certificate the root issued
  };
  static Result<PublicKeyWork> create(const Keys& keys);

  // Exactly the public-key operations of one run of `profile`.
  Result<void> run_once(wire::Profile profile);

  PublicKeyWork(PublicKeyWork&&) noexcept = default;
  ~PublicKeyWork();

 private:
  struct Party {
    const crypto::RsaPrivateKey* key;
    crypto::RsaPublicKey pub;
    Bytes signature, ciphertext;
  };
  PublicKeyWork(Party sm, Party tp, Party ap, Party ta, const Keys& keys);
  Party& party(Role role);
  Result<void> sign(Role r);
  Result<void> decrypt(Role r);
  Result<void> verify(Role r);
  Result<void> encrypt(Role r);
  Result<void> check_certificate();
  Result<void> x25519_agreement();  // a key generation and an agreement

  Party sm_, tp_, ap_, ta_;
  const pki::Certificate *root_, *cert_;
  std::optional<crypto::X25519Key> peer_;  // the other side of each agreement
};

// Runs of `profile`'s public-key work per second on `threads` threads at once (each with its own
// copy of the work), over about `duration`: the machine's bound for whole pairing runs.
// Errors: those of the keys' operations.
Result<double> pairing_bound_per_second(const PublicKeyWork::Keys& keys, wire::Profile profile, unsigned threads,
                                        std::chrono::milliseconds duration);

}  // namespace dcas::bench
