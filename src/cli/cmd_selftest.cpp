#include <fmt/format.h>

#include "cli/commands.h"
#include "kat/selftest.h"

namespace dcas::cli {

void add_selftest(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("selftest", "Run every known-answer test, like a security module's power-up self-test");
  static bool json = false;
  cmd->add_flag("--json", json, "Print the results as JSON");
  cmd->callback([] {
    const auto outcomes = kat::run_all();
    bool all_ok = true;
    nlohmann::json out = nlohmann::json::array();
    for (const auto& o : outcomes) {
      all_ok = all_ok && o.ok();
      out.push_back({{"file", o.file}, {"passed", o.passed}, {"failures", o.failures}, {"ok", o.ok()}});
      if (!json) {
        fmt::print("{:<24} {:>3} passed  {}\n", o.file, o.passed, o.ok() ? "ok" : "FAILED");
        for (const auto& f : o.failures) fmt::print("    {}\n", f);
      }
    }
    if (json)
      print_json({{"ok", all_ok}, {"files", out}});
    else
      fmt::print("selftest: {}\n", all_ok ? "all known-answer tests passed" : "FAILED");
    if (!all_ok) {
      std::cerr << "dcas selftest: selftest_failed: a known-answer test failed\n";
      exit_status() = exit_failure;
    }
  });
}

}  // namespace dcas::cli
