// The Transport Processor's side of the SM-TP security protocol (paper section IV).
//
// Two things live here side by side. The handshake:
//   idle/stopped/established --TPCertReq--> awaiting_cwek_gen_info --CWEKGenInfo--> established
//   a failed check mid-handshake --> stopped (until the next TPCertReq)
// and the CW channel, which is not a handshake state: once keys are established, ControlWord
// messages are accepted under them (in every handshake state, stopped included) until a later
// handshake succeeds, so a failed or forged handshake never takes the picture away (docs/spec.md,
// "Roles").
#pragma once

#include <optional>

#include "protocol/cw_channel.h"
#include "protocol/memory.h"
#include "protocol/role.h"
#include "wire/message.h"

namespace dcas::protocol {

// The TP's secure non-volatile memory: the SM it last verified (paper IV.2.A step 2).
struct TpMemory {
  Bytes sm_id;
  Bytes sm_public_key;  // DER
};

class TransportProcessor {
 public:
  // The handshake's state only; whether control words are accepted is has_cw_keys().
  enum class Handshake { idle, awaiting_cwek_gen_info, established, stopped };
  static std::string_view state_name(Handshake s);

  // Errors: cert_* (the identity's own certificate is not a valid TP certificate).
  static Result<TransportProcessor> create(Identity identity, NonVolatile<TpMemory>& memory, crypto::RandomSource& rng,
                                           TimePoint now, CwPolicy policy = {});

  // A message from the SM (the TP talks to nothing else).
  Output receive(ByteView bytes, TimePoint now);

  // The control word of a parity, once a verified ControlWord has delivered one.
  std::optional<std::array<std::uint8_t, cw_slot_size>> control_word(Parity parity) const;
  std::uint8_t control_word_length() const { return installed_.cw_length; }

  Handshake handshake() const { return state_; }
  // Keys from a completed handshake are in use: ControlWord messages are opened under them.
  bool has_cw_keys() const { return opener_.has_value(); }
  const TpId& id() const { return id_; }

 private:
  TransportProcessor(Identity identity, TpId id, NonVolatile<TpMemory>& memory, crypto::RandomSource& rng,
                     CwPolicy policy);
  Result<void> on_tp_cert_req(Output& out, ByteView bytes, TimePoint now);
  Result<void> on_cwek_gen_info(Output& out, ByteView bytes);
  void on_control_word(Output& out, ByteView bytes, TimePoint now);
  void stop(Output& out, Error error);
  bool accepts(wire::MessageType type) const;

  Identity identity_;
  TpId id_;
  NonVolatile<TpMemory>& memory_;
  crypto::RandomSource& rng_;
  CwPolicy policy_;
  Handshake state_ = Handshake::idle;
  std::optional<crypto::RsaPublicKey> sm_key_;
  SmId sm_id_{};
  std::optional<CwOpener> opener_;
  ControlWords installed_;  // the last good control words (wiped when replaced or destroyed)
  pki::CertificateCache certificates_{8};
};

}  // namespace dcas::protocol
