//! The Volcengine DNS provider (`--dns volcengine`, BytePlus outside
//! mainland China): publishes ACME challenge values through the DNS OpenAPI
//! (`https://open.volcengineapi.com/?Action=…&Version=2018-08-01`, service
//! `DNS`), every request signed with Volcengine's HMAC-SHA256 V4-style
//! scheme ([`SCHEME`] over `wacme_plugin_auth::sigv4`: no key prefix, scope
//! terminator `request`, `X-Date`, the body hash sent as
//! `X-Content-Sha256`).
//!
//! Volcengine holds one record per value. `present` finds the zone id
//! (`ListZones`, exact name, then each parent), lists the name's TXT records
//! (`ListRecords`, exact host, every page) and creates one record per
//! missing value (`CreateRecord`); `cleanup` lists the same way and deletes
//! only the records holding one of the values (`DeleteRecord`). Every action
//! is a `POST` with its parameters as a JSON body.

use serde::Deserialize;
use serde_json::{Value, json};
use wacme_plugin_auth::sigv4::{self, Credentials, Scheme};
use wacme_plugin_sdk::http::{Request, Response, excerpt};
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, txt, url, zone,
};

pub const DEFAULT_ENDPOINT: &str = "https://open.volcengineapi.com";
pub const DEFAULT_REGION: &str = "cn-north-1";
pub const SERVICE: &str = "DNS";
pub const API_VERSION: &str = "2018-08-01";
pub const DEFAULT_TTL: u32 = 600;
pub const MIN_TTL: u32 = 1;
/// Records per listing page (the API's maximum).
pub const PAGE_SIZE: u32 = 500;
/// Pages followed at most while listing.
pub const MAX_PAGES: u32 = 20;

/// Volcengine's signature: SigV4 with its own names.
pub const SCHEME: Scheme = Scheme {
    algorithm: "HMAC-SHA256",
    key_prefix: "",
    terminator: "request",
    date_header: "x-date",
    token_header: "x-security-token",
};

pub struct Volcengine;

// Exported symbols such as `wacme:dns/provider@0.2.0#present` do not link
// into a native cdylib; the native build exists for the unit tests.
#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(Volcengine);

impl Provider for Volcengine {
    fn metadata() -> Metadata {
        Metadata {
            name: "volcengine".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Volcengine (BytePlus) DNS, OpenAPI 2018-08-01 signed with HMAC-SHA256; \
                          one record per value, only its own values removed"
                .into(),
            homepage: "https://www.volcengine.com/docs/6758/155086".into(),
            config: vec![
                ConfigField::new(
                    "access_key_id",
                    "Access Key ID (AK) of an IAM user with DNSFullAccess",
                )
                .required()
                .env(&["VOLC_ACCESSKEY", "Volcengine_ACCESS_KEY_ID"]),
                ConfigField::new("secret_access_key", "Secret Access Key (SK)")
                    .required()
                    .secret()
                    .env(&["VOLC_SECRETKEY", "Volcengine_SECRET_ACCESS_KEY"]),
                ConfigField::new(
                    "session_token",
                    "Session token of temporary credentials (STS), sent as X-Security-Token",
                )
                .secret()
                .env(&["Volcengine_SESSION_TOKEN"]),
                ConfigField::new("region", "Signing region")
                    .default(DEFAULT_REGION)
                    .env(&["VOLC_REGION"]),
                ConfigField::new("endpoint", "API endpoint").default(DEFAULT_ENDPOINT),
                ConfigField::new(
                    "ttl",
                    "TTL of the challenge records (default 600); overrides the TTL wacme passes",
                )
                .env(&["VOLC_TTL"]),
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
        let (zid, zone_name) = api.zone(&set.zone)?;
        let host = host_of(set, &zone_name)?;
        let existing = api.records(zid, &host)?;
        let ttl = api.ttl.unwrap_or(set.ttl);
        for value in &set.values {
            if existing.iter().any(|r| txt::unquote(&r.value) == *value) {
                log::debug(&format!("{}: value already there", set.fqdn));
                continue;
            }
            let body = json!({
                "ZID": zid,
                "Host": host,
                "Type": "TXT",
                "Value": value,
                "TTL": ttl,
                "Line": "default",
                "Remark": "ACME DNS-01 challenge (wacme)",
            });
            match api.call("CreateRecord", body) {
                Ok(_) => {}
                Err(e) if e.code.contains("Duplicate") || e.code == "RecordAlreadyExists" => {
                    log::debug(&format!("{}: value already there", set.fqdn));
                }
                Err(e) => return Err(e.error),
            }
        }
        Ok(())
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let (zid, zone_name) = api.zone(&set.zone)?;
        let host = host_of(set, &zone_name)?;
        for record in api.records(zid, &host)? {
            if !set.values.contains(&txt::unquote(&record.value)) {
                continue;
            }
            let body = json!({ "RecordID": record.record_id });
            match api.call("DeleteRecord", body) {
                Ok(_) => {}
                Err(e) if e.code == "RecordNotFound" || e.code == "InvalidParameter.RecordID" => {}
                Err(e) => return Err(e.error),
            }
        }
        Ok(())
    }
}

/// The record's host relative to the zone the account holds (`@` at the
/// apex), which may sit above the zone the host found.
pub fn host_of(set: &TxtSet, zone_name: &str) -> Result<String> {
    zone::relative(&set.fqdn, zone_name)
        .ok_or_else(|| Error::Permanent(format!("{} is not inside zone {zone_name}", set.fqdn)))
}

/// One record as `ListRecords` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Record {
    #[serde(rename = "RecordID", deserialize_with = "string_or_number")]
    pub record_id: String,
    pub host: String,
    #[serde(rename = "Type")]
    pub rtype: String,
    pub value: String,
}

/// An id the API may give as a string or a number.
fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or a number, not {other}"
        ))),
    }
}

/// The resolved configuration of one call.
#[derive(Debug, Clone)]
pub struct Api {
    pub endpoint: String,
    /// `host[:port]` of the endpoint, as the `Host` header carries it.
    pub authority: String,
    pub credentials: Credentials,
    pub region: String,
    pub ttl: Option<u32>,
}

/// A failed call: the API's error code and the mapped WIT error.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: String,
    pub error: Error,
}

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        ApiError {
            code: String::new(),
            error,
        }
    }
}

impl Api {
    pub fn from_config(config: &Config) -> Result<Api> {
        let endpoint = url::trim_base(config.get("endpoint").unwrap_or(DEFAULT_ENDPOINT).trim());
        // The signed host: without the default port.
        let authority = url::authority(endpoint).ok_or_else(|| {
            Error::InvalidConfig(format!(
                "`endpoint` must be an https:// origin such as {DEFAULT_ENDPOINT}, not \
                     {endpoint:?}"
            ))
        })?;
        Ok(Api {
            endpoint: endpoint.to_string(),
            authority,
            credentials: Credentials {
                access_key_id: config.require("access_key_id")?.trim().into(),
                secret_access_key: config.require("secret_access_key")?.into(),
                session_token: config.get("session_token").map(str::to_string),
            },
            region: config.get("region").unwrap_or(DEFAULT_REGION).trim().into(),
            ttl: config.parse::<u32>("ttl")?,
        })
    }

    /// The signed `POST /?Action=<action>&Version=2018-08-01` with the JSON
    /// `body` at `datetime` (every action of the API takes its parameters as
    /// a JSON body).
    pub fn signed_request(&self, action: &str, body: &[u8], datetime: &str) -> Request {
        let query = vec![
            ("Action".to_string(), action.to_string()),
            ("Version".to_string(), API_VERSION.to_string()),
        ];
        let payload_hash = sigv4::sha256_hex(body);
        let headers = vec![
            ("host".to_string(), self.authority.clone()),
            ("content-type".to_string(), "application/json".to_string()),
            ("x-content-sha256".to_string(), payload_hash.clone()),
        ];
        let signed = sigv4::sign(
            &SCHEME,
            &self.credentials,
            &self.region,
            SERVICE,
            &sigv4::Request {
                method: "POST",
                path: "/",
                query: &query,
                headers: &headers,
                payload_hash: &payload_hash,
            },
            datetime,
        );
        let url = format!("{}/?{}", self.endpoint, sigv4::canonical_query(&query));
        let mut request = Request::post(url).body(body.to_vec());
        // The host sets `Host` itself, from the same URL.
        for (name, value) in headers.into_iter().filter(|(n, _)| n != "host") {
            request = request.header(name, value);
        }
        for (name, value) in signed.headers {
            request = request.header(name, value);
        }
        request.header("accept", "application/json")
    }

    /// Signs and sends one action; the `Result` object on success.
    pub fn call(&self, action: &str, body: Value) -> Result<Value, ApiError> {
        let response = self
            .signed_request(action, body.to_string().as_bytes(), &sigv4::now())
            .send()?;
        let parsed: Option<Envelope> = serde_json::from_slice(&response.body).ok();
        match parsed {
            Some(Envelope {
                response_metadata:
                    Some(Metadata_ {
                        error: Some(error), ..
                    }),
                ..
            }) => Err(api_error(&response, error)),
            Some(envelope) if response.is_success() => Ok(envelope.result.unwrap_or(Value::Null)),
            _ => Err(api_error(&response, ApiErrorBody::default())),
        }
    }

    /// The ZID and name of the zone `zone` (or its nearest parent) in the
    /// account.
    pub fn zone(&self, zone: &str) -> Result<(u64, String)> {
        for candidate in zone::candidates(zone) {
            let mut seen = 0u64;
            for page in 1..=MAX_PAGES {
                let result = self
                    .call(
                        "ListZones",
                        json!({
                            "Key": candidate,
                            "SearchMode": "exact",
                            "PageNumber": page,
                            "PageSize": PAGE_SIZE,
                        }),
                    )
                    .map_err(|e| e.error)?;
                let zones = result["Zones"].as_array().cloned().unwrap_or_default();
                let found = zones.iter().find(|z| {
                    z["ZoneName"]
                        .as_str()
                        .is_some_and(|n| n.trim_end_matches('.').eq_ignore_ascii_case(&candidate))
                });
                if let Some(zid) = found.and_then(|z| z["ZID"].as_u64()) {
                    return Ok((zid, candidate));
                }
                seen += zones.len() as u64;
                if zones.is_empty() || seen >= result["Total"].as_u64().unwrap_or(0) {
                    break;
                }
            }
        }
        Err(Error::ZoneNotFound(format!(
            "Volcengine DNS: no zone for {zone} (or a parent) in this account"
        )))
    }

    /// Every TXT record whose host is exactly `host` in zone `zid`.
    pub fn records(&self, zid: u64, host: &str) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        let mut seen = 0u64;
        for page in 1..=MAX_PAGES {
            let result = self
                .call(
                    "ListRecords",
                    json!({
                        "ZID": zid,
                        "Host": host,
                        "Type": "TXT",
                        "SearchMode": "exact",
                        "PageNumber": page,
                        "PageSize": PAGE_SIZE,
                    }),
                )
                .map_err(|e| e.error)?;
            let records: Vec<Record> = match &result["Records"] {
                Value::Null => Vec::new(),
                list => serde_json::from_value(list.clone()).map_err(|e| {
                    Error::Permanent(format!(
                        "Volcengine DNS: unexpected record list ({e}): {}",
                        excerpt(&result.to_string())
                    ))
                })?,
            };
            let count = records.len() as u64;
            seen += count;
            out.extend(records.into_iter().filter(|r| {
                r.host.eq_ignore_ascii_case(host) && r.rtype.eq_ignore_ascii_case("TXT")
            }));
            let total = result["TotalCount"].as_u64().unwrap_or(0);
            // The server may return fewer per page than asked.
            if count == 0 || seen >= total {
                break;
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope {
    #[serde(default)]
    response_metadata: Option<Metadata_>,
    #[serde(default)]
    result: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata_ {
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    error: Option<ApiErrorBody>,
}

/// `ResponseMetadata.Error`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiErrorBody {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// Maps a failed answer to the WIT error case, keyed on the error code.
pub fn api_error(response: &Response, error: ApiErrorBody) -> ApiError {
    let request_id = serde_json::from_slice::<Envelope>(&response.body)
        .ok()
        .and_then(|e| e.response_metadata)
        .map(|m| m.request_id)
        .unwrap_or_default();
    let code = error.code;
    let detail = match (code.is_empty(), request_id.is_empty()) {
        (true, _) => excerpt(&response.text()),
        (false, true) => format!("{code}: {}", error.message),
        (false, false) => format!("{code}: {} (RequestId {request_id})", error.message),
    };
    let message = format!("Volcengine DNS: HTTP {}: {detail}", response.status);
    let retry_after = response
        .header("retry-after")
        .and_then(|v| v.trim().parse().ok());
    let mapped = match code.as_str() {
        "FlowLimitExceeded" | "RequestLimitExceeded" | "Throttling" | "TooManyRequests" => {
            Error::RateLimited(RateLimit {
                message,
                retry_after_secs: retry_after,
            })
        }
        "InvalidTimestamp" | "RequestExpired" | "SignatureExpired" => Error::Permanent(format!(
            "{message}; the request time (X-Date) is too far off the server's: check this \
             machine's clock"
        )),
        "SignatureDoesNotMatch" => {
            Error::Authentication(format!("{message}; check secret_access_key"))
        }
        "InvalidAccessKey" | "InvalidCredential" | "InvalidAccessKeyId" => {
            Error::Authentication(format!("{message}; check access_key_id"))
        }
        "AccessDenied"
        | "InvalidAuthorization"
        | "MissingAuthenticationToken"
        | "MissingSignature" => Error::Authentication(message),
        "ZoneNotFound" | "InvalidParameter.ZID" => Error::ZoneNotFound(message),
        "ServiceUnavailableTemp"
        | "InternalError"
        | "InternalServiceError"
        | "InternalServiceTimeout"
        | "ServiceUnavailable" => Error::Transient(message),
        c if c.contains("TTL") => Error::InvalidConfig(message),
        _ => Error::from_status(response.status, response.header("retry-after"), message),
    };
    ApiError {
        code,
        error: mapped,
    }
}

#[cfg(test)]
mod tests;
