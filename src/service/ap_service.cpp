#include "service/ap_service.h"

#include <fmt/format.h>

#include "wire/message.h"

namespace dcas::service {

using asio::use_awaitable;
using asio::experimental::as_tuple;
using net::Frame;
using net::FrameKind;

namespace {
auto now() { return std::chrono::system_clock::now(); }
bool has_event(const protocol::Output& out, std::string_view what) {
  for (const auto& e : out.events)
    if (e.what == what) return true;
  return false;
}
}  // namespace

ApService::ApService(asio::io_context& io, protocol::AuthProxy& ap, ApServiceConfig config, LogSink log)
    : io_(io),
      ap_(ap),
      config_(std::move(config)),
      log_(std::move(log)),
      server_(io, config_.server, log_, [this](std::shared_ptr<net::Channel> c) { return serve_host(std::move(c)); }),
      retry_timer_(io),
      presence_timer_(io),
      ping_timer_(io),
      stop_timer_(io),
      headend_timer_(io) {}

Result<void> ApService::start() {
  DCAS_TRY(refresh_announcement());
  asio::co_spawn(io_, ta_link_loop(), asio::detached);
  asio::co_spawn(io_, presence_loop(), asio::detached);
  if (config_.images) asio::co_spawn(io_, headend_loop(), asio::detached);
  server_.start();
  return {};
}

void ApService::stop() {
  asio::post(io_, [this] {
    stopping_ = true;
    server_.stop();
    retry_timer_.cancel();
    presence_timer_.cancel();
    headend_timer_.cancel();
    maybe_finish();
    // A TA that never acknowledges the last reports does not keep the AP from exiting.
    stop_timer_.expires_after(config_.server.drain_timeout + Millis(2'000));
    stop_timer_.async_wait([this](asio::error_code ec) {
      if (!ec && ta_) ta_->close();
    });
  });
}

// Once stopping and every host is gone, the TA link closes after the queued reports are written.
void ApService::maybe_finish() {
  if (!stopping_ || !sessions_.empty() || !unacked_.empty()) return;
  stop_timer_.cancel();
  if (ta_) ta_->finish();
}

// "hop AP -> TA  KeyRequest (AP->TA), 600 bytes, SM ..." lines: what the demo's timeline shows of
// the AP-TA legs the host cannot see.
void ApService::log_hop(std::string_view route, ByteView message, const std::optional<SmId>& sm) {
  auto header = wire::decode_header(message);
  log_(fmt::format("hop {}  {}, {} bytes, SM {}", route,
                   header ? wire::type_name(static_cast<wire::MessageType>(header->type)) : "(undecodable)",
                   message.size(), sm ? sm->hex() : "?"));
}

void ApService::log_events(const protocol::Output& out) {
  for (const auto& e : out.events) log_(fmt::format("{} {}", e.what, e.detail));
}

Task<void> ApService::serve_host(std::shared_ptr<net::Channel> host) {
  const std::uint64_t session = next_session_++;
  // The current image version for every new host (a publication is announced to connected hosts
  // by the headend loop).
  if (auto r = refresh_announcement(); !r) log_("cannot read the headend's image: " + r.error().message());
  sessions_[session].host = host;
  host->send(Frame{FrameKind::message, 0, announce_});
  Error ended{Errc::ok, ""};
  while (true) {
    auto frame = co_await host->read(host->limits().idle_timeout);
    if (!frame) {
      ended = frame.error();
      break;
    }
    if (frame->kind == FrameKind::ping) continue;
    if (frame->kind != FrameKind::message) {
      ended = {Errc::net_bad_frame, fmt::format("{} frame from a host", net::frame_kind_name(frame->kind))};
      break;
    }
    on_host_message(session, frame->payload);
  }
  if (ended.code == Errc::net_closed)
    host->close();
  else
    host->send_and_close(net::error_frame(ended));

  Session& s = sessions_.at(session);
  if (s.answer_timer) s.answer_timer->cancel();
  if (s.awaiting) s.may_be_bound = true;  // the TA's answer is still out: it may have validated the SM
  if (s.sm && s.may_be_bound) report_presence(*s.sm, false);
  log_(fmt::format("host {} gone{}: {}", host->peer(), s.sm ? " (SM " + s.sm->hex() + ")" : "", ended.message()));
  ap_.drop_session(session);
  sessions_.erase(session);
  maybe_finish();
}

// Signs a new SecurityAnnounce when the headend's image version changed; true if it did.
Result<void> ApService::refresh_announcement() {
  std::uint64_t version = 0;
  if (config_.images) {
    DCAS_TRY_ASSIGN(current, config_.images->current_version());
    version = current;
  }
  if (!announce_.empty() && version == announced_version_) return {};
  DCAS_TRY_ASSIGN(announce, ap_.security_announce(config_.network_id, version));
  const bool changed = !announce_.empty();
  announce_ = std::move(announce);
  announced_version_ = version;
  if (changed) {
    log_(fmt::format("image version {} published: announcing it to {} host(s)", version, sessions_.size()));
    for (auto& [session, s] : sessions_) s.host->send(Frame{FrameKind::message, 0, announce_});
  }
  return {};
}

void ApService::send_download_orders() {
  auto orders = config_.images->take_download_orders();
  if (!orders) return log_("cannot read download orders: " + orders.error().message());
  for (const auto& target : *orders) {
    std::size_t sent = 0;
    for (auto& [session, s] : sessions_) {
      if (!s.sm || (target && *target != *s.sm)) continue;
      auto download = ap_.dcas_download(config_.network_id, announced_version_, *s.sm);
      if (!download) return log_("cannot sign DCASDownload: " + download.error().message());
      s.host->send(Frame{FrameKind::message, 0, std::move(*download)});
      ++sent;
    }
    log_(fmt::format("DCASDownload (version {}) for {}: sent to {} connected host(s)", announced_version_,
                     target ? "SM " + target->hex() : std::string("every SM"), sent));
  }
}

Task<void> ApService::headend_loop() {
  while (!stopping_) {
    headend_timer_.expires_after(config_.headend_poll);
    auto [ec] = co_await headend_timer_.async_wait(as_tuple(use_awaitable));
    if (ec || stopping_) break;
    if (auto r = refresh_announcement(); !r) log_("cannot read the headend's image: " + r.error().message());
    send_download_orders();
  }
}

// Download: the grant (after the TA's validation on this connection), then the personalized image.
void ApService::on_image_key_request(Session& s, std::uint64_t session, const Bytes& payload) {
  auto outcome = [&]() -> Result<std::pair<SmId, std::uint64_t>> {
    if (!config_.images || announced_version_ == 0)
      return fail(Errc::image_unavailable, "no CA client image is published on this network");
    const std::uint64_t version = announced_version_;
    DCAS_TRY_ASSIGN(grant, ap_.grant_image_key(session, payload, version));
    DCAS_TRY_ASSIGN(image, config_.images->personalize(grant.sm, version, view(grant.image_key)));
    s.host->send(Frame{FrameKind::message, 0, std::move(grant.message)});
    s.host->send(Frame{FrameKind::message, 0, std::move(image)});
    return std::pair{grant.sm, version};
  }();
  if (!outcome) {
    log_(fmt::format("image download refused: {}", outcome.error().message()));
    s.host->send(net::error_frame(outcome.error()));
    return;
  }
  log_(fmt::format("image_delivered version {} to SM {}", outcome->second, outcome->first.hex()));
}

void ApService::on_host_message(std::uint64_t session, const Bytes& payload) {
  Session& s = sessions_.at(session);
  if (auto type = protocol::peek_type(payload);
      type && *type == static_cast<std::uint8_t>(wire::MessageType::image_key_request)) {
    return on_image_key_request(s, session, payload);
  }
  if (s.awaiting) {
    s.host->send(net::error_frame({Errc::unexpected_message, "a KeyRequest of this host is already at the TA"}));
    return;
  }
  auto out = ap_.receive_from_sm(session, payload, now());
  log_events(out);
  if (out.messages.empty()) {
    if (out.error) s.host->send(net::error_frame(*out.error));
    return;
  }
  if (!ta_ || stopping_) {
    ap_.drop_session(session);
    s.host->send(net::error_frame(stopping_ ? Error{Errc::net_shutting_down, "the AP is stopping"}
                                            : Error{Errc::net_unavailable, "the TA is not reachable"}));
    return;
  }
  // The SM runs the protocol again on the connection where the TA validated it (DCASDownload, or a
  // restart): the box proved itself here, so its presence ends before the new request (spec §9.3).
  if (s.paired && s.sm) {
    report_presence(*s.sm, false);
    s.paired = false;
  }
  s.sm = ap_.pending_sm(session);
  s.awaiting = true;
  for (auto& m : out.messages) {
    log_hop("AP -> TA", m.bytes, s.sm);
    ta_->send(Frame{FrameKind::message, session, std::move(m.bytes)});
  }
  s.answer_timer = std::make_shared<asio::steady_timer>(io_, config_.answer_timeout);
  asio::co_spawn(io_, answer_deadline(session, s.answer_timer), asio::detached);
}

Task<void> ApService::answer_deadline(std::uint64_t session, std::shared_ptr<asio::steady_timer> timer) {
  auto [ec] = co_await timer->async_wait(as_tuple(use_awaitable));
  if (ec) co_return;  // answered, or the host left
  auto it = sessions_.find(session);
  if (it == sessions_.end() || !it->second.awaiting) co_return;
  end_wait(it->second, session);
  it->second.may_be_bound = true;
  it->second.host->send(net::error_frame({Errc::net_timeout, "no answer from the TA in time"}));
}

void ApService::end_wait(Session& s, std::uint64_t session) {
  s.awaiting = false;
  if (s.answer_timer) s.answer_timer->cancel();
  ap_.drop_session(session);
}

void ApService::fail_awaiting(const Error& why) {
  for (auto& [session, s] : sessions_) {
    if (!s.awaiting) continue;
    end_wait(s, session);
    s.may_be_bound = true;
    s.host->send(net::error_frame(why));
  }
}

void ApService::on_ta_frame(const Frame& frame) {
  if (frame.kind == FrameKind::ping) return;
  if (auto report = unacked_.find(frame.stream); report != unacked_.end()) {
    if (frame.kind != FrameKind::ack)
      log_(fmt::format("TA refused a presence report: {}",
                       net::parse_error_payload(frame.payload).value_or(Error{}).message()));
    unacked_.erase(report);
    maybe_finish();
    return;
  }
  auto it = sessions_.find(frame.stream);
  if (frame.stream == 0 || it == sessions_.end() || !it->second.awaiting) {
    if (frame.kind == FrameKind::error)
      log_(fmt::format("TA error on stream {}: {}", frame.stream,
                       net::parse_error_payload(frame.payload).value_or(Error{}).message()));
    else
      log_(fmt::format("dropped a late or unsolicited {} from the TA (stream {})", net::frame_kind_name(frame.kind),
                       frame.stream));
    return;
  }
  Session& s = it->second;
  s.awaiting = false;
  if (s.answer_timer) s.answer_timer->cancel();
  if (frame.kind == FrameKind::error) {  // refused before any transition: nothing to report later
    auto error = net::parse_error_payload(frame.payload).value_or(Error{Errc::net_bad_frame, "bad error frame"});
    log_(fmt::format("TA refused the request of SM {}: {}", s.sm ? s.sm->hex() : "?", error.message()));
    ap_.drop_session(frame.stream);
    s.host->send(net::error_frame(error));
    return;
  }
  log_hop("TA -> AP", frame.payload, s.sm);
  auto out = ap_.receive_from_ta(frame.stream, frame.payload, now());
  log_events(out);
  // Once the TA validated the SM on this connection, its leaving is reported, whatever a later
  // request on the same connection gets.
  if (has_event(out, "key_response_relayed")) s.paired = s.may_be_bound = true;
  for (auto& m : out.messages) s.host->send(Frame{FrameKind::message, 0, std::move(m.bytes)});
  if (out.messages.empty() && out.error) s.host->send(net::error_frame(*out.error));
}

void ApService::report_presence(const SmId& sm, bool present) {
  auto report = ap_.host_presence(sm, present);
  if (!report) return log_("cannot sign a presence report: " + report.error().message());
  if (present) {  // renewals are periodic: one lost is replaced by the next
    if (ta_) ta_->send(Frame{FrameKind::message, 0, std::move(*report)});
    return;
  }
  if (!ta_) {
    if (backlog_.size() < config_.max_backlog) backlog_.push_back(std::move(*report));
    return;
  }
  send_left(std::move(*report));
}

void ApService::send_left(Bytes report) {
  const std::uint64_t stream = next_report_stream_++;
  ta_->send(Frame{FrameKind::message, stream, report});
  unacked_.emplace(stream, std::move(report));
}

Task<void> ApService::presence_loop() {
  while (!stopping_) {
    presence_timer_.expires_after(config_.presence_interval);
    auto [ec] = co_await presence_timer_.async_wait(as_tuple(use_awaitable));
    if (ec || stopping_) break;
    for (const auto& [session, s] : sessions_)
      if (s.paired && s.sm) report_presence(*s.sm, true);
  }
}

Task<void> ApService::ping_loop(std::shared_ptr<net::Channel> link) {
  while (ta_ == link) {
    ping_timer_.expires_after(link->limits().idle_timeout / 3);
    co_await ping_timer_.async_wait(as_tuple(use_awaitable));
    if (ta_ == link) link->send(Frame{FrameKind::ping, 0, {}});
  }
}

Task<void> ApService::ta_link_loop() {
  bool reported_down = false;
  while (!stopping_) {
    auto link = co_await net::connect(config_.ta, config_.server.link, config_.server.handshake_timeout);
    Error why{Errc::ok, ""};
    if (link) {
      (*link)->send(Frame{FrameKind::hello, 0, ap_.certificate_der()});
      auto welcome = co_await (*link)->read(config_.server.handshake_timeout);
      if (welcome && welcome->kind == FrameKind::welcome) {
        ta_ = *link;
        reported_down = false;
        log_(fmt::format("connected to the TA at {}:{}", config_.ta.host, config_.ta.port));
        if (!backlog_.empty()) log_(fmt::format("sending {} queued presence report(s)", backlog_.size()));
        for (auto& report : backlog_) send_left(std::move(report));
        backlog_.clear();
        asio::co_spawn(io_, ping_loop(ta_), asio::detached);
        while (true) {
          // The TA may stay silent for long: a dead TA shows as a closed link, keep-alive or an
          // answer timeout, not as an idle link.
          auto frame = co_await ta_->read(Millis(24 * 3600 * 1000));
          if (!frame) {
            why = frame.error();
            break;
          }
          on_ta_frame(*frame);
        }
        ta_->close();
        ta_.reset();
        ping_timer_.cancel();
        // Reports the TA may not have recorded go first when the link is back.
        std::deque<Bytes> resend;
        for (auto& [stream, report] : unacked_) resend.push_back(std::move(report));
        unacked_.clear();
        backlog_.insert(backlog_.begin(), std::make_move_iterator(resend.begin()),
                        std::make_move_iterator(resend.end()));
        fail_awaiting({Errc::net_unavailable, "lost the link to the TA"});
      } else if (welcome && welcome->kind == FrameKind::error) {
        why = net::parse_error_payload(welcome->payload).value_or(Error{Errc::net_bad_frame, ""});
        (*link)->close();
      } else {
        why = welcome ? Error{Errc::net_bad_frame, "the TA did not welcome the AP"} : welcome.error();
        (*link)->close();
      }
    } else {
      why = link.error();
    }
    if (stopping_) break;
    if (!reported_down)
      log_(fmt::format("TA link down ({}); retrying every {} ms", why.message(), config_.reconnect_delay.count()));
    reported_down = true;
    retry_timer_.expires_after(config_.reconnect_delay);
    co_await retry_timer_.async_wait(as_tuple(use_awaitable));
  }
}

}  // namespace dcas::service
