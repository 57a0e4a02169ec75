#!/usr/bin/env bash
# Quick start, command 2: install what DCAS needs, build it, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
# The store tests run against a real PostgreSQL: a throwaway cluster on loopback for this run.
pg_dir=$(mktemp -d /tmp/dcas-pg.XXXXXX)
trap 'bash scripts/pg-test-cluster.sh stop "$pg_dir"' EXIT
DCAS_TEST_POSTGRES=$(bash scripts/pg-test-cluster.sh start "$pg_dir")
export DCAS_TEST_POSTGRES
ctest --preset release -j "$(nproc)"
# A reboot storm on two TA nodes over PostgreSQL, through each fault (a TA node killed, the database
# restarted, an AP killed and restarted) and with held hosts: every host pairs, nothing is lost.
bash scripts/storm.sh --quick --out build/storm-quick
# The formal models: every claim row of docs/security.md, both profiles, checked by spin (minutes).
bash scripts/formal.sh
