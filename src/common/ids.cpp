#include "common/ids.h"

namespace dcas {

std::string_view role_name(Role role) {
  switch (role) {
    case Role::ta: return "ta";
    case Role::sm: return "sm";
    case Role::tp: return "tp";
    case Role::ap: return "ap";
  }
  return "unknown";
}

std::string_view role_label(Role role) {
  switch (role) {
    case Role::ta: return "TA";
    case Role::sm: return "SM";
    case Role::tp: return "TP";
    case Role::ap: return "AP";
  }
  return "?";
}

std::optional<Role> role_from_name(std::string_view name) {
  for (Role r : {Role::ta, Role::sm, Role::tp, Role::ap})
    if (role_name(r) == name) return r;
  return std::nullopt;
}

}  // namespace dcas
