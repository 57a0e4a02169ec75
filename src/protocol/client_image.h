// The CA client image (docs/spec.md, "Client image download"): what the PS personalizes for one SM
// and the SM's bootloader installs. The image plaintext carries the SM's CA key; it travels
// encrypted under the image key the AP established with the SM (AES-128-CBC, PKCS#7 padding) in a
// ClientImage message signed by the headend. The PS side seals, the bootloader side opens; both
// are here so the format is defined once.
#pragma once

#include "protocol/role.h"

namespace dcas::protocol {

inline constexpr std::size_t image_key_size = 16;
inline constexpr std::size_t ca_key_size = 16;
inline constexpr std::size_t max_image_code_size = 60'000;  // the sealed image fits one message

struct ImageContents {
  Bytes network_id;  // 8 bytes
  std::uint64_t version = 0;
  SmId sm;
  SecureBytes ca_key;  // 16 bytes: the SM's key for EMMs on this network
  Bytes code;          // the CA client application
};

// Image plaintext: "DCASIMG1" || network_id (8) || version (u64) || SM_ID (8) || CA key (16) ||
// code length (u32) || code. Errors: bad_length.
Result<SecureBytes> encode_image(const ImageContents& image);
// Errors: image_invalid (magic, lengths).
Result<ImageContents> parse_image(ByteView plaintext);

// The PS: encrypts under `image_key`, signs with the headend's key. Errors: bad_length,
// random_failure, crypto_failure.
Result<Bytes> seal_client_image(const ImageContents& image, ByteView image_key, const crypto::RsaPrivateKey& signer,
                                crypto::RandomSource& rng);

// The bootloader's checks, in order: decodes; the signature by `signer` (the AP certificate the SM
// verified); the outer SM_ID and version equal what was granted; decrypts under `image_key`
// (padding); the plaintext's network, version and SM_ID equal the outer ones. Errors: wire errors,
// signature_invalid, image_wrong_target, decrypt_failed, image_invalid.
Result<ImageContents> open_client_image(ByteView message, const crypto::RsaPublicKey& signer, ByteView image_key,
                                        const SmId& sm, std::uint64_t granted_version);

}  // namespace dcas::protocol
