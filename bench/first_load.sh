#!/usr/bin/env bash
# First-load bench: what a plugin costs the first time wacme meets it
# (compiling it to machine code, writing the compiled-plugin cache) and every
# time after (reading the cache), for a plugin written in each language.
#
#   bench/first_load.sh [N]      (N runs of each, default 3)
#   LANGS="rust js python"       which components
#
# The components:
#   rust    the first-party pdns plugin (plugins/pdns, release build)
#   js      plugins/examples/pdns-js built with componentize-js (pinned in
#           its package.json; `npm install` fetches it from the npm registry)
#   python  tests/plugins/python-raise built with componentize-py (the
#           version .ci/run installs); a Python component's size and compile
#           cost are its bundled interpreter's, whatever the provider code
#
# Per component and run, with a fresh cache: `wacme plugin inspect <file>`
# (compile + cache write + metadata call), then the same with the cache
# filled (cache read + metadata call). Reports wall seconds, CPU seconds
# (user + system: compiling uses every core) and peak RSS (GNU time), the
# component's size and its cache entry's size; min / median / max over N.
#
# Needs: node + npm, componentize-py, GNU time, the wasm32-wasip2 target.
# Not part of CI.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs="${1:-3}"
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_build
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null

work="$(mktemp -d -t wacme-first-load.XXXXXX)"
trap 'rm -rf "$work"' EXIT

langs=" ${LANGS:-rust js python} "
echo "building the components…" >&2
[ "${langs#* js }" = "$langs" ] || (
    cd plugins/examples/pdns-js
    npm install --silent --no-audit --no-fund >/dev/null
    npx --no-install componentize-js app.js --wit ../../../wit/v0.2 --world-name dns-provider \
        -o "$work/pdns-js.wasm" >/dev/null
)
if [ "${langs#* python }" != "$langs" ]; then
    mkdir -p "$work/py"
    cp tests/plugins/python-raise/app.py "$work/py/"
    (cd "$work/py" && componentize-py -d "$root/wit/v0.2" -w dns-provider componentize app \
        -o "$work/python-raise.wasm" >/dev/null)
fi
cp "$plugin" "$work/pdns.wasm"

# "median (min–max)".
spread() {
    tr ' ' '\n' | awk 'NF' | sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { printf "-"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        if (NR == 1) printf "%g", m; else printf "%g (%g–%g)", m, v[1], v[NR] }'
}
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# One `plugin inspect` under GNU time; appends "wall cpu rss_kb" to $2.
timed() {
    local file=$1 out=$2 cache=$3
    /usr/bin/time -f '%e %U %S %M' -o "$work/t" \
        env XDG_CACHE_HOME="$cache" XDG_DATA_HOME="$work/data" WACME_STATE_DIR="$work/state" \
        "$wacme" --quiet plugin inspect "$file" >/dev/null 2>"$work/err" ||
        { echo "wacme plugin inspect $file failed:" >&2; cat "$work/err" >&2; exit 1; }
    awk '{ printf "%s %.2f %d\n", $1, $2 + $3, $4 }' "$work/t" >>"$out"
}

echo
echo "wacme $("$wacme" --version | awk '{print $2}') (release); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $runs run(s)"
printf '%-8s %10s %11s | %-20s %-20s %-16s | %-20s %-14s\n' plugin size "cache entry" "first: wall s" "CPU s" "RSS MB" "cached: wall s" "RSS MB"
for lang in ${LANGS:-rust js python}; do
    case $lang in
        rust) file="$work/pdns.wasm" ;;
        js) file="$work/pdns-js.wasm" ;;
        python) file="$work/python-raise.wasm" ;;
    esac
    : >"$work/first" ; : >"$work/warm"
    for run in $(seq 1 "$runs"); do
        cache="$work/cache-$lang-$run"
        timed "$file" "$work/first" "$cache"
        timed "$file" "$work/warm" "$cache"
    done
    entry=$(find "$work/cache-$lang-1" -name '*.cwasm' -printf '%s\n' | head -1)
    col() { awk -v f="$2" '{ printf "%s ", $f }' "$1"; }
    rss() { awk '{ printf "%.1f ", $3 / 1024 }' "$1"; }
    printf '%-8s %10s %11s | %-20s %-20s %-16s | %-20s %-14s\n' "$lang" \
        "$(mib "$(stat -c %s "$file")")" "$(mib "$entry")" \
        "$(col "$work/first" 1 | spread)" "$(col "$work/first" 2 | spread)" "$(rss "$work/first" | spread)" \
        "$(col "$work/warm" 1 | spread)" "$(rss "$work/warm" | spread)"
done
