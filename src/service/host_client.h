// A set-top host as a process (`dcas host pair`, `dcas host run`): the host's HostDriver (its SM
// and TP, and the bootloader's policy per connection) on a connection to an AP. Frames go to the
// driver until the SM has established the CW keys with the TP and fetched the client image it
// wanted, or a check fails; only the socket, the attempts and the timeouts live here.
#pragma once

#include <functional>

#include "observe/trace.h"
#include "protocol/host_driver.h"
#include "service/server.h"

namespace dcas::service {

struct HostConfig {
  net::HostPort ap;
  net::Limits link;
  Millis connect_timeout{5'000};
  Millis pairing_timeout{30'000};  // from connecting to the SM's key confirmation
  unsigned attempts = 1;           // attempts after transport failures (never after a refusal)
  Millis retry_delay{1'000};
  bool hold = false;      // once paired, stay connected (present on the network) until SIGINT/SIGTERM
  observe::Tracer trace;  // --trace: every frame on the link to the AP
};

struct PairingReport {
  unsigned attempts = 0;
  std::optional<Error> download_error;  // the last image download failed (the previous image stays)
};

// Run once the host is paired (and its image downloaded, if one was wanted), while it is still on
// the network: e.g. watching a broadcast.
using WhileConnected = std::function<void()>;

// Errors: net_* (the AP or the TA could not be reached or answered with a transport error, after
// every attempt), or the protocol error that stopped the SM or TP, or that the AP or TA answered
// with (pairing_refused, unknown_device, signature_invalid, ...).
// What the host saw (each hop and event, for logs and the journal) is reported through the
// driver's hooks, which the caller sets.
Result<PairingReport> pair_host(protocol::HostDriver& host, const HostConfig& config, const LogSink& log,
                                const WhileConnected& while_connected = {});

// One attempt on the caller's executor: connects to config.ap and runs the host until it is
// settled; returns the link, still open (the caller holds or finishes it). For callers that run
// many hosts on one io_context (`dcas loadgen`). Errors: as pair_host's.
Task<Result<std::shared_ptr<net::Channel>>> pair_once(protocol::HostDriver& host, const HostConfig& config,
                                                      PairingReport& report);

// Keeps a paired host on the network over `link` (pinging the AP every third of its idle timeout,
// taking announcements and downloads) until the link closes or is interrupted; the link is closed
// on return. (A read that timed out could have consumed part of a frame, so the pings come from
// their own timer, not from read timeouts.)
Task<void> stay_on_network(protocol::HostDriver& host, std::shared_ptr<net::Channel> link, PairingReport& report,
                           LogSink log);  // by value: the coroutine outlives a caller's temporary

// Whether an error is worth another attempt: the transport failed, no check refused the host.
bool retryable(const Error& error);

}  // namespace dcas::service
