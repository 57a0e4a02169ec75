#include "service/ta_service.h"

#include <fmt/format.h>

#include "observe/journal.h"
#include "service/tracing.h"
#include "wire/message.h"

namespace dcas::service {

using net::Frame;
using net::FrameKind;

TaService::TaService(asio::io_context& io, protocol::TrustedAuthority& ta, TaServiceConfig config, LogSink log)
    : io_(io),
      ta_(ta),
      config_(config),
      log_(std::move(log)),
      server_(
          io, config.server, log_, [this](std::shared_ptr<net::Channel> c) { return serve(std::move(c)); }, config.tls),
      crl_timer_(io),
      max_in_flight_(config.max_in_flight),
      crl_refresh_ms_(config.crl_refresh.count()) {
  if (!config_.tls) throw std::invalid_argument("TaService: a TLS context is required (spec §13.2)");
  server_.set_metrics(config_.metrics);
  if (config_.trace)
    server_.set_channel_hook([this](net::Channel& link) {
      trace_channel(link, config_.trace, observe::Link::ap_ta, observe::Party::ta, observe::Party::ap);
    });
}

void TaService::start() {
  server_.start();
  if (config_.crl_refresh.count() > 0) asio::co_spawn(io_, crl_loop(), asio::detached);
}

void TaService::stop() {
  asio::post(io_, [this] {
    stopping_ = true;
    crl_timer_.cancel();
  });
  server_.stop();
}

Task<void> TaService::crl_loop() {
  while (!stopping_) {
    crl_timer_.expires_after(Millis(crl_refresh_ms_.load()));
    co_await crl_timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (stopping_) break;
    if (auto crl = ta_.current_crl(); !crl) log_.error("cannot read the CRL: " + crl.error().message());
  }
}

// The hello: the AP certificate the TLS handshake proved, issued by this TA for an AP. Returns
// the AP's ID for the logs.
Task<Result<std::string>> TaService::admit(net::Channel& link) {
  auto hello = co_await link.read(std::min(config_.server.handshake_timeout, link.limits().idle_timeout));
  if (!hello) co_return std::unexpected(hello.error());
  if (hello->kind != FrameKind::hello)
    co_return fail(Errc::net_bad_frame,
                   fmt::format("expected hello, got {} as the first frame", net::frame_kind_name(hello->kind)));
  const Bytes proved = link.peer_certificate();
  if (proved.empty() || proved != hello->payload)  // public certificates: no secret compared
    co_return fail(Errc::net_tls, "the hello's certificate is not the one the TLS handshake proved");
  auto certificate = pki::Certificate::from_der(hello->payload);
  if (!certificate) co_return std::unexpected(certificate.error());
  auto admitted = ta_.register_ap(*certificate, std::chrono::system_clock::now());
  if (!admitted) co_return std::unexpected(admitted.error());
  co_return admitted->hex();
}

bool TaService::receive_and_answer(net::Channel& link, const Frame& frame, std::chrono::system_clock::time_point now,
                                   std::string_view message) {
  const auto start = std::chrono::steady_clock::now();
  const auto out = ta_.receive(frame.stream, frame.payload, now);
  answer(link, frame.stream, out);
  if (config_.metrics)
    config_.metrics->request_served(message,
                                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return out.ok();
}

void TaService::answer(net::Channel& link, std::uint64_t stream, const protocol::Output& out) {
  for (const auto& e : out.events) {
    log_.write(observe::event_log_line(e));
    config_.trace.event(Role::ta, e);
    if (config_.metrics) config_.metrics->on_event(e);
  }
  for (const auto& m : out.messages) link.send(Frame{FrameKind::message, stream, m.bytes});
  if (out.messages.empty() && out.error) link.send(net::error_frame(*out.error, stream));
}

Task<void> TaService::serve(std::shared_ptr<net::Channel> link) {
  auto ap = co_await admit(*link);
  if (!ap) {
    log_.warn(fmt::format("refused link from {}: {}", link->peer(), ap.error().message()));
    if (config_.metrics) config_.metrics->connection_refused(ap.error().code);
    link->send_and_close(net::error_frame(ap.error()));
    co_return;
  }
  log_(fmt::format("AP {} connected from {}", *ap, link->peer()));
  link->send(Frame{FrameKind::welcome, 0, {}});
  server_.mark_verified(link);

  auto in_flight = std::make_shared<std::atomic<std::size_t>>(0);
  Error ended{Errc::ok, ""};
  while (true) {
    auto frame = co_await link->read(link->limits().idle_timeout);
    if (!frame) {
      ended = frame.error();
      break;
    }
    if (frame->kind == FrameKind::ping) continue;
    if (frame->kind == FrameKind::crl_request) {  // the operator's current CRL, from the store (spec §18)
      auto crl = ta_.current_crl();
      if (crl)
        link->send(Frame{FrameKind::crl, 0, std::move(*crl)});
      else
        link->send(net::error_frame(crl.error()));
      continue;
    }
    if (frame->kind != FrameKind::message) {
      ended = {Errc::net_bad_frame, fmt::format("{} frame on an open link", net::frame_kind_name(frame->kind))};
      break;
    }
    const auto type = protocol::peek_type(frame->payload);
    const auto now = std::chrono::system_clock::now();
    if (type && *type == static_cast<std::uint8_t>(wire::MessageType::host_presence)) {
      // In order, see the header; acknowledged so that the AP can send it again after a crash.
      if (receive_and_answer(*link, *frame, now, "host_presence") && frame->stream != 0)
        link->send(Frame{FrameKind::ack, frame->stream, {}});
      continue;
    }
    if (in_flight->load() >= max_in_flight_) {
      link->send(net::error_frame({Errc::net_busy, "too many requests in flight on this link"}, frame->stream));
      continue;
    }
    ++*in_flight;
    asio::post(io_, [this, link, in_flight, frame = std::move(*frame), now] {
      receive_and_answer(*link, frame, now, "key_request");
      --*in_flight;
    });
  }

  // Requests already taken are answered before the link closes.
  asio::steady_timer wait(link->executor());
  while (in_flight->load() > 0) {
    wait.expires_after(std::chrono::milliseconds(5));
    co_await wait.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  if (ended.code == Errc::net_closed) {
    log_(fmt::format("AP {} disconnected", *ap));
    link->close();
  } else {
    log_.warn(fmt::format("closing link to AP {}: {}", *ap, ended.message()));
    link->send_and_close(net::error_frame(ended));
  }
}

void add_store_gauges(observe::Metrics& metrics, store::OperatorStore& store, const pki::Certificate& ta_root) {
  metrics.add_scraped_gauge(
      "dcas_ta_sms", "SMs by pairing state (paper Table 1)", [&store]() -> Result<std::vector<observe::GaugeSample>> {
        DCAS_TRY_ASSIGN(counts, store.count_sms());
        std::vector<observe::GaugeSample> out;
        for (const auto state :
             {protocol::PairingState::virgin, protocol::PairingState::auth_paired, protocol::PairingState::paired_only})
          out.push_back({{{"state", std::string(protocol::pairing_state_name(state))}},
                         static_cast<double>(counts.contains(state) ? counts.at(state) : 0)});
        return out;
      });
  metrics.add_scraped_gauge("dcas_crl_number", "The number of the operator's current CRL (0: none issued)",
                            [&store, &ta_root]() -> Result<std::vector<observe::GaugeSample>> {
                              DCAS_TRY_ASSIGN(der, store.current_crl());
                              if (der.empty()) return std::vector<observe::GaugeSample>{{{}, 0}};
                              DCAS_TRY_ASSIGN(crl, pki::Crl::verified(der, ta_root));
                              return std::vector<observe::GaugeSample>{{{}, static_cast<double>(crl.number())}};
                            });
}

}  // namespace dcas::service
