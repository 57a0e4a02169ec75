#include "store/operator_key.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cstdlib>

#include "common/files.h"
#include "crypto/random.h"

namespace dcas::store {

namespace fs = std::filesystem;

Result<void> create_operator_key(const fs::path& ta_dir) {
  DCAS_TRY_ASSIGN(key, crypto::system_random().bytes(32));
  std::string hex = to_hex(view(key)) + "\n";
  auto written = write_secret_file(ta_dir / "store.key", view(hex));
  secure_wipe(hex.data(), hex.size());
  return written;
}

Result<SecureBytes> load_operator_key(const fs::path& ta_dir, KeySource source) {
  std::string hex;
  const char* env = source == KeySource::environment_or_file ? std::getenv(operator_key_env) : nullptr;
  if (env) {
    hex = env;
  } else {
    const fs::path path = ta_dir / "store.key";
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      return fail(Errc::io_error, fmt::format("no operator key: {} is missing", path.string()));
    if (st.st_mode & 077) return fail(Errc::io_error, fmt::format("{} must be owner-only (chmod 600)", path.string()));
    DCAS_TRY_ASSIGN(text, read_text_file(path));
    hex = std::move(text);
  }
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' ')) hex.pop_back();
  auto key = from_hex_exact(hex, 32, "operator key");
  secure_wipe(hex.data(), hex.size());
  if (!key) return std::unexpected(key.error());
  SecureBytes out(key->begin(), key->end());
  secure_wipe(key->data(), key->size());
  return out;
}

}  // namespace dcas::store
