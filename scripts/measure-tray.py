#!/usr/bin/env python3
"""What Tessera costs while it waits in the tray (issue 12, point 5), beside the same app with
its window open, in one run on this machine:

  cpu      idle CPU (% of one core over --seconds) and resident memory of `tessera-gui`, window
           open vs started with --background (window hidden), with one tessera-server account
           long-polling; with --privacyidea also with a privacyIDEA push account added (polled
           every 3 s, each poll signed with the device's RSA-4096 key), and the share of that
           CPU the signatures take (polls counted in privacyIDEA's own log x the signing time
           measured by `examples/poll_sign_cost`).
  latency  login created on the relying-party API -> the app's Notify call on the session bus
           (seen by dbus-monitor; a real notification daemon, dunst, answers it if installed),
           window open vs hidden, beside one loopback HTTP round trip (GET /health).

Everything is real: a private dbus-daemon, Xvfb, a throwaway tessera-server on loopback, the
release binaries. It prints figures and ratios and asserts nothing.

With TRAY_MAPPINGS=1 it also lists the mappings holding the most resident memory.

Usage: python3 scripts/measure-tray.py [--what cpu|latency|all] [--seconds 60] [--logins 15]
                                       [--privacyidea] [--bin-dir target/release]
Needs: dbus-daemon, dbus-monitor, Xvfb (apt: dbus dbus-bin xvfb); dunst
optional. Build first: cargo build --release --bins -p tessera -p tessera-server
"""
import argparse
import json
import os
import random
import shutil
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
PASSWORD = "measure-tray-password"
HZ = os.sysconf("SC_CLK_TCK")


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(method, url, body=None, key=None):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = "Bearer " + key
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read()
        return json.loads(text) if text else None


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_parts(pid):
    """Where the resident memory is (MB): the heap and other anonymous pages; pages of the
    binary and libraries (file-backed, shared with other processes running them); shared
    memory (the X server's image buffers)."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1]) / 1024
    anon = fields.get("Anonymous", 0.0)
    shmem = fields.get("Shmem", 0.0)
    files = fields.get("Rss", 0.0) - anon - shmem
    return anon, files, shmem


def top_mappings(pid, n=10):
    """The n mappings holding the most resident memory (MB), by file (or [heap], [anon])."""
    totals = {}
    name = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                name = head[5] if len(head) > 5 else "[anonymous]"
            elif head[0] == "Rss:":
                totals[name] = totals.get(name, 0) + int(head[1]) / 1024
    return sorted(totals.items(), key=lambda kv: -kv[1])[:n]


class Desktop:
    """A private session bus and an X screen, with dbus-monitor recording Notify calls."""

    def __init__(self, work):
        self.procs = []
        bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.procs.append(bus)
        self.address = bus.stdout.readline().strip()
        self.display = f":{random.randint(200, 400)}"
        self.procs.append(subprocess.Popen(["Xvfb", self.display, "-screen", "0", "1280x1024x24",
                                            "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))
        env = self.env()
        socket_path = f"/tmp/.X11-unix/X{self.display[1:]}"
        for _ in range(100):
            if os.path.exists(socket_path):
                break
            time.sleep(0.1)
        if shutil.which("dunst"):
            self.procs.append(subprocess.Popen(["dunst"], env=env, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))
        self.notified = []
        self.cond = threading.Condition()
        monitor = subprocess.Popen(
            ["dbus-monitor", "--address", self.address,
             "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"],
            stdout=subprocess.PIPE, text=True, bufsize=1)
        self.procs.append(monitor)
        threading.Thread(target=self._read, args=(monitor,), daemon=True).start()
        time.sleep(0.5)

    def _read(self, monitor):
        for line in monitor.stdout:
            if line.startswith("method call time=") and "member=Notify" in line:
                t = float(line.split("time=", 1)[1].split()[0])
                with self.cond:
                    self.notified.append(t)
                    self.cond.notify_all()

    def env(self):
        return dict(os.environ, DISPLAY=self.display, DBUS_SESSION_BUS_ADDRESS=self.address)

    def close(self):
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


class Server:
    def __init__(self, bin_dir, work):
        self.data = os.path.join(work, "server")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = os.path.join(work, "server.json")
        # Many short logins for one user: lift the push-fatigue caps for this run only.
        with open(config, "w") as f:
            json.dump({"max_outstanding": 100, "max_per_hour": 0, "max_since_success": 0,
                       "escalate_after_denials": 0}, f)
        self.proc = subprocess.Popen(
            [os.path.join(bin_dir, "tessera-server"), "serve", "--data", self.data, "--listen",
             f"127.0.0.1:{self.port}", "--config", config, "--login-expiry", "3"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, RUST_LOG="warn"))
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url + "/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        with open(os.path.join(self.data, "api-key")) as f:
            self.key = f.read().strip()

    def enrol_uri(self, user):
        return http("POST", f"{self.url}/rp/v1/users/{user}/enrol", {}, self.key)["uri"]

    def login(self, user):
        return http("POST", f"{self.url}/rp/v1/logins",
                    {"user": user, "mode": "approve", "context": {"app": "measure-tray"}}, self.key)

    def round_trip_ms(self, n=50):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            urllib.request.urlopen(self.url + "/health", timeout=5).read()
            times.append(1000 * (time.perf_counter() - t))
        return statistics.median(times)

    def close(self):
        self.proc.terminate()
        self.proc.wait()


class Account:
    """A vault with one tessera-server push account (and optionally a privacyIDEA one)."""

    def __init__(self, bin_dir, work, server):
        self.bin_dir = bin_dir
        self.home = os.path.join(work, "home")
        self.password_file = os.path.join(work, "password")
        with open(self.password_file, "w") as f:
            f.write(PASSWORD)
        self.env = dict(os.environ, TESSERA_HOME=self.home, TESSERA_PASSWORD_FILE=self.password_file,
                        TESSERA_KEYRING="off", LANG="C.UTF-8")
        self.cli("init", "--password-file", self.password_file, "--no-keyring")
        self.cli("add", "-", stdin=server.enrol_uri("alice"))

    def cli(self, *argv, stdin=None):
        r = subprocess.run([os.path.join(self.bin_dir, "tessera"), *argv], env=self.env, input=stdin,
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"tessera {argv[0]} failed: {r.stderr}")
        return r.stdout

    def app(self, desktop, hidden):
        args = [os.path.join(self.bin_dir, "tessera-gui")] + (["--background"] if hidden else [])
        env = dict(self.env, **desktop.env())
        app = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        app.hidden = hidden
        return app


def settle(app, seconds=6):
    time.sleep(seconds)
    if app.poll() is not None:
        sys.exit("the app exited early")


def idle(app, seconds):
    before = cpu_seconds(app.pid)
    time.sleep(seconds)
    used = cpu_seconds(app.pid) - before
    anon, files, shmem = rss_parts(app.pid)
    print(f"  ({'in the tray' if app.hidden else 'window open'}: resident {rss_mb(app.pid):.1f} MB ="
          f" anonymous {anon:.1f} + files {files:.1f} + shared memory {shmem:.1f})")
    if os.environ.get("TRAY_MAPPINGS"):
        for mapping, mb in top_mappings(app.pid):
            print(f"    {mb:6.1f} MB  {mapping}")
    return 100 * used / seconds, rss_mb(app.pid)


def stop(app):
    app.terminate()
    try:
        app.wait(10)
    except subprocess.TimeoutExpired:
        app.kill()
        app.wait()


def latencies(desktop, server, logins):
    delays = []
    for _ in range(logins):
        time.sleep(random.uniform(3.5, 4.5))  # the previous login has expired (3 s)
        with desktop.cond:
            seen = len(desktop.notified)
        server.login("alice")
        t0 = time.time()
        with desktop.cond:
            if not desktop.cond.wait_for(lambda: len(desktop.notified) > seen, timeout=20):
                sys.exit("a login never became a notification")
            t1 = desktop.notified[seen]
        delays.append(1000 * max(0.0, t1 - t0))
    return delays


def add_privacyidea(account):
    """Enrols a privacyIDEA push token from the peer (started if needed); returns its log path
    and serial, or None without the peer."""
    setup = os.path.abspath(os.path.join(ROOT, "..", "shared", "peers", "privacyidea", "setup.sh"))
    pi_home = os.environ.get("PI_HOME", os.path.join(tempfile.gettempdir(), "privacyidea-peer"))
    env_file = os.path.join(pi_home, "env")
    if not os.path.exists(env_file):
        subprocess.run(["bash", setup], check=True, stdout=subprocess.DEVNULL)
    url = next(l.split("=", 1)[1].strip() for l in open(env_file) if l.startswith("PI_URL="))
    form = urllib.parse.urlencode({"username": "admin", "password": "adminpw"}).encode()
    with urllib.request.urlopen(urllib.request.Request(url + "/auth", data=form), timeout=30) as r:
        jwt = json.loads(r.read())["result"]["value"]["token"]
    form = urllib.parse.urlencode({"type": "push", "genkey": "1", "user": "alice", "realm": "realm1"}).encode()
    req = urllib.request.Request(url + "/token/init", data=form, headers={"Authorization": jwt})
    with urllib.request.urlopen(req, timeout=30) as r:
        link = json.loads(r.read())["detail"]["pushurl"]["value"]
    account.cli("add", "-", stdin=link)
    serial = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["serial"][0]
    return os.path.join(pi_home, "server.log"), serial


def count_polls(log, serial):
    needle = f"/ttype/push?serial={serial}"
    with open(log, errors="replace") as f:
        return sum(1 for line in f if needle in line)


def sign_ms(bin_dir):
    example = os.path.join(bin_dir, "examples", "poll_sign_cost")
    out = subprocess.run([example], capture_output=True, text=True, check=True).stdout
    return float(out.split("median")[1].split("ms")[0])


def ratio(a, b):
    return f"{a / b:.2f}" if b else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--what", default="all", choices=["cpu", "latency", "all"])
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--logins", type=int, default=15)
    ap.add_argument("--privacyidea", action="store_true")
    ap.add_argument("--bin-dir", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release"))
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="tessera-tray-")
    desktop = server = None
    try:
        desktop = Desktop(work)
        server = Server(args.bin_dir, work)
        account = Account(args.bin_dir, work, server)
        with open("/proc/loadavg") as f:
            print(f"load average before: {f.read().split()[0]}")
        if args.what in ("cpu", "all"):
            rows = []
            for hidden in (False, True):
                app = account.app(desktop, hidden)
                settle(app)
                rows.append(idle(app, args.seconds))
                stop(app)
            print(f"one tessera-server account long-polling, idle {args.seconds} s:")
            print(f"  {'':24} {'window open':>12} {'in the tray':>12} {'ratio':>7}")
            print(f"  {'CPU (% of one core)':24} {rows[0][0]:12.3f} {rows[1][0]:12.3f} {ratio(rows[1][0], rows[0][0]):>7}")
            print(f"  {'resident memory (MB)':24} {rows[0][1]:12.1f} {rows[1][1]:12.1f} {ratio(rows[1][1], rows[0][1]):>7}")
            if args.privacyidea:
                log, serial = add_privacyidea(account)
                rows = []
                for hidden in (False, True):
                    app = account.app(desktop, hidden)
                    settle(app)
                    before = count_polls(log, serial)
                    cpu, rss = idle(app, args.seconds)
                    polls = count_polls(log, serial) - before
                    rows.append((cpu, rss, polls))
                    stop(app)
                sign = sign_ms(args.bin_dir)
                print(f"plus one privacyIDEA account polled every 3 s, idle {args.seconds} s:")
                print(f"  {'':24} {'window open':>12} {'in the tray':>12} {'ratio':>7}")
                print(f"  {'CPU (% of one core)':24} {rows[0][0]:12.3f} {rows[1][0]:12.3f} {ratio(rows[1][0], rows[0][0]):>7}")
                print(f"  {'resident memory (MB)':24} {rows[0][1]:12.1f} {rows[1][1]:12.1f} {ratio(rows[1][1], rows[0][1]):>7}")
                share = 100 * rows[1][2] * sign / 1000 / args.seconds
                print(f"  signatures in the tray: {rows[1][2]} polls x {sign:.2f} ms (RSA-4096) = "
                      f"{share:.3f} % of one core, {ratio(share, rows[1][0])} of the tray's CPU")
        if args.what in ("latency", "all"):
            rtt = server.round_trip_ms()
            results = []
            for hidden in (False, True):
                app = account.app(desktop, hidden)
                settle(app)
                results.append(sorted(latencies(desktop, server, args.logins)))
                stop(app)
            print(f"login created -> desktop notification, {args.logins} logins "
                  f"(loopback HTTP round trip {rtt:.2f} ms):")
            print(f"  {'':24} {'window open':>12} {'in the tray':>12} {'ratio':>7}")
            p50 = [statistics.median(r) for r in results]
            p90 = [statistics.quantiles(r, n=10, method="inclusive")[-1] for r in results]
            print(f"  {'p50 (ms)':24} {p50[0]:12.1f} {p50[1]:12.1f} {ratio(p50[1], p50[0]):>7}")
            print(f"  {'p90 (ms)':24} {p90[0]:12.1f} {p90[1]:12.1f} {ratio(p90[1], p90[0]):>7}")
            print(f"  {'max (ms)':24} {results[0][-1]:12.1f} {results[1][-1]:12.1f}")
            print(f"  target: p50 in the tray <= round trip + 50 ms = {rtt + 50:.1f} ms")
        with open("/proc/loadavg") as f:
            print(f"load average after: {f.read().split()[0]}")
    finally:
        if server:
            server.close()
        if desktop:
            desktop.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
