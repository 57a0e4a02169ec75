// File helpers shared by every layer that writes to disk.
#pragma once

#include <filesystem>
#include <string>

#include "common/bytes.h"

namespace dcas {

// Writes `data` to `path` with mode 0600 (owner read/write only), replacing any existing file and
// narrowing its permissions before the secret is written; fsyncs before returning. Errors: io_error.
Result<void> write_secret_file(const std::filesystem::path& path, ByteView data);

// Writes a public file (certificates), mode 0644. Errors: io_error.
Result<void> write_public_file(const std::filesystem::path& path, ByteView data);

// The whole file. Errors: io_error (missing, unreadable, a directory or other non-regular file
// that cannot be read to its end).
Result<std::string> read_text_file(const std::filesystem::path& path);
Result<Bytes> read_binary_file(const std::filesystem::path& path);

}  // namespace dcas
