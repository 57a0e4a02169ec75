// dcas: the Downloadable Conditional Access System, one program with subcommands.
#include <fmt/format.h>
#include <unistd.h>

#include "cli/commands.h"

namespace dcas::cli {

int& exit_status() {
  static int status = exit_ok;
  return status;
}

LogFormat& error_log_format() {
  static LogFormat format = LogFormat::human;
  return format;
}

void report_error(std::string_view command, const Error& error) {
  if (error_log_format() == LogFormat::json)
    std::cerr << format_log_line({LogLevel::error,
                                  error.message(),
                                  "command_failed",
                                  {{"command", std::string(command)}, {"error", std::string(errc_name(error.code))}}},
                                 "dcas", LogFormat::json)
              << '\n';
  else
    std::cerr << "dcas " << command << ": " << error.message() << '\n';
  const bool usage =
      error.code == Errc::bad_hex || error.code == Errc::bad_length || error.code == Errc::invalid_argument;
  exit_status() = usage ? exit_usage : exit_failure;
}

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << '\n'; }

void show_progress(std::string_view what, std::size_t done, std::size_t total) {
  static std::size_t last_tenth = 0;
  if (total < 2) return;
  if (::isatty(STDERR_FILENO)) {
    fmt::print(stderr, "\r{} {}/{} ({}%)", what, done, total, done * 100 / total);
    if (done == total) fmt::print(stderr, "\n");
  } else if (const std::size_t tenth = done * 10 / total; tenth != last_tenth || done == total) {
    last_tenth = tenth;
    fmt::print(stderr, "{} {}/{}\n", what, done, total);
  }
}

}  // namespace dcas::cli

int main(int argc, char** argv) {
  using namespace dcas::cli;
  CLI::App app{"DCAS: Downloadable Conditional Access System with the Koo et al. (2010) SM-TP security protocol",
               "dcas"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "dcas " DCAS_VERSION);
  add_demo(app);
  add_attack(app);
  add_selftest(app);
  add_crypto(app);
  add_headend(app);  // before add_ta: `headend serve` joins it there
  add_ta(app);
  add_cert(app);
  add_bench(app);
  add_ts(app);
  add_trace(app);
  add_loadgen(app);
  add_manpages(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line on stderr naming what is wrong; `--help` shows the usage.
    std::cerr << "dcas: " << e.what() << " (see --help)\n";
    return exit_usage;
  }
  return exit_status();
}
