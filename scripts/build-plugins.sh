#!/usr/bin/env bash
# Builds every provider plugin component (plugins/* and the test-only
# tests/plugins/*) for wasm32-wasip2 with the `plugin` profile, in one cargo
# invocation, and prints where the .wasm files are.
#
#   scripts/build-plugins.sh [extra cargo args…]
#
# Honours CARGO_TARGET_DIR (a relative one is taken from the workspace root,
# as the tests do). Output: $target/wasm32-wasip2/plugin/wacme_plugin_*.wasm
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

target=wasm32-wasip2
if command -v rustup >/dev/null 2>&1; then
    if ! rustup target list --installed | grep -qx "$target"; then
        echo "error: the Rust target $target is not installed; add it with:" >&2
        echo "    rustup target add $target" >&2
        exit 1
    fi
elif ! rustc --print target-libdir --target "$target" >/dev/null 2>&1 \
    || [ ! -d "$(rustc --print target-libdir --target "$target")" ]; then
    echo "error: the Rust standard library for $target is missing (no rustup here);" >&2
    echo "install it for this toolchain, e.g. with: rustup target add $target" >&2
    exit 1
fi

# Every crate folder holding a Cargo.toml under plugins/ and tests/plugins/.
packages=()
for manifest in plugins/*/Cargo.toml tests/plugins/*/Cargo.toml; do
    [ -f "$manifest" ] || continue
    name="$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n 1)"
    if [ -z "$name" ]; then
        echo "error: no package name in $manifest" >&2
        exit 1
    fi
    packages+=(-p "$name")
done
if [ ${#packages[@]} -eq 0 ]; then
    echo "error: no plugin crates under plugins/ or tests/plugins/" >&2
    exit 1
fi

cargo build --target "$target" --profile plugin "${packages[@]}" "$@"

target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in
    /*) ;;
    *) target_dir="$root/$target_dir" ;;
esac
out="$target_dir/$target/plugin"

echo "plugin components in $out:"
missing=0
for ((i = 1; i < ${#packages[@]}; i += 2)); do
    wasm="$out/${packages[$i]//-/_}.wasm"
    if [ -f "$wasm" ]; then
        printf '  %s (%s bytes)\n' "$wasm" "$(wc -c <"$wasm" | tr -d ' ')"
    else
        echo "  MISSING: $wasm" >&2
        missing=1
    fi
done
exit "$missing"
