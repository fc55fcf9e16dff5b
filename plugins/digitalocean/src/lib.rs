//! The DigitalOcean provider (`--dns digitalocean`): publishes ACME challenge
//! values through DigitalOcean's API v2 (`/v2/domains/{domain}/records`).
//!
//! Authentication is a personal access token (`Authorization: Bearer`); a
//! custom-scoped token needs only `domain:read`, `domain:create` and
//! `domain:delete`. The account's domain is the zone the host found, or the
//! first parent of it the account holds (`GET /v2/domains/{name}`).
//! DigitalOcean stores one record per value: `present` lists the TXT records
//! of the name (following every page) and creates one for each missing
//! value; `cleanup` deletes only the records whose data, quoted or bare, is
//! one of the values.
//!
//! API reference: <https://docs.digitalocean.com/reference/api/digitalocean/#tag/Domain-Records>
//! (OpenAPI source: github.com/digitalocean/openapi, `specification/resources/domains`).
//!
//! Everything but [`DigitalOcean`]'s two calls is a plain function tested on
//! the host target.

use serde::Deserialize;
use wacme_plugin_sdk::http::{Request, Response, excerpt};
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, txt, url, zone,
};

/// The public API origin (paths start with `/v2`).
pub const DEFAULT_ENDPOINT: &str = "https://api.digitalocean.com";
/// DigitalOcean's smallest TTL, which lego also uses for challenges.
pub const MIN_TTL: u32 = 30;
pub const DEFAULT_TTL: u32 = 30;
/// Records asked for per page (the API's maximum).
pub const PER_PAGE: u32 = 200;
/// Pages followed at most while listing one name (a runaway guard).
pub const MAX_PAGES: u32 = 50;

pub struct DigitalOcean;

wacme_plugin_sdk::register!(DigitalOcean);

impl Provider for DigitalOcean {
    fn metadata() -> Metadata {
        Metadata {
            name: "digitalocean".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "DigitalOcean DNS, through API v2 with a personal access token \
                          (scopes domain:read, domain:create, domain:delete); one TXT record per \
                          value, only its own values removed"
                .into(),
            homepage: "https://docs.digitalocean.com/products/networking/dns/".into(),
            config: vec![
                ConfigField::new(
                    "api_token",
                    "Personal access token (custom scopes: domain:read, domain:create, \
                     domain:delete)",
                )
                .required()
                .secret()
                .env(&["DO_AUTH_TOKEN", "DO_API_KEY", "DIGITALOCEAN_ACCESS_TOKEN"]),
                ConfigField::new("endpoint", "API origin")
                    .default(DEFAULT_ENDPOINT)
                    .env(&["DO_API_URL"]),
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
        let existing = api.list(&domain, &set.fqdn, &name)?;
        for value in missing(&existing, &set.values) {
            let body = serde_json::json!({
                "type": "TXT",
                "name": name,
                "data": value,
                "ttl": set.ttl.max(MIN_TTL),
            });
            let url = format!("{}/v2/domains/{}/records", api.base, url::encode(&domain));
            api.call(Request::post(url).json(&body))
                .map_err(|e| e.into_error(&domain))?;
        }
        Ok(())
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let domain = api.domain(&set.zone)?;
        let name = record_name(&set.fqdn, &domain)?;
        for record in api.list(&domain, &set.fqdn, &name)? {
            if !matches_value(&record, &set.values) {
                continue;
            }
            let url = format!(
                "{}/v2/domains/{}/records/{}",
                api.base,
                url::encode(&domain),
                record.id
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
    pub token: String,
}

/// A failed call: its status and the API's error, before mapping.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub error: Error,
}

impl ApiError {
    /// The error, with a 404 on the domain's paths meaning the domain is
    /// not (or no longer) in the account.
    pub fn into_error(self, domain: &str) -> Error {
        if self.status == 404 {
            Error::ZoneNotFound(format!(
                "DigitalOcean has no domain {domain} in this account: {}",
                message_of(&self.error)
            ))
        } else {
            self.error
        }
    }
}

fn message_of(error: &Error) -> String {
    match error {
        Error::RateLimited(r) => r.message.clone(),
        Error::InvalidConfig(m)
        | Error::Authentication(m)
        | Error::ZoneNotFound(m)
        | Error::Transient(m)
        | Error::Permanent(m) => m.clone(),
    }
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
    pub fn domain(&self, zone: &str) -> Result<String> {
        for candidate in zone::candidates(zone) {
            let url = format!("{}/v2/domains/{}", self.base, url::encode(&candidate));
            match self.call(Request::get(url)) {
                Ok(_) => return Ok(candidate),
                Err(e) if e.status == 404 => continue,
                Err(e) => return Err(e.error),
            }
        }
        Err(Error::ZoneNotFound(format!(
            "no DigitalOcean domain for {zone} in this account"
        )))
    }

    /// Every TXT record named `fqdn` (`name` relative to `domain`), all pages.
    pub fn list(&self, domain: &str, fqdn: &str, name: &str) -> Result<Vec<DomainRecord>> {
        let mut records = Vec::new();
        for page in 1..=MAX_PAGES {
            let url = format!(
                "{}/v2/domains/{}/records?type=TXT&name={}&page={page}&per_page={PER_PAGE}",
                self.base,
                url::encode(domain),
                url::encode(fqdn)
            );
            let response = self
                .call(Request::get(url))
                .map_err(|e| e.into_error(domain))?;
            let list: RecordList = response.json()?;
            let more = list.has_next();
            records.extend(list.domain_records.into_iter().filter(|r| {
                r.record_type.eq_ignore_ascii_case("TXT") && names_match(&r.name, name, fqdn)
            }));
            if !more {
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

/// The record name DigitalOcean uses for `fqdn` in `domain` (`@` at the apex).
pub fn record_name(fqdn: &str, domain: &str) -> Result<String> {
    zone::relative(fqdn, domain)
        .ok_or_else(|| Error::Permanent(format!("{fqdn} is not inside the domain {domain}")))
}

/// Whether a listed record's name is the wanted one: DigitalOcean shows
/// names relative to the domain, but accept the absolute form too.
pub fn names_match(listed: &str, relative: &str, fqdn: &str) -> bool {
    let listed = listed.trim_end_matches('.');
    listed.eq_ignore_ascii_case(relative) || listed.eq_ignore_ascii_case(fqdn)
}

/// One page of `GET /v2/domains/{domain}/records`.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordList {
    #[serde(default)]
    pub domain_records: Vec<DomainRecord>,
    #[serde(default)]
    pub links: Links,
}

impl RecordList {
    /// Whether another page follows.
    pub fn has_next(&self) -> bool {
        self.links
            .pages
            .as_ref()
            .and_then(|p| p.next.as_deref())
            .is_some_and(|n| !n.is_empty())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Links {
    #[serde(default)]
    pub pages: Option<Pages>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Pages {
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DomainRecord {
    pub id: u64,
    #[serde(rename = "type", default)]
    pub record_type: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub data: String,
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

/// Whether the record's data, quoted or bare, is one of `values`.
pub fn matches_value(record: &DomainRecord, values: &[String]) -> bool {
    values.contains(&txt::unquote(&record.data)) || values.contains(&record.data)
}

/// The DigitalOcean error body: `{"id": "...", "message": "..."}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApiMessage {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub message: String,
}

/// `Ok` on 2xx, else the WIT error matching the answer.
pub fn check(response: Response) -> Result<Response, ApiError> {
    if response.is_success() {
        return Ok(response);
    }
    let detail = match serde_json::from_slice::<ApiMessage>(&response.body) {
        Ok(m) if !m.id.is_empty() || !m.message.is_empty() => {
            format!("{}: {}", m.id, m.message)
        }
        _ => excerpt(&response.text()),
    };
    let message = format!("DigitalOcean: HTTP {}: {detail}", response.status);
    let error = match response.status {
        401 | 403 => Error::Authentication(format!(
            "{message} (check api_token; it needs the domain:read, domain:create and \
             domain:delete scopes)"
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

    fn record(id: u64, data: &str) -> DomainRecord {
        DomainRecord {
            id,
            record_type: "TXT".into(),
            name: "_acme-challenge".into(),
            data: data.into(),
        }
    }

    fn values(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn config_needs_a_token_and_an_http_endpoint() {
        let api = Api::from_config(&Config::new([("api_token", " dop_v1_x ")])).unwrap();
        assert_eq!(api.token, "dop_v1_x");
        assert_eq!(api.base, DEFAULT_ENDPOINT);
        let api = Api::from_config(&Config::new([
            ("api_token", "t"),
            ("endpoint", "http://127.0.0.1:9/"),
        ]))
        .unwrap();
        assert_eq!(api.base, "http://127.0.0.1:9");
        for bad in [
            vec![("endpoint", "https://api.digitalocean.com")],
            vec![("api_token", "t"), ("endpoint", "ftp://x")],
        ] {
            assert!(matches!(
                Api::from_config(&Config::new(bad)),
                Err(Error::InvalidConfig(_))
            ));
        }
    }

    #[test]
    fn record_names_are_relative_with_at_for_the_apex() {
        assert_eq!(
            record_name("_acme-challenge.www.example.com", "example.com").unwrap(),
            "_acme-challenge.www"
        );
        assert_eq!(record_name("example.com", "example.com").unwrap(), "@");
        assert!(record_name("example.org", "example.com").is_err());
        assert!(names_match(
            "_acme-challenge",
            "_acme-challenge",
            "_acme-challenge.example.com"
        ));
        assert!(names_match(
            "_acme-challenge.example.com.",
            "_acme-challenge",
            "_acme-challenge.example.com"
        ));
        assert!(!names_match(
            "_acme-challenge.www",
            "_acme-challenge",
            "_acme-challenge.example.com"
        ));
    }

    #[test]
    fn present_adds_only_missing_values_and_cleanup_matches_both_forms() {
        let existing = [record(1, "a"), record(2, "\"quoted\"")];
        assert_eq!(
            missing(&existing, &values(&["a", "quoted", "b", "b"])),
            ["b"]
        );
        let v = values(&["quoted"]);
        assert!(matches_value(&existing[1], &v));
        assert!(!matches_value(&existing[0], &v));
        assert!(matches_value(&record(3, "abc"), &values(&["abc"])));
        assert!(!matches_value(&record(4, "abcd"), &values(&["abc"])));
    }

    /// The list shape of the OpenAPI example `domain_records_all`, plus a
    /// `links.pages.next` as the API sends when more pages follow.
    #[test]
    fn record_lists_and_pages() {
        let last: RecordList = serde_json::from_str(
            r#"{"domain_records":[{"id":28448429,"type":"NS","name":"@","data":"ns1.digitalocean.com","priority":null,"port":null,"ttl":1800,"weight":null,"flags":null,"tag":null}],"links":{},"meta":{"total":1}}"#,
        )
        .unwrap();
        assert!(!last.has_next());
        assert_eq!(last.domain_records[0].id, 28448429);
        let more: RecordList = serde_json::from_str(
            r#"{"domain_records":[],"links":{"pages":{"last":"https://api.digitalocean.com/v2/domains/example.com/records?page=3","next":"https://api.digitalocean.com/v2/domains/example.com/records?page=2"}},"meta":{"total":5}}"#,
        )
        .unwrap();
        assert!(more.has_next());
    }

    /// Error bodies as the OpenAPI spec's shared responses show them.
    #[test]
    fn errors_map_to_wit_cases() {
        let auth = check(response(
            401,
            &[],
            r#"{"id":"unauthorized","message":"Unable to authenticate you."}"#,
        ))
        .unwrap_err();
        let Error::Authentication(m) = auth.error else {
            panic!("401")
        };
        assert!(
            m.contains("unauthorized: Unable to authenticate you."),
            "{m}"
        );

        let limited = check(response(
            429,
            &[("retry-after", "3"), ("ratelimit-remaining", "0")],
            r#"{"id":"too_many_requests","message":"API rate limit exceeded."}"#,
        ))
        .unwrap_err();
        let Error::RateLimited(r) = limited.error else {
            panic!("429")
        };
        assert_eq!(r.retry_after_secs, Some(3));

        let missing = check(response(
            404,
            &[],
            r#"{"id":"not_found","message":"The resource you requested could not be found."}"#,
        ))
        .unwrap_err();
        assert!(matches!(
            missing.into_error("example.com"),
            Error::ZoneNotFound(_)
        ));
        let oops = check(response(
            500,
            &[],
            r#"{"id":"server_error","message":"Unexpected server-side error"}"#,
        ))
        .unwrap_err();
        assert!(matches!(oops.error, Error::Transient(_)));
        let bad = check(response(
            422,
            &[],
            r#"{"id":"unprocessable_entity","message":"Name can't be blank"}"#,
        ))
        .unwrap_err();
        assert!(matches!(bad.error, Error::Permanent(_)));
        let html = check(response(502, &[], "<html>bad gateway</html>")).unwrap_err();
        assert!(matches!(html.error, Error::Transient(_)));
        assert!(check(response(204, &[], "")).is_ok());
    }

    #[test]
    fn metadata() {
        let m = DigitalOcean::metadata();
        assert_eq!(m.name, "digitalocean");
        assert_eq!(m.allowed_hosts, ["{endpoint}"]);
        let token = m.config.iter().find(|f| f.name == "api_token").unwrap();
        assert!(token.secret && token.required);
        assert!(token.env_aliases.iter().any(|a| a == "DO_AUTH_TOKEN"));
        assert!(token.env_aliases.iter().any(|a| a == "DO_API_KEY"));
        let endpoint = m.config.iter().find(|f| f.name == "endpoint").unwrap();
        assert_eq!(endpoint.default.as_deref(), Some(DEFAULT_ENDPOINT));
        assert_eq!((m.default_ttl, m.min_ttl), (30, 30));
    }
}
