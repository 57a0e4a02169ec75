#include "protocol/in_process.h"

namespace dcas::protocol {

Result<std::unique_ptr<InProcessHost>> InProcessNetwork::add_host(Identity sm, Identity tp,
                                                                  crypto::RandomSource& sm_rng,
                                                                  crypto::RandomSource& tp_rng, TimePoint now,
                                                                  CwPolicy policy) {
  auto host = std::make_unique<InProcessHost>();
  host->session = next_session_++;
  DCAS_TRY_ASSIGN(sm_role, SecureMicro::create(std::move(sm), host->sm_memory, sm_rng, now, ap_.profile()));
  DCAS_TRY_ASSIGN(tp_role,
                  TransportProcessor::create(std::move(tp), host->tp_memory, tp_rng, now, policy, ap_.profile()));
  host->sm.emplace(std::move(sm_role));
  host->tp.emplace(std::move(tp_role));
  host->driver.emplace(*host->sm, *host->tp, host->session);
  host->driver->hooks = hooks();
  return host;
}

HopHooks InProcessNetwork::hooks() {
  HopHooks h;
  h.tamper = [this](Hop& hop) {
    if (tamper) tamper(hop);
  };
  h.on_hop = [this](const Hop& hop) { record_hop(hop); };
  h.on_event = [this](Role at, const Event& e) {
    events.push_back({at, e});
    if (on_event) on_event(events.back());
  };
  h.on_failure = [this](Role at, const Error& e) {
    failures.push_back({at, e});
    if (on_failure) on_failure(failures.back());
  };
  return h;
}

void InProcessNetwork::record_hop(const Hop& hop) {
  transcript.push_back(hop);
  if (on_hop) on_hop(transcript.back());
}

void InProcessNetwork::observe(Role at, const Output& out) {
  const HopHooks h = hooks();
  for (const auto& e : out.events) h.on_event(at, e);
  if (out.error) h.on_failure(at, *out.error);
}

void InProcessNetwork::take(const InProcessHost& host, HostDriver::Step step, std::deque<Hop>& queue) {
  for (auto& bytes : step.to_ap) queue.push_back({Role::sm, Role::ap, host.session, std::move(bytes)});
}

void InProcessNetwork::run(InProcessHost& host, Role origin, Output first, TimePoint now) {
  HostDriver& driver = *host.driver;
  std::deque<Hop> queue;  // hops on the network side: to and from the AP and the TA
  if (origin == Role::sm || origin == Role::tp) {
    take(host, driver.route(origin, std::move(first), now), queue);
  } else {
    observe(origin, first);
    for (auto& m : first.messages) queue.push_back({origin, m.to, host.session, std::move(m.bytes)});
  }
  while (!queue.empty()) {
    Hop hop = std::move(queue.front());
    queue.pop_front();
    Output out;
    if (hop.to == Role::sm) {  // the driver passes it through the hooks
      take(host, driver.from_ap(hop.bytes, now), queue);
      continue;
    }
    if (hop.from != Role::sm) {  // the driver already passed the SM's own messages through the hooks
      if (tamper) tamper(hop);
      if (hop.bytes.empty()) continue;  // dropped
      record_hop(hop);
    }
    switch (hop.to) {
      case Role::ap:
        out = hop.from == Role::ta ? ap_.receive_from_ta(hop.session, hop.bytes, now)
                                   : ap_.receive_from_sm(hop.session, hop.bytes, now);
        break;
      case Role::ta: out = ta_.receive(hop.session, hop.bytes, now); break;
      default: break;  // the TP talks only to the SM, inside the host
    }
    observe(hop.to, out);
    for (auto& m : out.messages) {
      if (m.refusal) {  // an error frame to the host: it may end a download there
        if (m.to == Role::sm) driver.ap_refused(*m.refusal);
        continue;
      }
      queue.push_back({hop.to, m.to, m.session ? m.session : host.session, std::move(m.bytes)});
    }
  }
}

}  // namespace dcas::protocol
