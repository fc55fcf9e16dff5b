//! DNS-01 under field conditions: nameservers with addresses this machine
//! cannot use (no IPv6 route, IPv6 disabled, a refusing or dead address), a
//! second nameserver that is down, and strict mode. Real Pebble and
//! PowerDNS; the IPv6 cases run inside a network namespace of their own
//! (see `wacme_tests::netns`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use wacme_tests::dns01::{Bed, show};
use wacme_tests::netns::{self, Ipv6};
use wacme_tests::pdns::PdnsOptions;
use wacme_tests::pebble::PebbleOptions;

/// Exit code of a DNS failure (README's table).
const EXIT_DNS: i32 = 6;

const APEX: &str = "_acme-challenge.example.test";

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(out)))
}

async fn bed(more: &[(&str, IpAddr)]) -> Option<Bed> {
    Bed::start_full(PdnsOptions::default(), PebbleOptions::new(), more).await
}

/// Issues apex + wildcard with the default propagation mode; checks the
/// certificate, that nothing is left and how long it took. Returns the JSON
/// report.
async fn issue_quickly(bed: &Bed) -> serde_json::Value {
    let domains = ["example.test", "*.example.test"];
    let started = Instant::now();
    let out = bed.issue(&domains, &["--output", "json"]);
    let took = started.elapsed();
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        took < Duration::from_secs(3),
        "took {took:?}: {}",
        show(&out)
    );
    let report = json(&out);
    bed.check_certificate(report["cert_name"].as_str().unwrap(), &domains)
        .await;
    bed.assert_clean().await;
    report
}

/// The propagation verdict of `nameserver` on the apex challenge name.
fn verdict<'r>(report: &'r serde_json::Value, nameserver: &str) -> &'r serde_json::Value {
    report["propagation"]["nameservers"]
        .as_array()
        .unwrap_or_else(|| panic!("no propagation.nameservers in {report}"))
        .iter()
        .find(|n| n["nameserver"] == nameserver && n["fqdn"] == APEX)
        .unwrap_or_else(|| panic!("no verdict of {nameserver} in {report}"))
}

/// ns1 has an A record that answers and two AAAA records this machine
/// cannot use: one without a route (only loopback exists here) and one
/// refusing (`::1`, where nothing listens). The A address confirms; the
/// others never hold the check up.
#[tokio::test]
async fn unroutable_and_refusing_aaaa_do_not_hold_up_issuance() {
    if !netns::isolated(
        "unroutable_and_refusing_aaaa_do_not_hold_up_issuance",
        Ipv6::LoopbackOnly,
    ) {
        return;
    }
    let unroutable = IpAddr::V6("2001:db8::53".parse().unwrap());
    let refusing = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let Some(bed) = bed(&[
        ("ns1.example.test", unroutable),
        ("ns1.example.test", refusing),
    ])
    .await
    else {
        return;
    };
    let report = issue_quickly(&bed).await;
    let ns1 = verdict(&report, "ns1.example.test");
    assert_eq!(ns1["status"], "confirmed", "{report}");
    assert_eq!(
        ns1["address"],
        bed.pdns.dns_addr().to_string(),
        "only the A address can confirm: {report}"
    );
}

/// No IPv6 at all (as in Docker's default network): ns1's AAAA address
/// cannot even be connected to, and ns2 has only an AAAA address. ns1
/// confirms by its A address; ns2 is reported unreachable, by name, and
/// not waited for.
#[tokio::test]
async fn without_ipv6_an_aaaa_only_nameserver_is_reported_not_waited_for() {
    if !netns::isolated(
        "without_ipv6_an_aaaa_only_nameserver_is_reported_not_waited_for",
        Ipv6::Disabled,
    ) {
        return;
    }
    let Some(bed) = bed(&[
        (
            "ns1.example.test",
            IpAddr::V6("2001:db8::53".parse().unwrap()),
        ),
        (
            "ns2.example.test",
            IpAddr::V6("2001:db8::54".parse().unwrap()),
        ),
    ])
    .await
    else {
        return;
    };
    let report = issue_quickly(&bed).await;
    assert_eq!(verdict(&report, "ns1.example.test")["status"], "confirmed");
    let ns2 = verdict(&report, "ns2.example.test");
    assert_eq!(ns2["status"], "unreachable", "{report}");
    let detail = ns2["detail"].to_string();
    assert!(detail.contains("2001:db8::54"), "{report}");
}

/// A second nameserver that refuses every connection (nothing listens on
/// its address): the default mode issues at once and names it; strict mode
/// fails within its deadline, naming it.
#[tokio::test]
async fn dead_second_nameserver_is_named_and_fails_only_strict_mode() {
    let dead = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
    let Some(bed) = bed(&[("ns2.example.test", dead)]).await else {
        return;
    };
    let port = bed.pdns.dns_addr().port();
    let report = issue_quickly(&bed).await;
    assert_eq!(verdict(&report, "ns1.example.test")["status"], "confirmed");
    let ns2 = verdict(&report, "ns2.example.test");
    assert_eq!(ns2["status"], "unreachable", "{report}");
    assert!(
        ns2["detail"]
            .to_string()
            .contains(&format!("127.0.0.3:{port}")),
        "{report}"
    );

    // Text output says so too (a new name: the CA would reuse the apex's
    // authorization and nothing would be checked).
    let out = bed.issue(&["text.example.test"], &[]);
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("note: nameserver ns2.example.test could not be reached from here"),
        "{stdout}"
    );
    assert!(stdout.contains("authoritative-strict"), "{stdout}");

    let started = Instant::now();
    let out = bed.issue(
        &["strict.example.test"],
        &[
            "--propagation",
            "authoritative-strict",
            "--propagation-timeout",
            "2s",
        ],
    );
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(EXIT_DNS), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "ns2.example.test (127.0.0.3:{port}) for _acme-challenge.strict.example.test: answered"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("ns1.example.test"), "{stderr}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    bed.assert_clean().await;
}
