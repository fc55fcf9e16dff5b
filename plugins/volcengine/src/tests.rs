//! Unit tests of the volcengine plugin: the signature on the published
//! example, configuration, error mapping and metadata.

use super::*;

fn config(extra: &[(&str, &str)]) -> Config {
    let mut pairs = vec![
        (
            "access_key_id",
            "AKLTMjI2ODVlYzI3ZGY1NGU4ZjhjYWRjMTlmNTM5OTZkYzE",
        ),
        (
            "secret_access_key",
            "TnpCak5XWXpZV1U0WkRaaE5ERmxaR0ZpTmpjeVkyUXlZek0wTWpJMU1qWQ==",
        ),
    ];
    pairs.extend_from_slice(extra);
    Config::new(pairs)
}

fn response(status: u16, body: &str) -> Response {
    Response {
        status,
        headers: vec![("retry-after".into(), "2".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn error(status: u16, code: &str, message: &str) -> ApiError {
    let body = json!({
        "ResponseMetadata": {
            "RequestId": "20230101000000A1B2C3",
            "Action": "CreateRecord",
            "Version": API_VERSION,
            "Service": "DNS",
            "Region": "cn-north-1",
            "Error": {"Code": code, "Message": message},
        }
    });
    let response = response(status, &body.to_string());
    api_error(
        &response,
        ApiErrorBody {
            code: code.into(),
            message: message.into(),
        },
    )
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The signature example of the BytePlus (Volcengine international) API
/// reference, "Signature method → Example"
/// (<https://docs.byteplus.com/en/docs/byteplus-platform/reference-example>):
/// IAM `ListUsers` (GET, `Limit=10&Offset=0`, Version 2018-01-01) at
/// 20201230T081805Z in ap-singapore-1. The page publishes the canonical
/// request and the string to sign (its last line is the canonical request's
/// hash, 4809ff4a…); both are asserted here. The page's final signature is
/// not quoted in this test: the signature below, for the AK/SK pair of the
/// sibling "Signature example" page, was computed independently with
/// Python's `hmac`/`hashlib` (kDate → kRegion → kService → kSigning
/// = `b5e43ebb…`, then HMAC over the string to sign).
#[test]
fn published_signature_example() {
    let query = pairs(&[
        ("Action", "ListUsers"),
        ("Version", "2018-01-01"),
        ("Limit", "10"),
        ("Offset", "0"),
    ]);
    let headers = pairs(&[
        (
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("Host", "iam.byteplusapi.com"),
        ("X-Content-Sha256", sigv4::EMPTY_SHA256),
    ]);
    let credentials = Credentials {
        access_key_id: "AKLTMjI2ODVlYzI3ZGY1NGU4ZjhjYWRjMTlmNTM5OTZkYzE".into(),
        secret_access_key: "TnpCak5XWXpZV1U0WkRaaE5ERmxaR0ZpTmpjeVkyUXlZek0wTWpJMU1qWQ==".into(),
        session_token: None,
    };
    let signed = sigv4::sign(
        &SCHEME,
        &credentials,
        "ap-singapore-1",
        "iam",
        &sigv4::Request {
            method: "GET",
            path: "/",
            query: &query,
            headers: &headers,
            payload_hash: sigv4::EMPTY_SHA256,
        },
        "20201230T081805Z",
    );
    assert_eq!(
        signed.canonical_request,
        format!(
            "GET\n/\nAction=ListUsers&Limit=10&Offset=0&Version=2018-01-01\n\
             content-type:application/x-www-form-urlencoded; charset=utf-8\n\
             host:iam.byteplusapi.com\nx-content-sha256:{e}\nx-date:20201230T081805Z\n\n\
             content-type;host;x-content-sha256;x-date\n{e}",
            e = sigv4::EMPTY_SHA256
        )
    );
    assert_eq!(
        signed.string_to_sign,
        "HMAC-SHA256\n20201230T081805Z\n20201230/ap-singapore-1/iam/request\n\
         4809ff4a3260bb6714f750191275cfcf0c16466951fcfd99187e69644b6ae020"
    );
    let key = sigv4::signing_key(
        &SCHEME,
        &credentials.secret_access_key,
        "20201230",
        "ap-singapore-1",
        "iam",
    );
    assert_eq!(
        key.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "b5e43ebb4254f8699a4d365bd6a6e0e7274f0fffec08309476362169b8088b8d"
    );
    assert_eq!(
        signed.signature,
        "cec8a8e26f93f557ad8b7b87abd76479f7d8baf7bed88b86d00e44c827e8e5dd"
    );
    assert_eq!(
        signed.headers.last().unwrap().1,
        "HMAC-SHA256 Credential=AKLTMjI2ODVlYzI3ZGY1NGU4ZjhjYWRjMTlmNTM5OTZkYzE/20201230/\
         ap-singapore-1/iam/request, SignedHeaders=content-type;host;x-content-sha256;x-date, \
         Signature=cec8a8e26f93f557ad8b7b87abd76479f7d8baf7bed88b86d00e44c827e8e5dd"
    );
}

#[test]
fn config_defaults_and_checks() {
    let api = Api::from_config(&config(&[])).unwrap();
    assert_eq!(
        (
            api.endpoint.as_str(),
            api.authority.as_str(),
            api.region.as_str(),
            api.ttl
        ),
        (
            "https://open.volcengineapi.com",
            "open.volcengineapi.com",
            "cn-north-1",
            None
        )
    );
    let api = Api::from_config(&config(&[
        ("endpoint", "http://127.0.0.1:9000/"),
        ("region", "ap-singapore-1"),
        ("ttl", "60"),
    ]))
    .unwrap();
    assert_eq!(
        (api.authority.as_str(), api.region.as_str(), api.ttl),
        ("127.0.0.1:9000", "ap-singapore-1", Some(60))
    );
    for bad in [
        vec![("endpoint", "open.volcengineapi.com")],
        vec![("endpoint", "https://x/path")],
        vec![("ttl", "-1")],
    ] {
        assert!(
            matches!(
                Api::from_config(&config(&bad)),
                Err(Error::InvalidConfig(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn hosts_are_relative_to_the_zone_found() {
    let set = TxtSet {
        zone: "sub.example.com".into(),
        fqdn: "_acme-challenge.sub.example.com".into(),
        relative_name: "_acme-challenge".into(),
        values: vec![],
        ttl: 600,
    };
    assert_eq!(host_of(&set, "example.com").unwrap(), "_acme-challenge.sub");
    assert_eq!(host_of(&set, "sub.example.com").unwrap(), "_acme-challenge");
    let apex = TxtSet {
        fqdn: "example.com".into(),
        ..set.clone()
    };
    assert_eq!(host_of(&apex, "example.com").unwrap(), "@");
    assert!(host_of(&set, "example.org").is_err());
}

#[test]
fn records_take_string_or_numeric_ids() {
    let r: Vec<Record> = serde_json::from_value(json!([
        {"RecordID": "1001", "Host": "_acme-challenge", "Type": "TXT", "Value": "a", "TTL": 600},
        {"RecordID": 1002, "Host": "_acme-challenge", "Type": "TXT", "Value": "\"b\""},
    ]))
    .unwrap();
    assert_eq!(
        (r[0].record_id.as_str(), r[1].record_id.as_str()),
        ("1001", "1002")
    );
}

#[test]
fn errors_map_to_wit_cases() {
    let e = error(
        401,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
    );
    assert!(
        matches!(&e.error, Error::Authentication(m) if m.contains("SignatureDoesNotMatch") && m.contains("RequestId 20230101000000A1B2C3") && m.contains("secret_access_key")),
        "{e:?}"
    );
    assert!(matches!(
        error(401, "InvalidAccessKey", "The access key is invalid.").error,
        Error::Authentication(m) if m.contains("access_key_id")
    ));
    assert!(matches!(
        error(403, "AccessDenied", "User is not authorized.").error,
        Error::Authentication(_)
    ));
    assert!(matches!(
        error(401, "InvalidTimestamp", "The request timestamp is expired.").error,
        Error::Permanent(m) if m.contains("clock")
    ));
    assert!(matches!(
        error(429, "FlowLimitExceeded", "Request has exceeded the limit.").error,
        Error::RateLimited(r) if r.retry_after_secs == Some(2)
    ));
    assert!(matches!(
        error(
            503,
            "ServiceUnavailableTemp",
            "Service is unavailable temporarily."
        )
        .error,
        Error::Transient(_)
    ));
    assert!(matches!(
        error(404, "ZoneNotFound", "The zone does not exist.").error,
        Error::ZoneNotFound(_)
    ));
    let plain = api_error(
        &response(502, "<html>bad gateway</html>"),
        ApiErrorBody::default(),
    );
    assert!(matches!(plain.error, Error::Transient(m) if m.contains("bad gateway")));
}

#[test]
fn metadata() {
    let m = Volcengine::metadata();
    assert_eq!(m.name, "volcengine");
    assert_eq!(m.allowed_hosts, ["{endpoint}"]);
    assert_eq!((m.default_ttl, m.min_ttl), (600, 1));
    let aliases: Vec<(&str, Vec<&str>)> = m
        .config
        .iter()
        .map(|f| {
            (
                f.name.as_str(),
                f.env_aliases.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        aliases,
        [
            (
                "access_key_id",
                vec!["VOLC_ACCESSKEY", "Volcengine_ACCESS_KEY_ID"]
            ),
            (
                "secret_access_key",
                vec!["VOLC_SECRETKEY", "Volcengine_SECRET_ACCESS_KEY"]
            ),
            ("session_token", vec!["Volcengine_SESSION_TOKEN"]),
            ("region", vec!["VOLC_REGION"]),
            ("endpoint", vec![]),
            ("ttl", vec!["VOLC_TTL"]),
        ]
    );
    let secret: Vec<&str> = m
        .config
        .iter()
        .filter(|f| f.secret)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(secret, ["secret_access_key", "session_token"]);
}
