//! A fake Alibaba Cloud DNS (Alidns, RPC API 2015-01-09) on loopback, for
//! the alidns plugin's tests.
//!
//! Every request's signature is verified the way the real service does it,
//! with an implementation of its own (on `ring`, independent of the
//! plugin's): V1 (HMAC-SHA1 over the sorted, doubly encoded query, key
//! `secret&`) and V3 (`ACS3-HMAC-SHA256` over the canonical request, with
//! the body hash checked). A wrong signature is `SignatureDoesNotMatch` with
//! the server's string to sign in the message, a timestamp more than 15
//! minutes off is `InvalidTimeStamp.Expired`, a reused nonce is
//! `SignatureNonceUsed`, an unknown key `InvalidAccessKeyId.NotFound` (404).
//! With temporary credentials (an `STS.` AccessKey ID, or
//! [`AlidnsOptions::security_token`] set) a request without the token
//! (`x-acs-security-token` in V3, `SecurityToken` in V1) is
//! `MissingSecurityToken`, one with another token
//! `InvalidSecurityToken.MismatchWithAccessKey`, as the real service answers.
//! Actions: `AddDomainRecord` (`DomainRecordDuplicate`, `QuotaExceeded.TTL`),
//! `DeleteDomainRecord` (`DomainRecordNotBelongToUser`),
//! `DescribeSubDomainRecords` (exact), `DescribeDomainRecords` (fuzzy
//! keywords), with paging; a domain outside the account is
//! `InvalidDomainName.NoExist`. Errors use the real envelope
//! `{RequestId, HostId, Code, Message, Recommend}`. Records are mirrored into
//! a real PowerDNS.

// Checks return the finished error response as their `Err`; boxing it would
// buy nothing in a test server.
#![allow(clippy::result_large_err)]
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::fake_common::{Clock, join_name, or_answer};
use crate::fake_store::{PdnsMirror, hex, random_id, zone_of};
use crate::httpd::TestServer;
use crate::pdns::Pdns;

/// Allowed clock difference, as the real service.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// What the fake account holds.
#[derive(Debug, Clone)]
pub struct AlidnsOptions {
    pub access_key_id: String,
    pub access_key_secret: String,
    /// When set, requests must carry this STS token.
    pub security_token: Option<String>,
    /// Domains of the account.
    pub domains: Vec<String>,
    /// Smallest TTL the edition accepts (600 on free editions).
    pub min_ttl: u32,
    /// The most records one page returns, whatever `PageSize` asks.
    pub max_page_size: usize,
}

impl AlidnsOptions {
    pub fn new(key_id: &str, secret: &str, domains: &[&str]) -> Self {
        AlidnsOptions {
            access_key_id: key_id.into(),
            access_key_secret: secret.into(),
            security_token: None,
            domains: domains.iter().map(|d| d.to_string()).collect(),
            min_ttl: 600,
            max_page_size: 500,
        }
    }
}

/// One record as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliRecord {
    pub record_id: String,
    pub domain: String,
    pub rr: String,
    pub value: String,
    pub ttl: u32,
}

impl AliRecord {
    pub fn fqdn(&self) -> String {
        join_name(&self.rr, "@", &self.domain)
    }
}

struct Inner {
    options: AlidnsOptions,
    records: tokio::sync::Mutex<Vec<AliRecord>>,
    nonces: std::sync::Mutex<HashSet<String>>,
    next_id: AtomicU64,
    mirror: PdnsMirror,
    /// Seconds added to the server's clock.
    clock: Clock,
    throttled: AtomicU32,
    busy: AtomicU32,
    /// (action, "v1" | "v3") of every request that passed verification.
    accepted: std::sync::Mutex<Vec<(String, String)>>,
}

/// A running fake.
pub struct FakeAlidns {
    pub server: TestServer,
    inner: Arc<Inner>,
}

impl FakeAlidns {
    pub async fn start(pdns: &Pdns, options: AlidnsOptions) -> Self {
        let inner = Arc::new(Inner {
            options,
            records: tokio::sync::Mutex::new(Vec::new()),
            nonces: std::sync::Mutex::new(HashSet::new()),
            next_id: AtomicU64::new(1_000_000_000_000_000),
            mirror: PdnsMirror::new(pdns),
            clock: Clock::default(),
            throttled: AtomicU32::new(0),
            busy: AtomicU32::new(0),
            accepted: std::sync::Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/", axum::routing::any(handle))
            .with_state(inner.clone());
        FakeAlidns {
            server: TestServer::start(app).await,
            inner,
        }
    }

    /// The plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        self.server.url()
    }

    pub async fn records(&self) -> Vec<AliRecord> {
        self.inner.records.lock().await.clone()
    }

    /// Adds a record as another client would, mirrored.
    pub async fn add_foreign(&self, domain: &str, rr: &str, value: &str) {
        let mut records = self.inner.records.lock().await;
        let record = AliRecord {
            record_id: self
                .inner
                .next_id
                .fetch_add(1, Ordering::SeqCst)
                .to_string(),
            domain: domain.into(),
            rr: rr.into(),
            value: value.into(),
            ttl: 600,
        };
        let fqdn = record.fqdn();
        records.push(record);
        sync(&self.inner, &records, domain, &fqdn).await.unwrap();
    }

    /// Moves the server's clock by `secs`.
    pub fn set_clock_offset(&self, secs: i64) {
        self.inner.clock.set_offset(secs);
    }

    /// The next `n` requests get `Throttling.User`.
    pub fn throttle_next(&self, n: u32) {
        self.inner.throttled.store(n, Ordering::SeqCst);
    }

    /// The next `n` write requests get `LastOperationNotFinished`.
    pub fn busy_next(&self, n: u32) {
        self.inner.busy.store(n, Ordering::SeqCst);
    }

    /// (action, signature version) of every verified request.
    pub fn accepted(&self) -> Vec<(String, String)> {
        self.inner.accepted.lock().unwrap().clone()
    }
}

/// The real error envelope.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({
        "RequestId": random_id().to_uppercase(),
        "HostId": "alidns.aliyuncs.com",
        "Code": code,
        "Message": message,
        "Recommend": format!("https://api.aliyun.com/troubleshoot?q={code}"),
    });
    (status, axum::Json(body)).into_response()
}

fn ok(mut body: Value) -> Response {
    body["RequestId"] = json!(random_id().to_uppercase());
    axum::Json(body).into_response()
}

/// Alibaba's percent-encoding (RFC 3986 unreserved kept, `%XY` upper case).
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub fn canonical_query(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// V1 string to sign for `params` (without `Signature`).
pub fn v1_string_to_sign(method: &str, params: &BTreeMap<String, String>) -> String {
    format!("{method}&%2F&{}", encode(&canonical_query(params)))
}

/// V1 signature with the key `secret&`.
pub fn v1_sign(secret: &str, string_to_sign: &str) -> String {
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        format!("{secret}&").as_bytes(),
    );
    base64::engine::general_purpose::STANDARD
        .encode(ring::hmac::sign(&key, string_to_sign.as_bytes()).as_ref())
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// V3: (string to sign, signature) of a canonical request.
pub fn v3_sign(secret: &str, canonical_request: &str) -> (String, String) {
    let string_to_sign = format!(
        "ACS3-HMAC-SHA256\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let signature = hex(ring::hmac::sign(&key, string_to_sign.as_bytes()).as_ref());
    (string_to_sign, signature)
}

/// V3 canonical request from its parts (`headers` lower-case, sorted).
pub fn v3_canonical(
    method: &str,
    query: &BTreeMap<String, String>,
    headers: &BTreeMap<String, String>,
    hashed_payload: &str,
) -> String {
    let mut out = format!("{method}\n/\n{}\n", canonical_query(query));
    for (k, v) in headers {
        out.push_str(&format!("{k}:{}\n", v.trim()));
    }
    let names: Vec<&str> = headers.keys().map(String::as_str).collect();
    out.push_str(&format!("\n{}\n{hashed_payload}", names.join(";")));
    out
}

/// Seconds since the epoch of `yyyy-MM-ddTHH:mm:ssZ`.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn parse_pairs(text: &str) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A verified request: its action and parameters.
struct Call {
    action: String,
    params: BTreeMap<String, String>,
}

fn check_clock_and_nonce(
    inner: &Inner,
    timestamp: Option<&str>,
    nonce: Option<&str>,
) -> Result<(), Response> {
    let Some(ts) = timestamp.and_then(parse_timestamp) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        ));
    };
    if (inner.clock.now() - ts).abs() > MAX_SKEW_SECS {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ));
    }
    let Some(nonce) = nonce.filter(|n| !n.is_empty()) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "MissingSignatureNonce",
            "SignatureNonce is mandatory for this action.",
        ));
    };
    if !inner.nonces.lock().unwrap().insert(nonce.to_string()) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    Ok(())
}

fn check_key(inner: &Inner, key_id: Option<&str>, token: Option<&str>) -> Result<(), Response> {
    if key_id != Some(inner.options.access_key_id.as_str()) {
        return Err(error(
            StatusCode::NOT_FOUND,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        ));
    }
    let temporary = inner.options.access_key_id.starts_with("STS.");
    match (&inner.options.security_token, token) {
        // What the real gateway answers a temporary key sent without its token.
        (Some(_), None) => Err(error(
            StatusCode::BAD_REQUEST,
            "MissingSecurityToken",
            "SecurityToken is mandatory for this action.",
        )),
        (Some(want), Some(got)) if got != want => Err(error(
            StatusCode::BAD_REQUEST,
            "InvalidSecurityToken.MismatchWithAccessKey",
            "Specified SecurityToken mismatch with the AccessKey.",
        )),
        (None, None) if temporary => Err(error(
            StatusCode::BAD_REQUEST,
            "MissingSecurityToken",
            "SecurityToken is mandatory for this action.",
        )),
        _ => Ok(()),
    }
}

fn signature_mismatch(string_to_sign: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "SignatureDoesNotMatch",
        &format!(
            "Specified signature is not matched with our calculation. server string to sign \
             is:{string_to_sign}"
        ),
    )
}

fn verify_v1(
    inner: &Inner,
    method: &Method,
    mut params: BTreeMap<String, String>,
) -> Result<Call, Response> {
    let signature = params.remove("Signature").unwrap_or_default();
    check_key(
        inner,
        params.get("AccessKeyId").map(String::as_str),
        params.get("SecurityToken").map(String::as_str),
    )?;
    if params.get("SignatureMethod").map(String::as_str) != Some("HMAC-SHA1")
        || params.get("SignatureVersion").map(String::as_str) != Some("1.0")
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        ));
    }
    let string_to_sign = v1_string_to_sign(method.as_str(), &params);
    if v1_sign(&inner.options.access_key_secret, &string_to_sign) != signature {
        return Err(signature_mismatch(&string_to_sign));
    }
    check_clock_and_nonce(
        inner,
        params.get("Timestamp").map(String::as_str),
        params.get("SignatureNonce").map(String::as_str),
    )?;
    if params.get("Version").map(String::as_str) != Some("2015-01-09") {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "InvalidVersion",
            "Specified parameter Version is not valid.",
        ));
    }
    let action = params.get("Action").cloned().unwrap_or_default();
    Ok(Call { action, params })
}

fn verify_v3(
    inner: &Inner,
    method: &Method,
    headers: &HeaderMap,
    authorization: &str,
    query: BTreeMap<String, String>,
    body: &[u8],
) -> Result<Call, Response> {
    let incomplete = || {
        error(
            StatusCode::BAD_REQUEST,
            "IncompleteSignature",
            "The request signature does not conform to Aliyun standards.",
        )
    };
    let fields = authorization
        .strip_prefix("ACS3-HMAC-SHA256 ")
        .ok_or_else(incomplete)?;
    let mut parts = BTreeMap::new();
    for part in fields.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or_else(incomplete)?;
        parts.insert(k, v);
    }
    let (Some(credential), Some(signed), Some(signature)) = (
        parts.get("Credential"),
        parts.get("SignedHeaders"),
        parts.get("Signature"),
    ) else {
        return Err(incomplete());
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    check_key(inner, Some(credential), header("x-acs-security-token"))?;
    let signed: Vec<&str> = signed.split(';').collect();
    let mut required = vec![
        "host",
        "x-acs-action",
        "x-acs-content-sha256",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-version",
    ];
    if header("x-acs-security-token").is_some() {
        required.push("x-acs-security-token");
    }
    if required.iter().any(|r| !signed.contains(r)) {
        return Err(incomplete());
    }
    let hashed_payload = header("x-acs-content-sha256").unwrap_or_default();
    if hashed_payload != sha256_hex(body) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "ContentSHA256NotMatched",
            "The x-acs-content-sha256 header does not match the body.",
        ));
    }
    let mut signed_headers = BTreeMap::new();
    for name in &signed {
        let value = header(name).ok_or_else(incomplete)?;
        signed_headers.insert(name.to_string(), value.to_string());
    }
    let canonical = v3_canonical(method.as_str(), &query, &signed_headers, hashed_payload);
    let (string_to_sign, expected) = v3_sign(&inner.options.access_key_secret, &canonical);
    if expected != *signature {
        return Err(signature_mismatch(&string_to_sign));
    }
    check_clock_and_nonce(inner, header("x-acs-date"), header("x-acs-signature-nonce"))?;
    if header("x-acs-version") != Some("2015-01-09") {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "InvalidVersion",
            "Specified parameter Version is not valid.",
        ));
    }
    let mut params = query;
    if header("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) {
        params.extend(parse_pairs(&String::from_utf8_lossy(body)));
    }
    Ok(Call {
        action: header("x-acs-action").unwrap_or_default().to_string(),
        params,
    })
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let query = parse_pairs(query.as_deref().unwrap_or_default());
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let verified = match authorization {
        Some(a) => verify_v3(&inner, &method, &headers, &a, query, &body).map(|c| (c, "v3")),
        None if query.contains_key("Signature") => {
            verify_v1(&inner, &method, query).map(|c| (c, "v1"))
        }
        None => Err(error(
            StatusCode::BAD_REQUEST,
            "MissingSignature",
            "Signature is mandatory for this action.",
        )),
    };
    let (call, version) = or_answer!(verified);
    inner
        .accepted
        .lock()
        .unwrap()
        .push((call.action.clone(), version.to_string()));
    if inner
        .throttled
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return error(
            StatusCode::BAD_REQUEST,
            "Throttling.User",
            "Request was denied due to user flow control.",
        );
    }
    let writes = matches!(
        call.action.as_str(),
        "AddDomainRecord" | "DeleteDomainRecord"
    );
    if writes
        && inner
            .busy
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    {
        return error(
            StatusCode::BAD_REQUEST,
            "LastOperationNotFinished",
            "Last operation is not finished,please retry after a moment.",
        );
    }
    match call.action.as_str() {
        "AddDomainRecord" => add(&inner, &call.params).await,
        "DeleteDomainRecord" => remove(&inner, &call.params).await,
        "DescribeSubDomainRecords" => describe_sub(&inner, &call.params).await,
        "DescribeDomainRecords" => describe(&inner, &call.params).await,
        _ => error(
            StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        ),
    }
}

fn no_domain() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "InvalidDomainName.NoExist",
        "The specified domain name does not exist. Refresh the page and try again.",
    )
}

fn owned_domain(inner: &Inner, name: Option<&String>) -> Option<String> {
    let name = name?.trim_end_matches('.').to_ascii_lowercase();
    inner.options.domains.iter().find(|d| **d == name).cloned()
}

async fn add(inner: &Inner, p: &BTreeMap<String, String>) -> Response {
    let Some(domain) = owned_domain(inner, p.get("DomainName")) else {
        return no_domain();
    };
    let (Some(rr), Some(value)) = (p.get("RR"), p.get("Value")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            "RR, Type and Value are mandatory for this action.",
        );
    };
    if p.get("Type").map(String::as_str) != Some("TXT") {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidType",
            "This fake supports TXT records only.",
        );
    }
    let ttl: u32 = match p.get("TTL").map(|t| t.parse()) {
        None => 600,
        Some(Ok(t)) => t,
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidTTL",
                "The specified TTL is invalid.",
            );
        }
    };
    if ttl < inner.options.min_ttl {
        return error(
            StatusCode::BAD_REQUEST,
            "QuotaExceeded.TTL",
            "The TTL value exceeds the quota of the domain's edition.",
        );
    }
    let rr = rr.to_ascii_lowercase();
    let mut records = inner.records.lock().await;
    if records
        .iter()
        .any(|r| r.domain == domain && r.rr == rr && r.value == *value)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "DomainRecordDuplicate",
            "The DNS record already exists.",
        );
    }
    let record = AliRecord {
        record_id: inner.next_id.fetch_add(1, Ordering::SeqCst).to_string(),
        domain: domain.clone(),
        rr,
        value: value.clone(),
        ttl,
    };
    let fqdn = record.fqdn();
    let id = record.record_id.clone();
    records.push(record);
    if let Err(e) = sync(inner, &records, &domain, &fqdn).await {
        records.pop();
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            &e.to_string(),
        );
    }
    ok(json!({"RecordId": id}))
}

async fn remove(inner: &Inner, p: &BTreeMap<String, String>) -> Response {
    let mut records = inner.records.lock().await;
    let Some(index) = p
        .get("RecordId")
        .and_then(|id| records.iter().position(|r| r.record_id == *id))
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "DomainRecordNotBelongToUser",
            "The DNS record does not belong to you.",
        );
    };
    let removed = records.remove(index);
    if let Err(e) = sync(inner, &records, &removed.domain, &removed.fqdn()).await {
        records.insert(index, removed);
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            &e.to_string(),
        );
    }
    ok(json!({"RecordId": removed.record_id}))
}

fn record_json(r: &AliRecord) -> Value {
    json!({
        "DomainName": r.domain, "RecordId": r.record_id, "RR": r.rr, "Type": "TXT",
        "Value": r.value, "TTL": r.ttl, "Line": "default", "Status": "ENABLE",
        "Locked": false, "Weight": 1,
    })
}

fn page(inner: &Inner, p: &BTreeMap<String, String>, matching: Vec<Value>) -> Response {
    let number: usize = p
        .get("PageNumber")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let size: usize = p
        .get("PageSize")
        .and_then(|n| n.parse().ok())
        .unwrap_or(20usize)
        .clamp(1, inner.options.max_page_size.max(1));
    let total = matching.len();
    let slice: Vec<Value> = matching
        .into_iter()
        .skip((number - 1) * size)
        .take(size)
        .collect();
    ok(json!({
        "TotalCount": total, "PageNumber": number, "PageSize": size,
        "DomainRecords": {"Record": slice},
    }))
}

async fn describe_sub(inner: &Inner, p: &BTreeMap<String, String>) -> Response {
    let Some(sub) = p
        .get("SubDomain")
        .map(|s| s.trim_end_matches('.').to_ascii_lowercase())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "MissingSubDomain",
            "SubDomain is mandatory for this action.",
        );
    };
    let domain = match p.get("DomainName") {
        Some(_) => owned_domain(inner, p.get("DomainName")),
        None => zone_of(&inner.options.domains, &sub).cloned(),
    };
    let Some(domain) = domain else {
        return no_domain();
    };
    let records = inner.records.lock().await;
    let matching = records
        .iter()
        .filter(|r| r.domain == domain && r.fqdn() == sub)
        .filter(|_| p.get("Type").is_none_or(|t| t == "TXT"))
        .map(record_json)
        .collect();
    page(inner, p, matching)
}

async fn describe(inner: &Inner, p: &BTreeMap<String, String>) -> Response {
    let Some(domain) = owned_domain(inner, p.get("DomainName")) else {
        return no_domain();
    };
    let records = inner.records.lock().await;
    let matching = records
        .iter()
        .filter(|r| r.domain == domain)
        .filter(|r| {
            p.get("RRKeyWord")
                .is_none_or(|k| r.rr.contains(&k.to_ascii_lowercase()))
        })
        .filter(|r| {
            p.get("ValueKeyWord")
                .is_none_or(|k| r.value.contains(k.as_str()))
        })
        .filter(|_| p.get("TypeKeyWord").is_none_or(|t| t == "TXT"))
        .map(record_json)
        .collect();
    page(inner, p, matching)
}

async fn sync(
    inner: &Inner,
    records: &[AliRecord],
    domain: &str,
    fqdn: &str,
) -> anyhow::Result<()> {
    let here: Vec<&AliRecord> = records.iter().filter(|r| r.fqdn() == fqdn).collect();
    let values: Vec<String> = here.iter().map(|r| r.value.clone()).collect();
    let ttl = here.iter().map(|r| r.ttl).min().unwrap_or(600);
    inner.mirror.set_txt(domain, fqdn, ttl, &values).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_matches_the_published_vectors() {
        let params: BTreeMap<String, String> = [
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let sts = v1_string_to_sign("GET", &params);
        assert_eq!(v1_sign("testsecret", &sts), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");

        let query: BTreeMap<String, String> = [
            (
                "ImageId",
                "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
            ),
            ("RegionId", "cn-shanghai"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let empty = sha256_hex(b"");
        let headers: BTreeMap<String, String> = [
            ("host", "ecs.cn-shanghai.aliyuncs.com"),
            ("x-acs-action", "RunInstances"),
            ("x-acs-content-sha256", empty.as_str()),
            ("x-acs-date", "2023-10-26T10:22:32Z"),
            ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
            ("x-acs-version", "2014-05-26"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let canonical = v3_canonical("POST", &query, &headers, &empty);
        let (sts, signature) = v3_sign("YourAccessKeySecret", &canonical);
        assert!(sts.ends_with("7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"));
        assert_eq!(
            signature,
            "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
        // The documentation's second example: same request, other date and
        // nonce (the `RequestHeader` table).
        let mut headers = headers;
        headers.insert("x-acs-date".into(), "2023-10-26T09:01:01Z".into());
        headers.insert(
            "x-acs-signature-nonce".into(),
            "d410180a5abf7fe235dd9b74aca91fc0".into(),
        );
        let canonical = v3_canonical("POST", &query, &headers, &empty);
        let (_, signature) = v3_sign("YourAccessKeySecret", &canonical);
        assert_eq!(
            signature,
            "e521358f7776c97df52e6b2891a8bc73026794a071b50c3323388c4e0df64804"
        );
    }

    #[test]
    fn timestamps_parse() {
        assert_eq!(parse_timestamp("2016-02-23T12:46:24Z"), Some(1_456_231_584));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("2016-02-23 12:46:24"), None);
        assert_eq!(parse_timestamp("2016-13-23T12:46:24Z"), None);
    }
}
