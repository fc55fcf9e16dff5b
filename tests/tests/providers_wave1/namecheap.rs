//! The namecheap plugin (built component) against the fake Namecheap XML
//! API, whose setHosts replaces the whole host list: the shared provider
//! battery (conformance, apex + wildcard issuance, a foreign value kept, a
//! wrong API key, throttled writes), then what read-modify-write must get
//! right: every other host and the email setting survive, and a read that
//! is not whole stops the call before anything is written.

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE};
use wacme_tests::fake_namecheap::{BrokenRead, FakeNamecheap, NamecheapOptions, NcHost};
use wacme_tests::provider_suite::{self as suite, CHALLENGE, Case, Fake};

const USER: &str = "wacmetest";
const KEY: &str = "56b4c87ef4fd49cb96d915c0db68194a";
const WRONG: &str = "0000wrongwrongwrongwrongwrong0000";
const IP: &str = "198.51.100.7";

fn options() -> NamecheapOptions {
    NamecheapOptions::new(USER, KEY, IP, &[ZONE])
}

/// lego's names for user and key, acme.sh's for the client IP.
fn case(fake: &FakeNamecheap) -> Case {
    Case::new("namecheap")
        .config("api_url", &fake.api_url())
        .env("NAMECHEAP_API_USER", USER)
        .secret_env("NAMECHEAP_API_KEY", KEY)
        .env("NAMECHEAP_SOURCEIP", IP)
        .wrong_env("NAMECHEAP_API_KEY", WRONG)
        .auth_reason("API Key is invalid or API access has not been enabled (1011102)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namecheap_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = FakeNamecheap::start(&pdns, options()).await;
    suite::conformance(&pdns, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namecheap_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = FakeNamecheap::start(&bed.pdns, options()).await;
    suite::issues_cleanly(&bed, &case(&fake), &fake).await;
    assert_eq!(
        fake.writes(),
        2,
        "one setHosts to present, one to clean up: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namecheap_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = FakeNamecheap::start(&bed.pdns, options()).await;
    suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namecheap_wrong_api_key() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = FakeNamecheap::start(&bed.pdns, options()).await;
    suite::wrong_credential(&bed, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namecheap_rate_limited_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = FakeNamecheap::start(&bed.pdns, options()).await;
    suite::rate_limited_then_retried(&bed, &case(&fake), &fake, 2).await;
}

fn without_ids(hosts: &[NcHost]) -> Vec<(String, String, String, String, String)> {
    hosts
        .iter()
        .map(|h| {
            (
                h.name.clone(),
                h.record_type.clone(),
                h.address.clone(),
                h.mx_pref.clone(),
                h.ttl.clone(),
            )
        })
        .collect()
}

/// Every field of every other host, and the EmailType, survive a present
/// and a cleanup; no write when nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namecheap_keeps_every_other_host_and_the_email_setting() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = FakeNamecheap::start(&pdns, options().with_mail_and_web(ZONE)).await;
    let before = fake.domain(ZONE).await;
    assert_eq!(before.email_type, "MX");
    let loaded = suite::load(&case(&fake)).await;
    let s = &loaded.session;

    s.present(&suite::txt_set(CHALLENGE, &["v-apex", "v-wild"], 60))
        .await
        .unwrap();
    let during = fake.domain(ZONE).await;
    assert_eq!(during.email_type, "MX", "EmailType written back");
    assert_eq!(
        without_ids(&during.hosts[..before.hosts.len()]),
        without_ids(&before.hosts),
        "every field of every host kept, in order"
    );
    assert_eq!(
        pdns.txt_values(CHALLENGE).await.unwrap(),
        ["v-apex", "v-wild"]
    );
    let writes = fake.writes();
    s.present(&suite::txt_set(CHALLENGE, &["v-apex", "v-wild"], 60))
        .await
        .unwrap();
    assert_eq!(fake.writes(), writes, "nothing to write");

    s.cleanup(&suite::txt_set(CHALLENGE, &["v-apex"], 60))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(CHALLENGE).await.unwrap(), ["v-wild"]);
    s.cleanup(&suite::txt_set(CHALLENGE, &["v-apex", "v-wild"], 60))
        .await
        .unwrap();
    let after = fake.domain(ZONE).await;
    assert_eq!(after.email_type, "MX");
    assert_eq!(without_ids(&after.hosts), without_ids(&before.hosts));
    assert!(pdns.txt_values(CHALLENGE).await.unwrap().is_empty());
    // The SPF record at the apex was never touched.
    assert_eq!(
        pdns.txt_values(ZONE).await.unwrap(),
        ["v=spf1 include:spf.example.test ~all"]
    );
}

/// A getHosts answer cut in half, or a host missing a field: the call fails
/// and nothing is written (setHosts would have deleted what was not read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namecheap_never_writes_after_an_incomplete_read() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = FakeNamecheap::start(&pdns, options().with_mail_and_web(ZONE)).await;
    let before = fake.domain(ZONE).await;
    let loaded = suite::load(&case(&fake)).await;
    for how in [BrokenRead::Truncated, BrokenRead::HostWithoutAddress] {
        fake.break_next_read(how);
        let err = loaded
            .session
            .present(&suite::txt_set(CHALLENGE, &["v"], 60))
            .await
            .unwrap_err();
        let p = err.provider_error().expect("a provider error");
        assert_eq!(p.kind, ProviderErrorKind::Permanent, "{how:?}: {err}");
        assert_eq!(fake.writes(), 0, "{how:?}: {:?}", fake.requests());
        assert_eq!(fake.domain(ZONE).await, before, "{how:?}");
    }
    // The same for cleanup, with a value to remove.
    loaded
        .session
        .present(&suite::txt_set(CHALLENGE, &["v"], 60))
        .await
        .unwrap();
    let writes = fake.writes();
    fake.break_next_read(BrokenRead::HostWithoutAddress);
    assert!(
        loaded
            .session
            .cleanup(&suite::txt_set(CHALLENGE, &["v"], 60))
            .await
            .is_err()
    );
    assert_eq!(fake.writes(), writes);
    assert_eq!(pdns.txt_values(CHALLENGE).await.unwrap(), ["v"]);
    loaded
        .session
        .cleanup(&suite::txt_set(CHALLENGE, &["v"], 60))
        .await
        .unwrap();
}

/// Unknown domain, client IP not whitelisted, bad client IP config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namecheap_errors_map_to_wit_cases() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = FakeNamecheap::start(&pdns, options()).await;
    let ok = suite::load(&case(&fake)).await;
    let err = ok
        .session
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
    assert!(err.to_string().contains("2019166"), "{err}");

    let mut other_ip = case(&fake);
    other_ip.env[2].1 = "203.0.113.9".into();
    let err = suite::load(&other_ip)
        .await
        .session
        .present(&suite::txt_set(CHALLENGE, &["x"], 60))
        .await
        .unwrap_err();
    assert_eq!(
        err.provider_error().unwrap().kind,
        ProviderErrorKind::Authentication,
        "{err}"
    );
    assert!(
        err.to_string().contains("Invalid request IP: 203.0.113.9"),
        "{err}"
    );

    let mut v6 = case(&fake);
    v6.env[2].1 = "2001:db8::7".into();
    let err = suite::load(&v6)
        .await
        .session
        .present(&suite::txt_set(CHALLENGE, &["x"], 60))
        .await
        .unwrap_err();
    assert_eq!(
        err.provider_error().unwrap().kind,
        ProviderErrorKind::InvalidConfig,
        "{err}"
    );

    // Error 500000 "Too many requests" (HTTP 200) is a rate limit.
    fake.throttle().next(1);
    let err = ok
        .session
        .present(&suite::txt_set(CHALLENGE, &["x"], 60))
        .await
        .unwrap_err();
    let p = err.provider_error().unwrap();
    assert_eq!(p.kind, ProviderErrorKind::RateLimited, "{err}");
    assert_eq!(p.retry_after, Some(std::time::Duration::from_secs(1)));
    assert_eq!(fake.throttle().served(), 1);
    assert!(fake.txt_records().await.is_empty());
}
