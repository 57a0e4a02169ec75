// A child process with its output in files: the demo runs the `dcas` commands as the separate
// programs they are, and the tests do the same. Killed (SIGKILL) and reaped if still running when
// destroyed.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace dcas {

class ChildProcess {
 public:
  // Runs `binary` with `args`; stderr (and stdout, unless `stdout_path` is given) appended to
  // `log_path`. A failure to start shows as exit status 127.
  ChildProcess(const std::filesystem::path& binary, std::vector<std::string> args,
               const std::filesystem::path& log_path,
               const std::optional<std::filesystem::path>& stdout_path = std::nullopt);
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  void signal(int signal) const;
  bool running();
  // The exit status (128 + signal if killed by one), or nullopt if still running after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
  std::optional<int> status_;
};

// The running program's own executable (to start its subcommands).
std::filesystem::path self_executable();

}  // namespace dcas
