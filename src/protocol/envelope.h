// The operations every role performs on protocol messages, in one place: signing and verifying a
// message's authenticated bytes, encrypting to a peer, decrypting a payload of an exact size, and
// decoding a message of an expected type.
#pragma once

#include "common/bytes.h"
#include "crypto/random.h"
#include "crypto/rsa.h"
#include "protocol/role.h"
#include "wire/message.h"

namespace dcas::protocol {

// Signs the message's authenticated bytes with RSASSA-PSS, stores the signature in the body's
// `signature` field and returns the encoding. Errors: crypto_failure, random_failure.
Result<Bytes> sign_and_encode(wire::Message message, const crypto::RsaPrivateKey& key, crypto::RandomSource& rng);

// Verifies the body's `signature` over the bytes received (Message::authenticated).
// Errors: signature_invalid, naming `signer`.
Result<void> verify_signature(const wire::Message& message, const crypto::RsaPublicKey& key, std::string_view signer);

// E(Pub, m). Errors: as crypto::oaep_encrypt.
Result<Bytes> encrypt_to(const crypto::RsaPublicKey& key, ByteView plaintext, crypto::RandomSource& rng);

// Decrypts and requires exactly `size` bytes. Errors: decrypt_failed, bad_plaintext.
Result<SecureBytes> decrypt_exact(const crypto::RsaPrivateKey& key, ByteView ciphertext, std::size_t size,
                                  std::string_view what);

// Decodes `bytes` and requires it to be of body type T. Errors: wire errors, unexpected_message.
template <typename T>
Result<std::pair<wire::Message, T>> decode_as(ByteView bytes) {
  DCAS_TRY_ASSIGN(message, wire::decode(bytes));
  auto* body = std::get_if<T>(&message.body);
  if (!body) return fail(Errc::unexpected_message, std::string(wire::type_name(wire::type_of(message))));
  T copy = *body;  // the message keeps its body: verify_signature reads the signature from it
  return std::pair<wire::Message, T>{std::move(message), std::move(copy)};
}

std::uint64_t to_unix_ms(TimePoint t);

}  // namespace dcas::protocol
