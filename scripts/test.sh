#!/usr/bin/env bash
# Runs every test: formatting, lints, unit tests, and the end-to-end tests
# against real Pebble and PowerDNS servers started on loopback.
#
# Needs: the wasm32-wasip2 target, and pebble, pdns-server and
# pdns-backend-sqlite3 installed (.ci/run installs them; on a developer
# machine the server tests are skipped loudly when they are missing).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
# Plugins (wasm components) and the debug binary the CLI tests run.
./scripts/build.sh --debug
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace "$@"
