//! The godaddy plugin (built component) against the fake GoDaddy API
//! mirroring into PowerDNS: the shared provider battery (conformance, apex +
//! wildcard issuance, a foreign value kept, a wrong key, throttled writes),
//! and at the plugin level: the name's records rewritten with foreign values
//! kept, `DELETE` (not an empty `PUT`) for the last value, the apex as `@`,
//! and the error cases.

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE};
use wacme_tests::fake_godaddy::FakeGoDaddy;
use wacme_tests::pdns::Pdns;
use wacme_tests::provider_suite::{self as suite, CHALLENGE, Case, Fake};

const KEY: &str = "gd-key-9aZ8bY7cX6dW5eV4";
const SECRET: &str = "gd-secret-3fU2gT1hS0iR";
const WRONG: &str = "gd-secret-wrong-0000ffff";

fn case(fake: &FakeGoDaddy) -> Case {
    Case::new("godaddy")
        .config("endpoint", &fake.endpoint())
        .secret_env("GD_Key", KEY)
        .secret_env("GD_Secret", SECRET)
        .wrong_env("GD_Secret", WRONG)
        .auth_reason("UNABLE_TO_AUTHENTICATE")
}

async fn start(pdns: &Pdns) -> FakeGoDaddy {
    FakeGoDaddy::start(pdns, KEY, SECRET, &[ZONE]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn godaddy_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    suite::conformance(&pdns, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn godaddy_issues_apex_and_wildcard() {
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
async fn godaddy_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn godaddy_wrong_secret() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::wrong_credential(&bed, &case(&fake), &fake).await;
    assert!(fake.requests().iter().all(|r| r.starts_with("GET")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn godaddy_rate_limited_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::rate_limited_then_retried(&bed, &case(&fake), &fake, 2).await;
    assert_eq!(fake.rate_limited_served(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn godaddy_plugin_merges_and_maps_errors() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    let c = case(&fake);
    let env = [
        ("GODADDY_API_KEY".to_string(), KEY.to_string()),
        ("GODADDY_API_SECRET".to_string(), SECRET.to_string()),
    ];
    let loaded = suite::load_with_env(&c, &env).await;
    let s = &loaded.session;
    fake.add_foreign(CHALLENGE, "foreign").await;

    s.present(&suite::txt_set(CHALLENGE, &["v1", "v2"], 600))
        .await
        .unwrap();
    assert_eq!(
        pdns.txt_values(CHALLENGE).await.unwrap(),
        ["foreign", "v1", "v2"]
    );
    let foreign_ttl = fake
        .records()
        .await
        .into_iter()
        .find(|r| r.content == "foreign")
        .unwrap()
        .ttl;
    assert_eq!(foreign_ttl, 3600, "the foreign record keeps its TTL");
    let before = fake.requests().len();
    s.present(&suite::txt_set(CHALLENGE, &["v1"], 600))
        .await
        .unwrap();
    assert!(
        fake.requests()[before..]
            .iter()
            .all(|r| r.starts_with("GET"))
    );
    s.cleanup(&suite::txt_set(CHALLENGE, &["v1", "v2"], 600))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(CHALLENGE).await.unwrap(), ["foreign"]);

    s.present(&suite::txt_set(ZONE, &["at-apex"], 600))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(ZONE).await.unwrap(), ["at-apex"]);
    s.cleanup(&suite::txt_set(ZONE, &["at-apex"], 600))
        .await
        .unwrap();
    assert!(pdns.txt_values(ZONE).await.unwrap().is_empty());
    assert!(
        fake.requests()
            .iter()
            .any(|r| r == "DELETE /v1/domains/example.test/records/TXT/@"),
        "{:?}",
        fake.requests()
    );

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
