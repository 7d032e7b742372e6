#!/usr/bin/env bash
# Load benchmark of tessera-server on loopback (bounded): DEVICES simulated devices
# long-poll while a relying party creates RATE logins/s for SECONDS s. Prints p50/p99 from
# login creation to the device receiving it, throughput, server RSS, and a privacyIDEA
# poll-only baseline (devices polling every 3 s) measured in the same run, as a ratio.
#
# Usage: scripts/load-bench.sh [--sqlite | --postgres | --both] [DEVICES] [RATE] [SECONDS]
#   (or STORE=sqlite|postgres|both). Defaults: --sqlite 10000 500 10.
#   --postgres starts a throwaway PostgreSQL cluster (Debian package postgresql) and two
#   tessera-server instances on it; devices poll both and logins are created on both, so
#   half the wake-ups cross instances (LISTEN/NOTIFY), and prints what the database did:
#   transactions committed and the most frequent statements, with calls per login created.
#   --both runs SQLite, then PostgreSQL.
# Everything started here is stopped and deleted on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
store=${STORE:-sqlite}
case ${1:-} in
  --sqlite | --postgres | --both) store=${1#--}; shift ;;
esac
devices=${1:-10000}
rate=${2:-500}
seconds=${3:-10}
# One connection per waiting device, on both ends.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet -p tessera-server --bin tessera-server --example load
server_bin=$target/release/tessera-server
load_bin=$target/release/examples/load

work=$(mktemp -d)
pids=()
pg=
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$pg" ]; then
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    runuser -u postgres -- "$bin/pg_ctl" -D "$pg/data" -m immediate stop >/dev/null 2>&1 \
      || "$bin/pg_ctl" -D "$pg/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Limits for a loopback load test (the server's defaults are unchanged). Every simulated
# device enrols from 127.0.0.1, so all DEVICES + 300 enrolments (and one sentinel device per
# instance, see examples/load.rs) land in the one per-address enrolment bucket
# (device_rate/s, burst device_burst): with the defaults that refuses them
# with 429 "too many enrolment attempts" after a few hundred, as it should refuse one address
# enrolling thousands of devices in seconds. A real deployment sees one address (or IPv6 /64)
# per phone. So the burst covers the whole enrolment; device_burst is also the per-device
# burst, which these devices never come near (one long-poll each, or a poll every 3 s).
# Connections from 127.0.0.1 count only towards --max-connections (16,000 by default,
# enough for the DEVICES + 300 polls), not the per-client cap.
bench_config() {
  printf '{"device_burst": %d}\n' "$((devices + 310))" >"$work/bench-config.json"
}

# start_server NAME [ARGS...]: starts an instance with data folder $work/NAME; sets $port.
start_server() {
  local name=$1
  shift
  port=$(free_port)
  [ -f "$work/bench-config.json" ] || bench_config
  RUST_LOG=warn "$server_bin" serve --data "$work/$name" --listen "127.0.0.1:$port" \
    --config "$work/bench-config.json" --rp-rate 100000 --device-rate 100 "$@" \
    >"$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && return; sleep 0.1; done
  echo "tessera-server $name did not start:" >&2
  cat "$work/$name.log" >&2
  exit 1
}

# failed NAME...: the load run failed; show the instances' logs before they are deleted.
failed() {
  for name in "$@"; do
    echo "--- tessera-server $name log (last 50 lines) ---" >&2
    tail -n 50 "$work/$name.log" >&2
  done
  exit 1
}

# report PID NAME: the instance's memory and CPU time.
report() {
  local tick
  tick=$(getconf CLK_TCK)
  awk -v n="$2" '/VmRSS/ {r=$2} /VmHWM/ {h=$2} END {printf "%s RSS: %.1f MiB (peak %.1f MiB)", n, r/1024, h/1024}' "/proc/$1/status"
  awk -v t="$tick" '{printf ", CPU %.1f s\n", ($14+$15)/t}' "/proc/$1/stat"
}

run_sqlite() {
  echo "=== SQLite, one instance: $devices devices, $rate logins/s for $seconds s ==="
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, $(nproc) cores)"
  start_server sqlite
  local pid=${pids[-1]}
  "$load_bin" --server "http://127.0.0.1:$port" --api-key-file "$work/sqlite/api-key" \
    --devices "$devices" --rate "$rate" --seconds "$seconds" || failed sqlite
  report "$pid" "server"
  echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
  kill "$pid"; pids=()
  wait "$pid" 2>/dev/null || true
}

run_postgres() {
  echo "=== PostgreSQL, two instances: $devices devices, $rate logins/s for $seconds s ==="
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, $(nproc) cores)"
  pg=$(mktemp -d)
  local pg_port
  pg_port=$(free_port)
  THROWAWAY_PG_OPTS="-c shared_preload_libraries=pg_stat_statements" \
    scripts/throwaway-postgres.sh "$pg" "$pg_port" $$
  local url="postgres://postgres@127.0.0.1:$pg_port/postgres"
  local psql
  psql="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/psql"
  sql() { "$psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -XAtq -c "$1"; }
  sql "CREATE EXTENSION pg_stat_statements"
  start_server a --database "$url"
  local pid_a=${pids[-1]} port_a=$port
  start_server b --database "$url"
  local pid_b=${pids[-1]} port_b=$port
  echo "PostgreSQL $("$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port; instances a :$port_a, b :$port_b"
  # The bootstrap API key is written by the first instance (keys live in the database).
  "$load_bin" --server "http://127.0.0.1:$port_a" --server "http://127.0.0.1:$port_b" \
    --api-key-file "$work/a/api-key" --devices "$devices" --rate "$rate" --seconds "$seconds" \
    || failed a b
  report "$pid_a" "instance a"
  report "$pid_b" "instance b"
  echo "instance threads: a $(awk '/Threads/ {print $2}' "/proc/$pid_a/status"), b $(awk '/Threads/ {print $2}' "/proc/$pid_b/status")"
  # What the database did over the whole run (enrolments, both phases): transactions and
  # the most frequent statements, with calls per login created.
  local logins
  logins=$(sql "SELECT COUNT(*) FROM logins")
  echo "database: $(sql "SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'") transactions committed, $logins logins created; most frequent statements (calls, calls per login):"
  sql "SELECT calls, round(calls::numeric / GREATEST($logins, 1), 2), left(regexp_replace(query, '\s+', ' ', 'g'), 90) FROM pg_stat_statements ORDER BY calls DESC LIMIT 12" \
    | awk -F'|' '{printf "  %9d %7s  %s\n", $1, $2, $3}'
  echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
}

case $store in
  sqlite) run_sqlite ;;
  postgres) run_postgres ;;
  both) run_sqlite; echo; run_postgres ;;
  *) echo "unknown store $store (sqlite, postgres or both)" >&2; exit 2 ;;
esac
