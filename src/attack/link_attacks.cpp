#include "attack/link_attacks.h"

#include <fmt/format.h>

#include "attack/world.h"
#include "service/ta_service.h"
#include "service/tls.h"

namespace dcas::attack {

namespace {

using namespace std::chrono_literals;
using net::Frame;
using net::FrameKind;

// One way in the attacker tries, and what came of it: welcomed, or the TA's own refusal.
struct Attempt {
  bool welcomed = false;
  std::optional<std::string> refusal;  // the TA's log line refusing it (net_tls)
};

// Sends the hello on an open connection; whether the TA welcomed it.
net::Task<bool> welcomed(std::shared_ptr<net::Channel> link, Bytes certificate) {
  link->send(Frame{FrameKind::hello, 0, std::move(certificate)});
  auto answer = co_await link->read(5s);
  link->close();
  co_return answer && answer->kind == FrameKind::welcome;
}

// The first TA log line from `from` on that refuses a link for TLS, waiting up to 2 s for it
// (the TA's side of a failed handshake may finish after the attacker's).
net::Task<std::optional<std::string>> tls_refusal(const std::vector<std::string>& log, std::size_t from) {
  asio::steady_timer wait(co_await asio::this_coro::executor);
  for (int i = 0; i < 200; ++i) {
    for (std::size_t j = from; j < log.size(); ++j)
      if (log[j].find(errc_name(Errc::net_tls)) != std::string::npos) co_return log[j];
    wait.expires_after(10ms);
    co_await wait.async_wait(asio::use_awaitable);
  }
  co_return std::nullopt;
}

// The world's TA as the real server, on loopback, logging into `log`.
struct TaServer {
  asio::io_context io;
  std::vector<std::string> log;
  std::unique_ptr<service::TaService> service;
  net::HostPort at;
};
Result<std::unique_ptr<TaServer>> serve_ta(World& w) {
  auto s = std::make_unique<TaServer>();
  service::TaServiceConfig config;
  DCAS_TRY_ASSIGN(ta_tls, service::tls_context(service::TlsSide::server, ta_key(), w.root, w.root));
  config.tls = ta_tls;
  s->service = std::make_unique<service::TaService>(
      s->io, w.ta, config, [log = &s->log](std::string_view line) { log->emplace_back(line); });
  DCAS_TRY_ASSIGN(bound, s->service->server().listen({"127.0.0.1", "0"}));
  s->service->server().start();
  s->at = {"127.0.0.1", std::to_string(bound.port())};
  return s;
}

}  // namespace

Result<Verdict> link_revoked_ap(wire::Profile profile) {
  World w(profile);
  w.store.revoke(Role::ap, w.ap.id().view(), w.crl_revoking(1, {w.ap_certificate}).der());
  DCAS_TRY_ASSIGN(ap_tls, service::tls_context(service::TlsSide::client, ap_key(), w.ap_certificate, w.root));
  DCAS_TRY_ASSIGN(server, serve_ta(w));
  std::optional<Result<net::Frame>> answer;
  asio::co_spawn(
      server->io,
      [&]() -> net::Task<void> {
        auto link = co_await net::connect_tls(server->at, *ap_tls, {}, 5s);
        if (link) {
          (*link)->send(Frame{FrameKind::hello, 0, w.ap_certificate.der()});
          answer = co_await (*link)->read(5s);
          (*link)->close();
        } else {
          answer = std::unexpected(link.error());
        }
        server->service->server().stop();
      },
      asio::detached);
  server->io.run_for(30s);
  if (!answer || !*answer)
    return fail(Errc::invalid_argument, "the link attack came to no verdict: no answer to the hello");
  if ((*answer)->kind == FrameKind::welcome) return succeeded("the TA admits the link of a revoked AP");
  auto why = net::parse_error_payload((*answer)->payload);
  if ((*answer)->kind != FrameKind::error || !why)
    return fail(Errc::invalid_argument, "the TA answered the hello with neither a welcome nor an error");
  return refused(*why, "TA");
}

Result<Verdict> link_without_key(wire::Profile profile) {
  World w(profile);
  // The attacker's key, and a certificate for the AP's ID under a root of its own making; it
  // trusts the TA's root (public), so its side of the handshake goes through and the TA judges
  // the certificate.
  DCAS_TRY_ASSIGN(own_key, crypto::RsaPrivateKey::generate());
  const pki::Validity validity{w.t0 - 1h, w.t0 + 1h};
  DCAS_TRY_ASSIGN(own_root, pki::make_root(own_key, "Not the TA", validity, w.rng()));
  DCAS_TRY_ASSIGN(own_ap, pki::issue_device(own_key, own_root, Role::ap, w.ap.id().view(), own_key.public_key(),
                                            validity, w.rng()));
  DCAS_TRY_ASSIGN(attacker_tls, service::tls_context(service::TlsSide::client, own_key, own_ap, w.root));

  DCAS_TRY_ASSIGN(server, serve_ta(w));
  auto& io = server->io;
  const auto& ta_log = server->log;
  const net::HostPort at = server->at;

  Attempt in_clear, forged;
  std::optional<Error> no_attempt;
  asio::co_spawn(
      io,
      [&]() -> net::Task<void> {
        // 1. In the clear, the AP's public certificate in the hello, as the link once took it.
        std::size_t from = ta_log.size();
        auto plain = co_await net::connect(at, {}, 5s);
        if (!plain) {
          no_attempt = plain.error();
        } else {
          in_clear.welcomed = co_await welcomed(*plain, w.ap_certificate.der());
          if (!in_clear.welcomed) in_clear.refusal = co_await tls_refusal(ta_log, from);
        }
        // 2. TLS under the attacker's own key and certificate for the AP's ID.
        from = ta_log.size();
        auto tls = co_await net::connect_tls(at, *attacker_tls, {}, 5s);
        if (tls) forged.welcomed = co_await welcomed(*tls, own_ap.der());
        // A refusal may reach the attacker's side before or after its handshake completes.
        if (!forged.welcomed) forged.refusal = co_await tls_refusal(ta_log, from);
        if (!tls && !forged.refusal) no_attempt = tls.error();
        server->service->server().stop();
      },
      asio::detached);
  io.run_for(30s);

  if (in_clear.welcomed)
    return succeeded("the TA admits a link for the AP on its public certificate alone, in the clear");
  if (forged.welcomed) return succeeded("the TA admits a link for the AP under a certificate of the attacker's making");
  if (no_attempt)
    return fail(Errc::invalid_argument, fmt::format("the link attack could not be made: {}", no_attempt->message()));
  if (!in_clear.refusal || !forged.refusal)
    return fail(Errc::invalid_argument, "the link attack came to no verdict: the TA neither admitted nor refused it");
  return refused(Error{Errc::net_tls, *forged.refusal}, "TA");
}

}  // namespace dcas::attack
