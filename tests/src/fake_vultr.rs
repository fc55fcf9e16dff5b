//! A fake Vultr API v2 DNS (domains and records) on loopback, for the vultr
//! plugin's tests, written from the public API reference
//! (<https://www.vultr.com/api/>, "DNS" and "Meta and Pagination").
//!
//! Like the real API: `Authorization: Bearer <key>` checked on every call
//! (401 `{"error":"Invalid API token.","status":401}`); every 4xx a JSON
//! object with an `error` attribute; `GET /v2/domains/{dns-domain}`;
//! `GET /v2/domains/{dns-domain}/records` paged by `per_page` (default 100,
//! at most 500) with opaque `cursor` values in `meta.links.next` / `prev`
//! and `meta.total`; `POST` answering 201 `{"record": …}`; `DELETE`
//! answering 204; 404 for unknown domains and records; 429 with
//! `retry-after` for the writes its [`Throttle`] refuses. TXT records are
//! mirrored into a real PowerDNS.

// Checks return the finished error response as their `Err`; boxing it would
// buy nothing in a test server.
#![allow(clippy::result_large_err)]
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

use crate::fake_common::{RequestLog, join_name, or_answer, split_name};
use crate::fake_store::{PdnsMirror, random_uuid, unquote};
use crate::httpd::TestServer;
use crate::pdns::Pdns;
use crate::provider_suite::{Fake, Throttle};

/// What the fake account holds.
#[derive(Debug, Clone)]
pub struct VultrOptions {
    /// The valid API key.
    pub key: String,
    /// Domains of the account.
    pub domains: Vec<String>,
    /// The most records one page returns, whatever `per_page` asks.
    pub max_per_page: usize,
}

impl VultrOptions {
    pub fn new(key: &str, domains: &[&str]) -> Self {
        VultrOptions {
            key: key.into(),
            domains: domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
            max_per_page: 500,
        }
    }
}

/// One record as the API shows it (`name` relative, empty at the apex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VultrRecord {
    pub id: String,
    pub domain: String,
    pub record_type: String,
    pub name: String,
    pub data: String,
    pub ttl: u32,
}

impl VultrRecord {
    pub fn fqdn(&self) -> String {
        join_name(&self.name, "", &self.domain)
    }
}

struct Inner {
    options: VultrOptions,
    records: tokio::sync::Mutex<Vec<VultrRecord>>,
    mirror: PdnsMirror,
    throttle: Throttle,
    requests: RequestLog,
}

/// A running fake.
pub struct FakeVultr {
    pub server: TestServer,
    inner: Arc<Inner>,
}

impl FakeVultr {
    /// Serves the fake on a free loopback port, mirroring into `pdns` (which
    /// must serve every domain of `options`). Each domain starts with the
    /// records Vultr creates for a new domain (NS and A at the apex, not
    /// mirrored), so listing has to skip records of other types and names.
    pub async fn start(pdns: &Pdns, options: VultrOptions) -> Self {
        let mut records = Vec::new();
        for d in &options.domains {
            for (t, data) in [
                ("NS", "ns1.vultr.com"),
                ("NS", "ns2.vultr.com"),
                ("A", "192.0.2.10"),
            ] {
                records.push(VultrRecord {
                    id: random_uuid(),
                    domain: d.clone(),
                    record_type: t.into(),
                    name: String::new(),
                    data: data.into(),
                    ttl: 300,
                });
            }
        }
        let inner = Arc::new(Inner {
            options,
            records: tokio::sync::Mutex::new(records),
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
            .fallback(|| async { error(StatusCode::NOT_FOUND, "Not found") })
            .with_state(inner.clone());
        FakeVultr {
            server: TestServer::start(app).await,
            inner,
        }
    }

    /// The API base, as the plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("{}/v2", self.server.url())
    }

    /// Every TXT record held, in creation order.
    pub async fn records(&self) -> Vec<VultrRecord> {
        self.inner
            .records
            .lock()
            .await
            .iter()
            .filter(|r| r.record_type == "TXT")
            .cloned()
            .collect()
    }

    /// `METHOD path?query` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.inner.requests.all()
    }
}

impl Fake for FakeVultr {
    fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    async fn add_foreign(&self, fqdn: &str, value: &str) {
        let (fqdn, domain, name) = split_name(&self.inner.options.domains, fqdn, "");
        let mut records = self.inner.records.lock().await;
        records.push(VultrRecord {
            id: random_uuid(),
            domain: domain.clone(),
            record_type: "TXT".into(),
            name,
            data: crate::fake_store::quote(value),
            ttl: 300,
        });
        sync(&self.inner, &records, &domain, &fqdn).await.unwrap();
    }

    async fn txt_records(&self) -> Vec<(String, String)> {
        self.records()
            .await
            .into_iter()
            .map(|r| (r.fqdn(), unquote(&r.data)))
            .collect()
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": message, "status": status.as_u16() })),
    )
        .into_response()
}

fn too_many_requests() -> Response {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit reached - please try your request again later.",
    )
}

/// Logs the request and checks the bearer key.
fn admit(inner: &Inner, headers: &HeaderMap, line: String) -> Result<(), Response> {
    inner.requests.push(line);
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if key == Some(inner.options.key.as_str()) {
        Ok(())
    } else {
        Err(error(StatusCode::UNAUTHORIZED, "Invalid API token."))
    }
}

fn domain_of(inner: &Inner, domain: &str) -> Result<String, Response> {
    let domain = domain.to_ascii_lowercase();
    if inner.options.domains.contains(&domain) {
        Ok(domain)
    } else {
        Err(error(StatusCode::NOT_FOUND, "Domain not found."))
    }
}

fn query_line(method: &str, path: &str, q: &HashMap<String, String>) -> String {
    let mut pairs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    format!("{method} {path}?{}", pairs.join("&"))
}

fn record_json(r: &VultrRecord) -> Value {
    json!({
        "id": r.id, "type": r.record_type, "name": r.name, "data": r.data,
        "priority": -1, "ttl": r.ttl,
    })
}

/// An opaque cursor for the list position `offset`.
fn cursor(offset: usize) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("next__{offset}"))
}

fn offset_of(cursor: &str) -> Option<usize> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("next__")?
        .parse()
        .ok()
}

async fn get_domain(
    State(inner): State<Arc<Inner>>,
    Path(domain): Path<String>,
    headers: HeaderMap,
) -> Response {
    or_answer!(admit(&inner, &headers, format!("GET /v2/domains/{domain}")));
    match domain_of(&inner, &domain) {
        Ok(name) => axum::Json(json!({
            "domain": {"domain": name, "date_created": "2026-01-01T00:00:00+00:00", "dns_sec": "disabled"}
        }))
        .into_response(),
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
    let per_page = match q.get("per_page") {
        None => 100,
        Some(p) => match p.parse::<usize>() {
            Ok(p) if (1..=500).contains(&p) => p,
            _ => return error(StatusCode::BAD_REQUEST, "Invalid per_page value."),
        },
    }
    .min(inner.options.max_per_page.max(1));
    let start = match q.get("cursor") {
        None => 0,
        Some(c) => match offset_of(c) {
            Some(o) => o,
            None => return error(StatusCode::BAD_REQUEST, "Invalid cursor."),
        },
    };
    let records = inner.records.lock().await;
    let all: Vec<&VultrRecord> = records.iter().filter(|r| r.domain == domain).collect();
    let total = all.len();
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(per_page)
        .map(|r| record_json(r))
        .collect();
    let next = if start + per_page < total {
        cursor(start + per_page)
    } else {
        String::new()
    };
    let prev = if start > 0 {
        cursor(start.saturating_sub(per_page))
    } else {
        String::new()
    };
    axum::Json(json!({
        "records": page,
        "meta": {"total": total, "links": {"next": next, "prev": prev}},
    }))
    .into_response()
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
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Invalid JSON body.");
    };
    if body["type"].as_str() != Some("TXT") {
        return error(StatusCode::BAD_REQUEST, "Invalid record type.");
    }
    let Some(name) = body["name"].as_str() else {
        return error(StatusCode::BAD_REQUEST, "Missing name.");
    };
    let Some(data) = body["data"].as_str().filter(|d| !d.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "Missing data.");
    };
    let ttl = body["ttl"].as_u64().unwrap_or(300) as u32;
    let mut records = inner.records.lock().await;
    let record = VultrRecord {
        id: random_uuid(),
        domain: domain.clone(),
        record_type: "TXT".into(),
        name: name.to_ascii_lowercase(),
        data: data.into(),
        ttl,
    };
    records.push(record.clone());
    if let Err(e) = sync(&inner, &records, &domain, &record.fqdn()).await {
        records.pop();
        return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
    }
    (
        StatusCode::CREATED,
        axum::Json(json!({ "record": record_json(&record) })),
    )
        .into_response()
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
        .position(|r| r.domain == domain && r.id == id)
    else {
        return error(StatusCode::NOT_FOUND, "Record not found.");
    };
    let removed = records.remove(index);
    if removed.record_type == "TXT"
        && let Err(e) = sync(&inner, &records, &domain, &removed.fqdn()).await
    {
        records.insert(index, removed);
        return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Mirrors the TXT records named `fqdn` into PowerDNS.
async fn sync(
    inner: &Inner,
    records: &[VultrRecord],
    domain: &str,
    fqdn: &str,
) -> anyhow::Result<()> {
    let here = records
        .iter()
        .filter(|r| r.record_type == "TXT" && r.fqdn() == fqdn)
        .map(|r| (unquote(&r.data), r.ttl));
    inner.mirror.set_txt_distinct(domain, fqdn, here, 300).await
}
