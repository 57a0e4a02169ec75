// The attacks on the AP-TA link that the real TA server answers: the scenarios here start a
// service::TaService for their world on loopback and connect to it as the attacker would.
#pragma once

#include "attack/attack.h"

namespace dcas::attack {

// An AP link opened with the AP's public certificate alone: in the clear, as the link once took
// it, and over TLS under a certificate for the AP's ID of the attacker's own making.
Result<Verdict> link_without_key(wire::Profile profile);
// The genuine AP's key and certificate after the operator revoked it (docs/spec.md §18).
Result<Verdict> link_revoked_ap(wire::Profile profile);

}  // namespace dcas::attack
