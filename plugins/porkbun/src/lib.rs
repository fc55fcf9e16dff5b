//! The Porkbun provider (`--dns porkbun`): publishes ACME challenge values
//! through Porkbun's JSON API v3 (`api.porkbun.com/api/json/v3`). Every call
//! is a `POST` whose JSON body carries the API key and secret (`apikey`,
//! `secretapikey`); the domain must have API access switched on.
//!
//! Porkbun stores one record per value: `present` lists the name's TXT
//! records (`dns/retrieveByNameType`) and creates only the missing values
//! (`dns/create`); `cleanup` deletes only the records holding its values
//! (`dns/delete/{id}`). The domain is the first of the zone the host found
//! and its parents that the account holds. Porkbun throttles with a bare
//! HTTP 503 page; that comes back as `rate-limited`.
//!
//! Everything but [`Porkbun`]'s two calls is a plain function tested on the
//! host target.

use serde::Deserialize;
use serde_json::{Value, json};
use wacme_plugin_sdk::http::{Request, Response, excerpt};
pub use wacme_plugin_sdk::zone::candidates as zone_candidates;
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, txt, url,
};

/// The public API base.
pub const DEFAULT_ENDPOINT: &str = "https://api.porkbun.com/api/json/v3";
/// Porkbun's smallest (and default) TTL.
pub const DEFAULT_TTL: u32 = 600;
pub const MIN_TTL: u32 = 600;

pub struct Porkbun;

#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(Porkbun);

impl Provider for Porkbun {
    fn metadata() -> Metadata {
        Metadata {
            name: "porkbun".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Porkbun DNS, through the JSON API v3 with an API key and secret (API \
                          access switched on for the domain); one TXT record per value, only \
                          its own values removed"
                .into(),
            homepage: "https://porkbun.com/api/json/v3/documentation".into(),
            config: vec![
                ConfigField::new("api_key", "API key (pk1_…)")
                    .required()
                    .secret()
                    .env(&["PORKBUN_API_KEY"]),
                ConfigField::new("secret_api_key", "Secret API key (sk1_…)")
                    .required()
                    .secret()
                    .env(&["PORKBUN_SECRET_API_KEY"]),
                ConfigField::new("endpoint", "API base URL").default(DEFAULT_ENDPOINT),
                ConfigField::new(
                    "ttl",
                    "TTL of the challenge records (600 or more); overrides the TTL wacme passes",
                ),
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
        let (domain, records) = api.find_records(&set.zone, &set.fqdn)?;
        let sub = subdomain(&set.fqdn, &domain)?;
        let ttl = api.ttl.unwrap_or(set.ttl).max(MIN_TTL);
        let missing = missing(&records, &set.values);
        if missing.is_empty() {
            log::debug(&format!("{}: TXT values already present", set.fqdn));
        }
        for value in missing {
            let body = json!({
                "name": sub,
                "type": "TXT",
                "content": value,
                "ttl": ttl.to_string(),
            });
            api.call(&format!("dns/create/{}", url::encode(&domain)), body)?;
        }
        Ok(())
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let (domain, records) = api.find_records(&set.zone, &set.fqdn)?;
        for record in records
            .iter()
            .filter(|r| set.values.contains(&txt::unquote(&r.content)))
        {
            let path = format!("dns/delete/{}/{}", url::encode(&domain), record.id);
            match api.call(&path, json!({})) {
                Err(Error::Permanent(m)) if m.contains("Invalid record") => {} // already gone
                other => drop(other?),
            }
        }
        Ok(())
    }
}

/// The resolved configuration of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub base: String,
    pub api_key: String,
    pub secret_api_key: String,
    pub ttl: Option<u32>,
}

/// One record as `dns/retrieveByNameType` lists it (numbers as strings).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DnsRecord {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub content: String,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        other => Ok(other.to_string()),
    }
}

impl Api {
    pub fn from_config(config: &Config) -> Result<Api> {
        let ttl = config.parse::<u32>("ttl")?;
        if let Some(t) = ttl
            && t < MIN_TTL
        {
            return Err(Error::InvalidConfig(format!(
                "`ttl` must be at least {MIN_TTL}, not {t}"
            )));
        }
        let endpoint = config.get("endpoint").unwrap_or(DEFAULT_ENDPOINT).trim();
        if !endpoint.starts_with("https://") && !endpoint.starts_with("http://") {
            return Err(Error::InvalidConfig(format!(
                "`endpoint` must be an https:// URL, not {endpoint:?}"
            )));
        }
        Ok(Api {
            base: url::trim_base(endpoint).to_string(),
            api_key: config.require("api_key")?.to_string(),
            secret_api_key: config.require("secret_api_key")?.to_string(),
            ttl,
        })
    }

    /// The account's domain holding `fqdn` (the first of `zone` and its
    /// parents it has) and the TXT records of `fqdn` there.
    pub fn find_records(&self, zone: &str, fqdn: &str) -> Result<(String, Vec<DnsRecord>)> {
        for domain in zone_candidates(zone) {
            let Ok(sub) = subdomain(fqdn, &domain) else {
                continue;
            };
            let mut path = format!("dns/retrieveByNameType/{}/TXT", url::encode(&domain));
            if !sub.is_empty() {
                path = format!("{path}/{}", url::encode(&sub));
            }
            match self.call(&path, json!({})) {
                Ok(body) => {
                    let records: Vec<DnsRecord> = serde_json::from_value(body["records"].clone())
                        .map_err(|e| {
                        Error::Permanent(format!("Porkbun: unexpected record list: {e}"))
                    })?;
                    let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
                    let records = records
                        .into_iter()
                        .filter(|r| r.name.eq_ignore_ascii_case(&fqdn))
                        .collect();
                    return Ok((domain, records));
                }
                Err(Error::ZoneNotFound(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::ZoneNotFound(format!(
            "Porkbun: no domain for {zone} in this account"
        )))
    }

    /// `POST {base}/{path}` with the credentials added to `body`; the body
    /// of a `SUCCESS` answer.
    pub fn call(&self, path: &str, mut body: Value) -> Result<Value> {
        body["apikey"] = Value::String(self.api_key.clone());
        body["secretapikey"] = Value::String(self.secret_api_key.clone());
        let response = Request::post(format!("{}/{path}", self.base))
            .json(&body)
            .header("accept", "application/json")
            .send()?;
        parse_response(&response)
    }
}

/// `fqdn` relative to `domain`; empty for the apex.
pub fn subdomain(fqdn: &str, domain: &str) -> Result<String> {
    let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
    if fqdn == domain {
        return Ok(String::new());
    }
    fqdn.strip_suffix(&format!(".{domain}"))
        .map(str::to_string)
        .ok_or_else(|| Error::Permanent(format!("{fqdn} is not inside the domain {domain}")))
}

/// The values no record carries yet (each once).
pub fn missing<'v>(records: &[DnsRecord], values: &'v [String]) -> Vec<&'v String> {
    let mut out: Vec<&String> = Vec::new();
    for v in values {
        if !records.iter().any(|r| txt::unquote(&r.content) == *v) && !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// The body of a `{"status":"SUCCESS",…}` answer, or the mapped error.
pub fn parse_response(response: &Response) -> Result<Value> {
    let body = serde_json::from_slice::<Value>(&response.body).ok();
    let status = body.as_ref().and_then(|b| b["status"].as_str());
    if response.is_success() && status == Some("SUCCESS") {
        return Ok(body.unwrap_or(Value::Null));
    }
    let detail = match body.as_ref().and_then(|b| b["message"].as_str()) {
        Some(m) => m.to_string(),
        None => excerpt(&response.text()),
    };
    let message = format!("Porkbun: HTTP {}: {detail}", response.status);
    let retry_after = response.header("retry-after");
    let lower = detail.to_ascii_lowercase();
    Err(match response.status {
        // Porkbun's throttle answers a plain 503 page.
        429 | 503 => Error::RateLimited(RateLimit {
            message,
            retry_after_secs: retry_after.and_then(|v| v.trim().parse().ok()),
        }),
        _ if lower.contains("invalid api key") || matches!(response.status, 401 | 403) => {
            Error::Authentication(format!("{message} (check api_key and secret_api_key)"))
        }
        _ if lower.contains("not opted in to api access") => Error::Authentication(format!(
            "{message} (switch on API access for this domain in Porkbun's domain management)"
        )),
        _ if lower.contains("invalid domain") || lower.contains("domain not found") => {
            Error::ZoneNotFound(message)
        }
        status => Error::from_status(status, retry_after, message),
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

    fn values(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn config_and_names() {
        let api = Api::from_config(&Config::new([
            ("api_key", "pk1_x"),
            ("secret_api_key", "sk1_y"),
        ]))
        .unwrap();
        assert_eq!(api.base, DEFAULT_ENDPOINT);
        for bad in [
            vec![("api_key", "pk1_x")],
            vec![("api_key", "k"), ("secret_api_key", "s"), ("ttl", "300")],
            vec![("api_key", "k"), ("secret_api_key", "s"), ("endpoint", "x")],
        ] {
            assert!(matches!(
                Api::from_config(&Config::new(bad)),
                Err(Error::InvalidConfig(_))
            ));
        }
        assert_eq!(subdomain("example.com", "example.com").unwrap(), "");
        assert_eq!(
            subdomain("_acme-challenge.www.example.com", "example.com").unwrap(),
            "_acme-challenge.www"
        );
        assert_eq!(
            zone_candidates("a.example.com"),
            ["a.example.com", "example.com"]
        );
    }

    #[test]
    fn parses_the_documented_answers() {
        // "Retrieve Records by Domain, Subdomain and Type",
        // https://porkbun.com/api/json/v3/documentation
        let listed = response(
            200,
            &[],
            r#"{"status":"SUCCESS","records":[{"id":"106926652","name":"_acme-challenge.borseth.ink","type":"TXT","content":"foreign","ttl":"600","prio":"0","notes":""},{"id":106926653,"name":"_acme-challenge.borseth.ink","type":"TXT","content":"\"a\"","ttl":"600","prio":null,"notes":""}]}"#,
        );
        let body = parse_response(&listed).unwrap();
        let records: Vec<DnsRecord> = serde_json::from_value(body["records"].clone()).unwrap();
        assert_eq!(records[1].id, "106926653");
        assert_eq!(missing(&records, &values(&["a", "b", "b"])), ["b"]);
        assert!(missing(&records, &values(&["foreign"])).is_empty());
        let created = parse_response(&response(
            200,
            &[],
            r#"{"status":"SUCCESS","id":106926659}"#,
        ))
        .unwrap();
        assert_eq!(created["id"], 106926659);
    }

    #[test]
    fn errors() {
        let bad_key = response(
            400,
            &[],
            r#"{"status":"ERROR","message":"Invalid API key. (002)"}"#,
        );
        let Err(Error::Authentication(m)) = parse_response(&bad_key) else {
            panic!("bad key")
        };
        assert!(m.contains("Invalid API key. (002)"), "{m}");
        let opted_out = response(
            400,
            &[],
            r#"{"status":"ERROR","message":"Domain is not opted in to API access."}"#,
        );
        assert!(matches!(
            parse_response(&opted_out),
            Err(Error::Authentication(_))
        ));
        let throttled = response(
            503,
            &[("retry-after", "1")],
            "<html><head><title>503 Service Temporarily Unavailable</title></head></html>",
        );
        let Err(Error::RateLimited(r)) = parse_response(&throttled) else {
            panic!("503")
        };
        assert_eq!(r.retry_after_secs, Some(1));
        let unknown = response(
            400,
            &[],
            r#"{"status":"ERROR","message":"Invalid domain."}"#,
        );
        assert!(matches!(
            parse_response(&unknown),
            Err(Error::ZoneNotFound(_))
        ));
        let other = response(400, &[], r#"{"status":"ERROR","message":"Invalid type."}"#);
        assert!(matches!(parse_response(&other), Err(Error::Permanent(_))));
        assert!(matches!(
            parse_response(&response(502, &[], "")),
            Err(Error::Transient(_))
        ));
    }

    #[test]
    fn metadata() {
        let m = Porkbun::metadata();
        assert_eq!(m.name, "porkbun");
        let key = m.config.iter().find(|f| f.name == "api_key").unwrap();
        assert!(key.secret && key.required);
        assert_eq!(key.env_aliases, ["PORKBUN_API_KEY"]);
        let secret = m
            .config
            .iter()
            .find(|f| f.name == "secret_api_key")
            .unwrap();
        assert_eq!(secret.env_aliases, ["PORKBUN_SECRET_API_KEY"]);
    }
}
