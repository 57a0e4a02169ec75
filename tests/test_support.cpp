#include "test_support.h"

#include <sys/wait.h>

#include <fstream>
#include <sstream>

namespace dcas::test {

namespace {
std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

std::string read_spec() { return slurp(source_dir() / "docs/spec.md"); }

CommandResult run_dcas(const std::string& args) {
  const auto dir = std::filesystem::temp_directory_path() / ("dcas-cli-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto out = dir / "out", err = dir / "err";
  const std::string cmd =
      std::string(DCAS_BINARY) + " " + args + " >" + out.string() + " 2>" + err.string() + " </dev/null";
  const int raw = std::system(cmd.c_str());
  CommandResult r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  std::filesystem::remove_all(dir);
  return r;
}

}  // namespace dcas::test
