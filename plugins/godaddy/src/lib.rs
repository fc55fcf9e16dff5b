//! The GoDaddy provider (`--dns godaddy`): publishes ACME challenge values
//! through GoDaddy's Domains API v1 (`api.godaddy.com`), authenticated with
//! an API key and secret (`Authorization: sso-key KEY:SECRET`).
//!
//! `PUT /v1/domains/{domain}/records/TXT/{name}` replaces every TXT record
//! of a name, so both calls read the records first (`GET` on the same URL)
//! and write the whole set back: `present` adds the missing values,
//! `cleanup` keeps every value but its own, and deletes the name's TXT
//! records (`DELETE`) when nothing is left (GoDaddy refuses an empty set).
//! The domain is the first of the zone the host found and its parents that
//! the account holds.
//!
//! Everything but [`GoDaddy`]'s two calls is a plain function tested on the
//! host target.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wacme_plugin_sdk::http::{Request, Response, excerpt};
pub use wacme_plugin_sdk::zone::candidates as zone_candidates;
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, txt, url,
};

/// The public API origin (paths start with `/v1`).
pub const DEFAULT_ENDPOINT: &str = "https://api.godaddy.com";
/// GoDaddy's smallest TTL, also lego's and acme.sh's.
pub const DEFAULT_TTL: u32 = 600;
pub const MIN_TTL: u32 = 600;

pub struct GoDaddy;

#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(GoDaddy);

impl Provider for GoDaddy {
    fn metadata() -> Metadata {
        Metadata {
            name: "godaddy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "GoDaddy DNS, through the Domains API v1 with a production API key and \
                          secret; rewrites the name's TXT records keeping every foreign value"
                .into(),
            homepage: "https://developer.godaddy.com/doc/endpoint/domains".into(),
            config: vec![
                ConfigField::new("api_key", "API key (production)")
                    .required()
                    .secret()
                    .env(&["GODADDY_API_KEY", "GD_Key"]),
                ConfigField::new("api_secret", "API secret of the key")
                    .required()
                    .secret()
                    .env(&["GODADDY_API_SECRET", "GD_Secret"]),
                ConfigField::new(
                    "endpoint",
                    "API origin (https://api.ote-godaddy.com for the test environment)",
                )
                .default(DEFAULT_ENDPOINT),
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
        let (domain, current) = api.find_records(&set.zone, &set.fqdn)?;
        let ttl = api.ttl.unwrap_or(set.ttl).max(MIN_TTL);
        let Some(records) = plan_present(&current, &set.values, ttl) else {
            log::debug(&format!("{}: TXT values already present", set.fqdn));
            return Ok(());
        };
        let name = relative_name(&set.fqdn, &domain)?;
        api.send(Request::put(records_url(&api.base, &domain, &name)).json(&records))
            .map(drop)
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let (domain, current) = api.find_records(&set.zone, &set.fqdn)?;
        let Some(records) = plan_cleanup(&current, &set.values) else {
            log::debug(&format!("{}: TXT values already gone", set.fqdn));
            return Ok(());
        };
        let name = relative_name(&set.fqdn, &domain)?;
        let url = records_url(&api.base, &domain, &name);
        if records.is_empty() {
            match api.send(Request::delete(url)) {
                Err(Error::ZoneNotFound(_)) => Ok(()), // already gone
                other => other.map(drop),
            }
        } else {
            api.send(Request::put(url).json(&records)).map(drop)
        }
    }
}

/// The resolved configuration of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub base: String,
    pub key: String,
    pub secret: String,
    pub ttl: Option<u32>,
}

/// One TXT record as the API lists and takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    pub data: String,
    #[serde(default)]
    pub ttl: u32,
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
        let base = url::trim_base(endpoint);
        let base = base.strip_suffix("/v1").unwrap_or(base);
        Ok(Api {
            base: base.to_string(),
            key: config.require("api_key")?.to_string(),
            secret: config.require("api_secret")?.to_string(),
            ttl,
        })
    }

    /// The account's domain holding `fqdn` (the first of `zone` and its
    /// parents it has) and the name's TXT records there.
    pub fn find_records(&self, zone: &str, fqdn: &str) -> Result<(String, Vec<DnsRecord>)> {
        for domain in zone_candidates(zone) {
            let Ok(name) = relative_name(fqdn, &domain) else {
                continue;
            };
            match self.send(Request::get(records_url(&self.base, &domain, &name))) {
                Ok(response) => return Ok((domain, response.json()?)),
                Err(Error::ZoneNotFound(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::ZoneNotFound(format!(
            "GoDaddy: no domain for {zone} in this account"
        )))
    }

    pub fn send(&self, request: Request) -> Result<Response> {
        let response = request
            .header(
                "authorization",
                format!("sso-key {}:{}", self.key, self.secret),
            )
            .header("accept", "application/json")
            .send()?;
        if response.is_success() {
            return Ok(response);
        }
        Err(api_error(&response))
    }
}

/// `{base}/v1/domains/{domain}/records/TXT/{name}`.
pub fn records_url(base: &str, domain: &str, name: &str) -> String {
    format!(
        "{base}/v1/domains/{}/records/TXT/{}",
        url::encode(domain),
        url::encode(name).replace("%40", "@")
    )
}

/// `fqdn` relative to `domain`, `@` for the apex.
pub fn relative_name(fqdn: &str, domain: &str) -> Result<String> {
    let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
    if fqdn == domain {
        return Ok("@".into());
    }
    fqdn.strip_suffix(&format!(".{domain}"))
        .map(str::to_string)
        .ok_or_else(|| Error::Permanent(format!("{fqdn} is not inside the domain {domain}")))
}

/// A record GoDaddy leaves behind as a blank placeholder.
fn is_placeholder(r: &DnsRecord) -> bool {
    r.data.trim().is_empty()
}

/// The records to write so the name carries `values` and every real record
/// it has, or `None` when it already does.
pub fn plan_present(current: &[DnsRecord], values: &[String], ttl: u32) -> Option<Vec<DnsRecord>> {
    let mut out: Vec<DnsRecord> = current
        .iter()
        .filter(|r| !is_placeholder(r))
        .cloned()
        .collect();
    let mut changed = false;
    for v in values {
        if !out.iter().any(|r| txt::unquote(&r.data) == *v) {
            out.push(DnsRecord {
                data: v.clone(),
                ttl,
            });
            changed = true;
        }
    }
    changed.then_some(out)
}

/// The records left once `values` are removed, or `None` when none of them
/// is there.
pub fn plan_cleanup(current: &[DnsRecord], values: &[String]) -> Option<Vec<DnsRecord>> {
    if !current
        .iter()
        .any(|r| values.contains(&txt::unquote(&r.data)))
    {
        return None;
    }
    Some(
        current
            .iter()
            .filter(|r| !is_placeholder(r) && !values.contains(&txt::unquote(&r.data)))
            .cloned()
            .collect(),
    )
}

/// Maps a failed answer (`{"code","message","fields"?,"retryAfterSec"?}`)
/// to the WIT case.
pub fn api_error(response: &Response) -> Error {
    let body = serde_json::from_slice::<Value>(&response.body).unwrap_or(Value::Null);
    let code = body["code"].as_str().unwrap_or_default();
    let detail = match body["message"].as_str() {
        Some(m) => format!("{code}: {m}"),
        None => excerpt(&response.text()),
    };
    let message = format!("GoDaddy: HTTP {}: {detail}", response.status);
    match (response.status, code) {
        (429, _) | (_, "TOO_MANY_REQUESTS") => Error::RateLimited(RateLimit {
            message,
            retry_after_secs: response
                .header("retry-after")
                .and_then(|v| v.trim().parse().ok())
                .or_else(|| body["retryAfterSec"].as_u64().map(|s| s as u32)),
        }),
        (401, _) | (_, "UNABLE_TO_AUTHENTICATE") => Error::Authentication(format!(
            "{message} (check api_key and api_secret: a production key, not an OTE one)"
        )),
        (403, _) | (_, "ACCESS_DENIED") => Error::Authentication(format!(
            "{message} (GoDaddy opens its DNS API only to some accounts, e.g. with 10 or more \
             domains)"
        )),
        (404, _) | (_, "UNKNOWN_DOMAIN" | "NOT_FOUND") => Error::ZoneNotFound(message),
        (status, _) => Error::from_status(status, response.header("retry-after"), message),
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

    fn rec(data: &str) -> DnsRecord {
        DnsRecord {
            data: data.into(),
            ttl: 600,
        }
    }

    #[test]
    fn config_and_urls() {
        let api = Api::from_config(&Config::new([("api_key", "k"), ("api_secret", "s")])).unwrap();
        assert_eq!(api.base, DEFAULT_ENDPOINT);
        let api = Api::from_config(&Config::new([
            ("api_key", "k"),
            ("api_secret", "s"),
            ("endpoint", "http://127.0.0.1:9/v1/"),
        ]))
        .unwrap();
        assert_eq!(api.base, "http://127.0.0.1:9");
        assert_eq!(
            records_url(DEFAULT_ENDPOINT, "example.com", "_acme-challenge"),
            "https://api.godaddy.com/v1/domains/example.com/records/TXT/_acme-challenge"
        );
        for bad in [
            vec![("api_key", "k")],
            vec![("api_key", "k"), ("api_secret", "s"), ("ttl", "300")],
        ] {
            assert!(matches!(
                Api::from_config(&Config::new(bad)),
                Err(Error::InvalidConfig(_))
            ));
        }
        assert_eq!(relative_name("example.com", "example.com").unwrap(), "@");
    }

    #[test]
    fn merges_and_removes_only_its_values() {
        // GET …/records/TXT/{name} answers a list of DNSRecord
        // (https://developer.godaddy.com/doc/endpoint/domains#/v1/recordGet),
        // blank placeholders included, as lego's fixtures show.
        let current: Vec<DnsRecord> = serde_json::from_str(
            r#"[{"name":"_acme-challenge","type":"TXT","data":" ","ttl":600},{"name":"_acme-challenge","type":"TXT","data":"foreign","ttl":3600},{"name":"_acme-challenge","type":"TXT","data":"a","ttl":600}]"#,
        )
        .unwrap();
        assert_eq!(
            plan_present(&current, &values(&["a", "b"]), 600).unwrap(),
            [
                DnsRecord {
                    data: "foreign".into(),
                    ttl: 3600
                },
                rec("a"),
                rec("b")
            ]
        );
        assert!(plan_present(&current, &values(&["a"]), 600).is_none());
        assert_eq!(
            plan_cleanup(&current, &values(&["a"])).unwrap(),
            [DnsRecord {
                data: "foreign".into(),
                ttl: 3600
            }]
        );
        assert!(plan_cleanup(&current, &values(&["zz"])).is_none());
        assert_eq!(
            plan_cleanup(&[rec("a")], &values(&["a"])).unwrap(),
            Vec::<DnsRecord>::new()
        );
        // What goes over the wire.
        assert_eq!(
            serde_json::to_string(&[rec("v")]).unwrap(),
            r#"[{"data":"v","ttl":600}]"#
        );
    }

    #[test]
    fn errors() {
        let unauth = response(
            401,
            &[],
            r#"{"code":"UNABLE_TO_AUTHENTICATE","message":"Unauthorized : Could not authenticate API key/secret"}"#,
        );
        let Error::Authentication(m) = api_error(&unauth) else {
            panic!("401")
        };
        assert!(m.contains("UNABLE_TO_AUTHENTICATE"), "{m}");
        let denied = response(
            403,
            &[],
            r#"{"code":"ACCESS_DENIED","message":"Authenticated user is not allowed access"}"#,
        );
        assert!(matches!(api_error(&denied), Error::Authentication(_)));
        let limited = response(
            429,
            &[],
            r#"{"code":"TOO_MANY_REQUESTS","message":"Too many requests received within interval","retryAfterSec":30}"#,
        );
        let Error::RateLimited(r) = api_error(&limited) else {
            panic!("429")
        };
        assert_eq!(r.retry_after_secs, Some(30));
        let unknown = response(
            404,
            &[],
            r#"{"code":"UNKNOWN_DOMAIN","message":"The given domain is not registered, or does not have a zone file"}"#,
        );
        assert!(matches!(api_error(&unknown), Error::ZoneNotFound(_)));
        let invalid = response(
            422,
            &[],
            r#"{"code":"INVALID_BODY","message":"Request body doesn't fulfill schema, see details in `fields`"}"#,
        );
        assert!(matches!(api_error(&invalid), Error::Permanent(_)));
        assert!(matches!(
            api_error(&response(500, &[], "")),
            Error::Transient(_)
        ));
    }

    #[test]
    fn metadata() {
        let m = GoDaddy::metadata();
        assert_eq!(m.name, "godaddy");
        let key = m.config.iter().find(|f| f.name == "api_key").unwrap();
        assert_eq!(key.env_aliases, ["GODADDY_API_KEY", "GD_Key"]);
        let secret = m.config.iter().find(|f| f.name == "api_secret").unwrap();
        assert!(secret.secret && secret.required);
        assert_eq!(secret.env_aliases, ["GODADDY_API_SECRET", "GD_Secret"]);
        assert_eq!((m.default_ttl, m.min_ttl), (600, 600));
    }
}
