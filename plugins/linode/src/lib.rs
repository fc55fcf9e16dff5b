//! The Linode provider (`--dns linode`): publishes ACME challenge values
//! through the DNS Manager of Linode's (Akamai Cloud's) API v4.
//!
//! Authentication is a personal access token (`Authorization: Bearer`) with
//! the `domains:read_write` scope. The domain id is looked up with
//! `GET /domains` filtered (`X-Filter: {"domain": …}`) on the zone the host
//! found, or the first parent of it the account holds. Linode stores one
//! record per value: `present` lists the TXT records of the name (filtered,
//! following every page) and creates one for each missing value; `cleanup`
//! deletes only the records whose target, quoted or bare, is one of the
//! values. Linode rounds TTLs to its own steps, 300 s at least.
//!
//! API reference: <https://techdocs.akamai.com/linode-api/reference/api>
//! (OpenAPI source: github.com/linode/linode-api-docs, `openapi.yaml`).
//!
//! Everything but [`Linode`]'s two calls is a plain function tested on the
//! host target.

use serde::Deserialize;
use wacme_plugin_sdk::http::{Request, Response, excerpt};
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, txt, url, zone,
};

/// The public API base.
pub const DEFAULT_ENDPOINT: &str = "https://api.linode.com/v4";
/// Linode's smallest record TTL (smaller values are rounded up to it).
pub const MIN_TTL: u32 = 300;
pub const DEFAULT_TTL: u32 = 300;
/// Records asked for per page (the API's maximum).
pub const PAGE_SIZE: u32 = 500;
/// Pages followed at most while listing one name (a runaway guard).
pub const MAX_PAGES: u32 = 50;

pub struct Linode;

wacme_plugin_sdk::register!(Linode);

impl Provider for Linode {
    fn metadata() -> Metadata {
        Metadata {
            name: "linode".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Linode (Akamai Cloud) DNS Manager, through API v4 with a personal \
                          access token (scope domains:read_write); one TXT record per value, only \
                          its own values removed"
                .into(),
            homepage: "https://techdocs.akamai.com/cloud-computing/docs/dns-manager".into(),
            config: vec![
                ConfigField::new(
                    "api_token",
                    "Personal access token with the domains:read_write scope",
                )
                .required()
                .secret()
                .env(&["LINODE_TOKEN", "LINODE_V4_API_KEY", "LINODE_CLI_TOKEN"]),
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
        let name = record_name(&set.fqdn, &domain.domain)?;
        let existing = api.list(&domain, &name)?;
        for value in missing(&existing, &set.values) {
            let body = serde_json::json!({
                "type": "TXT",
                "name": name,
                "target": value,
                "ttl_sec": set.ttl.max(MIN_TTL),
            });
            let url = format!("{}/domains/{}/records", api.base, domain.id);
            api.call(Request::post(url).json(&body))
                .map_err(|e| e.into_error(&domain.domain))?;
        }
        Ok(())
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let domain = api.domain(&set.zone)?;
        let name = record_name(&set.fqdn, &domain.domain)?;
        for record in api.list(&domain, &name)? {
            if !matches_value(&record, &set.values) {
                continue;
            }
            let url = format!("{}/domains/{}/records/{}", api.base, domain.id, record.id);
            match api.call(Request::delete(url)) {
                Ok(_) => {}
                Err(e) if e.status == 404 => {
                    log::debug(&format!("{}: record {} already gone", set.fqdn, record.id));
                }
                Err(e) => return Err(e.into_error(&domain.domain)),
            }
        }
        Ok(())
    }
}

/// The resolved configuration of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub base: String,
    pub token: String,
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
            (404, Error::Permanent(m)) => Error::ZoneNotFound(format!(
                "Linode has no domain {domain} in this account: {m}"
            )),
            (_, e) => e,
        }
    }
}

/// One domain of the account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Domain {
    pub id: u64,
    pub domain: String,
}

/// One record of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DomainRecord {
    pub id: u64,
    #[serde(rename = "type", default)]
    pub record_type: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub target: String,
}

/// Linode's paginated envelope.
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    #[serde(default)]
    pub page: u32,
    #[serde(default)]
    pub pages: u32,
}

impl Api {
    pub fn from_config(config: &Config) -> Result<Api> {
        let token = config.require("api_token")?.trim().to_string();
        let endpoint = config.get("endpoint").unwrap_or(DEFAULT_ENDPOINT).trim();
        if !endpoint.starts_with("https://") && !endpoint.starts_with("http://") {
            return Err(Error::InvalidConfig(format!(
                "`endpoint` must be an https:// URL, not {endpoint:?}"
            )));
        }
        Ok(Api {
            base: url::trim_base(endpoint).to_string(),
            token,
        })
    }

    /// The account's domain holding `zone`: `zone` itself or the first parent
    /// the account has.
    pub fn domain(&self, zone: &str) -> Result<Domain> {
        for candidate in zone::candidates(zone) {
            let filter = serde_json::json!({ "domain": candidate }).to_string();
            let request = Request::get(format!("{}/domains", self.base)).header("x-filter", filter);
            let page: Page<Domain> = self.call(request).map_err(|e| e.error)?.json()?;
            if let Some(d) = page
                .data
                .into_iter()
                .find(|d| d.domain.eq_ignore_ascii_case(&candidate))
            {
                return Ok(d);
            }
        }
        Err(Error::ZoneNotFound(format!(
            "no Linode domain for {zone} in this account"
        )))
    }

    /// Every TXT record of `domain` named `name` (relative, empty at the
    /// apex), all pages.
    pub fn list(&self, domain: &Domain, name: &str) -> Result<Vec<DomainRecord>> {
        let filter = serde_json::json!({ "type": "TXT", "name": name }).to_string();
        let mut records = Vec::new();
        for page in 1..=MAX_PAGES {
            let url = format!(
                "{}/domains/{}/records?page={page}&page_size={PAGE_SIZE}",
                self.base, domain.id
            );
            let request = Request::get(url).header("x-filter", filter.clone());
            let batch: Page<DomainRecord> = self
                .call(request)
                .map_err(|e| e.into_error(&domain.domain))?
                .json()?;
            let last = batch.data.is_empty() || batch.page >= batch.pages;
            records.extend(batch.data.into_iter().filter(|r| {
                r.record_type.eq_ignore_ascii_case("TXT") && r.name.eq_ignore_ascii_case(name)
            }));
            if last {
                break;
            }
        }
        Ok(records)
    }

    /// Sends an authenticated request; a non-2xx answer is mapped.
    pub fn call(&self, request: Request) -> Result<Response, ApiError> {
        let response = request
            .bearer(&self.token)
            .header("accept", "application/json")
            .send()
            .map_err(|error| ApiError { status: 0, error })?;
        check(response)
    }
}

/// The record name Linode uses for `fqdn` in `domain`: relative, and empty
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
pub fn missing<'v>(records: &[DomainRecord], values: &'v [String]) -> Vec<&'v String> {
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

/// Whether the record's target, quoted or bare, is one of `values`.
pub fn matches_value(record: &DomainRecord, values: &[String]) -> bool {
    values.contains(&txt::unquote(&record.target)) || values.contains(&record.target)
}

/// Linode's error body: `{"errors": [{"reason": "...", "field": "..."}]}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub errors: Vec<ErrorObject>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorObject {
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub field: Option<String>,
}

/// `Ok` on 2xx, else the WIT error matching the answer.
pub fn check(response: Response) -> Result<Response, ApiError> {
    if response.is_success() {
        return Ok(response);
    }
    let detail = match serde_json::from_slice::<ErrorBody>(&response.body) {
        Ok(b) if !b.errors.is_empty() => b
            .errors
            .iter()
            .map(|e| match &e.field {
                Some(f) if !f.is_empty() => format!("{f}: {}", e.reason),
                _ => e.reason.clone(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => excerpt(&response.text()),
    };
    let message = format!("Linode: HTTP {}: {detail}", response.status);
    let error = match response.status {
        401 | 403 => Error::Authentication(format!(
            "{message} (check api_token; it needs the domains:read_write scope)"
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

    fn record(id: u64, target: &str) -> DomainRecord {
        DomainRecord {
            id,
            record_type: "TXT".into(),
            name: "_acme-challenge".into(),
            target: target.into(),
        }
    }

    fn values(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn config_needs_a_token_and_an_http_endpoint() {
        let api = Api::from_config(&Config::new([("api_token", "t")])).unwrap();
        assert_eq!(
            (api.base.as_str(), api.token.as_str()),
            (DEFAULT_ENDPOINT, "t")
        );
        let api = Api::from_config(&Config::new([
            ("api_token", "t"),
            ("endpoint", "http://127.0.0.1:9/v4/"),
        ]))
        .unwrap();
        assert_eq!(api.base, "http://127.0.0.1:9/v4");
        for bad in [
            vec![("endpoint", DEFAULT_ENDPOINT)],
            vec![("api_token", "t"), ("endpoint", "api.linode.com")],
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
            record_name("_acme-challenge.example.com", "example.com").unwrap(),
            "_acme-challenge"
        );
        assert_eq!(record_name("example.com", "example.com").unwrap(), "");
        assert!(record_name("example.net", "example.com").is_err());
    }

    #[test]
    fn present_adds_only_missing_values_and_cleanup_matches_both_forms() {
        let existing = [record(1, "a"), record(2, "\"q\"")];
        assert_eq!(missing(&existing, &values(&["a", "q", "b", "b"])), ["b"]);
        assert!(matches_value(&existing[1], &values(&["q"])));
        assert!(!matches_value(&record(3, "qq"), &values(&["q"])));
    }

    /// The paginated envelope as the OpenAPI document describes it
    /// (`data`, `page`, `pages`, `results`), with a `DomainRecord` carrying
    /// the documented fields.
    #[test]
    fn pages_parse() {
        let page: Page<DomainRecord> = serde_json::from_str(
            r#"{"data":[{"id":123456,"type":"TXT","name":"_acme-challenge","target":"v","priority":0,"weight":0,"port":0,"service":null,"protocol":null,"ttl_sec":300,"tag":null,"created":"2018-01-01T00:01:01","updated":"2018-01-01T00:01:01"}],"page":1,"pages":3,"results":7}"#,
        )
        .unwrap();
        assert_eq!((page.page, page.pages, page.data[0].id), (1, 3, 123456));
        let domains: Page<Domain> = serde_json::from_str(
            r#"{"data":[{"id":1234,"type":"master","domain":"example.org","status":"active","soa_email":"admin@example.org","ttl_sec":300,"tags":[]}],"page":1,"pages":1,"results":1}"#,
        )
        .unwrap();
        assert_eq!(domains.data[0].domain, "example.org");
    }

    /// Error bodies in the documented shape (`errors[].reason`, `field`).
    #[test]
    fn errors_map_to_wit_cases() {
        let auth = check(response(
            401,
            &[],
            r#"{"errors":[{"reason":"Invalid Token"}]}"#,
        ))
        .unwrap_err();
        let Error::Authentication(m) = auth.error else {
            panic!("401")
        };
        assert!(m.contains("Invalid Token"), "{m}");
        let scope = check(response(
            403,
            &[],
            r#"{"errors":[{"reason":"Unauthorized"}]}"#,
        ))
        .unwrap_err();
        assert!(matches!(scope.error, Error::Authentication(_)));
        let limited = check(response(
            429,
            &[("retry-after", "12"), ("x-ratelimit-remaining", "0")],
            r#"{"errors":[{"reason":"Too Many Requests"}]}"#,
        ))
        .unwrap_err();
        let Error::RateLimited(r) = limited.error else {
            panic!("429")
        };
        assert_eq!(r.retry_after_secs, Some(12));
        let gone = check(response(404, &[], r#"{"errors":[{"reason":"Not found"}]}"#)).unwrap_err();
        assert!(matches!(
            gone.into_error("example.com"),
            Error::ZoneNotFound(_)
        ));
        let bad = check(response(
            400,
            &[],
            r#"{"errors":[{"reason":"Target is required","field":"target"}]}"#,
        ))
        .unwrap_err();
        let Error::Permanent(m) = bad.error else {
            panic!("400")
        };
        assert!(m.contains("target: Target is required"), "{m}");
        let oops = check(response(500, &[], "oops")).unwrap_err();
        assert!(matches!(oops.error, Error::Transient(_)));
        assert!(check(response(200, &[], "{}")).is_ok());
    }

    #[test]
    fn metadata() {
        let m = Linode::metadata();
        assert_eq!(m.name, "linode");
        assert_eq!(m.allowed_hosts, ["{endpoint}"]);
        let token = m.config.iter().find(|f| f.name == "api_token").unwrap();
        assert!(token.secret && token.required);
        assert!(token.env_aliases.iter().any(|a| a == "LINODE_TOKEN"));
        assert!(token.env_aliases.iter().any(|a| a == "LINODE_V4_API_KEY"));
        assert_eq!((m.default_ttl, m.min_ttl), (300, 300));
    }
}
