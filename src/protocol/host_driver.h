// One set-top host's inside: its SM and TP and the bus between them (paper Fig. 1), I/O-free.
//
// Every caller that runs a host drives it through this one class: the in-process deployment of the
// tests and benchmarks, the `dcas host` process, the receiver of a broadcast, load generators and
// attack drivers. It delivers what the AP sent to the SM, routes every message between the SM and
// the TP until nothing is left in flight, and hands back what the SM sends to the AP. Each hop
// across the host's edge or its bus passes the hooks (to observe it, or to tamper with it).
//
// With connected() it also applies the bootloader's policy for one connection to an AP
// (docs/spec.md §14.1): the connection's first message goes to the SM, then the power-up trigger if
// the SM did not start on it (each connection is a boot); once the CW keys stand, an image the last
// announcement offered is requested.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "protocol/secure_micro.h"
#include "protocol/transport_processor.h"

namespace dcas::protocol {

struct HopHooks {
  // Before delivery: may change the bytes, or empty them to drop the message.
  std::function<void(Hop&)> tamper;
  // Observers, in the order things happen: each delivered hop, each event, each failed check.
  std::function<void(const Hop&)> on_hop;
  std::function<void(Role at, const Event&)> on_event;
  std::function<void(Role at, const Error&)> on_failure;
  // The broadcast's traffic, which is not reported as hops (it recurs every crypto period): each
  // EMM or ECM handed to the SM, and each ControlWord message the SM sends the TP.
  std::function<void(ByteView cas_message)> on_cas;
  std::function<void(const Hop&)> on_control_word;
};

// The CRL a SecurityAnnounce or DCASDownload carries (empty: none, or another message).
Bytes carried_crl(ByteView announcement);

class HostDriver {
 public:
  HostDriver(SecureMicro& sm, TransportProcessor& tp, std::uint64_t session = 0)
      : sm_(sm), tp_(tp), session_(session) {}
  HostDriver(const HostDriver&) = delete;
  HostDriver& operator=(const HostDriver&) = delete;

  HopHooks hooks;

  struct Step {
    std::vector<Bytes> to_ap;             // what the SM sends to the AP, in order
    std::optional<Error> failed;          // the error that stopped the SM or the TP, or the AP's refusal
    std::optional<Error> download_error;  // the image download ended on this error; the pairing stands
  };

  // A new connection to an AP: the bootloader's policy applies to it (see the header).
  void connected() {
    booting_ = true;
    boot_policy_ = true;
  }
  // A message from the AP, delivered to the SM.
  Step from_ap(ByteView bytes, TimePoint now);
  // The AP refused the SM's last request (an error frame): a download in progress ends, the pairing
  // stands; otherwise the refusal is the attempt's failure.
  Step ap_refused(Error why);
  // The power-up trigger.
  Step power_up(TimePoint now);
  // `out`, produced by the SM or TP, and everything it causes inside the host.
  Step route(Role from, Output out, TimePoint now);

  // An EMM or ECM from the broadcast: to the SM's CA client, the control words it seals to the TP.
  struct CasStep {
    std::optional<Error> sm_refused;  // the CA client refused the message
    std::optional<Error> tp_refused;  // the TP refused the ControlWord message
    bool control_words_installed = false;
  };
  CasStep broadcast(ByteView cas_message, TimePoint now);

  // The SM has the CW keys and no download is wanted or running.
  bool settled() const;
  SecureMicro& sm() { return sm_; }
  TransportProcessor& tp() { return tp_; }
  std::uint64_t session() const { return session_; }

 private:
  bool stopped(Role who) const;
  // Passes a hop through the hooks; false if it was dropped.
  bool pass(Hop& hop);
  void observe(Role at, const Output& out);
  void request_wanted_image(Step& step, TimePoint now);

  SecureMicro& sm_;
  TransportProcessor& tp_;
  std::uint64_t session_;
  bool booting_ = false;      // the connection's first message is still to come
  bool boot_policy_ = false;  // connected() was called: apply the bootloader's policy
};

}  // namespace dcas::protocol
