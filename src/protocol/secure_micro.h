// The Secure Micro's side of the SM-TP security protocol (paper section IV, docs/spec.md "Roles").
//
//   idle --trigger--> awaiting_tp_certificate --TPCertRsp--> awaiting_key_response
//        --KeyResponse--> awaiting_key_confirmation --CWEKGenInfoCnfm--> established
//   any failed check --> stopped (until the next trigger)
//
// Triggers (paper IV.2.A step 1): power-up or reset; SecurityAnnounce to a virgin SM;
// SecurityAnnounce naming another network than the last one seen; DCASDownload to a non-virgin SM.
#pragma once

#include <optional>

#include "protocol/cw_channel.h"
#include "protocol/memory.h"
#include "protocol/role.h"

namespace dcas::protocol {

// What the SM keeps across power cycles.
struct SmMemory {
  Bytes ap_certificate;          // DER, from the last verified SecurityAnnounce or DCASDownload
  Bytes network_id;              // 8 bytes, empty before the first announcement
  bool image_installed = false;  // a CA client image is installed: the SM is non-virgin
  Bytes tp_id;                   // from the last verified Cert(TP)
  Bytes tp_public_key;           // DER
};

class SecureMicro {
 public:
  enum class State {
    idle,
    awaiting_tp_certificate,
    awaiting_key_response,
    awaiting_key_confirmation,
    established,
    stopped
  };
  static std::string_view state_name(State s);

  // Errors: cert_* (the identity's own certificate is not a valid SM certificate).
  static Result<SecureMicro> create(Identity identity, NonVolatile<SmMemory>& memory, crypto::RandomSource& rng,
                                    TimePoint now);

  // Trigger: power-up or reset. Starts the protocol if an AP certificate is known; otherwise waits
  // for a SecurityAnnounce (event "waiting_for_announce").
  Output power_up(TimePoint now);
  // A message from the TP or the AP.
  Output receive(Peer from, ByteView bytes, TimePoint now);
  // After key confirmation: seals a control-word update for the TP. Errors: unexpected_message
  // (not established), as CwSealer::seal.
  Result<CwMessage> seal_control_words(const ControlWords& cws, TimePoint now);

  State state() const { return state_; }
  const SmId& id() const { return id_; }

 private:
  SecureMicro(Identity identity, SmId id, NonVolatile<SmMemory>& memory, crypto::RandomSource& rng);

  Output start(std::string_view trigger, TimePoint now);
  void on_announcement(Output& out, ByteView bytes, TimePoint now, bool download);
  void on_tp_cert_rsp(Output& out, ByteView bytes, TimePoint now);
  void on_key_response(Output& out, ByteView bytes, TimePoint now);
  void on_cwek_gen_info_cnfm(Output& out, ByteView bytes);
  Result<void> key_response_checks(Output& out, ByteView bytes, TimePoint now);
  Result<void> cnfm_checks(Output& out, ByteView bytes);
  void stop(Output& out, Error error);

  Identity identity_;
  SmId id_;
  NonVolatile<SmMemory>& memory_;
  crypto::RandomSource& rng_;
  State state_ = State::idle;

  // The current run.
  std::optional<crypto::RsaPublicKey> tp_key_, ap_key_;
  TpId tp_id_{};
  SecureBytes cwek_, hmac_key_;
  std::optional<CwSealer> sealer_;
  pki::CertificateCache certificates_{8};
};

}  // namespace dcas::protocol
