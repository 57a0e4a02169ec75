// The AP-TA link's TLS (service/tls.h) on loopback: a mutual TLS 1.3 handshake with the TA root
// and a TA-issued AP certificate carries frames; a client whose certificate another root issued, or
// that presents none, is refused; a client that does not trust the server's root refuses it.
#include "service/tls.h"

#include <asio/experimental/as_tuple.hpp>

#include "pki/authority.h"
#include "test_support.h"

namespace dcas {
namespace {

using namespace std::chrono_literals;
using net::Frame;
using net::FrameKind;

struct TlsLoopback {
  asio::io_context io;
  net::tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
  Result<std::shared_ptr<net::Channel>> server_side = fail(Errc::net_closed, "not accepted");
  Result<std::shared_ptr<net::Channel>> client_side = fail(Errc::net_closed, "not connected");

  // One connection: the server's handshake and the client's, concurrently. The io context stops
  // when both are done (the channels' writers would keep it running).
  void run(asio::ssl::context& server, asio::ssl::context& client) {
    const net::HostPort to{"127.0.0.1", std::to_string(acceptor.local_endpoint().port())};
    int left = 2;
    auto done = [&] {
      if (--left == 0) io.stop();
    };
    asio::co_spawn(
        io,
        [&]() -> net::Task<void> {
          auto [ec, socket] = co_await acceptor.async_accept(asio::experimental::as_tuple(asio::use_awaitable));
          if (!ec) server_side = co_await net::accept_tls(std::move(socket), server, {}, 5000ms);
          done();
        },
        asio::detached);
    asio::co_spawn(
        io,
        [&]() -> net::Task<void> {
          client_side = co_await net::connect_tls(to, client, {}, 5000ms);
          done();
        },
        asio::detached);
    io.run_for(10s);
  }
};

struct Identities {
  const crypto::RsaPrivateKey &ta = test::key("ta"), &ap = test::key("ap1"), &foreign = test::key("ta_foreign");
  pki::Certificate root = test::ta_root();
  pki::Certificate ap_cert = test::issue(Role::ap, "4100000000000001", "ap1");
  pki::Certificate foreign_root =
      pki::make_root(foreign, "Foreign TA", test::valid_for_a_year(), test::test_rng()).value();
  pki::Certificate foreign_ap = pki::issue_device(foreign, foreign_root, Role::ap, from_hex("4100000000000001").value(),
                                                  ap.public_key(), test::valid_for_a_year(), test::test_rng())
                                    .value();
};

TEST(Tls, MutualHandshakeCarriesFramesAndShowsEachPeersCertificate) {
  Identities id;
  auto server = service::tls_context(service::TlsSide::server, id.ta, id.root, id.root).value();
  auto client = service::tls_context(service::TlsSide::client, id.ap, id.ap_cert, id.root).value();
  TlsLoopback loop;
  loop.run(*server, *client);
  ASSERT_TRUE(loop.server_side.has_value()) << loop.server_side.error().message();
  ASSERT_TRUE(loop.client_side.has_value()) << loop.client_side.error().message();
  EXPECT_EQ((*loop.server_side)->peer_certificate(), id.ap_cert.der());
  EXPECT_EQ((*loop.client_side)->peer_certificate(), id.root.der());
  // A frame from the client to the server, over TLS.
  asio::io_context& io = loop.io;
  io.restart();
  Result<Frame> got = fail(Errc::net_closed, "");
  (*loop.client_side)->send(Frame{FrameKind::hello, 0, {1, 2, 3}});
  asio::co_spawn(
      io,
      [&]() -> net::Task<void> {
        got = co_await (*loop.server_side)->read(5000ms);
        io.stop();
      },
      asio::detached);
  io.run_for(5s);
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(got->kind, FrameKind::hello);
  EXPECT_EQ(got->payload, (Bytes{1, 2, 3}));
}

TEST(Tls, AClientCertificateOfAnotherRootIsRefused) {
  Identities id;
  auto server = service::tls_context(service::TlsSide::server, id.ta, id.root, id.root).value();
  auto client = service::tls_context(service::TlsSide::client, id.ap, id.foreign_ap, id.root).value();
  TlsLoopback loop;
  loop.run(*server, *client);
  ASSERT_FALSE(loop.server_side.has_value());
  EXPECT_EQ(loop.server_side.error().code, Errc::net_tls) << loop.server_side.error().message();
}

TEST(Tls, AClientThatDoesNotTrustTheServersRootRefusesIt) {
  Identities id;
  auto server = service::tls_context(service::TlsSide::server, id.foreign, id.foreign_root, id.root).value();
  auto client = service::tls_context(service::TlsSide::client, id.ap, id.ap_cert, id.root).value();
  TlsLoopback loop;
  loop.run(*server, *client);
  ASSERT_FALSE(loop.client_side.has_value());
  EXPECT_EQ(loop.client_side.error().code, Errc::net_tls) << loop.client_side.error().message();
}

// An expired certificate is cert_expired on the link as everywhere (spec §7): at the side that
// verified it, and at the side whose certificate the peer's alert refused.
TEST(Tls, AnExpiredApCertificateIsRefusedAsExpiredOnBothSides) {
  Identities id;
  const auto now = std::chrono::system_clock::now();
  const auto expired = test::issue(Role::ap, "4100000000000001", "ap1", {now - 48h, now - 24h});
  auto server = service::tls_context(service::TlsSide::server, id.ta, id.root, id.root).value();
  auto client = service::tls_context(service::TlsSide::client, id.ap, expired, id.root).value();
  TlsLoopback loop;
  loop.run(*server, *client);
  ASSERT_FALSE(loop.server_side.has_value());
  EXPECT_EQ(loop.server_side.error().code, Errc::cert_expired) << loop.server_side.error().message();
  // TLS 1.3: the client's handshake may complete before the server's alert; its first read has it.
  Error client_error = loop.client_side ? Error{} : loop.client_side.error();
  if (loop.client_side) {
    loop.io.restart();
    asio::co_spawn(
        loop.io,
        [&]() -> net::Task<void> {
          auto got = co_await (*loop.client_side)->read(5000ms);
          client_error = got ? Error{Errc::ok, "a frame"} : got.error();
          loop.io.stop();
        },
        asio::detached);
    loop.io.run_for(5s);
  }
  EXPECT_EQ(client_error.code, Errc::cert_expired) << client_error.message();
}

TEST(Tls, AnExpiredTaCertificateIsRefusedAsExpiredByTheAp) {
  Identities id;
  const auto now = std::chrono::system_clock::now();
  const auto old_root = pki::make_root(id.ta, "DCAS Test TA", {now - 48h, now - 24h}, test::test_rng()).value();
  auto server = service::tls_context(service::TlsSide::server, id.ta, old_root, id.root).value();
  auto client = service::tls_context(service::TlsSide::client, id.ap, id.ap_cert, old_root).value();
  TlsLoopback loop;
  loop.run(*server, *client);
  ASSERT_FALSE(loop.client_side.has_value());
  EXPECT_EQ(loop.client_side.error().code, Errc::cert_expired) << loop.client_side.error().message();
}

TEST(Tls, AKeyThatIsNotTheCertificatesIsRefusedBeforeAnyHandshake) {
  Identities id;
  auto ctx = service::tls_context(service::TlsSide::client, id.foreign, id.ap_cert, id.root);
  ASSERT_FALSE(ctx.has_value());
  EXPECT_EQ(ctx.error().code, Errc::crypto_failure);
}

}  // namespace
}  // namespace dcas
