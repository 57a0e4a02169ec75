// The host's secure non-volatile memories as files (`dcas host pair --state DIR`): DIR/sm.nvm and
// DIR/tp.nvm, "name = hex" lines, owner-only, replaced atomically (written beside, synced, renamed)
// so that a power cut leaves either the old or the new contents, never a mix.
#pragma once

#include <filesystem>
#include <memory>

#include "protocol/secure_micro.h"
#include "protocol/transport_processor.h"

namespace dcas::host {

template <typename T>
class MemoryFile final : public protocol::NonVolatile<T> {
 public:
  // Reads the file if it exists. Errors: io_error (unreadable or damaged: a damaged file is
  // refused, never read as empty).
  static Result<std::unique_ptr<MemoryFile>> open(std::filesystem::path path);
  std::optional<T> load() const override { return value_; }
  Result<void> store(const T& value) override;

 private:
  explicit MemoryFile(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
  std::optional<T> value_;
};

using SmMemoryFile = MemoryFile<protocol::SmMemory>;
using TpMemoryFile = MemoryFile<protocol::TpMemory>;

}  // namespace dcas::host
