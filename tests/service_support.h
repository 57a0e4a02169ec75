// Helpers for the tests that run the services as real processes on loopback: a child process
// with its output in files, a TA directory provisioned once per test run, and starting a TA or an
// AP on a free port.
#pragma once

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/process.h"
#include "test_support.h"

namespace dcas::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline std::string slurp_file(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One dcas child process (stdout and stderr in `log`).
class Process : public ChildProcess {
 public:
  Process(std::vector<std::string> args, const fs::path& log)
      : ChildProcess(DCAS_BINARY, std::move(args), log), log_(log) {}
  void kill(int signal) const { ChildProcess::signal(signal); }
  std::string log() const { return slurp_file(log_); }

 private:
  fs::path log_;
};

// A scratch directory per test, removed afterwards.
inline fs::path scratch(const std::string& name) {
  const auto dir = fs::temp_directory_path() / ("dcas-svc-" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

struct Device {
  std::string id;
  fs::path dir;
};

// A TA with devices issued and registered once per test run (RSA key generation is the slow part).
struct Provisioned {
  fs::path ta_dir;
  std::vector<Device> sms, tps, aps;
};

inline std::vector<Device> issue(const fs::path& ta_dir, const std::string& role, int count, const std::string& db) {
  auto r = run_dcas(fmt::format("ta issue {} --ta {} --count {} --json{}", role, ta_dir.string(), count,
                                db.empty() ? "" : " --db " + db));
  if (r.status != 0) throw std::runtime_error("ta issue failed: " + r.err);
  std::vector<Device> out;
  for (const auto& d : nlohmann::json::parse(r.out)) out.push_back({d["id"], d["directory"].get<std::string>()});
  return out;
}

inline Provisioned provision(const fs::path& dir, int pairs, const std::string& db = "") {
  Provisioned p{dir / "ta", {}, {}, {}};
  auto init = run_dcas("ta init " + p.ta_dir.string() + (db.empty() ? "" : " --db " + db));
  if (init.status != 0) throw std::runtime_error("ta init failed: " + init.err);
  p.sms = issue(p.ta_dir, "sm", pairs, db);
  p.tps = issue(p.ta_dir, "tp", pairs, db);
  p.aps = issue(p.ta_dir, "ap", 2, db);
  return p;
}

// Provisioned once per build of dcas and shared by the test processes ctest runs (one per test):
// the first creates it under a lock, the others wait and reuse it.
inline const Provisioned& provisioned() {
  static const Provisioned p = [] {
    const auto stamp = fs::last_write_time(DCAS_BINARY).time_since_epoch().count();
    const auto dir = fs::temp_directory_path() / fmt::format("dcas-test-provisioned-{:x}", stamp);
    const int lock = ::open((dir.string() + ".lock").c_str(), O_CREAT | O_RDWR, 0600);
    ::flock(lock, LOCK_EX);
    Provisioned result;
    const auto index = dir / "devices.json";
    if (fs::exists(index)) {
      const auto j = nlohmann::json::parse(slurp_file(index));
      result.ta_dir = j["ta"].get<std::string>();
      for (auto [key, list] : {std::pair{"sms", &result.sms}, {"tps", &result.tps}, {"aps", &result.aps}})
        for (const auto& d : j[key]) list->push_back({d["id"], d["dir"].get<std::string>()});
    } else {
      fs::remove_all(dir);
      result = provision(dir, 16);
      nlohmann::json j{{"ta", result.ta_dir.string()}};
      for (auto [key, list] : {std::pair{"sms", &result.sms}, {"tps", &result.tps}, {"aps", &result.aps}}) {
        j[key] = nlohmann::json::array();
        for (const auto& d : *list) j[key].push_back({{"id", d.id}, {"dir", d.dir.string()}});
      }
      std::ofstream(dir / "devices.json.tmp") << j.dump();
      fs::rename(dir / "devices.json.tmp", index);  // written last: marks the directory complete
    }
    ::flock(lock, LOCK_UN);
    ::close(lock);
    return result;
  }();
  return p;
}

// A copy of the provisioned TA directory: same keys, a store where every device is Virgin.
inline fs::path fresh_ta_dir(const fs::path& where) {
  const auto dir = where / "ta";
  fs::copy(provisioned().ta_dir, dir, fs::copy_options::recursive);
  return dir;
}

inline int read_port(const fs::path& file, Process& p) {
  for (int i = 0; i < 1000 && p.running(); ++i) {
    std::ifstream in(file);
    int port = 0;
    if (in >> port && port > 0) return port;
    std::this_thread::sleep_for(10ms);
  }
  throw std::runtime_error("service did not start:\n" + p.log());
}

struct Service {
  std::unique_ptr<Process> process;
  int port = 0;
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};

inline Service start_ta(const fs::path& work, const fs::path& ta_dir, std::vector<std::string> extra = {},
                        const std::string& name = "ta", int port = 0) {
  const auto port_file = work / (name + ".port");
  fs::remove(port_file);
  std::vector<std::string> args{
      "ta",          "serve",           "--ta", ta_dir.string(), "--listen", "127.0.0.1:" + std::to_string(port),
      "--port-file", port_file.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  Service s{std::make_unique<Process>(args, work / (name + ".log"))};
  s.port = read_port(port_file, *s.process);
  return s;
}

inline Service start_ap(const fs::path& work, const Device& ap, const Service& ta, std::vector<std::string> extra = {},
                        const std::string& name = "ap") {
  const auto port_file = work / (name + ".port");
  std::vector<std::string> args{"ap",         "serve",    "--ap",        ap.dir.string(), "--ta",
                                ta.address(), "--listen", "127.0.0.1:0", "--port-file",   port_file.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  Service s{std::make_unique<Process>(args, work / (name + ".log"))};
  s.port = read_port(port_file, *s.process);
  return s;
}

inline CommandResult pair_host(const Device& sm, const Device& tp, const Service& ap, const std::string& extra = "") {
  return run_dcas(fmt::format("host pair --sm {} --tp {} --ap {} --quiet {}", sm.dir.string(), tp.dir.string(),
                              ap.address(), extra));
}

// Waits until `predicate` holds (polling), up to `timeout`.
template <typename F>
bool eventually(F predicate, std::chrono::milliseconds timeout = 10s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (predicate()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return predicate();
}

}  // namespace dcas::test
