//! A fake Huawei Cloud DNS API v2 (public zones and record sets) on
//! loopback, for the huaweicloud plugin's tests, written from the public
//! API reference (<https://support.huaweicloud.com/intl/en-us/api-dns/>) and
//! the API Signing Guide
//! (<https://support.huaweicloud.com/intl/en-us/devg-apisign/>).
//!
//! Every request's AK/SK signature (`SDK-HMAC-SHA256`) is recomputed here
//! with an implementation of its own (on `ring`, independent of the
//! plugin's): canonical URI with the trailing `/`, sorted encoded query,
//! the headers `SignedHeaders` names (`host` and `x-sdk-date` required),
//! the body's SHA-256. Failures answer like API Gateway, `401
//! {"error_code":"APIGW.0301","error_msg":…,"request_id":…}`: an unknown AK
//! `Get secretKey failed,…,err:ak not exist`, a wrong signature `verify
//! aksk signature fail`, an `X-Sdk-Date` more than 15 minutes off `X-Sdk-Date
//! expired`. Writes the [`Throttle`] refuses get `429 APIGW.0308`.
//!
//! IAM's password login too, from the IAM API reference ("Obtaining a User
//! Token Through Password Authentication",
//! <https://support.huaweicloud.com/intl/en-us/api-iam/iam_30_0001.html>):
//! `POST /v3/auth/tokens` with `{"auth":{"identity":{"methods":["password"],
//! "password":{"user":{"name","password","domain":{"name"}}}},"scope":…}}`
//! answers `201` with a fresh random token in `X-Subject-Token`; a wrong
//! user, password or account name answers IAM's `401
//! {"error":{"code":401,"message":"The username or password is wrong.",
//! "title":"Unauthorized"}}`, a body that is not such a request `400
//! {"error_msg":"Request body is invalid.","error_code":"IAM.0011"}`. DNS
//! requests carrying `X-Auth-Token` instead of a signature need a token it
//! issued, else API Gateway's `401 APIGW.0301` `decrypt token fail`.
//!
//! `GET /v2/zones?type=&name=` (fuzzy name match, `limit`/`offset`),
//! `GET|POST /v2/zones/{id}/recordsets` (fuzzy `name`, exact `type`),
//! `PUT|DELETE /v2/zones/{id}/recordsets/{id}`; DNS errors are
//! `{"code","message"}`: an unknown zone `404 DNS.0101`, an unknown record
//! set `404 DNS.0004`, a second set of one name and type `400 DNS.0312`,
//! an unquoted TXT record `400 DNS.0303`. Each zone also holds its SOA and
//! NS sets. TXT sets are mirrored into a real PowerDNS.

// Checks return the finished error response as their `Err`; boxing it would
// buy nothing in a test server.
#![allow(clippy::result_large_err)]
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::fake_common::{Clock, RequestLog, or_answer};
use crate::fake_route53::{
    encode, parse_amz, percent_decode, query_pairs, sha256_hex, unquote_txt,
};
use crate::fake_store::{PdnsMirror, hex, quote, random_id, zone_of};
use crate::httpd::TestServer;
use crate::pdns::Pdns;
use crate::provider_suite::{Fake, Throttle};

/// Allowed clock difference.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// What the fake account holds.
#[derive(Debug, Clone)]
pub struct HuaweiOptions {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Public zones of the account.
    pub zones: Vec<String>,
    /// The most items one page returns, whatever `limit` asks.
    pub max_limit: usize,
    /// The IAM user that may get a token: (name, password, account name).
    pub iam_user: Option<(String, String, String)>,
}

impl HuaweiOptions {
    pub fn new(ak: &str, sk: &str, zones: &[&str]) -> Self {
        HuaweiOptions {
            access_key_id: ak.into(),
            secret_access_key: sk.into(),
            zones: zones.iter().map(|z| z.to_ascii_lowercase()).collect(),
            max_limit: 500,
            iam_user: None,
        }
    }

    /// Lets the IAM user `name` of account `domain` log in with `password`.
    pub fn with_iam_user(mut self, name: &str, password: &str, domain: &str) -> Self {
        self.iam_user = Some((name.into(), password.into(), domain.into()));
        self
    }
}

/// One record set as the API shows it (`name` absolute with the dot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HwRecordSet {
    pub id: String,
    pub zone_id: String,
    pub name: String,
    pub rtype: String,
    pub ttl: u32,
    pub records: Vec<String>,
}

impl HwRecordSet {
    /// The name without the trailing dot.
    pub fn fqdn(&self) -> String {
        self.name.trim_end_matches('.').to_string()
    }
}

struct Inner {
    options: HuaweiOptions,
    /// (id, name) of each zone.
    zones: Vec<(String, String)>,
    sets: tokio::sync::Mutex<Vec<HwRecordSet>>,
    mirror: PdnsMirror,
    throttle: Throttle,
    clock: Clock,
    requests: RequestLog,
    /// Tokens issued by the IAM endpoint.
    tokens: std::sync::Mutex<Vec<String>>,
    /// Scope (`project` object) of each token request that succeeded.
    scopes: std::sync::Mutex<Vec<Value>>,
    /// DNS requests authenticated by a token, and by a signature.
    by_token: AtomicUsize,
    by_signature: AtomicUsize,
}

/// A running fake.
pub struct FakeHuaweiCloud {
    pub server: TestServer,
    inner: Arc<Inner>,
}

/// A 32-hex-digit id, as the API's zone and record set ids.
fn id() -> String {
    random_id()
}

impl FakeHuaweiCloud {
    pub async fn start(pdns: &Pdns, options: HuaweiOptions) -> Self {
        let zones: Vec<(String, String)> =
            options.zones.iter().map(|z| (id(), z.clone())).collect();
        let mut sets = Vec::new();
        for (zid, name) in &zones {
            sets.push(HwRecordSet {
                id: id(),
                zone_id: zid.clone(),
                name: format!("{name}."),
                rtype: "SOA".into(),
                ttl: 300,
                records: vec![format!(
                    "ns1.huaweicloud-dns.org. hostmaster.{name}. 1 7200 900 1209600 300"
                )],
            });
            sets.push(HwRecordSet {
                id: id(),
                zone_id: zid.clone(),
                name: format!("{name}."),
                rtype: "NS".into(),
                ttl: 172800,
                records: vec![
                    "ns1.huaweicloud-dns.org.".into(),
                    "ns1.huaweicloud-dns.com.".into(),
                ],
            });
        }
        let inner = Arc::new(Inner {
            options,
            zones,
            sets: tokio::sync::Mutex::new(sets),
            mirror: PdnsMirror::new(pdns),
            throttle: Throttle::new(),
            clock: Clock::default(),
            requests: RequestLog::default(),
            tokens: std::sync::Mutex::new(Vec::new()),
            scopes: std::sync::Mutex::new(Vec::new()),
            by_token: AtomicUsize::new(0),
            by_signature: AtomicUsize::new(0),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        FakeHuaweiCloud {
            server: TestServer::start(app).await,
            inner,
        }
    }

    /// The plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        self.server.url()
    }

    /// Every TXT record set held.
    pub async fn txt_sets(&self) -> Vec<HwRecordSet> {
        let sets = self.inner.sets.lock().await;
        sets.iter().filter(|s| s.rtype == "TXT").cloned().collect()
    }

    /// `METHOD path?query` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.inner.requests.all()
    }

    /// How many requests start with `prefix` (e.g. `"PUT "`).
    pub fn count(&self, prefix: &str) -> usize {
        self.inner.requests.count(prefix)
    }

    /// The plugin's `iam_endpoint` (the same server).
    pub fn iam_endpoint(&self) -> String {
        self.server.url()
    }

    /// Every token the IAM endpoint issued so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.inner.tokens.lock().unwrap().clone()
    }

    /// The `scope.project` of every successful token request.
    pub fn token_scopes(&self) -> Vec<Value> {
        self.inner.scopes.lock().unwrap().clone()
    }

    /// DNS requests authenticated (token, signature).
    pub fn authenticated_by(&self) -> (usize, usize) {
        (
            self.inner.by_token.load(Ordering::SeqCst),
            self.inner.by_signature.load(Ordering::SeqCst),
        )
    }

    /// Moves the server's clock by `secs`.
    pub fn set_clock_offset(&self, secs: i64) {
        self.inner.clock.set_offset(secs);
    }

    /// Adds the record `content` (presentation form, e.g. `"a" "b"`) to the
    /// TXT set at `fqdn` as another client would, mirrored.
    pub async fn add_record(&self, fqdn: &str, ttl: u32, content: &str) {
        let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
        let zone = zone_of(&self.inner.options.zones, &fqdn)
            .expect("name in a zone")
            .clone();
        let zone_id = self
            .inner
            .zones
            .iter()
            .find(|(_, n)| *n == zone)
            .unwrap()
            .0
            .clone();
        let mut sets = self.inner.sets.lock().await;
        match sets
            .iter_mut()
            .find(|s| s.rtype == "TXT" && s.fqdn() == fqdn)
        {
            Some(set) => set.records.push(content.into()),
            None => sets.push(HwRecordSet {
                id: id(),
                zone_id,
                name: format!("{fqdn}."),
                rtype: "TXT".into(),
                ttl,
                records: vec![content.into()],
            }),
        }
        sync(&self.inner, &sets, &fqdn).await.unwrap();
    }
}

impl Fake for FakeHuaweiCloud {
    fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    async fn add_foreign(&self, fqdn: &str, value: &str) {
        self.add_record(fqdn, 300, &quote(value)).await;
    }

    async fn txt_records(&self) -> Vec<(String, String)> {
        self.txt_sets()
            .await
            .iter()
            .flat_map(|s| s.records.iter().map(|r| (s.fqdn(), unquote_txt(r))))
            .collect()
    }
}

/// An API Gateway error.
fn gateway_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error_msg": message, "error_code": code, "request_id": random_id()})),
    )
        .into_response()
}

/// A DNS service error.
fn dns_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message})),
    )
        .into_response()
}

fn unauthorized(message: &str) -> Response {
    gateway_error(
        StatusCode::UNAUTHORIZED,
        "APIGW.0301",
        &format!("Incorrect IAM authentication information: {message}"),
    )
}

fn throttled() -> Response {
    gateway_error(
        StatusCode::TOO_MANY_REQUESTS,
        "APIGW.0308",
        "The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 \
         minute",
    )
}

fn hmac_hex(key: &[u8], data: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    hex(ring::hmac::sign(&key, data.as_bytes()).as_ref())
}

/// The `SDK-HMAC-SHA256` canonical request of a received request.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &BTreeMap<String, String>,
    body: &[u8],
) -> String {
    let mut uri = encode(path, true);
    if !uri.ends_with('/') {
        uri.push('/');
    }
    let mut pairs: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k, false), encode(v, false)))
        .collect();
    pairs.sort();
    let mut out = format!("{method}\n{uri}\n{}\n", pairs.join("&"));
    for (name, value) in headers {
        out.push_str(&format!("{name}:{}\n", value.trim()));
    }
    let names: Vec<&str> = headers.keys().map(String::as_str).collect();
    out.push_str(&format!("\n{}\n{}", names.join(";"), sha256_hex(body)));
    out
}

/// (string to sign, signature).
pub fn sign(secret: &str, datetime: &str, canonical_request: &str) -> (String, String) {
    let string_to_sign = format!(
        "SDK-HMAC-SHA256\n{datetime}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let signature = hmac_hex(secret.as_bytes(), &string_to_sign);
    (string_to_sign, signature)
}

/// Checks the IAM token or else the AK/SK signature of a request.
fn verify(
    inner: &Inner,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Response> {
    if let Some(token) = headers.get("x-auth-token") {
        let known = token
            .to_str()
            .is_ok_and(|t| inner.tokens.lock().unwrap().iter().any(|k| k == t));
        if !known {
            return Err(unauthorized("decrypt token fail"));
        }
        inner.by_token.fetch_add(1, Ordering::SeqCst);
        return Ok(());
    }
    verify_signature(inner, method, uri, headers, body)?;
    inner.by_signature.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

/// An IAM error in Keystone's form.
fn keystone_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {
            "code": status.as_u16(),
            "message": message,
            "title": status.canonical_reason().unwrap_or_default(),
        }})),
    )
        .into_response()
}

/// `POST /v3/auth/tokens` with the password method.
fn issue_token(inner: &Inner, headers: &HeaderMap, body: &[u8]) -> Response {
    let invalid = || {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error_msg": "Request body is invalid.", "error_code": "IAM.0011"})),
        )
            .into_response()
    };
    let json_body = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let Some(request) = serde_json::from_slice::<Value>(body)
        .ok()
        .filter(|_| json_body)
    else {
        return invalid();
    };
    let identity = &request["auth"]["identity"];
    let user = &identity["password"]["user"];
    let (Some(name), Some(password), Some(domain)) = (
        user["name"].as_str(),
        user["password"].as_str(),
        user["domain"]["name"].as_str(),
    ) else {
        return invalid();
    };
    let project = &request["auth"]["scope"]["project"];
    let scoped = project["name"].as_str().is_some_and(|n| !n.is_empty())
        || project["id"].as_str().is_some_and(|i| !i.is_empty());
    if identity["methods"] != json!(["password"]) || !scoped {
        return invalid();
    }
    let allowed = inner
        .options
        .iam_user
        .as_ref()
        .is_some_and(|(n, p, d)| n == name && p == password && d.eq_ignore_ascii_case(domain));
    if !allowed {
        return keystone_error(
            StatusCode::UNAUTHORIZED,
            "The username or password is wrong.",
        );
    }
    // Real tokens are long PKI blobs; this one is random and unmistakable.
    let token = format!("MIIT{}{}", random_id(), random_id());
    inner.tokens.lock().unwrap().push(token.clone());
    inner.scopes.lock().unwrap().push(project.clone());
    let mut response = (
        StatusCode::CREATED,
        axum::Json(json!({"token": {
            "expires_at": "2099-01-01T00:00:00.000000Z",
            "methods": ["password"],
            "issued_at": "2024-01-01T00:00:00.000000Z",
            "project": {"name": project["name"], "id": random_id(), "domain": {"name": domain}},
            "user": {"name": name, "id": random_id(), "domain": {"name": domain, "id": random_id()}},
            "catalog": [],
        }})),
    )
        .into_response();
    response
        .headers_mut()
        .insert("x-subject-token", token.parse().unwrap());
    response
}

/// Checks the AK/SK signature of a request.
fn verify_signature(
    inner: &Inner,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Response> {
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err(unauthorized("Authorization not found."));
    };
    let Some(fields) = auth.strip_prefix("SDK-HMAC-SHA256 ") else {
        return Err(unauthorized("Authorization format incorrect."));
    };
    let mut parts: BTreeMap<&str, &str> = BTreeMap::new();
    for field in fields.split(',') {
        if let Some((k, v)) = field.trim().split_once('=') {
            parts.insert(k, v);
        }
    }
    let (Some(access), Some(signed), Some(signature)) = (
        parts.get("Access"),
        parts.get("SignedHeaders"),
        parts.get("Signature"),
    ) else {
        return Err(unauthorized("Authorization format incorrect."));
    };
    if *access != inner.options.access_key_id {
        return Err(unauthorized(&format!(
            "Get secretKey failed,ak:{access},err:ak not exist"
        )));
    }
    let names: Vec<&str> = signed.split(';').collect();
    if !names.contains(&"host") || !names.contains(&"x-sdk-date") {
        return Err(unauthorized("verify aksk signature fail"));
    }
    let Some(date) = headers.get("x-sdk-date").and_then(|v| v.to_str().ok()) else {
        return Err(unauthorized("X-Sdk-Date not found"));
    };
    let now = inner.clock.now();
    match parse_amz(date) {
        Some(t) if (now - t).abs() <= MAX_SKEW_SECS => {}
        _ => return Err(unauthorized("X-Sdk-Date expired")),
    }
    let mut signed_headers = BTreeMap::new();
    for name in names {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if values.is_empty() {
            return Err(unauthorized("verify aksk signature fail"));
        }
        signed_headers.insert(name.to_string(), values.join(","));
    }
    let query = query_pairs(uri.query().unwrap_or_default());
    let canonical = canonical_request(
        method.as_str(),
        &percent_decode(uri.path()),
        &query,
        &signed_headers,
        body,
    );
    let (_, expected) = sign(&inner.options.secret_access_key, date, &canonical);
    if expected != *signature {
        return Err(unauthorized("verify aksk signature fail"));
    }
    Ok(())
}

fn set_json(s: &HwRecordSet, zone_name: &str, status: &str) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "type": s.rtype,
        "ttl": s.ttl,
        "records": s.records,
        "status": status,
        "zone_id": s.zone_id,
        "zone_name": format!("{zone_name}."),
        "default": s.rtype != "TXT",
        "links": {"self": format!("https://dns.cn-south-1.myhuaweicloud.com/v2/zones/{}/recordsets/{}", s.zone_id, s.id)},
    })
}

fn paging(q: &BTreeMap<String, String>, max: usize) -> (usize, usize) {
    let limit = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(500usize)
        .clamp(1, max.max(1));
    let offset = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    (limit, offset)
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let line = match &raw {
        Some(q) => format!("{method} {}?{q}", uri.path()),
        None => format!("{method} {}", uri.path()),
    };
    inner.requests.push(line);
    if method == Method::POST && uri.path() == "/v3/auth/tokens" {
        return issue_token(&inner, &headers, &body);
    }
    or_answer!(verify(&inner, &method, &uri, &headers, &body));
    let q: BTreeMap<String, String> = query_pairs(raw.as_deref().unwrap_or_default())
        .into_iter()
        .collect();
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["v2", "zones"]) => list_zones(&inner, &q),
        (m, ["v2", "zones", zone_id, "recordsets", rest @ ..]) => {
            let Some(zone) = inner
                .zones
                .iter()
                .find(|(id, _)| id == zone_id)
                .map(|(_, n)| n.clone())
            else {
                return dns_error(
                    StatusCode::NOT_FOUND,
                    "DNS.0101",
                    "The zone does not exist.",
                );
            };
            match (m, rest) {
                ("GET", []) => list_sets(&inner, zone_id, &zone, &q).await,
                ("POST", []) => create_set(&inner, zone_id, &zone, &body).await,
                ("PUT", [set_id]) => update_set(&inner, zone_id, &zone, set_id, &body).await,
                ("DELETE", [set_id]) => delete_set(&inner, zone_id, &zone, set_id).await,
                _ => dns_error(
                    StatusCode::NOT_FOUND,
                    "APIGW.0101",
                    "The API does not exist.",
                ),
            }
        }
        _ => gateway_error(
            StatusCode::NOT_FOUND,
            "APIGW.0101",
            "The API does not exist or has not been published in the environment.",
        ),
    }
}

fn list_zones(inner: &Inner, q: &BTreeMap<String, String>) -> Response {
    if q.get("type").is_some_and(|t| t != "public") {
        return axum::Json(json!({"zones": [], "metadata": {"total_count": 0}})).into_response();
    }
    let wanted = q
        .get("name")
        .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_default();
    let all: Vec<&(String, String)> = inner
        .zones
        .iter()
        .filter(|(_, n)| n.contains(&wanted))
        .collect();
    let (limit, offset) = paging(q, inner.options.max_limit);
    let zones: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(id, name)| {
            json!({"id": id, "name": format!("{name}."), "zone_type": "public", "status": "ACTIVE",
                   "ttl": 300, "record_num": 2, "email": format!("hostmaster@{name}")})
        })
        .collect();
    axum::Json(json!({
        "links": {"self": "https://dns.cn-south-1.myhuaweicloud.com/v2/zones"},
        "zones": zones,
        "metadata": {"total_count": all.len()},
    }))
    .into_response()
}

async fn list_sets(
    inner: &Inner,
    zone_id: &str,
    zone: &str,
    q: &BTreeMap<String, String>,
) -> Response {
    let wanted = q
        .get("name")
        .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_default();
    let sets = inner.sets.lock().await;
    let all: Vec<&HwRecordSet> = sets
        .iter()
        .filter(|s| s.zone_id == zone_id)
        .filter(|s| s.fqdn().contains(&wanted))
        .filter(|s| q.get("type").is_none_or(|t| *t == s.rtype))
        .collect();
    let (limit, offset) = paging(q, inner.options.max_limit);
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|s| set_json(s, zone, "ACTIVE"))
        .collect();
    axum::Json(json!({
        "links": {"self": format!("https://dns.cn-south-1.myhuaweicloud.com/v2/zones/{zone_id}/recordsets")},
        "recordsets": page,
        "metadata": {"total_count": all.len()},
    }))
    .into_response()
}

/// `records` of a request body: TXT strings, each quoted.
fn txt_records(body: &Value) -> Result<Vec<String>, Response> {
    let invalid = || {
        dns_error(
            StatusCode::BAD_REQUEST,
            "DNS.0303",
            "Attribute 'records' is invalid.",
        )
    };
    let Some(list) = body["records"].as_array().filter(|l| !l.is_empty()) else {
        return Err(invalid());
    };
    let mut out = Vec::new();
    for r in list {
        let Some(r) = r.as_str().filter(|r| r.len() >= 2) else {
            return Err(invalid());
        };
        if !r.starts_with('"') || !r.ends_with('"') {
            return Err(invalid());
        }
        out.push(r.to_string());
    }
    Ok(out)
}

fn ttl_of(body: &Value) -> Result<Option<u32>, Response> {
    match &body["ttl"] {
        Value::Null => Ok(None),
        t => match t.as_u64() {
            Some(t) if (1..=2_147_483_647).contains(&t) => Ok(Some(t as u32)),
            _ => Err(dns_error(
                StatusCode::BAD_REQUEST,
                "DNS.0303",
                "Attribute 'ttl' is invalid.",
            )),
        },
    }
}

async fn create_set(inner: &Inner, zone_id: &str, zone: &str, body: &[u8]) -> Response {
    if let Some(r) = inner.throttle.intercept(throttled) {
        return r;
    }
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return dns_error(
            StatusCode::BAD_REQUEST,
            "DNS.0302",
            "Request body is invalid.",
        );
    };
    let Some(name) = body["name"].as_str() else {
        return dns_error(
            StatusCode::BAD_REQUEST,
            "DNS.0303",
            "Attribute 'name' is invalid.",
        );
    };
    let fqdn = name.trim_end_matches('.').to_ascii_lowercase();
    if fqdn != zone && !fqdn.ends_with(&format!(".{zone}")) {
        return dns_error(
            StatusCode::BAD_REQUEST,
            "DNS.0305",
            "The record set name is not within the zone.",
        );
    }
    if body["type"].as_str() != Some("TXT") {
        return dns_error(
            StatusCode::BAD_REQUEST,
            "DNS.0303",
            "Attribute 'type' is invalid.",
        );
    }
    let records = or_answer!(txt_records(&body));
    let ttl = match ttl_of(&body) {
        Ok(t) => t.unwrap_or(300),
        Err(r) => return r,
    };
    let mut sets = inner.sets.lock().await;
    if sets
        .iter()
        .any(|s| s.zone_id == zone_id && s.rtype == "TXT" && s.fqdn() == fqdn)
    {
        return dns_error(
            StatusCode::BAD_REQUEST,
            "DNS.0312",
            "Attribute 'name' conflicts with record set.",
        );
    }
    let set = HwRecordSet {
        id: id(),
        zone_id: zone_id.into(),
        name: format!("{fqdn}."),
        rtype: "TXT".into(),
        ttl,
        records,
    };
    sets.push(set.clone());
    if let Err(e) = sync(inner, &sets, &fqdn).await {
        sets.pop();
        return dns_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "DNS.0001",
            &e.to_string(),
        );
    }
    (
        StatusCode::ACCEPTED,
        axum::Json(set_json(&set, zone, "PENDING_CREATE")),
    )
        .into_response()
}

fn not_found() -> Response {
    dns_error(
        StatusCode::NOT_FOUND,
        "DNS.0004",
        "The record set does not exist.",
    )
}

async fn update_set(
    inner: &Inner,
    zone_id: &str,
    zone: &str,
    set_id: &str,
    body: &[u8],
) -> Response {
    if let Some(r) = inner.throttle.intercept(throttled) {
        return r;
    }
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return dns_error(
            StatusCode::BAD_REQUEST,
            "DNS.0302",
            "Request body is invalid.",
        );
    };
    let records = or_answer!(txt_records(&body));
    let ttl = or_answer!(ttl_of(&body));
    let mut sets = inner.sets.lock().await;
    let Some(index) = sets
        .iter()
        .position(|s| s.zone_id == zone_id && s.id == set_id)
    else {
        return not_found();
    };
    if sets[index].rtype != "TXT" {
        return dns_error(
            StatusCode::BAD_REQUEST,
            "DNS.0303",
            "Attribute 'type' is invalid.",
        );
    }
    let before = sets[index].clone();
    sets[index].records = records;
    if let Some(ttl) = ttl {
        sets[index].ttl = ttl;
    }
    let fqdn = before.fqdn();
    if let Err(e) = sync(inner, &sets, &fqdn).await {
        sets[index] = before;
        return dns_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "DNS.0001",
            &e.to_string(),
        );
    }
    (
        StatusCode::ACCEPTED,
        axum::Json(set_json(&sets[index], zone, "PENDING_UPDATE")),
    )
        .into_response()
}

async fn delete_set(inner: &Inner, zone_id: &str, zone: &str, set_id: &str) -> Response {
    if let Some(r) = inner.throttle.intercept(throttled) {
        return r;
    }
    let mut sets = inner.sets.lock().await;
    let Some(index) = sets
        .iter()
        .position(|s| s.zone_id == zone_id && s.id == set_id)
    else {
        return not_found();
    };
    if sets[index].rtype != "TXT" {
        return dns_error(
            StatusCode::BAD_REQUEST,
            "DNS.0209",
            "The default record set cannot be deleted.",
        );
    }
    let removed = sets.remove(index);
    if let Err(e) = sync(inner, &sets, &removed.fqdn()).await {
        sets.insert(index, removed);
        return dns_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "DNS.0001",
            &e.to_string(),
        );
    }
    (
        StatusCode::ACCEPTED,
        axum::Json(set_json(&removed, zone, "PENDING_DELETE")),
    )
        .into_response()
}

/// Mirrors the TXT set named `fqdn` into PowerDNS.
async fn sync(inner: &Inner, sets: &[HwRecordSet], fqdn: &str) -> anyhow::Result<()> {
    let zone = zone_of(&inner.options.zones, fqdn)
        .ok_or_else(|| anyhow::anyhow!("{fqdn} is in no zone of the account"))?;
    let set = sets.iter().find(|s| s.rtype == "TXT" && s.fqdn() == fqdn);
    let values: Vec<String> = set
        .map(|s| s.records.iter().map(|r| unquote_txt(r)).collect())
        .unwrap_or_default();
    let ttl = set.map(|s| s.ttl).unwrap_or(300);
    inner.mirror.set_txt(zone, fqdn, ttl, &values).await
}
