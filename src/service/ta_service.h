// The TA as a network service (`dcas ta serve`): APs connect over mutual TLS 1.3, proving the
// key of their TA-issued certificate (spec §13.2), present that same certificate (hello ->
// welcome), then send KeyRequests, answered on the same stream, and HostPresence reports
// (docs/spec.md, "Transport").
//
// KeyRequests from one link are worked on concurrently by the io_context's threads (each is three
// RSA private-key operations and one durable store transaction); HostPresence reports are applied
// in arrival order before the next frame is read, so a host's "left" always precedes its next
// request. A request refused by the TA is answered with an error frame on its stream.
#pragma once

#include "observe/trace.h"
#include "protocol/trusted_authority.h"
#include "service/server.h"
#include "store/operator_store.h"

namespace dcas::service {

struct TaServiceConfig {
  ServerLimits server;
  // The TA's side of the link's TLS (service/tls.h: the root key and certificate). Required: the
  // service admits no AP that has not proved its key.
  std::shared_ptr<asio::ssl::context> tls;
  std::size_t max_in_flight = 64;  // per AP link; beyond it a request is answered net_busy
  // How often the TA reads the store's CRL on its own (spec §18.3), so that an admitted AP that
  // was revoked is dropped even if no AP asks for the CRL. Zero: only at the APs' requests.
  Millis crl_refresh{0};
  observe::Tracer trace;  // --trace: every frame on the AP links, and the TA's events
  // --metrics (observe/metrics.h): the TA's events, its links and each request's time in the
  // role; null for none. Outlives the service.
  observe::Metrics* metrics = nullptr;
};

class TaService {
 public:
  // `ta` must be safe to call from several threads at once (its store and RNG are).
  TaService(asio::io_context& io, protocol::TrustedAuthority& ta, TaServiceConfig config, LogSink log);
  Server& server() { return server_; }
  // Starts the server and the CRL refresh; stop() ends both.
  void start();
  void stop();
  // What a configuration reload may change, from any thread: the cap applies to the next request,
  // the interval from the next CRL read.
  void set_max_in_flight(std::size_t max) { max_in_flight_ = max; }
  void set_crl_refresh(Millis interval) { crl_refresh_ms_ = interval.count(); }

 private:
  Task<void> serve(std::shared_ptr<net::Channel> link);
  Task<void> crl_loop();
  Task<Result<std::string>> admit(net::Channel& link);
  void answer(net::Channel& link, std::uint64_t stream, const protocol::Output& out);
  // ta_.receive, answered, and timed for the metrics under `message`; whether the role took it.
  bool receive_and_answer(net::Channel& link, const net::Frame& frame, std::chrono::system_clock::time_point now,
                          std::string_view message);

  asio::io_context& io_;
  protocol::TrustedAuthority& ta_;
  TaServiceConfig config_;
  LogSink log_;
  Server server_;
  asio::steady_timer crl_timer_;
  std::atomic<std::size_t> max_in_flight_;
  std::atomic<Millis::rep> crl_refresh_ms_;
  bool stopping_ = false;
};

// The store's gauges for --metrics, read at each scrape: SMs by pairing state (paper Table 1's
// PSI), and the number of the operator's current CRL (0: none issued), which `ta_root` signed.
// Both outlive the metrics.
void add_store_gauges(observe::Metrics& metrics, store::OperatorStore& store, const pki::Certificate& ta_root);

}  // namespace dcas::service
