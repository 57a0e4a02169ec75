#include "common/log.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <string>

namespace dcas {

LogSink stderr_log(std::string_view prefix) {
  return [p = std::string(prefix)](std::string_view line) {
    const auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
    fmt::print(stderr, "{:%H:%M:%S} {}: {}\n", now, p, line);
  };
}

LogSink silent_log() {
  return [](std::string_view) {};
}

}  // namespace dcas
