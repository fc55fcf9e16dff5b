//! A small in-process ACME server (plain HTTP on loopback) for what Pebble
//! 2.4 cannot do: ARI (`renewalInfo`, `replaces`), certificate profiles,
//! `Retry-After` on orders, and injected faults (429/503, `badNonce`, HTML
//! pages, truncated JSON, missing headers), and a CA that misbehaves: an
//! order slow to become `ready`, a certificate for another key or other
//! names, plain-http URLs; alternate chains (`alternates`). It checks every JWS the way a CA must:
//! signature (ES256/ES384/RS256, `jwk` or `kid`), single-use nonce and
//! `url`, and refuses to finalize an order that is not `ready`.
//! Challenges are valid from the start, unless dns-persist-01 is on
//! ([`FakeCa::with_persist`]): then every order gets one pending
//! authorization per name, offering dns-01 and dns-persist-01
//! (draft-ietf-acme-dns-persist-01: `issuer-domain-names`, no token), and
//! answering the dns-persist-01 challenge makes the server read
//! `_validation-persist.<name>` on a nameserver and check the record as
//! the draft says (issuer, `accounturi` = the requesting account, `policy=
//! wildcard` for a wildcard, `persistUntil` not past). With
//! [`FakeCa::with_persist_02`] it speaks draft-ietf-acme-dns-persist-02
//! instead: `issuerDomainNames` in the challenge, `accountHashPrefix` and
//! `issuerDomainNames` in the directory meta, and only a hashed account
//! URI accepted (§4.1-4.2: over the FQDN or `*`, the thumbprint of the
//! account's current or an earlier key, and the account URL); the account
//! URL itself (the -01 form) is refused as malformed. Accounts can be looked up by key
//! (`onlyReturnExisting`), fetched (POST-as-GET) and rolled over to a new
//! key (`keyChange`, with the inner JWS checked).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, IsCa, Issuer, KeyPair,
};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// dns-persist-01 as this CA runs it.
#[derive(Debug, Clone)]
pub struct PersistCa {
    /// The nameserver asked for `_validation-persist.<name>`.
    pub dns: SocketAddr,
    /// The issuer domain name (also the directory's `caaIdentities`).
    pub issuer: String,
    /// Draft -02 rather than -01.
    pub draft02: bool,
}

/// Where this CA's -02 hashed account URIs live, under its base URL.
const HASH_PREFIX_PATH: &str = "/account-hash/";

/// One authorization of an order when dns-persist-01 is on.
#[derive(Debug, Clone)]
struct PersistAuthz {
    /// The base name (no `*.`).
    name: String,
    wildcard: bool,
    status: &'static str,
    error: Option<Value>,
}

/// A dns-persist-01 challenge answered: what to check once the record is read.
struct PersistCheck {
    index: usize,
    account: String,
}

/// A canned answer served instead of the normal one.
#[derive(Debug, Clone)]
pub struct Fault {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub retry_after: Option<String>,
    /// Send a fresh Replay-Nonce with it.
    pub nonce: bool,
}

impl Fault {
    pub fn problem(status: u16, kind: &str, detail: &str) -> Fault {
        Fault {
            status,
            content_type: "application/problem+json",
            body: json!({"type": format!("urn:ietf:params:acme:error:{kind}"), "detail": detail})
                .to_string(),
            retry_after: None,
            nonce: true,
        }
    }

    pub fn retry_after(mut self, value: &str) -> Fault {
        self.retry_after = Some(value.to_owned());
        self
    }

    pub fn raw(status: u16, content_type: &'static str, body: &str) -> Fault {
        Fault {
            status,
            content_type,
            body: body.to_owned(),
            retry_after: None,
            nonce: true,
        }
    }
}

/// What the server saw and how it behaves.
pub struct CaState {
    base: String,
    nonces: HashSet<String>,
    next_id: u64,
    accounts: HashMap<String, Value>,
    /// The keys each account had before a `keyChange`, oldest first.
    old_keys: HashMap<String, Vec<Value>>,
    /// Faults to serve, per path, first in first out.
    faults: HashMap<String, VecDeque<Fault>>,
    /// Every request as "METHOD /path".
    pub requests: Vec<String>,
    /// The payloads of `newOrder`.
    pub new_orders: Vec<Value>,
    /// How many order polls answer `processing` after finalize.
    pub processing_polls: u32,
    /// The `Retry-After` (seconds) sent with `processing`.
    pub processing_retry_after: Option<u64>,
    /// How many order polls answer `pending` before the order is `ready`
    /// (a finalize before then gets `orderNotReady`).
    pub pending_polls: u32,
    /// The `Retry-After` (seconds) sent with `pending`.
    pub pending_retry_after: Option<u64>,
    polls_before_ready: u32,
    finalized: bool,
    polls_after_finalize: u32,
    /// Issue the certificate for a key other than the CSR's.
    pub wrong_key: bool,
    /// Issue the certificate for these DNS names instead of the CSR's.
    pub wrong_names: Option<Vec<String>>,
    /// Directory members replaced (e.g. a plain-http `newOrder`).
    pub directory_overrides: serde_json::Map<String, Value>,
    /// The finalize URL orders advertise instead of the real one.
    pub finalize_url: Option<String>,
    issuer: Issuer<'static, KeyPair>,
    chain_pem: Option<String>,
    /// The ARI certificate id `renewalInfo` knows.
    pub known_cert_id: Option<String>,
    /// Alternate chains linked from the certificate (`/cert/1/alt/<n>`,
    /// n from 1): the leaf under a self-signed "Fake Alternate Root <n>".
    pub alternates: u32,
    /// dns-persist-01 on, validated at this nameserver.
    pub persist: Option<PersistCa>,
    persist_authz: Vec<PersistAuthz>,
}

pub struct FakeCa {
    pub addr: std::net::SocketAddr,
    pub state: Arc<Mutex<CaState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCa {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeCa {
    pub async fn start() -> FakeCa {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "Fake ACME Root");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let state = Arc::new(Mutex::new(CaState {
            base: base.clone(),
            nonces: HashSet::new(),
            next_id: 1,
            accounts: HashMap::new(),
            old_keys: HashMap::new(),
            faults: HashMap::new(),
            requests: Vec::new(),
            new_orders: Vec::new(),
            processing_polls: 1,
            processing_retry_after: Some(1),
            pending_polls: 0,
            pending_retry_after: None,
            polls_before_ready: 0,
            finalized: false,
            wrong_key: false,
            wrong_names: None,
            directory_overrides: serde_json::Map::new(),
            finalize_url: None,
            polls_after_finalize: 0,
            issuer: Issuer::new(ca, ca_key),
            chain_pem: None,
            known_cert_id: None,
            alternates: 0,
            persist: None,
            persist_authz: Vec::new(),
        }));
        let app = Router::new().fallback(handle).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeCa { addr, state, task }
    }

    /// A server whose orders must be authorized by dns-persist-01 (or
    /// dns-01, which it never validates) records read at `dns`.
    pub async fn with_persist(dns: SocketAddr, issuer: &str) -> FakeCa {
        let ca = FakeCa::start().await;
        ca.state.lock().unwrap().persist = Some(PersistCa {
            dns,
            issuer: issuer.to_owned(),
            draft02: false,
        });
        ca
    }

    /// [`FakeCa::with_persist`], speaking draft -02.
    pub async fn with_persist_02(dns: SocketAddr, issuer: &str) -> FakeCa {
        let ca = FakeCa::with_persist(dns, issuer).await;
        ca.state.lock().unwrap().persist.as_mut().unwrap().draft02 = true;
        ca
    }

    /// What this CA's validation of `values` served at
    /// `_validation-persist.<domain>` for `account` concludes: the error
    /// kind and detail it would put on the challenge.
    pub fn validate(
        &self,
        values: &[String],
        account: &str,
        domain: &str,
        wildcard: bool,
    ) -> Result<(), (&'static str, String)> {
        let st = self.state.lock().unwrap();
        let issuer = st.persist.as_ref().unwrap().issuer.clone();
        validate_persist(
            values,
            &issuer,
            &account_check(&st, account, domain),
            wildcard,
        )
    }

    /// The directory's `accountHashPrefix` in -02 mode.
    pub fn account_hash_prefix(&self) -> String {
        format!("http://{}{HASH_PREFIX_PATH}", self.addr)
    }

    /// The -02 hashed account URI this CA expects, for the account at `url`
    /// with its current key, in the record of `domain` (or `*`).
    pub fn hashed_account_uri(&self, url: &str, domain: &str) -> String {
        let jwk = self.state.lock().unwrap().accounts[url].clone();
        hashed_uri(&self.account_hash_prefix(), domain, &thumbprint(&jwk), url)
    }

    pub fn directory_url(&self) -> String {
        format!("http://{}/dir", self.addr)
    }

    /// Serves `fault` for the next request to `path` (repeatable: queued).
    pub fn inject(&self, path: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .entry(path.to_owned())
            .or_default()
            .push_back(fault);
    }

    /// Requests seen for a path ("POST /new-order").
    pub fn count(&self, request: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| *r == request)
            .count()
    }
}

fn problem(status: u16, kind: &str, detail: &str) -> Fault {
    Fault::problem(status, kind, detail)
}

fn respond(
    state: &mut CaState,
    status: u16,
    headers: Vec<(&str, String)>,
    content_type: &str,
    body: String,
) -> Response {
    let mut map = HeaderMap::new();
    map.insert("content-type", HeaderValue::from_str(content_type).unwrap());
    let nonce = new_nonce(state);
    map.insert("replay-nonce", HeaderValue::from_str(&nonce).unwrap());
    for (k, v) in headers {
        map.append(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(&v).unwrap(),
        );
    }
    (StatusCode::from_u16(status).unwrap(), map, body).into_response()
}

fn new_nonce(state: &mut CaState) -> String {
    state.next_id += 1;
    let nonce = B64.encode(format!("nonce-{}", state.next_id));
    state.nonces.insert(nonce.clone());
    nonce
}

fn fault_response(state: &mut CaState, f: Fault) -> Response {
    let mut headers = Vec::new();
    if let Some(ra) = &f.retry_after {
        headers.push(("retry-after", ra.clone()));
    }
    if f.nonce {
        respond(state, f.status, headers, f.content_type, f.body)
    } else {
        let mut map = HeaderMap::new();
        map.insert("content-type", HeaderValue::from_static(f.content_type));
        (StatusCode::from_u16(f.status).unwrap(), map, f.body).into_response()
    }
}

/// What the locked part of a request leaves to do.
enum Handled {
    Done(Response),
    /// A dns-persist-01 challenge to validate: the record is read without
    /// the lock held.
    Persist(PersistCheck, SocketAddr, String),
}

async fn handle(
    State(state): State<Arc<Mutex<CaState>>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let handled = handle_locked(&mut state.lock().unwrap(), method, &uri, &body);
    let (check, dns, record) = match handled {
        Handled::Done(response) => return response,
        Handled::Persist(check, dns, record) => (check, dns, record),
    };
    let served = wacme_tests::pdns::txt_values_at(dns, &record).await;
    let mut st = state.lock().unwrap();
    finish_persist(&mut st, check, served)
}

fn handle_locked(st: &mut CaState, method: Method, uri: &Uri, body: &[u8]) -> Handled {
    let path = uri.path().to_owned();
    if method == Method::POST && path.starts_with("/chall/p") && st.persist.is_some() {
        st.requests.push(format!("{method} {path}"));
        return match verify_jws(st, &path, body) {
            Ok((_, Signer::Kid(account))) => {
                let index: usize = path["/chall/p".len()..].parse().unwrap_or(usize::MAX);
                let Some(authz) = st.persist_authz.get(index) else {
                    let f = problem(404, "malformed", "no such challenge");
                    return Handled::Done(fault_response(st, f));
                };
                let record = format!("_validation-persist.{}", authz.name);
                let dns = st.persist.as_ref().unwrap().dns;
                Handled::Persist(PersistCheck { index, account }, dns, record)
            }
            Ok(_) => Handled::Done(fault_response(
                st,
                problem(400, "malformed", "use kid here"),
            )),
            Err(f) => Handled::Done(fault_response(st, f)),
        };
    }
    Handled::Done(handle_plain(st, method, &path, body))
}

fn handle_plain(st: &mut CaState, method: Method, path: &str, body: &[u8]) -> Response {
    let path = path.to_owned();
    st.requests.push(format!("{method} {path}"));
    if let Some(f) = st.faults.get_mut(&path).and_then(|q| q.pop_front()) {
        return fault_response(st, f);
    }
    let base = st.base.clone();
    match (method.clone(), path.as_str()) {
        (Method::GET, "/dir") => {
            let mut dir = json!({
                "newNonce": format!("{base}/nonce"),
                "newAccount": format!("{base}/new-account"),
                "newOrder": format!("{base}/new-order"),
                "revokeCert": format!("{base}/revoke"),
                "keyChange": format!("{base}/key-change"),
                "renewalInfo": format!("{base}/renewal-info"),
                "meta": {
                    "termsOfService": format!("{base}/terms"),
                    "profiles": {"classic": "The usual", "shortlived": "Six days"},
                },
                "zz9PluralZAlpha": "https://example.com/random-directory-entry",
            });
            if let Some(p) = &st.persist {
                dir["meta"]["caaIdentities"] = json!([p.issuer]);
                if p.draft02 {
                    dir["meta"]["issuerDomainNames"] = json!([p.issuer]);
                    dir["meta"]["accountHashPrefix"] = json!(format!("{base}{HASH_PREFIX_PATH}"));
                }
            }
            for (k, v) in &st.directory_overrides {
                dir[k] = v.clone();
            }
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                dir.to_string(),
            )
                .into_response()
        }
        (Method::HEAD | Method::GET, "/nonce") => {
            let nonce = new_nonce(st);
            (
                StatusCode::OK,
                [
                    ("replay-nonce", nonce),
                    ("cache-control", "no-store".into()),
                ],
            )
                .into_response()
        }
        (Method::GET, p) if p.starts_with("/renewal-info/") => {
            let id = &p["/renewal-info/".len()..];
            if st.known_cert_id.as_deref() != Some(id) {
                let f = problem(404, "malformed", "unknown certificate id");
                return fault_response(st, f);
            }
            let body = json!({
                "suggestedWindow": {"start": "2030-01-01T00:00:00Z", "end": "2030-01-03T00:00:00Z"},
                "explanationURL": format!("{base}/why"),
            });
            (
                StatusCode::OK,
                [
                    ("content-type", "application/json"),
                    ("retry-after", "21600"),
                ],
                body.to_string(),
            )
                .into_response()
        }
        (Method::POST, _) => match verify_jws(st, &path, body) {
            Ok((payload, signer)) => post(st, &path, payload, signer),
            Err(f) => fault_response(st, f),
        },
        _ => fault_response(st, problem(404, "malformed", "no such resource")),
    }
}

/// Who signed a request: a new key (its JWK) or an account (its URL).
enum Signer {
    Jwk(Value),
    Kid(String),
}

fn verify_jws(st: &mut CaState, path: &str, body: &[u8]) -> Result<(Option<Value>, Signer), Fault> {
    let bad = |d: &str| problem(400, "malformed", d);
    let jws: Value = serde_json::from_slice(body).map_err(|_| bad("not JSON"))?;
    let protected_b64 = jws["protected"]
        .as_str()
        .ok_or_else(|| bad("no protected"))?;
    let payload_b64 = jws["payload"].as_str().ok_or_else(|| bad("no payload"))?;
    let sig = B64
        .decode(
            jws["signature"]
                .as_str()
                .ok_or_else(|| bad("no signature"))?,
        )
        .map_err(|_| bad("signature not base64url"))?;
    let header: Value = serde_json::from_slice(
        &B64.decode(protected_b64)
            .map_err(|_| bad("protected not b64"))?,
    )
    .map_err(|_| bad("protected not JSON"))?;
    let url = format!("{}{path}", st.base);
    if header["url"] != url {
        return Err(bad(&format!("url {} is not {url}", header["url"])));
    }
    let nonce = header["nonce"].as_str().ok_or_else(|| bad("no nonce"))?;
    if !st.nonces.remove(nonce) {
        return Err(problem(400, "badNonce", "unknown or reused nonce"));
    }
    let (jwk, signer) = match (header.get("jwk"), header.get("kid")) {
        (Some(jwk), None) => (jwk.clone(), Signer::Jwk(jwk.clone())),
        (None, Some(kid)) => {
            let kid = kid.as_str().unwrap_or_default().to_owned();
            let jwk = st
                .accounts
                .get(&kid)
                .cloned()
                .ok_or_else(|| problem(400, "accountDoesNotExist", "no such account"))?;
            (jwk, Signer::Kid(kid))
        }
        _ => return Err(bad("exactly one of jwk and kid")),
    };
    let input = format!("{protected_b64}.{payload_b64}");
    let alg = header["alg"].as_str().unwrap_or_default();
    if !verify_signature(alg, &jwk, input.as_bytes(), &sig) {
        return Err(problem(400, "malformed", "JWS signature does not verify"));
    }
    let payload = if payload_b64.is_empty() {
        None
    } else {
        Some(
            serde_json::from_slice(
                &B64.decode(payload_b64)
                    .map_err(|_| bad("payload not b64"))?,
            )
            .map_err(|_| bad("payload not JSON"))?,
        )
    };
    Ok((payload, signer))
}

fn verify_signature(alg: &str, jwk: &Value, input: &[u8], sig: &[u8]) -> bool {
    use ring::signature;
    let field = |k: &str| {
        B64.decode(jwk[k].as_str().unwrap_or_default())
            .unwrap_or_default()
    };
    match (alg, jwk["kty"].as_str()) {
        ("ES256" | "ES384", Some("EC")) => {
            let mut point = vec![4u8];
            point.extend(field("x"));
            point.extend(field("y"));
            let v: &dyn signature::VerificationAlgorithm = match (alg, jwk["crv"].as_str()) {
                ("ES256", Some("P-256")) => &signature::ECDSA_P256_SHA256_FIXED,
                ("ES384", Some("P-384")) => &signature::ECDSA_P384_SHA384_FIXED,
                _ => return false,
            };
            signature::UnparsedPublicKey::new(v, point)
                .verify(input, sig)
                .is_ok()
        }
        ("RS256", Some("RSA")) => signature::RsaPublicKeyComponents {
            n: field("n"),
            e: field("e"),
        }
        .verify(&signature::RSA_PKCS1_2048_8192_SHA256, input, sig)
        .is_ok(),
        _ => false,
    }
}

fn post(st: &mut CaState, path: &str, payload: Option<Value>, signer: Signer) -> Response {
    let base = st.base.clone();
    let json_ok = |st: &mut CaState, status: u16, headers: Vec<(&str, String)>, v: Value| {
        respond(st, status, headers, "application/json", v.to_string())
    };
    match (path, signer) {
        ("/new-account", Signer::Jwk(jwk))
            if payload
                .as_ref()
                .is_some_and(|p| p["onlyReturnExisting"] == true) =>
        {
            find_account(st, &jwk)
        }
        ("/key-change", Signer::Kid(kid)) => key_change(st, &kid, payload),
        (p, Signer::Kid(kid)) if p.starts_with("/acct/") && kid == format!("{base}{p}") => {
            let body = json!({"status": "valid", "orders": format!("{kid}/orders")});
            json_ok(st, 200, vec![], body)
        }
        ("/new-account", Signer::Jwk(jwk)) => {
            let payload = payload.unwrap_or_default();
            if payload["termsOfServiceAgreed"] != true {
                return fault_response(
                    st,
                    problem(403, "userActionRequired", "agree to the terms"),
                );
            }
            let existing = st
                .accounts
                .iter()
                .find(|(_, k)| **k == jwk)
                .map(|(u, _)| u.clone());
            let (url, status) = match existing {
                Some(url) => (url, 200),
                None => {
                    let url = format!("{base}/acct/{}", st.accounts.len() + 1);
                    st.accounts.insert(url.clone(), jwk);
                    (url, 201)
                }
            };
            let body = json!({"status": "valid", "contact": payload["contact"], "orders": format!("{url}/orders")});
            json_ok(st, status, vec![("location", url)], body)
        }
        (_, Signer::Jwk(_)) => fault_response(st, problem(400, "malformed", "use kid here")),
        ("/new-order", Signer::Kid(_)) => {
            let payload = payload.unwrap_or_default();
            st.new_orders.push(payload.clone());
            st.finalized = false;
            st.polls_after_finalize = 0;
            st.polls_before_ready = 0;
            st.persist_authz = if st.persist.is_some() {
                payload["identifiers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i["value"].as_str())
                    .map(|v| PersistAuthz {
                        name: v.trim_start_matches("*.").to_owned(),
                        wildcard: v.starts_with("*."),
                        status: "pending",
                        error: None,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let status = if st.pending_polls > 0 || !st.persist_authz.is_empty() {
                "pending"
            } else {
                "ready"
            };
            let body = order_body(st, status, &payload["identifiers"]);
            json_ok(st, 201, vec![("location", format!("{base}/order/1"))], body)
        }
        (p, Signer::Kid(_)) if p.starts_with("/authz/p") => {
            let index: usize = p["/authz/p".len()..].parse().unwrap_or(usize::MAX);
            match st.persist_authz.get(index) {
                Some(a) => {
                    let body = persist_authz_body(st, index, a);
                    json_ok(st, 200, vec![], body)
                }
                None => fault_response(st, problem(404, "malformed", "no such authorization")),
            }
        }
        ("/authz/1", Signer::Kid(_)) => {
            let body = json!({
                "status": "valid",
                "identifier": {"type": "dns", "value": "example.com"},
                "challenges": [{"type": "dns-01", "url": format!("{base}/chall/1"), "status": "valid", "token": "tok"}],
            });
            json_ok(st, 200, vec![], body)
        }
        ("/order/1/finalize", Signer::Kid(_)) => {
            if st.polls_before_ready < st.pending_polls
                || st.finalized
                || st.persist_authz.iter().any(|a| a.status != "valid")
            {
                let f = problem(403, "orderNotReady", "the order is not ready");
                return fault_response(st, f);
            }
            let csr_b64 = payload
                .as_ref()
                .and_then(|p| p["csr"].as_str())
                .unwrap_or_default()
                .to_owned();
            let csr_der = B64.decode(csr_b64).unwrap_or_default();
            let Ok(csr) = CertificateSigningRequestParams::from_der(&csr_der.into()) else {
                return fault_response(st, problem(400, "badCSR", "CSR does not parse"));
            };
            let mut csr = csr;
            csr.params.use_authority_key_identifier_extension = true;
            csr.params.serial_number = Some(rcgen::SerialNumber::from_slice(&[
                0x00, 0x87, 0x65, 0x43, 0x21,
            ]));
            if let Some(names) = &st.wrong_names {
                csr.params.subject_alt_names = names
                    .iter()
                    .map(|n| rcgen::SanType::DnsName(n.clone().try_into().unwrap()))
                    .collect();
            }
            let cert = if st.wrong_key {
                let other = KeyPair::generate().unwrap();
                csr.params.signed_by(&other, &st.issuer).unwrap()
            } else {
                csr.signed_by(&st.issuer).unwrap()
            };
            st.known_cert_id = Some(wacme::acme::cert_id(cert.der()).unwrap());
            st.chain_pem = Some(cert.pem());
            st.finalized = true;
            let last = st.new_orders.last().cloned().unwrap_or_default();
            let (status, headers) = processing(st);
            let body = order_body(st, status, &last["identifiers"]);
            json_ok(st, 200, headers, body)
        }
        ("/order/1", Signer::Kid(_)) => {
            let last = st.new_orders.last().cloned().unwrap_or_default();
            let (status, headers) = if st.finalized {
                st.polls_after_finalize += 1;
                if st.polls_after_finalize <= st.processing_polls.saturating_sub(1) {
                    processing(st)
                } else {
                    ("valid", vec![])
                }
            } else if let Some(status) = persist_order_status(st) {
                (status, vec![])
            } else if st.polls_before_ready < st.pending_polls {
                st.polls_before_ready += 1;
                let headers = st
                    .pending_retry_after
                    .map(|s| vec![("retry-after", s.to_string())])
                    .unwrap_or_default();
                ("pending", headers)
            } else {
                ("ready", vec![])
            };
            let body = order_body(st, status, &last["identifiers"]);
            json_ok(st, 200, headers, body)
        }
        ("/cert/1", Signer::Kid(_)) => {
            let pem = st.chain_pem.clone().unwrap_or_default();
            let links = (1..=st.alternates)
                .map(|n| ("link", format!("<{base}/cert/1/alt/{n}>;rel=\"alternate\"")))
                .collect();
            respond(st, 200, links, "application/pem-certificate-chain", pem)
        }
        (p, Signer::Kid(_)) if p.starts_with("/cert/1/alt/") => {
            let n = &p["/cert/1/alt/".len()..];
            let mut root = CertificateParams::new(Vec::<String>::new()).unwrap();
            root.distinguished_name.push(
                rcgen::DnType::CommonName,
                format!("Fake Alternate Root {n}"),
            );
            root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let root = root.self_signed(&KeyPair::generate().unwrap()).unwrap();
            let pem = st.chain_pem.clone().unwrap_or_default() + &root.pem();
            respond(st, 200, vec![], "application/pem-certificate-chain", pem)
        }
        _ => fault_response(st, problem(404, "malformed", "no such resource")),
    }
}

fn processing(st: &CaState) -> (&'static str, Vec<(&'static str, String)>) {
    if st.processing_polls == 0 {
        return ("valid", vec![]);
    }
    let headers = st
        .processing_retry_after
        .map(|s| vec![("retry-after", s.to_string())])
        .unwrap_or_default();
    ("processing", headers)
}

fn order_body(st: &CaState, status: &str, identifiers: &Value) -> Value {
    let base = &st.base;
    let authorizations: Vec<String> = if st.persist_authz.is_empty() {
        vec![format!("{base}/authz/1")]
    } else {
        (0..st.persist_authz.len())
            .map(|i| format!("{base}/authz/p{i}"))
            .collect()
    };
    let mut body = json!({
        "status": status,
        "identifiers": identifiers,
        "authorizations": authorizations,
        "finalize": st.finalize_url.clone().unwrap_or_else(|| format!("{base}/order/1/finalize")),
    });
    if status == "valid" {
        body["certificate"] = format!("{base}/cert/1").into();
    }
    if let Some(last) = st.new_orders.last() {
        for k in ["profile", "replaces"] {
            if let Some(v) = last.get(k) {
                body[k] = v.clone();
            }
        }
    }
    body
}

/// `newAccount` with `onlyReturnExisting`: the account of `jwk`, or
/// `accountDoesNotExist`.
fn find_account(st: &mut CaState, jwk: &Value) -> Response {
    let Some(url) = st
        .accounts
        .iter()
        .find(|(_, k)| *k == jwk)
        .map(|(u, _)| u.clone())
    else {
        let f = problem(400, "accountDoesNotExist", "no account for this key");
        return fault_response(st, f);
    };
    let body = json!({"status": "valid", "orders": format!("{url}/orders")});
    respond(
        st,
        200,
        vec![("location", url)],
        "application/json",
        body.to_string(),
    )
}

/// `keyChange` (RFC 8555 §7.3.5): the outer JWS (already checked) is signed
/// by the account `kid`; the inner one by the new key, for the same URL,
/// naming the account and its current key.
fn key_change(st: &mut CaState, kid: &str, payload: Option<Value>) -> Response {
    let bad = |d: &str| problem(400, "malformed", d);
    let inner = payload.unwrap_or_default();
    let checked = (|| {
        let protected_b64 = inner["protected"]
            .as_str()
            .ok_or_else(|| bad("no inner protected"))?;
        let payload_b64 = inner["payload"]
            .as_str()
            .ok_or_else(|| bad("no inner payload"))?;
        let sig = B64
            .decode(inner["signature"].as_str().unwrap_or_default())
            .map_err(|_| bad("inner signature not base64url"))?;
        let header: Value = B64
            .decode(protected_b64)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| bad("inner protected not JSON"))?;
        let body: Value = B64
            .decode(payload_b64)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| bad("inner payload not JSON"))?;
        if header["url"] != format!("{}/key-change", st.base) {
            return Err(bad("inner url is not the keyChange URL"));
        }
        let new_jwk = header["jwk"].clone();
        let input = format!("{protected_b64}.{payload_b64}");
        let alg = header["alg"].as_str().unwrap_or_default();
        if !verify_signature(alg, &new_jwk, input.as_bytes(), &sig) {
            return Err(bad("inner JWS signature does not verify"));
        }
        if body["account"] != kid {
            return Err(bad("inner account is not the signer"));
        }
        if st.accounts.get(kid) != Some(&body["oldKey"]) {
            return Err(bad("oldKey is not the account key"));
        }
        if st.accounts.values().any(|k| *k == new_jwk) {
            return Err(problem(409, "conflict", "the new key has an account"));
        }
        Ok(new_jwk)
    })();
    match checked {
        Ok(new_jwk) => {
            if let Some(old) = st.accounts.insert(kid.to_owned(), new_jwk) {
                st.old_keys.entry(kid.to_owned()).or_default().push(old);
            }
            let body = json!({"status": "valid", "orders": format!("{kid}/orders")});
            respond(st, 200, vec![], "application/json", body.to_string())
        }
        Err(f) => fault_response(st, f),
    }
}

/// The order's status while dns-persist-01 authorizations decide it:
/// `pending` until each is valid, `invalid` once one is (`None` when they
/// are all valid, or there are none).
fn persist_order_status(st: &CaState) -> Option<&'static str> {
    if st.persist_authz.iter().any(|a| a.status == "invalid") {
        Some("invalid")
    } else if st.persist_authz.iter().any(|a| a.status != "valid") {
        Some("pending")
    } else {
        None
    }
}

fn persist_challenge_body(st: &CaState, index: usize, a: &PersistAuthz) -> Value {
    let p = st.persist.as_ref().unwrap();
    let field = if p.draft02 {
        "issuerDomainNames"
    } else {
        "issuer-domain-names"
    };
    let mut challenge = json!({
        "type": "dns-persist-01",
        "url": format!("{}/chall/p{index}", st.base),
        "status": a.status,
    });
    challenge[field] = json!([p.issuer]);
    if let Some(e) = &a.error {
        challenge["error"] = e.clone();
    }
    challenge
}

fn persist_authz_body(st: &CaState, index: usize, a: &PersistAuthz) -> Value {
    json!({
        "status": a.status,
        "identifier": {"type": "dns", "value": a.name},
        "wildcard": a.wildcard,
        "challenges": [
            {"type": "dns-01", "url": format!("{}/chall/d{index}", st.base), "status": "pending", "token": format!("tok{index}")},
            persist_challenge_body(st, index, a),
        ],
    })
}

/// Checks the values read at `_validation-persist.<name>` for an
/// authorization, per draft-ietf-acme-dns-persist-01 §3-4 (or -02), and
/// records the outcome on it: the challenge as the answer.
fn finish_persist(
    st: &mut CaState,
    check: PersistCheck,
    served: anyhow::Result<Vec<String>>,
) -> Response {
    let p = st.persist.clone().unwrap();
    let authz = st.persist_authz[check.index].clone();
    let account = account_check(st, &check.account, &authz.name);
    let outcome = match served {
        Err(e) => Err(("dns", format!("reading the record: {e}"))),
        Ok(values) => validate_persist(&values, &p.issuer, &account, authz.wildcard),
    };
    let updated = &mut st.persist_authz[check.index];
    match outcome {
        Ok(()) => updated.status = "valid",
        Err((kind, detail)) => {
            updated.status = "invalid";
            updated.error = Some(json!({
                "type": format!("urn:ietf:params:acme:error:{kind}"),
                "detail": detail,
            }));
        }
    }
    let a = st.persist_authz[check.index].clone();
    let body = persist_challenge_body(st, check.index, &a);
    respond(st, 200, vec![], "application/json", body.to_string())
}

/// How a record at `_validation-persist.<domain>` must name `account` in
/// this CA's draft.
fn account_check(st: &CaState, account: &str, domain: &str) -> AccountCheck {
    if !st.persist.as_ref().is_some_and(|p| p.draft02) {
        return AccountCheck::Url(account.to_owned());
    }
    // The current key first, then earlier ones, newest first (§4.2).
    let mut keys = vec![st.accounts[account].clone()];
    keys.extend(
        st.old_keys
            .get(account)
            .into_iter()
            .flatten()
            .rev()
            .cloned(),
    );
    AccountCheck::Hashed {
        prefix: format!("{}{HASH_PREFIX_PATH}", st.base),
        url: account.to_owned(),
        thumbprints: keys.iter().map(thumbprint).collect(),
        domain: domain.to_owned(),
    }
}

/// How a record must name the requesting account.
enum AccountCheck {
    /// -01: the account URL.
    Url(String),
    /// -02: a hashed account URI under `prefix`, over `domain` or `*`, one
    /// of `thumbprints` and `url`.
    Hashed {
        prefix: String,
        url: String,
        thumbprints: Vec<String>,
        domain: String,
    },
}

/// RFC 7638: the SHA-256 thumbprint of a JWK (EC or RSA), unpadded
/// base64url: the required members in lexicographic order, no whitespace.
pub fn thumbprint(jwk: &Value) -> String {
    let canonical = match jwk["kty"].as_str() {
        Some("EC") => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["crv"].as_str().unwrap(),
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        ),
        Some("RSA") => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            jwk["e"].as_str().unwrap(),
            jwk["n"].as_str().unwrap()
        ),
        other => panic!("no thumbprint for kty {other:?}"),
    };
    B64.encode(ring::digest::digest(
        &ring::digest::SHA256,
        canonical.as_bytes(),
    ))
}

/// Draft -02 §4.1: `prefix` `sha-256/` base64url(SHA-256(len(domain) ||
/// domain || thumbprint || url)).
pub fn hashed_uri(prefix: &str, domain: &str, thumbprint: &str, url: &str) -> String {
    let mut input = vec![u8::try_from(domain.len()).unwrap()];
    input.extend_from_slice(domain.as_bytes());
    input.extend_from_slice(thumbprint.as_bytes());
    input.extend_from_slice(url.as_bytes());
    let digest = ring::digest::digest(&ring::digest::SHA256, &input);
    format!("{prefix}sha-256/{}", B64.encode(digest))
}

/// Whether `value` (an `accounturi`) names the account: `Err` holds the
/// error kind (`malformed` for a value that is no hashed URI of this CA in
/// -02, per §9.3.1) and the reason.
fn account_matches(account: &AccountCheck, value: &str) -> Result<(), (&'static str, String)> {
    match account {
        AccountCheck::Url(url) if value == url => Ok(()),
        AccountCheck::Url(_) => Err(("unauthorized", "accounturi mismatch".into())),
        AccountCheck::Hashed {
            prefix,
            url,
            thumbprints,
            domain,
        } => {
            let Some(rest) = value.strip_prefix(prefix.as_str()) else {
                return Err((
                    "malformed",
                    format!("accounturi is not a hashed URI under {prefix}"),
                ));
            };
            let well_formed = rest
                .strip_prefix("sha-256/")
                .is_some_and(|h| h.len() == 43 && B64.decode(h).is_ok_and(|d| d.len() == 32));
            if !well_formed {
                return Err(("malformed", "accounturi is not sha-256/<base64url>".into()));
            }
            let hit = thumbprints.iter().any(|t| {
                [domain.as_str(), "*"]
                    .iter()
                    .any(|d| hashed_uri(prefix, d, t, url) == value)
            });
            if hit {
                Ok(())
            } else {
                Err(("unauthorized", "hashed accounturi mismatch".into()))
            }
        }
    }
}

/// Whether one of `values` authorizes `account`: an issue-value whose
/// issuer domain is `issuer`, whose `accounturi` names the account, with
/// `policy=wildcard` for a wildcard, and a `persistUntil` not past. The
/// error kind and detail when none does (`malformed` when every record of
/// this CA was).
fn validate_persist(
    values: &[String],
    issuer: &str,
    account: &AccountCheck,
    wildcard: bool,
) -> Result<(), (&'static str, String)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut reasons = Vec::new();
    let mut unauthorized = false;
    for value in values {
        let mut parts = value.split(';').map(|p| p.trim_matches([' ', '\t']));
        if parts.next() != Some(issuer) {
            continue;
        }
        let mut params = HashMap::new();
        for p in parts {
            let Some((tag, v)) = p.split_once('=') else {
                return Err(("malformed", format!("bad parameter {p:?} in {value:?}")));
            };
            params.insert(tag.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
        let Some(account_uri) = params.get("accounturi") else {
            reasons.push(format!("no accounturi in {value:?}"));
            continue;
        };
        if let Err((kind, why)) = account_matches(account, account_uri) {
            unauthorized |= kind == "unauthorized";
            reasons.push(format!("{why} in {value:?}"));
            continue;
        }
        let policy = params.get("policy").map(|p| p.to_ascii_lowercase());
        if wildcard && policy.as_deref() != Some("wildcard") {
            unauthorized = true;
            reasons.push(format!("no policy=wildcard in {value:?}"));
            continue;
        }
        if let Some(until) = params.get("persistuntil") {
            match until.parse::<i64>() {
                Ok(t) if now > t => {
                    unauthorized = true;
                    reasons.push(format!("persistUntil passed in {value:?}"));
                    continue;
                }
                Ok(_) => {}
                Err(_) => return Err(("malformed", format!("bad persistUntil in {value:?}"))),
            }
        }
        return Ok(());
    }
    if reasons.is_empty() {
        unauthorized = true;
        reasons.push("no TXT record for this CA".into());
    }
    let kind = if unauthorized {
        "unauthorized"
    } else {
        "malformed"
    };
    Err((kind, reasons.join("; ")))
}
