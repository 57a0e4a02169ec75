// The pairing state of paper Table 1 (the paper's PSI, "pairing state information") and the TA's
// verdict on a KeyRequest: plain values, shared by the TA, its stores and the roles' events.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace dcas::protocol {

// Paper Table 1. The SM and TP of a bound pair always share one value.
enum class PairingState : std::uint8_t { virgin = 0x00, auth_paired = 0x01, paired_only = 0x10 };
std::string_view pairing_state_name(PairingState state);                     // "virgin", "auth-paired", "paired-only"
std::optional<PairingState> pairing_state_from_name(std::string_view name);  // inverse of pairing_state_name

enum class Verdict {
  bound_virgin_pair,        // both Virgin: bound to each other, now Auth/Paired
  rejoined,                 // the pair was Paired Only: Auth/Paired again
  rejoined_after_lapse,     // Auth/Paired but its presence lapsed: it had left; Auth/Paired again
  refused_unknown,          // SM or TP not in the registry: the TA terminates (no KeyResponse)
  refused_bound_elsewhere,  // either one is bound to another device
  refused_active,           // the pair is Auth/Paired and present: a second host with the same pair
  refused_revoked,          // the operator revoked the SM or the TP (docs/spec.md §18)
};
std::string_view verdict_name(Verdict v);
std::optional<Verdict> verdict_from_name(std::string_view name);  // inverse of verdict_name
inline bool verdict_succeeds(Verdict v) {
  return v == Verdict::bound_virgin_pair || v == Verdict::rejoined || v == Verdict::rejoined_after_lapse;
}

}  // namespace dcas::protocol
