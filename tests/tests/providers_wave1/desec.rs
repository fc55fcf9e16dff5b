//! The desec plugin (built component) against the fake deSEC API mirroring
//! into PowerDNS: the shared provider battery (conformance, apex + wildcard
//! issuance, a foreign value kept, a wrong token, throttled writes), and at
//! the plugin level: the whole RRset written back with foreign values kept,
//! the TTL raised to the domain's minimum, the apex as `@`, the RRset
//! deleted with its last value, and the error cases.

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE};
use wacme_tests::fake_desec::FakeDesec;
use wacme_tests::pdns::Pdns;
use wacme_tests::provider_suite::{self as suite, CHALLENGE, Case, Fake};

const TOKEN: &str = "desec-token-6b1f0e9d8c7a";
const WRONG: &str = "desec-wrong-1a2b3c4d5e6f";

fn case(fake: &FakeDesec) -> Case {
    Case::new("desec")
        .config("endpoint", &fake.endpoint())
        .secret_env("DEDYN_TOKEN", TOKEN)
        .wrong_env("DEDYN_TOKEN", WRONG)
        .auth_reason("Invalid token.")
}

async fn start(pdns: &Pdns) -> FakeDesec {
    FakeDesec::start(pdns, TOKEN, &[ZONE]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desec_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    suite::conformance(&pdns, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desec_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::issues_cleanly(&bed, &case(&fake), &fake).await;
    let requests = fake.requests();
    let writes = requests.iter().filter(|r| !r.starts_with("GET")).count();
    assert_eq!(writes, 2, "one write each way: {requests:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desec_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desec_wrong_token() {
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
async fn desec_throttled_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::rate_limited_then_retried(&bed, &case(&fake), &fake, 2).await;
    assert_eq!(fake.rate_limited_served(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desec_plugin_merges_and_maps_errors() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    let c = case(&fake);
    let loaded = suite::load(&c).await;
    let s = &loaded.session;
    fake.add_foreign(CHALLENGE, "foreign").await;

    // A TTL below the domain's minimum_ttl (3600) is raised to it.
    s.present(&suite::txt_set(CHALLENGE, &["v1", "v2"], 300))
        .await
        .unwrap();
    assert_eq!(
        pdns.txt_values(CHALLENGE).await.unwrap(),
        ["foreign", "v1", "v2"]
    );
    assert!(fake.records().await.iter().all(|r| r.ttl == 3600));
    assert!(
        fake.records()
            .await
            .iter()
            .all(|r| r.content.starts_with('"'))
    );

    let before = fake.requests().len();
    s.present(&suite::txt_set(CHALLENGE, &["v1"], 3600))
        .await
        .unwrap();
    assert!(
        fake.requests()[before..]
            .iter()
            .all(|r| r.starts_with("GET"))
    );

    s.cleanup(&suite::txt_set(CHALLENGE, &["v1", "v2"], 3600))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(CHALLENGE).await.unwrap(), ["foreign"]);

    // The apex RRset is `@` in the URL and goes with its last value.
    s.present(&suite::txt_set(ZONE, &["at-apex"], 3600))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(ZONE).await.unwrap(), ["at-apex"]);
    s.cleanup(&suite::txt_set(ZONE, &["at-apex"], 3600))
        .await
        .unwrap();
    assert!(pdns.txt_values(ZONE).await.unwrap().is_empty());
    assert!(
        fake.requests()
            .iter()
            .any(|r| r == "PATCH /domains/example.test/rrsets/@/TXT/"),
        "{:?}",
        fake.requests()
    );

    let err = s
        .present(&suite::txt_set_in(
            "other.invalid",
            "_acme-challenge.other.invalid",
            &["x"],
            3600,
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
        .present(&suite::txt_set(CHALLENGE, &["x"], 3600))
        .await
        .unwrap_err();
    let p = err.provider_error().unwrap();
    assert_eq!(p.kind, ProviderErrorKind::RateLimited, "{err}");
    assert_eq!(p.retry_after, Some(std::time::Duration::from_secs(1)));

    let wrong = suite::load_with_env(&c, &[("DESEC_TOKEN".to_string(), WRONG.to_string())]).await;
    let err = wrong
        .session
        .cleanup(&suite::txt_set(CHALLENGE, &["foreign"], 3600))
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
