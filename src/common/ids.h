// Device identities. Every ID is exactly 8 bytes so that concatenations such as
// KeyPairingID = SM_ID || TP_ID are unambiguous (docs/spec.md, "Identifiers").
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"

namespace dcas {

enum class Role : std::uint8_t { ta = 0, sm = 1, tp = 2, ap = 3 };

std::string_view role_name(Role role);                      // "ta", "sm", "tp", "ap"
std::optional<Role> role_from_name(std::string_view name);  // inverse of role_name
std::string_view role_label(Role role);                     // "TA", "SM", "TP", "AP": for logs and timelines

inline constexpr std::size_t device_id_size = 8;

// A device ID tagged with its role at compile time, so an SM_ID cannot be passed where a TP_ID is
// expected.
template <Role R>
struct DeviceId {
  std::array<std::uint8_t, device_id_size> bytes{};

  static constexpr Role role = R;
  ByteView view() const { return bytes; }
  std::string hex() const { return to_hex(bytes); }
  // Exactly 16 hex digits. Errors: bad_hex, bad_length.
  static Result<DeviceId> from_hex(std::string_view hex) {
    auto b = from_hex_exact(hex, device_id_size, "device ID");
    if (!b) return std::unexpected(b.error());
    DeviceId id;
    std::copy(b->begin(), b->end(), id.bytes.begin());
    return id;
  }
  static Result<DeviceId> from_bytes(ByteView b) {
    if (b.size() != device_id_size) return fail(Errc::bad_length, "device ID must be 8 bytes");
    DeviceId id;
    std::copy(b.begin(), b.end(), id.bytes.begin());
    return id;
  }
  friend bool operator==(const DeviceId&, const DeviceId&) = default;
  friend auto operator<=>(const DeviceId&, const DeviceId&) = default;
};

// Load-test identities (docs/spec.md §22) are the device IDs that begin with 10 ad: `dcas loadgen
// issue` makes them, `dcas ta issue` never does, and a TA refuses them unless its operator runs a
// load test (`ta serve --accept-load-test`).
inline constexpr std::array<std::uint8_t, 2> load_test_id_prefix{0x10, 0xad};
inline bool is_load_test_id(ByteView id) {
  return id.size() == device_id_size && id[0] == load_test_id_prefix[0] && id[1] == load_test_id_prefix[1];
}

using SmId = DeviceId<Role::sm>;
using TpId = DeviceId<Role::tp>;
using ApId = DeviceId<Role::ap>;

}  // namespace dcas
