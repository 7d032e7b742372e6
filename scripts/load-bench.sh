#!/usr/bin/env bash
# Load benchmark of tessera-server on loopback (bounded): DEVICES simulated devices
# long-poll while a relying party creates RATE logins/s for SECONDS s. Prints p50/p99 from
# login creation to the device receiving it, throughput, server RSS, and the privacyIDEA
# poll-only baseline as a ratio. Usage: scripts/load-bench.sh [DEVICES] [RATE] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
devices=${1:-10000}
rate=${2:-500}
seconds=${3:-10}
# One connection per waiting device, on both ends.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet -p tessera-server --bin tessera-server --example load
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUST_LOG=warn "$target/release/tessera-server" serve --data "$data/d" --listen "127.0.0.1:$port" \
  --rp-rate 100000 --device-rate 100 >"$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
echo "tessera-server (SQLite) pid $server on 127.0.0.1:$port"
"$target/release/examples/load" --server "http://127.0.0.1:$port" --api-key-file "$data/d/api-key" \
  --devices "$devices" --rate "$rate" --seconds "$seconds"
echo "server RSS:             $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$server/status)"
echo "server peak RSS:        $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$server/status)"
