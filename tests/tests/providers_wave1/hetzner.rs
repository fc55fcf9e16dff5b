//! The hetzner plugin (built component) against the fake Hetzner Cloud API
//! mirroring into PowerDNS: the shared provider battery (conformance, apex +
//! wildcard issuance, a foreign value kept, a wrong token, throttled
//! writes), and at the plugin level: only missing values added, only its
//! own removed, actions polled to success, the apex as `@`, the zone found
//! above a delegated-looking one, and the error cases.

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE};
use wacme_tests::fake_hetzner::FakeHetzner;
use wacme_tests::pdns::Pdns;
use wacme_tests::provider_suite::{self as suite, CHALLENGE, Case, Fake};

const TOKEN: &str = "hcloud-token-3f9a1c7e5b2d4f6a8c0e";
const WRONG: &str = "hcloud-wrong-0b1c2d3e4f5a6b7c8d9e";

fn case(fake: &FakeHetzner) -> Case {
    Case::new("hetzner")
        .config("endpoint", &fake.endpoint())
        .secret_env("HETZNER_API_TOKEN", TOKEN)
        .wrong_env("HETZNER_API_TOKEN", WRONG)
        .auth_reason("unauthorized: unable to authenticate")
}

async fn start(pdns: &Pdns) -> FakeHetzner {
    FakeHetzner::start(pdns, TOKEN, &[ZONE]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hetzner_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    suite::conformance(&pdns, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hetzner_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::issues_cleanly(&bed, &case(&fake), &fake).await;
    let requests = fake.requests();
    let adds = requests
        .iter()
        .filter(|r| r.ends_with("/add_records"))
        .count();
    let removes = requests
        .iter()
        .filter(|r| r.ends_with("/remove_records"))
        .count();
    assert_eq!((adds, removes), (1, 1), "one action each way: {requests:?}");
    assert!(
        requests.iter().any(|r| r.starts_with("GET /actions/")),
        "actions polled: {requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hetzner_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hetzner_wrong_token() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::wrong_credential(&bed, &case(&fake), &fake).await;
    assert!(
        fake.requests().iter().all(|r| !r.starts_with("POST")),
        "nothing written: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hetzner_rate_limited_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::rate_limited_then_retried(&bed, &case(&fake), &fake, 2).await;
    assert_eq!(fake.rate_limited_served(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hetzner_plugin_merges_polls_and_maps_errors() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    let c = case(&fake);
    let loaded = suite::load(&c).await;
    let s = &loaded.session;
    fake.add_foreign(CHALLENGE, "foreign").await;

    s.present(&suite::txt_set(CHALLENGE, &["v1", "v2"], 120))
        .await
        .unwrap();
    assert_eq!(
        pdns.txt_values(CHALLENGE).await.unwrap(),
        ["foreign", "v1", "v2"]
    );
    // Stored quoted, as the API requires; the action was polled to success.
    assert!(
        fake.records()
            .await
            .iter()
            .all(|r| r.content.starts_with('"'))
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.starts_with("GET /actions/"))
    );

    // Idempotent: nothing written when every value is there.
    let before = fake.requests().len();
    s.present(&suite::txt_set(CHALLENGE, &["v2", "v1"], 120))
        .await
        .unwrap();
    assert!(
        fake.requests()[before..]
            .iter()
            .all(|r| r.starts_with("GET")),
        "{:?}",
        &fake.requests()[before..]
    );

    s.cleanup(&suite::txt_set(CHALLENGE, &["v1", "v2"], 120))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(CHALLENGE).await.unwrap(), ["foreign"]);
    s.cleanup(&suite::txt_set(CHALLENGE, &["v1"], 120))
        .await
        .unwrap();

    // The apex is `@`; a delegated-looking zone resolves to the project's.
    s.present(&suite::txt_set(ZONE, &["at-apex"], 60))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(ZONE).await.unwrap(), ["at-apex"]);
    assert!(fake.requests().iter().any(|r| r.contains("/rrsets/@/TXT")));
    s.cleanup(&suite::txt_set(ZONE, &["at-apex"], 60))
        .await
        .unwrap();
    let deep = "_acme-challenge.a.b.example.test";
    s.present(&suite::txt_set_in("b.example.test", deep, &["deep"], 60))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(deep).await.unwrap(), ["deep"]);
    s.cleanup(&suite::txt_set_in("b.example.test", deep, &["deep"], 60))
        .await
        .unwrap();

    let err = s
        .present(&suite::txt_set_in(
            "other.invalid",
            "_acme-challenge.other.invalid",
            &["x"],
            60,
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
        .present(&suite::txt_set(CHALLENGE, &["x"], 60))
        .await
        .unwrap_err();
    let p = err.provider_error().unwrap();
    assert_eq!(p.kind, ProviderErrorKind::RateLimited, "{err}");
    assert_eq!(p.retry_after, Some(std::time::Duration::from_secs(1)));

    let wrong = suite::load_with_env(&c, &[("HETZNER_TOKEN".to_string(), WRONG.to_string())]).await;
    let err = wrong
        .session
        .present(&suite::txt_set(CHALLENGE, &["x"], 60))
        .await
        .unwrap_err();
    assert_eq!(
        err.provider_error().unwrap().kind,
        ProviderErrorKind::Authentication,
        "{err}"
    );
    assert!(!err.to_string().contains(WRONG), "{err}");
    assert_eq!(
        fake.txt_records().await,
        [(CHALLENGE.to_string(), "foreign".to_string())]
    );
}
