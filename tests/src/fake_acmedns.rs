//! A fake acme-dns server on loopback, for the acmedns plugin's tests.
//!
//! Written from acme-dns's README and API: `POST /register` (201, a new
//! account: UUID `username` and `subdomain`, 40-character `password`,
//! `fulldomain` = `<subdomain>.<zone>`, `allowfrom`) and `POST /update`
//! (`X-Api-User`, `X-Api-Key`, `{"subdomain","txt"}`). As in acme-dns, a
//! wrong user or key, or a subdomain that is not the account's, answers
//! `401 {"error":"forbidden"}`; a subdomain that is not a UUID
//! `400 {"error":"bad_subdomain"}`; a value that is not 43 characters of
//! base64url `400 {"error":"bad_txt"}`; success `200 {"txt": value}`. Each
//! account has two TXT rows and an update overwrites the one written
//! longest ago, so the two latest values are served; there is no delete.
//! Values are mirrored into the PowerDNS zone the fake serves accounts
//! under. acme-dns itself never throttles: the rate-limit switch answers
//! `429` as a proxy in front of it would.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::fake_common::RequestLog;
use crate::fake_store::{PdnsMirror, random_id, random_uuid};
use crate::httpd::TestServer;
use crate::pdns::Pdns;
use crate::provider_suite::{Fake, Throttle};

/// One account: credentials and its two TXT rows (value, write counter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeDnsAccount {
    pub username: String,
    pub password: String,
    pub subdomain: String,
    pub fulldomain: String,
    pub rows: [(String, u64); 2],
}

impl AcmeDnsAccount {
    /// The values served (non-empty rows), oldest first.
    pub fn values(&self) -> Vec<String> {
        let mut rows = self.rows.to_vec();
        rows.sort_by_key(|(_, t)| *t);
        rows.into_iter()
            .map(|(v, _)| v)
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// The account as lego's storage file holds it (no `allowfrom`).
    pub fn storage_json(&self, server_url: &str) -> Value {
        json!({
            "username": self.username, "password": self.password,
            "subdomain": self.subdomain, "fulldomain": self.fulldomain,
            "server_url": server_url,
        })
    }
}

struct Inner {
    zone: String,
    accounts: tokio::sync::Mutex<Vec<AcmeDnsAccount>>,
    mirror: PdnsMirror,
    clock: AtomicU64,
    throttle: Throttle,
    requests: RequestLog,
}

/// A running fake.
pub struct FakeAcmeDns {
    pub server: TestServer,
    inner: Arc<Inner>,
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_challenge_value(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn error(status: StatusCode, code: &str) -> Response {
    (status, axum::Json(json!({"error": code}))).into_response()
}

impl FakeAcmeDns {
    /// Serves accounts under `zone`, which `pdns` must serve.
    pub async fn start(pdns: &Pdns, zone: &str) -> Self {
        let inner = Arc::new(Inner {
            zone: zone.trim_end_matches('.').to_ascii_lowercase(),
            accounts: tokio::sync::Mutex::new(Vec::new()),
            mirror: PdnsMirror::new(pdns),
            clock: AtomicU64::new(1),
            throttle: Throttle::new(),
            requests: RequestLog::default(),
        });
        let app = Router::new()
            .route("/register", post(register))
            .route("/update", post(update))
            .with_state(inner.clone());
        FakeAcmeDns {
            server: TestServer::start(app).await,
            inner,
        }
    }

    /// The server URL, as the plugin's `api_base`.
    pub fn api_base(&self) -> String {
        self.server.url()
    }

    /// Registers an account as `POST /register` does, through HTTP.
    pub async fn register(&self) -> AcmeDnsAccount {
        let response = reqwest::Client::new()
            .post(format!("{}/register", self.api_base()))
            .send()
            .await
            .expect("register");
        assert_eq!(response.status().as_u16(), 201);
        let body: Value = response.json().await.unwrap();
        let username = body["username"].as_str().unwrap();
        self.account(username).await.expect("registered")
    }

    pub async fn account(&self, username: &str) -> Option<AcmeDnsAccount> {
        self.inner
            .accounts
            .lock()
            .await
            .iter()
            .find(|a| a.username == username)
            .cloned()
    }

    /// `path` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.inner.requests.all()
    }
}

impl Fake for FakeAcmeDns {
    fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    /// Another client of the account serving `fqdn` (its fulldomain)
    /// updates it with `value`.
    async fn add_foreign(&self, fqdn: &str, value: &str) {
        let mut accounts = self.inner.accounts.lock().await;
        let account = accounts
            .iter_mut()
            .find(|a| a.fulldomain == fqdn)
            .expect("an account's fulldomain");
        write(&self.inner, account, value).await.unwrap();
    }

    async fn txt_records(&self) -> Vec<(String, String)> {
        self.inner
            .accounts
            .lock()
            .await
            .iter()
            .flat_map(|a| {
                a.values()
                    .into_iter()
                    .map(|v| (a.fulldomain.clone(), v))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

async fn register(State(inner): State<Arc<Inner>>) -> Response {
    inner.requests.push("/register");
    let subdomain = random_uuid();
    let account = AcmeDnsAccount {
        username: random_uuid(),
        password: random_id()[..20].to_string() + &random_id()[..20],
        fulldomain: format!("{subdomain}.{}", inner.zone),
        subdomain,
        rows: [(String::new(), 0), (String::new(), 0)],
    };
    let body = json!({
        "username": account.username, "password": account.password,
        "fulldomain": account.fulldomain, "subdomain": account.subdomain,
        "allowfrom": [],
    });
    inner.accounts.lock().await.push(account);
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

async fn update(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    inner.requests.push("/update");
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (user, key) = (header("x-api-user"), header("x-api-key"));
    let post: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let subdomain = post["subdomain"].as_str().unwrap_or("");
    let txt = post["txt"].as_str().unwrap_or("");
    let mut accounts = inner.accounts.lock().await;
    // acme-dns's Auth: the user must exist with this key, and the update
    // must be for its own subdomain; anything else is "forbidden".
    let Some(account) = accounts.iter_mut().find(|a| {
        user.is_some_and(|u| is_uuid(u) && u == a.username)
            && key == Some(a.password.as_str())
            && a.subdomain == subdomain
    }) else {
        return error(StatusCode::UNAUTHORIZED, "forbidden");
    };
    if let Some(r) = inner
        .throttle
        .intercept(|| error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests"))
    {
        return r;
    }
    if !is_uuid(subdomain) {
        return error(StatusCode::BAD_REQUEST, "bad_subdomain");
    }
    if !is_challenge_value(txt) {
        return error(StatusCode::BAD_REQUEST, "bad_txt");
    }
    if let Err(e) = write(&inner, account, txt).await {
        eprintln!("acme-dns fake: mirror failed: {e}");
        return error(StatusCode::INTERNAL_SERVER_ERROR, "db_error");
    }
    axum::Json(json!({"txt": txt})).into_response()
}

/// Overwrites the row written longest ago, then mirrors the account.
async fn write(inner: &Inner, account: &mut AcmeDnsAccount, value: &str) -> anyhow::Result<()> {
    let oldest = if account.rows[0].1 <= account.rows[1].1 {
        0
    } else {
        1
    };
    account.rows[oldest] = (
        value.to_string(),
        inner.clock.fetch_add(1, Ordering::SeqCst),
    );
    let mut values = account.values();
    values.sort();
    values.dedup();
    inner
        .mirror
        .set_txt(&inner.zone, &account.fulldomain, 1, &values)
        .await
}
