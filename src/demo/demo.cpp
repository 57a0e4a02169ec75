#include "demo/demo.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>

#include "attack/attack.h"
#include "common/files.h"
#include "demo/harness.h"
#include "demo/timeline.h"
#include "kat/selftest.h"
#include "observe/journal.h"
#include "observe/trace_view.h"
#include "protocol/pairing_state.h"
#include "ts/compare.h"
#include "ts/stream.h"
#include "wire/message.h"

namespace dcas::demo {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Device {
  std::string id;
  fs::path dir;
};

// A role process that wrote a trace (--trace), in the order they started.
struct Traced {
  std::string name;
  fs::path path;
  bool host = false;
};

struct Box {
  unsigned number = 0;
  Device sm, tp;
  fs::path state;
  bool subscribed = true;
  std::string label() const { return fmt::format("host {}", number); }
};

struct Network {
  std::string name, network_id;
  Device ap;
  fs::path headend;
  Server server;
  std::string address;
  fs::path journal;  // the headend's: its AP-TA hops and events
  fs::path scrambled;
};

class Demo {
 public:
  Demo(const DemoOptions& o, fs::path dir, Timeline& t, fs::path trace_dir, std::vector<Traced>& traced)
      : o_(o),
        dir_(std::move(dir)),
        t_(t),
        h_(o.binary.empty() ? self_executable() : o.binary, dir_ / "logs"),
        trace_dir_(std::move(trace_dir)),
        traced_(traced) {}
  Result<void> run();
  ~Demo() { stop_servers(); }

 private:
  Result<Run> dcas(const std::vector<std::string>& argv, const std::string& name, std::chrono::seconds timeout = 120s) {
    return h_.run(profiled(argv, name), name, timeout);
  }
  // Every process that runs protocol roles runs the demo's profile and log format, and writes a
  // trace if asked.
  std::vector<std::string> profiled(std::vector<std::string> argv, const std::string& name) {
    const bool roles = argv.size() >= 2 && ((argv[0] == "ta" && argv[1] == "serve") ||
                                            (argv[0] == "headend" && argv[1] == "serve") || argv[0] == "host");
    if (!roles) return argv;
    argv.insert(argv.end(), {"--profile", o_.profile, "--log-format", o_.log_format});
    if (!trace_dir_.empty()) {
      std::string file = name;
      for (unsigned n = 2;
           std::any_of(traced_.begin(), traced_.end(), [&](const Traced& t) { return t.name == file; });)
        file = fmt::format("{}-{}", name, n++);
      traced_.push_back({file, trace_dir_ / (file + ".pcapng"), argv[0] == "host"});
      argv.insert(argv.end(), {"--trace", traced_.back().path.string()});
    }
    return argv;
  }
  Result<std::vector<Device>> issue(const std::string& role, unsigned count);
  Result<void> provision();
  Result<void> start_servers();
  Result<void> make_source();
  // `via`: another address than the network's AP to reach it by (the attacker's relay).
  Result<bool> join(Box& h, Network& n, bool expect_refusal = false, const std::string& via = "");
  Result<void> broadcast(Network& n);
  // Watches `broadcast` (default: the network's own) while on network `n`.
  Result<nlohmann::json> watch(Box& h, Network& n, const fs::path& out, bool expect_picture,
                               std::optional<fs::path> broadcast = std::nullopt);
  void show_host_run(const Box& h, const nlohmann::json& out, const Network& n);
  std::vector<observe::HopRecord> relayed_hops(const Network& n, const std::string& sm_id);
  Result<void> sm_sharing();
  Result<void> start_relay(Network& n);
  Result<void> sm_sharing_replay();
  Result<void> network_move();
  Result<void> image_update();
  void stop_servers();
  // Hosts kept on the network (dcas host pair --hold), and what their roles journaled.
  fs::path hold_journal(const Box& h) const;
  std::vector<std::unique_ptr<ChildProcess>> hold_all(Network& n);
  std::vector<protocol::Event> held_events(const Box& h, Role at) const;
  Result<void> revoked();
  Result<void> unsubscribe_now();

  const DemoOptions& o_;
  fs::path dir_;
  Timeline& t_;
  Harness h_;
  fs::path source_;
  Server ta_server_;
  std::string ta_address_;
  std::vector<Network> networks_;
  std::vector<Box> boxes_;
  Device spare_tp_;
  Server relay_;        // sm-sharing-replay: the attacker between hosts and network A's AP
  fs::path trace_dir_;  // empty: no traces
  std::vector<Traced>& traced_;
};

Result<std::vector<Device>> Demo::issue(const std::string& role, unsigned count) {
  DCAS_TRY_ASSIGN(r, dcas({"ta", "issue", role, "--ta", (dir_ / "ta").string(), "--count", std::to_string(count),
                           "--out", (dir_ / "devices").string(), "--json"},
                          "issue-" + role));
  if (r.status != 0 || !r.out.is_array()) return fail(Errc::io_error, "ta issue failed: " + r.stdout_text);
  std::vector<Device> out;
  for (const auto& d : r.out) out.push_back({d["id"].get<std::string>(), d["directory"].get<std::string>()});
  return out;
}

// Paper Fig. 2 step 1: the TA issues the identities of the SMs and TPs (and the headends' APs).
Result<void> Demo::provision() {
  const auto& a = o_;
  t_.act("1. The TA issues identities (Fig. 2 step 1)");
  DCAS_TRY_ASSIGN(init, dcas({"ta", "init", (dir_ / "ta").string(), "--name", "DCAS Demo TA"}, "ta-init"));
  if (init.status != 0) return fail(Errc::io_error, "ta init failed");
  t_.note("TA", "root key (owner-only) and self-signed certificate; pairing store " + (dir_ / "ta/ta.sqlite").string());
  const unsigned network_count = a.scenario == "network-move" ? 2 : 1;
  DCAS_TRY_ASSIGN(aps, issue("ap", network_count));
  DCAS_TRY_ASSIGN(sms, issue("sm", a.hosts));
  const bool another_box = a.scenario == "sm-sharing" || a.scenario == "sm-sharing-replay";
  DCAS_TRY_ASSIGN(tps, issue("tp", a.hosts + (another_box ? 1 : 0)));
  for (unsigned i = 0; i < a.hosts; ++i) {
    Box h{i + 1, sms[i], tps[i], dir_ / fmt::format("host{}", i + 1), true};
    h.subscribed = !(a.scenario == "unsubscribed" && i + 1 == a.hosts);
    t_.note("TA", fmt::format("issues SM {} (with Ki1..Ki3) and TP {} for {}", h.sm.id, h.tp.id, h.label()));
    boxes_.push_back(h);
  }
  if (another_box) {
    spare_tp_ = tps.back();
    t_.note("TA", fmt::format("issues TP {} for another box", spare_tp_.id));
  }
  DCAS_TRY_ASSIGN(listed,
                  dcas({"ta", "list", "--ta", (dir_ / "ta").string(), "--state", "virgin", "--json"}, "ta-list"));
  t_.check("every SM registered Virgin in the TA store", listed.out.is_array() && listed.out.size() == sms.size(),
           fmt::format("{} SM listed virgin, {} TP issued", listed.out.is_array() ? listed.out.size() : 0, tps.size()));

  for (unsigned n = 0; n < network_count; ++n) {
    Network net{n == 0 ? "A" : "B", fmt::format("4e4554000000000{}", n + 1), aps[n],
                dir_ / fmt::format("headend-{}", n == 0 ? 'a' : 'b')};
    t_.note("TA", fmt::format("issues AP {} for the headend of network {} ({})", net.ap.id, net.name, net.network_id));
    DCAS_TRY_ASSIGN(he, dcas({"headend", "init", net.headend.string(), "--network-id", net.network_id},
                             "headend-init-" + net.name));
    if (he.status != 0) return fail(Errc::io_error, "headend init failed");
    t_.note("headend", fmt::format("network {}: client image version 1, product 1 \"basic\"", net.name));
    for (const auto& h : boxes_) {
      if (!h.subscribed || (n == 1 && h.number != 1)) continue;
      DCAS_TRY_ASSIGN(s, dcas({"headend", "subscribe", "--headend", net.headend.string(), "--sm", h.sm.id},
                              fmt::format("subscribe-{}-{}", net.name, h.number)));
      if (s.status != 0) return fail(Errc::io_error, "headend subscribe failed");
      t_.note("CAS", fmt::format("network {}: SM {} ({}) subscribes to product 1", net.name, h.sm.id, h.label()));
    }
    for (const auto& h : boxes_)
      if (!h.subscribed) t_.note("CAS", fmt::format("SM {} ({}) has no subscription", h.sm.id, h.label()));
    networks_.push_back(std::move(net));
  }
  return {};
}

Result<void> Demo::start_servers() {
  t_.act("2. The TA and the headend come up (real processes, loopback, SQLite)");
  DCAS_TRY_ASSIGN(ta, h_.serve(profiled({"ta", "serve", "--ta", (dir_ / "ta").string()}, "ta"), "ta"));
  ta_server_ = std::move(ta);
  ta_address_ = ta_server_.address();
  t_.note("TA", "dcas ta serve on " + ta_address_ + " (APs connect over mutual TLS 1.3)");
  for (auto& n : networks_) {
    n.journal = dir_ / "logs" / ("headend-" + n.name + ".journal");
    DCAS_TRY_ASSIGN(server,
                    h_.serve(profiled({"headend", "serve", "--headend", n.headend.string(), "--ap", n.ap.dir.string(),
                                       "--ta", ta_address_, "--journal", n.journal.string(), "--crl-refresh", "0.2"},
                                      "headend-" + n.name),
                             "headend-" + n.name));
    n.server = std::move(server);
    n.address = n.server.address();
    t_.note("headend", fmt::format("network {}: dcas headend serve (AP {}, PS, download server) on {}", n.name, n.ap.id,
                                   n.address));
  }
  return {};
}

Result<void> Demo::make_source() {
  const auto& a = o_;
  source_ = dir_ / "clear.ts";
  if (!a.input.empty()) {
    std::error_code ec;
    fs::copy_file(a.input, source_, fs::copy_options::overwrite_existing, ec);
    if (ec) return fail(Errc::io_error, fmt::format("cannot read {}: {}", a.input, ec.message()));
    t_.note("source", "the given stream " + a.input);
    return {};
  }
  const std::string duration = fmt::format("{}", a.duration);
  const std::vector<std::string> ffmpeg = {"ffmpeg",
                                           "-loglevel",
                                           "error",
                                           "-y",
                                           "-f",
                                           "lavfi",
                                           "-i",
                                           "testsrc=duration=" + duration + ":size=320x240:rate=25",
                                           "-f",
                                           "lavfi",
                                           "-i",
                                           "sine=frequency=440:duration=" + duration,
                                           "-c:v",
                                           "mpeg2video",
                                           "-b:v",
                                           "600k",
                                           "-c:a",
                                           "mp2",
                                           "-f",
                                           "mpegts",
                                           source_.string()};
  ChildProcess child("/usr/bin/env", ffmpeg, dir_ / "logs" / "ffmpeg.log");  // ffmpeg from PATH
  if (child.wait(120s) == 0) {
    t_.note("source", fmt::format("{} s of MPEG-2 video and MP2 audio made by ffmpeg ({} bytes)", a.duration,
                                  fs::file_size(source_)));
    return {};
  }
  // The stream shipped inside the program (data/demo-clear.ts, embedded at build time).
  DCAS_TRY(write_public_file(source_, shipped_stream()));
  t_.note("source", fmt::format("ffmpeg is not available: the shipped stream ({} bytes)", shipped_stream().size()));
  return {};
}

// The AP-TA legs of the SM's pairing, from the headend's journal, in order.
std::vector<observe::HopRecord> Demo::relayed_hops(const Network& n, const std::string& sm_id) {
  std::vector<observe::HopRecord> hops;
  auto records = observe::read_journal(n.journal);
  if (!records) return hops;
  for (const auto& r : *records)
    if (const auto* hop = std::get_if<observe::HopRecord>(&r); hop && hop->sm && hop->sm->hex() == sm_id)
      hops.push_back(*hop);
  return hops;
}

void Demo::show_host_run(const Box& h, const nlohmann::json& out, const Network& n) {
  auto relayed = relayed_hops(n, h.sm.id);
  // The host's own run is the last one in the journal: its request and the TA's answer.
  if (relayed.size() > 2) relayed.erase(relayed.begin(), relayed.end() - 2);
  if (!out.contains("journal")) return;
  for (const auto& j : out["journal"]) {
    auto record = observe::record_from_json(j);
    if (!record) {
      t_.note(h.label(), "unreadable journal record: " + record.error().message());
      continue;
    }
    if (const auto* hop = std::get_if<observe::HopRecord>(&*record)) {
      t_.hop(observe::route_of(*hop), observe::describe(*hop));
      // The AP-TA legs happen between the SM's KeyRequest and the AP's KeyResponse.
      if (hop->to == Role::ap && (hop->type == static_cast<std::uint8_t>(wire::MessageType::key_request_sm) ||
                                  hop->type == static_cast<std::uint8_t>(wire::MessageType::key_request_sm_h1)))
        for (const auto& r : relayed) t_.hop(observe::route_of(r), observe::describe(r));
      continue;
    }
    // The milestones; the timeline's hops already show every message.
    const auto& [at, event] = std::get<observe::EventRecord>(*record);
    using namespace protocol::events;
    if (protocol::is<KeysConfirmed>(event) || protocol::is<ImageInstalled>(event) ||
        protocol::is<DownloadFailed>(event) || protocol::is<ProtocolStarted>(event) ||
        protocol::is<ProtocolStopped>(event))
      t_.note(h.label(),
              fmt::format("{}.{} {}", role_name(at), protocol::event_name(event), protocol::event_detail(event)));
  }
}

// Fig. 2 steps 2-4: the host joins; the TA authenticates the SM through the AP, the SM-TP protocol
// establishes the CW keys, the AP and SM establish the image key, the PS's image is installed.
Result<bool> Demo::join(Box& h, Network& n, bool expect_refusal, const std::string& via) {
  DCAS_TRY_ASSIGN(r, dcas({"host", "pair", "--sm", h.sm.dir.string(), "--tp", h.tp.dir.string(), "--ap",
                           via.empty() ? n.address : via, "--state", h.state.string(), "--attempts", "3", "--json"},
                          fmt::format("join-{}-{}", h.number, n.name)));
  if (!r.out.is_object()) return fail(Errc::io_error, "host pair printed no outcome: " + r.stdout_text);
  show_host_run(h, r.out, n);
  if (expect_refusal)
    return t_.check(fmt::format("{}: the TA refuses the pair", h.label()),
                    r.status == 1 && errc_from_name(r.out.value("error", "")) == Errc::pairing_refused,
                    r.out.value("error", "paired") + " " + r.out.value("detail", ""));
  bool ok = t_.check(fmt::format("{}: SM and TP paired, CW keys confirmed", h.label()),
                     r.status == 0 && r.out.value("paired", false), r.out.value("error", ""));
  const auto& image = r.out["image"];
  ok &= t_.check(fmt::format("{}: client image installed by the bootloader", h.label()),
                 image.is_object() && image["network_id"] == n.network_id,
                 image.is_object() ? fmt::format("version {} of network {}", image["version"].get<std::uint64_t>(),
                                                 image["network_id"].get<std::string>())
                                   : "none");
  return ok;
}

// Fig. 2 step 5: the CAS sends the entitlements (EMMs) and the control words (ECMs) on the stream.
Result<void> Demo::broadcast(Network& n) {
  const auto& a = o_;
  n.scrambled = dir_ / fmt::format("scrambled-{}.ts", n.name);
  DCAS_TRY_ASSIGN(r,
                  dcas({"headend", "broadcast", "--headend", n.headend.string(), source_.string(), n.scrambled.string(),
                        "--algo", a.algo, "--crypto-period", fmt::format("{}", a.crypto_period), "--json"},
                       "broadcast-" + n.name));
  if (r.status != 0 || !r.out.is_object())
    return fail(Errc::io_error, "headend broadcast failed: " + h_.last_log_line("broadcast-" + n.name));
  const auto& o = r.out;
  t_.hop("CAS -> all",
         fmt::format("network {}: {} packets scrambled with {} over {} crypto periods of {} ms", n.name,
                     o["scrambled"].get<std::uint64_t>(), a.algo, o["crypto_periods"].get<std::uint64_t>(),
                     o["crypto_period_ms"].get<std::int64_t>()));
  t_.hop("CAS -> all",
         fmt::format("{} ECM sections on PID 0x{:04x} (PMT CA_descriptor), {} EMM sections on PID 0x{:04x} "
                     "(CAT) for {} subscriber(s)",
                     o["ecm_sections"].get<std::uint64_t>(), o["ecm_pid"].get<int>(),
                     o["emm_sections"].get<std::uint64_t>(), o["emm_pid"].get<int>(),
                     o["subscribers"].get<std::size_t>()));
  t_.check(fmt::format("network {}: control words change every crypto period", n.name),
           o["crypto_periods"].get<std::uint64_t>() >= 2 && o["scrambled"].get<std::uint64_t>() > 0,
           fmt::format("{} periods", o["crypto_periods"].get<std::uint64_t>()));
  return {};
}

// Fig. 2 steps 5-7 at the host: EMM and ECM to the SM's CA client, CWs to the TP, descrambling.
Result<nlohmann::json> Demo::watch(Box& h, Network& n, const fs::path& out, bool expect_picture,
                                   std::optional<fs::path> broadcast) {
  DCAS_TRY_ASSIGN(
      r, dcas({"host", "run", "--sm", h.sm.dir.string(), "--tp", h.tp.dir.string(), "--ap", n.address, "--state",
               h.state.string(), "--attempts", "3", "--watch", broadcast.value_or(n.scrambled).string(), "--out",
               out.string(), "--algo", o_.algo, "--json"},
              fmt::format("watch-{}-{}-{}", h.number, n.name, out.stem().string())));
  if (!r.out.is_object()) return fail(Errc::io_error, "host run printed no outcome: " + r.stdout_text);
  if (r.status != 0 || !r.out.contains("watch")) {
    t_.check(fmt::format("{}: on the network", h.label()), false,
             r.out.value("error", "") + " " + r.out.value("detail", ""));
    return r.out;
  }
  const auto& w = r.out["watch"];
  const auto refused = w["refused"];
  t_.hop(fmt::format("SM -> TP"),
         fmt::format("{}: {} ECMs and {} EMMs to the CA client ({} for other SMs); {} "
                     "ControlWord messages to the TP",
                     h.label(), w["ecms"].get<std::uint64_t>(), w["emms"].get<std::uint64_t>(),
                     w["emms_for_other_sms"].get<std::uint64_t>(), w["control_word_updates"].get<std::uint64_t>()));
  for (const auto& [name, count] : refused.items())
    t_.note(h.label(), fmt::format("CA client refused {} message(s): {}", count.get<std::uint64_t>(), name));
  auto compared = ts::compare_programme(source_, out);
  if (!compared) return std::unexpected(compared.error());
  const std::string counts =
      fmt::format("{} of {} elementary-stream packets equal the source (PIDs {})", compared->matching_packets,
                  compared->source_packets, fmt::join(compared->elementary_pids, ", "));
  if (expect_picture) {
    t_.check(fmt::format("{}: the TP descrambled every crypto period", h.label()),
             w["left_scrambled"].get<std::uint64_t>() == 0 && w["control_word_updates"].get<std::uint64_t>() >= 2,
             fmt::format("{} packets descrambled, {} left scrambled", w["descrambled"].get<std::uint64_t>(),
                         w["left_scrambled"].get<std::uint64_t>()));
    t_.check(fmt::format("{}: output carries the source's programme unchanged", h.label()), compared->identical,
             compared->identical ? counts : counts + "; first difference: " + compared->first_difference);
  } else {
    t_.check(fmt::format("{}: no control words reach the TP", h.label()),
             w["control_word_updates"].get<std::uint64_t>() == 0 && w["descrambled"].get<std::uint64_t>() == 0,
             fmt::format("{} updates, {} packets descrambled", w["control_word_updates"].get<std::uint64_t>(),
                         w["descrambled"].get<std::uint64_t>()));
    t_.check(fmt::format("{}: no picture (the programme stays scrambled)", h.label()),
             !compared->identical && compared->matching_packets * 10 < compared->source_packets, counts);
  }
  return r.out;
}

// The paper's threat: an SM moved into another host (another TP) is refused; its own box keeps working.
Result<void> Demo::sm_sharing() {
  t_.act("Scenario sm-sharing: host 1's SM is moved into another box");
  Box moved = boxes_.front();
  moved.tp = spare_tp_;
  moved.state = dir_ / "moved-box";
  fs::create_directories(moved.state);
  std::error_code ec;
  fs::copy_file(boxes_.front().state / "sm.nvm", moved.state / "sm.nvm", ec);  // the SM's memory travels with it
  if (ec) return fail(Errc::io_error, "cannot move the SM's memory: " + ec.message());
  t_.note("box", fmt::format("SM {} with TP {} (the SM's secure memory moves with it)", moved.sm.id, moved.tp.id));
  DCAS_TRY_ASSIGN(refused, join(moved, networks_.front(), true));
  (void)refused;
  DCAS_TRY_ASSIGN(r, dcas({"host", "run", "--sm", moved.sm.dir.string(), "--tp", moved.tp.dir.string(), "--ap",
                           networks_.front().address, "--state", moved.state.string(), "--watch",
                           networks_.front().scrambled.string(), "--out", (dir_ / "moved-box.ts").string(), "--json"},
                          "watch-moved-box"));
  t_.check("the other box gets no CW keys, so no control words and no picture",
           r.status == 1 && !fs::exists(dir_ / "moved-box.ts"), r.out.is_object() ? r.out.value("error", "") : "");
  t_.act("Box 1's SM back in its own box");
  DCAS_TRY(watch(boxes_.front(), networks_.front(), dir_ / "host1-again.ts", true));
  return {};
}

// The attacker's relay between hosts and network A's AP: it records the first KeyResponse it
// carries (host 1's) and replays it into later connections.
Result<void> Demo::start_relay(Network& n) {
  DCAS_TRY_ASSIGN(relay, h_.serve({"attack", "relay", "--ap", n.address, "--replay-key-response"}, "relay"));
  relay_ = std::move(relay);
  t_.note("attacker",
          fmt::format("dcas attack relay on {}, between hosts and AP {} (no key)", relay_.address(), n.ap.id));
  return {};
}

// Host 1's SM moves into a box with another TP; the TA refuses the new pair, and the relay puts
// host 1's own recorded KeyResponse in place of the refusal (docs/security.md, sm-sharing-replay).
// The scenario passes when what happens is the documented verdict of the profile: under koo2010
// the attacker's box descrambles; under hardened1 its SM refuses the old answer and it gets no CWs.
Result<void> Demo::sm_sharing_replay() {
  t_.act("Scenario sm-sharing-replay: host 1's SM in another box, its recorded KeyResponse replayed");
  const auto* documented = attack::find_scenario("sm-sharing-replay");
  const auto profile = wire::profile_from_name(o_.profile);
  if (!documented || !profile) return fail(Errc::invalid_argument, "no documented verdict for sm-sharing-replay");
  const bool attack_succeeds = documented->expected(*profile).succeeds;
  Box moved = boxes_.front();
  moved.tp = spare_tp_;
  moved.state = dir_ / "attacker-box";
  fs::create_directories(moved.state);
  std::error_code ec;
  fs::copy_file(boxes_.front().state / "sm.nvm", moved.state / "sm.nvm", ec);
  if (ec) return fail(Errc::io_error, "cannot move the SM's memory: " + ec.message());
  t_.note("attacker", fmt::format("SM {} with TP {}, on the network through the relay", moved.sm.id, moved.tp.id));
  const fs::path out = dir_ / "attacker-box.ts";
  DCAS_TRY_ASSIGN(r, dcas({"host", "run", "--sm", moved.sm.dir.string(), "--tp", moved.tp.dir.string(), "--ap",
                           relay_.address(), "--state", moved.state.string(), "--watch",
                           networks_.front().scrambled.string(), "--out", out.string(), "--json"},
                          "watch-attacker-box"));
  const bool descrambled = r.status == 0 && r.out.is_object() && r.out.contains("watch") &&
                           r.out["watch"].value("descrambled", 0) > 0 && r.out["watch"].value("left_scrambled", 1) == 0;
  const std::string what =
      r.out.is_object() ? (descrambled ? fmt::format("{} packets descrambled", r.out["watch"].value("descrambled", 0))
                                       : r.out.value("error", "") + " " + r.out.value("detail", ""))
                        : r.stdout_text;
  t_.note("attacker", descrambled ? "the attacker's box descrambles the channel: " + what
                                  : "the attacker's box gets no control words: " + what);
  t_.check(fmt::format("the attack's outcome is the one docs/security.md documents for {}: {}", o_.profile,
                       attack_succeeds ? "SUCCEEDED (the paper's protocol is open to it)"
                                       : "refused (" + documented->expected(*profile).line() + ")"),
           descrambled == attack_succeeds, what);
  if (!attack_succeeds)
    t_.check("the refusal is the SM's own check of the old answer (not a network failure)",
             r.status == 1 && r.out.is_object() &&
                 errc_from_name(r.out.value("error", "")) == documented->expected(*profile).refused_with,
             what);
  return {};
}

// The host leaves network A and joins network B: a SecurityAnnounce of another network triggers the
// protocol; B's PS personalizes B's image (B's CA key) and B's CAS entitles it.
Result<void> Demo::network_move() {
  Box& h = boxes_.front();
  Network& b = networks_.at(1);
  t_.act(fmt::format("Scenario network-move: {} moves from network A to network B", h.label()));
  const bool left = wait_for(
      [&] {
        auto r = dcas({"ta", "show", h.sm.id, "--ta", (dir_ / "ta").string(), "--json"}, "ta-show");
        return r && r->out.is_object() &&
               protocol::pairing_state_from_name(r->out.value("state", "")) == protocol::PairingState::paired_only;
      },
      10s);
  t_.check("network A's AP reported the host gone: the pair is Paired Only", left);
  DCAS_TRY(join(h, b));
  DCAS_TRY(broadcast(b));
  DCAS_TRY(watch(h, b, dir_ / "host1-network-b.ts", true));
  t_.act("Network A's broadcast received on network B: A's EMMs do not open under B's CA key");
  DCAS_TRY(watch(h, b, dir_ / "host1-network-a-after-move.ts", false, networks_.front().scrambled));
  return {};
}

fs::path Demo::hold_journal(const Box& h) const { return dir_ / "logs" / fmt::format("hold-{}.journal", h.number); }

std::vector<std::unique_ptr<ChildProcess>> Demo::hold_all(Network& n) {
  std::vector<std::unique_ptr<ChildProcess>> held;
  for (auto& h : boxes_) {
    held.push_back(h_.start(
        profiled({"host", "pair", "--sm", h.sm.dir.string(), "--tp", h.tp.dir.string(), "--ap", n.address, "--state",
                  h.state.string(), "--attempts", "3", "--hold", "--journal", hold_journal(h).string()},
                 fmt::format("hold-{}", h.number)),
        fmt::format("hold-{}", h.number)));
    t_.note(h.label(), "on the network (dcas host pair --hold)");
  }
  return held;
}

std::vector<protocol::Event> Demo::held_events(const Box& h, Role at) const {
  std::vector<protocol::Event> out;
  if (auto records = observe::read_journal(hold_journal(h)))
    for (const auto& r : *records)
      if (const auto* e = std::get_if<observe::EventRecord>(&r); e && e->at == at) out.push_back(e->event);
  return out;
}

// Revocation (docs/spec.md §18): with every host on the network, the operator revokes host 1's SM.
// The headend's AP fetches the TA's new CRL and announces it at once; host 1's SM finds itself on it
// and erases its CW keys, and its TP does the same; every other host keeps the picture.
Result<void> Demo::revoked() {
  t_.act("Scenario revoked: the operator revokes host 1's SM while every host is on the network");
  Network& n = networks_.front();
  Box& victim = boxes_.front();
  auto held = hold_all(n);
  using namespace protocol::events;
  auto happened = [&](const Box& h, Role at, auto predicate) {
    return wait_for(
        [&] {
          for (const auto& e : held_events(h, at))
            if (predicate(e)) return true;
          return false;
        },
        20s);
  };
  for (auto& h : boxes_)
    t_.check(fmt::format("{}: paired", h.label()),
             happened(h, Role::sm, [](const protocol::Event& e) { return protocol::is<KeysConfirmed>(e); }));
  DCAS_TRY_ASSIGN(r, dcas({"ta", "revoke", "sm", victim.sm.id, "--reason", "demo: reported stolen", "--ta",
                           (dir_ / "ta").string(), "--json"},
                          "ta-revoke"));
  t_.check(fmt::format("the TA revokes SM {} and issues CRL 1 (audited)", victim.sm.id),
           r.status == 0 && r.out.is_object() && r.out.value("crl_number", 0) == 1,
           r.out.is_object() ? r.out.value("file", "") : r.stdout_text);
  t_.note("TA", "ta/crl.pem: an X.509 CRL that `openssl crl -verify -CAfile ta.crt` accepts");
  t_.hop("AP -> TA", "crl_request; TA -> AP: the current CRL (every --crl-refresh)");
  t_.hop("AP -> all", "SecurityAnnounce (AP->SM) carrying CRL 1");
  const auto cut = [](const std::string& who) {
    return [who](const protocol::Event& e) {
      const auto* c = std::get_if<CwChannelRevoked>(&e);
      return c && c->revoked == "sm" && c->device == who;
    };
  };
  t_.check(fmt::format("{}: its SM finds itself on the CRL and erases its CW keys", victim.label()),
           happened(victim, Role::sm, cut(victim.sm.id)));
  t_.check(fmt::format("{}: its TP erases the CW keys of the revoked SM", victim.label()),
           happened(victim, Role::tp, cut(victim.sm.id)));
  for (auto& p : held) p->signal(SIGTERM);
  for (auto& p : held) (void)p->wait(15s);
  t_.act("The hosts watch again");
  DCAS_TRY_ASSIGN(again, dcas({"host", "run", "--sm", victim.sm.dir.string(), "--tp", victim.tp.dir.string(), "--ap",
                               n.address, "--state", victim.state.string(), "--watch", n.scrambled.string(), "--out",
                               (dir_ / "host1-revoked.ts").string(), "--json"},
                              "watch-revoked"));
  const std::string error = again.out.is_object() ? again.out.value("error", "") : "";
  t_.check(fmt::format("{}: refused (cert_revoked): no CW keys, no control words, no picture", victim.label()),
           again.status == 1 && error == "cert_revoked" && !fs::exists(dir_ / "host1-revoked.ts"), error);
  for (std::size_t i = 1; i < boxes_.size(); ++i)
    DCAS_TRY(watch(boxes_[i], n, dir_ / fmt::format("host{}-after-revocation.ts", boxes_[i].number), true));
  return {};
}

// Rekeying (docs/spec.md §15.4): host 2's SM is unsubscribed after it has watched, so it holds the
// product key. The headend issues the next key; the next broadcast sends it in EMMs to host 1 only,
// then switches its ECMs to it. Host 1 watches without a gap; host 2 loses the picture within one
// crypto period of the switch.
Result<void> Demo::unsubscribe_now() {
  Network& n = networks_.front();
  Box& kept = boxes_.front();
  Box& gone = boxes_.back();
  t_.act(fmt::format("Scenario unsubscribe-now: {}'s SM, which holds the product key, is unsubscribed", gone.label()));
  DCAS_TRY_ASSIGN(unsub,
                  dcas({"headend", "unsubscribe", "--headend", n.headend.string(), "--sm", gone.sm.id}, "unsubscribe"));
  t_.check(fmt::format("the CAS ends SM {}'s subscription and issues product key epoch 2", gone.sm.id),
           unsub.status == 0 && unsub.stdout_text.find("epoch 2") != std::string::npos,
           unsub.stdout_text.substr(0, unsub.stdout_text.find('\n')));
  const fs::path scrambled = dir_ / "scrambled-A-rekeyed.ts";
  const std::uint64_t rekey_after = 1;  // one period of EMMs ahead: the switch lands early in a short stream
  DCAS_TRY_ASSIGN(r, dcas({"headend", "broadcast", "--headend", n.headend.string(), source_.string(),
                           scrambled.string(), "--algo", o_.algo, "--crypto-period",
                           fmt::format("{}", o_.crypto_period), "--rekey-after", std::to_string(rekey_after), "--json"},
                          "broadcast-rekeyed"));
  if (r.status != 0 || !r.out.is_object())
    return fail(Errc::io_error, "headend broadcast failed: " + h_.last_log_line("broadcast-rekeyed"));
  const auto periods = r.out["crypto_periods"].get<std::uint64_t>();
  t_.hop("CAS -> all", fmt::format("EMMs with product key epoch 2 for {} subscriber(s) from period 0, then from "
                                   "period {} the ECMs under epoch 2 ({} periods in all)",
                                   r.out["subscribers"].get<std::size_t>(), rekey_after, periods));
  t_.check(fmt::format("the broadcast switches its ECMs to epoch 2 at crypto period {}", rekey_after),
           r.out["key_epoch"] == 2 && r.out["rekeyed_at_period"] == rekey_after && periods >= rekey_after + 2,
           r.out["rekeyed_at_period"].dump());
  t_.act("The hosts watch the rekeyed broadcast");
  DCAS_TRY(watch(kept, n, dir_ / "host1-rekeyed.ts", true, scrambled));
  DCAS_TRY_ASSIGN(w, dcas({"host", "run", "--sm", gone.sm.dir.string(), "--tp", gone.tp.dir.string(), "--ap", n.address,
                           "--state", gone.state.string(), "--attempts", "3", "--watch", scrambled.string(), "--out",
                           (dir_ / "host2-rekeyed.ts").string(), "--algo", o_.algo, "--json"},
                          "watch-unsubscribed"));
  if (w.status != 0 || !w.out.is_object() || !w.out.contains("watch"))
    return fail(Errc::io_error, "host run failed: " + w.stdout_text);
  const auto& watched = w.out["watch"];
  const auto updates = watched["control_word_updates"].get<std::uint64_t>();
  const auto refused = watched["refused"].value("not_entitled", std::uint64_t{0});
  t_.hop("SM -> TP", fmt::format("{}: {} ControlWord messages, then {} ECMs refused (not_entitled: no key of epoch 2)",
                                 gone.label(), updates, refused));
  DCAS_TRY_ASSIGN(compared, ts::compare_programme(source_, dir_ / "host2-rekeyed.ts"));
  t_.check(fmt::format("{}: control words only before the switch, from the key it still held", gone.label()),
           updates == rekey_after && refused > 0, fmt::format("{} updates of {} periods", updates, periods));
  // The last ECM under the old key also carried the first period's CW under the new one.
  t_.check(fmt::format("{}: the picture ends within one crypto period of the switch", gone.label()),
           !compared.identical && compared.matching_packets > 0 &&
               compared.matching_packets * periods <=
                   compared.source_packets * (rekey_after + 1) + compared.source_packets / 10,
           fmt::format("{} of {} packets equal the source", compared.matching_packets, compared.source_packets));
  return {};
}

// The headend publishes image version 2 while the hosts are on the network; the AP announces it and
// every host's bootloader installs it; an operator's DCASDownload restarts one SM's protocol.
Result<void> Demo::image_update() {
  t_.act("Scenario image-update: the headend publishes client image version 2 while the hosts are on the network");
  Network& n = networks_.front();
  auto held = hold_all(n);
  auto has = [&](const Box& h, auto predicate) {
    for (const auto& e : held_events(h, Role::sm))
      if (predicate(e)) return true;
    return false;
  };
  using namespace protocol::events;
  for (auto& h : boxes_)
    t_.check(
        fmt::format("{}: paired", h.label()),
        wait_for([&] { return has(h, [](const protocol::Event& e) { return protocol::is<KeysConfirmed>(e); }); }, 20s));
  DCAS_TRY_ASSIGN(pub, dcas({"headend", "publish", "--headend", n.headend.string()}, "publish"));
  t_.hop("PS", pub.stdout_text.substr(0, pub.stdout_text.find('\n')));
  t_.hop("AP -> all", "SecurityAnnounce (AP->SM) with image version 2");
  for (auto& h : boxes_) {
    const bool installed = wait_for(
        [&] {
          return has(h, [](const protocol::Event& e) {
            const auto* i = std::get_if<ImageInstalled>(&e);
            return i && i->version == 2;
          });
        },
        20s);
    t_.check(fmt::format("{}: version 2 downloaded and installed over the running CW channel", h.label()), installed);
  }
  DCAS_TRY_ASSIGN(order, dcas({"headend", "download", "--headend", n.headend.string(), "--sm", boxes_.front().sm.id},
                              "download-order"));
  (void)order;
  t_.hop("AP -> SM", fmt::format("DCASDownload (AP->SM) to SM {}", boxes_.front().sm.id));
  // A DCASDownload trigger, then keys confirmed again after it.
  auto restarted = [&] {
    bool started = false;
    for (const auto& e : held_events(boxes_.front(), Role::sm)) {
      const auto* s = std::get_if<ProtocolStarted>(&e);
      if (s && s->trigger == protocol::Trigger::dcas_download) started = true;
      if (started && protocol::is<KeysConfirmed>(e)) return true;
    }
    return false;
  };
  t_.check("host 1: DCASDownload restarts its SM-TP protocol (a non-virgin SM's trigger)", wait_for(restarted, 20s));
  for (auto& p : held) p->signal(SIGTERM);
  for (std::size_t i = 0; i < held.size(); ++i)
    t_.check(fmt::format("{}: leaves the network cleanly", boxes_[i].label()), held[i]->wait(15s) == 0);
  t_.act("The hosts watch again with image version 2");
  for (auto& h : boxes_) DCAS_TRY(watch(h, n, dir_ / fmt::format("host{}-v2.ts", h.number), true));
  return {};
}

void Demo::stop_servers() {
  if (relay_.process) relay_.process->signal(SIGTERM);
  for (auto& n : networks_)
    if (n.server.process) n.server.process->signal(SIGTERM);
  if (ta_server_.process) ta_server_.process->signal(SIGTERM);
}

Result<void> Demo::run() {
  const auto& a = o_;
  fs::create_directories(dir_ / "logs");
  t_.act("0. Power-up self-test (every known-answer vector)");
  bool selftest = true;
  for (const auto& o : kat::run_all()) selftest &= o.ok();
  t_.check("known-answer tests", selftest);

  DCAS_TRY(provision());
  DCAS_TRY(start_servers());
  DCAS_TRY(make_source());

  Network& home = networks_.front();
  const bool replay = a.scenario == "sm-sharing-replay";
  if (replay) DCAS_TRY(start_relay(home));
  t_.act("3. The hosts join network A (Fig. 2 steps 2-4: SM authentication, SM-TP protocol, image download)");
  for (auto& h : boxes_) {
    // sm-sharing-replay: host 1's run passes the attacker's relay, which records it.
    const bool via_relay = replay && &h == &boxes_.front();
    t_.note(h.label(), fmt::format("dcas host pair: SM {}, TP {}{}", h.sm.id, h.tp.id,
                                   via_relay ? " (through the attacker's relay)" : ""));
    DCAS_TRY(join(h, home, false, via_relay ? relay_.address() : ""));
  }
  t_.act("4. The CAS scrambles the channel (Fig. 2 step 5)");
  DCAS_TRY(broadcast(home));
  t_.act("5. The hosts watch (Fig. 2 steps 5-7: EMM, ECM, CWs to the TP, descrambling)");
  for (auto& h : boxes_) DCAS_TRY(watch(h, home, dir_ / fmt::format("host{}.ts", h.number), h.subscribed));

  if (a.scenario == "sm-sharing") DCAS_TRY(sm_sharing());
  if (replay) DCAS_TRY(sm_sharing_replay());
  if (a.scenario == "network-move") DCAS_TRY(network_move());
  if (a.scenario == "image-update") DCAS_TRY(image_update());
  if (a.scenario == "revoked") DCAS_TRY(revoked());
  if (a.scenario == "unsubscribe-now") DCAS_TRY(unsubscribe_now());

  t_.act("6. Shutdown");
  stop_servers();
  for (auto& n : networks_)
    t_.check(fmt::format("headend {} stops cleanly (SIGTERM)", n.name), n.server.process->wait(15s) == 0);
  t_.check("TA stops cleanly (SIGTERM)", ta_server_.process->wait(15s) == 0);
  DCAS_TRY_ASSIGN(check, dcas({"ta", "check", "--ta", (dir_ / "ta").string(), "--json"}, "ta-check"));
  t_.check("TA store consistent (bindings mutual, states match the audit log)",
           check.status == 0 && check.out.is_object() && check.out.value("consistent", false));
  return {};
}

}  // namespace

namespace {
// After the run: DIR/demo.pcapng with every process's records in time order, and the diagram of
// the first host run that was refused (the failing message marked; one not held alongside the
// others if there is one), else of host 1's join.
Result<void> write_trace_outputs(const DemoOptions& a, const fs::path& trace_dir, const std::vector<Traced>& traced) {
  std::vector<std::vector<observe::TraceRecord>> traces;
  std::vector<observe::TraceRecord> merged;
  const Traced* first_host = nullptr;
  const Traced* first_refused = nullptr;
  for (const auto& t : traced) {
    DCAS_TRY_ASSIGN(records, observe::read_trace(t.path));
    merged.insert(merged.end(), records.begin(), records.end());
    const bool refused = std::any_of(records.begin(), records.end(), [](const observe::TraceRecord& r) {
      return r.link != observe::Link::broadcast && observe::describe(r).failed;
    });
    if (t.host && !first_host) first_host = &t;
    // A held host shares the network with the others: a run on its own is drawn first.
    if (t.host && refused &&
        (!first_refused || (first_refused->name.starts_with("hold-") && !t.name.starts_with("hold-"))))
      first_refused = &t;
    traces.push_back(std::move(records));
  }
  if (!a.trace.empty()) {
    std::stable_sort(merged.begin(), merged.end(), [](const auto& x, const auto& y) { return x.at < y.at; });
    DCAS_TRY_ASSIGN(out, observe::TraceWriter::open(trace_dir / "demo.pcapng"));
    for (const auto& r : merged) out->write(r);
    fmt::print("Traces: {} process(es) in {}, merged in {}\n", traced.size(), trace_dir.string(),
               (trace_dir / "demo.pcapng").string());
  }
  const Traced* drawn = first_refused ? first_refused : first_host;
  if (a.diagram.empty() || !drawn) return {};
  DCAS_TRY_ASSIGN(host, observe::read_trace(drawn->path));
  const auto run = observe::for_host(observe::one_run(std::move(traces)), host);
  const std::string title = fmt::format("DCAS demo ({}, profile {}): {}", a.scenario, a.profile, drawn->name);
  DCAS_TRY(write_public_file(a.diagram, view(observe::diagram_svg(run, {title}))));
  fmt::print("Sequence diagram of {}: {}\n", drawn->name, a.diagram);
  return {};
}

// --input: a file that holds at least one transport-stream packet. Errors: io_error, ts_sync_lost.
Result<void> check_input(const std::string& input) {
  DCAS_TRY_ASSIGN(bytes, read_binary_file(input));
  ts::PacketFramer framer;
  Bytes packets;
  std::vector<std::uint64_t> offsets;
  std::vector<ts::StreamError> errors;
  framer.feed(bytes, packets, offsets, errors);
  framer.finish(errors);
  return framer.require_a_packet(input);
}
}  // namespace

Result<DemoOutcome> run_demo(const DemoOptions& a) {
  if (std::find(scenarios.begin(), scenarios.end(), a.scenario) == scenarios.end())
    return fail(Errc::invalid_argument, "unknown scenario " + a.scenario);
  if (a.hosts < 1 || a.hosts > 16) return fail(Errc::invalid_argument, "--hosts must be 1-16");
  if (a.profile != "hardened1" && a.profile != "koo2010")
    return fail(Errc::invalid_argument, "--profile must be hardened1 or koo2010");
  if ((a.scenario == "unsubscribed" || a.scenario == "unsubscribe-now") && a.hosts < 2)
    return fail(Errc::invalid_argument, "scenario " + a.scenario + " needs 2 hosts or more");
  if (!a.input.empty()) DCAS_TRY(check_input(a.input));  // before anything starts
  fs::path dir;
  if (!a.keep.empty()) {
    dir = a.keep;
    fs::create_directories(dir);
    if (!fs::is_empty(dir)) return fail(Errc::io_error, "--keep needs a new or empty directory");
  } else {
    std::string tmpl = (fs::temp_directory_path() / "dcas-demo-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) return fail(Errc::io_error, "cannot create a temporary directory");
    dir = tmpl;
  }
  fmt::print("DCAS demo, scenario {}, profile {}: {} host(s), {} with crypto periods of {} s; work directory {}\n",
             a.scenario, a.profile, a.hosts, a.algo, a.crypto_period, dir.string());
  Timeline t;
  Result<void> ran;
  const fs::path trace_dir = !a.trace.empty() ? fs::path(a.trace) : !a.diagram.empty() ? dir / "traces" : fs::path();
  std::vector<Traced> traced;
  if (!trace_dir.empty()) {
    std::error_code ec;
    fs::create_directories(trace_dir, ec);
    if (ec) return fail(Errc::io_error, fmt::format("cannot create {}: {}", trace_dir.string(), ec.message()));
  }
  {
    Demo demo(a, dir, t, trace_dir, traced);
    ran = demo.run();
  }
  if (!ran) t.check("the demo ran to the end", false, ran.error().message());
  if (!trace_dir.empty())
    if (auto w = write_trace_outputs(a, trace_dir, traced); !w)
      t.check("the traces and diagram", false, w.error().message());
  fmt::print("\nSummary: {} of {} checks passed{}\n", t.checks() - t.failed(), t.checks(),
             t.all_ok() ? ": the system behaved as the paper says" : "");
  if (!a.keep.empty())
    fmt::print("Kept in {}: clear.ts, scrambled-*.ts, host*.ts, the stores and logs/\n", dir.string());
  if (!a.json.empty()) {
    const nlohmann::json trace{{"scenario", a.scenario}, {"hosts", a.hosts},     {"algorithm", a.algo},
                               {"passed", t.all_ok()},   {"checks", t.checks()}, {"failed", t.failed()},
                               {"timeline", t.trace()}};
    DCAS_TRY(write_public_file(a.json, view(trace.dump(2) + "\n")));
  }
  if (a.keep.empty()) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return DemoOutcome{t.checks(), t.failed()};
}

}  // namespace dcas::demo
