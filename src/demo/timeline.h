// The demo's timeline: what happened, in order (acts, hops, notes, checks), printed as it happens
// and kept for --json.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace dcas::demo {

class Timeline {
 public:
  explicit Timeline(bool print = true) : print_(print) {}
  void act(const std::string& title);
  void hop(const std::string& route, const std::string& what);
  void note(const std::string& who, const std::string& what);
  // Records a check; returns `ok`.
  bool check(const std::string& what, bool ok, const std::string& detail = {});
  bool all_ok() const { return failed_ == 0; }
  int checks() const { return checks_; }
  int failed() const { return failed_; }
  const nlohmann::json& trace() const { return trace_; }

 private:
  void add(const char* kind, const std::string& who, const std::string& what, bool ok);
  bool print_;
  int step_ = 0, checks_ = 0, failed_ = 0;
  nlohmann::json trace_ = nlohmann::json::array();
};

}  // namespace dcas::demo
