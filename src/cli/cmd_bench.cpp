// `dcas bench SUITE`: figures against their bounds measured in the same run.
#include "bench/harness.h"
#include "cli/commands.h"

namespace dcas::cli {

void add_bench(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Benchmarks, each figure against its bound measured in the same run");
  bench->require_subcommand(1);
  static bool json = false;
  static double min_time = 0.5;
  for (const auto& suite : bench::suites()) {
    auto* cmd = bench->add_subcommand(suite.name, suite.description);
    cmd->add_flag("--json", json, "Print a JSON array: name, value, unit, bound, efficiency");
    cmd->add_option("--min-time", min_time, "Minimum seconds per benchmark")->check(CLI::Range(0.01, 60.0));
    const std::string name = suite.name;
    cmd->callback([name] {
      for (const auto& s : bench::suites()) {
        if (s.name != name) continue;
        auto figures = bench::run_figures(s.figures, min_time);
        if (!figures) return report_error("bench " + name, figures.error());
        if (json)
          print_json(bench::to_json(*figures));
        else
          bench::print_table(std::cout, *figures);
      }
    });
  }
}

}  // namespace dcas::cli
