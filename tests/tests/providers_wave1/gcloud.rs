//! The gcloud plugin (built component) against the fake Google Cloud DNS API
//! and OAuth token endpoint mirroring into PowerDNS: the shared provider
//! battery (conformance, apex + wildcard issuance, a foreign value kept, a
//! key the token endpoint refuses, throttled writes), with the key given as
//! JSON (`GCE_SERVICE_ACCOUNT`) and as a file (`GCE_SERVICE_ACCOUNT_FILE`).

use std::path::PathBuf;

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE, show};
use wacme_tests::fake_gcloud::{ACCOUNT_KEY, FakeGcloud, GcloudOptions, OTHER_KEY};
use wacme_tests::provider_suite::{self as suite, Case, Fake};

/// The key files of one test.
struct Keys {
    _dir: tempfile::TempDir,
    good: PathBuf,
    wrong: PathBuf,
}

fn key_files(fake: &FakeGcloud) -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("key.json");
    let wrong = dir.path().join("other-key.json");
    std::fs::write(&good, fake.key_json(ACCOUNT_KEY)).unwrap();
    std::fs::write(&wrong, fake.key_json(OTHER_KEY)).unwrap();
    Keys {
        _dir: dir,
        good,
        wrong,
    }
}

/// Lines of a PEM's base64 body: none may ever be printed.
fn key_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 40)
        .map(str::to_string)
        .collect()
}

fn base_case(fake: &FakeGcloud) -> Case {
    let mut case = Case::new("gcloud")
        .config("endpoint", &fake.endpoint())
        .config("oauth_url", &fake.token_uri())
        .auth_reason("Invalid JWT Signature.");
    for line in key_lines(ACCOUNT_KEY)
        .into_iter()
        .chain(key_lines(OTHER_KEY))
    {
        case = case.secret(&line);
    }
    case
}

/// The key as a file, as lego's GCE_SERVICE_ACCOUNT_FILE users have it.
fn file_case(fake: &FakeGcloud, keys: &Keys) -> Case {
    base_case(fake)
        .env("GCE_SERVICE_ACCOUNT_FILE", keys.good.to_str().unwrap())
        .wrong_env("GCE_SERVICE_ACCOUNT_FILE", keys.wrong.to_str().unwrap())
}

/// The key's JSON in the environment (GCE_SERVICE_ACCOUNT).
fn json_case(fake: &FakeGcloud) -> Case {
    base_case(fake)
        .secret_env("GCE_SERVICE_ACCOUNT", &fake.key_json(ACCOUNT_KEY))
        .wrong_env("GCE_SERVICE_ACCOUNT", &fake.key_json(OTHER_KEY))
        .env("GCE_PROJECT", wacme_tests::fake_gcloud::PROJECT)
}

async fn start(pdns: &wacme_tests::pdns::Pdns) -> FakeGcloud {
    FakeGcloud::start(pdns, GcloudOptions::new(&[ZONE])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcloud_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    suite::conformance(&pdns, &json_case(&fake), &fake).await;
    assert!(fake.tokens_issued() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcloud_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    let keys = key_files(&fake);
    let out = suite::issues_cleanly(&bed, &file_case(&fake, &keys), &fake).await;
    let requests = fake.requests();
    // One change to add both values, one to remove them; each polled.
    let changes = requests
        .iter()
        .filter(|r| r.starts_with("POST") && r.ends_with("/changes"))
        .count();
    assert_eq!(changes, 2, "{requests:?}\n{}", show(&out));
    assert!(
        requests.iter().any(|r| r.contains("/changes/")),
        "pending changes are polled: {requests:?}"
    );
    // The private zone with the same dnsName fills the first page.
    assert!(
        requests
            .iter()
            .filter(|r| r.starts_with("GET /managedZones"))
            .count()
            >= 4,
        "zone lookup follows nextPageToken: {requests:?}"
    );
    assert!(
        requests.iter().all(|r| !r.contains("private")),
        "the private zone is never touched: {requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcloud_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    let keys = key_files(&fake);
    suite::foreign_value_kept(&bed, &file_case(&fake, &keys), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcloud_wrong_key() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    let keys = key_files(&fake);
    let out = suite::wrong_credential(&bed, &file_case(&fake, &keys), &fake).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("invalid_grant"),
        "{}",
        show(&out)
    );
    assert!(
        fake.requests().iter().all(|r| !r.ends_with("/changes")),
        "nothing written: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcloud_wrong_key_in_the_environment() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::wrong_credential(&bed, &json_case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcloud_rate_limited_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    let keys = key_files(&fake);
    suite::rate_limited_then_retried(&bed, &file_case(&fake, &keys), &fake, 2).await;
    assert_eq!(fake.throttle().served(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcloud_other_project_and_unknown_zone() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    let set = suite::txt_set(suite::CHALLENGE, &["v1"], 30);
    // A project the service account may not use: Cloud DNS's 403.
    let loaded = suite::load(&json_case(&fake).config("project", "someone-else")).await;
    let err = loaded.session.present(&set).await.unwrap_err();
    assert_eq!(
        err.provider_error().map(|p| p.kind),
        Some(ProviderErrorKind::Authentication),
        "{err}"
    );
    assert!(err.to_string().contains("PERMISSION_DENIED"), "{err}");
    // A configured managed zone that does not exist: 404 notFound.
    let loaded = suite::load(&json_case(&fake).config("zone_id", "no-such-zone")).await;
    let err = loaded.session.present(&set).await.unwrap_err();
    assert_eq!(
        err.provider_error().map(|p| p.kind),
        Some(ProviderErrorKind::ZoneNotFound),
        "{err}"
    );
    // The right zone by name works and keeps no more than asked.
    let loaded = suite::load(&json_case(&fake).config("zone_id", "example-test")).await;
    loaded.session.present(&set).await.unwrap();
    assert_eq!(pdns.txt_values(suite::CHALLENGE).await.unwrap(), ["v1"]);
    loaded.session.cleanup(&set).await.unwrap();
    assert!(fake.txt_records().await.is_empty());
    assert!(
        fake.requests()
            .iter()
            .all(|r| !r.starts_with("GET /managedZones ")),
        "a configured zone_id needs no lookup: {:?}",
        fake.requests()
    );
}
