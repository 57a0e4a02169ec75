// The dcas program as users run it: exit statuses, one-line errors, JSON output, real files.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "common/files.h"
#include "test_support.h"

namespace dcas {
namespace {

using test::run_dcas;

TEST(Cli, SelftestPasses) {
  const auto r = run_dcas("selftest --json");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::parse(r.out).at("ok").get<bool>());
}

TEST(Cli, DerivationsPrintLowercaseHex) {
  EXPECT_EQ(run_dcas("crypto prf --seed bd029bbe7f51960bcf9edb2b61f06f0feb5a38b6 --bytes 40").out,
            "2070b3223dba372fde1c0ffc7b2e3b498b2606143c6c18bacb0f6c55babb13788e20d737a3275116\n");
  EXPECT_EQ(run_dcas("crypto kpk --ki1 000102030405060708090a0b0c0d0e0f --ki2 101112131415161718191a1b1c1d1e1f "
                     "--ki3 202122232425262728292a2b2c2d2e2f --sm-id 5300000000000001 --tp-id 5400000000000002 "
                     "--rand 404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f6061626364656667")
                .out,
            "2070b105293540be07c09b7d0d43181c2099332d\n");
  EXPECT_EQ(run_dcas("crypto cwek --kpk 2070B105293540BE07C09B7D0D43181C2099332D --sm-id 5300000000000001 "
                     "--tp-id 5400000000000002")
                .out,
            "2af681b20c9f04257f724e55889eb138\n");
  const auto j = run_dcas(
      "crypto hmac-key --rand-hmac a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3 --sm-id 5300000000000001 "
      "--tp-id 5400000000000002 --json");
  EXPECT_EQ(nlohmann::json::parse(j.out).at("hmac_key"), "373a6a8da7c65e9b618c46085e5e16d241a0ac14");
}

TEST(Cli, BadArgumentsFailWithOneLineNamingTheProblem) {
  const std::pair<const char*, const char*> cases[] = {
      {"crypto cwek --kpk 00 --sm-id 5300000000000001 --tp-id 5400000000000002", "--kpk"},
      {"crypto cwek --kpk 2070b105293540be07c09b7d0d43181c2099332d --sm-id 53 --tp-id 5400000000000002", "device ID"},
      {"crypto hmac-key --rand-hmac xyz0 --sm-id 5300000000000001 --tp-id 5400000000000002", "--rand-hmac"},
      {"crypto prf --seed 00 --bytes 4", "--seed"},
      {"crypto prf --seed bd029bbe7f51960bcf9edb2b61f06f0feb5a38b6 --bytes 0", "--bytes"},
      {"crypto kpk --ki1 00", "required"},
      {"nosuchcommand", "subcommand"},
      {"ta issue xx --ta /nonexistent", "ROLE"},
      {"cert show /nonexistent/cert.pem", "/nonexistent/cert.pem"},
  };
  for (auto [args, mentions] : cases) {
    const auto r = run_dcas(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_TRUE(r.out.empty()) << args;
    ASSERT_FALSE(r.err.empty()) << args;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
    EXPECT_NE(r.err.find(mentions), std::string::npos) << args << ": " << r.err;
  }
}

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* cmd :
       {"",          "selftest",  "crypto",       "crypto prf",     "crypto kpk", "crypto cwek",      "crypto hmac-key",
        "ta",        "ta init",   "ta issue",     "ta revoke",      "ta crl",     "ta renew",         "cert",
        "cert show", "bench",     "bench crypto", "bench protocol", "bench cw",   "bench descramble", "demo",
        "scramble",  "descramble"}) {
    const auto r = run_dcas(std::string(cmd) + " --help");
    EXPECT_EQ(r.status, 0) << cmd;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd;
  }
}

// The man pages come from the same definitions as --help: every page's options are exactly what
// its command's --help lists, and each page it refers to exists.
TEST(Cli, ManPagesMatchEveryCommandsHelp) {
  const auto dir = std::filesystem::temp_directory_path() / ("dcas-man-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  ASSERT_EQ(run_dcas("manpages " + dir.string()).status, 0);
  // An option line of --help: "  -x,--name ..." or "  --name ...".
  const std::regex option_in_help(R"(^\s+(?:-[a-zA-Z],)?--([a-z][a-z0-9-]*))");
  const std::regex page_reference(R"(\\fB(dcas[a-z0-9\\-]*)\\fR\(1\)|\.BR (dcas[a-z0-9\\-]*) \(1\))");
  std::size_t pages = 0, options_checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++pages;
    const std::string page = entry.path().stem().string();  // dcas-ta-serve
    const std::string text = read_text_file(entry.path()).value();
    EXPECT_EQ(text.rfind(".TH ", 0), 0u) << page;
    for (const char* section : {".SH NAME\n", ".SH SYNOPSIS\n", ".SH DESCRIPTION\n", ".SH SEE ALSO\n"})
      EXPECT_NE(text.find(section), std::string::npos) << page << " lacks " << section;
    std::string command = page.substr(4);  // "-ta-serve"
    std::replace(command.begin(), command.end(), '-', ' ');
    auto help = run_dcas(command + " --help");
    if (help.status != 0) {  // a hyphen inside a command's own name ("crypto hmac-key")
      for (std::size_t at = command.size(); at-- > 0 && help.status != 0;)
        if (command[at] == ' ') {
          std::string joined = command;
          joined[at] = '-';
          help = run_dcas(joined + " --help");
        }
    }
    ASSERT_EQ(help.status, 0) << page;
    std::istringstream lines(help.out);
    for (std::string line; std::getline(lines, line);) {
      std::smatch m;
      if (!std::regex_search(line, m, option_in_help)) continue;
      const std::string name = m[1];
      if (name == "help" || name == "help-all" || name == "version") continue;
      std::string escaped;
      for (char c : name) escaped += c == '-' ? std::string("\\-") : std::string(1, c);
      EXPECT_NE(text.find("\\fB\\-\\-" + escaped + "\\fR"), std::string::npos) << page << " lacks --" << name;
      ++options_checked;
    }
    for (std::sregex_iterator m(text.begin(), text.end(), page_reference), end; m != end; ++m) {
      std::string referred = (*m)[1].matched ? (*m)[1].str() : (*m)[2].str();
      referred = std::regex_replace(referred, std::regex(R"(\\-)"), "-");
      EXPECT_TRUE(std::filesystem::exists(dir / (referred + ".1"))) << page << " refers to " << referred;
    }
  }
  EXPECT_GT(pages, 40u);
  EXPECT_GT(options_checked, 150u);
  const std::string root = read_text_file(dir / "dcas.1").value();
  for (const char* section : {".SH CONFIGURATION FILES\n", ".SH SIGNALS\n", ".SH EXIT STATUS\n"})
    EXPECT_NE(root.find(section), std::string::npos) << section;
  EXPECT_FALSE(std::filesystem::exists(dir / "dcas-manpages.1"));  // the build's own step is hidden
  std::filesystem::remove_all(dir);
}

// A headend directory holds its store and the key sealing the product keys: owner-only, as a
// TA directory, whatever the umask.
TEST(Cli, HeadendInitMakesAnOwnerOnlyDirectory) {
  const auto dir = std::filesystem::temp_directory_path() / ("dcas-he-mode-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const mode_t old_umask = ::umask(022);
  const auto r = run_dcas("headend init " + (dir / "he").string() + " --network-id 4e45540000000001");
  ::umask(old_umask);
  ASSERT_EQ(r.status, 0) << r.err;
  namespace fs = std::filesystem;
  EXPECT_EQ(fs::status(dir / "he").permissions(), fs::perms::owner_all);
  for (const char* file : {"headend.sqlite", "store.key"})
    EXPECT_EQ(fs::status(dir / "he" / file).permissions() & (fs::perms::group_all | fs::perms::others_all),
              fs::perms::none)
        << file;
  fs::remove_all(dir);
}

TEST(Cli, TaIssuesCertificatesThatOpensslVerifies) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / ("dcas-cli-ta-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ASSERT_EQ(run_dcas("ta init " + (dir / "ta").string()).status, 0);
  EXPECT_NE(run_dcas("ta init " + (dir / "ta").string()).status, 0);  // never silently replaced
  const auto issued = run_dcas("ta issue sm --ta " + (dir / "ta").string() + " --id 5300000000000007 --json");
  ASSERT_EQ(issued.status, 0) << issued.err;
  const auto device = nlohmann::json::parse(issued.out).at(0);
  EXPECT_EQ(device.at("id"), "5300000000000007");
  const fs::path cert = fs::path(device.at("directory").get<std::string>()) / "cert.pem";
  EXPECT_TRUE(fs::exists(cert.parent_path() / "ki.txt"));

  const std::string verify =
      "openssl verify -CAfile " + (dir / "ta" / "ta.crt").string() + " " + cert.string() + " >/dev/null 2>&1";
  EXPECT_EQ(std::system(verify.c_str()), 0);
  const std::string subject =
      "openssl x509 -noout -subject -in " + cert.string() + " | grep -q 'CN = 5300000000000007'";
  EXPECT_EQ(std::system(subject.c_str()), 0);

  const auto shown = nlohmann::json::parse(run_dcas("cert show --json " + cert.string()).out);
  EXPECT_EQ(shown.at("role"), "sm");
  EXPECT_EQ(shown.at("id"), "5300000000000007");
  EXPECT_EQ(shown.at("fingerprint_sha256"), device.at("fingerprint_sha256"));

  // Provisioning registered the SM in the TA's store; the operator commands see and change it.
  const std::string ta = " --ta " + (dir / "ta").string();
  const auto listed = nlohmann::json::parse(run_dcas("ta list --json" + ta).out);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].at("sm_id"), "5300000000000007");
  EXPECT_EQ(listed[0].at("state"), "virgin");
  EXPECT_EQ(nlohmann::json::parse(run_dcas("ta show 5300000000000007 --json" + ta).out).at("state"), "virgin");
  EXPECT_EQ(run_dcas("ta show 5300000000000099" + ta).status, 1);
  EXPECT_EQ(run_dcas("ta unpair 5300000000000007" + ta).status, 2);  // no reason
  EXPECT_EQ(run_dcas("ta unpair 5300000000000007 --reason test" + ta).status, 0);
  EXPECT_EQ(run_dcas("ta list --state auth-paired --json" + ta).out, "[]\n");
  EXPECT_EQ(fs::status(dir / "ta" / "ta.sqlite").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  fs::permissions(dir / "ta" / "store.key", fs::perms::group_read, fs::perm_options::add);
  EXPECT_NE(run_dcas("ta list" + ta).err.find("owner-only"), std::string::npos);
  fs::permissions(dir / "ta" / "store.key", fs::perms::group_read, fs::perm_options::remove);

  const auto bulk = run_dcas("ta issue tp --ta " + (dir / "ta").string() + " --count 3 --json");
  ASSERT_EQ(bulk.status, 0) << bulk.err;
  EXPECT_EQ(nlohmann::json::parse(bulk.out).size(), 3u);
  EXPECT_NE(bulk.err.find("3/3"), std::string::npos);  // progress on stderr
  fs::remove_all(dir);
}

// docs/spec.md §18: ta revoke writes a CRL that openssl verifies against ta.crt, with a number
// that only goes up; every refusal exits by the rule of spec §7.
TEST(Cli, TaRevokeIssuesACrlThatOpensslVerifies) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / ("dcas-cli-revoke-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string ta = " --ta " + (dir / "ta").string();
  ASSERT_EQ(run_dcas("ta init " + (dir / "ta").string()).status, 0);
  ASSERT_EQ(run_dcas("ta issue sm --id 5300000000000007" + ta).status, 0);
  ASSERT_EQ(run_dcas("ta issue ap --id 4100000000000007" + ta).status, 0);
  EXPECT_EQ(run_dcas("ta crl" + ta).status, 1);  // none issued yet: not_found

  const auto revoked = run_dcas("ta revoke sm 5300000000000007 --reason stolen --json" + ta);
  ASSERT_EQ(revoked.status, 0) << revoked.err;
  EXPECT_EQ(nlohmann::json::parse(revoked.out).at("crl_number"), 1);
  const auto crl = dir / "ta" / "crl.pem";
  const std::string verify = "openssl crl -in " + crl.string() + " -noout -verify -CAfile " +
                             (dir / "ta" / "ta.crt").string() + " -crlnumber -text 2>&1";
  auto check = [&](const std::string& expected_number) {
    std::string out;
    FILE* p = ::popen(verify.c_str(), "r");
    char buf[512];
    while (p && std::fgets(buf, sizeof buf, p)) out += buf;
    EXPECT_EQ(p ? ::pclose(p) : -1, 0) << out;
    EXPECT_NE(out.find("verify OK"), std::string::npos) << out;
    EXPECT_NE(out.find("crlNumber=" + expected_number), std::string::npos) << out;
    return out;
  };
  const auto cert =
      run_dcas("cert show --json " + (dir / "ta" / "issued" / "sm-5300000000000007" / "cert.pem").string());
  const std::string serial = nlohmann::json::parse(cert.out).at("serial");
  std::string upper = serial;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_NE(check("0x01").find(upper), std::string::npos) << "the SM's serial is on the CRL";

  EXPECT_EQ(run_dcas("ta revoke sm 5300000000000007 --reason again" + ta).status, 1);  // already_exists
  EXPECT_EQ(run_dcas("ta revoke tp 5400000000000099 --reason lost" + ta).status, 1);   // not_found
  EXPECT_EQ(run_dcas("ta revoke sm 53000000 --reason short" + ta).status, 2);          // bad usage
  EXPECT_EQ(run_dcas("ta revoke sm 5300000000000007" + ta).status, 2);                 // no reason
  ASSERT_EQ(run_dcas("ta revoke ap 4100000000000007 --reason compromised" + ta).status, 0);
  check("0x02");
  ASSERT_EQ(run_dcas("ta crl --issue" + ta).status, 0);
  check("0x03");
  // A revoked device gets no new certificate, and no file of one is written.
  EXPECT_EQ(run_dcas("ta issue sm --id 5300000000000007 --out " + (dir / "again").string() + ta).status, 1);
  const auto ap_again = run_dcas("ta issue ap --id 4100000000000007 --out " + (dir / "again").string() + ta);
  EXPECT_EQ(ap_again.status, 1);
  EXPECT_NE(ap_again.err.find("cert_revoked"), std::string::npos) << ap_again.err;
  EXPECT_FALSE(fs::exists(dir / "again"));
  fs::remove_all(dir);
}

// Renewal: a new certificate for the same device (same key unless --new-key), its pairing state
// kept; ta list --expiring shows what needs it.
TEST(Cli, TaRenewIssuesANewCertificateForTheSameDevice) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / ("dcas-cli-renew-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string ta = " --ta " + (dir / "ta").string();
  ASSERT_EQ(run_dcas("ta init " + (dir / "ta").string()).status, 0);
  ASSERT_EQ(run_dcas("ta issue sm --id 5300000000000007 --days 10" + ta).status, 0);
  ASSERT_EQ(run_dcas("ta issue tp --id 5400000000000007 --days 400" + ta).status, 0);
  ASSERT_EQ(run_dcas("ta unpair 5300000000000007 --reason test" + ta).status, 0);  // an audited state change
  const auto expiring = nlohmann::json::parse(run_dcas("ta list --expiring 30 --json" + ta).out);
  ASSERT_EQ(expiring.size(), 1u) << expiring.dump();
  EXPECT_EQ(expiring[0].at("id"), "5300000000000007");
  EXPECT_EQ(expiring[0].at("role"), "sm");
  EXPECT_GE(expiring[0].at("days_left").get<int>(), 9);

  const fs::path device = dir / "ta" / "issued" / "sm-5300000000000007";
  const auto key_before = read_text_file(device / "key.pem").value();
  const auto serial_before = nlohmann::json::parse(run_dcas("cert show --json " + (device / "cert.pem").string()).out)
                                 .at("serial")
                                 .get<std::string>();
  const auto renewed = run_dcas("ta renew sm 5300000000000007 --days 365 --json" + ta);
  ASSERT_EQ(renewed.status, 0) << renewed.err;
  const auto shown = nlohmann::json::parse(run_dcas("cert show --json " + (device / "cert.pem").string()).out);
  EXPECT_NE(shown.at("serial"), serial_before);
  EXPECT_EQ(shown.at("id"), "5300000000000007");
  EXPECT_EQ(read_text_file(device / "key.pem").value(), key_before);  // the same key, certified again
  EXPECT_EQ(run_dcas("ta list --expiring 30 --json" + ta).out, "[]\n");
  EXPECT_EQ(nlohmann::json::parse(run_dcas("ta show 5300000000000007 --json" + ta).out).at("state"), "virgin");
  EXPECT_EQ(run_dcas("ta check" + ta).status, 0);
  const std::string verify = "openssl verify -CAfile " + (dir / "ta" / "ta.crt").string() + " " +
                             (device / "cert.pem").string() + " >/dev/null 2>&1";
  EXPECT_EQ(std::system(verify.c_str()), 0);

  ASSERT_EQ(run_dcas("ta renew sm 5300000000000007 --new-key" + ta).status, 0);
  EXPECT_NE(read_text_file(device / "key.pem").value(), key_before);
  EXPECT_EQ(run_dcas("ta renew sm 5300000000000099" + ta).status, 1);  // not_found
  EXPECT_EQ(run_dcas("ta renew sm 53" + ta).status, 2);                // bad usage
  ASSERT_EQ(run_dcas("ta revoke tp 5400000000000007 --reason lost" + ta).status, 0);
  const auto refused = run_dcas("ta renew tp 5400000000000007" + ta);
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("cert_revoked"), std::string::npos) << refused.err;
  fs::remove_all(dir);
}

TEST(Cli, BenchJsonHasTheSharedForm) {
  for (const auto& [suite, count] : {std::pair{"crypto", 5u}, std::pair{"protocol", 3u}, std::pair{"cw", 1u}}) {
    const auto r = run_dcas(std::string("bench ") + suite + " --json --min-time 0.05");
    ASSERT_EQ(r.status, 0) << r.err;
    const auto figures = nlohmann::json::parse(r.out);
    ASSERT_EQ(figures.size(), count) << suite;
    for (const auto& f : figures) {
      for (const char* k : {"name", "value", "unit", "bound", "efficiency", "efficiency_quartiles"})
        EXPECT_TRUE(f.contains(k)) << k;
      EXPECT_GT(f.at("value").get<double>(), 0);
      // The efficiency is the median of the rounds' ratios: inside their middle half.
      const auto e = f.at("efficiency").get<double>();
      EXPECT_GT(e, 0);
      EXPECT_LE(f.at("efficiency_quartiles")[0].get<double>(), e);
      EXPECT_GE(f.at("efficiency_quartiles")[1].get<double>(), e);
    }
  }
}

}  // namespace
}  // namespace dcas

namespace dcas {
namespace {

// The scenarios themselves run as the ctest tests Demo.*; this checks what --keep and --json leave,
// and the demo's stream when ffmpeg is missing.
TEST(Cli, DemoKeepsItsStreamsAndWritesItsTimeline) {
  const auto dir = std::filesystem::temp_directory_path() / ("dcas-demo-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const auto trace_file = dir.string() + ".json";
  // Without ffmpeg on the PATH the demo uses the stream shipped in data/ (this test's process only).
  ::setenv("PATH", "/nonexistent", 1);
  const auto r = test::run_dcas("demo --hosts 1 --keep " + dir.string() + " --json " + trace_file);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ffmpeg is not available: the shipped stream"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos);
  for (auto f : {"clear.ts", "scrambled-A.ts", "host1.ts", "ta/ta.sqlite", "headend-a/headend.sqlite"})
    EXPECT_TRUE(std::filesystem::exists(dir / f)) << f;
  std::ifstream in(trace_file);
  const auto trace = nlohmann::json::parse(in, nullptr, false);
  ASSERT_TRUE(trace.is_object());
  EXPECT_TRUE(trace["passed"].get<bool>());
  std::vector<std::string> hops;
  for (const auto& e : trace["timeline"])
    if (e["kind"] == "hop") hops.push_back(e["what"].get<std::string>());
  // The paper's order, AP-TA legs included, in the default profile's messages (hardened1).
  const std::vector<std::string> expected = {"SecurityAnnounce",
                                             "TPCertReq (SM->TP, h1)",
                                             "TPCertRsp (TP->SM, h1)",
                                             "KeyRequest (SM->AP, h1)",
                                             "KeyRequest (AP->TA, h1)",
                                             "KeyResponse (TA->AP, h1)",
                                             "KeyResponse (AP->SM, h1)",
                                             "CWEKGenInfo (SM->TP, h1)",
                                             "CWEKGenInfoCnfm (TP->SM, h1)",
                                             "ImageKeyRequest",
                                             "ImageKeyGrant",
                                             "ClientImage"};
  ASSERT_GE(hops.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(hops[i].rfind(expected[i], 0), 0u) << hops[i];
  std::filesystem::remove_all(dir);
  std::filesystem::remove(trace_file);
}

TEST(Cli, DemoRefusesAnUnknownScenario) {
  EXPECT_EQ(test::run_dcas("demo --scenario nope").status, 2);
  EXPECT_EQ(test::run_dcas("demo --scenario unsubscribed --hosts 1").status, 2);
}

}  // namespace
}  // namespace dcas
