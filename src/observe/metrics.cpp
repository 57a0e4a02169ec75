#include "observe/metrics.h"

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <mutex>

namespace dcas::observe {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

namespace {

// Seconds, from a local answer (~1 ms: one RSA private-key operation) to a relayed pairing under
// load; the top buckets catch an AP waiting out its answer timeout (15 s by default).
const Histogram::BucketBoundaries latency_buckets{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                                  0.1,    0.2,   0.5,   1,     2,    5,    15};

const protocol::Verdict all_verdicts[] = {
    protocol::Verdict::bound_virgin_pair,       protocol::Verdict::rejoined,
    protocol::Verdict::rejoined_after_lapse,    protocol::Verdict::refused_unknown,
    protocol::Verdict::refused_bound_elsewhere, protocol::Verdict::refused_active,
    protocol::Verdict::refused_revoked};

std::string text(std::string_view s) { return std::string(s); }

}  // namespace

// The gauge families read at scrape time.
class Metrics::Scraped : public prometheus::Collectable {
 public:
  struct Entry {
    std::string name, help;
    std::function<Result<std::vector<GaugeSample>>()> read;
  };
  void add(Entry e) {
    std::lock_guard lock(mutex_);
    entries_.push_back(std::move(e));
  }
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::lock_guard lock(mutex_);
    std::vector<prometheus::MetricFamily> out;
    for (const auto& e : entries_) {
      prometheus::MetricFamily family{e.name, e.help, prometheus::MetricType::Gauge, {}};
      if (auto samples = e.read()) {
        for (const auto& s : *samples) {
          prometheus::ClientMetric m;
          for (const auto& [k, v] : s.labels) m.label.push_back({k, v});
          m.gauge.value = s.value;
          family.metric.push_back(std::move(m));
        }
      }
      out.push_back(std::move(family));
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

struct Metrics::Families {
  Family<Counter>& accepted;
  Family<Counter>& refused_connections;
  Family<Counter>& error_frames;
  Family<Histogram>& latency;
  // The TA's.
  Family<Counter>* pairings = nullptr;
  Family<Counter>* requests_refused = nullptr;
  Family<Counter>* presence_reports = nullptr;
  // The AP's.
  Family<Counter>* relayed = nullptr;
  Family<Counter>* ap_refused = nullptr;
  Family<Counter>* image_keys = nullptr;
  std::map<std::string, Gauge*, std::less<>> gauges;  // set_gauge's, by family name

  explicit Families(prometheus::Registry& r)
      : accepted(BuildCounter()
                     .Name("dcas_connections_accepted_total")
                     .Help("Connections served (after the TLS handshake, where the link has one)")
                     .Register(r)),
        refused_connections(BuildCounter()
                                .Name("dcas_connections_refused_total")
                                .Help("Connections closed before they were served, by the error that closed them")
                                .Register(r)),
        error_frames(BuildCounter()
                         .Name("dcas_error_frames_sent_total")
                         .Help("Error frames sent: requests and links refused, by error code name (spec section 7)")
                         .Register(r)),
        latency(BuildHistogram()
                    .Name("dcas_request_duration_seconds")
                    .Help("From a request's arrival to its answer, by message type")
                    .Register(r)) {}

  void add_gauge(prometheus::Registry& r, const std::string& name, const std::string& help) {
    gauges.emplace(name, &BuildGauge().Name(name).Help(help).Register(r).Add({}));
  }
};

Metrics::Metrics(Role role)
    : registry_(std::make_shared<prometheus::Registry>()),
      scraped_(std::make_shared<Scraped>()),
      families_(std::make_unique<Families>(*registry_)) {
  auto& r = *registry_;
  auto& f = *families_;
  if (role == Role::ta) {
    f.pairings = &BuildCounter()
                      .Name("dcas_ta_pairings_total")
                      .Help("KeyRequests the TA validated or refused, by the verdict of paper Table 1")
                      .Register(r);
    for (const auto v : all_verdicts) f.pairings->Add({{"verdict", text(protocol::verdict_name(v))}});
    f.requests_refused = &BuildCounter()
                              .Name("dcas_ta_requests_refused_total")
                              .Help("Messages to the TA that failed a check (no answer), by error")
                              .Register(r);
    f.presence_reports =
        &BuildCounter().Name("dcas_ta_presence_reports_total").Help("HostPresence reports applied").Register(r);
    for (const auto* report : {"left", "present"}) f.presence_reports->Add({{"report", report}});
  } else {
    f.relayed = &BuildCounter()
                     .Name("dcas_ap_pairings_total")
                     .Help("KeyRequests the AP relayed, by how they ended")
                     .Register(r);
    for (const auto* outcome : {"paired", "refused_by_ta", "timed_out"}) f.relayed->Add({{"outcome", outcome}});
    f.ap_refused = &BuildCounter()
                        .Name("dcas_ap_requests_refused_total")
                        .Help("KeyRequests from SMs and KeyResponses from the TA that failed a check, by error")
                        .Register(r);
    f.image_keys =
        &BuildCounter().Name("dcas_ap_image_keys_granted_total").Help("Client image keys granted").Register(r);
    f.image_keys->Add({});
    f.add_gauge(r, "dcas_crl_number", "The number of the CRL the AP holds (0: none)");
    f.add_gauge(r, "dcas_ap_ta_link_up", "1 while the AP's link to the TA is up");
    f.add_gauge(r, "dcas_ap_presence_backlog", "Presence reports queued while the TA is unreachable");
    f.add_gauge(r, "dcas_ap_image_version", "The client image version the AP announces");
  }
  f.accepted.Add({});
  f.add_gauge(r, "dcas_connections_open", role == Role::ta ? "AP links open" : "Host links open");
}

Metrics::~Metrics() = default;

Result<std::unique_ptr<Metrics>> Metrics::serve(const std::string& address, Role role) {
  std::unique_ptr<Metrics> m(new Metrics(role));  // the constructor is private: make_unique cannot reach it
  try {
    // One thread: a scrape is cheap, and more would only compete with the service.
    m->exposer_ = std::make_unique<prometheus::Exposer>(address, 1);
  } catch (const std::exception& e) {
    return fail(Errc::net_io, fmt::format("cannot serve metrics on {}: {}", address, e.what()));
  }
  m->exposer_->RegisterCollectable(m->registry_);
  m->exposer_->RegisterCollectable(m->scraped_);
  return m;
}

std::uint16_t Metrics::port() const {
  const auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : static_cast<std::uint16_t>(ports.front());
}

// Which event moves what: the TA's verdicts, refusals and presence reports; the AP's relays,
// refusals, image keys and CRLs. Other events (the SM's and TP's) move nothing here.
void Metrics::on_event(const protocol::Event& e) {
  namespace ev = protocol::events;
  auto& f = *families_;
  auto refused = [](Family<Counter>* family, const char* message, const Error& error) {
    if (family) family->Add({{"message", message}, {"error", text(errc_name(error.code))}}).Increment();
  };
  if (const auto* v = std::get_if<ev::PairingValidated>(&e); v && f.pairings)
    f.pairings->Add({{"verdict", text(protocol::verdict_name(v->verdict))}}).Increment();
  else if (const auto* r = std::get_if<ev::PairingRefused>(&e); r && f.pairings)
    f.pairings->Add({{"verdict", text(protocol::verdict_name(r->verdict))}}).Increment();
  else if (const auto* q = std::get_if<ev::RequestRefused>(&e); q && f.requests_refused)
    f.requests_refused->Add({{"error", text(errc_name(q->error.code))}}).Increment();
  else if (protocol::is<ev::HostLeft>(e) && f.presence_reports)
    f.presence_reports->Add({{"report", "left"}}).Increment();
  else if (protocol::is<ev::HostPresent>(e) && f.presence_reports)
    f.presence_reports->Add({{"report", "present"}}).Increment();
  else if (protocol::is<ev::KeyResponseRelayed>(e) && f.relayed)
    f.relayed->Add({{"outcome", "paired"}}).Increment();
  else if (protocol::is<ev::RefusalRelayed>(e) && f.relayed)
    f.relayed->Add({{"outcome", "refused_by_ta"}}).Increment();
  else if (protocol::is<ev::AnswerTimedOut>(e) && f.relayed)
    f.relayed->Add({{"outcome", "timed_out"}}).Increment();
  else if (const auto* k = std::get_if<ev::KeyRequestRefused>(&e))
    refused(f.ap_refused, "key_request", k->error);
  else if (const auto* kr = std::get_if<ev::KeyResponseRefused>(&e))
    refused(f.ap_refused, "key_response", kr->error);
  else if (protocol::is<ev::ImageKeyGranted>(e) && f.image_keys)
    f.image_keys->Add({}).Increment();
  else if (const auto* crl = std::get_if<ev::CrlAdopted>(&e))
    set_gauge("dcas_crl_number", static_cast<double>(crl->number));
}

void Metrics::connection_accepted() { families_->accepted.Add({}).Increment(); }

void Metrics::connection_refused(Errc why) {
  families_->refused_connections.Add({{"error", text(errc_name(why))}}).Increment();
}

void Metrics::error_frame_sent(Errc code) {
  families_->error_frames.Add({{"error", text(errc_name(code))}}).Increment();
}

void Metrics::request_served(std::string_view message, double seconds) {
  families_->latency.Add({{"message", text(message)}}, latency_buckets).Observe(seconds);
}

void Metrics::set_gauge(const std::string& name, double value) {
  if (auto it = families_->gauges.find(name); it != families_->gauges.end()) it->second->Set(value);
}

void Metrics::add_scraped_gauge(const std::string& name, const std::string& help,
                                std::function<Result<std::vector<GaugeSample>>()> read) {
  scraped_->add({name, help, std::move(read)});
}

}  // namespace dcas::observe
