#include "bench/public_key_work.h"

#include <openssl/x509.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "crypto/random.h"

namespace dcas::bench {

namespace {

const Bytes run_sized_message(600, 0x5a), key_sized_secret(20, 0x11);

}  // namespace

PublicKeyWork::PublicKeyWork(Party sm, Party tp, Party ap, Party ta, const Keys& keys)
    : sm_(std::move(sm)),
      tp_(std::move(tp)),
      ap_(std::move(ap)),
      ta_(std::move(ta)),
      root_(&keys.root),
      cert_(&keys.device_certificate) {}

PublicKeyWork::~PublicKeyWork() = default;

Result<PublicKeyWork> PublicKeyWork::create(const Keys& keys) {
  auto party = [](const crypto::RsaPrivateKey& key) -> Result<Party> {
    Party p{&key, key.public_key(), {}, {}};
    DCAS_TRY_ASSIGN(signature, crypto::pss_sign(key, run_sized_message, crypto::system_random()));
    DCAS_TRY_ASSIGN(ciphertext, crypto::oaep_encrypt(p.pub, key_sized_secret, crypto::system_random()));
    p.signature = std::move(signature);
    p.ciphertext = std::move(ciphertext);
    return p;
  };
  DCAS_TRY_ASSIGN(sm, party(keys.sm));
  DCAS_TRY_ASSIGN(tp, party(keys.tp));
  DCAS_TRY_ASSIGN(ap, party(keys.ap));
  DCAS_TRY_ASSIGN(ta, party(keys.ta));
  PublicKeyWork work(std::move(sm), std::move(tp), std::move(ap), std::move(ta), keys);
  DCAS_TRY_ASSIGN(peer, crypto::X25519Key::generate(crypto::system_random()));
  work.peer_.emplace(std::move(peer));
  return work;
}

PublicKeyWork::Party& PublicKeyWork::party(Role role) {
  switch (role) {
    case Role::sm: return sm_;
    case Role::tp: return tp_;
    case Role::ap: return ap_;
    case Role::ta: break;
  }
  return ta_;
}

Result<void> PublicKeyWork::sign(Role r) {
  DCAS_TRY(crypto::pss_sign(*party(r).key, run_sized_message, crypto::system_random()));
  return {};
}
Result<void> PublicKeyWork::decrypt(Role r) {
  DCAS_TRY(crypto::oaep_decrypt(*party(r).key, party(r).ciphertext));
  return {};
}
Result<void> PublicKeyWork::verify(Role r) {
  return crypto::pss_verify(party(r).pub, run_sized_message, party(r).signature);
}
Result<void> PublicKeyWork::encrypt(Role r) {
  DCAS_TRY(crypto::oaep_encrypt(party(r).pub, key_sized_secret, crypto::system_random()));
  return {};
}
Result<void> PublicKeyWork::check_certificate() {
  if (X509_verify(cert_->x509(), X509_get0_pubkey(root_->x509())) != 1)
    return fail(Errc::cert_bad_signature, "the bound's certificate does not verify");
  return {};
}
Result<void> PublicKeyWork::x25519_agreement() {
  DCAS_TRY_ASSIGN(key, crypto::X25519Key::generate(crypto::system_random()));
  DCAS_TRY(key.shared_secret(peer_->public_key()));
  return {};
}

Result<void> PublicKeyWork::run_once(wire::Profile profile) {
  using enum Role;
  if (profile == wire::Profile::koo2010) {
    // 8 PSS signatures (SM 2, TP 1, AP 3 with the HostPresence ending the previous run's presence,
    // TA 2), 6 OAEP decryptions (AP 2, TA 1, SM 2, TP 1), 9 PSS verifications (of SM 2, AP 3, TA 3,
    // TP 1), 6 OAEP encryptions (to AP 2, TA 1, SM 2, TP 1), 4 certificate signature checks.
    for (Role r : {sm, sm, tp, ap, ap, ap, ta, ta}) DCAS_TRY(sign(r));
    for (Role r : {ap, ap, ta, sm, sm, tp}) DCAS_TRY(decrypt(r));
    for (Role r : {sm, sm, ap, ap, ap, ta, ta, ta, tp}) DCAS_TRY(verify(r));
    for (Role r : {ap, ap, ta, sm, sm, tp}) DCAS_TRY(encrypt(r));
    for (int i = 0; i < 4; ++i) DCAS_TRY(check_certificate());
    return {};
  }
  // hardened1: 7 PSS signatures (TP 1, SM 2, AP 3 with the HostPresence, TA 1), 2 OAEP decryptions
  // (SM, TP), 11 PSS verifications (of SM 3, TP 2, AP 3, TA 3), 2 OAEP encryptions (to SM, TP), 6
  // certificate signature checks, and two X25519 key generations with their agreements.
  for (Role r : {tp, sm, sm, ap, ap, ap, ta}) DCAS_TRY(sign(r));
  for (Role r : {sm, tp}) DCAS_TRY(decrypt(r));
  for (Role r : {sm, sm, sm, tp, tp, ap, ap, ap, ta, ta, ta}) DCAS_TRY(verify(r));
  for (Role r : {sm, tp}) DCAS_TRY(encrypt(r));
  for (int i = 0; i < 6; ++i) DCAS_TRY(check_certificate());
  for (int i = 0; i < 2; ++i) DCAS_TRY(x25519_agreement());
  return {};
}

Result<double> pairing_bound_per_second(const PublicKeyWork::Keys& keys, wire::Profile profile, unsigned threads,
                                        std::chrono::milliseconds duration) {
  using Clock = std::chrono::steady_clock;
  std::vector<PublicKeyWork> works;
  for (unsigned t = 0; t < std::max(1u, threads); ++t) {
    DCAS_TRY_ASSIGN(work, PublicKeyWork::create(keys));
    works.push_back(std::move(work));
  }
  std::atomic<std::size_t> runs{0};
  std::atomic<bool> failed{false};
  std::optional<Error> failure;  // the first, written by the thread that set `failed`
  const auto start = Clock::now(), end = start + duration;
  {
    std::vector<std::jthread> workers;
    for (auto& work : works)
      workers.emplace_back([&] {
        while (Clock::now() < end && !failed) {
          auto done = work.run_once(profile);
          if (!done && !failed.exchange(true)) failure = done.error();
          ++runs;
        }
      });
  }
  if (failed) return std::unexpected(*failure);
  return static_cast<double>(runs) / std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace dcas::bench
