// `dcas loadgen run`: many simulated set-top hosts pairing through running APs (docs/spec.md §22).
//
// Each host is real: its SM and TP roles (load-test identities, provisioning/load_identities.h),
// its HostDriver and its own TCP connection to an AP, exactly as `dcas host pair` runs one. Hosts
// share one io_context; each keeps its SM's and TP's secure memory between its attempts, so its
// second attempt is a reboot (a rejoin at the TA), which is what a regional power cut makes of
// every box at once. The generator only starts attempts and counts what each host saw.
#pragma once

#include <functional>
#include <map>
#include <vector>

#include "net/channel.h"
#include "provisioning/load_identities.h"
#include "store/operator_store.h"
#include "wire/message.h"

namespace dcas::loadgen {

using Millis = std::chrono::milliseconds;

struct LoadPlan {
  std::vector<net::HostPort> aps;  // host i connects to aps[i % size]
  std::size_t hosts = 0;           // the first `hosts` identities (0: all of them)
  unsigned rounds = 1;             // attempts per host: a round is every host once (2: pair, then a reboot storm)
  Millis round_gap{1'000};         // between rounds: every host's leaving reaches the TA before it reboots
  double rate = 0;                 // attempts started per second in a round (0: as fast as `concurrency` allows)
  std::size_t concurrency = 64;    // attempts in progress at once
  Millis duration{0};              // no attempt starts after this (0: none)
  Millis pairing_timeout{30'000};  // from connecting to the SM's key confirmation
  unsigned attempts = 1;           // tries per boot: a transport failure (the AP or its TA gone) is tried again,
  Millis retry_delay{1'000};       // after this pause, as a box does; a refusal never is
  unsigned threads = 1;            // threads running the hosts (their RSA work)
  wire::Profile profile = wire::Profile::hardened1;
  net::Limits link;
  // Held hosts: the first `held` identities pair once before the rounds and stay connected (as
  // `dcas host pair --hold`) until the run ends; the rounds run the `hosts` identities after them.
  std::size_t held = 0;
  std::function<void()> on_held;         // called once every held host has paired (or failed), before the rounds
  std::function<void()> on_rounds_done;  // called after the last round, before the held hosts leave
  // The machine's bound for whole pairings, in runs per second: measured before the first round
  // and after each one, while the servers are idle (empty: no bound).
  std::function<Result<double>()> bound;
};

// One round, as the generator timed it.
struct RoundReport {
  double seconds = 0;  // from its first attempt's start to its last attempt's end
  std::size_t attempts = 0, paired = 0;
  double bound_before = 0, bound_after = 0;  // LoadPlan::bound around it (0: none measured)
  double pairings_per_second() const { return seconds > 0 ? static_cast<double>(paired) / seconds : 0; }
  // This round's rate against the mean of the bounds around it (0 without a bound).
  double efficiency() const;
};

// One attempt, as its host saw it.
struct Attempt {
  std::uint32_t host = 0;
  std::uint32_t round = 0;
  std::int64_t started_ms = 0;   // wall clock, when it connected
  double latency_ms = 0;         // from its first connection to the host settled (keys confirmed, the image if
                                 // one was offered), or to the failure, retries included
  std::optional<Error> failure;  // none: paired
  unsigned retries = 0;          // tries that failed on the transport before the last one
};

struct Progress {
  double seconds = 0;
  std::size_t started = 0, done = 0, paired = 0, failed = 0, in_flight = 0;
};

struct LoadReport {
  double seconds = 0;             // from the first connection to the last attempt's end, held hosts' included
  std::vector<Attempt> attempts;  // the rounds' attempts
  std::vector<Attempt> held;      // the held hosts' pairings
  std::vector<RoundReport> rounds;
  // The median of the rounds' efficiencies, and their first and third quartiles (all 0 without a bound).
  struct Efficiency {
    double median = 0, low = 0, high = 0;
  };
  Efficiency efficiency() const;
  std::size_t paired() const;
  std::size_t retries() const;  // failed tries that a later try of the same boot made good or not
  std::map<std::string, std::size_t> failures_by_error() const;
  // Of the attempts that paired: the quantile q (0..1) of their latencies, in ms (nearest rank).
  double latency_quantile(double q) const;
};

// Runs the plan; `progress` is called about once a second, from a thread of its own.
// Errors: invalid_argument (no AP, no hosts, a plan the identities cannot serve).
Result<LoadReport> run_load(const provisioning::LoadIdentities& identities, const LoadPlan& plan,
                            const std::function<void(const Progress&)>& progress = {});

// Whether the store's audit log agrees with what the hosts saw: for every host of the run, the
// validations the TA recorded after audit entry `after_seq` (last_audit_seq before the run),
// against the attempts that paired. The TA's own sequence, so no clock of the generator's is read.
struct AuditCheck {
  std::size_t validated = 0;          // successful validations of the run's SMs in the audit log
  std::size_t refused = 0;            // refused ones
  std::size_t lost = 0;               // hosts that paired more often than the TA recorded: must be 0
  std::size_t unconfirmed = 0;        // validations no host saw complete (an answer lost on the way back)
  std::size_t unexplained = 0;        // of those, on hosts with no failed attempt to account for them: must be 0
  std::vector<std::string> problems;  // one line per host that breaks a rule, the first few
  bool nothing_lost() const { return lost == 0 && unexplained == 0; }
};
Result<AuditCheck> check_audit(store::OperatorStore& store, const provisioning::LoadIdentities& identities,
                               const LoadReport& report, std::int64_t after_seq);
// The last entry's sequence number (0 for an empty log).
Result<std::int64_t> last_audit_seq(store::OperatorStore& store);

}  // namespace dcas::loadgen
