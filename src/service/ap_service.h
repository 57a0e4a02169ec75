// The AP as a network service (`dcas ap serve`): one link to the TA, and set-top hosts connecting
// to it (docs/spec.md, "Transport"). Only I/O lives here: the session policy (which request is
// relayed, when a presence ends or is renewed, when an answer is late) is the AuthProxy role's;
// the service feeds it frames, link changes and its timer, and carries out what it returns.
//
// A host that connects is sent the signed SecurityAnnounce (again to every host when the headend
// publishes a new image version, and a DCASDownload when the operator orders one); its KeyRequest
// is relayed to the TA on a stream numbered by the host's session and the answer is relayed back.
// "Left" reports (Outgoing::must_arrive) are acknowledged by the TA; those made while the link is
// down, or not acknowledged when it dropped, are sent first when it is back. One thread: the
// AuthProxy is not shared.
#pragma once

#include <map>

#include "headend/image_source.h"
#include "observe/trace.h"
#include "protocol/auth_proxy.h"
#include "service/server.h"

namespace dcas::service {

// What the service saw cross the AP: each AP-TA hop, each of the AP's events (for the journal).
struct ApObserver {
  std::function<void(const protocol::Hop&, const std::optional<SmId>&)> on_hop;
  std::function<void(const protocol::Event&)> on_event;
};

struct ApServiceConfig {
  ServerLimits server;
  // The TAs (one store's nodes), tried in turn: the one that welcomes the AP serves it until its
  // link goes, then the AP moves to the next at once; after each TA in turn failed, it waits
  // reconnect_delay. At least one.
  std::vector<net::HostPort> tas;
  // The AP's side of the link's TLS (service/tls.h: the AP's key and certificate, the TA root as
  // the only anchor), and the TA root's DER: the TA must present exactly it, not merely a
  // certificate the root issued (another AP's would verify). Both required.
  std::shared_ptr<asio::ssl::context> ta_tls;
  Bytes ta_root_der;
  Bytes network_id = Bytes(8, 0);
  // None: the AP announces image version 0 and answers ImageKeyRequests with image_unavailable.
  headend::ImageSource* images = nullptr;
  Millis headend_poll{500};           // how often the image version and download orders are looked at
  Millis reconnect_delay{1'000};      // between attempts to reach the TA
  Millis crl_refresh{60'000};         // how often the AP asks the TA for its current CRL (spec §18)
  std::size_t max_backlog = 100'000;  // presence reports queued while the TA is unreachable
  ApObserver observer;
  observe::Tracer trace;  // --trace: every frame on the host links and the TA link
  // --metrics (observe/metrics.h): the AP's events, its host links, its TA link, and each
  // KeyRequest's time from the host's frame to the answer sent back; null for none. Outlives the service.
  observe::Metrics* metrics = nullptr;
};

class ApService {
 public:
  ApService(asio::io_context& io, protocol::AuthProxy& ap, ApServiceConfig config, LogSink log);
  // Signs the announcement and starts the TA link and the host listener (after server().listen()).
  // Errors: as AuthProxy::security_announce.
  Result<void> start();
  // Graceful: hosts are drained, their departures reported, then the TA link is closed.
  void stop();
  Server& server() { return server_; }
  // What a configuration reload may change; call on the service's io thread.
  void set_crl_refresh(Millis interval) { config_.crl_refresh = interval; }
  void set_presence_interval(Millis interval);

 private:
  Task<void> serve_host(std::shared_ptr<net::Channel> host);
  void on_host_message(std::uint64_t session, const Bytes& payload);
  Task<void> ta_link_loop();
  Task<Result<std::shared_ptr<net::Channel>>> connect_to_ta();
  Task<void> ping_loop(std::shared_ptr<net::Channel> link);
  Task<void> crl_loop(std::shared_ptr<net::Channel> link);
  void on_crl(const Bytes& der);
  // Signs the announcement again (a new image version, a new CRL) and, if `broadcast`, sends it to every host.
  Result<void> sign_announcement(std::uint64_t version, bool broadcast);
  Task<void> expiry_loop();
  Task<void> headend_loop();
  Result<void> refresh_announcement();
  void on_image_key_request(std::uint64_t session, const Bytes& payload);
  void send_download_orders();
  void on_ta_frame(const net::Frame& frame);
  // Carries out what the AP role returned: frames to hosts and to the TA, log lines; re-arms the timer.
  void dispatch(protocol::Output out);
  void send_to_host(std::uint64_t session, net::Frame frame);
  void send_left(Bytes report);
  void resend_later(Bytes report, const Error& why);
  void rearm();
  void log_hop(Role from, Role to, ByteView message, const std::optional<SmId>& sm);
  void maybe_finish();
  // --metrics: a KeyRequest's start, and its time when its session is answered.
  void note_request(std::uint64_t session, const Bytes& payload);
  void note_answered(std::uint64_t session);
  void set_gauge(const std::string& name, double value) {
    if (config_.metrics) config_.metrics->set_gauge(name, value);
  }

  asio::io_context& io_;
  protocol::AuthProxy& ap_;
  ApServiceConfig config_;
  LogSink log_;
  Server server_;
  Bytes announce_;
  std::uint64_t announced_version_ = 0;
  std::map<std::uint64_t, std::shared_ptr<net::Channel>> hosts_;  // by session
  std::uint64_t next_session_ = 1;
  std::shared_ptr<net::Channel> ta_;
  std::size_t ta_index_ = 0;  // the TA of config_.tas the AP tries or holds a link to
  std::deque<Bytes> backlog_;
  // "Left" reports sent but not yet acknowledged by the TA, by stream: sent again if the link drops.
  std::map<std::uint64_t, Bytes> unacked_;
  std::uint64_t next_report_stream_ = std::uint64_t{1} << 63;  // apart from the host sessions' streams
  std::map<std::uint64_t, std::chrono::steady_clock::time_point> request_started_;  // by session, for --metrics
  bool stopping_ = false;
  asio::steady_timer retry_timer_, expiry_timer_, ping_timer_, stop_timer_, headend_timer_, crl_timer_;
};

}  // namespace dcas::service
