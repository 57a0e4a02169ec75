// Deterministic runs: with fixed keys, certificates, clock and seeded random sources a complete
// run reproduces, byte for byte, the transcript stored in tests/data/transcript_<profile>.txt and
// shown in docs/spec.md (appendices A and B). DCAS_WRITE_TRANSCRIPT=DIR writes new ones there.
#include <fmt/format.h>

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

std::vector<Line> run_reference(wire::Profile profile) {
  Deployment d{profile};
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

class Transcript : public ::testing::TestWithParam<wire::Profile> {};

TEST_P(Transcript, ACompleteRunReproducesTheStoredTranscript) {
  const auto profile = GetParam();
  const std::string name = fmt::format("transcript_{}.txt", wire::profile_name(profile));
  const auto lines = run_reference(profile);
  if (const char* dir = std::getenv("DCAS_WRITE_TRANSCRIPT")) {
    std::ofstream f(std::filesystem::path(dir) / name);
    f << "# " << wire::profile_name(profile)
      << " reference transcript: tests/transcript_test.cpp, docs/spec.md appendix "
      << (profile == wire::Profile::koo2010 ? "A" : "B") << ".\n";
    for (const auto& l : lines)
      f << "\nFrom = " << l.from << "\nTo = " << l.to << "\nType = " << l.type << "\nBytes = " << l.hex << "\n";
  }
  const auto stored = parse_records(read_text_file(source_dir() / "tests/data" / name).value()).value();
  ASSERT_EQ(stored.size(), lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(stored[i].word("From").value(), lines[i].from) << i;
    EXPECT_EQ(stored[i].word("To").value(), lines[i].to) << i;
    EXPECT_EQ(stored[i].word("Type").value(), lines[i].type) << i;
    EXPECT_EQ(stored[i].word("Bytes").value(), lines[i].hex) << "message " << i << " (" << lines[i].type << ")";
  }
}

TEST_P(Transcript, TheSpecShowsIt) {
  const std::string spec = read_spec();
  std::string compact;
  for (char c : spec)
    if (std::isxdigit(static_cast<unsigned char>(c))) compact += c;
  for (const auto& l : run_reference(GetParam()))
    EXPECT_NE(compact.find(l.hex), std::string::npos) << "docs/spec.md's appendix lacks " << l.type;
}

TEST_P(Transcript, TwoRunsAreIdentical) {
  const auto a = run_reference(GetParam()), b = run_reference(GetParam());
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].hex, b[i].hex);
}

INSTANTIATE_TEST_SUITE_P(Profiles, Transcript, ::testing::Values(wire::Profile::koo2010, wire::Profile::hardened1),
                         [](const auto& instance) { return std::string(wire::profile_name(instance.param)); });

}  // namespace
}  // namespace dcas
