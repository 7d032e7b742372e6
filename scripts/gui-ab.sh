#!/usr/bin/env bash
# Start to visible window and resident memory of this tree's release `tessera-gui` against an
# older build of it, alternated in one run on one vault, so that a change is judged against
# the figures it started from on the same machine at the same load (issue 16: "within 10 %
# of today's figures with 200 accounts and icons on"). Prints each run, the medians and the
# ratios; it asserts nothing.
#
# The vault: 200 accounts from issuers the bundled icons match (Acer, Airbnb, Apple, GitHub,
# Google, Mastodon, Proton), so every row on the first screen draws a service icon in builds
# that have them; written by the BASELINE's own command line (`tessera-gui import`), since
# newer builds open older vaults but not always the reverse.
#
# 7 December 2026, release builds, Xvfb, load average 0.1-0.8, 7 runs each, baseline 4954d98
# (the last commit before issue 16's work): start 173 ms (baseline) vs 169 ms (0.98x); RSS
# 32.2 MB vs 34.5 MB (1.07x: anonymous 4.5 -> 4.8 MB, pages of the program 26.6 -> 28.5 MB).
#
# Usage: scripts/gui-ab.sh BASELINE_TESSERA_GUI [RUNS] [SETTLE_SECONDS]
#   e.g. git worktree add /tmp/base 4954d98 && (cd /tmp/base && cargo build --release
#        --bin tessera-gui) && scripts/gui-ab.sh /tmp/base/target/release/tessera-gui
# Needs: xvfb xdotool (apt).
set -euo pipefail

BASE=${1:?usage: scripts/gui-ab.sh BASELINE_TESSERA_GUI [RUNS] [SETTLE_SECONDS]}
RUNS=${2:-7}
SETTLE=${3:-15}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d)
trap 'kill "${XVFB_PID:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

cd "$ROOT"
cargo build --quiet --release --bin tessera-gui
NEW=$CARGO_TARGET_DIR/release/tessera-gui

printf 'perf-password' >"$WORK/password"
python3 - "$WORK/uris.txt" <<'PY'
import base64, sys
issuers = ["GitHub", "Google", "Acer", "Mastodon", "Proton", "Airbnb", "Apple"]
with open(sys.argv[1], "w") as f:
    for i in range(200):
        # Distinct 20-byte keys derived from the index: deterministic, never real secrets.
        key = bytes(((i * 31) ^ (b * 7)) & 0xFF for b in range(20))
        secret = base64.b32encode(key).decode().rstrip("=")
        issuer = issuers[i % len(issuers)]
        f.write(f"otpauth://totp/{issuer}:user{i}%40example.org?secret={secret}&issuer={issuer}\n")
PY
for step in init "import $WORK/uris.txt"; do
    # shellcheck disable=SC2086 # the step's words are the command's arguments
    TESSERA_HOME="$WORK/vault" TESSERA_KEYRING=off TESSERA_PASSWORD_FILE="$WORK/password" \
        "$BASE" $step >/dev/null
done

DISPLAY_NUM=:$((80 + RANDOM % 9))
Xvfb "$DISPLAY_NUM" -screen 0 1280x1024x24 -nolisten tcp >/dev/null 2>&1 &
XVFB_PID=$!
export DISPLAY=$DISPLAY_NUM
for _ in $(seq 50); do xdotool getdisplaygeometry >/dev/null 2>&1 && break; sleep 0.1; done

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
status() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$2/status"; }

# one BIN: a fresh copy of the vault, start to visible window (ms), then after SETTLE
# seconds VmRSS, RssAnon and RssFile (MB).
one() {
    rm -rf "$WORK/home"
    cp -r "$WORK/vault" "$WORK/home"
    local t0 pid ms
    t0=$(now_ms)
    TESSERA_HOME="$WORK/home" TESSERA_KEYRING=off TESSERA_PASSWORD_FILE="$WORK/password" \
        LANG=C.UTF-8 "$1" >/dev/null 2>&1 &
    pid=$!
    until xdotool search --onlyvisible --name Tessera >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || { echo "$1 exited before showing a window" >&2; exit 1; }
        sleep 0.005
    done
    ms=$(( $(now_ms) - t0 ))
    sleep "$SETTLE"
    echo "$ms $(status VmRSS "$pid") $(status RssAnon "$pid") $(status RssFile "$pid")"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    sleep 1
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "run  build     start_ms  rss_MB  anon_MB  file_MB"
for run in $(seq "$RUNS"); do
    for build in baseline this; do
        bin=$BASE
        [ "$build" = this ] && bin=$NEW
        line=$(one "$bin")
        echo "$run $build $line" >>"$WORK/runs"
        printf '%-4s %-9s %s\n' "$run" "$build" "$line"
    done
done
python3 - "$WORK/runs" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
med = {b: [statistics.median(float(r[i]) for r in rows if r[1] == b) for i in range(2, 6)]
       for b in ("baseline", "this")}
print(f"{'median':14} {'baseline':>10} {'this':>10} {'ratio':>7}")
for i, name in enumerate(["start (ms)", "RSS (MB)", "anonymous", "program"]):
    a, b = med["baseline"][i], med["this"][i]
    print(f"{name:14} {a:10.1f} {b:10.1f} {b / a:7.2f}")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
