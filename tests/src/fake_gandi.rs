//! A fake Gandi LiveDNS API v5 on loopback, for the gandi plugin's tests.
//!
//! Written from https://api.gandi.net/docs/livedns/ and
//! https://api.gandi.net/docs/authentication/: `Authorization: Bearer <PAT>`
//! or the deprecated `Authorization: Apikey <key>` (401 `HTTPUnauthorized`
//! otherwise), `GET /v5/livedns/domains/{fqdn}` (404 `HTTPNotFound` for a
//! domain the account does not have), `GET|PUT|DELETE
//! /v5/livedns/domains/{fqdn}/records/{name}/{type}` (the whole RRset:
//! `rrset_values`, `rrset_ttl` 300-2592000; PUT answers 201 "DNS Record
//! Created", DELETE 204, a missing RRset 404). 429 with `Retry-After` on
//! demand. Records are mirrored into a real PowerDNS.

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
    token: String,
    api_key: Option<String>,
    store: Store,
    throttle: Throttle,
    log: RequestLog,
}

/// A running fake.
pub struct FakeGandi {
    pub server: TestServer,
    inner: Arc<Inner>,
}

impl FakeGandi {
    /// Serves an account holding `zones` (which `pdns` must serve) for the
    /// personal access token `token` and, if given, the legacy `api_key`.
    pub async fn start(pdns: &Pdns, token: &str, api_key: Option<&str>, zones: &[&str]) -> Self {
        let zones: Vec<String> = zones.iter().map(|z| z.to_string()).collect();
        let inner = Arc::new(Inner {
            token: token.into(),
            api_key: api_key.map(str::to_string),
            store: Store::new(pdns, &zones),
            throttle: Throttle::default(),
            log: RequestLog::default(),
        });
        let app = Router::new()
            .route("/v5/livedns/domains/{fqdn}", get(get_domain))
            .route(
                "/v5/livedns/domains/{fqdn}/records/{name}/{rtype}",
                get(get_rrset).put(put_rrset).delete(delete_rrset),
            )
            .fallback(|| async { not_found() })
            .with_state(inner.clone());
        FakeGandi {
            server: TestServer::start(app).await,
            inner,
        }
    }

    /// The API base, as the plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("{}/v5/livedns", self.server.url())
    }

    /// Adds a value to `fqdn` as another client would, mirrored.
    pub async fn add_foreign(&self, fqdn: &str, value: &str) {
        let content = format!("\"{value}\"");
        self.inner
            .store
            .append_to_set(fqdn, 10800, &content)
            .await
            .unwrap();
    }
}

store_fake_accessors!(FakeGandi);

fn failure(status: StatusCode, object: &str, cause: &str, message: &str) -> Response {
    let body =
        json!({"code": status.as_u16(), "message": message, "object": object, "cause": cause});
    (status, axum::Json(body)).into_response()
}

fn not_found() -> Response {
    failure(
        StatusCode::NOT_FOUND,
        "HTTPNotFound",
        "Not Found",
        "The resource could not be found.",
    )
}

fn admit(inner: &Inner, headers: &HeaderMap, method: &str, path: String) -> Result<(), Response> {
    inner.log.push(format!("{method} {path}"));
    if method != "GET"
        && let Some(r) = inner.throttle.intercept(|| {
            failure(
                StatusCode::TOO_MANY_REQUESTS,
                "HTTPTooManyRequests",
                "Too Many Requests",
                "Too many requests, please retry later.",
            )
        })
    {
        return Err(r);
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    let ok = match auth {
        Some(a) => match a.split_once(' ') {
            Some(("Bearer", t)) => t == inner.token,
            Some(("Apikey", k)) => inner.api_key.as_deref() == Some(k),
            _ => false,
        },
        None => false,
    };
    if !ok {
        return Err(failure(
            StatusCode::UNAUTHORIZED,
            "HTTPUnauthorized",
            "Unauthorized",
            "The server could not verify that you authorized to access the document you \
             requested. Either you supplied the wrong credentials (e.g., bad api key), or your \
             access token has expired",
        ));
    }
    Ok(())
}

async fn get_domain(
    State(inner): State<Arc<Inner>>,
    Path(fqdn): Path<String>,
    headers: HeaderMap,
) -> Response {
    or_answer!(admit(&inner, &headers, "GET", format!("/domains/{fqdn}")));
    let Some(domain) = inner.store.zone(&fqdn) else {
        return not_found();
    };
    axum::Json(json!({
        "fqdn": domain, "automatic_snapshots": true,
        "domain_href": format!("https://api.gandi.net/v5/livedns/domains/{domain}"),
        "domain_records_href": format!("https://api.gandi.net/v5/livedns/domains/{domain}/records"),
    }))
    .into_response()
}

async fn get_rrset(
    State(inner): State<Arc<Inner>>,
    Path((fqdn, name, rtype)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/domains/{fqdn}/records/{name}/{rtype}");
    or_answer!(admit(&inner, &headers, "GET", path));
    let Some(domain) = inner.store.zone(&fqdn) else {
        return not_found();
    };
    let records = inner.store.get(&absolute(&name, domain)).await;
    if rtype != "TXT" || records.is_empty() {
        return not_found();
    }
    axum::Json(json!({
        "rrset_name": name, "rrset_type": "TXT", "rrset_ttl": records[0].ttl,
        "rrset_values": records.iter().map(|r| r.content.clone()).collect::<Vec<_>>(),
        "rrset_href": format!("https://api.gandi.net/v5/livedns/domains/{domain}/records/{name}/TXT"),
    }))
    .into_response()
}

fn validation(name: &str, description: &str) -> Response {
    let body = json!({
        "code": 400, "message": "Validation error", "object": "HTTPBadRequest",
        "cause": "Bad Request",
        "errors": [{"location": "body", "name": name, "description": description}],
    });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

async fn put_rrset(
    State(inner): State<Arc<Inner>>,
    Path((fqdn, name, rtype)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/domains/{fqdn}/records/{name}/{rtype}");
    or_answer!(admit(&inner, &headers, "PUT", path));
    let Some(domain) = inner.store.zone(&fqdn) else {
        return not_found();
    };
    if rtype != "TXT" {
        return validation("rrset_type", "only TXT here");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return validation("body", "Invalid JSON");
    };
    let ttl = body["rrset_ttl"].as_u64().unwrap_or(10800) as u32;
    if !(300..=2_592_000).contains(&ttl) {
        return validation("rrset_ttl", "must be between 300 and 2592000");
    }
    let Some(values) = body["rrset_values"].as_array() else {
        return validation("rrset_values", "Required");
    };
    let values: Vec<String> = values
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if values.is_empty() {
        return validation("rrset_values", "Shorter than minimum length 1");
    }
    if let Err(e) = inner
        .store
        .set(&absolute(&name, domain), ttl, &values)
        .await
    {
        return failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "HTTPInternalServerError",
            "Internal Server Error",
            &e.to_string(),
        );
    }
    (
        StatusCode::CREATED,
        axum::Json(json!({"message": "DNS Record Created"})),
    )
        .into_response()
}

async fn delete_rrset(
    State(inner): State<Arc<Inner>>,
    Path((fqdn, name, rtype)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/domains/{fqdn}/records/{name}/{rtype}");
    or_answer!(admit(&inner, &headers, "DELETE", path));
    let Some(domain) = inner.store.zone(&fqdn) else {
        return not_found();
    };
    let fqdn = absolute(&name, domain);
    if rtype != "TXT" || inner.store.get(&fqdn).await.is_empty() {
        return not_found();
    }
    if let Err(e) = inner.store.set(&fqdn, 300, &[]).await {
        return failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "HTTPInternalServerError",
            "Internal Server Error",
            &e.to_string(),
        );
    }
    StatusCode::NO_CONTENT.into_response()
}
