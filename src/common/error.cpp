#include "common/error.h"

namespace dcas {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::bad_hex: return "bad_hex";
    case Errc::bad_length: return "bad_length";
    case Errc::already_exists: return "already_exists";
    case Errc::not_found: return "not_found";
    case Errc::crypto_failure: return "crypto_failure";
    case Errc::decrypt_failed: return "decrypt_failed";
    case Errc::signature_invalid: return "signature_invalid";
    case Errc::mac_invalid: return "mac_invalid";
    case Errc::key_invalid: return "key_invalid";
    case Errc::random_failure: return "random_failure";
    case Errc::io_error: return "io_error";
    case Errc::pem_invalid: return "pem_invalid";
    case Errc::cert_invalid: return "cert_invalid";
    case Errc::cert_foreign: return "cert_foreign";
    case Errc::cert_expired: return "cert_expired";
    case Errc::cert_not_yet_valid: return "cert_not_yet_valid";
    case Errc::cert_wrong_role: return "cert_wrong_role";
    case Errc::cert_bad_signature: return "cert_bad_signature";
    case Errc::cert_bad_id: return "cert_bad_id";
    case Errc::cert_revoked: return "cert_revoked";
    case Errc::crl_invalid: return "crl_invalid";
    case Errc::wire_truncated: return "wire_truncated";
    case Errc::wire_trailing_bytes: return "wire_trailing_bytes";
    case Errc::wire_too_large: return "wire_too_large";
    case Errc::wire_bad_version: return "wire_bad_version";
    case Errc::wire_unknown_profile: return "wire_unknown_profile";
    case Errc::wire_unknown_type: return "wire_unknown_type";
    case Errc::wire_reserved_flags: return "wire_reserved_flags";
    case Errc::wire_unknown_mandatory_field: return "wire_unknown_mandatory_field";
    case Errc::wire_duplicate_field: return "wire_duplicate_field";
    case Errc::wire_field_order: return "wire_field_order";
    case Errc::wire_field_length: return "wire_field_length";
    case Errc::wire_missing_field: return "wire_missing_field";
    case Errc::wire_unexpected_field: return "wire_unexpected_field";
    case Errc::selftest_failed: return "selftest_failed";
    case Errc::unexpected_message: return "unexpected_message";
    case Errc::id_mismatch: return "id_mismatch";
    case Errc::bad_plaintext: return "bad_plaintext";
    case Errc::pairing_refused: return "pairing_refused";
    case Errc::key_confirmation_failed: return "key_confirmation_failed";
    case Errc::unknown_device: return "unknown_device";
    case Errc::cw_replayed: return "cw_replayed";
    case Errc::cw_stale: return "cw_stale";
    case Errc::no_announce: return "no_announce";
    case Errc::not_fresh: return "not_fresh";
    case Errc::profile_mismatch: return "profile_mismatch";
    case Errc::load_test_identity: return "load_test_identity";
    case Errc::store_unavailable: return "store_unavailable";
    case Errc::ts_sync_lost: return "ts_sync_lost";
    case Errc::ts_truncated_packet: return "ts_truncated_packet";
    case Errc::ts_bad_adaptation_field: return "ts_bad_adaptation_field";
    case Errc::ts_bad_section: return "ts_bad_section";
    case Errc::ts_bad_crc: return "ts_bad_crc";
    case Errc::ts_reserved_scrambling: return "ts_reserved_scrambling";
    case Errc::ts_no_elementary_stream: return "ts_no_elementary_stream";
    case Errc::store_error: return "store_error";
    case Errc::store_schema: return "store_schema";
    case Errc::store_key_invalid: return "store_key_invalid";
    case Errc::net_bad_frame: return "net_bad_frame";
    case Errc::net_frame_too_large: return "net_frame_too_large";
    case Errc::net_timeout: return "net_timeout";
    case Errc::net_closed: return "net_closed";
    case Errc::net_busy: return "net_busy";
    case Errc::net_shutting_down: return "net_shutting_down";
    case Errc::net_unavailable: return "net_unavailable";
    case Errc::net_io: return "net_io";
    case Errc::net_tls: return "net_tls";
    case Errc::image_not_authenticated: return "image_not_authenticated";
    case Errc::image_unavailable: return "image_unavailable";
    case Errc::image_wrong_target: return "image_wrong_target";
    case Errc::image_downgrade: return "image_downgrade";
    case Errc::image_invalid: return "image_invalid";
    case Errc::no_image: return "no_image";
    case Errc::not_entitled: return "not_entitled";
    case Errc::entitlement_expired: return "entitlement_expired";
    case Errc::ecm_replayed: return "ecm_replayed";
    case Errc::not_addressed: return "not_addressed";
    case Errc::emm_replayed: return "emm_replayed";
    case Errc::trace_invalid: return "trace_invalid";
  }
  return "unknown_error";
}

std::optional<Errc> errc_from_name(std::string_view name) {
  // Every value is below 1000 (docs/spec.md §7).
  for (int value = 0; value < 1000; ++value) {
    const auto code = static_cast<Errc>(value);
    if (errc_name(code) == name && name != "unknown_error") return code;
  }
  return std::nullopt;
}

std::string Error::message() const {
  std::string out(errc_name(code));
  if (!detail.empty()) {
    out += ": ";
    out += detail;
  }
  return out;
}

}  // namespace dcas
