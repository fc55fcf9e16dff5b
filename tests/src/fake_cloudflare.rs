//! A fake Cloudflare API v4 on loopback, for the cloudflare plugin's tests.
//!
//! It behaves like the real API in everything the plugin relies on: bearer
//! token or legacy `X-Auth-Email` + `X-Auth-Key` checks (10000 / 9103 / 9106
//! errors), `GET /zones?name=` exact lookup, `GET /zones/{id}/dns_records`
//! with `type`, `name` (and `name.exact`, `name.startswith`,
//! `name.endswith`, `name.contains`, case-insensitive), `content`, `page`,
//! `per_page` and a `result_info`, `POST` with TTL validation (9021) and
//! identical-record rejection (81058), `DELETE` (81044 when missing),
//! `POST /zones/{id}/dns_records/batch` (`deletes`, `patches`, `puts`,
//! `posts`, run in that order as one transaction: the first failing
//! operation fails the whole request and changes nothing; at most
//! [`CloudflareOptions::max_batch`] records), an unknown zone id (7003), 429 with
//! `retry-after` on demand (any request, or only writes through its
//! [`Throttle`]), and the `{success, errors, messages, result}` envelope
//! throughout. TXT records are mirrored into a real PowerDNS.

// Checks return the finished error response as their `Err`; boxing it would
// buy nothing in a test server.
#![allow(clippy::result_large_err)]
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::fake_common::{RequestLog, or_answer};
use crate::fake_store::{PdnsMirror, random_id, unquote, zone_of};
use crate::httpd::TestServer;
use crate::pdns::Pdns;
use crate::provider_suite::{Fake, Throttle};

/// What the fake account holds.
#[derive(Debug, Clone)]
pub struct CloudflareOptions {
    /// The valid API token.
    pub token: String,
    /// The valid legacy credentials (e-mail, global API key).
    pub legacy: Option<(String, String)>,
    /// Zones of the account (apex names).
    pub zones: Vec<String>,
    /// The most records one page returns, whatever `per_page` asks.
    pub max_per_page: usize,
    /// The most records one `/dns_records/batch` request may touch (the
    /// Free plan's 200).
    pub max_batch: usize,
}

impl CloudflareOptions {
    pub fn new(token: &str, zones: &[&str]) -> Self {
        CloudflareOptions {
            token: token.into(),
            legacy: None,
            zones: zones.iter().map(|z| z.to_string()).collect(),
            max_per_page: 100,
            max_batch: 200,
        }
    }
}

/// One DNS record as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfRecord {
    pub id: String,
    pub zone_id: String,
    pub name: String,
    pub content: String,
    pub ttl: u32,
}

struct Inner {
    options: CloudflareOptions,
    /// (id, name) of each zone.
    zones: Vec<(String, String)>,
    records: tokio::sync::Mutex<Vec<CfRecord>>,
    mirror: PdnsMirror,
    rate_limited: AtomicU32,
    throttle: Throttle,
    requests: RequestLog,
}

/// A running fake.
pub struct FakeCloudflare {
    pub server: TestServer,
    inner: Arc<Inner>,
}

impl FakeCloudflare {
    /// Serves the fake on a free loopback port, mirroring into `pdns` (which
    /// must serve every zone of `options`).
    pub async fn start(pdns: &Pdns, options: CloudflareOptions) -> Self {
        let zones = options
            .zones
            .iter()
            .map(|z| (random_id(), z.to_ascii_lowercase()))
            .collect();
        let inner = Arc::new(Inner {
            options,
            zones,
            records: tokio::sync::Mutex::new(Vec::new()),
            mirror: PdnsMirror::new(pdns),
            rate_limited: AtomicU32::new(0),
            throttle: Throttle::new(),
            requests: RequestLog::default(),
        });
        let app = Router::new()
            .route("/client/v4/zones", get(list_zones))
            .route(
                "/client/v4/zones/{zone_id}/dns_records",
                get(list_records).post(create_record),
            )
            .route(
                "/client/v4/zones/{zone_id}/dns_records/batch",
                post(batch_records),
            )
            .route(
                "/client/v4/zones/{zone_id}/dns_records/{record_id}",
                delete(delete_record),
            )
            .fallback(|| async { failure(StatusCode::BAD_REQUEST, 7000, "No route for that URI") })
            .with_state(inner.clone());
        FakeCloudflare {
            server: TestServer::start(app).await,
            inner,
        }
    }

    /// The API base, as the plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("{}/client/v4", self.server.url())
    }

    /// The id of zone `name`.
    pub fn zone_id(&self, name: &str) -> Option<String> {
        self.inner
            .zones
            .iter()
            .find(|(_, n)| n == name)
            .map(|(id, _)| id.clone())
    }

    /// Every record held, in creation order.
    pub async fn records(&self) -> Vec<CfRecord> {
        self.inner.records.lock().await.clone()
    }

    /// Adds a record as another client would (content as given), mirrored.
    pub async fn add_foreign(&self, name: &str, content: &str) {
        let zone = zone_of(&self.inner.options.zones, name).expect("name in a zone");
        let zone_id = self.zone_id(zone).unwrap();
        let mut records = self.inner.records.lock().await;
        records.push(CfRecord {
            id: random_id(),
            zone_id,
            name: name.to_ascii_lowercase(),
            content: content.into(),
            ttl: 120,
        });
        sync(&self.inner, &records, zone, name).await.unwrap();
    }

    /// The next `n` requests are answered 429 with `retry-after: 1`.
    pub fn rate_limit_next(&self, n: u32) {
        self.inner.rate_limited.store(n, Ordering::SeqCst);
    }

    /// `METHOD path?query` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.inner.requests.all()
    }
}

impl Fake for FakeCloudflare {
    fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    async fn add_foreign(&self, fqdn: &str, value: &str) {
        FakeCloudflare::add_foreign(self, fqdn, &crate::fake_store::quote(value)).await;
    }

    async fn txt_records(&self) -> Vec<(String, String)> {
        self.records()
            .await
            .into_iter()
            .map(|r| (r.name, unquote(&r.content)))
            .collect()
    }
}

fn envelope(result: Value, info: Option<Value>) -> Value {
    let mut body = json!({"success": true, "errors": [], "messages": [], "result": result});
    if let Some(info) = info {
        body["result_info"] = info;
    }
    body
}

/// Cloudflare's answer to too many requests (its `retry-after` is added by
/// the caller).
fn too_many_requests() -> Response {
    failure(
        StatusCode::TOO_MANY_REQUESTS,
        971,
        "Please wait and consider throttling your request speed",
    )
}

fn failure(status: StatusCode, code: i64, message: &str) -> Response {
    let body = json!({
        "success": false,
        "errors": [{"code": code, "message": message}],
        "messages": [],
        "result": null,
    });
    (status, axum::Json(body)).into_response()
}

/// Logs the request, applies the rate limit and checks credentials.
fn admit(inner: &Inner, headers: &HeaderMap, line: String) -> Result<(), Response> {
    inner.requests.push(line);
    if inner
        .rate_limited
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        let mut response = too_many_requests();
        response
            .headers_mut()
            .insert("retry-after", "1".parse().unwrap());
        return Err(response);
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(auth) = header("authorization") {
        return match auth.strip_prefix("Bearer ") {
            Some(token) if token == inner.options.token => Ok(()),
            Some(_) => Err(failure(
                StatusCode::FORBIDDEN,
                10000,
                "Authentication error",
            )),
            None => Err(failure(
                StatusCode::BAD_REQUEST,
                6111,
                "Invalid format for Authorization header",
            )),
        };
    }
    match (header("x-auth-email"), header("x-auth-key")) {
        (Some(email), Some(key)) => match &inner.options.legacy {
            Some((e, k)) if e == email && k == key => Ok(()),
            _ => Err(failure(
                StatusCode::FORBIDDEN,
                9103,
                "Unknown X-Auth-Key or X-Auth-Email",
            )),
        },
        _ => Err(failure(
            StatusCode::BAD_REQUEST,
            9106,
            "Missing X-Auth-Key, X-Auth-Email or Authorization headers",
        )),
    }
}

fn query_line(method: &str, path: &str, q: &HashMap<String, String>) -> String {
    let mut pairs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    format!("{method} {path}?{}", pairs.join("&"))
}

fn page_params(q: &HashMap<String, String>, max: usize) -> (usize, usize) {
    let page = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let per_page = q
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(100usize)
        .clamp(1, max.max(1));
    (page, per_page)
}

fn paged<T: Clone>(items: &[T], page: usize, per_page: usize) -> (Vec<T>, Value) {
    let total = items.len();
    let slice: Vec<T> = items
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect();
    let info = json!({
        "page": page, "per_page": per_page, "count": slice.len(),
        "total_count": total, "total_pages": total.div_ceil(per_page),
    });
    (slice, info)
}

async fn list_zones(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    or_answer!(admit(&inner, &headers, query_line("GET", "/zones", &q)));
    let wanted = q.get("name").map(|n| n.to_ascii_lowercase());
    let zones: Vec<Value> = inner
        .zones
        .iter()
        .filter(|(_, name)| wanted.as_ref().is_none_or(|w| w == name))
        .map(|(id, name)| json!({"id": id, "name": name, "status": "active", "paused": false, "type": "full"}))
        .collect();
    let (page, per_page) = page_params(&q, 50);
    let (slice, info) = paged(&zones, page, per_page);
    axum::Json(envelope(Value::Array(slice), Some(info))).into_response()
}

fn record_json(r: &CfRecord, zone_name: &str) -> Value {
    json!({
        "id": r.id, "zone_id": r.zone_id, "zone_name": zone_name, "name": r.name,
        "type": "TXT", "content": r.content, "proxiable": false, "proxied": false,
        "ttl": r.ttl, "locked": false, "meta": {"auto_added": false, "source": "primary"},
        "comment": null, "tags": [],
        "created_on": "2026-01-01T00:00:00.000000Z", "modified_on": "2026-01-01T00:00:00.000000Z",
    })
}

fn zone_name<'a>(inner: &'a Inner, zone_id: &str) -> Result<&'a str, Response> {
    inner
        .zones
        .iter()
        .find(|(id, _)| id == zone_id)
        .map(|(_, n)| n.as_str())
        .ok_or_else(|| {
            failure(
                StatusCode::BAD_REQUEST,
                7003,
                &format!(
                    "Could not route to /zones/{zone_id}/dns_records, perhaps your object \
                     identifier is invalid?"
                ),
            )
        })
}

async fn list_records(
    State(inner): State<Arc<Inner>>,
    Path(zone_id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let line = query_line("GET", &format!("/zones/{zone_id}/dns_records"), &q);
    or_answer!(admit(&inner, &headers, line));
    let zone = or_answer!(zone_name(&inner, &zone_id));
    let records = inner.records.lock().await;
    let matching: Vec<Value> = records
        .iter()
        .filter(|r| r.zone_id == zone_id)
        .filter(|_| q.get("type").is_none_or(|t| t.eq_ignore_ascii_case("TXT")))
        .filter(|r| name_filters_match(&q, &r.name))
        .filter(|r| q.get("content").is_none_or(|c| r.content == *c))
        .map(|r| record_json(r, zone))
        .collect();
    let (page, per_page) = page_params(&q, inner.options.max_per_page);
    let (slice, info) = paged(&matching, page, per_page);
    axum::Json(envelope(Value::Array(slice), Some(info))).into_response()
}

async fn create_record(
    State(inner): State<Arc<Inner>>,
    Path(zone_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let line = format!("POST /zones/{zone_id}/dns_records");
    or_answer!(admit(&inner, &headers, line));
    if let Some(r) = inner.throttle.intercept(too_many_requests) {
        return r;
    }
    let zone = or_answer!(zone_name(&inner, &zone_id)).to_string();
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return failure(StatusCode::BAD_REQUEST, 9207, "Request body is invalid.");
    };
    let mut record = or_answer!(new_record(&body, &zone_id, &zone));
    record.id = random_id();
    let name = record.name.clone();
    let mut records = inner.records.lock().await;
    if identical_exists(&records, &record) {
        return failure(
            StatusCode::BAD_REQUEST,
            81058,
            "An identical record already exists.",
        );
    }
    records.push(record.clone());
    if let Err(e) = sync(&inner, &records, &zone, &name).await {
        records.pop();
        return failure(StatusCode::INTERNAL_SERVER_ERROR, 1000, &e.to_string());
    }
    axum::Json(envelope(record_json(&record, &zone), None)).into_response()
}

async fn delete_record(
    State(inner): State<Arc<Inner>>,
    Path((zone_id, record_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let line = format!("DELETE /zones/{zone_id}/dns_records/{record_id}");
    or_answer!(admit(&inner, &headers, line));
    if let Some(r) = inner.throttle.intercept(too_many_requests) {
        return r;
    }
    let zone = or_answer!(zone_name(&inner, &zone_id)).to_string();
    let mut records = inner.records.lock().await;
    let Some(index) = records
        .iter()
        .position(|r| r.zone_id == zone_id && r.id == record_id)
    else {
        return failure(StatusCode::NOT_FOUND, 81044, "Record does not exist.");
    };
    let removed = records.remove(index);
    if let Err(e) = sync(&inner, &records, &zone, &removed.name).await {
        records.insert(index, removed);
        return failure(StatusCode::INTERNAL_SERVER_ERROR, 1000, &e.to_string());
    }
    axum::Json(envelope(json!({"id": record_id}), None)).into_response()
}

/// Whether `name` passes the listing's name filters (`name` and
/// `name.exact` exact, `name.startswith`, `name.endswith`, `name.contains`),
/// all case-insensitive.
fn name_filters_match(q: &HashMap<String, String>, name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let get = |k: &str| q.get(k).map(|v| v.to_ascii_lowercase());
    get("name").is_none_or(|n| name == n.trim_end_matches('.'))
        && get("name.exact").is_none_or(|n| name == n.trim_end_matches('.'))
        && get("name.startswith").is_none_or(|p| name.starts_with(&p))
        && get("name.endswith").is_none_or(|p| name.ends_with(&p))
        && get("name.contains").is_none_or(|p| name.contains(&p))
}

/// The checks `POST /dns_records` makes of a new record's `type`, `name`,
/// `content` and `ttl`: the record (id not yet set), or the error answer.
fn new_record(body: &Value, zone_id: &str, zone: &str) -> Result<CfRecord, Response> {
    let (Some(rtype), Some(name), Some(content)) = (
        body["type"].as_str(),
        body["name"].as_str(),
        body["content"].as_str(),
    ) else {
        return Err(failure(
            StatusCode::BAD_REQUEST,
            9000,
            "DNS name, type and content are required",
        ));
    };
    if rtype != "TXT" {
        return Err(failure(
            StatusCode::BAD_REQUEST,
            1004,
            "DNS Validation Error",
        ));
    }
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name != zone && !name.ends_with(&format!(".{zone}")) {
        return Err(failure(
            StatusCode::BAD_REQUEST,
            9005,
            "Content for TXT record is invalid: name is not in the zone",
        ));
    }
    let ttl = body["ttl"].as_u64().unwrap_or(1) as u32;
    if ttl != 1 && !(60..=86400).contains(&ttl) {
        return Err(failure(
            StatusCode::BAD_REQUEST,
            9021,
            "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.",
        ));
    }
    Ok(CfRecord {
        id: String::new(),
        zone_id: zone_id.to_string(),
        name,
        content: content.to_string(),
        ttl,
    })
}

fn identical_exists(records: &[CfRecord], record: &CfRecord) -> bool {
    records.iter().any(|r| {
        r.id != record.id
            && r.zone_id == record.zone_id
            && r.name == record.name
            && unquote(&r.content) == unquote(&record.content)
    })
}

/// `POST /zones/{id}/dns_records/batch`: deletes, patches, puts, posts, in
/// that order and each list in its order, on a copy of the zone's records
/// that replaces them only when every operation succeeded.
async fn batch_records(
    State(inner): State<Arc<Inner>>,
    Path(zone_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let line = format!("POST /zones/{zone_id}/dns_records/batch");
    or_answer!(admit(&inner, &headers, line));
    if let Some(r) = inner.throttle.intercept(too_many_requests) {
        return r;
    }
    let zone = or_answer!(zone_name(&inner, &zone_id)).to_string();
    let invalid = || failure(StatusCode::BAD_REQUEST, 9207, "Request body is invalid.");
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return invalid();
    };
    let mut lists: HashMap<&str, Vec<Value>> = HashMap::new();
    for (key, value) in &body {
        let Some(kind) = ["deletes", "patches", "puts", "posts"]
            .into_iter()
            .find(|k| k == key)
        else {
            return invalid();
        };
        match value {
            Value::Array(items) if items.iter().all(Value::is_object) => {
                lists.insert(kind, items.clone());
            }
            Value::Null => {}
            _ => return invalid(),
        }
    }
    let list = |k: &str| lists.get(k).cloned().unwrap_or_default();
    let (deletes, patches, puts, posts) = (
        list("deletes"),
        list("patches"),
        list("puts"),
        list("posts"),
    );
    let total = deletes.len() + patches.len() + puts.len() + posts.len();
    if total > inner.options.max_batch {
        return failure(
            StatusCode::BAD_REQUEST,
            1004,
            &format!(
                "DNS Validation Error: a batch may touch at most {} records",
                inner.options.max_batch
            ),
        );
    }
    let id_of = |item: &Value| item["id"].as_str().map(str::to_string);
    if deletes
        .iter()
        .chain(&patches)
        .chain(&puts)
        .any(|item| id_of(item).is_none())
    {
        return failure(StatusCode::BAD_REQUEST, 9000, "A record id is required");
    }

    let mut records = inner.records.lock().await;
    let mut work = records.clone();
    let mut touched: Vec<String> = Vec::new();
    let mut result = json!({"deletes": [], "patches": [], "puts": [], "posts": []});
    let missing = || failure(StatusCode::NOT_FOUND, 81044, "Record does not exist.");
    for item in &deletes {
        let id = id_of(item).unwrap();
        let Some(index) = work.iter().position(|r| r.zone_id == zone_id && r.id == id) else {
            return missing();
        };
        let removed = work.remove(index);
        result["deletes"]
            .as_array_mut()
            .unwrap()
            .push(record_json(&removed, &zone));
        touched.push(removed.name);
    }
    for (kind, items) in [("patches", &patches), ("puts", &puts)] {
        for item in items {
            let id = id_of(item).unwrap();
            let Some(index) = work.iter().position(|r| r.zone_id == zone_id && r.id == id) else {
                return missing();
            };
            // A patch keeps what it does not name; a put replaces the record.
            let mut merged = if kind == "patches" {
                let old = &work[index];
                json!({"type": "TXT", "name": old.name, "content": old.content, "ttl": old.ttl})
            } else {
                json!({})
            };
            for (k, v) in item.as_object().unwrap() {
                merged[k] = v.clone();
            }
            let mut record = or_answer!(new_record(&merged, &zone_id, &zone));
            record.id = id;
            if identical_exists(&work, &record) {
                return failure(
                    StatusCode::BAD_REQUEST,
                    81058,
                    "An identical record already exists.",
                );
            }
            touched.push(work[index].name.clone());
            touched.push(record.name.clone());
            result[kind]
                .as_array_mut()
                .unwrap()
                .push(record_json(&record, &zone));
            work[index] = record;
        }
    }
    for item in &posts {
        let mut record = or_answer!(new_record(item, &zone_id, &zone));
        record.id = random_id();
        if identical_exists(&work, &record) {
            return failure(
                StatusCode::BAD_REQUEST,
                81058,
                "An identical record already exists.",
            );
        }
        touched.push(record.name.clone());
        result["posts"]
            .as_array_mut()
            .unwrap()
            .push(record_json(&record, &zone));
        work.push(record);
    }

    let before = std::mem::replace(&mut *records, work);
    touched.sort();
    touched.dedup();
    for name in &touched {
        if let Err(e) = sync(&inner, &records, &zone, name).await {
            *records = before;
            for name in &touched {
                let _ = sync(&inner, &records, &zone, name).await;
            }
            return failure(StatusCode::INTERNAL_SERVER_ERROR, 1000, &e.to_string());
        }
    }
    axum::Json(envelope(result, None)).into_response()
}

/// Mirrors the TXT records named `name` into PowerDNS.
async fn sync(inner: &Inner, records: &[CfRecord], zone: &str, name: &str) -> anyhow::Result<()> {
    let here: Vec<&CfRecord> = records.iter().filter(|r| r.name == name).collect();
    let values: Vec<String> = here.iter().map(|r| unquote(&r.content)).collect();
    let ttl = here.iter().map(|r| r.ttl).min().unwrap_or(60).max(1);
    inner.mirror.set_txt(zone, name, ttl, &values).await
}
