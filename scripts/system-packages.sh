#!/usr/bin/env bash
# Installs the Debian packages Tessera needs to build, run and test (idempotent: installs only
# what is missing, so a second run costs a second). Needs root or sudo.
set -euo pipefail

packages=(
  # build
  pkg-config
  # tests: the `code` benchmark compares with oathtool; keyring tests use keyutils and a
  # throwaway gnome-keyring secret service inside dbus-run-session
  oathtool keyutils gnome-keyring dbus
  # build: camera capture (nokhwa's V4L2 bindings are generated with bindgen)
  libclang-dev
  # tests: `tessera scan --screen` runs under Xvfb; scripts/qr-bench compares with zbarimg
  xvfb zbar-tools
  # push tests: the privacyIDEA peer (shared/peers/privacyidea/setup.sh) is a Python venv
  # from PyPI driven with curl and jq
  python3 python3-venv curl jq
  # tessera-server tests: a throwaway PostgreSQL cluster (scripts/throwaway-postgres.sh; psql
  # creates a database per test); the standard-parser test pip-installs pyotp into a venv
  postgresql postgresql-client
  # app tests: the autostart entry is checked with desktop-file-validate
  desktop-file-utils
  # the Debian package (scripts/package.sh, src/dist/tests/deb.rs): cargo-deb runs
  # dpkg-shlibdeps (dpkg-dev); the test validates the metainfo (appstream), renders the man
  # pages (man-db)
  dpkg-dev appstream man-db
  # the screen-reader test (tests/cli/accessibility.rs): the AT-SPI accessibility bus and the
  # Python client that scripts/a11y-tree.py reads the app's tree with, as Orca does
  at-spi2-core python3-pyatspi
  # app tests: the global shortcut's keys are sent through XTEST by xdotool
  # (tests/cli/global_shortcut.rs)
  xdotool
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null; then
  echo "error: Rust is not installed; install it from rustup (stable, 1.92 or newer) and retry" >&2
  exit 1
fi
