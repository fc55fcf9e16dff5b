# Shared by the bench scripts (sourced, not run): building what they measure,
# starting the end-to-end tests' bed, and the CA pacing switch.
#
#   bench_build          release wacme, the plugins and the testbed helper;
#                        sets $wacme, $testbed and $plugin (the pdns component);
#                        WACME_BIN=path runs that wacme instead (e.g. an
#                        earlier build, for a before/after)
#   bench_start_bed DIR [PDNS_SETTING…]
#                        starts tests/src/bin/testbed.rs (Pebble with
#                        PEBBLE_VA_NOSLEEP=1 and PEBBLE_AUTHZREUSE=0, PowerDNS
#                        serving example.test) with its files in DIR, waits
#                        until it is ready and exports PEBBLE_DIRECTORY,
#                        PEBBLE_CA_CERT, PDNS_API_URL, PDNS_API_KEY, PDNS_DNS,
#                        PDNS_DNS_PORT; sets $pebble_log and $testbed_pid.
#                        The bed stays up until bench_stop_bed (or exit).
#   bench_pace_config PACE
#                        prints the config file lines for PACE: nothing for
#                        `default` (wacme's built-in pacing, 80 % of Let's
#                        Encrypt's published limits), a [defaults.ca_rate_limits]
#                        table of 10,000 requests/s per endpoint for `off`
#   bench_ca_requests    requests Pebble has received so far

bench_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

bench_build() {
    local target_dir="${CARGO_TARGET_DIR:-$bench_root/target}"
    case "$target_dir" in /*) ;; *) target_dir="$bench_root/$target_dir" ;; esac
    echo "building (release wacme, plugins, testbed)…" >&2
    (
        cd "$bench_root"
        [ -n "${WACME_BIN:-}" ] || cargo build --quiet --release -p wacme
        ./scripts/build-plugins.sh --quiet >/dev/null
        cargo build --quiet -p wacme-tests --bin testbed
    )
    wacme="${WACME_BIN:-$target_dir/release/wacme}"
    testbed="$target_dir/debug/testbed"
    plugin="$target_dir/wasm32-wasip2/plugin/wacme_plugin_pdns.wasm"
}

testbed_pid=""
bench_stop_bed() {
    exec 3>&- 2>/dev/null || true
    if [ -n "$testbed_pid" ]; then
        kill "$testbed_pid" 2>/dev/null || true
        wait "$testbed_pid" 2>/dev/null || true
        testbed_pid=""
    fi
}

bench_start_bed() {
    local dir=$1
    shift
    # The bed stays up while its stdin (fd 3 here) is open.
    mkfifo "$dir/testbed.in"
    "$testbed" "$@" <"$dir/testbed.in" >"$dir/testbed.env" 2>"$dir/testbed.log" &
    testbed_pid=$!
    exec 3>"$dir/testbed.in"
    for _ in $(seq 1 600); do
        grep -qx READY "$dir/testbed.env" 2>/dev/null && break
        if ! kill -0 "$testbed_pid" 2>/dev/null; then
            echo "testbed failed:" >&2
            cat "$dir/testbed.log" >&2
            return 1
        fi
        sleep 0.1
    done
    grep -qx READY "$dir/testbed.env" || { echo "testbed not ready after 60 s" >&2; return 1; }
    set -a
    # shellcheck disable=SC1091
    . <(grep -v '^READY$' "$dir/testbed.env")
    set +a
    pebble_log="$(dirname "$PEBBLE_CA_CERT")/pebble.log"
}

bench_pace_config() {
    case "$1" in
        default) ;;
        off)
            echo
            echo '[defaults.ca_rate_limits]'
            for kind in new_nonce new_account new_order revoke_cert renewal_info other; do
                echo "$kind = \"10000/s burst 1000\""
            done
            ;;
        *) echo "PACE must be default or off" >&2; return 2 ;;
    esac
}

bench_ca_requests() { grep -c -- '-> calling handler()' "$pebble_log" || true; }
