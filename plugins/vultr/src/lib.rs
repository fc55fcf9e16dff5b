//! The Vultr provider (`--dns vultr`): publishes ACME challenge values
//! through Vultr's API v2 (`/v2/domains/{dns-domain}/records`).
//!
//! Authentication is the account's API key (`Authorization: Bearer`); Vultr
//! keys cannot be scoped, so restrict the key's allowed IP ranges (API
//! access control) to the hosts running wacme. The domain is the zone the
//! host found, or the first parent of it the account holds
//! (`GET /v2/domains/{dns-domain}`). Vultr stores one record per value:
//! `present` lists the records of the domain (following the `meta.links.next`
//! cursor) and creates a TXT record, quoted as Vultr shows TXT data, for
//! each missing value; `cleanup` deletes only the records whose data, quoted
//! or bare, is one of the values.
//!
//! API reference: <https://www.vultr.com/api/#tag/dns>.
//!
//! Everything but [`Vultr`]'s two calls is a plain function tested on the
//! host target.

use serde::Deserialize;
use wacme_plugin_sdk::http::{Request, Response, excerpt};
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, txt, url, zone,
};

/// The public API base.
pub const DEFAULT_ENDPOINT: &str = "https://api.vultr.com/v2";
/// The TTL lego uses for Vultr challenge records.
pub const DEFAULT_TTL: u32 = 120;
pub const MIN_TTL: u32 = 120;
/// Records asked for per page (the API's maximum).
pub const PER_PAGE: u32 = 500;
/// Pages followed at most while listing one domain (a runaway guard).
pub const MAX_PAGES: u32 = 50;

pub struct Vultr;

wacme_plugin_sdk::register!(Vultr);

impl Provider for Vultr {
    fn metadata() -> Metadata {
        Metadata {
            name: "vultr".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "Vultr DNS, through API v2 with the account's API key; one TXT record per \
                          value, only its own values removed"
                    .into(),
            homepage: "https://docs.vultr.com/products/network/dns".into(),
            config: vec![
                ConfigField::new(
                    "api_key",
                    "API key (Account > API; limit its access control to this host's addresses)",
                )
                .required()
                .secret()
                .env(&["VULTR_API_KEY"]),
                ConfigField::new("endpoint", "API base URL").default(DEFAULT_ENDPOINT),
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
        let domain = api.domain(&set.zone)?;
        let name = record_name(&set.fqdn, &domain)?;
        let existing = api.list(&domain, &name)?;
        for value in missing(&existing, &set.values) {
            let body = serde_json::json!({
                "name": name,
                "type": "TXT",
                "data": txt::quote(value),
                "ttl": set.ttl.max(MIN_TTL),
            });
            let url = format!("{}/domains/{}/records", api.base, url::encode(&domain));
            api.call(Request::post(url).json(&body))
                .map_err(|e| e.into_error(&domain))?;
        }
        Ok(())
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let domain = api.domain(&set.zone)?;
        let name = record_name(&set.fqdn, &domain)?;
        for record in api.list(&domain, &name)? {
            if !matches_value(&record, &set.values) {
                continue;
            }
            let url = format!(
                "{}/domains/{}/records/{}",
                api.base,
                url::encode(&domain),
                url::encode(&record.id)
            );
            match api.call(Request::delete(url)) {
                Ok(_) => {}
                Err(e) if e.status == 404 => {
                    log::debug(&format!("{}: record {} already gone", set.fqdn, record.id));
                }
                Err(e) => return Err(e.into_error(&domain)),
            }
        }
        Ok(())
    }
}

/// The resolved configuration of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub base: String,
    pub key: String,
}

/// A failed call: its status and the mapped error.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub error: Error,
}

impl ApiError {
    /// The error, with a 404 on a domain's paths meaning the domain is not
    /// (or no longer) in the account.
    pub fn into_error(self, domain: &str) -> Error {
        match (self.status, self.error) {
            (404, Error::Permanent(m)) => {
                Error::ZoneNotFound(format!("Vultr has no domain {domain} in this account: {m}"))
            }
            (_, e) => e,
        }
    }
}

/// One DNS record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DnsRecord {
    pub id: String,
    #[serde(rename = "type", default)]
    pub record_type: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub data: String,
}

/// One page of `GET /domains/{dns-domain}/records`.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordList {
    #[serde(default)]
    pub records: Vec<DnsRecord>,
    #[serde(default)]
    pub meta: Meta,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Meta {
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub links: Links,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Links {
    #[serde(default)]
    pub next: String,
}

impl Api {
    pub fn from_config(config: &Config) -> Result<Api> {
        let key = config.require("api_key")?.trim().to_string();
        let endpoint = config.get("endpoint").unwrap_or(DEFAULT_ENDPOINT).trim();
        if !endpoint.starts_with("https://") && !endpoint.starts_with("http://") {
            return Err(Error::InvalidConfig(format!(
                "`endpoint` must be an https:// URL, not {endpoint:?}"
            )));
        }
        Ok(Api {
            base: url::trim_base(endpoint).to_string(),
            key,
        })
    }

    /// The account's domain holding `zone`: `zone` itself or the first parent
    /// the account has.
    pub fn domain(&self, zone: &str) -> Result<String> {
        for candidate in zone::candidates(zone) {
            let url = format!("{}/domains/{}", self.base, url::encode(&candidate));
            match self.call(Request::get(url)) {
                Ok(_) => return Ok(candidate),
                Err(e) if e.status == 404 => continue,
                Err(e) => return Err(e.error),
            }
        }
        Err(Error::ZoneNotFound(format!(
            "no Vultr domain for {zone} in this account"
        )))
    }

    /// Every TXT record of `domain` named `name` (relative, empty at the
    /// apex), all pages.
    pub fn list(&self, domain: &str, name: &str) -> Result<Vec<DnsRecord>> {
        let mut records = Vec::new();
        let mut cursor = String::new();
        for _ in 0..MAX_PAGES {
            let mut url = format!(
                "{}/domains/{}/records?per_page={PER_PAGE}",
                self.base,
                url::encode(domain)
            );
            if !cursor.is_empty() {
                url.push_str(&format!("&cursor={}", url::encode(&cursor)));
            }
            let list: RecordList = self
                .call(Request::get(url))
                .map_err(|e| e.into_error(domain))?
                .json()?;
            records.extend(list.records.into_iter().filter(|r| {
                r.record_type.eq_ignore_ascii_case("TXT") && r.name.eq_ignore_ascii_case(name)
            }));
            if list.meta.links.next.is_empty() || list.meta.links.next == cursor {
                break;
            }
            cursor = list.meta.links.next;
        }
        Ok(records)
    }

    /// Sends an authenticated request; a non-2xx answer is mapped.
    pub fn call(&self, request: Request) -> Result<Response, ApiError> {
        let response = request
            .bearer(&self.key)
            .header("accept", "application/json")
            .send()
            .map_err(|error| ApiError { status: 0, error })?;
        check(response)
    }
}

/// The record name Vultr uses for `fqdn` in `domain`: relative, and empty
/// at the apex.
pub fn record_name(fqdn: &str, domain: &str) -> Result<String> {
    match zone::relative(fqdn, domain) {
        Some(r) if r == "@" => Ok(String::new()),
        Some(r) => Ok(r),
        None => Err(Error::Permanent(format!(
            "{fqdn} is not inside the domain {domain}"
        ))),
    }
}

/// The values that no record carries yet (each once).
pub fn missing<'v>(records: &[DnsRecord], values: &'v [String]) -> Vec<&'v String> {
    let mut out: Vec<&String> = Vec::new();
    for v in values {
        if !records
            .iter()
            .any(|r| matches_value(r, std::slice::from_ref(v)))
            && !out.contains(&v)
        {
            out.push(v);
        }
    }
    out
}

/// Whether the record's data, quoted or bare, is one of `values`.
pub fn matches_value(record: &DnsRecord, values: &[String]) -> bool {
    values.contains(&txt::unquote(&record.data)) || values.contains(&record.data)
}

/// Vultr's error body: `{"error": "...", "status": 401}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: String,
}

/// `Ok` on 2xx, else the WIT error matching the answer.
pub fn check(response: Response) -> Result<Response, ApiError> {
    if response.is_success() {
        return Ok(response);
    }
    let detail = match serde_json::from_slice::<ErrorBody>(&response.body) {
        Ok(b) if !b.error.is_empty() => b.error,
        _ => excerpt(&response.text()),
    };
    let message = format!("Vultr: HTTP {}: {detail}", response.status);
    let error = match response.status {
        401 | 403 => Error::Authentication(format!(
            "{message} (check api_key, and that the key's access control allows this host)"
        )),
        429 => Error::RateLimited(RateLimit {
            message,
            retry_after_secs: response
                .header("retry-after")
                .and_then(|v| v.trim().parse().ok()),
        }),
        status => Error::from_status(status, response.header("retry-after"), message),
    };
    Err(ApiError {
        status: response.status,
        error,
    })
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

    fn record(id: &str, data: &str) -> DnsRecord {
        DnsRecord {
            id: id.into(),
            record_type: "TXT".into(),
            name: "_acme-challenge".into(),
            data: data.into(),
        }
    }

    fn values(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn config_needs_a_key_and_an_http_endpoint() {
        let api = Api::from_config(&Config::new([("api_key", "k")])).unwrap();
        assert_eq!(
            (api.base.as_str(), api.key.as_str()),
            (DEFAULT_ENDPOINT, "k")
        );
        let api = Api::from_config(&Config::new([
            ("api_key", "k"),
            ("endpoint", "http://127.0.0.1:9/v2/"),
        ]))
        .unwrap();
        assert_eq!(api.base, "http://127.0.0.1:9/v2");
        for bad in [
            vec![("endpoint", DEFAULT_ENDPOINT)],
            vec![("api_key", "k"), ("endpoint", "file:///x")],
        ] {
            assert!(matches!(
                Api::from_config(&Config::new(bad)),
                Err(Error::InvalidConfig(_))
            ));
        }
    }

    #[test]
    fn record_names_are_relative_and_empty_at_the_apex() {
        assert_eq!(
            record_name("_acme-challenge.a.example.com", "example.com").unwrap(),
            "_acme-challenge.a"
        );
        assert_eq!(record_name("example.com", "example.com").unwrap(), "");
        assert!(record_name("example.net", "example.com").is_err());
    }

    #[test]
    fn present_adds_only_missing_values_and_cleanup_matches_both_forms() {
        let existing = [record("a1", "\"a\""), record("b2", "bare")];
        assert_eq!(missing(&existing, &values(&["a", "bare", "c", "c"])), ["c"]);
        assert!(matches_value(&existing[0], &values(&["a"])));
        assert!(matches_value(&existing[1], &values(&["bare"])));
        assert!(!matches_value(&record("c3", "\"ab\""), &values(&["a"])));
    }

    /// The list shape and cursor paging of the API reference's "Meta and
    /// Pagination" section.
    #[test]
    fn record_lists_and_cursors() {
        let list: RecordList = serde_json::from_str(
            r#"{"records":[{"id":"cb676a46-66fd-4dfb-b839-443f2e6c0b60","type":"TXT","name":"_acme-challenge","data":"\"v\"","priority":-1,"ttl":120}],"meta":{"total":19,"links":{"next":"WxYzExampleNext","prev":"WxYzExamplePrev"}}}"#,
        )
        .unwrap();
        assert_eq!(list.meta.links.next, "WxYzExampleNext");
        assert_eq!(list.meta.total, 19);
        assert_eq!(txt::unquote(&list.records[0].data), "v");
        let last: RecordList = serde_json::from_str(
            r#"{"records":[],"meta":{"total":0,"links":{"next":"","prev":""}}}"#,
        )
        .unwrap();
        assert!(last.meta.links.next.is_empty());
    }

    /// "All 4xx errors will return a JSON response object with an `error`
    /// attribute explaining the error" (API reference, Response Codes).
    #[test]
    fn errors_map_to_wit_cases() {
        let auth = check(response(
            401,
            &[],
            r#"{"error":"Invalid API token.","status":401}"#,
        ))
        .unwrap_err();
        let Error::Authentication(m) = auth.error else {
            panic!("401")
        };
        assert!(m.contains("Invalid API token."), "{m}");
        let ip = check(response(
            403,
            &[],
            r#"{"error":"Unauthorized IP address: 192.0.2.1","status":403}"#,
        ))
        .unwrap_err();
        assert!(matches!(ip.error, Error::Authentication(_)));
        let limited = check(response(
            429,
            &[("retry-after", "2")],
            r#"{"error":"Rate limit reached - please try your request again later.","status":429}"#,
        ))
        .unwrap_err();
        let Error::RateLimited(r) = limited.error else {
            panic!("429")
        };
        assert_eq!(r.retry_after_secs, Some(2));
        let gone = check(response(404, &[], r#"{"error":"Not found","status":404}"#)).unwrap_err();
        assert!(matches!(
            gone.into_error("example.com"),
            Error::ZoneNotFound(_)
        ));
        let oops = check(response(503, &[], "")).unwrap_err();
        assert!(matches!(oops.error, Error::Transient(_)));
        assert!(check(response(204, &[], "")).is_ok());
    }

    #[test]
    fn metadata() {
        let m = Vultr::metadata();
        assert_eq!(m.name, "vultr");
        assert_eq!(m.allowed_hosts, ["{endpoint}"]);
        let key = m.config.iter().find(|f| f.name == "api_key").unwrap();
        assert!(key.secret && key.required);
        assert_eq!(key.env_aliases, ["VULTR_API_KEY"]);
        assert_eq!((m.default_ttl, m.min_ttl), (DEFAULT_TTL, MIN_TTL));
    }
}
