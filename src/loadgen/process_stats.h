// What a load test reports of each server it watches: its memory and its open sockets, read from
// /proc (Linux).
#pragma once

#include <cstddef>
#include <optional>

namespace dcas::loadgen {

struct ProcessStats {
  std::size_t rss_kib = 0;       // VmRSS: resident now
  std::size_t peak_rss_kib = 0;  // VmHWM: the most it was resident
  std::size_t sockets = 0;       // open socket descriptors: its connections and listeners
};

// None when the process is gone or /proc cannot be read.
std::optional<ProcessStats> read_process_stats(int pid);

}  // namespace dcas::loadgen
