#!/usr/bin/env bash
# Relinks the `tessera` launcher (src/app/main.rs) as a static PIE: glibc and libgcc linked in,
# no dynamic loader, address-space randomisation kept. Run after a normal build; the packaged,
# benchmarked and README-run launcher is this one.
#
#   bash scripts/static-launcher.sh              # target/release/tessera
#   bash scripts/static-launcher.sh --profile dev  # target/debug/tessera (scripts/test.sh)
#
# Why: `tessera code QUERY` is as much start-up as work. Dynamically linked, the dynamic loader
# maps libc and libgcc_s, resolves their symbols and applies 5,576 relocations; on the project's
# VM every page fault costs ~2.7 us, and the loader accounted for 61 of the run's 160. Static,
# the same run takes 110 faults and 0.82 ms of CPU instead of 1.25 ms (`perf stat -r 200`,
# 1,001 accounts; scripts/bench-code.sh gives the ratio to oathtool).
#
# Only the launcher: it needs nothing from the system but the kernel (keyutils, files, and the
# Secret Service over a Unix socket). tessera-cli and tessera-gui stay dynamic (the GUI loads
# fontconfig and X11 libraries). Only the final link of the binary changes, so the flag is
# given to that one rustc call (`cargo rustc`), not as RUSTFLAGS, which would rebuild every
# crate; the next plain `cargo build` relinks it dynamically (seconds). Linux only.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
[ "${1:-}" = --profile ] && profile=$2
case $profile in
  release) flag=(--release) dir=release ;;
  dev | debug) flag=() dir=debug ;;
  *) echo "error: --profile is release or dev" >&2; exit 2 ;;
esac
bin=$(realpath -m "${CARGO_TARGET_DIR:-target}")/$dir/tessera
cargo rustc --quiet --locked "${flag[@]}" -p tessera --bin tessera -- -C target-feature=+crt-static
# A static PIE has no program interpreter and is still position-independent (type DYN).
if readelf -l "$bin" | grep -q "Requesting program interpreter" ||
    ! readelf -h "$bin" | grep -q "DYN"; then
  echo "error: $bin is not a static PIE" >&2
  exit 1
fi
echo "$bin"
