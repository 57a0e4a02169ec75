#include "protocol/cw_channel.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/byte_reader.h"
#include "protocol/derivation.h"
#include "protocol/envelope.h"
#include "wire/message.h"

namespace dcas::protocol {

namespace {

// The fixed encoding of a ControlWord message (docs/spec.md): header, then sequence, issued_at,
// cw_layout, cw_ciphertext and mac, each as tag, length, value.
constexpr std::size_t off_sequence = 12, off_issued_at = 24, off_layout = 36, off_ciphertext = 42, off_mac = 78;
constexpr std::size_t authenticated_body_end = 74;  // the mac field's tag
constexpr std::uint8_t fixed_header[8] = {0x01, 0x01, 0x10, 0x00, 0x00, 0x00, 0x00, 0x5a};
constexpr std::pair<std::size_t, std::array<std::uint8_t, 4>> fixed_tlvs[] = {
    {8, {0x00, 0x10, 0x00, 0x08}},  {20, {0x00, 0x11, 0x00, 0x08}}, {32, {0x00, 0x12, 0x00, 0x02}},
    {38, {0x00, 0x13, 0x00, 0x20}}, {74, {0x00, 0x7f, 0x00, 0x14}},
};
constexpr std::uint8_t slot_odd = 0x01, slot_even = 0x02;

void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
}
std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

// The authenticated bytes of the fixed layout, made contiguous: one HMAC update instead of two.
std::array<std::uint8_t, 4 + authenticated_body_end - 8> fixed_authenticated(ByteView m) {
  std::array<std::uint8_t, 4 + authenticated_body_end - 8> a{};
  std::copy_n(m.begin(), 4, a.begin());
  std::copy(m.begin() + 8, m.begin() + authenticated_body_end, a.begin() + 4);
  return a;
}

bool has_fixed_layout(ByteView m) {
  if (m.size() != cw_message_size || !std::equal(std::begin(fixed_header), std::end(fixed_header), m.begin()))
    return false;
  return std::all_of(std::begin(fixed_tlvs), std::end(fixed_tlvs),
                     [&](const auto& t) { return std::equal(t.second.begin(), t.second.end(), m.begin() + t.first); });
}

// The fields of a received ControlWord, as views into the message or into `holder`.
struct ReceivedCw {
  std::uint64_t sequence;
  std::uint64_t issued_at;
  ByteView layout, ciphertext, mac;
  ByteView auth_head, auth_body;  // authenticated bytes: header part and body part (fixed layout),
                                  // or all of them in auth_head (generic path)
};

Result<ReceivedCw> parse(ByteView m, wire::Message& holder) {
  if (has_fixed_layout(m))
    return ReceivedCw{get_u64(&m[off_sequence]),
                      get_u64(&m[off_issued_at]),
                      m.subspan(off_layout, 2),
                      m.subspan(off_ciphertext, 32),
                      m.subspan(off_mac, 20),
                      m.first(4),
                      m.subspan(8, authenticated_body_end - 8)};
  // Anything else (e.g. with an ignorable extension) goes through the generic codec.
  DCAS_TRY_ASSIGN(decoded, decode_as<wire::ControlWord>(m));
  holder = std::move(decoded.first);
  const auto& cw = std::get<wire::ControlWord>(holder.body);
  return ReceivedCw{cw.sequence, cw.issued_at, cw.layout, cw.ciphertext, cw.mac, holder.authenticated, {}};
}

}  // namespace

// Every member is trivially destructible: one wipe of the whole object clears both slots.
ControlWords::~ControlWords() { secure_wipe(this, sizeof *this); }

Result<CwSealer> CwSealer::create(ByteView cwek, ByteView hmac_key) {
  if (cwek.size() != cwek_size || hmac_key.size() != hmac_key_size)
    return fail(Errc::bad_length, "CWEK must be 16 bytes and HMAC_KEY 20");
  DCAS_TRY_ASSIGN(cbc, crypto::Aes128::create(crypto::AesMode::cbc, crypto::AesDirection::encrypt, cwek));
  DCAS_TRY_ASSIGN(mac, crypto::HmacSha1::create(hmac_key));
  CwSealer sealer(std::move(cbc), std::move(mac));
  static constexpr std::array<std::uint8_t, 48> nothing{};
  std::array<std::uint8_t, 48> ignored{};
  DCAS_TRY(sealer.cbc_.run(sealer.chain_, nothing, ignored));  // sets the IV once; chain_ = last block
  std::copy(ignored.end() - 16, ignored.end(), sealer.chain_.begin());
  return sealer;
}

Result<std::array<std::uint8_t, 2>> slot_layout(const ControlWords& cws) {
  if (!cws.odd && !cws.even) return fail(Errc::invalid_argument, "a control-word update needs the odd or even CW");
  if (cws.cw_length != 8 && cws.cw_length != 16) return fail(Errc::invalid_argument, "CW length must be 8 or 16");
  return std::array<std::uint8_t, 2>{static_cast<std::uint8_t>((cws.odd ? slot_odd : 0) | (cws.even ? slot_even : 0)),
                                     cws.cw_length};
}

void write_slots(const ControlWords& cws, std::span<std::uint8_t, 2 * cw_slot_size> out) {
  std::fill(out.begin(), out.end(), 0);
  for (std::size_t slot = 0; slot < 2; ++slot)
    if (const auto& cw = slot == 0 ? cws.odd : cws.even)
      std::copy_n(cw->begin(), cws.cw_length, out.begin() + slot * cw_slot_size);
}

Result<ControlWords> read_slots(ByteView layout, std::span<const std::uint8_t, 2 * cw_slot_size> plain) {
  const std::uint8_t slots = layout.size() == 2 ? layout[0] : 0, length = layout.size() == 2 ? layout[1] : 0;
  bool well_formed = (slots & ~(slot_odd | slot_even)) == 0 && slots != 0 && (length == 8 || length == 16);
  ControlWords out;
  out.cw_length = length;
  for (std::size_t slot = 0; slot < 2 && well_formed; ++slot) {
    const auto* p = plain.data() + slot * cw_slot_size;
    const bool present = slots & (slot == 0 ? slot_odd : slot_even);
    // Unused bytes must be zero: they are covered by the MAC, so this only catches a faulty sender.
    const std::size_t used = present ? std::min<std::size_t>(length, cw_slot_size) : 0;
    well_formed = std::all_of(p + used, p + cw_slot_size, [](std::uint8_t b) { return b == 0; });
    if (present && well_formed) {
      auto& target = slot == 0 ? out.odd : out.even;
      target.emplace();
      std::copy_n(p, cw_slot_size, target->begin());
    }
  }
  if (!well_formed) return fail(Errc::bad_plaintext, "control-word layout or padding is malformed");
  return out;
}

Result<CwMessage> CwSealer::seal(const ControlWords& cws, TimePoint now) {
  CwMessage m;
  DCAS_TRY(seal_into(cws, now, m));
  return m;
}

Result<void> CwSealer::seal_into(const ControlWords& cws, TimePoint now, CwMessage& m) {
  if (!cws.odd && !cws.even) return fail(Errc::invalid_argument, "a control-word update needs the odd or even CW");
  if (cws.cw_length != 8 && cws.cw_length != 16) return fail(Errc::invalid_argument, "CW length must be 8 or 16");
  std::copy(std::begin(fixed_header), std::end(fixed_header), m.begin());
  for (const auto& [offset, tlv] : fixed_tlvs) std::copy(tlv.begin(), tlv.end(), m.begin() + offset);
  const std::uint64_t sequence = sequence_ + 1;
  put_u64(&m[off_sequence], sequence);
  put_u64(&m[off_issued_at], to_unix_ms(now));
  m[off_layout] = static_cast<std::uint8_t>((cws.odd ? slot_odd : 0) | (cws.even ? slot_even : 0));
  m[off_layout + 1] = cws.cw_length;

  // IV = AES(CWEK, N), C1 = AES(P1 ^ IV), C2 = AES(P2 ^ C1): CBC over (N ^ chain) || P1 || P2
  // on the running context, whose chaining value `chain_` the first XOR cancels.
  std::array<std::uint8_t, 48> in{}, out{};
  const auto n = cw_nonce_block(sequence);
  for (std::size_t i = 0; i < 16; ++i) in[i] = n[i] ^ chain_[i];
  // Whole 16-byte slots (a fixed-size copy), then the unused tail of 8-byte CWs cleared.
  if (cws.odd) std::copy_n(cws.odd->begin(), cw_slot_size, in.begin() + 16);
  if (cws.even) std::copy_n(cws.even->begin(), cw_slot_size, in.begin() + 32);
  if (cws.cw_length == 8) {
    std::fill_n(in.begin() + 24, 8, 0);
    std::fill_n(in.begin() + 40, 8, 0);
  }
  auto encrypted = cbc_.run_continuing(in, out);
  secure_wipe(in.data(), in.size());
  DCAS_TRY(encrypted);
  std::copy(out.begin() + 16, out.end(), m.begin() + off_ciphertext);
  std::copy(out.end() - 16, out.end(), chain_.begin());

  DCAS_TRY_ASSIGN(tag, mac_.mac({fixed_authenticated(m)}));
  std::copy(tag.begin(), tag.end(), m.begin() + off_mac);
  sequence_ = sequence;
  return {};
}

Result<CwOpener> CwOpener::create(ByteView cwek, ByteView hmac_key, CwPolicy policy) {
  if (cwek.size() != cwek_size || hmac_key.size() != hmac_key_size)
    return fail(Errc::bad_length, "CWEK must be 16 bytes and HMAC_KEY 20");
  DCAS_TRY_ASSIGN(encrypt, crypto::Aes128::create(crypto::AesMode::ecb, crypto::AesDirection::encrypt, cwek));
  DCAS_TRY_ASSIGN(decrypt, crypto::Aes128::create(crypto::AesMode::ecb, crypto::AesDirection::decrypt, cwek));
  DCAS_TRY_ASSIGN(mac, crypto::HmacSha1::create(hmac_key));
  return CwOpener(std::move(encrypt), std::move(decrypt), std::move(mac), policy);
}

Result<ControlWords> CwOpener::open(ByteView message, TimePoint now) {
  wire::Message holder;
  DCAS_TRY_ASSIGN(cw, parse(message, holder));
  // The MAC is checked before any field is believed or anything decrypted.
  DCAS_TRY_ASSIGN(expected, cw.auth_body.empty() ? mac_.mac({cw.auth_head}) : mac_.mac({fixed_authenticated(message)}));
  if (!equal_ct(expected, cw.mac)) return fail(Errc::mac_invalid, "ControlWord MAC does not verify");
  if (cw.sequence <= last_sequence_)
    return fail(Errc::cw_replayed, fmt::format("sequence {} is not above {}", cw.sequence, last_sequence_));
  const std::uint64_t now_ms = to_unix_ms(now);
  if (cw.issued_at + static_cast<std::uint64_t>(policy_.max_age.count()) < now_ms)
    return fail(Errc::cw_stale, fmt::format("issued {} ms ago", now_ms - cw.issued_at));
  if (cw.issued_at > now_ms + static_cast<std::uint64_t>(policy_.max_future.count()))
    return fail(Errc::cw_stale, fmt::format("issued {} ms in the future", cw.issued_at - now_ms));

  // CBC decryption: P1 = AES^-1(C1) ^ IV, P2 = AES^-1(C2) ^ C1, with IV = AES(CWEK, N).
  std::array<std::uint8_t, 16> iv{};
  DCAS_TRY(encrypt_.run({}, cw_nonce_block(cw.sequence), iv));
  std::array<std::uint8_t, 32> plain{};
  DCAS_TRY(decrypt_.run({}, cw.ciphertext, plain));
  for (std::size_t i = 0; i < 16; ++i) {
    plain[i] ^= iv[i];
    plain[16 + i] ^= cw.ciphertext[i];
  }

  auto out = read_slots(cw.layout, plain);
  secure_wipe(plain.data(), plain.size());
  if (!out) return std::unexpected(out.error());
  last_sequence_ = cw.sequence;
  return std::move(*out);
}

std::array<std::uint8_t, 16> cw_nonce_block(std::uint64_t sequence) {
  std::array<std::uint8_t, 16> n{};
  put_u64(n.data() + 8, sequence);
  return n;
}

}  // namespace dcas::protocol
