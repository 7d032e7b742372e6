#!/usr/bin/env bash
# Runs every test of the workspace, after installing the system packages they need.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
cargo test --workspace --locked
