// What the TA and AP servers share: accepting connections under a cap, tracking them, and a
// graceful stop (docs/spec.md, "Transport"): on stop the listener closes, a connection waiting
// for its next frame is told net_shutting_down and closed, and work in flight finishes and is
// answered; after the drain timeout whatever remains is closed.
//
// A server given a TLS context (the TA's, spec §13.2) runs the TLS handshake on every accepted
// connection before its handler sees it: a peer that does not complete it within the handshake
// timeout is closed. The cap counts handshakes in progress; a connection over it is closed
// before any handshake, since the refusal frame would need one. Each handshake costs the server a
// private-key signature: the cap bounds how many run at once, not how often a peer starts one.
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <mutex>
#include <set>

#include "common/log.h"
#include "net/channel.h"
#include "observe/metrics.h"

namespace dcas::service {

using net::Millis;
using net::Task;
using net::tcp;

struct ServerLimits {
  net::Limits link;
  std::size_t max_connections = 256;
  // Connections whose peer has not yet been verified (mark_verified: an AP's hello admitted, a
  // host's signed KeyRequest checked). Over it, the oldest of them is closed (net_busy) to make
  // room, so that idle or silent peers never hold the slots of those that prove themselves.
  std::size_t max_unverified = 64;
  Millis handshake_timeout{10'000};  // the first frame of a connection
  Millis drain_timeout{5'000};       // on stop, for work in flight
};

class Server {
 public:
  // `serve` runs one connection (on the channel's executor) until it returns.
  using Handler = std::function<Task<void>(std::shared_ptr<net::Channel>)>;
  // `tls`: null for a plain TCP server.
  Server(asio::io_context& io, ServerLimits limits, LogSink log, Handler serve,
         std::shared_ptr<asio::ssl::context> tls = nullptr);

  // Binds and listens (port 0: any free port). Errors: net_io.
  Result<tcp::endpoint> listen(const net::HostPort& address);
  void start();
  // Graceful stop; callable from any thread (signal handlers post it). A TLS handshake in
  // progress ends within the handshake timeout, and its link is then refused net_shutting_down.
  void stop();
  bool stopping() const { return stopping_; }
  const ServerLimits& limits() const { return limits_; }
  // The caps a configuration reload may change (SIGHUP), from any thread: connections already
  // served are kept, and the new caps apply from the next one accepted.
  void set_caps(std::size_t max_connections, std::size_t max_unverified);
  std::size_t max_connections() const { return max_connections_; }
  std::size_t max_unverified() const { return max_unverified_; }
  std::size_t connections() const;
  // Called with each accepted connection (after its TLS handshake) before a frame crosses it:
  // where a trace taps it. Set before start().
  void set_channel_hook(std::function<void(net::Channel&)> hook) { channel_hook_ = std::move(hook); }
  // --metrics: connections accepted and refused (by error), error frames sent. Set before start();
  // `metrics` outlives the server.
  void set_metrics(observe::Metrics* metrics) { metrics_ = metrics; }
  observe::Metrics* metrics() const { return metrics_; }
  // The peer on `channel` proved itself: its connection no longer counts as unverified. Thread-safe.
  void mark_verified(const std::shared_ptr<net::Channel>& channel);

 private:
  Task<void> accept_loop();
  Task<void> handshake_then_run(tcp::socket socket);
  void admit(std::shared_ptr<net::Channel> channel);
  void tap(net::Channel& channel);  // the hook's trace and the metrics' count of error frames
  void refused(Errc why) {
    if (metrics_) metrics_->connection_refused(why);
  }
  void count_open() {  // under mutex_
    if (metrics_) metrics_->set_gauge("dcas_connections_open", static_cast<double>(live_.size()));
  }
  Task<void> run_connection(std::shared_ptr<net::Channel> channel);

  asio::io_context& io_;
  ServerLimits limits_;  // its caps are the ones at construction; the live ones follow
  std::atomic<std::size_t> max_connections_, max_unverified_;
  LogSink log_;
  Handler serve_;
  std::function<void(net::Channel&)> channel_hook_;
  observe::Metrics* metrics_ = nullptr;
  std::shared_ptr<asio::ssl::context> tls_;
  std::atomic<std::size_t> handshaking_{0};
  tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::set<std::shared_ptr<net::Channel>> live_;
  std::deque<std::shared_ptr<net::Channel>> unverified_;  // of live_, oldest first
  asio::steady_timer drain_timer_;
};

// A server's signals, caught from construction on (arm them before telling anyone the server is
// ready: an early SIGHUP would otherwise terminate it): SIGINT and SIGTERM call `stop` once (which
// stops the services gracefully); with a `reload`, every SIGHUP calls it, until the stop. The
// handlers run one at a time, on a strand of `io`.
class ServerSignals {
 public:
  ServerSignals(asio::io_context& io, LogSink log, std::function<void()> stop, std::function<void()> reload = {});

 private:
  void wait_for_stop();
  void wait_for_hangup();

  asio::strand<asio::io_context::executor_type> strand_;
  asio::signal_set stops_, hangups_;
  LogSink log_;
  std::function<void()> stop_, reload_;
  bool stopping_ = false;  // on the strand
};

// Runs `io` on `threads` threads until it has no work left.
void run_io(asio::io_context& io, unsigned threads);

// ServerSignals(io, log, stop) and run_io(io, threads), for a server that reloads nothing.
void run_until_signalled(asio::io_context& io, unsigned threads, const LogSink& log, std::function<void()> stop);

}  // namespace dcas::service
