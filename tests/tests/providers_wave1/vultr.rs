//! The vultr plugin (built component) against the fake Vultr API v2
//! mirroring into PowerDNS: the shared provider battery (conformance, apex +
//! wildcard issuance, a foreign value kept, a wrong key, throttled writes),
//! and listing across cursor pages.

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE};
use wacme_tests::fake_vultr::{FakeVultr, VultrOptions};
use wacme_tests::provider_suite::{self as suite, CHALLENGE, Case, Fake};

const KEY: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCD";
const WRONG: &str = "WRONGWRONGWRONGWRONGWRONGWRONG234567";

fn case(fake: &FakeVultr) -> Case {
    Case::new("vultr")
        .config("endpoint", &fake.endpoint())
        .secret_env("VULTR_API_KEY", KEY)
        .wrong_env("VULTR_API_KEY", WRONG)
        .auth_reason("Invalid API token.")
}

async fn start(pdns: &wacme_tests::pdns::Pdns) -> FakeVultr {
    FakeVultr::start(pdns, VultrOptions::new(KEY, &[ZONE])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vultr_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    suite::conformance(&pdns, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vultr_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::issues_cleanly(&bed, &case(&fake), &fake).await;
    let posts = fake
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST"))
        .count();
    assert_eq!(posts, 2, "one record per value: {:?}", fake.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vultr_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vultr_wrong_key() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::wrong_credential(&bed, &case(&fake), &fake).await;
    assert!(
        fake.requests().iter().all(|r| r.starts_with("GET")),
        "nothing written: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vultr_rate_limited_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::rate_limited_then_retried(&bed, &case(&fake), &fake, 2).await;
}

/// Present and cleanup through the plugin runtime with two records per
/// page: every value is found across cursor pages (past the domain's NS
/// and A records), values are stored quoted, a foreign value stays, and an
/// unknown zone is zone-not-found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vultr_listing_follows_cursors() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let mut options = VultrOptions::new(KEY, &[ZONE]);
    options.max_per_page = 2;
    let fake = FakeVultr::start(&pdns, options).await;
    let loaded = suite::load(&case(&fake)).await;
    let values = ["p1", "p2", "p3", "p4", "p5"];
    let set = suite::txt_set(CHALLENGE, &values, 120);
    fake.add_foreign(CHALLENGE, "foreign").await;
    loaded.session.present(&set).await.unwrap();
    loaded.session.present(&set).await.unwrap();
    let requests = fake.requests();
    let posts = requests.iter().filter(|r| r.starts_with("POST")).count();
    assert_eq!(posts, 5, "the second present found all 5 across pages");
    assert!(
        requests.iter().filter(|r| r.contains("cursor=")).count() >= 4,
        "{requests:?}"
    );
    assert!(
        fake.records()
            .await
            .iter()
            .all(|r| r.data.starts_with('"') && r.data.ends_with('"'))
    );
    loaded.session.cleanup(&set).await.unwrap();
    assert_eq!(pdns.txt_values(CHALLENGE).await.unwrap(), ["foreign"]);
    assert_eq!(fake.records().await.len(), 1);

    let other = suite::txt_set_in(
        "other.invalid",
        "_acme-challenge.other.invalid",
        &["x"],
        120,
    );
    let err = loaded.session.present(&other).await.unwrap_err();
    assert_eq!(
        err.provider_error().map(|p| p.kind),
        Some(ProviderErrorKind::ZoneNotFound),
        "{err}"
    );
}
