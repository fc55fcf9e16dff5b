//! The cloudflare plugin through the shared provider battery, against the
//! fake Cloudflare API mirroring into PowerDNS.

use wacme_tests::dns01::{Bed, ZONE};
use wacme_tests::fake_cloudflare::{CloudflareOptions, FakeCloudflare};
use wacme_tests::provider_suite::{self as suite, Case, Fake};

const TOKEN: &str = "cf-suite-token-5f0c2a9e";
const WRONG: &str = "cf-wrong-token-77d1b3c4";

fn case(fake: &FakeCloudflare) -> Case {
    Case::new("cloudflare")
        .config("endpoint", &fake.endpoint())
        .secret_env("CF_API_TOKEN", TOKEN)
        .wrong_env("CF_API_TOKEN", WRONG)
        .auth_reason("Authentication error")
}

async fn start(bed: &Bed) -> FakeCloudflare {
    FakeCloudflare::start(&bed.pdns, CloudflareOptions::new(TOKEN, &[ZONE])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudflare_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = FakeCloudflare::start(&pdns, CloudflareOptions::new(TOKEN, &[ZONE])).await;
    suite::conformance(&pdns, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudflare_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed).await;
    suite::issues_cleanly(&bed, &case(&fake), &fake).await;
    let posts = fake
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST"))
        .count();
    assert_eq!(posts, 2, "one record per value: {:?}", fake.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudflare_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed).await;
    suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudflare_wrong_token() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed).await;
    let out = suite::wrong_credential(&bed, &case(&fake), &fake).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("10000"),
        "Cloudflare's error code is shown"
    );
    assert!(
        fake.requests().iter().all(|r| !r.starts_with("POST")),
        "nothing written: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudflare_rate_limited_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed).await;
    suite::rate_limited_then_retried(&bed, &case(&fake), &fake, 2).await;
    assert_eq!(fake.throttle().served(), 2);
}
