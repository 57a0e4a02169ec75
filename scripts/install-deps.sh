#!/usr/bin/env bash
# Installs the Debian 12 packages DCAS needs. Idempotent: installs only what is missing, quietly,
# with one line per step (apt's own output goes to a log, shown if it fails).
#   install-deps.sh demo   what building DCAS and running `dcas demo` need (scripts/demo.sh)
#   install-deps.sh        everything: also what the test suite, the packages and the fuzzers need
#                          (scripts/test.sh, .ci/run)
set -euo pipefail

build=(
  build-essential cmake ninja-build pkg-config git
  libssl-dev openssl                         # all cryptography and X.509
  libsqlite3-dev                             # TA store (embedded default)
  libpq-dev                                  # TA store for several TAs (PostgreSQL's client library)
  libdvbcsa-dev                              # DVB-CSA2 descrambling
  ffmpeg                                     # the demo's real transport stream (a shipped one without it)
  libasio-dev                                # the network services (standalone Asio, C++20 coroutines)
  libsystemd-dev                             # sd_notify: the servers' readiness under their systemd units
  libcli11-dev nlohmann-json3-dev libfmt-dev  # no spdlog: a log line is one struct in two formats (common/log.h)
  prometheus-cpp-dev                         # the servers' --metrics endpoint (Prometheus text format)
  libgtest-dev libgmock-dev googletest libbenchmark-dev   # the release build has the tests and `dcas bench`
  python3                                    # the layering check (ctest Layers.Includes), fuzz corpora
)
test_and_ci=(
  postgresql                                 # the tests start a throwaway cluster
  tsdecrypt                                  # a DVB-CSA2 peer for the tests
  # libFuzzer: clang 19, because clang 14 cannot compile libstdc++ 12's <expected> (it lacks
  # C++20 conditionally trivial special members), which the whole core uses.
  clang-19 libclang-rt-19-dev
  clang-format-14
  lintian dpkg-dev fakeroot                  # the Debian package: built by CPack, checked, installed (scripts/package.sh)
  man-db                                     # the man pages' checks (lintian runs man on each)
  tshark                                     # the Wireshark dissector's tests decode demo traces with it
  curl                                       # the metrics test scrapes a running server with a real HTTP client
  spin                                       # the formal models (formal/, scripts/formal.sh): spin generates, gcc compiles the verifiers
)

case "${1:-all}" in
  demo) packages=("${build[@]}") ;;
  all) packages=("${build[@]}" "${test_and_ci[@]}") ;;
  *) echo "usage: install-deps.sh [demo]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/dcas-install-deps.XXXXXX.log)
quietly() {
  if ! "$@" >>"$log" 2>&1; then
    echo "install-deps: failed: $*" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
}
echo "install-deps: updating the package lists"
quietly $SUDO apt-get update -q
echo "install-deps: installing ${#missing[@]} package(s) and what they depend on (log: $log)"
quietly $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: done"
rm -f "$log"
