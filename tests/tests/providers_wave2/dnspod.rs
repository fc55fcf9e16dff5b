//! The dnspod plugin (built component) against the fake DNSPod legacy token
//! API mirroring into PowerDNS: the shared provider battery (conformance,
//! apex + wildcard issuance, a foreign value kept, a wrong token, throttled
//! writes), then lego's one-variable `DNSPOD_API_KEY` with listing across
//! pages and an unknown zone.

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE};
use wacme_tests::fake_dnspod::{DnspodOptions, FakeDnspod};
use wacme_tests::provider_suite::{self as suite, CHALLENGE, Case, Fake};

const ID: &str = "123456";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const WRONG: &str = "fedcba9876543210fedcba9876543210";

fn case(fake: &FakeDnspod) -> Case {
    Case::new("dnspod")
        .config("endpoint", &fake.endpoint())
        .env("DP_Id", ID)
        .secret_env("DP_Key", TOKEN)
        .wrong_env("DP_Key", WRONG)
        .auth_reason("Login failed")
}

async fn start(pdns: &wacme_tests::pdns::Pdns) -> FakeDnspod {
    FakeDnspod::start(pdns, DnspodOptions::new(ID, TOKEN, &[ZONE])).await
}

fn count(fake: &FakeDnspod, line: &str) -> usize {
    fake.requests().iter().filter(|r| *r == line).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnspod_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    suite::conformance(&pdns, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnspod_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::issues_cleanly(&bed, &case(&fake), &fake).await;
    assert_eq!(
        count(&fake, "POST /Record.Create"),
        2,
        "one record per value: {:?}",
        fake.requests()
    );
    assert!(
        fake.user_agents()
            .iter()
            .all(|ua| ua.starts_with("wacme-plugin-dnspod/")),
        "DNSPod bans clients without a user agent: {:?}",
        fake.user_agents()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnspod_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnspod_wrong_token() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::wrong_credential(&bed, &case(&fake), &fake).await;
    assert!(
        fake.requests().iter().all(|r| r == "POST /Record.List"),
        "nothing written: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnspod_rate_limited_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::rate_limited_then_retried(&bed, &case(&fake), &fake, 2).await;
}

/// Present and cleanup through the plugin runtime with lego's
/// `DNSPOD_API_KEY` (`ID,Token` in one variable) and two records per page:
/// every value is found across pages, a foreign value stays, an unknown
/// zone is zone-not-found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnspod_login_token_and_pages() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let mut options = DnspodOptions::new(ID, TOKEN, &[ZONE]);
    options.max_page_size = 2;
    let fake = FakeDnspod::start(&pdns, options).await;
    let lego = Case::new("dnspod")
        .config("endpoint", &fake.endpoint())
        .secret_env("DNSPOD_API_KEY", &format!("{ID},{TOKEN}"));
    let loaded = suite::load(&lego).await;
    let values = ["p1", "p2", "p3", "p4", "p5"];
    let set = suite::txt_set(CHALLENGE, &values, 120);
    fake.add_foreign(CHALLENGE, "foreign").await;
    loaded.session.present(&set).await.unwrap();
    loaded.session.present(&set).await.unwrap();
    assert_eq!(
        count(&fake, "POST /Record.Create"),
        5,
        "the second present found all 5 across pages: {:?}",
        fake.requests()
    );
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
    assert!(err.to_string().contains("Domain id invalid"), "{err}");
}
