// A CAS product's keys by epoch (docs/spec.md §15.4): what the headend's store keeps and its
// broadcast seals EMMs and ECMs under.
#pragma once

#include <cstdint>
#include <optional>

#include "common/bytes.h"

namespace dcas::headend {

struct ProductKey {
  std::uint64_t epoch = 1;
  SecureBytes key;  // 16 bytes
};

// The key in use and, after a rekeying not yet switched to on air, the next one (the highest
// epoch above it: pending epochs below it were never switched to and are skipped).
struct ProductKeys {
  ProductKey current;
  std::optional<ProductKey> next;
};

}  // namespace dcas::headend
