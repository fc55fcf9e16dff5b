//! A fake OVHcloud API 1.0 on loopback, for the ovh plugin's tests.
//!
//! Written from OVH's public API description: `GET /auth/time` (the
//! server's clock, unauthenticated), `GET /domain/zone/{zone}`,
//! `GET|POST /domain/zone/{zone}/record` (`fieldType` / `subDomain`
//! filters, ids only), `GET|DELETE /domain/zone/{zone}/record/{id}`,
//! `POST /domain/zone/{zone}/refresh`. Authentication is checked the way
//! OVH does: the application key (`403 INVALID_KEY`), the timestamp against
//! this server's clock (`400 QUERY_TIME_OUT`), the consumer key
//! (`403 INVALID_CREDENTIAL`) and the signature, recomputed here from the
//! URL the client called and the body it sent (`400 INVALID_SIGNATURE`),
//! each with OVH's `{"errorCode","httpCode","message"}` body. Other errors
//! use OVH's `{"class","message"}` body (`Client::NotFound`,
//! `Client::BadRequest`, `Client::TooManyRequests`).
//!
//! Like OVH, record changes reach DNS only when the zone is refreshed: the
//! fake mirrors a name into PowerDNS on `POST /refresh`, not before. TXT
//! targets are stored and shown quoted, as OVH shows them.

// Checks return the finished error response as their `Err`.
#![allow(clippy::result_large_err)]
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::fake_common::{Clock, RequestLog, join_name, or_answer};
use crate::fake_store::{PdnsMirror, quote, unquote, zone_of};
use crate::httpd::TestServer;
use crate::pdns::Pdns;
use crate::provider_suite::{Fake, Throttle};

/// How far a request's timestamp may be from the server's clock.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 180;

/// What the fake account holds.
#[derive(Debug, Clone)]
pub struct OvhOptions {
    pub application_key: String,
    pub application_secret: String,
    pub consumer_key: String,
    pub zones: Vec<String>,
}

impl OvhOptions {
    pub fn new(ak: &str, as_: &str, ck: &str, zones: &[&str]) -> Self {
        OvhOptions {
            application_key: ak.into(),
            application_secret: as_.into(),
            consumer_key: ck.into(),
            zones: zones.iter().map(|z| z.to_string()).collect(),
        }
    }
}

/// One record as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OvhRecord {
    pub id: u64,
    pub zone: String,
    pub sub_domain: String,
    pub field_type: String,
    /// As stored and shown: TXT targets quoted.
    pub target: String,
    pub ttl: u32,
}

impl OvhRecord {
    pub fn fqdn(&self) -> String {
        join_name(&self.sub_domain, "", &self.zone)
    }

    fn json(&self) -> Value {
        json!({
            "id": self.id, "zone": self.zone, "subDomain": self.sub_domain,
            "fieldType": self.field_type, "target": self.target, "ttl": self.ttl,
        })
    }
}

struct State_ {
    records: Vec<OvhRecord>,
    /// Names changed since the zone's last refresh: (zone, fqdn).
    pending: BTreeSet<(String, String)>,
}

struct Inner {
    options: OvhOptions,
    state: tokio::sync::Mutex<State_>,
    mirror: PdnsMirror,
    next_id: AtomicU64,
    clock: Clock,
    throttle: Throttle,
    requests: RequestLog,
    refreshes: AtomicU64,
}

/// A running fake.
pub struct FakeOvh {
    pub server: TestServer,
    inner: Arc<Inner>,
}

impl FakeOvh {
    pub async fn start(pdns: &Pdns, options: OvhOptions) -> Self {
        let inner = Arc::new(Inner {
            options,
            state: tokio::sync::Mutex::new(State_ {
                records: Vec::new(),
                pending: BTreeSet::new(),
            }),
            mirror: PdnsMirror::new(pdns),
            next_id: AtomicU64::new(5_139_290_000),
            clock: Clock::default(),
            throttle: Throttle::new(),
            requests: RequestLog::default(),
            refreshes: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/1.0/auth/time", get(auth_time))
            .route("/1.0/domain/zone/{zone}", get(zone_info))
            .route(
                "/1.0/domain/zone/{zone}/record",
                get(list_records).post(create_record),
            )
            .route(
                "/1.0/domain/zone/{zone}/record/{id}",
                get(get_record).delete(delete_record),
            )
            .route("/1.0/domain/zone/{zone}/refresh", post(refresh))
            .fallback(|| async {
                class_error(
                    StatusCode::NOT_FOUND,
                    "Client::NotFound",
                    "Got an invalid (or empty) URL",
                )
            })
            .with_state(inner.clone());
        FakeOvh {
            server: TestServer::start(app).await,
            inner,
        }
    }

    /// The API base, as the plugin's `api_url`.
    pub fn api_url(&self) -> String {
        format!("{}/1.0", self.server.url())
    }

    /// Moves this server's clock by `secs` (its `/auth/time` and its
    /// timestamp check).
    pub fn set_clock_offset(&self, secs: i64) {
        self.inner.clock.set_offset(secs);
    }

    pub fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    pub async fn records(&self) -> Vec<OvhRecord> {
        self.inner.state.lock().await.records.clone()
    }

    /// `METHOD path?query` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.inner.requests.all()
    }

    /// Zone refreshes served.
    pub fn refreshes(&self) -> u64 {
        self.inner.refreshes.load(Ordering::SeqCst)
    }
}

impl Fake for FakeOvh {
    fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    async fn add_foreign(&self, fqdn: &str, value: &str) {
        let zone = zone_of(&self.inner.options.zones, fqdn)
            .expect("name in a zone")
            .clone();
        let fqdn = fqdn.to_ascii_lowercase();
        let sub = relative(&fqdn, &zone);
        let mut state = self.inner.state.lock().await;
        state.records.push(OvhRecord {
            id: self.inner.next_id.fetch_add(1, Ordering::SeqCst),
            zone: zone.clone(),
            sub_domain: sub,
            field_type: "TXT".into(),
            target: quote(value),
            ttl: 60,
        });
        sync(&self.inner, &state.records, &zone, &fqdn)
            .await
            .unwrap();
    }

    async fn txt_records(&self) -> Vec<(String, String)> {
        self.inner
            .state
            .lock()
            .await
            .records
            .iter()
            .filter(|r| r.field_type == "TXT")
            .map(|r| (r.fqdn(), unquote(&r.target)))
            .collect()
    }
}

fn relative(fqdn: &str, zone: &str) -> String {
    if fqdn == zone {
        String::new()
    } else {
        fqdn.strip_suffix(&format!(".{zone}"))
            .unwrap_or(fqdn)
            .to_string()
    }
}

/// OVH's authentication error body.
pub fn auth_error(status: StatusCode, code: &str, message: &str) -> Response {
    let http = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    (
        status,
        axum::Json(json!({"errorCode": code, "httpCode": http, "message": message})),
    )
        .into_response()
}

/// OVH's general error body.
pub fn class_error(status: StatusCode, class: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"class": class, "message": message})),
    )
        .into_response()
}

/// The signature OVH expects, computed independently of the plugin.
pub fn expected_signature(
    secret: &str,
    consumer: &str,
    method: &str,
    url: &str,
    body: &[u8],
    timestamp: &str,
) -> String {
    let mut data = Vec::new();
    for (i, part) in [
        secret.as_bytes(),
        consumer.as_bytes(),
        method.as_bytes(),
        url.as_bytes(),
        body,
        timestamp.as_bytes(),
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            data.push(b'+');
        }
        data.extend_from_slice(part);
    }
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &data);
    format!("$1${}", crate::fake_store::hex(digest.as_ref()))
}

/// Logs the request and checks its credentials, timestamp and signature;
/// on a write, applies the rate limit after that.
fn admit(
    inner: &Inner,
    method: &Method,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
    write: bool,
) -> Result<(), Response> {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    inner.requests.push(format!("{method} {path}"));
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let o = &inner.options;
    if header("x-ovh-application") != Some(o.application_key.as_str()) {
        return Err(auth_error(
            StatusCode::FORBIDDEN,
            "INVALID_KEY",
            "This application key is invalid",
        ));
    }
    let timestamp = header("x-ovh-timestamp").unwrap_or("");
    match timestamp.parse::<i64>() {
        Ok(t) if (t - inner.clock.now()).abs() <= TIMESTAMP_TOLERANCE_SECS => {}
        _ => {
            return Err(auth_error(
                StatusCode::BAD_REQUEST,
                "QUERY_TIME_OUT",
                "Query out of time",
            ));
        }
    }
    if header("x-ovh-consumer") != Some(o.consumer_key.as_str()) {
        return Err(auth_error(
            StatusCode::FORBIDDEN,
            "INVALID_CREDENTIAL",
            "This credential does not exist",
        ));
    }
    let url = format!("http://{}{path}", header("host").unwrap_or(""));
    let expected = expected_signature(
        &o.application_secret,
        &o.consumer_key,
        method.as_str(),
        &url,
        body,
        timestamp,
    );
    if header("x-ovh-signature") != Some(expected.as_str()) {
        return Err(auth_error(
            StatusCode::BAD_REQUEST,
            "INVALID_SIGNATURE",
            "Invalid signature",
        ));
    }
    if write
        && let Some(r) = inner.throttle.intercept(|| {
            class_error(
                StatusCode::TOO_MANY_REQUESTS,
                "Client::TooManyRequests",
                "Too many requests",
            )
        })
    {
        return Err(r);
    }
    Ok(())
}

fn known_zone(inner: &Inner, zone: &str) -> Result<String, Response> {
    let zone = zone.to_ascii_lowercase();
    if inner.options.zones.contains(&zone) {
        Ok(zone)
    } else {
        Err(class_error(
            StatusCode::NOT_FOUND,
            "Client::NotFound",
            "This service does not exist",
        ))
    }
}

async fn auth_time(State(inner): State<Arc<Inner>>) -> Response {
    inner.requests.push("GET /1.0/auth/time");
    axum::Json(json!(inner.clock.now())).into_response()
}

async fn zone_info(
    State(inner): State<Arc<Inner>>,
    Path(zone): Path<String>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    or_answer!(admit(&inner, &method, &headers, &uri, b"", false));
    match known_zone(&inner, &zone) {
        Ok(zone) => axum::Json(json!({
            "name": zone, "hasDnsAnycast": false, "dnssecSupported": true,
            "nameServers": ["dns1.example.test", "ns1.example.test"],
            "lastUpdate": "2026-01-01T00:00:00+01:00",
        }))
        .into_response(),
        Err(r) => r,
    }
}

async fn list_records(
    State(inner): State<Arc<Inner>>,
    Path(zone): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    or_answer!(admit(&inner, &method, &headers, &uri, b"", false));
    let zone = or_answer!(known_zone(&inner, &zone));
    let state = inner.state.lock().await;
    let ids: Vec<u64> = state
        .records
        .iter()
        .filter(|r| r.zone == zone)
        .filter(|r| q.get("fieldType").is_none_or(|t| *t == r.field_type))
        .filter(|r| {
            q.get("subDomain")
                .is_none_or(|s| s.eq_ignore_ascii_case(&r.sub_domain))
        })
        .map(|r| r.id)
        .collect();
    axum::Json(json!(ids)).into_response()
}

async fn get_record(
    State(inner): State<Arc<Inner>>,
    Path((zone, id)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    or_answer!(admit(&inner, &method, &headers, &uri, b"", false));
    let zone = or_answer!(known_zone(&inner, &zone));
    let state = inner.state.lock().await;
    match state
        .records
        .iter()
        .find(|r| r.zone == zone && r.id.to_string() == id)
    {
        Some(r) => axum::Json(r.json()).into_response(),
        None => missing(&id),
    }
}

fn missing(id: &str) -> Response {
    class_error(
        StatusCode::NOT_FOUND,
        "Client::NotFound",
        &format!("The requested object (id = {id}) does not exist"),
    )
}

async fn create_record(
    State(inner): State<Arc<Inner>>,
    Path(zone): Path<String>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    or_answer!(admit(&inner, &method, &headers, &uri, &body, true));
    let zone = or_answer!(known_zone(&inner, &zone));
    let bad = |m: &str| class_error(StatusCode::BAD_REQUEST, "Client::BadRequest", m);
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return bad("Invalid JSON received");
    };
    let (Some(field_type), Some(target)) = (body["fieldType"].as_str(), body["target"].as_str())
    else {
        return bad("[fieldType] Property is mandatory");
    };
    if field_type != "TXT" {
        return bad("Invalid fieldType for this test server");
    }
    let sub = body["subDomain"]
        .as_str()
        .unwrap_or("")
        .to_ascii_lowercase();
    let ttl = body["ttl"].as_u64().unwrap_or(0) as u32;
    if ttl != 0 && ttl < 60 {
        return bad("Invalid ttl: the minimum is 60");
    }
    let record = OvhRecord {
        id: inner.next_id.fetch_add(1, Ordering::SeqCst),
        zone: zone.clone(),
        sub_domain: sub,
        field_type: field_type.into(),
        // OVH shows TXT targets quoted, whatever was sent.
        target: quote(&unquote(target)),
        ttl: if ttl == 0 { 3600 } else { ttl },
    };
    let mut state = inner.state.lock().await;
    state.records.push(record.clone());
    state.pending.insert((zone, record.fqdn()));
    axum::Json(record.json()).into_response()
}

async fn delete_record(
    State(inner): State<Arc<Inner>>,
    Path((zone, id)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    or_answer!(admit(&inner, &method, &headers, &uri, b"", true));
    let zone = or_answer!(known_zone(&inner, &zone));
    let mut state = inner.state.lock().await;
    let Some(index) = state
        .records
        .iter()
        .position(|r| r.zone == zone && r.id.to_string() == id)
    else {
        return missing(&id);
    };
    let removed = state.records.remove(index);
    state.pending.insert((zone, removed.fqdn()));
    axum::Json(Value::Null).into_response()
}

async fn refresh(
    State(inner): State<Arc<Inner>>,
    Path(zone): Path<String>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    or_answer!(admit(&inner, &method, &headers, &uri, &body, true));
    let zone = or_answer!(known_zone(&inner, &zone));
    let mut state = inner.state.lock().await;
    let names: Vec<(String, String)> = state
        .pending
        .iter()
        .filter(|(z, _)| *z == zone)
        .cloned()
        .collect();
    for (z, name) in names {
        if let Err(e) = sync(&inner, &state.records, &z, &name).await {
            return class_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Server::InternalServerError",
                &e.to_string(),
            );
        }
        state.pending.remove(&(z, name));
    }
    inner.refreshes.fetch_add(1, Ordering::SeqCst);
    axum::Json(Value::Null).into_response()
}

/// Mirrors the TXT records named `fqdn` into PowerDNS.
async fn sync(inner: &Inner, records: &[OvhRecord], zone: &str, fqdn: &str) -> anyhow::Result<()> {
    let here: Vec<&OvhRecord> = records
        .iter()
        .filter(|r| r.field_type == "TXT" && r.fqdn() == fqdn)
        .collect();
    let values: Vec<String> = here.iter().map(|r| unquote(&r.target)).collect();
    let ttl = here.iter().map(|r| r.ttl).min().unwrap_or(60);
    inner.mirror.set_txt(zone, fqdn, ttl, &values).await
}
