// `dcas loadgen issue` and `dcas loadgen run`: load-test identities, and many hosts pairing at once
// through running APs (docs/spec.md §22).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "bench/public_key_work.h"
#include "cli/commands.h"
#include "crypto/random.h"
#include "loadgen/load_generator.h"
#include "loadgen/process_stats.h"
#include "pki/authority.h"
#include "provisioning/device_files.h"
#include "provisioning/load_identities.h"
#include "store/operator_store.h"

namespace dcas::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct LoadgenArgs {
  std::string ta_dir = ".", db, out = "loadgen.ids", identities = "loadgen.ids", profile = "hardened1", check_db;
  std::vector<std::string> aps, watch;
  std::size_t hosts = 0, key_pool = 16, concurrency = 64;
  unsigned rounds = 1, threads = std::max(1u, std::thread::hardware_concurrency());
  int days = 30;
  double rate = 0, duration = 0, timeout = 30, round_gap = 1, retry_delay = 1;
  unsigned attempts = 1;
  std::size_t held = 0;
  double bound_seconds = 0;
  bool json = false;
};

LoadgenArgs& args() {
  static LoadgenArgs a;
  return a;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Every host's SM and TP registered as Virgin, a few thousand per transaction.
Result<void> register_hosts(store::OperatorStore& db, const provisioning::LoadIdentities& ids) {
  constexpr std::size_t batch = 5000;
  std::vector<store::NewDevice> devices;
  for (std::size_t i = 0; i < ids.hosts.size(); ++i) {
    const auto& h = ids.hosts[i];
    devices.push_back({Role::sm, h.sm.bytes, h.ki});
    devices.push_back({Role::tp, h.tp.bytes, std::nullopt});
    if (devices.size() >= 2 * batch || i + 1 == ids.hosts.size()) {
      DCAS_TRY(db.add_devices(devices));
      devices.clear();
    }
  }
  return {};
}

void run_issue() {
  auto& a = args();
  const auto start = Clock::now();
  auto ta = provisioning::load_ta_directory(a.ta_dir);
  if (!ta) return report_error("loadgen issue", ta.error());
  auto db = store::open_store(a.db, a.ta_dir);
  if (!db) return report_error("loadgen issue", db.error());
  provisioning::LoadIssueOptions options{
      a.hosts, a.key_pool, a.days, a.threads,
      a.json ? std::function<void(std::size_t, std::size_t)>{}
             : std::function<void(std::size_t, std::size_t)>{
                   [](std::size_t done, std::size_t total) { show_progress("certificates", done, total); }}};
  auto ids = provisioning::issue_load_identities(*ta, options, crypto::system_random());
  if (!ids) return report_error("loadgen issue", ids.error());
  const double issued = seconds_since(start);
  // The file first: a registration that fails half-way leaves devices whose keys and Ki exist.
  if (auto r = provisioning::save_load_identities(*ids, a.out); !r) return report_error("loadgen issue", r.error());
  const double saved = seconds_since(start);
  if (auto r = register_hosts(**db, *ids); !r) return report_error("loadgen issue", r.error());
  const double registered = seconds_since(start) - saved;
  const double total = seconds_since(start);
  if (a.json)
    print_json({{"hosts", a.hosts},
                {"key_pool", a.key_pool},
                {"file", a.out},
                {"seconds", total},
                {"issue_seconds", issued},
                {"register_seconds", registered}});
  else
    fmt::print(
        "issued {} load-test hosts (an SM and a TP each, over {} key pairs) in {:.1f} s: certificates {:.1f} s, the "
        "store {:.1f} s\n  identities   {} (mode 0600)\n  the TA validates them only with --accept-load-test\n",
        a.hosts, a.key_pool, total, issued, registered, a.out);
}

struct Watched {
  std::string name;
  int pid = 0;
};

Result<std::vector<Watched>> watched_processes() {
  std::vector<Watched> out;
  for (const auto& w : args().watch) {
    const auto eq = w.find('=');
    if (eq == std::string::npos || eq == 0)
      return fail(Errc::invalid_argument, fmt::format("--watch {}: NAME=PID expected", w));
    try {
      out.push_back({w.substr(0, eq), std::stoi(w.substr(eq + 1))});
    } catch (const std::exception&) {
      return fail(Errc::invalid_argument, fmt::format("--watch {}: PID is not a number", w));
    }
  }
  return out;
}

void print_progress(const loadgen::Progress& p) {
  fmt::print(stderr, "{:7.1f} s  started {}  done {}  paired {}  failed {}  in flight {}  ({:.0f} pairings/s)\n",
             p.seconds, p.started, p.done, p.paired, p.failed, p.in_flight,
             p.seconds > 0 ? static_cast<double>(p.paired) / p.seconds : 0.0);
}

// The keys of the storm's bound: four RSA keys of the hosts' size (SM, TP, AP, TA), a root and a
// device certificate, made once for the run (which keys they are does not change their cost).
struct BoundKeys {
  crypto::RsaPrivateKey sm, tp, ap, ta;
  pki::Certificate root, device;
  bench::PublicKeyWork::Keys keys() const { return {sm, tp, ap, ta, root, device}; }
};

Result<std::unique_ptr<BoundKeys>> make_bound_keys() {
  auto key = [] { return crypto::RsaPrivateKey::generate(); };
  DCAS_TRY_ASSIGN(sm, key());
  DCAS_TRY_ASSIGN(tp, key());
  DCAS_TRY_ASSIGN(ap, key());
  DCAS_TRY_ASSIGN(ta, key());
  const auto now = std::chrono::system_clock::now();
  const pki::Validity validity{now - std::chrono::days(1), now + std::chrono::days(1)};
  DCAS_TRY_ASSIGN(root, pki::make_root(ta, "Storm bound TA", validity, crypto::system_random()));
  DCAS_TRY_ASSIGN(device, pki::issue_device(ta, root, Role::sm, Bytes(8, 0x53), sm.public_key(), validity,
                                            crypto::system_random()));
  return std::make_unique<BoundKeys>(
      BoundKeys{std::move(sm), std::move(tp), std::move(ap), std::move(ta), std::move(root), std::move(device)});
}

using ServerStats = std::vector<std::pair<Watched, std::optional<loadgen::ProcessStats>>>;

ServerStats read_servers(const std::vector<Watched>& watched) {
  ServerStats out;
  for (const auto& w : watched) out.emplace_back(w, loadgen::read_process_stats(w.pid));
  return out;
}

nlohmann::json rounds_json(const loadgen::LoadReport& r) {
  nlohmann::json rounds = nlohmann::json::array();
  for (const auto& round : r.rounds)
    rounds.push_back({{"seconds", round.seconds},
                      {"attempts", round.attempts},
                      {"paired", round.paired},
                      {"pairings_per_second", round.pairings_per_second()},
                      {"bound_before", round.bound_before},
                      {"bound_after", round.bound_after},
                      {"efficiency", round.efficiency()}});
  return rounds;
}

// What holding cost each watched server: its RSS with every held host on the network against
// before the run, per held connection.
nlohmann::json held_json(const loadgen::LoadReport& r, const ServerStats& before, const ServerStats& held,
                         const ServerStats& after_rounds) {
  const std::size_t connected = static_cast<std::size_t>(
      std::count_if(r.held.begin(), r.held.end(), [](const loadgen::Attempt& a) { return !a.failure; }));
  nlohmann::json servers = nlohmann::json::object();
  for (std::size_t i = 0; i < before.size() && i < held.size(); ++i) {
    if (!before[i].second || !held[i].second) continue;
    const auto grew = static_cast<double>(held[i].second->rss_kib) - static_cast<double>(before[i].second->rss_kib);
    servers[before[i].first.name] = {{"rss_kib_before", before[i].second->rss_kib},
                                     {"rss_kib_held", held[i].second->rss_kib},
                                     {"sockets_held", held[i].second->sockets},
                                     {"sockets_after_rounds", i < after_rounds.size() && after_rounds[i].second
                                                                  ? after_rounds[i].second->sockets
                                                                  : 0},
                                     {"kib_per_connection", connected ? grew / static_cast<double>(connected) : 0.0}};
  }
  return {{"hosts", r.held.size()}, {"connected", connected}, {"servers", servers}};
}

nlohmann::json report_json(const loadgen::LoadReport& r, const std::optional<loadgen::AuditCheck>& audit,
                           const ServerStats& servers) {
  nlohmann::json j{
      {"seconds", r.seconds},
      {"attempts", r.attempts.size()},
      {"paired", r.paired()},
      {"pairings_per_second", r.seconds > 0 ? static_cast<double>(r.paired()) / r.seconds : 0.0},
      {"latency_ms",
       {{"p50", r.latency_quantile(0.5)}, {"p99", r.latency_quantile(0.99)}, {"max", r.latency_quantile(1)}}},
      {"failures", r.failures_by_error()},
      {"retries", r.retries()},
      {"rounds", rounds_json(r)}};
  if (const auto e = r.efficiency(); e.median > 0) {
    j["efficiency"] = e.median;
    j["efficiency_quartiles"] = {e.low, e.high};
    j["spread"] = e.high - e.low;
  }
  nlohmann::json s = nlohmann::json::object();
  for (const auto& [w, stats] : servers)
    s[w.name] = stats ? nlohmann::json{{"pid", w.pid},
                                       {"rss_kib", stats->rss_kib},
                                       {"peak_rss_kib", stats->peak_rss_kib},
                                       {"sockets", stats->sockets}}
                      : nlohmann::json{{"pid", w.pid}, {"gone", true}};
  j["servers"] = s;
  if (audit)
    j["audit"] = {{"validated", audit->validated},
                  {"refused", audit->refused},
                  {"lost", audit->lost},
                  {"unconfirmed", audit->unconfirmed},
                  {"unexplained", audit->unexplained},
                  {"nothing_lost", audit->nothing_lost()},
                  {"problems", audit->problems}};
  return j;
}

void print_report(const nlohmann::json& j) {
  fmt::print("{} attempts in {:.2f} s: {} paired ({:.1f} pairings/s)\n", j["attempts"].get<std::size_t>(),
             j["seconds"].get<double>(), j["paired"].get<std::size_t>(), j["pairings_per_second"].get<double>());
  fmt::print("latency (paired): p50 {:.1f} ms, p99 {:.1f} ms, max {:.1f} ms\n", j["latency_ms"]["p50"].get<double>(),
             j["latency_ms"]["p99"].get<double>(), j["latency_ms"]["max"].get<double>());
  if (j.contains("efficiency")) {
    for (const auto& round : j["rounds"])
      fmt::print("  round: {:.1f} pairings/s against a bound of {:.1f}/s before and {:.1f}/s after: {:.3f}\n",
                 round["pairings_per_second"].get<double>(), round["bound_before"].get<double>(),
                 round["bound_after"].get<double>(), round["efficiency"].get<double>());
    fmt::print("efficiency (median of the rounds): {:.3f} ({:.3f}-{:.3f})\n", j["efficiency"].get<double>(),
               j["efficiency_quartiles"][0].get<double>(), j["efficiency_quartiles"][1].get<double>());
  }
  if (j.contains("held")) {
    const auto& h = j["held"];
    fmt::print("held: {} of {} hosts on the network through the rounds\n", h["connected"].get<std::size_t>(),
               h["hosts"].get<std::size_t>());
    for (const auto& [name, s] : h["servers"].items())
      fmt::print("  {}: RSS {} KiB before, {} KiB held ({:.1f} KiB per connection), {} sockets\n", name,
                 s["rss_kib_before"].get<std::size_t>(), s["rss_kib_held"].get<std::size_t>(),
                 s["kib_per_connection"].get<double>(), s["sockets_held"].get<std::size_t>());
  }
  for (const auto& [error, n] : j["failures"].items()) fmt::print("failed: {} x {}\n", n.get<std::size_t>(), error);
  if (const auto retries = j["retries"].get<std::size_t>(); retries > 0)
    fmt::print("retried: {} tries failed on the transport and were tried again\n", retries);
  for (const auto& [name, s] : j["servers"].items())
    if (s.contains("gone"))
      fmt::print("{} (pid {}): gone\n", name, s["pid"].get<int>());
    else
      fmt::print("{} (pid {}): RSS {} KiB (peak {} KiB), {} sockets\n", name, s["pid"].get<int>(),
                 s["rss_kib"].get<std::size_t>(), s["peak_rss_kib"].get<std::size_t>(),
                 s["sockets"].get<std::size_t>());
  if (j.contains("audit")) {
    const auto& a = j["audit"];
    fmt::print("audit log: {} validations, {} refusals; lost {}, unconfirmed {} (unexplained {}): {}\n",
               a["validated"].get<std::size_t>(), a["refused"].get<std::size_t>(), a["lost"].get<std::size_t>(),
               a["unconfirmed"].get<std::size_t>(), a["unexplained"].get<std::size_t>(),
               a["nothing_lost"].get<bool>() ? "nothing lost" : "LOST");
    for (const auto& p : a["problems"]) fmt::print("  {}\n", p.get<std::string>());
  }
}

void run_load() {
  auto& a = args();
  auto ids = provisioning::load_load_identities(a.identities);
  if (!ids) return report_error("loadgen run", ids.error());
  auto watched = watched_processes();
  if (!watched) return report_error("loadgen run", watched.error());
  loadgen::LoadPlan plan;
  for (const auto& ap : a.aps) {
    auto address = net::parse_host_port(ap);
    if (!address) return report_error("loadgen run", address.error());
    plan.aps.push_back(*address);
  }
  auto profile = wire::profile_from_name(a.profile);
  if (!profile) return report_error("loadgen run", profile.error());
  plan.profile = *profile;
  plan.hosts = a.hosts;
  plan.rounds = a.rounds;
  plan.round_gap = loadgen::Millis(static_cast<std::int64_t>(a.round_gap * 1000));
  plan.rate = a.rate;
  plan.concurrency = a.concurrency;
  plan.duration = loadgen::Millis(static_cast<std::int64_t>(a.duration * 1000));
  plan.pairing_timeout = loadgen::Millis(static_cast<std::int64_t>(a.timeout * 1000));
  plan.threads = a.threads;
  plan.attempts = a.attempts;
  plan.retry_delay = loadgen::Millis(static_cast<std::int64_t>(a.retry_delay * 1000));
  plan.held = a.held;
  const ServerStats before = read_servers(*watched);
  ServerStats held, after_rounds;
  plan.on_held = [&] { held = read_servers(*watched); };
  if (a.held > 0) plan.on_rounds_done = [&] { after_rounds = read_servers(*watched); };
  std::unique_ptr<BoundKeys> bound_keys;
  if (a.bound_seconds > 0) {
    auto keys = make_bound_keys();
    if (!keys) return report_error("loadgen run", keys.error());
    bound_keys = std::move(*keys);
    plan.bound = [&] {
      return bench::pairing_bound_per_second(
          bound_keys->keys(), plan.profile, std::max(1u, std::thread::hardware_concurrency()),
          std::chrono::milliseconds(static_cast<std::int64_t>(a.bound_seconds * 1000)));
    };
  }
  // Where the checked store's audit log stands before the run. The store is opened again after
  // it: the database may have restarted meanwhile.
  auto open_checked = [&] { return store::open_store(a.check_db == "default" ? "" : a.check_db, a.ta_dir); };
  std::int64_t after_seq = 0;
  if (!a.check_db.empty()) {
    auto db = open_checked();
    if (!db) return report_error("loadgen run", db.error());
    auto seq = loadgen::last_audit_seq(**db);
    if (!seq) return report_error("loadgen run", seq.error());
    after_seq = *seq;
  }
  using ProgressLine = std::function<void(const loadgen::Progress&)>;
  auto report = loadgen::run_load(*ids, plan, a.json ? ProgressLine{} : ProgressLine{print_progress});
  if (!report) return report_error("loadgen run", report.error());
  const ServerStats servers = read_servers(*watched);
  std::optional<loadgen::AuditCheck> audit;
  if (!a.check_db.empty()) {
    auto db = open_checked();
    if (!db) return report_error("loadgen run", db.error());
    auto check = loadgen::check_audit(**db, *ids, *report, after_seq);
    if (!check) return report_error("loadgen run", check.error());
    audit = *check;
  }
  auto j = report_json(*report, audit, servers);
  if (a.held > 0) j["held"] = held_json(*report, before, held, after_rounds);
  if (a.json)
    print_json(j);
  else
    print_report(j);
  if (audit && !audit->nothing_lost()) exit_status() = exit_failure;
}

}  // namespace

void add_loadgen(CLI::App& app) {
  auto& a = args();
  auto* loadgen = app.add_subcommand("loadgen", "Load tests: many simulated hosts pairing at once (docs/spec.md §22)");
  loadgen->require_subcommand(1);

  auto* issue = loadgen->add_subcommand(
      "issue", "Issue load-test identities (an SM and a TP per host, over a small pool of keys) and register them");
  issue->add_option("--ta", a.ta_dir, "TA directory (from `dcas ta init`)")->capture_default_str();
  issue->add_option("--db", a.db, "Pairing store: sqlite:PATH or postgresql://... (default: TA_DIR/ta.sqlite)");
  issue->add_option("--hosts", a.hosts, "Hosts to issue")
      ->required()
      ->check(CLI::Range(std::size_t{1}, std::size_t{2'000'000}));
  issue->add_option("--key-pool", a.key_pool, "RSA-2048 key pairs the certificates share")
      ->check(CLI::Range(std::size_t{1}, std::size_t{65535}))
      ->capture_default_str();
  issue->add_option("--days", a.days, "Validity of the certificates in days")
      ->check(CLI::Range(1, 3650))
      ->capture_default_str();
  issue->add_option("--threads", a.threads, "Threads signing certificates (default: one per core)")
      ->check(CLI::Range(1u, 256u));
  issue->add_option("--out", a.out, "The identity file to write (mode 0600)")->capture_default_str();
  issue->add_flag("--json", a.json, "Print the result as JSON");
  issue->callback(run_issue);

  auto* run = loadgen->add_subcommand("run", "Hosts pairing through running APs; a report of what they saw");
  run->add_option("--identities", a.identities, "The file `dcas loadgen issue` wrote")->capture_default_str();
  run->add_option("--ap", a.aps, "An AP (or headend) to connect to, HOST:PORT; repeat to spread the hosts")->required();
  run->add_option("--hosts", a.hosts, "Hosts to run (default: every identity)");
  run->add_option("--rounds", a.rounds, "Rounds: every host once each (2: pair, then a reboot storm)")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  run->add_option("--round-gap", a.round_gap, "Seconds between rounds (every host's leaving reaches the TA first)")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  run->add_option("--rate", a.rate, "Attempts started per second in a round (default: as fast as --concurrency allows)")
      ->check(CLI::Range(0.0, 1e6));
  run->add_option("--concurrency", a.concurrency, "Attempts in progress at once")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
      ->capture_default_str();
  run->add_option("--duration", a.duration, "Seconds after which no attempt starts (default: none)")
      ->check(CLI::Range(0.0, 86400.0));
  run->add_option("--timeout", a.timeout, "Seconds an attempt may take, connect to key confirmation")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  run->add_option("--attempts", a.attempts,
                  "Tries per boot: a transport failure (the AP or its TA gone) is tried again, a refusal never")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  run->add_option("--retry-delay", a.retry_delay, "Seconds between tries")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  run->add_option("--threads", a.threads, "Threads running the hosts (default: one per core)")
      ->check(CLI::Range(1u, 256u));
  run->add_option("--profile", a.profile, "koo2010 or hardened1")->capture_default_str();
  run->add_option("--hold", a.held,
                  "Hosts that pair first and stay connected through the rounds (the identities before --hosts'); "
                  "the watched servers' memory per held connection is reported");
  run->add_option("--bound", a.bound_seconds,
                  "Seconds to measure the machine's bound before the first round and after each (the profile's "
                  "public-key operations of a pairing, on every core): each round's efficiency against it")
      ->check(CLI::Range(0.0, 600.0));
  run->add_option("--check-db", a.check_db,
                  "After the run, check the store's audit log against what the hosts saw: sqlite:PATH, "
                  "postgresql://..., or `default` (TA_DIR/ta.sqlite)");
  run->add_option("--ta", a.ta_dir, "TA directory, for --check-db (its store.key)")->capture_default_str();
  run->add_option("--watch", a.watch, "A server to report on, NAME=PID (its RSS and sockets); repeatable");
  run->add_flag("--json", a.json, "Print the report as JSON (no progress lines)");
  run->callback(run_load);
}

}  // namespace dcas::cli
