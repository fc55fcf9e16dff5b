#!/bin/sh
# Builds a Python example plugin (a directory with app.py and
# requirements.txt) into <name>.wasm, <name> being the directory's name:
# installs the pinned pure-Python dependencies from PyPI for the component's
# Python, then runs componentize-py on app.py (with wacme_requests.py beside
# it) against wacme's WIT (wit/v0.2) and ../wit/world.wit. Needs
# componentize-py 0.25.1 (pip install 'componentize-py==0.25.1') and access
# to PyPI on the first build.
#
#   python/build.sh EXAMPLE_DIR            # -> EXAMPLE_DIR/<name>.wasm, build files in EXAMPLE_DIR/build/
#   python/build.sh EXAMPLE_DIR OUT_DIR    # -> OUT_DIR/<name>.wasm, build files in OUT_DIR/build/
set -eu
common="$(cd "$(dirname "$0")" && pwd)"
example="$(cd "$1" && pwd)"
name="$(basename "$example")"
out="${2:-$example}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
build="$out/build"
# componentize-py 0.25 embeds CPython 3.14: pure-Python wheels only.
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps \
  --only-binary=:all: --platform any --implementation py --python-version 3.14 \
  --target "$build/site" --upgrade -r "$example/requirements.txt"
# Built from copies, so that no __pycache__ lands in the source tree.
mkdir -p "$build/src"
cp "$example/app.py" "$common/wacme_requests.py" "$build/src/"
componentize-py -d "$common/../../../wit/v0.2" -d "$common/../wit" \
  -w wacme:examples/provider-with-wasi-http \
  componentize app -p "$build/src" -p "$build/site" -o "$out/$name.wasm"
echo "built $out/$name.wasm"
