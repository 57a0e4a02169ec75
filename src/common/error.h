// One flat error type for the whole core: every failure names the check that failed.
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace dcas {

// Each value names exactly one failed check. Never reorder: the numeric values are stable
// (they appear in the wire spec's error replies and in JSON output).
enum class Errc : int {
  ok = 0,
  // Arguments and encodings
  invalid_argument = 1,
  bad_hex = 2,
  bad_length = 3,
  // Records: a well-formed request that the state refuses (exit status 1, not a usage error)
  already_exists = 4,  // a device, product or record with this ID is there already
  not_found = 5,       // no such product or subscription (devices: unknown_device)
  // Cryptography
  crypto_failure = 10,     // an OpenSSL call failed where it should not
  decrypt_failed = 11,     // RSAES-OAEP or AES decryption rejected the ciphertext
  signature_invalid = 12,  // RSASSA-PSS verification failed
  mac_invalid = 13,        // HMAC comparison failed
  key_invalid = 14,        // key unusable: wrong type, size or encoding
  random_failure = 15,
  // Files
  io_error = 20,
  pem_invalid = 21,
  // PKI
  cert_invalid = 30,  // not parseable, or missing required fields/extensions
  cert_foreign = 31,  // does not chain to our TA root
  cert_expired = 32,
  cert_not_yet_valid = 33,
  cert_wrong_role = 34,  // role marker is not the one required
  cert_bad_signature = 35,
  cert_bad_id = 36,   // Common Name is not a well-formed device ID
  cert_revoked = 37,  // the TA revoked the certificate (its serial is on the current CRL)
  crl_invalid = 38,   // a CRL that does not parse, is not the TA's, fails its signature, or is too large
  // Wire codec
  wire_truncated = 40,
  wire_trailing_bytes = 41,
  wire_too_large = 42,
  wire_bad_version = 43,
  wire_unknown_profile = 44,
  wire_unknown_type = 45,
  wire_reserved_flags = 46,
  wire_unknown_mandatory_field = 47,
  wire_duplicate_field = 48,
  wire_field_order = 49,
  wire_field_length = 50,
  wire_missing_field = 51,
  wire_unexpected_field = 52,
  // Self-test
  selftest_failed = 60,
  // Protocol (roles)
  unexpected_message = 70,  // a message type not allowed in the role's current state
  // 71 is retired (protocol_stopped: never returned); never reuse it.
  id_mismatch = 72,              // an ID inside a message differs from the certificate or binding
  bad_plaintext = 73,            // a decrypted payload of the wrong size or form
  pairing_refused = 74,          // the TA answered with the failure KPK
  key_confirmation_failed = 75,  // H(CWEK) || H(HMAC_KEY) from the TP differs from the SM's
  unknown_device = 76,           // the TA has no record of the SM, TP or AP
  cw_replayed = 77,              // sequence not above the last accepted one (replay or reorder)
  cw_stale = 78,                 // issued too long ago, or in the future
  no_announce = 79,              // the SM has no AP certificate yet (no SecurityAnnounce seen)
  not_fresh = 80,                // a nonce, time or validity that is not this run's: a replayed or stale message
  profile_mismatch = 81,         // a handshake message of another profile than the one the role runs
  load_test_identity = 82,       // a load-test identity (docs/spec.md §22) at a TA not running a load test
  // MPEG transport stream
  ts_sync_lost = 90,             // a packet does not start with 0x47
  ts_truncated_packet = 91,      // fewer than 188 bytes where a packet was expected
  ts_bad_adaptation_field = 92,  // adaptation_field_length runs past the packet
  ts_bad_section = 93,           // a PSI section is malformed or too long
  ts_bad_crc = 94,               // a PSI section's CRC_32 does not match
  ts_reserved_scrambling = 95,   // transport_scrambling_control 01, which ISO/IEC 13818-1 reserves
  ts_no_elementary_stream = 96,  // a stream to compare names no elementary stream in its PMTs
  // TA store
  store_error = 100,        // the database refused an operation (detail names it)
  store_schema = 101,       // the database's schema is newer than this program, or damaged
  store_key_invalid = 102,  // the operator key does not open the sealed Ki
  store_unavailable = 103,  // the database cannot be reached (a connection lost or refused); tried again later

  net_bad_frame = 110,        // a frame's kind is unknown or not allowed at this point of the link
  net_frame_too_large = 111,  // a frame's length prefix exceeds the receiver's cap
  net_timeout = 112,          // a read, a write or an answer did not complete in time
  net_closed = 113,           // the peer closed the connection
  net_busy = 114,             // the server is at its connection or in-flight cap
  net_shutting_down = 115,    // the server is stopping and refuses new work
  net_unavailable = 116,      // the next hop (the TA, for an AP) cannot be reached
  net_io = 117,               // a socket operation failed (detail names it)
  net_tls = 118,              // the TLS handshake failed: a certificate did not verify, or the peer refused ours

  image_not_authenticated = 120,  // the AP grants an image key only after the TA validated the SM
  image_unavailable = 121,        // the headend has no image to deliver (no PS behind this AP)
  image_wrong_target = 122,       // the image, grant or download names another SM or version
  image_downgrade = 123,          // an image older than the installed one, on the same network
  image_invalid = 124,            // the decrypted image is not a well-formed CA client image
  no_image = 125,                 // the SM has no CA client image: it cannot process EMMs or ECMs

  not_entitled = 130,         // no entitlement for the ECM's product
  entitlement_expired = 131,  // the entitlement for the ECM's product has expired
  ecm_replayed = 132,         // an ECM for an earlier crypto period than one already accepted
  not_addressed = 133,        // an EMM for another SM
  emm_replayed = 134,         // an EMM issued before the one in force for its product

  trace_invalid = 140,  // a file that is not a DCAS pcapng trace (docs/spec.md §19), or is damaged
};

// Stable, lowercase, snake_case name of the check, e.g. "cert_wrong_role".
std::string_view errc_name(Errc code);
// The inverse of errc_name, for errors read back from JSON; nullopt for an unknown name.
std::optional<Errc> errc_from_name(std::string_view name);

struct Error {
  Errc code = Errc::ok;
  std::string detail;  // human-readable; never contains secret material

  // "cert_wrong_role: certificate role is tp, expected sm"
  std::string message() const;
};

template <typename T>
using Result = std::expected<T, Error>;

// Shorthand for returning a failure: `return fail(Errc::bad_hex, "...")`.
inline std::unexpected<Error> fail(Errc code, std::string detail = {}) {
  return std::unexpected<Error>(Error{code, std::move(detail)});
}

}  // namespace dcas

// `DCAS_TRY_ASSIGN(x, f())` declares `x` as a reference to f()'s value, or returns f()'s error
// from the enclosing function (which must return some Result<T>).
#define DCAS_TRY_ASSIGN(var, expr)                                   \
  auto var##_result_ = (expr);                                       \
  if (!var##_result_) return std::unexpected(var##_result_.error()); \
  auto& var = *var##_result_

// `DCAS_TRY(f())` returns f()'s error from the enclosing function, if any.
#define DCAS_TRY(expr)                                                                             \
  do {                                                                                             \
    if (auto dcas_try_ = (expr); !dcas_try_) return std::unexpected(std::move(dcas_try_.error())); \
  } while (0)
