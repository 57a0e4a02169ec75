// `dcas demo`: the command line of the demo library (src/demo/demo.h).
#include "cli/commands.h"
#include "demo/demo.h"

namespace dcas::cli {

namespace {

demo::DemoOptions& options() {
  static demo::DemoOptions o;
  return o;
}

void run() {
  auto outcome = demo::run_demo(options());
  if (!outcome) return report_error("demo", outcome.error());
  if (!outcome->passed()) exit_status() = exit_failure;
}

}  // namespace

void add_demo(CLI::App& app) {
  auto& a = options();
  auto* demo_cmd = app.add_subcommand("demo", "The whole DCAS on this machine: TA, headend, hosts, a scrambled stream");
  demo_cmd
      ->add_option(
          "--scenario", a.scenario,
          "basic, sm-sharing, sm-sharing-replay, network-move, image-update, unsubscribed, revoked or unsubscribe-now")
      ->capture_default_str();
  demo_cmd->add_option("--hosts", a.hosts, "Number of hosts")->capture_default_str();
  demo_cmd->add_option("--input", a.input, "A clear MPEG-TS to use (default: made with ffmpeg)");
  demo_cmd->add_option("--algo", a.algo, "Scrambling: csa2, cissa or idsa")->capture_default_str();
  demo_cmd->add_option("--profile", a.profile, "The SM-TP handshake: hardened1 or koo2010 (the paper's)")
      ->check(CLI::IsMember({"hardened1", "koo2010"}))
      ->capture_default_str();
  demo_cmd->add_option("--log-format", a.log_format, "The role processes' log lines (logs/ of --keep): human or json")
      ->check(CLI::IsMember({"human", "json"}))
      ->capture_default_str();
  demo_cmd->add_option("--crypto-period", a.crypto_period, "Seconds per control word, 1-20")
      ->check(CLI::Range(1.0, 20.0))
      ->capture_default_str();
  demo_cmd->add_option("--duration", a.duration, "Seconds of stream ffmpeg makes")->capture_default_str();
  demo_cmd->add_option("--keep", a.keep, "Keep the work directory here (streams, stores, logs)");
  demo_cmd->add_option("--json", a.json, "Write the timeline to this file as JSON");
  demo_cmd->add_option(
      "--trace", a.trace,
      "Write each role process's pcapng trace to DIR, and demo.pcapng merging them (docs/spec.md §19)");
  demo_cmd->add_option("--diagram", a.diagram,
                       "Draw the sequence diagram of a host's run as SVG (the first refused run, else host 1's join)");
  demo_cmd->callback(run);
}

}  // namespace dcas::cli
