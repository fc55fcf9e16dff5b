//! A fake deSEC API on loopback, for the desec plugin's tests.
//!
//! Written from https://desec.readthedocs.io (domains, RRsets, rate limits):
//! `Authorization: Token <token>` (401 `{"detail":"Invalid token."}`),
//! `GET /api/v1/domains/?owns_qname=` (the responsible domain, or `[]`),
//! `GET|PATCH /api/v1/domains/{name}/rrsets/{subname}/{type}/` (`@` for the
//! empty subname; 404 `{"detail":"Not found."}`; PATCH with no records
//! deletes the RRset, 204), `POST /api/v1/domains/{name}/rrsets/` (201; 400
//! when the RRset exists or the TTL is below the domain's `minimum_ttl`).
//! TXT records must be in presentation form (quoted). 429 with
//! `Retry-After` on demand. Records are mirrored into a real PowerDNS.

// Checks return the finished error response as their `Err`; boxing it would
// buy nothing in a test server.
#![allow(clippy::result_large_err)]
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

use crate::fake_common::or_answer;
use crate::fake_rest::{Rec, RequestLog, Store, Throttle, absolute, store_fake_accessors};
use crate::fake_store::zone_of;
use crate::httpd::TestServer;
use crate::pdns::Pdns;

struct Inner {
    token: String,
    minimum_ttl: u32,
    store: Store,
    throttle: Throttle,
    log: RequestLog,
}

/// A running fake.
pub struct FakeDesec {
    pub server: TestServer,
    inner: Arc<Inner>,
}

impl FakeDesec {
    /// Serves an account holding `zones` (which `pdns` must serve) for
    /// `token`; each domain's `minimum_ttl` is 3600, deSEC's default.
    pub async fn start(pdns: &Pdns, token: &str, zones: &[&str]) -> Self {
        let zones: Vec<String> = zones.iter().map(|z| z.to_string()).collect();
        let inner = Arc::new(Inner {
            token: token.into(),
            minimum_ttl: 3600,
            store: Store::new(pdns, &zones),
            throttle: Throttle::default(),
            log: RequestLog::default(),
        });
        let app = Router::new()
            .route("/api/v1/domains/", get(list_domains))
            .route(
                "/api/v1/domains/{domain}/rrsets/",
                axum::routing::post(create_rrset),
            )
            .route(
                "/api/v1/domains/{domain}/rrsets/{subname}/{rtype}/",
                get(get_rrset).patch(patch_rrset),
            )
            .fallback(|| async { detail(StatusCode::NOT_FOUND, "Not found.") })
            .with_state(inner.clone());
        FakeDesec {
            server: TestServer::start(app).await,
            inner,
        }
    }

    /// The API base, as the plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("{}/api/v1", self.server.url())
    }

    /// Adds a value to `fqdn` as another client would, mirrored.
    pub async fn add_foreign(&self, fqdn: &str, value: &str) {
        let content = format!("\"{value}\"");
        self.inner
            .store
            .append_to_set(fqdn, 3600, &content)
            .await
            .unwrap();
    }
}

store_fake_accessors!(FakeDesec);

fn detail(status: StatusCode, detail: &str) -> Response {
    (status, axum::Json(json!({"detail": detail}))).into_response()
}

fn admit(inner: &Inner, headers: &HeaderMap, method: &str, path: String) -> Result<(), Response> {
    inner.log.push(format!("{method} {path}"));
    if method != "GET"
        && let Some(r) = inner.throttle.intercept(|| {
            detail(
                StatusCode::TOO_MANY_REQUESTS,
                "Request was throttled. Expected available in 1 second.",
            )
        })
    {
        return Err(r);
    }
    match headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Token "))
    {
        None => Err(detail(
            StatusCode::UNAUTHORIZED,
            "Authentication credentials were not provided.",
        )),
        Some(Some(t)) if t == inner.token => Ok(()),
        Some(_) => Err(detail(StatusCode::UNAUTHORIZED, "Invalid token.")),
    }
}

fn domain_json(inner: &Inner, name: &str) -> Value {
    json!({
        "created": "2026-01-01T00:00:00.000000Z", "published": "2026-01-01T00:00:00.000000Z",
        "name": name, "minimum_ttl": inner.minimum_ttl, "touched": "2026-01-01T00:00:00.000000Z",
    })
}

async fn list_domains(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let qname = q.get("owns_qname").cloned().unwrap_or_default();
    or_answer!(admit(
        &inner,
        &headers,
        "GET",
        format!("/domains/?owns_qname={qname}"),
    ));
    let domains: Vec<Value> = match q.get("owns_qname") {
        Some(qname) => zone_of(&inner.store.zones, qname)
            .map(|z| vec![domain_json(&inner, z)])
            .unwrap_or_default(),
        None => inner
            .store
            .zones
            .iter()
            .map(|z| domain_json(&inner, z))
            .collect(),
    };
    axum::Json(Value::Array(domains)).into_response()
}

fn rrset_json(domain: &str, subname: &str, records: &[Rec]) -> Value {
    let name = format!("{}.", absolute(subname, domain));
    json!({
        "created": "2026-01-01T00:00:00.000000Z", "domain": domain, "subname": subname,
        "name": name, "type": "TXT", "ttl": records.first().map(|r| r.ttl),
        "records": records.iter().map(|r| r.content.clone()).collect::<Vec<_>>(),
        "touched": "2026-01-01T00:00:00.000000Z",
    })
}

/// Checks a record list; `Err` is deSEC's 400.
fn check_records(body: &Value) -> Result<Vec<String>, Response> {
    let bad = |m: &str| {
        Err((StatusCode::BAD_REQUEST, axum::Json(json!({"records": [m]}))).into_response())
    };
    let Some(records) = body["records"].as_array() else {
        return bad("This field is required.");
    };
    let mut out = Vec::new();
    for r in records {
        let Some(r) = r.as_str() else {
            return bad("Not a valid string.");
        };
        if !(r.len() >= 2 && r.starts_with('"') && r.ends_with('"')) {
            return bad("Record content malformed: TXT content must be quoted.");
        }
        if !out.contains(&r.to_string()) {
            out.push(r.to_string());
        }
    }
    Ok(out)
}

fn check_ttl(inner: &Inner, ttl: u32) -> Result<(), Response> {
    if ttl < inner.minimum_ttl {
        let m = format!(
            "Ensure this value is greater than or equal to {}.",
            inner.minimum_ttl
        );
        return Err((StatusCode::BAD_REQUEST, axum::Json(json!({"ttl": [m]}))).into_response());
    }
    Ok(())
}

fn own_domain<'a>(inner: &'a Inner, domain: &str) -> Result<&'a str, Response> {
    inner
        .store
        .zone(domain)
        .ok_or_else(|| detail(StatusCode::NOT_FOUND, "Not found."))
}

async fn get_rrset(
    State(inner): State<Arc<Inner>>,
    Path((domain, subname, rtype)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/domains/{domain}/rrsets/{subname}/{rtype}/");
    or_answer!(admit(&inner, &headers, "GET", path));
    let domain = or_answer!(own_domain(&inner, &domain));
    let sub = if subname == "@" { "" } else { subname.as_str() };
    let records = inner.store.get(&absolute(sub, domain)).await;
    if rtype != "TXT" || records.is_empty() {
        return detail(StatusCode::NOT_FOUND, "Not found.");
    }
    axum::Json(rrset_json(domain, sub, &records)).into_response()
}

async fn create_rrset(
    State(inner): State<Arc<Inner>>,
    Path(domain): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    or_answer!(admit(
        &inner,
        &headers,
        "POST",
        format!("/domains/{domain}/rrsets/"),
    ));
    let domain = or_answer!(own_domain(&inner, &domain));
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return detail(StatusCode::BAD_REQUEST, "JSON parse error");
    };
    let subname = body["subname"].as_str().unwrap_or_default().to_string();
    if body["type"] != "TXT" {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"type": ["Only TXT here."]})),
        )
            .into_response();
    }
    let ttl = body["ttl"].as_u64().unwrap_or(0) as u32;
    or_answer!(check_ttl(&inner, ttl));
    let records = match check_records(&body) {
        Ok(r) if !r.is_empty() => r,
        Ok(_) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"records": ["This field must not be empty."]})),
            )
                .into_response();
        }
        Err(r) => return r,
    };
    let fqdn = absolute(&subname, domain);
    if !inner.store.get(&fqdn).await.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"non_field_errors": [
                "Another RRset with the same subdomain and type exists for this domain."
            ]})),
        )
            .into_response();
    }
    if let Err(e) = inner.store.set(&fqdn, ttl, &records).await {
        return detail(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
    }
    let stored = inner.store.get(&fqdn).await;
    (
        StatusCode::CREATED,
        axum::Json(rrset_json(domain, &subname, &stored)),
    )
        .into_response()
}

async fn patch_rrset(
    State(inner): State<Arc<Inner>>,
    Path((domain, subname, rtype)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/domains/{domain}/rrsets/{subname}/{rtype}/");
    or_answer!(admit(&inner, &headers, "PATCH", path));
    let domain = or_answer!(own_domain(&inner, &domain));
    let sub = if subname == "@" { "" } else { subname.as_str() };
    let fqdn = absolute(sub, domain);
    let current = inner.store.get(&fqdn).await;
    if rtype != "TXT" || current.is_empty() {
        return detail(StatusCode::NOT_FOUND, "Not found.");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return detail(StatusCode::BAD_REQUEST, "JSON parse error");
    };
    let ttl = match body["ttl"].as_u64() {
        Some(t) => t as u32,
        None => current[0].ttl,
    };
    or_answer!(check_ttl(&inner, ttl));
    let records = match body.get("records") {
        Some(_) => match check_records(&body) {
            Ok(r) => r,
            Err(r) => return r,
        },
        None => current.iter().map(|r| r.content.clone()).collect(),
    };
    if let Err(e) = inner.store.set(&fqdn, ttl, &records).await {
        return detail(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
    }
    if records.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let stored = inner.store.get(&fqdn).await;
    axum::Json(rrset_json(domain, sub, &stored)).into_response()
}
