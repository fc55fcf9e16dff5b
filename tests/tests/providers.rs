//! The cloudflare and alidns plugins (built components) run by the host's
//! plugin runtime against their fake APIs, which mirror records into a real
//! PowerDNS: values show over DNS, other values on the name survive, cleanup
//! removes only its own values (quoted or bare), listing follows pages,
//! failures come back as the right WIT error case; Alibaba's V3 and V1
//! signatures are both accepted by an independent verifier that rejects a
//! wrong signature, an expired timestamp and a reused nonce; STS temporary
//! credentials sign their token in both versions, and a missing or wrong
//! token gets the service's codes; `region` derives an endpoint the
//! allowlist admits while `endpoint` still wins. Then
//! `wacme issue --dns cloudflare` and `--dns alidns` for apex + wildcard
//! against Pebble, checking the certificate and that nothing is left.

use std::collections::BTreeMap;

use wacme::plugins::config::Sources;
use wacme::plugins::{Error, Plugin, ProviderErrorKind, Runtime, RuntimeOptions, Session, TxtSet};
use wacme_tests::dns01::{Bed, show};
use wacme_tests::fake_alidns::{self, AlidnsOptions, FakeAlidns};
use wacme_tests::fake_cloudflare::{CloudflareOptions, FakeCloudflare};
use wacme_tests::pdns::{self, Pdns};

const ZONE: &str = "example.test";
const NAME: &str = "_acme-challenge.example.test";
const TOKEN: &str = "cf-test-token-0123456789";
const KEY_ID: &str = "LTAI5tTestKeyId";
const SECRET: &str = "test-secret-9876";

async fn pdns_with_zone() -> Option<Pdns> {
    if !pdns::available() {
        return None;
    }
    let pdns = Pdns::start().await.unwrap();
    pdns.create_zone(ZONE, &[("ns1.example.test", "127.0.0.1".parse().unwrap())])
        .await
        .unwrap();
    Some(pdns)
}

async fn load(name: &str) -> (Plugin, tempfile::TempDir) {
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let plugin = runtime
        .load_file(&wacme_tests::plugin_wasm(name))
        .await
        .unwrap();
    (plugin, cache)
}

fn session(plugin: &Plugin, pairs: &[(&str, &str)]) -> Session {
    let config = Sources::resolve_pairs(plugin.metadata(), pairs).unwrap();
    plugin.session(&config, &[]).unwrap()
}

fn set_in(zone: &str, fqdn: &str, values: &[&str], ttl: u32) -> TxtSet {
    let relative_name = match fqdn.strip_suffix(&format!(".{zone}")) {
        Some(relative) => relative.to_string(),
        None => "@".to_string(),
    };
    TxtSet {
        zone: zone.to_string(),
        fqdn: fqdn.to_string(),
        relative_name,
        values: values.iter().map(|v| v.to_string()).collect(),
        ttl,
    }
}

fn set(fqdn: &str, values: &[&str]) -> TxtSet {
    set_in(ZONE, fqdn, values, 600)
}

fn kind(err: &Error) -> ProviderErrorKind {
    err.provider_error()
        .unwrap_or_else(|| panic!("not a provider error: {err}"))
        .kind
}

// ---------------------------------------------------------------- Cloudflare

struct Cf {
    pdns: Pdns,
    fake: FakeCloudflare,
    plugin: Plugin,
    _cache: tempfile::TempDir,
}

async fn cloudflare(options: impl FnOnce(&mut CloudflareOptions)) -> Option<Cf> {
    let pdns = pdns_with_zone().await?;
    let mut o = CloudflareOptions::new(TOKEN, &[ZONE]);
    options(&mut o);
    let fake = FakeCloudflare::start(&pdns, o).await;
    let (plugin, cache) = load("cloudflare").await;
    Some(Cf {
        pdns,
        fake,
        plugin,
        _cache: cache,
    })
}

impl Cf {
    fn session(&self, extra: &[(&str, &str)]) -> Session {
        let endpoint = self.fake.endpoint();
        let mut pairs = vec![("endpoint", endpoint.as_str())];
        if !extra.iter().any(|(k, _)| *k == "email") {
            pairs.push(("api_token", TOKEN));
        }
        pairs.extend_from_slice(extra);
        session(&self.plugin, &pairs)
    }
}

#[tokio::test]
async fn cloudflare_present_and_cleanup_touch_only_their_values() {
    let Some(cf) = cloudflare(|_| {}).await else {
        return;
    };
    let s = cf.session(&[]);
    cf.fake.add_foreign(NAME, "\"foreign\"").await;
    cf.fake.add_foreign(NAME, "bare-mine").await;

    s.present(&set(NAME, &["v-apex", "v-wild"])).await.unwrap();
    assert_eq!(
        cf.pdns.txt_values(NAME).await.unwrap(),
        ["bare-mine", "foreign", "v-apex", "v-wild"]
    );
    let contents: Vec<String> = cf
        .fake
        .records()
        .await
        .into_iter()
        .map(|r| r.content)
        .collect();
    assert!(
        contents.contains(&"\"v-apex\"".to_string()),
        "quoted: {contents:?}"
    );
    assert_eq!(contents.len(), 4);

    // Idempotent: no second record for a value already there.
    let before = cf.fake.requests().len();
    s.present(&set(NAME, &["v-apex", "v-wild"])).await.unwrap();
    assert!(
        cf.fake.requests()[before..]
            .iter()
            .all(|r| !r.starts_with("POST")),
        "{:?}",
        cf.fake.requests()
    );

    // Cleanup matches quoted and bare content, and keeps the foreign value.
    s.cleanup(&set(NAME, &["v-apex", "bare-mine"]))
        .await
        .unwrap();
    assert_eq!(
        cf.pdns.txt_values(NAME).await.unwrap(),
        ["foreign", "v-wild"]
    );
    s.cleanup(&set(NAME, &["v-apex"])).await.unwrap();
    s.cleanup(&set(NAME, &["v-wild"])).await.unwrap();
    assert_eq!(cf.pdns.txt_values(NAME).await.unwrap(), ["foreign"]);
}

#[tokio::test]
async fn cloudflare_listing_follows_pages() {
    let Some(cf) = cloudflare(|o| o.max_per_page = 2).await else {
        return;
    };
    let s = cf.session(&[]);
    let values = ["p1", "p2", "p3", "p4", "p5"];
    s.present(&set(NAME, &values)).await.unwrap();
    let posts = cf
        .fake
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST"))
        .count();
    s.present(&set(NAME, &values)).await.unwrap();
    let again = cf
        .fake
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST"))
        .count();
    assert_eq!(
        (posts, again),
        (5, 5),
        "the second present found all 5 across pages"
    );
    assert!(
        cf.fake.requests().iter().any(|r| r.contains("page=3")),
        "{:?}",
        cf.fake.requests()
    );
    s.cleanup(&set(NAME, &values)).await.unwrap();
    assert!(cf.fake.records().await.is_empty());
    assert!(cf.pdns.txt_values(NAME).await.unwrap().is_empty());
}

#[tokio::test]
async fn cloudflare_zone_lookup_legacy_key_and_errors() {
    let Some(cf) =
        cloudflare(|o| o.legacy = Some(("ops@example.test".into(), "gkey".into()))).await
    else {
        return;
    };
    // A delegated-looking zone resolves to the account's zone above it.
    let deep = "_acme-challenge.a.b.example.test";
    let legacy = cf.session(&[("email", "ops@example.test"), ("api_key", "gkey")]);
    legacy
        .present(&set_in("b.example.test", deep, &["deep"], 120))
        .await
        .unwrap();
    assert_eq!(cf.pdns.txt_values(deep).await.unwrap(), ["deep"]);
    legacy
        .cleanup(&set_in("b.example.test", deep, &["deep"], 120))
        .await
        .unwrap();
    assert!(cf.pdns.txt_values(deep).await.unwrap().is_empty());

    let wrong = session(
        &cf.plugin,
        &[("endpoint", &cf.fake.endpoint()), ("api_token", "wrong")],
    );
    let err = wrong.present(&set(NAME, &["x"])).await.unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Authentication, "{err}");
    assert!(err.to_string().contains("10000"), "{err}");
    assert!(!err.to_string().contains("wrong"), "secret redacted: {err}");

    let err = cf
        .session(&[])
        .present(&set_in(
            "other.invalid",
            "_acme-challenge.other.invalid",
            &["x"],
            120,
        ))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::ZoneNotFound, "{err}");

    cf.fake.rate_limit_next(1);
    let err = cf
        .session(&[])
        .present(&set(NAME, &["x"]))
        .await
        .unwrap_err();
    let p = err.provider_error().unwrap();
    assert_eq!(p.kind, ProviderErrorKind::RateLimited, "{err}");
    assert_eq!(p.retry_after, Some(std::time::Duration::from_secs(1)));

    let err = cf
        .session(&[("ttl", "5")])
        .present(&set(NAME, &["x"]))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::InvalidConfig, "{err}");
}

// ---------------------------------------------------------------- Alibaba

struct Ali {
    pdns: Pdns,
    fake: FakeAlidns,
    plugin: Plugin,
    _cache: tempfile::TempDir,
}

async fn alidns(options: impl FnOnce(&mut AlidnsOptions)) -> Option<Ali> {
    let pdns = pdns_with_zone().await?;
    let mut o = AlidnsOptions::new(KEY_ID, SECRET, &[ZONE]);
    options(&mut o);
    let fake = FakeAlidns::start(&pdns, o).await;
    let (plugin, cache) = load("alidns").await;
    Some(Ali {
        pdns,
        fake,
        plugin,
        _cache: cache,
    })
}

impl Ali {
    fn session(&self, extra: &[(&str, &str)]) -> Session {
        let endpoint = self.fake.endpoint();
        let mut pairs = vec![
            ("endpoint", endpoint.as_str()),
            ("access_key_id", KEY_ID),
            ("access_key_secret", SECRET),
        ];
        pairs.extend_from_slice(extra);
        session(&self.plugin, &pairs)
    }
}

async fn alidns_round_trip(version: &str) {
    let Some(ali) = alidns(|_| {}).await else {
        return;
    };
    let s = ali.session(&[("signature_version", version)]);
    ali.fake
        .add_foreign(ZONE, "_acme-challenge", "foreign")
        .await;
    s.present(&set(NAME, &["v-apex", "v-wild"])).await.unwrap();
    assert_eq!(
        ali.pdns.txt_values(NAME).await.unwrap(),
        ["foreign", "v-apex", "v-wild"]
    );
    // Idempotent (DomainRecordDuplicate is success).
    s.present(&set(NAME, &["v-apex", "v-wild"])).await.unwrap();
    assert_eq!(ali.fake.records().await.len(), 3);

    s.cleanup(&set(NAME, &["v-apex"])).await.unwrap();
    assert_eq!(
        ali.pdns.txt_values(NAME).await.unwrap(),
        ["foreign", "v-wild"]
    );
    s.cleanup(&set(NAME, &["v-apex", "v-wild"])).await.unwrap();
    assert_eq!(ali.pdns.txt_values(NAME).await.unwrap(), ["foreign"]);

    // Apex records use RR `@`.
    s.present(&set(ZONE, &["at-apex"])).await.unwrap();
    assert_eq!(ali.pdns.txt_values(ZONE).await.unwrap(), ["at-apex"]);
    assert!(ali.fake.records().await.iter().any(|r| r.rr == "@"));
    s.cleanup(&set(ZONE, &["at-apex"])).await.unwrap();
    assert!(ali.pdns.txt_values(ZONE).await.unwrap().is_empty());

    let accepted = ali.fake.accepted();
    assert!(!accepted.is_empty());
    assert!(
        accepted.iter().all(|(_, v)| v == version),
        "{version}: {accepted:?}"
    );
    assert!(
        accepted
            .iter()
            .any(|(a, _)| a == "DescribeSubDomainRecords")
    );
}

#[tokio::test]
async fn alidns_v3_signature_by_default() {
    alidns_round_trip("v3").await;
}

#[tokio::test]
async fn alidns_v1_signature_when_selected() {
    alidns_round_trip("v1").await;
}

#[tokio::test]
async fn alidns_listing_follows_pages_and_sts_token_is_sent() {
    let Some(ali) = alidns(|o| {
        o.max_page_size = 2;
        o.security_token = Some("sts-token".into());
    })
    .await
    else {
        return;
    };
    let values = ["p1", "p2", "p3", "p4", "p5"];
    for version in ["v3", "v1"] {
        let s = ali.session(&[
            ("signature_version", version),
            ("security_token", "sts-token"),
        ]);
        s.present(&set(NAME, &values)).await.unwrap();
        assert_eq!(ali.pdns.txt_values(NAME).await.unwrap(), values);
        s.cleanup(&set(NAME, &values)).await.unwrap();
        assert!(ali.fake.records().await.is_empty(), "{version}");
        assert!(ali.pdns.txt_values(NAME).await.unwrap().is_empty());
    }
    let err = ali
        .session(&[])
        .present(&set(NAME, &["x"]))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Authentication, "{err}");
}

/// A RAM role's temporary credentials: an `STS.` AccessKey ID whose token
/// must travel with every request, signed, in both signature versions.
#[tokio::test]
async fn alidns_sts_credentials_sign_with_the_token_in_v3_and_v1() {
    const STS_KEY: &str = "STS.NUgYrLnoC63mHtFkUL5MeF8r";
    const STS_TOKEN: &str = "CAIS-sts-token/with+odd=chars";
    let Some(ali) = alidns(|o| {
        o.access_key_id = STS_KEY.into();
        o.security_token = Some(STS_TOKEN.into());
    })
    .await
    else {
        return;
    };
    let endpoint = ali.fake.endpoint();
    let sts = |version: &'static str, token: Option<&str>| {
        let mut pairs = vec![
            ("endpoint", endpoint.as_str()),
            ("access_key_id", STS_KEY),
            ("access_key_secret", SECRET),
            ("signature_version", version),
        ];
        if let Some(token) = token {
            pairs.push(("security_token", token));
        }
        session(&ali.plugin, &pairs)
    };
    for version in ["v3", "v1"] {
        let s = sts(version, Some(STS_TOKEN));
        s.present(&set(NAME, &["sts-a", "sts-b"])).await.unwrap();
        assert_eq!(ali.pdns.txt_values(NAME).await.unwrap(), ["sts-a", "sts-b"]);
        s.cleanup(&set(NAME, &["sts-a", "sts-b"])).await.unwrap();
        assert!(ali.pdns.txt_values(NAME).await.unwrap().is_empty());
        assert!(
            ali.fake.accepted().iter().any(|(_, v)| v == version),
            "{version}: {:?}",
            ali.fake.accepted()
        );

        let err = sts(version, None)
            .present(&set(NAME, &["x"]))
            .await
            .unwrap_err();
        assert_eq!(kind(&err), ProviderErrorKind::Authentication, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("MissingSecurityToken") && text.contains("security_token"),
            "{version}: {text}"
        );

        let err = sts(version, Some("CAIS-some-other-token"))
            .present(&set(NAME, &["x"]))
            .await
            .unwrap_err();
        assert_eq!(kind(&err), ProviderErrorKind::Authentication, "{err}");
        assert!(
            err.to_string()
                .contains("InvalidSecurityToken.MismatchWithAccessKey"),
            "{version}: {err}"
        );
    }
    assert!(ali.fake.records().await.is_empty());
}

/// An STS AccessKey ID sent without any token is refused even when the fake
/// was not told the token, as the real gateway refuses it.
#[tokio::test]
async fn alidns_sts_key_without_token_is_missing_security_token() {
    let Some(ali) = alidns(|o| o.access_key_id = "STS.TemporaryKey".into()).await else {
        return;
    };
    for version in ["v3", "v1"] {
        let err = ali
            .session(&[
                ("access_key_id", "STS.TemporaryKey"),
                ("signature_version", version),
            ])
            .present(&set(NAME, &["x"]))
            .await
            .unwrap_err();
        assert_eq!(kind(&err), ProviderErrorKind::Authentication, "{err}");
        assert!(err.to_string().contains("MissingSecurityToken"), "{err}");
    }
}

/// `region` derives an endpoint the allowlist admits (the static
/// `https://*.aliyuncs.com` entry) while an explicit `endpoint` still wins:
/// the fake is reached with a region set too.
#[tokio::test]
async fn alidns_region_endpoint_is_allowed_and_endpoint_wins() {
    use wacme::plugins::policy::{AllowList, Reach};
    let (plugin, _cache) = load("alidns").await;
    let meta = plugin.metadata();
    let config = Sources::resolve_pairs(
        meta,
        &[
            ("access_key_id", KEY_ID),
            ("access_key_secret", SECRET),
            ("region", "ap-southeast-1"),
        ],
    )
    .unwrap();
    let allow = AllowList::build(&meta.allowed_hosts, &config, &[]).unwrap();
    for ok in [
        "https://alidns.ap-southeast-1.aliyuncs.com/?Action=x",
        "https://alidns.cn-hangzhou.aliyuncs.com/",
        "https://alidns.aliyuncs.com/",
    ] {
        assert_eq!(
            allow.check(&url::Url::parse(ok).unwrap()),
            Ok(Reach::Public),
            "{ok}"
        );
    }
    for denied in [
        "http://alidns.ap-southeast-1.aliyuncs.com/",
        "https://aliyuncs.com/",
        "https://alidns.aliyuncs.com.evil.test/",
        "https://evil.test/",
    ] {
        assert!(
            allow.check(&url::Url::parse(denied).unwrap()).is_err(),
            "{denied}"
        );
    }

    let Some(ali) = alidns(|_| {}).await else {
        return;
    };
    let s = ali.session(&[("region", "ap-southeast-1")]);
    s.present(&set(NAME, &["regional"])).await.unwrap();
    assert_eq!(ali.pdns.txt_values(NAME).await.unwrap(), ["regional"]);
    s.cleanup(&set(NAME, &["regional"])).await.unwrap();
    assert!(ali.fake.records().await.is_empty());
}

#[tokio::test]
async fn alidns_errors_map_to_wit_cases() {
    let Some(ali) = alidns(|_| {}).await else {
        return;
    };
    for version in ["v3", "v1"] {
        let wrong = session(
            &ali.plugin,
            &[
                ("endpoint", &ali.fake.endpoint()),
                ("access_key_id", KEY_ID),
                ("access_key_secret", "not-the-secret"),
                ("signature_version", version),
            ],
        );
        let err = wrong.present(&set(NAME, &["x"])).await.unwrap_err();
        assert_eq!(kind(&err), ProviderErrorKind::Authentication, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("SignatureDoesNotMatch") && text.contains("server string to sign is:"),
            "{text}"
        );
    }
    let err = ali
        .session(&[("access_key_id", "LTAI-unknown")])
        .present(&set(NAME, &["x"]))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Authentication, "{err}");

    ali.fake.set_clock_offset(3600);
    let err = ali
        .session(&[])
        .present(&set(NAME, &["x"]))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Permanent, "{err}");
    assert!(
        err.to_string().contains("InvalidTimeStamp.Expired") && err.to_string().contains("clock"),
        "{err}"
    );
    ali.fake.set_clock_offset(0);

    ali.fake.throttle_next(1);
    let err = ali
        .session(&[])
        .present(&set(NAME, &["x"]))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::RateLimited, "{err}");
    ali.fake.busy_next(1);
    let err = ali
        .session(&[])
        .present(&set(NAME, &["x"]))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Transient, "{err}");

    let err = ali
        .session(&[])
        .present(&set_in(
            "other.invalid",
            "_acme-challenge.other.invalid",
            &["x"],
            600,
        ))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::ZoneNotFound, "{err}");

    let err = ali
        .session(&[("ttl", "60")])
        .present(&set(NAME, &["x"]))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::InvalidConfig, "{err}");
    assert!(ali.fake.records().await.is_empty());
}

/// The fake's own checks, with hand-signed requests: the codes the real
/// service answers.
#[tokio::test]
async fn alidns_fake_rejects_bad_signatures_old_timestamps_and_reused_nonces() {
    let Some(ali) = alidns(|_| {}).await else {
        return;
    };
    let http = reqwest::Client::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let v1 = |timestamp: u64, nonce: &str, secret: &str| {
        let mut params: BTreeMap<String, String> = [
            ("AccessKeyId", KEY_ID),
            ("Action", "DescribeSubDomainRecords"),
            ("Format", "JSON"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", nonce),
            ("SubDomain", NAME),
            ("Version", "2015-01-09"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        params.insert("Timestamp".into(), utc(timestamp));
        let signature =
            fake_alidns::v1_sign(secret, &fake_alidns::v1_string_to_sign("GET", &params));
        params.insert("Signature".into(), signature);
        format!(
            "{}/?{}",
            ali.fake.endpoint(),
            fake_alidns::canonical_query(&params)
        )
    };
    let code = |url: String| {
        let http = http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap();
            (status, body["Code"].as_str().unwrap_or("").to_string())
        }
    };
    assert_eq!(code(v1(now, "n-ok", SECRET)).await, (200, String::new()));
    assert_eq!(
        code(v1(now, "n-ok", SECRET)).await,
        (400, "SignatureNonceUsed".into())
    );
    assert_eq!(
        code(v1(now - 16 * 60, "n-old", SECRET)).await,
        (400, "InvalidTimeStamp.Expired".into())
    );
    assert_eq!(
        code(v1(now, "n-bad", "other")).await,
        (400, "SignatureDoesNotMatch".into())
    );
    // No signature at all, and a V3 header that names no signed headers.
    let r = http.get(ali.fake.endpoint()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = http
        .post(ali.fake.endpoint())
        .header("authorization", "ACS3-HMAC-SHA256 Credential=x")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["RequestId"].is_string() && body["Recommend"].is_string(),
        "{body}"
    );
    assert_eq!(body["Code"], "IncompleteSignature");
}

fn utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant), enough for the tests' dates.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

// ---------------------------------------------------------------- wacme issue

/// `wacme issue` with `--dns <plugin>` on the bed, the plugin copied into the
/// bed's plugin folder, `config` as `--dns-config` and `env` in the
/// environment.
fn issue(bed: &Bed, plugin: &str, config: &[String], env: &[(&str, &str)]) -> std::process::Output {
    std::fs::copy(
        wacme_tests::plugin_wasm(plugin),
        bed.local.plugin_dir.join(format!("{plugin}.wasm")),
    )
    .unwrap();
    let mut cmd = bed.wacme();
    cmd.arg("issue")
        .args(["-d", ZONE, "-d", "*.example.test"])
        .args(["--dns", plugin]);
    bed.bed_args(&mut cmd).args(["--output", "json"]);
    for c in config {
        cmd.args(["--dns-config", c]);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run wacme")
}

// `wacme` runs as a blocking child process: the fake needs other threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_apex_and_wildcard_through_cloudflare() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = FakeCloudflare::start(&bed.pdns, CloudflareOptions::new(TOKEN, &[ZONE])).await;
    let out = issue(
        &bed,
        "cloudflare",
        &[format!("endpoint={}", fake.endpoint())],
        &[("CF_API_TOKEN", TOKEN)],
    );
    assert!(out.status.success(), "{}", show(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["record_sets"], 1, "apex and wildcard share one name");
    bed.check_certificate(ZONE, &[ZONE, "*.example.test"]).await;
    assert!(
        fake.records().await.is_empty(),
        "{:?}",
        fake.records().await
    );
    assert!(
        bed.leftover_challenges().await.is_empty(),
        "{:?}",
        bed.leftover_challenges().await
    );
    let posts = fake
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST"))
        .count();
    assert_eq!(posts, 2, "one record per value: {:?}", fake.requests());
    assert!(!String::from_utf8_lossy(&out.stderr).contains(TOKEN));
}

// `wacme` runs as a blocking child process: the fake needs other threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_apex_and_wildcard_through_alidns() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = FakeAlidns::start(&bed.pdns, AlidnsOptions::new(KEY_ID, SECRET, &[ZONE])).await;
    let out = issue(
        &bed,
        "alidns",
        &[format!("endpoint={}", fake.endpoint())],
        &[("Ali_Key", KEY_ID), ("Ali_Secret", SECRET)],
    );
    assert!(out.status.success(), "{}", show(&out));
    bed.check_certificate(ZONE, &[ZONE, "*.example.test"]).await;
    assert!(
        fake.records().await.is_empty(),
        "{:?}",
        fake.records().await
    );
    assert!(
        bed.leftover_challenges().await.is_empty(),
        "{:?}",
        bed.leftover_challenges().await
    );
    let adds = fake
        .accepted()
        .iter()
        .filter(|(a, v)| a == "AddDomainRecord" && v == "v3")
        .count();
    assert_eq!(adds, 2, "{:?}", fake.accepted());
    assert!(!String::from_utf8_lossy(&out.stderr).contains(SECRET));
}
