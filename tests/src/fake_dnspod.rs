//! A fake DNSPod legacy token API (`dnsapi.cn`) on loopback, for the dnspod
//! plugin's tests, written from DNSPod's public API documentation
//! (<https://github.com/DNSPod/dnspod-api-doc>: "公共参数", "共通返回",
//! `Record.List`, `Record.Create`, `Record.Remove`).
//!
//! Like the real API: `POST /<Action>` with a form-encoded body only (any
//! other method is status 2, "Only POST method allowed"); the common
//! parameters `login_token=<id>,<token>` (checked on every call: status -1,
//! "Login failed"), `format=json`, `lang`, `error_on_empty`; every answer
//! HTTP 200 with `status{code,message,created_at}`, "1" success.
//! `Record.List` by `domain`, `sub_domain`, `record_type`, `offset`,
//! `length` (status 10 "No records" unless `error_on_empty=no`; 6 for a
//! domain outside the account), `Record.Create` (TXT on the default line
//! "默认" only), `Record.Remove` (8 "Record id invalid" for an unknown id);
//! status -2 with `Retry-After` for the writes its [`Throttle`] refuses. TXT
//! records are mirrored into a real PowerDNS. The `User-Agent` of every
//! request is kept: DNSPod bans clients that send none.

// Checks return the finished error response as their `Err`; boxing it would
// buy nothing in a test server.
#![allow(clippy::result_large_err)]
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::fake_common::{join_name, or_answer, split_name};
use crate::fake_store::PdnsMirror;
use crate::httpd::TestServer;
use crate::pdns::Pdns;
use crate::provider_suite::{Fake, Throttle};

/// What the fake account holds.
#[derive(Debug, Clone)]
pub struct DnspodOptions {
    /// The valid `login_token`, `<id>,<token>`.
    pub login_token: String,
    /// Domains of the account.
    pub domains: Vec<String>,
    /// The most records one page returns, whatever `length` asks.
    pub max_page_size: usize,
}

impl DnspodOptions {
    pub fn new(id: &str, token: &str, domains: &[&str]) -> Self {
        DnspodOptions {
            login_token: format!("{id},{token}"),
            domains: domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
            max_page_size: 3000,
        }
    }
}

/// One record as the API shows it (`name` relative, `@` at the apex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpRecord {
    pub id: u64,
    pub domain: String,
    pub name: String,
    pub record_type: String,
    pub value: String,
    pub ttl: u32,
}

impl DpRecord {
    pub fn fqdn(&self) -> String {
        join_name(&self.name, "@", &self.domain)
    }
}

/// The records a new account starts with: the two NS records DNSPod creates
/// at each domain's apex (not mirrored), ids from `first_id`; and the next
/// free id. Tencent Cloud's DNSPod API serves the same records.
pub(crate) fn initial_records(domains: &[String], first_id: u64) -> (Vec<DpRecord>, AtomicU64) {
    let next_id = AtomicU64::new(first_id);
    let mut records = Vec::new();
    for d in domains {
        for ns in ["f1g1ns1.dnspod.net.", "f1g1ns2.dnspod.net."] {
            records.push(DpRecord {
                id: next_id.fetch_add(1, Ordering::SeqCst),
                domain: d.clone(),
                name: "@".into(),
                record_type: "NS".into(),
                value: ns.into(),
                ttl: 86400,
            });
        }
    }
    (records, next_id)
}

/// The TXT records of `records`, in order.
pub(crate) fn txt_only(records: &[DpRecord]) -> Vec<DpRecord> {
    records
        .iter()
        .filter(|r| r.record_type == "TXT")
        .cloned()
        .collect()
}

/// Adds the TXT record (TTL 600) another client adds at `fqdn`, mirrored.
pub(crate) async fn add_foreign_txt(
    records: &tokio::sync::Mutex<Vec<DpRecord>>,
    next_id: &AtomicU64,
    mirror: &PdnsMirror,
    domains: &[String],
    fqdn: &str,
    value: &str,
) {
    let (fqdn, domain, name) = split_name(domains, fqdn, "@");
    let mut records = records.lock().await;
    records.push(DpRecord {
        id: next_id.fetch_add(1, Ordering::SeqCst),
        domain: domain.clone(),
        name,
        record_type: "TXT".into(),
        value: value.into(),
        ttl: 600,
    });
    mirror_txt(mirror, &records, &domain, &fqdn).await.unwrap();
}

/// `(fqdn, value)` of the TXT records of `records`, for the battery.
pub(crate) fn txt_pairs(records: &[DpRecord]) -> Vec<(String, String)> {
    txt_only(records)
        .into_iter()
        .map(|r| (r.fqdn(), r.value))
        .collect()
}

/// Makes PowerDNS's TXT RRset `fqdn` (in `domain`) hold the values of the
/// TXT records of that name.
pub(crate) async fn mirror_txt(
    mirror: &PdnsMirror,
    records: &[DpRecord],
    domain: &str,
    fqdn: &str,
) -> anyhow::Result<()> {
    let here = records
        .iter()
        .filter(|r| r.record_type == "TXT" && r.fqdn() == fqdn)
        .map(|r| (r.value.clone(), r.ttl));
    mirror.set_txt_distinct(domain, fqdn, here, 600).await
}

struct Inner {
    options: DnspodOptions,
    records: tokio::sync::Mutex<Vec<DpRecord>>,
    next_id: AtomicU64,
    mirror: PdnsMirror,
    throttle: Throttle,
    /// `METHOD /Action` and the user agent of every request.
    requests: std::sync::Mutex<Vec<(String, String)>>,
}

/// A running fake.
pub struct FakeDnspod {
    pub server: TestServer,
    inner: Arc<Inner>,
}

impl FakeDnspod {
    /// Serves the fake on a free loopback port, mirroring into `pdns`. Each
    /// domain starts with the two NS records DNSPod creates (not mirrored).
    pub async fn start(pdns: &Pdns, options: DnspodOptions) -> Self {
        let (records, next_id) = initial_records(&options.domains, 16_894_439);
        let inner = Arc::new(Inner {
            options,
            records: tokio::sync::Mutex::new(records),
            next_id,
            mirror: PdnsMirror::new(pdns),
            throttle: Throttle::new(),
            requests: std::sync::Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/{action}", axum::routing::any(handle))
            .with_state(inner.clone());
        FakeDnspod {
            server: TestServer::start(app).await,
            inner,
        }
    }

    /// The plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        self.server.url()
    }

    /// Every TXT record held, in creation order.
    pub async fn records(&self) -> Vec<DpRecord> {
        txt_only(&self.inner.records.lock().await)
    }

    /// `METHOD /Action` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        let requests = self.inner.requests.lock().unwrap();
        requests.iter().map(|(line, _)| line.clone()).collect()
    }

    /// The `User-Agent` of every request so far.
    pub fn user_agents(&self) -> Vec<String> {
        let requests = self.inner.requests.lock().unwrap();
        requests.iter().map(|(_, ua)| ua.clone()).collect()
    }
}

impl Fake for FakeDnspod {
    fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    async fn add_foreign(&self, fqdn: &str, value: &str) {
        let inner = &self.inner;
        let domains = &inner.options.domains;
        add_foreign_txt(
            &inner.records,
            &inner.next_id,
            &inner.mirror,
            domains,
            fqdn,
            value,
        )
        .await;
    }

    async fn txt_records(&self) -> Vec<(String, String)> {
        txt_pairs(&self.inner.records.lock().await)
    }
}

fn status(code: &str, message: &str) -> Value {
    json!({"code": code, "message": message, "created_at": "2026-01-01 00:00:00"})
}

/// A failed call: HTTP 200 with only `status`.
pub fn failure(code: &str, message: &str) -> Response {
    axum::Json(json!({ "status": status(code, message) })).into_response()
}

fn success(mut body: Value) -> Response {
    body["status"] = status("1", "Action completed successful");
    axum::Json(body).into_response()
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    Path(action): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    inner
        .requests
        .lock()
        .unwrap()
        .push((format!("{method} /{action}"), agent));
    if method != Method::POST {
        return failure("2", "Only POST method allowed");
    }
    let p: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if p.get("login_token") != Some(&inner.options.login_token) {
        return failure("-1", "Login failed");
    }
    if p.get("format").map(String::as_str) != Some("json") {
        return failure("3", "This fake answers format=json only");
    }
    let writes = matches!(action.as_str(), "Record.Create" | "Record.Remove");
    if writes
        && let Some(r) = inner
            .throttle
            .intercept(|| failure("-2", "API usage exceeded the limit"))
    {
        return r;
    }
    match action.as_str() {
        "Record.List" => list(&inner, &p).await,
        "Record.Create" => create(&inner, &p).await,
        "Record.Remove" => remove(&inner, &p).await,
        _ => failure("-7", "No permission to use this API"),
    }
}

fn owned_domain(inner: &Inner, p: &HashMap<String, String>) -> Result<String, Response> {
    let name = p
        .get("domain")
        .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_default();
    if inner.options.domains.contains(&name) {
        Ok(name)
    } else {
        Err(failure("6", "Domain id invalid"))
    }
}

fn record_json(r: &DpRecord) -> Value {
    json!({
        "id": r.id.to_string(), "name": r.name, "line": "默认", "line_id": "0",
        "type": r.record_type, "ttl": r.ttl.to_string(), "value": r.value, "weight": null,
        "mx": "0", "enabled": "1", "status": "enabled", "monitor_status": "", "remark": "",
        "updated_on": "2026-01-01 00:00:00", "use_aqb": "no",
    })
}

async fn list(inner: &Inner, p: &HashMap<String, String>) -> Response {
    let domain = or_answer!(owned_domain(inner, p));
    let Ok(offset) = p.get("offset").map_or(Ok(0), |o| o.parse::<usize>()) else {
        return failure("7", "Record offset invalid");
    };
    let length = match p.get("length").map_or(Ok(3000), |o| o.parse::<usize>()) {
        Ok(n) if n >= 1 => n.min(3000).min(inner.options.max_page_size.max(1)),
        _ => return failure("8", "Record length invalid"),
    };
    let sub = p.get("sub_domain").map(|s| s.to_ascii_lowercase());
    let rtype = p.get("record_type");
    let records = inner.records.lock().await;
    let matching: Vec<&DpRecord> = records
        .iter()
        .filter(|r| r.domain == domain)
        .filter(|r| sub.as_ref().is_none_or(|s| r.name == *s))
        .filter(|r| rtype.is_none_or(|t| r.record_type == *t))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(length)
        .map(|r| record_json(r))
        .collect();
    if page.is_empty() && p.get("error_on_empty").map(String::as_str) != Some("no") {
        return failure("10", "No records");
    }
    success(json!({
        "domain": {"id": 9_842_292, "name": domain, "punycode": domain, "grade": "DP_Free", "ttl": 600},
        "info": {
            "sub_domains": records.iter().filter(|r| r.domain == domain).count().to_string(),
            "record_total": matching.len().to_string(),
            "records_num": matching.len().to_string(),
        },
        "records": page,
    }))
}

async fn create(inner: &Inner, p: &HashMap<String, String>) -> Response {
    let domain = or_answer!(owned_domain(inner, p));
    if p.get("record_type").map(String::as_str) != Some("TXT") {
        return failure("27", "Record type invalid");
    }
    if p.get("record_line").map(String::as_str) != Some("默认")
        && p.get("record_line_id").map(String::as_str) != Some("0")
    {
        return failure("26", "Record line invalid");
    }
    let Some(value) = p.get("value").filter(|v| !v.is_empty()) else {
        return failure("34", "Record value invalid");
    };
    let name = p
        .get("sub_domain")
        .filter(|s| !s.is_empty())
        .map_or("@".to_string(), |s| s.to_ascii_lowercase());
    let ttl = match p.get("ttl").map_or(Ok(600), |t| t.parse::<u32>()) {
        Ok(t) if (1..=604_800).contains(&t) => t,
        _ => return failure("6", "Missing parameter or parameter error"),
    };
    let mut records = inner.records.lock().await;
    let record = DpRecord {
        id: inner.next_id.fetch_add(1, Ordering::SeqCst),
        domain: domain.clone(),
        name,
        record_type: "TXT".into(),
        value: value.clone(),
        ttl,
    };
    records.push(record.clone());
    if let Err(e) = sync(inner, &records, &domain, &record.fqdn()).await {
        records.pop();
        return failure("3", &format!("Unknown error: {e}"));
    }
    success(
        json!({"record": {"id": record.id.to_string(), "name": record.name, "status": "enable"}}),
    )
}

async fn remove(inner: &Inner, p: &HashMap<String, String>) -> Response {
    let domain = or_answer!(owned_domain(inner, p));
    let id = p.get("record_id").and_then(|i| i.parse::<u64>().ok());
    let mut records = inner.records.lock().await;
    let Some(index) = records
        .iter()
        .position(|r| r.domain == domain && Some(r.id) == id)
    else {
        return failure("8", "Record id invalid");
    };
    let removed = records.remove(index);
    if removed.record_type == "TXT"
        && let Err(e) = sync(inner, &records, &domain, &removed.fqdn()).await
    {
        records.insert(index, removed);
        return failure("3", &format!("Unknown error: {e}"));
    }
    success(json!({}))
}

/// Mirrors the TXT records named `fqdn` into PowerDNS.
async fn sync(inner: &Inner, records: &[DpRecord], domain: &str, fqdn: &str) -> anyhow::Result<()> {
    mirror_txt(&inner.mirror, records, domain, fqdn).await
}
