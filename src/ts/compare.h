// Whether a receiver's output carries a source's programme unchanged (the demo's and the tests'
// check): for every elementary-stream PID the source's PMTs name, the same packets, byte for byte,
// in the same order. PSI, the CAT and the ECM/EMM PIDs may differ (the headend adds its signalling).
#pragma once

#include <filesystem>
#include <set>
#include <string>

#include "common/error.h"

namespace dcas::ts {

struct ProgrammeComparison {
  std::set<std::uint16_t> elementary_pids;
  std::uint64_t source_packets = 0;    // elementary-stream packets in the source
  std::uint64_t matching_packets = 0;  // of those, equal at the same position of their PID in the output
  bool identical = false;              // every elementary PID: the same packets, the same number
  std::string first_difference;        // empty when identical
};

// Errors: io_error (a file missing, unreadable or a directory); ts_sync_lost (a file with not
// one packet: not a transport stream); ts_no_elementary_stream.
Result<ProgrammeComparison> compare_programme(const std::filesystem::path& source, const std::filesystem::path& output);

}  // namespace dcas::ts
