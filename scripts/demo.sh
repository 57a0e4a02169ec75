#!/usr/bin/env bash
# Quick start, command 1: install what DCAS needs, build it, and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh demo  # not the fuzzers' or the test suite's tools
cmake --preset release >/dev/null
cmake --build --preset release
exec ./build/release/dcas demo "$@"
