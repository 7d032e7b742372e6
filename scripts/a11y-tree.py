#!/usr/bin/python3
"""Reads Tessera's window over AT-SPI, as a screen reader (Orca) does, and acts on it.

The app must run on the session bus in DBUS_SESSION_BUS_ADDRESS with accessibility on
(org.a11y.Status IsEnabled). Used by tests/cli/accessibility.rs; also handy by hand:

    scripts/a11y-tree.py tree                  # the showing elements, one JSON object a line
    scripts/a11y-tree.py press NAME            # the default action of the element named NAME
    scripts/a11y-tree.py announce NAME [SECS]  # press NAME, print the announcements that follow

Needs Debian's python3-pyatspi (scripts/system-packages.sh). Exits 2 with a message on stderr
when the app or the element is not found.
"""

import json
import sys
import time

import pyatspi
from gi.repository import GLib


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def find_app(timeout=60):
    """The accessible application whose window is Tessera's."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        desktop = pyatspi.Registry.getDesktop(0)
        for app in desktop:
            if app is None:
                continue
            try:
                names = [app.name or ""] + [(w.name or "") for w in app if w is not None]
            except Exception:  # the app is still registering
                continue
            if any("tessera" in n.lower() for n in names) and app.childCount > 0:
                return app
        time.sleep(0.3)
    fail("no accessible application with a Tessera window on the bus")


def describe(node, depth):
    """One element as a screen reader sees it."""
    states = node.getState()
    item = {
        "depth": depth,
        "role": node.getRoleName(),
        "name": node.name or "",
        "description": node.description or "",
        "showing": states.contains(pyatspi.STATE_SHOWING),
        "focusable": states.contains(pyatspi.STATE_FOCUSABLE),
        # A checked check box, or a pressed toggle button (a segment chosen).
        "checked": states.contains(pyatspi.STATE_CHECKED)
        or states.contains(pyatspi.STATE_PRESSED),
        "actions": [],
        "value": None,
    }
    try:
        action = node.queryAction()
        item["actions"] = [action.getName(i) for i in range(action.nActions)]
    except NotImplementedError:
        pass
    try:
        value = node.queryValue()
        item["value"] = [value.currentValue, value.minimumValue, value.maximumValue]
    except NotImplementedError:
        pass
    return item


def walk(node, depth=0):
    """Every showing element under `node`, depth first."""
    if node is None:
        return
    item = describe(node, depth)
    if depth > 0 and not item["showing"]:
        return
    yield node, item
    for child in node:
        yield from walk(child, depth + 1)


def press(app, name):
    for node, item in walk(app):
        if item["name"] == name and item["actions"]:
            node.queryAction().doAction(0)
            return
    fail(f"no showing element named {name!r} with an action")


def main():
    if len(sys.argv) < 2:
        fail(__doc__)
    command = sys.argv[1]
    app = find_app()
    if command == "tree":
        for _, item in walk(app):
            print(json.dumps(item, ensure_ascii=False))
    elif command == "press" and len(sys.argv) == 3:
        press(app, sys.argv[2])
    elif command == "announce" and len(sys.argv) in (3, 4):
        seconds = float(sys.argv[3]) if len(sys.argv) == 4 else 3.0
        heard = []

        def on_announcement(event):
            # detail1 is the politeness: 1 polite, 2 assertive (AtspiLive).
            heard.append({"text": str(event.any_data), "politeness": event.detail1})

        pyatspi.Registry.registerEventListener(on_announcement, "object:announcement")

        missing = []

        def act():
            try:
                press(app, sys.argv[2])
            except SystemExit:  # not found: already said on stderr
                missing.append(True)
                pyatspi.Registry.stop()
            return False

        GLib.timeout_add(300, act)
        GLib.timeout_add(int(seconds * 1000), lambda: pyatspi.Registry.stop())
        pyatspi.Registry.start()
        if missing:
            sys.exit(2)
        for item in heard:
            print(json.dumps(item, ensure_ascii=False))
    else:
        fail(__doc__)


if __name__ == "__main__":
    main()
