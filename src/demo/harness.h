// Running `dcas` subcommands as the separate processes they are: the demo's orchestration and the
// system tests share this one harness (a child per command with its output in files, servers on
// free ports announced through a port file, waiting with a deadline).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/process.h"

namespace dcas::demo {

// A file's whole text ("" if it cannot be read).
std::string slurp(const std::filesystem::path& p);

// Polls `condition` every 20 ms until it holds or `timeout` passes; its last value.
bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// The port a server wrote to `port_file` once it listens, while `server` runs. Errors:
// net_unavailable (it exited, or wrote nothing in `timeout`).
Result<int> read_port_file(const std::filesystem::path& port_file, ChildProcess& server,
                           std::chrono::milliseconds timeout = std::chrono::seconds(15));

struct Run {
  int status = -1;
  nlohmann::json out;  // stdout, when it is JSON (discarded otherwise)
  std::string stdout_text;
};

struct Server {
  std::unique_ptr<ChildProcess> process;
  int port = 0;
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};

class Harness {
 public:
  // `binary` is the dcas program; logs go to `log_dir` (created).
  Harness(std::filesystem::path binary, std::filesystem::path log_dir);

  // Runs `dcas argv...` to the end; `name` names its log files. Errors: net_timeout (it did not
  // finish in `timeout`), io_error (it could not be started).
  Result<Run> run(const std::vector<std::string>& argv, const std::string& name,
                  std::chrono::seconds timeout = std::chrono::seconds(120)) const;
  // Starts a server (`dcas argv... --listen 127.0.0.1:0 --port-file F`) and waits until it listens.
  Result<Server> serve(std::vector<std::string> argv, const std::string& name) const;
  // Starts `dcas argv...` in the background.
  std::unique_ptr<ChildProcess> start(const std::vector<std::string>& argv, const std::string& name) const;

  const std::filesystem::path& log_dir() const { return log_dir_; }
  std::filesystem::path log_of(const std::string& name) const { return log_dir_ / (name + ".log"); }
  // What a command said last on stderr (its error line), or "see LOG" when it said nothing.
  std::string last_log_line(const std::string& name) const;

 private:
  std::filesystem::path binary_, log_dir_;
};

}  // namespace dcas::demo
