//! The route53 plugin (built component):
//!
//! - against `fake_route53` (SigV4 recomputed independently, real XML error
//!   documents, `ChangeInfo` PENDING → INSYNC, paged listings, records
//!   mirrored into PowerDNS): present/cleanup through the host's runtime
//!   (foreign values kept byte for byte, the set deleted exactly as read,
//!   zone lookup across pages, private zones, configured zone id, every
//!   error case), `wacme plugin test`, and `wacme issue` for apex +
//!   wildcard against Pebble (clean, next to a foreign value, with a wrong
//!   secret, with throttled writes); the batch calls writing four names in
//!   one change batch;
//! - against moto in server mode (`moto_server`, request authentication on:
//!   access keys of a moto IAM user whose policy allows only the four Route
//!   53 actions the plugin needs, every signature recomputed by moto with
//!   botocore's signer): present/cleanup round trip, the batch calls, and
//!   `wacme plugin test`,
//!   moto's record sets mirrored into PowerDNS by a pass-through proxy so the
//!   suite's DNS checks see what moto holds.

use std::sync::Arc;
use std::time::Duration;

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::Bed;
use wacme_tests::fake_route53::{self, FakeRoute53, HostedZone, Route53Options};
use wacme_tests::fake_store::PdnsMirror;
use wacme_tests::pdns::Pdns;
use wacme_tests::provider_suite::{self as suite, Case, Fake, txt_set, txt_set_in};

const ZONE: &str = "example.test";
const NAME: &str = "_acme-challenge.example.test";
const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const WRONG_SECRET: &str = "not/the+secret-0000000000000000000000000";

fn case(fake: &FakeRoute53) -> Case {
    Case::new("route53")
        .config("endpoint", &fake.endpoint())
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .secret_env("AWS_SECRET_ACCESS_KEY", SECRET)
        .wrong_env("AWS_SECRET_ACCESS_KEY", WRONG_SECRET)
        .auth_reason("SignatureDoesNotMatch")
}

async fn fake_with(pdns: &Pdns, options: impl FnOnce(&mut Route53Options)) -> FakeRoute53 {
    let mut o = Route53Options::new(KEY_ID, SECRET, &[ZONE]);
    options(&mut o);
    FakeRoute53::start(pdns, o).await
}

fn kind(err: &wacme::plugins::Error) -> ProviderErrorKind {
    err.provider_error()
        .unwrap_or_else(|| panic!("not a provider error: {err}"))
        .kind
}

// ------------------------------------------------------------ runtime level

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn present_and_cleanup_rewrite_the_whole_set_keeping_foreign_values() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = fake_with(&pdns, |_| {}).await;
    let loaded = suite::load(&case(&fake)).await;
    let s = &loaded.session;
    // Another client's value, in the split-string form, with its own TTL.
    fake.put_foreign(NAME, 300, &["\"foreign\" \"-split\""])
        .await;

    s.present(&txt_set(NAME, &["v-apex", "v-wild"], 60))
        .await
        .unwrap();
    let sets = fake.txt_sets().await;
    assert_eq!(sets.len(), 1);
    assert_eq!(
        sets[0].values,
        ["\"foreign\" \"-split\"", "\"v-apex\"", "\"v-wild\""],
        "foreign value verbatim, ours quoted"
    );
    assert_eq!(sets[0].ttl, 60);
    assert_eq!(
        pdns.txt_values(NAME).await.unwrap(),
        ["foreign-split", "v-apex", "v-wild"]
    );
    // Each write waited for INSYNC: the fake answered PENDING once, then INSYNC.
    let changes: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("GET /2013-04-01/change/"))
        .collect();
    assert_eq!(changes.len(), 2, "{:?}", fake.requests());

    // Idempotent: nothing written when every value is there.
    let writes = fake.writes();
    s.present(&txt_set(NAME, &["v-wild"], 60)).await.unwrap();
    assert_eq!(fake.writes(), writes, "{:?}", fake.requests());

    // Cleanup keeps the foreign value, then removing it too (as its owner
    // would) leaves the name empty; cleaning up again changes nothing.
    s.cleanup(&txt_set(NAME, &["v-apex", "v-wild"], 60))
        .await
        .unwrap();
    assert_eq!(fake.txt_sets().await[0].values, ["\"foreign\" \"-split\""]);
    assert_eq!(pdns.txt_values(NAME).await.unwrap(), ["foreign-split"]);
    s.cleanup(&txt_set(NAME, &["v-apex"], 60)).await.unwrap();
    s.cleanup(&txt_set(NAME, &["foreign-split"], 60))
        .await
        .unwrap();
    assert!(fake.txt_sets().await.is_empty());
    assert!(pdns.txt_values(NAME).await.unwrap().is_empty());
    let writes = fake.writes();
    s.cleanup(&txt_set(NAME, &["foreign-split"], 60))
        .await
        .unwrap();
    assert_eq!(fake.writes(), writes);
    assert!(fake.errors().is_empty(), "{:?}", fake.errors());

    // The last value goes with a DELETE that repeats the set exactly.
    s.present(&txt_set(ZONE, &["at-apex"], 120)).await.unwrap();
    assert_eq!(pdns.txt_values(ZONE).await.unwrap(), ["at-apex"]);
    s.cleanup(&txt_set(ZONE, &["at-apex"], 60)).await.unwrap();
    assert!(pdns.txt_values(ZONE).await.unwrap().is_empty());
    assert!(fake.errors().is_empty(), "{:?}", fake.errors());
}

/// The four names of the batch tests; the second carries a foreign value.
const BATCH_NAMES: [&str; 4] = [
    NAME,
    "_acme-challenge.a.example.test",
    "_acme-challenge.b.example.test",
    "_acme-challenge.deep.c.example.test",
];

fn batch_sets() -> Vec<wacme::plugins::TxtSet> {
    BATCH_NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| txt_set(name, &[&format!("v{i}-apex"), &format!("v{i}-wild")], 60))
        .collect()
}

/// Requests of `requests` starting with `prefix`.
fn count(requests: &[String], prefix: &str) -> usize {
    requests.iter().filter(|r| r.starts_with(prefix)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_calls_write_every_name_in_one_change_batch() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = fake_with(&pdns, |_| {}).await;
    let loaded = suite::load(&case(&fake)).await;
    assert!(loaded.plugin.metadata().hints.batch);
    let s = &loaded.session;
    fake.put_foreign(BATCH_NAMES[1], 300, &["\"foreign\""])
        .await;
    let sets = batch_sets();

    let (before, seen) = (s.requests(), fake.requests().len());
    s.present_many(&sets).await.unwrap();
    let requests = fake.requests()[seen..].to_vec();
    assert_eq!(
        count(&requests, "POST "),
        1,
        "one change batch: {requests:?}"
    );
    assert_eq!(count(&requests, "GET /2013-04-01/hostedzonesbyname"), 1);
    // The listing from the first name also shows the foreign set further
    // on: three listings for four names.
    assert_eq!(
        count(&requests, "GET /2013-04-01/hostedzone/"),
        3,
        "{requests:?}"
    );
    // Waited once: PENDING, then INSYNC.
    assert_eq!(count(&requests, "GET /2013-04-01/change/"), 2);
    assert_eq!(s.requests() - before, 7, "{requests:?}");
    for (i, name) in BATCH_NAMES.iter().enumerate() {
        let mut want = vec![format!("v{i}-apex"), format!("v{i}-wild")];
        if i == 1 {
            want.insert(0, "foreign".into());
        }
        assert_eq!(pdns.txt_values(name).await.unwrap(), want, "{name}");
    }

    // Again: nothing to write.
    let writes = fake.writes();
    s.present_many(&sets).await.unwrap();
    assert_eq!(fake.writes(), writes);

    // Cleanup: one listing shows every name, one change batch (three
    // DELETEs, one UPSERT keeping the foreign value), one wait.
    let (before, seen) = (s.requests(), fake.requests().len());
    s.cleanup_many(&sets).await.unwrap();
    let requests = fake.requests()[seen..].to_vec();
    assert_eq!(count(&requests, "POST "), 1, "{requests:?}");
    assert_eq!(
        count(&requests, "GET /2013-04-01/hostedzone/"),
        1,
        "{requests:?}"
    );
    assert_eq!(s.requests() - before, 5, "{requests:?}");
    let held = fake.txt_sets().await;
    assert_eq!(held.len(), 1, "{held:?}");
    // The TTL is the one `present_many` wrote, as `present` does.
    assert_eq!(
        (held[0].ttl, held[0].values.clone()),
        (60, vec!["\"foreign\"".to_string()])
    );
    assert_eq!(pdns.txt_values(BATCH_NAMES[1]).await.unwrap(), ["foreign"]);
    for name in [BATCH_NAMES[0], BATCH_NAMES[2], BATCH_NAMES[3]] {
        assert!(pdns.txt_values(name).await.unwrap().is_empty(), "{name}");
    }

    // Already gone: nothing written.
    let writes = fake.writes();
    s.cleanup_many(&sets).await.unwrap();
    assert_eq!(fake.writes(), writes);
    assert!(fake.errors().is_empty(), "{:?}", fake.errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zone_lookup_follows_pages_and_tells_private_from_public() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    // A private zone of the same name sorts first; one item per page.
    let fake = fake_with(&pdns, |o| {
        o.zones.insert(
            0,
            HostedZone {
                id: "Z0PRIVATE000001".into(),
                name: ZONE.into(),
                private: true,
            },
        );
        o.zones.push(HostedZone {
            id: "Z9OTHER00000001".into(),
            name: "other.test".into(),
            private: false,
        });
        o.max_items = 1;
    })
    .await;
    let loaded = suite::load(&case(&fake)).await;
    loaded
        .session
        .present(&txt_set(NAME, &["public"], 60))
        .await
        .unwrap();
    assert_eq!(pdns.txt_values(NAME).await.unwrap(), ["public"]);
    let lookups: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.contains("hostedzonesbyname"))
        .collect();
    assert_eq!(lookups.len(), 2, "followed to the second page: {lookups:?}");
    assert!(
        lookups[1].contains("hostedzoneid=Z1000ABCDEFGHIJ"),
        "{lookups:?}"
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.starts_with("POST /2013-04-01/hostedzone/Z1000ABCDEFGHIJ/rrset")),
        "{:?}",
        fake.requests()
    );
    // A name deeper than the zone the host found still lands in the zone.
    let deep = "_acme-challenge.a.b.example.test";
    let set = txt_set_in("b.example.test", deep, &["deep"], 60);
    loaded.session.present(&set).await.unwrap();
    assert_eq!(pdns.txt_values(deep).await.unwrap(), ["deep"]);
    loaded.session.cleanup(&set).await.unwrap();
    loaded
        .session
        .cleanup(&txt_set(NAME, &["public"], 60))
        .await
        .unwrap();
    assert!(fake.txt_sets().await.is_empty());

    // private_zone=true writes into the private zone (not mirrored to DNS).
    let private = suite::load(&case(&fake).config("private_zone", "true")).await;
    private
        .session
        .present(&txt_set(NAME, &["private"], 60))
        .await
        .unwrap();
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.starts_with("POST /2013-04-01/hostedzone/Z0PRIVATE000001/rrset")),
        "{:?}",
        fake.requests()
    );
    assert!(pdns.txt_values(NAME).await.unwrap().is_empty());
    private
        .session
        .cleanup(&txt_set(NAME, &["private"], 60))
        .await
        .unwrap();

    // A configured zone id skips the lookup.
    let before = fake.requests().len();
    let fixed = suite::load(&case(&fake).config("hosted_zone_id", "Z1000ABCDEFGHIJ")).await;
    fixed
        .session
        .present(&txt_set(NAME, &["fixed"], 60))
        .await
        .unwrap();
    fixed
        .session
        .cleanup(&txt_set(NAME, &["fixed"], 60))
        .await
        .unwrap();
    assert!(
        fake.requests()[before..]
            .iter()
            .all(|r| !r.contains("hostedzonesbyname")),
        "{:?}",
        fake.requests()
    );
    assert!(fake.txt_sets().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_map_to_wit_cases() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = fake_with(&pdns, |o| {
        o.session_token = Some("FwoGZXIvYXdzEXAMPLE".into())
    })
    .await;
    let with_token = case(&fake).secret_env("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLE");
    let ok = suite::load(&with_token).await;
    let set = txt_set(NAME, &["x"], 60);
    ok.session.present(&set).await.unwrap();
    ok.session.cleanup(&set).await.unwrap();

    let message = |err: &wacme::plugins::Error| err.to_string();
    // No token, a wrong secret, an unknown key.
    let err = suite::load(&case(&fake))
        .await
        .session
        .present(&set)
        .await
        .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Authentication, "{err}");
    assert!(message(&err).contains("InvalidClientTokenId"), "{err}");
    let wrong = suite::load_with_env(&with_token, &with_token.wrong_credential_env()).await;
    let err = wrong.session.present(&set).await.unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Authentication, "{err}");
    assert!(message(&err).contains("SignatureDoesNotMatch"), "{err}");
    assert!(!message(&err).contains(WRONG_SECRET), "{err}");
    let mut unknown = with_token.wrong_credential_env();
    unknown.retain(|(k, _)| k != "AWS_SECRET_ACCESS_KEY");
    unknown.push(("AWS_SECRET_ACCESS_KEY".into(), SECRET.into()));
    unknown.retain(|(k, _)| k != "AWS_ACCESS_KEY_ID");
    unknown.push(("AWS_ACCESS_KEY_ID".into(), "AKIAUNKNOWN000000000".into()));
    let err = suite::load_with_env(&with_token, &unknown)
        .await
        .session
        .present(&set)
        .await
        .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Authentication, "{err}");
    assert!(message(&err).contains("InvalidClientTokenId"), "{err}");

    // A clock 10 minutes off: the signature expired.
    fake.set_clock_offset(600);
    let err = ok.session.present(&set).await.unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Permanent, "{err}");
    assert!(message(&err).contains("clock"), "{err}");
    fake.set_clock_offset(0);

    // Throttling and PriorRequestNotComplete are rate limits.
    fake.throttle().next(1);
    let err = ok.session.present(&set).await.unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::RateLimited, "{err}");
    assert!(message(&err).contains("Throttling"), "{err}");
    fake.prior_request_next(1);
    let err = ok.session.present(&set).await.unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::RateLimited, "{err}");
    assert!(message(&err).contains("PriorRequestNotComplete"), "{err}");

    // A zone the account does not hold, a configured zone id that is wrong.
    let err = ok
        .session
        .present(&txt_set_in(
            "other.invalid",
            "_acme-challenge.other.invalid",
            &["x"],
            60,
        ))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::ZoneNotFound, "{err}");
    let bad_id = suite::load(&with_token.clone().config("hosted_zone_id", "ZNOSUCHZONE")).await;
    let err = bad_id.session.present(&set).await.unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::ZoneNotFound, "{err}");
    assert!(message(&err).contains("NoSuchHostedZone"), "{err}");

    // A value Route 53 refuses (over 255 bytes in one string) is permanent.
    let long = "x".repeat(300);
    let err = ok
        .session
        .present(&txt_set(NAME, &[long.as_str()], 60))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Permanent, "{err}");
    assert!(message(&err).contains("InvalidChangeBatch"), "{err}");
    assert!(fake.txt_sets().await.is_empty());
}

/// The fake's own checks, with hand-made requests: the codes and documents
/// the real service answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_checks_signatures_like_route53() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = fake_with(&pdns, |_| {}).await;
    let http = reqwest::Client::new();
    let host = fake.server.addr.to_string();
    let path = "/2013-04-01/hostedzonesbyname";
    let query = vec![("dnsname".to_string(), "example.test.".to_string())];
    let get = |headers: Vec<(String, String)>| {
        let mut r = http.get(format!("{}{path}?dnsname=example.test.", fake.endpoint()));
        for (k, v) in headers {
            r = r.header(k, v);
        }
        async move {
            let r = r.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let signed = |secret: &str| {
        fake_route53::sign_headers(
            KEY_ID,
            secret,
            None,
            "us-east-1",
            "route53",
            "GET",
            &host,
            path,
            &query,
            b"",
        )
    };
    let (status, body) = get(signed(SECRET)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<Name>example.test.</Name>"), "{body}");
    let (status, body) = get(signed("wrong")).await;
    assert_eq!(status, 403);
    assert!(
        body.starts_with("<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>"),
        "{body}"
    );
    assert!(body.contains("<RequestId>"), "{body}");
    let (status, body) = get(Vec::new()).await;
    assert_eq!(
        (status, body.contains("MissingAuthenticationToken")),
        (403, true),
        "{body}"
    );
    let other_service = fake_route53::sign_headers(
        KEY_ID,
        SECRET,
        None,
        "us-east-1",
        "s3",
        "GET",
        &host,
        path,
        &query,
        b"",
    );
    let (status, body) = get(other_service).await;
    assert_eq!(status, 403);
    assert!(body.contains("scoped to correct service"), "{body}");
    // A request signed for another host does not verify.
    let elsewhere = fake_route53::sign_headers(
        KEY_ID,
        SECRET,
        None,
        "us-east-1",
        "route53",
        "GET",
        "route53.amazonaws.com",
        path,
        &query,
        b"",
    );
    assert_eq!(get(elsewhere).await.0, 403);
}

// --------------------------------------------------------------- the battery

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_conformance_suite() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = fake_with(&pdns, |_| {}).await;
    suite::conformance(&pdns, &case(&fake), &fake).await;
    assert!(fake.errors().is_empty(), "{:?}", fake.errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = fake_with(&bed.pdns, |_| {}).await;
    suite::issues_cleanly(&bed, &case(&fake), &fake).await;
    // One UPSERT with both values, one DELETE of both.
    assert_eq!(fake.writes(), 2, "{:?}", fake.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_value_survives_the_issuance() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = fake_with(&bed.pdns, |_| {}).await;
    suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_fails_cleanly_and_says_why() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = fake_with(&bed.pdns, |_| {}).await;
    suite::wrong_credential(&bed, &case(&fake), &fake).await;
    assert!(fake.writes() == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = fake_with(&bed.pdns, |_| {}).await;
    suite::rate_limited_then_retried(&bed, &case(&fake), &fake, 2).await;
    assert_eq!(
        fake.errors().iter().filter(|e| *e == "Throttling").count(),
        2,
        "{:?}",
        fake.errors()
    );
}

// ---------------------------------------------------------------------- moto

/// moto, pinned in `.ci/run`.
const MOTO_PIN: &str = "moto[server]==5.2.1";
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["route53:ListHostedZonesByName","route53:ListResourceRecordSets","route53:ChangeResourceRecordSets","route53:GetChange"],"Resource":"*"}]}"#;

/// A `moto_server` with request authentication on after the set-up calls,
/// an IAM user allowed only [`POLICY`], its access key, and a hosted zone.
struct Moto {
    _child: wacme_tests::ChildGuard,
    url: String,
    host: String,
    key_id: String,
    secret: String,
    zone_id: String,
    http: reqwest::Client,
}

/// Calls moto makes before it starts authenticating: CreateUser,
/// PutUserPolicy, CreateAccessKey, CreateHostedZone.
const SETUP_CALLS: usize = 4;

impl Moto {
    async fn start() -> Option<Moto> {
        if !wacme_tests::require_program("moto_server") {
            eprintln!("*** moto: pip install '{MOTO_PIN}' ***");
            return None;
        }
        let port = wacme_tests::free_port();
        let child = std::process::Command::new(wacme_tests::find_program("moto_server").unwrap())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", SETUP_CALLS.to_string())
            .env("MOTO_ALLOW_NONEXISTENT_REGION", "false")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start moto_server");
        let guard = wacme_tests::ChildGuard {
            name: "moto_server",
            child,
        };
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        wacme_tests::wait_for_tcp(addr, Duration::from_secs(30)).expect("moto_server listens");
        let mut moto = Moto {
            _child: guard,
            url: format!("http://{addr}"),
            host: addr.to_string(),
            key_id: "AKIDSETUP".into(),
            secret: "setup".into(),
            zone_id: String::new(),
            http: reqwest::Client::new(),
        };
        // Unauthenticated set-up (moto routes on the signature's scope).
        let iam = |action: &str, extra: &[(&str, &str)]| {
            let mut form = vec![
                ("Action".to_string(), action.to_string()),
                ("Version".to_string(), "2010-05-08".to_string()),
            ];
            form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            form
        };
        moto.iam(&iam("CreateUser", &[("UserName", "acme-dns01")]))
            .await;
        moto.iam(&iam(
            "PutUserPolicy",
            &[
                ("UserName", "acme-dns01"),
                ("PolicyName", "route53-dns01"),
                ("PolicyDocument", POLICY),
            ],
        ))
        .await;
        let key = moto
            .iam(&iam("CreateAccessKey", &[("UserName", "acme-dns01")]))
            .await;
        moto.key_id = text_of(&key, "AccessKeyId");
        moto.secret = text_of(&key, "SecretAccessKey");
        let created = moto
            .route53(
                reqwest::Method::POST,
                "/2013-04-01/hostedzone",
                &[],
                format!(
                    "<CreateHostedZoneRequest xmlns=\"{}\"><Name>{ZONE}.</Name>\
                     <CallerReference>wacme-test</CallerReference></CreateHostedZoneRequest>",
                    fake_route53::XMLNS
                ),
                ("AKIDSETUP", "setup"),
            )
            .await;
        assert!(created.0 < 300, "{created:?}");
        moto.zone_id = text_of(&created.1, "Id")
            .trim_start_matches("/hostedzone/")
            .to_string();
        Some(moto)
    }

    async fn iam(&self, form: &[(String, String)]) -> String {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let headers = fake_route53::sign_headers(
            &self.key_id,
            &self.secret,
            None,
            "us-east-1",
            "iam",
            "POST",
            &self.host,
            "/",
            &[],
            body.as_bytes(),
        );
        let mut r = self
            .http
            .post(format!("{}/", self.url))
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(body);
        for (k, v) in headers {
            r = r.header(k, v);
        }
        let r = r.send().await.expect("moto IAM");
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "{form:?}: {status} {text}");
        text
    }

    /// A Route 53 call signed with `(key id, secret)`: (status, body).
    async fn route53(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(String, String)],
        body: String,
        (key_id, secret): (&str, &str),
    ) -> (u16, String) {
        let headers = fake_route53::sign_headers(
            key_id,
            secret,
            None,
            "us-east-1",
            "route53",
            method.as_str(),
            &self.host,
            path,
            query,
            body.as_bytes(),
        );
        let mut url = format!("{}{path}", self.url);
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        fake_route53::encode(k, false),
                        fake_route53::encode(v, false)
                    )
                })
                .collect();
            url = format!("{url}?{}", q.join("&"));
        }
        let mut r = self.http.request(method, url).body(body);
        for (k, v) in headers {
            r = r.header(k, v);
        }
        let r = r.send().await.expect("moto Route 53");
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// The TXT values (presentation form) moto holds at `fqdn`.
    async fn txt(&self, fqdn: &str) -> Vec<String> {
        let query = vec![
            ("name".to_string(), format!("{fqdn}.")),
            ("type".to_string(), "TXT".to_string()),
            ("maxitems".to_string(), "1".to_string()),
        ];
        let (status, body) = self
            .route53(
                reqwest::Method::GET,
                &format!("/2013-04-01/hostedzone/{}/rrset", self.zone_id),
                &query,
                String::new(),
                (&self.key_id, &self.secret),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let doc = roxmltree::Document::parse(&body).unwrap();
        let Some(set) = doc
            .descendants()
            .find(|n| n.tag_name().name() == "ResourceRecordSet")
        else {
            return Vec::new();
        };
        let child = |n: roxmltree::Node<'_, '_>, name: &str| {
            n.children()
                .find(|c| c.tag_name().name() == name)
                .and_then(|c| c.text())
                .unwrap_or_default()
                .to_string()
        };
        if child(set, "Name").trim_end_matches('.') != fqdn || child(set, "Type") != "TXT" {
            return Vec::new();
        }
        set.descendants()
            .filter(|n| n.tag_name().name() == "Value")
            .filter_map(|n| n.text())
            .map(str::to_string)
            .collect()
    }

    fn case(&self, endpoint: &str) -> Case {
        Case::new("route53")
            .config("endpoint", endpoint)
            .env("AWS_ACCESS_KEY_ID", &self.key_id)
            .secret_env("AWS_SECRET_ACCESS_KEY", &self.secret)
    }
}

fn text_of(doc: &str, name: &str) -> String {
    let doc = roxmltree::Document::parse(doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
    doc.descendants()
        .find(|n| n.tag_name().name() == name)
        .and_then(|n| n.text())
        .unwrap_or_else(|| panic!("no {name}"))
        .to_string()
}

/// A pass-through proxy in front of moto: forwards every request unchanged
/// (the `Host` header included, so moto verifies the plugin's signature),
/// and after each accepted change batch copies moto's TXT sets of the names
/// it touched into PowerDNS.
struct MirrorProxy {
    server: wacme_tests::httpd::TestServer,
}

impl MirrorProxy {
    async fn start(moto: Arc<Moto>, pdns: &Pdns) -> MirrorProxy {
        use axum::body::Bytes;
        use axum::http::{HeaderMap, Method, Uri};
        let mirror = PdnsMirror::new(pdns);
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (moto, mirror) = (moto.clone(), mirror.clone());
                async move {
                    let url = format!(
                        "{}{}",
                        moto.url,
                        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
                    );
                    let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap();
                    let mut r = moto.http.request(method.clone(), url).body(body.clone());
                    for (k, v) in headers.iter() {
                        if !matches!(
                            k.as_str(),
                            "content-length" | "transfer-encoding" | "connection"
                        ) {
                            r = r.header(k.as_str(), v.as_bytes());
                        }
                    }
                    let answer = r.send().await.expect("forward to moto");
                    let status = answer.status().as_u16();
                    let text = answer.text().await.unwrap();
                    if method == reqwest::Method::POST
                        && uri.path().ends_with("/rrset")
                        && status == 200
                    {
                        let names: Vec<String> =
                            roxmltree::Document::parse(std::str::from_utf8(&body).unwrap())
                                .unwrap()
                                .descendants()
                                .filter(|n| n.tag_name().name() == "Name")
                                .filter_map(|n| n.text())
                                .map(|n| n.trim_end_matches('.').to_string())
                                .collect();
                        for name in names {
                            let values: Vec<String> = moto
                                .txt(&name)
                                .await
                                .iter()
                                .map(|v| fake_route53::unquote_txt(v))
                                .collect();
                            mirror.set_txt(ZONE, &name, 60, &values).await.unwrap();
                        }
                    }
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        [("content-type", "text/xml")],
                        text,
                    )
                }
            },
        );
        MirrorProxy {
            server: wacme_tests::httpd::TestServer::start(app).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_round_trip_with_request_authentication() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    // A foreign value, written by the account's other client.
    let batch = format!(
        "<ChangeResourceRecordSetsRequest xmlns=\"{}\"><ChangeBatch><Changes><Change>\
         <Action>CREATE</Action><ResourceRecordSet><Name>{NAME}.</Name><Type>TXT</Type>\
         <TTL>300</TTL><ResourceRecords><ResourceRecord><Value>\"foreign\"</Value>\
         </ResourceRecord></ResourceRecords></ResourceRecordSet></Change></Changes>\
         </ChangeBatch></ChangeResourceRecordSetsRequest>",
        fake_route53::XMLNS
    );
    let (status, body) = moto
        .route53(
            reqwest::Method::POST,
            &format!("/2013-04-01/hostedzone/{}/rrset", moto.zone_id),
            &[],
            batch,
            (&moto.key_id, &moto.secret),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let case = moto.case(&moto.url);
    let loaded = suite::load(&case).await;
    let s = &loaded.session;
    s.present(&txt_set(NAME, &["v-apex", "v-wild"], 60))
        .await
        .unwrap();
    assert_eq!(
        moto.txt(NAME).await,
        ["\"foreign\"", "\"v-apex\"", "\"v-wild\""]
    );
    s.present(&txt_set(NAME, &["v-wild"], 60)).await.unwrap();
    s.cleanup(&txt_set(NAME, &["v-apex"], 60)).await.unwrap();
    assert_eq!(moto.txt(NAME).await, ["\"foreign\"", "\"v-wild\""]);
    s.cleanup(&txt_set(NAME, &["v-wild", "foreign"], 60))
        .await
        .unwrap();
    assert!(moto.txt(NAME).await.is_empty());

    // moto's authentication: a wrong secret, an unknown key, a key whose
    // policy does not allow Route 53 writes.
    let err = suite::load_with_env(
        &case,
        &[
            ("AWS_ACCESS_KEY_ID".into(), moto.key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), WRONG_SECRET.into()),
        ],
    )
    .await
    .session
    .present(&txt_set(NAME, &["x"], 60))
    .await
    .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Authentication, "{err}");
    assert!(err.to_string().contains("SignatureDoesNotMatch"), "{err}");
    let err = suite::load_with_env(
        &case,
        &[
            ("AWS_ACCESS_KEY_ID".into(), "AKIAUNKNOWN000000000".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), moto.secret.clone()),
        ],
    )
    .await
    .session
    .present(&txt_set(NAME, &["x"], 60))
    .await
    .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Authentication, "{err}");
    assert!(err.to_string().contains("InvalidClientTokenId"), "{err}");
    let err = suite::load(&case)
        .await
        .session
        .present(&txt_set_in(
            "other.invalid",
            "_acme-challenge.other.invalid",
            &["x"],
            60,
        ))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::ZoneNotFound, "{err}");
}

/// moto applies a change batch of several changes: the batch calls round
/// trip four names, one with a foreign value, in one change batch each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_batch_calls() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let batch = format!(
        "<ChangeResourceRecordSetsRequest xmlns=\"{}\"><ChangeBatch><Changes><Change>\
         <Action>CREATE</Action><ResourceRecordSet><Name>{}.</Name><Type>TXT</Type>\
         <TTL>300</TTL><ResourceRecords><ResourceRecord><Value>\"foreign\"</Value>\
         </ResourceRecord></ResourceRecords></ResourceRecordSet></Change></Changes>\
         </ChangeBatch></ChangeResourceRecordSetsRequest>",
        fake_route53::XMLNS,
        BATCH_NAMES[1]
    );
    let (status, body) = moto
        .route53(
            reqwest::Method::POST,
            &format!("/2013-04-01/hostedzone/{}/rrset", moto.zone_id),
            &[],
            batch,
            (&moto.key_id, &moto.secret),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let loaded = suite::load(&moto.case(&moto.url)).await;
    let s = &loaded.session;
    let sets = batch_sets();
    let before = s.requests();
    s.present_many(&sets).await.unwrap();
    // Zone lookup, at most one listing per name, one change batch, and one
    // GetChange (moto answers INSYNC at once).
    let used = s.requests() - before;
    assert!((4..=7).contains(&used), "{used} requests");
    for (i, name) in BATCH_NAMES.iter().enumerate() {
        let mut want = vec![format!("\"v{i}-apex\""), format!("\"v{i}-wild\"")];
        if i == 1 {
            want.insert(0, "\"foreign\"".into());
        }
        assert_eq!(moto.txt(name).await, want, "{name}");
    }
    s.cleanup_many(&sets).await.unwrap();
    assert_eq!(moto.txt(BATCH_NAMES[1]).await, ["\"foreign\""]);
    for name in [BATCH_NAMES[0], BATCH_NAMES[2], BATCH_NAMES[3]] {
        assert!(moto.txt(name).await.is_empty(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_passes_the_conformance_suite() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let moto = Arc::new(moto);
    let proxy = MirrorProxy::start(moto.clone(), &pdns).await;
    let case = moto.case(&proxy.server.url());
    let out = suite::conformance_output(&pdns, &case).await;
    assert!(out.status.success(), "{}", wacme_tests::dns01::show(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for name in suite::CONFORMANCE_CASES {
        let c = report["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap();
        assert_eq!(c["passed"], true, "{name}: {report}");
    }
    assert_eq!(report["leftovers"], serde_json::json!([]), "{report}");
    for name in report["names"].as_array().unwrap() {
        let name = name.as_str().unwrap();
        assert!(moto.txt(name).await.is_empty(), "{name} left in moto");
        assert!(pdns.rrset(ZONE, name, "TXT").await.unwrap().is_empty());
    }
    suite::assert_no_secret(&case, &out);
}
