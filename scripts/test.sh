#!/usr/bin/env bash
# Runs every test of the workspace, after installing the system packages they need, and ends
# with one summary line over all test binaries ("N passed, M failed"). A failing test binary
# does not stop the others (--no-fail-fast), so one run shows every failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
# The package test (src/dist/tests/deb.rs) runs cargo-deb; install the pinned version once.
bash scripts/package.sh --tools-only
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
# The launcher ships statically linked (scripts/static-launcher.sh), which `cargo test` does not
# build: its tests run again on that build (TESSERA_TEST_LAUNCHER, tests/cli/binaries.rs), in
# the test binary already built (a second `cargo test -p tessera` would resolve features
# differently and rebuild the package).
static=$(mktemp -d)
trap 'rm -rf "$log" "$static"' EXIT
cp "$(bash scripts/static-launcher.sh --profile dev)" "$static/tessera"
suite=""
for candidate in $(sed -n 's|.*Running tests/main.rs (\(.*\))$|\1|p' "$log"); do
  # The list is read whole before grep: `--list | grep -q` under pipefail fails whenever grep
  # stops early and the test binary dies writing the rest (SIGPIPE).
  tests=$("$candidate" --list 2>/dev/null || true)
  if grep -q "tessera_answers_code_alone" <<<"$tests"; then suite=$candidate; fi
done
if [ -z "$suite" ]; then
  echo "error: the test binary with the launcher's tests was not found in the log" >&2
  status=1
else
  TESSERA_TEST_LAUNCHER=$static/tessera "$suite" cli::binaries 2>&1 | tee -a "$log" ||
    status=$?
fi
# libtest prints "test result: ok. 12 passed; 0 failed; ..."; our custom harnesses print
# "12 passed, 0 failed". Sum both kinds.
awk '
  /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
  /^[0-9]+ passed, [0-9]+ failed$/ { p += $1; f += $3 }
  END { printf "\ntotal: %d passed, %d failed\n", p, f }
' "$log"
exit "$status"
