use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::signature::Verifier;

/// The key used to sign test assertions.
fn test_key() -> rsa::RsaPrivateKey {
    use std::sync::OnceLock;
    static KEY: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        // The RFC 7515 A.2 key: fixed, so failures reproduce.
        let int = |b: &str| rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(b).unwrap());
        rsa::RsaPrivateKey::from_components(
            int("ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"),
            int("AQAB"),
            int("Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ"),
            vec![
                int("4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc"),
                int("uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc"),
            ],
        )
        .unwrap()
    })
    .clone()
}

/// A key file as the Cloud console downloads it (fields abridged).
fn key_json(project: Option<&str>, token_uri: Option<&str>) -> String {
    let pem = test_key().to_pkcs8_pem(LineEnding::LF).unwrap();
    let mut key = serde_json::json!({
        "type": "service_account",
        "private_key_id": "0123abcd",
        "private_key": pem.as_str(),
        "client_email": "wacme@proj-1.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    });
    if let Some(p) = project {
        key["project_id"] = p.into();
    }
    if let Some(t) = token_uri {
        key["token_uri"] = t.into();
    }
    key.to_string()
}

fn config(pairs: &[(&str, &str)]) -> Config {
    Config::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

#[test]
fn metadata_is_consistent() {
    let m = GoogleCloudDns::metadata();
    assert_eq!(m.name, "gcloud");
    let sa = m
        .config
        .iter()
        .find(|f| f.name == "service_account_json")
        .unwrap();
    assert!(sa.secret && sa.required);
    assert_eq!(sa.env_aliases, ["GCE_SERVICE_ACCOUNT"]);
    for entry in &m.allowed_hosts {
        if let Some(key) = entry.strip_prefix('{').and_then(|e| e.strip_suffix('}')) {
            assert!(m.config.iter().any(|f| f.name == key), "{entry}");
        }
    }
    assert!(m.min_ttl <= m.default_ttl);
}

#[test]
fn settings_take_project_and_token_uri_from_the_key_unless_configured() {
    let json = key_json(Some("proj-1"), Some("https://oauth2.googleapis.com/token"));
    let s = Settings::from_config(&config(&[("service_account_json", &json)])).unwrap();
    assert_eq!(s.project, "proj-1");
    assert_eq!(s.token_uri, GOOGLE_TOKEN_URI);
    assert_eq!(s.endpoint, DEFAULT_ENDPOINT);
    assert_eq!(
        s.zones_url(),
        "https://dns.googleapis.com/dns/v1/projects/proj-1/managedZones"
    );
    let s = Settings::from_config(&config(&[
        ("service_account_json", &json),
        ("project", "other"),
        ("oauth_url", "http://127.0.0.1:9/token"),
        ("endpoint", "http://127.0.0.1:9/dns/v1/"),
    ]))
    .unwrap();
    assert_eq!(
        (s.project.as_str(), s.token_uri.as_str()),
        ("other", "http://127.0.0.1:9/token")
    );
    assert_eq!(s.endpoint, "http://127.0.0.1:9/dns/v1");
    // No project anywhere.
    let json = key_json(None, None);
    let err = Settings::from_config(&config(&[("service_account_json", &json)])).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig(m) if m.contains("GCE_PROJECT")));
    let s = Settings::from_config(&config(&[
        ("service_account_json", &json),
        ("project", "p"),
    ]))
    .unwrap();
    assert_eq!(s.token_uri, GOOGLE_TOKEN_URI);
}

#[test]
fn bad_keys_are_invalid_config_without_their_content() {
    for bad in [
        "not json at all, secret-ish",
        r#"{"type":"authorized_user","client_id":"x","refresh_token":"secret-ish"}"#,
        r#"{"type":"service_account","client_email":"a@b","private_key":"secret-ish"}"#,
    ] {
        let result = Settings::from_config(&config(&[("service_account_json", bad)]))
            .and_then(|s| assertion(&s.key, &s.token_uri, 0));
        match result {
            Err(Error::InvalidConfig(m)) => assert!(!m.contains("secret-ish"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn assertion_is_an_rs256_jwt_google_accepts() {
    // https://developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests
    let key = ServiceAccount::parse(&key_json(Some("proj-1"), None)).unwrap();
    let token = assertion(&key, GOOGLE_TOKEN_URI, 1_700_000_000).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let decode = |p: &str| -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
    };
    assert_eq!(
        decode(parts[0]),
        serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "0123abcd"})
    );
    assert_eq!(
        decode(parts[1]),
        serde_json::json!({
            "iss": "wacme@proj-1.iam.gserviceaccount.com",
            "scope": "https://www.googleapis.com/auth/ndev.clouddns.readwrite",
            "aud": "https://oauth2.googleapis.com/token",
            "iat": 1_700_000_000u64,
            "exp": 1_700_003_600u64,
        })
    );
    let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(test_key().to_public_key());
    let signature =
        rsa::pkcs1v15::Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice())
            .unwrap();
    verifier
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .expect("the signature verifies with the key's public half");
}

#[test]
fn query_urls() {
    assert_eq!(
        zones_query_url("https://x/projects/p/managedZones", "Example.com", None),
        "https://x/projects/p/managedZones?dnsName=example.com."
    );
    assert_eq!(
        rrsets_query_url("https://x/r", "_acme-challenge.example.com", Some("t/1")),
        "https://x/r?name=_acme-challenge.example.com.&type=TXT&pageToken=t%2F1"
    );
}

#[test]
fn zone_pick_skips_private_zones_and_other_names() {
    let list: ZoneList = serde_json::from_str(
        r#"{"managedZones":[
            {"name":"corp","dnsName":"example.com.","visibility":"private"},
            {"name":"sub","dnsName":"a.example.com.","visibility":"public"},
            {"name":"pub","dnsName":"example.com.","visibility":"public"}
        ],"nextPageToken":"n"}"#,
    )
    .unwrap();
    assert_eq!(
        pick_zone(&list.managed_zones, "example.com").as_deref(),
        Some("pub")
    );
    assert_eq!(pick_zone(&list.managed_zones[..2], "example.com"), None);
    assert_eq!(list.next_page_token.as_deref(), Some("n"));
}

fn rrset(ttl: u32, values: &[&str]) -> RRSet {
    RRSet {
        name: "_acme-challenge.example.com.".into(),
        kind: "TXT".into(),
        ttl,
        rrdatas: values.iter().map(|v| format!("\"{v}\"")).collect(),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn present_adds_missing_values_to_the_whole_set() {
    let fqdn = "_acme-challenge.example.com";
    // No set yet: one addition, no deletion.
    let change = plan_present(None, fqdn, &strings(&["a", "b", "a"]), 60).unwrap();
    assert_eq!(change.additions, [rrset(60, &["a", "b"])]);
    assert!(change.deletions.is_empty());
    // A foreign value: the set is replaced by the union.
    let current = rrset(300, &["foreign"]);
    let change = plan_present(Some(&current), fqdn, &strings(&["a"]), 60).unwrap();
    assert_eq!(change.deletions, std::slice::from_ref(&current));
    assert_eq!(change.additions, [rrset(60, &["foreign", "a"])]);
    // Already there: nothing to do.
    assert_eq!(
        plan_present(Some(&rrset(60, &["a", "b"])), fqdn, &strings(&["b"]), 60),
        None
    );
    let body = serde_json::to_value(&change).unwrap();
    assert_eq!(
        body["additions"][0],
        serde_json::json!({"name": "_acme-challenge.example.com.", "type": "TXT", "ttl": 60,
            "rrdatas": ["\"foreign\"", "\"a\""]})
    );
}

#[test]
fn cleanup_removes_only_its_values() {
    let current = rrset(60, &["foreign", "a", "b"]);
    let change = plan_cleanup(Some(&current), &strings(&["a", "x"])).unwrap();
    assert_eq!(change.deletions, std::slice::from_ref(&current));
    assert_eq!(change.additions, [rrset(60, &["foreign", "b"])]);
    // The last values: a deletion only.
    let change = plan_cleanup(Some(&rrset(60, &["a"])), &strings(&["a"])).unwrap();
    assert!(change.additions.is_empty());
    assert_eq!(
        serde_json::to_value(&change).unwrap().get("additions"),
        None
    );
    // Gone already.
    assert_eq!(plan_cleanup(Some(&current), &strings(&["x"])), None);
    assert_eq!(plan_cleanup(None, &strings(&["a"])), None);
}

#[test]
fn errors_map_to_wit_cases() {
    // Bodies as https://cloud.google.com/dns/docs/troubleshooting and the
    // API's error model (https://cloud.google.com/apis/design/errors) show.
    let unauthenticated = br#"{"error":{"code":401,"message":"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.","errors":[{"message":"Invalid Credentials","domain":"global","reason":"authError","location":"Authorization","locationType":"header"}],"status":"UNAUTHENTICATED"}}"#;
    match api_error(401, None, unauthenticated, "example.com", "p") {
        Error::Authentication(m) => assert!(m.contains("UNAUTHENTICATED"), "{m}"),
        e => panic!("{e:?}"),
    }
    let forbidden = br#"{"error":{"code":403,"message":"Forbidden","errors":[{"message":"Forbidden","domain":"global","reason":"forbidden"}]}}"#;
    match api_error(403, None, forbidden, "example.com", "p") {
        Error::Authentication(m) => assert!(m.contains("forbidden: Forbidden"), "{m}"),
        e => panic!("{e:?}"),
    }
    let rate = br#"{"error":{"code":403,"message":"Rate Limit Exceeded","errors":[{"message":"Rate Limit Exceeded","domain":"usageLimits","reason":"rateLimitExceeded"}]}}"#;
    assert!(matches!(
        api_error(403, None, rate, "example.com", "p"),
        Error::RateLimited(_)
    ));
    let quota =
        br#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}"#;
    match api_error(429, Some("1"), quota, "example.com", "p") {
        Error::RateLimited(r) => assert_eq!(r.retry_after_secs, Some(1)),
        e => panic!("{e:?}"),
    }
    let not_found = br#"{"error":{"code":404,"message":"The 'parameters.managedZone' resource named 'x' does not exist.","errors":[{"reason":"notFound"}]}}"#;
    assert!(matches!(
        api_error(404, None, not_found, "example.com", "p"),
        Error::ZoneNotFound(_)
    ));
    let precondition = br#"{"error":{"code":412,"message":"Precondition not met for 'entity.change.deletions[0]'","errors":[{"reason":"conditionNotMet"}]}}"#;
    assert!(matches!(
        api_error(412, None, precondition, "example.com", "p"),
        Error::Transient(_)
    ));
    assert!(matches!(
        api_error(503, None, b"backend error", "example.com", "p"),
        Error::Transient(m) if m.contains("backend error")
    ));
    assert!(matches!(
        api_error(400, None, b"{}", "example.com", "p"),
        Error::Permanent(_)
    ));
}
