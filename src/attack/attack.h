// `dcas attack`: every security claim of the paper (section V) and every finding against the
// published protocol, as a named scenario that runs the attack against the real roles and reports
// what the attacker got (docs/security.md lists each with its verdict per profile).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "wire/message.h"

namespace dcas::attack {

// What one run of a scenario came to.
struct Verdict {
  bool succeeded = false;
  std::string obtained;    // succeeded: what the attacker obtained
  Errc refused_with{};     // refused: the check that stopped the attack
  std::string refused_by;  // refused: the role whose check it is ("SM", "TP", "AP", "TA"), or "offline"
  std::string detail;      // the error's detail, or how the attacker tried

  // "refused: not_fresh by TP" or "SUCCEEDED: the TP installed the attacker's control words".
  std::string line() const;
};

// The verdict a scenario is documented to reach under a profile.
struct Expected {
  bool succeeds = false;
  Errc refused_with{};
  std::string_view refused_by;
  bool matches(const Verdict& v) const;
  std::string line() const;
};

struct Scenario {
  std::string_view name;
  std::string_view claim;     // the paper's claim or the finding it tests
  std::string_view attacker;  // what the attacker holds
  Expected koo2010;
  Expected hardened1;
  std::function<Result<Verdict>(wire::Profile)> run;

  const Expected& expected(wire::Profile p) const { return p == wire::Profile::koo2010 ? koo2010 : hardened1; }
};

const std::vector<Scenario>& scenarios();
const Scenario* find_scenario(std::string_view name);

}  // namespace dcas::attack
