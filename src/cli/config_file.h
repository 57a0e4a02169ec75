// Configuration files of the servers and the host (`--config FILE`, the files under /etc/dcas).
//
// Format: one "name = value" per line, `name` a long option of the command without its "--"
// (every option of the command may be set, `config` and `help` excepted), flags as true/false;
// '#' starts a comment line; blank lines are ignored; a name given twice is an error. A setting
// given on the command line wins over the file's.
//
// The file is applied while CLI11 processes the command line, before it checks the required
// options, so a required option may come from the file alone. Every bad line is reported at once,
// one line each, as a usage error (exit status 2).
#pragma once

#include <CLI/CLI.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"

namespace dcas::cli {

struct ConfigSetting {
  std::size_t line = 0;
  std::string name, value;
};

// Errors: io_error (cannot read it), invalid_argument listing every malformed line and repeated name.
Result<std::vector<ConfigSetting>> read_config_file(const std::string& path);

// Adds `--config FILE` to `command`, storing the path in `path`.
CLI::Option* add_config_option(CLI::App* command, std::string& path);

// What a reload changed: "name = value" for each setting applied, and the settings that changed in
// the file but take effect only at the next start.
struct ConfigReload {
  std::vector<std::string> applied, need_restart;
};

// Reads the --config file of a running `command` again and applies the settings named in
// `reloadable` that the command line did not set; a setting removed from the file is reported
// (once) as waiting for the next start. All or nothing: if any setting is bad, none changes. Each
// reloadable option has a default string (capture_default_str, or default_str for a flag), which
// puts back an option that had no value when a reload is refused.
// Errors: io_error, invalid_argument (every bad setting, one line each).
Result<ConfigReload> reload_config(CLI::App* command, const std::set<std::string>& reloadable);

}  // namespace dcas::cli
