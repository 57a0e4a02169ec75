// Log lines of a process: one line each, never a secret. Roles produce typed events; adapters turn
// them into these lines (observe::event_log_line), with the event's name and fields.
//
// Two formats, one for every service (`--log-format`, docs/spec.md §21): human, "HH:MM:SS
// component: text" (a warning or error says so after the component), and json, one object a line
// with time, level, component, event, message and the event's fields (IDs, verdicts, error codes).
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace dcas {

enum class LogLevel : std::uint8_t { info, warning, error };
std::string_view log_level_name(LogLevel level);  // "info", "warning", "error"

struct LogLine {
  LogLevel level = LogLevel::info;
  std::string text;   // in words, for a person
  std::string event;  // snake_case: a role's event (protocol/events.h); empty for a plain message
  // The event's data by name: IDs as hex, verdicts, states, error code names. Never a secret.
  std::vector<std::pair<std::string, std::string>> fields;
};

enum class LogFormat : std::uint8_t { human, json };
// Errors: invalid_argument (not "human" or "json").
Result<LogFormat> log_format_from_name(std::string_view name);

// Where a component's lines go. Thread-safe when the function it wraps is (stderr_log's is). An
// empty sink drops every line.
class LogSink {
 public:
  using Write = std::function<void(const LogLine&)>;
  LogSink() = default;
  template <typename F>
  requires std::invocable<F, const LogLine&> LogSink(F write)
      : write_(std::move(write)) {}  // NOLINT: implicit, as a std::function would be
  // A sink of text alone (tests, the attack relay): it sees each line's text.
  template <typename F>
  requires(std::invocable<F, std::string_view> && !std::invocable<F, const LogLine&>)
      LogSink(F write)  // NOLINT: implicit
      : write_([w = std::move(write)](const LogLine& line) { w(line.text); }) {}

  void operator()(std::string_view text) const { write({LogLevel::info, std::string(text), {}, {}}); }
  void warn(std::string_view text) const { write({LogLevel::warning, std::string(text), {}, {}}); }
  void error(std::string_view text) const { write({LogLevel::error, std::string(text), {}, {}}); }
  void write(const LogLine& line) const {
    if (write_) write_(line);
  }

 private:
  Write write_;
};

// Lines of `component` on stderr, in `format`. Human lines carry no time when stderr is the
// systemd journal (which stamps them).
LogSink stderr_log(std::string_view component, LogFormat format = LogFormat::human);
// The line as stderr_log writes it (without its newline); `stamped`: with the time.
std::string format_log_line(const LogLine& line, std::string_view component, LogFormat format, bool stamped = true);
// Drops every line.
LogSink silent_log();

}  // namespace dcas
