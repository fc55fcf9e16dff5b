//! The ovh plugin (built component) against the fake OVHcloud API, which
//! recomputes every signature and serves changes only after a zone refresh:
//! the shared provider battery (conformance, apex + wildcard issuance, a
//! foreign value kept, a wrong consumer key, throttled writes), then the
//! signing details: the server's clock is used (a skewed local clock does
//! not matter), a stale timestamp and a wrong secret are refused the way OVH
//! refuses them, regions and `api_url`.

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE};
use wacme_tests::fake_ovh::{self, FakeOvh, OvhOptions};
use wacme_tests::provider_suite::{self as suite, CHALLENGE, Case, Fake};

const AK: &str = "TDPKJdwZwAQPwKX2";
const AS: &str = "9ufkBmLaTQ9nz5yMUlg79taH0GNnzDjk";
const CK: &str = "5mBuy6SUQcRw2ZUxg0cG68BoDKpED4KY";
const WRONG_CK: &str = "0wrongConsumerKey0000000000000000";

fn options() -> OvhOptions {
    OvhOptions::new(AK, AS, CK, &[ZONE])
}

/// lego's names for two keys, acme.sh's for the third.
fn case(fake: &FakeOvh) -> Case {
    Case::new("ovh")
        .config("api_url", &fake.api_url())
        .secret_env("OVH_APPLICATION_KEY", AK)
        .secret_env("OVH_AS", AS)
        .secret_env("OVH_CONSUMER_KEY", CK)
        .wrong_env("OVH_CONSUMER_KEY", WRONG_CK)
        .auth_reason("INVALID_CREDENTIAL: This credential does not exist")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovh_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = FakeOvh::start(&pdns, options()).await;
    suite::conformance(&pdns, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovh_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = FakeOvh::start(&bed.pdns, options()).await;
    suite::issues_cleanly(&bed, &case(&fake), &fake).await;
    let requests = fake.requests();
    let posts = requests
        .iter()
        .filter(|r| r.starts_with("POST") && r.ends_with("/record"))
        .count();
    let deletes = requests.iter().filter(|r| r.starts_with("DELETE")).count();
    assert_eq!(
        (posts, deletes),
        (2, 2),
        "one record per value: {requests:?}"
    );
    assert_eq!(fake.refreshes(), 2, "one refresh per change: {requests:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovh_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = FakeOvh::start(&bed.pdns, options()).await;
    suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovh_wrong_consumer_key() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = FakeOvh::start(&bed.pdns, options()).await;
    suite::wrong_credential(&bed, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovh_rate_limited_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = FakeOvh::start(&bed.pdns, options()).await;
    suite::rate_limited_then_retried(&bed, &case(&fake), &fake, 2).await;
}

/// Present and cleanup through the runtime: only missing values are
/// created, nothing is served before the refresh, no write (and no refresh)
/// when nothing changes, only our values are deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovh_present_and_cleanup_touch_only_their_values() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = FakeOvh::start(&pdns, options()).await;
    let loaded = suite::load(&case(&fake)).await;
    let s = &loaded.session;
    fake.add_foreign(CHALLENGE, "foreign").await;

    s.present(&suite::txt_set(CHALLENGE, &["v-apex", "v-wild"], 60))
        .await
        .unwrap();
    assert_eq!(
        pdns.txt_values(CHALLENGE).await.unwrap(),
        ["foreign", "v-apex", "v-wild"]
    );
    assert!(
        fake.records()
            .await
            .iter()
            .all(|r| r.target.starts_with('"')),
        "OVH shows TXT targets quoted"
    );
    let before = fake.requests().len();
    s.present(&suite::txt_set(CHALLENGE, &["v-apex", "v-wild"], 60))
        .await
        .unwrap();
    assert!(
        fake.requests()[before..]
            .iter()
            .all(|r| r.starts_with("GET")),
        "nothing to write: {:?}",
        &fake.requests()[before..]
    );

    s.cleanup(&suite::txt_set(CHALLENGE, &["v-apex"], 60))
        .await
        .unwrap();
    assert_eq!(
        pdns.txt_values(CHALLENGE).await.unwrap(),
        ["foreign", "v-wild"]
    );
    s.cleanup(&suite::txt_set(CHALLENGE, &["v-apex", "v-wild"], 60))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(CHALLENGE).await.unwrap(), ["foreign"]);

    // Apex records have an empty subDomain.
    s.present(&suite::txt_set(ZONE, &["at-apex"], 60))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(ZONE).await.unwrap(), ["at-apex"]);
    assert!(fake.records().await.iter().any(|r| r.sub_domain.is_empty()));
    s.cleanup(&suite::txt_set(ZONE, &["at-apex"], 60))
        .await
        .unwrap();
    assert!(pdns.txt_values(ZONE).await.unwrap().is_empty());

    // A name in a zone the host found below the account's zone.
    let deep = "_acme-challenge.a.b.example.test";
    s.present(&suite::txt_set_in("b.example.test", deep, &["deep"], 60))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(deep).await.unwrap(), ["deep"]);
    s.cleanup(&suite::txt_set_in("b.example.test", deep, &["deep"], 60))
        .await
        .unwrap();
    assert!(pdns.txt_values(deep).await.unwrap().is_empty());
}

/// The plugin signs with the server's clock from `/auth/time`: an hour of
/// skew between this machine and OVH does not matter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovh_signs_with_the_servers_clock() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = FakeOvh::start(&pdns, options()).await;
    fake.set_clock_offset(3600);
    let loaded = suite::load(&case(&fake)).await;
    loaded
        .session
        .present(&suite::txt_set(CHALLENGE, &["skewed"], 60))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(CHALLENGE).await.unwrap(), ["skewed"]);
    loaded
        .session
        .cleanup(&suite::txt_set(CHALLENGE, &["skewed"], 60))
        .await
        .unwrap();
    assert!(fake.txt_records().await.is_empty());
    assert!(
        fake.requests()
            .iter()
            .filter(|r| r.contains("/auth/time"))
            .count()
            >= 2,
        "each call reads the server's clock"
    );
}

/// Wrong secret, unknown zone, region names: the WIT error cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovh_errors_map_to_wit_cases() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = FakeOvh::start(&pdns, options()).await;
    let mut wrong_secret = case(&fake);
    wrong_secret.env[1].1 = "not-the-application-secret".into();
    let loaded = suite::load(&wrong_secret).await;
    let err = loaded
        .session
        .present(&suite::txt_set(CHALLENGE, &["x"], 60))
        .await
        .unwrap_err();
    let p = err.provider_error().expect("a provider error");
    assert_eq!(p.kind, ProviderErrorKind::Authentication, "{err}");
    assert!(err.to_string().contains("INVALID_SIGNATURE"), "{err}");
    assert!(!err.to_string().contains("not-the-application-secret"));

    let mut wrong_key = case(&fake);
    wrong_key.env[0].1 = "UnknownAppKey000".into();
    let err = suite::load(&wrong_key)
        .await
        .session
        .present(&suite::txt_set(CHALLENGE, &["x"], 60))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("INVALID_KEY"), "{err}");

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

    // `endpoint` names a region, but an explicit `api_url` (here the fake)
    // wins; an unknown region is a config error.
    let mut region = case(&fake);
    region.config.push(("endpoint".into(), "ovh-ca".into()));
    suite::load(&region)
        .await
        .session
        .present(&suite::txt_set(CHALLENGE, &["via-api-url"], 60))
        .await
        .unwrap();
    let mut mars = case(&fake);
    mars.config.push(("endpoint".into(), "ovh-mars".into()));
    let err = suite::load(&mars)
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
    assert!(fake.txt_records().await.len() == 1);
}

/// The fake's own checks, with hand-signed requests: what OVH answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovh_fake_checks_timestamp_and_signature() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = FakeOvh::start(&pdns, options()).await;
    let http = reqwest::Client::new();
    let url = format!("{}/domain/zone/{ZONE}/record", fake.api_url());
    let call = |timestamp: i64, secret: &'static str| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let ts = timestamp.to_string();
            let sig = fake_ovh::expected_signature(secret, CK, "GET", &url, b"", &ts);
            let r = http
                .get(&url)
                .header("X-Ovh-Application", AK)
                .header("X-Ovh-Consumer", CK)
                .header("X-Ovh-Timestamp", ts)
                .header("X-Ovh-Signature", sig)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap();
            (status, body)
        }
    };
    let now = fake.now();
    assert_eq!(call(now, AS).await, (200, serde_json::json!([])));
    let (status, body) = call(now - 3600, AS).await;
    assert_eq!(status, 400);
    assert_eq!(body["errorCode"], "QUERY_TIME_OUT", "{body}");
    assert_eq!(body["httpCode"], "400 Bad Request", "{body}");
    let (status, body) = call(now, "another-secret").await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        serde_json::json!({"errorCode": "INVALID_SIGNATURE", "httpCode": "400 Bad Request", "message": "Invalid signature"})
    );
    // /auth/time needs no credentials and is the fake's clock.
    let t: i64 = http
        .get(format!("{}/auth/time", fake.api_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!((t - fake.now()).abs() <= 2);
}
