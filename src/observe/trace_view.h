// Reading a trace back: what each record is (`dcas trace show`) and the run's sequence diagram
// (`dcas trace diagram`, `dcas demo --diagram`): the paper's Fig. 4 drawn from real records.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "observe/trace.h"

namespace dcas::observe {

// One record as a reader names it.
struct Seen {
  std::string what;                          // "KeyRequest (SM->AP)", "hello", "error", an event's name
  std::size_t size = 0;                      // the message's bytes (a frame's payload), or the event record's
  std::optional<std::uint8_t> message_type;  // a wire message, on any link
  std::optional<std::uint64_t> stream;       // a link frame's stream (the AP's session on the AP-TA link)
  std::string detail;                        // an event's one-line account; a frame's error
  std::string outcome;   // "" when nothing failed; else the error's name and detail, or "malformed: ..."
  bool failed = false;   // an error frame, a message that does not decode, or an event of a failed check
  bool control = false;  // link upkeep (ping, ack, welcome, crl_request): not part of the protocol's run
};
Seen describe(const TraceRecord& record);

// The timeline `dcas trace show` prints: one line per record, its time from the first record,
// recorder, link, route, what, size, outcome.
std::string timeline(const std::vector<TraceRecord>& records);

// The records of one host's run from the traces of the whole deployment (one_run's output),
// given what the host recorded (`host`: one or more of its runs): the host's records in that time;
// the AP's frames on that host's connections only; the AP-TA link's frames and the AP's and TA's
// events while the host was on the network, and the report of its leaving (the first
// presence_ended, HostPresence and host_left naming its SM, within 2 s).
std::vector<TraceRecord> for_host(const std::vector<TraceRecord>& records, const std::vector<TraceRecord>& host);

struct DiagramOptions {
  std::string title;
  std::size_t broadcast_shown = 2;  // EMMs, ECMs and ControlWords drawn of each kind; the rest counted
};
// An SVG sequence diagram: lifelines TA, AP (with PS/CAS), SM, TP; one arrow per message, in
// order, named with its size; each event as a note on its lifeline (failed checks in red); the
// message a failed check refused marked; link upkeep left out.
std::string diagram_svg(const std::vector<TraceRecord>& records, const DiagramOptions& options);

}  // namespace dcas::observe
