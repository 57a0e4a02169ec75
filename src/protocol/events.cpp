#include "protocol/events.h"

#include <fmt/format.h>

namespace dcas::protocol {

std::string_view trigger_name(Trigger t) {
  switch (t) {
    case Trigger::power_up: return "power_up";
    case Trigger::security_announce_virgin: return "security_announce_virgin";
    case Trigger::security_announce_after_move: return "security_announce_after_move";
    case Trigger::dcas_download: return "dcas_download";
  }
  return "unknown";
}

std::optional<Trigger> trigger_from_name(std::string_view name) {
  for (auto t : {Trigger::power_up, Trigger::security_announce_virgin, Trigger::security_announce_after_move,
                 Trigger::dcas_download})
    if (trigger_name(t) == name) return t;
  return std::nullopt;
}

namespace {

using namespace events;

std::string detail_of(const ProtocolStarted& e) { return std::string(trigger_name(e.trigger)); }
std::string detail_of(const WaitingForAnnounce&) {
  return "no AP certificate known yet: the next SecurityAnnounce starts the protocol";
}
std::string detail_of(const DownloadIgnored& e) {
  return e.reason == IgnoredBecause::virgin_sm ? "a virgin SM starts on SecurityAnnounce, not on DCASDownload"
                                               : "DCASDownload addressed to another SM";
}
std::string detail_of(const AnnounceNoChange&) { return "same network, non-virgin SM"; }
std::string detail_of(const TpCertificateVerified& e) { return "TP_ID " + e.tp.hex(); }
std::string detail_of(const KpkReceived&) { return "TA signature on the KPK verified"; }
std::string detail_of(const KeysConfirmed& e) { return "CWEK and HMAC_KEY established with TP " + e.tp.hex(); }
std::string detail_of(const ImageRequested&) { return "ImageKeyRequest to the AP"; }
std::string detail_of(const ImageKeyEstablished& e) {
  return fmt::format("image key for version {} from the AP", e.version);
}
std::string detail_of(const ImageInstalled& e) {
  return fmt::format("version {}, code SHA-256 {}", e.version, to_hex(e.code_digest_prefix));
}
std::string detail_of(const Entitlement& e) {
  return fmt::format("product {} key epoch {} until {}", e.product, e.key_epoch, e.expires_at);
}
std::string detail_of(const SmCertificateVerified& e) { return "SM_ID " + e.sm.hex(); }
std::string detail_of(const KeysDerived& e) { return "CWEK and HMAC_KEY derived for SM " + e.sm.hex(); }
std::string detail_of(const ControlWordsInstalled& e) {
  return fmt::format("sequence {}{}{}", e.sequence, e.odd ? ", odd" : "", e.even ? ", even" : "");
}
std::string detail_of(const SmAuthenticated& e) { return "SM_ID " + e.sm.hex(); }
std::string detail_of(const KeyResponseRelayed& e) { return "to SM " + e.sm.hex(); }
std::string detail_of(const RefusalRelayed& e) { return "to SM " + e.sm.hex(); }
std::string detail_of(const AnswerTimedOut& e) { return fmt::format("SM {}: {}", e.sm.hex(), e.error.message()); }
std::string detail_of(const PresenceEnded& e) { return "SM " + e.sm.hex(); }
std::string detail_of(const ImageKeyGranted& e) { return fmt::format("version {} to SM {}", e.version, e.sm.hex()); }
std::string detail_of(const PairingValidated& e) {
  return fmt::format("SM {} TP {}: {}, now {}", e.sm.hex(), e.tp.hex(), verdict_name(e.verdict),
                     pairing_state_name(PairingState::auth_paired));
}
std::string detail_of(const PairingRefused& e) {
  return fmt::format("SM {} TP {}: {}", e.sm.hex(), e.tp.hex(), verdict_name(e.verdict));
}
std::string detail_of(const HostLeft& e) { return fmt::format("SM {}: {}", e.sm.hex(), pairing_state_name(e.state)); }
std::string detail_of(const CrlAdopted& e) {
  return fmt::format("CRL {}, {} revoked certificate(s)", e.number, e.entries);
}
std::string detail_of(const CwChannelRevoked& e) {
  return fmt::format("{} {} is revoked (CRL {}): CW keys erased", e.revoked, e.device, e.crl_number);
}
std::string detail_of(const HostPresent& e) {
  return fmt::format("SM {}: {}", e.sm.hex(), pairing_state_name(e.state));
}
// Every event that carries an error: its message.
template <typename E>
requires requires(const E& e) { e.error; }
std::string detail_of(const E& e) { return e.error.message(); }

}  // namespace

std::string event_detail(const Event& e) {
  return std::visit([](const auto& v) { return detail_of(v); }, e);
}

}  // namespace dcas::protocol
