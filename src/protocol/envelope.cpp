#include "protocol/envelope.h"

#include <fmt/format.h>

namespace dcas::protocol {

Result<Bytes> sign_and_encode(wire::Message message, const crypto::RsaPrivateKey& key, crypto::RandomSource& rng) {
  DCAS_TRY_ASSIGN(signature, crypto::pss_sign(key, wire::authenticated_bytes(message), rng));
  std::visit(
      [&](auto& body) {
        if constexpr (requires { body.signature; }) body.signature = std::move(signature);
      },
      message.body);
  return wire::encode(message);
}

Result<void> verify_signature(const wire::Message& message, const crypto::RsaPublicKey& key, std::string_view signer) {
  const Bytes* signature = std::visit(
      [](const auto& body) -> const Bytes* {
        if constexpr (requires { body.signature; }) return &body.signature;
        return nullptr;
      },
      message.body);
  if (!signature || message.authenticated.empty())
    return fail(Errc::signature_invalid,
                fmt::format("{} carries no signature", wire::type_name(wire::type_of(message))));
  if (!crypto::pss_verify(key, message.authenticated, *signature))
    return fail(Errc::signature_invalid,
                fmt::format("{} signature on {} does not verify", signer, wire::type_name(wire::type_of(message))));
  return {};
}

Result<Bytes> encrypt_to(const crypto::RsaPublicKey& key, ByteView plaintext, crypto::RandomSource& rng) {
  return crypto::oaep_encrypt(key, plaintext, rng);
}

Result<SecureBytes> decrypt_exact(const crypto::RsaPrivateKey& key, ByteView ciphertext, std::size_t size,
                                  std::string_view what) {
  auto plain = crypto::oaep_decrypt(key, ciphertext);
  if (!plain) return fail(Errc::decrypt_failed, fmt::format("{} does not decrypt", what));
  if (plain->size() != size)
    return fail(Errc::bad_plaintext, fmt::format("{} is {} bytes, expected {}", what, plain->size(), size));
  return plain;
}

std::uint64_t to_unix_ms(TimePoint t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

void Output::append(Output other) {
  messages.insert(messages.end(), std::make_move_iterator(other.messages.begin()),
                  std::make_move_iterator(other.messages.end()));
  events.insert(events.end(), std::make_move_iterator(other.events.begin()),
                std::make_move_iterator(other.events.end()));
  if (other.error) error = std::move(other.error);
}

Result<std::uint8_t> peek_type(ByteView bytes) {
  DCAS_TRY_ASSIGN(header, wire::decode_header(bytes));
  return header.type;
}

Result<std::uint8_t> peek_type(ByteView bytes, wire::Profile profile) {
  DCAS_TRY_ASSIGN(header, wire::decode_header(bytes));
  if (!wire::defined_in(profile, header.type))
    return fail(Errc::profile_mismatch,
                fmt::format("{} is a {} message; this role runs {}", wire::type_name(wire::MessageType{header.type}),
                            wire::profile_name(wire::Profile{header.profile}), wire::profile_name(profile)));
  return header.type;
}

}  // namespace dcas::protocol
