// Load-test identities (docs/spec.md §22): the SMs and TPs of many simulated hosts, issued fast.
//
// Each host is an SM and a TP with TA-issued certificates and device IDs in the load-test range
// (common/ids.h: 10ad...), whose keys come from a small pool of RSA-2048 key pairs: a key pair
// costs ~0.1 s to generate, a certificate ~0.3 ms to sign, so 100,000 hosts take seconds instead of
// hours. A TA refuses these IDs unless it runs a load test, so a leaked pool key is worth nothing
// outside one.
//
// One file holds them (mode 0600, since it holds the pool's private keys and each SM's Ki):
//   "DCASLT1\n", u32 version 1, u32 root length, the TA root certificate (DER),
//   u32 pool size, per key: u32 length, PKCS#8 PEM,
//   u32 host count, per host: SM ID (8), TP ID (8), u16 SM key index, u16 TP key index,
//   Ki1 Ki2 Ki3 (16 each), u16 length, Cert(SM) (DER), u16 length, Cert(TP) (DER);
// every integer big-endian, and nothing after the last host.
#pragma once

#include <filesystem>
#include <functional>
#include <vector>

#include "common/ids.h"
#include "crypto/random.h"
#include "crypto/rsa.h"
#include "pki/certificate.h"
#include "protocol/derivation.h"
#include "protocol/role.h"
#include "provisioning/device_files.h"

namespace dcas::provisioning {

struct LoadHost {
  SmId sm;
  TpId tp;
  std::uint16_t sm_key = 0, tp_key = 0;  // indexes into LoadIdentities::keys
  protocol::SmSecrets ki;
  Bytes sm_certificate, tp_certificate;  // DER
};

struct LoadIdentities {
  pki::Certificate ta_root;
  std::vector<crypto::RsaPrivateKey> keys;
  std::vector<LoadHost> hosts;

  // The SM's and the TP's identity of host i, as their roles take them.
  // Errors: cert_invalid (a damaged file's certificate).
  Result<protocol::Identity> sm_identity(std::size_t i) const;
  Result<protocol::Identity> tp_identity(std::size_t i) const;
};

struct LoadIssueOptions {
  std::size_t hosts = 0;
  std::size_t key_pool = 16;  // key pairs the hosts' certificates share
  int days = 30;              // validity of the certificates
  unsigned threads = 1;       // certificates are signed on this many threads
  // Called as hosts are made (done, total), from the calling thread.
  std::function<void(std::size_t, std::size_t)> progress;
};

// Makes the pool's keys and every host's IDs, Ki and certificates (signed by `ta`); the IDs are
// random in the load-test range and distinct. `rng` serves `options.threads` threads at once: it
// must be thread-safe, as crypto::system_random() is. Errors: invalid_argument (no hosts, a pool
// of 0 or over 65,535 keys), crypto_failure, random_failure.
Result<LoadIdentities> issue_load_identities(const TaIdentity& ta, const LoadIssueOptions& options,
                                             crypto::RandomSource& rng);

// Errors: io_error.
Result<void> save_load_identities(const LoadIdentities& identities, const std::filesystem::path& file);
// Errors: io_error, invalid_argument (not such a file, or damaged: a wrong magic or version, a
// truncated or over-long record, a key or certificate that does not parse, a key index outside the
// pool, an ID outside the load-test range).
Result<LoadIdentities> load_load_identities(const std::filesystem::path& file);

}  // namespace dcas::provisioning
