//! The tencentcloud plugin (built component) against the fake Tencent Cloud
//! DNSPod API 3.0 mirroring into PowerDNS: the shared provider battery
//! (conformance, apex + wildcard issuance, a foreign value kept, a wrong
//! secret key, throttled writes), then listing across pages with acme.sh's
//! variable names and a session token, a skewed clock, and an unknown zone.

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE};
use wacme_tests::fake_tencentcloud::{FakeTencentCloud, TencentOptions};
use wacme_tests::provider_suite::{self as suite, CHALLENGE, Case, Fake};

const SECRET_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3wacmeTEST";
const SECRET_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3wacmeKEY";
const WRONG: &str = "WrongWrongWrongWrongWrongWrong00";

fn case(fake: &FakeTencentCloud) -> Case {
    Case::new("tencentcloud")
        .config("endpoint", &fake.endpoint())
        .env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
        .secret_env("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
        .wrong_env("TENCENTCLOUD_SECRET_KEY", WRONG)
        .auth_reason("AuthFailure.SignatureFailure")
}

async fn start(pdns: &wacme_tests::pdns::Pdns) -> FakeTencentCloud {
    FakeTencentCloud::start(pdns, TencentOptions::new(SECRET_ID, SECRET_KEY, &[ZONE])).await
}

fn count(fake: &FakeTencentCloud, action: &str) -> usize {
    fake.requests().iter().filter(|a| *a == action).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tencentcloud_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    suite::conformance(&pdns, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tencentcloud_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::issues_cleanly(&bed, &case(&fake), &fake).await;
    assert_eq!(
        count(&fake, "CreateRecord"),
        2,
        "one record per value: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tencentcloud_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tencentcloud_wrong_secret_key() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::wrong_credential(&bed, &case(&fake), &fake).await;
    assert!(
        fake.requests().iter().all(|a| a == "DescribeRecordList"),
        "nothing written: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tencentcloud_rate_limited_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::rate_limited_then_retried(&bed, &case(&fake), &fake, 2).await;
}

/// Present and cleanup through the plugin runtime, configured with acme.sh's
/// variable names and a session token, two records per page: every value is
/// found across pages, a foreign value stays, an unknown zone is
/// zone-not-found, and a clock 10 minutes off is the service's
/// `AuthFailure.SignatureExpire` with a hint at the clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tencentcloud_pages_token_clock_and_zone() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let mut options = TencentOptions::new(SECRET_ID, SECRET_KEY, &[ZONE]);
    options.max_page_size = 2;
    options.session_token = Some("sts-token-for-the-test".into());
    let fake = FakeTencentCloud::start(&pdns, options).await;
    let acme_sh = Case::new("tencentcloud")
        .config("endpoint", &fake.endpoint())
        .env("Tencent_SecretId", SECRET_ID)
        .secret_env("Tencent_SecretKey", SECRET_KEY)
        .secret_env("TENCENTCLOUD_SESSION_TOKEN", "sts-token-for-the-test");
    let loaded = suite::load(&acme_sh).await;
    let values = ["p1", "p2", "p3", "p4", "p5"];
    let set = suite::txt_set(CHALLENGE, &values, 120);
    fake.add_foreign(CHALLENGE, "foreign").await;
    loaded.session.present(&set).await.unwrap();
    loaded.session.present(&set).await.unwrap();
    assert_eq!(
        count(&fake, "CreateRecord"),
        5,
        "the second present found all 5 across pages: {:?}",
        fake.requests()
    );
    let mut held: Vec<String> = fake.records().await.into_iter().map(|r| r.value).collect();
    held.sort();
    assert_eq!(held, ["foreign", "p1", "p2", "p3", "p4", "p5"]);
    loaded.session.cleanup(&set).await.unwrap();
    assert_eq!(pdns.txt_values(CHALLENGE).await.unwrap(), ["foreign"]);
    assert_eq!(fake.records().await.len(), 1);
    loaded.session.cleanup(&set).await.unwrap();

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
    assert!(
        err.to_string()
            .contains("InvalidParameterValue.DomainNotExists"),
        "{err}"
    );

    fake.set_clock_offset(600);
    let err = loaded.session.present(&set).await.unwrap_err();
    let provider = err.provider_error().expect("a provider error");
    assert_eq!(provider.kind, ProviderErrorKind::Permanent, "{err}");
    assert!(
        provider.message.contains("AuthFailure.SignatureExpire")
            && provider.message.contains("clock"),
        "{err}"
    );
}
