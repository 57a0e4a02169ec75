#include "loadgen/process_stats.h"

#include <filesystem>
#include <fstream>
#include <string>

namespace dcas::loadgen {

std::optional<ProcessStats> read_process_stats(int pid) {
  const std::filesystem::path proc = "/proc/" + std::to_string(pid);
  std::ifstream status(proc / "status");
  if (!status) return std::nullopt;
  ProcessStats stats;
  for (std::string line; std::getline(status, line);) {
    auto kib = [&line] { return static_cast<std::size_t>(std::stoull(line.substr(line.find(':') + 1))); };
    if (line.starts_with("VmRSS:")) stats.rss_kib = kib();
    if (line.starts_with("VmHWM:")) stats.peak_rss_kib = kib();
  }
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator(proc / "fd", ec)) {
    std::error_code link_ec;
    if (std::filesystem::read_symlink(fd.path(), link_ec).string().starts_with("socket:")) ++stats.sockets;
  }
  if (ec) return std::nullopt;
  return stats;
}

}  // namespace dcas::loadgen
