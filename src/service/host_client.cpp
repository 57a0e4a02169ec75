#include "service/host_client.h"

#include <fmt/format.h>

#include "service/tracing.h"
#include "wire/message.h"

namespace dcas::service {

using asio::use_awaitable;
using asio::experimental::as_tuple;
using net::Frame;
using net::FrameKind;

bool retryable(const Error& error) {
  switch (error.code) {
    case Errc::net_timeout:
    case Errc::net_closed:
    case Errc::net_busy:
    case Errc::net_shutting_down:
    case Errc::net_unavailable:
    case Errc::net_io:
    case Errc::store_unavailable: return true;  // the TA's database: back after a restart
    default: return false;
  }
}

namespace {

auto now() { return std::chrono::system_clock::now(); }

// Sends what the driver's step produced; the attempt's error, if it failed.
Result<void> carry(protocol::HostDriver::Step step, net::Channel& link, PairingReport& report) {
  for (auto& m : step.to_ap) link.send(Frame{FrameKind::message, 0, std::move(m)});
  if (step.download_error) report.download_error = step.download_error;
  if (step.failed) return std::unexpected(*step.failed);
  return {};
}

// A frame from the AP. Errors: the AP's error frame (outside a download), or the error that
// stopped the SM or TP.
Result<void> on_frame(protocol::HostDriver& host, const Frame& frame, net::Channel& link, PairingReport& report) {
  if (frame.kind == FrameKind::error)
    return carry(host.ap_refused(net::parse_error_payload(frame.payload).value_or(Error{Errc::net_bad_frame, ""})),
                 link, report);
  if (frame.kind != FrameKind::message) return {};
  return carry(host.from_ap(frame.payload, now()), link, report);
}

}  // namespace

Task<Result<std::shared_ptr<net::Channel>>> pair_once(protocol::HostDriver& host, const HostConfig& config,
                                                      PairingReport& report) {
  auto link = co_await net::connect(config.ap, config.link, config.connect_timeout);
  if (!link) co_return std::unexpected(link.error());
  trace_channel(**link, config.trace, observe::Link::host_ap, observe::Party::sm, observe::Party::ap);
  host.connected();
  const auto deadline = std::chrono::steady_clock::now() + config.pairing_timeout;
  while (!host.settled()) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    if (left <= Millis(0)) {
      (*link)->close();
      co_return fail(Errc::net_timeout, "pairing did not complete in time");
    }
    auto frame = co_await (*link)->read(left);
    Result<void> step = frame ? on_frame(host, *frame, **link, report) : Result<void>(std::unexpected(frame.error()));
    if (!step) {
      (*link)->close();
      co_return std::unexpected(step.error());
    }
  }
  co_return *link;
}

Task<void> stay_on_network(protocol::HostDriver& host, std::shared_ptr<net::Channel> link, PairingReport& report,
                           LogSink log) {
  auto executor = co_await asio::this_coro::executor;
  auto pinger = std::make_shared<asio::steady_timer>(executor);
  asio::co_spawn(
      executor,
      [pinger, link]() -> Task<void> {
        while (true) {
          pinger->expires_after(link->limits().idle_timeout / 3);
          auto [ec] = co_await pinger->async_wait(as_tuple(use_awaitable));
          if (ec) co_return;
          link->send(Frame{FrameKind::ping, 0, {}});
        }
      },
      asio::detached);
  while (true) {
    auto frame = co_await link->read(Millis(24 * 3600 * 1000));
    // Announcements of a new image and DCASDownload keep working while the host is on the network.
    auto step = frame ? on_frame(host, *frame, *link, report) : Result<void>(std::unexpected(frame.error()));
    if (!step) {
      log(fmt::format("leaving the network: {}", step.error().message()));
      break;
    }
  }
  pinger->cancel();
  link->close();
}

namespace {

// `--hold`: on the network until SIGINT/SIGTERM or the AP closes the link.
Task<void> hold(protocol::HostDriver& host, std::shared_ptr<net::Channel> link, const LogSink& log,
                PairingReport& report) {
  asio::signal_set signals(co_await asio::this_coro::executor, SIGINT, SIGTERM);
  signals.async_wait([link](asio::error_code ec, int) {
    if (!ec) link->interrupt();
  });
  co_await stay_on_network(host, link, report, log);
  signals.cancel();
}

}  // namespace

Result<PairingReport> pair_host(protocol::HostDriver& host, const HostConfig& config, const LogSink& log,
                                const WhileConnected& while_connected) {
  PairingReport report;
  asio::io_context io(1);
  Result<void> outcome = fail(Errc::net_unavailable, "no attempt made");
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        asio::steady_timer pause(io);
        for (report.attempts = 1; report.attempts <= config.attempts; ++report.attempts) {
          auto link = co_await pair_once(host, config, report);
          if (link) {
            outcome = {};
            if (while_connected) while_connected();
            if (config.hold)
              co_await hold(host, *link, log, report);
            else
              (*link)->finish();
            co_return;
          }
          outcome = std::unexpected(link.error());
          if (!retryable(link.error()) || report.attempts == config.attempts) co_return;
          log.warn(fmt::format("attempt {} failed ({}); retrying in {} ms", report.attempts, link.error().message(),
                               config.retry_delay.count()));
          pause.expires_after(config.retry_delay);
          co_await pause.async_wait(as_tuple(use_awaitable));
        }
      },
      asio::detached);
  io.run();
  if (!outcome) return std::unexpected(outcome.error());
  return report;
}

}  // namespace dcas::service
