#!/usr/bin/env bash
# Installs the Debian 12 packages DCAS builds and tests with. Idempotent: installs only what is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libssl-dev openssl                         # all cryptography and X.509
  libsqlite3-dev                             # TA store (embedded default)
  libpq-dev postgresql                       # TA store for several TAs; the tests start a throwaway cluster
  libdvbcsa-dev                              # DVB-CSA2 descrambling
  ffmpeg tsdecrypt                           # real transport streams and a DVB-CSA2 peer for the tests
  libasio-dev                                # the network services (standalone Asio, C++20 coroutines)
  libsystemd-dev                             # sd_notify: the servers' readiness under their systemd units
  libcli11-dev nlohmann-json3-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # libFuzzer: clang 19, because clang 14 cannot compile libstdc++ 12's <expected> (it lacks
  # C++20 conditionally trivial special members), which the whole core uses.
  clang-19 libclang-rt-19-dev
  clang-format-14
  python3                                    # the layering check (ctest Layers.Includes), fuzz corpora
  lintian dpkg-dev fakeroot                  # the Debian package: built by CPack, checked, installed (scripts/package.sh)
  man-db                                     # the man pages' checks (lintian runs man on each)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
