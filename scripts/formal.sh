#!/usr/bin/env bash
# The formal models (formal/README.md): every row of formal/checks.txt under both profiles, checked
# by spin, and docs/security.md's model column against them. Exit 1 on any unexpected verdict.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 formal/check.py --work build/formal --doc docs/security.md "$@"
