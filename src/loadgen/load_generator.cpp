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

// One boot of host `host`: its roles from its identities and memory, a connection to its AP, the
// pairing, and the link closed (the host leaves the network, as a box that powers off).
Task<Timed> attempt_once(const provisioning::LoadIdentities& ids, HostState& state, std::uint32_t host,
                         std::uint32_t round, const LoadPlan& plan) {
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
  auto sm =
      protocol::SecureMicro::create(std::move(*sm_identity), state.sm, crypto::system_random(), now, plan.profile);
  if (!sm) co_return ended(sm.error());
  auto tp = protocol::TransportProcessor::create(std::move(*tp_identity), state.tp, crypto::system_random(), now, {},
                                                 plan.profile);
  if (!tp) co_return ended(tp.error());
  protocol::HostDriver box(*sm, *tp);
  service::HostConfig config;
  config.ap = plan.aps[host % plan.aps.size()];
  config.link = plan.link;
  config.pairing_timeout = plan.pairing_timeout;
  service::PairingReport report;
  t.attempt.started_ms = wall_ms();
  t.connected = Clock::now();
  for (unsigned tries = 1;; ++tries) {
    auto link = co_await service::pair_once(box, config, report);
    if (link) {
      (*link)->finish();
      co_return ended(std::nullopt);
    }
    if (!service::retryable(link.error()) || tries >= std::max(1u, plan.attempts)) co_return ended(link.error());
    ++t.attempt.retries;
    asio::steady_timer pause(co_await asio::this_coro::executor, plan.retry_delay);
    co_await pause.async_wait(as_tuple(use_awaitable));
  }
}

// What the workers of a run share. A round is every host once; the next round starts when the
// last attempt of this one has ended, after the plan's gap.
struct Run {
  const provisioning::LoadIdentities& ids;
  const LoadPlan& plan;
  std::size_t hosts = 0;
  std::vector<HostState> state;
  Clock::time_point t0 = Clock::now();  // --duration counts from here
  Clock::time_point round_start = t0;   // --rate paces each round from its start
  std::uint32_t round = 0;
  std::atomic<std::size_t> next{0};  // the next host of this round
  std::atomic<std::size_t> started{0}, done{0}, paired{0}, failed{0};
  std::atomic<bool> out_of_time{false};
  std::mutex mutex;  // guards what follows
  std::vector<Attempt> attempts;
  std::optional<Clock::time_point> first_connected;
  Clock::time_point last_end = t0;

  bool past_duration(Clock::time_point at) const { return plan.duration.count() > 0 && at - t0 >= plan.duration; }
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
    Timed t = co_await attempt_once(run.ids, run.state[i], static_cast<std::uint32_t>(i), run.round, run.plan);
    ++(t.attempt.failure ? run.failed : run.paired);
    std::lock_guard lock(run.mutex);
    run.attempts.push_back(std::move(t.attempt));
    if (!run.first_connected || t.connected < *run.first_connected) run.first_connected = t.connected;
    run.last_end = std::max(run.last_end, t.ended);
    ++run.done;
  }
}

// One round: every host once, `concurrency` at a time, on `threads` threads. Each worker runs on
// a strand of its own: a host's channel is driven from one thread at a time.
void run_round(Run& run) {
  run.next = 0;
  run.round_start = Clock::now();
  asio::io_context io(static_cast<int>(run.plan.threads));
  for (std::size_t w = 0; w < std::min(run.plan.concurrency, run.hosts); ++w)
    asio::co_spawn(asio::make_strand(io), worker(run), asio::detached);
  std::vector<std::jthread> threads;
  for (unsigned t = 1; t < run.plan.threads; ++t) threads.emplace_back([&io] { io.run(); });
  io.run();
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

Result<LoadReport> run_load(const provisioning::LoadIdentities& ids, const LoadPlan& plan,
                            const std::function<void(const Progress&)>& progress) {
  if (plan.aps.empty()) return fail(Errc::invalid_argument, "no AP to connect to");
  const std::size_t hosts = plan.hosts ? plan.hosts : ids.hosts.size();
  if (hosts == 0 || hosts > ids.hosts.size())
    return fail(Errc::invalid_argument,
                fmt::format("{} hosts asked for, {} identities at hand", hosts, ids.hosts.size()));
  if (plan.concurrency == 0 || plan.threads == 0) return fail(Errc::invalid_argument, "no concurrency");
  Run run{ids, plan, hosts};
  run.state.resize(hosts);
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
  for (run.round = 0; run.round < std::max(1u, plan.rounds) && !run.out_of_time; ++run.round) {
    if (run.round > 0) std::this_thread::sleep_for(plan.round_gap);  // every host's leaving reaches the TA
    if (run.past_duration(Clock::now())) break;
    run_round(run);
  }
  reporter.request_stop();
  reporter.join();
  LoadReport report;
  if (run.first_connected) report.seconds = std::chrono::duration<double>(run.last_end - *run.first_connected).count();
  report.attempts = std::move(run.attempts);
  std::sort(report.attempts.begin(), report.attempts.end(),
            [](const Attempt& x, const Attempt& y) { return std::tie(x.round, x.host) < std::tie(y.round, y.host); });
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
  for (const auto& a : report.attempts) {
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
