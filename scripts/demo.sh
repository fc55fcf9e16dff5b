#!/usr/bin/env bash
# wacme in two minutes, on this machine, with nothing to sign up for:
#
#   ./scripts/demo.sh
#
# 1. installs Pebble (a test ACME CA) and PowerDNS if they are missing
#    (Debian/Ubuntu, apt-get; as root or through sudo);
# 2. builds wacme, its plugins and the test bed helper (`testbed`, from the
#    wacme-tests crate) in one go (./scripts/build.sh --debug);
# 3. starts Pebble and PowerDNS on loopback, on free ports, with a zone
#    example.test;
# 4. issues a certificate for example.test and *.example.test through the
#    PowerDNS WASM plugin (DNS-01), with a deploy hook;
# 5. shows it (openssl), lists the stored certificates, asks `wacme renew`
#    (not due yet), then renews it with --force;
# 6. stops the servers and removes its temporary state, however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

# Bold headings and dim commands on a terminal; plain text otherwise.
if [ -t 1 ]; then bold=$'\033[1m' dim=$'\033[2m' off=$'\033[0m'; else bold='' dim='' off=''; fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$off"; }
run() {
    printf '%s$ %s%s\n' "$dim" "$*" "$off"
    "$@"
}

# --- 1. dependencies ---------------------------------------------------------
missing=()
command -v pebble >/dev/null 2>&1 || missing+=(pebble)
command -v pdns_server >/dev/null 2>&1 || missing+=(pdns-server)
[ -e /usr/lib/x86_64-linux-gnu/pdns/libgsqlite3backend.so ] \
    || ls /usr/lib/*/pdns/libgsqlite3backend.so >/dev/null 2>&1 \
    || missing+=(pdns-backend-sqlite3)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
    say "Installing ${missing[*]}"
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: install ${missing[*]} (no apt-get here)" >&2
        exit 1
    fi
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || {
            echo "error: run as root, or install sudo, to install ${missing[*]}" >&2
            exit 1
        }
        sudo=(sudo)
    fi
    # Packages must not start system services (PowerDNS on port 53): the
    # demo runs its own servers on free ports.
    policy=/usr/sbin/policy-rc.d
    created_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod +x "$policy"
        created_policy=1
    fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
    [ -n "$created_policy" ] && "${sudo[@]}" rm -f "$policy"
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo is missing: install Rust (https://rustup.rs), then run this again" >&2
    exit 1
fi
# Plugins are WebAssembly components: the one extra Rust target they need.
if command -v rustup >/dev/null 2>&1 \
    && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    say "Adding the Rust target wasm32-wasip2"
    run rustup target add wasm32-wasip2
fi

# --- 2. build ----------------------------------------------------------------
say "Building wacme, its plugins and the test bed helper"
./scripts/build.sh --debug
target="${CARGO_TARGET_DIR:-target}"
wacme="$target/debug/wacme"
testbed="$target/debug/testbed"

# --- 3. servers --------------------------------------------------------------
state="$(mktemp -d -t wacme-demo.XXXXXX)"
tb_pid=
cleanup() {
    status=$?
    if [ -n "$tb_pid" ]; then
        # Closing its stdin stops the test bed (and the servers with it).
        exec {tb_in}>&- 2>/dev/null || true
        kill "$tb_pid" 2>/dev/null || true
        wait "$tb_pid" 2>/dev/null || true
    fi
    rm -rf "$state"
    if [ "$status" -eq 0 ]; then
        say "Done: servers stopped, temporary state removed"
    else
        echo "demo failed (exit $status); servers stopped" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "Starting Pebble and PowerDNS on loopback"
coproc TESTBED { exec "$testbed" 2>"$state/testbed.log"; }
tb_pid=$TESTBED_PID
tb_in=${TESTBED[1]}
declare -A bed=()
while IFS= read -r -t 60 line <&"${TESTBED[0]}"; do
    [ "$line" = READY ] && break
    bed["${line%%=*}"]="${line#*=}"
done
if [ -z "${bed[PEBBLE_DIRECTORY]:-}" ]; then
    echo "error: the test bed did not start:" >&2
    cat "$state/testbed.log" >&2
    exit 1
fi
echo "Pebble:   ${bed[PEBBLE_DIRECTORY]}"
echo "PowerDNS: API ${bed[PDNS_API_URL]}, DNS ${bed[PDNS_DNS]}, zone ${bed[ZONE]}"

export WACME_STATE_DIR="$state/wacme"
export WACME_PDNS_API_KEY="${bed[PDNS_API_KEY]}" # a secret: from the environment, never stored
export XDG_CONFIG_HOME="$state/config"           # ignore any wacme.toml of this user
zone="${bed[ZONE]}"

# --- 4. issue ----------------------------------------------------------------
say "Issuing a certificate for $zone and *.$zone through the PowerDNS WASM plugin"
run "$wacme" issue -d "$zone" -d "*.$zone" \
    --dns pdns --dns-config "api_url=${bed[PDNS_API_URL]}" \
    --directory "${bed[PEBBLE_DIRECTORY]}" --ca-cert "${bed[PEBBLE_CA_CERT]}" \
    --email demo@example.test --agree-tos \
    --dns-resolver "${bed[PDNS_DNS]}" --dns-port "${bed[PDNS_DNS_PORT]}" \
    --deploy-hook 'echo "deploy hook: $WACME_CERT_NAME is at $WACME_FULLCHAIN_PATH"'

# --- 5. show, renew ----------------------------------------------------------
cert="$WACME_STATE_DIR/certs/$zone/cert.pem"
say "The certificate"
run openssl x509 -in "$cert" -noout -subject -issuer -serial -dates -ext subjectAltName

say "Stored certificates"
run "$wacme" certs list

say "Renewal check (a fresh certificate is not due: exit code 10)"
set +e
"$wacme" renew --cert-name "$zone"
code=$?
set -e
echo "exit code $code"
[ "$code" -eq 10 ] || exit 1

say "Renewing anyway (--force), with the parameters stored at issue time"
run "$wacme" renew --cert-name "$zone" --force
run openssl x509 -in "$cert" -noout -serial -dates
