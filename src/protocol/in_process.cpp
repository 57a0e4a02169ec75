#include "protocol/in_process.h"

namespace dcas::protocol {

Result<std::unique_ptr<Host>> InProcessNetwork::add_host(Identity sm, Identity tp, crypto::RandomSource& sm_rng,
                                                         crypto::RandomSource& tp_rng, TimePoint now, CwPolicy policy) {
  auto host = std::make_unique<Host>();
  host->session = next_session_++;
  DCAS_TRY_ASSIGN(sm_role, SecureMicro::create(std::move(sm), host->sm_memory, sm_rng, now));
  DCAS_TRY_ASSIGN(tp_role, TransportProcessor::create(std::move(tp), host->tp_memory, tp_rng, now, policy));
  host->sm.emplace(std::move(sm_role));
  host->tp.emplace(std::move(tp_role));
  return host;
}

void InProcessNetwork::collect(Peer at, Output out, std::uint64_t session, std::deque<Hop>& queue) {
  for (auto& e : out.events) {
    events.push_back({at, std::move(e)});
    if (on_event) on_event(events.back());
  }
  if (out.error) {
    failures.push_back({at, std::move(*out.error)});
    if (on_failure) on_failure(failures.back());
  }
  for (auto& m : out.messages) queue.push_back({at, m.to, session, std::move(m.bytes)});
}

void InProcessNetwork::run(Host& host, Peer origin, Output first, TimePoint now) {
  std::deque<Hop> queue;
  collect(origin, std::move(first), host.session, queue);
  while (!queue.empty()) {
    Hop hop = std::move(queue.front());
    queue.pop_front();
    if (tamper) tamper(hop);
    if (hop.bytes.empty()) continue;  // dropped
    transcript.push_back(hop);
    if (on_hop) on_hop(transcript.back());
    Output out;
    switch (hop.to) {
      case Peer::sm: out = host.sm->receive(hop.from, hop.bytes, now); break;
      case Peer::tp: out = host.tp->receive(hop.bytes, now); break;
      case Peer::ap:
        out = hop.from == Peer::ta ? ap_.receive_from_ta(hop.session, hop.bytes, now)
                                   : ap_.receive_from_sm(hop.session, hop.bytes, now);
        break;
      case Peer::ta: out = ta_.receive(hop.session, hop.bytes, now); break;
    }
    collect(hop.to, std::move(out), hop.session, queue);
  }
}

}  // namespace dcas::protocol
