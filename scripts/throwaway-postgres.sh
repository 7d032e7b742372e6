#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for tests: DIR PORT [WATCH_PID]. Runs initdb in DIR
# (as the `postgres` user when run by root: PostgreSQL refuses to run as root), starts the
# server on 127.0.0.1:PORT with trust authentication for user `postgres`, prints nothing and
# exits once it accepts connections. With WATCH_PID, a watchdog stops the cluster and deletes
# DIR when that process ends (so a test run never leaves a server behind). Extra server
# options may be given in THROWAWAY_PG_OPTS (e.g. "-c shared_preload_libraries=...").
set -euo pipefail
dir=$1 port=$2 watch=${3:-}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed (Debian package postgresql)" >&2; exit 1; }
as=()
if [ "$(id -u)" -eq 0 ]; then as=(runuser -u postgres --); fi
mkdir -p "$dir"
[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
"${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
  "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 ${THROWAWAY_PG_OPTS:-}" start >/dev/null
if [ -n "$watch" ]; then
  setsid bash -c "while kill -0 $watch 2>/dev/null; do sleep 0.5; done; \
    ${as[*]} $bin/pg_ctl -D $dir/data -m immediate stop >/dev/null 2>&1; rm -rf $dir" \
    </dev/null >/dev/null 2>&1 &
fi
