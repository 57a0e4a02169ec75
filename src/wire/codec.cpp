#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "common/byte_reader.h"
#include "wire/message.h"

namespace dcas::wire {

namespace {

// Field tags (docs/spec.md, "Field registry"). The low 15 bits are the field number, which orders
// the fields; bit 15 set marks an ignorable extension field that a decoder not knowing it skips.
// Every tag defined here is mandatory to understand.
enum class Tag : std::uint16_t {
  ap_id = 0x0001,
  encrypted_key_pairing_id = 0x0002,
  encrypted_kpk = 0x0003,
  encrypted_kpk_rand_hmac = 0x0004,
  encrypted_key_hashes = 0x0005,
  ta_kpk_signature = 0x0006,
  sequence = 0x0010,
  issued_at = 0x0011,
  cw_layout = 0x0012,
  cw_ciphertext = 0x0013,
  network_id = 0x0020,
  image_version = 0x0021,
  sm_id = 0x0022,
  presence = 0x0023,
  nonce = 0x0024,
  encrypted_image_key = 0x0025,
  iv = 0x0026,
  image_ciphertext = 0x0027,
  product_id = 0x0040,
  expires_at = 0x0041,
  entitlement_ciphertext = 0x0042,
  crypto_period = 0x0043,
  key_epoch = 0x0044,
  sm_nonce = 0x0030,
  tp_nonce = 0x0031,
  tp_id = 0x0032,
  ephemeral_key = 0x0033,
  tp_hello = 0x0034,
  sm_request = 0x0035,
  pairing_statement = 0x0036,
  kpk_for_sm = 0x0037,
  kpk_for_tp = 0x0038,
  not_after = 0x0039,
  result = 0x003a,
  confirmation = 0x003b,
  signature = 0x007e,
  mac = 0x007f,
  certificate = 0x0080,  // after the signature: KeyRequest (SM->AP) carries Cert(SM) unsigned
  crl = 0x0081,          // after the signature, optional: the TA's CRL, which its own signature authenticates
};
constexpr std::uint16_t ignorable_bit = 0x8000;

struct FieldRule {
  Tag tag;
  std::string_view name;
  std::size_t min_size;
  std::size_t max_size;
  std::size_t multiple_of = 1;
};

// RSA blocks (ciphertexts and signatures) are the modulus size: 256 bytes for the RSA-2048 keys of
// profile koo2010; up to 512 leaves room for RSA-4096 in later profiles.
constexpr FieldRule field_rules[] = {
    {Tag::ap_id, "ap_id", 8, 8},
    {Tag::encrypted_key_pairing_id, "encrypted_key_pairing_id", 256, 512},
    {Tag::encrypted_kpk, "encrypted_kpk", 256, 512},
    {Tag::encrypted_kpk_rand_hmac, "encrypted_kpk_rand_hmac", 256, 512},
    {Tag::encrypted_key_hashes, "encrypted_key_hashes", 256, 512},
    {Tag::ta_kpk_signature, "ta_kpk_signature", 256, 512},
    {Tag::sequence, "sequence", 8, 8},
    {Tag::issued_at, "issued_at", 8, 8},
    {Tag::cw_layout, "cw_layout", 2, 2},
    {Tag::cw_ciphertext, "cw_ciphertext", 32, 32},
    {Tag::network_id, "network_id", 8, 8},
    {Tag::image_version, "image_version", 8, 8},
    {Tag::sm_id, "sm_id", 8, 8},
    {Tag::presence, "presence", 1, 1},
    {Tag::nonce, "nonce", 16, 16},
    {Tag::encrypted_image_key, "encrypted_image_key", 256, 512},
    {Tag::iv, "iv", 16, 16},
    {Tag::image_ciphertext, "image_ciphertext", 16, 64512, 16},
    {Tag::product_id, "product_id", 8, 8},
    {Tag::expires_at, "expires_at", 8, 8},
    {Tag::entitlement_ciphertext, "entitlement_ciphertext", 16, 16},
    {Tag::crypto_period, "crypto_period", 8, 8},
    {Tag::key_epoch, "key_epoch", 8, 8},
    {Tag::sm_nonce, "sm_nonce", 32, 32},
    {Tag::tp_nonce, "tp_nonce", 32, 32},
    {Tag::tp_id, "tp_id", 8, 8},
    {Tag::ephemeral_key, "ephemeral_key", 32, 32},
    {Tag::tp_hello, "tp_hello", header_size, 16384},
    {Tag::sm_request, "sm_request", header_size, 16384},
    {Tag::pairing_statement, "pairing_statement", header_size, 16384},
    {Tag::kpk_for_sm, "kpk_for_sm", 256, 512},
    {Tag::kpk_for_tp, "kpk_for_tp", 256, 512},
    {Tag::not_after, "not_after", 8, 8},
    {Tag::result, "result", 1, 1},
    {Tag::confirmation, "confirmation", 32, 32},
    {Tag::signature, "signature", 256, 512},
    {Tag::mac, "mac", 20, 20},
    {Tag::certificate, "certificate", 1, 8192},
    {Tag::crl, "crl", 1, max_crl_field},
};

const FieldRule* rule_for(std::uint16_t tag) {
  for (const auto& r : field_rules)
    if (static_cast<std::uint16_t>(r.tag) == tag) return &r;
  return nullptr;
}

// A message type's fields, in tag order. All are required but those marked optional (which are
// byte strings: absent decodes as empty).
template <typename T>
struct FieldBinding {
  Tag tag;
  std::variant<Bytes T::*, std::uint64_t T::*> member;
  bool optional = false;
};

template <typename T>
struct Schema;

#define DCAS_SCHEMA(T, TYPE, NAME, AUTH, ...)                                \
  template <>                                                                \
  struct Schema<T> {                                                         \
    static constexpr MessageType type = MessageType::TYPE;                   \
    static constexpr std::string_view name = NAME;                           \
    static constexpr std::optional<Tag> authenticator = AUTH;                \
    static inline const std::vector<FieldBinding<T>> fields = {__VA_ARGS__}; \
  };

constexpr std::optional<Tag> no_auth = std::nullopt;
constexpr std::optional<Tag> signed_by = Tag::signature;
constexpr std::optional<Tag> maced = Tag::mac;

DCAS_SCHEMA(TpCertReq, tp_cert_req, "TPCertReq (SM->TP)", no_auth, {Tag::certificate, &TpCertReq::sm_certificate})
DCAS_SCHEMA(TpCertRsp, tp_cert_rsp, "TPCertRsp (TP->SM)", no_auth, {Tag::certificate, &TpCertRsp::tp_certificate})
DCAS_SCHEMA(KeyRequestFromSm, key_request_sm, "KeyRequest (SM->AP)", signed_by,
            {Tag::encrypted_key_pairing_id, &KeyRequestFromSm::encrypted_key_pairing_id},
            {Tag::signature, &KeyRequestFromSm::signature}, {Tag::certificate, &KeyRequestFromSm::sm_certificate})
DCAS_SCHEMA(KeyRequestFromAp, key_request_ap, "KeyRequest (AP->TA)", signed_by, {Tag::ap_id, &KeyRequestFromAp::ap_id},
            {Tag::encrypted_key_pairing_id, &KeyRequestFromAp::encrypted_key_pairing_id},
            {Tag::issued_at, &KeyRequestFromAp::issued_at}, {Tag::signature, &KeyRequestFromAp::signature})
DCAS_SCHEMA(KeyResponseFromTa, key_response_ta, "KeyResponse (TA->AP)", signed_by,
            {Tag::encrypted_kpk, &KeyResponseFromTa::encrypted_kpk},
            {Tag::ta_kpk_signature, &KeyResponseFromTa::ta_kpk_signature},
            {Tag::signature, &KeyResponseFromTa::signature})
DCAS_SCHEMA(KeyResponseFromAp, key_response_ap, "KeyResponse (AP->SM)", signed_by,
            {Tag::encrypted_kpk, &KeyResponseFromAp::encrypted_kpk},
            {Tag::ta_kpk_signature, &KeyResponseFromAp::ta_kpk_signature},
            {Tag::signature, &KeyResponseFromAp::signature})
DCAS_SCHEMA(CwekGenInfo, cwek_gen_info, "CWEKGenInfo (SM->TP)", signed_by,
            {Tag::encrypted_kpk_rand_hmac, &CwekGenInfo::encrypted_kpk_rand_hmac},
            {Tag::ta_kpk_signature, &CwekGenInfo::ta_kpk_signature}, {Tag::signature, &CwekGenInfo::signature})
DCAS_SCHEMA(CwekGenInfoCnfm, cwek_gen_info_cnfm, "CWEKGenInfoCnfm (TP->SM)", signed_by,
            {Tag::encrypted_key_hashes, &CwekGenInfoCnfm::encrypted_key_hashes},
            {Tag::signature, &CwekGenInfoCnfm::signature})
DCAS_SCHEMA(ControlWord, control_word, "ControlWord (SM->TP)", maced, {Tag::sequence, &ControlWord::sequence},
            {Tag::issued_at, &ControlWord::issued_at}, {Tag::cw_layout, &ControlWord::layout},
            {Tag::cw_ciphertext, &ControlWord::ciphertext}, {Tag::mac, &ControlWord::mac})
DCAS_SCHEMA(SecurityAnnounce, security_announce, "SecurityAnnounce (AP->SM)", signed_by,
            {Tag::network_id, &SecurityAnnounce::network_id}, {Tag::image_version, &SecurityAnnounce::image_version},
            {Tag::signature, &SecurityAnnounce::signature}, {Tag::certificate, &SecurityAnnounce::ap_certificate},
            {Tag::crl, &SecurityAnnounce::crl, true})
DCAS_SCHEMA(DcasDownload, dcas_download, "DCASDownload (AP->SM)", signed_by,
            {Tag::network_id, &DcasDownload::network_id}, {Tag::image_version, &DcasDownload::image_version},
            {Tag::sm_id, &DcasDownload::target_sm_id}, {Tag::signature, &DcasDownload::signature},
            {Tag::certificate, &DcasDownload::ap_certificate}, {Tag::crl, &DcasDownload::crl, true})
DCAS_SCHEMA(HostPresence, host_presence, "HostPresence (AP->TA)", signed_by, {Tag::ap_id, &HostPresence::ap_id},
            {Tag::issued_at, &HostPresence::issued_at}, {Tag::sm_id, &HostPresence::sm_id},
            {Tag::presence, &HostPresence::presence}, {Tag::signature, &HostPresence::signature})
DCAS_SCHEMA(ImageKeyRequest, image_key_request, "ImageKeyRequest (SM->AP)", signed_by,
            {Tag::image_version, &ImageKeyRequest::installed_version}, {Tag::sm_id, &ImageKeyRequest::sm_id},
            {Tag::nonce, &ImageKeyRequest::nonce}, {Tag::signature, &ImageKeyRequest::signature})
DCAS_SCHEMA(ImageKeyGrant, image_key_grant, "ImageKeyGrant (AP->SM)", signed_by,
            {Tag::image_version, &ImageKeyGrant::image_version}, {Tag::sm_id, &ImageKeyGrant::sm_id},
            {Tag::nonce, &ImageKeyGrant::nonce}, {Tag::encrypted_image_key, &ImageKeyGrant::encrypted_image_key},
            {Tag::signature, &ImageKeyGrant::signature})
DCAS_SCHEMA(ClientImage, client_image, "ClientImage (PS->SM)", signed_by, {Tag::network_id, &ClientImage::network_id},
            {Tag::image_version, &ClientImage::image_version}, {Tag::sm_id, &ClientImage::sm_id},
            {Tag::iv, &ClientImage::iv}, {Tag::image_ciphertext, &ClientImage::ciphertext},
            {Tag::signature, &ClientImage::signature})
DCAS_SCHEMA(Emm, emm, "EMM (CAS->SM)", maced, {Tag::issued_at, &Emm::issued_at}, {Tag::sm_id, &Emm::sm_id},
            {Tag::iv, &Emm::iv}, {Tag::product_id, &Emm::product_id}, {Tag::expires_at, &Emm::expires_at},
            {Tag::entitlement_ciphertext, &Emm::ciphertext}, {Tag::key_epoch, &Emm::key_epoch}, {Tag::mac, &Emm::mac})
DCAS_SCHEMA(Ecm, ecm, "ECM (CAS->SM)", maced, {Tag::cw_layout, &Ecm::layout}, {Tag::cw_ciphertext, &Ecm::ciphertext},
            {Tag::iv, &Ecm::iv}, {Tag::product_id, &Ecm::product_id}, {Tag::crypto_period, &Ecm::crypto_period},
            {Tag::key_epoch, &Ecm::key_epoch}, {Tag::mac, &Ecm::mac})
DCAS_SCHEMA(TpCertReqH1, tp_cert_req_h1, "TPCertReq (SM->TP, h1)", no_auth, {Tag::sm_nonce, &TpCertReqH1::sm_nonce},
            {Tag::certificate, &TpCertReqH1::sm_certificate})
DCAS_SCHEMA(TpCertRspH1, tp_cert_rsp_h1, "TPCertRsp (TP->SM, h1)", signed_by, {Tag::sm_id, &TpCertRspH1::sm_id},
            {Tag::sm_nonce, &TpCertRspH1::sm_nonce}, {Tag::tp_nonce, &TpCertRspH1::tp_nonce},
            {Tag::ephemeral_key, &TpCertRspH1::ephemeral_key}, {Tag::signature, &TpCertRspH1::signature},
            {Tag::certificate, &TpCertRspH1::tp_certificate})
DCAS_SCHEMA(KeyRequestFromSmH1, key_request_sm_h1, "KeyRequest (SM->AP, h1)", signed_by,
            {Tag::issued_at, &KeyRequestFromSmH1::issued_at}, {Tag::tp_hello, &KeyRequestFromSmH1::tp_hello},
            {Tag::signature, &KeyRequestFromSmH1::signature}, {Tag::certificate, &KeyRequestFromSmH1::sm_certificate})
DCAS_SCHEMA(KeyRequestFromApH1, key_request_ap_h1, "KeyRequest (AP->TA, h1)", signed_by,
            {Tag::ap_id, &KeyRequestFromApH1::ap_id}, {Tag::issued_at, &KeyRequestFromApH1::issued_at},
            {Tag::sm_request, &KeyRequestFromApH1::sm_request}, {Tag::signature, &KeyRequestFromApH1::signature})
DCAS_SCHEMA(KeyResponseFromTaH1, key_response_ta_h1, "KeyResponse (TA->AP, h1)", signed_by,
            {Tag::sm_id, &KeyResponseFromTaH1::sm_id}, {Tag::sm_nonce, &KeyResponseFromTaH1::sm_nonce},
            {Tag::tp_nonce, &KeyResponseFromTaH1::tp_nonce}, {Tag::tp_id, &KeyResponseFromTaH1::tp_id},
            {Tag::kpk_for_sm, &KeyResponseFromTaH1::kpk_for_sm}, {Tag::kpk_for_tp, &KeyResponseFromTaH1::kpk_for_tp},
            {Tag::not_after, &KeyResponseFromTaH1::not_after}, {Tag::result, &KeyResponseFromTaH1::result},
            {Tag::signature, &KeyResponseFromTaH1::signature})
DCAS_SCHEMA(KeyResponseFromApH1, key_response_ap_h1, "KeyResponse (AP->SM, h1)", signed_by,
            {Tag::pairing_statement, &KeyResponseFromApH1::pairing_statement},
            {Tag::signature, &KeyResponseFromApH1::signature})
DCAS_SCHEMA(CwekGenInfoH1, cwek_gen_info_h1, "CWEKGenInfo (SM->TP, h1)", signed_by,
            {Tag::ephemeral_key, &CwekGenInfoH1::ephemeral_key},
            {Tag::pairing_statement, &CwekGenInfoH1::pairing_statement},
            {Tag::confirmation, &CwekGenInfoH1::confirmation}, {Tag::signature, &CwekGenInfoH1::signature})
DCAS_SCHEMA(CwekGenInfoCnfmH1, cwek_gen_info_cnfm_h1, "CWEKGenInfoCnfm (TP->SM, h1)", no_auth,
            {Tag::confirmation, &CwekGenInfoCnfmH1::confirmation})
#undef DCAS_SCHEMA

// Calls f.template operator()<T>() for the body type T whose wire type is `type`.
template <typename F>
auto with_body_type(MessageType type, F&& f) {
  using R = decltype(f.template operator()<TpCertReq>());
  std::optional<R> out;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((Schema<std::variant_alternative_t<I, Body>>::type == type
          ? (void)(out = f.template operator()<std::variant_alternative_t<I, Body>>())
          : (void)0),
     ...);
  }
  (std::make_index_sequence<std::variant_size_v<Body>>{});
  return out;
}

bool known_type(std::uint8_t t) {
  return with_body_type(static_cast<MessageType>(t), []<typename T>() { return true; }).has_value();
}

void write_header4(ByteWriter& w, Profile profile, MessageType type) {
  w.u8(wire_version);
  w.u8(static_cast<std::uint8_t>(profile));
  w.u8(static_cast<std::uint8_t>(type));
  w.u8(0);  // flags: reserved
}

template <typename T>
void write_field(ByteWriter& w, const T& body, const FieldBinding<T>& f) {
  if (auto bytes = std::get_if<Bytes T::*>(&f.member)) {
    const Bytes& value = body.*(*bytes);
    if (value.empty()) return;
    w.u16(static_cast<std::uint16_t>(f.tag));
    w.u16(static_cast<std::uint16_t>(value.size()));
    w.bytes(value);
  } else {
    w.u16(static_cast<std::uint16_t>(f.tag));
    w.u16(8);
    w.u64(body.*std::get<std::uint64_t T::*>(f.member));
  }
}

// Writes the fields of `body` whose tag is below `stop` (all of them if none).
template <typename T>
void write_fields(ByteWriter& w, const T& body, std::optional<Tag> stop) {
  for (const auto& f : Schema<T>::fields)
    if (!stop || f.tag < *stop) write_field(w, body, f);
}

struct RawField {
  std::uint16_t tag;
  ByteView value;
};

template <typename T>
Result<T> build_body(const std::vector<RawField>& raw) {
  T body{};
  for (const auto& f : Schema<T>::fields) {
    auto it = std::find_if(raw.begin(), raw.end(),
                           [&](const RawField& r) { return r.tag == static_cast<std::uint16_t>(f.tag); });
    if (it == raw.end() && f.optional) continue;
    if (it == raw.end())
      return fail(Errc::wire_missing_field, fmt::format("{} lacks required field {}", Schema<T>::name,
                                                        rule_for(static_cast<std::uint16_t>(f.tag))->name));
    if (auto bytes = std::get_if<Bytes T::*>(&f.member)) {
      body.*(*bytes) = Bytes(it->value.begin(), it->value.end());
    } else {
      ByteReader r(it->value);
      body.*std::get<std::uint64_t T::*>(f.member) = *r.u64();  // length was checked to be 8
    }
  }
  return body;
}

template <typename T>
bool in_schema(std::uint16_t tag) {
  return std::any_of(Schema<T>::fields.begin(), Schema<T>::fields.end(),
                     [&](const FieldBinding<T>& f) { return static_cast<std::uint16_t>(f.tag) == tag; });
}

template <typename T>
Result<Message> decode_body(const Header& header, ByteView whole, ByteView body_bytes) {
  ByteReader r(body_bytes);
  std::vector<RawField> raw;
  std::optional<std::size_t> auth_offset;
  int previous_number = -1;  // fields are ordered by number: the tag without its ignorable bit
  while (!r.at_end()) {
    const std::size_t field_start = r.position();
    DCAS_TRY_ASSIGN(tag, r.u16());
    DCAS_TRY_ASSIGN(length, r.u16());
    DCAS_TRY_ASSIGN(value, r.take(length));
    const int number = tag & ~ignorable_bit;
    if (number == previous_number)
      return fail(Errc::wire_duplicate_field, fmt::format("field number 0x{:04x} appears twice", number));
    if (number < previous_number)
      return fail(Errc::wire_field_order,
                  fmt::format("field 0x{:04x} after field number 0x{:04x}", tag, previous_number));
    previous_number = number;
    const FieldRule* rule = rule_for(tag);
    if (!rule) {
      if (!(tag & ignorable_bit))
        return fail(Errc::wire_unknown_mandatory_field, fmt::format("unknown mandatory field 0x{:04x}", tag));
      // An unknown extension after the authenticator would be unauthenticated: refuse it.
      if (auth_offset)
        return fail(Errc::wire_unexpected_field, fmt::format("extension field 0x{:04x} after the authenticator", tag));
      continue;
    }
    if (!in_schema<T>(tag))
      return fail(Errc::wire_unexpected_field,
                  fmt::format("field {} does not belong in {}", rule->name, Schema<T>::name));
    if (length < rule->min_size || length > rule->max_size || length % rule->multiple_of != 0)
      return fail(Errc::wire_field_length, fmt::format("field {} has length {}", rule->name, length));
    if (Schema<T>::authenticator && tag == static_cast<std::uint16_t>(*Schema<T>::authenticator))
      auth_offset = field_start;
    raw.push_back({tag, value});
  }
  DCAS_TRY_ASSIGN(body, build_body<T>(raw));
  Message m{static_cast<Profile>(header.profile), std::move(body), {}};
  if (auth_offset) m.authenticated = concat({whole.first(4), body_bytes.first(*auth_offset)});
  return m;
}

}  // namespace

// The paper's handshake exists only in koo2010 and the hardened one only in hardened1; every other
// type (the CW channel, the DCAS network protocol, CAS) is shared.
bool defined_in(Profile profile, std::uint8_t t) {
  const bool paper = t >= 0x01 && t <= 0x08;
  const bool hardened = t >= 0x11 && t <= 0x18;
  if (paper) return profile == Profile::koo2010;
  if (hardened) return profile == Profile::hardened1;
  return true;
}

std::string_view profile_name(Profile p) {
  switch (p) {
    case Profile::koo2010: return "koo2010";
    case Profile::hardened1: return "hardened1";
  }
  return "unknown";
}

Result<Profile> profile_from_name(std::string_view name) {
  for (Profile p : {Profile::koo2010, Profile::hardened1})
    if (name == profile_name(p)) return p;
  return fail(Errc::invalid_argument, fmt::format("unknown profile '{}' (koo2010 or hardened1)", name));
}

std::string_view field_name(std::uint16_t tag) {
  const FieldRule* rule = rule_for(tag);
  return rule ? rule->name : std::string_view();
}

std::string_view type_name(MessageType type) {
  auto name = with_body_type(type, []<typename T>() { return Schema<T>::name; });
  return name ? *name : std::string_view("unknown");
}

MessageType type_of(const Body& body) {
  return std::visit([]<typename T>(const T&) { return Schema<T>::type; }, body);
}

Result<Header> decode_header(ByteView data) {
  ByteReader r(data);
  if (data.size() < header_size) return fail(Errc::wire_truncated, "message shorter than its 8-byte header");
  Header h{*r.u8(), *r.u8(), *r.u8(), *r.u8(), *r.u32()};
  if (h.version != wire_version) return fail(Errc::wire_bad_version, fmt::format("version {} is not 1", h.version));
  if (h.profile != static_cast<std::uint8_t>(Profile::koo2010) &&
      h.profile != static_cast<std::uint8_t>(Profile::hardened1))
    return fail(Errc::wire_unknown_profile, fmt::format("profile 0x{:02x} is not supported", h.profile));
  if (!known_type(h.type))
    return fail(Errc::wire_unknown_type, fmt::format("message type 0x{:02x} is unknown", h.type));
  if (!defined_in(static_cast<Profile>(h.profile), h.type))
    return fail(Errc::wire_unknown_type, fmt::format("message type 0x{:02x} is not defined in profile {}", h.type,
                                                     profile_name(static_cast<Profile>(h.profile))));
  if (h.flags != 0) return fail(Errc::wire_reserved_flags, fmt::format("reserved flags 0x{:02x} are set", h.flags));
  if (h.body_length > max_body_size)
    return fail(Errc::wire_too_large, fmt::format("body of {} bytes exceeds {}", h.body_length, max_body_size));
  return h;
}

Result<Message> decode(ByteView data) {
  DCAS_TRY_ASSIGN(header, decode_header(data));
  if (data.size() < header_size + header.body_length)
    return fail(Errc::wire_truncated,
                fmt::format("body needs {} bytes, {} present", header.body_length, data.size() - header_size));
  if (data.size() > header_size + header.body_length)
    return fail(Errc::wire_trailing_bytes,
                fmt::format("{} bytes after the message", data.size() - header_size - header.body_length));
  const ByteView body = data.subspan(header_size);
  auto decoded = with_body_type(static_cast<MessageType>(header.type),
                                [&]<typename T>() { return decode_body<T>(header, data, body); });
  return std::move(*decoded);
}

Bytes encode(const Message& message) {
  ByteWriter w;
  write_header4(w, message.profile, type_of(message));
  w.u32(0);  // body length, patched below
  std::visit([&]<typename T>(const T& body) { write_fields(w, body, std::nullopt); }, message.body);
  w.patch_u32(4, static_cast<std::uint32_t>(w.size() - header_size));
  return w.take();
}

Bytes authenticated_bytes(const Message& message) {
  return std::visit(
      [&]<typename T>(const T& body) {
        ByteWriter w;
        if (!Schema<T>::authenticator) return w.take();
        write_header4(w, message.profile, Schema<T>::type);
        write_fields(w, body, Schema<T>::authenticator);
        return w.take();
      },
      message.body);
}

}  // namespace dcas::wire
