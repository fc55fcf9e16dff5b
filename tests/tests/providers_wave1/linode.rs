//! The linode plugin (built component) against the fake Linode API v4
//! mirroring into PowerDNS: the shared provider battery (conformance, apex +
//! wildcard issuance, a foreign value kept, a wrong token, throttled
//! writes), the `X-Filter` lookups, and listing across pages.

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE};
use wacme_tests::fake_linode::{FakeLinode, LinodeOptions};
use wacme_tests::provider_suite::{self as suite, CHALLENGE, Case, Fake};

const TOKEN: &str = "3f9c1a7e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a";
const WRONG: &str = "0000000000000000wrongwrongwrong00000000000000000000000000000000";

fn case(fake: &FakeLinode) -> Case {
    Case::new("linode")
        .config("endpoint", &fake.endpoint())
        .secret_env("LINODE_TOKEN", TOKEN)
        .wrong_env("LINODE_TOKEN", WRONG)
        .auth_reason("Invalid Token")
}

async fn start(pdns: &wacme_tests::pdns::Pdns) -> FakeLinode {
    FakeLinode::start(pdns, LinodeOptions::new(TOKEN, &[ZONE])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linode_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    suite::conformance(&pdns, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linode_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    // The acme.sh name for the token works too.
    let mut c = case(&fake);
    c.env = vec![("LINODE_V4_API_KEY".into(), TOKEN.into())];
    suite::issues_cleanly(&bed, &c, &fake).await;
    let requests = fake.requests();
    let posts = requests.iter().filter(|r| r.starts_with("POST")).count();
    assert_eq!(posts, 2, "one record per value: {requests:?}");
    assert!(
        requests
            .iter()
            .any(|r| r.contains(r#"X-Filter: {"domain":"example.test"}"#)),
        "the domain is looked up by filter: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains("X-Filter: ") && r.contains(r#""name":"_acme-challenge""#)),
        "records are listed by filter: {requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linode_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linode_wrong_token() {
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
async fn linode_rate_limited_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::rate_limited_then_retried(&bed, &case(&fake), &fake, 2).await;
}

/// Present and cleanup through the plugin runtime with two records per
/// page: every value is found across pages, a foreign value stays, the TTL
/// is Linode's smallest step, apex records have an empty name, and an
/// unknown zone is zone-not-found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linode_listing_follows_pages() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let mut options = LinodeOptions::new(TOKEN, &[ZONE]);
    options.max_page_size = 2;
    let fake = FakeLinode::start(&pdns, options).await;
    let loaded = suite::load(&case(&fake)).await;
    let values = ["p1", "p2", "p3", "p4", "p5"];
    let set = suite::txt_set(CHALLENGE, &values, 300);
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
    assert!(fake.records().await.iter().all(|r| r.ttl_sec == 300));
    loaded.session.cleanup(&set).await.unwrap();
    assert_eq!(pdns.txt_values(CHALLENGE).await.unwrap(), ["foreign"]);
    assert_eq!(fake.records().await.len(), 1);

    let apex = suite::txt_set(ZONE, &["at-apex"], 300);
    loaded.session.present(&apex).await.unwrap();
    assert!(fake.records().await.iter().any(|r| r.name.is_empty()));
    assert_eq!(pdns.txt_values(ZONE).await.unwrap(), ["at-apex"]);
    loaded.session.cleanup(&apex).await.unwrap();
    assert!(pdns.txt_values(ZONE).await.unwrap().is_empty());

    let other = suite::txt_set_in(
        "other.invalid",
        "_acme-challenge.other.invalid",
        &["x"],
        300,
    );
    let err = loaded.session.present(&other).await.unwrap_err();
    assert_eq!(
        err.provider_error().map(|p| p.kind),
        Some(ProviderErrorKind::ZoneNotFound),
        "{err}"
    );
}
