#include "demo/timeline.h"

#include <fmt/format.h>

namespace dcas::demo {

void Timeline::act(const std::string& title) {
  if (print_) fmt::print("\n{}\n", title);
  add("act", "", title, true);
}

void Timeline::hop(const std::string& route, const std::string& what) {
  ++step_;
  if (print_) fmt::print("{:>4}  {:<10} {}\n", step_, route, what);
  add("hop", route, what, true);
}

void Timeline::note(const std::string& who, const std::string& what) {
  if (print_) fmt::print("      {:<10} {}\n", who, what);
  add("note", who, what, true);
}

bool Timeline::check(const std::string& what, bool ok, const std::string& detail) {
  if (print_) fmt::print("      {} {}{}{}\n", ok ? "ok  " : "FAIL", what, detail.empty() ? "" : ": ", detail);
  add("check", "", detail.empty() ? what : what + ": " + detail, ok);
  checks_ += 1;
  failed_ += !ok;
  return ok;
}

void Timeline::add(const char* kind, const std::string& who, const std::string& what, bool ok) {
  trace_.push_back({{"kind", kind}, {"who", who}, {"what", what}, {"ok", ok}});
}

}  // namespace dcas::demo
