// Every subcommand of `dcas`, run as a new user would get it wrong: bad hex, wrong lengths, missing
// arguments, missing, truncated and empty files, a corrupted SQLite store, a directory where a file
// is expected, a file that is not a transport stream. Each must exit 1 or 2 by the rule of spec §7,
// print one line on stderr naming the problem (and nothing on stdout), die of no signal, trip no
// sanitizer (the ASan preset runs this same test against its ASan-built `dcas`), and leave every
// file of its working directory as it was. (Unreadable files are not among the inputs: the tests
// run as root, whom no mode keeps out.)
#include <fmt/format.h>
#include <sys/stat.h>

#include <fstream>
#include <map>

#include "common/files.h"
#include "crypto/hash.h"
#include "demo/demo.h"
#include "test_support.h"

namespace dcas {
namespace {

namespace fs = std::filesystem;
using test::run_dcas;

// The working directory every case runs against, built once: a TA with an SM, a TP and an AP, a
// headend, a clear stream and the broken inputs.
const fs::path& work() {
  static const fs::path dir = [] {
    const fs::path w = fs::temp_directory_path() / ("dcas-robust-" + std::to_string(::getpid()));
    fs::remove_all(w);
    fs::create_directories(w / "dir");
    const std::string ta = " --ta " + (w / "ta").string();
    for (const std::string setup : {"ta init " + (w / "ta").string(), "ta issue sm --id 5300000000000001" + ta,
                                    "ta issue tp --id 5400000000000001" + ta, "ta issue ap --id 4100000000000001" + ta,
                                    "headend init " + (w / "headend").string() + " --network-id 4e45540000000001"}) {
      const auto r = run_dcas(setup);
      if (r.status != 0) throw std::runtime_error(setup + ": " + r.err);
    }
    (void)write_public_file(w / "clear.ts", demo::shipped_stream());
    (void)write_public_file(w / "not-ts.bin", Bytes(4000, 0x00));
    (void)write_public_file(w / "empty", {});
    const auto cert = read_text_file(w / "ta/issued/sm-5300000000000001/cert.pem").value();
    (void)write_public_file(w / "truncated.pem", view(std::string_view(cert).substr(0, cert.size() / 2)));
    // A real store with its pages past the header overwritten: it opens, and then fails.
    Bytes store = read_binary_file(w / "ta/ta.sqlite").value();
    for (std::size_t i = 4096; i < store.size(); ++i) store[i] = static_cast<std::uint8_t>(i * 7);
    (void)write_secret_file(w / "corrupt.sqlite", store);
    // A device directory and a TA directory whose private keys were cut short.
    for (const auto& [from, to, key] : {std::tuple{w / "ta/issued/ap-4100000000000001", w / "badap", "key.pem"},
                                        std::tuple{w / "ta", w / "badta", "ta.key"}}) {
      fs::create_directories(to);
      for (const auto& e : fs::directory_iterator(from))
        if (e.is_regular_file()) fs::copy_file(e.path(), to / e.path().filename());
      const auto text = read_text_file(to / key).value();
      (void)write_secret_file(to / key, view(std::string_view(text).substr(0, text.size() / 3)));
    }
    return w;
  }();
  return dir;
}

// Every file under the working directory: its bytes' digest and its mode.
std::map<std::string, std::string> snapshot() {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(work())) {
    struct stat st {};
    ::lstat(e.path().c_str(), &st);
    std::string what = fmt::format("mode {:o}", st.st_mode);
    if (e.is_regular_file()) what += " sha256 " + to_hex(crypto::sha256(read_binary_file(e.path()).value()));
    files[fs::relative(e.path(), work()).string()] = what;
  }
  return files;
}

struct Case {
  std::string args;  // W stands for the working directory
  int status;        // 2: bad usage, 1: a failed operation
};

std::string expand(std::string args) {
  for (std::size_t at; (at = args.find("W/")) != std::string::npos;) args.replace(at, 1, work().string());
  return args;
}

const std::string sm = "W/ta/issued/sm-5300000000000001", tp = "W/ta/issued/tp-5400000000000001",
                  ap = "W/ta/issued/ap-4100000000000001";

const std::vector<Case> cases = {
    // crypto: hex and lengths
    {"crypto prf --seed zz --bytes 4", 2},
    {"crypto prf --seed 00 --bytes 4", 2},
    {"crypto kpk --ki1 00 --ki2 00 --ki3 00 --sm-id 5300000000000001 --tp-id 5400000000000001 --rand 00", 2},
    {"crypto cwek --kpk 2070b105293540be07c09b7d0d43181c2099332d --sm-id 53 --tp-id 5400000000000001", 2},
    {"crypto hmac-key --rand-hmac xyz --sm-id 5300000000000001 --tp-id 5400000000000001", 2},
    {"selftest --bogus", 2},
    // ta: arguments
    {"ta issue xx --ta W/ta", 2},
    {"ta issue sm --id 12 --ta W/ta", 2},
    {"ta issue sm --id 5300000000000009 --count 2 --ta W/ta", 2},
    {"ta show 12 --ta W/ta", 2},
    {"ta list --state bogus --ta W/ta", 2},
    {"ta list --expiring -1 --ta W/ta", 2},
    {"ta unpair 5300000000000001 --ta W/ta", 2},
    {"ta leave zz --ta W/ta", 2},
    {"ta revoke sm zz --reason x --ta W/ta", 2},
    {"ta revoke sm 5300000000000001 --reason '' --ta W/ta", 2},
    {"ta renew tp 54 --ta W/ta", 2},
    {"ta crl --crl-days 0 --ta W/ta", 2},
    {"ta serve --ta W/ta --listen nonsense", 2},
    // ta: files and stores
    {"ta init W/clear.ts", 1},
    {"ta issue sm --ta W/dir", 1},
    {"ta list --ta W/missing", 1},
    {"ta list --ta W/dir", 1},
    {"ta check --ta W/dir", 1},
    {"ta list --db sqlite:W/not-ts.bin --ta W/ta", 1},
    {"ta list --db sqlite:W/corrupt.sqlite --ta W/ta", 1},
    {"ta check --db sqlite:W/corrupt.sqlite --ta W/ta", 1},
    {"ta list --db sqlite:W/dir --ta W/ta", 1},
    {"ta list --db postgresql://nobody@127.0.0.1:1/none --ta W/ta", 1},
    {"ta show 5300000000000099 --ta W/ta", 1},
    {"ta leave 5300000000000099 --ta W/ta", 1},
    {"ta unpair 5300000000000099 --reason x --ta W/ta", 1},
    {"ta revoke sm 5300000000000099 --reason x --ta W/ta", 1},
    {"ta renew ap 4100000000000099 --ta W/ta", 1},
    {"ta crl --ta W/ta", 1},
    {"ta serve --ta W/dir", 1},
    {"ta issue sm --ta W/badta", 1},
    {"ta revoke sm 5300000000000001 --reason x --ta W/badta", 1},
    // cert
    {"cert show", 2},
    {"cert show W/truncated.pem", 1},
    {"cert show W/empty", 1},
    {"cert show W/dir", 1},
    {"cert show W/missing.pem", 1},
    // headend
    {"headend product --headend W/headend", 2},
    {"headend product rekey", 2},
    {"headend subscribe --headend W/headend --sm zz", 2},
    {"headend download --headend W/headend", 2},
    {"headend broadcast --headend W/headend W/clear.ts W/out.ts --crypto-period 0", 2},
    {"headend broadcast --headend W/headend W/clear.ts W/out.ts --algo bogus", 2},
    {"headend init W/clear.ts", 1},
    {"headend show --headend W/dir", 1},
    {"headend show --headend W/missing", 1},
    {"headend product rekey 42 --headend W/headend", 1},
    {"headend subscribe --headend W/headend --sm 5300000000000001 --product 42", 1},
    {"headend unsubscribe --headend W/headend --sm 5300000000000001", 1},
    {"headend publish --headend W/headend --version 1", 1},
    {"headend publish --headend W/headend --code W/dir", 1},
    {"headend broadcast --headend W/headend W/not-ts.bin W/out.ts", 1},
    {"headend broadcast --headend W/headend W/dir W/out.ts", 1},
    {"headend broadcast --headend W/headend W/missing.ts W/out.ts", 1},
    {"headend broadcast --headend W/headend W/clear.ts W/dir", 1},
    {"headend serve --headend W/dir --ap " + ap + " --ta 127.0.0.1:1", 1},
    // scramble, descramble, compare
    {"scramble --algo csa2 --cw-even 00 W/clear.ts W/out.ts", 2},
    {"scramble --algo bogus --cw-even 0011223344556677 W/clear.ts W/out.ts", 2},
    {"scramble --algo csa2 W/clear.ts W/out.ts", 2},
    {"descramble --algo cissa --cw-odd 0011223344556677 W/clear.ts W/out.ts", 2},
    {"scramble --algo csa2 --cw-even 0011223344556677 --pid 9000 W/clear.ts W/out.ts", 2},
    {"scramble --algo csa2 --cw-even 0011223344556677 W/not-ts.bin W/out.ts", 1},
    {"scramble --algo csa2 --cw-even 0011223344556677 W/empty W/out.ts", 1},
    {"descramble --algo csa2 --cw-even 0011223344556677 W/dir W/out.ts", 1},
    {"descramble --algo csa2 --cw-even 0011223344556677 W/missing.ts W/out.ts", 1},
    {"compare W/dir W/clear.ts", 1},
    {"compare W/clear.ts W/not-ts.bin", 1},
    {"compare W/clear.ts W/missing.ts", 1},
    // services and hosts
    {"ap serve --ap " + ap + " --ta nonsense", 2},
    {"ap serve --ap W/dir --ta 127.0.0.1:1", 1},
    {"ap serve --ap W/badap --ta 127.0.0.1:1", 1},
    {"ap serve --ap " + ap + " --ta 127.0.0.1:1 --network-id zz", 2},
    {"host pair --sm " + sm + " --tp " + tp + " --ap nonsense", 2},
    {"host pair --sm W/dir --tp " + tp + " --ap 127.0.0.1:1", 1},
    {"host pair --sm " + tp + " --tp " + sm + " --ap 127.0.0.1:1 --state W/host", 1},
    {"host run --sm " + sm + " --tp " + tp + " --ap 127.0.0.1:1 --watch W/clear.ts", 2},
    // demo, attack, bench
    {"demo --scenario bogus", 2},
    {"demo --hosts 0", 2},
    {"demo --input W/not-ts.bin", 1},
    // trace: files that are not traces, arguments missing
    {"trace show W/not-ts.bin", 1},
    {"trace show W/empty", 1},
    {"trace show W/missing.pcapng", 2},
    {"trace show", 2},
    {"trace diagram W/not-ts.bin W/out.svg", 1},
    {"trace diagram W/clear.ts", 2},
    {"demo --input W/missing.ts", 1},
    {"attack run bogus", 2},
    {"attack run all --profile bogus", 2},
    {"bench bogus", 2},
    {"nosuchcommand", 2},
};

// One test, the cases in turn: each compares the whole directory before and after, so no other
// command may run beside it.
TEST(CliRobustness, EverySubcommandFailsByTheRuleInOneLineAndChangesNothing) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args);
    const auto before = snapshot();
    const auto r = run_dcas(expand(c.args));
    EXPECT_NE(r.status, -1) << "killed by a signal";
    EXPECT_EQ(r.status, c.status) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("dcas", 0), 0u) << r.err;
    EXPECT_EQ(r.err.find("Sanitizer"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("runtime error"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    const auto after = snapshot();
    for (const auto& [path, what] : after) {
      auto was = before.find(path);
      EXPECT_TRUE(was != before.end()) << "created " << path;
      if (was != before.end()) EXPECT_EQ(was->second, what) << "changed " << path;
    }
    for (const auto& [path, what] : before) EXPECT_TRUE(after.contains(path)) << "removed " << path;
  }
}

}  // namespace
}  // namespace dcas
