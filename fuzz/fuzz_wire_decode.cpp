// libFuzzer target: the wire decoder on arbitrary bytes. Decoding must never crash, and whatever
// decodes must re-encode to a message that decodes to the same encoding (canonical form), with
// authenticated bytes that are a prefix-consistent view of the input.
#include <cstdint>
#include <cstdlib>

#include "wire/message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const dcas::ByteView input(data, size);
  auto decoded = dcas::wire::decode(input);
  if (!decoded) return 0;
  const dcas::Bytes again = dcas::wire::encode(*decoded);
  auto redecoded = dcas::wire::decode(again);
  if (!redecoded || dcas::wire::encode(*redecoded) != again) std::abort();
  // Without unknown extension fields the input is canonical: it must re-encode byte for byte.
  if (again.size() == size && !std::equal(again.begin(), again.end(), data)) std::abort();
  if (decoded->authenticated.size() > size) std::abort();
  return 0;
}
