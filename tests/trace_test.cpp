// Traces (docs/spec.md §19): the pcapng writer and reader, the one-copy rule, and, with Debian's
// tshark and the shipped dissector, the decoding of every message of both profiles from real demo
// runs; the sequence diagram's structure.
#include "observe/trace.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "common/files.h"
#include "net/frame.h"
#include "observe/trace_view.h"
#include "test_support.h"
#include "wire/message.h"

namespace dcas {
namespace {

namespace fs = std::filesystem;
using namespace observe;
using test::output_of;
using test::run_dcas;

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("dcas-trace-{}-{}", name, ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

const std::string dissector = std::string(DCAS_SOURCE_DIR) + "/packaging/wireshark/dcas.lua";

std::string tshark(const fs::path& file, const std::string& arguments) {
  return output_of(fmt::format("tshark -X lua_script:{} -r {} {}", dissector, file.string(), arguments));
}

// tshark is a test dependency (scripts/install-deps.sh): CI must have it; elsewhere its absence skips.
bool tshark_present() { return std::system("command -v tshark >/dev/null 2>&1") == 0; }
#define REQUIRE_TSHARK()                                                              \
  do {                                                                                \
    if (!tshark_present()) {                                                          \
      if (std::getenv("CI")) FAIL() << "tshark is missing (scripts/install-deps.sh)"; \
      GTEST_SKIP() << "tshark is not installed";                                      \
    }                                                                                 \
  } while (false)

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::chrono::system_clock::time_point at_micros(std::int64_t us) {
  return std::chrono::system_clock::time_point(std::chrono::microseconds(us));
}

TraceRecord message_record(Link link, Party from, Party to, Bytes bytes, std::int64_t us, std::string recorder) {
  TraceRecord r;
  r.at = at_micros(us);
  r.recorder = std::move(recorder);
  r.link = link;
  r.from = from;
  r.to = to;
  r.bytes = std::move(bytes);
  return r;
}

// A link frame between two loopback sockets (::1 with `v6`).
TraceRecord frame_record(Link link, Party from, Party to, Direction direction, const net::Frame& frame, std::int64_t us,
                         std::string recorder, bool v6 = false) {
  TraceRecord r = message_record(link, from, to, net::encode_frame(frame), us, std::move(recorder));
  r.direction = direction;
  Bytes loopback = v6 ? Bytes(16, 0) : Bytes{127, 0, 0, 1};
  loopback.back() = 1;
  r.source = Endpoint{loopback, 40000};
  r.destination = Endpoint{loopback, 7400};
  return r;
}

void expect_same(const TraceRecord& a, const TraceRecord& b) {
  EXPECT_EQ(a.at, b.at);
  EXPECT_EQ(a.recorder, b.recorder);
  EXPECT_EQ(a.link, b.link);
  EXPECT_EQ(a.from, b.from);
  EXPECT_EQ(a.to, b.to);
  EXPECT_EQ(a.direction, b.direction);
  EXPECT_EQ(a.source.has_value(), b.source.has_value());
  if (a.source && b.source) {
    EXPECT_EQ(*a.source, *b.source);
  }
  if (a.destination && b.destination) {
    EXPECT_EQ(*a.destination, *b.destination);
  }
  EXPECT_EQ(a.bytes, b.bytes);
}

std::vector<TraceRecord> sample_records() {
  const std::string host = "host 41ca25259d51b0a1";
  return {
      frame_record(Link::host_ap, Party::sm, Party::ap, Direction::sent, {net::FrameKind::message, 0, Bytes(40, 0xab)},
                   1'796'000'000'000'001, host),
      frame_record(Link::ap_ta, Party::ta, Party::ap, Direction::received, {net::FrameKind::crl, 0, Bytes(3, 1)},
                   1'796'000'000'000'002, "headend a16e36869c4a6b1d", true),
      message_record(Link::sm_tp_bus, Party::sm, Party::tp, Bytes(9, 0x11), 1'796'000'000'000'003, host),
      message_record(Link::broadcast, Party::cas, Party::sm, Bytes(9, 0x41), 1'796'000'000'000'004, host),
      message_record(Link::events, Party::tp, Party::tp, Bytes{'{', '}'}, 1'796'000'000'000'005, host),
  };
}

Result<std::vector<TraceRecord>> written_and_read(const fs::path& path, const std::vector<TraceRecord>& records) {
  {
    auto writer = TraceWriter::open(path);
    if (!writer) return std::unexpected(writer.error());
    for (const auto& r : records) (*writer)->write(r);
  }
  return read_trace(path);
}

TEST(Trace, ReadsBackEveryRecordItWroteOwnerOnly) {
  const auto dir = scratch("roundtrip");
  const auto records = sample_records();
  auto read = written_and_read(dir / "t.pcapng", records);
  ASSERT_TRUE(read) << read.error().message();
  ASSERT_EQ(read->size(), records.size());
  for (std::size_t i = 0; i < records.size(); ++i) expect_same((*read)[i], records[i]);
  struct stat st {};
  ASSERT_EQ(::stat((dir / "t.pcapng").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  fs::remove_all(dir);
}

TEST(Trace, ALastBlockCutShortIsDroppedAndOtherDamageIsRefused) {
  const auto dir = scratch("damage");
  const auto path = dir / "t.pcapng";
  ASSERT_TRUE(written_and_read(path, sample_records()));
  const auto size = fs::file_size(path);
  fs::resize_file(path, size - 6);  // a process killed while writing its last record
  auto cut = read_trace(path);
  ASSERT_TRUE(cut) << cut.error().message();
  EXPECT_EQ(cut->size(), sample_records().size() - 1);

  const auto write = [&](const Bytes& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  };
  write(Bytes(64, 0x42));
  EXPECT_EQ(read_trace(path).error().code, Errc::trace_invalid);
  // A big-endian section header: block type, length 28, magic 0x1A2B3C4D written big-endian.
  write({0x0A, 0x0D, 0x0D, 0x0A, 0,    0,    0,    28,   0x1A, 0x2B, 0x3C, 0x4D, 0, 1,
         0,    0,    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0,    0,    0, 28});
  auto big = read_trace(path);
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().detail.find("big-endian"), std::string::npos) << big.error().detail;
  // A section header whose length is not a multiple of 4.
  write({0x0A, 0x0D, 0x0D, 0x0A, 27,   0,    0,    0,    0x4D, 0x3C, 0x2B, 0x1A, 1, 0,
         0,    0,    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 27,   0,    0, 0});
  EXPECT_EQ(read_trace(path).error().code, Errc::trace_invalid);
  EXPECT_EQ(read_trace(dir / "missing.pcapng").error().code, Errc::io_error);
  // A packet stamped past what the clock holds (found by fuzz_trace): refused, not overflowed.
  ASSERT_TRUE(written_and_read(path, sample_records()));
  Bytes file = read_binary_file(path).value();
  std::size_t at = 0;
  while (at + 8 <= file.size() && file[at] != 6) at += file[at + 4] | file[at + 5] << 8 | file[at + 6] << 16;
  ASSERT_LT(at + 16, file.size());
  for (std::size_t i = 12; i < 16; ++i) file[at + i] = 0xff;  // the timestamp's high word
  write(file);
  auto late = read_trace(path);
  ASSERT_FALSE(late);
  EXPECT_NE(late.error().detail.find("2242"), std::string::npos) << late.error().detail;

  // PDUs: another exporter's, a later record version, an unknown link, tags running past the end.
  Bytes pdu = encode_pdu(sample_records()[2]);
  EXPECT_TRUE(decode_pdu(pdu));
  Bytes other = pdu;
  other[4] = 'x';  // the dissector name
  EXPECT_FALSE(decode_pdu(other));
  const std::size_t header = pdu.size() - 9 - 4;  // the record's header follows the TLVs
  Bytes later = pdu;
  later[header] = 2;
  EXPECT_FALSE(decode_pdu(later));
  Bytes unknown_link = pdu;
  unknown_link[header + 1] = 9;
  EXPECT_FALSE(decode_pdu(unknown_link));
  EXPECT_FALSE(decode_pdu(ByteView(pdu).first(10)));
  fs::remove_all(dir);
}

TEST(Trace, OneRunKeepsOneCopyOfAFrameBothEndsRecorded) {
  const net::Frame request{net::FrameKind::message, 3, Bytes(20, 0x5a)};
  const net::Frame ping{net::FrameKind::ping, 0, {}};
  const auto sent = frame_record(Link::ap_ta, Party::ap, Party::ta, Direction::sent, request, 10, "headend 01");
  const auto got = frame_record(Link::ap_ta, Party::ap, Party::ta, Direction::received, request, 12, "ta");
  const auto only_received = frame_record(Link::ap_ta, Party::ta, Party::ap, Direction::received,
                                          {net::FrameKind::ack, 3, {}}, 14, "headend 01");
  const auto ping_out = frame_record(Link::host_ap, Party::sm, Party::ap, Direction::sent, ping, 20, "host 02");
  const auto ping_in = frame_record(Link::host_ap, Party::sm, Party::ap, Direction::received, ping, 21, "headend 01");
  const auto run = one_run({{got, only_received, ping_in, ping_in}, {sent, ping_out, ping_out}});
  // One request (the sender's), the ack only its receiver saw, and two pings of two.
  ASSERT_EQ(run.size(), 4u);
  EXPECT_EQ(run[0].recorder, "headend 01");
  EXPECT_EQ(run[0].direction, Direction::sent);
  EXPECT_EQ(run[1].bytes, only_received.bytes);
  EXPECT_EQ(run[2].recorder, "host 02");
  EXPECT_EQ(run[3].recorder, "host 02");
}

// The dissector's tables, line by line: `  [KEY] = "NAME",` inside `local NAME = {` ... `}`.
std::map<int, std::string> lua_table(const std::string& lua, const std::string& name) {
  std::map<int, std::string> out;
  const auto start = lua.find("local " + name + " = {\n");
  if (start == std::string::npos) return out;
  const auto end = lua.find("\n}", start);
  const std::regex entry(R"re(\[(0x[0-9a-f]+|\d+)\] = "([^"]*)")re");
  const std::string block = lua.substr(start, end - start);
  for (std::sregex_iterator it(block.begin(), block.end(), entry), done; it != done; ++it)
    out[std::stoi((*it)[1].str(), nullptr, 0)] = (*it)[2].str();
  return out;
}

TEST(Trace, TheDissectorsTablesAreTheCodesRegistries) {
  std::ifstream in(dissector);
  ASSERT_TRUE(in) << dissector;
  const std::string lua((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::map<int, std::string> types, fields, errors;
  for (int t = 0; t < 256; ++t)
    if (auto name = wire::type_name(static_cast<wire::MessageType>(t)); name != "unknown") types[t] = name;
  for (int tag = 0; tag < 0x8000; ++tag)
    if (auto name = wire::field_name(static_cast<std::uint16_t>(tag)); !name.empty()) fields[tag] = name;
  for (int code = 1; code < 256; ++code)
    if (auto name = errc_name(static_cast<Errc>(code)); name != "unknown_error") errors[code] = name;
  EXPECT_EQ(lua_table(lua, "message_types"), types);
  EXPECT_EQ(lua_table(lua, "field_names"), fields);
  EXPECT_EQ(lua_table(lua, "error_names"), errors);
  EXPECT_EQ(types.size(), 25u);
}

// A demo run with traces (and its diagram); the directory holds each process's trace and demo.pcapng.
fs::path traced_demo(const std::string& scenario, const std::string& profile) {
  const auto dir = scratch(scenario + "-" + profile);
  const auto r = run_dcas(fmt::format("demo --scenario {} --profile {} --duration 4 --trace {} --diagram {}", scenario,
                                      profile, dir.string(), (dir / "run.svg").string()));
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  return dir;
}

std::set<int> message_types_in(const fs::path& trace) {
  std::set<int> types;
  for (const auto& line : lines(tshark(trace, "-T fields -e dcas.type"))) {
    std::istringstream fields(line);
    for (std::string t; std::getline(fields, t, ',');)
      if (!t.empty()) types.insert(std::stoi(t, nullptr, 0));
  }
  return types;
}

TEST(Trace, TsharkDecodesEveryMessageOfBothProfilesWithTheShippedDissector) {
  REQUIRE_TSHARK();
  // image-update adds DCASDownload to what every run has; the other profile's handshake comes from
  // a second run.
  const auto koo = traced_demo("image-update", "koo2010");
  const auto hardened = traced_demo("basic", "hardened1");
  std::set<int> seen = message_types_in(koo / "demo.pcapng");
  const auto more = message_types_in(hardened / "demo.pcapng");
  seen.insert(more.begin(), more.end());
  std::set<int> every;
  for (int t = 0; t < 256; ++t)
    if (wire::type_name(static_cast<wire::MessageType>(t)) != "unknown") every.insert(t);
  EXPECT_EQ(seen, every);

  // Nothing the dissector marks malformed, no Lua error.
  for (const auto& dir : {koo, hardened})
    EXPECT_EQ(
        tshark(dir / "demo.pcapng", "-Y \"dcas.malformed || _ws.malformed || _ws.lua\" -T fields -e frame.number"), "");

  // Field by field: a KeyRequest's Cert(SM) names the SM that recorded it (the SM_ID of its
  // KeyPairingID, which the RSA encryption hides); a TPCertRsp (h1) names it in sm_id.
  const auto requests =
      lines(tshark(koo / "join-1-A.pcapng",
                   "-Y \"dcas.type == 0x03\" -T fields -e frame.interface_description -e x509sat.uTF8String"));
  ASSERT_FALSE(requests.empty());
  for (const auto& line : requests) {
    const std::string sm = line.substr(5, 16);  // "host SM_ID\t..."
    EXPECT_EQ(line.substr(0, 5), "host ");
    EXPECT_NE(line.find("," + sm), std::string::npos) << line;
  }
  const auto hellos = lines(tshark(hardened / "join-1-A.pcapng",
                                   "-Y \"dcas.type == 0x12\" -T fields -e frame.interface_description -e dcas.sm_id"));
  ASSERT_FALSE(hellos.empty());
  for (const auto& line : hellos) EXPECT_EQ(line.substr(5, 16), line.substr(line.find('\t') + 1)) << line;
  // The framing, the roles and the integers.
  EXPECT_NE(tshark(koo / "headend-A.pcapng",
                   "-Y \"dcas.frame.kind == 0x02\" -T fields -e dcas_trace.link -e dcas_trace.from"),
            "");
  EXPECT_EQ(lines(tshark(koo / "ta.pcapng", "-Y \"dcas.type == 0x22\" -T fields -e dcas.presence")).front(), "0x00");
  const auto periods =
      lines(tshark(koo / "watch-1-A-host1.pcapng",
                   "-Y \"dcas_trace.link == 4 && dcas.type == 0x41\" -T fields -e dcas.crypto_period"));
  ASSERT_GE(periods.size(), 2u);
  EXPECT_LE(std::stoull(periods.front()), std::stoull(periods.back()));
  const auto bus = tshark(koo / "join-1-A.pcapng", "-Y \"dcas_trace.link == 3\" -T fields -e dcas.type");
  EXPECT_EQ(lines(bus), (std::vector<std::string>{"0x01", "0x02", "0x07", "0x08"}));
  fs::remove_all(koo);
  fs::remove_all(hardened);
}

TEST(Trace, TsharkNamesAnErrorFramesCodeAndMarksAMalformedMessage) {
  REQUIRE_TSHARK();
  const auto dir = scratch("error");
  const net::Frame refusal = net::error_frame({Errc::cert_revoked, "sm 41ca25259d51b0a1 is revoked (CRL 1)"}, 7);
  Bytes truncated = wire::encode({wire::Profile::koo2010, wire::TpCertReq{Bytes(100, 0x30)}, {}});
  truncated.resize(truncated.size() - 10);
  ASSERT_TRUE(
      written_and_read(dir / "t.pcapng",
                       {frame_record(Link::ap_ta, Party::ta, Party::ap, Direction::sent, refusal, 1, "ta"),
                        message_record(Link::sm_tp_bus, Party::sm, Party::tp, truncated, 2, "host 41ca25259d51b0a1")}));
  const auto fields = lines(tshark(dir / "t.pcapng",
                                   "-T fields -e dcas.frame.error -e dcas.frame.error_detail -e dcas.frame.stream "
                                   "-e _ws.col.Info"));
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0], "37\tsm 41ca25259d51b0a1 is revoked (CRL 1)\t7\t[ap-ta] TA -> AP error: cert_revoked");
  EXPECT_EQ(tshark(dir / "t.pcapng", "-Y dcas.malformed -T fields -e frame.number"), "2\n");
  fs::remove_all(dir);
}

// The diagram's elements in document order: lifelines, arrows (their attributes), events.
struct Drawn {
  std::vector<std::string> lifelines;
  std::vector<std::map<std::string, std::string>> arrows;
  std::size_t failed_arrows = 0, failed_events = 0;
};
Drawn parse_svg(const fs::path& svg) {
  std::ifstream in(svg);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Drawn d;
  const std::regex lifeline(R"re(<g class="lifeline" data-party="(\w+)")re");
  for (std::sregex_iterator it(text.begin(), text.end(), lifeline), done; it != done; ++it)
    d.lifelines.push_back((*it)[1]);
  const std::regex arrow(
      R"re(<g class="arrow( failed)?" data-index="(\d+)" data-type="([^"]+)" data-from="(\w+)" data-to="(\w+)")re");
  for (std::sregex_iterator it(text.begin(), text.end(), arrow), done; it != done; ++it) {
    d.arrows.push_back({{"index", (*it)[2]}, {"type", (*it)[3]}, {"from", (*it)[4]}, {"to", (*it)[5]}});
    if ((*it)[1].matched) ++d.failed_arrows;
  }
  const std::regex failed_event(R"re(<g class="event failed")re");
  d.failed_events = static_cast<std::size_t>(
      std::distance(std::sregex_iterator(text.begin(), text.end(), failed_event), std::sregex_iterator()));
  return d;
}

TEST(Trace, TheDiagramOfADemoRunIsTheHandshakeInOrderAndMarksARefusal) {
  const auto dir = traced_demo("revoked", "koo2010");
  // The first host run refused: the revoked SM, which an announcement carrying the CRL stops.
  const Drawn refused = parse_svg(dir / "run.svg");
  EXPECT_EQ(refused.lifelines, (std::vector<std::string>{"TA", "AP", "SM", "TP"}));
  EXPECT_GE(refused.failed_arrows, 1u);
  EXPECT_GE(refused.failed_events, 1u);

  // Host 1's join, drawn from the same run's traces: Fig. 4's messages, in order, between the
  // parties the spec names.
  const auto svg = dir / "join.svg";
  std::string host = lines(output_of(fmt::format("tshark -r {} -T fields -e frame.interface_description -c 1",
                                                 (dir / "join-1-A.pcapng").string())))
                         .at(0);
  const auto r = run_dcas(fmt::format("trace diagram {} {} {} {} --host {}", (dir / "join-1-A.pcapng").string(),
                                      (dir / "headend-A.pcapng").string(), (dir / "ta.pcapng").string(), svg.string(),
                                      host.substr(5)));
  ASSERT_EQ(r.status, 0) << r.err;
  const Drawn join = parse_svg(svg);
  EXPECT_EQ(join.lifelines, (std::vector<std::string>{"TA", "AP", "SM", "TP"}));
  EXPECT_EQ(join.failed_arrows, 0u);
  const std::vector<std::tuple<std::string, std::string, std::string>> fig4 = {
      {"0x20", "AP", "SM"}, {"0x01", "SM", "TP"}, {"0x02", "TP", "SM"}, {"0x03", "SM", "AP"},
      {"0x04", "AP", "TA"}, {"0x05", "TA", "AP"}, {"0x06", "AP", "SM"}, {"0x07", "SM", "TP"},
      {"0x08", "TP", "SM"}, {"0x23", "SM", "AP"}, {"0x24", "AP", "SM"}, {"0x25", "AP", "SM"}};
  std::size_t next = 0;
  for (std::size_t i = 0; i < join.arrows.size(); ++i) {
    const auto& a = join.arrows[i];
    EXPECT_EQ(a.at("index"), std::to_string(i + 1));
    if (next < fig4.size() && a.at("type") == std::get<0>(fig4[next])) {
      EXPECT_EQ(a.at("from"), std::get<1>(fig4[next])) << a.at("type");
      EXPECT_EQ(a.at("to"), std::get<2>(fig4[next])) << a.at("type");
      ++next;
    }
  }
  EXPECT_EQ(next, fig4.size()) << "Fig. 4's messages are not all drawn in order";

  // trace show: the same run as a timeline, the refusal's line marked.
  const auto shown = run_dcas("trace show " + (dir / "watch-revoked.pcapng").string());
  EXPECT_EQ(shown.status, 0);
  EXPECT_NE(shown.out.find("FAILED cert_revoked"), std::string::npos) << shown.out;
  const auto not_a_trace = run_dcas("trace show " + (dir / "run.svg").string());
  EXPECT_EQ(not_a_trace.status, 1);
  EXPECT_NE(not_a_trace.err.find("dcas trace show: trace_invalid"), std::string::npos) << not_a_trace.err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dcas

namespace dcas {
namespace {

// The RSA private values of a PEM private key: d and p as big-endian bytes.
std::vector<Bytes> private_values(const fs::path& pem) {
  std::vector<Bytes> out;
  BIO* bio = BIO_new_file(pem.c_str(), "r");
  if (!bio) return out;
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!key) return out;
  for (const char* name : {OSSL_PKEY_PARAM_RSA_D, OSSL_PKEY_PARAM_RSA_FACTOR1}) {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &bn) == 1) {
      Bytes b(static_cast<std::size_t>(BN_num_bytes(bn)));
      BN_bn2bin(bn, b.data());
      out.push_back(std::move(b));
    }
    BN_clear_free(bn);
  }
  EVP_PKEY_free(key);
  return out;
}

std::string file_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(Trace, NoKeyOfARunAppearsInItsLogsTracesOrTimelines) {
  const auto dir = scratch("secrets");
  const auto traces = dir / "traces";
  // JSON log lines: their fields are the likeliest place for a value to leak (the human lines are
  // the same texts).
  const auto demo =
      run_dcas(fmt::format("demo --profile koo2010 --duration 4 --log-format json --keep {} --trace {} --json {}",
                           (dir / "run").string(), traces.string(), (dir / "timeline.json").string()));
  ASSERT_EQ(demo.status, 0) << demo.err;

  // The secrets: every private key the run made (TA root, SMs, TPs, the AP), as its PEM body
  // lines, and its RSA d and p in binary and in hex.
  std::vector<std::string> secrets;
  std::size_t keys = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir / "run")) {
    if (!e.is_regular_file() || (e.path().extension() != ".pem" && e.path().extension() != ".key")) continue;
    const std::string pem = file_text(e.path());
    if (pem.find("PRIVATE KEY-----") == std::string::npos) continue;
    ++keys;
    for (const auto& line : lines(pem))
      if (line.size() == 64) secrets.push_back(line);
    for (const auto& v : private_values(e.path())) {
      secrets.emplace_back(v.begin(), v.end());
      secrets.push_back(to_hex(v));
    }
  }
  ASSERT_GE(keys, 6u) << "the TA root, two SMs, two TPs and the AP";
  // And the symmetric keys it made: each SM's Ki (Table 2's ki1..ki3, in its ki.txt) and the TA's
  // and headend's store keys, in hex and in binary.
  std::size_t symmetric = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir / "run")) {
    const auto name = e.path().filename().string();
    if (!e.is_regular_file() || (name != "ki.txt" && name != "store.key")) continue;
    for (const auto& line : lines(file_text(e.path()))) {
      const auto hex = line.substr(line.find_last_of(" =") == std::string::npos ? 0 : line.find_last_of(" =") + 1);
      const auto bytes = from_hex(hex);
      if (hex.size() < 32 || !bytes) continue;
      ++symmetric;
      secrets.push_back(hex);
      secrets.emplace_back(bytes->begin(), bytes->end());
    }
  }
  ASSERT_GE(symmetric, 2u * 3u + 2u) << "two SMs' Ki, the TA's and the headend's store keys";

  // Where they must not be: every process's log, the demo's own output and timeline, each trace
  // (its bytes, `dcas trace show`, and tshark's full decoding when it is here).
  std::vector<std::pair<std::string, std::string>> places = {
      {"demo stdout", demo.out}, {"demo stderr", demo.err}, {"timeline", file_text(dir / "timeline.json")}};
  std::size_t json_lines = 0;
  for (const auto& e : fs::directory_iterator(dir / "run" / "logs")) {
    places.emplace_back(e.path().filename().string(), file_text(e.path()));
    const auto name = e.path().filename().string();
    if (e.path().extension() != ".log" || !(name.starts_with("ta.") || name.starts_with("headend-") ||
                                            name.starts_with("join-") || name.starts_with("watch-")))
      continue;
    for (const auto& line : lines(file_text(e.path()))) {  // a role process's: JSON lines only
      const auto j = nlohmann::json::parse(line, nullptr, false);
      ASSERT_TRUE(j.is_object()) << name << ": " << line;
      for (const auto* key : {"time", "level", "component", "event", "message"}) EXPECT_TRUE(j.contains(key)) << line;
      ++json_lines;
    }
  }
  EXPECT_GT(json_lines, 20u);
  std::vector<std::string> trace_files;
  for (const auto& e : fs::directory_iterator(traces)) {
    places.emplace_back(e.path().filename().string(), file_text(e.path()));
    trace_files.push_back(e.path().string());
  }
  ASSERT_GE(trace_files.size(), 5u);
  const auto shown = run_dcas("trace show " + fmt::format("{}", fmt::join(trace_files, " ")));
  ASSERT_EQ(shown.status, 0);
  places.emplace_back("trace show", shown.out);
  if (tshark_present()) places.emplace_back("tshark -V -x", tshark(traces / "demo.pcapng", "-V -x"));
  for (const auto& [where, text] : places)
    for (const auto& secret : secrets) EXPECT_EQ(text.find(secret), std::string::npos) << "a private key in " << where;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dcas
