//! A fake Linode API v4 DNS Manager (domains and domain records) on
//! loopback, for the linode plugin's tests, written from the public OpenAPI
//! document (github.com/linode/linode-api-docs, `openapi.yaml`).
//!
//! Like the real API: `Authorization: Bearer <token>` checked on every call
//! (401 `{"errors":[{"reason":"Invalid Token"}]}`); collections paginated
//! with `page` and `page_size` (25 to 500, default 100; anything else is a
//! 400 naming the field) in a `{data, page, pages, results}` envelope;
//! `X-Filter` JSON on the filterable fields (`domain` of domains, `type` and
//! `name` of records; other keys a 400); `POST /domains/{id}/records`
//! answering 200 with the record, `ttl_sec` rounded up to Linode's steps
//! (300 at least); `DELETE` answering 200 `{}`; 404 `Not found` for unknown
//! domains and records; `X-RateLimit-*` headers, and 429 with
//! `Retry-After` for the writes its [`Throttle`] refuses. TXT records are
//! mirrored into a real PowerDNS.

// Checks return the finished error response as their `Err`; boxing it would
// buy nothing in a test server.
#![allow(clippy::result_large_err)]
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::fake_common::{RequestLog, join_name, or_answer, split_name};
use crate::fake_store::{PdnsMirror, unquote};
use crate::httpd::TestServer;
use crate::pdns::Pdns;
use crate::provider_suite::{Fake, Throttle};

/// Linode's record TTL steps; other values are rounded up.
pub const TTL_STEPS: [u32; 12] = [
    300, 3600, 7200, 14400, 28800, 57600, 86400, 172800, 345600, 604800, 1209600, 2419200,
];

/// What the fake account holds.
#[derive(Debug, Clone)]
pub struct LinodeOptions {
    /// The valid personal access token.
    pub token: String,
    /// Domains of the account.
    pub domains: Vec<String>,
    /// The most records one page returns, whatever `page_size` asks (the
    /// real API's floor of 25 makes small pages otherwise impossible).
    pub max_page_size: usize,
}

impl LinodeOptions {
    pub fn new(token: &str, domains: &[&str]) -> Self {
        LinodeOptions {
            token: token.into(),
            domains: domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
            max_page_size: 500,
        }
    }
}

/// One TXT record as the API shows it (`name` relative, empty at the apex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinodeRecord {
    pub id: u64,
    pub domain_id: u64,
    pub domain: String,
    pub name: String,
    pub target: String,
    pub ttl_sec: u32,
}

impl LinodeRecord {
    pub fn fqdn(&self) -> String {
        join_name(&self.name, "", &self.domain)
    }
}

struct Inner {
    options: LinodeOptions,
    /// (id, name) of each domain.
    domains: Vec<(u64, String)>,
    records: tokio::sync::Mutex<Vec<LinodeRecord>>,
    next_id: AtomicU64,
    mirror: PdnsMirror,
    throttle: Throttle,
    requests: RequestLog,
}

/// A running fake.
pub struct FakeLinode {
    pub server: TestServer,
    inner: Arc<Inner>,
}

impl FakeLinode {
    /// Serves the fake on a free loopback port, mirroring into `pdns` (which
    /// must serve every domain of `options`).
    pub async fn start(pdns: &Pdns, options: LinodeOptions) -> Self {
        let domains = options
            .domains
            .iter()
            .enumerate()
            .map(|(i, d)| (1234 + i as u64, d.clone()))
            .collect();
        let inner = Arc::new(Inner {
            options,
            domains,
            records: tokio::sync::Mutex::new(Vec::new()),
            next_id: AtomicU64::new(123_456),
            mirror: PdnsMirror::new(pdns),
            throttle: Throttle::new(),
            requests: RequestLog::default(),
        });
        let app = Router::new()
            .route("/v4/domains", get(list_domains))
            .route(
                "/v4/domains/{domain_id}/records",
                get(list_records).post(create_record),
            )
            .route(
                "/v4/domains/{domain_id}/records/{record_id}",
                delete(delete_record),
            )
            .fallback(|| async { not_found() })
            .with_state(inner.clone());
        FakeLinode {
            server: TestServer::start(app).await,
            inner,
        }
    }

    /// The API base, as the plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("{}/v4", self.server.url())
    }

    /// Every record held, in creation order.
    pub async fn records(&self) -> Vec<LinodeRecord> {
        self.inner.records.lock().await.clone()
    }

    /// `METHOD path?query [X-Filter]` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.inner.requests.all()
    }
}

impl Fake for FakeLinode {
    fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    async fn add_foreign(&self, fqdn: &str, value: &str) {
        let (fqdn, domain, name) = split_name(&self.inner.options.domains, fqdn, "");
        let (domain_id, _) = self
            .inner
            .domains
            .iter()
            .find(|(_, d)| *d == domain)
            .unwrap()
            .clone();
        let mut records = self.inner.records.lock().await;
        records.push(LinodeRecord {
            id: self.inner.next_id.fetch_add(1, Ordering::SeqCst),
            domain_id,
            domain: domain.clone(),
            name,
            target: value.into(),
            ttl_sec: 300,
        });
        sync(&self.inner, &records, &domain, &fqdn).await.unwrap();
    }

    async fn txt_records(&self) -> Vec<(String, String)> {
        self.records()
            .await
            .into_iter()
            .map(|r| (r.fqdn(), unquote(&r.target)))
            .collect()
    }
}

fn with_rate_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from_static("800"));
    h.insert("x-ratelimit-remaining", HeaderValue::from_static("799"));
    r
}

fn errors(status: StatusCode, reason: &str, field: Option<&str>) -> Response {
    let mut error = json!({ "reason": reason });
    if let Some(f) = field {
        error["field"] = json!(f);
    }
    with_rate_headers((status, axum::Json(json!({ "errors": [error] }))).into_response())
}

fn not_found() -> Response {
    errors(StatusCode::NOT_FOUND, "Not found", None)
}

fn too_many_requests() -> Response {
    errors(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests", None)
}

fn ok(body: Value) -> Response {
    with_rate_headers(axum::Json(body).into_response())
}

/// Logs the request and checks the bearer token.
fn admit(inner: &Inner, headers: &HeaderMap, line: String) -> Result<(), Response> {
    let filter = headers
        .get("x-filter")
        .and_then(|v| v.to_str().ok())
        .map(|f| format!(" X-Filter: {f}"))
        .unwrap_or_default();
    inner.requests.push(format!("{line}{filter}"));
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if token == Some(inner.options.token.as_str()) {
        Ok(())
    } else {
        Err(errors(StatusCode::UNAUTHORIZED, "Invalid Token", None))
    }
}

fn query_line(method: &str, path: &str, q: &HashMap<String, String>) -> String {
    let mut pairs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    format!("{method} {path}?{}", pairs.join("&"))
}

/// The `X-Filter` header as string equalities on `allowed` keys.
fn filter(headers: &HeaderMap, allowed: &[&str]) -> Result<HashMap<String, String>, Response> {
    let Some(raw) = headers.get("x-filter").and_then(|v| v.to_str().ok()) else {
        return Ok(HashMap::new());
    };
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(raw) else {
        return Err(errors(
            StatusCode::BAD_REQUEST,
            "The filter is not valid JSON",
            Some("X-Filter"),
        ));
    };
    let mut out = HashMap::new();
    for (k, v) in map {
        if !allowed.contains(&k.as_str()) {
            return Err(errors(
                StatusCode::BAD_REQUEST,
                &format!("Cannot filter on {k}"),
                Some("X-Filter"),
            ));
        }
        let Some(s) = v.as_str() else {
            return Err(errors(
                StatusCode::BAD_REQUEST,
                "This fake filters on string equality only",
                Some("X-Filter"),
            ));
        };
        out.insert(k, s.to_string());
    }
    Ok(out)
}

/// `page` and `page_size` checked as the API does.
fn paging(q: &HashMap<String, String>, cap: usize) -> Result<(usize, usize), Response> {
    let page = match q.get("page") {
        None => 1,
        Some(p) => match p.parse::<usize>() {
            Ok(p) if p >= 1 => p,
            _ => {
                return Err(errors(
                    StatusCode::BAD_REQUEST,
                    "Must be a positive integer",
                    Some("page"),
                ));
            }
        },
    };
    let size = match q.get("page_size") {
        None => 100,
        Some(s) => match s.parse::<usize>() {
            Ok(s) if (25..=500).contains(&s) => s,
            _ => {
                return Err(errors(
                    StatusCode::BAD_REQUEST,
                    "Must be an integer between 25 and 500",
                    Some("page_size"),
                ));
            }
        },
    };
    Ok((page, size.min(cap.max(1))))
}

fn envelope(items: Vec<Value>, page: usize, size: usize) -> Value {
    let results = items.len();
    let pages = results.div_ceil(size).max(1);
    let page = page.min(pages);
    let data: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    json!({ "data": data, "page": page, "pages": pages, "results": results })
}

fn domain_json(id: u64, name: &str) -> Value {
    json!({
        "id": id, "type": "master", "domain": name, "group": null, "status": "active",
        "description": "", "soa_email": format!("admin@{name}"), "retry_sec": 0,
        "master_ips": [], "axfr_ips": [], "expire_sec": 0, "refresh_sec": 0, "ttl_sec": 0,
        "tags": [],
    })
}

fn record_json(r: &LinodeRecord) -> Value {
    json!({
        "id": r.id, "type": "TXT", "name": r.name, "target": r.target, "priority": 0,
        "weight": 0, "port": 0, "service": null, "protocol": null, "ttl_sec": r.ttl_sec,
        "tag": null, "created": "2026-01-01T00:00:00", "updated": "2026-01-01T00:00:00",
    })
}

async fn list_domains(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    or_answer!(admit(
        &inner,
        &headers,
        query_line("GET", "/v4/domains", &q)
    ));
    let f = or_answer!(filter(&headers, &["domain", "type", "status"]));
    let (page, size) = or_answer!(paging(&q, 500));
    let items = inner
        .domains
        .iter()
        .filter(|(_, name)| f.get("domain").is_none_or(|d| d.eq_ignore_ascii_case(name)))
        .filter(|_| f.get("type").is_none_or(|t| t == "master"))
        .filter(|_| f.get("status").is_none_or(|s| s == "active"))
        .map(|(id, name)| domain_json(*id, name))
        .collect();
    ok(envelope(items, page, size))
}

fn domain_of(inner: &Inner, id: &str) -> Result<(u64, String), Response> {
    inner
        .domains
        .iter()
        .find(|(d, _)| id.parse() == Ok(*d))
        .cloned()
        .ok_or_else(not_found)
}

async fn list_records(
    State(inner): State<Arc<Inner>>,
    Path(domain_id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let line = query_line("GET", &format!("/v4/domains/{domain_id}/records"), &q);
    or_answer!(admit(&inner, &headers, line));
    let (domain_id, _) = or_answer!(domain_of(&inner, &domain_id));
    let f = or_answer!(filter(&headers, &["type", "name", "target", "tag"]));
    let (page, size) = or_answer!(paging(&q, inner.options.max_page_size));
    let records = inner.records.lock().await;
    let items = records
        .iter()
        .filter(|r| r.domain_id == domain_id)
        .filter(|_| f.get("type").is_none_or(|t| t == "TXT"))
        .filter(|r| f.get("name").is_none_or(|n| *n == r.name))
        .filter(|r| f.get("target").is_none_or(|t| *t == r.target))
        .map(record_json)
        .collect();
    ok(envelope(items, page, size))
}

async fn create_record(
    State(inner): State<Arc<Inner>>,
    Path(domain_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let line = format!("POST /v4/domains/{domain_id}/records");
    or_answer!(admit(&inner, &headers, line));
    let (domain_id, domain) = or_answer!(domain_of(&inner, &domain_id));
    if let Some(r) = inner.throttle.intercept(too_many_requests) {
        return r;
    }
    let bad = |reason: &str, field: &str| errors(StatusCode::BAD_REQUEST, reason, Some(field));
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return errors(StatusCode::BAD_REQUEST, "Malformed JSON", None);
    };
    match body["type"].as_str() {
        Some("TXT") => {}
        Some(_) => return bad("This fake serves TXT records only", "type"),
        None => return bad("type is required", "type"),
    }
    let Some(target) = body["target"].as_str().filter(|t| !t.is_empty()) else {
        return bad("Target is required", "target");
    };
    // `name` is relative; an absolute name inside the domain is accepted too.
    let raw = body["name"].as_str().unwrap_or("").trim_end_matches('.');
    let lower = raw.to_ascii_lowercase();
    let name = if lower == domain {
        String::new()
    } else {
        lower
            .strip_suffix(&format!(".{domain}"))
            .unwrap_or(&lower)
            .to_string()
    };
    if name.len() > 100 {
        return bad("Length must be 100 characters or less", "name");
    }
    let asked = body["ttl_sec"].as_u64().unwrap_or(0) as u32;
    let ttl_sec = if asked == 0 {
        86400
    } else {
        TTL_STEPS
            .iter()
            .copied()
            .find(|s| *s >= asked)
            .unwrap_or(2419200)
    };
    let mut records = inner.records.lock().await;
    let record = LinodeRecord {
        id: inner.next_id.fetch_add(1, Ordering::SeqCst),
        domain_id,
        domain: domain.clone(),
        name,
        target: target.into(),
        ttl_sec,
    };
    records.push(record.clone());
    if let Err(e) = sync(&inner, &records, &domain, &record.fqdn()).await {
        records.pop();
        return errors(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), None);
    }
    ok(record_json(&record))
}

async fn delete_record(
    State(inner): State<Arc<Inner>>,
    Path((domain_id, record_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let line = format!("DELETE /v4/domains/{domain_id}/records/{record_id}");
    or_answer!(admit(&inner, &headers, line));
    let (domain_id, domain) = or_answer!(domain_of(&inner, &domain_id));
    if let Some(r) = inner.throttle.intercept(too_many_requests) {
        return r;
    }
    let mut records = inner.records.lock().await;
    let Some(index) = records
        .iter()
        .position(|r| r.domain_id == domain_id && record_id.parse() == Ok(r.id))
    else {
        return not_found();
    };
    let removed = records.remove(index);
    if let Err(e) = sync(&inner, &records, &domain, &removed.fqdn()).await {
        records.insert(index, removed);
        return errors(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), None);
    }
    ok(json!({}))
}

/// Mirrors the TXT records named `fqdn` into PowerDNS.
async fn sync(
    inner: &Inner,
    records: &[LinodeRecord],
    domain: &str,
    fqdn: &str,
) -> anyhow::Result<()> {
    let here = records
        .iter()
        .filter(|r| r.fqdn() == fqdn)
        .map(|r| (unquote(&r.target), r.ttl_sec));
    inner.mirror.set_txt_distinct(domain, fqdn, here, 300).await
}
