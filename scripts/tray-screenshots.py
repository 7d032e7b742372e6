#!/usr/bin/env python3
"""Screenshots of Tessera on a real desktop for the README (issue 12): a login request's
notification (drawn by dunst, a real notification daemon) and the tray menu (drawn by
xfce4-panel's status tray, a real StatusNotifierItem host), on Xvfb with a private session bus,
against a throwaway tessera-server.

Usage: python3 scripts/tray-screenshots.py OUT_DIR [--bin-dir target/debug]
Needs (apt): xvfb dbus xfce4-panel dunst xdotool x11-apps imagemagick x11-xserver-utils
"""
import argparse
import importlib.machinery
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
tray = importlib.machinery.SourceFileLoader("measure_tray", os.path.join(HERE, "measure-tray.py")).load_module()

# One panel along the top: a spacer, the status tray, a clock.
PANEL = """<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="36"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
        <value type="int" value="2"/>
        <value type="int" value="3"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="separator">
      <property name="expand" type="bool" value="true"/>
      <property name="style" type="uint" value="0"/>
    </property>
    <property name="plugin-2" type="string" value="systray">
      <property name="square-icons" type="bool" value="true"/>
    </property>
    <property name="plugin-3" type="string" value="clock"/>
  </property>
</channel>
"""

DUNST = """[global]
    origin = top-right
    offset = 12x48
    width = 420
    font = DejaVu Sans 10
    frame_width = 1
    frame_color = "#c0c0c0"
    corner_radius = 0
    padding = 12
    horizontal_padding = 12
    format = "<b>%s</b>\\n%b"
    show_indicators = no
[urgency_critical]
    background = "#ffffff"
    foreground = "#1a1a1a"
    timeout = 0
[urgency_normal]
    background = "#ffffff"
    foreground = "#1a1a1a"
"""


def shot(display, path, crop):
    raw = path + ".xwd"
    subprocess.run(["xwd", "-root", "-display", display, "-out", raw], check=True)
    subprocess.run(["convert", raw, "-crop", crop, "+repage", path], check=True)
    os.remove(raw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--bin-dir", default=os.path.join(tray.ROOT, "target", "debug"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="tessera-shots-")
    config = os.path.join(work, "config")
    os.makedirs(os.path.join(config, "xfce4", "xfconf", "xfce-perchannel-xml"))
    os.makedirs(os.path.join(config, "dunst"))
    with open(os.path.join(config, "xfce4", "xfconf", "xfce-perchannel-xml", "xfce4-panel.xml"), "w") as f:
        f.write(PANEL)
    with open(os.path.join(config, "dunst", "dunstrc"), "w") as f:
        f.write(DUNST)
    # xfconfd is started by D-Bus activation and inherits the bus's environment.
    os.environ.update(XDG_CONFIG_HOME=config, HOME=work, LANG="C.UTF-8")
    procs = []
    desktop = server = None
    try:
        desktop = tray.Desktop(work)
        env = desktop.env()
        subprocess.run(["xsetroot", "-solid", "#5e81ac"], env=env, check=False)
        procs.append(subprocess.Popen(["xfce4-panel"], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        time.sleep(4)
        server = tray.Server(args.bin_dir, work)
        account = tray.Account(args.bin_dir, work, server)
        app = account.app(desktop, hidden=True)
        procs.append(app)
        time.sleep(5)
        tray.http("POST", f"{server.url}/rp/v1/logins",
                  {"user": "alice", "rp": "Example Payroll", "mode": "approve", "expires_in": 120,
                   "context": {"app": "Payroll", "ip": "192.0.2.44", "location": "Utrecht, NL"}},
                  server.key)
        time.sleep(3)
        shot(desktop.display, os.path.join(args.out, "notification.png"), "540x170+740+0")
        # Close the notification (dunst: a left click), then right-click the tray icon (left
        # of the clock, at the panel's right end) for its menu.
        subprocess.run(["xdotool", "mousemove", "1000", "90", "click", "1"], env=env, check=True)
        time.sleep(1)
        subprocess.run(["xdotool", "mousemove", "1193", "17", "click", "3"], env=env, check=True)
        time.sleep(2)
        shot(desktop.display, os.path.join(args.out, "tray-menu.png"), "540x200+740+0")
    finally:
        for p in procs:
            p.terminate()
        if server:
            server.close()
        if desktop:
            desktop.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
