#!/usr/bin/env bash
# Builds the Debian packages (dcas, libdcas-dev) with CPack, checks them with lintian, installs
# them with dpkg -i, and proves the installed system works, from the installed files only:
#   - the installed `dcas selftest`, `man dcas-ta`, `systemd-analyze verify` and `security` on the units;
#   - a project outside the tree that find_package(dcas)s the protocol core, built and run;
#   - a TA and a headend provisioned as the dcas user, configured by editing /etc/dcas, started
#     as their units start them (each unit's ExecStart line, as User=), reloaded with SIGHUP,
#     a host paired through them, and both stopped with SIGTERM. Where systemd runs as init, the
#     units themselves are started instead.
# Run as root (CI does, in .ci/run). The packages are removed at the end; /var/lib/dcas and the dcas
# user stay, as on any purge. Usage: scripts/package.sh [--keep-installed]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
keep_installed=false
[ "${1:-}" = --keep-installed ] && keep_installed=true
step() { echo "package: $*"; }

# The packages are made from the release tree the test suite built (nothing is compiled twice).
cmake --preset release >/dev/null
cmake --build --preset release
rm -rf build/release/_CPack_Packages build/release/*.deb
(cd build/release && cpack -G DEB >/dev/null)
debs=(build/release/dcas_*.deb build/release/libdcas-dev_*.deb)
for deb in "${debs[@]}"; do step "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB): $(dpkg-deb -f "$deb" Depends)"; done

step "lintian"
lintian --fail-on error --no-tag-display-limit "${debs[@]}"

state=/var/lib/dcas
marker=$state/.package-test
if [ -d $state/ta ] && [ ! -e $marker ]; then
  echo "package: $state/ta exists and was not made by this script: this machine holds a real TA, stopping" >&2
  exit 1
fi

work=$(mktemp -d /tmp/dcas-package.XXXXXX)
pids=()
cleanup() {
  local status=$?
  if [ $status -ne 0 ]; then
    for log in "$work"/*.log; do [ -f "$log" ] && { echo "---- $log"; tail -n 30 "$log"; }; done
    echo "package: FAILED (exit status $status)" >&2
  fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -d "$work/etc" ]; then cp -p "$work"/etc/*.conf /etc/dcas/ 2>/dev/null || true; fi
  if ! $keep_installed; then dpkg --purge libdcas-dev dcas >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

step "dpkg -i"
# --force-confnew: on this test machine the package's configuration files always replace the last run's.
dpkg -i --force-confnew "${debs[@]}" >/dev/null
mkdir -p "$work/etc" && cp -p /etc/dcas/*.conf "$work/etc/"  # restored on exit

step "the installed files"
test "$(command -v dcas)" = /usr/bin/dcas
getent passwd dcas >/dev/null
test "$(stat -c '%U %a' $state)" = "dcas 700"
test "$(stat -c '%G %a' /etc/dcas/ta.conf)" = "dcas 640"
/usr/bin/dcas selftest | tail -n 1
LC_ALL=C man dcas-ta 2>/dev/null | grep 'dcas-ta-serve' >/dev/null
LC_ALL=C man dcas-ta-serve 2>/dev/null | grep -- '--max-connections' >/dev/null
units=(/lib/systemd/system/dcas-ta.service /lib/systemd/system/dcas-headend.service /lib/systemd/system/dcas-ap.service)
systemd-analyze verify "${units[@]}"
for unit in "${units[@]}"; do
  step "$(basename "$unit"): systemd-analyze security: $(systemd-analyze security --offline=yes "$unit" 2>/dev/null | grep -o 'Overall exposure level for .*')"
done

step "a project that find_package(dcas)s the protocol core"
cmake -S examples/consumer -B "$work/consumer" -G Ninja >/dev/null
cmake --build "$work/consumer" >/dev/null
"$work/consumer/pair_in_process"

step "provisioning as the dcas user"
as_dcas() { runuser -u dcas -- "$@"; }
rm -rf $state/ta $state/headend $state/ap $state/issued $state/*.port
touch $marker
as_dcas dcas ta init $state/ta --name "DCAS package test TA" >/dev/null
ap_dir=$(as_dcas dcas ta issue ap --ta $state/ta --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["directory"])')
as_dcas cp -a "$ap_dir" $state/ap
as_dcas dcas headend init $state/headend --network-id 00000000000000d1 >/dev/null
host_ids=$(as_dcas dcas ta issue sm --ta $state/ta --json)
sm_dir=$(echo "$host_ids" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["directory"])')
tp_dir=$(as_dcas dcas ta issue tp --ta $state/ta --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["directory"])')
# The host is another machine: its identities leave the TA's directory.
cp -a "$sm_dir" "$work/sm" && cp -a "$tp_dir" "$work/tp"
# Keys 0600, stores and the directories that hold them 0700, all the dcas user's.
for path in $state/ta $state/headend $state/ap; do test "$(stat -c '%U %a' $path)" = "dcas 700"; done
for path in $state/ta/ta.key $state/ta/store.key $state/ta/ta.sqlite $state/headend/store.key \
            $state/headend/headend.sqlite $state/ap/key.pem; do
  test "$(stat -c '%U %a' $path)" = "dcas 600" || { echo "package: $path is $(stat -c '%U %a' $path)" >&2; exit 1; }
done

# The operator's edits: any free port, and a port file each for this script to find it.
set_conf() { sed -i "s|^#\? *$2 = .*|$2 = $3|" "/etc/dcas/$1"; grep -q "^$2 = $3\$" "/etc/dcas/$1" || echo "$2 = $3" >>"/etc/dcas/$1"; }
set_conf ta.conf listen 127.0.0.1:0
set_conf ta.conf port-file $state/ta.port
set_conf headend.conf listen 127.0.0.1:0
set_conf headend.conf port-file $state/headend.port

wait_for() {  # FILE PID
  for _ in $(seq 1 200); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || { echo "package: the server exited before $1 appeared" >&2; return 1; }
    sleep 0.05
  done
  echo "package: no $1 after 10 s" >&2
  return 1
}

if [ -d /run/systemd/system ]; then
  step "systemd is init: starting the units"
  systemctl daemon-reload
  systemctl start dcas-ta.service
  set_conf headend.conf ta "127.0.0.1:$(cat $state/ta.port)"
  systemctl start dcas-headend.service
  systemctl reload dcas-ta.service dcas-headend.service
  systemctl is-active dcas-ta.service dcas-headend.service
else
  step "systemd is not init here: starting each unit's ExecStart line as its User= and Group="
  exec_start() { sed -n 's/^ExecStart=//p' "$1"; }
  test "$(sed -n 's/^User=//p' "${units[0]}")" = dcas
  # setpriv changes identity and execs, as systemd does: $! is the server's PID, for its signals.
  as_unit_user=(setpriv --reuid=dcas --regid=dcas --init-groups --)
  # shellcheck disable=SC2046  # the unit's command line, split into words as systemd does
  "${as_unit_user[@]}" $(exec_start "${units[0]}") 2>"$work/ta.log" &
  pids+=($!)
  wait_for $state/ta.port "${pids[0]}"
  set_conf headend.conf ta "127.0.0.1:$(cat $state/ta.port)"
  # shellcheck disable=SC2046
  "${as_unit_user[@]}" $(exec_start "${units[1]}") 2>"$work/headend.log" &
  pids+=($!)
  wait_for $state/headend.port "${pids[1]}"
  set_conf headend.conf presence-interval 30
  kill -HUP "${pids[0]}" "${pids[1]}"
fi

step "a host pairs through the installed headend"
dcas host pair --sm "$work/sm" --tp "$work/tp" --ap "127.0.0.1:$(cat $state/headend.port)" --json >"$work/pair.json"
python3 - "$work/pair.json" <<'EOF'
import json, sys
out = json.load(open(sys.argv[1]))
assert out["paired"], out
assert out["image"] and out["image"]["network_id"] == "00000000000000d1", out["image"]
print(f"package: paired SM {out['sm_id']} with TP {out['tp_id']}; client image version {out['image']['version']}")
EOF

if [ -d /run/systemd/system ]; then
  systemctl stop dcas-headend.service dcas-ta.service
else
  grep -q "SIGHUP: reloaded /etc/dcas/headend.conf: presence-interval = 30" "$work/headend.log"
  grep -q "SIGHUP: reloaded /etc/dcas/ta.conf" "$work/ta.log"
  kill -TERM "${pids[1]}" "${pids[0]}"
  for pid in "${pids[1]}" "${pids[0]}"; do wait "$pid"; done  # exit status 0: a graceful stop
  pids=()
  grep -q stopped "$work/ta.log" && grep -q stopped "$work/headend.log"
fi
step "ok"
