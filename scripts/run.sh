#!/usr/bin/env bash
# Installs what Tessera needs, builds it (release) and runs it with the given arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
# Not --quiet: the first build takes 15-30 minutes on 2 cores, and cargo's progress line is
# the only sign that it is working.
[ -x target/release/tessera-gui ] ||
  echo "first build: 15-30 minutes on a 2-core machine; cargo shows its progress" >&2
cargo build --release --locked
# The launcher as it is packaged: statically linked (faster `tessera code`; see the script).
bash scripts/static-launcher.sh >/dev/null
exec target/release/tessera "$@"
