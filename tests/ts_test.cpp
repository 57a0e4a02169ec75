// Transport streams: packets, PSI, the three scramblers on real streams made by ffmpeg, interop
// with tsdecrypt, crypto-period changes, and corrupt input.
#include <fmt/format.h>

#include <fstream>
#include <map>
#include <random>

#include "common/files.h"
#include "test_support.h"
#include "ts/stream.h"

namespace dcas {
namespace {

namespace fs = std::filesystem;
using ts::Scrambling;

using Packet = std::array<std::uint8_t, ts::packet_size>;

Packet make_packet(std::uint16_t pid, std::uint8_t cc, std::size_t af_length = 0, bool payload = true) {
  Packet p;
  std::mt19937 rng(pid * 131 + cc);
  for (auto& b : p) b = static_cast<std::uint8_t>(rng());
  p[0] = 0x47;
  p[1] = static_cast<std::uint8_t>(pid >> 8);
  p[2] = static_cast<std::uint8_t>(pid);
  p[3] = static_cast<std::uint8_t>((af_length ? 0x20 : 0) | (payload ? 0x10 : 0) | (cc & 0x0f));
  if (af_length) {
    p[4] = static_cast<std::uint8_t>(af_length - 1);
    if (af_length > 1) p[5] = 0x00;  // adaptation flags
  }
  return p;
}

Bytes join(const std::vector<Packet>& packets) {
  Bytes out;
  for (const auto& p : packets) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::map<std::uint16_t, std::vector<Bytes>> packets_by_pid(const Bytes& stream) {
  std::map<std::uint16_t, std::vector<Bytes>> out;
  for (std::size_t i = 0; i + ts::packet_size <= stream.size(); i += ts::packet_size)
    out[static_cast<std::uint16_t>((stream[i + 1] & 0x1f) << 8 | stream[i + 2])].emplace_back(
        stream.begin() + static_cast<std::ptrdiff_t>(i),
        stream.begin() + static_cast<std::ptrdiff_t>(i + ts::packet_size));
  return out;
}

Bytes read_bytes(const fs::path& p) {
  auto text = read_text_file(p).value();
  return Bytes(text.begin(), text.end());
}

const fs::path& sample_ts() { return test::ffmpeg_ts(2); }

const std::map<std::string, std::pair<std::string, std::string>> keys = {
    {"csa2", {"0102030405060708", "1112131415161718"}},
    {"cissa", {"000102030405060708090a0b0c0d0e0f", "101112131415161718191a1b1c1d1e1f"}},
    {"idsa", {"00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100"}},
};

// ---- packets and PSI ----

TEST(TsPacket, HeaderFieldsAndErrors) {
  auto p = make_packet(0x123, 7, 10);
  auto info = ts::parse_packet(p).value();
  EXPECT_EQ(info.pid, 0x123);
  EXPECT_EQ(info.continuity_counter, 7);
  EXPECT_EQ(info.payload_offset, 14u);
  EXPECT_EQ(info.scrambling, Scrambling::clear);
  p[4] = 183;  // adaptation field filling the packet, but a payload is signalled
  EXPECT_EQ(ts::parse_packet(p).error().code, Errc::ts_bad_adaptation_field);
  p[3] = 0x20;  // adaptation field only: 183 is right
  EXPECT_EQ(ts::parse_packet(p).value().payload_size(), 0u);
  p[0] = 0x48;
  EXPECT_EQ(ts::parse_packet(p).error().code, Errc::ts_sync_lost);
  EXPECT_EQ(ts::parse_packet(ByteView(p).first(187)).error().code, Errc::ts_truncated_packet);
}

TEST(TsPsi, Crc32Mpeg2CheckValue) {
  // The CRC catalogue's check value for CRC-32/MPEG-2 over "123456789".
  EXPECT_EQ(ts::crc32_mpeg2(view("123456789")), 0x0376e6e7u);
}

TEST(TsPsi, TablesRoundTripThroughPacketsAndTheAssembler) {
  ts::Pmt pmt{1, 0x100, {{0x4adc, 0x200}}, {}};
  for (std::uint16_t i = 0; i < 40; ++i)
    pmt.streams.push_back({0x02, static_cast<std::uint16_t>(0x100 + i), {{0x4adc, 0x201}}});
  const Bytes section = ts::build_pmt(pmt);
  ASSERT_GT(section.size(), 184u * 2);  // spans three packets
  std::uint8_t cc = 0;
  ts::SectionAssembler assembler;
  std::vector<Bytes> got;
  for (const auto& packet : ts::packetize(section, 0x1000, cc)) {
    auto info = ts::parse_packet(packet).value();
    auto out = assembler.feed(ByteView(packet).subspan(info.payload_offset), info.payload_unit_start);
    EXPECT_TRUE(out.errors.empty());
    got.insert(got.end(), out.sections.begin(), out.sections.end());
  }
  ASSERT_EQ(got.size(), 1u);
  const auto parsed = ts::parse_pmt(got[0]).value();
  EXPECT_EQ(parsed.pcr_pid, 0x100);
  ASSERT_EQ(parsed.ca.size(), 1u);
  EXPECT_EQ(parsed.ca[0].ca_pid, 0x200);
  EXPECT_EQ(parsed.streams.size(), 40u);
  EXPECT_EQ(parsed.streams[39].ca[0].ca_pid, 0x201);

  const auto pat = ts::parse_pat(ts::build_pat({7, {{1, 0x1000}, {2, 0x1001}}})).value();
  EXPECT_EQ(pat.transport_stream_id, 7);
  EXPECT_EQ(pat.programs.at(2), 0x1001);
  const auto cat = ts::parse_cat(ts::build_cat({{{0x4adc, 0x300}}})).value();
  EXPECT_EQ(cat.ca.at(0).ca_pid, 0x300);
}

TEST(TsPsi, BrokenSectionsAreReported) {
  Bytes pat = ts::build_pat({1, {{1, 0x1000}}});
  pat[9] ^= 1;
  EXPECT_EQ(ts::parse_pat(pat).error().code, Errc::ts_bad_crc);
  EXPECT_EQ(ts::parse_pmt(ts::build_pat({1, {}})).error().code, Errc::ts_bad_section);  // wrong table_id
  std::uint8_t cc = 0;
  auto packet = ts::packetize(pat, 0, cc).at(0);
  ts::SectionAssembler assembler;
  auto out = assembler.feed(ByteView(packet).subspan(4), true);
  EXPECT_TRUE(out.sections.empty());
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0].code, Errc::ts_bad_crc);
  packet[4] = 200;  // pointer_field beyond the payload
  EXPECT_EQ(assembler.feed(ByteView(packet).subspan(4), true).errors.at(0).code, Errc::ts_bad_section);
}

// ---- scrambling engines ----

TEST(TsScrambling, KeysChangeAtTheCryptoPeriodBoundaryWithoutLoss) {
  for (const auto& [algo_name, cws] : keys) {
    const auto algo = *ts::algorithm_from_name(algo_name);
    std::vector<Packet> clear;
    for (int i = 0; i < 300; ++i)
      clear.push_back(make_packet(0x100, static_cast<std::uint8_t>(i), i % 7 == 0 ? 20 : 0));
    Bytes stream = join(clear);
    // Three crypto periods: even K1, odd K2, even K3 (the headend changes the key not on air).
    const Bytes k1 = from_hex(cws.first).value(), k2 = from_hex(cws.second).value();
    Bytes k3 = k1;
    k3[0] ^= 0x55;
    ts::StreamStats stats;
    std::vector<ts::StreamError> errors;
    ts::Scrambler scrambler(algo, {});
    const std::size_t period = 100 * ts::packet_size;
    std::tuple<Scrambling, const Bytes*> plan[] = {
        {Scrambling::even, &k1}, {Scrambling::odd, &k2}, {Scrambling::even, &k3}};
    for (std::size_t i = 0; i < 3; ++i) {
      ASSERT_TRUE(scrambler.set_key(std::get<0>(plan[i]), *std::get<1>(plan[i])));
      scrambler.set_parity(std::get<0>(plan[i]));
      scrambler.process(std::span(stream).subspan(i * period, period), {}, stats, errors);
    }
    EXPECT_EQ(stats.scrambled, 300u);
    ts::Descrambler descrambler(algo);
    ts::StreamStats d;
    ASSERT_TRUE(descrambler.set_key(Scrambling::even, k1));
    ASSERT_TRUE(descrambler.set_key(Scrambling::odd, k2));
    descrambler.process(std::span(stream).first(period + period / 2), {}, d, errors);
    ASSERT_TRUE(descrambler.set_key(Scrambling::even, k3));  // while odd is on air
    descrambler.process(std::span(stream).subspan(period + period / 2), {}, d, errors);
    EXPECT_TRUE(errors.empty());
    EXPECT_EQ(d.descrambled, 300u) << algo_name;
    EXPECT_EQ(stream, join(clear)) << algo_name;
  }
}

TEST(TsScrambling, PsiAdaptationFieldsAndPayloadlessPacketsStayClear) {
  std::uint8_t cc = 0;
  std::vector<Packet> packets;
  for (const auto& p : ts::packetize(ts::build_pat({1, {{1, 0x1000}}}), 0, cc)) packets.push_back(p);
  for (const auto& p : ts::packetize(ts::build_pmt({1, 0x100, {}, {{0x02, 0x100, {}}}}), 0x1000, cc))
    packets.push_back(p);
  packets.push_back(make_packet(0x100, 1, 30));                      // adaptation field + payload
  packets.push_back(make_packet(0x100, 2, 184, /*payload=*/false));  // adaptation field only
  packets.push_back(make_packet(0x1fff, 3));                         // null packet
  const Bytes before = join(packets);
  Bytes stream = before;
  ts::Scrambler scrambler(ts::Algorithm::cissa, {});
  ASSERT_TRUE(scrambler.set_key(Scrambling::even, from_hex(keys.at("cissa").first).value()));
  ts::StreamStats stats;
  std::vector<ts::StreamError> errors;
  scrambler.process(stream, {}, stats, errors);
  EXPECT_EQ(stats.scrambled, 1u);
  const std::size_t af = 2 * ts::packet_size;
  EXPECT_TRUE(
      std::equal(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(af), before.begin()));    // PAT, PMT
  EXPECT_TRUE(std::equal(stream.begin() + af + 4, stream.begin() + af + 34, before.begin() + af + 4));  // the AF
  EXPECT_FALSE(std::equal(stream.begin() + af + 34, stream.begin() + af + 188, before.begin() + af + 34));
  EXPECT_EQ(stream[af + 3] >> 6, 2);  // marked even
  EXPECT_TRUE(std::equal(stream.begin() + af + 188, stream.end(), before.begin() + af + 188));
}

TEST(TsScrambling, PacketsWithoutAKeyAreCountedAndLeftAlone) {
  Bytes stream = join({make_packet(0x100, 0)});
  ts::Scrambler scrambler(ts::Algorithm::csa2, {});
  ASSERT_TRUE(scrambler.set_key(Scrambling::odd, from_hex("0102030405060708").value()));
  scrambler.set_parity(Scrambling::odd);
  ts::StreamStats stats;
  std::vector<ts::StreamError> errors;
  scrambler.process(stream, {}, stats, errors);
  const Bytes scrambled = stream;
  ts::Descrambler descrambler(ts::Algorithm::csa2);
  ASSERT_TRUE(descrambler.set_key(Scrambling::even, from_hex("0102030405060708").value()));
  ts::StreamStats d;
  descrambler.process(stream, {}, d, errors);
  EXPECT_EQ(d.no_key, 1u);
  EXPECT_EQ(stream, scrambled);
  EXPECT_EQ(descrambler.set_key(Scrambling::odd, Bytes(16)).error().code, Errc::bad_length);
}

TEST(TsFraming, ResynchronisesAndReportsOffsets) {
  Bytes stream = join({make_packet(0x100, 0), make_packet(0x100, 1)});
  const Bytes garbage(100, 0x00);
  stream.insert(stream.end(), garbage.begin(), garbage.end());
  const Bytes tail = join({make_packet(0x100, 2), make_packet(0x100, 3), make_packet(0x100, 4)});
  stream.insert(stream.end(), tail.begin(), tail.end());
  stream.insert(stream.end(), 50, 0xaa);  // truncated packet at the end
  Bytes packets;
  std::vector<std::uint64_t> offsets;
  std::vector<ts::StreamError> errors;
  ts::PacketFramer framer;
  for (std::size_t at = 0; at < stream.size(); at += 97)  // odd chunk sizes
    framer.feed(ByteView(stream).subspan(at, std::min<std::size_t>(97, stream.size() - at)), packets, offsets, errors);
  framer.finish(errors);
  EXPECT_EQ(packets.size(), 5 * ts::packet_size);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].error.code, Errc::ts_sync_lost);
  EXPECT_EQ(errors[0].offset, 2 * ts::packet_size);
  EXPECT_EQ(offsets, (std::vector<std::uint64_t>{0, 188, 476, 664, 852}));  // resumed after the garbage
  EXPECT_EQ(errors[1].error.code, Errc::ts_truncated_packet);
  EXPECT_EQ(errors[1].offset, stream.size() - 50);
}

// ---- the commands on real streams ----

TEST(TsCommands, RoundTripsOnAnFfmpegStreamForEveryAlgorithm) {
  const Bytes source = read_bytes(sample_ts());
  const auto source_pids = packets_by_pid(source);
  const auto dir = fs::temp_directory_path() / ("dcas-ts-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const auto& [algo, cws] : keys) {
    const auto scrambled = dir / (algo + ".scrambled.ts"), back = dir / (algo + ".clear.ts");
    auto s = test::run_dcas(fmt::format("scramble --algo {} --cw-even {} {} {}", algo, cws.first, sample_ts().string(),
                                        scrambled.string()));
    ASSERT_EQ(s.status, 0) << s.err;
    auto d = test::run_dcas(fmt::format("descramble --algo {} --cw-even {} --cw-odd {} {} {}", algo, cws.first,
                                        cws.second, scrambled.string(), back.string()));
    ASSERT_EQ(d.status, 0) << d.err;
    EXPECT_EQ(read_bytes(back), source) << algo;  // packet for packet, byte for byte
    const auto scrambled_pids = packets_by_pid(read_bytes(scrambled));
    for (const auto& [pid, packets] : source_pids) {
      const bool es = pid >= 0x100 && pid < 0x1000;  // ffmpeg's elementary streams; PSI/SI and PMT below/above
      std::size_t changed = 0;
      for (std::size_t i = 0; i < packets.size(); ++i) changed += packets[i] != scrambled_pids.at(pid)[i];
      EXPECT_EQ(changed, es ? packets.size() : 0u) << algo << " PID " << pid;
    }
  }
  fs::remove_all(dir);
}

TEST(TsCommands, StreamsThroughStdinAndStdout) {
  const std::string cmd = fmt::format(
      "{} scramble --algo idsa --cw-odd {} {} - 2>/dev/null | {} descramble --algo idsa --cw-odd {} - - 2>/dev/null | "
      "cmp -s - {}",
      DCAS_BINARY, keys.at("idsa").second, sample_ts().string(), DCAS_BINARY, keys.at("idsa").second,
      sample_ts().string());
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

TEST(TsCommands, TsdecryptDescramblesOurCsa2) {
  const auto dir = fs::temp_directory_path() / ("dcas-tsd-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string cw = keys.at("csa2").first;
  ASSERT_EQ(test::run_dcas(fmt::format("scramble --algo csa2 --cw-even {} {} {}", cw, sample_ts().string(),
                                       (dir / "s.ts").string()))
                .status,
            0);
  // tsdecrypt's constant CW is the odd and even CW together (16 bytes).
  const std::string cmd = fmt::format("timeout 60 tsdecrypt -Y {}{} -I file://{} -O file://{} >/dev/null 2>&1", cw, cw,
                                      (dir / "s.ts").string(), (dir / "t.ts").string());
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const auto source = packets_by_pid(read_bytes(sample_ts()));
  const auto theirs = packets_by_pid(read_bytes(dir / "t.ts"));
  // tsdecrypt rewrites PAT and SDT; every elementary-stream packet must come back identical.
  for (const auto& [pid, packets] : source) {
    if (pid < 0x100 || pid >= 0x1000) continue;
    EXPECT_EQ(theirs.at(pid), packets) << "PID " << pid;
  }
  fs::remove_all(dir);
}

TEST(TsCommands, CorruptInputIsReportedWithOffsetsAndTheRestGoesThrough) {
  const auto dir = fs::temp_directory_path() / ("dcas-bad-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Bytes stream = join({make_packet(0x100, 0), make_packet(0x100, 1)});
  Bytes scrambled = stream;
  {
    ts::Scrambler s(ts::Algorithm::csa2, {});
    ASSERT_TRUE(s.set_key(Scrambling::even, from_hex("0102030405060708").value()));
    ts::StreamStats st;
    std::vector<ts::StreamError> e;
    s.process(scrambled, {}, st, e);
  }
  Bytes input = scrambled;
  input.insert(input.end(), {0x00, 0x11, 0x22});  // lost sync
  auto bad_af = make_packet(0x100, 2, 10);
  bad_af[4] = 190;  // adaptation_field_length past the packet
  input.insert(input.end(), bad_af.begin(), bad_af.end());
  input.insert(input.end(), scrambled.begin(), scrambled.end());
  input.insert(input.end(), 20, 0x47);  // truncated at the end
  write_public_file(dir / "in.ts", input).value();
  auto r = test::run_dcas(fmt::format("descramble --algo csa2 --cw-even 0102030405060708 {} {}",
                                      (dir / "in.ts").string(), (dir / "out.ts").string()));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("offset 376: ts_sync_lost"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("offset 379: ts_bad_adaptation_field"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ts_truncated_packet"), std::string::npos) << r.err;
  const Bytes out = read_bytes(dir / "out.ts");
  ASSERT_EQ(out.size(), 5 * ts::packet_size);
  EXPECT_TRUE(std::equal(stream.begin(), stream.end(), out.begin()));                        // before the damage
  EXPECT_TRUE(std::equal(stream.begin(), stream.end(), out.begin() + 3 * ts::packet_size));  // after it
  fs::remove_all(dir);
}

TEST(TsCommands, BadArguments) {
  EXPECT_EQ(test::run_dcas("descramble --algo csa2 --cw-even 0102 - -").status, 2);
  EXPECT_EQ(test::run_dcas("descramble --algo aes --cw-even 0102030405060708 - -").status, 2);
  EXPECT_EQ(test::run_dcas("scramble --algo csa2 - -").status, 2);  // no CW
  EXPECT_EQ(test::run_dcas("scramble --algo csa2 --cw-even 0102030405060708 --pid 9000 - -").status, 2);
  EXPECT_EQ(test::run_dcas("descramble --algo csa2 --cw-even 0102030405060708 /nonexistent.ts -").status, 1);
}

}  // namespace
}  // namespace dcas

namespace dcas {
namespace {

TEST(TsCommands, ABrokenPsiSectionIsReportedWithItsOffset) {
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / ("dcas-crc-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto text = read_text_file(sample_ts()).value();
  Bytes stream(text.begin(), text.end());
  // Damage the program number in the first PAT (header 4, pointer_field 1, table header 8).
  std::size_t pat = 0;
  while (pat < stream.size() && ((stream[pat + 1] & 0x1f) != 0 || stream[pat + 2] != 0)) pat += ts::packet_size;
  ASSERT_LT(pat, stream.size());
  stream[pat + 13] ^= 0x01;
  write_public_file(dir / "in.ts", stream).value();
  const auto r = test::run_dcas(fmt::format("descramble --algo csa2 --cw-even 0102030405060708 {} {}",
                                            (dir / "in.ts").string(), (dir / "out.ts").string()));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(fmt::format("offset {}: ts_bad_crc", pat)), std::string::npos) << r.err;
  const auto out = read_text_file(dir / "out.ts").value();
  EXPECT_EQ(out.size(), stream.size());  // everything still went through
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dcas
