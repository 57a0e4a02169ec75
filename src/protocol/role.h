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
#include "protocol/events.h"
#include "wire/message.h"

namespace dcas::protocol {

using TimePoint = std::chrono::system_clock::time_point;

// A role's long-term identity: what its manufacturer or the TA injected.
struct Identity {
  crypto::RsaPrivateKey key;
  pki::Certificate certificate;  // for the TA: its root certificate
  pki::Certificate ta_root;
};

struct Outgoing {
  Role to;
  Bytes bytes;                // one encoded wire message; empty when `refusal` is set
  std::uint64_t session = 0;  // AP and TA: which conversation it belongs to (the caller's handle)
  // Set instead of a message: the peer is told that its request was refused, and why (the
  // adapter sends an error frame, docs/spec.md §13).
  std::optional<Error> refusal;
  // A report the receiver must record (the AP's HostPresence "left"): the adapter keeps it until
  // the TA acknowledges it, and sends it again over a new link.
  bool must_arrive = false;
};

struct Output {
  std::vector<Outgoing> messages;
  std::vector<Event> events;   // in the order they happened (protocol/events.h)
  std::optional<Error> error;  // set when a check failed; the role has stopped that exchange

  bool ok() const { return !error.has_value(); }
  void send(Role to, Bytes bytes, std::uint64_t session = 0) {
    messages.push_back({to, std::move(bytes), session, std::nullopt, false});
  }
  void refuse(Role to, Error why, std::uint64_t session = 0) {
    messages.push_back({to, {}, session, std::move(why), false});
  }
  void event(Event e) { events.push_back(std::move(e)); }
  // The first event of type T, if any.
  template <typename T>
  const T* find() const {
    for (const auto& e : events)
      if (auto* found = std::get_if<T>(&e)) return found;
    return nullptr;
  }
  // Appends `other`'s messages, events and error (a later error replaces an earlier one).
  void append(Output other);
};

// One message on its way between two roles, as a transcript or a journal records it.
struct Hop {
  Role from;
  Role to;
  std::uint64_t session;  // the host's session at the AP and TA
  Bytes bytes;
};

// The message type of `bytes` from its header, before anything else is parsed, so that a role can
// refuse a message its state does not allow without decoding it. Errors: the header's wire errors.
Result<std::uint8_t> peek_type(ByteView bytes);
// The same, for a role running `profile`: a handshake message of the other profile is refused
// (profile_mismatch), so that no one can walk a hardened1 device into the paper's handshake.
Result<std::uint8_t> peek_type(ByteView bytes, wire::Profile profile);

}  // namespace dcas::protocol
