//! A fake Azure DNS (Azure Resource Manager, API 2018-05-01) and Microsoft
//! Entra ID token endpoint on loopback, for the azure plugin's tests.
//!
//! Written from the public documentation:
//! - the token endpoint
//!   (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow):
//!   `POST /{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials`,
//!   `client_id`, `client_secret` and `scope={arm}/.default`; unknown tenant
//!   (AADSTS90002), unknown application (AADSTS700016), wrong secret (401
//!   `invalid_client`, AADSTS7000215) and a scope without `/.default`
//!   (AADSTS1002012) are refused as Entra ID does;
//! - Azure DNS record sets (https://learn.microsoft.com/rest/api/dns/record-sets):
//!   GET / PUT / DELETE of `…/dnsZones/{zone}/TXT/{name}?api-version=2018-05-01`
//!   with ETags (`If-Match`, `If-None-Match: *`; 412 `PreconditionFailed`),
//!   zones listed per subscription with `nextLink` paging
//!   (https://learn.microsoft.com/rest/api/dns/zones/list); ARM's checks of
//!   the bearer token (401 `AuthenticationFailed` /
//!   `InvalidAuthenticationToken`), of `api-version`, of the subscription,
//!   resource group and parent zone (404 `SubscriptionNotFound`,
//!   `ResourceGroupNotFound`, `ParentResourceNotFound`), ARM's error
//!   envelope, and 429 `TooManyRequests` on demand.
//!
//! Record sets are mirrored into a real PowerDNS.

#![allow(clippy::result_large_err)]
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::fake_common::{RequestLog, join_name};
use crate::fake_store::{PdnsMirror, random_id};
use crate::httpd::TestServer;
use crate::pdns::Pdns;
use crate::provider_suite::{Fake, Throttle};

pub const API_VERSION: &str = "2018-05-01";

/// The fake's tenant, application and the resources it holds.
#[derive(Debug, Clone)]
pub struct AzureOptions {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub subscription_id: String,
    pub resource_group: String,
    /// DNS zones in `resource_group` (apex names).
    pub zones: Vec<String>,
    /// Items per page of the zone list.
    pub page_size: usize,
}

impl AzureOptions {
    pub fn new(client_secret: &str, zones: &[&str]) -> Self {
        AzureOptions {
            tenant_id: "6f2a1c5e-8d3b-4e7a-9c0f-1b2d3e4f5a6b".into(),
            client_id: "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d".into(),
            client_secret: client_secret.into(),
            subscription_id: "9e8d7c6b-5a4f-3e2d-1c0b-a9b8c7d6e5f4".into(),
            resource_group: "dns-rg".into(),
            zones: zones.iter().map(|z| z.to_string()).collect(),
            page_size: 1,
        }
    }
}

/// A TXT record set as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzRecordSet {
    pub ttl: u32,
    /// Each record's strings.
    pub records: Vec<Vec<String>>,
    pub etag: String,
    pub metadata: Option<Value>,
}

struct Inner {
    base_url: tokio::sync::OnceCell<String>,
    options: AzureOptions,
    tokens: std::sync::Mutex<HashSet<String>>,
    /// (zone, relative name) → record set.
    records: tokio::sync::Mutex<BTreeMap<(String, String), AzRecordSet>>,
    mirror: PdnsMirror,
    throttle: Throttle,
    requests: RequestLog,
    tokens_issued: AtomicU64,
}

/// A running fake.
pub struct FakeAzure {
    pub server: TestServer,
    inner: Arc<Inner>,
}

impl FakeAzure {
    pub async fn start(pdns: &Pdns, options: AzureOptions) -> Self {
        let inner = Arc::new(Inner {
            base_url: tokio::sync::OnceCell::new(),
            options,
            tokens: Default::default(),
            records: Default::default(),
            mirror: PdnsMirror::new(pdns),
            throttle: Throttle::new(),
            requests: Default::default(),
            tokens_issued: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .fallback(arm)
            .with_state(inner.clone());
        let server = TestServer::start(app).await;
        inner.base_url.set(server.url()).unwrap();
        FakeAzure { server, inner }
    }

    pub fn options(&self) -> &AzureOptions {
        &self.inner.options
    }

    /// The ARM endpoint and the authority host (both this server).
    pub fn url(&self) -> String {
        self.server.url()
    }

    pub async fn record_sets(&self) -> BTreeMap<(String, String), AzRecordSet> {
        self.inner.records.lock().await.clone()
    }

    /// `METHOD path` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.inner.requests.all()
    }

    pub fn tokens_issued(&self) -> u64 {
        self.inner.tokens_issued.load(Ordering::SeqCst)
    }

    fn zone_and_relative(&self, fqdn: &str) -> (String, String) {
        let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
        let zone = self
            .inner
            .options
            .zones
            .iter()
            .filter(|z| fqdn == **z || fqdn.ends_with(&format!(".{z}")))
            .max_by_key(|z| z.len())
            .expect("name in a zone")
            .clone();
        let relative = if fqdn == zone {
            "@".to_string()
        } else {
            fqdn[..fqdn.len() - zone.len() - 1].to_string()
        };
        (zone, relative)
    }
}

impl Fake for FakeAzure {
    fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    async fn add_foreign(&self, fqdn: &str, value: &str) {
        let (zone, relative) = self.zone_and_relative(fqdn);
        let mut records = self.inner.records.lock().await;
        let set = records
            .entry((zone.clone(), relative.clone()))
            .or_insert_with(|| AzRecordSet {
                ttl: 300,
                records: Vec::new(),
                etag: random_id(),
                metadata: None,
            });
        set.records.push(vec![value.to_string()]);
        set.etag = random_id();
        mirror(&self.inner, &records, &zone, &relative)
            .await
            .unwrap();
    }

    async fn txt_records(&self) -> Vec<(String, String)> {
        let records = self.inner.records.lock().await;
        records
            .iter()
            .flat_map(|((zone, relative), set)| {
                let fqdn = fqdn(zone, relative);
                set.records.iter().map(move |r| (fqdn.clone(), r.concat()))
            })
            .collect()
    }
}

fn fqdn(zone: &str, relative: &str) -> String {
    join_name(relative, "@", zone)
}

/// ARM's error envelope.
fn arm_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// Entra ID's error body.
fn entra_error(status: StatusCode, error: &str, code: u64, description: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {description}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: 2026-01-01 00:00:00Z",
            random_id(), random_id()
        ),
        "error_codes": [code],
        "timestamp": "2026-01-01 00:00:00Z",
        "trace_id": random_id(),
        "correlation_id": random_id(),
        "error_uri": "https://login.microsoftonline.com/error?code=".to_string() + &code.to_string(),
    });
    (status, axum::Json(body)).into_response()
}

async fn token(
    State(inner): State<Arc<Inner>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    inner
        .requests
        .push(format!("POST /{tenant}/oauth2/v2.0/token"));
    let o = &inner.options;
    if tenant != o.tenant_id {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID \
                 and are signing into the correct cloud."
            ),
        );
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        );
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if get("grant_type") != "client_credentials" {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    if get("client_id") != o.client_id {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{}' was not found in the directory '{tenant}'.",
                get("client_id")
            ),
        );
    }
    if get("client_secret") != o.client_secret {
        return entra_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is \
                 the client secret value, not the client secret ID, for a secret added to app \
                 '{}'.",
                o.client_id
            ),
        );
    }
    let scope = format!("{}/.default", inner.base_url.get().unwrap());
    if get("scope") != scope {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {} is not valid. Client credential flows must have \
                 a scope value with /.default suffixed to the resource identifier (application \
                 ID URI).",
                get("scope")
            ),
        );
    }
    let access_token = format!("eyJ0eXAiOiJKV1QifQ.fake.{}", random_id());
    inner.tokens.lock().unwrap().insert(access_token.clone());
    inner.tokens_issued.fetch_add(1, Ordering::SeqCst);
    axum::Json(
        json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                      "access_token": access_token}),
    )
    .into_response()
}

/// Every Resource Manager request: parsed by hand, since ARM matches its
/// path segments case-insensitively (`dnsZones` in requests, `dnszones` in
/// ids).
async fn arm(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    inner.requests.push(format!("{method} {}", uri.path()));
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        None => {
            return arm_error(
                StatusCode::UNAUTHORIZED,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            );
        }
        Some(auth) => {
            let ok = auth
                .strip_prefix("Bearer ")
                .is_some_and(|t| inner.tokens.lock().unwrap().contains(t));
            if !ok {
                return arm_error(
                    StatusCode::UNAUTHORIZED,
                    "InvalidAuthenticationToken",
                    "The access token is invalid.",
                );
            }
        }
    }
    match q.get("api-version").map(String::as_str) {
        None => {
            return arm_error(
                StatusCode::BAD_REQUEST,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            );
        }
        Some(API_VERSION) => {}
        Some(v) => {
            return arm_error(
                StatusCode::BAD_REQUEST,
                "InvalidApiVersionParameter",
                &format!(
                    "The api-version '{v}' is invalid. The supported versions are '{API_VERSION}'."
                ),
            );
        }
    }
    let segments: Vec<String> = uri
        .path()
        .trim_matches('/')
        .split('/')
        .map(|s| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect();
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    let o = &inner.options;
    let subscription_check = |sub: &str| {
        (sub != o.subscription_id.to_ascii_lowercase()).then(|| {
            arm_error(
                StatusCode::NOT_FOUND,
                "SubscriptionNotFound",
                &format!("The subscription '{sub}' could not be found."),
            )
        })
    };
    match lower.as_slice() {
        [
            "subscriptions",
            sub,
            "providers",
            "microsoft.network",
            "dnszones",
        ] if method == Method::GET => {
            if let Some(r) = subscription_check(sub) {
                return r;
            }
            list_zones(&inner, &q)
        }
        [
            "subscriptions",
            sub,
            "resourcegroups",
            rg,
            "providers",
            "microsoft.network",
            "dnszones",
            zone,
            "txt",
            name,
        ] => {
            if let Some(r) = subscription_check(sub) {
                return r;
            }
            if *rg != o.resource_group.to_ascii_lowercase() {
                return arm_error(
                    StatusCode::NOT_FOUND,
                    "ResourceGroupNotFound",
                    &format!("Resource group '{}' could not be found.", segments[3]),
                );
            }
            if !o.zones.iter().any(|z| z == zone) {
                return arm_error(
                    StatusCode::NOT_FOUND,
                    "ParentResourceNotFound",
                    &format!(
                        "Can not perform requested operation on nested resource. Parent \
                         resource '{zone}' not found."
                    ),
                );
            }
            let key = (zone.to_string(), name.to_string());
            match method {
                Method::GET => get_record(&inner, key).await,
                Method::PUT => put_record(&inner, key, &headers, &body).await,
                Method::DELETE => delete_record(&inner, key, &headers).await,
                _ => arm_error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    "The requested resource does not support this method.",
                ),
            }
        }
        _ => arm_error(
            StatusCode::NOT_FOUND,
            "InvalidResourceType",
            &format!("The resource type could not be found for {}.", uri.path()),
        ),
    }
}

fn list_zones(inner: &Inner, q: &HashMap<String, String>) -> Response {
    let o = &inner.options;
    let base = inner.base_url.get().unwrap();
    // A zone of another resource group comes first, so finding ours takes
    // the `nextLink`s.
    let mut all = vec![("other-rg".to_string(), "decoy.test".to_string())];
    all.extend(
        o.zones
            .iter()
            .map(|z| (o.resource_group.clone(), z.clone())),
    );
    let start: usize = q
        .get("$skipToken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let end = (start + o.page_size.max(1)).min(all.len());
    let value: Vec<Value> = all[start.min(end)..end]
        .iter()
        .map(|(rg, zone)| {
            json!({
                "id": format!("/subscriptions/{}/resourceGroups/{rg}/providers/Microsoft.Network/dnszones/{zone}", o.subscription_id),
                "name": zone, "type": "Microsoft.Network/dnszones", "location": "global",
                "etag": "00000002-0000-0000-76c2-f7ad90b5d101", "tags": {},
                "properties": {"maxNumberOfRecordSets": 10000, "numberOfRecordSets": 2,
                               "nameServers": ["ns1-01.azure-dns.com."], "zoneType": "Public"},
            })
        })
        .collect();
    let mut body = json!({"value": value});
    if end < all.len() {
        body["nextLink"] = format!(
            "{base}/subscriptions/{}/providers/Microsoft.Network/dnszones?api-version={API_VERSION}&$skipToken={end}",
            o.subscription_id
        )
        .into();
    }
    axum::Json(body).into_response()
}

fn record_json(inner: &Inner, (zone, name): &(String, String), set: &AzRecordSet) -> Value {
    let o = &inner.options;
    let mut properties = json!({
        "TTL": set.ttl,
        "fqdn": format!("{}.", fqdn(zone, name)),
        "provisioningState": "Succeeded",
        "TXTRecords": set.records.iter().map(|r| json!({"value": r})).collect::<Vec<_>>(),
    });
    if let Some(m) = &set.metadata {
        properties["metadata"] = m.clone();
    }
    json!({
        "id": format!("/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/dnszones/{zone}/TXT/{name}", o.subscription_id, o.resource_group),
        "name": name, "type": "Microsoft.Network/dnszones/TXT",
        "etag": set.etag, "properties": properties,
    })
}

fn not_found(inner: &Inner, name: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({
            "code": "NotFound",
            "message": format!(
                "The resource record '{name}' does not exist in resource group '{}' of subscription '{}'.",
                inner.options.resource_group, inner.options.subscription_id
            ),
        })),
    )
        .into_response()
}

fn precondition_failed() -> Response {
    arm_error(
        StatusCode::PRECONDITION_FAILED,
        "PreconditionFailed",
        "The condition in the If-Match or If-None-Match header was not satisfied by the current \
         record set.",
    )
}

async fn get_record(inner: &Inner, key: (String, String)) -> Response {
    let records = inner.records.lock().await;
    match records.get(&key) {
        Some(set) => axum::Json(record_json(inner, &key, set)).into_response(),
        None => not_found(inner, &key.1),
    }
}

fn throttled(inner: &Inner) -> Option<Response> {
    inner.throttle.intercept(|| {
        arm_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "The request is being throttled as the limit has been reached for operation type - \
             Write_ObservationWindow_00:05:00. For more information, see - \
             https://aka.ms/srpthrottlinglimits",
        )
    })
}

async fn put_record(
    inner: &Inner,
    key: (String, String),
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if let Some(r) = throttled(inner) {
        return r;
    }
    let bad = |m: &str| arm_error(StatusCode::BAD_REQUEST, "BadRequest", m);
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return bad("The request body could not be parsed as JSON.");
    };
    let properties = &body["properties"];
    let Some(ttl) = properties["TTL"]
        .as_u64()
        .filter(|t| (1..=2_147_483_647).contains(t))
    else {
        return bad("The value for the record set TTL must be between 1 and 2147483647.");
    };
    let Some(list) = properties["TXTRecords"]
        .as_array()
        .filter(|l| !l.is_empty())
    else {
        return bad("The record set must contain at least one TXT record.");
    };
    let mut records = Vec::new();
    for r in list {
        let Some(strings) = r["value"].as_array() else {
            return bad("A TXT record must have a value.");
        };
        let strings: Option<Vec<String>> = strings
            .iter()
            .map(|s| s.as_str().map(str::to_string))
            .collect();
        match strings {
            Some(s) if !s.is_empty() && s.iter().all(|v| v.len() <= 255) => records.push(s),
            _ => return bad("The TXT record value strings must each be at most 255 characters."),
        }
    }
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let mut all = inner.records.lock().await;
    let current = all.get(&key);
    if let Some(etag) = header("if-match")
        && current.is_none_or(|c| c.etag != etag)
    {
        return precondition_failed();
    }
    if header("if-none-match") == Some("*") && current.is_some() {
        return precondition_failed();
    }
    let created = current.is_none();
    let before = all.get(&key).cloned();
    let set = AzRecordSet {
        ttl: ttl as u32,
        records,
        etag: random_id(),
        metadata: properties.get("metadata").cloned().filter(|m| !m.is_null()),
    };
    all.insert(key.clone(), set.clone());
    if let Err(e) = mirror(inner, &all, &key.0, &key.1).await {
        match before {
            Some(b) => all.insert(key.clone(), b),
            None => all.remove(&key),
        };
        return arm_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            &e.to_string(),
        );
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, axum::Json(record_json(inner, &key, &set))).into_response()
}

async fn delete_record(inner: &Inner, key: (String, String), headers: &HeaderMap) -> Response {
    if let Some(r) = throttled(inner) {
        return r;
    }
    let mut all = inner.records.lock().await;
    let Some(current) = all.get(&key).cloned() else {
        return StatusCode::NO_CONTENT.into_response();
    };
    if let Some(etag) = headers.get("if-match").and_then(|v| v.to_str().ok())
        && current.etag != etag
    {
        return precondition_failed();
    }
    all.remove(&key);
    if let Err(e) = mirror(inner, &all, &key.0, &key.1).await {
        all.insert(key, current);
        return arm_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            &e.to_string(),
        );
    }
    StatusCode::OK.into_response()
}

async fn mirror(
    inner: &Inner,
    records: &BTreeMap<(String, String), AzRecordSet>,
    zone: &str,
    relative: &str,
) -> anyhow::Result<()> {
    let set = records.get(&(zone.to_string(), relative.to_string()));
    let values: Vec<String> = set
        .map(|s| s.records.iter().map(|r| r.concat()).collect())
        .unwrap_or_default();
    let ttl = set.map_or(60, |s| s.ttl.max(1));
    inner
        .mirror
        .set_txt(zone, &fqdn(zone, relative), ttl, &values)
        .await
}
