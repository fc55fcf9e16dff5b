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
#   python  plugins/examples/pdns-py built by its build.sh (componentize-py
#           as .ci/run installs it, `requests` and co. pinned, from PyPI); a
#           Python component's compile cost is its bundled interpreter's,
#           whatever the provider code
#
# Per component and run, with a fresh cache: `wacme plugin inspect <file>`
# (a first load: the baseline compiler, Winch on x86-64, + cache write +
# metadata call), the same with the cache filled (cache read + metadata
# call), and `wacme plugin install <file>` with another fresh cache (the
# optimized compile, Cranelift, + metadata call). Reports wall seconds, CPU
# seconds (user + system: compiling uses every core) and peak RSS (GNU time),
# the component's size and its cache entry's size; min / median / max over N.
#
# Then, for each JavaScript / Python component and run (RENEW=0 skips this),
# on the end-to-end tests' bed (Pebble + PowerDNS): `wacme issue` of one name
# with a fresh cache (a first load: the baseline code), then `wacme renew
# --force` twice. The first renewal runs the baseline code and compiles the
# optimized form in the background, waiting for it before it exits; the
# second loads the optimized form. Reports their wall and CPU seconds and
# peak RSS.
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
cleanup() {
    bench_stop_bed
    rm -rf "$work"
}
trap cleanup EXIT

langs=" ${LANGS:-rust js python} "
echo "building the components…" >&2
[ "${langs#* js }" = "$langs" ] || (
    cd plugins/examples/pdns-js
    npm install --silent --no-audit --no-fund --no-package-lock >/dev/null
    npx --no-install componentize-js app.js --wit ../../../wit/v0.2 --world-name dns-provider \
        -o "$work/pdns-js.wasm" >/dev/null
)
[ "${langs#* python }" = "$langs" ] || plugins/examples/pdns-py/build.sh "$work" >/dev/null
cp "$plugin" "$work/pdns.wasm"

# "median (min–max)".
spread() {
    tr ' ' '\n' | awk 'NF' | sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { printf "-"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        if (NR == 1) printf "%g", m; else printf "%g (%g–%g)", m, v[1], v[NR] }'
}
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# `wacme <command> <file>` under GNU time (`inspect`, or `install` into a
# state directory of its own); appends "wall cpu rss_kb" to $2.
timed() {
    local file=$1 out=$2 cache=$3 command=${4:-inspect}
    local extra=()
    [ "$command" = install ] && extra=(--yes)
    /usr/bin/time -f '%e %U %S %M' -o "$work/t" \
        env XDG_CACHE_HOME="$cache" XDG_DATA_HOME="$cache/data" WACME_STATE_DIR="$cache/state" \
        "$wacme" --quiet plugin "$command" "$file" "${extra[@]}" >/dev/null 2>"$work/err" ||
        { echo "wacme plugin $command $file failed:" >&2; cat "$work/err" >&2; exit 1; }
    awk '{ printf "%s %.2f %d\n", $1, $2 + $3, $4 }' "$work/t" >>"$out"
}

echo
echo "wacme $("$wacme" --version | awk '{print $2}') (release); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $runs run(s)"
printf '%-8s %10s %11s | %-20s %-20s %-16s | %-20s %-14s | %-20s %-20s\n' plugin size "cache entry" "first: wall s" "CPU s" "RSS MB" "cached: wall s" "RSS MB" "install: wall s" "CPU s"
for lang in ${LANGS:-rust js python}; do
    case $lang in
        rust) file="$work/pdns.wasm" ;;
        js) file="$work/pdns-js.wasm" ;;
        python) file="$work/pdns-py.wasm" ;;
    esac
    : >"$work/first" ; : >"$work/warm" ; : >"$work/install"
    for run in $(seq 1 "$runs"); do
        cache="$work/cache-$lang-$run"
        timed "$file" "$work/first" "$cache"
        timed "$file" "$work/warm" "$cache"
        timed "$file" "$work/install" "$work/install-$lang-$run" install
    done
    entry=$(find "$work/cache-$lang-1" -name '*.cwasm' -printf '%s\n' | head -1)
    col() { awk -v f="$2" '{ printf "%s ", $f }' "$1"; }
    rss() { awk '{ printf "%.1f ", $3 / 1024 }' "$1"; }
    printf '%-8s %10s %11s | %-20s %-20s %-16s | %-20s %-14s | %-20s %-20s\n' "$lang" \
        "$(mib "$(stat -c %s "$file")")" "$(mib "$entry")" \
        "$(col "$work/first" 1 | spread)" "$(col "$work/first" 2 | spread)" "$(rss "$work/first" | spread)" \
        "$(col "$work/warm" 1 | spread)" "$(rss "$work/warm" | spread)" \
        "$(col "$work/install" 1 | spread)" "$(col "$work/install" 2 | spread)"
done

[ "${RENEW:-1}" = 1 ] || exit 0
langs_renewed=""
for lang in ${LANGS:-rust js python}; do
    case $lang in js | python) langs_renewed="$langs_renewed $lang" ;; esac
done
[ -n "$langs_renewed" ] || exit 0

# One certificate issued with the component, then renewed twice: "wall cpu
# rss_kb" of each renewal appended to $work/renew1 and $work/renew2.
renewals() {
    local file=$1 name=$2 home=$3
    local run_env=(env XDG_CACHE_HOME="$home" XDG_DATA_HOME="$home/data" WACME_STATE_DIR="$home/state"
        WACME_PDNS_JS_API_KEY="$PDNS_API_KEY" WACME_PDNS_PY_API_KEY="$PDNS_API_KEY")
    "${run_env[@]}" "$wacme" --quiet issue -d "$name" --dns "$file" --dns-config "api_url=$PDNS_API_URL" \
        --directory "$PEBBLE_DIRECTORY" --ca-cert "$PEBBLE_CA_CERT" --email admin@example.test --agree-tos \
        --dns-resolver "$PDNS_DNS" --dns-port "$PDNS_DNS_PORT" >/dev/null 2>"$work/err" ||
        { echo "wacme issue with $file failed:" >&2; cat "$work/err" >&2; exit 1; }
    for n in 1 2; do
        /usr/bin/time -f '%e %U %S %M' -o "$work/t" "${run_env[@]}" \
            "$wacme" --quiet renew --cert-name "$name" --force >/dev/null 2>"$work/err" ||
            { echo "wacme renew with $file failed:" >&2; cat "$work/err" >&2; exit 1; }
        awk '{ printf "%s %.2f %d\n", $1, $2 + $3, $4 }' "$work/t" >>"$work/renew$n"
    done
}

mkdir "$work/bed"
bench_start_bed "$work/bed"
echo
echo "renewals after a first load (baseline code): the first compiles the optimized form"
printf '%-8s | %-20s %-20s %-16s | %-20s %-20s %-16s\n' plugin "1st renew: wall s" "CPU s" "RSS MB" \
    "2nd renew: wall s" "CPU s" "RSS MB"
for lang in $langs_renewed; do
    case $lang in
        js) file="$work/pdns-js.wasm" ;;
        python) file="$work/pdns-py.wasm" ;;
    esac
    : >"$work/renew1" ; : >"$work/renew2"
    for run in $(seq 1 "$runs"); do
        renewals "$file" "$lang$run.example.test" "$work/renew-$lang-$run"
    done
    col() { awk -v f="$2" '{ printf "%s ", $f }' "$1"; }
    rss() { awk '{ printf "%.1f ", $3 / 1024 }' "$1"; }
    printf '%-8s | %-20s %-20s %-16s | %-20s %-20s %-16s\n' "$lang" \
        "$(col "$work/renew1" 1 | spread)" "$(col "$work/renew1" 2 | spread)" "$(rss "$work/renew1" | spread)" \
        "$(col "$work/renew2" 1 | spread)" "$(col "$work/renew2" 2 | spread)" "$(rss "$work/renew2" | spread)"
done
