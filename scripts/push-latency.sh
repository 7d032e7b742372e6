#!/usr/bin/env bash
# Login-to-app latency of the desktop app's push worker against a throwaway tessera-server on
# loopback: the app's long poll vs the same worker polling every 3 s (privacyIDEA's app), in
# one run; then login -> desktop notification of the real app (tessera-gui on Xvfb and a private
# session bus), window open vs in the tray (scripts/measure-tray.py --what latency).
# Usage: scripts/push-latency.sh [LOGINS]   (PROFILE=release for optimised builds)
set -euo pipefail
cd "$(dirname "$0")/.."
logins=${1:-20}
profile=${PROFILE:-debug}
flag=(); [ "$profile" = release ] && flag=(--release)
target=${CARGO_TARGET_DIR:-target}
cargo build --quiet "${flag[@]}" -p tessera-server --bin tessera-server
cargo build --quiet "${flag[@]}" --example push_latency
cargo build --quiet "${flag[@]}" --bin tessera --bin tessera-gui
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUST_LOG=warn "$target/$profile/tessera-server" serve --data "$data/d" --listen "127.0.0.1:$port" \
  >"$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
"$target/$profile/examples/push_latency" --server "http://127.0.0.1:$port" \
  --api-key-file "$data/d/api-key" --logins "$logins"
python3 scripts/measure-tray.py --what latency --logins "$logins" --bin-dir "$target/$profile"
