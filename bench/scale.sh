#!/usr/bin/env bash
# Scale bench: one `wacme renew --all` over thousands of certificates.
#
#   bench/scale.sh [RUNS]       (default 1)
#
# Environment:
#   CERTS=10000     single-name certificates s0…s<CERTS-1>.example.test
#   PAIRS=0         instead: that many apex + wildcard certificates
#                   p<i>.example.test + *.p<i>.example.test
#   JOBS=4          wacme's --jobs (its default)
#   STALL=30        seconds without a new certificate after which the CA is
#                   taken for stalled: the run is stopped and reported as such
#   WRAP=""         a command to run wacme under, e.g. WRAP="heaptrack -o
#                   /tmp/scale" to see where its memory goes
#   PACE=default    wacme's built-in CA pacing (80 % of Let's Encrypt's
#                   published request limits: about 30 single-name
#                   certificates/s, since each costs about 6 paced requests);
#                   PACE=off lifts it to 10,000 requests/s per endpoint, so
#                   the run measures wacme and the bed's CA, not the pacing
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
# GNU time, the wasm32-wasip2 target). Not part of CI. Prints, before and
# after each run, what creating a file costs on the file system at that
# moment (see fs_probe): batch figures on ext4 depend on it.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs="${1:-1}"
certs="${CERTS:-10000}"
pairs="${PAIRS:-0}"
jobs="${JOBS:-4}"
stall="${STALL:-30}"
pace="${PACE:-default}"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_pace_config "$pace" >/dev/null
bench_build
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null

work="$(mktemp -d -t wacme-scale.XXXXXX)"
cleanup() {
    bench_stop_bed
    rm -rf "$work"
}
trap cleanup EXIT
bench_start_bed "$work" gsqlite3-pragma-synchronous=0

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
    bench_pace_config "$pace"
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

# CPU seconds (user + system) a process has used so far.
cpu_of() {
    [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || { echo 0; return; }
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"
}
pebble_pid=$(pgrep -P "$testbed_pid" -f pebble | head -1 || true)
pdns_pid=$(pgrep -P "$testbed_pid" -f pdns_server | head -1 || true)


# What creating a file costs on this file system right now. On ext4 it
# depends on how many inodes were deleted lately (for 1–6 minutes a deleted
# inode is skipped, one by one, by every allocation in its group): tens of µs
# on a quiet file system, up to a millisecond after a test suite or an
# earlier bench removed thousands of files. wacme creates about 10 files and
# directories per certificate, so this moves the batch figures; the probe's
# files stay until the end (removing them would add to what it measures).
fs_probe() {
    python3 - "$1" <<'PY'
import os, sys, time
d = sys.argv[1]
os.makedirs(d)
t = time.perf_counter()
for i in range(200):
    with open(os.path.join(d, f"f{i}"), "w") as f:
        f.write("x")
print(f"{(time.perf_counter() - t) / 200 * 1e6:.0f}")
PY
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "file system: $(df -T "$work" | awk 'NR == 2 { print $2 }') under $work, creating a file costs $(fs_probe "$work/probe-0") µs"
echo "scenario: $scenario, renew --all --jobs $jobs, CA pacing $pace"
printf '%-4s %9s %8s %8s %9s %9s %6s %s\n' run seconds certs/s rss_MB ca/cert prov/cert left "rss at 10/50/90 % (MB)"
echo "     (cpu: CPU seconds used during the run by wacme, Pebble and PowerDNS)"
for run in $(seq 1 "$runs"); do
    state="$work/state-$run"
    mkdir -p "$state"
    chmod 700 "$state"
    cp -a "$work/account/accounts" "$state/"
    before=$(bench_ca_requests)
    pebble_cpu0=$(cpu_of "$pebble_pid")
    pdns_cpu0=$(cpu_of "$pdns_pid")
    start=$(date +%s.%N)
    /usr/bin/time -f '%M %U %S %e' -o "$work/rss-$run" \
        env WACME_STATE_DIR="$state" WACME_PLUGIN_DIR="$work/plugins" \
        XDG_CACHE_HOME="$work/cache" XDG_DATA_HOME="$work/data" XDG_CONFIG_HOME="$work/config" \
        WACME_PDNS_API_KEY="$PDNS_API_KEY" \
        ${WRAP:-} "$wacme" --quiet --config "$work/scale.toml" renew --all --jobs "$jobs" --output json \
        >"$work/report-$run.json" 2>"$work/stderr-$run" &
    timer=$!
    # Watch: RSS samples at 10/50/90 %, and the stall detector.
    samples=()
    last=0
    tick=0
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
        tick=$((tick + 1))
        if [ $((tick % 10)) -eq 0 ]; then
            echo "$tick s: $done_now" >>"$work/progress-$run"
        fi
        if [ "$done_now" -ne "$last" ]; then
            last=$done_now
            last_change=$now
        elif [ $((now - last_change)) -ge "$stall" ]; then
            stalled="CA stalled: no certificate for ${stall} s after $done_now of $total; stopped"
            # The first interrupt still waits for orders already finalized
            # (their certificates are due); the second gives those up.
            if [ -n "$pid" ]; then
                kill -INT "$pid" 2>/dev/null || true
                sleep 5
                kill -INT "$pid" 2>/dev/null || true
            fi
            break
        fi
    done
    wait "$timer" || true
    end=$(date +%s.%N)
    # GNU time's last line (a killed run has "Command terminated…" first).
    read -r rss_kb user_s sys_s elapsed_s < <(tail -1 "$work/rss-$run")
    cpu_line=$(awk -v w="$(echo "$user_s + $sys_s" | bc -l)" -v k="$sys_s" \
        -v p="$(echo "$(cpu_of "$pebble_pid") - $pebble_cpu0" | bc -l)" \
        -v d="$(echo "$(cpu_of "$pdns_pid") - $pdns_cpu0" | bc -l)" \
        'BEGIN { printf "cpu: wacme %.1f s (%.1f s of it in the kernel), Pebble %.1f s, PowerDNS %.1f s", w, k, p, d }')
    samples="${m10:-?}/${m50:-?}/${m90:-?}"
    unset m10 m50 m90
    issued=$(find "$state/certs" -mindepth 1 -maxdepth 1 | wc -l)
    after=$(bench_ca_requests)
    # wacme's own wall time (GNU time's): the watch loop above wakes once a
    # second, so its end comes up to a second after wacme's.
    seconds=$(echo "$end - $start" | bc -l)
    [ -z "$stalled" ] && [ -n "${elapsed_s:-}" ] && seconds=$elapsed_s
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
    awk -v r="$run" -v s="$seconds" -v n="$issued" -v rss="$rss_kb" \
        -v ca=$((after - before)) -v p="$provider" -v left="$left" -v samples="$samples" \
        'BEGIN { printf "%-4s %9.2f %8.1f %8.1f %9.1f %9.2f %6d %s\n", r, s, n / s, rss / 1024, (n ? ca / n : 0), (n ? p / n : 0), left, samples }'
    echo "     $cpu_line"
    python3 - "$work/report-$run.json" <<'PY' || true
import json, statistics, sys
r = json.load(open(sys.argv[1]))
t = [c["issued"]["timings"] for c in r.get("certificates", []) if c.get("issued")]
if t:
    parts = ["present_ms", "propagation_ms", "validation_ms", "finalize_ms", "total_ms"]
    print("     per certificate, median ms: " + ", ".join(
        f"{p[:-3]} {statistics.median(x[p] for x in t):.0f}" for p in parts))
PY
    if [ -s "$work/progress-$run" ]; then
        echo "     certificates per 10 s: $(awk '{ n = $3 - prev; prev = $3; printf "%s ", n }' "$work/progress-$run")"
    fi
    echo "     file system after the run: creating a file costs $(fs_probe "$work/probe-$run") µs"
    # The state stays until the end: removing thousands of files here would
    # slow the next run's file creations (see fs_probe).
done
