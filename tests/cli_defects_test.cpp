// The operator commands with bad input, as a new user would give it (issue 13's hostile run):
// each case failed before its fix (a crash, a wrong success, a changed file, a second line).
#include <sys/stat.h>

#include <fstream>

#include "test_support.h"

namespace dcas {
namespace {

namespace fs = std::filesystem;
using test::CommandResult;
using test::run_dcas;

// A fresh directory of the test's own, removed afterwards.
struct Scratch {
  fs::path dir;
  explicit Scratch(const std::string& name)
      : dir(fs::temp_directory_path() / ("dcas-cli-defects-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
};

// Refused as an operation that failed (exit 1), not a crash, with one line on stderr naming it.
void expect_failed(const CommandResult& r, const std::string& mentions, const std::string& what) {
  EXPECT_EQ(r.status, 1) << what << ": " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << what << ": " << r.err;
  EXPECT_NE(r.err.find(mentions), std::string::npos) << what << ": " << r.err;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

TEST(CliDefects, TaInitForceOverAStoreThatIsADirectoryIsRefusedAndChangesNothing) {
  Scratch s("init");
  ASSERT_EQ(run_dcas("ta init " + s / "ta").status, 0);
  const std::string key = slurp(s.dir / "ta" / "ta.key");
  fs::remove(s.dir / "ta" / "ta.sqlite");
  fs::create_directories(s.dir / "ta" / "ta.sqlite" / "inside");
  expect_failed(run_dcas("ta init --force " + s / "ta"), "is a directory", "ta init --force");
  EXPECT_EQ(slurp(s.dir / "ta" / "ta.key"), key);  // the root was not replaced
  EXPECT_TRUE(fs::exists(s.dir / "ta" / "ta.sqlite" / "inside"));
}

TEST(CliDefects, CompareRefusesADirectoryOrAFileThatIsNotATransportStream) {
  Scratch s("compare");
  fs::create_directories(s.dir / "d");
  write(s.dir / "x.ts", "not a transport stream\n");
  const std::string stream = test::ffmpeg_ts(1).string();
  expect_failed(run_dcas("compare " + s / "d" + " " + stream), "is a directory", "compare DIR x.ts");
  expect_failed(run_dcas("compare " + stream + " " + s / "d"), "is a directory", "compare x.ts DIR");
  const auto non_ts = run_dcas("compare " + stream + " " + s / "x.ts");
  expect_failed(non_ts, "not a transport stream", "compare x.ts non-TS");
  EXPECT_TRUE(non_ts.out.empty());
}

TEST(CliDefects, AWrongButWellFormedStoreKeyIsRefusedByEveryStoreCommand) {
  Scratch s("key");
  ASSERT_EQ(run_dcas("ta init " + s / "ta").status, 0);
  const std::string ta = " --ta " + s / "ta";
  ASSERT_EQ(run_dcas("ta issue sm --id 5300000000000001" + ta).status, 0);
  write(s.dir / "ta" / "store.key", std::string(64, '7') + "\n");
  fs::permissions(s.dir / "ta" / "store.key", fs::perms::owner_read | fs::perms::owner_write);
  for (const std::string command : {"ta list", "ta check", "ta show 5300000000000001", "ta serve --listen 127.0.0.1:0"})
    expect_failed(run_dcas(command + ta), "store_key_invalid", command);
  // A store with no device yet is refused too: its key check was written at init.
  ASSERT_EQ(run_dcas("ta init --force " + s / "ta2").status, 0);
  write(s.dir / "ta2" / "store.key", std::string(64, '7') + "\n");
  fs::permissions(s.dir / "ta2" / "store.key", fs::perms::owner_read | fs::perms::owner_write);
  expect_failed(run_dcas("ta issue tp --id 5400000000000001 --ta " + s / "ta2"), "store_key_invalid", "ta issue");
}

TEST(CliDefects, NoCommandButInitCreatesAMissingStore) {
  Scratch s("missing");
  ASSERT_EQ(run_dcas("ta init " + s / "ta").status, 0);
  fs::remove(s.dir / "ta" / "ta.sqlite");
  for (const std::string command : {"ta check", "ta list"}) {
    expect_failed(run_dcas(command + " --ta " + s / "ta"), "no TA store", command);
    EXPECT_FALSE(fs::exists(s.dir / "ta" / "ta.sqlite")) << command;
    expect_failed(run_dcas(command + " --ta " + s / "ta" + " --db sqlite:" + s / "elsewhere.sqlite"), "no TA store",
                  command + " --db");
    EXPECT_FALSE(fs::exists(s.dir / "elsewhere.sqlite")) << command;
  }
}

TEST(CliDefects, AFileThatIsNotADatabaseKeepsItsMode) {
  Scratch s("mode");
  ASSERT_EQ(run_dcas("ta init " + s / "ta").status, 0);
  write(s.dir / "notes.txt", "an operator's notes, not a database\n");
  fs::permissions(s.dir / "notes.txt",
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  const auto r = run_dcas("ta list --ta " + s / "ta" + " --db sqlite:" + s / "notes.txt");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(fs::status(s.dir / "notes.txt").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  EXPECT_EQ(slurp(s.dir / "notes.txt"), "an operator's notes, not a database\n");
}

TEST(CliDefects, AnUnreachablePostgresIsOneLine) {
  Scratch s("pg");
  ASSERT_EQ(run_dcas("ta init " + s / "ta").status, 0);
  expect_failed(run_dcas("ta list --ta " + s / "ta" + " --db postgresql://dcas@127.0.0.1:1/nothing"), "cannot connect",
                "ta list --db unreachable");
}

TEST(CliDefects, StreamCommandsRefuseAnInputThatIsNotATransportStream) {
  Scratch s("stream");
  write(s.dir / "x.txt", std::string(1000, 'x'));
  write(s.dir / "empty.ts", "");
  const std::string cw = " --cw-even 0102030405060708";
  for (const std::string input : {"x.txt", "empty.ts"}) {
    for (const std::string command : {"scramble", "descramble"})
      expect_failed(run_dcas(command + " --algo csa2" + cw + " " + s / input + " " + s / "out.ts"),
                    "not a transport stream", command + " " + input);
  }
  const auto demo = run_dcas("demo --input " + s / "x.txt");  // refused before anything starts
  expect_failed(demo, "not a transport stream", "demo --input non-TS");
  EXPECT_TRUE(demo.out.empty()) << demo.out;
  ASSERT_EQ(run_dcas("headend init " + s / "he" + " --network-id 4e45540000000001").status, 0);  // product 1
  expect_failed(run_dcas("headend broadcast --headend " + s / "he" + " " + s / "x.txt" + " " + s / "out.ts"),
                "not a transport stream", "headend broadcast");
}

// One rule for the exit status (spec §7): 2 for what the command line alone shows wrong, 1 for a
// well-formed request the state refuses.
TEST(CliDefects, ExitStatusesFollowOneRule) {
  Scratch s("exit");
  ASSERT_EQ(run_dcas("ta init " + s / "ta").status, 0);
  const std::string ta = " --ta " + s / "ta";
  ASSERT_EQ(run_dcas("ta issue sm --id 5300000000000001" + ta).status, 0);
  expect_failed(run_dcas("ta issue sm --id 5300000000000001" + ta), "already_exists", "a duplicate ID");
  ASSERT_EQ(run_dcas("headend init " + s / "he" + " --network-id 4e45540000000001").status, 0);
  const std::string he = " --headend " + s / "he";
  expect_failed(run_dcas("headend subscribe --sm 5300000000000001 --product 9" + he), "not_found",
                "an unknown product");
  write(s.dir / "code.bin", "image code");
  expect_failed(run_dcas("headend publish --version 1 --code " + s / "code.bin" + he), "image_downgrade",
                "an image not above the current");
  expect_failed(run_dcas("ta show 5300000000000002" + ta), "unknown_device", "an unknown SM");
  for (const std::string usage : {"ta show 53xx" + ta, "ta show 53" + ta, "ta list --state bogus" + ta}) {
    const auto r = run_dcas(usage);
    EXPECT_EQ(r.status, 2) << usage << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << usage << ": " << r.err;
  }
  // Upper-case hex names the same SM.
  ASSERT_EQ(run_dcas("ta issue sm --id 53000000000000ab" + ta).status, 0);
  EXPECT_EQ(run_dcas("ta show 53000000000000AB" + ta).status, 0);
}

}  // namespace
}  // namespace dcas
