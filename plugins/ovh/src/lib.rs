//! The OVHcloud provider (`--dns ovh`): publishes ACME challenge values
//! through the OVHcloud API 1.0 (`/domain/zone/{zone}/record`).
//!
//! Authentication is an application key + application secret + consumer
//! key (a token created at `https://<region>.api.ovh.com/createToken/` with
//! `GET/POST/DELETE /domain/zone/*`). Every request carries
//! `X-Ovh-Signature: $1$` + hex SHA-1 of
//! `AS+CK+METHOD+URL+BODY+TIMESTAMP`; the timestamp is the server's clock
//! (`GET /auth/time` once per call, kept as an offset to the local clock),
//! so a skewed local clock does not matter.
//!
//! OVH keeps one record per value. `present` lists the TXT records of the
//! name (`GET /record?fieldType=TXT&subDomain=` gives ids, then one `GET`
//! per id), creates one record per missing value and `POST /refresh`es the
//! zone, without which OVH does not serve the change. `cleanup` deletes only
//! the records whose target, quoted or bare, is one of the values, then
//! refreshes. Nothing to change means no write and no refresh.
//!
//! Everything but [`Ovh`]'s two calls is a plain function tested on the host
//! target.

use serde::Deserialize;
use serde_json::Value;
use sha1::{Digest, Sha1};
use wacme_plugin_sdk::http::{Request, Response, excerpt};
pub use wacme_plugin_sdk::zone::candidates as zone_candidates;
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, txt, url,
};

/// The `ovh-eu` API base, the default.
pub const DEFAULT_API_URL: &str = "https://eu.api.ovh.com/1.0";
/// Region names (OVH's own SDKs and acme.sh) and their API bases.
pub const REGIONS: [(&str, &str); 7] = [
    ("ovh-eu", "https://eu.api.ovh.com/1.0"),
    ("ovh-ca", "https://ca.api.ovh.com/1.0"),
    ("ovh-us", "https://api.us.ovhcloud.com/1.0"),
    ("kimsufi-eu", "https://eu.api.kimsufi.com/1.0"),
    ("kimsufi-ca", "https://ca.api.kimsufi.com/1.0"),
    ("soyoustart-eu", "https://eu.api.soyoustart.com/1.0"),
    ("soyoustart-ca", "https://ca.api.soyoustart.com/1.0"),
];
/// OVH's smallest TTL for a record (0 means "the zone's default").
pub const MIN_TTL: u32 = 60;
pub const DEFAULT_TTL: u32 = 60;

pub struct Ovh;

#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(Ovh);

impl Provider for Ovh {
    fn metadata() -> Metadata {
        let mut allowed_hosts: Vec<String> = REGIONS
            .iter()
            .map(|(_, base)| origin(base).to_string())
            .collect();
        allowed_hosts.push("{api_url}".into());
        Metadata {
            name: "ovh".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "OVHcloud DNS, through API 1.0 with an application key, application \
                          secret and consumer key (GET/POST/DELETE /domain/zone/*); one TXT \
                          record per value, zone refreshed after each change"
                .into(),
            homepage: "https://eu.api.ovh.com/console/?section=%2Fdomain".into(),
            config: vec![
                ConfigField::new("application_key", "Application key (AK)")
                    .required()
                    .secret()
                    .env(&["OVH_APPLICATION_KEY", "OVH_AK"]),
                ConfigField::new("application_secret", "Application secret (AS)")
                    .required()
                    .secret()
                    .env(&["OVH_APPLICATION_SECRET", "OVH_AS"]),
                ConfigField::new(
                    "consumer_key",
                    "Consumer key (CK) granted GET/POST/DELETE on /domain/zone/*",
                )
                .required()
                .secret()
                .env(&["OVH_CONSUMER_KEY", "OVH_CK"]),
                ConfigField::new(
                    "endpoint",
                    "Region: ovh-eu, ovh-ca, ovh-us, kimsufi-eu, kimsufi-ca, soyoustart-eu, \
                     soyoustart-ca, or one of their API URLs; unset means `api_url`",
                )
                .env(&["OVH_ENDPOINT", "OVH_END_POINT"]),
                ConfigField::new(
                    "api_url",
                    "API base URL; a value other than the default wins over `endpoint`",
                )
                .default(DEFAULT_API_URL),
            ],
            allowed_hosts,
            default_ttl: DEFAULT_TTL,
            min_ttl: MIN_TTL,
            dns_servers: Vec::new(),
            hints: wacme_plugin_sdk::Hints::default(),
        }
    }

    fn present(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let clock = api.clock()?;
        let (zone, sub) = api.find_zone(&clock, set)?;
        let existing = api.list(&clock, &zone, &sub)?;
        let todo = missing(&existing, &set.values);
        if todo.is_empty() {
            log::debug(&format!("{}: every value is already there", set.fqdn));
            return Ok(());
        }
        for value in todo {
            let body = serde_json::json!({
                "fieldType": "TXT",
                "subDomain": sub,
                "target": value,
                "ttl": set.ttl,
            });
            let path = format!("/domain/zone/{}/record", url::encode(&zone));
            api.call(&clock, "POST", &path, Some(&body))?;
        }
        api.refresh(&clock, &zone)
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let clock = api.clock()?;
        let (zone, sub) = api.find_zone(&clock, set)?;
        let mut changed = false;
        for record in api.list(&clock, &zone, &sub)? {
            if !matches_value(&record.target, &set.values) {
                continue;
            }
            let path = format!("/domain/zone/{}/record/{}", url::encode(&zone), record.id);
            match api.call(&clock, "DELETE", &path, None) {
                Ok(_) => changed = true,
                Err(Error::ZoneNotFound(_)) => {
                    log::debug(&format!("record {} was already gone", record.id));
                }
                Err(e) => return Err(e),
            }
        }
        if changed {
            api.refresh(&clock, &zone)?;
        }
        Ok(())
    }
}

/// `scheme://host[:port]` of a base URL.
pub fn origin(base: &str) -> &str {
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    }
}

/// The API base for `endpoint` (a region name or URL) and `api_url`: an
/// `api_url` other than the default wins, else the region, else the
/// default. A malformed `endpoint` is an error either way.
pub fn api_base(endpoint: Option<&str>, api_url: Option<&str>) -> Result<String> {
    let region = endpoint
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(region_base)
        .transpose()?;
    let api_url = api_url.map(str::trim).filter(|u| !u.is_empty());
    if let Some(u) = api_url
        && url::trim_base(u) != DEFAULT_API_URL
    {
        return checked_url("api_url", u);
    }
    Ok(region.unwrap_or_else(|| DEFAULT_API_URL.to_string()))
}

/// The API base of a region name, or of an OVHcloud region's URL.
fn region_base(endpoint: &str) -> Result<String> {
    let wanted = endpoint.to_ascii_lowercase().replace('_', "-");
    if let Some((_, base)) = REGIONS
        .iter()
        .find(|(name, _)| *name == wanted || name.replace('-', "") == wanted)
    {
        return Ok(base.to_string());
    }
    if endpoint.contains("://") {
        let base = checked_url("endpoint", endpoint)?;
        if REGIONS.iter().any(|(_, b)| origin(b) == origin(&base)) {
            return Ok(base);
        }
        return Err(Error::InvalidConfig(format!(
            "`endpoint` {endpoint:?} is not an OVHcloud region's API; set such a URL as \
             `api_url`, the one URL the plugin may reach besides the regions"
        )));
    }
    let names: Vec<&str> = REGIONS.iter().map(|(n, _)| *n).collect();
    Err(Error::InvalidConfig(format!(
        "`endpoint` {endpoint:?} is not one of {} or an https:// URL",
        names.join(", ")
    )))
}

fn checked_url(key: &str, value: &str) -> Result<String> {
    if !value.starts_with("https://") && !value.starts_with("http://") {
        return Err(Error::InvalidConfig(format!(
            "`{key}` must be an https:// URL, not {value:?}"
        )));
    }
    Ok(url::trim_base(value).to_string())
}

/// The OVH signature: `$1$` + lower-case hex SHA-1 of
/// `AS+CK+METHOD+URL+BODY+TIMESTAMP` (joined with `+`).
pub fn signature(
    application_secret: &str,
    consumer_key: &str,
    method: &str,
    url: &str,
    body: &str,
    timestamp: u64,
) -> String {
    let clear = format!("{application_secret}+{consumer_key}+{method}+{url}+{body}+{timestamp}");
    format!("$1${}", hex::encode(Sha1::digest(clear.as_bytes())))
}

/// The resolved configuration of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub base: String,
    pub application_key: String,
    pub application_secret: String,
    pub consumer_key: String,
}

/// The server's clock, as an offset to the local one.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub offset: i64,
}

impl Clock {
    pub fn now(&self) -> u64 {
        (local_now() as i64 + self.offset).max(0) as u64
    }
}

fn local_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One DNS record as `GET /domain/zone/{zone}/record/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub id: u64,
    #[serde(default)]
    pub field_type: String,
    #[serde(default)]
    pub sub_domain: String,
    #[serde(default)]
    pub target: String,
}

impl Api {
    pub fn from_config(config: &Config) -> Result<Api> {
        Ok(Api {
            base: api_base(config.get("endpoint"), config.get("api_url"))?,
            application_key: config.require("application_key")?.to_string(),
            application_secret: config.require("application_secret")?.to_string(),
            consumer_key: config.require("consumer_key")?.to_string(),
        })
    }

    /// `GET /auth/time` (unauthenticated): the offset to sign with.
    pub fn clock(&self) -> Result<Clock> {
        let response = Request::get(format!("{}/auth/time", self.base))
            .header("accept", "application/json")
            .send()?;
        if !response.is_success() {
            return Err(map_error(&response));
        }
        let server: u64 = response.text().trim().parse().map_err(|_| {
            Error::Permanent(format!(
                "OVH: unexpected /auth/time answer: {}",
                excerpt(&response.text())
            ))
        })?;
        Ok(Clock {
            offset: server as i64 - local_now() as i64,
        })
    }

    /// Sends a signed request; the body of a 2xx answer as JSON (`null`
    /// when empty).
    pub fn call(
        &self,
        clock: &Clock,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let body_text = body.map(|b| b.to_string()).unwrap_or_default();
        let timestamp = clock.now();
        let sig = signature(
            &self.application_secret,
            &self.consumer_key,
            method,
            &url,
            &body_text,
            timestamp,
        );
        let request = match method {
            "GET" => Request::get(&url),
            "POST" => Request::post(&url),
            "PUT" => Request::put(&url),
            "DELETE" => Request::delete(&url),
            other => unreachable!("no {other} call"),
        };
        let mut request = request
            .header("accept", "application/json")
            .header("x-ovh-application", &self.application_key)
            .header("x-ovh-consumer", &self.consumer_key)
            .header("x-ovh-timestamp", timestamp.to_string())
            .header("x-ovh-signature", sig);
        if body.is_some() {
            request = request
                .header("content-type", "application/json;charset=utf-8")
                .body(body_text.into_bytes());
        }
        let response = request.send()?;
        if !response.is_success() {
            return Err(map_error(&response));
        }
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        response.json()
    }

    /// The zone holding `set.fqdn` and the name relative to it: the host's
    /// zone, else the first parent OVH has (a delegated name inside an OVH
    /// zone).
    pub fn find_zone(&self, clock: &Clock, set: &TxtSet) -> Result<(String, String)> {
        for zone in zone_candidates(&set.zone) {
            let path = format!("/domain/zone/{}", url::encode(&zone));
            match self.call(clock, "GET", &path, None) {
                Ok(_) => {
                    let sub = sub_domain(&set.fqdn, &zone).ok_or_else(|| {
                        Error::InvalidConfig(format!("{} is not in zone {zone}", set.fqdn))
                    })?;
                    return Ok((zone, sub));
                }
                Err(Error::ZoneNotFound(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::ZoneNotFound(format!(
            "no OVHcloud DNS zone for {} in this account (GET /domain/zone/{} answered 404)",
            set.zone, set.zone
        )))
    }

    /// The TXT records of `sub` in `zone`.
    pub fn list(&self, clock: &Clock, zone: &str, sub: &str) -> Result<Vec<Record>> {
        let zone_path = format!("/domain/zone/{}/record", url::encode(zone));
        let ids = self.call(
            clock,
            "GET",
            &format!("{zone_path}?fieldType=TXT&subDomain={}", url::encode(sub)),
            None,
        )?;
        let ids = parse_ids(&ids)?;
        let mut records = Vec::with_capacity(ids.len());
        for id in ids {
            match self.call(clock, "GET", &format!("{zone_path}/{id}"), None) {
                Ok(v) => {
                    let record: Record = serde_json::from_value(v).map_err(|e| {
                        Error::Permanent(format!("OVH: unexpected record {id}: {e}"))
                    })?;
                    if record.field_type.eq_ignore_ascii_case("TXT")
                        && record.sub_domain.eq_ignore_ascii_case(sub)
                    {
                        records.push(record);
                    }
                }
                // Deleted between the listing and this read.
                Err(Error::ZoneNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(records)
    }

    /// `POST /domain/zone/{zone}/refresh`: OVH serves changes only after it.
    pub fn refresh(&self, clock: &Clock, zone: &str) -> Result<()> {
        let path = format!("/domain/zone/{}/refresh", url::encode(zone));
        self.call(clock, "POST", &path, None).map(drop)
    }
}

/// `fqdn` relative to `zone` as OVH's `subDomain` (empty for the apex).
pub fn sub_domain(fqdn: &str, zone: &str) -> Option<String> {
    let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    if fqdn == zone {
        return Some(String::new());
    }
    fqdn.strip_suffix(&format!(".{zone}")).map(str::to_string)
}

/// The record ids of a listing answer (`[1, 2]`).
pub fn parse_ids(value: &Value) -> Result<Vec<u64>> {
    value
        .as_array()
        .and_then(|ids| ids.iter().map(Value::as_u64).collect::<Option<Vec<_>>>())
        .ok_or_else(|| {
            Error::Permanent(format!(
                "OVH: unexpected record listing: {}",
                excerpt(&value.to_string())
            ))
        })
}

/// The values that no record carries yet (each once).
pub fn missing<'v>(records: &[Record], values: &'v [String]) -> Vec<&'v String> {
    let mut out: Vec<&String> = Vec::new();
    for v in values {
        if !records
            .iter()
            .any(|r| matches_value(&r.target, std::slice::from_ref(v)))
            && !out.contains(&v)
        {
            out.push(v);
        }
    }
    out
}

/// Whether a target, quoted (as OVH shows TXT targets) or bare, is one of
/// `values`.
pub fn matches_value(target: &str, values: &[String]) -> bool {
    values
        .iter()
        .any(|v| *v == txt::unquote(target) || v == target)
}

/// OVH's error body: `{"errorCode","httpCode","message"}` for
/// authentication errors, `{"class","message"}` for the others.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiErrorBody {
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// Maps a failed answer to the WIT error case.
pub fn map_error(response: &Response) -> Error {
    let body: ApiErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
    let code = body.error_code.clone().unwrap_or_default();
    let detail = match (&body.error_code, &body.class, &body.message) {
        (Some(c), _, Some(m)) => format!("{c}: {m}"),
        (None, Some(c), Some(m)) => format!("{c}: {m}"),
        (_, _, Some(m)) => m.clone(),
        _ => excerpt(&response.text()),
    };
    let message = format!("OVH: HTTP {}: {detail}", response.status);
    match (response.status, code.as_str()) {
        (429, _) => Error::RateLimited(RateLimit {
            message,
            retry_after_secs: response
                .header("retry-after")
                .and_then(|v| v.trim().parse().ok()),
        }),
        (_, "INVALID_SIGNATURE") => Error::Authentication(format!(
            "{message} (check application_secret and consumer_key)"
        )),
        (_, "QUERY_TIME_OUT") => Error::Transient(format!(
            "{message} (the request's timestamp was too far from OVH's clock)"
        )),
        (_, "INVALID_KEY" | "INVALID_CREDENTIAL" | "NOT_CREDENTIAL" | "NOT_GRANTED_CALL")
        | (401 | 403, _) => Error::Authentication(format!(
            "{message} (check the keys and that the consumer key is validated and granted \
             GET/POST/DELETE on /domain/zone/*)"
        )),
        (404, _) => Error::ZoneNotFound(message),
        (408 | 500..=599, _) => Error::Transient(message),
        _ => Error::Permanent(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn values(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// OVH's own Go client (github.com/ovh/go-ovh, ovh/ovh_test.go) pins
    /// these signatures: application secret `9ufkBmLaTQ9nz5yMUlg79taH0GNnzDjk`,
    /// consumer key `5mBuy6SUQcRw2ZUxg0cG68BoDKpED4KY`, time 1457018875, URL
    /// `https://eu.api.ovh.com/1.0/auth`, body empty (GET, DELETE) or
    /// `{"a":"b","c":"d"}` (POST, PUT). The scheme is OVH's published one:
    /// https://help.ovhcloud.com/csm/en-api-getting-started-ovhcloud-api
    #[test]
    fn signatures_match_the_published_client_vectors() {
        let sign = |method, body| {
            signature(
                "9ufkBmLaTQ9nz5yMUlg79taH0GNnzDjk",
                "5mBuy6SUQcRw2ZUxg0cG68BoDKpED4KY",
                method,
                "https://eu.api.ovh.com/1.0/auth",
                body,
                1457018875,
            )
        };
        assert_eq!(
            sign("GET", ""),
            "$1$e9556054b6309771395efa467c22e627407461ad"
        );
        assert_eq!(
            sign("DELETE", ""),
            "$1$a1eecd00b3b02b6cf5708b84b9ff42059a950d85"
        );
        assert_eq!(
            sign("POST", r#"{"a":"b","c":"d"}"#),
            "$1$ec2fb5c7a81f64723c77d2e5b609ae6f58a84fc1"
        );
        assert_eq!(
            sign("PUT", r#"{"a":"b","c":"d"}"#),
            "$1$8a75a9e7c8e7296c9dbeda6a2a735eb6bd58ec4b"
        );
        // Anything else in the string changes it.
        assert_ne!(
            sign("GET", " "),
            "$1$e9556054b6309771395efa467c22e627407461ad"
        );
    }

    #[test]
    fn endpoint_regions_urls_and_api_url() {
        assert_eq!(api_base(None, None).unwrap(), DEFAULT_API_URL);
        assert_eq!(
            api_base(None, Some(DEFAULT_API_URL)).unwrap(),
            DEFAULT_API_URL
        );
        assert_eq!(
            api_base(Some("ovh-ca"), Some(DEFAULT_API_URL)).unwrap(),
            "https://ca.api.ovh.com/1.0"
        );
        assert_eq!(
            api_base(Some("ovhus"), None).unwrap(),
            "https://api.us.ovhcloud.com/1.0"
        );
        assert_eq!(
            api_base(Some("https://ca.api.ovh.com/1.0/"), None).unwrap(),
            "https://ca.api.ovh.com/1.0"
        );
        // An explicit api_url (a test fake, a proxy) wins.
        assert_eq!(
            api_base(Some("ovh-ca"), Some("http://127.0.0.1:9/1.0/")).unwrap(),
            "http://127.0.0.1:9/1.0"
        );
        for bad in ["ovh-mars", "https://evil.example/1.0"] {
            assert!(matches!(
                api_base(Some(bad), None),
                Err(Error::InvalidConfig(_))
            ));
        }
        assert!(matches!(
            api_base(None, Some("ftp://x")),
            Err(Error::InvalidConfig(_))
        ));
    }

    #[test]
    fn names_relative_to_the_zone() {
        assert_eq!(
            sub_domain("_acme-challenge.www.example.com", "example.com").as_deref(),
            Some("_acme-challenge.www")
        );
        assert_eq!(
            sub_domain("Example.com.", "example.com").as_deref(),
            Some("")
        );
        assert_eq!(sub_domain("a.other.com", "example.com"), None);
        assert_eq!(
            zone_candidates("sub.example.com"),
            ["sub.example.com", "example.com"]
        );
    }

    #[test]
    fn present_adds_missing_and_cleanup_matches_quoted_or_bare() {
        let rec = |id, target: &str| Record {
            id,
            field_type: "TXT".into(),
            sub_domain: "_acme-challenge".into(),
            target: target.into(),
        };
        let existing = [rec(1, "\"a\""), rec(2, "other")];
        assert_eq!(missing(&existing, &values(&["a", "b", "b"])), ["b"]);
        assert!(missing(&existing, &values(&["other"])).is_empty());
        assert!(matches_value("\"a\"", &values(&["a"])));
        assert!(matches_value("a", &values(&["a"])));
        assert!(!matches_value("\"ab\"", &values(&["a"])));
        let parsed: Record = serde_json::from_str(
            r#"{"id":5139290111,"zone":"example.com","subDomain":"_acme-challenge","fieldType":"TXT","target":"\"v\"","ttl":60}"#,
        )
        .unwrap();
        assert_eq!(parsed.id, 5139290111);
        assert_eq!(parsed.target, "\"v\"");
        assert_eq!(
            parse_ids(&serde_json::json!([1, 22])).unwrap(),
            vec![1u64, 22]
        );
        assert!(parse_ids(&serde_json::json!({"x": 1})).is_err());
    }

    #[test]
    fn errors_map_to_wit_cases() {
        let kind = |status, headers: &[(&str, &str)], body: &str| {
            map_error(&response(status, headers, body))
        };
        let Error::Authentication(m) = kind(
            400,
            &[],
            r#"{"errorCode":"INVALID_SIGNATURE","httpCode":"400 Bad Request","message":"Invalid signature"}"#,
        ) else {
            panic!("signature")
        };
        assert!(m.contains("INVALID_SIGNATURE: Invalid signature"), "{m}");
        for code in ["INVALID_KEY", "INVALID_CREDENTIAL", "NOT_GRANTED_CALL"] {
            let body =
                format!(r#"{{"errorCode":"{code}","httpCode":"403 Forbidden","message":"x"}}"#);
            assert!(matches!(kind(403, &[], &body), Error::Authentication(_)));
        }
        assert!(matches!(
            kind(
                400,
                &[],
                r#"{"errorCode":"QUERY_TIME_OUT","httpCode":"400 Bad Request","message":"Query out of time"}"#
            ),
            Error::Transient(_)
        ));
        assert!(matches!(
            kind(
                404,
                &[],
                r#"{"class":"Client::NotFound","message":"This service does not exist"}"#
            ),
            Error::ZoneNotFound(_)
        ));
        let Error::RateLimited(r) = kind(
            429,
            &[("retry-after", "3")],
            r#"{"class":"Client::TooManyRequests","message":"Too many requests"}"#,
        ) else {
            panic!("429")
        };
        assert_eq!(r.retry_after_secs, Some(3));
        assert!(matches!(kind(503, &[], "<html>"), Error::Transient(_)));
        assert!(matches!(
            kind(
                400,
                &[],
                r#"{"class":"Client::BadRequest","message":"Invalid TTL"}"#
            ),
            Error::Permanent(_)
        ));
    }

    #[test]
    fn metadata() {
        let m = Ovh::metadata();
        assert_eq!(m.name, "ovh");
        assert!(
            m.allowed_hosts
                .contains(&"https://eu.api.ovh.com".to_string())
        );
        assert!(m.allowed_hosts.contains(&"{api_url}".to_string()));
        for (name, aliases) in [
            ("application_key", ["OVH_APPLICATION_KEY", "OVH_AK"]),
            ("application_secret", ["OVH_APPLICATION_SECRET", "OVH_AS"]),
            ("consumer_key", ["OVH_CONSUMER_KEY", "OVH_CK"]),
        ] {
            let f = m.config.iter().find(|f| f.name == name).unwrap();
            assert!(f.secret && f.required, "{name}");
            assert_eq!(f.env_aliases, aliases);
        }
        let endpoint = m.config.iter().find(|f| f.name == "endpoint").unwrap();
        assert_eq!(endpoint.env_aliases, ["OVH_ENDPOINT", "OVH_END_POINT"]);
    }
}
