//! The porkbun plugin (built component) against the fake Porkbun API
//! mirroring into PowerDNS: the shared provider battery (conformance, apex +
//! wildcard issuance, a foreign value kept, a wrong key, throttled writes),
//! and at the plugin level: one record per missing value, only its own
//! records deleted, the apex as an empty subdomain, the domain found above
//! a delegated-looking zone, and the error cases.

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE};
use wacme_tests::fake_porkbun::FakePorkbun;
use wacme_tests::pdns::Pdns;
use wacme_tests::provider_suite::{self as suite, CHALLENGE, Case, Fake};

const KEY: &str = "pk1_4e5f6a7b8c9d0e1f";
const SECRET: &str = "sk1_a1b2c3d4e5f6a7b8";
const WRONG: &str = "sk1_wrong0000wrong1111";

fn case(fake: &FakePorkbun) -> Case {
    Case::new("porkbun")
        .config("endpoint", &fake.endpoint())
        .secret_env("PORKBUN_API_KEY", KEY)
        .secret_env("PORKBUN_SECRET_API_KEY", SECRET)
        .wrong_env("PORKBUN_SECRET_API_KEY", WRONG)
        .auth_reason("Invalid API key. (002)")
}

async fn start(pdns: &Pdns) -> FakePorkbun {
    FakePorkbun::start(pdns, KEY, SECRET, &[ZONE]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn porkbun_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    suite::conformance(&pdns, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn porkbun_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::issues_cleanly(&bed, &case(&fake), &fake).await;
    let requests = fake.requests();
    let creates = requests
        .iter()
        .filter(|r| r.contains("/dns/create/"))
        .count();
    let deletes = requests
        .iter()
        .filter(|r| r.contains("/dns/delete/"))
        .count();
    assert_eq!(
        (creates, deletes),
        (2, 2),
        "one record per value: {requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn porkbun_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn porkbun_wrong_secret() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::wrong_credential(&bed, &case(&fake), &fake).await;
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.contains("/retrieveByNameType/")),
        "nothing written: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn porkbun_throttled_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::rate_limited_then_retried(&bed, &case(&fake), &fake, 2).await;
    assert_eq!(fake.rate_limited_served(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn porkbun_plugin_adds_only_missing_and_maps_errors() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    let c = case(&fake);
    let loaded = suite::load(&c).await;
    let s = &loaded.session;
    fake.add_foreign(CHALLENGE, "foreign").await;

    s.present(&suite::txt_set(CHALLENGE, &["v1", "v2"], 600))
        .await
        .unwrap();
    assert_eq!(
        pdns.txt_values(CHALLENGE).await.unwrap(),
        ["foreign", "v1", "v2"]
    );
    s.present(&suite::txt_set(CHALLENGE, &["v1", "v2"], 600))
        .await
        .unwrap();
    assert_eq!(fake.records().await.len(), 3, "no duplicate record");
    s.cleanup(&suite::txt_set(CHALLENGE, &["v1", "v2"], 600))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(CHALLENGE).await.unwrap(), ["foreign"]);

    // The apex is the empty subdomain; a delegated-looking zone resolves to
    // the account's domain.
    s.present(&suite::txt_set(ZONE, &["at-apex"], 600))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(ZONE).await.unwrap(), ["at-apex"]);
    s.cleanup(&suite::txt_set(ZONE, &["at-apex"], 600))
        .await
        .unwrap();
    let deep = "_acme-challenge.a.b.example.test";
    s.present(&suite::txt_set_in("b.example.test", deep, &["deep"], 600))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(deep).await.unwrap(), ["deep"]);
    s.cleanup(&suite::txt_set_in("b.example.test", deep, &["deep"], 600))
        .await
        .unwrap();
    assert!(pdns.txt_values(deep).await.unwrap().is_empty());

    let err = s
        .present(&suite::txt_set_in(
            "other.invalid",
            "_acme-challenge.other.invalid",
            &["x"],
            600,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.provider_error().unwrap().kind,
        ProviderErrorKind::ZoneNotFound,
        "{err}"
    );

    fake.rate_limit_next(1);
    let err = s
        .present(&suite::txt_set(CHALLENGE, &["x"], 600))
        .await
        .unwrap_err();
    let p = err.provider_error().unwrap();
    assert_eq!(p.kind, ProviderErrorKind::RateLimited, "{err}");
    assert_eq!(p.retry_after, Some(std::time::Duration::from_secs(1)));
    assert_eq!(
        fake.txt_records().await,
        [(CHALLENGE.to_string(), "foreign".to_string())]
    );
}
