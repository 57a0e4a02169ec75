// Trusted Authority commands: create the root, issue device identities.
#include <fmt/format.h>
#include <unistd.h>

#include "cli/commands.h"
#include "pki/provisioning.h"

namespace dcas::cli {

namespace {

struct TaArgs {
  std::string dir;
  std::string name = "DCAS Trusted Authority";
  int days = 3650;
  bool force = false;
  std::string role;
  std::string ta_dir = ".";
  std::string out;
  std::string id;
  std::size_t count = 1;
  bool json = false;
};

TaArgs& args() {
  static TaArgs a;
  return a;
}

nlohmann::json device_json(const pki::IssuedDevice& d) {
  return {{"role", role_name(d.role)},
          {"id", to_hex(d.id)},
          {"directory", d.directory.string()},
          {"serial", d.certificate.serial_hex()},
          {"fingerprint_sha256", to_hex(d.certificate.fingerprint())}};
}

void run_init() {
  auto& a = args();
  auto ta = pki::init_ta_directory(a.dir, a.name, a.days, a.force);
  if (!ta) return report_error("ta init", ta.error());
  const std::string fp = to_hex(ta->certificate.fingerprint());
  if (a.json)
    print_json({{"directory", a.dir},
                {"certificate", (std::filesystem::path(a.dir) / "ta.crt").string()},
                {"fingerprint_sha256", fp}});
  else
    fmt::print(
        "TA root created in {}\n  certificate  {}/ta.crt\n  private key  {}/ta.key (mode 0600)\n  SHA-256      {}\n",
        a.dir, a.dir, a.dir, fp);
}

// Progress on stderr, redrawn in place on a terminal, so that stdout stays machine-readable.
void show_progress(std::size_t done, std::size_t total) {
  if (total < 2) return;
  if (::isatty(STDERR_FILENO)) {
    fmt::print(stderr, "\rissuing {}/{} ({}%)", done, total, done * 100 / total);
    if (done == total) fmt::print(stderr, "\n");
  } else if (done == total || done % std::max<std::size_t>(1, total / 10) == 0) {
    fmt::print(stderr, "issued {}/{}\n", done, total);
  }
}

void run_issue() {
  auto& a = args();
  const auto role = role_from_name(a.role);
  if (!role || *role == Role::ta)
    return report_error("ta issue", Error{Errc::invalid_argument, "role must be sm, tp or ap"});
  if (!a.id.empty() && a.count != 1)
    return report_error("ta issue", Error{Errc::invalid_argument, "--id issues one device: it excludes --count"});
  std::optional<Bytes> id;
  if (!a.id.empty()) {
    auto parsed = from_hex_exact(a.id, device_id_size, "--id");
    if (!parsed) return report_error("ta issue", parsed.error());
    id = *parsed;
  }
  auto ta = pki::load_ta_directory(a.ta_dir);
  if (!ta) return report_error("ta issue", ta.error());
  const std::filesystem::path out =
      a.out.empty() ? std::filesystem::path(a.ta_dir) / "issued" : std::filesystem::path(a.out);
  nlohmann::json issued = nlohmann::json::array();
  for (std::size_t i = 0; i < a.count; ++i) {
    auto device = pki::issue_device_files(*ta, *role, id ? std::optional<ByteView>(*id) : std::nullopt, out, a.days,
                                          crypto::system_random());
    if (!device) return report_error("ta issue", device.error());
    issued.push_back(device_json(*device));
    if (!a.json && a.count == 1)
      fmt::print("issued {} {}\n  directory    {}\n  serial       {}\n", role_name(*role), to_hex(device->id),
                 device->directory.string(), device->certificate.serial_hex());
    show_progress(i + 1, a.count);
  }
  if (a.json)
    print_json(issued);
  else if (a.count > 1)
    fmt::print("issued {} {} identities under {}\n", a.count, role_name(*role), out.string());
}

}  // namespace

void add_ta(CLI::App& app) {
  auto* ta = app.add_subcommand("ta", "Trusted Authority: root of the DCAS PKI");
  ta->require_subcommand(1);
  auto& a = args();

  auto* init = ta->add_subcommand("init", "Create the TA root key and self-signed certificate in DIR");
  init->add_option("DIR", a.dir, "Directory for ta.key and ta.crt")->required();
  init->add_option("--name", a.name, "Common Name of the root")->capture_default_str();
  init->add_option("--days", a.days, "Validity in days")->check(CLI::Range(1, 36500))->capture_default_str();
  init->add_flag("--force", a.force, "Replace an existing TA in DIR");
  init->add_flag("--json", a.json, "Print the result as JSON");
  init->callback(run_init);

  auto* issue =
      ta->add_subcommand("issue", "Issue device identities: key pair, certificate (and for an SM its Ki1..Ki3)");
  issue->add_option("ROLE", a.role, "sm, tp or ap")->required()->check(CLI::IsMember({"sm", "tp", "ap"}));
  issue->add_option("--ta", a.ta_dir, "TA directory (from `dcas ta init`)")->capture_default_str();
  issue->add_option("--out", a.out, "Output directory (default: TA_DIR/issued)");
  issue->add_option("--id", a.id, "Device ID, 16 hex digits (default: random)");
  issue->add_option("--count", a.count, "Number of devices to issue")->check(CLI::Range(1, 1000000));
  issue->add_option("--days", a.days, "Validity in days")->check(CLI::Range(1, 36500));
  issue->add_flag("--json", a.json, "Print the issued devices as JSON");
  issue->callback(run_issue);
}

}  // namespace dcas::cli
