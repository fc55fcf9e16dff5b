//! The cloudflare plugin through the shared provider battery, against the
//! fake Cloudflare API mirroring into PowerDNS; its batch calls (four names
//! in one zone lookup, one listing and one `/dns_records/batch`), and the
//! fake's batch endpoint itself.

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

/// The four names of the batch test; the second carries a foreign value.
const BATCH_NAMES: [&str; 4] = [
    suite::CHALLENGE,
    "_acme-challenge.a.example.test",
    "_acme-challenge.b.example.test",
    "_acme-challenge.deep.c.example.test",
];

/// `present_many` / `cleanup_many` through the batch exports: one zone
/// lookup, one listing for every name, one `/dns_records/batch`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudflare_batch_calls_take_three_requests() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = FakeCloudflare::start(&pdns, CloudflareOptions::new(TOKEN, &[ZONE])).await;
    let loaded = suite::load(&case(&fake)).await;
    assert!(loaded.plugin.metadata().hints.batch);
    let s = &loaded.session;
    Fake::add_foreign(&fake, BATCH_NAMES[1], "foreign").await;
    let sets: Vec<_> = BATCH_NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| suite::txt_set(name, &[&format!("v{i}-apex"), &format!("v{i}-wild")], 120))
        .collect();

    let (before, seen) = (s.requests(), fake.requests().len());
    s.present_many(&sets).await.unwrap();
    let requests = fake.requests()[seen..].to_vec();
    assert_eq!(s.requests() - before, 3, "{requests:?}");
    assert!(requests[0].starts_with("GET /zones?"), "{requests:?}");
    assert!(
        requests[1].starts_with("GET /zones/")
            && requests[1].contains("name.startswith=_acme-challenge.")
            && requests[1].contains("type=TXT"),
        "{requests:?}"
    );
    assert!(requests[2].ends_with("/dns_records/batch"), "{requests:?}");
    for (i, name) in BATCH_NAMES.iter().enumerate() {
        let mut want = vec![format!("v{i}-apex"), format!("v{i}-wild")];
        if i == 1 {
            want.insert(0, "foreign".into());
        }
        assert_eq!(pdns.txt_values(name).await.unwrap(), want, "{name}");
    }
    assert_eq!(fake.records().await.len(), 9);

    // Again: listed, nothing to write.
    let before = s.requests();
    s.present_many(&sets).await.unwrap();
    assert_eq!(s.requests() - before, 2);
    assert_eq!(fake.records().await.len(), 9);

    let (before, seen) = (s.requests(), fake.requests().len());
    s.cleanup_many(&sets).await.unwrap();
    let requests = fake.requests()[seen..].to_vec();
    assert_eq!(s.requests() - before, 3, "{requests:?}");
    assert!(requests[2].ends_with("/dns_records/batch"), "{requests:?}");
    assert_eq!(
        fake.txt_records().await,
        [(BATCH_NAMES[1].to_string(), "foreign".to_string())]
    );
    assert_eq!(pdns.txt_values(BATCH_NAMES[1]).await.unwrap(), ["foreign"]);
    for name in [BATCH_NAMES[0], BATCH_NAMES[2], BATCH_NAMES[3]] {
        assert!(pdns.txt_values(name).await.unwrap().is_empty(), "{name}");
    }

    // Already gone: listed, nothing written.
    let before = s.requests();
    s.cleanup_many(&sets).await.unwrap();
    assert_eq!(s.requests() - before, 2);
}

/// The fake's `/dns_records/batch` as Cloudflare documents it: one
/// transaction (a failing operation changes nothing), deletes before posts,
/// the body checked, the token required.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_batch_endpoint_is_one_transaction() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = FakeCloudflare::start(&pdns, CloudflareOptions::new(TOKEN, &[ZONE])).await;
    let zone_id = fake.zone_id(ZONE).unwrap();
    let url = format!("{}/zones/{zone_id}/dns_records/batch", fake.endpoint());
    let http = reqwest::Client::new();
    let send = |token: &'static str, body: serde_json::Value| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let post = |value: &str| {
        serde_json::json!({"type": "TXT", "name": suite::CHALLENGE,
            "content": format!("\"{value}\""), "ttl": 120})
    };

    let (status, body) = send(WRONG, serde_json::json!({"posts": [post("x")]})).await;
    assert_eq!(
        (status, body["errors"][0]["code"].as_i64()),
        (403, Some(10000))
    );

    let (status, body) = send(TOKEN, serde_json::json!({"posts": [post("a"), post("b")]})).await;
    assert_eq!(status, 200, "{body}");
    let posted = body["result"]["posts"].as_array().unwrap();
    assert_eq!(posted.len(), 2);
    let id_a = posted[0]["id"].as_str().unwrap().to_string();
    assert_eq!(pdns.txt_values(suite::CHALLENGE).await.unwrap(), ["a", "b"]);

    // A delete of a missing record fails the batch: the post is not made.
    let (status, body) = send(
        TOKEN,
        serde_json::json!({"deletes": [{"id": "0000"}], "posts": [post("c")]}),
    )
    .await;
    assert_eq!(
        (status, body["errors"][0]["code"].as_i64()),
        (404, Some(81044))
    );
    // An identical record fails the batch: the delete is undone.
    let (status, body) = send(
        TOKEN,
        serde_json::json!({"deletes": [{"id": id_a}], "posts": [post("b")]}),
    )
    .await;
    assert_eq!(
        (status, body["errors"][0]["code"].as_i64()),
        (400, Some(81058))
    );
    assert_eq!(fake.records().await.len(), 2);
    assert_eq!(pdns.txt_values(suite::CHALLENGE).await.unwrap(), ["a", "b"]);

    // Deletes run first: a record deleted and posted again in one batch.
    let (status, body) = send(
        TOKEN,
        serde_json::json!({"posts": [post("a")], "deletes": [{"id": id_a}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["deletes"][0]["id"], id_a.as_str());
    assert_eq!(pdns.txt_values(suite::CHALLENGE).await.unwrap(), ["a", "b"]);

    // Malformed bodies and a TTL out of range.
    for bad in [
        serde_json::json!({"creates": []}),
        serde_json::json!({"deletes": {"id": "x"}}),
        serde_json::json!([]),
    ] {
        let (status, body) = send(TOKEN, bad.clone()).await;
        assert_eq!(
            (status, body["success"].as_bool()),
            (400, Some(false)),
            "{bad}"
        );
    }
    let mut short = post("z");
    short["ttl"] = 5.into();
    let (_, body) = send(TOKEN, serde_json::json!({"posts": [short]})).await;
    assert_eq!(body["errors"][0]["code"].as_i64(), Some(9021));
    let too_many: Vec<_> = (0..201).map(|i| post(&format!("n{i}"))).collect();
    let (status, _) = send(TOKEN, serde_json::json!({"posts": too_many})).await;
    assert_eq!(status, 400);
    assert_eq!(fake.records().await.len(), 2);
}
