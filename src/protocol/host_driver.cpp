#include "protocol/host_driver.h"

#include <deque>

namespace dcas::protocol {

bool HostDriver::pass(Hop& hop) {
  if (hooks.tamper) hooks.tamper(hop);
  if (hop.bytes.empty()) return false;
  if (hooks.on_hop) hooks.on_hop(hop);
  return true;
}

void HostDriver::observe(Role at, const Output& out) {
  if (hooks.on_event)
    for (const auto& e : out.events) hooks.on_event(at, e);
  if (out.error && hooks.on_failure) hooks.on_failure(at, *out.error);
}

bool HostDriver::stopped(Role who) const {
  return who == Role::sm ? sm_.state() == SecureMicro::State::stopped
                         : tp_.handshake() == TransportProcessor::Handshake::stopped;
}

HostDriver::Step HostDriver::route(Role from, Output first, TimePoint now) {
  Step step;
  std::deque<std::pair<Role, Output>> pending;
  pending.emplace_back(from, std::move(first));
  while (!pending.empty()) {
    auto [at, out] = std::move(pending.front());
    pending.pop_front();
    observe(at, out);
    if (out.error && stopped(at) && !step.failed) step.failed = out.error;
    if (out.error && at == Role::sm && out.find<events::DownloadFailed>()) step.download_error = out.error;
    for (auto& m : out.messages) {
      Hop hop{at, m.to, session_, std::move(m.bytes)};
      if (!pass(hop)) continue;
      if (hop.to == Role::ap) step.to_ap.push_back(std::move(hop.bytes));
      if (hop.to == Role::tp) pending.emplace_back(Role::tp, tp_.receive(hop.bytes, now));
      if (hop.to == Role::sm) pending.emplace_back(Role::sm, sm_.receive(Role::tp, hop.bytes, now));
    }
  }
  return step;
}

void HostDriver::request_wanted_image(Step& step, TimePoint now) {
  if (step.failed || sm_.state() != SecureMicro::State::established || !sm_.wants_image() ||
      sm_.download() != SecureMicro::Download::none)
    return;
  Step more = route(Role::sm, sm_.request_image(), now);
  step.to_ap.insert(step.to_ap.end(), std::make_move_iterator(more.to_ap.begin()),
                    std::make_move_iterator(more.to_ap.end()));
  if (more.failed) step.failed = more.failed;
  if (more.download_error) step.download_error = more.download_error;
}

Bytes carried_crl(ByteView announcement) {
  auto header = wire::decode_header(announcement);
  if (!header || (header->type != static_cast<std::uint8_t>(wire::MessageType::security_announce) &&
                  header->type != static_cast<std::uint8_t>(wire::MessageType::dcas_download)))
    return {};
  auto message = wire::decode(announcement);
  if (!message) return {};
  if (const auto* a = std::get_if<wire::SecurityAnnounce>(&message->body)) return a->crl;
  if (const auto* d = std::get_if<wire::DcasDownload>(&message->body)) return d->crl;
  return {};
}

HostDriver::Step HostDriver::from_ap(ByteView bytes, TimePoint now) {
  Hop hop{Role::ap, Role::sm, session_, Bytes(bytes.begin(), bytes.end())};
  if (!pass(hop)) return {};
  // The host hands the TP each CRL an announcement carries (docs/spec.md §18): the TP checks it.
  if (const Bytes crl = carried_crl(hop.bytes); !crl.empty()) observe(Role::tp, tp_.update_crl(crl));
  Output out = sm_.receive(Role::ap, hop.bytes, now);
  const bool started = out.find<events::ProtocolStarted>() != nullptr;
  Step step = route(Role::sm, std::move(out), now);
  if (!boot_policy_) return step;
  if (booting_) {
    booting_ = false;
    if (!started && !step.failed) {
      Step boot = power_up(now);
      step.to_ap.insert(step.to_ap.end(), std::make_move_iterator(boot.to_ap.begin()),
                        std::make_move_iterator(boot.to_ap.end()));
      step.failed = boot.failed;
    }
  }
  request_wanted_image(step, now);
  return step;
}

HostDriver::Step HostDriver::ap_refused(Error why) {
  Step step;
  if (sm_.download() == SecureMicro::Download::none) {
    step.failed = std::move(why);
    return step;
  }
  Output out = sm_.abandon_download(why);
  observe(Role::sm, out);
  step.download_error = std::move(why);
  return step;
}

HostDriver::Step HostDriver::power_up(TimePoint now) { return route(Role::sm, sm_.power_up(now), now); }

HostDriver::CasStep HostDriver::broadcast(ByteView cas_message, TimePoint now) {
  CasStep step;
  if (hooks.on_cas) hooks.on_cas(cas_message);
  Output out = sm_.receive_cas(cas_message, now);
  observe(Role::sm, out);
  if (out.error) {
    step.sm_refused = out.error;
    return step;
  }
  for (auto& m : out.messages) {
    // Tampered with like any hop, but not reported as one: a broadcast makes one every crypto period.
    Hop hop{Role::sm, m.to, session_, std::move(m.bytes)};
    if (hooks.tamper) hooks.tamper(hop);
    if (hop.to != Role::tp || hop.bytes.empty()) continue;
    if (hooks.on_control_word) hooks.on_control_word(hop);
    Output accepted = tp_.receive(hop.bytes, now);
    observe(Role::tp, accepted);
    if (accepted.error)
      step.tp_refused = accepted.error;
    else
      step.control_words_installed = true;
  }
  return step;
}

bool HostDriver::settled() const {
  return sm_.state() == SecureMicro::State::established && sm_.download() == SecureMicro::Download::none &&
         !sm_.wants_image();
}

}  // namespace dcas::protocol
