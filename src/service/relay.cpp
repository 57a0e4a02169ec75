#include "service/relay.h"

#include <fmt/format.h>

namespace dcas::service {

Relay::Relay(asio::io_context& io, RelayConfig config, ToHost to_host, LogSink log)
    : config_(std::move(config)),
      to_host_(std::move(to_host)),
      log_(std::move(log)),
      server_(io, config_.server, log_, [this](std::shared_ptr<net::Channel> c) { return serve(std::move(c)); }) {}

Task<void> Relay::pump(std::shared_ptr<net::Channel> from, std::shared_ptr<net::Channel> to, std::uint64_t connection,
                       bool to_host) {
  while (true) {
    auto frame = co_await from->read(from->limits().idle_timeout);
    if (!frame) break;
    if (to_host && frame->kind == net::FrameKind::message && to_host_) to_host_(connection, frame->payload);
    to->send(std::move(*frame));
  }
  // One side is gone: the other is closed once what was passed to it is written.
  to->finish();
}

Task<void> Relay::serve(std::shared_ptr<net::Channel> host) {
  const std::uint64_t connection = next_connection_++;
  auto ap = co_await net::connect(config_.ap, config_.server.link, config_.connect_timeout);
  if (!ap) {
    log_.warn(fmt::format("connection {}: cannot reach the AP: {}", connection, ap.error().message()));
    host->send_and_close(net::error_frame(ap.error()));
    co_return;
  }
  log_(fmt::format("connection {}: host {} carried to the AP", connection, host->peer()));
  auto ap_link = *ap;
  asio::co_spawn(ap_link->executor(), pump(ap_link, host, connection, true), asio::detached);
  co_await pump(host, ap_link, connection, false);
}

}  // namespace dcas::service
