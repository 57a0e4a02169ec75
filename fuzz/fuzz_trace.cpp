// libFuzzer target: a pcapng trace as `dcas trace show` and `diagram` read it (observe::parse_trace,
// then describe, timeline and the diagram of every record). Two readings of each input: the bytes
// as a file, and a valid trace of one record of each link with the input XORed over it, so that
// inputs reach past the block framing into the exported PDU and the records. Nothing may crash.
#include <cstdint>

#include "net/frame.h"
#include "observe/trace_view.h"

namespace {

using namespace dcas;
using namespace dcas::observe;

// A small valid trace, built once in memory by the same encoder the writer uses.
Bytes valid_trace() {
  const auto path = std::filesystem::temp_directory_path() / "dcas-fuzz-trace.pcapng";
  {
    auto writer = TraceWriter::open(path).value();
    TraceRecord r;
    r.recorder = "host 41ca25259d51b0a1";
    r.source = Endpoint{{127, 0, 0, 1}, 1};
    r.destination = Endpoint{{127, 0, 0, 1}, 2};
    r.direction = Direction::sent;
    r.bytes = net::encode_frame({net::FrameKind::error, 1, Bytes{0, 37, 'x'}});
    writer->write(r);
    r.link = Link::events;
    r.source.reset();
    r.destination.reset();
    r.bytes = Bytes{'{', '}'};
    writer->write(r);
  }
  std::ifstream in(path, std::ios::binary);
  Bytes out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  return out;
}

void check(ByteView file) {
  auto records = parse_trace(file, "input");
  if (!records) return;
  (void)timeline(*records);
  (void)diagram_svg(*records, {"fuzz"});
  if (!records->empty()) (void)for_host(*records, {records->front()});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check(ByteView(data, size));
  static const Bytes valid = valid_trace();
  Bytes edited = valid;
  for (std::size_t i = 0; i < size && i < edited.size(); ++i) edited[i] ^= data[i];
  check(edited);
  return 0;
}
