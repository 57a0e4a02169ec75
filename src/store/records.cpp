#include "store/records.h"

#include <fmt/format.h>

#include "crypto/aead.h"

namespace dcas::store {

Result<Bytes> seal_ki(ByteView operator_key, const SmId& sm, const protocol::SmSecrets& ki) {
  SecureBytes all(ki.ki1.begin(), ki.ki1.end());
  all.insert(all.end(), ki.ki2.begin(), ki.ki2.end());
  all.insert(all.end(), ki.ki3.begin(), ki.ki3.end());
  if (all.size() != 3 * protocol::ki_size) return fail(Errc::bad_length, "each Ki must be 16 bytes");
  return crypto::aead_seal(operator_key, sm.view(), view(all), crypto::system_random());
}

Result<protocol::SmSecrets> open_ki(ByteView operator_key, const SmId& sm, ByteView sealed) {
  auto ki = crypto::aead_open(operator_key, sm.view(), sealed);
  if (!ki || ki->size() != 3 * protocol::ki_size)
    return fail(Errc::store_key_invalid, "the operator key does not open SM " + sm.hex() + "'s Ki");
  protocol::SmSecrets out;
  out.ki1.assign(ki->begin(), ki->begin() + 16);
  out.ki2.assign(ki->begin() + 16, ki->begin() + 32);
  out.ki3.assign(ki->begin() + 32, ki->end());
  return out;
}

namespace {
constexpr std::string_view key_check_label = "dcas-store-key-check", key_check_text = "DCAS TA store";
}  // namespace

Result<Bytes> seal_key_check(ByteView operator_key) {
  return crypto::aead_seal(operator_key, view(key_check_label), view(key_check_text), crypto::system_random());
}

Result<void> open_key_check(ByteView operator_key, ByteView sealed) {
  auto text = crypto::aead_open(operator_key, view(key_check_label), sealed);
  if (!text || !std::equal(text->begin(), text->end(), key_check_text.begin(), key_check_text.end()))
    return fail(Errc::store_key_invalid,
                "the operator key is not this store's (DCAS_TA_STORE_KEY, or store.key in the TA directory)");
  return {};
}

std::string validation_detail(const std::optional<protocol::SmRecord>& before,
                              const protocol::PairingOutcome& outcome) {
  const std::string from = before ? std::string(protocol::pairing_state_name(before->psi)) : "unknown";
  const std::string to = outcome.sm ? std::string(protocol::pairing_state_name(outcome.sm->psi)) : from;
  return fmt::format("{} -> {} ({})", from, to, protocol::verdict_name(outcome.verdict));
}

}  // namespace dcas::store
