//! The volcengine plugin (built component) against `fake_volcengine`
//! (HMAC-SHA256 V4-style signatures recomputed independently, the
//! `ResponseMetadata.Error` envelope, records mirrored into PowerDNS): the
//! shared provider battery (conformance, apex + wildcard issuance, a foreign
//! value kept, a wrong secret, throttled writes), and through the host's
//! runtime listing across pages, a parent zone, a stale clock and an
//! unknown zone.

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE};
use wacme_tests::fake_volcengine::{FakeVolcengine, VolcOptions};
use wacme_tests::provider_suite::{self as suite, CHALLENGE, Case, Fake, txt_set, txt_set_in};

const AK: &str = "AKLTMjI2ODVlYzI3ZGY1NGU4ZjhjYWRjMTlmNTM5OTZkYzE";
const SK: &str = "TnpCak5XWXpZV1U0WkRaaE5ERmxaR0ZpTmpjeVkyUXlZek0wTWpJMU1qWQ==";
const WRONG_SK: &str = "V3JvbmdTZWNyZXRBY2Nlc3NLZXlXcm9uZ1NlY3JldEFjY2Vzcw==";

fn case(fake: &FakeVolcengine) -> Case {
    Case::new("volcengine")
        .config("endpoint", &fake.endpoint())
        .env("VOLC_ACCESSKEY", AK)
        .secret_env("VOLC_SECRETKEY", SK)
        .wrong_env("VOLC_SECRETKEY", WRONG_SK)
        .auth_reason("SignatureDoesNotMatch")
}

async fn start(pdns: &wacme_tests::pdns::Pdns) -> FakeVolcengine {
    FakeVolcengine::start(pdns, VolcOptions::new(AK, SK, &[ZONE])).await
}

fn kind(err: &wacme::plugins::Error) -> ProviderErrorKind {
    err.provider_error()
        .unwrap_or_else(|| panic!("not a provider error: {err}"))
        .kind
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volcengine_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    suite::conformance(&pdns, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volcengine_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::issues_cleanly(&bed, &case(&fake), &fake).await;
    assert_eq!(
        (fake.count("CreateRecord"), fake.count("DeleteRecord")),
        (2, 2),
        "one record per value: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volcengine_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volcengine_wrong_secret() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::wrong_credential(&bed, &case(&fake), &fake).await;
    assert_eq!(
        (fake.count("CreateRecord"), fake.count("DeleteRecord")),
        (0, 0),
        "nothing written: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volcengine_rate_limited_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::rate_limited_then_retried(&bed, &case(&fake), &fake, 2).await;
}

/// Through the host's runtime with one item per page: every value is found
/// across pages, present is idempotent, cleanup removes only its values; a
/// name below a sub-zone lands in the account's zone; a stale clock and an
/// unknown zone map to their cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volcengine_records_across_pages() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let mut options = VolcOptions::new(AK, SK, &[ZONE]);
    options.max_page_size = 1;
    let fake = FakeVolcengine::start(&pdns, options).await;
    let loaded = suite::load(&case(&fake)).await;
    let s = &loaded.session;
    fake.add_foreign(CHALLENGE, "foreign").await;
    let values = ["p1", "p2", "p3"];
    let set = txt_set(CHALLENGE, &values, 600);
    s.present(&set).await.unwrap();
    s.present(&set).await.unwrap();
    assert_eq!(fake.count("CreateRecord"), 3, "{:?}", fake.requests());
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.contains("\"PageNumber\":4")),
        "followed the pages: {:?}",
        fake.requests()
    );
    assert_eq!(
        pdns.txt_values(CHALLENGE).await.unwrap(),
        ["foreign", "p1", "p2", "p3"]
    );
    let held = fake.records().await;
    assert!(
        held.iter()
            .all(|r| r.host == "_acme-challenge" && r.ttl == 600)
    );
    s.cleanup(&set).await.unwrap();
    assert_eq!(pdns.txt_values(CHALLENGE).await.unwrap(), ["foreign"]);
    assert_eq!(fake.records().await.len(), 1);
    s.cleanup(&set).await.unwrap();
    assert_eq!(fake.count("DeleteRecord"), 3);

    let deep = "_acme-challenge.a.b.example.test";
    let set = txt_set_in("b.example.test", deep, &["deep"], 600);
    s.present(&set).await.unwrap();
    assert_eq!(pdns.txt_values(deep).await.unwrap(), ["deep"]);
    assert!(
        fake.records()
            .await
            .iter()
            .any(|r| r.host == "_acme-challenge.a.b")
    );
    s.cleanup(&set).await.unwrap();

    fake.set_clock_offset(-20 * 60);
    let err = s
        .present(&txt_set(CHALLENGE, &["late"], 600))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Permanent, "{err}");
    assert!(err.to_string().contains("InvalidTimestamp"), "{err}");
    fake.set_clock_offset(0);

    let other = txt_set_in(
        "other.invalid",
        "_acme-challenge.other.invalid",
        &["x"],
        600,
    );
    let err = s.present(&other).await.unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::ZoneNotFound, "{err}");
    assert_eq!(fake.txt_records().await.len(), 1, "only the foreign value");
}
