// The power-up self-test: every known-answer vector file, run against the code.
#pragma once

#include <string>
#include <vector>

#include "common/records.h"

namespace dcas::kat {

struct FileOutcome {
  std::string file;
  std::size_t passed = 0;
  std::vector<std::string> failures;  // "line N: what failed"
  bool ok() const { return failures.empty() && passed > 0; }
};

// Runs the records of one vector file (by its name, e.g. "sha.txt") from `text`.
FileOutcome run_vector_file(std::string_view name, std::string_view text);

// Runs every embedded vector file. A file without a runner is a failure, so a new vector file
// cannot be forgotten.
std::vector<FileOutcome> run_all();

}  // namespace dcas::kat
