#!/bin/sh
# Builds lexicon-py.wasm with ../python/build.sh (pinned PyPI dependencies from
# requirements.txt, componentize-py 0.25.1):
#
#   ./build.sh            # -> ./lexicon-py.wasm (build files in ./build/)
#   ./build.sh OUT_DIR    # -> OUT_DIR/lexicon-py.wasm (build files in OUT_DIR/build/)
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
exec sh "$here/../python/build.sh" "$here" "$@"
