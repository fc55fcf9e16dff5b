//! A fake GoDaddy Domains API v1 (DNS records) on loopback, for the godaddy
//! plugin's tests.
//!
//! Written from https://developer.godaddy.com/doc/endpoint/domains:
//! `Authorization: sso-key KEY:SECRET` (401 `UNABLE_TO_AUTHENTICATE`
//! otherwise), `GET|PUT|DELETE /v1/domains/{domain}/records/{type}/{name}`
//! (GET lists the records, PUT replaces all of them with the array given,
//! DELETE removes them, 204; an unknown domain is 404 `UNKNOWN_DOMAIN`, an
//! empty PUT or a TTL below 600 is 422 `INVALID_BODY`; a DELETE of nothing
//! is 404 `NOT_FOUND`). 429 `TOO_MANY_REQUESTS` with `retryAfterSec` and
//! `Retry-After` on demand. Records are mirrored into a real PowerDNS.

// Checks return the finished error response as their `Err`; boxing it would
// buy nothing in a test server.
#![allow(clippy::result_large_err)]
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;

use crate::fake_common::or_answer;
use crate::fake_rest::{RequestLog, Store, Throttle, absolute, store_fake_accessors};
use crate::httpd::TestServer;
use crate::pdns::Pdns;

struct Inner {
    key: String,
    secret: String,
    store: Store,
    throttle: Throttle,
    log: RequestLog,
}

/// A running fake.
pub struct FakeGoDaddy {
    pub server: TestServer,
    inner: Arc<Inner>,
}

impl FakeGoDaddy {
    /// Serves an account holding `zones` (which `pdns` must serve) for the
    /// key `key` with secret `secret`.
    pub async fn start(pdns: &Pdns, key: &str, secret: &str, zones: &[&str]) -> Self {
        let zones: Vec<String> = zones.iter().map(|z| z.to_string()).collect();
        let inner = Arc::new(Inner {
            key: key.into(),
            secret: secret.into(),
            store: Store::new(pdns, &zones),
            throttle: Throttle::default(),
            log: RequestLog::default(),
        });
        let app = Router::new()
            .route(
                "/v1/domains/{domain}/records/{rtype}/{name}",
                get(get_records).put(put_records).delete(delete_records),
            )
            .fallback(|| async { failure(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found") })
            .with_state(inner.clone());
        FakeGoDaddy {
            server: TestServer::start(app).await,
            inner,
        }
    }

    /// The API origin, as the plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        self.server.url()
    }

    /// Adds a value to `fqdn` as another client would, mirrored.
    pub async fn add_foreign(&self, fqdn: &str, value: &str) {
        self.inner.store.add(fqdn, value, 3600).await.unwrap();
    }
}

store_fake_accessors!(FakeGoDaddy);

fn failure(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message})),
    )
        .into_response()
}

fn admit(inner: &Inner, headers: &HeaderMap, method: &str, path: String) -> Result<(), Response> {
    inner.log.push(format!("{method} {path}"));
    if method != "GET"
        && let Some(r) = inner.throttle.intercept(|| {
            let body = json!({
                "code": "TOO_MANY_REQUESTS",
                "message": "Too many requests received within interval",
                "retryAfterSec": 1,
            });
            (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response()
        })
    {
        return Err(r);
    }
    let expected = format!("sso-key {}:{}", inner.key, inner.secret);
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(a) if a == expected => Ok(()),
        _ => Err(failure(
            StatusCode::UNAUTHORIZED,
            "UNABLE_TO_AUTHENTICATE",
            "Unauthorized : Could not authenticate API key/secret",
        )),
    }
}

fn domain<'a>(inner: &'a Inner, domain: &str) -> Result<&'a str, Response> {
    inner.store.zone(domain).ok_or_else(|| {
        failure(
            StatusCode::NOT_FOUND,
            "UNKNOWN_DOMAIN",
            "The given domain is not registered, or does not have a zone file",
        )
    })
}

async fn get_records(
    State(inner): State<Arc<Inner>>,
    Path((d, rtype, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/v1/domains/{d}/records/{rtype}/{name}");
    or_answer!(admit(&inner, &headers, "GET", path));
    let zone = or_answer!(domain(&inner, &d));
    let records = if rtype == "TXT" {
        inner.store.get(&absolute(&name, zone)).await
    } else {
        Vec::new()
    };
    let list: Vec<Value> = records
        .iter()
        .map(|r| json!({"data": r.content, "name": name, "ttl": r.ttl, "type": "TXT"}))
        .collect();
    axum::Json(Value::Array(list)).into_response()
}

fn invalid(path: &str, message: &str) -> Response {
    let body = json!({
        "code": "INVALID_BODY",
        "message": "Request body doesn't fulfill schema, see details in `fields`",
        "fields": [{"code": "UNEXPECTED_TYPE", "message": message, "path": path}],
    });
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

async fn put_records(
    State(inner): State<Arc<Inner>>,
    Path((d, rtype, name)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/domains/{d}/records/{rtype}/{name}");
    or_answer!(admit(&inner, &headers, "PUT", path));
    let zone = or_answer!(domain(&inner, &d));
    if rtype != "TXT" {
        return invalid("type", "only TXT here");
    }
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) else {
        return invalid("records", "is not an array");
    };
    if items.is_empty() {
        return invalid("records", "must contain at least one record");
    }
    let mut records = Vec::new();
    for item in &items {
        let Some(data) = item["data"].as_str() else {
            return invalid("records[].data", "is required");
        };
        let t = item["ttl"].as_u64().unwrap_or(3600) as u32;
        if t < 600 {
            return invalid("records[].ttl", "must be at least 600");
        }
        records.push((data.to_string(), t));
    }
    if let Err(e) = inner.store.set_each(&absolute(&name, zone), &records).await {
        return failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            &e.to_string(),
        );
    }
    StatusCode::OK.into_response()
}

async fn delete_records(
    State(inner): State<Arc<Inner>>,
    Path((d, rtype, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/v1/domains/{d}/records/{rtype}/{name}");
    or_answer!(admit(&inner, &headers, "DELETE", path));
    let zone = or_answer!(domain(&inner, &d));
    let fqdn = absolute(&name, zone);
    if rtype != "TXT" || inner.store.get(&fqdn).await.is_empty() {
        return failure(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("No {rtype} records found for {name}"),
        );
    }
    if let Err(e) = inner.store.set(&fqdn, 600, &[]).await {
        return failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            &e.to_string(),
        );
    }
    StatusCode::NO_CONTENT.into_response()
}
