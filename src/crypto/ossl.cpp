#include "crypto/ossl.h"

#include <openssl/err.h>

#include <algorithm>

namespace dcas::ossl {

Error last_error(Errc code, std::string_view what) {
  std::string detail(what);
  if (unsigned long e = ERR_peek_error(); e != 0) {
    if (const char* reason = ERR_reason_error_string(e)) {
      detail += " (";
      detail += reason;
      detail += ")";
    }
  }
  ERR_clear_error();
  return Error{code, std::move(detail)};
}

}  // namespace dcas::ossl
