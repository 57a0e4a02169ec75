#include "provisioning/load_identities.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include "common/byte_reader.h"
#include "common/files.h"
#include "pki/authority.h"

namespace dcas::provisioning {

namespace {

constexpr std::string_view magic = "DCASLT1\n";
constexpr std::uint32_t version = 1;
constexpr std::size_t max_pool = 65535;

// A fresh ID in the load-test range that `taken` does not hold yet.
template <Role R>
Result<DeviceId<R>> fresh_load_test_id(crypto::RandomSource& rng, std::unordered_set<std::uint64_t>& taken) {
  DeviceId<R> id;
  std::uint64_t key = 0;
  do {
    id.bytes[0] = load_test_id_prefix[0];
    id.bytes[1] = load_test_id_prefix[1];
    DCAS_TRY(rng.fill(std::span(id.bytes).subspan(2)));
    key = 0;
    for (auto b : id.bytes) key = key << 8 | b;
  } while (!taken.insert(key).second);
  return id;
}

// Runs work(i, t) for i in [0, n) on `threads` threads (t: which one), reporting progress from the
// calling thread; the first error stops the rest.
Result<void> in_parallel(std::size_t n, unsigned threads,
                         const std::function<Result<void>(std::size_t, unsigned)>& work,
                         const std::function<void(std::size_t, std::size_t)>& progress) {
  std::atomic<std::size_t> next{0}, done{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::optional<Error> error;
  std::vector<std::jthread> workers;
  for (unsigned t = 0; t < std::max(1u, threads); ++t)
    workers.emplace_back([&, t] {
      for (std::size_t i; !failed && (i = next++) < n; ++done)
        if (auto r = work(i, t); !r) {
          std::lock_guard lock(error_mutex);
          if (!error) error = r.error();
          failed = true;
        }
    });
  while (done < n && !failed) {
    if (progress) progress(done, n);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  workers.clear();  // joins
  if (error) return std::unexpected(*error);
  if (progress) progress(n, n);
  return {};
}

Result<protocol::Identity> identity(const LoadIdentities& ids, std::uint16_t key, ByteView der) {
  DCAS_TRY_ASSIGN(cert, pki::Certificate::from_der(der));
  return protocol::Identity{ids.keys.at(key), std::move(cert), ids.ta_root};
}

Result<Bytes> read_block(ByteReader& r, bool wide) {
  std::uint32_t n = 0;
  if (wide) {
    DCAS_TRY_ASSIGN(v, r.u32());
    n = v;
  } else {
    DCAS_TRY_ASSIGN(v, r.u16());
    n = v;
  }
  DCAS_TRY_ASSIGN(b, r.take(n));
  return Bytes(b.begin(), b.end());
}

Error damaged(const std::filesystem::path& file, const Error& why) {
  return Error{Errc::invalid_argument,
               fmt::format("{} is not a whole load-test identity file ({})", file.string(), why.message())};
}

Result<LoadIdentities> parse(ByteView data) {
  ByteReader r(data);
  DCAS_TRY_ASSIGN(head, r.take(magic.size()));
  if (!std::equal(head.begin(), head.end(), magic.begin())) return fail(Errc::invalid_argument, "wrong magic");
  DCAS_TRY_ASSIGN(v, r.u32());
  if (v != version) return fail(Errc::invalid_argument, fmt::format("version {}", v));
  DCAS_TRY_ASSIGN(root_der, read_block(r, true));
  DCAS_TRY_ASSIGN(root, pki::Certificate::from_der(root_der));
  LoadIdentities ids{std::move(root), {}, {}};
  DCAS_TRY_ASSIGN(pool, r.u32());
  if (pool == 0 || pool > max_pool) return fail(Errc::invalid_argument, fmt::format("a pool of {} keys", pool));
  for (std::uint32_t k = 0; k < pool; ++k) {
    DCAS_TRY_ASSIGN(pem, read_block(r, true));
    auto key = crypto::RsaPrivateKey::from_pem(std::string_view(reinterpret_cast<const char*>(pem.data()), pem.size()));
    OPENSSL_cleanse(pem.data(), pem.size());
    if (!key) return std::unexpected(key.error());
    ids.keys.push_back(std::move(*key));
  }
  DCAS_TRY_ASSIGN(count, r.u32());
  ids.hosts.reserve(std::min<std::size_t>(count, r.remaining() / 100));
  for (std::uint32_t i = 0; i < count; ++i) {
    LoadHost h;
    DCAS_TRY_ASSIGN(sm, r.take(device_id_size));
    DCAS_TRY_ASSIGN(tp, r.take(device_id_size));
    h.sm = SmId::from_bytes(sm).value();
    h.tp = TpId::from_bytes(tp).value();
    if (!is_load_test_id(h.sm.view()) || !is_load_test_id(h.tp.view()))
      return fail(Errc::invalid_argument, fmt::format("host {}: an ID outside the load-test range", i));
    DCAS_TRY_ASSIGN(sm_key, r.u16());
    DCAS_TRY_ASSIGN(tp_key, r.u16());
    if (sm_key >= pool || tp_key >= pool)
      return fail(Errc::invalid_argument, fmt::format("host {}: a key index outside the pool", i));
    h.sm_key = sm_key;
    h.tp_key = tp_key;
    for (SecureBytes* ki : {&h.ki.ki1, &h.ki.ki2, &h.ki.ki3}) {
      DCAS_TRY_ASSIGN(b, r.take(protocol::ki_size));
      ki->assign(b.begin(), b.end());
    }
    DCAS_TRY_ASSIGN(sm_cert, read_block(r, false));
    DCAS_TRY_ASSIGN(tp_cert, read_block(r, false));
    h.sm_certificate = std::move(sm_cert);
    h.tp_certificate = std::move(tp_cert);
    ids.hosts.push_back(std::move(h));
  }
  DCAS_TRY(r.expect_end());
  return ids;
}

}  // namespace

Result<protocol::Identity> LoadIdentities::sm_identity(std::size_t i) const {
  return identity(*this, hosts.at(i).sm_key, hosts.at(i).sm_certificate);
}

Result<protocol::Identity> LoadIdentities::tp_identity(std::size_t i) const {
  return identity(*this, hosts.at(i).tp_key, hosts.at(i).tp_certificate);
}

Result<LoadIdentities> issue_load_identities(const TaIdentity& ta, const LoadIssueOptions& options,
                                             crypto::RandomSource& rng) {
  if (options.hosts == 0) return fail(Errc::invalid_argument, "no hosts to issue");
  if (options.key_pool == 0 || options.key_pool > max_pool)
    return fail(Errc::invalid_argument, fmt::format("a key pool of 1 to {} keys", max_pool));
  std::vector<std::optional<crypto::RsaPrivateKey>> pool(options.key_pool);
  DCAS_TRY(in_parallel(options.key_pool, options.threads,
                       [&](std::size_t k, unsigned) -> Result<void> {
                         DCAS_TRY_ASSIGN(key, crypto::RsaPrivateKey::generate(2048));
                         pool[k] = std::move(key);
                         return {};
                       },
                       {}));
  LoadIdentities ids{ta.certificate, {}, {}};
  for (auto& k : pool) ids.keys.push_back(std::move(*k));
  std::vector<crypto::RsaPublicKey> public_keys;
  for (const auto& k : ids.keys) public_keys.push_back(k.public_key());

  std::unordered_set<std::uint64_t> sm_ids, tp_ids;
  ids.hosts.resize(options.hosts);
  for (std::size_t i = 0; i < options.hosts; ++i) {
    auto& h = ids.hosts[i];
    DCAS_TRY_ASSIGN(sm, fresh_load_test_id<Role::sm>(rng, sm_ids));
    DCAS_TRY_ASSIGN(tp, fresh_load_test_id<Role::tp>(rng, tp_ids));
    DCAS_TRY_ASSIGN(ki, fresh_ki(rng));
    h.sm = sm;
    h.tp = tp;
    h.ki = std::move(ki);
    h.sm_key = static_cast<std::uint16_t>((2 * i) % options.key_pool);
    h.tp_key = static_cast<std::uint16_t>((2 * i + 1) % options.key_pool);
  }
  const auto validity = pki::Validity::starting_now(options.days);
  // Each thread's stamps, one per (role, pool key) it has met.
  std::vector<std::map<std::pair<Role, std::uint16_t>, pki::DeviceCertificateStamp>> stamps(
      std::max(1u, options.threads));
  auto certificate = [&](unsigned t, Role role, std::uint16_t key, ByteView id) -> Result<Bytes> {
    auto it = stamps[t].find({role, key});
    if (it == stamps[t].end()) {
      DCAS_TRY_ASSIGN(
          stamp, pki::DeviceCertificateStamp::create(ta.key, ta.certificate, role, public_keys[key], validity, rng));
      it = stamps[t].emplace(std::pair{role, key}, std::move(stamp)).first;
    }
    return it->second.issue(id, rng);
  };
  DCAS_TRY(in_parallel(
      options.hosts, options.threads,
      [&](std::size_t i, unsigned t) -> Result<void> {
        auto& h = ids.hosts[i];
        DCAS_TRY_ASSIGN(sm, certificate(t, Role::sm, h.sm_key, h.sm.view()));
        DCAS_TRY_ASSIGN(tp, certificate(t, Role::tp, h.tp_key, h.tp.view()));
        h.sm_certificate = std::move(sm);
        h.tp_certificate = std::move(tp);
        return {};
      },
      options.progress));
  return ids;
}

Result<void> save_load_identities(const LoadIdentities& ids, const std::filesystem::path& file) {
  ByteWriter w;
  w.bytes({reinterpret_cast<const std::uint8_t*>(magic.data()), magic.size()});
  w.u32(version);
  const Bytes root = ids.ta_root.der();
  w.u32(static_cast<std::uint32_t>(root.size()));
  w.bytes(root);
  w.u32(static_cast<std::uint32_t>(ids.keys.size()));
  for (const auto& key : ids.keys) {
    const SecureBytes pem = key.to_pem();
    w.u32(static_cast<std::uint32_t>(pem.size()));
    w.bytes(pem);
  }
  w.u32(static_cast<std::uint32_t>(ids.hosts.size()));
  for (const auto& h : ids.hosts) {
    w.bytes(h.sm.view());
    w.bytes(h.tp.view());
    w.u16(h.sm_key);
    w.u16(h.tp_key);
    for (const SecureBytes* ki : {&h.ki.ki1, &h.ki.ki2, &h.ki.ki3}) w.bytes(*ki);
    w.u16(static_cast<std::uint16_t>(h.sm_certificate.size()));
    w.bytes(h.sm_certificate);
    w.u16(static_cast<std::uint16_t>(h.tp_certificate.size()));
    w.bytes(h.tp_certificate);
  }
  Bytes data = w.take();
  auto written = write_secret_file(file, data);
  OPENSSL_cleanse(data.data(), data.size());  // the keys and the Ki
  return written;
}

Result<LoadIdentities> load_load_identities(const std::filesystem::path& file) {
  DCAS_TRY_ASSIGN(data, read_binary_file(file));
  auto ids = parse(data);
  OPENSSL_cleanse(data.data(), data.size());
  if (!ids)  // whatever part of it is damaged: a record, a key, a certificate
    return std::unexpected(damaged(file, ids.error()));
  return ids;
}

}  // namespace dcas::provisioning
