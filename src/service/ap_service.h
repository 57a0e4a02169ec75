// The AP as a network service (`dcas ap serve`): one link to the TA, and set-top hosts connecting
// to it (docs/spec.md, "Transport").
//
// A host that connects is sent the signed SecurityAnnounce (again to every host when the headend
// publishes a new image version, and a DCASDownload when the operator orders one); its KeyRequest is relayed to the TA
// on a stream numbered by the host's session and the answer is relayed back. While a paired host stays connected its
// presence is renewed at the TA; when it disconnects the AP reports it gone (HostPresence left) if the TA may have
// validated it: after a relayed pairing KPK, or when the TA's answer never came (link lost, timeout). "Left" reports
// are acknowledged by the TA; those made while the link is down, or not acknowledged when it dropped, are sent first
// when it is back. One thread: the AuthProxy is not shared.
#pragma once

#include <map>

#include "protocol/auth_proxy.h"
#include "service/server.h"

namespace dcas::service {

// The headend behind the AP: its PS and download server (docs/spec.md, "Client image download").
class ImageSource {
 public:
  virtual ~ImageSource() = default;
  // The version announced and delivered; 0: none.
  virtual Result<std::uint64_t> current_version() = 0;
  // The ClientImage message of `version` personalized for `sm`, encrypted under `image_key`.
  virtual Result<Bytes> personalize(const SmId& sm, std::uint64_t version, ByteView image_key) = 0;
  // The operator's DCASDownload orders since the last call: an SM, or nullopt for every SM.
  virtual Result<std::vector<std::optional<SmId>>> take_download_orders() = 0;
};

struct ApServiceConfig {
  ServerLimits server;
  net::HostPort ta;
  Bytes network_id = Bytes(8, 0);
  // None: the AP announces image version 0 and answers ImageKeyRequests with image_unavailable.
  ImageSource* images = nullptr;
  Millis headend_poll{500};           // how often the image version and download orders are looked at
  Millis answer_timeout{15'000};      // for the TA's answer to a KeyRequest
  Millis reconnect_delay{1'000};      // between attempts to reach the TA
  Millis presence_interval{200'000};  // presence renewals for connected, paired hosts
  std::size_t max_backlog = 100'000;  // presence reports queued while the TA is unreachable
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

 private:
  struct Session {
    std::shared_ptr<net::Channel> host;
    std::optional<SmId> sm;
    bool awaiting = false;      // a KeyRequest is at the TA
    bool may_be_bound = false;  // the TA may have validated the SM: report it when the host leaves
    bool paired = false;
    std::shared_ptr<asio::steady_timer> answer_timer;
  };

  Task<void> serve_host(std::shared_ptr<net::Channel> host);
  void on_host_message(std::uint64_t session, const Bytes& payload);
  Task<void> answer_deadline(std::uint64_t session, std::shared_ptr<asio::steady_timer> timer);
  Task<void> ta_link_loop();
  Task<void> ping_loop(std::shared_ptr<net::Channel> link);
  Task<void> presence_loop();
  Task<void> headend_loop();
  Result<void> refresh_announcement();
  void on_image_key_request(Session& s, std::uint64_t session, const Bytes& payload);
  void send_download_orders();
  void on_ta_frame(const net::Frame& frame);
  void end_wait(Session& s, std::uint64_t session);
  void fail_awaiting(const Error& why);
  void report_presence(const SmId& sm, bool present);
  void send_left(Bytes report);
  void log_events(const protocol::Output& out);
  void log_hop(std::string_view route, ByteView message, const std::optional<SmId>& sm);
  void maybe_finish();

  asio::io_context& io_;
  protocol::AuthProxy& ap_;
  ApServiceConfig config_;
  LogSink log_;
  Server server_;
  Bytes announce_;
  std::uint64_t announced_version_ = 0;
  std::map<std::uint64_t, Session> sessions_;
  std::uint64_t next_session_ = 1;
  std::shared_ptr<net::Channel> ta_;
  std::deque<Bytes> backlog_;
  // "Left" reports sent but not yet acknowledged by the TA, by stream: sent again if the link drops.
  std::map<std::uint64_t, Bytes> unacked_;
  std::uint64_t next_report_stream_ = std::uint64_t{1} << 63;  // apart from the host sessions' streams
  bool stopping_ = false;
  asio::steady_timer retry_timer_, presence_timer_, ping_timer_, stop_timer_, headend_timer_;
};

}  // namespace dcas::service
