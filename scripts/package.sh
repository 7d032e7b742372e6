#!/usr/bin/env bash
# Builds the Debian package: tessera, tessera-cli, tessera-gui and tessera-server in /usr/bin,
# the .desktop file, icon and AppStream metainfo, man pages and bash/zsh/fish completions
# generated from the clap definitions (`tessera-dist docs`). Prints the .deb's path on the last line.
#
#   bash scripts/package.sh                 # release build (15-30 min the first time on 2 cores)
#   bash scripts/package.sh --out DIR       # write the .deb into DIR (default: TARGET/debian)
#   bash scripts/package.sh --profile dev --no-build --fast
#                                           # package the debug binaries already built (the test
#                                           # in src/dist/tests/deb.rs does this: no extra build)
#   bash scripts/package.sh --tools-only    # only install the pinned cargo-deb
#
# Install the result with `sudo apt install ./tessera_*.deb` (apt resolves the libraries).
# Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

# cargo-deb from crates.io, pinned: its options and its handling of `--profile dev` (which
# it warns about but supports) are what this script and the test rely on.
CARGO_DEB_VERSION=3.7.0

profile=release build=1 out="" fast=() tools_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --profile) profile=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --out) out=$2; shift 2 ;;
    --fast) fast=(--fast); shift ;;
    --tools-only) tools_only=1; shift ;;
    *) echo "error: unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done

if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
  echo "installing cargo-deb $CARGO_DEB_VERSION (crates.io; about 2 minutes of CPU)" >&2
  cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION"
fi
[ "$tools_only" = 1 ] && exit 0

case $profile in
  release) profile_dir=release profile_flag=(--release) ;;
  dev | debug) profile=dev profile_dir=debug profile_flag=() ;;
  *) echo "error: --profile is release or dev" >&2; exit 2 ;;
esac
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
bin=$target/$profile_dir

if [ "$build" = 1 ]; then
  echo "building tessera, tessera-cli, tessera-gui, tessera-server ($profile); cargo shows its progress" >&2
  # The app's package on its own, as scripts/static-launcher.sh builds it: built together with
  # the others, its dependencies' features would be resolved differently and the relink below
  # would rebuild the app.
  cargo build --locked "${profile_flag[@]}" -p tessera --bins
  cargo build --locked "${profile_flag[@]}" -p tessera-server -p tessera-dist --bins
  # The launcher statically linked, as it ships (see the script). Not with --no-build: the test
  # packages the binaries its own `cargo test` built, without a second cargo run.
  bash scripts/static-launcher.sh --profile "$profile" >/dev/null
fi
for b in tessera tessera-cli tessera-gui tessera-server tessera-dist; do
  if [ ! -x "$bin/$b" ]; then
    echo "error: $bin/$b is missing; build it first or drop --no-build" >&2
    exit 1
  fi
done

# Generated from the clap definitions, next to the binaries (cargo-deb's `target/release/`).
rm -rf "$bin/dist"
"$bin/tessera-dist" docs "$bin/dist"
gzip -9n "$bin/dist/man/"*.1

args=(-p tessera --no-build --locked --profile "$profile" "${fast[@]}")
[ -n "$out" ] && mkdir -p "$out" && args+=(--output "$out")
# cargo-deb prints the .deb's path on stdout.
CARGO_TARGET_DIR=$target cargo deb "${args[@]}"
