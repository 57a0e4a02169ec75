// The `dcas` program's subcommands. Each add_* registers one command group on the app; the
// callbacks set the process exit status through CommandResult.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/bytes.h"
#include "common/error.h"
#include "common/log.h"

namespace dcas::cli {

// Exit statuses: 0 success, 1 the operation failed (a check, a file, a key), 2 bad usage.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;
inline constexpr int exit_usage = 2;

// Where a command's callback leaves its exit status.
int& exit_status();

// Prints "dcas <command>: <error>" on one line of stderr and records the exit status: usage for
// argument errors (bad hex, wrong length), failure otherwise. Under `--log-format json` the line
// is a JSON log line (level error, event command_failed, the error's code).
void report_error(std::string_view command, const Error& error);
// The format of report_error's line: the command's --log-format, where it has one.
LogFormat& error_log_format();

void print_json(const nlohmann::json& j);

// Progress of `total` things being `what` (e.g. "issued"), on stderr so that stdout stays
// machine-readable: one line redrawn in place on a terminal, a line per tenth of the work otherwise.
void show_progress(std::string_view what, std::size_t done, std::size_t total);

// Writes the bound port to `path` (if not empty) for scripts and tests that listen on port 0,
// atomically: the file appearing means the server is up. Errors: io_error.
Result<void> write_port_file(const std::string& path, std::uint16_t port);

void add_selftest(CLI::App& app);
void add_crypto(CLI::App& app);
void add_ta(CLI::App& app);
// `ta serve`, `ap serve`, `host pair`; called by add_ta with its `ta` command.
void add_services(CLI::App& app, CLI::App& ta);
void add_cert(CLI::App& app);
void add_bench(CLI::App& app);
void add_demo(CLI::App& app);
void add_attack(CLI::App& app);
void add_ts(CLI::App& app);
void add_headend(CLI::App& app);
void add_manpages(CLI::App& app);
void add_trace(CLI::App& app);
void add_loadgen(CLI::App& app);

// An output file written beside its final name (PATH.partial-XXXXXX) and renamed over it by commit():
// a command that fails leaves no OUT behind, and an OUT from before unchanged. "-" is stdout.
class OutputFile {
 public:
  // Errors: io_error (cannot create it).
  static Result<OutputFile> create(const std::string& path);
  OutputFile(OutputFile&& other) noexcept;
  OutputFile& operator=(OutputFile&&) = delete;
  ~OutputFile();
  std::FILE* get() const { return file_; }
  // Flushes, closes and renames into place. Errors: io_error.
  Result<void> commit();

 private:
  OutputFile(std::FILE* file, std::string path, std::string partial)
      : file_(file), path_(std::move(path)), partial_(std::move(partial)) {}
  std::FILE* file_;
  std::string path_, partial_;  // partial_ empty: stdout
};

// Streams IN through `process` in chunks into OUT, then `finish` (what is left to write, and the
// last checks) before OUT takes its name (an OutputFile: nothing is left on failure).
// Errors: io_error, and what `process` and `finish` return.
Result<void> transform_file(const std::string& in_path, const std::string& out_path,
                            const std::function<Result<void>(ByteView chunk, Bytes& out)>& process,
                            const std::function<Result<void>(Bytes& out)>& finish);

}  // namespace dcas::cli
