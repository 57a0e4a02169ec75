// Shared fixtures for the unit tests: fixed keys from tests/data/keys (no key generation per test
// process) and a small PKI built from them.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "common/ids.h"
#include "crypto/rsa.h"
#include "pki/authority.h"
#include "pki/certificate.h"
#include "protocol/role.h"

namespace dcas::test {

inline std::filesystem::path source_dir() { return DCAS_SOURCE_DIR; }

inline const crypto::RsaPrivateKey& key(const std::string& name) {
  static std::map<std::string, crypto::RsaPrivateKey> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    auto loaded = crypto::RsaPrivateKey::load_pem_file(source_dir() / "tests/data/keys" / (name + ".pem"));
    if (!loaded) throw std::runtime_error(loaded.error().message());
    it = cache.emplace(name, *loaded).first;
  }
  return it->second;
}

inline crypto::SeededRandom& test_rng() {
  static crypto::SeededRandom rng(view("dcas unit tests"));
  return rng;
}

inline pki::Validity valid_for_a_year() { return pki::Validity::starting_now(365); }

// A real MPEG-TS made by ffmpeg (MPEG-2 video at 25 fps and MP2 audio, with PCR), once per test
// process and length.
const std::filesystem::path& ffmpeg_ts(int seconds);

inline const pki::Certificate& ta_root() {
  static const pki::Certificate root =
      pki::make_root(key("ta"), "DCAS Test TA", valid_for_a_year(), test_rng()).value();
  return root;
}

inline pki::Certificate issue(Role role, std::string_view id_hex, const std::string& key_name,
                              pki::Validity validity = valid_for_a_year()) {
  const auto id = from_hex(id_hex).value();
  return pki::issue_device(key("ta"), ta_root(), role, id, key(key_name).public_key(), validity, test_rng()).value();
}

inline pki::TimePoint now() { return std::chrono::system_clock::now(); }

// The text of docs/spec.md, for tests that hold the spec to the code.
std::string read_spec();

// Runs the dcas binary with `args`; returns its exit status and fills stdout/stderr.
struct CommandResult {
  int status = -1;
  std::string out;
  std::string err;
};
CommandResult run_dcas(const std::string& args);

// stdout of a shell command, which must succeed (stderr dropped: tshark warns about running as
// root); a bad display filter, or a failed scrape, fails the test instead of matching nothing.
std::string output_of(const std::string& command);

// A fresh database in the throwaway cluster that scripts/test.sh starts (DCAS_TEST_POSTGRES), or
// nullopt when no cluster was given.
std::optional<std::string> fresh_postgres(const std::string& name);

}  // namespace dcas::test

namespace dcas {
inline void PrintTo(Errc code, std::ostream* os) { *os << errc_name(code); }
inline void PrintTo(Role r, std::ostream* os) { *os << role_label(r); }
}  // namespace dcas
