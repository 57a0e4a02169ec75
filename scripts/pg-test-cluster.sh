#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1 for the store tests.
#   scripts/pg-test-cluster.sh start DIR [PORT]   prints the connection URI of its test database
#   scripts/pg-test-cluster.sh restart DIR        the same cluster, its data kept (a server restart)
#   scripts/pg-test-cluster.sh stop DIR
set -euo pipefail
cmd=$1
dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$cmd" in
  start)
    port=${3:-55432}
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    as_postgres "$bin/initdb" -D "$dir/data" -A trust -U dcas >/dev/null
    # fsync and synchronous_commit stay at their durable defaults.
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
    as_postgres "$bin/createdb" -h 127.0.0.1 -p "$port" -U dcas dcas_test
    echo "postgresql://dcas@127.0.0.1:$port/dcas_test"
    ;;
  restart)
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w restart >/dev/null
    ;;
  stop)
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|restart|stop DIR [PORT]" >&2
    exit 2
    ;;
esac
