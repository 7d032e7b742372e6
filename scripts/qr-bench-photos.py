#!/usr/bin/env python3
"""The photograph tier of scripts/qr-bench: Tessera vs zbarimg vs zxing-cpp on the photos made
by scripts/qr-photos.py.

Usage: qr-bench-photos.py DIR OURS_COMMAND...

Every tool reads every image in its own process (start-up included in its time), with a 10 s
limit. A code counts as read when a tool prints its payload exactly; printed lines that are
no payload of the image count as misreads. Prints a per-condition table and the totals.
"""

import collections
import subprocess
import sys
import time
from pathlib import Path

LIMIT_S = 10.0
SLOW_S = 2.0
HERE = Path(__file__).resolve().parent


def tools(ours):
    return {
        "tessera": ours,
        "zbar": ["zbarimg", "-q", "--raw", "-Sdisable", "-Sqrcode.enable"],
        "zxing-cpp": [sys.executable, str(HERE / "qr-zxing.py")],
    }


def run(cmd, image):
    start = time.perf_counter()
    try:
        out = subprocess.run(cmd + [str(image)], capture_output=True, timeout=LIMIT_S).stdout
        lines = out.decode("utf-8", "replace").splitlines()
    except subprocess.TimeoutExpired:
        lines = None
    return lines, time.perf_counter() - start


def main():
    folder = Path(sys.argv[1])
    ours = sys.argv[2:]
    truth = collections.defaultdict(list)
    for line in (folder / "truth.tsv").read_text(encoding="utf-8").splitlines():
        name, payload = line.split("\t", 1)
        truth[name].append(payload)
    names = sorted(truth)
    conditions = list(dict.fromkeys(n.split("__")[0] for n in names))
    t = tools(ours)
    # stats[tool][condition] = [codes read, codes, images, seconds, slow images, timeouts, misreads, max s]
    stats = {tool: {c: [0, 0, 0, 0.0, 0, 0, 0, 0.0] for c in conditions} for tool in t}
    for name in names:
        cond = name.split("__")[0]
        want = truth[name]
        for tool, cmd in t.items():
            lines, secs = run(cmd, folder / name)
            s = stats[tool][cond]
            s[1] += len(want)
            s[2] += 1
            s[3] += secs
            s[7] = max(s[7], secs)
            if secs > SLOW_S:
                s[4] += 1
            if lines is None:
                s[5] += 1
                continue
            s[0] += sum(1 for p in set(want) if p in lines)
            s[6] += sum(1 for line in lines if line and line not in want)
    names_t = list(t)
    print(f"photograph tier: {len(names)} photos, {sum(len(v) for v in truth.values())} codes; "
          f"each image one process, {LIMIT_S:.0f} s limit")
    print(f"{'condition':<14}" + "".join(f"{n:>16}" for n in names_t)
          + "".join(f"{n + ' s':>14}" for n in names_t) + "   max s (tessera)")
    totals = {tool: [0] * 8 for tool in t}
    for c in conditions:
        row = f"{c:<14}"
        for tool in names_t:
            s = stats[tool][c]
            row += f"{s[0]:>7}/{s[1]:<3} {100 * s[0] / s[1]:3.0f}%"
        for tool in names_t:
            row += f"{stats[tool][c][3]:>14.2f}"
        row += f"{stats['tessera'][c][7]:>10.2f}"
        if stats["tessera"][c][0] < stats["zxing-cpp"][c][0]:
            row += "  <-- below zxing-cpp"
        print(row)
        for tool in names_t:
            for i in range(8):
                totals[tool][i] = max(totals[tool][i], stats[tool][c][i]) if i == 7 else totals[tool][i] + stats[tool][c][i]
    row = f"{'total':<14}"
    for tool in names_t:
        s = totals[tool]
        row += f"{s[0]:>7}/{s[1]:<3} {100 * s[0] / s[1]:3.0f}%"
    for tool in names_t:
        row += f"{totals[tool][3]:>14.2f}"
    print(row + f"{totals['tessera'][7]:>10.2f}")
    for tool in names_t:
        s = totals[tool]
        print(f"{tool}: {s[4]} photos over {SLOW_S:.0f} s, {s[5]} over the {LIMIT_S:.0f} s limit, "
              f"slowest {s[7]:.2f} s, {s[6]} misread lines")


if __name__ == "__main__":
    main()
