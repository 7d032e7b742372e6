#!/usr/bin/env bash
# Installs what Tessera needs, builds it (release) and runs it with the given arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
cargo build --release --locked --quiet
exec target/release/tessera "$@"
