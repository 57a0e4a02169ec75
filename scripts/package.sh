#!/usr/bin/env bash
# Builds the Debian packages (dcas, libdcas-dev) with CPack from the release tree and checks them
# with lintian. Usage: scripts/package.sh [--test [--keep-installed]]
#
# --test (as root, on a test machine only: CI's) installs them with dpkg -i and proves the
# installed system works, from the installed files only:
#   - the installed `dcas selftest`, `man dcas-ta`, `systemd-analyze verify` and `security` on the
#     units, and the installed Wireshark dissector on a host's trace;
#   - a project outside the tree that find_package(dcas)s the protocol core, built and run;
#   - a TA and a headend provisioned as the dcas user, configured by editing /etc/dcas, started
#     as their units start them (each unit's ExecStart line, as its User= and Group=), reloaded
#     with SIGHUP, a host paired through them, and both stopped with SIGTERM. Where systemd runs as
#     init, the units themselves are started instead.
# It refuses a machine where DCAS is installed or /var/lib/dcas holds anything it did not make;
# at the end it removes what it made and purges the packages (the dcas user and the empty
# /var/lib/dcas stay, as after any purge).
set -euo pipefail
cd "$(dirname "$0")/.."
test_install=false keep_installed=false
for arg in "$@"; do
  case $arg in
    --test) test_install=true ;;
    --keep-installed) keep_installed=true ;;
    *) echo "usage: scripts/package.sh [--test [--keep-installed]]" >&2; exit 2 ;;
  esac
done
step() { echo "package: $*"; }

# The packages are made from the release tree the test suite built (nothing is compiled twice).
cmake --preset release >/dev/null
cmake --build --preset release
rm -rf build/release/_CPack_Packages build/release/*.deb
(cd build/release && cpack -G DEB >/dev/null)
debs=(build/release/dcas_*.deb build/release/libdcas-dev_*.deb)
for deb in "${debs[@]}"; do step "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB): $(dpkg-deb -f "$deb" Depends)"; done

step "lintian"
lintian_status=0
lintian_out=$(lintian --fail-on error --tag-display-limit 0 "${debs[@]}" 2>&1) || lintian_status=$?
grep -v 'running with root privileges' <<<"$lintian_out" || true
[ $lintian_status -eq 0 ] || { echo "package: lintian found errors" >&2; exit 1; }
$test_install || exit 0

state=/var/lib/dcas
marker=$state/.package-test
if [ "$(id -u)" -ne 0 ]; then echo "package: --test installs packages: run it as root" >&2; exit 2; fi
if [ ! -e $marker ]; then
  if dpkg-query -W -f='${Status}' dcas 2>/dev/null | grep -q 'install ok installed'; then
    echo "package: DCAS is installed on this machine and not by this script: refusing to touch it" >&2
    exit 1
  fi
  if [ -n "$(ls -A $state 2>/dev/null)" ]; then
    echo "package: $state holds files this script did not make: refusing to touch them" >&2
    exit 1
  fi
fi
mkdir -p $state && touch $marker

work=$(mktemp -d /tmp/dcas-package.XXXXXX)
pids=()
with_systemd=false
[ -d /run/systemd/system ] && with_systemd=true
cleanup() {
  local status=$?
  if [ $status -ne 0 ]; then
    for log in "$work"/*.log; do [ -f "$log" ] && { echo "---- $log"; tail -n 30 "$log"; }; done
    echo "package: FAILED (exit status $status)" >&2
  fi
  if $with_systemd; then systemctl stop dcas-headend.service dcas-ta.service 2>/dev/null || true; fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if ! $keep_installed; then
    dpkg --purge libdcas-dev dcas >/dev/null 2>&1 || true
    rm -rf $state/ta $state/headend $state/ap $marker
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step "dpkg -i"
# --force-confnew: the configuration files are this script's own (it refuses a machine where DCAS was).
dpkg -i --force-confnew "${debs[@]}" >/dev/null

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
rm -rf $state/ta $state/headend $state/ap  # a --keep-installed run's
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
set_conf ta.conf port-file $state/ta/ta.port
set_conf headend.conf listen 127.0.0.1:0
set_conf headend.conf port-file $state/headend/headend.port

wait_for() {  # FILE PID
  for _ in $(seq 1 200); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || { echo "package: the server exited before $1 appeared" >&2; return 1; }
    sleep 0.05
  done
  echo "package: no $1 after 10 s" >&2
  return 1
}

if $with_systemd; then
  step "systemd is init: starting the units"
  systemctl daemon-reload
  systemctl start dcas-ta.service
  set_conf headend.conf ta "127.0.0.1:$(cat $state/ta/ta.port)"
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
  wait_for $state/ta/ta.port "${pids[0]}"
  set_conf headend.conf ta "127.0.0.1:$(cat $state/ta/ta.port)"
  # shellcheck disable=SC2046
  "${as_unit_user[@]}" $(exec_start "${units[1]}") 2>"$work/headend.log" &
  pids+=($!)
  wait_for $state/headend/headend.port "${pids[1]}"
  set_conf headend.conf presence-interval 30
  kill -HUP "${pids[0]}" "${pids[1]}"
fi

step "a host pairs through the installed headend"
dcas host pair --sm "$work/sm" --tp "$work/tp" --ap "127.0.0.1:$(cat $state/headend/headend.port)" --json \
  --trace "$work/pair.pcapng" >"$work/pair.json"
python3 - "$work/pair.json" <<'EOF'
import json, sys
out = json.load(open(sys.argv[1]))
assert out["paired"], out
assert out["image"] and out["image"]["network_id"] == "00000000000000d1", out["image"]
print(f"package: paired SM {out['sm_id']} with TP {out['tp_id']}; client image version {out['image']['version']}")
EOF
lua=/usr/share/dcas/wireshark/dcas.lua
step "the installed dissector decodes the host's trace: $(tshark -X lua_script:$lua -r "$work/pair.pcapng" \
  -Y 'dcas.type' 2>/dev/null | wc -l) messages"
tshark -X lua_script:$lua -r "$work/pair.pcapng" -Y 'dcas.type == 0x13' 2>/dev/null | grep -q 'KeyRequest (SM->AP, h1)'

if $with_systemd; then
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
