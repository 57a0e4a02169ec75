// The network services: `dcas ta serve`, `dcas ap serve` / `dcas headend serve`, and the host:
// `dcas host pair` and `dcas host run`.
#include <fmt/format.h>

#include <fstream>
#include <thread>

#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/service_manager.h"
#include "common/files.h"
#include "crypto/random.h"
#include "headend/personalizer.h"
#include "host/memory_files.h"
#include "host/receiver.h"
#include "observe/journal.h"
#include "observe/metrics.h"
#include "provisioning/device_files.h"
#include "service/ap_service.h"
#include "service/host_client.h"
#include "service/ta_service.h"
#include "service/tls.h"
#include "store/operator_store.h"

namespace dcas::cli {

void add_host_options(CLI::App* command);

namespace {

using service::Millis;

struct ServeArgs {
  std::string ta_dir = ".", ta_key, ta_cert, db, listen, state_dir, ap_dir, sm_dir, tp_dir, ap_address,
              network_id = "0000000000000001", port_file, config, headend_dir, watch, out, algo = "csa2", journal,
              trace, metrics, profile = "hardened1", log_format = "human";
  std::uint16_t ca_system_id = 0x7dca;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::size_t max_connections = 256, max_unverified = 64, max_in_flight = 64, max_frame = net::default_max_payload;
  double idle_timeout = 120, io_timeout = 10, answer_timeout = 15, presence_interval = 200, timeout = 30,
         retry_delay = 1, crl_refresh = 60, ta_crl_refresh = 5;
  unsigned presence_lease = 600, attempts = 1;
  bool quiet = false, json = false, hold = false, accept_load_test = false;
  std::vector<std::string> ta_addresses;  // ap serve: its TAs, in the order tried
};

ServeArgs& args() {
  static ServeArgs a;
  return a;
}

Millis seconds(double s) { return Millis(static_cast<std::int64_t>(s * 1000)); }

// --quiet, which a reload may change while the server's threads log.
std::atomic<bool>& quiet_now() {
  static std::atomic<bool> quiet{false};
  return quiet;
}

// The process's lines on stderr in --log-format, silenced by --quiet.
LogSink log_sink(std::string_view component) {
  quiet_now() = args().quiet;
  const LogFormat format = log_format_from_name(args().log_format).value_or(LogFormat::human);  // checked by CLI11
  return [sink = stderr_log(component, format)](const LogLine& line) {
    if (!quiet_now()) sink.write(line);
  };
}

service::ServerLimits server_limits() {
  const auto& a = args();
  service::ServerLimits l;
  l.link = {a.max_frame, seconds(a.io_timeout), seconds(a.idle_timeout)};
  l.max_connections = a.max_connections;
  l.max_unverified = a.max_unverified;
  return l;
}

// SIGHUP: the --config file's settings that are safe to change while serving are applied (the
// command line still wins); the others are reported as waiting for the next start.
void reload(CLI::App* command, const std::set<std::string>& reloadable, const LogSink& log,
            const std::function<void()>& apply) {
  notify_reloading();
  if (args().config.empty()) {
    log("SIGHUP: no --config file to reload");
  } else if (auto r = reload_config(command, reloadable); !r) {
    log.warn("SIGHUP: reload refused, nothing changed: " + r.error().detail);
  } else {
    quiet_now() = args().quiet;
    apply();
    log(fmt::format(
        "SIGHUP: reloaded {}: {}", args().config,
        r->applied.empty() ? std::string("nothing to change") : fmt::format("{}", fmt::join(r->applied, ", "))));
    if (!r->need_restart.empty())
      log(fmt::format("changed in {} but applied only at the next start: {}", args().config,
                      fmt::join(r->need_restart, ", ")));
  }
  notify_ready();
}

Result<void> write_port_file(const net::tcp::endpoint& endpoint) {
  return cli::write_port_file(args().port_file, endpoint.port());
}

// The --journal file, if one was asked for (observe/journal.h).
Result<std::unique_ptr<observe::Journal>> open_journal() {
  if (args().journal.empty()) return std::unique_ptr<observe::Journal>();
  return observe::Journal::open(args().journal);
}

// The --trace file, if one was asked for (observe/trace.h); its records name `recorder`.
Result<observe::Tracer> open_tracer(std::string recorder) {
  if (args().trace.empty()) return observe::Tracer{};
  DCAS_TRY_ASSIGN(writer, observe::TraceWriter::open(args().trace));
  return observe::Tracer{writer, std::move(recorder)};
}

// The --metrics endpoint, if one was asked for (observe/metrics.h), for the service of `role`.
Result<std::unique_ptr<observe::Metrics>> open_metrics(Role role, const LogSink& log) {
  if (args().metrics.empty()) return std::unique_ptr<observe::Metrics>();
  DCAS_TRY_ASSIGN(address, net::parse_host_port(args().metrics));
  // civetweb's form: an IPv6 address in brackets.
  const std::string host = address.host.find(':') != std::string::npos ? "[" + address.host + "]" : address.host;
  DCAS_TRY_ASSIGN(metrics, observe::Metrics::serve(fmt::format("{}:{}", host, address.port), role));
  log(fmt::format("metrics on http://{}:{}/metrics", host, metrics->port()));
  return std::move(metrics);
}

// --profile: the handshake every role of this process runs (docs/spec.md §1).
Result<wire::Profile> chosen_profile() { return wire::profile_from_name(args().profile); }

void add_profile_option(CLI::App* command) {
  command->add_option("--profile", args().profile, "The SM-TP handshake: hardened1 or koo2010 (the paper's)")
      ->capture_default_str();
}

Result<void> ta_serve(CLI::App* command) {
  auto& a = args();
  DCAS_TRY_ASSIGN(profile, chosen_profile());
  DCAS_TRY_ASSIGN(address, net::parse_host_port(a.listen));
  const std::filesystem::path dir(a.ta_dir);
  DCAS_TRY_ASSIGN(
      root, provisioning::load_ta_identity(a.ta_key.empty() ? dir / "ta.key" : std::filesystem::path(a.ta_key),
                                           a.ta_cert.empty() ? dir / "ta.crt" : std::filesystem::path(a.ta_cert)));
  DCAS_TRY_ASSIGN(store, store::open_store(a.db, a.ta_dir));
  protocol::TaPolicy policy;
  policy.presence_lease = std::chrono::seconds(a.presence_lease);
  policy.accept_load_test = a.accept_load_test;
  protocol::TrustedAuthority ta({root.key, root.certificate, root.certificate}, *store, crypto::system_random(), policy,
                                profile);
  const auto log = log_sink("ta");
  asio::io_context io(static_cast<int>(a.threads));
  DCAS_TRY_ASSIGN(tls, service::tls_context(service::TlsSide::server, root.key, root.certificate, root.certificate));
  DCAS_TRY_ASSIGN(trace, open_tracer("ta"));
  DCAS_TRY_ASSIGN(metrics, open_metrics(Role::ta, log));
  if (metrics) service::add_store_gauges(*metrics, *store, root.certificate);
  service::TaServiceConfig config{
      server_limits(), tls,
      a.max_in_flight, std::chrono::duration_cast<service::Millis>(std::chrono::duration<double>(a.ta_crl_refresh)),
      trace,           metrics.get()};
  service::TaService service(io, ta, config, log);
  DCAS_TRY_ASSIGN(bound, service.server().listen(address));
  // The store is named without its URI: a PostgreSQL URI may carry a password.
  const std::string store_name = a.db.empty() ? "sqlite:" + (std::filesystem::path(a.ta_dir) / "ta.sqlite").string()
                                 : a.db.starts_with("sqlite:") ? a.db
                                                               : "postgresql";
  log(fmt::format("listening on {}:{} ({} thread(s), store {}, profile {})", bound.address().to_string(), bound.port(),
                  a.threads, store_name, wire::profile_name(profile)));
  const service::ServerSignals signals(
      io, log,
      [&] {
        notify_stopping("draining");
        service.stop();
      },
      [&] {
        reload(command, {"quiet", "max-connections", "max-unverified", "max-in-flight", "crl-refresh"}, log, [&] {
          service.server().set_caps(a.max_connections, a.max_unverified);
          service.set_max_in_flight(a.max_in_flight);
          service.set_crl_refresh(seconds(a.ta_crl_refresh));
        });
      });
  DCAS_TRY(write_port_file(bound));  // after the signals are caught: the file tells scripts the server is up
  service.start();
  notify_ready();
  service::run_io(io, a.threads);
  log("stopped");
  return {};
}

Result<void> ap_serve(CLI::App* command) {
  auto& a = args();
  DCAS_TRY_ASSIGN(profile, chosen_profile());
  DCAS_TRY_ASSIGN(address, net::parse_host_port(a.listen));
  std::vector<net::HostPort> tas;
  for (const auto& ta : a.ta_addresses) {
    DCAS_TRY_ASSIGN(ta_address, net::parse_host_port(ta));
    tas.push_back(ta_address);
  }
  DCAS_TRY_ASSIGN(network_id, from_hex_exact(a.network_id, 8, "--network-id"));
  DCAS_TRY_ASSIGN(identity, provisioning::load_device_identity(a.ap_dir));
  DCAS_TRY_ASSIGN(ta_tls,
                  service::tls_context(service::TlsSide::client, identity.key, identity.certificate, identity.ta_root));
  const Bytes ta_root_der = identity.ta_root.der();
  // The headend behind the AP: its database names the network, its PS signs with the AP's key.
  std::unique_ptr<headend::HeadendStore> headend_store;
  std::optional<headend::Personalizer> personalizer;
  if (!a.headend_dir.empty()) {
    DCAS_TRY_ASSIGN(store, headend::HeadendStore::open_directory(a.headend_dir));
    DCAS_TRY_ASSIGN(headend_network, store->network_id());
    network_id = headend_network;
    headend_store = std::move(store);
    personalizer.emplace(*headend_store, identity.key, crypto::system_random());
  }
  const protocol::ApPolicy policy{seconds(a.answer_timeout), seconds(a.presence_interval)};
  DCAS_TRY_ASSIGN(ap, protocol::AuthProxy::create(std::move(identity), crypto::system_random(),
                                                  std::chrono::system_clock::now(), policy, profile));
  const auto log = log_sink(a.headend_dir.empty() ? "ap" : "headend");
  asio::io_context io(1);
  service::ApServiceConfig config;
  config.server = server_limits();
  config.tas = tas;
  config.ta_tls = ta_tls;
  config.ta_root_der = ta_root_der;
  config.network_id = network_id;
  config.crl_refresh = std::chrono::duration_cast<service::Millis>(std::chrono::duration<double>(a.crl_refresh));
  if (personalizer) config.images = &*personalizer;
  DCAS_TRY_ASSIGN(trace, open_tracer(fmt::format("{} {}", a.headend_dir.empty() ? "ap" : "headend", ap.id().hex())));
  config.trace = trace;
  DCAS_TRY_ASSIGN(metrics, open_metrics(Role::ap, log));
  config.metrics = metrics.get();
  DCAS_TRY_ASSIGN(journal, open_journal());
  if (journal) {
    config.observer.on_hop = [&journal](const protocol::Hop& hop, const std::optional<SmId>& sm) {
      journal->write(observe::hop_record(hop, sm));
    };
    config.observer.on_event = [&journal](const protocol::Event& e) {
      journal->write(observe::EventRecord{Role::ap, e});
    };
  }
  service::ApService service(io, ap, config, log);
  DCAS_TRY_ASSIGN(bound, service.server().listen(address));
  log(fmt::format("AP {} listening on {}:{}, TA at {}, network {}, profile {}{}", ap.id().hex(),
                  bound.address().to_string(), bound.port(), fmt::join(a.ta_addresses, " then "), to_hex(network_id),
                  wire::profile_name(profile),
                  personalizer ? ", with the PS and download server of " + a.headend_dir : std::string()));
  const service::ServerSignals signals(
      io, log,
      [&] {
        notify_stopping("draining the hosts");
        service.stop();
      },
      [&] {
        reload(command, {"quiet", "max-connections", "max-unverified", "presence-interval", "crl-refresh"}, log, [&] {
          service.server().set_caps(a.max_connections, a.max_unverified);
          service.set_presence_interval(seconds(a.presence_interval));
          service.set_crl_refresh(seconds(a.crl_refresh));
        });
      });
  DCAS_TRY(service.start());
  DCAS_TRY(write_port_file(bound));  // after the signals are caught: the file tells scripts the server is up
  notify_ready();
  service::run_io(io, 1);
  log("stopped");
  return {};
}

void host_pair() {
  auto& a = args();
  auto run = [&]() -> Result<nlohmann::json> {
    DCAS_TRY_ASSIGN(profile, chosen_profile());
    service::HostConfig config;
    DCAS_TRY_ASSIGN(ap, net::parse_host_port(a.ap_address));
    config.ap = ap;
    config.link = server_limits().link;
    config.pairing_timeout = seconds(a.timeout);
    config.attempts = a.attempts;
    config.retry_delay = seconds(a.retry_delay);
    config.hold = a.hold;
    DCAS_TRY_ASSIGN(sm_identity, provisioning::load_device_identity(a.sm_dir));
    DCAS_TRY_ASSIGN(tp_identity, provisioning::load_device_identity(a.tp_dir));
    const auto now = std::chrono::system_clock::now();
    // Both identities are what they claim before --state is created: a refused host leaves no trace.
    DCAS_TRY(pki::verify_device(sm_identity.certificate, sm_identity.ta_root, Role::sm, now));
    DCAS_TRY(pki::verify_device(tp_identity.certificate, tp_identity.ta_root, Role::tp, now));
    // The SM's and TP's secure memories: files under --state (kept across runs), else in memory.
    std::unique_ptr<protocol::NonVolatile<protocol::SmMemory>> sm_memory =
        std::make_unique<protocol::MemoryNonVolatile<protocol::SmMemory>>();
    std::unique_ptr<protocol::NonVolatile<protocol::TpMemory>> tp_memory =
        std::make_unique<protocol::MemoryNonVolatile<protocol::TpMemory>>();
    if (!a.state_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(a.state_dir, ec);
      if (!ec) std::filesystem::permissions(a.state_dir, std::filesystem::perms::owner_all, ec);
      if (ec) return fail(Errc::io_error, fmt::format("cannot create {}: {}", a.state_dir, ec.message()));
      DCAS_TRY_ASSIGN(sm_file, host::SmMemoryFile::open(std::filesystem::path(a.state_dir) / "sm.nvm"));
      DCAS_TRY_ASSIGN(tp_file, host::TpMemoryFile::open(std::filesystem::path(a.state_dir) / "tp.nvm"));
      sm_memory = std::move(sm_file);
      tp_memory = std::move(tp_file);
    }
    DCAS_TRY_ASSIGN(
        sm, protocol::SecureMicro::create(std::move(sm_identity), *sm_memory, crypto::system_random(), now, profile));
    DCAS_TRY_ASSIGN(tp, protocol::TransportProcessor::create(std::move(tp_identity), *tp_memory,
                                                             crypto::system_random(), now, {}, profile));
    const auto log = log_sink("host");
    DCAS_TRY_ASSIGN(journal, open_journal());
    DCAS_TRY_ASSIGN(trace, open_tracer("host " + sm.id().hex()));
    config.trace = trace;
    // What the host saw, in order: on stderr, in the journal, and in the --json outcome.
    nlohmann::json seen = nlohmann::json::array();
    protocol::HostDriver box(sm, tp);
    box.hooks.on_event = [&](Role at, const protocol::Event& e) {
      auto line = observe::event_log_line(e);
      line.text = fmt::format("{}.{}", role_name(at), line.text);
      line.fields.insert(line.fields.begin(), {"role", std::string(role_name(at))});
      log.write(line);
      const observe::Record record = observe::EventRecord{at, e};
      if (journal) journal->write(record);
      if (!protocol::is<protocol::events::ControlWordsInstalled>(e)) seen.push_back(observe::to_json(record));
      trace.event(at, e);
    };
    // The bus and the broadcast are traced here; the link to the AP by its channel.
    const auto on_bus = [&trace](const protocol::Hop& hop) {
      if (hop.from != Role::ap && hop.to != Role::ap)
        trace.message(observe::Link::sm_tp_bus, observe::party_of(hop.from), observe::party_of(hop.to), hop.bytes);
    };
    box.hooks.on_control_word = on_bus;
    box.hooks.on_cas = [&trace](ByteView message) {
      trace.message(observe::Link::broadcast, observe::Party::cas, observe::Party::sm, message);
    };
    box.hooks.on_hop = [&](const protocol::Hop& hop) {
      on_bus(hop);
      const observe::Record record = observe::hop_record(hop, sm.id());
      if (journal) journal->write(record);
      seen.push_back(observe::to_json(record));
    };
    nlohmann::json out{{"sm_id", sm.id().hex()},
                       {"tp_id", tp.id().hex()},
                       {"ap", a.ap_address},
                       {"profile", wire::profile_name(profile)}};
    auto algorithm = ts::algorithm_from_name(a.algo);
    if (!algorithm) return fail(Errc::invalid_argument, "--algo must be csa2, cissa or idsa");
    // `host run`: the broadcast is watched while the host is on the network.
    Result<void> watched;
    auto watch = [&] {
      host::Receiver receiver(box, *algorithm, a.ca_system_id, log);
      watched = transform_file(
          a.watch, a.out,
          [&](ByteView chunk, Bytes& produced) -> Result<void> {
            receiver.feed(chunk, produced);
            return {};
          },
          [&](Bytes& rest) -> Result<void> {
            receiver.finish(rest);
            if (receiver.stats().packets == 0) return std::unexpected(ts::not_a_transport_stream(a.watch));
            return {};
          });
      const auto& st = receiver.stats();
      out["watch"] = {{"in", a.watch},
                      {"out", a.out},
                      {"packets", st.packets},
                      {"ecms", st.ecms},
                      {"emms", st.emms},
                      {"emms_for_other_sms", st.emms_for_others},
                      {"control_word_updates", st.control_word_updates},
                      {"descrambled", st.descrambled},
                      {"left_scrambled", st.left_scrambled},
                      {"refused", st.refused},
                      {"stream_errors", st.stream_errors}};
    };
    auto report = service::pair_host(box, config, log, a.watch.empty() ? service::WhileConnected{} : watch);
    auto image = sm.installed_image();
    out["image"] = image ? nlohmann::json{{"version", image->version},
                                          {"network_id", to_hex(image->network_id)},
                                          {"code_sha256", to_hex(image->code_digest)}}
                         : nlohmann::json(nullptr);
    out["journal"] = std::move(seen);
    if (!report) {
      out["paired"] = false;
      out["error"] = std::string(errc_name(report.error().code));
      out["detail"] = report.error().detail;
      return out;
    }
    DCAS_TRY(watched);
    out["paired"] = true;
    out["attempts"] = report->attempts;
    if (report->download_error)
      out["download_error"] = {{"error", std::string(errc_name(report->download_error->code))},
                               {"detail", report->download_error->detail}};
    return out;
  };
  auto out = run();
  if (!out) return report_error("host pair", out.error());
  if (a.json) print_json(*out);
  if ((*out)["paired"].get<bool>()) {
    if (!a.json) {
      fmt::print("paired: SM {} with TP {} through the AP at {} (CW keys established, attempt {})\n",
                 (*out)["sm_id"].get<std::string>(), (*out)["tp_id"].get<std::string>(), a.ap_address,
                 (*out)["attempts"].get<unsigned>());
      if (!(*out)["image"].is_null())
        fmt::print("client image: version {} of network {}\n", (*out)["image"]["version"].get<std::uint64_t>(),
                   (*out)["image"]["network_id"].get<std::string>());
      if (out->contains("download_error"))
        fmt::print("download failed: {}: {}\n", (*out)["download_error"]["error"].get<std::string>(),
                   (*out)["download_error"]["detail"].get<std::string>());
      if (out->contains("watch"))
        fmt::print("watched {}: {} packets descrambled, {} left scrambled, {} control-word updates -> {}\n", a.watch,
                   (*out)["watch"]["descrambled"].get<std::uint64_t>(),
                   (*out)["watch"]["left_scrambled"].get<std::uint64_t>(),
                   (*out)["watch"]["control_word_updates"].get<std::uint64_t>(), a.out);
    }
    return;
  }
  if (error_log_format() == LogFormat::json)
    std::cerr << format_log_line({LogLevel::error,
                                  fmt::format("refused: {}: {}", (*out)["error"].get<std::string>(),
                                              (*out)["detail"].get<std::string>()),
                                  "pairing_failed",
                                  {{"error", (*out)["error"].get<std::string>()}}},
                                 "host", LogFormat::json)
              << '\n';
  else if (!a.json)
    std::cerr << "dcas host pair: refused: " << (*out)["error"].get<std::string>() << ": "
              << (*out)["detail"].get<std::string>() << '\n';
  exit_status() = exit_failure;
}

void add_link_options(CLI::App* c) {
  auto& a = args();
  c->add_option("--max-frame", a.max_frame, "Largest frame payload accepted, bytes")->capture_default_str();
  c->add_option("--idle-timeout", a.idle_timeout, "Seconds to wait for a peer's next frame")
      ->check(CLI::Range(0.01, 86400.0))
      ->capture_default_str();
  c->add_option("--io-timeout", a.io_timeout, "Seconds for the rest of a frame, and for every write")
      ->check(CLI::Range(0.01, 3600.0))
      ->capture_default_str();
  add_config_option(c, a.config);
  // Its default string lets a refused reload put an unset flag back (config_file.h).
  c->add_flag("--quiet", a.quiet, "No log lines on stderr")->default_str("false");
  c->add_option("--log-format", a.log_format,
                "Log lines on stderr: human (HH:MM:SS component: text) or json (one object a line, spec §21)")
      ->check(CLI::IsMember({"human", "json"}))
      ->capture_default_str();
  c->parse_complete_callback(
      [] { error_log_format() = log_format_from_name(args().log_format).value_or(LogFormat::human); });
  c->add_option("--journal", a.journal, "Append what this process saw (hops, events) to FILE, one JSON object a line");
  c->add_option("--trace", a.trace,
                "Record every frame on every link, the host's SM-TP bus and the events in FILE (pcapng, owner-only)");
}

void add_server_options(CLI::App* c) {
  auto& a = args();
  c->add_option("--max-connections", a.max_connections, "Connections served at once; more are refused net_busy")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  c->add_option("--max-unverified", a.max_unverified,
                "Connections not yet verified (a host's signed request, an AP's hello); a new one closes the oldest")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  c->add_option("--port-file", a.port_file, "Write the bound port to this file (for --listen HOST:0)");
  c->add_option("--metrics", a.metrics,
                "Serve live counters on HOST:PORT (HTTP GET /metrics, Prometheus text format; port 0: any free one)");
  add_link_options(c);
}

}  // namespace

Result<void> write_port_file(const std::string& path, std::uint16_t port) {
  if (path.empty()) return {};
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << port << '\n';
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return fail(Errc::io_error, fmt::format("cannot write {}: {}", path, ec.message()));
  return {};
}

void add_services(CLI::App& app, CLI::App& ta) {
  auto& a = args();
  auto* serve = ta.add_subcommand("serve", "Serve APs over TCP: pairing validation and presence reports");
  serve->add_option("--ta", a.ta_dir, "TA directory (ta.key, ta.crt, store.key)")->capture_default_str();
  serve->add_option("--key", a.ta_key, "The TA root's private key (default: TA_DIR/ta.key)");
  serve->add_option("--cert", a.ta_cert, "The TA root certificate (default: TA_DIR/ta.crt)");
  serve->add_option("--db", a.db, "Pairing store: sqlite:PATH or postgresql://... (default: TA_DIR/ta.sqlite)");
  serve->add_option("--listen", a.listen, "Address to listen on, HOST:PORT")->default_str("127.0.0.1:7400");
  // No captured default: it would be the build machine's core count in the man page.
  serve->add_option("--threads", a.threads, "Worker threads (RSA and store work; default: one per core)")
      ->check(CLI::Range(1u, 256u));
  serve->add_option("--max-in-flight", a.max_in_flight, "Requests in progress per AP link")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  serve->add_option("--presence-lease", a.presence_lease, "Seconds a paired host counts as present")
      ->check(CLI::Range(1u, 31u * 86400u))
      ->capture_default_str();
  serve->add_flag("--accept-load-test", a.accept_load_test,
                  "Validate load-test identities (`dcas loadgen issue`, IDs 10ad...): only for a load test");
  serve
      ->add_option("--crl-refresh", a.ta_crl_refresh,
                   "Seconds between the TA's own reads of the store's CRL (admitted APs it revokes are dropped)")
      ->check(CLI::Range(0.05, 86400.0))
      ->capture_default_str();
  add_server_options(serve);
  add_profile_option(serve);
  serve->callback([serve] {
    if (args().listen.empty()) args().listen = "127.0.0.1:7400";
    if (auto r = ta_serve(serve); !r) report_error("ta serve", r.error());
  });

  // `ap serve` and `headend serve` are one service: the headend's has its directory required.
  auto add_ap_serve = [&](CLI::App* parent, const char* description, bool headend, const char* name) {
    auto* cmd = parent->add_subcommand("serve", description);
    cmd->add_option("--ap", a.ap_dir, "The AP's device directory (key.pem, cert.pem, ta.crt)")->required();
    cmd->add_option("--ta", a.ta_addresses,
                    "The TA's address, HOST:PORT; repeat for the other nodes of its store, tried in turn when the "
                    "link goes")
        ->required();
    cmd->add_option("--listen", a.listen, "Address to listen on, HOST:PORT")->default_str("127.0.0.1:7500");
    cmd->add_option("--answer-timeout", a.answer_timeout, "Seconds to wait for the TA's answer")
        ->check(CLI::Range(0.01, 3600.0))
        ->capture_default_str();
    cmd->add_option("--presence-interval", a.presence_interval, "Seconds between presence renewals")
        ->check(CLI::Range(0.05, 31.0 * 86400))
        ->capture_default_str();
    cmd->add_option("--crl-refresh", a.crl_refresh, "Seconds between requests for the TA's current CRL")
        ->check(CLI::Range(0.05, 86400.0))
        ->capture_default_str();
    if (headend) {
      cmd->add_option("--headend", a.headend_dir, "The headend's directory (its network, images, CAS)")->required();
    } else {
      cmd->add_option("--network-id", a.network_id, "Network ID announced, 16 hex digits")->capture_default_str();
      cmd->add_option("--headend", a.headend_dir,
                      "Headend directory: serve its client images (PS, download server); the network ID is its");
    }
    add_server_options(cmd);
    add_profile_option(cmd);
    cmd->callback([cmd, name] {
      if (args().listen.empty()) args().listen = "127.0.0.1:7500";
      if (auto r = ap_serve(cmd); !r) report_error(name, r.error());
    });
  };
  auto* ap = app.add_subcommand("ap", "Authentication Proxy: the headend's link between hosts and the TA");
  ap->require_subcommand(1);
  add_ap_serve(ap, "Serve set-top hosts, relaying their pairing to the TA", false, "ap serve");
  add_ap_serve(app.get_subcommand("headend"), "The headend on the network: AP, PS and download server", true,
               "headend serve");

  auto* host = app.add_subcommand("host", "A set-top host: one SM and one TP");
  host->require_subcommand(1);
  auto* pair = host->add_subcommand("pair", "Pair the SM and TP through an AP; exit status 1 if refused");
  add_host_options(pair);
  pair->callback([] { host_pair(); });
  auto* run = host->add_subcommand(
      "run", "Join the network (pair, download the client image) and watch a broadcast; exit status 1 if refused");
  add_host_options(run);
  run->add_option("--watch", a.watch, "The scrambled broadcast, an MPEG-TS file")->required();
  run->add_option("--out", a.out, "Where the descrambled stream goes")->required();
  run->add_option("--algo", a.algo, "The broadcast's scrambling: csa2, cissa or idsa")->capture_default_str();
  run->add_option("--ca-system-id", a.ca_system_id, "The CA system whose ECMs and EMMs to use")->capture_default_str();
  run->callback([] { host_pair(); });
}

void add_host_options(CLI::App* pair) {
  auto& a = args();
  pair->add_option("--sm", a.sm_dir, "The SM's device directory")->required();
  pair->add_option("--tp", a.tp_dir, "The TP's device directory")->required();
  pair->add_option("--ap", a.ap_address, "The AP's address, HOST:PORT")->required();
  pair->add_option("--timeout", a.timeout, "Seconds for one attempt")->capture_default_str();
  pair->add_option("--attempts", a.attempts, "Attempts after transport failures (never after a refusal)")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  pair->add_option("--retry-delay", a.retry_delay, "Seconds between attempts")->capture_default_str();
  pair->add_option("--state", a.state_dir,
                   "Directory for the SM's and TP's secure memories (sm.nvm, tp.nvm, owner-only); default: none kept");
  pair->add_flag("--hold", a.hold, "Once paired, stay on the network until SIGINT/SIGTERM");
  pair->add_flag("--json", a.json, "Print the outcome as JSON");
  add_profile_option(pair);
  add_link_options(pair);
}

}  // namespace dcas::cli
