// How the operator supplies the key that seals the Ki at rest (docs/spec.md, "TA store"):
// the environment variable DCAS_TA_STORE_KEY (64 hex digits) if set, else the file
// TA_DIR/store.key (64 hex digits), which must be owner-only (mode 0600 or stricter).
#pragma once

#include <filesystem>
#include <memory>

#include "common/bytes.h"
#include "store/sqlite_store.h"

namespace dcas::store {

inline constexpr const char* operator_key_env = "DCAS_TA_STORE_KEY";

// Writes a fresh random key to DIR/store.key, mode 0600. Errors: io_error.
Result<void> create_operator_key(const std::filesystem::path& ta_dir);
// Errors: io_error (missing, or readable by others), bad_hex, bad_length.
enum class KeySource { environment_or_file, file_only };  // the headend's key is its file's
Result<SecureBytes> load_operator_key(const std::filesystem::path& ta_dir,
                                      KeySource source = KeySource::environment_or_file);

}  // namespace dcas::store
