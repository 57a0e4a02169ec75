// The taps on the links: the traces' (docs/spec.md §19: each frame a channel sends or receives,
// with the socket's endpoints, as the process at one end saw it) and the metrics' (§20).
#pragma once

#include "net/channel.h"
#include "observe/metrics.h"
#include "observe/trace.h"

namespace dcas::service {

// Records every frame on `channel` in `trace` (nothing when it is empty): this end is `local`,
// the other `peer`. Call it before the channel's first read or send.
void trace_channel(net::Channel& channel, const observe::Tracer& trace, observe::Link link, observe::Party local,
                   observe::Party peer);

// Counts each error frame `channel` sends, by its code, in `metrics` (after any tap already set,
// which still sees every frame). Call it before the channel's first send.
void count_error_frames(net::Channel& channel, observe::Metrics& metrics);

}  // namespace dcas::service
