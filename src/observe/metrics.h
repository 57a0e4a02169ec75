// The servers' live counters (`--metrics HOST:PORT` on `ta serve`, `ap serve` and `headend
// serve`, docs/spec.md §20): an HTTP endpoint serving GET /metrics in Prometheus' text format
// (prometheus-cpp). The services feed it what they do: the roles' events (pairings by verdict,
// refusals by error, presence reports, CRLs adopted), connections accepted and refused, error
// frames sent, request latencies. Gauges that live elsewhere (the store's pairing states, the open
// connections) are read at each scrape through callbacks.
//
// No series ever carries a secret: labels are verdicts, error names, message and state names.
// Thread-safe: any thread may feed it while the endpoint's own threads serve scrapes.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/ids.h"
#include "protocol/events.h"

namespace prometheus {
class Exposer;
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace dcas::observe {

// One sample of a gauge read at scrape time: its labels and value.
struct GaugeSample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

class Metrics {
 public:
  // Serves the endpoint on `address` ("HOST:PORT"; port 0: any free port) for the service of `role`
  // (Role::ta or Role::ap: which families it registers). Errors: net_io (cannot bind).
  static Result<std::unique_ptr<Metrics>> serve(const std::string& address, Role role);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  std::uint16_t port() const;

  // A role's event: the counters and gauges it moves (see the .cpp's table).
  void on_event(const protocol::Event& e);
  // A connection the server serves (after its TLS handshake), or one it closed before serving it.
  void connection_accepted();
  void connection_refused(Errc why);
  // An error frame a service sent (a refused request or link), by its code.
  void error_frame_sent(Errc code);
  // How long a request took, from its arrival to its answer (TA: in the role; AP: KeyRequest in,
  // answer out, the TA's round trip included).
  void request_served(std::string_view message, double seconds);
  // A gauge the service sets when it changes (e.g. "dcas_ap_ta_link_up").
  void set_gauge(const std::string& name, double value);
  // A gauge family read at every scrape, from the endpoint's thread: `read` must be thread-safe;
  // when it fails, the family is served without samples.
  void add_scraped_gauge(const std::string& name, const std::string& help,
                         std::function<Result<std::vector<GaugeSample>>()> read);

 private:
  struct Families;
  class Scraped;
  explicit Metrics(Role role);

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<Scraped> scraped_;
  std::unique_ptr<Families> families_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace dcas::observe
