//! Unit tests of the huaweicloud plugin: configuration, the read-modify-write
//! plans, error mapping and metadata.

use super::*;

fn config(extra: &[(&str, &str)]) -> Config {
    let mut pairs = vec![
        ("access_key_id", "QTWAOYTTINDUT2QVKYUC"),
        (
            "secret_access_key",
            "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc",
        ),
    ];
    pairs.extend_from_slice(extra);
    Config::new(pairs)
}

fn response(status: u16, body: &str) -> Response {
    Response {
        status,
        headers: vec![("retry-after".into(), "3".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn aksk_error(response: &Response) -> ApiError {
    api_error(response, AuthKind::AkSk)
}

fn password_config(extra: &[(&str, &str)]) -> Config {
    let mut pairs = vec![
        ("username", "dns-user"),
        ("password", "Pa55word-not-shown"),
        ("domain_name", "hwc12345"),
    ];
    pairs.extend_from_slice(extra);
    Config::new(pairs)
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

fn set(records: &[&str]) -> RecordSet {
    RecordSet {
        id: "2c9eb155587228570158722b6ac30007".into(),
        name: "_acme-challenge.example.com.".into(),
        rtype: "TXT".into(),
        ttl: 300,
        records: strings(records),
    }
}

#[test]
fn config_defaults_and_checks() {
    let api = Api::from_config(&config(&[])).unwrap();
    assert_eq!(api.endpoint, "https://dns.cn-south-1.myhuaweicloud.com");
    assert_eq!(api.authority, "dns.cn-south-1.myhuaweicloud.com");
    assert_eq!((api.ttl, api.project_id.as_deref()), (None, None));
    let api = Api::from_config(&config(&[("region", "ap-southeast-1")])).unwrap();
    assert_eq!(api.endpoint, "https://dns.ap-southeast-1.myhuaweicloud.com");
    let api = Api::from_config(&config(&[
        ("region", "ignored-when-endpoint-is-set"),
        ("endpoint", "http://127.0.0.1:8080/"),
        ("project_id", "0b3e4c5d"),
        ("ttl", "120"),
    ]))
    .unwrap();
    assert_eq!(
        (api.endpoint.as_str(), api.authority.as_str()),
        ("http://127.0.0.1:8080", "127.0.0.1:8080")
    );
    assert_eq!(
        (api.ttl, api.project_id.as_deref()),
        (Some(120), Some("0b3e4c5d"))
    );
    let api = Api::from_config(&config(&[("endpoint", "https://DNS.example:443")])).unwrap();
    assert_eq!(api.authority, "dns.example");
    for bad in [
        vec![("region", "cn-south-1.evil.test/")],
        vec![("region", "CN South")],
        vec![("endpoint", "dns.cn-south-1.myhuaweicloud.com")],
        vec![("endpoint", "https://x/v2")],
        vec![("ttl", "ten")],
    ] {
        assert!(
            matches!(
                Api::from_config(&config(&bad)),
                Err(Error::InvalidConfig(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        Api::from_config(&Config::new([("access_key_id", "x")])),
        Err(Error::InvalidConfig(m)) if m.contains("secret_access_key")
    ));
}

#[test]
fn credentials_aksk_wins_and_half_sets_name_what_is_missing() {
    let api = Api::from_config(&password_config(&[])).unwrap();
    match &api.auth {
        Auth::Password {
            username,
            domain_name,
            iam_endpoint,
            token,
            ..
        } => {
            assert_eq!(
                (username.as_str(), domain_name.as_str()),
                ("dns-user", "hwc12345")
            );
            assert_eq!(iam_endpoint, DEFAULT_IAM_ENDPOINT);
            assert!(token.is_empty());
        }
        other => panic!("{other:?}"),
    }
    // The password stays out of `{:?}`.
    assert!(!format!("{api:?}").contains("Pa55word"));
    let api = Api::from_config(&password_config(&[
        ("access_key_id", "QTWAOYTTINDUT2QVKYUC"),
        ("secret_access_key", "sk"),
    ]))
    .unwrap();
    assert!(matches!(api.auth, Auth::AkSk { .. }), "AK/SK wins");
    assert!(!format!("{api:?}").contains("\"sk\""));
    let api =
        Api::from_config(&password_config(&[("iam_endpoint", "http://127.0.0.1:9/")])).unwrap();
    assert!(
        matches!(&api.auth, Auth::Password { iam_endpoint, .. } if iam_endpoint == "http://127.0.0.1:9")
    );

    let err = |c: &Config| match Api::from_config(c) {
        Err(Error::InvalidConfig(m)) => m,
        other => panic!("{other:?}"),
    };
    let m = err(&Config::new([("username", "u")]));
    assert!(
        m.contains("`password`") && m.contains("`domain_name`") && !m.contains("`username`"),
        "{m}"
    );
    let m = err(&Config::new([("username", "u"), ("password", "p")]));
    assert!(
        m.contains("`domain_name`") && !m.contains("`password`"),
        "{m}"
    );
    let m = err(&Config::new([
        ("secret_access_key", "s"),
        ("username", "u"),
    ]));
    assert!(m.contains("`access_key_id`"), "{m}");
    let m = err(&Config::new::<&str, &str>([]));
    assert!(m.contains("HUAWEICLOUD_Username"), "{m}");
    let m = err(&password_config(&[(
        "iam_endpoint",
        "iam.myhuaweicloud.com",
    )]));
    assert!(m.contains("iam_endpoint"), "{m}");
    // The region names the token's project, even with an explicit endpoint.
    let m = err(&password_config(&[
        ("endpoint", "http://127.0.0.1:9"),
        ("region", "CN South"),
    ]));
    assert!(m.contains("region"), "{m}");
    let api = Api::from_config(&config(&[
        ("endpoint", "http://127.0.0.1:9"),
        ("region", "CN South"),
    ]));
    assert!(
        api.is_ok(),
        "AK/SK with an endpoint does not use the region"
    );
}

#[test]
fn token_request_scopes_the_region_or_the_project() {
    let api = Api::from_config(&password_config(&[("region", "ap-southeast-1")])).unwrap();
    let body = api.token_request_body().unwrap();
    assert_eq!(body["auth"]["identity"]["methods"], json!(["password"]));
    assert_eq!(
        body["auth"]["identity"]["password"]["user"],
        json!({"name": "dns-user", "password": "Pa55word-not-shown", "domain": {"name": "hwc12345"}})
    );
    assert_eq!(
        body["auth"]["scope"],
        json!({"project": {"name": "ap-southeast-1"}})
    );
    let api = Api::from_config(&password_config(&[("project_id", "0b3e4c5d")])).unwrap();
    assert_eq!(
        api.token_request_body().unwrap()["auth"]["scope"],
        json!({"project": {"id": "0b3e4c5d"}})
    );
    assert!(
        Api::from_config(&config(&[]))
            .unwrap()
            .token_request_body()
            .is_none()
    );
}

#[test]
fn token_requests_carry_the_token_and_no_signature() {
    let mut api = Api::from_config(&password_config(&[])).unwrap();
    if let Auth::Password { token, .. } = &mut api.auth {
        *token = "MIIEhgYJKoZIhvcNAQcCoIIEdzCCBHMCAQExDTALBglghkgBZQMEAgEw".into();
    }
    let request = api.signed_request("GET", "/v2/zones", &[], b"", "20240101T000000Z");
    // The fields are private; their debug form shows the headers.
    let shown = format!("{request:?}");
    assert!(
        shown.contains(
            r#"("x-auth-token", "MIIEhgYJKoZIhvcNAQcCoIIEdzCCBHMCAQExDTALBglghkgBZQMEAgEw")"#
        ),
        "{shown}"
    );
    assert!(!shown.contains("authorization"), "{shown}");
}

#[test]
fn iam_errors_map_to_wit_cases() {
    let e = iam_error(
        &response(
            401,
            r#"{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}"#,
        ),
        "dns-user",
    );
    assert!(
        matches!(&e, Error::Authentication(m) if m.starts_with("Huawei Cloud IAM: HTTP 401: The username or password is wrong. (Unauthorized); check username (dns-user)") && m.contains("domain_name") && !m.contains("Pa55word")),
        "{e:?}"
    );
    let e = iam_error(
        &response(
            401,
            r#"{"error_msg":"Incorrect IAM authentication information: Unauthorized","error_code":"APIGW.0301","request_id":"x"}"#,
        ),
        "dns-user",
    );
    assert!(
        matches!(&e, Error::Authentication(m) if m.contains("APIGW.0301")),
        "{e:?}"
    );
    let e = iam_error(
        &response(
            400,
            r#"{"error_msg":"Request body is invalid.","error_code":"IAM.0011"}"#,
        ),
        "dns-user",
    );
    assert!(
        matches!(&e, Error::InvalidConfig(m) if m.contains("IAM.0011: Request body is invalid.")),
        "{e:?}"
    );
    let e = iam_error(
        &response(
            429,
            r#"{"error":{"error_code":"IAM.0012","error_msg":"Too many requests."}}"#,
        ),
        "dns-user",
    );
    assert!(
        matches!(&e, Error::RateLimited(r) if r.retry_after_secs == Some(3) && r.message.contains("IAM.0012")),
        "{e:?}"
    );
    let e = iam_error(&response(503, "<html>busy</html>"), "dns-user");
    assert!(
        matches!(&e, Error::Transient(m) if m.contains("busy")),
        "{e:?}"
    );
    // A refused token on a DNS call: no clock or AK hint.
    let e = api_error(
        &response(
            401,
            r#"{"error_msg":"Incorrect IAM authentication information: token expires, expires_at: 2024-01-01","error_code":"APIGW.0301"}"#,
        ),
        AuthKind::Token,
    );
    assert!(
        matches!(&e.error, Error::Authentication(m) if m.contains("token") && !m.contains("clock") && !m.contains("access_key")),
        "{e:?}"
    );
}

#[test]
fn present_adds_missing_values_and_keeps_foreign_ones() {
    assert_eq!(
        plan_present(None, &strings(&["a", "b"])),
        Some(strings(&["\"a\"", "\"b\""]))
    );
    let current = set(&["\"foreign\" \"-split\"", "\"a\""]);
    assert_eq!(
        plan_present(Some(&current), &strings(&["a", "b"])),
        Some(strings(&["\"foreign\" \"-split\"", "\"a\"", "\"b\""]))
    );
    assert_eq!(plan_present(Some(&current), &strings(&["a"])), None);
    // A value the API returned bare still counts as there.
    assert_eq!(plan_present(Some(&set(&["a"])), &strings(&["a"])), None);
}

#[test]
fn cleanup_removes_only_the_given_values() {
    let records = strings(&["\"foreign\"", "\"a\"", "\"b\""]);
    assert_eq!(
        plan_cleanup(&records, &strings(&["a", "b"])),
        Cleanup::Keep(strings(&["\"foreign\""]))
    );
    assert_eq!(plan_cleanup(&records, &strings(&["c"])), Cleanup::Nothing);
    assert_eq!(
        plan_cleanup(&records, &strings(&["a", "b", "foreign"])),
        Cleanup::Delete
    );
}

#[test]
fn names() {
    assert_eq!(absolute("a.example.com"), "a.example.com.");
    assert_eq!(absolute("a.example.com."), "a.example.com.");
    assert_eq!(normalize(" A.Example.COM. "), "a.example.com");
}

#[test]
fn errors_map_to_wit_cases() {
    let e = aksk_error(&response(
        401,
        r#"{"error_msg":"Incorrect IAM authentication information: verify aksk signature fail","error_code":"APIGW.0301","request_id":"1a2b"}"#,
    ));
    assert!(
        matches!(&e.error, Error::Authentication(m) if m.contains("APIGW.0301") && m.contains("verify aksk signature fail") && m.contains("request_id 1a2b") && m.contains("secret_access_key")),
        "{e:?}"
    );
    let e = aksk_error(&response(
        401,
        r#"{"error_msg":"Incorrect IAM authentication information: Get secretKey failed,ak:******,err:ak not exist","error_code":"APIG.0301"}"#,
    ));
    assert!(
        matches!(&e.error, Error::Authentication(m) if m.contains("access_key_id")),
        "{e:?}"
    );
    let e = aksk_error(&response(
        401,
        r#"{"error_msg":"Incorrect IAM authentication information: X-Sdk-Date expired","error_code":"APIGW.0301"}"#,
    ));
    assert!(
        matches!(&e.error, Error::Permanent(m) if m.contains("clock")),
        "{e:?}"
    );
    let e = aksk_error(&response(
        429,
        r#"{"error_msg":"The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 minute","error_code":"APIGW.0308"}"#,
    ));
    assert!(
        matches!(&e.error, Error::RateLimited(r) if r.retry_after_secs == Some(3) && r.message.contains("APIGW.0308")),
        "{e:?}"
    );
    let e = aksk_error(&response(
        404,
        r#"{"code":"DNS.0101","message":"The zone does not exist."}"#,
    ));
    assert_eq!((e.status, e.code.as_str()), (404, "DNS.0101"));
    assert!(matches!(e.zone("ff80"), Error::ZoneNotFound(m) if m.contains("ff80")));
    let e = aksk_error(&response(
        403,
        r#"{"code":"DNS.0030","message":"Permission denied."}"#,
    ));
    assert!(matches!(e.error, Error::Authentication(_)));
    let e = aksk_error(&response(
        400,
        r#"{"code":"DNS.0312","message":"Attribute 'name' conflicts with record set."}"#,
    ));
    assert!(matches!(e.error, Error::Transient(_)));
    let e = aksk_error(&response(502, "<html>Bad Gateway</html>"));
    assert!(matches!(&e.error, Error::Transient(m) if m.contains("Bad Gateway")));
    let e = aksk_error(&response(
        400,
        r#"{"code":"DNS.0303","message":"Attribute 'ttl' is invalid."}"#,
    ));
    assert!(matches!(e.error, Error::InvalidConfig(_)));
}

#[test]
fn metadata() {
    let m = HuaweiCloud::metadata();
    assert_eq!(m.name, "huaweicloud");
    assert_eq!(
        m.allowed_hosts,
        [
            "{endpoint}",
            "{iam_endpoint}",
            "https://*.myhuaweicloud.com"
        ]
    );
    assert_eq!((m.default_ttl, m.min_ttl), (300, 1));
    let secret: Vec<&str> = m
        .config
        .iter()
        .filter(|f| f.secret)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(secret, ["secret_access_key", "password"]);
    assert!(m.config.iter().all(|f| !f.required));
    let aliases = |name: &str| {
        m.config
            .iter()
            .find(|f| f.name == name)
            .unwrap()
            .env_aliases
            .clone()
    };
    assert_eq!(aliases("username"), ["HUAWEICLOUD_Username"]);
    assert_eq!(aliases("password"), ["HUAWEICLOUD_Password"]);
    assert_eq!(aliases("domain_name"), ["HUAWEICLOUD_DomainName"]);
    let iam = m.config.iter().find(|f| f.name == "iam_endpoint").unwrap();
    assert_eq!(iam.default.as_deref(), Some(DEFAULT_IAM_ENDPOINT));
    let region = m.config.iter().find(|f| f.name == "region").unwrap();
    assert_eq!(region.default.as_deref(), Some(DEFAULT_REGION));
    assert_eq!(
        region.env_aliases,
        ["HUAWEICLOUD_REGION", "HUAWEICLOUD_Region"]
    );
}
