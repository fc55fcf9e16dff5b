#!/bin/sh
# Builds pdns-py.wasm: installs the pinned pure-Python dependencies
# (requirements.txt, from PyPI) for the component's Python, then runs
# componentize-py on app.py against wacme's WIT (../../../wit/v0.2) and
# wit/world.wit. Needs componentize-py 0.25.1 (pip install
# 'componentize-py==0.25.1') and network access to PyPI on the first build.
#
#   ./build.sh            # -> ./pdns-py.wasm (dependencies in ./site/)
#   ./build.sh OUT_DIR    # -> OUT_DIR/pdns-py.wasm (dependencies in OUT_DIR/site/)
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
export PYTHONDONTWRITEBYTECODE=1
# componentize-py 0.25 embeds CPython 3.14: pure-Python wheels only.
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps \
  --only-binary=:all: --platform any --implementation py --python-version 3.14 \
  --target "$out/site" --upgrade -r "$here/requirements.txt"
cd "$here"
componentize-py -d ../../../wit/v0.2 -d wit -w wacme:example-pdns-py/plugin \
  componentize app -p . -p "$out/site" -o "$out/pdns-py.wasm"
echo "built $out/pdns-py.wasm"
