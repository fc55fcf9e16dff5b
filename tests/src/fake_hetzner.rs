//! A fake Hetzner Cloud API (the DNS part: zones, RRsets, actions) on
//! loopback, for the hetzner plugin's tests.
//!
//! Written from https://docs.hetzner.cloud/reference/cloud: `Authorization:
//! Bearer <token>` (401 `unauthorized` otherwise), `GET /v1/zones/{id_or_name}`,
//! `GET /v1/zones/{id_or_name}/rrsets/{name}/{type}` (404 `not_found`),
//! `POST …/actions/add_records` (RRset created when missing, TTL ≥ 60) and
//! `…/actions/remove_records` (RRset deleted with its last record), both
//! answering 201 with a `running` action that `GET /v1/actions/{id}` reports
//! `running` once more, then `success`. RRset names must be lower case,
//! relative, `@` for the apex; TXT values must be quoted strings (422
//! `invalid_input`). Error envelope `{"error":{"code","message","details"}}`.
//! Records are mirrored into a real PowerDNS.

// Checks return the finished error response as their `Err`; boxing it would
// buy nothing in a test server.
#![allow(clippy::result_large_err)]
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::fake_common::or_answer;
use crate::fake_rest::{RequestLog, Store, Throttle, absolute, store_fake_accessors};
use crate::fake_store::unquote;
use crate::httpd::TestServer;
use crate::pdns::Pdns;

struct Inner {
    token: String,
    store: Store,
    /// Zone ids, by zone name.
    zone_ids: Vec<(u64, String)>,
    /// Action id → polls still answered `running`.
    actions: std::sync::Mutex<HashMap<u64, (String, u32)>>,
    next_action: AtomicU64,
    throttle: Throttle,
    log: RequestLog,
}

/// A running fake.
pub struct FakeHetzner {
    pub server: TestServer,
    inner: Arc<Inner>,
}

impl FakeHetzner {
    /// Serves a project holding `zones` (which `pdns` must serve) for `token`.
    pub async fn start(pdns: &Pdns, token: &str, zones: &[&str]) -> Self {
        let zones: Vec<String> = zones.iter().map(|z| z.to_string()).collect();
        let inner = Arc::new(Inner {
            token: token.into(),
            zone_ids: zones
                .iter()
                .enumerate()
                .map(|(i, z)| (4_200_000 + i as u64, z.to_ascii_lowercase()))
                .collect(),
            store: Store::new(pdns, &zones),
            actions: Default::default(),
            next_action: AtomicU64::new(1),
            throttle: Throttle::default(),
            log: RequestLog::default(),
        });
        let app = Router::new()
            .route("/v1/zones/{zone}", get(get_zone))
            .route("/v1/zones/{zone}/rrsets/{name}/{rtype}", get(get_rrset))
            .route(
                "/v1/zones/{zone}/rrsets/{name}/{rtype}/actions/{action}",
                post(rrset_action),
            )
            .route("/v1/actions/{id}", get(get_action))
            .fallback(|method: Method, uri: axum::http::Uri| async move {
                error(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    &format!("{method} {} not found", uri.path()),
                )
            })
            .with_state(inner.clone());
        FakeHetzner {
            server: TestServer::start(app).await,
            inner,
        }
    }

    /// The API base, as the plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("{}/v1", self.server.url())
    }

    /// Adds a value to `fqdn` as another client would, mirrored.
    pub async fn add_foreign(&self, fqdn: &str, value: &str) {
        self.inner
            .store
            .add(fqdn, &format!("\"{value}\""), 3600)
            .await
            .unwrap();
    }
}

store_fake_accessors!(FakeHetzner);

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message, "details": {}}});
    (status, axum::Json(body)).into_response()
}

/// Logs the request, applies the rate limit to writes and checks the token.
fn admit(inner: &Inner, headers: &HeaderMap, method: &str, path: String) -> Result<(), Response> {
    inner.log.push(format!("{method} {path}"));
    if method != "GET"
        && let Some(r) = inner.throttle.intercept(|| {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_exceeded",
                "limit of 3600 requests per hour reached",
            );
            let h = response.headers_mut();
            h.insert("retry-after", "1".parse().unwrap());
            h.insert("ratelimit-limit", "3600".parse().unwrap());
            h.insert("ratelimit-remaining", "0".parse().unwrap());
            response
        })
    {
        return Err(r);
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if token != Some(inner.token.as_str()) {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unable to authenticate",
        ));
    }
    Ok(())
}

fn find_zone<'a>(inner: &'a Inner, id_or_name: &str) -> Result<(u64, &'a str), Response> {
    let wanted = id_or_name.to_ascii_lowercase();
    inner
        .zone_ids
        .iter()
        .find(|(id, name)| *name == wanted || id.to_string() == wanted)
        .map(|(id, name)| (*id, name.as_str()))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "not_found", "zone not found"))
}

async fn get_zone(
    State(inner): State<Arc<Inner>>,
    Path(zone): Path<String>,
    headers: HeaderMap,
) -> Response {
    or_answer!(admit(&inner, &headers, "GET", format!("/zones/{zone}")));
    match find_zone(&inner, &zone) {
        Ok((id, name)) => axum::Json(json!({"zone": {
            "id": id, "name": name, "mode": "primary", "ttl": 3600, "status": "ok",
            "labels": {}, "protection": {"delete": false}, "record_count": 0,
            "created": "2026-01-01T00:00:00+00:00",
            "authoritative_nameservers": {"assigned": ["hydrogen.ns.hetzner.com."]},
        }}))
        .into_response(),
        Err(r) => r,
    }
}

/// Checks an RRset name the way the API documents it.
fn check_name(name: &str, zone: &str) -> Result<(), Response> {
    if name != name.to_ascii_lowercase() || name.ends_with('.') || name.ends_with(zone) {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "invalid input in field 'name': must be lower case, relative to the zone",
        ));
    }
    Ok(())
}

fn rrset_json(zone_id: u64, name: &str, records: &[crate::fake_rest::Rec]) -> Value {
    json!({
        "id": format!("{name}/TXT"), "name": name, "type": "TXT",
        "ttl": records.first().map(|r| r.ttl),
        "labels": {}, "protection": {"change": false}, "zone": zone_id,
        "records": records.iter().map(|r| json!({"value": r.content, "comment": ""})).collect::<Vec<_>>(),
    })
}

async fn get_rrset(
    State(inner): State<Arc<Inner>>,
    Path((zone, name, rtype)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/zones/{zone}/rrsets/{name}/{rtype}");
    or_answer!(admit(&inner, &headers, "GET", path));
    let (zone_id, zone_name) = or_answer!(find_zone(&inner, &zone));
    or_answer!(check_name(&name, zone_name));
    let records = if rtype == "TXT" {
        inner.store.get(&absolute(&name, zone_name)).await
    } else {
        Vec::new()
    };
    if records.is_empty() {
        return error(StatusCode::NOT_FOUND, "not_found", "rrset not found");
    }
    axum::Json(json!({"rrset": rrset_json(zone_id, &name, &records)})).into_response()
}

async fn rrset_action(
    State(inner): State<Arc<Inner>>,
    Path((zone, name, rtype, action)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/zones/{zone}/rrsets/{name}/{rtype}/actions/{action}");
    or_answer!(admit(&inner, &headers, "POST", path));
    let (zone_id, zone_name) = or_answer!(find_zone(&inner, &zone));
    or_answer!(check_name(&name, zone_name));
    if rtype != "TXT" {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", "type");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "json_error", "invalid JSON");
    };
    let Some(records) = body["records"].as_array() else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "invalid input in field 'records': is required",
        );
    };
    let mut values = Vec::new();
    for r in records {
        let value = r["value"].as_str().unwrap_or_default();
        if !(value.len() >= 2 && value.starts_with('"') && value.ends_with('"')) {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
                "invalid input in field 'records': TXT record values must be quoted strings",
            );
        }
        values.push(value.to_string());
    }
    let fqdn = absolute(&name, zone_name);
    let current = inner.store.get(&fqdn).await;
    let mut contents: Vec<String> = current.iter().map(|r| r.content.clone()).collect();
    let ttl = match action.as_str() {
        "add_records" => {
            let ttl = body["ttl"]
                .as_u64()
                .map(|t| t as u32)
                .or(current.first().map(|r| r.ttl))
                .unwrap_or(3600);
            if ttl < 60 {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_input",
                    "invalid input in field 'ttl': must be at least 60",
                );
            }
            for v in values {
                if !contents.iter().any(|c| unquote(c) == unquote(&v)) {
                    contents.push(v);
                }
            }
            ttl
        }
        "remove_records" => {
            contents.retain(|c| !values.contains(c));
            current.first().map(|r| r.ttl).unwrap_or(3600)
        }
        _ => return error(StatusCode::NOT_FOUND, "not_found", "action not found"),
    };
    if let Err(e) = inner.store.set(&fqdn, ttl, &contents).await {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        );
    }
    let id = inner.next_action.fetch_add(1, Ordering::SeqCst);
    let command = format!("{}_rrset_records", action.trim_end_matches("_records"));
    inner
        .actions
        .lock()
        .unwrap()
        .insert(id, (command.clone(), 1));
    let action = action_json(id, &command, "running", zone_id);
    (StatusCode::CREATED, axum::Json(json!({"action": action}))).into_response()
}

fn action_json(id: u64, command: &str, status: &str, zone_id: u64) -> Value {
    json!({
        "id": id, "command": command, "status": status,
        "progress": if status == "success" { 100 } else { 50 },
        "started": "2026-01-01T00:00:00+00:00",
        "finished": if status == "success" { json!("2026-01-01T00:00:01+00:00") } else { Value::Null },
        "resources": [{"id": zone_id, "type": "zone"}], "error": null,
    })
}

async fn get_action(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Response {
    or_answer!(admit(&inner, &headers, "GET", format!("/actions/{id}")));
    let mut actions = inner.actions.lock().unwrap();
    let Some((command, running)) = actions.get_mut(&id) else {
        return error(StatusCode::NOT_FOUND, "not_found", "action not found");
    };
    let status = if *running > 0 {
        *running -= 1;
        "running"
    } else {
        "success"
    };
    let zone_id = inner.zone_ids.first().map(|(id, _)| *id).unwrap_or(0);
    axum::Json(json!({"action": action_json(id, command, status, zone_id)})).into_response()
}
