#include "bench/harness.h"

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <map>
#include <regex>

namespace dcas::bench {

std::vector<Suite>& suites() {
  static std::vector<Suite> all;
  return all;
}

namespace {

// Collects each run's rate instead of printing Google Benchmark's own report. Every benchmark
// runs several times, interleaved with the others; the best repetition counts, because noise
// (the other core, frequency changes) only ever slows a run down.
class CollectingReporter final : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred || run.iterations == 0 ||
          run.real_accumulated_time <= 0)
        continue;
      const std::string name = run.run_name.function_name;
      const double rate = static_cast<double>(run.iterations) / run.real_accumulated_time;
      ops_per_second[name] = std::max(ops_per_second[name], rate);
      if (auto it = run.counters.find("bytes_per_second"); it != run.counters.end())
        bytes_per_second[name] = std::max(bytes_per_second[name], it->second.value);
    }
  }
  std::map<std::string, double> ops_per_second;
  std::map<std::string, double> bytes_per_second;
};

std::string regex_escape(const std::string& s) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(s, special, R"(\$&)");
}

}  // namespace

Result<std::vector<Figure>> run_figures(const std::vector<FigureSpec>& specs, double min_seconds) {
  constexpr int repetitions = 5;
  std::string filter;
  for (const auto& s : specs)
    for (const auto& n : {s.measured, s.bound}) filter += (filter.empty() ? "^(" : "|") + regex_escape(n);
  filter += ")(/.*)?$";  // e.g. "/real_time" suffixes
  const std::string min_time = fmt::format("--benchmark_min_time={}", min_seconds / repetitions);
  const std::string reps = fmt::format("--benchmark_repetitions={}", repetitions);
  std::string arg0 = "dcas-bench", interleave = "--benchmark_enable_random_interleaving=true";
  std::vector<char*> argv{arg0.data(), const_cast<char*>(min_time.c_str()), const_cast<char*>(reps.c_str()),
                          interleave.data(), nullptr};
  int argc = 4;
  benchmark::Initialize(&argc, argv.data());
  CollectingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter, filter);

  std::vector<Figure> figures;
  for (const auto& s : specs) {
    const bool bytes = s.unit == Unit::megabytes_per_second;
    const auto& table = bytes ? reporter.bytes_per_second : reporter.ops_per_second;
    auto measured = table.find(s.measured);
    auto bound = table.find(s.bound);
    if (measured == table.end() || bound == table.end()) {
      if (s.comparison || s.optional) {
        fmt::print(stderr, "note: '{}' skipped ({})\n", s.name,
                   s.comparison ? "the other tool is not available or its output differed"
                                : "what it needs is not available here");
        continue;
      }
      return fail(Errc::invalid_argument, fmt::format("benchmark for '{}' did not run", s.name));
    }
    const double scale = bytes ? 1e-6 : 1.0;
    Figure f{s.name, measured->second * scale, bytes ? "MB/s" : "op/s", bound->second * scale * s.bound_scale, 0};
    f.efficiency = f.bound > 0 ? f.value / f.bound : 0;
    f.comparison = s.comparison;
    figures.push_back(f);
  }
  return figures;
}

void print_table(std::ostream& out, const std::vector<Figure>& figures) {
  std::size_t width = 6;
  for (const auto& f : figures) width = std::max(width, f.name.size());
  out << fmt::format("{:<{}}  {:>14}  {:>14}  {:>5}  {:>10}\n", "figure", width, "measured", "bound", "unit",
                     "efficiency");
  for (const auto& f : figures)
    if (!f.comparison)
      out << fmt::format("{:<{}}  {:>14.1f}  {:>14.1f}  {:>5}  {:>10.3f}\n", f.name, width, f.value, f.bound, f.unit,
                         f.efficiency);
  for (const auto& f : figures)
    if (f.comparison)
      out << fmt::format("{:<{}}  {:>14.1f}  {:>14.1f}  {:>5}  {:>9.2f}x  (against another tool, not a limit)\n",
                         f.name, width, f.value, f.bound, f.unit, f.efficiency);
}

nlohmann::json to_json(const std::vector<Figure>& figures) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : figures)
    out.push_back({{"name", f.name},
                   {"value", f.value},
                   {"unit", f.unit},
                   {"bound", f.bound},
                   {"efficiency", f.efficiency},
                   {"comparison", f.comparison}});
  return out;
}

}  // namespace dcas::bench
