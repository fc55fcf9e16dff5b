//! A fake Porkbun JSON API v3 (DNS) on loopback, for the porkbun plugin's
//! tests.
//!
//! Written from https://porkbun.com/api/json/v3/documentation: every call is
//! a `POST` with `apikey` and `secretapikey` in its JSON body (HTTP 400
//! `{"status":"ERROR","message":"Invalid API key. (002)"}` otherwise);
//! `dns/retrieveByNameType/{domain}/{type}[/{subdomain}]` (records with
//! string ids and TTLs, absolute names), `dns/create/{domain}` (`name`
//! relative, empty for the apex; answers the new `id`), `dns/delete/{domain}/{id}`;
//! a domain the account does not hold is `Invalid domain.`. Porkbun throttles
//! with a bare 503 page: on demand the next writes get it (with
//! `Retry-After: 1`). Records are mirrored into a real PowerDNS.

// Checks return the finished error response as their `Err`; boxing it would
// buy nothing in a test server.
#![allow(clippy::result_large_err)]
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::sync::Arc;

use crate::fake_common::or_answer;
use crate::fake_rest::{Rec, RequestLog, Store, Throttle, absolute, store_fake_accessors};
use crate::httpd::TestServer;
use crate::pdns::Pdns;

struct Inner {
    api_key: String,
    secret: String,
    store: Store,
    throttle: Throttle,
    log: RequestLog,
}

/// A running fake.
pub struct FakePorkbun {
    pub server: TestServer,
    inner: Arc<Inner>,
}

/// The page Porkbun's front end serves when it throttles.
pub const THROTTLE_PAGE: &str = "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>openresty</center>\r\n</body>\r\n</html>\r\n";

impl FakePorkbun {
    /// Serves an account holding `zones` (which `pdns` must serve) for the
    /// key pair `api_key` / `secret`.
    pub async fn start(pdns: &Pdns, api_key: &str, secret: &str, zones: &[&str]) -> Self {
        let zones: Vec<String> = zones.iter().map(|z| z.to_string()).collect();
        let inner = Arc::new(Inner {
            api_key: api_key.into(),
            secret: secret.into(),
            store: Store::new(pdns, &zones),
            throttle: Throttle::default(),
            log: RequestLog::default(),
        });
        let app = Router::new()
            .route(
                "/api/json/v3/dns/retrieveByNameType/{domain}/{rtype}",
                post(|s, Path((d, t)): Path<(String, String)>, b| {
                    retrieve(s, d, t, String::new(), b)
                }),
            )
            .route(
                "/api/json/v3/dns/retrieveByNameType/{domain}/{rtype}/{sub}",
                post(|s, Path((d, t, sub)): Path<(String, String, String)>, b| {
                    retrieve(s, d, t, sub, b)
                }),
            )
            .route("/api/json/v3/dns/create/{domain}", post(create))
            .route("/api/json/v3/dns/delete/{domain}/{id}", post(delete))
            .fallback(|| async { error("Invalid API endpoint.") })
            .with_state(inner.clone());
        FakePorkbun {
            server: TestServer::start(app).await,
            inner,
        }
    }

    /// The API base, as the plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("{}/api/json/v3", self.server.url())
    }

    /// Adds a value to `fqdn` as another client would, mirrored.
    pub async fn add_foreign(&self, fqdn: &str, value: &str) {
        self.inner.store.add(fqdn, value, 600).await.unwrap();
    }
}

store_fake_accessors!(FakePorkbun);

fn error(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"status": "ERROR", "message": message})),
    )
        .into_response()
}

/// Logs, throttles writes, checks the keys in the body; the parsed body.
fn admit(inner: &Inner, path: String, body: &[u8], write: bool) -> Result<Value, Response> {
    inner.log.push(format!("POST {path}"));
    if write
        && let Some(r) = inner.throttle.intercept(|| {
            let mut r = (StatusCode::SERVICE_UNAVAILABLE, THROTTLE_PAGE).into_response();
            r.headers_mut()
                .insert("content-type", "text/html".parse().unwrap());
            r
        })
    {
        return Err(r);
    }
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if body["apikey"].as_str() != Some(inner.api_key.as_str())
        || body["secretapikey"].as_str() != Some(inner.secret.as_str())
    {
        return Err(error("Invalid API key. (002)"));
    }
    Ok(body)
}

fn domain<'a>(inner: &'a Inner, d: &str) -> Result<&'a str, Response> {
    inner.store.zone(d).ok_or_else(|| error("Invalid domain."))
}

fn record_json(r: &Rec) -> Value {
    json!({
        "id": r.id.to_string(), "name": r.name, "type": "TXT", "content": r.content,
        "ttl": r.ttl.to_string(), "prio": "0", "notes": "",
    })
}

async fn retrieve(
    State(inner): State<Arc<Inner>>,
    d: String,
    rtype: String,
    sub: String,
    body: Bytes,
) -> Response {
    let path = format!("/dns/retrieveByNameType/{d}/{rtype}/{sub}");
    or_answer!(admit(&inner, path, &body, false));
    let zone = or_answer!(domain(&inner, &d));
    let records = if rtype == "TXT" {
        inner.store.get(&absolute(&sub, zone)).await
    } else {
        Vec::new()
    };
    axum::Json(json!({
        "status": "SUCCESS",
        "records": records.iter().map(record_json).collect::<Vec<_>>(),
    }))
    .into_response()
}

async fn create(State(inner): State<Arc<Inner>>, Path(d): Path<String>, body: Bytes) -> Response {
    let body = or_answer!(admit(&inner, format!("/dns/create/{d}"), &body, true));
    let zone = or_answer!(domain(&inner, &d));
    if body["type"] != "TXT" {
        return error("Invalid type.");
    }
    let Some(content) = body["content"].as_str().filter(|c| !c.is_empty()) else {
        return error("Content is required.");
    };
    let name = body["name"].as_str().unwrap_or_default();
    if name.ends_with(zone) {
        // Porkbun takes the subdomain only; a full name would land below
        // itself (`_acme-challenge.example.com.example.com`).
        return error("Create error: name must be the subdomain only.");
    }
    let ttl = match &body["ttl"] {
        Value::String(s) => s.parse().unwrap_or(600),
        Value::Number(n) => n.as_u64().unwrap_or(600) as u32,
        _ => 600,
    }
    .max(600);
    match inner.store.add(&absolute(name, zone), content, ttl).await {
        Ok(rec) => axum::Json(json!({"status": "SUCCESS", "id": rec.id})).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"status": "ERROR", "message": e.to_string()})),
        )
            .into_response(),
    }
}

async fn delete(
    State(inner): State<Arc<Inner>>,
    Path((d, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    or_answer!(admit(&inner, format!("/dns/delete/{d}/{id}"), &body, true));
    let zone = or_answer!(domain(&inner, &d)).to_string();
    let Ok(id) = id.parse::<u64>() else {
        return error("Invalid record ID.");
    };
    let suffix = format!(".{zone}");
    match inner
        .store
        .delete(id, |r| r.name == zone || r.name.ends_with(&suffix))
        .await
    {
        Ok(Some(_)) => axum::Json(json!({"status": "SUCCESS"})).into_response(),
        Ok(None) => error("Invalid record ID."),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"status": "ERROR", "message": e.to_string()})),
        )
            .into_response(),
    }
}
