// A process's journal: what it saw, as typed records, one JSON object per line (docs/spec.md §16).
// The `dcas host` and `dcas ap serve`/`headend serve` processes write one with --journal FILE; the
// demo reads them back as the same types and switches on them (no log line is ever parsed).
#pragma once

#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <variant>
#include <vector>

#include "common/log.h"
#include "protocol/role.h"

namespace dcas::observe {

// A message seen crossing between two roles: its type and size, never its bytes.
struct HopRecord {
  Role from, to;
  std::uint8_t type = 0;  // wire::MessageType
  std::size_t size = 0;
  std::optional<SmId> sm;  // the SM it concerns, where the writer knows it
};
HopRecord hop_record(const protocol::Hop& hop, std::optional<SmId> sm = std::nullopt);
// "SM -> AP", "KeyRequest (SM->AP), 1234 bytes"
std::string route_of(const HopRecord& hop);
std::string describe(const HopRecord& hop);

struct EventRecord {
  Role at;
  protocol::Event event;
};

using Record = std::variant<HopRecord, EventRecord>;

nlohmann::json to_json(const Record& record);
nlohmann::json to_json(const protocol::Event& event);
// An event that reports a failed check or a refusal: it carries an error, or it is one of the
// refusals that name none (pairing_refused, refusal_relayed, cw_channel_revoked).
bool is_failure(const protocol::Event& event);
// The event as a log line (common/log.h): its name and detail in words, its fields flattened to
// strings (an error to its code's name), a warning when it is a failure.
LogLine event_log_line(const protocol::Event& event);
// Errors: invalid_argument (not a record of a known kind, event or field).
Result<Record> record_from_json(const nlohmann::json& j);
Result<protocol::Event> event_from_json(const nlohmann::json& j);

// Appends records to a file, one line each, flushed per line; thread-safe.
class Journal {
 public:
  // Errors: io_error.
  static Result<std::unique_ptr<Journal>> open(const std::filesystem::path& path);
  explicit Journal(std::ofstream out) : out_(std::move(out)) {}
  void write(const Record& record);

 private:
  std::mutex mutex_;
  std::ofstream out_;
};

// Every whole line of a journal (a line still being written is not one yet).
// Errors: io_error, invalid_argument (a malformed line).
Result<std::vector<Record>> read_journal(const std::filesystem::path& path);

}  // namespace dcas::observe
