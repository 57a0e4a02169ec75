// `dcas demo` as a library: the whole DCAS on one machine, as the separate programs it is made of
// (paper Fig. 2 steps 1-7). The TA issues the identities; a TA server and a headend (AP, PS,
// download server) run as processes on free loopback ports with SQLite stores in a work directory;
// each host joins the network as a `dcas host` process (SM-TP protocol, client image download), the
// headend's CAS scrambles a real MPEG-TS with ECMs and EMMs, and each host descrambles it. What the
// processes did is read back as typed records (their --json outcome and --journal files); every
// check is printed as it happens.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"

namespace dcas::demo {

inline const std::vector<std::string> scenarios = {"basic",        "sm-sharing",     "sm-sharing-replay",
                                                   "network-move", "image-update",   "unsubscribed",
                                                   "revoked",      "unsubscribe-now"};

struct DemoOptions {
  unsigned hosts = 2;
  std::string scenario = "basic";
  std::string input;    // a clear MPEG-TS to use; default: made by ffmpeg, else the shipped one
  std::string keep;     // keep the work directory here
  std::string json;     // write the timeline here
  std::string trace;    // a directory: each role process's pcapng trace, and demo.pcapng merging them
  std::string diagram;  // an SVG: the sequence diagram of a host's run (the first refused one, else host 1's join)
  std::string algo = "csa2";
  std::string profile = "hardened1";  // the SM-TP handshake of every process: hardened1 or koo2010
  std::string log_format = "human";   // every role process's log lines: human or json (its --log-format)
  double crypto_period = 2, duration = 10;
  std::filesystem::path binary;  // the dcas program; default: this process's own executable
};

struct DemoOutcome {
  int checks = 0, failed = 0;
  bool passed() const { return failed == 0; }
};

// Errors: invalid_argument (bad options), io_error (the work directory). A failed check is not an
// error: it is counted in the outcome.
Result<DemoOutcome> run_demo(const DemoOptions& options);

// The small clear stream shipped inside the program (data/demo-clear.ts, embedded at build time),
// for machines without ffmpeg.
ByteView shipped_stream();

}  // namespace dcas::demo
