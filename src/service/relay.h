// A man in the middle on the host-AP link, for attack demonstrations (`dcas attack relay`, the demo
// scenario sm-sharing-replay): each host connection is carried to the AP frame by frame, both ways,
// and a hook sees every message frame from the AP to the host before it is passed on.
//
// The relay holds no key: what it can do to the published protocol is what anyone on the network
// between a box and its headend can do (docs/security.md, "network attacker").
#pragma once

#include <functional>

#include "service/server.h"

namespace dcas::service {

struct RelayConfig {
  ServerLimits server;
  net::HostPort ap;
  Millis connect_timeout{10'000};
};

class Relay {
 public:
  // Called with each message payload from the AP to a host, and the connection's number (from 1,
  // in the order hosts connected); may replace the payload.
  using ToHost = std::function<void(std::uint64_t connection, Bytes& payload)>;
  Relay(asio::io_context& io, RelayConfig config, ToHost to_host, LogSink log);
  Server& server() { return server_; }

 private:
  Task<void> serve(std::shared_ptr<net::Channel> host);
  Task<void> pump(std::shared_ptr<net::Channel> from, std::shared_ptr<net::Channel> to, std::uint64_t connection,
                  bool to_host);

  RelayConfig config_;
  ToHost to_host_;
  LogSink log_;
  std::atomic<std::uint64_t> next_connection_{1};
  Server server_;
};

}  // namespace dcas::service
