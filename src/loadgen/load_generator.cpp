#include "loadgen/load_generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>

#include "protocol/host_driver.h"
#include "protocol/memory.h"
#include "service/host_client.h"

namespace dcas::loadgen {

namespace {

using asio::use_awaitable;
using asio::experimental::as_tuple;
using net::Task;
using Clock = std::chrono::steady_clock;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<Millis>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// What a host keeps between its attempts: its SM's and TP's secure memory.
struct HostState {
  protocol::MemoryNonVolatile<protocol::SmMemory> sm;
  protocol::MemoryNonVolatile<protocol::TpMemory> tp;
};

struct Timed {
  Attempt attempt;
  Clock::time_point connected, ended;  // the connection's start, and the attempt's end
};

// A booted host: its roles, its driver and, once paired, its link to the AP.
struct Booted {
  std::optional<protocol::SecureMicro> sm;
  std::optional<protocol::TransportProcessor> tp;
  std::optional<protocol::HostDriver> box;
  std::shared_ptr<net::Channel> link;
  service::PairingReport report;
};

// One boot of host `host`: its roles from its identities and memory, a connection to its AP, and
// the pairing. Unless `keep` is given, the link is then closed (the host leaves the network, as a
// box that powers off); with it, the paired host is moved there, still connected.
Task<Timed> attempt_once(const provisioning::LoadIdentities& ids, HostState& state, std::uint32_t host,
                         std::uint32_t round, const LoadPlan& plan, std::unique_ptr<Booted>* keep = nullptr) {
  Timed t{{host, round, wall_ms(), 0, std::nullopt}, Clock::now(), {}};
  auto ended = [&](std::optional<Error> failure) {
    t.ended = Clock::now();
    t.attempt.latency_ms = std::chrono::duration<double, std::milli>(t.ended - t.connected).count();
    t.attempt.failure = std::move(failure);
    return t;
  };
  auto sm_identity = ids.sm_identity(host);
  auto tp_identity = ids.tp_identity(host);
  if (!sm_identity || !tp_identity) co_return ended(sm_identity ? tp_identity.error() : sm_identity.error());
  const auto now = std::chrono::system_clock::now();
  auto booted = std::make_unique<Booted>();
  auto sm =
      protocol::SecureMicro::create(std::move(*sm_identity), state.sm, crypto::system_random(), now, plan.profile);
  if (!sm) co_return ended(sm.error());
  auto tp = protocol::TransportProcessor::create(std::move(*tp_identity), state.tp, crypto::system_random(), now, {},
                                                 plan.profile);
  if (!tp) co_return ended(tp.error());
  booted->sm.emplace(std::move(*sm));
  booted->tp.emplace(std::move(*tp));
  booted->box.emplace(*booted->sm, *booted->tp);
  service::HostConfig config;
  config.ap = plan.aps[host % plan.aps.size()];
  config.link = plan.link;
  config.pairing_timeout = plan.pairing_timeout;
  t.attempt.started_ms = wall_ms();
  t.connected = Clock::now();
  for (unsigned tries = 1;; ++tries) {
    auto link = co_await service::pair_once(*booted->box, config, booted->report);
    if (link) {
      if (keep) {
        booted->link = std::move(*link);
        *keep = std::move(booted);
      } else {
        (*link)->finish();
      }
      co_return ended(std::nullopt);
    }
    if (!service::retryable(link.error()) || tries >= std::max(1u, plan.attempts)) co_return ended(link.error());
    ++t.attempt.retries;
    asio::steady_timer pause(co_await asio::this_coro::executor, plan.retry_delay);
    co_await pause.async_wait(as_tuple(use_awaitable));
  }
}

// What the workers of a run share. A round is every host once; the next round starts when the
// last attempt of this one has ended, after the plan's gap. The held hosts come first: hosts
// [0, first) of the identities are held, the rounds run hosts [first, first + hosts).
struct Run {
  Run(const provisioning::LoadIdentities& ids, const LoadPlan& plan, std::size_t first, std::size_t hosts)
      : ids(ids), plan(plan), first(first), hosts(hosts), state(first + hosts) {}
  const provisioning::LoadIdentities& ids;
  const LoadPlan& plan;
  std::size_t first = 0, hosts = 0;
  std::vector<HostState> state;         // by host index
  Clock::time_point t0 = Clock::now();  // --duration counts from here
  Clock::time_point round_start = t0;   // --rate paces each round from its start
  std::uint32_t round = 0;
  std::atomic<std::size_t> next{0};  // the next host of this round
  std::atomic<std::size_t> started{0}, done{0}, paired{0}, failed{0};
  std::atomic<bool> out_of_time{false};
  std::mutex mutex;  // guards what follows
  std::vector<Attempt> attempts, held_attempts;
  std::vector<std::unique_ptr<Booted>> held;  // the held hosts that paired, still connected
  std::vector<RoundReport> rounds;
  std::optional<Clock::time_point> first_connected;
  Clock::time_point last_end = t0;

  bool past_duration(Clock::time_point at) const { return plan.duration.count() > 0 && at - t0 >= plan.duration; }
  void record(const Timed& t, std::vector<Attempt>& into) {
    ++(t.attempt.failure ? failed : paired);
    std::lock_guard lock(mutex);
    into.push_back(t.attempt);
    if (!first_connected || t.connected < *first_connected) first_connected = t.connected;
    last_end = std::max(last_end, t.ended);
    ++done;
  }
};

// Takes the round's next host, paced to the plan's rate, until none is left or the time is up.
Task<void> worker(Run& run) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (std::size_t i; (i = run.next++) < run.hosts;) {
    if (run.plan.rate > 0) {
      const auto at = run.round_start + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(static_cast<double>(i) / run.plan.rate));
      if (run.past_duration(at)) {
        run.out_of_time = true;
        break;
      }
      timer.expires_at(at);
      co_await timer.async_wait(as_tuple(use_awaitable));
    }
    if (run.past_duration(Clock::now())) {
      run.out_of_time = true;
      break;
    }
    ++run.started;
    const auto host = static_cast<std::uint32_t>(run.first + i);
    run.record(co_await attempt_once(run.ids, run.state[host], host, run.round, run.plan), run.attempts);
  }
}

// Pairs the held hosts, `concurrency` at a time; each paired one stays on the network on a strand
// of its own until its link is interrupted.
Task<void> hold_worker(Run& run, asio::io_context& io) {
  for (std::size_t i; (i = run.next++) < run.first;) {
    ++run.started;
    const auto host = static_cast<std::uint32_t>(i);
    std::unique_ptr<Booted> booted;
    const Timed t = co_await attempt_once(run.ids, run.state[host], host, 0, run.plan, &booted);
    if (booted) {
      Booted& b = *booted;
      {
        std::lock_guard lock(run.mutex);
        run.held.push_back(std::move(booted));
      }
      asio::co_spawn(asio::make_strand(io), service::stay_on_network(*b.box, b.link, b.report, {}), asio::detached);
    }
    run.record(t, run.held_attempts);  // last: once all are recorded, all are on the network
  }
}

// Runs io on the plan's threads (this one among them) until it has no work left.
void run_threads(asio::io_context& io, unsigned threads) {
  std::vector<std::jthread> others;
  for (unsigned t = 1; t < threads; ++t) others.emplace_back([&io] { io.run(); });
  io.run();
}

// One round: every host once, `concurrency` at a time, on `threads` threads. Each worker runs on
// a strand of its own: a host's channel is driven from one thread at a time.
RoundReport run_round(Run& run) {
  run.next = 0;
  run.round_start = Clock::now();
  const std::size_t before = run.attempts.size();
  asio::io_context io(static_cast<int>(run.plan.threads));
  for (std::size_t w = 0; w < std::min(run.plan.concurrency, run.hosts); ++w)
    asio::co_spawn(asio::make_strand(io), worker(run), asio::detached);
  run_threads(io, run.plan.threads);
  RoundReport r;
  r.seconds = std::chrono::duration<double>(Clock::now() - run.round_start).count();
  r.attempts = run.attempts.size() - before;
  r.paired = static_cast<std::size_t>(std::count_if(run.attempts.begin() + static_cast<std::ptrdiff_t>(before),
                                                    run.attempts.end(), [](const Attempt& a) { return !a.failure; }));
  return r;
}

// The plan's bound, measured now (0 without one).
Result<double> measure_bound(const LoadPlan& plan) {
  if (!plan.bound) return 0.0;
  return plan.bound();
}

}  // namespace

std::size_t LoadReport::paired() const {
  return static_cast<std::size_t>(
      std::count_if(attempts.begin(), attempts.end(), [](const Attempt& a) { return !a.failure; }));
}

std::size_t LoadReport::retries() const {
  std::size_t n = 0;
  for (const auto& a : attempts) n += a.retries;
  return n;
}

std::map<std::string, std::size_t> LoadReport::failures_by_error() const {
  std::map<std::string, std::size_t> out;
  for (const auto& a : attempts)
    if (a.failure) ++out[std::string(errc_name(a.failure->code))];
  return out;
}

double LoadReport::latency_quantile(double q) const {
  std::vector<double> v;
  for (const auto& a : attempts)
    if (!a.failure) v.push_back(a.latency_ms);
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  // Nearest rank: the smallest value with at least a fraction q of the values at or below it.
  const double rank = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(v.size()));
  return v[static_cast<std::size_t>(std::max(rank, 1.0)) - 1];
}

double RoundReport::efficiency() const {
  const double bound = (bound_before + bound_after) / 2;
  return bound > 0 ? pairings_per_second() / bound : 0;
}

LoadReport::Efficiency LoadReport::efficiency() const {
  std::vector<double> v;
  for (const auto& r : rounds)
    if (r.efficiency() > 0) v.push_back(r.efficiency());
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  // Linear interpolation between order statistics, as the benchmarks' quartiles.
  auto at = [&](double q) {
    const double pos = q * static_cast<double>(v.size() - 1);
    const auto lo = static_cast<std::size_t>(pos);
    const auto hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
  };
  return {at(0.5), at(0.25), at(0.75)};
}

Result<LoadReport> run_load(const provisioning::LoadIdentities& ids, const LoadPlan& plan,
                            const std::function<void(const Progress&)>& progress) {
  if (plan.aps.empty()) return fail(Errc::invalid_argument, "no AP to connect to");
  if (plan.held > ids.hosts.size()) return fail(Errc::invalid_argument, "more held hosts than identities");
  const std::size_t hosts = plan.hosts ? plan.hosts : ids.hosts.size() - plan.held;
  if (hosts + plan.held == 0 || plan.held + hosts > ids.hosts.size())
    return fail(Errc::invalid_argument, fmt::format("{} hosts and {} held asked for, {} identities at hand", hosts,
                                                    plan.held, ids.hosts.size()));
  if (plan.concurrency == 0 || plan.threads == 0) return fail(Errc::invalid_argument, "no concurrency");
  Run run(ids, plan, plan.held, hosts);
  run.attempts.reserve(hosts * std::max(1u, plan.rounds));
  // Progress from a thread of its own, once a second.
  std::mutex progress_mutex;
  std::condition_variable_any progress_wake;
  std::jthread reporter([&](std::stop_token stop) {
    if (!progress) return;
    std::unique_lock lock(progress_mutex);
    while (true) {
      progress_wake.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; });
      if (stop.stop_requested()) return;
      const std::size_t done = run.done, started = run.started;  // done first: never above started
      progress({std::chrono::duration<double>(Clock::now() - run.t0).count(), started, done, run.paired, run.failed,
                started - done});
    }
  });
  // The held hosts pair first and stay connected on an io_context of their own for the whole run.
  asio::io_context held_io(static_cast<int>(plan.threads));
  auto held_work = asio::make_work_guard(held_io);
  std::vector<std::jthread> held_threads;
  if (plan.held > 0) {
    for (std::size_t w = 0; w < std::min(plan.concurrency, plan.held); ++w)
      asio::co_spawn(asio::make_strand(held_io), hold_worker(run, held_io), asio::detached);
    for (unsigned t = 0; t < plan.threads; ++t) held_threads.emplace_back([&held_io] { held_io.run(); });
    while (run.done < plan.held) std::this_thread::sleep_for(Millis(20));
    if (plan.on_held) plan.on_held();
  }
  DCAS_TRY_ASSIGN(bound, measure_bound(plan));
  for (run.round = 0; run.round < std::max(1u, plan.rounds) && !run.out_of_time && hosts > 0; ++run.round) {
    if (run.round > 0 && !plan.bound)
      std::this_thread::sleep_for(plan.round_gap);  // every host's leaving reaches the TA
    if (run.past_duration(Clock::now())) break;
    auto round = run_round(run);
    round.bound_before = bound;
    if (plan.bound) {
      // Measuring takes the place of the gap, at least as long as it.
      const auto gap_end = Clock::now() + plan.round_gap;
      DCAS_TRY_ASSIGN(after, measure_bound(plan));
      std::this_thread::sleep_until(gap_end);
      bound = after;
    }
    round.bound_after = bound;
    run.rounds.push_back(round);
  }
  if (plan.on_rounds_done) plan.on_rounds_done();
  // The held hosts leave the network.
  {
    std::lock_guard lock(run.mutex);
    for (auto& b : run.held) b->link->interrupt();
  }
  held_work.reset();
  held_threads.clear();
  run.held.clear();  // their sockets, while their io_context still exists
  reporter.request_stop();
  reporter.join();
  LoadReport report;
  if (run.first_connected) report.seconds = std::chrono::duration<double>(run.last_end - *run.first_connected).count();
  report.attempts = std::move(run.attempts);
  report.held = std::move(run.held_attempts);
  report.rounds = std::move(run.rounds);
  auto by_round_and_host = [](const Attempt& x, const Attempt& y) {
    return std::tie(x.round, x.host) < std::tie(y.round, y.host);
  };
  std::sort(report.attempts.begin(), report.attempts.end(), by_round_and_host);
  std::sort(report.held.begin(), report.held.end(), by_round_and_host);
  return report;
}

namespace {

// The verdict an audit line's detail ends in: "virgin -> auth-paired (bound_virgin_pair)".
std::optional<protocol::Verdict> audited_verdict(const std::string& detail) {
  const auto open = detail.rfind('('), close = detail.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  return protocol::verdict_from_name(std::string_view(detail).substr(open + 1, close - open - 1));
}

}  // namespace

Result<AuditCheck> check_audit(store::OperatorStore& store, const provisioning::LoadIdentities& ids,
                               const LoadReport& report, std::int64_t after_seq) {
  struct Seen {
    std::size_t paired = 0, failed = 0, validated = 0, refused = 0;
  };
  std::map<std::string, Seen> by_sm;  // hex SM ID of each host the run used
  for (const auto* attempts : {&report.held, &report.attempts})
    for (const auto& a : *attempts) {
      Seen& s = by_sm[ids.hosts.at(a.host).sm.hex()];
      ++(a.failure ? s.failed : s.paired);
      s.failed += a.retries;  // each failed try may have been validated with its answer lost
    }
  DCAS_TRY_ASSIGN(log, store.audit_log());
  for (const auto& e : log) {
    if (e.action != "validate" || e.seq <= after_seq) continue;
    auto it = by_sm.find(e.sm);
    if (it == by_sm.end()) continue;
    const auto verdict = audited_verdict(e.detail);
    if (verdict && protocol::verdict_succeeds(*verdict))
      ++it->second.validated;
    else
      ++it->second.refused;
  }
  AuditCheck check;
  for (const auto& [sm, s] : by_sm) {
    check.validated += s.validated;
    check.refused += s.refused;
    if (s.paired > s.validated) {
      check.lost += s.paired - s.validated;
      if (check.problems.size() < 10)
        check.problems.push_back(
            fmt::format("SM {}: paired {} times, {} validations on record", sm, s.paired, s.validated));
    }
    if (s.validated > s.paired) {
      // A failed attempt accounts for one refusal or one validation whose answer it never saw.
      const std::size_t extra = s.validated - s.paired, failed = s.failed - std::min(s.failed, s.refused);
      check.unconfirmed += extra;
      if (extra > failed) {
        check.unexplained += extra - failed;
        if (check.problems.size() < 10)
          check.problems.push_back(fmt::format("SM {}: {} validations on record, paired {} times, {} failed attempts",
                                               sm, s.validated, s.paired, s.failed));
      }
    }
  }
  return check;
}

Result<std::int64_t> last_audit_seq(store::OperatorStore& store) {
  DCAS_TRY_ASSIGN(log, store.audit_log());
  std::int64_t last = 0;
  for (const auto& e : log) last = std::max(last, e.seq);
  return last;
}

}  // namespace dcas::loadgen
