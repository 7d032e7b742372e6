#!/usr/bin/env bash
# Whole-process time of `tessera code` over a 1,000-account vault, next to `oathtool --totp`
# computing one code (the baseline), as a ratio. Both run on this machine in this run.
#
# Unlock path: the fastest this machine offers, the OS keyring slot. On a headless Linux box
# that is the kernel keyutils session keyring (this script runs inside `keyctl session`); the
# vault also has a password slot because keyutils forgets keys at reboot. The password path
# (Argon2id) is printed too, for reference.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
cargo build --release --locked --quiet
# Honour CARGO_TARGET_DIR (helpers and CI keep separate target directories).
bin=$(realpath "${CARGO_TARGET_DIR:-target}")/release/tessera
runs=${RUNS:-200}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

keyctl session - bash -s "$bin" "$work" "$runs" <<'INNER'
set -euo pipefail
bin=$1 work=$2 runs=$3
export TESSERA_HOME=$work/home
echo "bench password" > "$work/pw"
"$bin" init --password-file "$work/pw" >/dev/null
python3 - "$bin" "$work" "$runs" <<'PY'
import base64, os, statistics, subprocess, sys, time
bin, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
env = dict(os.environ)
info = subprocess.run([bin, "list"], env=env, capture_output=True, text=True)
assert info.returncode == 0, info.stderr
# 1,000 accounts through the real CLI, 100 URIs per Google-migration-free batch of adds.
t0 = time.perf_counter()
for i in range(1000):
    secret = base64.b32encode(os.urandom(20)).decode().rstrip("=")
    r = subprocess.run([bin, "add", "--secret", secret, "--issuer", f"Company {i:04d}",
                        "--account", f"user{i}@example.com"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
fill = time.perf_counter() - t0
target_secret = "JBSWY3DPEHPK3PXP"
r = subprocess.run([bin, "add", "--secret", target_secret, "--issuer", "Target", "--account", "me"],
                   env=env, capture_output=True, text=True)
assert r.returncode == 0, r.stderr

def median_ms(cmd, env=None, n=runs):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - t)
        assert r.returncode == 0, r.stderr
    return statistics.median(times) * 1000

now = str(int(time.time()))
oath = median_ms(["oathtool", "--totp", "-b", target_secret])
one = median_ms([bin, "code", "Target"], env)
every = median_ms([bin, "code", "--json"], env, n=max(20, runs // 10))
penv = dict(env, TESSERA_KEYRING="off", TESSERA_PASSWORD_FILE=f"{work}/pw")
pw = median_ms([bin, "code", "Target"], penv, n=10)
print(f"vault: 1,001 accounts (filled by 1,000 `tessera add` runs in {fill:.1f} s)")
print(f"unlock path: OS keyring slot (keyutils session keyring)")
print(f"oathtool --totp (baseline)           {oath:8.2f} ms median of {runs}")
print(f"tessera code Target (1 of 1,001)     {one:8.2f} ms   ratio {one/oath:.2f}x  (goal <= 1.5x)")
print(f"tessera code --json (all 1,001)      {every:8.2f} ms   ratio {every/oath:.2f}x")
print(f"tessera code Target, password/Argon2id {pw:6.1f} ms   ratio {pw/oath:.1f}x (reference)")
PY
INNER
