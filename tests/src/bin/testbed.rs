//! `testbed`: starts the DNS-01 test bed (one PowerDNS serving
//! `example.test`, one Pebble validating against it, `PEBBLE_VA_NOSLEEP=1`)
//! for scripts such as `bench/dns01.sh`; `PEBBLE_AUTHZREUSE=0`, so every
//! order's authorizations are validated afresh; prints how to reach it as
//! `KEY=value` lines on stdout, then stays up until it is killed or its
//! standard input closes.
//!
//! The zone's nameserver is `ns1.example.test` (127.0.0.1, an address
//! record in the zone itself); PowerDNS answers on a free port, not 53.
//!
//! Arguments, if any, are extra `pdns.conf` lines (`setting=value`), e.g.
//! `testbed gsqlite3-pragma-synchronous=0`.
//!
//! Lines printed (then `READY`):
//! `PEBBLE_DIRECTORY`, `PEBBLE_CA_CERT` (trust this for Pebble's HTTPS),
//! `PEBBLE_MANAGEMENT`, `PDNS_API_URL`, `PDNS_API_KEY`, `PDNS_DNS`
//! (`127.0.0.1:<port>`), `PDNS_DNS_PORT`, `ZONE`.

use std::io::{Read, Write};
use std::net::IpAddr;
use wacme_tests::pdns::{Pdns, PdnsOptions};
use wacme_tests::pebble::{Pebble, PebbleOptions};

const ZONE: &str = "example.test";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let pdns = Pdns::start_with(PdnsOptions {
        extra_config: std::env::args().skip(1).collect(),
        ..PdnsOptions::default()
    })
    .await?;
    let ns: IpAddr = "127.0.0.1".parse()?;
    pdns.create_zone(ZONE, &[("ns1.example.test", ns)]).await?;
    // No reuse of valid authorizations: every order is validated afresh.
    let pebble = Pebble::start(
        PebbleOptions::new()
            .authz_reuse(0)
            .dns_server(pdns.dns_addr()),
    )?;

    let mut out = std::io::stdout().lock();
    writeln!(out, "PEBBLE_DIRECTORY={}", pebble.directory_url())?;
    writeln!(out, "PEBBLE_CA_CERT={}", pebble.ca_cert_path().display())?;
    writeln!(out, "PEBBLE_MANAGEMENT={}", pebble.management_url())?;
    writeln!(out, "PDNS_API_URL={}", pdns.api_url())?;
    writeln!(out, "PDNS_API_KEY={}", pdns.api_key())?;
    writeln!(out, "PDNS_DNS={}", pdns.dns_addr())?;
    writeln!(out, "PDNS_DNS_PORT={}", pdns.dns_addr().port())?;
    writeln!(out, "ZONE={ZONE}")?;
    writeln!(out, "READY")?;
    out.flush()?;
    drop(out);

    // Up until stdin closes (or a signal ends the process; the servers'
    // handles then kill them on the way out).
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = stdin_closed => {}
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    drop(pebble);
    drop(pdns);
    Ok(())
}
