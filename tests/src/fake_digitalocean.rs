//! A fake DigitalOcean API v2 (domains and domain records) on loopback, for
//! the digitalocean plugin's tests, written from the public OpenAPI
//! specification (github.com/digitalocean/openapi, `resources/domains`).
//!
//! Like the real API: `Authorization: Bearer <token>` checked on every call
//! (401 `{"id":"unauthorized","message":"Unable to authenticate you."}`);
//! `GET /v2/domains/{name}`; `GET /v2/domains/{name}/records` filtered by
//! `type` and `name` (a fully qualified name), paged by `page` / `per_page`
//! (default 20, at most 200) with `links.pages.{first,prev,next,last}` URLs
//! and `meta.total`; `POST` answering 201 `{"domain_record": …}` (TTL below
//! 30 refused with 422 `unprocessable_entity`); `DELETE` answering 204, 404
//! `not_found` when the record or domain does not exist; rate-limit headers
//! on every answer, and 429 `too_many_requests` with `retry-after` for the
//! writes its [`Throttle`] refuses. TXT records are mirrored into a real
//! PowerDNS.

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

use crate::fake_common::{RequestLog, join_name, or_answer};
use crate::fake_store::{PdnsMirror, unquote, zone_of};
use crate::httpd::TestServer;
use crate::pdns::Pdns;
use crate::provider_suite::{Fake, Throttle};

/// What the fake account holds.
#[derive(Debug, Clone)]
pub struct DigitalOceanOptions {
    /// The valid personal access token.
    pub token: String,
    /// Domains of the account.
    pub domains: Vec<String>,
    /// The most records one page returns, whatever `per_page` asks.
    pub max_per_page: usize,
}

impl DigitalOceanOptions {
    pub fn new(token: &str, domains: &[&str]) -> Self {
        DigitalOceanOptions {
            token: token.into(),
            domains: domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
            max_per_page: 200,
        }
    }
}

/// One TXT record as the API shows it (`name` relative, `@` at the apex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoRecord {
    pub id: u64,
    pub domain: String,
    pub name: String,
    pub data: String,
    pub ttl: u32,
}

impl DoRecord {
    /// The absolute name.
    pub fn fqdn(&self) -> String {
        join_name(&self.name, "@", &self.domain)
    }
}

struct Inner {
    options: DigitalOceanOptions,
    base: std::sync::OnceLock<String>,
    records: tokio::sync::Mutex<Vec<DoRecord>>,
    next_id: AtomicU64,
    mirror: PdnsMirror,
    throttle: Throttle,
    requests: RequestLog,
}

/// A running fake.
pub struct FakeDigitalOcean {
    pub server: TestServer,
    inner: Arc<Inner>,
}

impl FakeDigitalOcean {
    /// Serves the fake on a free loopback port, mirroring into `pdns` (which
    /// must serve every domain of `options`).
    pub async fn start(pdns: &Pdns, options: DigitalOceanOptions) -> Self {
        let inner = Arc::new(Inner {
            options,
            base: std::sync::OnceLock::new(),
            records: tokio::sync::Mutex::new(Vec::new()),
            next_id: AtomicU64::new(28_448_433),
            mirror: PdnsMirror::new(pdns),
            throttle: Throttle::new(),
            requests: RequestLog::default(),
        });
        let app = Router::new()
            .route("/v2/domains/{domain}", get(get_domain))
            .route(
                "/v2/domains/{domain}/records",
                get(list_records).post(create_record),
            )
            .route("/v2/domains/{domain}/records/{id}", delete(delete_record))
            .fallback(|| async { not_found() })
            .with_state(inner.clone());
        let server = TestServer::start(app).await;
        inner.base.set(server.url()).unwrap();
        FakeDigitalOcean { server, inner }
    }

    /// The API origin, as the plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        self.server.url()
    }

    /// Every record held, in creation order.
    pub async fn records(&self) -> Vec<DoRecord> {
        self.inner.records.lock().await.clone()
    }

    /// `METHOD path?query` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.inner.requests.all()
    }
}

impl Fake for FakeDigitalOcean {
    fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    async fn add_foreign(&self, fqdn: &str, value: &str) {
        let domain = zone_of(&self.inner.options.domains, fqdn)
            .expect("name in a domain")
            .clone();
        let name = relative(fqdn, &domain).expect("name in the domain");
        let mut records = self.inner.records.lock().await;
        records.push(DoRecord {
            id: self.inner.next_id.fetch_add(1, Ordering::SeqCst),
            domain: domain.clone(),
            name,
            data: value.into(),
            ttl: 1800,
        });
        sync(&self.inner, &records, &domain, fqdn).await.unwrap();
    }

    async fn txt_records(&self) -> Vec<(String, String)> {
        self.records()
            .await
            .into_iter()
            .map(|r| (r.fqdn(), unquote(&r.data)))
            .collect()
    }
}

fn error(status: StatusCode, id: &str, message: &str) -> Response {
    with_rate_headers((status, axum::Json(json!({"id": id, "message": message}))).into_response())
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "The resource you requested could not be found.",
    )
}

fn too_many_requests() -> Response {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        "API rate limit exceeded.",
    )
}

/// The rate-limit headers DigitalOcean sends on every answer.
fn with_rate_headers(mut r: Response) -> Response {
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    let h = r.headers_mut();
    h.insert("ratelimit-limit", HeaderValue::from_static("5000"));
    h.insert("ratelimit-remaining", HeaderValue::from_static("4999"));
    h.insert("ratelimit-reset", HeaderValue::from(reset));
    r
}

fn ok(status: StatusCode, body: Value) -> Response {
    with_rate_headers((status, axum::Json(body)).into_response())
}

/// Logs the request and checks the bearer token.
fn admit(inner: &Inner, headers: &HeaderMap, line: String) -> Result<(), Response> {
    inner.requests.push(line);
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if token == Some(inner.options.token.as_str()) {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unable to authenticate you.",
        ))
    }
}

fn domain_of(inner: &Inner, domain: &str) -> Result<String, Response> {
    let domain = domain.to_ascii_lowercase();
    if inner.options.domains.contains(&domain) {
        Ok(domain)
    } else {
        Err(not_found())
    }
}

fn query_line(method: &str, path: &str, q: &HashMap<String, String>) -> String {
    let mut pairs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    format!("{method} {path}?{}", pairs.join("&"))
}

/// `fqdn` relative to `domain`, `@` at the apex.
fn relative(fqdn: &str, domain: &str) -> Option<String> {
    let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
    if fqdn == domain {
        return Some("@".into());
    }
    fqdn.strip_suffix(&format!(".{domain}")).map(str::to_string)
}

fn record_json(r: &DoRecord) -> Value {
    json!({
        "id": r.id, "type": "TXT", "name": r.name, "data": r.data, "priority": null,
        "port": null, "ttl": r.ttl, "weight": null, "flags": null, "tag": null,
    })
}

async fn get_domain(
    State(inner): State<Arc<Inner>>,
    Path(domain): Path<String>,
    headers: HeaderMap,
) -> Response {
    or_answer!(admit(&inner, &headers, format!("GET /v2/domains/{domain}")));
    match domain_of(&inner, &domain) {
        Ok(name) => ok(
            StatusCode::OK,
            json!({"domain": {"name": name, "ttl": 1800, "zone_file": ""}}),
        ),
        Err(r) => r,
    }
}

async fn list_records(
    State(inner): State<Arc<Inner>>,
    Path(domain): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let path = format!("/v2/domains/{domain}/records");
    or_answer!(admit(&inner, &headers, query_line("GET", &path, &q)));
    let domain = or_answer!(domain_of(&inner, &domain));
    let records = inner.records.lock().await;
    let matching: Vec<Value> = records
        .iter()
        .filter(|r| r.domain == domain)
        .filter(|_| q.get("type").is_none_or(|t| t == "TXT"))
        .filter(|r| {
            q.get("name")
                .is_none_or(|n| r.fqdn().eq_ignore_ascii_case(n.trim_end_matches('.')))
        })
        .map(record_json)
        .collect();
    let page = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let per_page = q
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(20usize)
        .clamp(1, inner.options.max_per_page.clamp(1, 200));
    let total = matching.len();
    let pages = total.div_ceil(per_page).max(1);
    let slice: Vec<Value> = matching
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let base = inner.base.get().cloned().unwrap_or_default();
    let link = |p: usize| {
        let mut extra: Vec<String> = q
            .iter()
            .filter(|(k, _)| k.as_str() != "page")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        extra.sort();
        extra.push(format!("page={p}"));
        format!("{base}{path}?{}", extra.join("&"))
    };
    let mut links = serde_json::Map::new();
    if page > 1 {
        links.insert("first".into(), json!(link(1)));
        links.insert("prev".into(), json!(link(page - 1)));
    }
    if page < pages {
        links.insert("last".into(), json!(link(pages)));
        links.insert("next".into(), json!(link(page + 1)));
    }
    let links = if links.is_empty() {
        json!({})
    } else {
        json!({"pages": links})
    };
    ok(
        StatusCode::OK,
        json!({"domain_records": slice, "links": links, "meta": {"total": total}}),
    )
}

async fn create_record(
    State(inner): State<Arc<Inner>>,
    Path(domain): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    or_answer!(admit(
        &inner,
        &headers,
        format!("POST /v2/domains/{domain}/records"),
    ));
    let domain = or_answer!(domain_of(&inner, &domain));
    if let Some(r) = inner.throttle.intercept(too_many_requests) {
        return r;
    }
    let unprocessable =
        |m: &str| error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity", m);
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Unable to parse request body.",
        );
    };
    if body["type"].as_str() != Some("TXT") {
        return unprocessable("Type is not supported by this fake.");
    }
    let Some(name) = body["name"].as_str().filter(|n| !n.is_empty()) else {
        return unprocessable("Name can't be blank");
    };
    let Some(data) = body["data"].as_str().filter(|d| !d.is_empty()) else {
        return unprocessable("Data can't be blank");
    };
    // A name with a trailing dot is absolute; otherwise relative to the domain.
    let name = if let Some(abs) = name.strip_suffix('.') {
        match relative(abs, &domain) {
            Some(r) => r,
            None => return unprocessable("Name is not part of this domain"),
        }
    } else {
        name.to_ascii_lowercase()
    };
    let ttl = body["ttl"].as_u64().unwrap_or(1800) as u32;
    if ttl < 30 {
        return unprocessable("Ttl must be greater than or equal to 30.");
    }
    let mut records = inner.records.lock().await;
    let record = DoRecord {
        id: inner.next_id.fetch_add(1, Ordering::SeqCst),
        domain: domain.clone(),
        name,
        data: data.into(),
        ttl,
    };
    records.push(record.clone());
    if let Err(e) = sync(&inner, &records, &domain, &record.fqdn()).await {
        records.pop();
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        );
    }
    ok(
        StatusCode::CREATED,
        json!({"domain_record": record_json(&record)}),
    )
}

async fn delete_record(
    State(inner): State<Arc<Inner>>,
    Path((domain, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let line = format!("DELETE /v2/domains/{domain}/records/{id}");
    or_answer!(admit(&inner, &headers, line));
    let domain = or_answer!(domain_of(&inner, &domain));
    if let Some(r) = inner.throttle.intercept(too_many_requests) {
        return r;
    }
    let mut records = inner.records.lock().await;
    let Some(index) = records
        .iter()
        .position(|r| r.domain == domain && id.parse() == Ok(r.id))
    else {
        return not_found();
    };
    let removed = records.remove(index);
    if let Err(e) = sync(&inner, &records, &domain, &removed.fqdn()).await {
        records.insert(index, removed);
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        );
    }
    with_rate_headers(StatusCode::NO_CONTENT.into_response())
}

/// Mirrors the TXT records named `fqdn` into PowerDNS.
async fn sync(inner: &Inner, records: &[DoRecord], domain: &str, fqdn: &str) -> anyhow::Result<()> {
    let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
    let here = records
        .iter()
        .filter(|r| r.fqdn() == fqdn)
        .map(|r| (unquote(&r.data), r.ttl));
    inner.mirror.set_txt_distinct(domain, &fqdn, here, 30).await
}
