//! DNS-01 under field conditions: nameservers with addresses this machine
//! cannot use (no IPv6 route, IPv6 disabled, a refusing or dead address), a
//! second nameserver that is down, a BIND 9 secondary that transfers the
//! zone late, and strict mode; plugins whose cleanup
//! lies or wipes values they did not publish. Real Pebble and
//! PowerDNS; the IPv6 cases run inside a network namespace of their own
//! (see `wacme_tests::netns`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use wacme_tests::dns01::{Bed, show};
use wacme_tests::netns::{self, Ipv6};
use wacme_tests::pdns::PdnsOptions;
use wacme_tests::pebble::PebbleOptions;

/// Exit codes (README's table).
const EXIT_DNS: i32 = 6;
const EXIT_RESIDUE: i32 = 13;

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

/// `wacme issue -d <name>` through the test-only `overwrite` plugin (its
/// present replaces the RRset; its cleanup deletes it, or with
/// `cleanup=nothing` does nothing and reports success).
fn issue_with_overwrite(bed: &Bed, name: &str, config: &[&str]) -> std::process::Output {
    let mut cmd = bed.wacme();
    cmd.args(["issue", "-d", name, "--output", "json"])
        .arg("--dns")
        .arg(wacme_tests::plugin_wasm("overwrite"))
        .args(["--dns-config", &format!("api_url={}", bed.pdns.api_url())]);
    bed.bed_args(&mut cmd)
        .args(["--propagation-timeout", "3s"])
        .env("WACME_OVERWRITE_API_KEY", bed.pdns.api_key());
    for c in config {
        cmd.args(["--dns-config", c]);
    }
    cmd.output().expect("run wacme")
}

/// A cleanup that reports success and removes nothing: the certificate is
/// stored, the values still served are reported (JSON `cleanup_check`),
/// the exit code is 13 and the journal keeps the entry for `wacme cleanup`.
#[tokio::test]
async fn a_cleanup_that_lies_is_caught() {
    let Some(bed) = bed(&[]).await else {
        return;
    };
    let started = Instant::now();
    let out = issue_with_overwrite(&bed, "lie.example.test", &["cleanup=nothing"]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(EXIT_RESIDUE), "{}", show(&out));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let report = json(&out);
    bed.check_certificate("lie.example.test", &["lie.example.test"])
        .await;
    let check = &report["cleanup_check"];
    assert_eq!(check["status"], "failed", "{report}");
    let left = &check["left"][0];
    assert_eq!(left["fqdn"], "_acme-challenge.lie.example.test", "{report}");
    assert_eq!(left["nameserver"], "ns1.example.test", "{report}");
    let served = bed
        .pdns
        .txt_values("_acme-challenge.lie.example.test")
        .await
        .unwrap();
    assert_eq!(left["values"], serde_json::json!(served), "{report}");
    assert_eq!(bed.local.journal_files().len(), 1, "the journal keeps it");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("after cleanup, ns1.example.test still serves"),
        "{stderr}"
    );
}

/// A plugin that deletes the whole RRset wipes a value it never published:
/// reported as `foreign_removed`, exit 13; its own values are gone, so the
/// journal entry goes.
#[tokio::test]
async fn a_cleanup_that_wipes_foreign_values_is_caught() {
    let Some(bed) = bed(&[]).await else {
        return;
    };
    let name = "_acme-challenge.wipe.example.test";
    bed.pdns
        .set_rrset("example.test", name, "TXT", 60, &["\"someone-elses\""])
        .await
        .unwrap();
    let started = Instant::now();
    let out = issue_with_overwrite(&bed, "wipe.example.test", &[]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(EXIT_RESIDUE), "{}", show(&out));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let report = json(&out);
    let check = &report["cleanup_check"];
    assert_eq!(check["status"], "failed", "{report}");
    assert_eq!(
        check["foreign_removed"][0]["values"],
        serde_json::json!(["someone-elses"]),
        "{report}"
    );
    assert!(check.get("left").is_none(), "{report}");
    assert!(bed.local.journal_files().is_empty());
    assert!(bed.pdns.txt_values(name).await.unwrap().is_empty());
}

/// Three certificates that all prove `example.test` (`_acme-challenge.
/// example.test`: apex, wildcard, both) renewed together with `--jobs 8`
/// through the pdns plugin, whose present and cleanup read, merge and
/// replace the RRset. Every run must renew all three and leave nothing,
/// 50 times in a row.
#[tokio::test]
async fn orders_sharing_a_name_renewed_together_keep_each_others_values() {
    const RUNS: usize = 50;
    let options = PebbleOptions::new().authz_reuse(0);
    let Some(bed) = Bed::start_with(PdnsOptions::default(), options).await else {
        return;
    };
    let certificates: [(&str, &[&str]); 3] = [
        ("apex", &["example.test"]),
        ("wild", &["*.example.test"]),
        ("both", &["example.test", "*.example.test"]),
    ];
    for (name, domains) in certificates {
        let out = bed.issue(domains, &["--cert-name", name]);
        assert!(out.status.success(), "{}", show(&out));
    }
    for run in 1..=RUNS {
        let started = Instant::now();
        let out = bed
            .wacme()
            .args([
                "renew", "--all", "--force", "--jobs", "8", "--output", "json",
            ])
            .output()
            .expect("run wacme renew");
        let took = started.elapsed();
        assert!(out.status.success(), "run {run} of {RUNS}: {}", show(&out));
        let report = json(&out);
        assert_eq!(report["renewed"], 3, "run {run}: {report}");
        assert!(took < Duration::from_secs(10), "run {run} took {took:?}");
        bed.assert_clean().await;
    }
    for (name, domains) in certificates {
        bed.check_certificate(name, domains).await;
    }
}

/// Starts `cmd` (an issuance of `name` that waits long for propagation) and
/// kills it with SIGKILL once its values are in the zone.
async fn kill_once_published(bed: &Bed, mut cmd: std::process::Command, name: &str) {
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wacme");
    let record = format!("_acme-challenge.{name}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while bed.pdns.txt_values(&record).await.unwrap().is_empty() {
        assert!(child.try_wait().unwrap().is_none(), "wacme ended early");
        assert!(Instant::now() < deadline, "no value appeared in 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!bed.pdns.txt_values(&record).await.unwrap().is_empty());
    assert_eq!(bed.local.journal_files().len(), 1);
}

/// A certificate whose API key lives only in the config file (a `file:`
/// reference) and whose plugin was found through `--plugin-dir`: after a
/// `kill -9`, a bare `wacme cleanup` finds the plugin, the config file and
/// the secret again from the journal, removes the values and checks they
/// are gone. When the secret cannot be read it says so, names what is
/// left, exits 13 and keeps the entry; `--dns-config` can give the secret.
#[tokio::test]
async fn killed_run_with_config_file_secrets_is_recovered() {
    let Some(bed) = bed(&[]).await else {
        return;
    };
    let name = "kill.example.test";
    let ops = tempfile::tempdir().unwrap();
    let plugins = ops.path().join("plugins-elsewhere");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(
        wacme_tests::plugin_wasm("pdns"),
        plugins.join("pdns-field.wasm"),
    )
    .unwrap();
    let secret = ops.path().join("pdns.key");
    std::fs::write(&secret, format!("{}\n", bed.pdns.api_key())).unwrap();
    let config = ops.path().join("wacme.toml");
    std::fs::write(
        &config,
        format!(
            "[certificates.\"{name}\"]\ndomains = [\"{name}\"]\ndns = \"pdns-field\"\n\
             [certificates.\"{name}\".dns_config]\napi_url = \"{}\"\napi_key = \"file:{}\"\n",
            bed.pdns.api_url(),
            secret.display()
        ),
    )
    .unwrap();
    let issue = || {
        let mut cmd = bed.local.wacme();
        cmd.arg("--config")
            .arg(&config)
            .args(["issue", "--cert-name", name, "--plugin-dir"])
            .arg(&plugins);
        bed.bed_args(&mut cmd).args(["--propagation", "wait:60s"]);
        cmd
    };
    let cleanup = |extra: &[&str]| {
        let started = Instant::now();
        let out = bed
            .local
            .wacme()
            .args(["cleanup", "--output", "json", "--check-timeout", "3s"])
            .args(extra)
            .output()
            .expect("run wacme cleanup");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "cleanup took {took:?}");
        out
    };

    // The secret file is gone when cleanup runs: nothing can be removed.
    kill_once_published(&bed, issue(), name).await;
    std::fs::remove_file(&secret).unwrap();
    let out = cleanup(&[]);
    assert_eq!(out.status.code(), Some(EXIT_RESIDUE), "{}", show(&out));
    let report = json(&out);
    let failed = &report["failed"][0];
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("pdns.key"),
        "names the secret's file: {report}"
    );
    assert!(
        error.contains("ns1.example.test still serves"),
        "names what is left: {report}"
    );
    assert_eq!(
        failed["left"][0]["fqdn"],
        format!("_acme-challenge.{name}"),
        "{report}"
    );
    assert_eq!(bed.local.journal_files().len(), 1, "the entry is kept");

    // With the secret back in place, a bare `wacme cleanup` does it all.
    std::fs::write(&secret, bed.pdns.api_key()).unwrap();
    let out = cleanup(&[]);
    assert!(out.status.success(), "{}", show(&out));
    let report = json(&out);
    assert_eq!(report["cleaned"][0]["verified"], true, "{report}");
    bed.assert_failed_cleanly().await;

    // Killed again; this time the secret is given on the command line.
    kill_once_published(&bed, issue(), name).await;
    std::fs::remove_file(&secret).unwrap();
    let key = format!("api_key={}", bed.pdns.api_key());
    let out = cleanup(&["--dns-config", &key]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(json(&out)["cleaned"][0]["verified"], true);
    bed.assert_failed_cleanly().await;
}

/// The provider refuses the credentials on the first call: nothing was
/// published, so nothing is left to clean and no journal entry stays.
#[tokio::test]
async fn a_run_refused_by_the_provider_leaves_no_journal_entry() {
    let Some(bed) = bed(&[]).await else {
        return;
    };
    let started = Instant::now();
    let out = bed
        .issue_command(&["refused.example.test"], &["--output", "json"])
        .env("WACME_PDNS_API_KEY", "not-the-key")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    assert!(started.elapsed() < Duration::from_secs(5));
    bed.assert_failed_cleanly().await;
}

/// A real secondary: BIND 9 copies the zone from PowerDNS by AXFR, and only
/// `LAG` after the run starts (then every 300 ms). In a network namespace,
/// where 127.0.0.4 can be an interface address for named to listen on. The run waits for it to
/// serve the values (it answers, without them: lagging, not unreachable),
/// and after cleanup waits again until it no longer serves them.
#[tokio::test]
async fn waits_for_a_bind_secondary_that_transfers_late() {
    const LAG: Duration = Duration::from_secs(2);
    if !wacme_tests::bind::available()
        || !netns::isolated(
            "waits_for_a_bind_secondary_that_transfers_late",
            Ipv6::LoopbackOnly,
        )
    {
        return;
    }
    let ns2 = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));
    let Some(bed) = bed(&[("ns2.example.test", ns2)]).await else {
        return;
    };
    let port = bed.pdns.dns_addr().port();
    let bind = std::sync::Arc::new(
        wacme_tests::bind::Bind::secondary(ns2, port, "example.test", bed.pdns.dns_addr())
            .await
            .expect("start named"),
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let transfers = {
        let (bind, stop) = (bind.clone(), stop.clone());
        tokio::spawn(async move {
            tokio::time::sleep(LAG).await;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                bind.transfer().await.expect("zone transfer");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    let domains = ["example.test", "*.example.test"];
    let mut cmd = bed.issue_command(&domains, &["--output", "json"]);
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run wacme"))
        .await
        .unwrap();
    let took = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    transfers.await.unwrap();
    assert!(out.status.success(), "{}\n{}", show(&out), bind.log_tail());
    assert!(
        took >= LAG,
        "did not wait for the secondary: {took:?}: {}",
        show(&out)
    );
    assert!(took < LAG + Duration::from_secs(10), "took {took:?}");
    let report = json(&out);
    let ns2_verdict = verdict(&report, "ns2.example.test");
    assert_eq!(ns2_verdict["status"], "confirmed", "{report}");
    assert_eq!(ns2_verdict["address"], format!("{ns2}:{port}"), "{report}");
    assert_eq!(report["cleanup_check"]["status"], "verified", "{report}");
    bed.check_certificate(report["cert_name"].as_str().unwrap(), &domains)
        .await;
    bed.assert_clean().await;
    bind.transfer().await.unwrap();
    let left = wacme_tests::pdns::txt_values_at(bind.dns_addr(), APEX)
        .await
        .unwrap();
    assert!(left.is_empty(), "the secondary still serves {left:?}");
}
