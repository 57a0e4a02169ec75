// Inspecting certificates.
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "cli/commands.h"
#include "pki/certificate.h"

namespace dcas::cli {

namespace {

std::string iso_time(pki::TimePoint t) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", std::chrono::floor<std::chrono::seconds>(t));
}

std::string role_of(const pki::Certificate& cert) {
  const auto roles = cert.roles();
  if (cert.is_ca() && roles.empty()) return "ta";
  if (roles.size() == 1) return std::string(role_name(roles.front()));
  return roles.empty() ? "none" : "ambiguous";
}

}  // namespace

void add_cert(CLI::App& app) {
  auto* cert = app.add_subcommand("cert", "Inspect DCAS certificates");
  cert->require_subcommand(1);
  static std::string file;
  static bool json = false;
  auto* show = cert->add_subcommand("show", "Show a certificate's role, ID, validity, issuer and fingerprint");
  show->add_option("FILE", file, "Certificate, PEM or DER")->required();
  show->add_flag("--json", json, "Print as JSON");
  show->callback([] {
    auto c = pki::Certificate::load_file(file);
    if (!c) return report_error("cert show", c.error());
    const nlohmann::json j = {{"role", role_of(*c)},
                              {"id", c->common_name()},
                              {"subject", c->subject_text()},
                              {"issuer", c->issuer_text()},
                              {"serial", c->serial_hex()},
                              {"not_before", iso_time(c->not_before())},
                              {"not_after", iso_time(c->not_after())},
                              {"fingerprint_sha256", to_hex(c->fingerprint())}};
    if (json) return print_json(j);
    for (const char* key :
         {"role", "id", "subject", "issuer", "serial", "not_before", "not_after", "fingerprint_sha256"})
      fmt::print("{:<20}{}\n", key, j[key].get<std::string>());
  });
}

}  // namespace dcas::cli
