//! A fake Volcengine DNS OpenAPI (version 2018-08-01) on loopback, for the
//! volcengine plugin's tests, written from the public API reference
//! (<https://www.volcengine.com/docs/6758/155086>) and the signature method
//! (<https://www.volcengine.com/docs/6369/67269>).
//!
//! Every request's signature is recomputed here with an implementation of
//! its own (on `ring`, independent of the plugin's): `HMAC-SHA256` over the
//! V4-style canonical request (sorted encoded query, the headers
//! `SignedHeaders` names, `host` and `x-date` required, the body's SHA-256,
//! which must also equal `X-Content-Sha256` when sent), the key derived
//! from the bare secret through date, region, service `DNS` and `request`.
//! Failures use the real envelope, `{"ResponseMetadata": {…, "Error":
//! {"Code","Message"}}}`: an unknown AK `InvalidAccessKey`, a wrong
//! signature `SignatureDoesNotMatch`, an `X-Date` more than 15 minutes off
//! `InvalidTimestamp` (all 401); writes the [`Throttle`] refuses get
//! `429 FlowLimitExceeded`.
//!
//! Actions (`POST` with a JSON body; the list actions also as `GET` with a
//! query): `ListZones` (`Key`, `SearchMode` exact or like, paged),
//! `ListRecords` (`ZID`, `Host`, `Type`, `SearchMode`, paged), `CreateRecord`
//! and `DeleteRecord`; an unknown ZID is `ZoneNotFound`, an
//! identical record `RecordDuplicate`, an unknown record id
//! `RecordNotFound`. Each zone also holds its NS records. TXT records are
//! mirrored into a real PowerDNS.

// Checks return the finished error response as their `Err`; boxing it would
// buy nothing in a test server.
#![allow(clippy::result_large_err)]
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::fake_common::{Clock, RequestLog, join_name, or_answer, split_name};
use crate::fake_route53::{encode, parse_amz, query_pairs, sha256_hex};
use crate::fake_store::{PdnsMirror, hex, random_id, unquote, zone_of};
use crate::httpd::TestServer;
use crate::pdns::Pdns;
use crate::provider_suite::{Fake, Throttle};

pub const API_VERSION: &str = "2018-08-01";
/// Allowed clock difference.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// What the fake account holds.
#[derive(Debug, Clone)]
pub struct VolcOptions {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The region requests must be signed for.
    pub region: String,
    /// Zones of the account.
    pub zones: Vec<String>,
    /// The most items one page returns, whatever `PageSize` asks.
    pub max_page_size: usize,
}

impl VolcOptions {
    pub fn new(ak: &str, sk: &str, zones: &[&str]) -> Self {
        VolcOptions {
            access_key_id: ak.into(),
            secret_access_key: sk.into(),
            region: "cn-north-1".into(),
            zones: zones.iter().map(|z| z.to_ascii_lowercase()).collect(),
            max_page_size: 500,
        }
    }
}

/// One record as the API shows it (`host` relative, `@` at the apex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolcRecord {
    pub record_id: String,
    pub zid: u64,
    pub zone: String,
    pub host: String,
    pub rtype: String,
    pub value: String,
    pub ttl: u32,
}

impl VolcRecord {
    pub fn fqdn(&self) -> String {
        join_name(&self.host, "@", &self.zone)
    }
}

struct Inner {
    options: VolcOptions,
    /// (ZID, name) of each zone.
    zones: Vec<(u64, String)>,
    records: tokio::sync::Mutex<Vec<VolcRecord>>,
    next_id: AtomicU64,
    mirror: PdnsMirror,
    throttle: Throttle,
    clock: Clock,
    /// `METHOD query& body` of every request.
    requests: RequestLog,
}

/// A running fake.
pub struct FakeVolcengine {
    pub server: TestServer,
    inner: Arc<Inner>,
}

impl FakeVolcengine {
    pub async fn start(pdns: &Pdns, options: VolcOptions) -> Self {
        let zones: Vec<(u64, String)> = options
            .zones
            .iter()
            .enumerate()
            .map(|(i, z)| (30_000_001 + i as u64, z.clone()))
            .collect();
        let mut records = Vec::new();
        let mut n = 700_000_000u64;
        for (zid, zone) in &zones {
            for ns in ["ns1.volcdns.com.", "ns2.volcdns.com."] {
                n += 1;
                records.push(VolcRecord {
                    record_id: n.to_string(),
                    zid: *zid,
                    zone: zone.clone(),
                    host: "@".into(),
                    rtype: "NS".into(),
                    value: ns.into(),
                    ttl: 86400,
                });
            }
        }
        let inner = Arc::new(Inner {
            options,
            zones,
            records: tokio::sync::Mutex::new(records),
            next_id: AtomicU64::new(n + 1),
            mirror: PdnsMirror::new(pdns),
            throttle: Throttle::new(),
            clock: Clock::default(),
            requests: RequestLog::default(),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        FakeVolcengine {
            server: TestServer::start(app).await,
            inner,
        }
    }

    /// The plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        self.server.url()
    }

    /// Every TXT record held, in creation order.
    pub async fn records(&self) -> Vec<VolcRecord> {
        let records = self.inner.records.lock().await;
        records
            .iter()
            .filter(|r| r.rtype == "TXT")
            .cloned()
            .collect()
    }

    /// `METHOD query& body` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.inner.requests.all()
    }

    /// How many requests were for `action`.
    pub fn count(&self, action: &str) -> usize {
        let needle = format!("Action={action}&");
        self.requests()
            .iter()
            .filter(|r| r.contains(&needle))
            .count()
    }

    /// Moves the server's clock by `secs`.
    pub fn set_clock_offset(&self, secs: i64) {
        self.inner.clock.set_offset(secs);
    }
}

impl Fake for FakeVolcengine {
    fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    async fn add_foreign(&self, fqdn: &str, value: &str) {
        let (fqdn, zone, host) = split_name(&self.inner.options.zones, fqdn, "@");
        let zid = self.inner.zones.iter().find(|(_, n)| *n == zone).unwrap().0;
        let mut records = self.inner.records.lock().await;
        records.push(VolcRecord {
            record_id: self
                .inner
                .next_id
                .fetch_add(1, Ordering::SeqCst)
                .to_string(),
            zid,
            zone: zone.clone(),
            host,
            rtype: "TXT".into(),
            value: value.into(),
            ttl: 600,
        });
        sync(&self.inner, &records, &fqdn).await.unwrap();
    }

    async fn txt_records(&self) -> Vec<(String, String)> {
        self.records()
            .await
            .into_iter()
            .map(|r| (r.fqdn(), unquote(&r.value)))
            .collect()
    }
}

fn envelope(action: &str, request_id: &str) -> Value {
    json!({
        "RequestId": request_id,
        "Action": action,
        "Version": API_VERSION,
        "Service": "DNS",
        "Region": "cn-north-1",
    })
}

/// The real error envelope.
pub fn error(status: StatusCode, action: &str, code: &str, message: &str) -> Response {
    let mut metadata = envelope(action, &random_id());
    metadata["Error"] =
        json!({"CodeN": 100_000 + status.as_u16() as u32, "Code": code, "Message": message});
    (status, axum::Json(json!({"ResponseMetadata": metadata}))).into_response()
}

fn ok(action: &str, result: Value) -> Response {
    axum::Json(json!({"ResponseMetadata": envelope(action, &random_id()), "Result": result}))
        .into_response()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&key, data.as_bytes()).as_ref().to_vec()
}

/// (string to sign, signature) of a canonical request.
pub fn sign(
    secret: &str,
    datetime: &str,
    region: &str,
    service: &str,
    canonical: &str,
) -> (String, String) {
    let date = &datetime[..8.min(datetime.len())];
    let string_to_sign = format!(
        "HMAC-SHA256\n{datetime}\n{date}/{region}/{service}/request\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let k = hmac(secret.as_bytes(), date);
    let k = hmac(&k, region);
    let k = hmac(&k, service);
    let k = hmac(&k, "request");
    let signature = hex(&hmac(&k, &string_to_sign));
    (string_to_sign, signature)
}

/// The canonical request of a received request.
pub fn canonical_request(
    method: &str,
    query: &[(String, String)],
    headers: &BTreeMap<String, String>,
    payload_hash: &str,
) -> String {
    let mut pairs: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k, false), encode(v, false)))
        .collect();
    pairs.sort();
    let mut out = format!("{method}\n/\n{}\n", pairs.join("&"));
    for (name, value) in headers {
        out.push_str(&format!("{name}:{}\n", value.trim()));
    }
    let names: Vec<&str> = headers.keys().map(String::as_str).collect();
    out.push_str(&format!("\n{}\n{payload_hash}", names.join(";")));
    out
}

fn verify(
    inner: &Inner,
    action: &str,
    method: &Method,
    headers: &HeaderMap,
    query: &[(String, String)],
    body: &[u8],
) -> Result<(), Response> {
    let unauthorized =
        |code: &str, message: &str| error(StatusCode::UNAUTHORIZED, action, code, message);
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err(unauthorized(
            "MissingAuthenticationToken",
            "The request is missing the authentication token.",
        ));
    };
    let Some(fields) = auth.strip_prefix("HMAC-SHA256 ") else {
        return Err(unauthorized(
            "InvalidAuthorization",
            "The Authorization header is invalid.",
        ));
    };
    let mut parts: BTreeMap<&str, &str> = BTreeMap::new();
    for field in fields.split(',') {
        if let Some((k, v)) = field.trim().split_once('=') {
            parts.insert(k, v);
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (
        parts.get("Credential"),
        parts.get("SignedHeaders"),
        parts.get("Signature"),
    ) else {
        return Err(unauthorized(
            "InvalidAuthorization",
            "The Authorization header is invalid.",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [ak, date, region, service, "request"] = scope.as_slice() else {
        return Err(unauthorized(
            "InvalidCredential",
            "The credential in the Authorization header is invalid.",
        ));
    };
    if *ak != inner.options.access_key_id {
        return Err(unauthorized(
            "InvalidAccessKey",
            "The AccessKey in the request is invalid.",
        ));
    }
    if *region != inner.options.region || *service != "DNS" {
        return Err(unauthorized(
            "InvalidCredential",
            "The region or service in the credential scope does not match the request.",
        ));
    }
    let Some(x_date) = headers.get("x-date").and_then(|v| v.to_str().ok()) else {
        return Err(unauthorized(
            "MissingRequestInfo",
            "The request is missing X-Date.",
        ));
    };
    let now = inner.clock.now();
    match parse_amz(x_date) {
        Some(t) if (now - t).abs() <= MAX_SKEW_SECS && x_date.starts_with(date) => {}
        _ => {
            return Err(unauthorized(
                "InvalidTimestamp",
                "The request timestamp is expired or invalid.",
            ));
        }
    }
    let payload_hash = sha256_hex(body);
    if let Some(sent) = headers
        .get("x-content-sha256")
        .and_then(|v| v.to_str().ok())
        && sent != payload_hash
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            action,
            "InvalidContentSha256",
            "X-Content-Sha256 does not match the body.",
        ));
    }
    let names: Vec<&str> = signed.split(';').collect();
    if !names.contains(&"host") || !names.contains(&"x-date") {
        return Err(unauthorized(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    let mut signed_headers = BTreeMap::new();
    for name in names {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        signed_headers.insert(name.to_string(), values.join(","));
    }
    let canonical = canonical_request(method.as_str(), query, &signed_headers, &payload_hash);
    let (_, expected) = sign(
        &inner.options.secret_access_key,
        x_date,
        region,
        service,
        &canonical,
    );
    if expected != *signature {
        return Err(unauthorized(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. \
             Check your Secret Access Key and signing method. Consult the service \
             documentation for details.",
        ));
    }
    Ok(())
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let raw = raw.unwrap_or_default();
    inner.requests.push(format!(
        "{method} {raw}& {}",
        String::from_utf8_lossy(&body)
    ));
    let query = query_pairs(&raw);
    let mut params: BTreeMap<String, String> = query.iter().cloned().collect();
    let action = params.get("Action").cloned().unwrap_or_default();
    or_answer!(verify(&inner, &action, &method, &headers, &query, &body));
    if params.get("Version").map(String::as_str) != Some(API_VERSION) {
        return error(
            StatusCode::NOT_FOUND,
            &action,
            "InvalidActionOrVersion",
            "Could not find operation with the given Action and Version.",
        );
    }
    let json_body = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    // List actions take their parameters from the query (GET) or the JSON
    // body (POST).
    if let Value::Object(fields) = &json_body {
        for (k, v) in fields {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            params.insert(k.clone(), v);
        }
    }
    match (method.as_str(), action.as_str()) {
        ("GET" | "POST", "ListZones") => list_zones(&inner, &params),
        ("GET" | "POST", "ListRecords") => list_records(&inner, &params).await,
        ("POST", "CreateRecord") => create(&inner, &json_body).await,
        ("POST", "DeleteRecord") => delete(&inner, &json_body).await,
        _ => error(
            StatusCode::NOT_FOUND,
            &action,
            "InvalidActionOrVersion",
            "Could not find operation with the given Action and Version.",
        ),
    }
}

fn paging(params: &BTreeMap<String, String>, max: usize) -> (usize, usize) {
    let size = params
        .get("PageSize")
        .and_then(|s| s.parse().ok())
        .unwrap_or(20usize)
        .clamp(1, max.max(1));
    let page = params
        .get("PageNumber")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    (page, size)
}

fn matches(mode: Option<&String>, wanted: &str, have: &str) -> bool {
    match mode.map(String::as_str) {
        Some("exact") => wanted.eq_ignore_ascii_case(have),
        _ => have
            .to_ascii_lowercase()
            .contains(&wanted.to_ascii_lowercase()),
    }
}

fn list_zones(inner: &Inner, params: &BTreeMap<String, String>) -> Response {
    let key = params.get("Key").cloned().unwrap_or_default();
    let all: Vec<&(u64, String)> = inner
        .zones
        .iter()
        .filter(|(_, n)| matches(params.get("SearchMode"), &key, n))
        .collect();
    let (page, size) = paging(params, inner.options.max_page_size);
    let zones: Vec<Value> = all
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|(zid, name)| {
            json!({"ZID": zid, "ZoneName": name, "RecordCount": 2, "TradeCode": "free_inner",
                   "InstanceID": "", "IsOwnedByCurrentAccount": true})
        })
        .collect();
    ok("ListZones", json!({"Zones": zones, "Total": all.len()}))
}

fn zone_of_zid(inner: &Inner, zid: Option<u64>) -> Option<(u64, String)> {
    inner.zones.iter().find(|(z, _)| Some(*z) == zid).cloned()
}

fn zone_not_found(action: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        action,
        "ZoneNotFound",
        "The zone does not exist.",
    )
}

fn record_json(r: &VolcRecord) -> Value {
    json!({
        "RecordID": r.record_id, "Host": r.host, "Type": r.rtype, "Value": r.value,
        "TTL": r.ttl, "Line": "default", "FQDN": r.fqdn(), "Enable": true, "Weight": 1,
        "Remark": "", "PQDN": r.fqdn(),
    })
}

async fn list_records(inner: &Inner, params: &BTreeMap<String, String>) -> Response {
    let zid = params.get("ZID").and_then(|z| z.parse().ok());
    let Some((zid, _)) = zone_of_zid(inner, zid) else {
        return zone_not_found("ListRecords");
    };
    let records = inner.records.lock().await;
    let all: Vec<&VolcRecord> = records
        .iter()
        .filter(|r| r.zid == zid)
        .filter(|r| {
            params
                .get("Host")
                .is_none_or(|h| matches(params.get("SearchMode"), h, &r.host))
        })
        .filter(|r| params.get("Type").is_none_or(|t| *t == r.rtype))
        .collect();
    let (page, size) = paging(params, inner.options.max_page_size);
    let list: Vec<Value> = all
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|r| record_json(r))
        .collect();
    ok(
        "ListRecords",
        json!({"Records": list, "TotalCount": all.len(), "PageNumber": page, "PageSize": size}),
    )
}

async fn create(inner: &Inner, body: &Value) -> Response {
    const A: &str = "CreateRecord";
    if let Some(r) = inner.throttle.intercept(|| {
        error(
            StatusCode::TOO_MANY_REQUESTS,
            A,
            "FlowLimitExceeded",
            "Request has exceeded the limit.",
        )
    }) {
        return r;
    }
    let Some((zid, zone)) = zone_of_zid(inner, body["ZID"].as_u64()) else {
        return zone_not_found(A);
    };
    let invalid = |field: &str| {
        error(
            StatusCode::BAD_REQUEST,
            A,
            &format!("InvalidParameter.{field}"),
            &format!("The parameter {field} is invalid."),
        )
    };
    let Some(host) = body["Host"].as_str().filter(|h| !h.is_empty()) else {
        return invalid("Host");
    };
    if body["Type"].as_str() != Some("TXT") {
        return invalid("Type");
    }
    let Some(value) = body["Value"].as_str().filter(|v| !v.is_empty()) else {
        return invalid("Value");
    };
    let ttl = match &body["TTL"] {
        Value::Null => 600,
        t => match t.as_u64() {
            Some(t) if (1..=604_800).contains(&t) => t as u32,
            _ => return invalid("TTL"),
        },
    };
    let host = host.to_ascii_lowercase();
    let mut records = inner.records.lock().await;
    if records
        .iter()
        .any(|r| r.zid == zid && r.host == host && r.rtype == "TXT" && r.value == value)
    {
        return error(
            StatusCode::BAD_REQUEST,
            A,
            "RecordDuplicate",
            "The record already exists.",
        );
    }
    let record = VolcRecord {
        record_id: inner.next_id.fetch_add(1, Ordering::SeqCst).to_string(),
        zid,
        zone,
        host,
        rtype: "TXT".into(),
        value: value.into(),
        ttl,
    };
    records.push(record.clone());
    if let Err(e) = sync(inner, &records, &record.fqdn()).await {
        records.pop();
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            A,
            "InternalError",
            &e.to_string(),
        );
    }
    ok(A, record_json(&record))
}

async fn delete(inner: &Inner, body: &Value) -> Response {
    const A: &str = "DeleteRecord";
    if let Some(r) = inner.throttle.intercept(|| {
        error(
            StatusCode::TOO_MANY_REQUESTS,
            A,
            "FlowLimitExceeded",
            "Request has exceeded the limit.",
        )
    }) {
        return r;
    }
    let id = match &body["RecordID"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                A,
                "InvalidParameter.RecordID",
                "The parameter RecordID is invalid.",
            );
        }
    };
    let mut records = inner.records.lock().await;
    let Some(index) = records.iter().position(|r| r.record_id == id) else {
        return error(
            StatusCode::NOT_FOUND,
            A,
            "RecordNotFound",
            "The record does not exist.",
        );
    };
    let removed = records.remove(index);
    if removed.rtype == "TXT"
        && let Err(e) = sync(inner, &records, &removed.fqdn()).await
    {
        records.insert(index, removed);
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            A,
            "InternalError",
            &e.to_string(),
        );
    }
    ok(A, Value::Null)
}

/// Mirrors the TXT records named `fqdn` into PowerDNS.
async fn sync(inner: &Inner, records: &[VolcRecord], fqdn: &str) -> anyhow::Result<()> {
    let zone = zone_of(&inner.options.zones, fqdn)
        .ok_or_else(|| anyhow::anyhow!("{fqdn} is in no zone of the account"))?;
    let here = records
        .iter()
        .filter(|r| r.rtype == "TXT" && r.fqdn() == fqdn)
        .map(|r| (unquote(&r.value), r.ttl));
    inner.mirror.set_txt_distinct(zone, fqdn, here, 600).await
}
