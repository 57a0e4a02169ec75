// Conformance tooling: the paper's derivations on the command line, printing lowercase hex.
#include <fmt/format.h>

#include "cli/commands.h"
#include "common/ids.h"
#include "crypto/fips186_prf.h"
#include "protocol/derivation.h"

namespace dcas::cli {

namespace {

struct CryptoArgs {
  std::string seed, ki1, ki2, ki3, sm_id, tp_id, rand, kpk, rand_hmac;
  std::size_t bytes = 20;
  bool json = false;
};

CryptoArgs& args() {
  static CryptoArgs a;
  return a;
}

void emit(std::string_view command, std::string_view key, const Result<SecureBytes>& value) {
  if (!value) return report_error(command, value.error());
  const std::string hex = to_hex(view(*value));
  if (args().json)
    print_json({{std::string(key), hex}});
  else
    std::cout << hex << '\n';
}

Result<SecureBytes> secret_hex(std::string_view hex, std::size_t size, std::string_view what) {
  DCAS_TRY_ASSIGN(b, from_hex_exact(hex, size, what));
  SecureBytes out(b.begin(), b.end());
  secure_wipe(b.data(), b.size());
  return out;
}

Result<SecureBytes> run_kpk() {
  auto& a = args();
  DCAS_TRY_ASSIGN(ki1, secret_hex(a.ki1, protocol::ki_size, "--ki1"));
  DCAS_TRY_ASSIGN(ki2, secret_hex(a.ki2, protocol::ki_size, "--ki2"));
  DCAS_TRY_ASSIGN(ki3, secret_hex(a.ki3, protocol::ki_size, "--ki3"));
  DCAS_TRY_ASSIGN(sm, SmId::from_hex(a.sm_id));
  DCAS_TRY_ASSIGN(tp, TpId::from_hex(a.tp_id));
  DCAS_TRY_ASSIGN(rand, from_hex_exact(a.rand, protocol::rand_size, "--rand"));
  return protocol::derive_kpk({ki1, ki2, ki3}, sm, tp, rand);
}

Result<SecureBytes> run_cwek() {
  auto& a = args();
  DCAS_TRY_ASSIGN(kpk, secret_hex(a.kpk, protocol::kpk_size, "--kpk"));
  DCAS_TRY_ASSIGN(sm, SmId::from_hex(a.sm_id));
  DCAS_TRY_ASSIGN(tp, TpId::from_hex(a.tp_id));
  return protocol::derive_cwek(view(kpk), sm, tp);
}

Result<SecureBytes> run_hmac_key() {
  auto& a = args();
  DCAS_TRY_ASSIGN(rand_hmac, secret_hex(a.rand_hmac, protocol::rand_hmac_size, "--rand-hmac"));
  DCAS_TRY_ASSIGN(sm, SmId::from_hex(a.sm_id));
  DCAS_TRY_ASSIGN(tp, TpId::from_hex(a.tp_id));
  return protocol::derive_hmac_key(view(rand_hmac), sm, tp);
}

Result<SecureBytes> run_prf() {
  DCAS_TRY_ASSIGN(seed, from_hex(args().seed));
  if (seed.size() < crypto::fips186_prf_min_seed || seed.size() > crypto::fips186_prf_max_seed)
    return fail(Errc::bad_length, fmt::format("--seed must be 20 to 64 bytes, got {}", seed.size()));
  return crypto::fips186_2_prf(seed, args().bytes);
}

void add_ids(CLI::App* cmd) {
  cmd->add_option("--sm-id", args().sm_id, "SM_ID, 8 bytes (16 hex digits)")->required();
  cmd->add_option("--tp-id", args().tp_id, "TP_ID, 8 bytes (16 hex digits)")->required();
}

}  // namespace

void add_crypto(CLI::App& app) {
  auto* crypto =
      app.add_subcommand("crypto", "The protocol's derivations, for checking devices (lowercase hex output)");
  crypto->require_subcommand(1);
  auto& a = args();

  auto* prf = crypto->add_subcommand("prf", "FIPS 186-2 (change notice 1) generator: SEED is XKEY, b = 8 x its length");
  prf->add_option("--seed", a.seed, "XKEY, 20 to 64 bytes in hex")->required();
  prf->add_option("--bytes", a.bytes, "Output length in bytes")->check(CLI::Range(1, 4096));
  prf->add_flag("--json", a.json, "Print {\"name\": \"hex\"} instead of bare hex");
  prf->callback([] { emit("crypto prf", "output", run_prf()); });

  auto* kpk = crypto->add_subcommand("kpk", "KPK = PRF(SHA-256(Ki1||Ki2||Ki3||SM_ID||TP_ID||RAND)) msb(160)");
  kpk->add_option("--ki1", a.ki1, "Ki1, 16 bytes")->required();
  kpk->add_option("--ki2", a.ki2, "Ki2, 16 bytes")->required();
  kpk->add_option("--ki3", a.ki3, "Ki3, 16 bytes")->required();
  add_ids(kpk);
  kpk->add_option("--rand", a.rand, "RAND, 40 bytes (320 bits)")->required();
  kpk->add_flag("--json", a.json, "Print {\"name\": \"hex\"} instead of bare hex");
  kpk->callback([] { emit("crypto kpk", "kpk", run_kpk()); });

  auto* cwek = crypto->add_subcommand("cwek", "CWEK = SHA-256(KPK||SM_ID||TP_ID) msb(128)");
  cwek->add_option("--kpk", a.kpk, "KPK, 20 bytes")->required();
  add_ids(cwek);
  cwek->add_flag("--json", a.json, "Print {\"name\": \"hex\"} instead of bare hex");
  cwek->callback([] { emit("crypto cwek", "cwek", run_cwek()); });

  auto* hmac = crypto->add_subcommand("hmac-key", "HMAC_KEY = SHA-256(RANDHMAC||SM_ID||TP_ID) msb(160)");
  hmac->add_option("--rand-hmac", a.rand_hmac, "RANDHMAC, 20 bytes")->required();
  add_ids(hmac);
  hmac->add_flag("--json", a.json, "Print {\"name\": \"hex\"} instead of bare hex");
  hmac->callback([] { emit("crypto hmac-key", "hmac_key", run_hmac_key()); });
}

}  // namespace dcas::cli
