// An in-process deployment: the four roles wired together without I/O, delivering every message
// in order and recording the transcript. Tests and benchmarks drive the protocol through it (and
// load generators and attack drivers can); each host is a HostDriver, as in the `dcas host`
// process, and the network services replace the rest with sockets.
#pragma once

#include <deque>
#include <functional>
#include <memory>

#include "protocol/auth_proxy.h"
#include "protocol/host_driver.h"
#include "protocol/trusted_authority.h"

namespace dcas::protocol {

// One set-top host of the deployment: an SM and a TP with their secure memories, and its driver.
struct InProcessHost {
  std::uint64_t session;
  MemoryNonVolatile<SmMemory> sm_memory;
  MemoryNonVolatile<TpMemory> tp_memory;
  std::optional<SecureMicro> sm;
  std::optional<TransportProcessor> tp;
  std::optional<HostDriver> driver;
};

struct Observation {
  Role at;
  Event event;
};
struct Failure {
  Role at;
  Error error;
};

class InProcessNetwork {
 public:
  InProcessNetwork(TrustedAuthority& ta, AuthProxy& ap) : ta_(ta), ap_(ap) {}

  // Creates a host from an SM and a TP identity. Errors: as SecureMicro::create, TransportProcessor::create.
  // Its SM and TP run the profile of this deployment's AP.
  Result<std::unique_ptr<InProcessHost>> add_host(Identity sm, Identity tp, crypto::RandomSource& sm_rng,
                                                  crypto::RandomSource& tp_rng, TimePoint now, CwPolicy policy = {});

  // Delivers what `first` (produced by `origin` for `host`) sends, and everything sent in answer,
  // until nothing is left in flight.
  void run(InProcessHost& host, Role origin, Output first, TimePoint now);

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
  HopHooks hooks();
  void record_hop(const Hop& hop);
  void observe(Role at, const Output& out);
  // Queues a host's messages for the AP (the driver already passed them through the hooks).
  void take(const InProcessHost& host, HostDriver::Step step, std::deque<Hop>& queue);

  TrustedAuthority& ta_;
  AuthProxy& ap_;
  std::uint64_t next_session_ = 1;
};

}  // namespace dcas::protocol
