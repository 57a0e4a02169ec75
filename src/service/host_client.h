// A set-top host as a process (`dcas host pair`, `dcas host run`): one SM and one TP, wired to
// each other inside the host, and a connection to an AP. The bootloader hands the AP's first
// announcement to the SM, then the power-up trigger if the SM did not start on it; messages are
// routed between the roles until the SM has established the CW keys with the TP and fetched the
// client image it wanted, or a check fails.
#pragma once

#include <functional>

#include "protocol/secure_micro.h"
#include "protocol/transport_processor.h"
#include "service/server.h"

namespace dcas::service {

struct HostConfig {
  net::HostPort ap;
  net::Limits link;
  Millis connect_timeout{5'000};
  Millis pairing_timeout{30'000};  // from connecting to the SM's key confirmation
  unsigned attempts = 1;           // attempts after transport failures (never after a refusal)
  Millis retry_delay{1'000};
  bool hold = false;  // once paired, stay connected (present on the network) until SIGINT/SIGTERM
};

struct PairingReport {
  unsigned attempts = 0;
  std::vector<protocol::Event> events;  // SM and TP events, in order, prefixed "sm." / "tp."
  std::vector<std::string> hops;        // "SM -> AP KeyRequest (SM->AP), 1234 bytes", in order
  std::optional<Error> download_error;  // the last image download failed (the previous image stays)
};

// Run once the host is paired (and its image downloaded, if one was wanted), while it is still on
// the network: e.g. watching a broadcast.
using WhileConnected = std::function<void()>;

// Errors: net_* (the AP or the TA could not be reached or answered with a transport error, after
// every attempt), or the protocol error that stopped the SM or TP, or that the AP or TA answered
// with (pairing_refused, unknown_device, signature_invalid, ...).
Result<PairingReport> pair_host(protocol::SecureMicro& sm, protocol::TransportProcessor& tp, const HostConfig& config,
                                const LogSink& log, const WhileConnected& while_connected = {});

// Whether an error is worth another attempt: the transport failed, no check refused the host.
bool retryable(const Error& error);

}  // namespace dcas::service
