#include "service/tracing.h"

namespace dcas::service {
namespace {

observe::Endpoint endpoint_of(const net::tcp::endpoint& ep) {
  observe::Endpoint out;
  out.port = ep.port();
  if (ep.address().is_v4()) {
    const auto b = ep.address().to_v4().to_bytes();
    out.address.assign(b.begin(), b.end());
  } else {
    const auto b = ep.address().to_v6().to_bytes();
    out.address.assign(b.begin(), b.end());
  }
  return out;
}

}  // namespace

void trace_channel(net::Channel& channel, const observe::Tracer& trace, observe::Link link, observe::Party local,
                   observe::Party peer) {
  if (!trace) return;
  // Taken now: once the peer has gone, the socket no longer knows its remote end.
  const observe::Endpoint here = endpoint_of(channel.local_endpoint());
  const observe::Endpoint there = endpoint_of(channel.remote_endpoint());
  channel.set_tap([trace, link, local, peer, here, there](bool sent, ByteView frame) {
    observe::TraceRecord record;
    record.link = link;
    record.from = sent ? local : peer;
    record.to = sent ? peer : local;
    record.direction = sent ? observe::Direction::sent : observe::Direction::received;
    record.source = sent ? here : there;
    record.destination = sent ? there : here;
    record.bytes.assign(frame.begin(), frame.end());
    trace.write(std::move(record));
  });
}

void count_error_frames(net::Channel& channel, observe::Metrics& metrics) {
  channel.set_tap([before = channel.tap(), &metrics](bool sent, ByteView frame) {
    if (before) before(sent, frame);
    if (!sent || frame.size() <= net::frame_header_size || frame[4] != static_cast<std::uint8_t>(net::FrameKind::error))
      return;
    if (auto error = net::parse_error_payload(frame.subspan(net::frame_header_size)))
      metrics.error_frame_sent(error->code);
  });
}

}  // namespace dcas::service
