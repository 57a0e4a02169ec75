// `dcas trace show|diagram`: reading back the pcapng traces of --trace (observe/trace.h).
#include <fmt/format.h>

#include "cli/commands.h"
#include "common/files.h"
#include "observe/trace_view.h"

namespace dcas::cli {
namespace {

struct TraceArgs {
  std::vector<std::string> files;
  std::string host, title;
};
TraceArgs& args() {
  static TraceArgs a;
  return a;
}

// The records of every file, as one run (observe::one_run).
Result<std::vector<observe::TraceRecord>> read_run(const std::vector<std::string>& files) {
  std::vector<std::vector<observe::TraceRecord>> traces;
  for (const auto& f : files) {
    DCAS_TRY_ASSIGN(records, observe::read_trace(f));
    traces.push_back(std::move(records));
  }
  return observe::one_run(std::move(traces));
}

void show() {
  auto records = read_run(args().files);
  if (!records) return report_error("trace show", records.error());
  fmt::print("{}", observe::timeline(*records));
}

void diagram() {
  auto files = args().files;
  if (files.size() < 2) return report_error("trace diagram", {Errc::invalid_argument, "give FILE.pcapng... OUT.svg"});
  const std::string out = files.back();
  files.pop_back();
  auto records = read_run(files);
  if (!records) return report_error("trace diagram", records.error());
  if (!args().host.empty()) {
    std::vector<observe::TraceRecord> host;
    for (const auto& r : *records)
      if (r.recorder == "host " + args().host) host.push_back(r);
    if (host.empty())
      return report_error("trace diagram", {Errc::not_found, "no records of host " + args().host + " in the traces"});
    *records = observe::for_host(*records, host);
  }
  const std::string title = args().title.empty() ? "DCAS: " + files.front() : args().title;
  const std::string svg = observe::diagram_svg(*records, {title});
  if (auto w = write_public_file(out, view(svg)); !w) return report_error("trace diagram", w.error());
}

}  // namespace

void add_trace(CLI::App& app) {
  auto& a = args();
  auto* trace = app.add_subcommand("trace", "Read the pcapng traces that --trace writes");
  trace->require_subcommand(1);
  auto* show_cmd = trace->add_subcommand("show", "Print the decoded timeline: who, what, size, outcome");
  show_cmd->add_option("files", a.files, "Traces of one run (each process's), merged in time order")
      ->required()
      ->check(CLI::ExistingFile);
  show_cmd->callback(show);
  auto* diagram_cmd =
      trace->add_subcommand("diagram", "Draw the run's sequence diagram (lifelines TA, AP, SM, TP) as SVG");
  diagram_cmd->add_option("files", a.files, "FILE.pcapng... OUT.svg: the traces of one run, then the SVG to write")
      ->required()
      ->expected(2, -1);
  diagram_cmd->add_option("--host", a.host,
                          "Only this host's run (its SM_ID): its frames and what crossed the AP then");
  diagram_cmd->add_option("--title", a.title, "The diagram's title");
  diagram_cmd->callback(diagram);
}

}  // namespace dcas::cli
