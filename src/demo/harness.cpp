#include "demo/harness.h"

#include <fmt/format.h>

#include <fstream>
#include <thread>

namespace dcas::demo {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > end) return condition();
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

Result<int> read_port_file(const fs::path& port_file, ChildProcess& server, std::chrono::milliseconds timeout) {
  int port = 0;
  wait_for(
      [&] {
        std::ifstream in(port_file);
        return (in >> port && port > 0) || !server.running();
      },
      timeout);
  if (port <= 0) return fail(Errc::net_unavailable, "the server did not start");
  return port;
}

Harness::Harness(fs::path binary, fs::path log_dir) : binary_(std::move(binary)), log_dir_(std::move(log_dir)) {
  fs::create_directories(log_dir_);
}

Result<Run> Harness::run(const std::vector<std::string>& argv, const std::string& name,
                         std::chrono::seconds timeout) const {
  const fs::path out = log_dir_ / (name + ".out");
  ChildProcess child(binary_, argv, log_of(name), out);
  auto status = child.wait(timeout);
  if (!status)
    return fail(Errc::net_timeout, fmt::format("dcas {} did not finish in {} s", argv.at(0), timeout.count()));
  if (*status == 127) return fail(Errc::io_error, "cannot run " + binary_.string());
  Run r{*status, nullptr, slurp(out)};
  r.out = nlohmann::json::parse(r.stdout_text, nullptr, false);
  return r;
}

std::string Harness::last_log_line(const std::string& name) const {
  const std::string text = slurp(log_of(name));
  auto end = text.find_last_not_of('\n');
  if (end == std::string::npos) return "see " + log_of(name).string();
  const auto start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end - (start == std::string::npos ? 0 : start + 1) + 1);
}

Result<Server> Harness::serve(std::vector<std::string> argv, const std::string& name) const {
  const fs::path port_file = log_dir_ / (name + ".port");
  fs::remove(port_file);
  for (auto a : {"--listen", "127.0.0.1:0", "--port-file"}) argv.emplace_back(a);
  argv.push_back(port_file.string());
  Server s{std::make_unique<ChildProcess>(binary_, argv, log_of(name))};
  auto port = read_port_file(port_file, *s.process);
  if (!port) return fail(Errc::net_unavailable, fmt::format("{} did not start; see {}", name, log_of(name).string()));
  s.port = *port;
  return s;
}

std::unique_ptr<ChildProcess> Harness::start(const std::vector<std::string>& argv, const std::string& name) const {
  return std::make_unique<ChildProcess>(binary_, argv, log_of(name));
}

}  // namespace dcas::demo
