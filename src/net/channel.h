// One framed TCP connection (docs/spec.md, "Transport") over standalone Asio with C++20
// coroutines: the one I/O style of every DCAS service.
//
// Every read and write is bounded by a timeout. Reads run in the coroutine that owns the channel,
// on the channel's executor (a strand on multi-threaded servers); sends may come from any thread
// and are written in order by the channel's own writer coroutine.
#pragma once

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "net/frame.h"

namespace dcas::net {

using tcp = asio::ip::tcp;
template <typename T>
using Task = asio::awaitable<T>;
using Millis = std::chrono::milliseconds;
using TlsStream = asio::ssl::stream<tcp::socket>;

struct Limits {
  std::size_t max_payload = default_max_payload;
  Millis io_timeout{10'000};     // the payload of a frame whose header arrived; every write
  Millis idle_timeout{120'000};  // waiting for the header of the next frame
};

class Channel : public std::enable_shared_from_this<Channel> {
 public:
  // Takes over a connected socket and starts its writer.
  static std::shared_ptr<Channel> start(tcp::socket socket, Limits limits);
  // The same over a TLS stream whose handshake has completed (tls_handshake).
  static std::shared_ptr<Channel> start(TlsStream stream, Limits limits);

  // The next frame: its header within `wait`, its payload within limits.io_timeout.
  // Errors: net_timeout, net_closed, net_io, net_shutting_down (interrupt() was called), and
  // parse_frame_header's net_frame_too_large, net_bad_frame.
  Task<Result<Frame>> read(Millis wait);
  // Queues a frame. Thread-safe. A failed or timed-out write closes the channel.
  void send(Frame frame);
  // Queues a frame and closes the connection once it is written (for final error replies).
  void send_and_close(Frame frame);
  // Closes the connection once every queued frame is written.
  void finish();
  void close();
  // Shutdown: a read waiting for the next frame's header ends with net_shutting_down (a frame
  // already arriving is still read whole), as does every later read. Thread-safe.
  void interrupt();

  // Sees every frame this end sends (when queued, in order) and receives (once whole), as its
  // encoded bytes: the traces (--trace) and the metrics (--metrics). Set it before the channel's
  // first read or send.
  using Tap = std::function<void(bool sent, ByteView frame)>;
  void set_tap(Tap tap) { tap_ = std::move(tap); }
  const Tap& tap() const { return tap_; }
  tcp::endpoint local_endpoint() const;
  tcp::endpoint remote_endpoint() const;

  const std::string& peer() const { return peer_; }
  const Limits& limits() const { return limits_; }
  asio::any_io_executor executor() { return socket().get_executor(); }
  // TLS: the certificate the peer presented and the handshake verified (DER); empty otherwise.
  Bytes peer_certificate() const;

  using Stream = std::variant<tcp::socket, TlsStream>;
  Channel(Stream stream, Limits limits);  // use start()

 private:
  Task<Result<void>> read_exact(std::span<std::uint8_t> buffer, Millis timeout);
  Task<void> write_loop();
  void close_now();
  tcp::socket& socket();
  const tcp::socket& socket() const;
  static std::shared_ptr<Channel> started(Stream stream, Limits limits);

  Stream stream_;
  Limits limits_;
  asio::steady_timer read_timer_, write_timer_, outbox_signal_;
  std::deque<Bytes> outbox_;
  bool close_after_flush_ = false;
  bool closed_ = false;
  bool waiting_for_header_ = false;
  std::atomic<bool> interrupted_{false};
  std::string peer_;
  Tap tap_;
};

// The socket's peer as "address:port" (for logs).
std::string endpoint_text(const tcp::socket& socket);

// "host:port" or "[v6]:port". Errors: invalid_argument.
struct HostPort {
  std::string host, port;
};
Result<HostPort> parse_host_port(std::string_view text);

// Resolves and connects within `timeout`. Errors: net_unavailable, net_timeout.
Task<Result<std::shared_ptr<Channel>>> connect(const HostPort& to, Limits limits, Millis timeout);
// The same, then the TLS client handshake under `tls` within the same timeout. Errors: as
// connect, net_tls (the handshake failed: the peer's certificate did not verify, or it refused ours).
Task<Result<std::shared_ptr<Channel>>> connect_tls(const HostPort& to, asio::ssl::context& tls, Limits limits,
                                                   Millis timeout);
// The TLS server handshake on an accepted socket within `timeout`. Errors: net_timeout, net_tls.
Task<Result<std::shared_ptr<Channel>>> accept_tls(tcp::socket socket, asio::ssl::context& tls, Limits limits,
                                                  Millis timeout);

}  // namespace dcas::net
