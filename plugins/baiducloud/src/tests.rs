//! Unit tests of the baiducloud plugin: configuration, the signed request,
//! the error mapping and the listing shapes of the API reference.

use super::*;
use serde_json::Value;

fn config(extra: &[(&str, &str)]) -> Config {
    let mut pairs = vec![("access_key_id", "ak"), ("secret_access_key", "sk")];
    pairs.extend_from_slice(extra);
    Config::new(pairs)
}

fn response(status: u16, body: Value) -> Response {
    Response {
        status,
        headers: Vec::new(),
        body: serde_json::to_vec(&body).unwrap(),
    }
}

fn error(status: u16, code: &str, message: &str) -> Error {
    api_error(&response(
        status,
        json!({"requestId": "R-1", "code": code, "message": message}),
    ))
    .error
}

#[test]
fn config_defaults_and_checks() {
    let api = Api::from_config(&config(&[])).unwrap();
    assert_eq!(api.authority, "dns.baidubce.com");
    assert_eq!(api.endpoint, DEFAULT_ENDPOINT);
    let api = Api::from_config(&config(&[("endpoint", "http://127.0.0.1:8080/")])).unwrap();
    assert_eq!(
        (api.authority.as_str(), api.endpoint.as_str()),
        ("127.0.0.1:8080", "http://127.0.0.1:8080")
    );
    for bad in [
        vec![("endpoint", "dns.baidubce.com")],
        vec![("endpoint", "https://x/path")],
        vec![("ttl", "ten")],
    ] {
        assert!(matches!(
            Api::from_config(&config(&bad)),
            Err(Error::InvalidConfig(_))
        ));
    }
    assert!(matches!(
        Api::from_config(&Config::new([("access_key_id", "id")])),
        Err(Error::InvalidConfig(m)) if m.contains("secret_access_key")
    ));
}

#[test]
fn request_is_signed_over_host_and_date() {
    let api = Api::from_config(&config(&[("endpoint", "http://127.0.0.1:9")])).unwrap();
    let query = vec![
        ("rr".to_string(), "_acme-challenge".to_string()),
        ("maxKeys".to_string(), "1000".to_string()),
    ];
    let request = api.signed_request(
        Method::Get,
        "/v1/dns/zone/example.com/record",
        &query,
        None,
        1_700_000_000,
    );
    let text = format!("{request:?}");
    assert!(
        text.contains(
            "http://127.0.0.1:9/v1/dns/zone/example.com/record?maxKeys=1000&rr=_acme-challenge"
        ),
        "{text}"
    );
    assert!(
        text.contains("\"x-bce-date\", \"2023-11-14T22:13:20Z\""),
        "{text}"
    );
    assert!(!text.contains("(\"host\""), "the host sets Host: {text}");
    assert!(
        text.contains("\"content-type\", \"application/json; charset=utf-8\""),
        "{text}"
    );
    let prefix = "bce-auth-v1/ak/2023-11-14T22:13:20Z/1800";
    let canonical = "GET\n/v1/dns/zone/example.com/record\nmaxKeys=1000&rr=_acme-challenge\n\
                     host:127.0.0.1%3A9\nx-bce-date:2023-11-14T22%3A13%3A20Z";
    let sig = sign::signature(&sign::signing_key("sk", prefix), canonical);
    assert!(
        text.contains(&format!("{prefix}/host;x-bce-date/{sig}")),
        "{text}"
    );
}

#[test]
fn errors_map_to_wit_cases() {
    let Error::Authentication(m) = error(
        400,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
    ) else {
        panic!("signature")
    };
    assert!(
        m.contains("SignatureDoesNotMatch") && m.contains("R-1"),
        "{m}"
    );
    assert!(matches!(
        error(403, "InvalidAccessKeyId", "x"),
        Error::Authentication(_)
    ));
    assert!(matches!(
        error(403, "AccessDenied", "Access denied."),
        Error::Authentication(_)
    ));
    let Error::Permanent(m) = error(400, "RequestExpired", "Request has expired.") else {
        panic!("expired")
    };
    assert!(m.contains("clock"), "{m}");
    assert!(matches!(
        error(429, "RequestLimitExceeded", "x"),
        Error::RateLimited(_)
    ));
    assert!(matches!(
        error(400, "TooManyRequests", "x"),
        Error::RateLimited(_)
    ));
    assert!(matches!(
        error(500, "InternalError", "x"),
        Error::Transient(_)
    ));
    assert!(matches!(
        error(404, "ZoneNotExist", "x"),
        Error::ZoneNotFound(_)
    ));
    assert!(matches!(error(400, "BadRequest", "x"), Error::Permanent(_)));
    let e = api_error(&Response {
        status: 502,
        headers: Vec::new(),
        body: b"<html>bad gateway</html>".to_vec(),
    });
    assert!(matches!(e.error, Error::Transient(_)));
    assert!(is_duplicate("RecordAlreadyExist") && !is_duplicate("BadRequest"));
    assert!(is_gone("RecordNotExist") && is_gone("NoSuchRecord") && !is_gone("AccessDenied"));
}

#[test]
fn listings_parse_the_documented_shape() {
    let zones: ZoneList = serde_json::from_value(json!({
        "marker": "", "isTruncated": true, "nextMarker": "zone-2", "maxKeys": 1,
        "zones": [{"id": "zone-1", "name": "example.com", "status": "running",
                   "productVersion": "free", "createTime": "2020-07-14T04:17:29Z",
                   "expireTime": null}]
    }))
    .unwrap();
    assert_eq!(zones.zones[0].name, "example.com");
    assert_eq!(zones.next_marker.as_deref(), Some("zone-2"));
    let records: RecordList = serde_json::from_value(json!({
        "marker": "", "isTruncated": false, "maxKeys": 1000,
        "records": [{"id": "12345", "rr": "_acme-challenge", "status": "running", "type": "TXT",
                     "value": "v1", "ttl": 300, "line": "default", "description": "",
                     "priority": 0},
                    {"id": 12346, "rr": "_acme-challenge", "type": "TXT", "value": "\"v2\""}]
    }))
    .unwrap();
    assert_eq!(records.records[1].id, "12346");
    assert!(!records.is_truncated && records.next_marker.is_none());
}

#[test]
fn tokens_differ_per_call() {
    let (name, a) = token("/p", "v");
    let (_, b) = token("/p", "v");
    assert_eq!((name.as_str(), a.len()), ("clientToken", 32));
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    let _ = b;
}

#[test]
fn metadata() {
    let m = BaiduCloud::metadata();
    assert_eq!(m.name, "baiducloud");
    assert_eq!(
        (m.default_ttl, m.allowed_hosts.as_slice()),
        (300, &["{endpoint}".to_string()][..])
    );
    let key = m
        .config
        .iter()
        .find(|f| f.name == "secret_access_key")
        .unwrap();
    assert!(key.required && key.secret);
    assert_eq!(
        key.env_aliases,
        ["BAIDUCLOUD_SECRET_ACCESS_KEY", "Baidu_SK"]
    );
    let id = m.config.iter().find(|f| f.name == "access_key_id").unwrap();
    assert_eq!(id.env_aliases, ["BAIDUCLOUD_ACCESS_KEY_ID", "Baidu_AK"]);
    let ttl = m.config.iter().find(|f| f.name == "ttl").unwrap();
    assert!(!ttl.required && !ttl.secret);
    assert_eq!(ttl.env_aliases, ["BAIDUCLOUD_TTL", "Baidu_TTL"]);
}
