#include "service/server.h"

#include <fmt/format.h>

#include <thread>

#include "service/tracing.h"

namespace dcas::service {

using asio::use_awaitable;
using asio::experimental::as_tuple;

Server::Server(asio::io_context& io, ServerLimits limits, LogSink log, Handler serve,
               std::shared_ptr<asio::ssl::context> tls)
    : io_(io),
      limits_(limits),
      max_connections_(limits.max_connections),
      max_unverified_(limits.max_unverified),
      log_(std::move(log)),
      serve_(std::move(serve)),
      tls_(std::move(tls)),
      acceptor_(io),
      drain_timer_(io) {}

Result<tcp::endpoint> Server::listen(const net::HostPort& address) {
  asio::error_code ec;
  tcp::resolver resolver(io_);
  auto endpoints = resolver.resolve(address.host, address.port, tcp::resolver::passive, ec);
  if (ec || endpoints.empty())
    return fail(Errc::net_io, fmt::format("cannot resolve {}: {}", address.host, ec.message()));
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return fail(Errc::net_io, fmt::format("cannot listen on {}:{}: {}", address.host, address.port, ec.message()));
  return acceptor_.local_endpoint();
}

void Server::set_caps(std::size_t max_connections, std::size_t max_unverified) {
  max_connections_ = max_connections;
  max_unverified_ = max_unverified;
}

void Server::start() { asio::co_spawn(io_, accept_loop(), asio::detached); }

std::size_t Server::connections() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

Task<void> Server::accept_loop() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(io_), as_tuple(use_awaitable));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) break;
      log_.error(fmt::format("accept failed: {}", ec.message()));  // e.g. out of descriptors: keep serving
      continue;
    }
    if (tls_) {
      tcp::socket accepted(std::move(socket));
      if (const std::size_t cap = max_connections_; connections() + handshaking_ >= cap) {
        log_.warn(fmt::format("refused {}: at the cap of {} connections", net::endpoint_text(accepted), cap));
        refused(Errc::net_busy);
        continue;  // closed by the socket's destructor, before any handshake
      }
      ++handshaking_;
      const auto executor = accepted.get_executor();
      asio::co_spawn(executor, handshake_then_run(std::move(accepted)), asio::detached);
      continue;
    }
    auto channel = net::Channel::start(std::move(socket), limits_.link);
    tap(*channel);
    if (const std::size_t cap = max_connections_; connections() >= cap) {
      log_.warn(fmt::format("refused {}: at the cap of {} connections", channel->peer(), cap));
      refused(Errc::net_busy);
      channel->send_and_close(net::error_frame({Errc::net_busy, fmt::format("at the cap of {} connections", cap)}));
      continue;
    }
    admit(std::move(channel));
  }
}

Task<void> Server::handshake_then_run(tcp::socket socket) {
  // The slot taken in accept_loop is given back when this ends, whatever way it ends (a detached
  // coroutine's exception is dropped silently), and only after the link is counted in live_.
  struct Slot {
    std::atomic<std::size_t>& count;
    ~Slot() { --count; }
  } slot{handshaking_};
  const auto peer = net::endpoint_text(socket);
  auto channel = co_await net::accept_tls(std::move(socket), *tls_, limits_.link, limits_.handshake_timeout);
  if (!channel) {
    log_.warn(fmt::format("refused {}: {}", peer, channel.error().message()));
    refused(channel.error().code);
    co_return;
  }
  tap(**channel);
  admit(std::move(*channel));
}

void Server::admit(std::shared_ptr<net::Channel> channel) {
  bool listed = false;
  std::vector<std::shared_ptr<net::Channel>> evicted;
  const std::size_t cap = std::max<std::size_t>(max_unverified_, 1);
  {
    // Under the lock that stop() takes to list the connections: a link is either listed (and
    // interrupted) or sees the stop here.
    std::lock_guard lock(mutex_);
    listed = !stopping_;
    if (listed) {
      live_.insert(channel);
      count_open();
      while (unverified_.size() >= cap) {  // more than one after a reload lowered the cap
        evicted.push_back(std::move(unverified_.front()));
        unverified_.pop_front();
      }
      unverified_.push_back(channel);
    }
  }
  if (!listed) {
    refused(Errc::net_shutting_down);
    channel->send_and_close(net::error_frame({Errc::net_shutting_down, "the server is stopping"}));
    return;
  }
  if (metrics_) metrics_->connection_accepted();
  for (const auto& oldest : evicted) {
    refused(Errc::net_busy);
    log_.warn(
        fmt::format("closing {}: the oldest of {} connections not yet verified, for a newer one", oldest->peer(), cap));
    oldest->send_and_close(
        net::error_frame({Errc::net_busy, fmt::format("at the cap of {} connections not yet verified", cap)}));
  }
  const auto executor = channel->executor();
  asio::co_spawn(executor, run_connection(std::move(channel)), asio::detached);
}

void Server::tap(net::Channel& channel) {
  if (channel_hook_) channel_hook_(channel);
  if (metrics_) count_error_frames(channel, *metrics_);
}

void Server::mark_verified(const std::shared_ptr<net::Channel>& channel) {
  std::lock_guard lock(mutex_);
  std::erase(unverified_, channel);
}

Task<void> Server::run_connection(std::shared_ptr<net::Channel> channel) {
  co_await serve_(channel);
  std::lock_guard lock(mutex_);
  live_.erase(channel);
  count_open();
  std::erase(unverified_, channel);
  if (stopping_ && live_.empty()) drain_timer_.cancel();  // drained early: nothing left to wait for
}

void Server::stop() {
  asio::post(io_, [this] {
    if (stopping_.exchange(true)) return;
    asio::error_code ec;
    acceptor_.close(ec);
    std::set<std::shared_ptr<net::Channel>> live;
    {
      std::lock_guard lock(mutex_);
      live = live_;
    }
    log_(fmt::format("stopping: {} connection(s) to drain", live.size()));
    if (live.empty()) return;
    for (const auto& c : live) c->interrupt();
    // Whatever has not finished by the drain deadline is closed.
    drain_timer_.expires_after(limits_.drain_timeout);
    drain_timer_.async_wait([this](asio::error_code timer_error) {
      if (timer_error) return;
      std::lock_guard lock(mutex_);
      for (const auto& c : live_) c->close();
    });
  });
}

ServerSignals::ServerSignals(asio::io_context& io, LogSink log, std::function<void()> stop,
                             std::function<void()> reload)
    : strand_(asio::make_strand(io)),
      stops_(strand_, SIGINT, SIGTERM),
      hangups_(strand_),
      log_(std::move(log)),
      stop_(std::move(stop)),
      reload_(std::move(reload)) {
  wait_for_stop();
  // SIGHUP only when there is something to reload: otherwise it keeps its default (terminate).
  if (reload_) {
    hangups_.add(SIGHUP);
    wait_for_hangup();
  }
}

void ServerSignals::wait_for_stop() {
  stops_.async_wait([this](asio::error_code ec, int signal) {
    if (ec) return;
    log_(fmt::format("signal {}: stopping gracefully", signal));
    stopping_ = true;
    hangups_.cancel();  // a pending wait would keep `io` running after the services stopped
    stop_();
  });
}

void ServerSignals::wait_for_hangup() {
  hangups_.async_wait([this](asio::error_code ec, int) {
    if (ec || stopping_) return;
    reload_();
    if (!stopping_) wait_for_hangup();
  });
}

void run_io(asio::io_context& io, unsigned threads) {
  std::vector<std::jthread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  pool.clear();
}

void run_until_signalled(asio::io_context& io, unsigned threads, const LogSink& log, std::function<void()> stop) {
  ServerSignals signals(io, log, std::move(stop));
  run_io(io, threads);
}

}  // namespace dcas::service
