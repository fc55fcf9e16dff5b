//! The acmedns plugin (built component) against a fake acme-dns server that
//! serves its accounts under `auth.acme-dns.test` in the test PowerDNS.
//! `_acme-challenge.example.test` is a CNAME to the account's fulldomain,
//! which wacme follows, as an acme-dns user sets it up.
//!
//! acme-dns keeps the two latest values of an account and has no delete, so
//! a run leaves its two (spent) values behind by design: the issuance tests
//! check exactly that residue, and nothing else. `wacme plugin test` cannot
//! pass for acme-dns: its names are random (no account serves them) and it
//! expects cleanup to remove values. The conformance test pins exactly which
//! cases fail and why.

use std::path::Path;

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE, show};
use wacme_tests::fake_acmedns::{AcmeDnsAccount, FakeAcmeDns};
use wacme_tests::provider_suite::{self as suite, CHALLENGE, Case, Fake};

const ACME_ZONE: &str = "auth.acme-dns.test";
const WRONG_PASSWORD: &str = "wrongwrongwrongwrongwrongwrongwrongwrong";

/// A 43-character value acme-dns accepts (`bad_txt` otherwise).
fn value(tag: &str) -> String {
    format!("{tag:_<43}")
}

/// Starts the fake with its zone in `pdns`, registers an account and CNAMEs
/// `_acme-challenge.example.test` to it.
async fn setup(pdns: &wacme_tests::pdns::Pdns) -> (FakeAcmeDns, AcmeDnsAccount) {
    let ns = format!("ns1.{ACME_ZONE}");
    pdns.create_zone(ACME_ZONE, &[(ns.as_str(), pdns.dns_addr().ip())])
        .await
        .expect("create the acme-dns zone");
    let fake = FakeAcmeDns::start(pdns, ACME_ZONE).await;
    let account = fake.register().await;
    pdns.set_rrset(
        ZONE,
        CHALLENGE,
        "CNAME",
        60,
        &[&format!("{}.", account.fulldomain)],
    )
    .await
    .expect("CNAME the challenge name");
    (fake, account)
}

/// lego's storage file: `{domain: account}`.
fn storage(fake: &FakeAcmeDns, accounts: &[(&str, &AcmeDnsAccount)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = accounts
        .iter()
        .map(|(d, a)| (d.to_string(), a.storage_json(&fake.api_base())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// The accounts file given the lego way (`ACME_DNS_STORAGE_PATH`, read by
/// wacme through its `_FILE` form), the server the lego way too.
fn case(fake: &FakeAcmeDns, file: &Path, account: &AcmeDnsAccount, wrong_file: &Path) -> Case {
    // acme-dns cannot delete: its values stay until the next update
    // displaces them. The plugin's hints say so, and the cleanup check is
    // skipped without `--no-cleanup-check`.
    let case = Case::new("acmedns");
    case.env("ACME_DNS_API_BASE", &fake.api_base())
        .env("ACME_DNS_STORAGE_PATH_FILE", file.to_str().unwrap())
        .secret(&account.password)
        .secret(&account.username)
        .secret(WRONG_PASSWORD)
        .wrong_env("ACME_DNS_STORAGE_PATH_FILE", wrong_file.to_str().unwrap())
        .auth_reason("HTTP 401: forbidden (account of example.test)")
}

struct Files {
    _dir: tempfile::TempDir,
    right: std::path::PathBuf,
    wrong: std::path::PathBuf,
}

fn files(fake: &FakeAcmeDns, account: &AcmeDnsAccount) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let right = dir.path().join("acme-dns-accounts.json");
    std::fs::write(&right, storage(fake, &[(ZONE, account)])).unwrap();
    let mut bad = account.clone();
    bad.password = WRONG_PASSWORD.into();
    let wrong = dir.path().join("wrong.json");
    std::fs::write(&wrong, storage(fake, &[(ZONE, &bad)])).unwrap();
    Files {
        _dir: dir,
        right,
        wrong,
    }
}

/// The TXT values anywhere in PowerDNS are exactly the account's two.
async fn assert_only_the_accounts_values(bed: &Bed, fake: &FakeAcmeDns, account: &AcmeDnsAccount) {
    let held = fake.account(&account.username).await.unwrap().values();
    assert_eq!(held.len(), 2, "apex and wildcard values: {held:?}");
    let mut expected: Vec<String> = held
        .iter()
        .map(|v| format!("{}. \"{v}\"", account.fulldomain))
        .collect();
    expected.sort();
    let mut left = bed.leftover_challenges().await;
    left.sort();
    assert_eq!(left, expected, "no TXT value but the account's own");
    assert_eq!(
        bed.pdns.rrset(ZONE, CHALLENGE, "CNAME").await.unwrap(),
        [format!("{}.", account.fulldomain)],
        "the CNAME is the user's and stays"
    );
}

/// Apex + wildcard through the CNAME; cleanup says why it removes nothing;
/// no credential is printed even at `-vv`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acmedns_issues_through_the_cname() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let (fake, account) = setup(&bed.pdns).await;
    let f = files(&fake, &account);
    let c = case(&fake, &f.right, &account, &f.wrong);
    let out = suite::issue_args(&bed, &c, &c.env, &["-vv"]).await;
    assert!(out.status.success(), "{}", show(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["record_sets"], 1, "{report}");
    assert_eq!(report["cleanup_check"]["status"], "skipped", "{report}");
    assert!(
        report["cleanup_check"]["note"]
            .as_str()
            .is_some_and(|n| n.contains("cannot delete values")),
        "{report}"
    );
    bed.check_certificate(ZONE, &[ZONE, suite::WILDCARD]).await;
    suite::assert_no_secret(&c, &out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nothing to remove") && stderr.contains("acme-dns has no delete"),
        "cleanup says what it does: {}",
        show(&out)
    );
    assert_only_the_accounts_values(&bed, &fake, &account).await;
    assert!(bed.local.journal_files().is_empty());
    assert_eq!(
        fake.requests().iter().filter(|r| *r == "/update").count(),
        2,
        "one update per value: {:?}",
        fake.requests()
    );
}

/// A renewal's values displace the oldest held ones, and nothing else is
/// left: what acme-dns's "two latest" means for renewals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acmedns_renewal_displaces_the_previous_values() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let (fake, account) = setup(&bed.pdns).await;
    let f = files(&fake, &account);
    let c = case(&fake, &f.right, &account, &f.wrong);
    let out = suite::issue(&bed, &c, &c.env).await;
    assert!(out.status.success(), "{}", show(&out));
    let first = fake.account(&account.username).await.unwrap().values();
    let mut renew = bed.wacme();
    renew
        .args(["renew", "--cert-name", ZONE, "--force"])
        .arg("--ca-cert")
        .arg(bed.pebble.ca_cert_path());
    for (k, v) in &c.env {
        renew.env(k, v);
    }
    let out = tokio::process::Command::from(renew).output().await.unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let second = fake.account(&account.username).await.unwrap().values();
    assert_eq!(second.len(), 2);
    // Pebble may reuse still-valid authorizations, so the renewal wrote 0,
    // 1 or 2 values; each displaced the oldest one held (`values()` lists
    // oldest first).
    let new: Vec<&String> = second.iter().filter(|v| !first.contains(v)).collect();
    match new.len() {
        0 => assert_eq!(second, first),
        1 => assert_eq!(second, [first[1].clone(), new[0].clone()]),
        _ => assert!(second.iter().all(|v| !first.contains(v))),
    }
    assert_only_the_accounts_values(&bed, &fake, &account).await;
}

/// Another domain's account (a "foreign" value, acme-dns style) is not
/// touched by a run for example.test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acmedns_leaves_other_accounts_alone() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let (fake, account) = setup(&bed.pdns).await;
    let other = fake.register().await;
    fake.add_foreign(&other.fulldomain, &value("foreign")).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.json");
    std::fs::write(
        &file,
        storage(&fake, &[(ZONE, &account), ("other.test", &other)]),
    )
    .unwrap();
    let c = case(&fake, &file, &account, &file);
    let out = suite::issue(&bed, &c, &c.env).await;
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        fake.account(&other.username).await.unwrap().values(),
        [value("foreign")]
    );
    assert_eq!(
        bed.pdns.txt_values(&other.fulldomain).await.unwrap(),
        [value("foreign")]
    );
    assert_eq!(
        fake.account(&account.username)
            .await
            .unwrap()
            .values()
            .len(),
        2
    );
}

/// A wrong password: exit code 4 with acme-dns's reason on stderr, no
/// credential printed (right or wrong), nothing written, no journal left.
///
/// Not `provider_suite::wrong_credential`: that runs with `--output json`,
/// where the final error goes to stdout only; the battery still finds the
/// reason on stderr for other providers because their cleanup fails too and
/// logs it, while acme-dns's cleanup (which removes nothing) succeeds. Text
/// output puts the error on stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acmedns_wrong_password() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let (fake, account) = setup(&bed.pdns).await;
    let f = files(&fake, &account);
    let c = case(&fake, &f.right, &account, &f.wrong);
    std::fs::copy(
        wacme_tests::plugin_wasm("acmedns"),
        bed.local.plugin_dir.join("acmedns.wasm"),
    )
    .unwrap();
    let mut cmd = bed.wacme();
    cmd.args(["issue", "-vv", "-d", ZONE, "-d", suite::WILDCARD])
        .args(["--dns", "acmedns"]);
    bed.bed_args(&mut cmd);
    for (k, v) in c.wrong_credential_env() {
        cmd.env(k, v);
    }
    let out = tokio::process::Command::from(cmd).output().await.unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&c.auth_reason), "{}", show(&out));
    suite::assert_no_secret(&c, &out);
    bed.assert_failed_cleanly().await;
    assert!(fake.txt_records().await.is_empty());
    assert!(
        fake.account(&account.username)
            .await
            .unwrap()
            .values()
            .is_empty()
    );
}

/// The first update answered 429 (a proxy in front of acme-dns): retried,
/// and the run succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acmedns_rate_limited_update_is_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let (fake, account) = setup(&bed.pdns).await;
    let f = files(&fake, &account);
    let c = case(&fake, &f.right, &account, &f.wrong);
    fake.throttle().next(1);
    let out = suite::issue(&bed, &c, &c.env).await;
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        (fake.throttle().served(), fake.throttle().pending()),
        (1, 0)
    );
    bed.check_certificate(ZONE, &[ZONE, suite::WILDCARD]).await;
    assert_only_the_accounts_values(&bed, &fake, &account).await;
}

/// `wacme plugin test` asks for things acme-dns cannot do. Pinned here so a
/// change in either shows: it fails (exit 4), and exactly these cases fail:
/// - present-one, present-second, present-again, deep-name: the suite's
///   names are random labels of example.test; no acme-dns account serves
///   them (an account serves only its own fulldomain), so present answers
///   zone-not-found;
/// - cleanup-one, cleanup-again: they expect the first value gone and the
///   second served; acme-dns has no delete (and nothing was presented).
///
/// metadata, cleanup-last (nothing served, nothing expected) and
/// unowned-zone (zone-not-found) pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acmedns_conformance_fails_where_acme_dns_cannot_comply() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let (fake, account) = setup(&pdns).await;
    let f = files(&fake, &account);
    let c = case(&fake, &f.right, &account, &f.wrong);
    let out = suite::conformance_output(&pdns, &c).await;
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let passed = |name: &str| {
        report["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no case {name}: {report}"))["passed"]
            == true
    };
    for name in ["metadata", "cleanup-last", "unowned-zone"] {
        assert!(passed(name), "{name}: {report}");
    }
    for name in [
        "present-one",
        "present-second",
        "present-again",
        "cleanup-one",
        "cleanup-again",
        "deep-name",
    ] {
        assert!(!passed(name), "{name}: {report}");
    }
    let detail = report["cases"][1]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("no acme-dns account serves"),
        "present-one says why: {report}"
    );
    suite::assert_no_secret(&c, &out);
    assert!(fake.txt_records().await.is_empty(), "nothing was written");
}

/// Through the runtime: the single-account fields (acme.sh's names), more
/// values than acme-dns keeps, an unknown name, a server_url on another
/// origin, cleanup writing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acmedns_runtime_cases() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let (fake, account) = setup(&pdns).await;
    let single = Case::new("acmedns")
        .config("api_base", &fake.api_base())
        .env("ACMEDNS_USERNAME", &account.username)
        .env("ACMEDNS_PASSWORD", &account.password)
        .env("ACMEDNS_SUBDOMAIN", &account.subdomain);
    let loaded = suite::load(&single).await;
    let s = &loaded.session;
    let (a, b, c) = (value("a"), value("b"), value("c"));
    s.present(&suite::txt_set_in(
        ACME_ZONE,
        &account.fulldomain,
        &[&a, &b],
        1,
    ))
    .await
    .unwrap();
    assert_eq!(
        pdns.txt_values(&account.fulldomain).await.unwrap(),
        [a.clone(), b.clone()]
    );
    let updates = fake.requests().len();
    s.cleanup(&suite::txt_set_in(
        ACME_ZONE,
        &account.fulldomain,
        &[&a, &b],
        1,
    ))
    .await
    .unwrap();
    assert_eq!(fake.requests().len(), updates, "cleanup sends nothing");
    assert_eq!(
        pdns.txt_values(&account.fulldomain).await.unwrap(),
        [a.clone(), b.clone()]
    );

    let err = s
        .present(&suite::txt_set_in(
            ACME_ZONE,
            &account.fulldomain,
            &[&a, &b, &c],
            1,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.provider_error().unwrap().kind,
        ProviderErrorKind::Permanent,
        "{err}"
    );
    assert!(err.to_string().contains("keeps only 2"), "{err}");

    // An accounts map knows only its domains.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.json");
    std::fs::write(&file, storage(&fake, &[(ZONE, &account)])).unwrap();
    let mapped = Case::new("acmedns")
        .config("api_base", &fake.api_base())
        .env(
            "WACME_ACMEDNS_ACCOUNTS",
            &std::fs::read_to_string(&file).unwrap(),
        );
    let err = suite::load(&mapped)
        .await
        .session
        .present(&suite::txt_set(
            "_acme-challenge.www.example.test",
            &[&a],
            60,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.provider_error().unwrap().kind,
        ProviderErrorKind::ZoneNotFound,
        "{err}"
    );
    // Without following the CNAME, the challenge name finds the account too.
    suite::load(&mapped)
        .await
        .session
        .present(&suite::txt_set(CHALLENGE, &[&c], 60))
        .await
        .unwrap();
    assert_eq!(
        pdns.txt_values(&account.fulldomain).await.unwrap(),
        [b.clone(), c.clone()]
    );

    // An account on another server than api_base: the plugin may not reach
    // it, and says so.
    let elsewhere = Case::new("acmedns")
        .config("api_base", "http://127.0.0.2:9")
        .env(
            "WACME_ACMEDNS_ACCOUNTS",
            &std::fs::read_to_string(&file).unwrap(),
        );
    let err = suite::load(&elsewhere)
        .await
        .session
        .present(&suite::txt_set(CHALLENGE, &[&a], 60))
        .await
        .unwrap_err();
    assert_eq!(
        err.provider_error().unwrap().kind,
        ProviderErrorKind::InvalidConfig,
        "{err}"
    );
    assert!(!err.to_string().contains(&account.password));
}
