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

// Sends the hello on an open connection; whether the TA welcomed it.
net::Task<bool> welcomed(std::shared_ptr<net::Channel> link, Bytes certificate) {
  link->send(Frame{FrameKind::hello, 0, std::move(certificate)});
  auto answer = co_await link->read(5s);
  link->close();
  co_return answer && answer->kind == FrameKind::welcome;
}

}  // namespace

Result<Verdict> link_without_key(wire::Profile profile) {
  World w(profile);
  // The attacker's key, and a certificate for the AP's ID under a root of its own making.
  DCAS_TRY_ASSIGN(own_key, crypto::RsaPrivateKey::generate());
  const pki::Validity validity{w.t0 - 1h, w.t0 + 1h};
  DCAS_TRY_ASSIGN(own_root, pki::make_root(own_key, "Not the TA", validity, w.rng()));
  DCAS_TRY_ASSIGN(own_ap, pki::issue_device(own_key, own_root, Role::ap, w.ap.id().view(), own_key.public_key(),
                                            validity, w.rng()));
  DCAS_TRY_ASSIGN(attacker_tls, service::tls_context(service::TlsSide::client, own_key, own_ap, own_root));

  // The world's TA as the real server, on loopback.
  asio::io_context io;
  service::TaServiceConfig config;
  DCAS_TRY_ASSIGN(ta_tls, service::tls_context(service::TlsSide::server, ta_key(), w.root, w.root));
  config.tls = ta_tls;
  std::vector<std::string> ta_log;
  service::TaService ta(io, w.ta, config, [&](std::string_view line) { ta_log.emplace_back(line); });
  DCAS_TRY_ASSIGN(bound, ta.server().listen({"127.0.0.1", "0"}));
  ta.server().start();
  const net::HostPort at{"127.0.0.1", std::to_string(bound.port())};

  std::optional<std::string> admitted;
  asio::co_spawn(
      io,
      [&]() -> net::Task<void> {
        if (auto plain = co_await net::connect(at, {}, 5s); plain && co_await welcomed(*plain, w.ap_certificate.der()))
          admitted = "the TA admits a link for the AP on its public certificate alone, in the clear";
        auto forged = co_await net::connect_tls(at, *attacker_tls, {}, 5s);
        if (forged && co_await welcomed(*forged, own_ap.der()))
          admitted = "the TA admits a link for the AP under a certificate of the attacker's making";
        ta.server().stop();
      },
      asio::detached);
  io.run_for(30s);

  if (admitted) return succeeded(*admitted);
  for (const auto& line : ta_log)
    if (line.find(errc_name(Errc::net_tls)) != std::string::npos) return refused(Error{Errc::net_tls, line}, "TA");
  return fail(Errc::invalid_argument, "the link attack came to no verdict: the TA neither admitted nor refused it");
}

}  // namespace dcas::attack
