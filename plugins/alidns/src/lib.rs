//! The Alibaba Cloud DNS provider (`--dns alidns`): publishes ACME challenge
//! values through the Alidns RPC API (version 2015-01-09).
//!
//! Requests are signed with ACS3-HMAC-SHA256 (V3, the current SDKs' default)
//! or, with `signature_version=v1`, HMAC-SHA1 (V1, what acme.sh uses); the
//! timestamp comes from the guest's wall clock and the nonce from WASI
//! random bytes (see [`sign`]). `present` calls `AddDomainRecord` once per
//! value with the RR relative to the zone (an existing identical record,
//! `DomainRecordDuplicate`, is success); `cleanup` lists the name with
//! `DescribeSubDomainRecords` (exact match, every page), re-checks the RR
//! and deletes only records holding one of the values.
//!
//! The endpoint is `endpoint` when set, else `https://alidns.<region>.aliyuncs.com`
//! when `region` is set (international accounts use `ap-southeast-1`), else
//! the central `https://alidns.aliyuncs.com`. Temporary credentials (a RAM
//! role's STS AccessKey ID `STS.…` with its `security_token`) sign as the
//! service documents: the token travels as the signed `x-acs-security-token`
//! header (V3) or the `SecurityToken` parameter (V1).

pub mod sign;

use serde::Deserialize;
use std::collections::BTreeMap;
use wacme_plugin_sdk::http::{Request, Response, excerpt};
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, url,
};

/// The central endpoint, the only one Alibaba's Alidns endpoint page lists.
pub const DEFAULT_ENDPOINT: &str = "https://alidns.aliyuncs.com";
/// Every endpoint the `region` field derives (`https://alidns.<region>.aliyuncs.com`),
/// and the central one, are under this origin pattern.
pub const ENDPOINTS: &str = "https://*.aliyuncs.com";
pub const API_VERSION: &str = "2015-01-09";
/// Free and personal editions accept nothing lower.
pub const DEFAULT_TTL: u32 = 600;
/// Enterprise ultimate edition accepts 1.
pub const MIN_TTL: u32 = 1;
/// Records per page when listing (the API's maximum).
pub const PAGE_SIZE: u32 = 500;
/// Pages followed at most while listing one name.
pub const MAX_PAGES: u32 = 20;

pub struct Alidns;

// Exported symbols such as `wacme:dns/provider@0.2.0#present` do not link
// into a native cdylib; the native build exists for the unit tests.
#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(Alidns);

impl Provider for Alidns {
    fn metadata() -> Metadata {
        Metadata {
            name: "alidns".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Alibaba Cloud DNS (Alidns), RPC API 2015-01-09 signed with \
                          ACS3-HMAC-SHA256 (or V1 HMAC-SHA1); one record per value, only its own \
                          values removed"
                .into(),
            homepage: "https://www.alibabacloud.com/help/en/dns/".into(),
            config: vec![
                ConfigField::new(
                    "access_key_id",
                    "AccessKey ID (RAM user with AliyunDNSFullAccess)",
                )
                .required()
                .env(&["ALICLOUD_ACCESS_KEY", "Ali_Key"]),
                ConfigField::new("access_key_secret", "AccessKey secret")
                    .required()
                    .secret()
                    .env(&["ALICLOUD_SECRET_KEY", "Ali_Secret"]),
                ConfigField::new(
                    "security_token",
                    "STS security token, for temporary credentials",
                )
                .secret()
                .env(&["ALICLOUD_SECURITY_TOKEN"]),
                ConfigField::new(
                    "region",
                    "Region ID whose endpoint https://alidns.<region>.aliyuncs.com is used \
                     when `endpoint` is not set, e.g. ap-southeast-1 (Singapore, for \
                     international accounts), cn-hangzhou, cn-shanghai, cn-beijing, \
                     cn-shenzhen, cn-hongkong, ap-northeast-1, eu-central-1, us-west-1; \
                     unset: the central https://alidns.aliyuncs.com",
                )
                .env(&["ALICLOUD_REGION_ID"]),
                ConfigField::new(
                    "endpoint",
                    "API endpoint (wins over `region`); default https://alidns.aliyuncs.com, \
                     or https://alidns.<region>.aliyuncs.com when `region` is set",
                ),
                ConfigField::new("signature_version", "Request signature: v3 or v1").default("v3"),
                ConfigField::new(
                    "ttl",
                    "TTL of the challenge records (600 on free/personal editions); overrides \
                     the TTL wacme passes",
                ),
            ],
            allowed_hosts: vec!["{endpoint}".into(), ENDPOINTS.into()],
            default_ttl: DEFAULT_TTL,
            min_ttl: MIN_TTL,
            dns_servers: Vec::new(),
            hints: wacme_plugin_sdk::Hints::default(),
        }
    }

    fn present(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let ttl = api.ttl.unwrap_or(set.ttl).to_string();
        for value in &set.values {
            let params = [
                ("DomainName", set.zone.as_str()),
                ("RR", set.relative_name.as_str()),
                ("Type", "TXT"),
                ("Value", value.as_str()),
                ("TTL", ttl.as_str()),
            ];
            match api.call("AddDomainRecord", &params) {
                Ok(_) => {}
                Err(e) if e.code == "DomainRecordDuplicate" => {
                    log::debug(&format!("{}: value already there", set.fqdn));
                }
                Err(e) => return Err(e.error),
            }
        }
        Ok(())
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        for record in api.list(set)? {
            if !set.values.contains(&record.value) {
                continue;
            }
            match api.call(
                "DeleteDomainRecord",
                &[("RecordId", record.record_id.as_str())],
            ) {
                Ok(_) => {}
                Err(e) if GONE.contains(&e.code.as_str()) => {}
                Err(e) => return Err(e.error),
            }
        }
        Ok(())
    }
}

/// Codes of a delete whose record is already gone.
pub const GONE: [&str; 2] = ["DomainRecordNotBelongToUser", "InvalidRecordId.NotFound"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureVersion {
    V1,
    V3,
}

/// `https://alidns.<region>.aliyuncs.com`, for a region made of lower-case
/// letters, digits and `-` (such as `ap-southeast-1`).
pub fn regional_endpoint(region: &str) -> Result<String> {
    let ok = !region.is_empty()
        && !region.starts_with('-')
        && !region.ends_with('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        return Err(Error::InvalidConfig(format!(
            "`region` must be a region ID such as ap-southeast-1 or cn-hangzhou (lower-case \
             letters, digits and `-`), not {region:?}"
        )));
    }
    Ok(format!("https://alidns.{region}.aliyuncs.com"))
}

/// The resolved configuration of one call.
#[derive(Debug, Clone)]
pub struct Api {
    pub endpoint: String,
    /// `host[:port]` of the endpoint, as the `Host` header carries it.
    pub authority: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: Option<String>,
    pub version: SignatureVersion,
    pub ttl: Option<u32>,
}

/// A failed call: the API's `Code` and the mapped WIT error.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: String,
    pub error: Error,
}

impl Api {
    pub fn from_config(config: &Config) -> Result<Api> {
        let endpoint = match (config.get("endpoint"), config.get("region")) {
            (Some(endpoint), _) => url::trim_base(endpoint.trim()).to_string(),
            (None, Some(region)) => regional_endpoint(region.trim())?,
            (None, None) => DEFAULT_ENDPOINT.to_string(),
        };
        let endpoint = endpoint.as_str();
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
        let version = match config.get("signature_version").unwrap_or("v3") {
            "v3" | "V3" | "3" => SignatureVersion::V3,
            "v1" | "V1" | "1" => SignatureVersion::V1,
            other => {
                return Err(Error::InvalidConfig(format!(
                    "`signature_version` must be v3 or v1, not {other:?}"
                )));
            }
        };
        Ok(Api {
            authority: authority.to_ascii_lowercase(),
            endpoint: endpoint.to_string(),
            access_key_id: config.require("access_key_id")?.into(),
            access_key_secret: config.require("access_key_secret")?.into(),
            security_token: config.get("security_token").map(str::to_string),
            version,
            ttl: config.parse::<u32>("ttl")?,
        })
    }

    /// Every TXT record of `set.fqdn` whose RR is exactly `set.relative_name`.
    pub fn list(&self, set: &TxtSet) -> Result<Vec<Record>> {
        let mut records = Vec::new();
        for page in 1..=MAX_PAGES {
            let (page_text, size) = (page.to_string(), PAGE_SIZE.to_string());
            let params = [
                ("DomainName", set.zone.as_str()),
                ("SubDomain", set.fqdn.as_str()),
                ("Type", "TXT"),
                ("PageNumber", page_text.as_str()),
                ("PageSize", size.as_str()),
            ];
            let body = self
                .call("DescribeSubDomainRecords", &params)
                .map_err(|e| e.error)?;
            let listing: Listing = serde_json::from_slice(&body)
                .map_err(|e| Error::Permanent(format!("unexpected record list: {e}")))?;
            let count = listing.domain_records.record.len() as u64;
            records.extend(listing.domain_records.record.into_iter().filter(|r| {
                r.rr.eq_ignore_ascii_case(&set.relative_name) && r.rtype.eq_ignore_ascii_case("TXT")
            }));
            if count == 0
                || u64::from(page) * u64::from(listing.page_size.max(1)) >= listing.total_count
            {
                break;
            }
        }
        Ok(records)
    }

    /// Signs and sends one action; the JSON body on success.
    pub fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<Vec<u8>, ApiError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let request = self.signed_request(action, params, &sign::timestamp(now), &nonce());
        let response = request.send().map_err(|error| ApiError {
            code: String::new(),
            error,
        })?;
        if response.is_success() {
            return Ok(response.body);
        }
        Err(api_error(&response))
    }

    /// The signed request for `action` at `timestamp` with `nonce`.
    pub fn signed_request(
        &self,
        action: &str,
        params: &[(&str, &str)],
        timestamp: &str,
        nonce: &str,
    ) -> Request {
        let mut query: BTreeMap<String, String> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match self.version {
            SignatureVersion::V1 => {
                for (k, v) in [
                    ("Action", action),
                    ("Format", "JSON"),
                    ("Version", API_VERSION),
                    ("AccessKeyId", &self.access_key_id),
                    ("SignatureMethod", "HMAC-SHA1"),
                    ("SignatureVersion", "1.0"),
                    ("SignatureNonce", nonce),
                    ("Timestamp", timestamp),
                ] {
                    query.insert(k.into(), v.into());
                }
                if let Some(token) = &self.security_token {
                    query.insert("SecurityToken".into(), token.clone());
                }
                let signature = sign::v1_signature(
                    &self.access_key_secret,
                    &sign::v1_string_to_sign("GET", &query),
                );
                query.insert("Signature".into(), signature);
                let url = format!("{}/?{}", self.endpoint, sign::canonical_query(&query));
                Request::get(url).header("accept", "application/json")
            }
            SignatureVersion::V3 => {
                let payload = sign::sha256_hex(b"");
                let mut headers: BTreeMap<String, String> = [
                    ("host", self.authority.as_str()),
                    ("x-acs-action", action),
                    ("x-acs-content-sha256", &payload),
                    ("x-acs-date", timestamp),
                    ("x-acs-signature-nonce", nonce),
                    ("x-acs-version", API_VERSION),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
                if let Some(token) = &self.security_token {
                    headers.insert("x-acs-security-token".into(), token.clone());
                }
                let (canonical, signed) = sign::v3_canonical_request(&sign::V3Request {
                    method: "POST",
                    query: &query,
                    headers: &headers,
                    hashed_payload: &payload,
                });
                let (_, signature) = sign::v3_signature(&self.access_key_secret, &canonical);
                let url = format!("{}/?{}", self.endpoint, sign::canonical_query(&query));
                let mut request = Request::post(url).header("accept", "application/json");
                // The host sets `Host` itself, from the same URL.
                for (k, v) in headers.into_iter().filter(|(k, _)| k != "host") {
                    request = request.header(k, v);
                }
                request.header(
                    "authorization",
                    sign::v3_authorization(&self.access_key_id, &signed, &signature),
                )
            }
        }
    }
}

/// 16 random bytes as hex, from the WASI random source.
pub fn nonce() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Never expected; a timestamp-derived value still differs per call.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes = t.to_le_bytes();
    }
    hex::encode(bytes)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Listing {
    #[serde(default)]
    pub total_count: u64,
    #[serde(default)]
    pub page_size: u32,
    #[serde(default)]
    pub domain_records: Records,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Records {
    #[serde(default)]
    pub record: Vec<Record>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Record {
    pub record_id: String,
    #[serde(rename = "RR")]
    pub rr: String,
    #[serde(rename = "Type")]
    pub rtype: String,
    pub value: String,
}

/// The error envelope: `{RequestId, HostId, Code, Message, Recommend}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    request_id: String,
}

/// Maps a failed answer to the WIT error case, keyed on `Code`.
pub fn api_error(response: &Response) -> ApiError {
    let envelope: Envelope = serde_json::from_slice(&response.body).unwrap_or_default();
    let code = envelope.code.clone();
    let detail = if code.is_empty() {
        excerpt(&response.text())
    } else {
        format!(
            "{code}: {} (RequestId {})",
            envelope.message, envelope.request_id
        )
    };
    let message = format!("Alidns: HTTP {}: {detail}", response.status);
    let error = match code.as_str() {
        c if c.starts_with("Throttling") => Error::RateLimited(RateLimit {
            message,
            retry_after_secs: response
                .header("retry-after")
                .and_then(|v| v.trim().parse().ok()),
        }),
        "LastOperationNotFinished" | "SignatureNonceUsed" | "ServiceUnavailable" => {
            Error::Transient(message)
        }
        "InvalidTimeStamp.Expired" => Error::Permanent(format!(
            "{message}; the request timestamp is more than 15 minutes off the server's time: \
             check this machine's clock (it must be within 15 minutes of UTC)"
        )),
        "SignatureDoesNotMatch" => Error::Authentication(format!(
            "{message}; check access_key_secret (the server's string to sign is in the message)"
        )),
        "MissingSecurityToken" => Error::Authentication(format!(
            "{message}; an AccessKey ID starting with `STS.` is a temporary credential: set \
             `security_token` (ALICLOUD_SECURITY_TOKEN) to the token issued with it"
        )),
        "InvalidSecurityToken.Expired"
        | "InvalidSecurityToken.Malformed"
        | "InvalidSecurityToken.MismatchWithAccessKey" => Error::Authentication(format!(
            "{message}; `security_token` must be the token issued with this STS AccessKey ID, \
             and temporary credentials expire: fetch a fresh set"
        )),
        "InvalidAccessKeyId.NotFound"
        | "InvalidAccessKeyId.Inactive"
        | "Forbidden.RAM"
        | "Forbidden" => Error::Authentication(message),
        "IncorrectDomainUser" | "InvalidDomainName.NoExist" | "DomainNotExist" => {
            Error::ZoneNotFound(format!(
                "{message}; the domain is not in this Alibaba Cloud account"
            ))
        }
        "QuotaExceeded.TTL" => Error::InvalidConfig(format!(
            "{message}; this edition needs a higher TTL: set `ttl` (600 on free editions)"
        )),
        _ => Error::from_status(response.status, response.header("retry-after"), message),
    };
    ApiError { code, error }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[(&str, &str)]) -> Config {
        let mut pairs = vec![("access_key_id", "id"), ("access_key_secret", "secret")];
        pairs.extend_from_slice(extra);
        Config::new(pairs)
    }

    fn query_of(url: &str) -> BTreeMap<String, String> {
        let query = url.split_once('?').unwrap().1;
        query
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (decode(k), decode(v))
            })
            .collect()
    }

    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    fn error(status: u16, code: &str, message: &str) -> Error {
        let body = serde_json::json!({
            "RequestId": "R", "HostId": "alidns.aliyuncs.com", "Code": code, "Message": message,
            "Recommend": "https://api.aliyun.com/troubleshoot",
        });
        api_error(&Response {
            status,
            headers: Vec::new(),
            body: serde_json::to_vec(&body).unwrap(),
        })
        .error
    }

    #[test]
    fn config_defaults_and_checks() {
        let api = Api::from_config(&config(&[])).unwrap();
        assert_eq!(api.version, SignatureVersion::V3);
        assert_eq!(api.authority, "alidns.aliyuncs.com");
        let api = Api::from_config(&config(&[
            ("endpoint", "http://127.0.0.1:8080/"),
            ("signature_version", "v1"),
            ("security_token", "sts"),
        ]))
        .unwrap();
        assert_eq!(
            (api.version, api.authority.as_str(), api.endpoint.as_str()),
            (
                SignatureVersion::V1,
                "127.0.0.1:8080",
                "http://127.0.0.1:8080"
            )
        );
        for bad in [
            vec![("signature_version", "v2")],
            vec![("endpoint", "alidns.aliyuncs.com")],
            vec![("endpoint", "https://x/path")],
            vec![("ttl", "ten")],
        ] {
            assert!(matches!(
                Api::from_config(&config(&bad)),
                Err(Error::InvalidConfig(_))
            ));
        }
        assert!(matches!(
            Api::from_config(&Config::new([("access_key_id", "id")])),
            Err(Error::InvalidConfig(m)) if m.contains("access_key_secret")
        ));
    }

    #[test]
    fn region_derives_the_endpoint_and_endpoint_wins() {
        let api = Api::from_config(&config(&[("region", "ap-southeast-1")])).unwrap();
        assert_eq!(
            (api.endpoint.as_str(), api.authority.as_str()),
            (
                "https://alidns.ap-southeast-1.aliyuncs.com",
                "alidns.ap-southeast-1.aliyuncs.com"
            )
        );
        let api = Api::from_config(&config(&[("region", " cn-hangzhou ")])).unwrap();
        assert_eq!(api.endpoint, "https://alidns.cn-hangzhou.aliyuncs.com");
        let api = Api::from_config(&config(&[
            ("region", "ap-southeast-1"),
            ("endpoint", "http://127.0.0.1:8080"),
        ]))
        .unwrap();
        assert_eq!(api.endpoint, "http://127.0.0.1:8080");
        // A region the host does not know is still any region.
        assert_eq!(
            regional_endpoint("eu-central-1").unwrap(),
            "https://alidns.eu-central-1.aliyuncs.com"
        );
        // An empty value is no value: the central endpoint.
        let api = Api::from_config(&config(&[("region", "")])).unwrap();
        assert_eq!(api.endpoint, DEFAULT_ENDPOINT);
        for bad in [
            "AP-SOUTHEAST-1",
            "ap_southeast_1",
            "ap-southeast-1.evil.test",
            "evil.test/x",
            "a@b",
            "-ap",
            "ap-",
        ] {
            assert!(
                matches!(
                    Api::from_config(&config(&[("region", bad)])),
                    Err(Error::InvalidConfig(m)) if m.contains("region")
                ),
                "{bad:?}"
            );
        }
    }

    /// Every derived endpoint, and the central one, is covered by the static
    /// `*.aliyuncs.com` entry (one more label before the suffix, https).
    #[test]
    fn derived_endpoints_are_under_the_static_allowed_origin() {
        let suffix = ENDPOINTS.strip_prefix("https://*").unwrap();
        assert_eq!(suffix, ".aliyuncs.com");
        for region in ["ap-southeast-1", "cn-hangzhou", "cn-hongkong", "us-west-1"] {
            let endpoint = regional_endpoint(region).unwrap();
            let host = endpoint.strip_prefix("https://").unwrap();
            assert!(
                host.ends_with(suffix) && host.len() > suffix.len(),
                "{host}"
            );
            assert!(!host.contains(['/', ':', '@']), "{host}");
        }
        let central = DEFAULT_ENDPOINT.strip_prefix("https://").unwrap();
        assert!(central.ends_with(suffix));
    }

    #[test]
    fn v1_request_carries_a_verifiable_signature() {
        let api = Api::from_config(&config(&[
            ("signature_version", "v1"),
            ("security_token", "tok"),
        ]))
        .unwrap();
        let request = api.signed_request(
            "AddDomainRecord",
            &[("DomainName", "example.com"), ("Value", "a b*c")],
            "2024-01-02T03:04:05Z",
            "n1",
        );
        let url = format!("{request:?}");
        let url = url
            .split("url: \"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(url.starts_with("https://alidns.aliyuncs.com/?"), "{url}");
        assert!(url.contains("Value=a%20b%2Ac"), "{url}");
        let mut q = query_of(url);
        let signature = q.remove("Signature").unwrap();
        // The token is a signed parameter, as the V1 documentation has it.
        assert_eq!(q["SecurityToken"], "tok");
        assert_eq!(q["Timestamp"], "2024-01-02T03:04:05Z");
        assert_eq!(q["Format"], "JSON");
        assert_eq!(
            signature,
            sign::v1_signature("secret", &sign::v1_string_to_sign("GET", &q))
        );
    }

    #[test]
    fn v3_request_signs_host_and_acs_headers() {
        let api = Api::from_config(&config(&[("endpoint", "http://127.0.0.1:9")])).unwrap();
        let request = api.signed_request(
            "DeleteDomainRecord",
            &[("RecordId", "42")],
            "2024-01-02T03:04:05Z",
            "n2",
        );
        let text = format!("{request:?}");
        assert!(text.contains("http://127.0.0.1:9/?RecordId=42"), "{text}");
        assert!(text.contains("SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"), "{text}");
        assert!(!text.contains("(\"host\""), "the host sets Host: {text}");
        let headers: BTreeMap<String, String> = [
            ("host", "127.0.0.1:9"),
            ("x-acs-action", "DeleteDomainRecord"),
            ("x-acs-content-sha256", &sign::sha256_hex(b"")),
            ("x-acs-date", "2024-01-02T03:04:05Z"),
            ("x-acs-signature-nonce", "n2"),
            ("x-acs-version", API_VERSION),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let query = BTreeMap::from([("RecordId".to_string(), "42".to_string())]);
        let (canonical, _) = sign::v3_canonical_request(&sign::V3Request {
            method: "POST",
            query: &query,
            headers: &headers,
            hashed_payload: &sign::sha256_hex(b""),
        });
        let (_, expected) = sign::v3_signature("secret", &canonical);
        assert!(text.contains(&format!("Signature={expected}")), "{text}");
    }

    #[test]
    fn v1_without_token_sends_no_security_token() {
        let api = Api::from_config(&config(&[("signature_version", "v1")])).unwrap();
        let text = format!(
            "{:?}",
            api.signed_request("DescribeSubDomainRecords", &[], "2024-01-02T03:04:05Z", "n")
        );
        assert!(!text.contains("SecurityToken"), "{text}");
    }

    #[test]
    fn v3_signs_the_security_token_header() {
        let api = Api::from_config(&Config::new([
            ("endpoint", "http://127.0.0.1:9"),
            ("access_key_id", "STS.NUgYrLnoC63mHtFkUL5MeF8r"),
            ("access_key_secret", "secret"),
            ("security_token", "CAIS-token"),
        ]))
        .unwrap();
        let request = api.signed_request(
            "AddDomainRecord",
            &[("DomainName", "example.com")],
            "2024-01-02T03:04:05Z",
            "n3",
        );
        let text = format!("{request:?}");
        assert!(
            text.contains("(\"x-acs-security-token\", \"CAIS-token\")"),
            "{text}"
        );
        assert!(
            text.contains("Credential=STS.NUgYrLnoC63mHtFkUL5MeF8r,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version,"),
            "{text}"
        );
        let headers: BTreeMap<String, String> = [
            ("host", "127.0.0.1:9"),
            ("x-acs-action", "AddDomainRecord"),
            ("x-acs-content-sha256", &sign::sha256_hex(b"")),
            ("x-acs-date", "2024-01-02T03:04:05Z"),
            ("x-acs-security-token", "CAIS-token"),
            ("x-acs-signature-nonce", "n3"),
            ("x-acs-version", API_VERSION),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let query = BTreeMap::from([("DomainName".to_string(), "example.com".to_string())]);
        let (canonical, _) = sign::v3_canonical_request(&sign::V3Request {
            method: "POST",
            query: &query,
            headers: &headers,
            hashed_payload: &sign::sha256_hex(b""),
        });
        let (_, expected) = sign::v3_signature("secret", &canonical);
        assert!(text.contains(&format!("Signature={expected}")), "{text}");
        // Without a token neither the header nor its signed name appears.
        let plain = Api::from_config(&config(&[("endpoint", "http://127.0.0.1:9")])).unwrap();
        let text = format!(
            "{:?}",
            plain.signed_request("AddDomainRecord", &[], "2024-01-02T03:04:05Z", "n4")
        );
        assert!(!text.contains("security-token"), "{text}");
    }

    #[test]
    fn nonces_differ() {
        let (a, b) = (nonce(), nonce());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn errors_map_to_wit_cases() {
        assert!(matches!(
            error(
                400,
                "Throttling.User",
                "Request was denied due to user flow control."
            ),
            Error::RateLimited(_)
        ));
        assert!(matches!(
            error(400, "Throttling", "x"),
            Error::RateLimited(_)
        ));
        assert!(matches!(
            error(
                400,
                "LastOperationNotFinished",
                "Last operation is not finished"
            ),
            Error::Transient(_)
        ));
        let Error::Permanent(m) = error(
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ) else {
            panic!("expired")
        };
        assert!(m.contains("clock"), "{m}");
        let Error::Authentication(m) = error(
            400,
            "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation. server string to sign is:GET&%2F&x",
        ) else {
            panic!("signature")
        };
        assert!(m.contains("server string to sign is:GET&%2F&x"), "{m}");
        assert!(matches!(
            error(
                404,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found."
            ),
            Error::Authentication(_)
        ));
        assert!(matches!(
            error(
                400,
                "InvalidDomainName.NoExist",
                "The specified domain name does not exist."
            ),
            Error::ZoneNotFound(_)
        ));
        let Error::Authentication(m) = error(
            400,
            "MissingSecurityToken",
            "SecurityToken is mandatory for this action.",
        ) else {
            panic!("missing token")
        };
        assert!(m.contains("security_token"), "{m}");
        let Error::Authentication(m) = error(
            400,
            "InvalidSecurityToken.MismatchWithAccessKey",
            "Specified SecurityToken mismatch with the AccessKey.",
        ) else {
            panic!("mismatched token")
        };
        assert!(m.contains("security_token"), "{m}");
        assert!(matches!(
            error(
                400,
                "InvalidSecurityToken.Expired",
                "Specified SecurityToken is expired."
            ),
            Error::Authentication(_)
        ));
        assert!(matches!(
            error(400, "QuotaExceeded.TTL", "ttl"),
            Error::InvalidConfig(_)
        ));
        assert!(matches!(error(503, "", ""), Error::Transient(_)));
        assert!(matches!(error(400, "Other", "x"), Error::Permanent(_)));
    }

    #[test]
    fn listing_parses_the_real_shape() {
        let body = r#"{"TotalCount":2,"PageSize":500,"RequestId":"R","PageNumber":1,
            "DomainRecords":{"Record":[
              {"RR":"_acme-challenge","Line":"default","Status":"ENABLE","Locked":false,"Type":"TXT",
               "DomainName":"example.com","Value":"v1","RecordId":"9001","TTL":600,"Weight":1},
              {"RR":"_acme-challenge","Type":"TXT","Value":"v2","RecordId":"9002","TTL":600}]}}"#;
        let l: Listing = serde_json::from_str(body).unwrap();
        assert_eq!(l.total_count, 2);
        assert_eq!(l.domain_records.record[1].record_id, "9002");
        assert_eq!(l.domain_records.record[0].rr, "_acme-challenge");
    }

    #[test]
    fn metadata() {
        let m = Alidns::metadata();
        assert_eq!(m.name, "alidns");
        assert_eq!(
            (m.default_ttl, m.allowed_hosts.as_slice()),
            (
                600,
                &[
                    "{endpoint}".to_string(),
                    "https://*.aliyuncs.com".to_string()
                ][..]
            )
        );
        let region = m.config.iter().find(|f| f.name == "region").unwrap();
        assert_eq!(region.env_aliases, ["ALICLOUD_REGION_ID"]);
        assert!(!region.required && region.default.is_none());
        // No default endpoint: a default would always win over `region`.
        let endpoint = m.config.iter().find(|f| f.name == "endpoint").unwrap();
        assert!(endpoint.default.is_none());
        let secret = m
            .config
            .iter()
            .find(|f| f.name == "access_key_secret")
            .unwrap();
        assert!(secret.required && secret.secret);
        assert_eq!(secret.env_aliases, ["ALICLOUD_SECRET_KEY", "Ali_Secret"]);
        let id = m.config.iter().find(|f| f.name == "access_key_id").unwrap();
        assert_eq!(id.env_aliases, ["ALICLOUD_ACCESS_KEY", "Ali_Key"]);
        assert!(
            m.config
                .iter()
                .any(|f| f.name == "security_token" && f.secret)
        );
    }
}
