#include "service/ap_service.h"

#include <fmt/format.h>

#include "observe/journal.h"
#include "service/tracing.h"
#include "wire/message.h"

namespace dcas::service {

using asio::use_awaitable;
using asio::experimental::as_tuple;
using net::Frame;
using net::FrameKind;

namespace {
auto now() { return std::chrono::system_clock::now(); }
}  // namespace

ApService::ApService(asio::io_context& io, protocol::AuthProxy& ap, ApServiceConfig config, LogSink log)
    : io_(io),
      ap_(ap),
      config_(std::move(config)),
      log_(std::move(log)),
      server_(io, config_.server, log_, [this](std::shared_ptr<net::Channel> c) { return serve_host(std::move(c)); }),
      retry_timer_(io),
      expiry_timer_(io),
      ping_timer_(io),
      stop_timer_(io),
      headend_timer_(io),
      crl_timer_(io) {
  server_.set_metrics(config_.metrics);
  if (config_.trace)
    server_.set_channel_hook([this](net::Channel& host) {
      trace_channel(host, config_.trace, observe::Link::host_ap, observe::Party::ap, observe::Party::sm);
    });
}

Result<void> ApService::start() {
  if (!config_.ta_tls || config_.ta_root_der.empty())
    return fail(Errc::invalid_argument, "the AP's TLS context and the TA root are required (spec §13.2)");
  DCAS_TRY(refresh_announcement());
  dispatch(ap_.ta_link_down(now()));  // until the link is up, nothing is relayed
  asio::co_spawn(io_, ta_link_loop(), asio::detached);
  asio::co_spawn(io_, expiry_loop(), asio::detached);
  if (config_.images) asio::co_spawn(io_, headend_loop(), asio::detached);
  server_.start();
  return {};
}

void ApService::stop() {
  asio::post(io_, [this] {
    stopping_ = true;
    server_.stop();
    retry_timer_.cancel();
    expiry_timer_.cancel();
    headend_timer_.cancel();
    crl_timer_.cancel();
    // A TA that never acknowledges the last reports does not keep the AP from exiting. Armed
    // before maybe_finish, which cancels it when there is nothing to wait for (armed after, it
    // kept an idle AP for the whole 7 s).
    stop_timer_.expires_after(config_.server.drain_timeout + Millis(2'000));
    stop_timer_.async_wait([this](asio::error_code ec) {
      if (!ec && ta_) ta_->close();
    });
    maybe_finish();
  });
}

// Once stopping and every host is gone, the TA link closes after the queued reports are written.
void ApService::maybe_finish() {
  if (!stopping_ || !hosts_.empty() || !unacked_.empty()) return;
  stop_timer_.cancel();
  if (ta_) ta_->finish();
}

// The AP-TA legs, which the host cannot see (the demo's timeline shows them from the journal).
void ApService::log_hop(Role from, Role to, ByteView message, const std::optional<SmId>& sm) {
  if (config_.observer.on_hop) config_.observer.on_hop({from, to, 0, Bytes(message.begin(), message.end())}, sm);
}

void ApService::send_to_host(std::uint64_t session, Frame frame) {
  if (auto it = hosts_.find(session); it != hosts_.end()) it->second->send(std::move(frame));
}

void ApService::dispatch(protocol::Output out) {
  for (const auto& e : out.events) {
    log_.write(observe::event_log_line(e));
    if (config_.observer.on_event) config_.observer.on_event(e);
    config_.trace.event(Role::ap, e);
    if (config_.metrics) config_.metrics->on_event(e);
  }
  for (auto& m : out.messages) {
    if (m.to == Role::sm) {
      note_answered(m.session);
      if (m.refusal) {
        send_to_host(m.session, net::error_frame(*m.refusal));
      } else {
        send_to_host(m.session, Frame{FrameKind::message, 0, std::move(m.bytes)});
      }
      continue;
    }
    if (m.must_arrive) {  // a "left" report: acknowledged by the TA, kept until then
      if (ta_)
        send_left(std::move(m.bytes));
      else if (backlog_.size() < config_.max_backlog)
        backlog_.push_back(std::move(m.bytes));
      continue;
    }
    if (!ta_) continue;  // a renewal: the next one replaces it
    if (m.session != 0) log_hop(Role::ap, Role::ta, m.bytes, ap_.session_sm(m.session));
    ta_->send(Frame{FrameKind::message, m.session, std::move(m.bytes)});
  }
  set_gauge("dcas_ap_presence_backlog", static_cast<double>(backlog_.size()));
  rearm();
}

void ApService::note_request(std::uint64_t session, const Bytes& payload) {
  const auto type = protocol::peek_type(payload);
  if (config_.metrics && type &&
      (*type == static_cast<std::uint8_t>(wire::MessageType::key_request_sm) ||
       *type == static_cast<std::uint8_t>(wire::MessageType::key_request_sm_h1)))
    request_started_.emplace(session, std::chrono::steady_clock::now());
}

void ApService::note_answered(std::uint64_t session) {
  const auto it = request_started_.find(session);
  if (it == request_started_.end()) return;
  config_.metrics->request_served("key_request",
                                  std::chrono::duration<double>(std::chrono::steady_clock::now() - it->second).count());
  request_started_.erase(it);
}

// The role's next deadline for the expiry loop (a changed expiry wakes the loop, which waits again).
void ApService::rearm() {
  if (stopping_) return;
  const auto wait = ap_.next_expiry() - std::chrono::system_clock::now();
  expiry_timer_.expires_after(std::max(std::chrono::duration_cast<Millis>(wait), Millis(0)));
}

Task<void> ApService::expiry_loop() {
  rearm();
  while (!stopping_) {
    auto [ec] = co_await expiry_timer_.async_wait(as_tuple(use_awaitable));
    if (stopping_) break;
    if (ec) continue;  // re-armed: wait for the new deadline
    dispatch(ap_.on_timeout(now()));
  }
}

Task<void> ApService::serve_host(std::shared_ptr<net::Channel> host) {
  const std::uint64_t session = next_session_++;
  // The current image version for every new host (a publication is announced to connected hosts
  // by the headend loop).
  if (auto r = refresh_announcement(); !r) log_.error("cannot read the headend's image: " + r.error().message());
  hosts_[session] = host;
  host->send(Frame{FrameKind::message, 0, announce_});
  Error ended{Errc::ok, ""};
  bool verified = false;
  while (true) {
    // Until its SM's signed request is checked, a host has the first frame's time, not the idle
    // time (and one of the server's unverified slots, ServerLimits::max_unverified).
    auto frame =
        co_await host->read(verified ? host->limits().idle_timeout
                                     : std::min(config_.server.handshake_timeout, host->limits().idle_timeout));
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
    if (!verified && ap_.session_sm(session)) {
      server_.mark_verified(host);
      verified = true;
    }
  }
  if (ended.code == Errc::net_closed)
    host->close();
  else
    host->send_and_close(net::error_frame(ended));

  const auto sm = ap_.session_sm(session);
  log_(fmt::format("host {} gone{}: {}", host->peer(), sm ? " (SM " + sm->hex() + ")" : "", ended.message()));
  hosts_.erase(session);
  request_started_.erase(session);
  dispatch(ap_.close_session(session, now()));
  maybe_finish();
}

// Signs a new SecurityAnnounce when the headend's image version changed.
Result<void> ApService::refresh_announcement() {
  std::uint64_t version = 0;
  if (config_.images) {
    DCAS_TRY_ASSIGN(current, config_.images->current_version());
    version = current;
  }
  if (!announce_.empty() && version == announced_version_) return {};
  const bool changed = !announce_.empty();
  if (changed) log_(fmt::format("image version {} published: announcing it to {} host(s)", version, hosts_.size()));
  return sign_announcement(version, changed);
}

Result<void> ApService::sign_announcement(std::uint64_t version, bool broadcast) {
  DCAS_TRY_ASSIGN(announce, ap_.security_announce(config_.network_id, version));
  announce_ = std::move(announce);
  announced_version_ = version;
  set_gauge("dcas_ap_image_version", static_cast<double>(version));
  if (broadcast)
    for (auto& [session, host] : hosts_) host->send(Frame{FrameKind::message, 0, announce_});
  return {};
}

// A newer CRL from the TA goes out at once in a new announcement: revoked devices are cut off
// within one CRL refresh of the revocation (spec §18).
void ApService::on_crl(const Bytes& der) {
  if (der.empty()) return;  // none issued yet
  const auto before = ap_.crl_number();
  auto out = ap_.update_crl(der, now());
  if (out.error) log_.warn(fmt::format("refused the TA's CRL: {}", out.error->message()));
  const bool adopted = ap_.crl_number() != before;
  dispatch(std::move(out));
  if (!adopted) return;
  log_(fmt::format("CRL {}: announcing it to {} host(s)", *ap_.crl_number(), hosts_.size()));
  if (auto r = sign_announcement(announced_version_, true); !r)
    log_.error("cannot sign the announcement: " + r.error().message());
}

void ApService::set_presence_interval(Millis interval) {
  ap_.set_presence_interval(interval, std::chrono::system_clock::now());
  rearm();
}

Task<void> ApService::crl_loop(std::shared_ptr<net::Channel> link) {
  while (ta_ == link && !stopping_) {
    link->send(Frame{FrameKind::crl_request, 0, {}});
    crl_timer_.expires_after(config_.crl_refresh);
    co_await crl_timer_.async_wait(as_tuple(use_awaitable));
  }
}

void ApService::send_download_orders() {
  auto orders = config_.images->take_download_orders();
  if (!orders) return log_.error("cannot read download orders: " + orders.error().message());
  for (const auto& target : *orders) {
    std::size_t sent = 0;
    for (auto& [session, host] : hosts_) {
      const auto sm = ap_.session_sm(session);
      if (!sm || (target && *target != *sm)) continue;
      auto download = ap_.dcas_download(config_.network_id, announced_version_, *sm);
      if (!download) return log_.error("cannot sign DCASDownload: " + download.error().message());
      host->send(Frame{FrameKind::message, 0, std::move(*download)});
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
    if (auto r = refresh_announcement(); !r) log_.error("cannot read the headend's image: " + r.error().message());
    send_download_orders();
  }
}

// Download: the grant (after the TA's validation on this connection), then the personalized image.
void ApService::on_image_key_request(std::uint64_t session, const Bytes& payload) {
  auto outcome = [&]() -> Result<std::pair<SmId, std::uint64_t>> {
    if (!config_.images || announced_version_ == 0)
      return fail(Errc::image_unavailable, "no CA client image is published on this network");
    const std::uint64_t version = announced_version_;
    DCAS_TRY_ASSIGN(grant, ap_.grant_image_key(session, payload, version));
    DCAS_TRY_ASSIGN(image, config_.images->personalize(grant.sm, version, view(grant.image_key)));
    send_to_host(session, Frame{FrameKind::message, 0, std::move(grant.message)});
    send_to_host(session, Frame{FrameKind::message, 0, std::move(image)});
    return std::pair{grant.sm, version};
  }();
  if (!outcome) {
    log_.warn(fmt::format("image download refused: {}", outcome.error().message()));
    send_to_host(session, net::error_frame(outcome.error()));
    return;
  }
  const protocol::Event granted = protocol::events::ImageKeyGranted{outcome->first, outcome->second};
  log_.write(observe::event_log_line(granted));
  if (config_.observer.on_event) config_.observer.on_event(granted);
  config_.trace.event(Role::ap, granted);
  if (config_.metrics) config_.metrics->on_event(granted);
}

void ApService::on_host_message(std::uint64_t session, const Bytes& payload) {
  if (auto type = protocol::peek_type(payload);
      type && *type == static_cast<std::uint8_t>(wire::MessageType::image_key_request))
    return on_image_key_request(session, payload);
  if (stopping_) {
    send_to_host(session, net::error_frame({Errc::net_shutting_down, "the AP is stopping"}));
    return;
  }
  note_request(session, payload);
  dispatch(ap_.receive_from_sm(session, payload, now()));
}

void ApService::on_ta_frame(const Frame& frame) {
  if (frame.kind == FrameKind::ping) return;
  if (frame.kind == FrameKind::crl) return on_crl(frame.payload);
  if (auto report = unacked_.find(frame.stream); report != unacked_.end()) {
    Bytes kept = std::move(report->second);
    unacked_.erase(report);
    if (frame.kind != FrameKind::ack) {
      const auto why = net::parse_error_payload(frame.payload).value_or(Error{});
      if (why.code == Errc::store_unavailable && !stopping_) return resend_later(std::move(kept), why);
      log_.warn(fmt::format("TA refused a presence report: {}", why.message()));
    }
    maybe_finish();
    return;
  }
  protocol::Output out;
  if (frame.kind == FrameKind::error) {  // refused before any transition: nothing to report later
    auto error = net::parse_error_payload(frame.payload).value_or(Error{Errc::net_bad_frame, "bad error frame"});
    const auto sm = ap_.session_sm(frame.stream);
    log_.warn(fmt::format("TA refused the request of SM {} (stream {}): {}", sm ? sm->hex() : "?", frame.stream,
                          error.message()));
    out = ap_.ta_refused(frame.stream, error);
  } else if (frame.kind == FrameKind::message) {
    log_hop(Role::ta, Role::ap, frame.payload, ap_.session_sm(frame.stream));
    out = ap_.receive_from_ta(frame.stream, frame.payload, now());
  } else {
    out.error = Error{Errc::net_bad_frame, fmt::format("{} frame from the TA", net::frame_kind_name(frame.kind))};
  }
  if (out.error && out.messages.empty())
    log_.warn(fmt::format("dropped a late or unsolicited frame from the TA (stream {}): {}", frame.stream,
                          out.error->message()));
  dispatch(std::move(out));
}

void ApService::send_left(Bytes report) {
  const std::uint64_t stream = next_report_stream_++;
  ta_->send(Frame{FrameKind::message, stream, report});
  unacked_.emplace(stream, std::move(report));
}

// A host's leaving that the TA could not record (its database was away): lost, it would leave the
// SM present at the TA until the lease lapses, and the box's next boot would be refused as active
// elsewhere. Sent again after the reconnect delay, signed anew (§13.5), or queued if the link is down.
void ApService::resend_later(Bytes report, const Error& why) {
  log_.warn(fmt::format("the TA could not record a presence report ({}); sending it again in {} ms", why.message(),
                        config_.reconnect_delay.count()));
  auto timer = std::make_shared<asio::steady_timer>(io_, config_.reconnect_delay);
  timer->async_wait([this, timer, report = std::move(report)](asio::error_code) mutable {
    if (stopping_) return;  // as a refused report on the way out: lost with the process
    if (!ta_) {
      backlog_.push_back(std::move(report));
      set_gauge("dcas_ap_presence_backlog", static_cast<double>(backlog_.size()));
      return;
    }
    auto renewed = ap_.renew_report(report, now());
    if (renewed)
      send_left(std::move(*renewed));
    else
      log_.warn(fmt::format("dropping a presence report: {}", renewed.error().message()));
  });
}

Task<void> ApService::ping_loop(std::shared_ptr<net::Channel> link) {
  while (ta_ == link) {
    ping_timer_.expires_after(link->limits().idle_timeout / 3);
    co_await ping_timer_.async_wait(as_tuple(use_awaitable));
    if (ta_ == link) link->send(Frame{FrameKind::ping, 0, {}});
  }
}

// Mutual TLS to the TA (spec §13.2), which must show the TA root itself. Errors: as
// net::connect_tls; net_tls (the TA presented another certificate).
Task<Result<std::shared_ptr<net::Channel>>> ApService::connect_to_ta() {
  auto link = co_await net::connect_tls(config_.tas.at(ta_index_), *config_.ta_tls, config_.server.link,
                                        config_.server.handshake_timeout);
  if (!link) co_return link;
  trace_channel(**link, config_.trace, observe::Link::ap_ta, observe::Party::ap, observe::Party::ta);
  if ((*link)->peer_certificate() != config_.ta_root_der) {
    (*link)->close();
    co_return fail(Errc::net_tls, "the TA presented a certificate other than the TA root");
  }
  co_return link;
}

Task<void> ApService::ta_link_loop() {
  bool reported_down = false;
  std::size_t failures = 0;  // since the last welcome: each TA is tried once before a pause
  while (!stopping_) {
    const net::HostPort ta = config_.tas.at(ta_index_);
    auto link = co_await connect_to_ta();
    Error why{Errc::ok, ""};
    if (link) {
      (*link)->send(Frame{FrameKind::hello, 0, ap_.certificate_der()});
      auto welcome = co_await (*link)->read(config_.server.handshake_timeout);
      if (welcome && welcome->kind == FrameKind::welcome) {
        ta_ = *link;
        ap_.ta_link_up();
        set_gauge("dcas_ap_ta_link_up", 1);
        reported_down = false;
        failures = 0;
        log_(fmt::format("connected to the TA at {}:{}", ta.host, ta.port));
        if (!backlog_.empty()) log_(fmt::format("sending {} queued presence report(s)", backlog_.size()));
        // Kept reports are signed again: the TA takes each AP time once, within its window (§13.5).
        for (auto& report : backlog_) {
          auto renewed = ap_.renew_report(report, now());
          if (renewed)
            send_left(std::move(*renewed));
          else
            log_.warn(fmt::format("dropping a queued presence report: {}", renewed.error().message()));
        }
        backlog_.clear();
        set_gauge("dcas_ap_presence_backlog", 0);
        asio::co_spawn(io_, ping_loop(ta_), asio::detached);
        asio::co_spawn(io_, crl_loop(ta_), asio::detached);
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
        set_gauge("dcas_ap_ta_link_up", 0);
        ping_timer_.cancel();
        crl_timer_.cancel();
        // Reports the TA may not have recorded go first when the link is back.
        std::deque<Bytes> resend;
        for (auto& [stream, report] : unacked_) resend.push_back(std::move(report));
        unacked_.clear();
        backlog_.insert(backlog_.begin(), std::make_move_iterator(resend.begin()),
                        std::make_move_iterator(resend.end()));
        dispatch(ap_.ta_link_down(now()));
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
    ta_index_ = (ta_index_ + 1) % config_.tas.size();
    if (++failures % config_.tas.size() != 0) {  // fail over to the next TA at once
      log_.warn(fmt::format("TA at {}:{} unavailable ({}); trying the TA at {}:{}", ta.host, ta.port, why.message(),
                            config_.tas[ta_index_].host, config_.tas[ta_index_].port));
      continue;
    }
    if (!reported_down)
      log_.warn(fmt::format("TA link down ({}); retrying every {} ms", why.message(), config_.reconnect_delay.count()));
    reported_down = true;
    retry_timer_.expires_after(config_.reconnect_delay);
    co_await retry_timer_.async_wait(as_tuple(use_awaitable));
  }
}

}  // namespace dcas::service
