#include "net/channel.h"

#include <fmt/format.h>
#include <openssl/err.h>

#include <asio/experimental/awaitable_operators.hpp>

namespace dcas::net {

using namespace asio::experimental::awaitable_operators;
using asio::use_awaitable;
using asio::experimental::as_tuple;

std::string endpoint_text(const tcp::socket& s) {
  asio::error_code ec;
  const auto ep = s.remote_endpoint(ec);
  return ec ? "unknown peer" : fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

tcp::socket& Channel::socket() {
  return std::visit(
      [](auto& s) -> tcp::socket& {
        if constexpr (std::is_same_v<std::decay_t<decltype(s)>, tcp::socket>)
          return s;
        else
          return s.next_layer();
      },
      stream_);
}
const tcp::socket& Channel::socket() const { return const_cast<Channel*>(this)->socket(); }

tcp::endpoint Channel::local_endpoint() const {
  asio::error_code ec;
  return socket().local_endpoint(ec);
}
tcp::endpoint Channel::remote_endpoint() const {
  asio::error_code ec;
  return socket().remote_endpoint(ec);
}

Channel::Channel(Stream stream, Limits limits)
    : stream_(std::move(stream)),
      limits_(limits),
      read_timer_(socket().get_executor()),
      write_timer_(socket().get_executor()),
      outbox_signal_(socket().get_executor()),
      peer_(endpoint_text(socket())) {}

std::shared_ptr<Channel> Channel::started(Stream stream, Limits limits) {
  auto channel = std::make_shared<Channel>(std::move(stream), limits);
  asio::co_spawn(channel->executor(), channel->write_loop(), asio::detached);
  return channel;
}

namespace {
void tune(tcp::socket& socket) {
  asio::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  socket.set_option(asio::socket_base::keep_alive(true), ec);  // a vanished peer is noticed
}
}  // namespace

std::shared_ptr<Channel> Channel::start(tcp::socket socket, Limits limits) {
  tune(socket);
  return started(Stream(std::move(socket)), limits);
}

std::shared_ptr<Channel> Channel::start(TlsStream stream, Limits limits) {
  tune(stream.next_layer());
  return started(Stream(std::move(stream)), limits);
}

Bytes Channel::peer_certificate() const {
  const auto* tls = std::get_if<TlsStream>(&stream_);
  if (!tls) return {};
  X509* cert = SSL_get0_peer_certificate(const_cast<TlsStream*>(tls)->native_handle());
  if (!cert) return {};
  const int n = i2d_X509(cert, nullptr);
  if (n <= 0) return {};
  Bytes der(static_cast<std::size_t>(n));
  unsigned char* p = der.data();
  i2d_X509(cert, &p);
  return der;
}

namespace {
// The peer's TLS alert "certificate expired": it refused this side's certificate (in TLS 1.3 a
// client learns it on its first read, after its own handshake completed).
std::optional<Error> refused_as_expired(const asio::error_code& ec) {
  if (ec.category() == asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED)
    return Error{Errc::cert_expired, "the peer refused this side's certificate: expired"};
  return std::nullopt;
}
}  // namespace

Task<Result<void>> Channel::read_exact(std::span<std::uint8_t> buffer, Millis timeout) {
  read_timer_.expires_after(timeout);
  auto read = std::visit(
      [&](auto& s) { return asio::async_read(s, asio::buffer(buffer.data(), buffer.size()), as_tuple(use_awaitable)); },
      stream_);
  auto r = co_await (std::move(read) || read_timer_.async_wait(as_tuple(use_awaitable)));
  if (r.index() == 1) {
    if (interrupted_) co_return fail(Errc::net_shutting_down, "the server is stopping");
    co_return fail(Errc::net_timeout, fmt::format("no data from {} within {} ms", peer_, timeout.count()));
  }
  const auto [ec, n] = std::get<0>(r);
  if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::ssl::error::stream_truncated)
    co_return fail(Errc::net_closed, fmt::format("{} closed the connection", peer_));
  if (auto refused = refused_as_expired(ec)) co_return std::unexpected(*refused);
  if (ec) co_return fail(Errc::net_io, fmt::format("reading from {}: {}", peer_, ec.message()));
  co_return Result<void>{};
}

Task<Result<Frame>> Channel::read(Millis wait) {
  auto self = shared_from_this();
  if (interrupted_) co_return fail(Errc::net_shutting_down, "the server is stopping");
  std::array<std::uint8_t, frame_header_size> header{};
  waiting_for_header_ = true;
  auto got = co_await read_exact(header, wait);
  waiting_for_header_ = false;
  if (!got) co_return std::unexpected(got.error());
  auto parsed = parse_frame_header(header, limits_.max_payload);
  if (!parsed) co_return std::unexpected(parsed.error());
  Frame frame{parsed->kind, parsed->stream, Bytes(parsed->payload_size)};
  if (!frame.payload.empty()) {
    got = co_await read_exact(frame.payload, limits_.io_timeout);
    if (!got) co_return std::unexpected(got.error());
  }
  if (tap_) tap_(false, encode_frame(frame));
  co_return frame;
}

void Channel::send(Frame frame) {
  asio::post(socket().get_executor(), [self = shared_from_this(), bytes = encode_frame(frame)]() mutable {
    if (self->closed_ || self->close_after_flush_) return;
    if (self->tap_) self->tap_(true, bytes);
    self->outbox_.push_back(std::move(bytes));
    self->outbox_signal_.cancel();
  });
}

void Channel::send_and_close(Frame frame) {
  asio::post(socket().get_executor(), [self = shared_from_this(), bytes = encode_frame(frame)]() mutable {
    if (self->closed_ || self->close_after_flush_) return;
    if (self->tap_) self->tap_(true, bytes);
    self->outbox_.push_back(std::move(bytes));
    self->close_after_flush_ = true;
    self->outbox_signal_.cancel();
  });
}

void Channel::finish() {
  asio::post(socket().get_executor(), [self = shared_from_this()] {
    self->close_after_flush_ = true;
    self->outbox_signal_.cancel();
  });
}

void Channel::close() {
  asio::post(socket().get_executor(), [self = shared_from_this()] { self->close_now(); });
}

void Channel::interrupt() {
  interrupted_ = true;
  asio::post(socket().get_executor(), [self = shared_from_this()] {
    if (self->waiting_for_header_) self->read_timer_.cancel();
  });
}

void Channel::close_now() {
  if (closed_) return;
  closed_ = true;
  asio::error_code ec;
  socket().shutdown(tcp::socket::shutdown_both, ec);
  socket().close(ec);
  read_timer_.cancel();
  write_timer_.cancel();
  outbox_signal_.cancel();
  outbox_.clear();
}

Task<void> Channel::write_loop() {
  auto self = shared_from_this();
  while (!closed_) {
    if (outbox_.empty()) {
      if (close_after_flush_) break;
      outbox_signal_.expires_at(asio::steady_timer::time_point::max());
      co_await outbox_signal_.async_wait(as_tuple(use_awaitable));
      continue;
    }
    Bytes next = std::move(outbox_.front());
    outbox_.pop_front();
    write_timer_.expires_after(limits_.io_timeout);
    auto write =
        std::visit([&](auto& s) { return asio::async_write(s, asio::buffer(next), as_tuple(use_awaitable)); }, stream_);
    auto r = co_await (std::move(write) || write_timer_.async_wait(as_tuple(use_awaitable)));
    if (r.index() == 1 || std::get<0>(std::get<0>(r))) break;  // timed out or failed: the link is unusable
  }
  close_now();
}

Result<HostPort> parse_host_port(std::string_view text) {
  std::string host, port;
  if (text.starts_with('[')) {
    const auto end = text.find("]:");
    if (end == std::string_view::npos) return fail(Errc::invalid_argument, "expected [v6-address]:port");
    host = std::string(text.substr(1, end - 1));
    port = std::string(text.substr(end + 2));
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail(Errc::invalid_argument, "expected host:port");
    host = std::string(text.substr(0, colon));
    port = std::string(text.substr(colon + 1));
  }
  if (host.empty() || port.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
      std::stoul(port) > 65535)
    return fail(Errc::invalid_argument, fmt::format("'{}' is not host:port", text));
  return HostPort{host, port};
}

namespace {
Task<Result<tcp::socket>> connect_socket(const HostPort& to, Millis timeout) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  auto [rec, endpoints] = co_await resolver.async_resolve(to.host, to.port, as_tuple(use_awaitable));
  if (rec) co_return fail(Errc::net_unavailable, fmt::format("cannot resolve {}: {}", to.host, rec.message()));
  tcp::socket socket(executor);
  asio::steady_timer timer(executor, timeout);
  auto r = co_await (asio::async_connect(socket, endpoints, as_tuple(use_awaitable)) ||
                     timer.async_wait(as_tuple(use_awaitable)));
  if (r.index() == 1)
    co_return fail(Errc::net_timeout,
                   fmt::format("connecting to {}:{} took over {} ms", to.host, to.port, timeout.count()));
  if (const auto ec = std::get<0>(std::get<0>(r)); ec)
    co_return fail(Errc::net_unavailable, fmt::format("cannot connect to {}:{}: {}", to.host, to.port, ec.message()));
  co_return std::move(socket);
}
}  // namespace

Task<Result<std::shared_ptr<Channel>>> connect(const HostPort& to, Limits limits, Millis timeout) {
  auto socket = co_await connect_socket(to, timeout);
  if (!socket) co_return std::unexpected(socket.error());
  co_return Channel::start(std::move(*socket), limits);
}

namespace {
// A certificate outside its validity is cert_expired / cert_not_yet_valid wherever it is refused
// (spec §7), whether this side's verification refused the peer's or the peer's alert says it
// refused ours; every other failure is net_tls.
Error handshake_error(TlsStream& stream, const asio::error_code& ec) {
  const long verified = SSL_get_verify_result(stream.native_handle());
  if (verified == X509_V_ERR_CERT_HAS_EXPIRED) return {Errc::cert_expired, "the peer's certificate has expired"};
  if (verified == X509_V_ERR_CERT_NOT_YET_VALID)
    return {Errc::cert_not_yet_valid, "the peer's certificate is not yet valid"};
  if (auto refused = refused_as_expired(ec)) return *refused;
  return {Errc::net_tls, fmt::format("TLS handshake failed: {}", ec.message())};
}

Task<Result<std::shared_ptr<Channel>>> handshake(tcp::socket socket, asio::ssl::context& tls,
                                                 asio::ssl::stream_base::handshake_type side, Limits limits,
                                                 Millis timeout) {
  TlsStream stream(std::move(socket), tls);
  asio::steady_timer timer(stream.get_executor(), timeout);
  auto r =
      co_await (stream.async_handshake(side, as_tuple(use_awaitable)) || timer.async_wait(as_tuple(use_awaitable)));
  if (r.index() == 1) co_return fail(Errc::net_timeout, fmt::format("TLS handshake took over {} ms", timeout.count()));
  if (const auto [ec] = std::get<0>(r); ec) co_return std::unexpected(handshake_error(stream, ec));
  co_return Channel::start(std::move(stream), limits);
}
}  // namespace

Task<Result<std::shared_ptr<Channel>>> connect_tls(const HostPort& to, asio::ssl::context& tls, Limits limits,
                                                   Millis timeout) {
  auto socket = co_await connect_socket(to, timeout);
  if (!socket) co_return std::unexpected(socket.error());
  co_return co_await handshake(std::move(*socket), tls, asio::ssl::stream_base::client, limits, timeout);
}

Task<Result<std::shared_ptr<Channel>>> accept_tls(tcp::socket socket, asio::ssl::context& tls, Limits limits,
                                                  Millis timeout) {
  co_return co_await handshake(std::move(socket), tls, asio::ssl::stream_base::server, limits, timeout);
}

}  // namespace dcas::net
