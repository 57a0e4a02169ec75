// libFuzzer target: a byte stream read as the link framing reads it (net/frame.h), frame after
// frame, each payload handed to what a server hands it to. Nothing may crash; every accepted
// frame must re-encode to exactly the bytes it was read from.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "net/frame.h"
#include "wire/message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t cap = 4096;
  std::size_t pos = 0;
  while (size - pos >= dcas::net::frame_header_size) {
    std::array<std::uint8_t, dcas::net::frame_header_size> header{};
    std::copy_n(data + pos, header.size(), header.begin());
    auto parsed = dcas::net::parse_frame_header(header, cap);
    if (!parsed) return 0;  // a server answers with an error frame and closes
    if (parsed->payload_size > cap) std::abort();
    const std::size_t end = pos + dcas::net::frame_header_size + parsed->payload_size;
    if (end > size) return 0;  // the rest has not arrived
    const dcas::Bytes payload(data + pos + dcas::net::frame_header_size, data + end);
    const dcas::Bytes again = dcas::net::encode_frame({parsed->kind, parsed->stream, payload});
    if (!std::equal(again.begin(), again.end(), data + pos, data + end)) std::abort();
    if (parsed->kind == dcas::net::FrameKind::error) (void)dcas::net::parse_error_payload(payload);
    if (parsed->kind == dcas::net::FrameKind::message) (void)dcas::wire::decode(payload);
    pos = end;
  }
  return 0;
}
