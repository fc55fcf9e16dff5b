//! The Baidu AI Cloud DNS provider (`--dns baiducloud`): publishes ACME
//! challenge values through the public DNS API v1 of Baidu's Intelligent
//! Cloud DNS (`dns.baidubce.com`).
//!
//! Every call is signed with `bce-auth-v1` over `host` and `x-bce-date` (see
//! [`sign`]) at the guest's wall-clock time. The zone is found by name
//! (`GET /v1/dns/zone?name=`, a fuzzy search matched exactly here), trying
//! the zone wacme found and then each parent. `present` lists the challenge
//! name (`GET /v1/dns/zone/{zone}/record?rr=`, every page by
//! `marker`/`nextMarker`) and creates (`POST …/record?clientToken=`) one TXT
//! record per value not there yet; `cleanup` deletes (`DELETE
//! …/record/{id}?clientToken=`) only the records holding one of the values.
//! Failures are JSON `{"requestId","code","message"}`; [`api_error`] maps
//! the codes to the WIT error cases.

pub mod sign;

use serde::Deserialize;
use serde_json::json;
use wacme_plugin_auth::sigv4::{sha256_hex, uri_encode};
use wacme_plugin_sdk::http::{Method, Request, Response, excerpt};
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, txt, url, zone,
};

pub const DEFAULT_ENDPOINT: &str = "https://dns.baidubce.com";
/// The default (and lowest) TTL of the free basic edition.
pub const DEFAULT_TTL: u32 = 300;
/// The enterprise edition goes down to 1 s; an operator on it may ask for
/// less than the default.
pub const MIN_TTL: u32 = 1;
/// Items per page when listing (the API's maximum).
pub const PAGE_SIZE: u32 = 1000;
/// Pages followed at most while listing.
pub const MAX_PAGES: usize = 50;
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

pub struct BaiduCloud;

// Exported symbols such as `wacme:dns/provider@0.2.0#present` do not link
// into a native cdylib; the native build exists for the unit tests.
#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(BaiduCloud);

impl Provider for BaiduCloud {
    fn metadata() -> Metadata {
        Metadata {
            name: "baiducloud".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Baidu AI Cloud DNS, API v1 signed with bce-auth-v1; one record per \
                          value, only its own values removed"
                .into(),
            homepage: "https://cloud.baidu.com/doc/DNS/index.html".into(),
            config: vec![
                ConfigField::new(
                    "access_key_id",
                    "Access Key ID (IAM user with the DNS operation-and-maintenance system policy)",
                )
                .required()
                .env(&["BAIDUCLOUD_ACCESS_KEY_ID", "Baidu_AK"]),
                ConfigField::new("secret_access_key", "Secret Access Key")
                    .required()
                    .secret()
                    .env(&["BAIDUCLOUD_SECRET_ACCESS_KEY", "Baidu_SK"]),
                ConfigField::new("endpoint", "API endpoint").default(DEFAULT_ENDPOINT),
                ConfigField::new(
                    "ttl",
                    "TTL of the challenge records (300 on the basic edition); overrides the \
                     TTL wacme passes",
                )
                .env(&["BAIDUCLOUD_TTL", "Baidu_TTL"]),
            ],
            allowed_hosts: vec!["{endpoint}".into()],
            default_ttl: DEFAULT_TTL,
            min_ttl: MIN_TTL,
            dns_servers: Vec::new(),
            hints: wacme_plugin_sdk::Hints::default(),
        }
    }

    fn present(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let ttl = api.ttl.unwrap_or(set.ttl);
        let (zone, rr) = api.locate(set)?;
        let existing: Vec<String> = api.list(&zone, &rr)?.into_iter().map(|r| r.value).collect();
        for value in &set.values {
            if existing.contains(value) {
                log::debug(&format!("{}: value already there", set.fqdn));
                continue;
            }
            let body = json!({"rr": rr, "type": "TXT", "value": value, "ttl": ttl});
            let path = format!("/v1/dns/zone/{zone}/record");
            match api.call(Method::Post, &path, &[token(&path, value)], Some(&body)) {
                Ok(_) => {}
                Err(e) if is_duplicate(&e.code) => {}
                Err(e) => return Err(e.error),
            }
        }
        Ok(())
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let (zone, rr) = api.locate(set)?;
        for record in api.list(&zone, &rr)? {
            if !set.values.contains(&record.value) {
                continue;
            }
            let path = format!("/v1/dns/zone/{zone}/record/{}", record.id);
            match api.call(Method::Delete, &path, &[token(&path, "")], None) {
                Ok(_) => {}
                Err(e) if e.status == 404 || is_gone(&e.code) => {}
                Err(e) => return Err(e.error),
            }
        }
        Ok(())
    }
}

/// A create refused because the same record exists.
fn is_duplicate(code: &str) -> bool {
    code.contains("AlreadyExist") || code.contains("Duplicate") || code == "RecordExist"
}

/// A delete refused because the record is already gone.
fn is_gone(code: &str) -> bool {
    code.contains("NotFound") || code.contains("NotExist") || code.starts_with("NoSuch")
}

/// A `clientToken` (idempotence token, at most 64 ASCII characters) unique
/// to this call: a retry of the same request within one call would reuse
/// it, a later call does not.
fn token(path: &str, value: &str) -> (String, String) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let digest = sha256_hex(format!("{path}\n{value}\n{nanos}").as_bytes());
    ("clientToken".into(), digest[..32].to_string())
}

/// The resolved configuration of one call.
#[derive(Clone)]
pub struct Api {
    pub endpoint: String,
    /// `host[:port]` of the endpoint, as the `Host` header carries it.
    pub authority: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub ttl: Option<u32>,
}

/// A failed call: the HTTP status, the API's `code` and the mapped WIT error.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub error: Error,
}

/// One TXT record of the challenge name, value unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZoneList {
    #[serde(default)]
    pub zones: Vec<ListedZone>,
    #[serde(default)]
    pub is_truncated: bool,
    #[serde(default)]
    pub next_marker: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ListedZone {
    pub name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordList {
    #[serde(default)]
    pub records: Vec<ListedRecord>,
    #[serde(default)]
    pub is_truncated: bool,
    #[serde(default)]
    pub next_marker: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ListedRecord {
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    pub rr: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub value: String,
}

/// Record ids are strings in the API; a number is taken too.
fn id_text<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    })
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Api {
    pub fn from_config(config: &Config) -> Result<Api> {
        let endpoint = url::trim_base(config.get("endpoint").unwrap_or(DEFAULT_ENDPOINT).trim());
        let authority = endpoint
            .strip_prefix("https://")
            .or_else(|| endpoint.strip_prefix("http://"))
            .filter(|a| !a.is_empty() && !a.contains(['/', '?', '#', '@']))
            .ok_or_else(|| {
                Error::InvalidConfig(format!(
                    "`endpoint` must be an https:// origin such as {DEFAULT_ENDPOINT}, not \
                     {endpoint:?}"
                ))
            })?;
        Ok(Api {
            authority: authority.to_ascii_lowercase(),
            endpoint: endpoint.to_string(),
            access_key_id: config.require("access_key_id")?.trim().into(),
            secret_access_key: config.require("secret_access_key")?.trim().into(),
            ttl: config.parse::<u32>("ttl")?,
        })
    }

    /// The account's zone holding `set.fqdn` (wacme's zone or a parent) and
    /// the record name relative to it (`@` at the apex).
    pub fn locate(&self, set: &TxtSet) -> Result<(String, String)> {
        let zone = self.zone(&set.zone)?;
        let rr = zone::relative(&set.fqdn, &zone).ok_or_else(|| {
            Error::ZoneNotFound(format!("Baidu Cloud DNS: {} is not in {zone}", set.fqdn))
        })?;
        Ok((zone, rr))
    }

    /// The name of the zone `zone` or its nearest parent in the account.
    pub fn zone(&self, zone: &str) -> Result<String> {
        for candidate in zone::candidates(zone) {
            let mut marker: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let mut query = vec![
                    ("name".to_string(), candidate.clone()),
                    ("maxKeys".to_string(), PAGE_SIZE.to_string()),
                ];
                if let Some(m) = &marker {
                    query.push(("marker".into(), m.clone()));
                }
                let response = self
                    .call(Method::Get, "/v1/dns/zone", &query, None)
                    .map_err(|e| e.error)?;
                let list: ZoneList = parse(&response, "zone list")?;
                if list.zones.iter().any(|z| normalize(&z.name) == candidate) {
                    return Ok(candidate);
                }
                match list
                    .next_marker
                    .filter(|m| list.is_truncated && !m.is_empty())
                {
                    Some(next) => marker = Some(next),
                    None => break,
                }
            }
        }
        Err(Error::ZoneNotFound(format!(
            "Baidu Cloud DNS: no zone for {zone} (or a parent) in this account"
        )))
    }

    /// Every TXT record named exactly `rr` in `zone`.
    pub fn list(&self, zone: &str, rr: &str) -> Result<Vec<Record>> {
        let path = format!("/v1/dns/zone/{zone}/record");
        let mut records = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("rr".to_string(), rr.to_string()),
                ("maxKeys".to_string(), PAGE_SIZE.to_string()),
            ];
            if let Some(m) = &marker {
                query.push(("marker".into(), m.clone()));
            }
            let response = self
                .call(Method::Get, &path, &query, None)
                .map_err(|e| e.error)?;
            let list: RecordList = parse(&response, "record list")?;
            records.extend(
                list.records
                    .into_iter()
                    .filter(|r| {
                        r.rr.eq_ignore_ascii_case(rr) && r.rtype.eq_ignore_ascii_case("TXT")
                    })
                    .map(|r| Record {
                        id: r.id,
                        value: txt::unquote(&r.value),
                    }),
            );
            match list
                .next_marker
                .filter(|m| list.is_truncated && !m.is_empty())
            {
                Some(next) => marker = Some(next),
                None => break,
            }
        }
        Ok(records)
    }

    /// Signs and sends one call; the response when it succeeded.
    pub fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Response, ApiError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let response = self
            .signed_request(method, path, query, body, now)
            .send()
            .map_err(|error| ApiError {
                status: 0,
                code: String::new(),
                error,
            })?;
        if response.is_success() {
            Ok(response)
        } else {
            Err(api_error(&response))
        }
    }

    /// The request, signed at `unix_secs` over `host` and `x-bce-date`.
    pub fn signed_request(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&serde_json::Value>,
        unix_secs: u64,
    ) -> Request {
        let date = sign::timestamp(unix_secs);
        let (headers, signed) = sign::canonical_headers(&[
            ("host".to_string(), self.authority.clone()),
            ("x-bce-date".to_string(), date.clone()),
        ]);
        let verb = match method {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
        };
        let canonical = sign::canonical_request(verb, path, query, &headers);
        let prefix = sign::auth_string_prefix(&self.access_key_id, &date, sign::EXPIRATION_SECS);
        let key = sign::signing_key(&self.secret_access_key, &prefix);
        let signature = sign::signature(&key, &canonical);
        let mut url = format!("{}{}", self.endpoint, uri_encode(path, true));
        let q = sign::canonical_query(query);
        if !q.is_empty() {
            url.push('?');
            url.push_str(&q);
        }
        // `content-type` is one of the documented common headers, sent on
        // every call; it is not signed.
        let request = Request::new(method, url)
            .header("content-type", CONTENT_TYPE)
            .header("x-bce-date", date)
            .header(
                "authorization",
                sign::authorization(&prefix, &signed, &signature),
            );
        match body {
            Some(body) => request
                .body(serde_json::to_vec(body).expect("serializing a request body cannot fail")),
            None => request,
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(response: &Response, what: &str) -> Result<T> {
    serde_json::from_slice(&response.body).map_err(|e| {
        Error::Permanent(format!(
            "Baidu Cloud DNS: unexpected {what} ({e}): {}",
            excerpt(&response.text())
        ))
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Maps a failed answer to the WIT error case, keyed on the body's `code`.
pub fn api_error(response: &Response) -> ApiError {
    let body: ErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
    let code = body.code.clone();
    let detail = if code.is_empty() {
        excerpt(&response.text())
    } else {
        format!("{code}: {} (requestId {})", body.message, body.request_id)
    };
    let message = format!("Baidu Cloud DNS: HTTP {}: {detail}", response.status);
    let retry_after = response.header("retry-after");
    let error = match code.as_str() {
        "RequestLimitExceeded"
        | "TooManyRequests"
        | "Throttling"
        | "ThrottlingException"
        | "QpsLimitExceeded" => Error::RateLimited(RateLimit {
            message,
            retry_after_secs: retry_after.and_then(|v| v.trim().parse().ok()),
        }),
        "RequestExpired" => Error::Permanent(format!(
            "{message}; the request time (x-bce-date) is too far from the server's: check \
             this machine's clock"
        )),
        "SignatureDoesNotMatch"
        | "InvalidAccessKeyId"
        | "InvalidHTTPAuthHeader"
        | "InvalidSessionToken" => Error::Authentication(format!(
            "{message}; check access_key_id and secret_access_key"
        )),
        "QualifyNotPass" => Error::Authentication(format!(
            "{message}; the account has not passed Baidu's real-name verification, which the \
             DNS API requires"
        )),
        "AccessDenied" | "AccessDeniedException" | "OptInRequired" => {
            Error::Authentication(format!(
                "{message}; the key needs DNS permissions (the DNS operation-and-maintenance \
                 system policy, or a custom policy over the zone)"
            ))
        }
        "InternalError" | "InternalException" | "ServiceUnavailable" => Error::Transient(message),
        c if c.contains("Zone") && (c.contains("NotExist") || c.contains("NotFound")) => {
            Error::ZoneNotFound(format!(
                "{message}; the zone is not in this Baidu Cloud account"
            ))
        }
        _ => Error::from_status(response.status, retry_after, message),
    };
    ApiError {
        status: response.status,
        code,
        error,
    }
}

#[cfg(test)]
mod tests;
