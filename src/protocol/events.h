// What the roles report having done: one struct per kind of event, with its data, and Event, the
// variant of them all. Consumers switch on the type (std::get_if, std::visit), never on a name;
// event_name() and event_detail() exist for logs, timelines and the JSON journal. No event ever
// carries a secret value: IDs, versions, counts and errors (whose details are secret-free) only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/bytes.h"
#include "common/error.h"
#include "common/ids.h"
#include "protocol/pairing_state.h"

namespace dcas::protocol {

// Why the SM started the SM-TP protocol (paper IV.2.A step 1).
enum class Trigger { power_up, security_announce_virgin, security_announce_after_move, dcas_download };
std::string_view trigger_name(Trigger t);  // "power_up", ...
std::optional<Trigger> trigger_from_name(std::string_view name);

namespace events {

enum class IgnoredBecause { addressed_to_another_sm, virgin_sm };

// --- Secure Micro ---
// The SM started the SM-TP protocol.
struct ProtocolStarted {
  static constexpr std::string_view name = "protocol_started";
  Trigger trigger;
};
// Power-up with no AP certificate known: the next SecurityAnnounce starts the protocol.
struct WaitingForAnnounce {
  static constexpr std::string_view name = "waiting_for_announce";
};
// A SecurityAnnounce or DCASDownload failed a check; a run in progress goes on.
struct AnnouncementRefused {
  static constexpr std::string_view name = "announcement_refused";
  Error error;
};
// A DCASDownload that is no trigger for this SM.
struct DownloadIgnored {
  static constexpr std::string_view name = "download_ignored";
  IgnoredBecause reason;
};
// A SecurityAnnounce of the same network to a non-virgin SM: no trigger.
struct AnnounceNoChange {
  static constexpr std::string_view name = "announce_no_change";
};
// Cert(TP) verified and stored (initialization step 3).
struct TpCertificateVerified {
  static constexpr std::string_view name = "tp_certificate_verified";
  TpId tp;
};
// The TA's signature on the KPK verified (CWEK generation step 1).
struct KpkReceived {
  static constexpr std::string_view name = "kpk_received";
};
// CWEK and HMAC_KEY confirmed with the TP: the CW channel is open.
struct KeysConfirmed {
  static constexpr std::string_view name = "keys_confirmed";
  TpId tp;
};
// ImageKeyRequest sent to the AP.
struct ImageRequested {
  static constexpr std::string_view name = "image_requested";
};
// The AP's ImageKeyGrant verified: the image key for `version`.
struct ImageKeyEstablished {
  static constexpr std::string_view name = "image_key_established";
  std::uint64_t version;
};
// The bootloader installed a client image.
struct ImageInstalled {
  static constexpr std::string_view name = "image_installed";
  std::uint64_t version;
  Bytes code_digest_prefix;  // the first 8 bytes of the code's SHA-256, for display
};
// The download ended on a failed check or a refusal; the installed image stays.
struct DownloadFailed {
  static constexpr std::string_view name = "download_failed";
  Error error;
};
// An EMM opened by the CA client.
struct Entitlement {
  static constexpr std::string_view name = "entitlement";
  std::uint64_t product;
  std::uint64_t expires_at;  // Unix seconds
  std::uint64_t key_epoch = 1;
};

// --- Secure Micro and Transport Processor ---
// A check failed mid-run: the role stopped that run.
struct ProtocolStopped {
  static constexpr std::string_view name = "protocol_stopped";
  Error error;
};

// --- Transport Processor ---
// Cert(SM) verified and stored (initialization step 2).
struct SmCertificateVerified {
  static constexpr std::string_view name = "sm_certificate_verified";
  SmId sm;
};
// CWEK and HMAC_KEY derived and CWEKGenInfoCnfm sent.
struct KeysDerived {
  static constexpr std::string_view name = "keys_derived";
  SmId sm;
};
// A ControlWord message failed a check; the last good control words stay in use.
struct ControlWordRefused {
  static constexpr std::string_view name = "control_word_refused";
  Error error;
};
// A ControlWord message accepted.
struct ControlWordsInstalled {
  static constexpr std::string_view name = "control_words_installed";
  std::uint64_t sequence;
  bool odd = false, even = false;
};

// --- Authentication Proxy ---
// Cert(SM) and the SM's signature verified; KeyRequest relayed to the TA.
struct SmAuthenticated {
  static constexpr std::string_view name = "sm_authenticated";
  SmId sm;
};
// A KeyRequest from an SM failed a check (or came while one is at the TA).
struct KeyRequestRefused {
  static constexpr std::string_view name = "key_request_refused";
  Error error;
};
// The TA's KeyResponse failed a check; the SM is told.
struct KeyResponseRefused {
  static constexpr std::string_view name = "key_response_refused";
  Error error;
};
// A pairing KPK relayed: the TA validated this SM on this session.
struct KeyResponseRelayed {
  static constexpr std::string_view name = "key_response_relayed";
  SmId sm;
};
// The TA's failure KPK relayed.
struct RefusalRelayed {
  static constexpr std::string_view name = "refusal_relayed";
  SmId sm;
};
// The TA did not answer a KeyRequest in time, or the link to it was lost.
struct AnswerTimedOut {
  static constexpr std::string_view name = "answer_timed_out";
  SmId sm;
  Error error;
};
// The AP reports the host gone (HostPresence left) to the TA.
struct PresenceEnded {
  static constexpr std::string_view name = "presence_ended";
  SmId sm;
};
// An image key granted to an SM the TA validated on this session.
struct ImageKeyGranted {
  static constexpr std::string_view name = "image_key_granted";
  SmId sm;
  std::uint64_t version;
};

// --- Trusted Authority ---
// A message to the TA failed a check: no answer (paper IV.2.B step 3).
struct RequestRefused {
  static constexpr std::string_view name = "request_refused";
  Error error;
};
// The pair passed validation; a KPK was sent.
struct PairingValidated {
  static constexpr std::string_view name = "pairing_validated";
  SmId sm;
  TpId tp;
  Verdict verdict;
};
// The pair failed validation; the failure KPK was sent.
struct PairingRefused {
  static constexpr std::string_view name = "pairing_refused";
  SmId sm;
  TpId tp;
  Verdict verdict;
};
// The AP reported the host gone.
struct HostLeft {
  static constexpr std::string_view name = "host_left";
  SmId sm;
  PairingState state;
};
// The AP reported the host still on the network.
struct HostPresent {
  static constexpr std::string_view name = "host_present";
  SmId sm;
  PairingState state;
};

// --- Revocation (docs/spec.md §18): any role holding the TA root ---
// A CRL newer than the one held verified and replaced it.
struct CrlAdopted {
  static constexpr std::string_view name = "crl_adopted";
  std::uint64_t number = 0;
  std::uint64_t entries = 0;
};
// The CRL revokes a device this role relies on (itself, its peer, its AP): the SM's or TP's CW
// keys are erased, and no control word passes until a new pairing with unrevoked devices.
struct CwChannelRevoked {
  static constexpr std::string_view name = "cw_channel_revoked";
  std::string revoked;  // "sm", "tp" or "ap"
  std::string device;   // its ID, 16 hex digits
  std::uint64_t crl_number = 0;
};

}  // namespace events

using Event =
    std::variant<events::ProtocolStarted, events::WaitingForAnnounce, events::AnnouncementRefused,
                 events::DownloadIgnored, events::AnnounceNoChange, events::TpCertificateVerified, events::KpkReceived,
                 events::KeysConfirmed, events::ImageRequested, events::ImageKeyEstablished, events::ImageInstalled,
                 events::DownloadFailed, events::Entitlement, events::ProtocolStopped, events::SmCertificateVerified,
                 events::KeysDerived, events::ControlWordRefused, events::ControlWordsInstalled,
                 events::SmAuthenticated, events::KeyRequestRefused, events::KeyResponseRefused,
                 events::KeyResponseRelayed, events::RefusalRelayed, events::AnswerTimedOut, events::PresenceEnded,
                 events::ImageKeyGranted, events::RequestRefused, events::PairingValidated, events::PairingRefused,
                 events::HostLeft, events::HostPresent, events::CrlAdopted, events::CwChannelRevoked>;

// The event's stable snake_case name, e.g. "keys_confirmed" (logs, the JSON journal).
inline std::string_view event_name(const Event& e) {
  return std::visit([](const auto& v) { return v.name; }, e);
}
// A one-line, human-readable account of its data, e.g. "TP 5400000000000002".
std::string event_detail(const Event& e);

// Whether `e` holds an event of type T: `is<events::KeysConfirmed>(e)`.
template <typename T>
bool is(const Event& e) {
  return std::holds_alternative<T>(e);
}

}  // namespace dcas::protocol
