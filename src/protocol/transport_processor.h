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

#include "crypto/kex.h"
#include "pki/crl.h"
#include "protocol/cw_channel.h"
#include "protocol/memory.h"
#include "protocol/role.h"
#include "wire/message.h"

namespace dcas::protocol {

// The TP's secure non-volatile memory: the SM it last verified (paper IV.2.A step 2).
struct TpMemory {
  Bytes sm_id;
  Bytes sm_public_key;  // DER
  Bytes crl;            // DER: the newest CRL verified (docs/spec.md §18); empty: none
};

class TransportProcessor {
 public:
  // The handshake's state only; whether control words are accepted is has_cw_keys().
  enum class Handshake { idle, awaiting_cwek_gen_info, established, stopped };
  static std::string_view state_name(Handshake s);

  // Errors: cert_* (the identity's own certificate is not a valid TP certificate).
  // `profile` is the handshake this TP runs; it refuses the other one's messages (profile_mismatch).
  static Result<TransportProcessor> create(Identity identity, NonVolatile<TpMemory>& memory, crypto::RandomSource& rng,
                                           TimePoint now, CwPolicy policy = {},
                                           wire::Profile profile = wire::Profile::koo2010);

  // A message from the SM (the TP talks to nothing else).
  Output receive(ByteView bytes, TimePoint now);
  // A CRL from an announcement, handed over by the host (docs/spec.md §18): kept if it verifies
  // under the TA root and is newer than the held one (event CrlAdopted). If it revokes this TP or
  // the SM of the CW channel, the CW keys are erased (event CwChannelRevoked, error cert_revoked);
  // from then on a TPCertReq from a revoked SM, or to a revoked TP, is refused (cert_revoked).
  // Errors: crl_invalid, io_error.
  Output update_crl(ByteView der);

  // The control word of a parity, once a verified ControlWord has delivered one.
  std::optional<std::array<std::uint8_t, cw_slot_size>> control_word(Parity parity) const;
  std::uint8_t control_word_length() const { return installed_.cw_length; }

  Handshake handshake() const { return state_; }
  // Keys from a completed handshake are in use: ControlWord messages are opened under them.
  bool has_cw_keys() const { return opener_.has_value(); }
  const TpId& id() const { return id_; }
  const pki::Certificate& certificate() const { return identity_.certificate; }
  std::optional<std::uint64_t> crl_number() const {
    return crl_ ? std::optional<std::uint64_t>(crl_->number()) : std::nullopt;
  }
  wire::Profile profile() const { return profile_; }

 private:
  TransportProcessor(Identity identity, TpId id, NonVolatile<TpMemory>& memory, crypto::RandomSource& rng,
                     CwPolicy policy, wire::Profile profile);
  Result<void> on_tp_cert_req(Output& out, ByteView bytes, TimePoint now);
  Result<void> on_cwek_gen_info(Output& out, ByteView bytes);
  Result<void> on_tp_cert_req_h1(Output& out, ByteView bytes, TimePoint now);
  Result<void> on_cwek_gen_info_h1(Output& out, ByteView bytes, TimePoint now);
  Result<void> verify_sm(Output& out, ByteView certificate, TimePoint now);
  Result<void> install_keys(ByteView cwek, ByteView hmac_key);
  void on_control_word(Output& out, ByteView bytes, TimePoint now);
  void stop(Output& out, Error error);
  bool accepts(wire::MessageType type) const;

  Identity identity_;
  TpId id_;
  NonVolatile<TpMemory>& memory_;
  crypto::RandomSource& rng_;
  CwPolicy policy_;
  wire::Profile profile_;
  Handshake state_ = Handshake::idle;
  // The hardened1 run in progress: what was said in it, and this run's ephemeral key.
  struct RunH1 {
    Bytes sm_nonce, tp_nonce;
    Bytes request, answer;  // TPCertReq and TPCertRsp as received and sent, for the transcript hash
    std::optional<crypto::X25519Key> ephemeral;
  };
  std::optional<RunH1> run_;
  std::optional<crypto::RsaPublicKey> sm_key_;
  SmId sm_id_{};
  std::optional<CwOpener> opener_;
  ControlWords installed_;  // the last good control words (wiped when replaced or destroyed)
  pki::CertificateCache certificates_{8};
  std::optional<pki::Crl> crl_;  // the newest verified CRL, as in memory
  Bytes run_sm_serial_;          // Cert(SM) of the current run
  SmId channel_sm_{};            // the SM whose run installed the CW keys, and its certificate
  Bytes channel_sm_serial_;
  std::optional<Error> revoked_channel_;  // the CW keys were erased for a revocation: why
};

}  // namespace dcas::protocol
