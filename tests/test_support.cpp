#include "test_support.h"

#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>

namespace dcas::test {

const std::filesystem::path& ffmpeg_ts(int seconds) {
  static std::map<int, std::filesystem::path> made;
  auto it = made.find(seconds);
  if (it != made.end()) return it->second;
  const auto p = std::filesystem::temp_directory_path() /
                 ("dcas-sample-" + std::to_string(::getpid()) + "-" + std::to_string(seconds) + "s.ts");
  const std::string d = std::to_string(seconds);
  const std::string cmd = "ffmpeg -loglevel error -y -f lavfi -i testsrc=duration=" + d +
                          ":size=320x240:rate=25 -f lavfi -i sine=duration=" + d +
                          " -c:v mpeg2video -c:a mp2 -f mpegts " + p.string();
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("ffmpeg failed");
  return made.emplace(seconds, p).first->second;
}

namespace {
std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

std::string read_spec() { return slurp(source_dir() / "docs/spec.md"); }

CommandResult run_dcas(const std::string& args) {
  static std::atomic<int> calls{0};  // a directory per call: tests run commands from several threads
  const auto dir = std::filesystem::temp_directory_path() /
                   ("dcas-cli-" + std::to_string(::getpid()) + "-" + std::to_string(calls++));
  std::filesystem::create_directories(dir);
  const auto out = dir / "out", err = dir / "err";
  const std::string cmd =
      std::string(DCAS_BINARY) + " " + args + " >" + out.string() + " 2>" + err.string() + " </dev/null";
  const int raw = std::system(cmd.c_str());
  CommandResult r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  std::filesystem::remove_all(dir);
  return r;
}

std::string output_of(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r");
  if (!pipe) return out;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  const int status = ::pclose(pipe);
  EXPECT_EQ(status, 0) << command;
  return out;
}

std::optional<std::string> fresh_postgres(const std::string& name) {
  const char* base = std::getenv("DCAS_TEST_POSTGRES");
  if (!base) return std::nullopt;
  std::string db = "t_" + std::to_string(::getpid()) + "_" + name;
  std::transform(db.begin(), db.end(), db.begin(),
                 [](char c) { return std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '_'; });
  PGconn* conn = PQconnectdb(base);
  PQclear(PQexec(conn, ("DROP DATABASE IF EXISTS " + db).c_str()));
  PGresult* r = PQexec(conn, ("CREATE DATABASE " + db).c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  PQfinish(conn);
  if (!ok) throw std::runtime_error("cannot create database " + db);
  const std::string uri(base);
  return uri.substr(0, uri.rfind('/') + 1) + db;
}

}  // namespace dcas::test
