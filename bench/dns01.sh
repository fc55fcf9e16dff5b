#!/usr/bin/env bash
# DNS-01 bench: wacme against Debian's lego on one loopback test bed.
#
#   bench/dns01.sh [N]        (N runs of each scenario per tool, default 5)
#
# Environment:
#   BATCH=200        certificates in the batch scenario (0 skips it)
#   BATCH_JOBS=16    wacme's --jobs for the batch
#   PACE=default     wacme's built-in CA pacing for the batch (80 % of Let's
#                    Encrypt's published request limits, which hold a batch
#                    of single-name certificates to about 30/s); PACE=off
#                    lifts it, so the batch measures wacme and the bed
#   LEGO_BATCH=…     how many of the batch's certificates lego issues (default
#                    all); fewer are timed and scaled up to BATCH, and the
#                    report says so
#   TOOLS="wacme lego"   which tools to run
#   PDNS_SYNC=0      1 keeps PowerDNS's sqlite fsync on every commit (its
#                    default); 0 (the default here) turns it off, see below
#   WACME_ARGS=…     extra `wacme issue` flags for the single-order
#                    scenarios, e.g. --no-dns-batch (one plugin call per name)
#
# Starts one Pebble (PEBBLE_VA_NOSLEEP=1, PEBBLE_AUTHZREUSE=0: every order is
# validated afresh, never served from an earlier run's authorizations) and
# one PowerDNS serving example.test through the `testbed` helper
# (tests/src/bin/testbed.rs, the end-to-end tests' own server code), then
# measures, interleaved (wacme, lego, wacme, lego, …):
#   - apex + wildcard:  example.test, *.example.test (N runs)
#   - 20 identifiers:   n0..n9.example.test and *.n0..*.n9.example.test (N runs)
#   - 100 identifiers:  h0..h49.example.test and their wildcards (N runs,
#     wacme only: lego takes minutes per run)
#   - a batch of BATCH single-name certificates b0..b<BATCH-1>.example.test:
#     wacme in one process (`wacme renew --all --jobs BATCH_JOBS` over a
#     config file listing them, each run in a fresh state directory holding
#     only the account), lego once per certificate in a shell loop, as a user
#     would script it (N runs for wacme, one for lego: it takes long).
# For every run: wall time (process start to exit), peak RSS (GNU time's
# maximum resident set size; for lego's batch the largest of its
# processes), and the requests the CA received (Pebble logs each one).
# Prints every run, then medians (min–max) and the lego/wacme ratios.
#
# PowerDNS's sqlite backend fsyncs every commit by default; on this kind of
# disk that caps the API at a few hundred writes a second, and each
# certificate needs two (publish, remove), so the batch would measure the
# disk. PDNS_SYNC=0 (`gsqlite3-pragma-synchronous=0`) takes the disk out for
# both tools; PDNS_SYNC=1 measures with it.
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
# Needs: pebble, pdns-server, pdns-backend-sqlite3 (see README.md), GNU time
# (/usr/bin/time, package `time`), the wasm32-wasip2 target; installs lego
# and time with apt-get when missing. Not part of CI.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs="${1:-5}"
batch="${BATCH:-200}"
batch_jobs="${BATCH_JOBS:-16}"
pace="${PACE:-default}"
lego_batch="${LEGO_BATCH:-$batch}"
tools="${TOOLS:-wacme lego}"
pdns_sync="${PDNS_SYNC:-0}"
if [ "$lego_batch" -gt "$batch" ]; then lego_batch="$batch"; fi

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_pace_config "$pace" >/dev/null
bench_build

missing=()
command -v lego >/dev/null 2>&1 || missing+=(lego)
[ -x /usr/bin/time ] || missing+=(time)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing ${missing[*]}…" >&2
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
lego_version="lego $(dpkg-query -W -f '${Version}' lego 2>/dev/null || lego --version 2>&1 | head -n 1)"

work="$(mktemp -d -t wacme-bench.XXXXXX)"
cleanup() {
    bench_stop_bed
    rm -rf "$work"
}
trap cleanup EXIT

pdns_settings=()
[ "$pdns_sync" = 1 ] || pdns_settings+=(gsqlite3-pragma-synchronous=0)
bench_start_bed "$work" "${pdns_settings[@]}"

mkdir -p "$work/wacme/plugins" "$work/lego"
cp "$plugin" "$work/wacme/plugins/pdns.wasm"

apex=(example.test '*.example.test')
twenty=()
for i in $(seq 0 9); do twenty+=("n$i.example.test" "*.n$i.example.test"); done
hundred=()
for i in $(seq 0 49); do hundred+=("h$i.example.test" "*.h$i.example.test"); done

# Runs a command, appending its peak RSS (KB) to rss.out.
rss() { /usr/bin/time -f '%M' -a -o "$work/rss.out" "$@"; }

wacme_env() {
    rss env WACME_STATE_DIR="${STATE:-$work/wacme/state}" WACME_PLUGIN_DIR="$work/wacme/plugins" \
        XDG_CACHE_HOME="$work/wacme/cache" XDG_DATA_HOME="$work/wacme/data" \
        XDG_CONFIG_HOME="$work/wacme/config" WACME_PDNS_API_KEY="$PDNS_API_KEY" "$@"
}

run_wacme() {
    local args=()
    for d in "$@"; do args+=(-d "$d"); done
    wacme_env "$wacme" --quiet issue "${args[@]}" --dns pdns --dns-config "api_url=$PDNS_API_URL" \
        --directory "$PEBBLE_DIRECTORY" --ca-cert "$PEBBLE_CA_CERT" \
        --email admin@example.test --agree-tos \
        --dns-resolver "$PDNS_DNS" --dns-port "$PDNS_DNS_PORT" ${WACME_ARGS:-}
}

run_lego() {
    local args=()
    for d in "$@"; do args+=(-d "$d"); done
    rss env LEGO_CA_CERTIFICATES="$PEBBLE_CA_CERT" PDNS_API_URL="$PDNS_API_URL" PDNS_API_KEY="$PDNS_API_KEY" \
        lego --server "$PEBBLE_DIRECTORY" --accept-tos --email admin@example.test \
        --path "$work/lego" --dns pdns --dns.resolvers "$PDNS_DNS" --dns.disable-cp \
        "${args[@]}" run
}

# The batch's config file: every certificate, the CA and DNS settings.
{
    echo '[defaults]'
    echo "directory = \"$PEBBLE_DIRECTORY\""
    echo 'email = ["admin@example.test"]'
    echo 'agree_tos = true'
    echo "ca_cert = [\"$PEBBLE_CA_CERT\"]"
    echo "resolvers = [\"$PDNS_DNS\"]"
    echo "dns_port = $PDNS_DNS_PORT"
    bench_pace_config "$pace"
    for i in $(seq 0 $((batch - 1))); do
        echo
        echo "[certificates.b$i]"
        echo "domains = [\"b$i.example.test\"]"
        echo 'dns = "pdns"'
        echo "dns_config = { api_url = \"$PDNS_API_URL\", api_key = \"env:WACME_PDNS_API_KEY\" }"
    done
} >"$work/batch.toml"

batch_run=0
run_wacme_batch() {
    batch_run=$((batch_run + 1))
    local state="$work/batch-state-$batch_run"
    mkdir -p "$state"
    chmod 700 "$state"
    cp -a "$work/wacme/state/accounts" "$state/"
    STATE="$state" wacme_env "$wacme" --quiet --config "$work/batch.toml" renew --all --jobs "$batch_jobs"
    local issued
    issued=$(find "$state/certs" -mindepth 1 -maxdepth 1 | wc -l)
    # The state stays until the end: removing its ~2,000 files here would
    # slow the next run's file creations (ext4 skips recently deleted
    # inodes one by one; see bench/scale.sh's fs_probe).
    [ "$issued" -eq "$batch" ] || { echo "wacme stored $issued of $batch certificates" >&2; return 1; }
}

run_lego_batch() {
    local i
    for i in $(seq 0 $((lego_batch - 1))); do
        run_lego "b$i.example.test" || return 1
    done
}


# measure TOOL SCENARIO CMD…: runs CMD (which must succeed) and appends
# "tool scenario seconds rss_kb ca_requests" to results; the RSS is the
# largest of the tool's processes.
measure() {
    local tool=$1 scenario=$2 start end before after rss
    shift 2
    : >"$work/rss.out"
    before=$(bench_ca_requests)
    start=$(date +%s%N)
    if ! "$@" >"$work/last.log" 2>&1; then
        echo "FAILED: $tool $scenario" >&2
        cat "$work/last.log" >&2
        exit 1
    fi
    end=$(date +%s%N)
    after=$(bench_ca_requests)
    rss=$(grep -E '^[0-9]+$' "$work/rss.out" | sort -n | tail -n 1)
    local secs
    secs=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }')
    echo "$tool $scenario $secs $rss $((after - before))" >>"$work/results"
    printf '%-6s %-6s %8.3f s  RSS %6d KB  %5d CA requests\n' "$tool" "$scenario" "$secs" "$rss" $((after - before))
}

echo "warm-up (accounts)…" >&2
has() { case " $tools " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
has wacme && { run_wacme "${apex[@]}" >"$work/last.log" 2>&1 || { cat "$work/last.log" >&2; exit 1; }; }
has lego && { run_lego "${apex[@]}" >"$work/last.log" 2>&1 || { cat "$work/last.log" >&2; exit 1; }; }
: >"$work/results"

for i in $(seq 1 "$runs"); do
    for tool in $tools; do
        measure "$tool" apex "run_$tool" "${apex[@]}"
    done
    for tool in $tools; do
        measure "$tool" twenty "run_$tool" "${twenty[@]}"
    done
    if has wacme; then
        measure wacme hundred run_wacme "${hundred[@]}"
    fi
    if [ "$batch" -gt 0 ] && has wacme; then
        measure wacme batch run_wacme_batch
    fi
done
if [ "$batch" -gt 0 ] && has lego; then
    echo "lego batch: $lego_batch certificates, one process each…" >&2
    measure lego batch run_lego_batch
fi

# No challenge value may be left by either tool.
leftover=$(curl -s -H "X-API-Key: $PDNS_API_KEY" "$PDNS_API_URL/api/v1/servers/localhost/zones/example.test." \
    | grep -o '"type": *"TXT"' | wc -l || true)

# "median (min–max)" of numbers, or "-".
spread() {
    tr ' ' '\n' | awk 'NF' | sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { printf "-"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        if (NR == 1) printf "%g", m; else printf "%g (%g–%g)", m, v[1], v[NR] }'
}
median() {
    tr ' ' '\n' | awk 'NF' | sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { printf "-"; exit }
        if (NR % 2) printf "%.3f", v[(NR + 1) / 2];
        else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# col TOOL SCENARIO FIELD: the values of one column (3 time, 4 RSS, 5 CA requests).
col() { awk -v t="$1" -v s="$2" -v f="$3" '$1 == t && $2 == s { printf "%s ", $f }' "$work/results"; }

echo
echo "wacme $("$wacme" --version | awk '{print $2}') (release) vs $lego_version; $runs run(s) each;" \
    "$(nproc) CPUs; PowerDNS fsync per commit: $([ "$pdns_sync" = 1 ] && echo on || echo off)"
printf '%-16s %10s %10s %10s %11s %11s %9s %9s\n' scenario wacme lego lego/wacme "wacme RSS" "lego RSS" "CA wacme" "CA lego"
for scenario in apex twenty hundred batch; do
    case $scenario in
        apex) label="apex + wildcard" ;;
        twenty) label="20 identifiers" ;;
        hundred) label="100 identifiers" ;;
        batch) label="$batch certs"; [ "$batch" -gt 0 ] || continue ;;
    esac
    w=$(col wacme "$scenario" 3 | median)
    l=$(col lego "$scenario" 3 | median)
    if [ "$scenario" = batch ] && [ "$l" != - ] && [ "$lego_batch" -lt "$batch" ]; then
        l=$(awk -v l="$l" -v n="$lego_batch" -v b="$batch" 'BEGIN { printf "%.3f", l * b / n }')
        label="$label (lego ×$batch/$lego_batch)"
    fi
    ratio=-
    if [ "$w" != - ] && [ "$l" != - ]; then ratio=$(awk -v w="$w" -v l="$l" 'BEGIN { printf "%.1f×", l / w }'); fi
    wr=$(col wacme "$scenario" 4 | median)
    lr=$(col lego "$scenario" 4 | median)
    wc_=$(col wacme "$scenario" 5 | median)
    lc=$(col lego "$scenario" 5 | median)
    if [ "$scenario" = batch ]; then
        # Per certificate.
        [ "$wc_" = - ] || wc_=$(awk -v c="$wc_" -v b="$batch" 'BEGIN { printf "%.1f", c / b }')
        [ "$lc" = - ] || lc=$(awk -v c="$lc" -v b="$lego_batch" 'BEGIN { printf "%.1f", c / b }')
    fi
    num() { if [ "$1" = - ]; then echo -; else awk -v v="$1" -v u="${2:-}" 'BEGIN { printf "%g%s", v, u }'; fi; }
    printf '%-16s %10s %10s %10s %11s %11s %9s %9s\n' "$label" "$(num "$w" s)" "$(num "$l" s)" "$ratio" \
        "$(num "$wr" " KB")" "$(num "$lr" " KB")" "$(num "$wc_")" "$(num "$lc")"
done
echo "wacme seconds, median (min–max): apex $(col wacme apex 3 | spread), 20 identifiers" \
    "$(col wacme twenty 3 | spread), 100 identifiers $(col wacme hundred 3 | spread)"
if [ "$batch" -gt 0 ] && has wacme; then
    w=$(col wacme batch 3 | median)
    echo "wacme batch: $(awk -v w="$w" -v b="$batch" 'BEGIN { printf "%.1f", b / w }') certificates/s" \
        "(--jobs $batch_jobs, CA pacing $pace), seconds $(col wacme batch 3 | spread)"
fi
echo "CA requests: per order (apex, 20 identifiers), per certificate (batch); warm-up runs registered the accounts."
echo "TXT RRsets left in example.test: $leftover"
