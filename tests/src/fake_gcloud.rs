//! A fake Google Cloud DNS API v1 and Google OAuth 2.0 token endpoint on
//! loopback, for the gcloud plugin's tests.
//!
//! Written from the public documentation:
//! - the token endpoint (https://developers.google.com/identity/protocols/oauth2/service-account#httprest):
//!   `POST /token` with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`
//!   and an RS256 `assertion` whose signature is verified here with `ring`
//!   against the service account's public key, and whose `iss`, `aud`,
//!   `scope`, `iat` and `exp` are checked; refusals are HTTP 400 with
//!   `{"error": "invalid_grant", "error_description": …}`;
//! - Cloud DNS (https://cloud.google.com/dns/docs/reference/rest/v1):
//!   `managedZones.list` (`dnsName` filter, `pageToken`/`nextPageToken`),
//!   `resourceRecordSets.list` (`name`, `type`, paging), `changes.create`
//!   (deletions must match the current set exactly: 412 `conditionNotMet`;
//!   additions must not exist: 409 `alreadyExists`) answering `pending`, and
//!   `changes.get` answering `done`; bearer tokens checked (401
//!   `UNAUTHENTICATED`), other projects refused (403 `forbidden`), unknown
//!   zones 404 `notFound`, Google's JSON error envelope throughout, and 429
//!   `RESOURCE_EXHAUSTED` on demand.
//!
//! Record sets of public zones are mirrored into a real PowerDNS.

#![allow(clippy::result_large_err)]
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::fake_common::{RequestLog, or_answer};
use crate::fake_store::{PdnsMirror, random_id, unquote};
use crate::httpd::TestServer;
use crate::pdns::Pdns;
use crate::provider_suite::{Fake, Throttle};

/// The service account's key (PKCS#8 PEM), made for these tests with
/// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`.
pub const ACCOUNT_KEY: &str = include_str!("keys/gcloud-account.pem");
/// Another key, made the same way, that the fake does not know.
pub const OTHER_KEY: &str = include_str!("keys/gcloud-other.pem");
/// The service account's e-mail.
pub const CLIENT_EMAIL: &str = "wacme-dns@wacme-test.iam.gserviceaccount.com";
/// Its key id (`private_key_id`, the JWT header's `kid`).
pub const KEY_ID: &str = "5f1c3e0d2b9a48e7a6c4d1f0b3e2a9c8d7f6e5a4";
/// The project the account may write.
pub const PROJECT: &str = "wacme-test";
/// The JWT bearer grant type.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// What the fake project holds.
#[derive(Debug, Clone)]
pub struct GcloudOptions {
    /// Public zones (apex names), as managed zones named after them.
    pub zones: Vec<String>,
    /// Also list a private zone with the same dnsName before each public one.
    pub private_twins: bool,
    /// Items per page of every list.
    pub page_size: usize,
}

impl GcloudOptions {
    pub fn new(zones: &[&str]) -> Self {
        GcloudOptions {
            zones: zones.iter().map(|z| z.to_string()).collect(),
            private_twins: true,
            page_size: 1,
        }
    }
}

#[derive(Debug, Clone)]
struct ManagedZone {
    name: String,
    /// Absolute, lower case.
    dns_name: String,
    private: bool,
}

/// A resource record set as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GRRSet {
    pub zone: String,
    /// Absolute, lower case.
    pub name: String,
    pub ttl: u32,
    pub rrdatas: Vec<String>,
}

impl GRRSet {
    fn json(&self) -> Value {
        json!({"kind": "dns#resourceRecordSet", "name": self.name, "type": "TXT",
               "ttl": self.ttl, "rrdatas": self.rrdatas})
    }
}

struct Inner {
    base_url: tokio::sync::OnceCell<String>,
    options: GcloudOptions,
    zones: Vec<ManagedZone>,
    public_key: Vec<u8>,
    tokens: std::sync::Mutex<HashSet<String>>,
    rrsets: tokio::sync::Mutex<Vec<GRRSet>>,
    changes: std::sync::Mutex<HashMap<String, Value>>,
    next_change: AtomicU64,
    mirror: PdnsMirror,
    throttle: Throttle,
    requests: RequestLog,
    tokens_issued: AtomicU64,
}

/// A running fake.
pub struct FakeGcloud {
    pub server: TestServer,
    inner: Arc<Inner>,
}

/// DER of a PKCS#8 PEM.
fn pem_der(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(b64).expect("PEM base64")
}

impl FakeGcloud {
    pub async fn start(pdns: &Pdns, options: GcloudOptions) -> Self {
        let key = ring::signature::RsaKeyPair::from_pkcs8(&pem_der(ACCOUNT_KEY)).expect("RSA key");
        let public_key = ring::signature::KeyPair::public_key(&key).as_ref().to_vec();
        let mut zones = Vec::new();
        for z in &options.zones {
            let z = z.trim_end_matches('.').to_ascii_lowercase();
            if options.private_twins {
                zones.push(ManagedZone {
                    name: format!("{}-private", z.replace('.', "-")),
                    dns_name: format!("{z}."),
                    private: true,
                });
            }
            zones.push(ManagedZone {
                name: z.replace('.', "-"),
                dns_name: format!("{z}."),
                private: false,
            });
        }
        let inner = Arc::new(Inner {
            base_url: tokio::sync::OnceCell::new(),
            options,
            zones,
            public_key,
            tokens: Default::default(),
            rrsets: Default::default(),
            changes: Default::default(),
            next_change: AtomicU64::new(1),
            mirror: PdnsMirror::new(pdns),
            throttle: Throttle::new(),
            requests: Default::default(),
            tokens_issued: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/token", post(token))
            .route("/dns/v1/projects/{project}/managedZones", get(list_zones))
            .route(
                "/dns/v1/projects/{project}/managedZones/{zone}/rrsets",
                get(list_rrsets),
            )
            .route(
                "/dns/v1/projects/{project}/managedZones/{zone}/changes",
                post(create_change),
            )
            .route(
                "/dns/v1/projects/{project}/managedZones/{zone}/changes/{id}",
                get(get_change),
            )
            .fallback(|| async {
                google_error(StatusCode::NOT_FOUND, "notFound", None, "Not Found")
            })
            .with_state(inner.clone());
        let server = TestServer::start(app).await;
        inner.base_url.set(server.url()).unwrap();
        FakeGcloud { server, inner }
    }

    /// The API root, as the plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("{}/dns/v1", self.server.url())
    }

    /// The token endpoint, as the key's `token_uri` and the plugin's.
    pub fn token_uri(&self) -> String {
        format!("{}/token", self.server.url())
    }

    /// A service-account key file for [`CLIENT_EMAIL`] with `pem` as its key.
    pub fn key_json(&self, pem: &str) -> String {
        json!({
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": KEY_ID,
            "private_key": pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "104839271039485710294",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri(),
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/wacme-dns%40wacme-test.iam.gserviceaccount.com",
            "universe_domain": "googleapis.com",
        })
        .to_string()
    }

    /// Every record set held.
    pub async fn rrsets(&self) -> Vec<GRRSet> {
        self.inner.rrsets.lock().await.clone()
    }

    /// `METHOD path` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.inner.requests.all()
    }

    /// Access tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.inner.tokens_issued.load(Ordering::SeqCst)
    }
}

impl Fake for FakeGcloud {
    fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    async fn add_foreign(&self, fqdn: &str, value: &str) {
        let name = format!("{}.", fqdn.trim_end_matches('.').to_ascii_lowercase());
        let zone = self
            .inner
            .zones
            .iter()
            .filter(|z| {
                !z.private && (name == z.dns_name || name.ends_with(&format!(".{}", z.dns_name)))
            })
            .max_by_key(|z| z.dns_name.len())
            .expect("name in a zone")
            .clone();
        let mut rrsets = self.inner.rrsets.lock().await;
        match rrsets
            .iter_mut()
            .find(|r| r.zone == zone.name && r.name == name)
        {
            Some(r) => r.rrdatas.push(crate::fake_store::quote(value)),
            None => rrsets.push(GRRSet {
                zone: zone.name.clone(),
                name: name.clone(),
                ttl: 300,
                rrdatas: vec![crate::fake_store::quote(value)],
            }),
        }
        mirror(&self.inner, &rrsets, &zone, &name).await.unwrap();
    }

    async fn txt_records(&self) -> Vec<(String, String)> {
        let rrsets = self.inner.rrsets.lock().await;
        rrsets
            .iter()
            .flat_map(|r| {
                r.rrdatas
                    .iter()
                    .map(|d| (r.name.trim_end_matches('.').to_string(), unquote(d)))
            })
            .collect()
    }
}

/// Google's JSON error envelope (https://cloud.google.com/apis/design/errors).
fn google_error(status: StatusCode, reason: &str, rpc: Option<&str>, message: &str) -> Response {
    let mut error = json!({
        "code": status.as_u16(),
        "message": message,
        "errors": [{"message": message, "domain": "global", "reason": reason}],
    });
    if let Some(rpc) = rpc {
        error["status"] = rpc.into();
    }
    (status, axum::Json(json!({"error": error}))).into_response()
}

/// An OAuth error (RFC 6749 §5.2), as Google's token endpoint answers.
fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn token(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    inner.requests.push("POST /token");
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return oauth_error("invalid_request", "Invalid Content-Type");
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if form.get("grant_type").map(String::as_str) != Some(JWT_BEARER) {
        return oauth_error(
            "unsupported_grant_type",
            &format!(
                "Invalid grant_type: {}",
                form.get("grant_type").cloned().unwrap_or_default()
            ),
        );
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error("invalid_request", "Missing required parameter: assertion");
    };
    or_answer!(check_assertion(&inner, assertion));
    let access_token = format!("ya29.fake-{}", random_id());
    inner.tokens.lock().unwrap().insert(access_token.clone());
    inner.tokens_issued.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({"access_token": access_token, "expires_in": 3599, "token_type": "Bearer"}))
        .into_response()
}

/// The checks of https://developers.google.com/identity/protocols/oauth2/service-account#jwt-auth
fn check_assertion(inner: &Inner, assertion: &str) -> Result<(), Response> {
    let parts: Vec<&str> = assertion.split('.').collect();
    let malformed = || oauth_error("invalid_grant", "Invalid JWT: malformed");
    if parts.len() != 3 {
        return Err(malformed());
    }
    let decode = |p: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()
    };
    let (Some(header), Some(claims)) = (decode(parts[0]), decode(parts[1])) else {
        return Err(malformed());
    };
    if header["alg"] != "RS256" {
        return Err(oauth_error(
            "invalid_grant",
            "Invalid JWT: unsupported signing algorithm",
        ));
    }
    if claims["iss"] != CLIENT_EMAIL {
        return Err(oauth_error(
            "invalid_grant",
            "Invalid grant: account not found",
        ));
    }
    let Ok(signature) = URL_SAFE_NO_PAD.decode(parts[2]) else {
        return Err(malformed());
    };
    let verifier = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        &inner.public_key,
    );
    let signed = format!("{}.{}", parts[0], parts[1]);
    if verifier.verify(signed.as_bytes(), &signature).is_err() {
        return Err(oauth_error("invalid_grant", "Invalid JWT Signature."));
    }
    if header.get("kid").is_some_and(|k| k != KEY_ID) {
        return Err(oauth_error("invalid_grant", "Invalid JWT Signature."));
    }
    let token_uri = format!("{}/token", inner.base_url.get().unwrap());
    if claims["aud"] != token_uri.as_str() {
        return Err(oauth_error(
            "invalid_grant",
            "Invalid JWT: Failed audience check.",
        ));
    }
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return Err(malformed());
    };
    let now = unix_now();
    if exp <= iat || exp - iat > 3600 || (iat - now).abs() > 300 || exp < now {
        return Err(oauth_error(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable \
             timeframe. Check your iat and exp values in the JWT claim.",
        ));
    }
    let scopes = claims["scope"].as_str().unwrap_or_default();
    if !scopes.split(' ').any(|s| {
        s == "https://www.googleapis.com/auth/ndev.clouddns.readwrite"
            || s == "https://www.googleapis.com/auth/cloud-platform"
    }) {
        return Err(oauth_error(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        ));
    }
    Ok(())
}

/// Logs the request and checks the bearer token and the project.
fn admit(inner: &Inner, headers: &HeaderMap, project: &str, line: String) -> Result<(), Response> {
    inner.requests.push(line);
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !token.is_some_and(|t| inner.tokens.lock().unwrap().contains(t)) {
        return Err(google_error(
            StatusCode::UNAUTHORIZED,
            "authError",
            Some("UNAUTHENTICATED"),
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
        ));
    }
    if project != PROJECT {
        return Err(google_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            Some("PERMISSION_DENIED"),
            &format!("The caller does not have permission on project {project}"),
        ));
    }
    Ok(())
}

fn zone<'a>(inner: &'a Inner, name: &str) -> Result<&'a ManagedZone, Response> {
    inner.zones.iter().find(|z| z.name == name).ok_or_else(|| {
        google_error(
            StatusCode::NOT_FOUND,
            "notFound",
            None,
            &format!("The 'parameters.managedZone' resource named '{name}' does not exist."),
        )
    })
}

/// One page of `items` and the token of the next, as `pageToken` offsets.
fn page(
    items: Vec<Value>,
    q: &HashMap<String, String>,
    max: usize,
) -> (Vec<Value>, Option<String>) {
    let start: usize = q.get("pageToken").and_then(|t| t.parse().ok()).unwrap_or(0);
    let size = q
        .get("maxResults")
        .and_then(|m| m.parse().ok())
        .unwrap_or(max)
        .clamp(1, max.max(1));
    let end = (start + size).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    (items[start.min(end)..end].to_vec(), next)
}

async fn list_zones(
    State(inner): State<Arc<Inner>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    or_answer!(admit(
        &inner,
        &headers,
        &project,
        "GET /managedZones".to_string()
    ));
    let wanted = q.get("dnsName").map(|n| n.to_ascii_lowercase());
    let zones: Vec<Value> = inner
        .zones
        .iter()
        .filter(|z| wanted.as_ref().is_none_or(|w| *w == z.dns_name))
        .map(|z| {
            json!({"kind": "dns#managedZone", "name": z.name, "dnsName": z.dns_name,
                   "id": "4713297851237845", "description": "",
                   "visibility": if z.private { "private" } else { "public" },
                   "nameServers": ["ns-cloud-a1.googledomains.com."]})
        })
        .collect();
    let (slice, next) = page(zones, &q, inner.options.page_size);
    let mut body = json!({"kind": "dns#managedZonesListResponse", "managedZones": slice});
    if let Some(next) = next {
        body["nextPageToken"] = next.into();
    }
    axum::Json(body).into_response()
}

async fn list_rrsets(
    State(inner): State<Arc<Inner>>,
    Path((project, zone_name)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let line = format!("GET /managedZones/{zone_name}/rrsets");
    or_answer!(admit(&inner, &headers, &project, line));
    or_answer!(zone(&inner, &zone_name));
    if q.contains_key("type") && !q.contains_key("name") {
        return google_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            None,
            "Invalid value for 'parameters.name': type requires name",
        );
    }
    let rrsets = inner.rrsets.lock().await;
    let items: Vec<Value> = rrsets
        .iter()
        .filter(|r| r.zone == zone_name)
        .filter(|r| {
            q.get("name")
                .is_none_or(|n| n.to_ascii_lowercase() == r.name)
        })
        .filter(|_| q.get("type").is_none_or(|t| t == "TXT"))
        .map(GRRSet::json)
        .collect();
    let (slice, next) = page(items, &q, inner.options.page_size);
    let mut body = json!({"kind": "dns#resourceRecordSetsListResponse", "rrsets": slice});
    if let Some(next) = next {
        body["nextPageToken"] = next.into();
    }
    axum::Json(body).into_response()
}

/// A record set of a change body.
fn parse_rrset(v: &Value, zone: &ManagedZone, field: &str) -> Result<GRRSet, Response> {
    let invalid = |what: &str| {
        google_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            None,
            &format!("Invalid value for '{field}.{what}'"),
        )
    };
    let name = v["name"]
        .as_str()
        .ok_or_else(|| invalid("name"))?
        .to_ascii_lowercase();
    if !name.ends_with('.')
        || !(name == zone.dns_name || name.ends_with(&format!(".{}", zone.dns_name)))
    {
        return Err(invalid("name"));
    }
    if v["type"] != "TXT" {
        return Err(invalid("type"));
    }
    let ttl = v["ttl"].as_u64().ok_or_else(|| invalid("ttl"))? as u32;
    let rrdatas: Vec<String> = v["rrdatas"]
        .as_array()
        .ok_or_else(|| invalid("rrdata"))?
        .iter()
        .map(|d| d.as_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| invalid("rrdata"))?;
    if rrdatas.is_empty() {
        return Err(invalid("rrdata"));
    }
    Ok(GRRSet {
        zone: zone.name.clone(),
        name,
        ttl,
        rrdatas,
    })
}

async fn create_change(
    State(inner): State<Arc<Inner>>,
    Path((project, zone_name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let line = format!("POST /managedZones/{zone_name}/changes");
    or_answer!(admit(&inner, &headers, &project, line));
    if let Some(r) = inner.throttle.intercept(|| {
        google_error(
            StatusCode::TOO_MANY_REQUESTS,
            "rateLimitExceeded",
            Some("RESOURCE_EXHAUSTED"),
            "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per \
             minute' of service 'dns.googleapis.com'.",
        )
    }) {
        return r;
    }
    let zone = or_answer!(zone(&inner, &zone_name)).clone();
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return google_error(StatusCode::BAD_REQUEST, "parseError", None, "Parse Error");
    };
    let list = |key: &str| -> Result<Vec<GRRSet>, Response> {
        body.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .enumerate()
                    .map(|(i, v)| parse_rrset(v, &zone, &format!("entity.change.{key}[{i}]")))
                    .collect()
            })
            .unwrap_or(Ok(Vec::new()))
    };
    let (additions, deletions) = match (list("additions"), list("deletions")) {
        (Ok(a), Ok(d)) => (a, d),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    if additions.is_empty() && deletions.is_empty() {
        return google_error(
            StatusCode::BAD_REQUEST,
            "required",
            None,
            "The 'entity.change' parameter is required but was missing.",
        );
    }
    let mut rrsets = inner.rrsets.lock().await;
    let mut next = rrsets.clone();
    for (i, d) in deletions.iter().enumerate() {
        match next.iter().position(|r| r == d) {
            Some(at) => {
                next.remove(at);
            }
            None => {
                return google_error(
                    StatusCode::PRECONDITION_FAILED,
                    "conditionNotMet",
                    None,
                    &format!("Precondition not met for 'entity.change.deletions[{i}]'"),
                );
            }
        }
    }
    for (i, a) in additions.iter().enumerate() {
        if next.iter().any(|r| r.zone == a.zone && r.name == a.name) {
            return google_error(
                StatusCode::CONFLICT,
                "alreadyExists",
                None,
                &format!(
                    "The resource 'entity.change.additions[{i}]' named '{} (TXT)' already exists",
                    a.name
                ),
            );
        }
        next.push(a.clone());
    }
    let names: HashSet<String> = additions
        .iter()
        .chain(&deletions)
        .map(|r| r.name.clone())
        .collect();
    let before = std::mem::replace(&mut *rrsets, next);
    if !zone.private {
        for name in &names {
            if let Err(e) = mirror(&inner, &rrsets, &zone, name).await {
                *rrsets = before;
                return google_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "backendError",
                    None,
                    &e.to_string(),
                );
            }
        }
    }
    let id = inner.next_change.fetch_add(1, Ordering::SeqCst).to_string();
    let change = json!({
        "kind": "dns#change", "id": id, "startTime": "2026-01-01T00:00:00.000Z",
        "status": "pending",
        "additions": additions.iter().map(GRRSet::json).collect::<Vec<_>>(),
        "deletions": deletions.iter().map(GRRSet::json).collect::<Vec<_>>(),
    });
    let mut done = change.clone();
    done["status"] = "done".into();
    inner
        .changes
        .lock()
        .unwrap()
        .insert(format!("{zone_name}/{id}"), done);
    axum::Json(change).into_response()
}

async fn get_change(
    State(inner): State<Arc<Inner>>,
    Path((project, zone_name, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let line = format!("GET /managedZones/{zone_name}/changes/{id}");
    or_answer!(admit(&inner, &headers, &project, line));
    or_answer!(zone(&inner, &zone_name));
    match inner
        .changes
        .lock()
        .unwrap()
        .get(&format!("{zone_name}/{id}"))
    {
        Some(change) => axum::Json(change.clone()).into_response(),
        None => google_error(
            StatusCode::NOT_FOUND,
            "notFound",
            None,
            &format!("The 'parameters.changeId' resource named '{id}' does not exist."),
        ),
    }
}

/// Mirrors the record set `name` of a public zone into PowerDNS.
async fn mirror(
    inner: &Inner,
    rrsets: &[GRRSet],
    zone: &ManagedZone,
    name: &str,
) -> anyhow::Result<()> {
    let set = rrsets
        .iter()
        .find(|r| r.zone == zone.name && r.name == name);
    let values: Vec<String> = set
        .map(|s| s.rrdatas.iter().map(|d| unquote(d)).collect())
        .unwrap_or_default();
    let ttl = set.map_or(60, |s| s.ttl.max(1));
    inner
        .mirror
        .set_txt(
            zone.dns_name.trim_end_matches('.'),
            name.trim_end_matches('.'),
            ttl,
            &values,
        )
        .await
}
