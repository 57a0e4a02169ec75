#include "bench/harness.h"

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <regex>

namespace dcas::bench {

std::vector<Suite>& suites() {
  static std::vector<Suite> all;
  return all;
}

namespace {

// Collects each round's rate instead of printing Google Benchmark's own report (run_figures:
// the i-th rates of a measured path and of its bound were measured one right after the other).
class CollectingReporter final : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred || run.iterations == 0 ||
          run.real_accumulated_time <= 0)
        continue;
      const std::string name = run.run_name.function_name;
      ops_per_second[name].push_back(static_cast<double>(run.iterations) / run.real_accumulated_time);
      if (auto it = run.counters.find("bytes_per_second"); it != run.counters.end())
        bytes_per_second[name].push_back(it->second.value);
    }
  }
  std::map<std::string, std::vector<double>> ops_per_second;
  std::map<std::string, std::vector<double>> bytes_per_second;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The ratio of each round (the i-th repetition of each), its median and the spread of the middle
// half (the quartiles): one noisy round moves neither.
struct Ratios {
  double median = 0, low = 0, high = 0;
};
Ratios round_ratios(const std::vector<double>& measured, const std::vector<double>& bound, double scale) {
  std::vector<double> r;
  for (std::size_t i = 0; i < std::min(measured.size(), bound.size()); ++i)
    if (bound[i] > 0) r.push_back(measured[i] / (bound[i] * scale));
  if (r.empty()) return {};
  std::sort(r.begin(), r.end());
  return {median(r), r[r.size() / 4], r[(3 * r.size()) / 4]};
}

std::string regex_escape(const std::string& s) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(s, special, R"(\$&)");
}

// The benchmarks a round runs, in its order: each figure's measured path and bound side by side
// (which of the two first, and the figures' order, drawn anew each round), each benchmark once.
std::vector<std::string> round_order(const std::vector<FigureSpec>& specs, std::mt19937& draw) {
  std::vector<std::size_t> figures(specs.size());
  std::iota(figures.begin(), figures.end(), 0);
  std::shuffle(figures.begin(), figures.end(), draw);
  std::vector<std::string> order;
  for (const std::size_t i : figures) {
    std::array pair{specs[i].measured, specs[i].bound};
    if (draw() % 2) std::swap(pair[0], pair[1]);
    for (auto& name : pair)
      if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(std::move(name));
  }
  return order;
}

}  // namespace

namespace {
double current_min_seconds = 0.5;
}  // namespace

double run_min_seconds() { return current_min_seconds; }

Result<std::vector<Figure>> run_figures(const std::vector<FigureSpec>& specs, double min_seconds) {
  constexpr int rounds = 21;
  current_min_seconds = min_seconds;
  const std::string min_time = fmt::format("--benchmark_min_time={}", min_seconds / rounds);
  std::string arg0 = "dcas-bench";
  std::vector<char*> argv{arg0.data(), const_cast<char*>(min_time.c_str()), nullptr};
  int argc = 2;
  benchmark::Initialize(&argc, argv.data());
  // Rounds, not Google Benchmark's repetitions: a repetition of a measured path and the same
  // repetition of its bound run one right after the other, under the same noise of the machine,
  // and the ratio of each such pair is what a figure is made of.
  CollectingReporter reporter;
  std::mt19937 draw(20101);  // fixed: the same orders on every run
  for (int round = 0; round < rounds; ++round)
    for (const auto& name : round_order(specs, draw))
      benchmark::RunSpecifiedBenchmarks(&reporter, "^" + regex_escape(name) + "(/.*)?$");

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
    const auto ratios = round_ratios(measured->second, bound->second, s.bound_scale);
    Figure f{s.name, median(measured->second) * scale, bytes ? "MB/s" : "op/s",
             median(bound->second) * scale * s.bound_scale, ratios.median};
    f.spread_low = ratios.low;
    f.spread_high = ratios.high;
    f.comparison = s.comparison;
    figures.push_back(f);
  }
  return figures;
}

void print_table(std::ostream& out, const std::vector<Figure>& figures) {
  std::size_t width = 6;
  for (const auto& f : figures) width = std::max(width, f.name.size());
  out << fmt::format("{:<{}}  {:>14}  {:>14}  {:>5}  {:>10}  {}\n", "figure", width, "measured", "bound", "unit",
                     "efficiency", "(middle half of the rounds)");
  for (const auto& f : figures)
    if (!f.comparison)
      out << fmt::format("{:<{}}  {:>14.1f}  {:>14.1f}  {:>5}  {:>10.3f}  ({:.3f}-{:.3f})\n", f.name, width, f.value,
                         f.bound, f.unit, f.efficiency, f.spread_low, f.spread_high);
  for (const auto& f : figures)
    if (f.comparison)
      out << fmt::format(
          "{:<{}}  {:>14.1f}  {:>14.1f}  {:>5}  {:>9.2f}x  ({:.2f}-{:.2f}; against another tool, "
          "not a limit)\n",
          f.name, width, f.value, f.bound, f.unit, f.efficiency, f.spread_low, f.spread_high);
}

nlohmann::json to_json(const std::vector<Figure>& figures) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : figures)
    out.push_back({{"name", f.name},
                   {"value", f.value},
                   {"unit", f.unit},
                   {"bound", f.bound},
                   {"efficiency", f.efficiency},
                   {"efficiency_quartiles", {f.spread_low, f.spread_high}},
                   {"comparison", f.comparison}});
  return out;
}

}  // namespace dcas::bench
