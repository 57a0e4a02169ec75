#include "observe/trace_view.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "net/frame.h"
#include "observe/journal.h"
#include "wire/message.h"

namespace dcas::observe {
namespace {

Seen describe_message(ByteView bytes) {
  Seen s;
  s.size = bytes.size();
  auto header = wire::decode_header(bytes);
  if (!header) {
    s.what = "message";
    s.failed = true;
    s.outcome = "malformed: " + header.error().message();
    return s;
  }
  s.message_type = header->type;
  s.what = wire::type_name(static_cast<wire::MessageType>(header->type));
  if (auto message = wire::decode(bytes); !message) {
    s.failed = true;
    s.outcome = "malformed: " + message.error().message();
  }
  return s;
}

Seen describe_frame(ByteView bytes) {
  Seen s;
  if (bytes.size() < net::frame_header_size) {
    s.what = "frame";
    s.failed = true;
    s.outcome = "malformed: shorter than a frame header";
    return s;
  }
  auto header = net::parse_frame_header(bytes.first<net::frame_header_size>(), bytes.size());
  if (!header || header->payload_size != bytes.size() - net::frame_header_size) {
    s.what = "frame";
    s.failed = true;
    s.outcome = "malformed: " + (header ? std::string("its length is not the record's") : header.error().message());
    return s;
  }
  const ByteView payload = bytes.subspan(net::frame_header_size);
  switch (header->kind) {
    case net::FrameKind::message: s = describe_message(payload); break;
    case net::FrameKind::error: {
      s.what = "error";
      s.failed = true;
      auto error = net::parse_error_payload(payload);
      s.outcome = error ? error->message() : "malformed: " + error.error().message();
      s.detail = s.outcome;
      break;
    }
    case net::FrameKind::hello: s.what = "hello (Cert(AP))"; break;
    case net::FrameKind::crl:
      s.what = payload.empty() ? "CRL (none issued)" : "CRL";
      s.control = true;  // fetched every --crl-refresh; what it changes shows in the events
      break;
    default: s.what = std::string(net::frame_kind_name(header->kind)); s.control = true;
  }
  s.size = payload.size();
  s.stream = header->stream;
  return s;
}

Seen describe_event(ByteView bytes) {
  Seen s;
  s.size = bytes.size();
  const auto json = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  auto record = json.is_discarded() ? fail(Errc::invalid_argument, "not JSON") : record_from_json(json);
  const auto* event = record ? std::get_if<EventRecord>(&*record) : nullptr;
  if (!event) {
    s.what = "event";
    s.failed = true;
    s.outcome = "malformed: not an event record";
    return s;
  }
  s.what = std::string(protocol::event_name(event->event));
  s.detail = protocol::event_detail(event->event);
  s.failed = is_failure(event->event);
  if (s.failed) s.outcome = s.detail;
  return s;
}

// Whether a record names the SM whose ID is `sm_hex`: in an event's fields, or in a frame's bytes.
bool mentions(const TraceRecord& r, const std::string& sm_hex) {
  if (r.link == Link::events) return std::string(r.bytes.begin(), r.bytes.end()).find(sm_hex) != std::string::npos;
  auto id = from_hex(sm_hex);
  if (!id || id->empty()) return false;
  return std::search(r.bytes.begin(), r.bytes.end(), id->begin(), id->end()) != r.bytes.end();
}

std::string route(const TraceRecord& r) { return fmt::format("{} -> {}", party_label(r.from), party_label(r.to)); }

std::string xml(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string shortened(std::string text, std::size_t most) {
  if (text.size() <= most) return text;
  text.resize(most - 3);
  return text + "...";
}

}  // namespace

Seen describe(const TraceRecord& record) {
  switch (record.link) {
    case Link::host_ap:
    case Link::ap_ta: return describe_frame(record.bytes);
    case Link::sm_tp_bus:
    case Link::broadcast: return describe_message(record.bytes);
    case Link::events: return describe_event(record.bytes);
  }
  return {};
}

std::string timeline(const std::vector<TraceRecord>& records) {
  std::string out;
  if (records.empty()) return out;
  const auto start = records.front().at;
  for (const auto& r : records) {
    const Seen s = describe(r);
    const double t = std::chrono::duration<double>(r.at - start).count();
    const std::string direction = r.direction == Direction::sent       ? "sent"
                                  : r.direction == Direction::received ? "recv"
                                                                       : "    ";
    const std::string who = r.link == Link::events ? fmt::format("at {}", party_label(r.from)) : route(r);
    std::string line = fmt::format("{:>11.6f}  {:<26} {:<9} {} {:<9} {:<36} {:>6} B", t, shortened(r.recorder, 26),
                                   link_name(r.link), direction, who, shortened(s.what, 36), s.size);
    if (r.link == Link::events && !s.failed) line += "  " + s.detail;
    if (s.failed) line += "  FAILED " + s.outcome;
    out += line + "\n";
  }
  return out;
}

std::vector<TraceRecord> for_host(const std::vector<TraceRecord>& records, const std::vector<TraceRecord>& host) {
  std::set<std::pair<Bytes, std::uint16_t>> ends;  // the host's own socket ends
  std::optional<std::chrono::system_clock::time_point> first, last;
  for (const auto& r : host) {
    if (!first || r.at < *first) first = r.at;
    if (!last || r.at > *last) last = r.at;
    if (r.link == Link::host_ap && r.source && r.destination) {
      const Endpoint& mine = r.direction == Direction::sent ? *r.source : *r.destination;
      ends.insert({mine.address, mine.port});
    }
  }
  std::vector<TraceRecord> out;
  if (!first) return out;
  const std::string& recorder = host.front().recorder;  // "host SM_ID"
  const std::string sm = recorder.substr(recorder.find(' ') + 1);
  std::set<std::string> reported;
  for (const auto& r : records) {
    const bool within = r.at >= *first && r.at <= *last;
    // Once the host has gone, the AP reports it: the first presence_ended, HostPresence and
    // host_left that name its SM, within 2 s.
    bool after = false;
    if (r.at > *last && r.at <= *last + std::chrono::seconds(2) && mentions(r, sm)) {
      const Seen s = describe(r);
      const bool report = s.what == "presence_ended" || s.what == "host_left" ||
                          s.message_type == static_cast<std::uint8_t>(wire::MessageType::host_presence);
      after = report && reported.insert(s.what).second;
    }
    bool keep = r.recorder == host.front().recorder && within;
    if (!keep && r.link == Link::host_ap && r.source && r.destination)
      keep = ends.contains({r.source->address, r.source->port}) ||
             ends.contains({r.destination->address, r.destination->port});
    // Events from other processes: the AP's and the TA's, never another host's.
    const bool network_side = r.from == Party::ap || r.from == Party::ta || r.from == Party::cas;
    if (!keep && (r.link == Link::ap_ta || (r.link == Link::events && network_side))) keep = within || after;
    if (keep) out.push_back(r);
  }
  return out;
}

std::string diagram_svg(const std::vector<TraceRecord>& records, const DiagramOptions& options) {
  // Lifelines left to right as in the paper's Fig. 4: TA, AP (the headend's PS and CAS), SM, TP.
  const std::map<Party, int> x{
      {Party::ta, 130}, {Party::ap, 380}, {Party::cas, 380}, {Party::sm, 630}, {Party::tp, 860}};
  const int width = 1000, top = 96, arrow_row = 38, note_row = 26;

  struct Row {
    const TraceRecord* record;
    Seen seen;
    bool marked = false;  // the message a failed check refused
    std::string refused_by;
  };
  std::vector<Row> rows;
  std::map<std::string, std::size_t> repeats;  // broadcast kinds drawn so far
  std::size_t folded = 0;
  for (const auto& r : records) {
    Seen s = describe(r);
    if (s.control) continue;
    const bool recurring = r.link == Link::broadcast ||
                           (s.message_type == static_cast<std::uint8_t>(wire::MessageType::control_word)) ||
                           s.what == "control_words_installed" || s.what == "entitlement";
    if (recurring && ++repeats[s.what] > options.broadcast_shown) {
      ++folded;
      continue;
    }
    const bool failure = s.failed;
    const Party at = r.from;  // where the check failed: the refuser of an error frame, the role of an event
    if (failure) {
      // The message the failed check refused: the last one drawn, if it went to where the check failed.
      const auto last =
          std::find_if(rows.rbegin(), rows.rend(), [](const Row& row) { return row.record->link != Link::events; });
      if (last != rows.rend() && last->record->to == at && !last->seen.failed && !last->marked) {
        last->marked = true;
        last->refused_by = fmt::format("refused by {}", party_label(at));
      }
    }
    rows.push_back({&r, std::move(s), false, {}});
  }

  int height = top + 30;
  for (const auto& row : rows) height += row.record->link == Link::events ? note_row : arrow_row;
  if (folded) height += note_row;
  height += 40;

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n",
      width, height);
  svg +=
      "<defs><marker id=\"head\" markerWidth=\"10\" markerHeight=\"8\" refX=\"9\" refY=\"4\" orient=\"auto\">"
      "<path d=\"M0,0 L10,4 L0,8 z\" fill=\"#222\"/></marker>"
      "<marker id=\"head-red\" markerWidth=\"10\" markerHeight=\"8\" refX=\"9\" refY=\"4\" orient=\"auto\">"
      "<path d=\"M0,0 L10,4 L0,8 z\" fill=\"#c0262d\"/></marker>"
      "<marker id=\"head-blue\" markerWidth=\"10\" markerHeight=\"8\" refX=\"9\" refY=\"4\" orient=\"auto\">"
      "<path d=\"M0,0 L10,4 L0,8 z\" fill=\"#2a62b8\"/></marker></defs>\n";
  svg += fmt::format("<rect width=\"{}\" height=\"{}\" fill=\"white\"/>\n", width, height);
  svg += fmt::format("<text x=\"16\" y=\"24\" font-size=\"16\" font-weight=\"bold\">{}</text>\n", xml(options.title));
  const std::pair<Party, std::string> heads[] = {
      {Party::ta, "TA"}, {Party::ap, "AP (PS, CAS)"}, {Party::sm, "SM"}, {Party::tp, "TP"}};
  for (const auto& [party, label] : heads) {
    const int cx = x.at(party);
    svg += fmt::format(
        "<g class=\"lifeline\" data-party=\"{0}\"><rect x=\"{1}\" y=\"42\" width=\"120\" height=\"30\" rx=\"4\" "
        "fill=\"#eef2f8\" stroke=\"#445\"/><text x=\"{2}\" y=\"62\" text-anchor=\"middle\" font-weight=\"bold\">{3}"
        "</text><line x1=\"{2}\" y1=\"72\" x2=\"{2}\" y2=\"{4}\" stroke=\"#99a\" stroke-dasharray=\"4 4\"/></g>\n",
        party_label(party), cx - 60, cx, xml(label), height - 20);
  }

  int y = top;
  int number = 0;
  const auto start = records.empty() ? std::chrono::system_clock::time_point{} : records.front().at;
  for (const auto& row : rows) {
    const TraceRecord& r = *row.record;
    const double t = std::chrono::duration<double>(r.at - start).count();
    if (r.link == Link::events) {
      const int cx = x.at(r.from);
      const std::string text = shortened((row.seen.failed ? "\u2717 " : "\u2713 ") + row.seen.what +
                                             (row.seen.detail.empty() ? "" : ": " + row.seen.detail),
                                         r.from == Party::ta ? 96 : 76);  // the TA's notes have the room
      // About 6.2 px a character at 11 px; the outer lifelines' notes open inwards.
      const int w = static_cast<int>(static_cast<double>(text.size()) * 6.2) + 14;
      const int anchored = r.from == Party::ta ? cx - 40 : r.from == Party::tp ? cx + 40 - w : cx - w / 2;
      const int left = std::clamp(anchored, 4, width - w - 4);
      svg += fmt::format(
          "<g class=\"event{0}\" data-party=\"{1}\" data-event=\"{2}\"><rect x=\"{3}\" y=\"{4}\" width=\"{5}\" "
          "height=\"20\" rx=\"3\" fill=\"{6}\" stroke=\"{7}\"/><text x=\"{8}\" y=\"{9}\" font-size=\"11\" "
          "fill=\"{7}\">{10}</text></g>\n",
          row.seen.failed ? " failed" : "", party_label(r.from), xml(row.seen.what), left, y + 2, w,
          row.seen.failed ? "#fde8e8" : "#eaf6ea", row.seen.failed ? "#c0262d" : "#25632b", left + 7, y + 16,
          xml(text));
      y += note_row;
      continue;
    }
    ++number;
    const int x1 = x.at(r.from), x2 = x.at(r.to);
    const bool red = row.seen.failed || row.marked;
    const bool broadcast = r.link == Link::broadcast;
    const std::string colour = red ? "#c0262d" : broadcast ? "#2a62b8" : "#222";
    std::string label = fmt::format("{}. {} \u00b7 {} B", number, row.seen.what, row.seen.size);
    if (row.seen.failed) label += " \u2717 " + row.seen.outcome;
    if (row.marked) label += " \u2717 " + row.refused_by;
    label = shortened(label, 80);
    const int mid = (x1 + x2) / 2;
    svg += fmt::format(
        "<g class=\"arrow{0}\" data-index=\"{1}\" data-type=\"{2}\" data-from=\"{3}\" data-to=\"{4}\" "
        "data-link=\"{5}\"><text x=\"12\" y=\"{6}\" font-size=\"10\" fill=\"#777\">+{7:.3f} s</text>"
        "<line x1=\"{8}\" y1=\"{6}\" x2=\"{9}\" y2=\"{6}\" stroke=\"{10}\" stroke-width=\"{11}\"{12} "
        "marker-end=\"url(#{13})\"/><text x=\"{14}\" y=\"{15}\" text-anchor=\"middle\" fill=\"{10}\">{16}</text></g>\n",
        red ? " failed" : "", number,
        row.seen.message_type ? fmt::format("0x{:02x}", *row.seen.message_type) : std::string("frame"),
        party_label(r.from), party_label(r.to), link_name(r.link), y + 26, t, x1, x2, colour, red ? 2.5 : 1.4,
        broadcast ? " stroke-dasharray=\"6 3\"" : "",
        red         ? "head-red"
        : broadcast ? "head-blue"
                    : "head",
        std::clamp(mid, 200, width - 200), y + 20, xml(label));
    y += arrow_row;
  }
  if (folded)
    svg += fmt::format(
        "<text class=\"folded\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#2a62b8\" font-style=\"italic\">"
        "... and {} more broadcast records (EMM, ECM, ControlWord, their events), one set per crypto period</text>\n",
        width / 2, y + 16, folded);
  svg += "</svg>\n";
  return svg;
}

}  // namespace dcas::observe
