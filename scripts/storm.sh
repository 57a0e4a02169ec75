#!/usr/bin/env bash
# A reboot storm on loopback against two TA nodes on one PostgreSQL database (issue 15; the figures
# in docs/performance.md, "The storm"). Everything it needs it starts here: a throwaway PostgreSQL
# cluster, a TA directory, two TA nodes, two APs that know both nodes in opposite orders (each
# spreads its hosts' requests to its first node and fails over to the other), and the load-test
# hosts. Then, each a `dcas loadgen run` whose audit check must find nothing lost and whose every
# host must pair:
#   two-nodes   the storm with both nodes up, against the machine's bound (--bound)
#   one-node    the same with the second node stopped (both APs on the first)
#   ta-killed   one node SIGKILLed mid-storm: its AP moves to the other
#   pg-restart  PostgreSQL restarted mid-storm: the TAs reconnect, the hosts retry
#   ap-restart  one AP stopped and started again mid-storm: its hosts reconnect
#   held        HELD hosts paired and on the network while the others storm: memory per connection
#
# usage: scripts/storm.sh [--hosts N] [--rounds R] [--held H] [--quick] [--only RUN] [--out DIR]
#   --quick   a short run for CI: few hosts, paced so that each fault lands mid-storm
#   --only    one of the runs above (two-nodes, one-node, ta-killed, pg-restart, ap-restart, held)
# Reports: OUT/*.json (one per run, `dcas loadgen run --json`) and OUT/summary.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dcas=${DCAS:-$root/build/release/dcas}
hosts=2000 rounds=5 held=0 quick=0 only= out=$root/build/storm
while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) hosts=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --held) held=$2; shift 2 ;;
    --quick) quick=1; hosts=60 rounds=2 held=50; shift ;;
    --out) out=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "usage: $0 [--hosts N] [--rounds R] [--held H] [--quick] [--only RUN] [--out DIR]" >&2; exit 2 ;;
  esac
done
[ -x "$dcas" ] || { echo "storm: no $dcas (build first, or set DCAS)" >&2; exit 1; }
pg_port=${DCAS_STORM_PG_PORT:-55434}
base_port=${DCAS_STORM_BASE_PORT:-57100}
ta1=127.0.0.1:$((base_port + 1)) ta2=127.0.0.1:$((base_port + 2))
ap1=127.0.0.1:$((base_port + 11)) ap2=127.0.0.1:$((base_port + 12))
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/dcas-storm.XXXXXX)
chmod 755 "$work"  # the cluster directory beneath it belongs to the postgres user
declare -A pids=()
cleanup() {
  for name in "${!pids[@]}"; do kill "${pids[$name]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  bash "$root/scripts/pg-test-cluster.sh" stop "$work/pg" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# Each held host keeps a socket open at the AP and at the load generator.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

log() { echo "storm: $*" >&2; }

# start NAME ARGS...: a server in the background, its log in OUT/NAME.log; waits for its port file.
start() {
  local name=$1
  shift
  rm -f "$work/$name.port"
  "$dcas" "$@" --port-file "$work/$name.port" >>"$out/$name.log" 2>&1 &
  pids[$name]=$!
  for _ in $(seq 1 500); do
    [ -s "$work/$name.port" ] && return 0
    kill -0 "${pids[$name]}" 2>/dev/null || { log "$name did not start:"; tail -20 "$out/$name.log" >&2; exit 1; }
    sleep 0.02
  done
  log "$name did not start in 10 s"
  exit 1
}
stop() {  # stop NAME [SIGNAL]
  kill "-${2:-TERM}" "${pids[$1]}" 2>/dev/null || true
  wait "${pids[$1]}" 2>/dev/null || true
  unset "pids[$1]"
}
start_ta() { start "$1" ta serve --ta "$work/ta" --db "$db" --listen "$2" --accept-load-test; }
# Room for every held host at one AP, and the storm beside them.
start_ap() { start "$1" ap serve --ap "$2" --ta "$3" --ta "$4" --listen "$5" --max-connections $((held + 1024)); }
wait_linked() {  # wait_linked AP: until its log shows a TA link
  for _ in $(seq 1 500); do
    grep -q "connected to the TA at" "$out/$1.log" && return 0
    sleep 0.02
  done
  log "$1 never reached a TA"
  exit 1
}

rm -f "$out"/*.json "$out"/*.log "$out/summary.txt"
db=$(bash "$root/scripts/pg-test-cluster.sh" start "$work/pg" "$pg_port")
log "PostgreSQL at $db"
"$dcas" ta init "$work/ta" --db "$db" >/dev/null
aps=$("$dcas" ta issue ap --ta "$work/ta" --db "$db" --count 2 --json)
ap_dir1=$(echo "$aps" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["directory"])')
ap_dir2=$(echo "$aps" | python3 -c 'import json,sys; print(json.load(sys.stdin)[1]["directory"])')
total=$((hosts + held))
log "issuing $total load-test hosts"
"$dcas" loadgen issue --hosts "$total" --key-pool 16 --ta "$work/ta" --db "$db" --out "$work/hosts.ids" --json \
  >"$out/issue.json"

start_ta ta1 "$ta1"
start_ta ta2 "$ta2"
start_ap ap1 "$ap_dir1" "$ta1" "$ta2" "$ap1"
start_ap ap2 "$ap_dir2" "$ta2" "$ta1" "$ap2"
wait_linked ap1
wait_linked ap2

# storm NAME [EXTRA...]: one loadgen run over the storm hosts (those after the held ones), its
# report in OUT/NAME.json; fails unless every host paired in every round and nothing was lost.
storm() {
  local name=$1
  shift
  local watch=()
  for p in ta1 ta2 ap1 ap2; do [ -n "${pids[$p]:-}" ] && watch+=(--watch "$p=${pids[$p]}"); done
  local pacing=()
  # CI's few hosts are paced so that a round lasts long enough for a fault to land in it.
  [ "$quick" = 1 ] && pacing=(--rate 25 --concurrency 8)
  "$dcas" loadgen run --identities "$work/hosts.ids" --ap "$ap1" --ap "$ap2" --rounds "$rounds" \
    --attempts 100 --retry-delay 0.2 --ta "$work/ta" --check-db "$db" "${watch[@]}" "${pacing[@]}" "$@" --json \
    >"$out/$name.json" 2>"$out/$name.err" || { log "$name: loadgen failed"; cat "$out/$name.err" >&2; exit 1; }
  python3 - "$out/$name.json" "$name" <<'EOF' | tee -a "$out/summary.txt"
import json, sys
r = json.load(open(sys.argv[1]))
name = sys.argv[2]
ok = r["paired"] == r["attempts"] and r["audit"]["nothing_lost"]
held = r.get("held")
if held: ok = ok and held["connected"] == held["hosts"]
line = (f"{name:11} {r['attempts']} attempts, {r['paired']} paired, {r['pairings_per_second']:.1f}/s, "
        f"p50 {r['latency_ms']['p50']:.0f} ms p99 {r['latency_ms']['p99']:.0f} ms, retries {r['retries']}, "
        f"failures {r['failures'] or 'none'}, audit {r['audit']['validated']} validations, "
        f"{'nothing lost' if r['audit']['nothing_lost'] else 'LOST'}")
if "efficiency" in r:
    q = r["efficiency_quartiles"]
    line += f"; efficiency {r['efficiency']:.3f} ({q[0]:.3f}-{q[1]:.3f})"
if held:
    per = {k: round(v["kib_per_connection"], 1) for k, v in held["servers"].items()}
    line += f"; held {held['connected']}/{held['hosts']}, KiB per connection {per}"
print(line)
sys.exit(0 if ok else 1)
EOF
}
# fault NAME SECONDS COMMAND...: a storm with COMMAND run SECONDS into it.
fault() {
  local name=$1 after=$2
  shift 2
  storm "$name" --hosts "$hosts" &
  local run=$!
  sleep "$after"
  log "$name: $*"
  "$@"
  wait "$run"
}
want() { [ -z "$only" ] || [ "$only" = "$1" ]; }
if want two-nodes; then storm two-nodes --hosts "$hosts" --bound 1; fi
if want one-node; then
  stop ta2
  storm one-node --hosts "$hosts" --bound 1
  start_ta ta2 "$ta2"
fi
if want ta-killed; then
  fault ta-killed 2 stop ta1 KILL
  start_ta ta1 "$ta1"
fi
if want pg-restart; then fault pg-restart 2 bash "$root/scripts/pg-test-cluster.sh" restart "$work/pg"; fi
if want ap-restart; then fault ap-restart 2 eval 'stop ap1 KILL; start_ap ap1 "$ap_dir1" "$ta1" "$ta2" "$ap1"'; fi
if [ "$held" -gt 0 ] && want held; then storm held --hold "$held" --hosts "$hosts"; fi
log "reports in $out"
