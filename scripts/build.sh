#!/usr/bin/env bash
# Builds wacme and its first-party plugins in one go, and installs the plugins
# beside the binary (target/<profile>/plugins/<name>.wasm), where wacme finds
# them with no extra flags.
#
#   ./scripts/build.sh            release build: target/release/wacme
#   ./scripts/build.sh --debug    debug build:   target/debug/wacme, and the
#                                 test bed helper target/debug/testbed
#
# The debug build compiles every binary of the workspace in one cargo
# invocation, with the features `cargo test --workspace` resolves too, so
# the demo and the tests compile each dependency once.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
case "${1:-}" in
  --debug) profile=debug ;;
  ""|--release) ;;
  *) echo "usage: $0 [--release|--debug]" >&2; exit 2 ;;
esac

./scripts/build-plugins.sh

if [ "$profile" = release ]; then
  cargo build --release -p wacme
else
  cargo build --workspace --bins
fi

target="${CARGO_TARGET_DIR:-target}"
dest="$target/$profile/plugins"
mkdir -p "$dest"
for dir in plugins/*/; do
  # plugins/examples holds plugins in other languages, built on their own.
  [ -f "$dir/Cargo.toml" ] || continue
  name="$(basename "$dir")"
  src="$target/wasm32-wasip2/plugin/wacme_plugin_${name//-/_}.wasm"
  install -m 0644 "$src" "$dest/$name.wasm"
done
echo "built $target/$profile/wacme with plugins in $dest:"
ls -1 "$dest"
