//! The huaweicloud plugin (built component) against `fake_huaweicloud`
//! (AK/SK `SDK-HMAC-SHA256` signatures recomputed independently, API
//! Gateway and DNS error bodies, record sets mirrored into PowerDNS): the
//! shared provider battery (conformance, apex + wildcard issuance, a foreign
//! value kept, a wrong secret, throttled writes), and through the host's
//! runtime the whole-set read-modify-write, paging, a parent zone, a stale
//! clock and an unknown zone.
//!
//! acme.sh's login (`HUAWEICLOUD_Username`, `HUAWEICLOUD_Password`,
//! `HUAWEICLOUD_DomainName`) through the fake's IAM token endpoint: the
//! battery's conformance and issuance, a wrong password (exit 4 with IAM's
//! reason, neither the password nor a token printed under `-vv`), and AK/SK
//! winning when both are given.

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE};
use wacme_tests::fake_huaweicloud::{FakeHuaweiCloud, HuaweiOptions};
use wacme_tests::provider_suite::{self as suite, CHALLENGE, Case, Fake, txt_set, txt_set_in};

const AK: &str = "QTWAOYTTINDUT2QVKYUC";
const SK: &str = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc";
const WRONG_SK: &str = "WrongSecretAccessKey00000000000000000000";
const USER: &str = "dns-acme";
const PASSWORD: &str = "IAM-user-Passw0rd!x7";
const WRONG_PASSWORD: &str = "Wrong-Passw0rd-9q2z";
const ACCOUNT: &str = "hwc24516578";

fn case(fake: &FakeHuaweiCloud) -> Case {
    Case::new("huaweicloud")
        .config("endpoint", &fake.endpoint())
        .env("HUAWEICLOUD_ACCESS_KEY_ID", AK)
        .secret_env("HUAWEICLOUD_SECRET_ACCESS_KEY", SK)
        .wrong_env("HUAWEICLOUD_SECRET_ACCESS_KEY", WRONG_SK)
        .auth_reason("verify aksk signature fail")
}

/// acme.sh's variables, the token endpoint on the fake.
fn password_case(fake: &FakeHuaweiCloud) -> Case {
    Case::new("huaweicloud")
        .config("endpoint", &fake.endpoint())
        .config("iam_endpoint", &fake.iam_endpoint())
        .env("HUAWEICLOUD_Username", USER)
        .secret_env("HUAWEICLOUD_Password", PASSWORD)
        .env("HUAWEICLOUD_DomainName", ACCOUNT)
        .wrong_env("HUAWEICLOUD_Password", WRONG_PASSWORD)
        .auth_reason("The username or password is wrong.")
}

async fn start(pdns: &wacme_tests::pdns::Pdns) -> FakeHuaweiCloud {
    FakeHuaweiCloud::start(
        pdns,
        HuaweiOptions::new(AK, SK, &[ZONE]).with_iam_user(USER, PASSWORD, ACCOUNT),
    )
    .await
}

/// Asserts no token the fake issued appears in `out`.
fn assert_no_token(fake: &FakeHuaweiCloud, out: &std::process::Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for token in fake.issued_tokens() {
        assert!(
            !stdout.contains(&token) && !stderr.contains(&token),
            "a token was printed: {}",
            wacme_tests::dns01::show(out)
        );
    }
}

fn kind(err: &wacme::plugins::Error) -> ProviderErrorKind {
    err.provider_error()
        .unwrap_or_else(|| panic!("not a provider error: {err}"))
        .kind
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huaweicloud_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    suite::conformance(&pdns, &case(&fake), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huaweicloud_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::issues_cleanly(&bed, &case(&fake), &fake).await;
    assert_eq!(
        (fake.count("POST "), fake.count("DELETE ")),
        (1, 1),
        "one record set holds both values: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huaweicloud_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
    assert_eq!(fake.count("DELETE "), 0, "{:?}", fake.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huaweicloud_wrong_secret() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    let out = suite::wrong_credential(&bed, &case(&fake), &fake).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("APIGW.0301"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        fake.requests().iter().all(|r| r.starts_with("GET")),
        "nothing written: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huaweicloud_rate_limited_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::rate_limited_then_retried(&bed, &case(&fake), &fake, 2).await;
}

/// Through the host's runtime: a foreign value in the split-string form is
/// written back byte for byte, present merges into the set with one PUT
/// and is idempotent, cleanup writes the rest back and deletes the set with
/// the last value; listings follow pages; a name below a sub-zone lands in
/// the account's zone; a stale clock and an unknown zone map to their cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huaweicloud_record_set_read_modify_write() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let mut options = HuaweiOptions::new(AK, SK, &[ZONE]);
    options.max_limit = 1;
    let fake = FakeHuaweiCloud::start(&pdns, options).await;
    let loaded = suite::load(&case(&fake)).await;
    let s = &loaded.session;
    // The API's name filter is fuzzy: this set is listed first, on its own
    // page, before the challenge set.
    let decoy = "a._acme-challenge.example.test";
    fake.add_record(decoy, 600, "\"decoy\"").await;
    fake.add_record(CHALLENGE, 600, "\"foreign\" \"-split\"")
        .await;

    s.present(&txt_set(CHALLENGE, &["v-apex", "v-wild"], 300))
        .await
        .unwrap();
    let sets = challenge_sets(&fake).await;
    assert_eq!(sets.len(), 1);
    assert_eq!(
        sets[0].records,
        ["\"foreign\" \"-split\"", "\"v-apex\"", "\"v-wild\""],
        "foreign value verbatim, ours quoted"
    );
    assert_eq!(sets[0].ttl, 300);
    assert_eq!(
        pdns.txt_values(CHALLENGE).await.unwrap(),
        ["foreign-split", "v-apex", "v-wild"]
    );
    assert_eq!((fake.count("POST "), fake.count("PUT ")), (0, 1));
    // One item per page: the set was found on the second page.
    assert!(
        fake.requests().iter().any(|r| r.contains("offset=1")),
        "{:?}",
        fake.requests()
    );

    let writes = fake.count("PUT ") + fake.count("POST ") + fake.count("DELETE ");
    s.present(&txt_set(CHALLENGE, &["v-wild"], 300))
        .await
        .unwrap();
    assert_eq!(
        fake.count("PUT ") + fake.count("POST ") + fake.count("DELETE "),
        writes,
        "idempotent"
    );

    s.cleanup(&txt_set(CHALLENGE, &["v-apex", "v-wild"], 300))
        .await
        .unwrap();
    assert_eq!(
        challenge_sets(&fake).await[0].records,
        ["\"foreign\" \"-split\""]
    );
    assert_eq!(pdns.txt_values(CHALLENGE).await.unwrap(), ["foreign-split"]);
    s.cleanup(&txt_set(CHALLENGE, &["foreign-split"], 300))
        .await
        .unwrap();
    assert!(challenge_sets(&fake).await.is_empty());
    assert!(pdns.txt_values(CHALLENGE).await.unwrap().is_empty());
    assert_eq!(fake.count("DELETE "), 1);
    s.cleanup(&txt_set(CHALLENGE, &["foreign-split"], 300))
        .await
        .unwrap();
    assert_eq!(fake.count("DELETE "), 1, "nothing left to delete");

    // A name under a sub-zone the account does not hold: the parent zone.
    let deep = "_acme-challenge.a.b.example.test";
    let set = txt_set_in("b.example.test", deep, &["deep"], 300);
    s.present(&set).await.unwrap();
    assert_eq!(pdns.txt_values(deep).await.unwrap(), ["deep"]);
    s.cleanup(&set).await.unwrap();
    assert_eq!(fake.txt_sets().await.len(), 1, "only the decoy is left");

    // The server's clock 20 minutes ahead: the request is refused as stale.
    fake.set_clock_offset(20 * 60);
    let err = s
        .present(&txt_set(CHALLENGE, &["late"], 300))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Permanent, "{err}");
    assert!(err.to_string().contains("clock"), "{err}");
    fake.set_clock_offset(0);

    let other = txt_set_in(
        "other.invalid",
        "_acme-challenge.other.invalid",
        &["x"],
        300,
    );
    let err = s.present(&other).await.unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::ZoneNotFound, "{err}");

    // A wrong secret is an authentication error naming the API's reason.
    let wrong = case(&fake);
    let loaded = suite::load_with_env(&wrong, &wrong.wrong_credential_env()).await;
    let err = loaded
        .session
        .present(&txt_set(CHALLENGE, &["x"], 300))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Authentication, "{err}");
    assert!(
        err.to_string().contains("verify aksk signature fail"),
        "{err}"
    );
    assert_eq!(
        fake.txt_records().await,
        [(decoy.to_string(), "decoy".to_string())]
    );
    assert_eq!(pdns.txt_values(decoy).await.unwrap(), ["decoy"]);
}

async fn challenge_sets(fake: &FakeHuaweiCloud) -> Vec<wacme_tests::fake_huaweicloud::HwRecordSet> {
    fake.txt_sets()
        .await
        .into_iter()
        .filter(|s| s.fqdn() == CHALLENGE)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huaweicloud_password_login_conformance() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    suite::conformance(&pdns, &password_case(&fake), &fake).await;
    let (by_token, by_signature) = fake.authenticated_by();
    assert!(by_token > 0, "{:?}", fake.requests());
    assert_eq!(by_signature, 0, "no AK/SK was configured");
    // The token is scoped to the default region's project, as acme.sh
    // scopes to its region's.
    assert!(
        fake.token_scopes()
            .iter()
            .all(|s| *s == serde_json::json!({"name": "cn-south-1"})),
        "{:?}",
        fake.token_scopes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huaweicloud_password_login_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    let case = password_case(&fake);
    let out = suite::issue_args(&bed, &case, &case.env, &["-vv"]).await;
    suite::assert_issued_cleanly(&bed, &case, &fake, &out).await;
    assert!(
        fake.count("POST /v3/auth/tokens") >= 2,
        "a token for present and one for cleanup: {:?}",
        fake.requests()
    );
    assert_eq!(fake.authenticated_by().1, 0);
    assert_no_token(&fake, &out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huaweicloud_wrong_password() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    let out = suite::wrong_credential(&bed, &password_case(&fake), &fake).await;
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("Huawei Cloud IAM: HTTP 401: The username or password is wrong."),
        "{}",
        wacme_tests::dns01::show(&out)
    );
    assert!(
        fake.requests()
            .iter()
            .filter(|r| !r.starts_with("POST /v3/auth/tokens"))
            .all(|r| r.starts_with("GET")),
        "no DNS write: {:?}",
        fake.requests()
    );
    assert_eq!(fake.authenticated_by(), (0, 0), "no token, no DNS call");
    assert_no_token(&fake, &out);
}

/// Both credentials configured: AK/SK is used, IAM never asked. A half-given
/// login is refused before any request, naming what is missing; a token the
/// fake did not issue is API Gateway's authentication error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huaweicloud_aksk_wins_over_the_password_login() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    let mut both = case(&fake)
        .config("iam_endpoint", &fake.iam_endpoint())
        .env("HUAWEICLOUD_Username", USER)
        .secret_env("HUAWEICLOUD_Password", WRONG_PASSWORD)
        .env("HUAWEICLOUD_DomainName", ACCOUNT);
    both.wrong_env.clear();
    let loaded = suite::load(&both).await;
    let set = txt_set(CHALLENGE, &["both"], 300);
    loaded.session.present(&set).await.unwrap();
    loaded.session.cleanup(&set).await.unwrap();
    assert_eq!(
        fake.count("POST /v3/auth/tokens"),
        0,
        "{:?}",
        fake.requests()
    );
    assert_eq!(fake.authenticated_by().0, 0);
    assert!(fake.txt_records().await.is_empty());

    let half = Case::new("huaweicloud")
        .config("endpoint", &fake.endpoint())
        .config("iam_endpoint", &fake.iam_endpoint())
        .env("HUAWEICLOUD_Username", USER)
        .secret_env("HUAWEICLOUD_Password", PASSWORD);
    let loaded = suite::load(&half).await;
    let before = fake.requests().len();
    let err = loaded.session.present(&set).await.unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::InvalidConfig, "{err}");
    assert!(err.to_string().contains("`domain_name`"), "{err}");
    assert!(!err.to_string().contains(PASSWORD), "{err}");
    assert_eq!(fake.requests().len(), before, "nothing sent");

    // Straight to the DNS API with a token IAM never issued.
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{}/v2/zones?type=public", fake.endpoint()))
        .header("x-auth-token", "MIITnot-a-token-it-issued")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], "APIGW.0301");
    assert!(
        body["error_msg"]
            .as_str()
            .unwrap()
            .contains("decrypt token fail"),
        "{body}"
    );
}
