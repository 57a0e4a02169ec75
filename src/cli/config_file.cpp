#include "cli/config_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "common/files.h"
#include "common/records.h"

namespace dcas::cli {

namespace {

// What the first application learned about a command's options, for its reloads.
struct AppliedConfig {
  std::string path;
  std::set<std::string> from_command_line, from_file;
};

std::map<const CLI::App*, AppliedConfig>& applied() {
  static std::map<const CLI::App*, AppliedConfig> configs;
  return configs;
}

// The option a setting names, or null: `config` and `help` cannot be set from a file.
CLI::Option* option_named(CLI::App* command, const std::string& name) {
  if (name.empty() || name == "config" || name == "help") return nullptr;
  return command->get_option_no_throw("--" + name);
}

std::string joined(const std::vector<std::string>& results) { return fmt::format("{}", fmt::join(results, " ")); }

// Gives `option` the value, running its checks and storing it; on failure it is left empty.
// Errors: the option's message (a value out of range, not a number, ...).
Result<void> set_option(CLI::Option& option, const std::string& value) {
  try {
    option.clear();
    option.add_result(value);
    option.run_callback();
    return {};
  } catch (const CLI::Error& e) {
    option.clear();
    return fail(Errc::invalid_argument, e.what());
  }
}

// "name = value: why", except that a store URI's value is never shown: it may carry a password.
std::string refusal(const ConfigSetting& s, const std::string& why) {
  if (s.name == "db") return fmt::format("{}: refused", s.name);
  return fmt::format("{} = {}: {}", s.name, s.value, why);
}

// Puts back the value an option had before a reload (its default if it had none).
void restore(CLI::Option& option, const std::vector<std::string>& before) {
  (void)set_option(option, before.empty() ? option.get_default_str() : joined(before));
  if (before.empty()) option.clear();
}

// Every error starts "PATH:LINE: "; they are listed in the file's order.
std::string error_list(const std::string& path, std::vector<std::string> errors) {
  const auto line_of = [&](const std::string& e) { return std::stoul(e.substr(path.size() + 1)); };
  std::stable_sort(errors.begin(), errors.end(),
                   [&](const std::string& a, const std::string& b) { return line_of(a) < line_of(b); });
  return fmt::format("{}: {} bad setting(s):\n  {}", path, errors.size(), fmt::join(errors, "\n  "));
}

// The settings of `text`, and one line in `errors` for each malformed line and repeated name.
std::vector<ConfigSetting> parse_config(std::string_view text, const std::string& path,
                                        std::vector<std::string>& errors) {
  std::vector<ConfigSetting> settings;
  std::map<std::string, std::size_t> seen;
  std::size_t line_number = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto end = rest.find('\n');
    const std::string line(trim(rest.substr(0, end)));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) {
      errors.push_back(fmt::format("{}:{}: expected 'name = value'", path, line_number));
      continue;
    }
    ConfigSetting s{line_number, std::string(trim(std::string_view(line).substr(0, eq))),
                    std::string(trim(std::string_view(line).substr(eq + 1)))};
    if (s.name.empty()) {
      errors.push_back(fmt::format("{}:{}: a setting without a name", path, line_number));
      continue;
    }
    if (auto [it, fresh] = seen.emplace(s.name, line_number); !fresh) {
      errors.push_back(fmt::format("{}:{}: '{}' is already set on line {}", path, line_number, s.name, it->second));
      continue;
    }
    settings.push_back(std::move(s));
  }
  return settings;
}

// Applies the file to the options not given on the command line; throws every bad setting at once.
void apply_config_file(CLI::App* command, const std::string& path) {
  auto text = read_text_file(path);
  if (!text) throw CLI::ValidationError(text.error().detail);
  std::vector<std::string> errors;
  const auto settings = parse_config(*text, path, errors);
  AppliedConfig state{path, {}, {}};
  for (const auto& option : command->get_options())
    if (option->count() > 0)
      for (const auto& name : option->get_lnames()) state.from_command_line.insert(name);
  for (const auto& s : settings) {
    CLI::Option* option = option_named(command, s.name);
    if (!option) {
      errors.push_back(fmt::format("{}:{}: unknown setting '{}'", path, s.line, s.name));
      continue;
    }
    if (state.from_command_line.contains(s.name)) continue;
    if (auto r = set_option(*option, s.value); !r)
      errors.push_back(fmt::format("{}:{}: {}", path, s.line, refusal(s, r.error().detail)));
    state.from_file.insert(s.name);
  }
  if (!errors.empty()) throw CLI::ValidationError(error_list(path, errors));
  applied()[command] = std::move(state);
}

}  // namespace

Result<std::vector<ConfigSetting>> read_config_file(const std::string& path) {
  DCAS_TRY_ASSIGN(text, read_text_file(path));
  std::vector<std::string> errors;
  auto settings = parse_config(text, path, errors);
  if (!errors.empty()) return fail(Errc::invalid_argument, error_list(path, errors));
  return settings;
}

CLI::Option* add_config_option(CLI::App* command, std::string& path) {
  return command->add_option_function<std::string>(
      "--config",
      [command, &path](const std::string& file) {
        path = file;
        apply_config_file(command, file);
      },
      "File of 'name = value' lines, one per long option (see dcas(1), CONFIGURATION FILES); the command line wins");
}

Result<ConfigReload> reload_config(CLI::App* command, const std::set<std::string>& reloadable) {
  const auto found = applied().find(command);
  if (found == applied().end()) return fail(Errc::invalid_argument, "no --config file to reload");
  AppliedConfig& state = found->second;
  DCAS_TRY_ASSIGN(settings, read_config_file(state.path));
  ConfigReload reload;
  std::vector<std::string> errors;
  std::set<std::string> in_file;
  // Each reloadable setting that changed, with the option's value before, to undo on failure.
  std::vector<std::pair<CLI::Option*, std::vector<std::string>>> changed;
  for (const auto& s : settings) {
    in_file.insert(s.name);
    CLI::Option* option = option_named(command, s.name);
    if (!option) {
      errors.push_back(fmt::format("{}:{}: unknown setting '{}'", state.path, s.line, s.name));
      continue;
    }
    if (state.from_command_line.contains(s.name) || joined(option->results()) == s.value) continue;
    if (!reloadable.contains(s.name)) {
      reload.need_restart.push_back(s.name);
      continue;
    }
    auto before = option->results();
    if (auto r = set_option(*option, s.value); !r) {
      errors.push_back(fmt::format("{}:{}: {}", state.path, s.line, refusal(s, r.error().detail)));
      restore(*option, before);
      continue;
    }
    changed.emplace_back(option, std::move(before));
    reload.applied.push_back(fmt::format("{} = {}", s.name, s.value));
  }
  if (!errors.empty()) {
    for (auto& [option, before] : changed) restore(*option, before);
    return fail(Errc::invalid_argument, error_list(state.path, errors));
  }
  for (const auto& name : state.from_file)
    if (!in_file.contains(name)) reload.need_restart.push_back(name + " (removed)");
  state.from_file.clear();
  for (const auto& name : in_file)
    if (!state.from_command_line.contains(name)) state.from_file.insert(name);
  return reload;
}

}  // namespace dcas::cli
