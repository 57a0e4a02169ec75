#include "service/host_client.h"

#include <fmt/format.h>

#include <deque>

#include "wire/message.h"

namespace dcas::service {

using asio::use_awaitable;
using asio::experimental::as_tuple;
using net::Frame;
using net::FrameKind;
using protocol::Peer;

bool retryable(const Error& error) {
  switch (error.code) {
    case Errc::net_timeout:
    case Errc::net_closed:
    case Errc::net_busy:
    case Errc::net_shutting_down:
    case Errc::net_unavailable:
    case Errc::net_io: return true;
    default: return false;
  }
}

namespace {

auto now() { return std::chrono::system_clock::now(); }

class Host {
 public:
  Host(protocol::SecureMicro& sm, protocol::TransportProcessor& tp, PairingReport& report, const LogSink& log)
      : sm_(sm), tp_(tp), report_(report), log_(log) {}

  // Delivers an SM output and everything it causes inside the host; messages for the AP go to
  // `link`. Errors: the error that stopped the SM or the TP.
  Result<void> route(protocol::Output first, net::Channel& link) {
    std::deque<std::pair<Peer, protocol::Output>> pending;
    pending.emplace_back(Peer::sm, std::move(first));
    while (!pending.empty()) {
      auto [from, out] = std::move(pending.front());
      pending.pop_front();
      record(from, out);
      if (out.error && stopped(from)) return std::unexpected(*out.error);
      if (out.error && from == Peer::sm && has_event(out, "download_failed")) report_.download_error = out.error;
      for (auto& m : out.messages) {
        hop(from, m.to, m.bytes);
        if (m.to == Peer::ap) link.send(Frame{FrameKind::message, 0, std::move(m.bytes)});
        if (m.to == Peer::tp) pending.emplace_back(Peer::tp, tp_.receive(m.bytes, now()));
        if (m.to == Peer::sm) pending.emplace_back(Peer::sm, sm_.receive(Peer::tp, m.bytes, now()));
      }
    }
    return {};
  }

  // A frame from the AP. The first announcement after boot goes to the SM, then the power-up
  // trigger if it did not start on it (docs/spec.md §14.1); once the CW keys stand, a wanted image
  // is requested. Errors: the AP's error frame, or the error that stopped the SM or TP.
  Result<void> on_frame(const Frame& frame, net::Channel& link) {
    if (frame.kind == FrameKind::error) {
      auto error = net::parse_error_payload(frame.payload).value_or(Error{Errc::net_bad_frame, ""});
      if (sm_.download() == protocol::SecureMicro::Download::none) return std::unexpected(error);
      // Refused the image: the pairing stands, the download ends here.
      auto out = sm_.abandon_download(error);
      record(Peer::sm, out);
      report_.download_error = error;
      return {};
    }
    if (frame.kind != FrameKind::message) return {};
    hop(Peer::ap, Peer::sm, frame.payload);
    auto out = sm_.receive(Peer::ap, frame.payload, now());
    const bool started = has_event(out, "protocol_started");
    DCAS_TRY(route(std::move(out), link));
    // Each connection is a boot: whatever an earlier attempt left the SM in, it runs again here.
    if (!booted_) {
      booted_ = true;
      if (!started) DCAS_TRY(route(sm_.power_up(now()), link));
    }
    if (sm_.state() == protocol::SecureMicro::State::established && sm_.wants_image() &&
        sm_.download() == protocol::SecureMicro::Download::none)
      DCAS_TRY(route(sm_.request_image(), link));
    return {};
  }

  bool settled() const {
    return sm_.state() == protocol::SecureMicro::State::established &&
           sm_.download() == protocol::SecureMicro::Download::none && !sm_.wants_image();
  }
  void new_connection() { booted_ = false; }

 private:
  static bool has_event(const protocol::Output& out, std::string_view what) {
    for (const auto& e : out.events)
      if (e.what == what) return true;
    return false;
  }
  void hop(Peer from, Peer to, ByteView bytes) {
    auto header = wire::decode_header(bytes);
    const auto name = header ? wire::type_name(static_cast<wire::MessageType>(header->type)) : "(undecodable)";
    report_.hops.push_back(
        fmt::format("{} -> {}  {}, {} bytes", protocol::peer_name(from), protocol::peer_name(to), name, bytes.size()));
  }
  bool stopped(Peer who) const {
    return who == Peer::sm ? sm_.state() == protocol::SecureMicro::State::stopped
                           : tp_.state() == protocol::TransportProcessor::State::stopped;
  }
  void record(Peer from, const protocol::Output& out) {
    for (const auto& e : out.events) {
      const std::string what = fmt::format("{}.{}", from == Peer::sm ? "sm" : "tp", e.what);
      log_(fmt::format("{} {}", what, e.detail));
      report_.events.push_back({what, e.detail});
    }
  }

  protocol::SecureMicro& sm_;
  protocol::TransportProcessor& tp_;
  PairingReport& report_;
  const LogSink& log_;
  bool booted_ = false;
};

Task<Result<std::shared_ptr<net::Channel>>> attempt(Host& host, const HostConfig& config) {
  auto link = co_await net::connect(config.ap, config.link, config.connect_timeout);
  if (!link) co_return std::unexpected(link.error());
  host.new_connection();
  const auto deadline = std::chrono::steady_clock::now() + config.pairing_timeout;
  while (!host.settled()) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    if (left <= Millis(0)) {
      (*link)->close();
      co_return fail(Errc::net_timeout, "pairing did not complete in time");
    }
    auto frame = co_await (*link)->read(left);
    Result<void> step = frame ? host.on_frame(*frame, **link) : Result<void>(std::unexpected(frame.error()));
    if (!step) {
      (*link)->close();
      co_return std::unexpected(step.error());
    }
  }
  co_return *link;
}

// Stays on the network until a signal or the AP closes the link, pinging it every third of the
// idle timeout. (A read that timed out could have consumed part of a frame, so the pings come from
// their own timer, not from read timeouts.)
Task<void> hold(Host& host, std::shared_ptr<net::Channel> link, const LogSink& log) {
  auto executor = co_await asio::this_coro::executor;
  asio::signal_set signals(executor, SIGINT, SIGTERM);
  signals.async_wait([link](asio::error_code ec, int) {
    if (!ec) link->interrupt();
  });
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
    auto step = frame ? host.on_frame(*frame, *link) : Result<void>(std::unexpected(frame.error()));
    if (!step) {
      log(fmt::format("leaving the network: {}", step.error().message()));
      break;
    }
  }
  pinger->cancel();
  signals.cancel();
  link->close();
}

}  // namespace

Result<PairingReport> pair_host(protocol::SecureMicro& sm, protocol::TransportProcessor& tp, const HostConfig& config,
                                const LogSink& log, const WhileConnected& while_connected) {
  PairingReport report;
  Host host(sm, tp, report, log);
  asio::io_context io(1);
  Result<void> outcome = fail(Errc::net_unavailable, "no attempt made");
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        asio::steady_timer pause(io);
        for (report.attempts = 1; report.attempts <= config.attempts; ++report.attempts) {
          auto link = co_await attempt(host, config);
          if (link) {
            outcome = {};
            if (while_connected) while_connected();
            if (config.hold)
              co_await hold(host, *link, log);
            else
              (*link)->finish();
            co_return;
          }
          outcome = std::unexpected(link.error());
          if (!retryable(link.error()) || report.attempts == config.attempts) co_return;
          log(fmt::format("attempt {} failed ({}); retrying in {} ms", report.attempts, link.error().message(),
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
