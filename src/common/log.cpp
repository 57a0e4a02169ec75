#include "common/log.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
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

}  // namespace

LogSink stderr_log(std::string_view prefix) {
  if (stderr_is_journal())
    return [p = std::string(prefix)](std::string_view line) { fmt::print(stderr, "{}: {}\n", p, line); };
  return [p = std::string(prefix)](std::string_view line) {
    const auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
    fmt::print(stderr, "{:%H:%M:%S} {}: {}\n", now, p, line);
  };
}

LogSink silent_log() {
  return [](std::string_view) {};
}

}  // namespace dcas
