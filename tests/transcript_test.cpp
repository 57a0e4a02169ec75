// Deterministic runs: with fixed keys, certificates, clock and seeded random sources a complete
// run reproduces, byte for byte, the transcript stored in tests/data/transcript_koo2010.txt and
// shown in docs/spec.md (appendix A). DCAS_WRITE_TRANSCRIPT=FILE writes a new one.
#include <fstream>

#include "common/files.h"
#include "common/records.h"
#include "protocol_support.h"

namespace dcas {
namespace {

using namespace test;

struct Line {
  std::string from, to, type, hex;
};

std::vector<Line> run_reference() {
  Deployment d;
  auto h = d.host("5300000000000001", "5400000000000001");
  d.announce(*h);
  EXPECT_TRUE(d.established(*h));
  std::vector<Line> lines;
  for (const auto& hop : d.net.transcript)
    lines.push_back({std::string(role_label(hop.from)), std::string(role_label(hop.to)),
                     std::string(wire::type_name(type_of(hop))), to_hex(hop.bytes)});
  protocol::ControlWords cws;
  cws.cw_length = 16;
  cws.odd = std::array<std::uint8_t, 16>{0x0d, 0xd0};
  cws.even = std::array<std::uint8_t, 16>{0xee, 0xee};
  const auto cw = h->sm->seal_control_words(cws, t0).value();
  lines.push_back({"SM", "TP", std::string(wire::type_name(wire::MessageType::control_word)), to_hex(cw)});
  EXPECT_TRUE(h->tp->receive(cw, t0).ok());
  return lines;
}

TEST(Transcript, ACompleteRunReproducesTheStoredTranscript) {
  const auto lines = run_reference();
  if (const char* out = std::getenv("DCAS_WRITE_TRANSCRIPT")) {
    std::ofstream f(out);
    f << "# koo2010 reference transcript: tests/transcript_test.cpp, docs/spec.md appendix A.\n";
    for (const auto& l : lines)
      f << "\nFrom = " << l.from << "\nTo = " << l.to << "\nType = " << l.type << "\nBytes = " << l.hex << "\n";
  }
  const auto stored = parse_records(read_text_file(source_dir() / "tests/data/transcript_koo2010.txt").value()).value();
  ASSERT_EQ(stored.size(), lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(stored[i].word("From").value(), lines[i].from) << i;
    EXPECT_EQ(stored[i].word("To").value(), lines[i].to) << i;
    EXPECT_EQ(stored[i].word("Type").value(), lines[i].type) << i;
    EXPECT_EQ(stored[i].word("Bytes").value(), lines[i].hex) << "message " << i << " (" << lines[i].type << ")";
  }
}

TEST(Transcript, TheSpecShowsIt) {
  const std::string spec = read_spec();
  std::string compact;
  for (char c : spec)
    if (std::isxdigit(static_cast<unsigned char>(c))) compact += c;
  for (const auto& l : run_reference())
    EXPECT_NE(compact.find(l.hex), std::string::npos) << "docs/spec.md appendix A lacks " << l.type;
}

TEST(Transcript, TwoRunsAreIdentical) {
  const auto a = run_reference(), b = run_reference();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].hex, b[i].hex);
}

}  // namespace
}  // namespace dcas
