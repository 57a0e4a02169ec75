#include "protocol/cas.h"

#include <fmt/format.h>

#include "protocol/envelope.h"

namespace dcas::protocol {

namespace {

constexpr std::string_view cas_label = "DCAS CAS";

SecureBytes labelled_digest(std::uint8_t purpose, ByteView key, std::size_t size) {
  const std::uint8_t prefix[1] = {purpose};
  auto digest = crypto::sha256({prefix, view(cas_label), key});
  SecureBytes out(digest.begin(), digest.begin() + static_cast<std::ptrdiff_t>(size));
  secure_wipe(digest.data(), digest.size());
  return out;
}

Result<Bytes> mac_of(const CasKeys& keys, const wire::Message& m) {
  const auto tag = crypto::hmac_sha1(view(keys.mac), wire::authenticated_bytes(m));
  return Bytes(tag.begin(), tag.end());
}

Result<void> check_mac(const CasKeys& keys, const wire::Message& m, ByteView mac, std::string_view what) {
  const auto tag = crypto::hmac_sha1(view(keys.mac), m.authenticated);
  if (!equal_ct(tag, mac)) return fail(Errc::mac_invalid, fmt::format("{} MAC does not verify", what));
  return {};
}

}  // namespace

Result<CasKeys> derive_cas_keys(ByteView key) {
  if (key.size() != cas_key_size) return fail(Errc::bad_length, "CA and product keys are 16 bytes");
  return CasKeys{labelled_digest(0x01, key, 16), labelled_digest(0x02, key, 20)};
}

Result<Bytes> seal_emm(ByteView ca_key, const SmId& sm, const Entitlement& e, ByteView product_key,
                       crypto::RandomSource& rng) {
  if (product_key.size() != cas_key_size) return fail(Errc::bad_length, "product keys are 16 bytes");
  DCAS_TRY_ASSIGN(keys, derive_cas_keys(ca_key));
  DCAS_TRY_ASSIGN(random_iv, rng.bytes(16));
  const Bytes iv(random_iv.begin(), random_iv.end());
  DCAS_TRY_ASSIGN(ciphertext, crypto::aes128_run(crypto::AesMode::cbc, crypto::AesDirection::encrypt, view(keys.cipher),
                                                 iv, product_key));
  wire::Message m{wire::Profile::koo2010,
                  wire::Emm{e.issued_at,
                            Bytes(sm.bytes.begin(), sm.bytes.end()),
                            iv,
                            e.product_id,
                            e.expires_at,
                            ciphertext,
                            {},
                            e.key_epoch},
                  {}};
  DCAS_TRY_ASSIGN(mac, mac_of(keys, m));
  std::get<wire::Emm>(m.body).mac = std::move(mac);
  return wire::encode(m);
}

Result<Bytes> seal_ecm(ByteView product_key, std::uint64_t product_id, std::uint64_t crypto_period,
                       const ControlWords& cws, crypto::RandomSource& rng, std::uint64_t key_epoch) {
  DCAS_TRY_ASSIGN(keys, derive_cas_keys(product_key));
  DCAS_TRY_ASSIGN(layout, slot_layout(cws));
  DCAS_TRY_ASSIGN(random_iv, rng.bytes(16));
  const Bytes iv(random_iv.begin(), random_iv.end());
  SecureBytes plain(2 * cw_slot_size);
  write_slots(cws, std::span<std::uint8_t, 2 * cw_slot_size>(plain.data(), plain.size()));
  DCAS_TRY_ASSIGN(ciphertext, crypto::aes128_run(crypto::AesMode::cbc, crypto::AesDirection::encrypt, view(keys.cipher),
                                                 iv, view(plain)));
  wire::Message m{
      wire::Profile::koo2010,
      wire::Ecm{Bytes(layout.begin(), layout.end()), ciphertext, iv, product_id, crypto_period, {}, key_epoch},
      {}};
  DCAS_TRY_ASSIGN(mac, mac_of(keys, m));
  std::get<wire::Ecm>(m.body).mac = std::move(mac);
  return wire::encode(m);
}

Result<CaClient> CaClient::create(const SmId& sm, ByteView ca_key) {
  DCAS_TRY_ASSIGN(keys, derive_cas_keys(ca_key));
  return CaClient(sm, std::move(keys));
}

void CaClient::hold(const Entitlement& e, SecureBytes key, CasKeys keys) {
  auto& product = products_[e.product_id];
  if (e.issued_at >= product.entitlement.issued_at || product.entitlement.product_id == 0) product.entitlement = e;
  if (e.key_epoch < product.retired_below) return;  // an old epoch's EMM repeated after the switch
  auto& slot = product.keys[e.key_epoch];
  // The same key again (EMMs repeat in the stream) keeps the ECM replay window; another resets it.
  if (!slot.raw.empty() && !equal_ct(view(slot.raw), view(key))) product.last_period.reset();
  slot = EpochKey{std::move(keys), std::move(key), e};
  // Two keys at most: the one in use (the last ECM's epoch, or the oldest before any ECM) and the
  // highest; epochs between them were never switched to (the headend skips them).
  const std::uint64_t in_use =
      product.keys.contains(product.retired_below) ? product.retired_below : product.keys.begin()->first;
  for (auto it = product.keys.begin(); product.keys.size() > 2 && it != product.keys.end();)
    it = (it->first == in_use || std::next(it) == product.keys.end()) ? std::next(it) : product.keys.erase(it);
}

Result<Entitlement> CaClient::on_emm(ByteView message) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::Emm>(message));
  const auto& emm = m.second;
  // Broadcast EMMs for other SMs are ordinary traffic: told apart before any cryptography.
  if (!equal_ct(emm.sm_id, sm_.view())) return fail(Errc::not_addressed, "EMM for SM " + to_hex(emm.sm_id));
  DCAS_TRY(check_mac(keys_, m.first, emm.mac, "EMM"));
  if (auto known = products_.find(emm.product_id);
      known != products_.end() && emm.issued_at < known->second.entitlement.issued_at)
    return fail(Errc::emm_replayed, fmt::format("EMM for product {} issued before the one in force", emm.product_id));
  if (emm.key_epoch == 0) return fail(Errc::bad_plaintext, "product key epochs start at 1");
  DCAS_TRY_ASSIGN(product_key, crypto::aes128_run(crypto::AesMode::cbc, crypto::AesDirection::decrypt,
                                                  view(keys_.cipher), emm.iv, emm.ciphertext));
  SecureBytes key(product_key.begin(), product_key.end());
  secure_wipe(product_key.data(), product_key.size());
  DCAS_TRY_ASSIGN(product_keys, derive_cas_keys(view(key)));
  const Entitlement e{emm.product_id, emm.expires_at, emm.issued_at, emm.key_epoch};
  hold(e, std::move(key), std::move(product_keys));
  return e;
}

Result<std::optional<ControlWords>> CaClient::on_ecm(ByteView message, TimePoint now) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::Ecm>(message));
  const auto& ecm = m.second;
  auto it = products_.find(ecm.product_id);
  if (it == products_.end())
    return fail(Errc::not_entitled, fmt::format("no entitlement for product {}", ecm.product_id));
  Product& product = it->second;
  const auto now_s = static_cast<std::uint64_t>(to_unix_ms(now) / 1000);
  if (product.entitlement.expires_at <= now_s)
    return fail(Errc::entitlement_expired, fmt::format("entitlement for product {} has expired", ecm.product_id));
  auto key = product.keys.find(ecm.key_epoch);
  if (key == product.keys.end())
    return fail(Errc::not_entitled, fmt::format("no key of epoch {} for product {}: rekeyed without this SM",
                                                ecm.key_epoch, ecm.product_id));
  DCAS_TRY(check_mac(key->second.keys, m.first, ecm.mac, "ECM"));
  if (product.last_period && ecm.crypto_period < *product.last_period)
    return fail(Errc::ecm_replayed,
                fmt::format("ECM for crypto period {} after period {}", ecm.crypto_period, *product.last_period));
  if (product.last_period && ecm.crypto_period == *product.last_period) return std::optional<ControlWords>{};
  DCAS_TRY_ASSIGN(plain, crypto::aes128_run(crypto::AesMode::cbc, crypto::AesDirection::decrypt,
                                            view(key->second.keys.cipher), ecm.iv, ecm.ciphertext));
  auto cws = read_slots(ecm.layout, std::span<const std::uint8_t, 2 * cw_slot_size>(plain.data(), plain.size()));
  secure_wipe(plain.data(), plain.size());
  if (!cws) return std::unexpected(cws.error());
  product.last_period = ecm.crypto_period;
  product.retired_below = ecm.key_epoch;
  product.keys.erase(product.keys.begin(), key);  // the switch happened: older epochs are retired
  return std::optional<ControlWords>(std::move(*cws));
}

std::map<std::uint64_t, Entitlement> CaClient::entitlements() const {
  std::map<std::uint64_t, Entitlement> out;
  for (const auto& [id, product] : products_) {
    Entitlement e = product.entitlement;
    if (!product.keys.empty()) e.key_epoch = product.keys.rbegin()->first;
    out.emplace(id, e);
  }
  return out;
}

std::vector<HeldProductKey> CaClient::held() const {
  std::vector<HeldProductKey> out;
  for (const auto& [id, product] : products_)
    for (const auto& [epoch, key] : product.keys) out.push_back({key.entitlement, key.raw});
  return out;
}

Result<void> CaClient::restore(const std::vector<HeldProductKey>& keys) {
  for (const auto& k : keys) {
    DCAS_TRY_ASSIGN(derived, derive_cas_keys(view(k.key)));
    hold(k.entitlement, k.key, std::move(derived));
  }
  return {};
}

}  // namespace dcas::protocol
