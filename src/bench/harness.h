// The shared harness behind every `dcas bench` command (the project's `openssl speed`).
//
// Each figure pairs a measured Google Benchmark with the benchmark that is its bound, both run in
// the same process and the same run, so a figure is always read as a ratio, never as an absolute
// number from another machine. efficiency = measured rate / bound rate (= bound cost / measured
// cost): 1.0 is the limit.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "common/error.h"

namespace dcas::bench {

enum class Unit { ops_per_second, megabytes_per_second };

struct FigureSpec {
  std::string name;      // what the user reads, e.g. "OAEP encrypt (seeded encoder)"
  std::string measured;  // Google Benchmark name of the measured operation
  std::string bound;     // Google Benchmark name of its bound
  Unit unit = Unit::ops_per_second;
  // The bound is another tool doing the same job, not a limit: efficiency is then a speed-up and
  // may exceed 1. Printed apart from the limits; omitted (with a note) if the tool is missing.
  bool comparison = false;
  // The bound is this many times the bound benchmark's rate (e.g. 2 for a two-core figure against
  // a one-core bound: linear scaling is the limit).
  double bound_scale = 1.0;
  // Needs something the machine may lack (a PostgreSQL server): omitted with a note if it did not run.
  bool optional = false;
};

struct Figure {
  std::string name;
  double value = 0;                        // measured rate
  std::string unit;                        // "op/s" or "MB/s"
  double bound = 0;                        // bound rate, same unit
  double efficiency = 0;                   // the median over the rounds of measured / bound
  double spread_low = 0, spread_high = 0;  // the rounds' ratios: first and third quartile
  bool comparison = false;
};

// Runs every benchmark the specs name for about `min_seconds` each, in 21 short rounds; in each
// round a figure's measured path and its bound run one right after the other (the order drawn
// anew each round). Each figure is built from the rounds: the median rates, and the median (with
// quartiles) of the ratio of the measured path's rate to its bound's in the same round.
// Errors: invalid_argument (a spec names a benchmark that is not registered or did not run).
Result<std::vector<Figure>> run_figures(const std::vector<FigureSpec>& specs, double min_seconds);

// The min_seconds of the run_figures call in progress (for benchmarks that prepare their work
// up front, sized to the run).
double run_min_seconds();

void print_table(std::ostream& out, const std::vector<Figure>& figures);
nlohmann::json to_json(const std::vector<Figure>& figures);

// A suite as the `dcas bench` command sees it.
struct Suite {
  std::string name;  // "crypto" for `dcas bench crypto`
  std::string description;
  std::vector<FigureSpec> figures;
};
std::vector<Suite>& suites();
// Registers a suite from a static initializer in the file that defines its benchmarks.
struct SuiteRegistration {
  explicit SuiteRegistration(Suite suite) { suites().push_back(std::move(suite)); }
};

}  // namespace dcas::bench
