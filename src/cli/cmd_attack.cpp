// `dcas attack list | run NAME|all [--profile P] [--json]`: the attack suite (src/attack/).
#include <fmt/format.h>

#include "attack/attack.h"
#include "cli/commands.h"

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
      auto verdict = s->run(p);
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
}

}  // namespace dcas::cli
