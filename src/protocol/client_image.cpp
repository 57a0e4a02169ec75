#include "protocol/client_image.h"

#include <fmt/format.h>

#include "common/byte_reader.h"
#include "crypto/aes.h"
#include "protocol/envelope.h"

namespace dcas::protocol {

namespace {

constexpr std::string_view image_magic = "DCASIMG1";
constexpr std::size_t image_header_size = 8 + 8 + 8 + 8 + ca_key_size + 4;

// PKCS#7 by hand: the AES helper runs CBC without padding, as every other user of it needs.
SecureBytes pad(ByteView plain) {
  const std::size_t n = 16 - plain.size() % 16;
  SecureBytes out(plain.begin(), plain.end());
  out.insert(out.end(), n, static_cast<std::uint8_t>(n));
  return out;
}

Result<std::size_t> unpadded_size(ByteView padded) {
  const std::size_t n = padded.empty() ? 0 : padded.back();
  bool ok = n >= 1 && n <= 16 && n <= padded.size();
  for (std::size_t i = 0; ok && i < n; ++i) ok = padded[padded.size() - 1 - i] == n;
  if (!ok) return fail(Errc::image_invalid, "image padding is malformed");
  return padded.size() - n;
}

Error invalid(std::string_view what) { return Error{Errc::image_invalid, std::string(what)}; }

}  // namespace

Result<SecureBytes> encode_image(const ImageContents& image) {
  if (image.network_id.size() != 8) return fail(Errc::bad_length, "network ID must be 8 bytes");
  if (image.ca_key.size() != ca_key_size) return fail(Errc::bad_length, "CA key must be 16 bytes");
  if (image.code.size() > max_image_code_size) return fail(Errc::bad_length, "image code too large");
  // Written straight into one zeroizing buffer of the final size: no copy of the CA key is left in
  // memory freed on the way.
  SecureBytes out;
  out.reserve(image_header_size + image.code.size());
  auto put = [&](ByteView b) { out.insert(out.end(), b.begin(), b.end()); };
  auto put_be = [&](std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  put(view(image_magic));
  put(image.network_id);
  put_be(image.version, 8);
  put(image.sm.view());
  put(view(image.ca_key));
  put_be(image.code.size(), 4);
  put(image.code);
  return out;
}

Result<ImageContents> parse_image(ByteView plaintext) {
  if (plaintext.size() < image_header_size) return std::unexpected(invalid("image shorter than its header"));
  if (!equal_ct(plaintext.first(8), view(image_magic))) return std::unexpected(invalid("not a CA client image"));
  ByteReader r(plaintext.subspan(8));
  ImageContents image;
  auto network = r.take(8);
  auto version = r.u64();
  auto sm = r.take(8);
  auto key = r.take(ca_key_size);
  auto length = r.u32();
  if (!network || !version || !sm || !key || !length) return std::unexpected(invalid("image header truncated"));
  if (*length > max_image_code_size || *length != plaintext.size() - image_header_size)
    return std::unexpected(invalid(fmt::format("image code length {} does not match the image", *length)));
  image.network_id.assign(network->begin(), network->end());
  image.version = *version;
  std::copy(sm->begin(), sm->end(), image.sm.bytes.begin());
  image.ca_key.assign(key->begin(), key->end());
  image.code.assign(plaintext.begin() + image_header_size, plaintext.end());
  return image;
}

Result<Bytes> seal_client_image(const ImageContents& image, ByteView image_key, const crypto::RsaPrivateKey& signer,
                                crypto::RandomSource& rng) {
  if (image_key.size() != image_key_size) return fail(Errc::bad_length, "image key must be 16 bytes");
  DCAS_TRY_ASSIGN(plain, encode_image(image));
  DCAS_TRY_ASSIGN(random_iv, rng.bytes(16));
  const Bytes iv(random_iv.begin(), random_iv.end());
  DCAS_TRY_ASSIGN(ciphertext, crypto::aes128_run(crypto::AesMode::cbc, crypto::AesDirection::encrypt, image_key, iv,
                                                 view(pad(view(plain)))));
  return sign_and_encode(
      {wire::Profile::koo2010,
       wire::ClientImage{
           image.network_id, image.version, Bytes(image.sm.bytes.begin(), image.sm.bytes.end()), iv, ciphertext, {}},
       {}},
      signer, rng);
}

Result<ImageContents> open_client_image(ByteView message, const crypto::RsaPublicKey& signer, ByteView image_key,
                                        const SmId& sm, std::uint64_t granted_version) {
  DCAS_TRY_ASSIGN(m, decode_as<wire::ClientImage>(message));
  const auto& outer = m.second;
  DCAS_TRY(verify_signature(m.first, signer, "headend"));
  if (!equal_ct(outer.sm_id, sm.view()))
    return fail(Errc::image_wrong_target, "image personalized for SM " + to_hex(outer.sm_id));
  if (outer.image_version != granted_version)
    return fail(Errc::image_wrong_target,
                fmt::format("image version {} where {} was granted", outer.image_version, granted_version));
  auto decrypted =
      crypto::aes128_run(crypto::AesMode::cbc, crypto::AesDirection::decrypt, image_key, outer.iv, outer.ciphertext);
  if (!decrypted) return fail(Errc::decrypt_failed, "image does not decrypt");
  SecureBytes plain(decrypted->begin(), decrypted->end());
  secure_wipe(decrypted->data(), decrypted->size());
  DCAS_TRY_ASSIGN(size, unpadded_size(view(plain)));
  DCAS_TRY_ASSIGN(image, parse_image(view(plain).first(size)));
  if (image.sm != sm || image.version != outer.image_version || image.network_id != outer.network_id)
    return fail(Errc::image_invalid, "the image's header differs from its envelope");
  return image;
}

}  // namespace dcas::protocol
