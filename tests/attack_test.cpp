// Every attack scenario of docs/security.md reaches its documented verdict under each profile:
// the koo2010 findings reproduce, and hardened1 refuses them with the check named.
#include "attack/attack.h"

#include <gtest/gtest.h>

namespace dcas {
namespace {

// One test for the whole suite: every scenario's world shares the RSA keys made once per process
// (a test per scenario would make them again in each of ctest's processes).
TEST(AttackSuite, EveryScenarioReachesItsDocumentedVerdict) {
  for (const auto& s : attack::scenarios()) {
    for (auto profile : {wire::Profile::koo2010, wire::Profile::hardened1}) {
      SCOPED_TRACE(std::string(s.name) + " under " + std::string(wire::profile_name(profile)));
      auto verdict = s.run(profile);
      ASSERT_TRUE(verdict.has_value()) << verdict.error().message();
      EXPECT_TRUE(s.expected(profile).matches(*verdict))
          << verdict->line() << " (" << verdict->detail << "), documented: " << s.expected(profile).line();
    }
  }
}

TEST(AttackSuite, CoversEveryClaimAndFinding) {
  EXPECT_GE(attack::scenarios().size(), 18u);
  for (const auto& s : attack::scenarios()) {
    EXPECT_EQ(attack::find_scenario(s.name), &s);
    EXPECT_FALSE(s.claim.empty());
    EXPECT_FALSE(s.attacker.empty());
  }
}

}  // namespace
}  // namespace dcas
