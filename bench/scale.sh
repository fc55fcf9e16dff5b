#!/usr/bin/env bash
# Scale bench: one `wacme renew --all` over thousands of certificates.
#
#   bench/scale.sh [RUNS]       (default 1)
#
# Environment:
#   CERTS=10000     single-name certificates s0…s<CERTS-1>.example.test
#   PAIRS=0         instead: that many apex + wildcard certificates
#                   p<i>.example.test + *.p<i>.example.test
#   JOBS=16         wacme's --jobs
#   STALL=30        seconds without a new certificate after which the CA is
#                   taken for stalled: the run is stopped and reported as such
#
# Starts the end-to-end tests' own bed (tests/src/bin/testbed.rs: Pebble with
# PEBBLE_VA_NOSLEEP=1 and PEBBLE_AUTHZREUSE=0, PowerDNS with sqlite and
# gsqlite3-pragma-synchronous=0), writes a config file listing every
# certificate, registers the account once (uncounted), then per run, in a
# fresh state directory holding only the account: `wacme renew --all --jobs
# JOBS --output json`. Reports per run: wall time, certificates/s, peak RSS
# (GNU time), CA requests per certificate (Pebble's log), provider requests
# per certificate (wacme's report), TXT records left in the zone (must be
# 0), and RSS samples at 10 %, 50 % and 90 % of the certificates (memory must
# stay flat). A run whose CA stops issuing for STALL seconds is stopped and
# reported as stalled, not as thousands of failures.
#
# Needs what bench/dns01.sh needs (pebble, pdns-server, pdns-backend-sqlite3,
# GNU time, the wasm32-wasip2 target). Not part of CI.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs="${1:-1}"
certs="${CERTS:-10000}"
pairs="${PAIRS:-0}"
jobs="${JOBS:-16}"
stall="${STALL:-30}"

target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac

echo "building (release wacme, plugins, testbed)…" >&2
cargo build --quiet --release -p wacme
./scripts/build-plugins.sh --quiet >/dev/null
cargo build --quiet -p wacme-tests --bin testbed
wacme="$target_dir/release/wacme"
testbed="$target_dir/debug/testbed"
plugin="$target_dir/wasm32-wasip2/plugin/wacme_plugin_pdns.wasm"
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null

work="$(mktemp -d -t wacme-scale.XXXXXX)"
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

mkfifo "$work/testbed.in"
"$testbed" gsqlite3-pragma-synchronous=0 <"$work/testbed.in" >"$work/testbed.env" 2>"$work/testbed.log" &
testbed_pid=$!
exec 3>"$work/testbed.in"
for _ in $(seq 1 600); do
    grep -qx READY "$work/testbed.env" 2>/dev/null && break
    kill -0 "$testbed_pid" 2>/dev/null || { cat "$work/testbed.log" >&2; exit 1; }
    sleep 0.1
done
grep -qx READY "$work/testbed.env" || { echo "testbed not ready after 60 s" >&2; exit 1; }
set -a
# shellcheck disable=SC1091
. <(grep -v '^READY$' "$work/testbed.env")
set +a
pebble_log="$(dirname "$PEBBLE_CA_CERT")/pebble.log"

mkdir -p "$work/plugins" "$work/account"
cp "$plugin" "$work/plugins/pdns.wasm"

if [ "$pairs" -gt 0 ]; then
    total="$pairs"
    scenario="$pairs apex + wildcard certificates"
else
    total="$certs"
    scenario="$certs single-name certificates"
fi
{
    echo '[defaults]'
    echo "directory = \"$PEBBLE_DIRECTORY\""
    echo 'email = ["admin@example.test"]'
    echo 'agree_tos = true'
    echo "ca_cert = [\"$PEBBLE_CA_CERT\"]"
    echo "resolvers = [\"$PDNS_DNS\"]"
    echo "dns_port = $PDNS_DNS_PORT"
    for i in $(seq 0 $((total - 1))); do
        echo
        if [ "$pairs" -gt 0 ]; then
            echo "[certificates.p$i]"
            echo "domains = [\"p$i.example.test\", \"*.p$i.example.test\"]"
        else
            echo "[certificates.s$i]"
            echo "domains = [\"s$i.example.test\"]"
        fi
        echo 'dns = "pdns"'
        echo "dns_config = { api_url = \"$PDNS_API_URL\", api_key = \"env:WACME_PDNS_API_KEY\" }"
    done
} >"$work/scale.toml"

wacme_in() {
    local state=$1
    shift
    env WACME_STATE_DIR="$state" WACME_PLUGIN_DIR="$work/plugins" \
        XDG_CACHE_HOME="$work/cache" XDG_DATA_HOME="$work/data" XDG_CONFIG_HOME="$work/config" \
        WACME_PDNS_API_KEY="$PDNS_API_KEY" "$wacme" "$@"
}

# The account, once, uncounted.
chmod 700 "$work/account"
wacme_in "$work/account" --quiet issue -d warmup.example.test --dns pdns \
    --dns-config "api_url=$PDNS_API_URL" --directory "$PEBBLE_DIRECTORY" \
    --ca-cert "$PEBBLE_CA_CERT" --email admin@example.test --agree-tos \
    --dns-resolver "$PDNS_DNS" --dns-port "$PDNS_DNS_PORT" >/dev/null

txt_left() {
    curl -s -H "X-API-Key: $PDNS_API_KEY" \
        "$PDNS_API_URL/api/v1/servers/localhost/zones/example.test." |
        python3 -c 'import json,sys; z=json.load(sys.stdin); print(sum(len(r["records"]) for r in z["rrsets"] if r["type"]=="TXT"))'
}

ca_requests() { grep -c -- '-> calling handler()' "$pebble_log" || true; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "scenario: $scenario, renew --all --jobs $jobs"
printf '%-4s %9s %8s %8s %9s %9s %6s %s\n' run seconds certs/s rss_MB ca/cert prov/cert left "rss at 10/50/90 % (MB)"
for run in $(seq 1 "$runs"); do
    state="$work/state-$run"
    mkdir -p "$state"
    chmod 700 "$state"
    cp -a "$work/account/accounts" "$state/"
    before=$(ca_requests)
    start=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$work/rss-$run" \
        env WACME_STATE_DIR="$state" WACME_PLUGIN_DIR="$work/plugins" \
        XDG_CACHE_HOME="$work/cache" XDG_DATA_HOME="$work/data" XDG_CONFIG_HOME="$work/config" \
        WACME_PDNS_API_KEY="$PDNS_API_KEY" \
        "$wacme" --quiet --config "$work/scale.toml" renew --all --jobs "$jobs" --output json \
        >"$work/report-$run.json" 2>"$work/stderr-$run" &
    timer=$!
    # Watch: RSS samples at 10/50/90 %, and the stall detector.
    samples=()
    last=0
    last_change=$(date +%s)
    stalled=""
    while kill -0 "$timer" 2>/dev/null; do
        sleep 1
        done_now=$(find "$state/certs" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
        pid=$(pgrep -n -f "$wacme --quiet --config $work/scale.toml" || true)
        for mark in 10 50 90; do
            key="m$mark"
            if [ -z "${!key:-}" ] && [ "$done_now" -ge $((total * mark / 100)) ] && [ -n "$pid" ]; then
                printf -v "$key" '%s' "$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status" 2>/dev/null || echo '?')"
            fi
        done
        now=$(date +%s)
        if [ "$done_now" -ne "$last" ]; then
            last=$done_now
            last_change=$now
        elif [ $((now - last_change)) -ge "$stall" ]; then
            stalled="CA stalled: no certificate for ${stall} s after $done_now of $total; stopped"
            [ -n "$pid" ] && kill -INT "$pid"
            break
        fi
    done
    wait "$timer" || true
    end=$(date +%s.%N)
    samples="${m10:-?}/${m50:-?}/${m90:-?}"
    unset m10 m50 m90
    issued=$(find "$state/certs" -mindepth 1 -maxdepth 1 | wc -l)
    after=$(ca_requests)
    seconds=$(echo "$end - $start" | bc -l)
    provider=$(python3 -c 'import json,sys
r=json.load(open(sys.argv[1]))
print(sum((c.get("issued") or {}).get("provider_requests",0) for c in r.get("certificates",[])))' "$work/report-$run.json" 2>/dev/null || echo 0)
    left=$(txt_left)
    if [ -n "$stalled" ]; then
        echo "run $run: $stalled (after $(printf '%.1f' "$seconds") s)"
    elif [ "$issued" -ne "$total" ]; then
        echo "run $run: only $issued of $total certificates stored; see $work/stderr-$run" >&2
        tail -5 "$work/stderr-$run" >&2
    fi
    awk -v r="$run" -v s="$seconds" -v n="$issued" -v rss="$(cat "$work/rss-$run")" \
        -v ca=$((after - before)) -v p="$provider" -v left="$left" -v samples="$samples" \
        'BEGIN { printf "%-4s %9.2f %8.1f %8.1f %9.1f %9.2f %6d %s\n", r, s, n / s, rss / 1024, (n ? ca / n : 0), (n ? p / n : 0), left, samples }'
    python3 - "$work/report-$run.json" <<'PY' || true
import json, statistics, sys
r = json.load(open(sys.argv[1]))
t = [c["issued"]["timings"] for c in r.get("certificates", []) if c.get("issued")]
if t:
    parts = ["present_ms", "propagation_ms", "validation_ms", "finalize_ms", "total_ms"]
    print("     per certificate, median ms: " + ", ".join(
        f"{p[:-3]} {statistics.median(x[p] for x in t):.0f}" for p in parts))
PY
    rm -rf "$state"
done
