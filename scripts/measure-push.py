#!/usr/bin/env python3
"""Measures push delivery with a real privacyIDEA server and the real `tessera` binary.

Prints two figures:
  1. the time from a login being triggered (POST /validate/triggerchallenge has returned, so
     the challenge exists) to the request line appearing in `tessera push watch`: median,
     10th/90th percentile, min and max over N triggers (default 20);
  2. the HTTP requests `tessera push watch` makes per idle minute (counted in the server's
     own request log, so nothing is self-reported).

Usage:  python3 scripts/measure-push.py [--tessera target/release/tessera] [--triggers 20]

Needs: the privacyIDEA peer (shared/peers/privacyidea/setup.sh; started here if it is not
running), python3 (stdlib only), a built `tessera` binary. Uses a throwaway TESSERA_HOME.
Triggers are spaced by a random 4-6 s so they land at random points of the poll interval,
and the server is told to expire push challenges after 4 s so earlier requests do not pile
up in the polls being measured.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
SETUP = os.path.abspath(os.path.join(ROOT, "..", "shared", "peers", "privacyidea", "setup.sh"))
PI_HOME = os.environ.get("PI_HOME", os.path.join(tempfile.gettempdir(), "privacyidea-peer"))
PASSWORD = "measure-push-password"


def pi_url():
    try:
        with open(os.path.join(PI_HOME, "env")) as f:
            for line in f:
                if line.startswith("PI_URL="):
                    return line.strip().split("=", 1)[1]
    except OSError:
        return None
    return None


def http(method, url, data=None, headers=None, as_json=False):
    body = None
    headers = dict(headers or {})
    if data is not None:
        if as_json:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
        else:
            body = urllib.parse.urlencode(data).encode()
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def ensure_server():
    url = pi_url()
    if url:
        try:
            urllib.request.urlopen(url + "/healthz/livez", timeout=5)
            return url
        except OSError:
            pass
    subprocess.run(["bash", SETUP], check=True)
    return pi_url()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tessera", default=os.path.join(ROOT, "target", "release", "tessera"))
    ap.add_argument("--triggers", type=int, default=20)
    ap.add_argument("--idle-seconds", type=int, default=60)
    args = ap.parse_args()

    url = ensure_server()
    jwt = http("POST", url + "/auth", {"username": "admin", "password": "adminpw"})["result"]["value"]["token"]
    admin = {"Authorization": jwt}
    home = tempfile.mkdtemp(prefix="tessera-measure-")
    password_file = os.path.join(home, "password")
    with open(password_file, "w") as f:
        f.write(PASSWORD)
    env = dict(os.environ, TESSERA_HOME=os.path.join(home, "data"), TESSERA_PASSWORD_FILE=password_file,
               TESSERA_KEYRING="off")

    def tessera(*argv, **kw):
        return subprocess.run([args.tessera, *argv], env=env, check=True, capture_output=True, text=True, **kw)

    tessera("init", "--password-file", password_file, "--no-keyring")
    link = http("POST", url + "/token/init", {"type": "push", "genkey": "1", "user": "alice", "realm": "realm1"},
                headers=admin)["detail"]["pushurl"]["value"]
    serial = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["serial"][0]
    tessera("add", link)
    http("POST", url + "/system/setConfig", {"PushChallengeValidityTime": "4"}, headers=admin, as_json=True)

    watch = subprocess.Popen([args.tessera, "push", "watch"], env=env, stdout=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, text=True, bufsize=1)
    arrivals = []
    lock = threading.Condition()

    def read():
        for line in watch.stdout:
            with lock:
                arrivals.append((time.monotonic(), line.rstrip("\n")))
                lock.notify_all()

    threading.Thread(target=read, daemon=True).start()
    try:
        time.sleep(3)  # let the watcher start and make its first poll
        delays = []
        for i in range(args.triggers):
            time.sleep(random.uniform(4.0, 6.0))
            with lock:
                seen = len(arrivals)
            http("POST", url + "/validate/triggerchallenge", {"user": "alice", "realm": "realm1", "serial": serial},
                 headers=admin)
            t0 = time.monotonic()
            with lock:
                ok = lock.wait_for(lambda: any("Login by" in l for _, l in arrivals[seen:]), timeout=30)
                if not ok:
                    sys.exit(f"trigger {i + 1}: no request appeared within 30 s")
                t1 = next(t for t, l in arrivals[seen:] if "Login by" in l)
            delays.append(max(0.0, t1 - t0))
            print(f"trigger {i + 1:2}: {1000 * delays[-1]:7.0f} ms", flush=True)

        time.sleep(6)  # the last challenge expires; the watcher is now idle
        log = os.path.join(PI_HOME, "server.log")
        needle = f"GET /ttype/push?serial={serial}"

        def count():
            with open(log, errors="replace") as f:
                return sum(1 for line in f if needle in line)

        before = count()
        time.sleep(args.idle_seconds)
        idle_requests = (count() - before) * 60 / args.idle_seconds
    finally:
        watch.terminate()
        watch.wait()
        try:
            urllib.request.urlopen(urllib.request.Request(url + "/system/PushChallengeValidityTime",
                                                          method="DELETE", headers=admin), timeout=10)
            urllib.request.urlopen(urllib.request.Request(url + "/token/" + serial, method="DELETE",
                                                          headers=admin), timeout=10)
        except OSError:
            pass

    ms = sorted(1000 * d for d in delays)
    q = statistics.quantiles(ms, n=10)
    print(f"trigger -> shown in `tessera push watch` over {len(ms)} triggers: median {statistics.median(ms):.0f} ms, "
          f"p10 {q[0]:.0f} ms, p90 {q[-1]:.0f} ms, min {ms[0]:.0f} ms, max {ms[-1]:.0f} ms")
    print(f"HTTP requests per idle minute (one account, counted in the server log): {idle_requests:.1f}")


if __name__ == "__main__":
    main()
