// `dcas scramble` and `dcas descramble`: transport streams through DVB-CSA2, DVB-CISSA or
// ATIS-IDSA, streaming in constant memory, like the field's tools.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "ts/compare.h"
#include "ts/stream.h"

namespace dcas::cli {

namespace {

struct TsArgs {
  std::string algo, cw_even, cw_odd, parity, in, out;
  std::vector<std::string> pids;
  bool json = false;
};

TsArgs& args() {
  static TsArgs a;
  return a;
}

using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

Result<File> open_file(const std::string& path, bool input) {
  if (path == "-") return File(input ? stdin : stdout, [](std::FILE*) { return 0; });
  std::FILE* f = std::fopen(path.c_str(), input ? "rb" : "wb");
  // fopen opens a directory for reading: refused here, so that it is an io_error, not an empty stream.
  struct stat st {};
  if (f && input && (::fstat(::fileno(f), &st) != 0 || S_ISDIR(st.st_mode))) {
    std::fclose(f);
    return fail(Errc::io_error, fmt::format("{} is a directory", path));
  }
  if (!f) return fail(Errc::io_error, fmt::format("cannot open {}", path));
  return File(f, std::fclose);
}

Result<std::set<std::uint16_t>> parse_pids(const std::vector<std::string>& texts) {
  std::set<std::uint16_t> pids;
  for (const auto& t : texts) {
    std::size_t used = 0;
    unsigned long v = 0;
    try {
      v = std::stoul(t, &used, 0);
    } catch (...) {
      used = 0;
    }
    if (used != t.size() || v > 0x1fff)
      return fail(Errc::invalid_argument, fmt::format("--pid {}: not a PID (0..8191)", t));
    pids.insert(static_cast<std::uint16_t>(v));
  }
  return pids;
}

// Feeds `in` (named `name`) through `process` in chunks, writing to `out`; reports progress on
// a terminal. Errors: io_error; ts_sync_lost (not one packet: the input is not a transport stream).
template <typename Process>
Result<ts::StreamStats> pump(std::FILE* in, std::string_view name, std::FILE* out, std::uint64_t total,
                             std::vector<ts::StreamError>& errors, Process&& process) {
  constexpr std::size_t chunk = ts::packet_size * 2048;
  Bytes buffer(chunk), packets;
  std::vector<std::uint64_t> offsets;
  packets.reserve(chunk + 2 * ts::packet_size);
  ts::PacketFramer framer;
  ts::StreamStats stats;
  std::uint64_t read_total = 0, last_shown = 0;
  const bool show = total > 0 && ::isatty(STDERR_FILENO);
  for (;;) {
    const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), in);
    if (n == 0) break;
    packets.clear();
    offsets.clear();
    framer.feed(ByteView(buffer).first(n), packets, offsets, errors);
    process(std::span(packets), std::span<const std::uint64_t>(offsets), stats);
    if (!packets.empty() && std::fwrite(packets.data(), 1, packets.size(), out) != packets.size())
      return fail(Errc::io_error, "cannot write the output");
    read_total += n;
    if (show && read_total - last_shown > (8u << 20)) {
      fmt::print(stderr, "\r{:3}% {} packets", read_total * 100 / total, stats.packets);
      last_shown = read_total;
    }
  }
  if (std::ferror(in)) return fail(Errc::io_error, "cannot read the input");
  framer.finish(errors);
  if (show) fmt::print(stderr, "\r{:40}\r", "");
  DCAS_TRY(framer.require_a_packet(name));
  return stats;
}

void finish(std::string_view command, const Result<ts::StreamStats>& stats, std::vector<ts::StreamError>& errors) {
  if (!stats) return report_error(command, stats.error());
  const std::size_t shown = std::min<std::size_t>(errors.size(), 20);
  for (std::size_t i = 0; i < shown; ++i)
    fmt::print(stderr, "dcas {}: offset {}: {}\n", command, errors[i].offset, errors[i].error.message());
  if (errors.size() > shown) fmt::print(stderr, "dcas {}: ... and {} more errors\n", command, errors.size() - shown);
  const std::uint64_t error_count = errors.size();
  if (args().json) {
    fmt::print(stderr, "{}\n",
               nlohmann::json{{"packets", stats->packets},
                              {"scrambled", stats->scrambled},
                              {"descrambled", stats->descrambled},
                              {"no_key", stats->no_key},
                              {"errors", error_count}}
                   .dump());
  } else {
    fmt::print(stderr, "{}: {} packets, {} scrambled, {} descrambled, {} without key, {} errors\n", command,
               stats->packets, stats->scrambled, stats->descrambled, stats->no_key, error_count);
  }
  if (error_count > 0) exit_status() = exit_failure;
}

template <typename Engine>
Result<void> load_keys(Engine& engine, ts::Algorithm algo) {
  const auto& a = args();
  if (a.cw_even.empty() && a.cw_odd.empty()) return fail(Errc::invalid_argument, "give --cw-even, --cw-odd or both");
  for (auto [hex, parity, name] : {std::tuple{&a.cw_even, ts::Scrambling::even, "--cw-even"},
                                   std::tuple{&a.cw_odd, ts::Scrambling::odd, "--cw-odd"}}) {
    if (hex->empty()) continue;
    DCAS_TRY_ASSIGN(cw, from_hex_exact(*hex, ts::cw_size(algo), name));
    DCAS_TRY(engine.set_key(parity, cw));
    secure_wipe(cw.data(), cw.size());
  }
  return {};
}

std::uint64_t size_of(const std::string& path) {
  struct stat st {};
  return path != "-" && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size)
                                                                              : 0;
}

void run(bool scramble) {
  const std::string_view command = scramble ? "scramble" : "descramble";
  const auto& a = args();
  const auto algo = ts::algorithm_from_name(a.algo);
  auto pids = parse_pids(a.pids);
  if (!pids) return report_error(command, pids.error());
  // Every argument is checked before any file is opened: a refused command leaves no OUT.
  ts::Scrambler scrambler(*algo, *pids);
  ts::Descrambler descrambler(*algo);
  if (auto r = scramble ? load_keys(scrambler, *algo) : load_keys(descrambler, *algo); !r)
    return report_error(command, r.error());
  const bool odd = a.parity == "odd" || (a.parity.empty() && a.cw_even.empty());
  if (scramble && odd && a.cw_odd.empty())
    return report_error(command, {Errc::invalid_argument, "--parity odd needs --cw-odd"});
  if (scramble && !odd && a.cw_even.empty())
    return report_error(command, {Errc::invalid_argument, "--parity even needs --cw-even"});
  scrambler.set_parity(odd ? ts::Scrambling::odd : ts::Scrambling::even);
  auto in = open_file(a.in, true);
  if (!in) return report_error(command, in.error());
  auto out = OutputFile::create(a.out);
  if (!out) return report_error(command, out.error());
  std::vector<ts::StreamError> errors;
  const Result<ts::StreamStats> stats =
      pump(in->get(), a.in == "-" ? "the standard input" : a.in, out->get(), size_of(a.in), errors,
           [&](std::span<std::uint8_t> p, std::span<const std::uint64_t> off, ts::StreamStats& s) {
             if (scramble)
               scrambler.process(p, off, s, errors);
             else
               descrambler.process(p, off, s, errors);
           });
  if (stats)
    if (auto committed = out->commit(); !committed) return report_error(command, committed.error());
  finish(command, stats, errors);
}

void add_ts_command(CLI::App& app, bool scramble) {
  auto& a = args();
  auto* cmd = app.add_subcommand(scramble ? "scramble" : "descramble",
                                 scramble ? "Scramble a transport stream (PSI and adaptation fields stay clear)"
                                          : "Descramble a transport stream, the key chosen by each packet's parity");
  cmd->add_option("--algo", a.algo, "csa2, cissa or idsa")->required()->check(CLI::IsMember({"csa2", "cissa", "idsa"}));
  cmd->add_option("--cw-even", a.cw_even, "Even control word (8 bytes for csa2, 16 for cissa and idsa)");
  cmd->add_option("--cw-odd", a.cw_odd, "Odd control word");
  cmd->add_option("--pid", a.pids,
                  scramble ? "PID to scramble (repeatable; default: every non-PSI PID)"
                           : "Accepted for symmetry: descrambling follows the packets' bits");
  if (scramble)
    cmd->add_option("--parity", a.parity, "Key on air: even or odd (default: even if --cw-even is given)")
        ->check(CLI::IsMember({"even", "odd"}));
  cmd->add_flag("--json", a.json, "Print the summary as JSON (on stderr, like the text summary)");
  cmd->add_option("IN", a.in, "Input transport stream, - for stdin")->required();
  cmd->add_option("OUT", a.out, "Output transport stream, - for stdout")->required();
  cmd->callback([scramble] { run(scramble); });
}

// `dcas compare SOURCE OUTPUT`: exit 0 when OUTPUT carries SOURCE's programme unchanged.
void compare() {
  auto& a = args();
  auto c = ts::compare_programme(a.in, a.out);
  if (!c) return report_error("compare", c.error());
  if (a.json) {
    print_json({{"identical", c->identical},
                {"elementary_pids", c->elementary_pids},
                {"source_packets", c->source_packets},
                {"matching_packets", c->matching_packets},
                {"first_difference", c->first_difference}});
  } else {
    fmt::print("{}: {} of {} elementary-stream packets of {} equal (PIDs {}){}{}\n",
               c->identical ? "identical programme" : "different", c->matching_packets, c->source_packets, a.in,
               fmt::join(c->elementary_pids, ", "), c->identical ? "" : "; first difference: ", c->first_difference);
  }
  if (!c->identical) exit_status() = exit_failure;
}

}  // namespace

void add_ts(CLI::App& app) {
  add_ts_command(app, true);
  add_ts_command(app, false);
  auto& a = args();
  auto* cmd = app.add_subcommand("compare",
                                 "Whether a stream carries another's programme unchanged (every "
                                 "elementary-stream packet, in order); exit 1 if not");
  cmd->add_option("SOURCE", a.in, "The clear source")->required();
  cmd->add_option("OUTPUT", a.out, "A receiver's output")->required();
  cmd->add_flag("--json", a.json, "Print the comparison as JSON");
  cmd->callback(compare);
}

}  // namespace dcas::cli
