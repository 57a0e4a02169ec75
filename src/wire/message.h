// Every DCAS wire message, and the codec that encodes and decodes them (docs/spec.md, "Wire format").
//
// A message is an 8-byte header (version, profile, type, flags, body length) followed by a body of
// fields (tag, length, value) in strictly ascending tag order. Decoding is strict: truncation,
// trailing bytes, oversize, an unknown version/profile/type, reserved flags, unknown mandatory
// fields, duplicates, misordered fields, bad field lengths, missing fields and fields after the
// authenticator each fail with their own error.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <variant>

#include "common/bytes.h"
#include "common/error.h"

namespace dcas::wire {

inline constexpr std::uint8_t wire_version = 0x01;
inline constexpr std::size_t header_size = 8;
inline constexpr std::size_t max_body_size = 65536 - header_size;  // a whole message fits in 64 KiB
inline constexpr std::size_t max_crl_field = 49152;                // pki::max_crl_size: a CRL and an AP certificate fit

enum class Profile : std::uint8_t {
  koo2010 = 0x01,    // the paper's protocol exactly as published
  hardened1 = 0x02,  // the hardened SM-TP handshake (docs/spec.md §17); the rest as koo2010
};

std::string_view profile_name(Profile p);  // "koo2010", "hardened1"
// Errors: invalid_argument (not a profile name).
Result<Profile> profile_from_name(std::string_view name);

enum class MessageType : std::uint8_t {
  // SM-TP security protocol (paper section IV). The paper's KeyRequest and KeyResponse each cross
  // two hops with different contents; each hop is its own type so a signature made for one hop can
  // never be accepted on the other.
  tp_cert_req = 0x01,         // SM -> TP: Cert(SM)
  tp_cert_rsp = 0x02,         // TP -> SM: Cert(TP)
  key_request_sm = 0x03,      // SM -> AP: E(Pub(AP), KeyPairingID), S(Prv(SM)), Cert(SM)
  key_request_ap = 0x04,      // AP -> TA: AP_ID, E(Pub(TA), KeyPairingID), AP time, S(Prv(AP))
  key_response_ta = 0x05,     // TA -> AP: E(Pub(AP), KPK), S(Prv(TA), KPK), S(Prv(TA))
  key_response_ap = 0x06,     // AP -> SM: E(Pub(SM), KPK), S(Prv(TA), KPK), S(Prv(AP))
  cwek_gen_info = 0x07,       // SM -> TP: E(Pub(TP), KPK || RANDHMAC), S(Prv(TA), KPK), S(Prv(SM))
  cwek_gen_info_cnfm = 0x08,  // TP -> SM: E(Pub(SM), H(CWEK) || H(HMAC_KEY)), S(Prv(TP))
  // Control-word channel (both profiles).
  control_word = 0x10,
  // The hardened1 handshake (docs/spec.md §17): the same eight steps, each bound to both nonces.
  tp_cert_req_h1 = 0x11,         // SM -> TP: N_SM, Cert(SM)
  tp_cert_rsp_h1 = 0x12,         // TP -> SM: SM_ID, N_SM, N_TP, X25519 E_TP, S(Prv(TP)), Cert(TP)
  key_request_sm_h1 = 0x13,      // SM -> AP: time, the TP's answer, S(Prv(SM)), Cert(SM)
  key_request_ap_h1 = 0x14,      // AP -> TA: AP_ID, the SM's request, S(Prv(AP))
  key_response_ta_h1 = 0x15,     // TA -> AP: the pairing statement, S(Prv(TA))
  key_response_ap_h1 = 0x16,     // AP -> SM: the statement unchanged, S(Prv(AP))
  cwek_gen_info_h1 = 0x17,       // SM -> TP: X25519 E_SM, the statement, SM confirmation, S(Prv(SM))
  cwek_gen_info_cnfm_h1 = 0x18,  // TP -> SM: TP confirmation  // SM -> TP: sequence, time, layout, AES-128-CBC(CWEK)
                                 // ciphertext, HMAC-SHA1(HMAC_KEY)
  // DCAS network protocol (0x20-0x3f). Minimal forms carrying the protocol's triggers and the AP's
  // view of host presence; the headend completes them.
  security_announce = 0x20,  // AP -> all SMs: network ID, client image version, S(Prv(AP)), Cert(AP)
  dcas_download = 0x21,      // AP -> one SM: network ID, image version, target SM_ID, S(Prv(AP)), Cert(AP)
  host_presence = 0x22,      // AP -> TA: AP_ID, AP time, SM_ID, present/left, S(Prv(AP))
  image_key_request = 0x23,  // SM -> AP: installed image version, SM_ID, nonce, S(Prv(SM))
  image_key_grant = 0x24,    // AP -> SM: image version, SM_ID, nonce, E(Pub(SM), image key), S(Prv(AP))
  client_image = 0x25,       // PS -> SM: network ID, image version, SM_ID, IV, image ciphertext, S(Prv(AP))
  // CAS (0x40-0x5f), carried in transport-stream sections.
  emm = 0x40,  // CAS -> one SM: issue time, SM_ID, IV, product, expiry, product key under the SM's CA key, MAC
  ecm = 0x41,  // CAS -> every SM: CW layout, odd||even CWs under the product key, IV, product, period, MAC
  // 0x60-0x6f: service status and errors. Reserved, decoded as wire_unknown_type until defined.
};

std::string_view type_name(MessageType type);  // the paper's name, e.g. "KeyRequest (SM->AP)"
// A registered field's name (§6.3), e.g. "sm_id" for 0x0022; empty for an unregistered tag.
std::string_view field_name(std::uint16_t tag);

struct TpCertReq {
  Bytes sm_certificate;  // DER
};
struct TpCertRsp {
  Bytes tp_certificate;  // DER
};
struct KeyRequestFromSm {
  Bytes encrypted_key_pairing_id;  // RSAES-OAEP under Pub(AP)
  Bytes signature;                 // RSASSA-PSS by Prv(SM) over the authenticated bytes
  Bytes sm_certificate;            // DER, outside the signature (as the paper places it)
};
struct KeyRequestFromAp {
  Bytes ap_id;                     // 8 bytes: tells the TA which AP key verifies the signature
  Bytes encrypted_key_pairing_id;  // under Pub(TA)
  std::uint64_t issued_at = 0;     // AP clock, ms, strictly increasing per AP: the link's freshness (§13.5)
  Bytes signature;                 // by Prv(AP)
};
struct KeyResponseFromTa {
  Bytes encrypted_kpk;     // under Pub(AP)
  Bytes ta_kpk_signature;  // S(Prv(TA), KPK)
  Bytes signature;         // by Prv(TA)
};
struct KeyResponseFromAp {
  Bytes encrypted_kpk;     // under Pub(SM)
  Bytes ta_kpk_signature;  // passed through unchanged from the TA
  Bytes signature;         // by Prv(AP)
};
struct CwekGenInfo {
  Bytes encrypted_kpk_rand_hmac;  // under Pub(TP): KPK || RANDHMAC
  Bytes ta_kpk_signature;         // passed through unchanged
  Bytes signature;                // by Prv(SM)
};
struct CwekGenInfoCnfm {
  Bytes encrypted_key_hashes;  // under Pub(SM): H(CWEK) || H(HMAC_KEY)
  Bytes signature;             // by Prv(TP)
};
struct ControlWord {
  std::uint64_t sequence = 0;   // strictly increasing per CWEK, from 1
  std::uint64_t issued_at = 0;  // SM clock, milliseconds since the Unix epoch
  Bytes layout;                 // 2 bytes: slots present (bit 0 odd, bit 1 even), CW length (8 or 16)
  Bytes ciphertext;             // 32 bytes: AES-128-CBC under CWEK of odd slot || even slot
  Bytes mac;                    // 20 bytes: HMAC-SHA1 under HMAC_KEY over the authenticated bytes
};
struct SecurityAnnounce {
  Bytes network_id;  // 8 bytes
  std::uint64_t image_version = 0;
  Bytes signature;       // by Prv(AP)
  Bytes ap_certificate;  // DER
  Bytes crl;             // optional, DER: the newest CRL the AP holds (docs/spec.md §18); TA-signed
};
struct DcasDownload {
  Bytes network_id;  // 8 bytes
  std::uint64_t image_version = 0;
  Bytes target_sm_id;    // 8 bytes
  Bytes signature;       // by Prv(AP)
  Bytes ap_certificate;  // DER
  Bytes crl;             // optional, as in SecurityAnnounce
};
struct HostPresence {
  Bytes ap_id;                  // 8 bytes
  std::uint64_t issued_at = 0;  // AP clock, ms, strictly increasing per AP: the link's freshness (§13.5)
  Bytes sm_id;                  // 8 bytes
  Bytes presence;               // 1 byte: 0x01 present, 0x00 left the network
  Bytes signature;              // by Prv(AP)
};

struct ImageKeyRequest {
  std::uint64_t installed_version = 0;  // 0: no image (virgin SM)
  Bytes sm_id;                          // 8 bytes
  Bytes nonce;                          // 16 fresh bytes from the SM, echoed in the grant
  Bytes signature;                      // by Prv(SM)
};
struct ImageKeyGrant {
  std::uint64_t image_version = 0;  // the version the download server will deliver
  Bytes sm_id;                      // 8 bytes
  Bytes nonce;                      // the request's nonce
  Bytes encrypted_image_key;        // RSAES-OAEP under Pub(SM): the 16-byte image key
  Bytes signature;                  // by Prv(AP)
};
struct ClientImage {
  Bytes network_id;  // 8 bytes: the network whose PS personalized the image
  std::uint64_t image_version = 0;
  Bytes sm_id;       // 8 bytes: the SM the image is personalized for
  Bytes iv;          // 16 bytes
  Bytes ciphertext;  // AES-128-CBC (PKCS#7 padding) under the image key of the image plaintext
  Bytes signature;   // by Prv(AP): the headend's key signs for its PS
};
struct Emm {
  std::uint64_t issued_at = 0;  // CAS time of issue, ms since the Unix epoch: an older EMM is a replay
  Bytes sm_id;                  // 8 bytes: the SM it entitles
  Bytes iv;                     // 16 bytes
  std::uint64_t product_id = 0;
  std::uint64_t expires_at = 0;  // seconds since the Unix epoch
  Bytes ciphertext;              // 16 bytes: AES-128-CBC of the product key under the CA key's cipher key
  Bytes mac;                     // 20 bytes: HMAC-SHA1 under the CA key's MAC key
  std::uint64_t key_epoch = 1;   // which of the product's keys this is (docs/spec.md §15.4); from 1
};
struct Ecm {
  Bytes layout;      // 2 bytes, as ControlWord
  Bytes ciphertext;  // 32 bytes: AES-128-CBC of odd slot || even slot under the product key's cipher key
  Bytes iv;          // 16 bytes
  std::uint64_t product_id = 0;
  std::uint64_t crypto_period = 0;  // number of the crypto period on air; the even slot is on air when even
  Bytes mac;                        // 20 bytes: HMAC-SHA1 under the product key's MAC key
  std::uint64_t key_epoch = 1;      // the epoch of the product key it is sealed under (§15.4)
};

// The hardened1 handshake (docs/spec.md §17).
struct TpCertReqH1 {
  Bytes sm_nonce;        // 32 fresh bytes: N_SM
  Bytes sm_certificate;  // DER
};
struct TpCertRspH1 {
  Bytes sm_id;           // 8 bytes: the SM this answers (from its certificate)
  Bytes sm_nonce;        // N_SM, echoed
  Bytes tp_nonce;        // 32 fresh bytes: N_TP
  Bytes ephemeral_key;   // 32 bytes: the TP's X25519 public value for this run
  Bytes signature;       // by Prv(TP)
  Bytes tp_certificate;  // DER
};
struct KeyRequestFromSmH1 {
  std::uint64_t issued_at = 0;  // SM clock, ms since the Unix epoch: the TA's freshness check
  Bytes tp_hello;               // the TPCertRsp (h1) message exactly as the SM received it
  Bytes signature;              // by Prv(SM)
  Bytes sm_certificate;         // DER
};
struct KeyRequestFromApH1 {
  Bytes ap_id;                  // 8 bytes
  std::uint64_t issued_at = 0;  // as in KeyRequest (AP->TA)
  Bytes sm_request;             // the KeyRequest (SM->AP, h1) message exactly as received
  Bytes signature;              // by Prv(AP)
};
// The TA's pairing statement: what it decided about which pair in which run, and the KPK for each
// end of the pair only.
struct KeyResponseFromTaH1 {
  Bytes sm_id;                  // 8 bytes
  Bytes sm_nonce;               // N_SM
  Bytes tp_nonce;               // N_TP
  Bytes tp_id;                  // 8 bytes
  Bytes kpk_for_sm;             // RSAES-OAEP under Pub(SM): KPK (the failure KPK when refused)
  Bytes kpk_for_tp;             // RSAES-OAEP under Pub(TP): the same KPK
  std::uint64_t not_after = 0;  // TA clock, ms since the Unix epoch: the statement is void after
  Bytes result;                 // 1 byte: 0x01 paired, 0x00 refused
  Bytes signature;              // by Prv(TA)
};
struct KeyResponseFromApH1 {
  Bytes pairing_statement;  // the KeyResponse (TA->AP, h1) message unchanged
  Bytes signature;          // by Prv(AP)
};
struct CwekGenInfoH1 {
  Bytes ephemeral_key;      // 32 bytes: the SM's X25519 public value
  Bytes pairing_statement;  // the KeyResponse (TA->AP, h1) message unchanged
  Bytes confirmation;       // 32 bytes: HMAC-SHA256(K_confirm, "SM" || TH)
  Bytes signature;          // by Prv(SM)
};
struct CwekGenInfoCnfmH1 {
  Bytes confirmation;  // 32 bytes: HMAC-SHA256(K_confirm, "TP" || TH)
};

using Body =
    std::variant<TpCertReq, TpCertRsp, KeyRequestFromSm, KeyRequestFromAp, KeyResponseFromTa, KeyResponseFromAp,
                 CwekGenInfo, CwekGenInfoCnfm, ControlWord, SecurityAnnounce, DcasDownload, HostPresence,
                 ImageKeyRequest, ImageKeyGrant, ClientImage, Emm, Ecm, TpCertReqH1, TpCertRspH1, KeyRequestFromSmH1,
                 KeyRequestFromApH1, KeyResponseFromTaH1, KeyResponseFromApH1, CwekGenInfoH1, CwekGenInfoCnfmH1>;

struct Message {
  Profile profile = Profile::koo2010;
  Body body;
  // Filled by decode() for types with a signature or MAC: the exact received bytes that
  // authenticator covers (see authenticated_bytes). Ignored by encode().
  Bytes authenticated;
};

// Whether `profile` defines message type `type`: the paper's handshake (0x01-0x08) only koo2010,
// the hardened one (0x11-0x18) only hardened1, every other type both.
bool defined_in(Profile profile, std::uint8_t type);

MessageType type_of(const Body& body);
inline MessageType type_of(const Message& m) { return type_of(m.body); }

// The canonical encoding. Fields with empty values are omitted (and a required one then makes the
// result undecodable, which the tests exercise).
Bytes encode(const Message& message);

// Strict decoding of exactly one message occupying all of `data`.
Result<Message> decode(ByteView data);

// What the message's signature or MAC covers: header bytes 0-3 (version, profile, type, flags)
// followed by every body field that precedes the signature or MAC field, as encode() writes them.
// Signers call this on the message before setting the authenticator; verifiers use
// Message::authenticated from decode(). Empty for types without an authenticator.
Bytes authenticated_bytes(const Message& message);

// Peeks at a header without decoding the body (for transports and dispatch tables).
struct Header {
  std::uint8_t version;
  std::uint8_t profile;
  std::uint8_t type;
  std::uint8_t flags;
  std::uint32_t body_length;
};
// Errors: wire_truncated (fewer than 8 bytes), wire_bad_version, wire_unknown_profile,
// wire_unknown_type (also: a type the header's profile does not define), wire_reserved_flags, wire_too_large.
Result<Header> decode_header(ByteView data);

}  // namespace dcas::wire
