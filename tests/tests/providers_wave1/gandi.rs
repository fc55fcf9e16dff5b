//! The gandi plugin (built component) against the fake Gandi LiveDNS API
//! mirroring into PowerDNS: the shared provider battery (conformance, apex +
//! wildcard issuance, a foreign value kept, a wrong token, throttled
//! writes), and at the plugin level: the whole RRset written back with
//! foreign values kept, deleted with its last value, the deprecated API key,
//! the domain found above a delegated-looking zone, and the error cases.

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE};
use wacme_tests::fake_gandi::FakeGandi;
use wacme_tests::pdns::Pdns;
use wacme_tests::provider_suite::{self as suite, CHALLENGE, Case, Fake};

const TOKEN: &str = "gandi-pat-0f1e2d3c4b5a69788796";
const API_KEY: &str = "gandi-legacy-key-5566778899";
const WRONG: &str = "gandi-pat-wrong-aabbccddeeff";

fn case(fake: &FakeGandi) -> Case {
    Case::new("gandi")
        .config("endpoint", &fake.endpoint())
        .secret_env("GANDIV5_PERSONAL_ACCESS_TOKEN", TOKEN)
        .wrong_env("GANDIV5_PERSONAL_ACCESS_TOKEN", WRONG)
        .secret(API_KEY)
        .auth_reason("Unauthorized: The server could not verify")
}

async fn start(pdns: &Pdns) -> FakeGandi {
    FakeGandi::start(pdns, TOKEN, Some(API_KEY), &[ZONE]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gandi_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    suite::conformance(&pdns, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gandi_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::issues_cleanly(&bed, &case(&fake), &fake).await;
    let requests = fake.requests();
    let puts = requests.iter().filter(|r| r.starts_with("PUT")).count();
    let deletes = requests.iter().filter(|r| r.starts_with("DELETE")).count();
    assert_eq!((puts, deletes), (1, 1), "{requests:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gandi_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
    assert!(
        fake.requests().iter().all(|r| !r.starts_with("DELETE")),
        "the foreign value's RRset is written back, never deleted: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gandi_wrong_token() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::wrong_credential(&bed, &case(&fake), &fake).await;
    assert!(fake.requests().iter().all(|r| r.starts_with("GET")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gandi_rate_limited_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::rate_limited_then_retried(&bed, &case(&fake), &fake, 2).await;
    assert_eq!(fake.rate_limited_served(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gandi_plugin_merges_and_maps_errors() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    let c = case(&fake);
    // The deprecated API key, through acme.sh's variable.
    let loaded = suite::load_with_env(
        &c,
        &[("GANDI_LIVEDNS_KEY".to_string(), API_KEY.to_string())],
    )
    .await;
    let s = &loaded.session;
    fake.add_foreign(CHALLENGE, "foreign").await;

    s.present(&suite::txt_set(CHALLENGE, &["v1", "v2"], 300))
        .await
        .unwrap();
    assert_eq!(
        pdns.txt_values(CHALLENGE).await.unwrap(),
        ["foreign", "v1", "v2"]
    );
    let before = fake.requests().len();
    s.present(&suite::txt_set(CHALLENGE, &["v2"], 300))
        .await
        .unwrap();
    assert!(
        fake.requests()[before..]
            .iter()
            .all(|r| r.starts_with("GET"))
    );
    s.cleanup(&suite::txt_set(CHALLENGE, &["v1", "v2"], 300))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(CHALLENGE).await.unwrap(), ["foreign"]);

    // A delegated-looking zone resolves to the account's domain; the RRset
    // is deleted with its last value.
    let deep = "_acme-challenge.a.b.example.test";
    s.present(&suite::txt_set_in("b.example.test", deep, &["deep"], 300))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(deep).await.unwrap(), ["deep"]);
    s.cleanup(&suite::txt_set_in("b.example.test", deep, &["deep"], 300))
        .await
        .unwrap();
    assert!(pdns.txt_values(deep).await.unwrap().is_empty());
    assert!(
        fake.requests()
            .iter()
            .any(|r| r == "DELETE /domains/example.test/records/_acme-challenge.a.b/TXT"),
        "{:?}",
        fake.requests()
    );

    let err = s
        .present(&suite::txt_set_in(
            "other.invalid",
            "_acme-challenge.other.invalid",
            &["x"],
            300,
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
        .present(&suite::txt_set(CHALLENGE, &["x"], 300))
        .await
        .unwrap_err();
    let p = err.provider_error().unwrap();
    assert_eq!(p.kind, ProviderErrorKind::RateLimited, "{err}");
    assert_eq!(p.retry_after, Some(std::time::Duration::from_secs(1)));

    let wrong = suite::load_with_env(
        &c,
        &[("GANDI_LIVEDNS_TOKEN".to_string(), WRONG.to_string())],
    )
    .await;
    let err = wrong
        .session
        .present(&suite::txt_set(CHALLENGE, &["x"], 300))
        .await
        .unwrap_err();
    assert_eq!(
        err.provider_error().unwrap().kind,
        ProviderErrorKind::Authentication,
        "{err}"
    );
    assert_eq!(
        fake.txt_records().await,
        [(CHALLENGE.to_string(), "foreign".to_string())]
    );
}
