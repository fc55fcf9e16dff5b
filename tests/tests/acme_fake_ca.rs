//! What Pebble 2.4 cannot test, against the small in-process ACME server in
//! `acme_common/fake_ca.rs`: ARI (`renewalInfo` and `replaces`), certificate
//! profiles, `Retry-After` on a processing order and on 429/503, `badNonce`
//! bounds, malformed answers in the middle of a flow, and a CA that gets
//! things wrong: an order not yet `ready` at finalize, a certificate for
//! another key or other names, plain-http URLs. The server checks
//! every JWS (signature, single-use nonce, `url`) like a real CA.

mod acme_common;

use acme_common::fake_ca::{FakeCa, Fault};
use acme_common::{issue, issue_with};
use std::time::{Duration, Instant};
use wacme::acme::{
    Account, Client, ClientConfig, Csr, Error, KeyType, NewAccount, NewOrder, OrderStatus,
    PollPolicy, PrivateKey, cert_id,
};
use wacme::error::ErrorClass;

async fn client(ca: &FakeCa) -> Client {
    Client::connect(&ca.directory_url(), ClientConfig::default())
        .await
        .unwrap()
}

async fn account_with(ca: &FakeCa, kind: KeyType) -> Account {
    let request = NewAccount {
        contact: vec!["mailto:fake@example.com".into()],
        terms_of_service_agreed: true,
        external_account: None,
    };
    let reg = client(ca)
        .await
        .new_account(PrivateKey::generate(kind).unwrap(), &request)
        .await
        .unwrap();
    assert!(reg.created);
    reg.account
}

#[tokio::test]
async fn directory_profiles_and_ari() {
    let ca = FakeCa::start().await;
    let c = client(&ca).await;
    let dir = c.directory();
    assert!(dir.renewal_info.is_some());
    assert_eq!(
        dir.meta.profiles.keys().collect::<Vec<_>>(),
        ["classic", "shortlived"]
    );

    let account = account_with(&ca, KeyType::EcP256).await;
    // A profile the CA does not offer is refused before sending.
    let sent = ca.count("POST /new-order");
    let err = account
        .new_order(&NewOrder::dns(["example.com"]).unwrap().profile("longlived"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Input(_)), "{err}");
    assert!(err.to_string().contains("classic, shortlived"), "{err}");
    assert_eq!(ca.count("POST /new-order"), sent);

    // First certificate, with a profile.
    let first = issue_with(
        &account,
        NewOrder::dns(["example.com"])
            .unwrap()
            .profile("shortlived"),
        KeyType::EcP256,
    )
    .await
    .unwrap();
    assert_eq!(first.order.profile.as_deref(), Some("shortlived"));
    assert_eq!(
        ca.state.lock().unwrap().new_orders.last().unwrap()["profile"],
        "shortlived"
    );

    // Its renewal information.
    let leaf = first.chains[0].leaf().to_vec();
    let id = cert_id(&leaf).unwrap();
    assert_eq!(
        id.split('.').nth(1),
        Some("AIdlQyE"),
        "serial 00:87:65:43:21 → {id}"
    );
    let info = c.renewal_info(&leaf).await.unwrap();
    assert_eq!(info.suggested_window.start.unix_timestamp(), 1_893_456_000);
    assert_eq!(info.retry_after, Some(Duration::from_secs(21600)));
    assert!(info.explanation_url.as_deref().unwrap().ends_with("/why"));
    let now = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let when = info.renewal_time(now);
    assert!(when >= info.suggested_window.start && when < info.suggested_window.end);

    // The renewal names the certificate it replaces.
    issue_with(
        &account,
        NewOrder::dns(["example.com"]).unwrap().replaces(&id),
        KeyType::EcP256,
    )
    .await
    .unwrap();
    assert_eq!(
        ca.state.lock().unwrap().new_orders.last().unwrap()["replaces"],
        id.as_str()
    );

    // A certificate the CA does not know: its problem document.
    ca.state.lock().unwrap().known_cert_id = None;
    let err = c.renewal_info(&leaf).await.unwrap_err();
    assert!(err.is_problem("malformed"), "{err}");
}

#[tokio::test]
async fn every_account_key_type_signs_acceptably() {
    let ca = FakeCa::start().await;
    for kind in [KeyType::EcP256, KeyType::EcP384, KeyType::Rsa2048] {
        let account = account_with(&ca, kind).await;
        let name = format!("{kind}.example.com");
        issue(&account, &[name.as_str()], kind).await.unwrap();
    }
    // Each of the three clients asked newNonce once; every other request
    // used the Replay-Nonce of the previous answer.
    assert_eq!(ca.count("HEAD /nonce"), 3);
    assert!(ca.count("POST /order/1/finalize") == 3);
}

#[tokio::test]
async fn validity_period_is_sent_as_rfc3339() {
    let ca = FakeCa::start().await;
    let account = account_with(&ca, KeyType::EcP256).await;
    let mut request = NewOrder::dns(["v.example.com"]).unwrap();
    request.not_before = Some(time::macros::datetime!(2030-01-02 03:04:05 UTC));
    request.not_after = Some(time::macros::datetime!(2030-01-09 03:04:05 UTC));
    account.new_order(&request).await.unwrap();
    let sent = ca.state.lock().unwrap().new_orders.last().unwrap().clone();
    assert_eq!(sent["notBefore"], "2030-01-02T03:04:05Z");
    assert_eq!(sent["notAfter"], "2030-01-09T03:04:05Z");
    assert_eq!(
        sent["identifiers"],
        serde_json::json!([{"type": "dns", "value": "v.example.com"}])
    );
    assert!(sent.get("profile").is_none() && sent.get("replaces").is_none());
}

#[tokio::test]
async fn processing_order_honours_retry_after() {
    let ca = FakeCa::start().await;
    let account = account_with(&ca, KeyType::EcP256).await;
    {
        let mut st = ca.state.lock().unwrap();
        st.processing_polls = 2; // finalize and one poll answer `processing`
        st.processing_retry_after = Some(1);
    }
    let issued = issue(&account, &["slow.example.com"], KeyType::EcP256)
        .await
        .unwrap();
    // Two waits of Retry-After: 1 s instead of the 20 ms backoff.
    assert!(
        issued.elapsed >= Duration::from_secs(2),
        "{:?}",
        issued.elapsed
    );
    assert!(
        issued.elapsed < Duration::from_secs(10),
        "{:?}",
        issued.elapsed
    );
}

#[tokio::test]
async fn rate_limits_and_busy_answers() {
    let ca = FakeCa::start().await;
    let account = account_with(&ca, KeyType::EcP256).await;

    // 429 with a short Retry-After: waited out, then it works.
    ca.inject(
        "/new-order",
        Fault::problem(429, "rateLimited", "slow down").retry_after("1"),
    );
    let started = Instant::now();
    let before = ca.count("POST /new-order");
    account
        .new_order(&NewOrder::dns(["a.example.com"]).unwrap())
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(ca.count("POST /new-order") - before, 2);

    // 429 with an hour to wait: fails at once, the wait reported.
    ca.inject(
        "/new-order",
        Fault::problem(429, "rateLimited", "come back later").retry_after("3600"),
    );
    let started = Instant::now();
    let err = account
        .new_order(&NewOrder::dns(["b.example.com"]).unwrap())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(err.is_problem("rateLimited"), "{err}");
    match &err {
        Error::Problem(p) => assert_eq!(p.retry_after, Some(Duration::from_secs(3600))),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("retry after 3600s"), "{err}");

    // 503 from newNonce (Retry-After as an HTTP date), then fine.
    let c = client(&ca).await;
    let heads = ca.count("HEAD /nonce");
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(1));
    ca.inject(
        "/nonce",
        Fault::raw(503, "text/plain", "busy").retry_after(&date),
    );
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let request = NewAccount {
        terms_of_service_agreed: true,
        ..NewAccount::default()
    };
    c.new_account(key, &request).await.unwrap();
    assert_eq!(ca.count("HEAD /nonce") - heads, 2);
}

#[tokio::test]
async fn bad_nonce_retries_are_bounded() {
    let ca = FakeCa::start().await;
    let account = account_with(&ca, KeyType::EcP256).await;
    for _ in 0..3 {
        ca.inject("/new-order", Fault::problem(400, "badNonce", "try again"));
    }
    account
        .new_order(&NewOrder::dns(["n.example.com"]).unwrap())
        .await
        .unwrap();
    // 20 retries at most: 21 rejections fail.
    for _ in 0..21 {
        ca.inject("/new-order", Fault::problem(400, "badNonce", "never"));
    }
    let before = ca.count("POST /new-order");
    let err = account
        .new_order(&NewOrder::dns(["n.example.com"]).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_problem("badNonce"), "{err}");
    assert_eq!(ca.count("POST /new-order") - before, 21);
}

#[tokio::test]
async fn malformed_answers_mid_flow_are_clear_errors() {
    let ca = FakeCa::start().await;
    let account = account_with(&ca, KeyType::EcP256).await;
    let order = || NewOrder::dns(["m.example.com"]).unwrap();

    ca.inject(
        "/new-order",
        Fault::raw(
            502,
            "text/html",
            "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        ),
    );
    let err = account.new_order(&order()).await.unwrap_err();
    assert!(matches!(err, Error::BadResponse { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("HTTP 502") && msg.contains("\"502 Bad Gateway\""),
        "{msg}"
    );

    ca.inject(
        "/new-order",
        Fault::raw(
            201,
            "application/json",
            r#"{"status":"pending","identifiers":[{"ty"#,
        ),
    );
    let err = account.new_order(&order()).await.unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");

    ca.inject(
        "/new-order",
        Fault::raw(201, "application/json", r#"{"hello":"world"}"#),
    );
    let err = account.new_order(&order()).await.unwrap_err();
    assert!(err.to_string().contains("wrong shape"), "{err}");

    // A valid order body without a Location header.
    ca.inject(
        "/new-order",
        Fault::raw(
            201,
            "application/json",
            r#"{"status":"ready","identifiers":[],"authorizations":[],"finalize":"http://127.0.0.1:1/f"}"#,
        ),
    );
    let err = account.new_order(&order()).await.unwrap_err();
    assert!(err.to_string().contains("no Location header"), "{err}");

    // A problem document with an unknown type and no detail.
    ca.inject(
        "/new-order",
        Fault::raw(500, "application/problem+json", r#"{"type":"about:blank"}"#),
    );
    let err = account.new_order(&order()).await.unwrap_err();
    assert!(err.to_string().contains("about:blank"), "{err}");

    // After all that, the account still works.
    account.new_order(&order()).await.unwrap();
}

#[tokio::test]
async fn certificate_download_must_be_a_pem_chain() {
    let ca = FakeCa::start().await;
    let account = account_with(&ca, KeyType::EcP256).await;
    issue(&account, &["c.example.com"], KeyType::EcP256)
        .await
        .unwrap();
    let url = url::Url::parse(&format!("http://{}/cert/1", ca.addr)).unwrap();
    ca.inject(
        "/cert/1",
        Fault::raw(200, "text/html", "<html><title>Oops</title></html>"),
    );
    let err = account.certificate(&url).await.unwrap_err();
    assert!(
        err.to_string().contains("expected a PEM certificate chain"),
        "{err}"
    );
    ca.inject(
        "/cert/1",
        Fault::raw(
            200,
            "application/pem-certificate-chain",
            "-----BEGIN CERTIFICATE-----\nAAAA\n",
        ),
    );
    let err = account.certificate(&url).await.unwrap_err();
    assert!(matches!(err, Error::BadResponse { .. }), "{err:?}");
    account.certificate(&url).await.unwrap();
}

fn policy() -> PollPolicy {
    PollPolicy {
        timeout: Duration::from_secs(30),
        ..PollPolicy::default()
    }
}

/// The requests the server saw from the `n`th on.
fn requests_since(ca: &FakeCa, n: usize) -> Vec<String> {
    ca.state.lock().unwrap().requests[n..].to_vec()
}

/// RFC 8555 §7.4: only a `ready` order is finalized. The order in hand is
/// the one `newOrder` answered (`pending`, as after the authorizations of
/// an issuance); the CA makes it `ready` only at the third poll, asking
/// for a second between polls, and refuses an early finalize.
#[tokio::test]
async fn finalize_waits_until_the_order_is_ready() {
    let ca = FakeCa::start().await;
    let account = account_with(&ca, KeyType::EcP256).await;
    {
        let mut st = ca.state.lock().unwrap();
        st.pending_polls = 2;
        st.pending_retry_after = Some(1);
        st.processing_polls = 2;
        st.processing_retry_after = None;
    }
    let order = account
        .new_order(&NewOrder::dns(["ready.example.com"]).unwrap())
        .await
        .unwrap();
    assert_eq!(order.status, OrderStatus::Pending);
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let csr = Csr::build(&order.identifiers, &key).unwrap();
    let seen = ca.state.lock().unwrap().requests.len();
    let started = Instant::now();
    let valid = account
        .finalize_and_wait(&order, csr.der(), &policy())
        .await
        .unwrap();
    assert_eq!(valid.status, OrderStatus::Valid);
    assert!(valid.certificate.is_some());
    // pending, pending, ready; finalize (processing); processing, valid.
    assert_eq!(
        requests_since(&ca, seen),
        [
            "POST /order/1",
            "POST /order/1",
            "POST /order/1",
            "POST /order/1/finalize",
            "POST /order/1",
            "POST /order/1",
        ]
    );
    // Two waits of the pending order's Retry-After.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(10),
        "{elapsed:?}"
    );
}

/// A CA that answers finalize with `orderNotReady` (its order was not
/// ready after all): the order is polled to `ready` and finalized once
/// more; a second `orderNotReady` is the CA's error.
#[tokio::test]
async fn order_not_ready_at_finalize_is_retried_once() {
    let ca = FakeCa::start().await;
    let account = account_with(&ca, KeyType::EcP256).await;
    let order = account
        .new_order(&NewOrder::dns(["late.example.com"]).unwrap())
        .await
        .unwrap();
    assert_eq!(order.status, OrderStatus::Ready);
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let csr = Csr::build(&order.identifiers, &key).unwrap();
    ca.inject(
        "/order/1/finalize",
        Fault::problem(403, "orderNotReady", "authorizations still pending"),
    );
    let seen = ca.state.lock().unwrap().requests.len();
    let valid = account
        .finalize_and_wait(&order, csr.der(), &policy())
        .await
        .unwrap();
    assert_eq!(valid.status, OrderStatus::Valid);
    let seen_now = requests_since(&ca, seen);
    assert_eq!(
        seen_now[..3],
        [
            "POST /order/1/finalize",
            "POST /order/1",
            "POST /order/1/finalize"
        ]
    );

    let order = account
        .new_order(&NewOrder::dns(["never.example.com"]).unwrap())
        .await
        .unwrap();
    for _ in 0..3 {
        ca.inject(
            "/order/1/finalize",
            Fault::problem(403, "orderNotReady", "never ready"),
        );
    }
    let before = ca.count("POST /order/1/finalize");
    let err = account
        .finalize_and_wait(&order, csr.der(), &policy())
        .await
        .unwrap_err();
    assert!(err.is_problem("orderNotReady"), "{err}");
    assert_eq!(ca.count("POST /order/1/finalize") - before, 2);
}

/// The certificate must hold the key the CSR was made with: a CA that
/// certifies another key is refused (class Ca), nothing is handed on.
#[tokio::test]
async fn a_certificate_for_another_key_is_refused() {
    let ca = FakeCa::start().await;
    let account = account_with(&ca, KeyType::EcP256).await;
    ca.state.lock().unwrap().wrong_key = true;
    let err = issue(&account, &["key.example.com"], KeyType::EcP256)
        .await
        .err()
        .expect("a certificate for another key is refused");
    let err = err.downcast::<Error>().expect("an ACME error");
    assert_eq!(err.class(), ErrorClass::Ca);
    let msg = err.to_string();
    assert!(msg.contains("public key"), "{msg}");
    assert!(msg.contains("/cert/1"), "{msg}");
}

/// The certificate's DNS names must be the ordered ones (case aside):
/// a missing or an extra name is refused, naming it.
#[tokio::test]
async fn a_certificate_for_other_names_is_refused() {
    let ca = FakeCa::start().await;
    let account = account_with(&ca, KeyType::EcP256).await;
    let names = ["a.example.com", "*.example.com"];

    // The same names in another case and order: accepted.
    ca.state.lock().unwrap().wrong_names =
        Some(vec!["*.EXAMPLE.com".into(), "A.Example.COM".into()]);
    issue(&account, &names, KeyType::EcP256).await.unwrap();

    // One missing, one extra.
    ca.state.lock().unwrap().wrong_names =
        Some(vec!["a.example.com".into(), "b.example.com".into()]);
    let err = issue(&account, &names, KeyType::EcP256)
        .await
        .err()
        .expect("a certificate for other names is refused");
    let err = err.downcast::<Error>().expect("an ACME error");
    assert_eq!(err.class(), ErrorClass::Ca);
    let msg = err.to_string();
    assert!(msg.contains("missing *.example.com"), "{msg}");
    assert!(msg.contains("extra b.example.com"), "{msg}");

    // Only an extra name.
    ca.state.lock().unwrap().wrong_names = Some(vec![
        "a.example.com".into(),
        "*.example.com".into(),
        "evil.example.net".into(),
    ]);
    let err = issue(&account, &names, KeyType::EcP256)
        .await
        .err()
        .expect("an extra name is refused");
    let msg = err.to_string();
    assert!(msg.contains("extra evil.example.net"), "{msg}");
    assert!(!msg.contains("missing"), "{msg}");
}

/// Every URL the CA hands out is followed over https only (plain http
/// only for a local CA, on loopback): a plain-http `newOrder` in the
/// directory, or finalize URL in an order, is refused before anything is
/// sent to it, naming the URL.
#[tokio::test]
async fn plain_http_urls_from_the_ca_are_refused() {
    let ca = FakeCa::start().await;
    ca.state.lock().unwrap().directory_overrides.insert(
        "newOrder".into(),
        serde_json::json!("http://acme.invalid/new-order"),
    );
    let account = account_with(&ca, KeyType::EcP256).await;
    let err = account
        .new_order(&NewOrder::dns(["h.example.com"]).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Ca);
    let msg = err.to_string();
    assert!(
        msg.contains("http://acme.invalid/new-order") && msg.contains("must use https"),
        "{msg}"
    );

    let ca = FakeCa::start().await;
    ca.state.lock().unwrap().finalize_url = Some("http://acme.invalid/order/1/finalize".into());
    let account = account_with(&ca, KeyType::EcP256).await;
    let err = issue(&account, &["h.example.com"], KeyType::EcP256)
        .await
        .err()
        .expect("a plain-http finalize URL is refused");
    let err = err.downcast::<Error>().expect("an ACME error");
    assert_eq!(err.class(), ErrorClass::Ca);
    let msg = err.to_string();
    assert!(
        msg.contains("http://acme.invalid/order/1/finalize") && msg.contains("must use https"),
        "{msg}"
    );
    assert_eq!(ca.count("POST /order/1/finalize"), 0);
}
