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
    let e = api_error(&response(
        401,
        r#"{"error_msg":"Incorrect IAM authentication information: verify aksk signature fail","error_code":"APIGW.0301","request_id":"1a2b"}"#,
    ));
    assert!(
        matches!(&e.error, Error::Authentication(m) if m.contains("APIGW.0301") && m.contains("verify aksk signature fail") && m.contains("request_id 1a2b") && m.contains("secret_access_key")),
        "{e:?}"
    );
    let e = api_error(&response(
        401,
        r#"{"error_msg":"Incorrect IAM authentication information: Get secretKey failed,ak:******,err:ak not exist","error_code":"APIG.0301"}"#,
    ));
    assert!(
        matches!(&e.error, Error::Authentication(m) if m.contains("access_key_id")),
        "{e:?}"
    );
    let e = api_error(&response(
        401,
        r#"{"error_msg":"Incorrect IAM authentication information: X-Sdk-Date expired","error_code":"APIGW.0301"}"#,
    ));
    assert!(
        matches!(&e.error, Error::Permanent(m) if m.contains("clock")),
        "{e:?}"
    );
    let e = api_error(&response(
        429,
        r#"{"error_msg":"The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 minute","error_code":"APIGW.0308"}"#,
    ));
    assert!(
        matches!(&e.error, Error::RateLimited(r) if r.retry_after_secs == Some(3) && r.message.contains("APIGW.0308")),
        "{e:?}"
    );
    let e = api_error(&response(
        404,
        r#"{"code":"DNS.0101","message":"The zone does not exist."}"#,
    ));
    assert_eq!((e.status, e.code.as_str()), (404, "DNS.0101"));
    assert!(matches!(e.zone("ff80"), Error::ZoneNotFound(m) if m.contains("ff80")));
    let e = api_error(&response(
        403,
        r#"{"code":"DNS.0030","message":"Permission denied."}"#,
    ));
    assert!(matches!(e.error, Error::Authentication(_)));
    let e = api_error(&response(
        400,
        r#"{"code":"DNS.0312","message":"Attribute 'name' conflicts with record set."}"#,
    ));
    assert!(matches!(e.error, Error::Transient(_)));
    let e = api_error(&response(502, "<html>Bad Gateway</html>"));
    assert!(matches!(&e.error, Error::Transient(m) if m.contains("Bad Gateway")));
    let e = api_error(&response(
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
        ["{endpoint}", "https://*.myhuaweicloud.com"]
    );
    assert_eq!((m.default_ttl, m.min_ttl), (300, 1));
    let secret: Vec<&str> = m
        .config
        .iter()
        .filter(|f| f.secret)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(secret, ["secret_access_key"]);
    let region = m.config.iter().find(|f| f.name == "region").unwrap();
    assert_eq!(region.default.as_deref(), Some(DEFAULT_REGION));
    assert_eq!(
        region.env_aliases,
        ["HUAWEICLOUD_REGION", "HUAWEICLOUD_Region"]
    );
}
