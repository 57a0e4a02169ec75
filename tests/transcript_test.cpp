// Deterministic runs: with fixed keys, certificates, clock and seeded random sources a complete
// run reproduces, byte for byte, the transcript stored in tests/data/transcript_<profile>.txt and
// shown in docs/spec.md (appendices A and B): the TA's root certificate, every draw from the seeded
// streams in the order the parties make them, every message, and the keys the run derives.
// DCAS_WRITE_TRANSCRIPT=DIR writes new files there.
#include <fmt/format.h>

#include <fstream>

#include "common/files.h"
#include "common/records.h"
#include "protocol/cw_channel.h"
#include "protocol/derivation.h"
#include "protocol_support.h"

namespace dcas {
namespace {

using namespace test;

// One record of a transcript file, its attributes in the order they are written.
using Entry = std::vector<std::pair<std::string, std::string>>;

// Which message a draw goes into (an index into the run's messages), or set-up.
constexpr int set_up = -1;

struct ExpectedDraw {
  std::string_view stream;
  std::size_t size;
  int message;
  std::string_view purpose;
};

constexpr std::string_view sm_stream = "sm5300000000000001", tp_stream = "tp5400000000000001";

// The set-up both profiles share: the certificates' serials and the SM's Ki (spec appendix A).
const std::vector<ExpectedDraw> set_up_draws{
    {"pki", 16, set_up, "serial of the TA's root certificate"},
    {"pki", 16, set_up, "serial of Cert(AP)"},
    {"ta", 16, set_up, "Ki1"},
    {"ta", 16, set_up, "Ki2"},
    {"ta", 16, set_up, "Ki3"},
    {"pki", 16, set_up, "serial of Cert(TP)"},
    {"pki", 16, set_up, "serial of Cert(SM)"},
};

// The order in which each party draws from its stream in a koo2010 run (spec appendix A).
const std::vector<ExpectedDraw> koo2010_draws{
    {"ap", 32, 0, "PSS salt of the AP's signature"},
    {sm_stream, 32, 3, "OAEP seed of E(PK_AP, KeyPairingID)"},
    {sm_stream, 32, 3, "PSS salt of the SM's signature"},
    {"ap", 32, 4, "OAEP seed of E(PK_TA, KeyPairingID)"},
    {"ap", 32, 4, "PSS salt of the AP's signature"},
    {"ta", 40, 5, "RAND"},
    {"ta", 32, 5, "PSS salt of S(SK_TA, KPK)"},
    {"ta", 32, 5, "OAEP seed of E(PK_AP, KPK)"},
    {"ta", 32, 5, "PSS salt of the TA's signature"},
    {"ap", 32, 6, "OAEP seed of E(PK_SM, KPK)"},
    {"ap", 32, 6, "PSS salt of the AP's signature"},
    {sm_stream, 20, 7, "RANDHMAC"},
    {sm_stream, 32, 7, "OAEP seed of E(PK_TP, KPK ‖ RANDHMAC)"},
    {sm_stream, 32, 7, "PSS salt of the SM's signature"},
    {tp_stream, 32, 8, "OAEP seed of E(PK_SM, H(CWEK) ‖ H(HMAC_KEY))"},
    {tp_stream, 32, 8, "PSS salt of the TP's signature"},
};

// The same for hardened1 (spec appendix B).
const std::vector<ExpectedDraw> hardened1_draws{
    {"ap", 32, 0, "PSS salt of the AP's signature"},
    {sm_stream, 32, 1, "N_SM"},
    {tp_stream, 32, 2, "N_TP"},
    {tp_stream, 32, 2, "e_TP, the TP's X25519 private key"},
    {tp_stream, 32, 2, "PSS salt of the TP's signature"},
    {sm_stream, 32, 3, "PSS salt of the SM's signature"},
    {"ap", 32, 4, "PSS salt of the AP's signature"},
    {"ta", 40, 5, "RAND"},
    {"ta", 32, 5, "OAEP seed of E(PK_SM, KPK)"},
    {"ta", 32, 5, "OAEP seed of E(PK_TP, KPK)"},
    {"ta", 32, 5, "PSS salt of the TA's signature"},
    {"ap", 32, 6, "PSS salt of the AP's signature"},
    {sm_stream, 32, 7, "e_SM, the SM's X25519 private key"},
    {sm_stream, 32, 7, "PSS salt of the SM's signature"},
};

std::vector<ExpectedDraw> expected_draws(wire::Profile profile) {
  auto all = set_up_draws;
  const auto& run = profile == wire::Profile::koo2010 ? koo2010_draws : hardened1_draws;
  all.insert(all.end(), run.begin(), run.end());
  return all;
}

const Bytes& draw_for(const std::vector<Draw>& draws, const std::vector<ExpectedDraw>& expected,
                      std::string_view purpose) {
  for (std::size_t i = 0; i < expected.size(); ++i)
    if (expected[i].purpose == purpose) return draws.at(i).bytes;
  throw std::logic_error(fmt::format("no draw is {}", purpose));
}

struct Message {
  std::string from, to, type;
  Bytes bytes;
};

struct DerivedKeys {
  Bytes kpk, cwek, hmac_key, transcript_hash;  // the hash for hardened1 only
};

// The keys of the run, from its draws and messages alone by the spec's derivations; the test opens
// the run's ControlWord with them, so the values shown are the ones the SM and the TP used.
DerivedKeys derive_run_keys(wire::Profile profile, const std::vector<Draw>& draws,
                            const std::vector<Message>& messages) {
  const auto expected = expected_draws(profile);
  const auto secret = [&](std::string_view purpose) {
    const Bytes& b = draw_for(draws, expected, purpose);
    return SecureBytes(b.begin(), b.end());
  };
  const auto sm = SmId::from_hex(sm_stream.substr(2)).value();
  const auto tp = TpId::from_hex(tp_stream.substr(2)).value();
  const protocol::SmSecrets ki{secret("Ki1"), secret("Ki2"), secret("Ki3")};
  DerivedKeys keys;
  const auto kpk = protocol::derive_kpk(ki, sm, tp, draw_for(draws, expected, "RAND")).value();
  keys.kpk.assign(kpk.begin(), kpk.end());
  if (profile == wire::Profile::koo2010) {
    const auto cwek = protocol::derive_cwek(view(kpk), sm, tp).value();
    const auto hmac_key = protocol::derive_hmac_key(draw_for(draws, expected, "RANDHMAC"), sm, tp).value();
    keys.cwek.assign(cwek.begin(), cwek.end());
    keys.hmac_key.assign(hmac_key.begin(), hmac_key.end());
    return keys;
  }
  const auto e_sm = crypto::X25519Key::from_private(view(secret("e_SM, the SM's X25519 private key"))).value();
  const auto e_tp = crypto::X25519Key::from_private(view(secret("e_TP, the TP's X25519 private key"))).value();
  const auto run =
      protocol::run_key_schedule(e_sm, e_tp.public_key(), view(kpk),
                                 {messages.at(1).bytes, messages.at(2).bytes, messages.at(5).bytes, e_sm.public_key()})
          .value();
  keys.cwek.assign(run.keys.cwek.begin(), run.keys.cwek.end());
  keys.hmac_key.assign(run.keys.hmac_key.begin(), run.keys.hmac_key.end());
  keys.transcript_hash.assign(run.transcript.begin(), run.transcript.end());
  return keys;
}

struct ReferenceRun {
  Bytes root;
  std::vector<Draw> draws;
  std::vector<Message> messages;
};

ReferenceRun run_reference(wire::Profile profile) {
  Deployment d{profile};
  auto h = d.host(sm_stream.substr(2), tp_stream.substr(2));
  d.announce(*h);
  EXPECT_TRUE(d.established(*h));
  ReferenceRun run{d.root.der(), {}, {}};
  for (const auto& hop : d.net.transcript)
    run.messages.push_back({std::string(role_label(hop.from)), std::string(role_label(hop.to)),
                            std::string(wire::type_name(type_of(hop))), hop.bytes});
  protocol::ControlWords cws;
  cws.cw_length = 16;
  cws.odd = std::array<std::uint8_t, 16>{0x0d, 0xd0};
  cws.even = std::array<std::uint8_t, 16>{0xee, 0xee};
  const auto cw = h->sm->seal_control_words(cws, t0).value();
  run.messages.push_back(
      {"SM", "TP", std::string(wire::type_name(wire::MessageType::control_word)), Bytes(cw.begin(), cw.end())});
  EXPECT_TRUE(h->tp->receive(cw, t0).ok());
  run.draws = d.draws.draws;
  return run;
}

// The records of a transcript file: the root certificate, then each message after the draws that
// went into it (the set-up draws first), then the derived keys.
std::vector<Entry> transcript_entries(wire::Profile profile, const ReferenceRun& run) {
  const auto expected = expected_draws(profile);
  std::vector<Entry> entries{{{"Certificate", "TA root"}, {"Bytes", to_hex(run.root)}}};
  std::size_t next_draw = 0;
  const auto draws_before = [&](int message) {
    for (; next_draw < expected.size() && expected[next_draw].message == message; ++next_draw)
      entries.push_back({{"Stream", std::string(expected[next_draw].stream)},
                         {"Into", message == set_up ? "set-up" : fmt::format("message {}", message + 1)},
                         {"Purpose", std::string(expected[next_draw].purpose)},
                         {"Bytes", to_hex(run.draws.at(next_draw).bytes)}});
  };
  draws_before(set_up);
  for (std::size_t i = 0; i < run.messages.size(); ++i) {
    draws_before(static_cast<int>(i));
    const auto& m = run.messages[i];
    entries.push_back({{"From", m.from}, {"To", m.to}, {"Type", m.type}, {"Bytes", to_hex(m.bytes)}});
  }
  const auto keys = derive_run_keys(profile, run.draws, run.messages);
  entries.push_back({{"Derived", "KPK"}, {"Bytes", to_hex(keys.kpk)}});
  if (!keys.transcript_hash.empty()) entries.push_back({{"Derived", "TH"}, {"Bytes", to_hex(keys.transcript_hash)}});
  entries.push_back({{"Derived", "CWEK"}, {"Bytes", to_hex(keys.cwek)}});
  entries.push_back({{"Derived", "HMAC_KEY"}, {"Bytes", to_hex(keys.hmac_key)}});
  return entries;
}

std::string file_name(wire::Profile profile) { return fmt::format("transcript_{}.txt", wire::profile_name(profile)); }

void write_transcript(const std::filesystem::path& dir, wire::Profile profile, const std::vector<Entry>& entries) {
  std::ofstream f(dir / file_name(profile));
  f << "# " << wire::profile_name(profile) << " reference transcript: tests/transcript_test.cpp, docs/spec.md appendix "
    << (profile == wire::Profile::koo2010 ? "A" : "B") << ".\n";
  for (const auto& entry : entries) {
    f << "\n";
    for (const auto& [name, value] : entry) f << name << " = " << value << "\n";
  }
}

class Transcript : public ::testing::TestWithParam<wire::Profile> {};

TEST_P(Transcript, EachPartyDrawsFromItsStreamInTheDocumentedOrder) {
  const auto run = run_reference(GetParam());
  const auto expected = expected_draws(GetParam());
  ASSERT_EQ(run.draws.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(run.draws[i].stream, expected[i].stream) << expected[i].purpose;
    EXPECT_EQ(run.draws[i].bytes.size(), expected[i].size) << expected[i].purpose;
    // A draw goes into the next message the network carries (set-up draws come before any).
    const auto message = expected[i].message == set_up ? 0 : static_cast<std::size_t>(expected[i].message);
    EXPECT_EQ(run.draws[i].messages_before, message) << expected[i].purpose;
  }
}

TEST_P(Transcript, TheKeysDerivedFromTheDrawsOpenTheRunsControlWord) {
  const auto run = run_reference(GetParam());
  const auto keys = derive_run_keys(GetParam(), run.draws, run.messages);
  auto opener = protocol::CwOpener::create(keys.cwek, keys.hmac_key).value();
  const auto cws = opener.open(run.messages.back().bytes, t0);
  ASSERT_TRUE(cws.has_value()) << cws.error().message();
  EXPECT_EQ(cws->odd.value()[1], 0xd0);
}

TEST_P(Transcript, ACompleteRunReproducesTheStoredTranscript) {
  const auto profile = GetParam();
  const auto entries = transcript_entries(profile, run_reference(profile));
  if (const char* dir = std::getenv("DCAS_WRITE_TRANSCRIPT")) write_transcript(dir, profile, entries);
  const auto stored = parse_records(read_text_file(source_dir() / "tests/data" / file_name(profile)).value()).value();
  ASSERT_EQ(stored.size(), entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    for (const auto& [name, value] : entries[i]) {
      const auto word = stored[i].word(name);
      ASSERT_TRUE(word.has_value()) << "record " << i << " lacks " << name;
      EXPECT_EQ(*word, value) << "record " << i << ", " << name << " (" << entries[i].front().second << ")";
    }
    EXPECT_TRUE(stored[i].unused().empty()) << "record " << i << " has an attribute the run does not make";
  }
}

TEST_P(Transcript, TheSpecShowsIt) {
  const std::string spec = read_spec();
  std::string compact;
  for (char c : spec)
    if (std::isxdigit(static_cast<unsigned char>(c))) compact += c;
  for (const auto& entry : transcript_entries(GetParam(), run_reference(GetParam()))) {
    const auto& label = entry[entry.size() - 2].second;  // a record names what it shows just before its Bytes
    EXPECT_NE(compact.find(entry.back().second), std::string::npos) << "docs/spec.md's appendix lacks " << label;
  }
}

TEST_P(Transcript, TwoRunsAreIdentical) {
  const auto a = run_reference(GetParam()), b = run_reference(GetParam());
  ASSERT_EQ(a.messages.size(), b.messages.size());
  for (std::size_t i = 0; i < a.messages.size(); ++i) EXPECT_EQ(a.messages[i].bytes, b.messages[i].bytes);
  ASSERT_EQ(a.draws.size(), b.draws.size());
  for (std::size_t i = 0; i < a.draws.size(); ++i) EXPECT_EQ(a.draws[i].bytes, b.draws[i].bytes);
}

INSTANTIATE_TEST_SUITE_P(Profiles, Transcript, ::testing::Values(wire::Profile::koo2010, wire::Profile::hardened1),
                         [](const auto& instance) { return std::string(wire::profile_name(instance.param)); });

}  // namespace
}  // namespace dcas
