//! A fake Tencent Cloud DNSPod API 3.0 (version 2021-03-23) on loopback, for
//! the tencentcloud plugin's tests, written from the public API
//! documentation (<https://www.tencentcloud.com/document/api/1157>: "Signature
//! v3", "Common Params", `DescribeRecordList`, `CreateRecord`,
//! `DeleteRecord`, "Error Codes").
//!
//! Like the real service: one endpoint, `POST /` with a JSON body, the action
//! in `X-TC-Action`; every request's `TC3-HMAC-SHA256` signature recomputed
//! with the secret key (an implementation of its own, on `ring`, independent
//! of the plugin's) over the headers it names (`content-type` and `host`
//! required) and the body hash. Every answer is HTTP 200 with a `Response`
//! object; failures carry `Response.Error{Code, Message}` with the service's
//! codes: `AuthFailure.SignatureFailure` (wrong secret),
//! `AuthFailure.SecretIdNotFound`, `AuthFailure.SignatureExpire` (timestamp
//! more than 5 minutes off), `AuthFailure.TokenFailure` (session token),
//! `RequestLimitExceeded` (the writes its [`Throttle`] refuses, with
//! `Retry-After`), `ResourceNotFound.NoDataOfRecord` (an empty list),
//! `InvalidParameter.RecordIdInvalid` (an unknown record),
//! `InvalidParameterValue.DomainNotExists`,
//! `InvalidParameter.DomainRecordExist`. TXT records are mirrored into a real
//! PowerDNS.

// Checks return the finished error response as their `Err`; boxing it would
// buy nothing in a test server.
#![allow(clippy::result_large_err)]
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::fake_common::{Clock, RequestLog, or_answer};
use crate::fake_dnspod::{
    DpRecord, add_foreign_txt, initial_records, mirror_txt, txt_only, txt_pairs,
};
use crate::fake_store::{PdnsMirror, hex, random_uuid};
use crate::httpd::TestServer;
use crate::pdns::Pdns;
use crate::provider_suite::{Fake, Throttle};

/// Allowed clock difference, as the real service.
pub const MAX_SKEW_SECS: i64 = 5 * 60;
pub const VERSION: &str = "2021-03-23";
pub const SERVICE: &str = "dnspod";

/// What the fake account holds.
#[derive(Debug, Clone)]
pub struct TencentOptions {
    pub secret_id: String,
    pub secret_key: String,
    /// When set, requests must carry this session token (`X-TC-Token`).
    pub session_token: Option<String>,
    /// Domains of the account.
    pub domains: Vec<String>,
    /// The most records one page returns, whatever `Limit` asks.
    pub max_page_size: usize,
}

impl TencentOptions {
    pub fn new(secret_id: &str, secret_key: &str, domains: &[&str]) -> Self {
        TencentOptions {
            secret_id: secret_id.into(),
            secret_key: secret_key.into(),
            session_token: None,
            domains: domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
            max_page_size: 3000,
        }
    }
}

/// One record as the API shows it: DNSPod's own record (`name` relative,
/// `@` at the apex).
pub type TcRecord = DpRecord;

struct Inner {
    options: TencentOptions,
    records: tokio::sync::Mutex<Vec<TcRecord>>,
    next_id: AtomicU64,
    mirror: PdnsMirror,
    throttle: Throttle,
    /// Seconds added to the server's clock.
    clock: Clock,
    /// The action of every request, verified or not.
    requests: RequestLog,
}

/// A running fake.
pub struct FakeTencentCloud {
    pub server: TestServer,
    inner: Arc<Inner>,
}

impl FakeTencentCloud {
    /// Serves the fake on a free loopback port, mirroring into `pdns`. Each
    /// domain starts with the two NS records DNSPod creates (not mirrored).
    pub async fn start(pdns: &Pdns, options: TencentOptions) -> Self {
        let (records, next_id) = initial_records(&options.domains, 556_507_778);
        let inner = Arc::new(Inner {
            options,
            records: tokio::sync::Mutex::new(records),
            next_id,
            mirror: PdnsMirror::new(pdns),
            throttle: Throttle::new(),
            clock: Clock::default(),
            requests: RequestLog::default(),
        });
        let app = Router::new()
            .route("/", axum::routing::any(handle))
            .with_state(inner.clone());
        FakeTencentCloud {
            server: TestServer::start(app).await,
            inner,
        }
    }

    /// The plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        self.server.url()
    }

    /// Every TXT record held, in creation order.
    pub async fn records(&self) -> Vec<TcRecord> {
        txt_only(&self.inner.records.lock().await)
    }

    /// Moves the server's clock by `secs`.
    pub fn set_clock_offset(&self, secs: i64) {
        self.inner.clock.set_offset(secs);
    }

    /// The `X-TC-Action` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.inner.requests.all()
    }
}

impl Fake for FakeTencentCloud {
    fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    async fn add_foreign(&self, fqdn: &str, value: &str) {
        let inner = &self.inner;
        let domains = &inner.options.domains;
        add_foreign_txt(
            &inner.records,
            &inner.next_id,
            &inner.mirror,
            domains,
            fqdn,
            value,
        )
        .await;
    }

    async fn txt_records(&self) -> Vec<(String, String)> {
        txt_pairs(&self.inner.records.lock().await)
    }
}

/// The real error shape: HTTP 200, `{"Response":{"Error":{…},"RequestId"}}`.
pub fn error(code: &str, message: &str) -> Response {
    axum::Json(json!({"Response": {
        "Error": {"Code": code, "Message": message},
        "RequestId": random_uuid(),
    }}))
    .into_response()
}

fn ok(mut body: Value) -> Response {
    body["RequestId"] = json!(random_uuid());
    axum::Json(json!({ "Response": body })).into_response()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&key, data).as_ref().to_vec()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// `yyyy-mm-dd` (UTC) of a Unix time.
pub fn utc_date(unix_secs: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_secs).expect("valid time");
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// The TC3 signature of a canonical request, as the service computes it:
/// (string to sign, hex signature).
pub fn tc3_sign(
    secret_key: &str,
    timestamp: i64,
    date: &str,
    service: &str,
    canonical_request: &str,
) -> (String, String) {
    let string_to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let k_date = hmac(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac(&k_date, service.as_bytes());
    let k_signing = hmac(&k_service, b"tc3_request");
    let signature = hex(&hmac(&k_signing, string_to_sign.as_bytes()));
    (string_to_sign, signature)
}

/// The parts of `Authorization: TC3-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
struct Authorization {
    secret_id: String,
    date: String,
    service: String,
    terminator: String,
    signed_headers: Vec<String>,
    signature: String,
}

fn parse_authorization(value: &str) -> Option<Authorization> {
    let rest = value.strip_prefix("TC3-HMAC-SHA256 ")?;
    let mut fields = BTreeMap::new();
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        fields.insert(k.to_string(), v.to_string());
    }
    let credential: Vec<&str> = fields.get("Credential")?.split('/').collect();
    let [secret_id, date, service, terminator] = credential[..] else {
        return None;
    };
    Some(Authorization {
        secret_id: secret_id.into(),
        date: date.into(),
        service: service.into(),
        terminator: terminator.into(),
        signed_headers: fields
            .get("SignedHeaders")?
            .split(';')
            .map(str::to_string)
            .collect(),
        signature: fields.get("Signature")?.clone(),
    })
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn signature_failure() -> Response {
    error(
        "AuthFailure.SignatureFailure",
        "The provided credentials could not be validated. Please check your signature is correct.",
    )
}

/// Verifies the request as the service does; the action on success.
fn verify(
    inner: &Inner,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, Response> {
    if method != Method::POST {
        return Err(error(
            "InvalidParameter",
            "This fake accepts only POST with a JSON body.",
        ));
    }
    let Some(action) = header(headers, "x-tc-action").map(str::to_string) else {
        return Err(error(
            "MissingParameter",
            "The request is missing a required parameter `Action`.",
        ));
    };
    let Some(auth) = header(headers, "authorization").and_then(parse_authorization) else {
        return Err(error(
            "AuthFailure.InvalidAuthorization",
            "`Authorization` header is invalid.",
        ));
    };
    let Some(timestamp) = header(headers, "x-tc-timestamp").and_then(|t| t.parse::<i64>().ok())
    else {
        return Err(error(
            "InvalidParameter",
            "The parameter `Timestamp` is invalid.",
        ));
    };
    let now = inner.clock.now();
    if (now - timestamp).abs() > MAX_SKEW_SECS {
        return Err(error(
            "AuthFailure.SignatureExpire",
            "Signature expired. Timestamp and server time cannot exceed five minutes.",
        ));
    }
    if auth.secret_id != inner.options.secret_id {
        return Err(error(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, please ensure that your SecretId is correct.",
        ));
    }
    if auth.terminator != "tc3_request"
        || auth.service != SERVICE
        || auth.date != utc_date(timestamp)
        || !auth.signed_headers.iter().any(|h| h == "content-type")
        || !auth.signed_headers.iter().any(|h| h == "host")
    {
        return Err(signature_failure());
    }
    let mut canonical = String::from("POST\n/\n\n");
    for name in &auth.signed_headers {
        let Some(value) = header(headers, name) else {
            return Err(signature_failure());
        };
        canonical.push_str(&format!("{name}:{}\n", value.trim().to_ascii_lowercase()));
    }
    canonical.push('\n');
    canonical.push_str(&auth.signed_headers.join(";"));
    canonical.push('\n');
    canonical.push_str(&sha256_hex(body));
    let (_, expected) = tc3_sign(
        &inner.options.secret_key,
        timestamp,
        &auth.date,
        &auth.service,
        &canonical,
    );
    if expected != auth.signature {
        return Err(signature_failure());
    }
    if let Some(token) = &inner.options.session_token
        && header(headers, "x-tc-token") != Some(token.as_str())
    {
        return Err(error(
            "AuthFailure.TokenFailure",
            "Token verification failed.",
        ));
    }
    if header(headers, "x-tc-version") != Some(VERSION) {
        return Err(error(
            "NoSuchVersion",
            "The requested version does not exist or is not available.",
        ));
    }
    Ok(action)
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    inner
        .requests
        .push(header(&headers, "x-tc-action").unwrap_or("").to_string());
    let action = or_answer!(verify(&inner, &method, &headers, &body));
    let Ok(params) = serde_json::from_slice::<Value>(&body) else {
        return error(
            "InvalidParameter.ParamsFormatError",
            "The request body is not valid JSON.",
        );
    };
    let writes = matches!(action.as_str(), "CreateRecord" | "DeleteRecord");
    if writes
        && let Some(r) = inner.throttle.intercept(|| {
            error(
                "RequestLimitExceeded",
                "Your current request times equals to `21` in a second, which exceeds the \
                 frequency limit `20` for a second. Please reduce the frequency of calls.",
            )
        })
    {
        return r;
    }
    match action.as_str() {
        "DescribeRecordList" => list(&inner, &params).await,
        "CreateRecord" => create(&inner, &params).await,
        "DeleteRecord" => remove(&inner, &params).await,
        _ => error(
            "InvalidAction",
            "The requested action does not exist. Please check the action name.",
        ),
    }
}

fn owned_domain(inner: &Inner, params: &Value) -> Result<String, Response> {
    let name = params["Domain"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if inner.options.domains.contains(&name) {
        Ok(name)
    } else {
        Err(error(
            "InvalidParameterValue.DomainNotExists",
            "当前域名有误，请返回重新操作。",
        ))
    }
}

fn record_json(r: &TcRecord) -> Value {
    json!({
        "RecordId": r.id, "Value": r.value, "Status": "ENABLE",
        "UpdatedOn": "2026-01-01 00:00:00", "Name": r.name, "Line": "默认", "LineId": "0",
        "Type": r.record_type, "Weight": null, "MonitorStatus": "", "Remark": "", "TTL": r.ttl,
        "MX": 0, "DefaultNS": r.record_type == "NS",
    })
}

async fn list(inner: &Inner, p: &Value) -> Response {
    let domain = or_answer!(owned_domain(inner, p));
    let offset = p["Offset"].as_u64().unwrap_or(0) as usize;
    let limit = p["Limit"].as_u64().unwrap_or(100) as usize;
    if !(1..=3000).contains(&limit) {
        return error("InvalidParameterValue.LimitInvalid", "分页长度数量错误。");
    }
    let limit = limit.min(inner.options.max_page_size.max(1));
    let sub = p["Subdomain"].as_str().map(str::to_ascii_lowercase);
    let rtype = p["RecordType"].as_str();
    let records = inner.records.lock().await;
    let matching: Vec<&TcRecord> = records
        .iter()
        .filter(|r| r.domain == domain)
        .filter(|r| sub.as_ref().is_none_or(|s| r.name == *s))
        .filter(|r| rtype.is_none_or(|t| r.record_type == t))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| record_json(r))
        .collect();
    if page.is_empty() {
        return error("ResourceNotFound.NoDataOfRecord", "记录列表为空。");
    }
    let subdomains = records.iter().filter(|r| r.domain == domain).count();
    ok(json!({
        "RecordCountInfo": {
            "SubdomainCount": subdomains,
            "ListCount": page.len(),
            "TotalCount": matching.len(),
        },
        "RecordList": page,
    }))
}

async fn create(inner: &Inner, p: &Value) -> Response {
    let domain = or_answer!(owned_domain(inner, p));
    if p["RecordType"].as_str() != Some("TXT") {
        return error(
            "InvalidParameter.RecordTypeInvalid",
            "This fake supports TXT records only.",
        );
    }
    if p["RecordLine"].as_str() != Some("默认") {
        return error("InvalidParameter.RecordLineInvalid", "记录线路错误。");
    }
    let Some(value) = p["Value"].as_str().filter(|v| !v.is_empty()) else {
        return error("InvalidParameter.RecordValueInvalid", "记录值有误。");
    };
    let name = p["SubDomain"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or("@")
        .to_ascii_lowercase();
    let ttl = p["TTL"].as_u64().unwrap_or(600) as u32;
    let mut records = inner.records.lock().await;
    if records
        .iter()
        .any(|r| r.domain == domain && r.name == name && r.record_type == "TXT" && r.value == value)
    {
        return error(
            "InvalidParameter.DomainRecordExist",
            "记录已经存在，无需再次添加。",
        );
    }
    let record = TcRecord {
        id: inner.next_id.fetch_add(1, Ordering::SeqCst),
        domain: domain.clone(),
        name,
        record_type: "TXT".into(),
        value: value.into(),
        ttl,
    };
    records.push(record.clone());
    if let Err(e) = sync(inner, &records, &domain, &record.fqdn()).await {
        records.pop();
        return error("InternalError", &e.to_string());
    }
    ok(json!({ "RecordId": record.id }))
}

async fn remove(inner: &Inner, p: &Value) -> Response {
    let domain = or_answer!(owned_domain(inner, p));
    let Some(id) = p["RecordId"].as_u64() else {
        return error("MissingParameter", "缺少参数错误。");
    };
    let mut records = inner.records.lock().await;
    let Some(index) = records
        .iter()
        .position(|r| r.domain == domain && r.id == id)
    else {
        return error("InvalidParameter.RecordIdInvalid", "记录编号错误。");
    };
    let removed = records.remove(index);
    if removed.record_type == "TXT"
        && let Err(e) = sync(inner, &records, &domain, &removed.fqdn()).await
    {
        records.insert(index, removed);
        return error("InternalError", &e.to_string());
    }
    ok(json!({}))
}

/// Mirrors the TXT records named `fqdn` into PowerDNS.
async fn sync(inner: &Inner, records: &[TcRecord], domain: &str, fqdn: &str) -> anyhow::Result<()> {
    mirror_txt(&inner.mirror, records, domain, fqdn).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tencent's published "Signature v3" example
    /// (<https://www.tencentcloud.com/document/api/267/37447>).
    #[test]
    fn verifier_matches_the_published_example() {
        let canonical = "POST\n/\n\ncontent-type:application/json; charset=utf-8\n\
                         host:cvm.tencentcloudapi.com\n\ncontent-type;host\n\
                         35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064";
        let (sts, signature) = tc3_sign(
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            1_551_113_065,
            &utc_date(1_551_113_065),
            "cvm",
            canonical,
        );
        assert!(sts.ends_with("5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"));
        assert_eq!(
            signature,
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }
}
