#!/usr/bin/env bash
# DNS-01 speed bench: wacme against Debian's lego on one loopback test bed.
#
#   bench/dns01.sh [N]        (N runs of each order per tool, default 5)
#
# Starts one Pebble (PEBBLE_VA_NOSLEEP=1, PEBBLE_AUTHZREUSE=0: every order is
# validated afresh, never served from an earlier run's authorizations) and
# one PowerDNS serving
# example.test through the `testbed` helper (tests/src/bin/testbed.rs, the
# end-to-end tests' own server code), then issues, N times each and
# interleaved (wacme, lego, wacme, lego, …):
#   - apex + wildcard:  example.test, *.example.test
#   - 20 identifiers:   n0..n9.example.test and *.n0..*.n9.example.test
# with the release wacme binary (pdns plugin, default authoritative
# propagation check against the zone's nameserver on the test port) and with
# lego 4.x (pdns provider). Prints each run's time, the medians and the
# lego/wacme ratio. One warm-up run per tool (registering its account) is not
# counted.
#
# What lego is asked to do: `lego --server <pebble dir> --accept-tos --email …
# --path <dir> --dns pdns --dns.resolvers 127.0.0.1:<pdns port>
# --dns.disable-cp -d … run`, with PDNS_API_URL / PDNS_API_KEY and
# LEGO_CA_CERTIFICATES=<Pebble's TLS CA>. `--dns.disable-cp` is needed: lego
# 4.9.1 looks the zone's nameservers up with the system resolver and asks
# them on port 53, where nothing answers here (it hangs, then fails). With
# it, lego's pre-check is one TXT query to the given resolver (which is the
# authoritative PowerDNS itself), i.e. less checking than wacme does. Its
# pdns provider's own settings stay at their defaults (TTL 120, polling 2 s).
#
# Needs: pebble, pdns-server, pdns-backend-sqlite3 (see README.md), the
# wasm32-wasip2 target; installs lego with apt-get when it is missing. Not
# part of CI.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs="${1:-5}"

target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac

echo "building (release wacme, plugins, testbed)…" >&2
cargo build --quiet --release -p wacme
./scripts/build-plugins.sh --quiet >/dev/null
cargo build --quiet -p wacme-tests --bin testbed
wacme="$target_dir/release/wacme"
testbed="$target_dir/debug/testbed"
plugin="$target_dir/wasm32-wasip2/plugin/wacme_plugin_pdns.wasm"

if ! command -v lego >/dev/null 2>&1; then
    echo "installing lego…" >&2
    apt-get install -y -qq lego >/dev/null
fi
lego_version="lego $(dpkg-query -W -f '${Version}' lego 2>/dev/null || lego --version 2>&1 | head -n 1)"

work="$(mktemp -d -t wacme-bench.XXXXXX)"
testbed_pid=""
cleanup() {
    exec 3>&- 2>/dev/null || true
    if [ -n "$testbed_pid" ]; then
        kill "$testbed_pid" 2>/dev/null || true
        wait "$testbed_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The test bed stays up while its stdin (fd 3 here) is open.
mkfifo "$work/testbed.in"
"$testbed" <"$work/testbed.in" >"$work/testbed.env" 2>"$work/testbed.log" &
testbed_pid=$!
exec 3>"$work/testbed.in"
for _ in $(seq 1 600); do
    grep -qx READY "$work/testbed.env" 2>/dev/null && break
    if ! kill -0 "$testbed_pid" 2>/dev/null; then
        echo "testbed failed:" >&2
        cat "$work/testbed.log" >&2
        exit 1
    fi
    sleep 0.1
done
grep -qx READY "$work/testbed.env" || { echo "testbed not ready after 60 s" >&2; exit 1; }
# PEBBLE_DIRECTORY, PEBBLE_CA_CERT, PDNS_API_URL, PDNS_API_KEY, PDNS_DNS, PDNS_DNS_PORT
set -a
# shellcheck disable=SC1091
. <(grep -v '^READY$' "$work/testbed.env")
set +a

mkdir -p "$work/wacme/plugins" "$work/lego"
cp "$plugin" "$work/wacme/plugins/pdns.wasm"

apex=(example.test '*.example.test')
twenty=()
for i in $(seq 0 9); do twenty+=("n$i.example.test" "*.n$i.example.test"); done

run_wacme() {
    local args=()
    for d in "$@"; do args+=(-d "$d"); done
    WACME_STATE_DIR="$work/wacme/state" WACME_PLUGIN_DIR="$work/wacme/plugins" \
        XDG_CACHE_HOME="$work/wacme/cache" XDG_DATA_HOME="$work/wacme/data" \
        XDG_CONFIG_HOME="$work/wacme/config" WACME_PDNS_API_KEY="$PDNS_API_KEY" \
        "$wacme" --quiet issue "${args[@]}" --dns pdns --dns-config "api_url=$PDNS_API_URL" \
        --directory "$PEBBLE_DIRECTORY" --ca-cert "$PEBBLE_CA_CERT" \
        --email admin@example.test --agree-tos \
        --dns-resolver "$PDNS_DNS" --dns-port "$PDNS_DNS_PORT" >"$work/last.log" 2>&1
}

run_lego() {
    local args=()
    for d in "$@"; do args+=(-d "$d"); done
    LEGO_CA_CERTIFICATES="$PEBBLE_CA_CERT" PDNS_API_URL="$PDNS_API_URL" PDNS_API_KEY="$PDNS_API_KEY" \
        lego --server "$PEBBLE_DIRECTORY" --accept-tos --email admin@example.test \
        --path "$work/lego" --dns pdns --dns.resolvers "$PDNS_DNS" --dns.disable-cp \
        "${args[@]}" run >"$work/last.log" 2>&1
}

# Seconds (3 decimals) one run takes; the run must succeed.
timed() {
    local start end
    start=$(date +%s%N)
    if ! "$@"; then
        echo "FAILED: $*" >&2
        cat "$work/last.log" >&2
        exit 1
    fi
    end=$(date +%s%N)
    awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }'
}

median() {
    tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END {
        if (NR % 2) printf "%.3f", v[(NR + 1) / 2];
        else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "warm-up (accounts)…" >&2
timed run_wacme "${apex[@]}" >/dev/null
timed run_lego "${apex[@]}" >/dev/null

declare -A times
for scenario in apex twenty; do
    times[wacme_$scenario]=""
    times[lego_$scenario]=""
done
for i in $(seq 1 "$runs"); do
    for scenario in apex twenty; do
        if [ "$scenario" = apex ]; then names=("${apex[@]}"); else names=("${twenty[@]}"); fi
        w=$(timed run_wacme "${names[@]}")
        l=$(timed run_lego "${names[@]}")
        times[wacme_$scenario]+=" $w"
        times[lego_$scenario]+=" $l"
        printf 'run %d %-6s wacme %6.3f s   lego %6.3f s\n' "$i" "$scenario" "$w" "$l"
    done
done

# No challenge value may be left by either tool.
leftover=$(curl -s -H "X-API-Key: $PDNS_API_KEY" "$PDNS_API_URL/api/v1/servers/localhost/zones/example.test." \
    | grep -o '"type": *"TXT"' | wc -l || true)

echo
echo "wacme $("$wacme" --version | awk '{print $2}') (release) vs $lego_version; $runs runs each; $(nproc) CPUs"
printf '%-22s %10s %10s %12s\n' order "wacme" "lego" "lego/wacme"
for scenario in apex twenty; do
    label="apex + wildcard"
    [ "$scenario" = twenty ] && label="20 identifiers"
    w=$(echo "${times[wacme_$scenario]}" | median)
    l=$(echo "${times[lego_$scenario]}" | median)
    ratio=$(awk -v w="$w" -v l="$l" 'BEGIN { printf "%.1f×", l / w }')
    printf '%-22s %9ss %9ss %12s\n' "$label" "$w" "$l" "$ratio"
done
echo "TXT RRsets left in example.test: $leftover"
