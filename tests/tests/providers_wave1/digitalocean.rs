//! The digitalocean plugin (built component) against the fake DigitalOcean
//! API mirroring into PowerDNS: the shared provider battery (conformance,
//! apex + wildcard issuance, a foreign value kept, a wrong token, throttled
//! writes), and listing across pages.

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE};
use wacme_tests::fake_digitalocean::{DigitalOceanOptions, FakeDigitalOcean};
use wacme_tests::provider_suite::{self as suite, CHALLENGE, Case, Fake};

const TOKEN: &str = "dop_v1_5a1e0f3c9b7d4e2a8c6f1b3d5e7a9c0b";
const WRONG: &str = "dop_v1_0000wrong1111token2222aaaa3333";

fn case(fake: &FakeDigitalOcean) -> Case {
    Case::new("digitalocean")
        .config("endpoint", &fake.endpoint())
        .secret_env("DO_AUTH_TOKEN", TOKEN)
        .wrong_env("DO_AUTH_TOKEN", WRONG)
        .auth_reason("Unable to authenticate you.")
}

async fn start(pdns: &wacme_tests::pdns::Pdns) -> FakeDigitalOcean {
    FakeDigitalOcean::start(pdns, DigitalOceanOptions::new(TOKEN, &[ZONE])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digitalocean_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    suite::conformance(&pdns, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digitalocean_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::issues_cleanly(&bed, &case(&fake), &fake).await;
    let posts: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("POST"))
        .collect();
    assert_eq!(
        posts.len(),
        2,
        "one record per value: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digitalocean_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digitalocean_wrong_token() {
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
async fn digitalocean_rate_limited_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::rate_limited_then_retried(&bed, &case(&fake), &fake, 2).await;
}

/// Present and cleanup through the plugin runtime with two records per
/// page: every value is found across pages, a foreign value stays, the TTL
/// is the API's minimum, and an unknown zone is zone-not-found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digitalocean_listing_follows_pages() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let mut options = DigitalOceanOptions::new(TOKEN, &[ZONE]);
    options.max_per_page = 2;
    let fake = FakeDigitalOcean::start(&pdns, options).await;
    let loaded = suite::load(&case(&fake)).await;
    let values = ["p1", "p2", "p3", "p4", "p5"];
    let set = suite::txt_set(CHALLENGE, &values, 30);
    fake.add_foreign(CHALLENGE, "foreign").await;
    loaded.session.present(&set).await.unwrap();
    loaded.session.present(&set).await.unwrap();
    let posts = fake
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST"))
        .count();
    assert_eq!(posts, 5, "the second present found all 5 across pages");
    assert!(
        fake.requests().iter().any(|r| r.contains("page=3")),
        "{:?}",
        fake.requests()
    );
    assert!(
        fake.records()
            .await
            .iter()
            .all(|r| r.ttl == 30 || r.data == "foreign")
    );
    loaded.session.cleanup(&set).await.unwrap();
    assert_eq!(pdns.txt_values(CHALLENGE).await.unwrap(), ["foreign"]);
    assert_eq!(fake.records().await.len(), 1);

    let other = suite::txt_set_in("other.invalid", "_acme-challenge.other.invalid", &["x"], 30);
    let err = loaded.session.present(&other).await.unwrap_err();
    assert_eq!(
        err.provider_error().map(|p| p.kind),
        Some(ProviderErrorKind::ZoneNotFound),
        "{err}"
    );
}
