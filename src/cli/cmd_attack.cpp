// `dcas attack list | run NAME|all [--profile P] [--json]`: the attack suite (src/attack/).
#include <fmt/format.h>

#include "attack/attack.h"
#include "cli/commands.h"
#include "common/log.h"
#include "service/relay.h"

namespace dcas::cli {

namespace {

struct AttackOptions {
  std::string name;
  std::string profile = "both";
  bool json = false;
};
AttackOptions& options() {
  static AttackOptions o;
  return o;
}

void list() {
  for (const auto& s : attack::scenarios())
    std::cout << fmt::format("{:30} {}\n{:30} attacker holds: {}\n{:30} koo2010: {}; hardened1: {}\n", s.name, s.claim,
                             "", s.attacker, "", s.koo2010.line(), s.hardened1.line());
}

void run() {
  const auto& o = options();
  std::vector<wire::Profile> profiles;
  if (o.profile == "both") {
    profiles = {wire::Profile::koo2010, wire::Profile::hardened1};
  } else {
    auto p = wire::profile_from_name(o.profile);
    if (!p) return report_error("attack", p.error());
    profiles = {*p};
  }
  std::vector<const attack::Scenario*> chosen;
  if (o.name == "all") {
    for (const auto& s : attack::scenarios()) chosen.push_back(&s);
  } else if (auto* s = attack::find_scenario(o.name)) {
    chosen.push_back(s);
  } else {
    return report_error("attack",
                        {Errc::invalid_argument, fmt::format("no scenario '{}' (see dcas attack list)", o.name)});
  }
  nlohmann::json records = nlohmann::json::array();
  bool all_documented = true;
  for (const auto* s : chosen) {
    for (auto p : profiles) {
      Result<attack::Verdict> verdict = fail(Errc::invalid_argument, "not run");
      try {
        verdict = s->run(p);
      } catch (const std::exception& e) {  // a scenario's world failed to build: a bug, reported as one
        verdict = fail(Errc::invalid_argument, fmt::format("scenario {} could not run: {}", s->name, e.what()));
      }
      if (!verdict) return report_error("attack", verdict.error());
      const bool documented = s->expected(p).matches(*verdict);
      all_documented &= documented;
      if (o.json) {
        records.push_back({{"scenario", s->name},
                           {"profile", wire::profile_name(p)},
                           {"succeeded", verdict->succeeded},
                           {"verdict", verdict->line()},
                           {"detail", verdict->detail},
                           {"documented", s->expected(p).line()},
                           {"as_documented", documented}});
      } else {
        std::cout << fmt::format("{:30} {:10} {}{}\n", s->name, wire::profile_name(p), verdict->line(),
                                 documented ? "" : fmt::format("   (documented: {})", s->expected(p).line()));
      }
    }
  }
  if (o.json) print_json(records);
  // Exit 0 exactly when every verdict is the documented one (docs/security.md).
  if (!all_documented) exit_status() = exit_failure;
}

struct RelayOptions {
  std::string listen = "127.0.0.1:0", ap, port_file;
  bool replay_key_response = false;
};
RelayOptions& relay_options() {
  static RelayOptions o;
  return o;
}

bool is_key_response_to_sm(ByteView payload) {
  auto header = wire::decode_header(payload);
  return header && (header->type == static_cast<std::uint8_t>(wire::MessageType::key_response_ap) ||
                    header->type == static_cast<std::uint8_t>(wire::MessageType::key_response_ap_h1));
}

// The network attacker of docs/security.md between hosts and their AP. With
// --replay-key-response it records the first KeyResponse (AP->SM) it carries and puts that one in
// place of every later connection's: a moved SM's own old answer (scenario sm-sharing-replay).
Result<void> relay() {
  const auto& o = relay_options();
  DCAS_TRY_ASSIGN(listen, net::parse_host_port(o.listen));
  DCAS_TRY_ASSIGN(ap, net::parse_host_port(o.ap));
  const auto log = stderr_log("relay");
  std::mutex mutex;
  std::optional<std::pair<std::uint64_t, Bytes>> recorded;  // the connection it came on, the bytes
  auto to_host = [&](std::uint64_t connection, Bytes& payload) {
    if (!o.replay_key_response || !is_key_response_to_sm(payload)) return;
    std::lock_guard lock(mutex);
    if (!recorded) {
      recorded.emplace(connection, payload);
      log(fmt::format("connection {}: KeyResponse recorded ({} bytes)", connection, payload.size()));
    } else if (recorded->first != connection) {
      payload = recorded->second;
      log(fmt::format("connection {}: KeyResponse replaced by the one recorded on connection {}", connection,
                      recorded->first));
    }
  };
  asio::io_context io(1);
  service::RelayConfig config;
  config.ap = ap;
  service::Relay relay(io, config, to_host, log);
  DCAS_TRY_ASSIGN(bound, relay.server().listen(listen));
  log(fmt::format("relaying {}:{} to the AP at {}{}", bound.address().to_string(), bound.port(), o.ap,
                  o.replay_key_response ? ", replaying the first KeyResponse into later connections" : ""));
  DCAS_TRY(write_port_file(o.port_file, bound.port()));
  relay.server().start();
  service::run_until_signalled(io, 1, log, [&] { relay.server().stop(); });
  return {};
}

}  // namespace

void add_attack(CLI::App& app) {
  auto& o = options();
  auto* attack = app.add_subcommand("attack", "Run the attacks of docs/security.md against the real roles");
  attack->require_subcommand(1);
  attack->add_subcommand("list", "Every scenario: the claim, what the attacker holds, the documented verdicts")
      ->callback(list);
  auto* run_cmd = attack->add_subcommand("run", "Run one scenario, or all; exit 0 when every verdict is as documented");
  run_cmd->add_option("name", o.name, "A scenario name, or all")->required();
  run_cmd->add_option("--profile", o.profile, "koo2010, hardened1 or both")->capture_default_str();
  run_cmd->add_flag("--json", o.json, "One JSON record per scenario and profile");
  run_cmd->callback(run);
  auto& r = relay_options();
  auto* relay_cmd = attack->add_subcommand(
      "relay", "A man in the middle between hosts and an AP (no key): frames pass; optionally replays a KeyResponse");
  relay_cmd->add_option("--listen", r.listen, "Address to listen on, HOST:PORT")->capture_default_str();
  relay_cmd->add_option("--ap", r.ap, "The AP's address, HOST:PORT")->required();
  relay_cmd->add_option("--port-file", r.port_file, "Write the bound port here once listening");
  relay_cmd->add_flag("--replay-key-response", r.replay_key_response,
                      "Record the first KeyResponse (AP->SM) and put it in place of every later connection's");
  relay_cmd->callback([] {
    if (auto result = relay(); !result) report_error("attack relay", result.error());
  });
}

}  // namespace dcas::cli
