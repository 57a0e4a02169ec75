// Log lines of a process: one line each, never a secret. Roles produce typed events; adapters turn
// them into these lines.
#pragma once

#include <functional>
#include <string_view>

namespace dcas {

// Thread-safe when the sink it wraps is (stderr_log is).
using LogSink = std::function<void(std::string_view line)>;

// "HH:MM:SS prefix: line" on stderr; "prefix: line" when stderr is the systemd journal (which stamps it).
LogSink stderr_log(std::string_view prefix);
// Drops every line.
LogSink silent_log();

}  // namespace dcas
