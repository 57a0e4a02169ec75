// What every protocol role shares: its identity, what it is fed and what it returns.
//
// Roles are I/O-free state machines (docs/spec.md, "Roles"): the caller passes each received
// message with the current time; the role returns the messages to send, the events that happened
// and, if a check failed, the error that stopped it. Randomness and storage come in through
// interfaces; a role never reads a clock, a socket or a file.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "common/ids.h"
#include "crypto/random.h"
#include "crypto/rsa.h"
#include "pki/certificate.h"

namespace dcas::protocol {

using TimePoint = std::chrono::system_clock::time_point;

// A role's long-term identity: what its manufacturer or the TA injected.
struct Identity {
  crypto::RsaPrivateKey key;
  pki::Certificate certificate;  // for the TA: its root certificate
  pki::Certificate ta_root;
};

enum class Peer { sm, tp, ap, ta };
std::string_view peer_name(Peer p);

struct Outgoing {
  Peer to;
  Bytes bytes;                // one encoded wire message
  std::uint64_t session = 0;  // AP and TA: which conversation it belongs to (the caller's handle)
};

// Something a role observed, for logs, timelines and tests. Never carries secret values.
struct Event {
  std::string what;    // stable snake_case name, e.g. "tp_certificate_verified"
  std::string detail;  // human-readable, e.g. "TP_ID 5400000000000002"
};

struct Output {
  std::vector<Outgoing> messages;
  std::vector<Event> events;
  std::optional<Error> error;  // set when a check failed; the role has stopped that exchange

  bool ok() const { return !error.has_value(); }
  void send(Peer to, Bytes bytes, std::uint64_t session = 0) { messages.push_back({to, std::move(bytes), session}); }
  void event(std::string what, std::string detail = {}) { events.push_back({std::move(what), std::move(detail)}); }
};

// The message type of `bytes` from its header, before anything else is parsed, so that a role can
// refuse a message its state does not allow without decoding it. Errors: the header's wire errors.
Result<std::uint8_t> peek_type(ByteView bytes);

}  // namespace dcas::protocol
