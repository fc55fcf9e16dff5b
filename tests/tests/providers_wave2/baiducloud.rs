//! The baiducloud plugin (built component) against the fake Baidu AI Cloud
//! DNS API mirroring into PowerDNS: the shared provider battery
//! (conformance, apex + wildcard issuance, a foreign value kept, a wrong
//! secret access key, throttled writes), then listing across pages with
//! acme.sh's variable names, the zone found as a parent of the one asked, a
//! stale clock, and an unknown zone.

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE};
use wacme_tests::fake_baiducloud::{BaiduOptions, FakeBaiduCloud};
use wacme_tests::provider_suite::{self as suite, CHALLENGE, Case, Fake};

const ACCESS_KEY_ID: &str = "c98fb9a1366011e8912505e5wacmetest";
const SECRET_ACCESS_KEY: &str = "5f6a9c1e2d3b4a8f9e0d1c2bwacmekey";
const WRONG: &str = "WrongWrongWrongWrongWrongWrong00";

fn case(fake: &FakeBaiduCloud) -> Case {
    Case::new("baiducloud")
        .config("endpoint", &fake.endpoint())
        .env("BAIDUCLOUD_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .secret_env("BAIDUCLOUD_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .wrong_env("BAIDUCLOUD_SECRET_ACCESS_KEY", WRONG)
        .auth_reason("SignatureDoesNotMatch")
}

async fn start(pdns: &wacme_tests::pdns::Pdns) -> FakeBaiduCloud {
    FakeBaiduCloud::start(
        pdns,
        BaiduOptions::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, &[ZONE]),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baiducloud_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    suite::conformance(&pdns, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baiducloud_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::issues_cleanly(&bed, &case(&fake), &fake).await;
    assert_eq!(
        fake.count("POST"),
        2,
        "one record per value: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baiducloud_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baiducloud_wrong_secret_access_key() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::wrong_credential(&bed, &case(&fake), &fake).await;
    assert!(
        fake.requests().iter().all(|r| r.starts_with("GET ")),
        "nothing written: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baiducloud_rate_limited_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::rate_limited_then_retried(&bed, &case(&fake), &fake, 2).await;
}

/// Present and cleanup through the plugin runtime, configured with acme.sh's
/// variable names (`Baidu_TTL` too), two items per page: the zone is found as the parent of
/// the one asked for (across zone pages), every value is found across
/// record pages, a foreign value stays, an unknown zone is zone-not-found,
/// and a clock an hour off is the service's `RequestExpired` with a hint at
/// the clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baiducloud_pages_parent_zone_clock_and_unknown_zone() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let mut options = BaiduOptions::new(
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        &["a-example.test", "b-example.test", ZONE],
    );
    options.max_page_size = 2;
    let fake = FakeBaiduCloud::start(&pdns, options).await;
    let acme_sh = Case::new("baiducloud")
        .config("endpoint", &fake.endpoint())
        .env("Baidu_AK", ACCESS_KEY_ID)
        .secret_env("Baidu_SK", SECRET_ACCESS_KEY)
        .env("Baidu_TTL", "600");
    let loaded = suite::load(&acme_sh).await;
    let values = ["p1", "p2", "p3", "p4", "p5"];
    // The zone the host passes sits below the account's zone, which the
    // fuzzy zone search returns on its second page.
    let set = wacme::plugins::TxtSet {
        zone: CHALLENGE.into(),
        relative_name: "@".into(),
        ..suite::txt_set(CHALLENGE, &values, 120)
    };
    fake.add_foreign(CHALLENGE, "foreign").await;
    loaded.session.present(&set).await.unwrap();
    loaded.session.present(&set).await.unwrap();
    assert_eq!(
        fake.count("POST"),
        5,
        "the second present found all 5 across pages: {:?}",
        fake.requests()
    );
    assert!(
        fake.records()
            .await
            .iter()
            .filter(|r| r.value != "foreign")
            .all(|r| r.ttl == 600),
        "Baidu_TTL overrides the TTL wacme passes: {:?}",
        fake.records().await
    );
    let mut held: Vec<String> = fake.records().await.into_iter().map(|r| r.value).collect();
    held.sort();
    assert_eq!(held, ["foreign", "p1", "p2", "p3", "p4", "p5"]);
    loaded.session.cleanup(&set).await.unwrap();
    assert_eq!(pdns.txt_values(CHALLENGE).await.unwrap(), ["foreign"]);
    assert_eq!(fake.records().await.len(), 1);
    loaded.session.cleanup(&set).await.unwrap();
    assert_eq!(fake.count("DELETE"), 5, "{:?}", fake.requests());

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

    fake.set_clock_offset(3600);
    let err = loaded.session.present(&set).await.unwrap_err();
    let provider = err.provider_error().expect("a provider error");
    assert_eq!(provider.kind, ProviderErrorKind::Permanent, "{err}");
    assert!(
        provider.message.contains("RequestExpired") && provider.message.contains("clock"),
        "{err}"
    );
}
