//! `wacme issue` end to end: real Pebble validating against a real PowerDNS,
//! records published by the pdns WASM plugin. Every successful run's
//! certificate must verify against Pebble's root for exactly the requested
//! names, and no test may leave a TXT value in any zone.
//!
//! Covered: one name; apex + wildcard; 20 identifiers in one order; a
//! CNAME-delegated challenge name in a second zone; two nameservers where
//! one lags; a propagation timeout; a provider failing on the second name
//! (through the fault-injecting proxy); a run killed while it waits, cleaned
//! by `wacme cleanup` or by the next `wacme issue`; bad input refused before
//! any network call.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wacme_tests::dns01::{Bed, Local, ZONE, show, temp_files};
use wacme_tests::faulty::{Faulty, Match, Outcome, Rule};
use wacme_tests::pdns::{Pdns, PdnsOptions};
use wacme_tests::pebble::PebbleOptions;

/// Exit codes of `wacme` (see host/src/exit.rs).
const EXIT_INPUT: i32 = 3;
const EXIT_PLUGIN: i32 = 4;
const EXIT_DNS: i32 = 6;

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(out)))
}

/// Issues `domains` and checks everything a success must leave: exit 0, the
/// certificate for exactly `domains`, no TXT value. Returns the JSON report.
async fn issue_ok(bed: &Bed, domains: &[&str], extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--output", "json"];
    args.extend_from_slice(extra);
    let out = bed.issue(domains, &args);
    assert!(out.status.success(), "{}", show(&out));
    let report = json(&out);
    let cert_name = report["cert_name"].as_str().unwrap().to_string();
    bed.check_certificate(&cert_name, domains).await;
    bed.assert_no_residue().await;
    assert!(bed.local.journal_files().is_empty());
    assert!(temp_files(bed.state()).is_empty());
    report
}

/// The servers a run's JSON says propagation was checked on.
fn checked(report: &serde_json::Value) -> Vec<String> {
    report["propagation"]["checked"]
        .as_array()
        .unwrap_or_else(|| panic!("no propagation.checked in {report}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn one_name() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let report = issue_ok(&bed, &["www.example.test"], &[]).await;
    assert_eq!(report["cert_name"], "www.example.test");
    assert_eq!(report["record_sets"], 1);
    let port = bed.pdns.dns_addr().port();
    assert_eq!(
        checked(&report),
        [format!("ns1.example.test (127.0.0.1:{port})")]
    );
}

#[tokio::test]
async fn apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let report = issue_ok(&bed, &["example.test", "*.example.test"], &[]).await;
    assert_eq!(report["cert_name"], "example.test");
    assert_eq!(report["record_sets"], 1, "apex and wildcard share one name");
}

/// The progress a terminal shows: every identifier goes presenting →
/// propagating n/m → validating → valid, in that order, and the last
/// propagation count of each is complete.
#[tokio::test]
async fn progress_follows_each_identifier() {
    use std::sync::{Arc, Mutex};
    use wacme::dns01::solver::{Interrupt, Progress, ProgressSink, SolverOptions, Step};
    let Some(bed) = Bed::start().await else {
        return;
    };
    let runtime = wacme::plugins::Runtime::new(Default::default()).unwrap();
    let plugin = runtime
        .load_file(&wacme_tests::plugin_wasm("pdns"))
        .await
        .unwrap();
    let api_url = bed.pdns.api_url();
    let config = wacme::plugins::config::Sources::resolve_pairs(
        plugin.metadata(),
        &[
            ("api_url", api_url.as_str()),
            ("api_key", bed.pdns.api_key()),
        ],
    )
    .unwrap();
    let session = plugin.session(&config, &[]).unwrap();
    let dns = wacme::dns01::dns::DnsConfig::new(
        &[bed.pdns.dns_addr().to_string()],
        Some(bed.pdns.dns_addr().port()),
    )
    .unwrap();
    let zones = wacme::dns01::zone::ZoneFinder::new(dns.clone(), None, true);
    let journal = wacme::dns01::journal::Journal::new(bed.state());
    let certs = wacme::workspace::certs::CertStore::new(bed.state());
    let account = bed.pebble.new_account().await.unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let options = SolverOptions {
        progress: ProgressSink::new(move |p| seen.lock().unwrap().push(p)),
        ..Default::default()
    };
    let records = wacme::dns01::records::Records::new();
    let issuer = wacme::engine::issuance::Issuer {
        account: &account,
        session: Some(&session),
        challenge: wacme::engine::ChallengeKind::Dns01,
        zones: &zones,
        dns: &dns,
        journal: &journal,
        certs: &certs,
        options: &options,
        records: &records,
        plugin_arg: "pdns",
        plugin_config: Default::default(),
        secret_keys: Vec::new(),
        plugin_allow: Vec::new(),
        plugin_dirs: Vec::new(),
        config_file: None,
    };
    let names = ["example.test", "*.example.test", "www.example.test"];
    let request = wacme::engine::issuance::IssueRequest {
        domains: wacme::names::parse_domains(&names).unwrap(),
        cert_name: "progress".into(),
        key_type: Default::default(),
        preferred_chain: None,
        profile: None,
        replaces: None,
        extra: Default::default(),
    };
    issuer.issue(&request, &Interrupt::default()).await.unwrap();
    bed.check_certificate("progress", &names).await;

    let events = events.lock().unwrap().clone();
    assert_eq!(events.last(), Some(&Progress::CleaningUp), "{events:?}");
    let rank = |step: &Step| match step {
        Step::Reused => 0,
        Step::Presenting => 1,
        Step::Propagating { .. } => 2,
        Step::Validating => 3,
        Step::Valid => 4,
    };
    for name in names {
        let steps: Vec<&Step> = events
            .iter()
            .filter_map(|e| match e {
                Progress::Identifier { name: n, step } if n == name => Some(step),
                _ => None,
            })
            .collect();
        let ranks: Vec<u8> = steps.iter().map(|s| rank(s)).collect();
        assert!(ranks.is_sorted(), "{name}: {steps:?}");
        for expected in 1..=4 {
            assert!(
                ranks.contains(&expected),
                "{name} lacks step {expected}: {steps:?}"
            );
        }
        let last_propagation = steps
            .iter()
            .rev()
            .find_map(|s| match s {
                Step::Propagating { done, total } => Some((*done, *total)),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            last_propagation,
            (1, 1),
            "{name}: one nameserver, confirmed"
        );
    }
}

/// The first run compiles the plugin and says so; its JSON timings carry
/// the wait and the compile; the next run finds it cached.
#[tokio::test]
async fn the_first_run_reports_compiling_the_plugin() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let out = bed.issue(&["c1.example.test"], &["--output", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("compiling plugin pdns ("), "{stderr}");
    let timings = &json(&out)["timings"];
    let compile = timings["plugin_compile_ms"].as_u64().unwrap();
    assert!(
        timings["plugin_load_ms"].as_u64().unwrap() >= compile,
        "{timings}"
    );

    let out = bed.issue(&["c2.example.test"], &[]);
    assert!(out.status.success(), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("compiling"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("compiled first"), "{stdout}");
    let out = bed.issue(&["c3.example.test"], &["--output", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    let timings = &json(&out)["timings"];
    assert!(timings["plugin_load_ms"].is_u64(), "{timings}");
    assert!(timings.get("plugin_compile_ms").is_none(), "{timings}");
}

#[tokio::test]
async fn twenty_identifiers_in_one_order() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let names: Vec<String> = (0..10)
        .flat_map(|i| [format!("n{i}.example.test"), format!("*.n{i}.example.test")])
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let report = issue_ok(&bed, &names, &[]).await;
    assert_eq!(report["cert_name"], "n0.example.test");
    assert_eq!(report["record_sets"], 10, "one record set per name");
    assert_eq!(report["domains"].as_array().unwrap().len(), 20);
    // The pdns plugin batches: the ten names go out in one GET and one PATCH
    // to present and the same to clean up, where one call per name took
    // forty requests; a loaded machine may split a batch in two.
    let requests = report["provider_requests"].as_u64().unwrap();
    assert!((4..=8).contains(&requests), "{requests} provider requests");
}

/// `--no-dns-batch` (the operator's way around a misbehaving batch
/// endpoint): one call per name, and — with the zone's writes queued —
/// no collision and no retry: exactly one GET and one PATCH per name and
/// operation, which is PowerDNS 4's floor (a PATCH replaces a whole RRset,
/// so a call must read it to keep the values it does not own).
#[tokio::test]
async fn twenty_identifiers_without_batching() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let names: Vec<String> = (0..10)
        .flat_map(|i| [format!("u{i}.example.test"), format!("*.u{i}.example.test")])
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let report = issue_ok(&bed, &names, &["--no-dns-batch"]).await;
    assert_eq!(report["record_sets"], 10, "one record set per name");
    assert_eq!(report["provider_requests"], 40, "{report}");
}

/// 100 identifiers (50 names and their wildcards) in one order: the CA
/// sees at most 2N + 15 requests — each authorization fetched once and its
/// challenge answered once, then the order polled, not every
/// authorization.
#[tokio::test]
async fn a_hundred_identifiers_cost_at_most_2n_plus_15_ca_requests() {
    // No nonce rejections and no authorization reuse: Pebble's own noise
    // (5 % badNonce by default) would count against the client.
    let pebble = PebbleOptions::new().nonce_reject(0).authz_reuse(0);
    let Some(bed) = Bed::start_with(PdnsOptions::default(), pebble).await else {
        return;
    };
    let names: Vec<String> = (0..50)
        .flat_map(|i| [format!("h{i}.example.test"), format!("*.h{i}.example.test")])
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let out = bed.issue(&names, &["--output", "json", "-vv"]);
    assert!(out.status.success(), "{}", show(&out));
    let report = json(&out);
    bed.check_certificate(report["cert_name"].as_str().unwrap(), &names)
        .await;
    bed.assert_clean().await;
    // What the CA saw, by method, resource and problem, for the message.
    let log = String::from_utf8_lossy(&out.stderr);
    let mut kinds = std::collections::BTreeMap::new();
    for line in log.lines().filter(|l| l.contains("ACME request")) {
        let field = |name: &str| {
            line.split(&format!("{name}="))
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .unwrap_or("")
                .to_string()
        };
        let resource = field("url").split('/').nth(3).unwrap_or("").to_string();
        *kinds
            .entry(format!(
                "{} {resource} {}",
                field("method"),
                field("problem")
            ))
            .or_insert(0) += 1;
    }
    let requests = report["ca_requests"].as_u64().unwrap();
    eprintln!("{requests} CA requests, {}: {kinds:?}", report["timings"]);
    assert!(
        requests <= 2 * 100 + 15,
        "{requests} CA requests for 100 identifiers: {kinds:#?}"
    );
}

#[tokio::test]
async fn cname_delegated_into_a_second_zone() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let ns = bed.pdns.dns_addr().ip();
    bed.pdns
        .create_zone("validation.test", &[("ns1.validation.test", ns)])
        .await
        .unwrap();
    bed.pdns
        .set_rrset(
            ZONE,
            "_acme-challenge.example.test",
            "CNAME",
            60,
            &["example-test.validation.test."],
        )
        .await
        .unwrap();
    // A pass-through proxy shows where the plugin wrote.
    let proxy = Faulty::start(&bed.pdns.api_url()).await;
    let domains = ["example.test", "*.example.test", "www.example.test"];
    let out = bed.issue_command_via(&proxy.url(), &domains, &["--output", "json", "-v"]);
    let out = run(out);
    assert!(out.status.success(), "{}", show(&out));
    let report = json(&out);
    bed.check_certificate("example.test", &domains).await;
    bed.assert_no_residue().await;
    assert_eq!(report["record_sets"], 2);
    // The log names where the record was and where it went, once each.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "_acme-challenge.example.test is delegated by CNAME to example-test.validation.test"
        ),
        "{stderr}"
    );

    // PATCHes that went through (PowerDNS's sqlite backend answers 500 to
    // concurrent writes, which the plugin retries).
    let patches: Vec<_> = proxy
        .log()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.outcome == Outcome::Forwarded(204))
        .collect();
    let delegated: Vec<_> = patches
        .iter()
        .filter(|r| r.mentions("example-test.validation.test."))
        .collect();
    assert_eq!(delegated.len(), 2, "present and cleanup: {patches:#?}");
    for r in &delegated {
        assert!(r.uri.ends_with("/zones/validation.test."), "{r:?}");
    }
    assert!(
        !patches
            .iter()
            .any(|r| r.mentions("_acme-challenge.example.test.")),
        "nothing is written at the delegated name itself: {patches:#?}"
    );
    let direct = patches
        .iter()
        .filter(|r| r.mentions("_acme-challenge.www.example.test."))
        .count();
    assert_eq!(direct, 2, "{patches:#?}");
    // The CNAME itself is untouched, and both zones' servers were asked.
    assert_eq!(
        bed.pdns
            .rrset(ZONE, "_acme-challenge.example.test", "CNAME")
            .await
            .unwrap(),
        ["example-test.validation.test."]
    );
    let checked = checked(&report);
    assert!(
        checked
            .iter()
            .any(|s| s.starts_with("ns1.validation.test ("))
            && checked.iter().any(|s| s.starts_with("ns1.example.test (")),
        "{checked:?}"
    );
}

/// A second PowerDNS on 127.0.0.2 sharing the bed's database whose caches
/// hold answers for `cache` seconds.
async fn lagging_secondary(primary: &Pdns, cache: u32) -> Pdns {
    primary
        .start_secondary(PdnsOptions {
            ip: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            cache_ttl: cache,
            negquery_cache_ttl: cache,
            query_cache_ttl: cache,
            ..PdnsOptions::default()
        })
        .await
        .expect("start the second PowerDNS")
}

/// Asks `server` for `name` TXT exactly as wacme's propagation check does
/// (and as tools do in general), so its caches hold "no such name".
async fn prime_negative_cache(server: SocketAddr, name: &str) {
    let qname = wacme::dns01::dns::name(name).unwrap();
    let answer = wacme::dns01::dns::query(
        server,
        &qname,
        hickory_resolver::proto::rr::RecordType::TXT,
        false,
        Duration::from_secs(2),
    )
    .await
    .expect("query the second server");
    assert!(answer.txt_values(&qname).is_empty());
    let values = wacme_tests::pdns::txt_values_at(server, name)
        .await
        .unwrap();
    assert!(values.is_empty(), "{values:?}");
}

#[tokio::test]
async fn waits_for_a_lagging_nameserver() {
    const LAG: u32 = 4;
    let ns2_ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let Some(bed) = Bed::start_full(
        PdnsOptions::default(),
        PebbleOptions::new(),
        &[("ns2.example.test", ns2_ip)],
    )
    .await
    else {
        return;
    };
    let ns2 = lagging_secondary(&bed.pdns, LAG).await;
    let challenge = "_acme-challenge.example.test";
    prime_negative_cache(ns2.dns_addr(), challenge).await;
    let primed = Instant::now();

    // The lag is real: a name primed the same way stays invisible on the
    // second server after the first serves it.
    prime_negative_cache(ns2.dns_addr(), "probe.example.test").await;
    bed.pdns
        .set_rrset(ZONE, "probe.example.test", "TXT", 60, &["\"probe\""])
        .await
        .unwrap();
    assert_eq!(
        bed.pdns.txt_values("probe.example.test").await.unwrap(),
        ["probe"]
    );
    assert!(
        ns2.txt_values("probe.example.test")
            .await
            .unwrap()
            .is_empty()
    );
    bed.pdns
        .set_rrset(ZONE, "probe.example.test", "TXT", 60, &[])
        .await
        .unwrap();

    let report = issue_ok(&bed, &["example.test", "*.example.test"], &[]).await;
    let waited = primed.elapsed();
    // PowerDNS counts cache lifetimes in whole seconds: an entry can expire
    // up to a second before `LAG` has passed.
    assert!(
        waited >= Duration::from_secs(u64::from(LAG) - 1),
        "issuance finished {waited:?} after the second server cached NXDOMAIN for {LAG} s"
    );
    let port = bed.pdns.dns_addr().port();
    let mut want = vec![
        format!("ns1.example.test (127.0.0.1:{port})"),
        format!("ns2.example.test (127.0.0.2:{port})"),
    ];
    want.sort();
    assert_eq!(checked(&report), want);
    assert_eq!(report["propagation"]["servers"], 2);
    assert!(
        report["timings"]["propagation_ms"].as_u64().unwrap() >= 500,
        "{report}"
    );
}

#[tokio::test]
async fn propagation_timeout_names_each_nameserver() {
    let ns2_ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let ns3_ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
    let Some(bed) = Bed::start_full(
        PdnsOptions::default(),
        PebbleOptions::new(),
        &[("ns2.example.test", ns2_ip), ("ns3.example.test", ns3_ip)],
    )
    .await
    else {
        return;
    };
    let port = bed.pdns.dns_addr().port();
    // ns2 lags for a minute; on ns3's address nothing answers.
    let ns2 = lagging_secondary(&bed.pdns, 60).await;
    let _silent = UdpSocket::bind((ns3_ip, port)).expect("bind 127.0.0.3");
    prime_negative_cache(ns2.dns_addr(), "_acme-challenge.example.test").await;

    let started = Instant::now();
    let out = bed.issue(
        &["example.test", "*.example.test"],
        &["--propagation-timeout", "2s"],
    );
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(EXIT_DNS), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not visible on every server"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "ns2.example.test (127.0.0.2:{port}) for _acme-challenge.example.test: answered NXDOMAIN"
        )),
        "{stderr}"
    );
    // ns3 never answers: named with its address, whether it was still being
    // asked at the deadline or already found unreachable.
    assert!(
        stderr.contains(&format!("ns3.example.test (127.0.0.3:{port}) for _acme-challenge.example.test: answered no answer"))
            || stderr.contains(&format!("ns3.example.test could not be reached from here for _acme-challenge.example.test (127.0.0.3:{port}: no answer")),
        "{stderr}"
    );
    assert!(
        !stderr.contains("ns1.example.test"),
        "the server that had the values is not blamed: {stderr}"
    );
    assert!(stderr.contains("--propagation-timeout"), "{stderr}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    bed.assert_failed_cleanly().await;
}

#[tokio::test]
async fn provider_failing_on_the_second_name_cleans_up_the_first() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let proxy = Faulty::start(&bed.pdns.api_url()).await;
    // 422 is PowerDNS's "change rejected": permanent, so not retried (a
    // lasting 500 fails the same way after the plugin's and wacme's retries,
    // only slower).
    proxy.add(Rule::fail(
        Match::mentioning("_acme-challenge.second.example.test.").method("PATCH"),
        422,
    ));
    let out = run(bed.issue_command_via(
        &proxy.url(),
        &["first.example.test", "second.example.test"],
        &[],
    ));
    assert_eq!(out.status.code(), Some(EXIT_PLUGIN), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("injected failure"), "{stderr}");
    assert!(
        stderr.contains("publishing the TXT values of _acme-challenge.second.example.test"),
        "the error names the record: {stderr}"
    );

    // The first name's values were published, then removed.
    let first: Vec<_> = proxy
        .log()
        .into_iter()
        .filter(|r| {
            r.method == "PATCH"
                && r.mentions("_acme-challenge.first.example.test.")
                && r.outcome == Outcome::Forwarded(204)
        })
        .collect();
    assert_eq!(first.len(), 2, "present, then cleanup: {first:#?}");
    assert!(first[0].body.contains("REPLACE"), "{first:#?}");
    assert!(first[1].body.contains("DELETE"), "{first:#?}");
    assert!(
        first.iter().all(|r| r.outcome == Outcome::Forwarded(204)),
        "{first:#?}"
    );
    bed.assert_failed_cleanly().await;
}

#[tokio::test]
async fn transient_provider_errors_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let proxy = Faulty::start(&bed.pdns.api_url()).await;
    proxy.add(Rule::rate_limit(Match::any().method("PATCH"), 1).times(1));
    proxy.add(Rule::fail(Match::any().method("GET"), 503).times(2));
    let domains = ["example.test", "*.example.test"];
    let out = run(bed.issue_command_via(&proxy.url(), &domains, &[]));
    assert!(out.status.success(), "{}", show(&out));
    bed.check_certificate("example.test", &domains).await;
    bed.assert_no_residue().await;
    let injected = proxy
        .log()
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Injected(_)))
        .count();
    assert_eq!(injected, 3);
}

/// Starts `wacme issue … --propagation wait:60s` and kills it (SIGKILL) once
/// its values are in the zone. Returns the values that were left.
async fn kill_while_waiting(bed: &Bed, name: &str) -> Vec<String> {
    let mut child = bed
        .issue_command(&[name], &["--propagation", "wait:60s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wacme");
    let record = format!("_acme-challenge.{name}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let values = loop {
        let values = bed.pdns.rrset(ZONE, &record, "TXT").await.unwrap();
        if !values.is_empty() {
            break values;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "wacme ended before presenting"
        );
        assert!(Instant::now() < deadline, "no value appeared in 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Let the run settle into its wait (the journal is written before).
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    // Killed: the values stay, recorded in the journal; nothing half-written.
    assert_eq!(bed.pdns.rrset(ZONE, &record, "TXT").await.unwrap(), values);
    assert_eq!(bed.local.journal_files().len(), 1);
    let journal = std::fs::read_to_string(&bed.local.journal_files()[0]).unwrap();
    assert!(journal.contains(&record), "{journal}");
    assert!(temp_files(bed.state()).is_empty());
    assert!(bed.local.cert_files().is_empty());
    values
}

#[tokio::test]
async fn killed_run_is_cleaned_by_wacme_cleanup() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    kill_while_waiting(&bed, "crash.example.test").await;
    let out = bed
        .wacme()
        .args(["cleanup", "--output", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let report = json(&out);
    assert_eq!(report["cleaned"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(
        report["cleaned"][0]["names"][0],
        "_acme-challenge.crash.example.test"
    );
    assert!(report["failed"].as_array().unwrap().is_empty(), "{report}");
    bed.assert_failed_cleanly().await;
    // Nothing left to do the second time.
    let out = bed.wacme().arg("cleanup").output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nothing to clean up"),
        "{}",
        show(&out)
    );
}

#[tokio::test]
async fn killed_run_is_cleaned_by_the_next_issue() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    kill_while_waiting(&bed, "crash.example.test").await;
    // Another name: only the stale-journal cleanup can remove crash's values.
    let report = issue_ok(&bed, &["other.example.test"], &[]).await;
    // The JSON says what that cleanup did, checked on the nameservers.
    let cleaned = &report["stale_journal"]["cleaned"];
    assert_eq!(cleaned.as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(
        cleaned[0]["names"][0], "_acme-challenge.crash.example.test",
        "{report}"
    );
    assert_eq!(cleaned[0]["verified"], true, "{report}");
    assert!(
        bed.pdns
            .rrset(ZONE, "_acme-challenge.crash.example.test", "TXT")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!bed.cert_dir("crash.example.test").exists());
}

/// A TCP listener and a UDP socket on one loopback port that record whether
/// anything reached them: the CA, the provider API and the DNS resolver of a
/// run that must not touch the network.
struct Tripwire {
    tcp: TcpListener,
    udp: UdpSocket,
}

impl Tripwire {
    fn new() -> Tripwire {
        let port = wacme_tests::free_port();
        let tcp = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let udp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
        tcp.set_nonblocking(true).unwrap();
        udp.set_nonblocking(true).unwrap();
        Tripwire { tcp, udp }
    }

    fn addr(&self) -> SocketAddr {
        self.tcp.local_addr().unwrap()
    }

    fn touched(&self) -> bool {
        let mut buf = [0u8; 512];
        self.tcp.accept().is_ok() || self.udp.recv(&mut buf).is_ok()
    }
}

/// `wacme issue` whose CA, provider API and resolver are all a tripwire.
fn offline_issue(local: &Local, wire: &Tripwire, domains: &[String], extra: &[&str]) -> Command {
    let mut cmd = local.wacme();
    cmd.arg("issue");
    for d in domains {
        cmd.args(["-d", d]);
    }
    cmd.args(["--dns", "pdns"])
        .args(["--directory", &format!("https://{}/dir", wire.addr())])
        .args(["--email", "admin@example.test", "--agree-tos"])
        .args(["--dns-resolver", &wire.addr().to_string()])
        .args(extra);
    cmd
}

#[test]
fn bad_input_is_refused_before_any_network_call() {
    let local = Local::new();
    let wire = Tripwire::new();
    let api_url = format!("api_url=http://{}", wire.addr());
    let ok_name = vec!["example.test".to_string()];
    let many: Vec<String> = (0..101).map(|i| format!("n{i}.example.test")).collect();
    // (what, domains, extra args, API key in the environment, expected in stderr)
    type Case<'a> = (&'a str, Vec<String>, Vec<&'a str>, bool, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "wildcard inside a name",
            vec!["example.test".into(), "www.*.example.test".into()],
            vec!["--dns-config", &api_url],
            true,
            vec!["www.*.example.test", "whole leftmost label"],
        ),
        (
            "more than 100 names",
            many,
            vec!["--dns-config", &api_url],
            true,
            vec!["101 distinct names", "at most 100"],
        ),
        (
            "unknown config key",
            ok_name.clone(),
            vec!["--dns-config", &api_url, "--dns-config", "api_kye=x"],
            true,
            vec!["api_kye", "api_key"],
        ),
        (
            "missing required key",
            ok_name,
            vec!["--dns-config", &api_url],
            false,
            vec!["api_key", "WACME_PDNS_API_KEY"],
        ),
    ];
    for (what, domains, extra, with_key, expect) in cases {
        let mut cmd = offline_issue(&local, &wire, &domains, &extra);
        if with_key {
            cmd.env("WACME_PDNS_API_KEY", "secret");
        }
        let out = run(cmd);
        assert_eq!(
            out.status.code(),
            Some(EXIT_INPUT),
            "{what}: {}",
            show(&out)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        for e in expect {
            assert!(stderr.contains(e), "{what}: expected {e:?} in {stderr}");
        }
        assert!(!wire.touched(), "{what}: the network was used");
        assert!(local.journal_files().is_empty(), "{what}");
        assert!(local.cert_files().is_empty(), "{what}");
        assert!(temp_files(local.state.path()).is_empty(), "{what}");
    }
    // The tripwire works: a run with good input reaches it.
    let mut cmd = offline_issue(
        &local,
        &wire,
        &["example.test".into()],
        &["--dns-config", &api_url],
    );
    cmd.env("WACME_PDNS_API_KEY", "secret");
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !wire.touched() {
        assert!(
            Instant::now() < deadline,
            "a good run never reached the network"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn run(mut cmd: Command) -> std::process::Output {
    cmd.output().expect("run wacme")
}
