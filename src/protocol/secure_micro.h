// The Secure Micro's side of the SM-TP security protocol (paper section IV, docs/spec.md "Roles").
//
//   idle --trigger--> awaiting_tp_certificate --TPCertRsp--> awaiting_key_response
//        --KeyResponse--> awaiting_key_confirmation --CWEKGenInfoCnfm--> established
//   any failed check --> stopped (until the next trigger)
//
// Triggers (paper IV.2.A step 1): power-up or reset; SecurityAnnounce to a virgin SM;
// SecurityAnnounce naming another network than the last one seen; DCASDownload to a non-virgin SM.
//
// Client image download (docs/spec.md, "Client image download"): the host's bootloader calls
// request_image() once the CW keys are confirmed and wants_image() says an announcement offered an
// image the SM needs (it has none, or one of another network, or an older version):
//   none --ImageKeyRequest--> awaiting_image_key --ImageKeyGrant--> awaiting_image
//        --ClientImage--> none, image installed
// A failed check ends the download, never the CW channel, and leaves the installed image as it was.
// With an image installed, the CA client opens EMMs and ECMs and sends the CWs to the TP.
#pragma once

#include <optional>

#include "pki/crl.h"
#include "protocol/cas.h"
#include "protocol/cw_channel.h"
#include "protocol/memory.h"
#include "protocol/role.h"
#include "wire/message.h"

namespace dcas::protocol {

// The CA client image the bootloader installed: what the CA client needs of it.
struct InstalledImage {
  Bytes network_id;  // 8 bytes: the network whose PS personalized it
  std::uint64_t version = 0;
  SecureBytes ca_key;  // 16 bytes
  Bytes code_digest;   // SHA-256 of the image's code, for display
};

// What the SM keeps across power cycles.
struct SmMemory {
  Bytes ap_certificate;                      // DER, from the last verified SecurityAnnounce or DCASDownload
  Bytes network_id;                          // 8 bytes, empty before the first announcement
  std::optional<InstalledImage> image;       // none: the SM is virgin
  Bytes tp_id;                               // from the last verified Cert(TP)
  Bytes tp_public_key;                       // DER
  Bytes crl;                                 // DER: the newest CRL verified (docs/spec.md §18); empty: none
  std::vector<HeldProductKey> entitlements;  // the CA client's product keys (docs/spec.md §15.4)
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
  // `profile` is the handshake this SM runs (it refuses the other one's messages: profile_mismatch).
  static Result<SecureMicro> create(Identity identity, NonVolatile<SmMemory>& memory, crypto::RandomSource& rng,
                                    TimePoint now, wire::Profile profile = wire::Profile::koo2010);

  // Trigger: power-up or reset. Starts the protocol if an AP certificate is known; otherwise waits
  // for a SecurityAnnounce (event "waiting_for_announce").
  Output power_up(TimePoint now);
  // A message from the TP or the AP.
  Output receive(Role from, ByteView bytes, TimePoint now);
  // After key confirmation: seals a control-word update for the TP. Errors: unexpected_message
  // (not established), as CwSealer::seal.
  Result<CwMessage> seal_control_words(const ControlWords& cws, TimePoint now);
  // An EMM or ECM from the broadcast. The CA client opens it; an ECM's new control words go to
  // the TP as a ControlWord message. Errors (in Output::error; the SM does not stop): no_image, the
  // CA client's (CaClient), unexpected_message (no CW channel yet), wire errors.
  Output receive_cas(ByteView message, TimePoint now);

  // Download step 1: ImageKeyRequest to the AP. Errors: unexpected_message (not established, or a
  // download in progress), random and crypto failures.
  Output request_image();
  bool wants_image() const { return image_wanted_; }
  // The AP refused the download (an error frame): it ends, the installed image stays.
  Output abandon_download(Error why);

  enum class Download { none, awaiting_image_key, awaiting_image };
  State state() const { return state_; }
  Download download() const { return download_; }
  std::optional<InstalledImage> installed_image() const;
  const SmId& id() const { return id_; }
  const pki::Certificate& certificate() const { return identity_.certificate; }
  std::optional<std::uint64_t> crl_number() const {
    return crl_ ? std::optional<std::uint64_t>(crl_->number()) : std::nullopt;
  }
  wire::Profile profile() const { return profile_; }

 private:
  SecureMicro(Identity identity, SmId id, NonVolatile<SmMemory>& memory, crypto::RandomSource& rng,
              wire::Profile profile);

  Output start(Trigger trigger, TimePoint now);
  bool accepts(Role from, wire::MessageType type) const;
  bool mid_run() const;  // between a trigger and key confirmation
  void on_announcement(Output& out, ByteView bytes, TimePoint now, bool download);
  void on_tp_cert_rsp(Output& out, ByteView bytes, TimePoint now);
  void on_key_response(Output& out, ByteView bytes, TimePoint now);
  void on_cwek_gen_info_cnfm(Output& out, ByteView bytes);
  Result<void> key_response_checks(Output& out, ByteView bytes, TimePoint now);
  Result<void> cnfm_checks(Output& out, ByteView bytes);
  Result<void> tp_cert_rsp_checks(Output& out, ByteView bytes, TimePoint now);
  Result<void> tp_cert_rsp_h1_checks(Output& out, ByteView bytes, TimePoint now);
  Result<void> key_response_h1_checks(Output& out, ByteView bytes, TimePoint now);
  Result<void> cnfm_h1_checks(Output& out, ByteView bytes);
  Result<void> remember_tp(Output& out, const pki::VerifiedDevice& tp, const pki::Certificate& cert);
  // Revocation (docs/spec.md §18): keeps a verified CRL newer than the held one (in memory too);
  // the held CRL revoking this SM or its channel's TP stops the SM and erases its CW keys.
  Result<void> adopt_crl(Output& out, ByteView der);
  bool cut_off_if_revoked(Output& out);
  std::optional<Error> revocation() const;  // this SM or the run's TP on the held CRL
  void stop(Output& out, Error error);
  void on_image_key_grant(Output& out, ByteView bytes);
  void on_client_image(Output& out, ByteView bytes);
  Result<void> grant_checks(ByteView bytes);
  Result<InstalledImage> install(ByteView bytes);
  void end_download(Output& out, Error error);
  Result<void> keep_entitlements();

  Identity identity_;
  SmId id_;
  NonVolatile<SmMemory>& memory_;
  crypto::RandomSource& rng_;
  wire::Profile profile_;
  State state_ = State::idle;

  // The hardened1 run in progress (docs/spec.md §17): what was said in it, for the transcript hash.
  struct RunH1 {
    Bytes sm_nonce, tp_nonce;
    Bytes request, answer;  // TPCertReq and TPCertRsp as sent and received
    Bytes tp_ephemeral;     // E_TP
    SecureBytes confirm_key;
    std::array<std::uint8_t, 32> transcript{};
  };
  std::optional<RunH1> run_;

  // The current run.
  std::optional<crypto::RsaPublicKey> tp_key_, ap_key_;
  TpId tp_id_{};
  SecureBytes cwek_, hmac_key_;
  std::optional<CwSealer> sealer_;
  pki::CertificateCache certificates_{8};
  std::optional<pki::Crl> crl_;  // the newest verified CRL, as in memory
  Bytes tp_serial_;              // Cert(TP) of the current run: the CW channel's TP

  // Client image download.
  bool image_wanted_ = false;  // the last announcement offered an image this SM needs
  Download download_ = Download::none;
  Bytes nonce_;
  std::uint64_t granted_version_ = 0;
  SecureBytes image_key_;
  std::optional<CaClient> ca_client_;
};

}  // namespace dcas::protocol
