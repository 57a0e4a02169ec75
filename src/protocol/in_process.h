// An in-process deployment: the four roles wired together without I/O, delivering every message
// in order and recording the transcript. Tests, benchmarks and the demo drive the protocol through
// it; the network services replace it with sockets.
#pragma once

#include <deque>
#include <functional>
#include <memory>

#include "protocol/auth_proxy.h"
#include "protocol/secure_micro.h"
#include "protocol/transport_processor.h"
#include "protocol/trusted_authority.h"

namespace dcas::protocol {

// One message on its way, as the transcript records it.
struct Hop {
  Peer from;
  Peer to;
  std::uint64_t session;  // the host's session at the AP and TA
  Bytes bytes;
};

// One set-top host: an SM and a TP with their secure memories.
struct Host {
  std::uint64_t session;
  MemoryNonVolatile<SmMemory> sm_memory;
  MemoryNonVolatile<TpMemory> tp_memory;
  std::optional<SecureMicro> sm;
  std::optional<TransportProcessor> tp;
};

struct Observation {
  Peer at;
  Event event;
};
struct Failure {
  Peer at;
  Error error;
};

class InProcessNetwork {
 public:
  InProcessNetwork(TrustedAuthority& ta, AuthProxy& ap) : ta_(ta), ap_(ap) {}

  // Creates a host from an SM and a TP identity. Errors: as SecureMicro::create, TransportProcessor::create.
  Result<std::unique_ptr<Host>> add_host(Identity sm, Identity tp, crypto::RandomSource& sm_rng,
                                         crypto::RandomSource& tp_rng, TimePoint now, CwPolicy policy = {});

  // Delivers what `first` (produced by `origin` of `host`) sends, and everything sent in answer,
  // until nothing is left in flight.
  void run(Host& host, Peer origin, Output first, TimePoint now);

  // Called on every hop before delivery: may change the bytes, or empty them to drop the message.
  std::function<void(Hop&)> tamper;
  // Observers, in the order things happen (for timelines): each delivered hop, each event, each failure.
  std::function<void(const Hop&)> on_hop;
  std::function<void(const Observation&)> on_event;
  std::function<void(const Failure&)> on_failure;

  std::vector<Hop> transcript;
  std::vector<Observation> events;
  std::vector<Failure> failures;

  void clear() {
    transcript.clear();
    events.clear();
    failures.clear();
  }

 private:
  void collect(Peer at, Output out, std::uint64_t session, std::deque<Hop>& queue);

  TrustedAuthority& ta_;
  AuthProxy& ap_;
  std::uint64_t next_session_ = 1;
};

}  // namespace dcas::protocol
