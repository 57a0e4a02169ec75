#include "common/log.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string>

namespace dcas {

namespace {

// Whether stderr is the journal's stream (systemd sets JOURNAL_STREAM to its "device:inode"),
// which stamps every line itself.
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  struct stat st {};
  if (!stream || fstat(2, &st) != 0) return false;
  return fmt::format("{}:{}", st.st_dev, st.st_ino) == stream;
}

// A JSON string literal. By hand: the protocol library that holds common/ has no JSON dependency.
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        else
          out += c;
    }
  }
  out += '"';
}

std::string json_line(const LogLine& line, std::string_view component) {
  const auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  const auto seconds = std::chrono::floor<std::chrono::seconds>(now);
  std::string out = fmt::format(R"({{"time":"{:%Y-%m-%dT%H:%M:%S}.{:03}Z","level":"{}","component":)",
                                fmt::gmtime(std::chrono::system_clock::to_time_t(seconds)), (now - seconds).count(),
                                log_level_name(line.level));
  append_json_string(out, component);
  out += R"(,"event":)";
  append_json_string(out, line.event);
  out += R"(,"message":)";
  append_json_string(out, line.text);
  for (const auto& [name, value] : line.fields) {
    if (name == "time" || name == "level" || name == "component" || name == "event" || name == "message") continue;
    out += ',';
    append_json_string(out, name);
    out += ':';
    append_json_string(out, value);
  }
  out += '}';
  return out;
}

}  // namespace

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
  }
  return "info";
}

Result<LogFormat> log_format_from_name(std::string_view name) {
  if (name == "human") return LogFormat::human;
  if (name == "json") return LogFormat::json;
  return fail(Errc::invalid_argument, fmt::format("log format '{}': human or json", name));
}

std::string format_log_line(const LogLine& line, std::string_view component, LogFormat format, bool stamped) {
  if (format == LogFormat::json) return json_line(line, component);
  const std::string level = line.level == LogLevel::info ? "" : fmt::format("{}: ", log_level_name(line.level));
  if (!stamped) return fmt::format("{}: {}{}", component, level, line.text);
  const auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  return fmt::format("{:%H:%M:%S} {}: {}{}", now, component, level, line.text);
}

LogSink stderr_log(std::string_view component, LogFormat format) {
  const bool stamped = !stderr_is_journal();
  return [c = std::string(component), format, stamped](const LogLine& line) {
    // One write per line: lines of several threads never interleave.
    const std::string text = format_log_line(line, c, format, stamped) + '\n';
    std::fwrite(text.data(), 1, text.size(), stderr);
  };
}

LogSink silent_log() { return {}; }

}  // namespace dcas
