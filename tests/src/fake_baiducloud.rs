//! A fake Baidu AI Cloud DNS API (v1, `dns.baidubce.com`) on loopback, for
//! the baiducloud plugin's tests, written from Baidu's public documentation:
//! the DNS API reference (<https://cloud.baidu.com/doc/DNS/index.html>,
//! "Domain Name Related Interfaces", "Resolution Records Related
//! Interfaces", "Common Headers and Error Responses") and the signature page
//! "生成认证字符串" (<https://cloud.baidu.com/doc/Reference/s/njwvz1yfu>).
//!
//! Every request's `bce-auth-v1` signature is recomputed here with an
//! implementation of its own (on `ring`, independent of the plugin's): the
//! prefix `bce-auth-v1/<ak>/<timestamp>/<expiration>`, the signing key
//! `hex(HMAC(sk, prefix))`, the canonical request of method, encoded path,
//! the query pairs sorted as whole `name=value` strings, and the headers the
//! authorization string names (`host` required). Failures are JSON
//! `{"code","message","requestId"}` with the documented BCE codes: an unknown
//! AK `403 InvalidAccessKeyId`, a wrong signature `400
//! SignatureDoesNotMatch`, a timestamp whose validity ran out (or more than
//! 15 minutes ahead) `400 RequestExpired`, a malformed header `400
//! InvalidHTTPAuthHeader`; writes the [`Throttle`] refuses get `429
//! RequestLimitExceeded`.
//!
//! Routes: `GET /v1/dns/zone` (`name` a fuzzy match, `marker`/`maxKeys`
//! paging), `GET /v1/dns/zone/{zone}/record` (`rr`, `id`, paging), `POST
//! /v1/dns/zone/{zone}/record?clientToken=` (a repeated token is answered
//! without a second record) and `DELETE /v1/dns/zone/{zone}/record/{id}`.
//! An unknown zone or record is `404 NoSuchObject` (the code of the error
//! example of the API reference); an identical record `400
//! RecordAlreadyExist` (a name of this fake: the reference lists no code).
//! TXT records are mirrored into a real PowerDNS.

// Checks return the finished error response as their `Err`; boxing it would
// buy nothing in a test server.
#![allow(clippy::result_large_err)]
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::fake_common::{Clock, RequestLog, join_name, or_answer, split_name};
use crate::fake_route53::{encode, parse_amz, query_pairs};
use crate::fake_store::{PdnsMirror, hex, random_id, unquote, zone_of};
use crate::httpd::TestServer;
use crate::pdns::Pdns;
use crate::provider_suite::{Fake, Throttle};

/// How far ahead of the server's clock a timestamp may be.
pub const MAX_AHEAD_SECS: i64 = 15 * 60;

/// What the fake account holds.
#[derive(Debug, Clone)]
pub struct BaiduOptions {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Zones of the account.
    pub zones: Vec<String>,
    /// The most items one page returns, whatever `maxKeys` asks.
    pub max_page_size: usize,
}

impl BaiduOptions {
    pub fn new(ak: &str, sk: &str, zones: &[&str]) -> Self {
        BaiduOptions {
            access_key_id: ak.into(),
            secret_access_key: sk.into(),
            zones: zones.iter().map(|z| z.to_ascii_lowercase()).collect(),
            max_page_size: 1000,
        }
    }
}

/// One record as the API shows it (`rr` relative, `@` at the apex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaiduRecord {
    pub id: u64,
    pub zone: String,
    pub rr: String,
    pub rtype: String,
    pub value: String,
    pub ttl: u32,
}

impl BaiduRecord {
    pub fn fqdn(&self) -> String {
        join_name(&self.rr, "@", &self.zone)
    }
}

struct Inner {
    options: BaiduOptions,
    /// (id, name) of each zone.
    zones: Vec<(String, String)>,
    records: tokio::sync::Mutex<Vec<BaiduRecord>>,
    next_id: AtomicU64,
    /// Client tokens of the creates served.
    tokens: std::sync::Mutex<BTreeSet<String>>,
    mirror: PdnsMirror,
    throttle: Throttle,
    clock: Clock,
    /// `METHOD path?query` of every request.
    requests: RequestLog,
}

/// A running fake.
pub struct FakeBaiduCloud {
    pub server: TestServer,
    inner: Arc<Inner>,
}

impl FakeBaiduCloud {
    pub async fn start(pdns: &Pdns, options: BaiduOptions) -> Self {
        let zones: Vec<(String, String)> = options
            .zones
            .iter()
            .enumerate()
            .map(|(i, z)| (format!("zone-{:08}", i + 1), z.clone()))
            .collect();
        let mut records = Vec::new();
        let mut n = 5_000_000u64;
        for (_, zone) in &zones {
            for ns in ["ns1.baidudns.com.", "ns2.baidudns.com."] {
                n += 1;
                records.push(BaiduRecord {
                    id: n,
                    zone: zone.clone(),
                    rr: "@".into(),
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
            tokens: std::sync::Mutex::new(BTreeSet::new()),
            mirror: PdnsMirror::new(pdns),
            throttle: Throttle::new(),
            clock: Clock::default(),
            requests: RequestLog::default(),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        FakeBaiduCloud {
            server: TestServer::start(app).await,
            inner,
        }
    }

    /// The plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        self.server.url()
    }

    /// Every TXT record held, in creation order.
    pub async fn records(&self) -> Vec<BaiduRecord> {
        let records = self.inner.records.lock().await;
        records
            .iter()
            .filter(|r| r.rtype == "TXT")
            .cloned()
            .collect()
    }

    /// `METHOD path?query` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.inner.requests.all()
    }

    /// How many requests used `method`: `POST` counts the creates, `DELETE`
    /// the deletes.
    pub fn count(&self, method: &str) -> usize {
        self.inner.requests.count(&format!("{method} "))
    }

    /// Moves the server's clock by `secs`.
    pub fn set_clock_offset(&self, secs: i64) {
        self.inner.clock.set_offset(secs);
    }
}

impl Fake for FakeBaiduCloud {
    fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    async fn add_foreign(&self, fqdn: &str, value: &str) {
        let (fqdn, zone, rr) = split_name(&self.inner.options.zones, fqdn, "@");
        let mut records = self.inner.records.lock().await;
        records.push(BaiduRecord {
            id: self.inner.next_id.fetch_add(1, Ordering::SeqCst),
            zone,
            rr,
            rtype: "TXT".into(),
            value: value.into(),
            ttl: 300,
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

/// The documented error body.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [("x-bce-request-id", random_id())],
        axum::Json(json!({"code": code, "message": message, "requestId": random_id()})),
    )
        .into_response()
}

fn ok(body: Option<Value>) -> Response {
    match body {
        Some(body) => ([("x-bce-request-id", random_id())], axum::Json(body)).into_response(),
        None => ([("x-bce-request-id", random_id())], "").into_response(),
    }
}

fn hmac_hex(key: &[u8], data: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    hex(ring::hmac::sign(&key, data.as_bytes()).as_ref())
}

/// The canonical request of a received request: `path` decoded, `query`
/// decoded pairs, `headers` (lower-case name, value) of the signed names.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &BTreeMap<String, String>,
) -> String {
    let mut pairs: Vec<String> = query
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("authorization"))
        .map(|(k, v)| format!("{}={}", encode(k, false), encode(v, false)))
        .collect();
    pairs.sort();
    let mut lines: Vec<String> = headers
        .iter()
        .map(|(k, v)| format!("{}:{}", encode(k, false), encode(v.trim(), false)))
        .collect();
    lines.sort();
    format!(
        "{method}\n{}\n{}\n{}",
        encode(path, true),
        pairs.join("&"),
        lines.join("\n")
    )
}

/// The signature of `canonical` under `prefix` with `secret`.
pub fn sign(secret: &str, prefix: &str, canonical: &str) -> String {
    let key = hmac_hex(secret.as_bytes(), prefix);
    hmac_hex(key.as_bytes(), canonical)
}

fn verify(
    inner: &Inner,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Result<(), Response> {
    let bad_header = || {
        error(
            StatusCode::BAD_REQUEST,
            "InvalidHTTPAuthHeader",
            "The HTTP authorization header is invalid. Consult the service documentation for \
             details.",
        )
    };
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err(error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Access denied.",
        ));
    };
    let parts: Vec<&str> = auth.split('/').collect();
    let ["bce-auth-v1", ak, timestamp, expiration, signed, signature] = parts.as_slice() else {
        return Err(bad_header());
    };
    if *ak != inner.options.access_key_id {
        return Err(error(
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "The Access Key ID you provided does not exist in our records.",
        ));
    }
    let Ok(expiration) = expiration.parse::<i64>() else {
        return Err(bad_header());
    };
    let compact: String = timestamp
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let Some(t) = parse_amz(&compact) else {
        return Err(bad_header());
    };
    let now = inner.clock.now();
    if now > t + expiration || t > now + MAX_AHEAD_SECS {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "RequestExpired",
            &format!("Request has expired. Timestamp date is {timestamp}."),
        ));
    }
    let names: Vec<String> = if signed.is_empty() {
        // The default set: host, the content headers and every x-bce-*.
        headers
            .keys()
            .map(|k| k.as_str().to_string())
            .filter(|k| {
                matches!(
                    k.as_str(),
                    "host" | "content-length" | "content-type" | "content-md5"
                ) || k.starts_with("x-bce-")
            })
            .collect()
    } else {
        signed.split(';').map(str::to_string).collect()
    };
    let mismatch = || {
        error(
            StatusCode::BAD_REQUEST,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. \
             Check your Secret Access Key and signing method. Consult the service \
             documentation for details.",
        )
    };
    if !names.iter().any(|n| n == "host") {
        return Err(mismatch());
    }
    let mut signed_headers = BTreeMap::new();
    for name in names {
        let Some(value) = headers.get(&name).and_then(|v| v.to_str().ok()) else {
            return Err(mismatch());
        };
        signed_headers.insert(name, value.to_string());
    }
    let canonical = canonical_request(method.as_str(), path, query, &signed_headers);
    let prefix = format!("bce-auth-v1/{ak}/{timestamp}/{expiration}");
    if sign(&inner.options.secret_access_key, &prefix, &canonical) != *signature {
        return Err(mismatch());
    }
    Ok(())
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw = uri.query().unwrap_or_default().to_string();
    let path = crate::fake_route53::percent_decode(uri.path());
    inner.requests.push(format!("{method} {path}?{raw}"));
    let query = query_pairs(&raw);
    or_answer!(verify(&inner, &method, &path, &headers, &query));
    let params: BTreeMap<String, String> = query.iter().cloned().collect();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["v1", "dns", "zone"]) => list_zones(&inner, &params),
        ("GET", ["v1", "dns", "zone", zone, "record"]) => list_records(&inner, zone, &params).await,
        ("POST", ["v1", "dns", "zone", zone, "record"]) => {
            create(&inner, zone, &params, &body).await
        }
        ("DELETE", ["v1", "dns", "zone", zone, "record", id]) => delete(&inner, zone, id).await,
        _ => error(
            StatusCode::BAD_REQUEST,
            "InvalidURI",
            "Could not parse the specified URI.",
        ),
    }
}

/// (items after `marker`, at most `maxKeys`, and the next marker) of `ids`.
fn page<'a>(
    ids: &'a [String],
    params: &BTreeMap<String, String>,
    max: usize,
) -> (Vec<&'a String>, Option<String>) {
    let size = params
        .get("maxKeys")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000usize)
        .clamp(1, max.max(1));
    let start = match params.get("marker").filter(|m| !m.is_empty()) {
        Some(m) => ids.iter().position(|i| i == m).unwrap_or(ids.len()),
        None => 0,
    };
    let items: Vec<&String> = ids.iter().skip(start).take(size).collect();
    let next = ids.get(start + size).cloned();
    (items, next)
}

fn listing(
    key: &str,
    params: &BTreeMap<String, String>,
    items: Vec<Value>,
    next: Option<String>,
) -> Value {
    let mut out = json!({
        "marker": params.get("marker").cloned().unwrap_or_default(),
        "isTruncated": next.is_some(),
        "maxKeys": params.get("maxKeys").and_then(|s| s.parse::<u64>().ok()).unwrap_or(1000),
        key: items,
    });
    if let Some(next) = next {
        out["nextMarker"] = json!(next);
    }
    out
}

fn list_zones(inner: &Inner, params: &BTreeMap<String, String>) -> Response {
    let name = params
        .get("name")
        .map(|n| n.to_ascii_lowercase())
        .unwrap_or_default();
    let matching: Vec<&(String, String)> = inner
        .zones
        .iter()
        .filter(|(_, z)| z.contains(&name))
        .collect();
    let ids: Vec<String> = matching.iter().map(|(id, _)| id.clone()).collect();
    let (items, next) = page(&ids, params, inner.options.max_page_size);
    let zones: Vec<Value> = items
        .iter()
        .filter_map(|id| matching.iter().find(|(i, _)| i == *id))
        .map(|(id, name)| {
            json!({"id": id, "name": name, "status": "running", "productVersion": "free",
                   "createTime": "2024-01-01T00:00:00Z", "expireTime": null})
        })
        .collect();
    ok(Some(listing("zones", params, zones, next)))
}

fn known_zone(inner: &Inner, zone: &str) -> Option<String> {
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    inner.zones.iter().any(|(_, z)| *z == zone).then_some(zone)
}

fn no_such(what: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NoSuchObject",
        &format!("{what} not exist"),
    )
}

fn record_json(r: &BaiduRecord) -> Value {
    json!({
        "id": r.id.to_string(), "rr": r.rr, "status": "running", "type": r.rtype,
        "value": r.value, "ttl": r.ttl, "line": "default", "description": "", "priority": 0,
    })
}

async fn list_records(inner: &Inner, zone: &str, params: &BTreeMap<String, String>) -> Response {
    let Some(zone) = known_zone(inner, zone) else {
        return no_such("zone");
    };
    let records = inner.records.lock().await;
    let matching: Vec<&BaiduRecord> = records
        .iter()
        .filter(|r| r.zone == zone)
        .filter(|r| {
            params
                .get("rr")
                .is_none_or(|rr| rr.eq_ignore_ascii_case(&r.rr))
        })
        .filter(|r| params.get("id").is_none_or(|id| *id == r.id.to_string()))
        .collect();
    let ids: Vec<String> = matching.iter().map(|r| r.id.to_string()).collect();
    let (items, next) = page(&ids, params, inner.options.max_page_size);
    let list: Vec<Value> = items
        .iter()
        .filter_map(|id| matching.iter().find(|r| r.id.to_string() == **id))
        .map(|r| record_json(r))
        .collect();
    ok(Some(listing("records", params, list, next)))
}

fn throttled(inner: &Inner) -> Option<Response> {
    inner.throttle.intercept(|| {
        error(
            StatusCode::TOO_MANY_REQUESTS,
            "RequestLimitExceeded",
            "Request rate exceeds the limit, please try again later.",
        )
    })
}

async fn create(
    inner: &Inner,
    zone: &str,
    params: &BTreeMap<String, String>,
    body: &[u8],
) -> Response {
    if let Some(r) = throttled(inner) {
        return r;
    }
    let Some(zone) = known_zone(inner, zone) else {
        return no_such("zone");
    };
    let inappropriate = |what: &str| {
        error(
            StatusCode::BAD_REQUEST,
            "InappropriateJSON",
            &format!(
                "The JSON you provided was well-formed and valid, but not appropriate for this \
                 operation: {what}."
            ),
        )
    };
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "MalformedJSON",
            "The JSON you provided was not well-formed.",
        );
    };
    let Some(rr) = body["rr"].as_str().filter(|r| !r.is_empty()) else {
        return inappropriate("rr");
    };
    if body["type"].as_str() != Some("TXT") {
        return inappropriate("type");
    }
    let Some(value) = body["value"].as_str().filter(|v| !v.is_empty()) else {
        return inappropriate("value");
    };
    let ttl = match &body["ttl"] {
        Value::Null => 300,
        t => match t.as_u64() {
            Some(t) if t >= 1 => t as u32,
            _ => return inappropriate("ttl"),
        },
    };
    if let Some(token) = params.get("clientToken")
        && !inner.tokens.lock().unwrap().insert(token.clone())
    {
        // The same idempotence token: the first answer again.
        return ok(None);
    }
    let rr = rr.to_ascii_lowercase();
    let mut records = inner.records.lock().await;
    if records
        .iter()
        .any(|r| r.zone == zone && r.rr == rr && r.rtype == "TXT" && r.value == value)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "RecordAlreadyExist",
            "The record already exists.",
        );
    }
    let record = BaiduRecord {
        id: inner.next_id.fetch_add(1, Ordering::SeqCst),
        zone,
        rr,
        rtype: "TXT".into(),
        value: value.into(),
        ttl,
    };
    records.push(record.clone());
    if let Err(e) = sync(inner, &records, &record.fqdn()).await {
        records.pop();
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            &format!("We encountered an internal error. Please try again. ({e})"),
        );
    }
    ok(None)
}

async fn delete(inner: &Inner, zone: &str, id: &str) -> Response {
    if let Some(r) = throttled(inner) {
        return r;
    }
    let Some(zone) = known_zone(inner, zone) else {
        return no_such("zone");
    };
    let mut records = inner.records.lock().await;
    let Some(index) = records
        .iter()
        .position(|r| r.zone == zone && r.id.to_string() == id)
    else {
        return no_such("record");
    };
    let removed = records.remove(index);
    if removed.rtype == "TXT"
        && let Err(e) = sync(inner, &records, &removed.fqdn()).await
    {
        records.insert(index, removed);
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            &format!("We encountered an internal error. Please try again. ({e})"),
        );
    }
    ok(None)
}

/// Mirrors the TXT records named `fqdn` into PowerDNS.
async fn sync(inner: &Inner, records: &[BaiduRecord], fqdn: &str) -> anyhow::Result<()> {
    let zone = zone_of(&inner.options.zones, fqdn)
        .ok_or_else(|| anyhow::anyhow!("{fqdn} is in no zone of the account"))?;
    let here = records
        .iter()
        .filter(|r| r.rtype == "TXT" && r.fqdn() == fqdn)
        .map(|r| (unquote(&r.value), r.ttl));
    inner.mirror.set_txt_distinct(zone, fqdn, here, 300).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of "生成认证字符串", recomputed by this fake's own
    /// signer (default signed headers, so the header list is empty).
    #[test]
    fn published_example() {
        let headers: BTreeMap<String, String> = [
            ("host", "bj.bcebos.com"),
            ("content-type", "text/plain"),
            ("content-length", "8"),
            ("content-md5", "NFzcPqhviddjRNnSOGo4rw=="),
            ("x-bce-date", "2015-04-27T08:23:49Z"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let query = vec![
            ("partNumber".to_string(), "9".to_string()),
            (
                "uploadId".to_string(),
                "a44cc9bab11cbd156984767aad637851".to_string(),
            ),
        ];
        let canonical = canonical_request("PUT", "/v1/test/myfolder/readme.txt", &query, &headers);
        let prefix = format!("bce-auth-v1/{}/2015-04-27T08:23:49Z/1800", "a".repeat(32));
        assert_eq!(
            sign(&"b".repeat(32), &prefix, &canonical),
            "d74a04362e6a848f5b39b15421cb449427f419c95a480fd6b8cf9fc783e2999e"
        );
    }
}
