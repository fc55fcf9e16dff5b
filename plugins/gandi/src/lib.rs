//! The Gandi provider (`--dns gandi`): publishes ACME challenge values
//! through Gandi's LiveDNS API v5 (`api.gandi.net/v5/livedns`),
//! authenticated with a personal access token (`Authorization: Bearer`) or
//! the deprecated API key (`Authorization: Apikey`).
//!
//! LiveDNS keeps one RRset per name and type, written whole with `PUT
//! /domains/{fqdn}/records/{name}/TXT` (`rrset_values`, `rrset_ttl`). Both
//! calls read the RRset and write it back: `present` adds the missing values,
//! `cleanup` keeps every value but its own and deletes the RRset (`DELETE`)
//! when nothing is left. The domain is looked up with `GET /domains/{fqdn}`,
//! walking up from the zone the host found.
//!
//! Everything but [`Gandi`]'s two calls is a plain function tested on the
//! host target.

use serde::Deserialize;
use serde_json::{Value, json};
use wacme_plugin_sdk::http::{Request, Response, excerpt};
pub use wacme_plugin_sdk::zone::candidates as zone_candidates;
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, txt, url,
};

/// The public API base.
pub const DEFAULT_ENDPOINT: &str = "https://api.gandi.net/v5/livedns";
/// LiveDNS's smallest TTL, also lego's and acme.sh's choice.
pub const DEFAULT_TTL: u32 = 300;
pub const MIN_TTL: u32 = 300;
/// LiveDNS's largest TTL (30 days).
pub const MAX_TTL: u32 = 2_592_000;

pub struct Gandi;

#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(Gandi);

impl Provider for Gandi {
    fn metadata() -> Metadata {
        Metadata {
            name: "gandi".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Gandi LiveDNS (API v5), with a personal access token (Domain: Manage \
                          domain technical configurations) or the deprecated API key; merges \
                          the challenge values into the TXT RRset and removes only its own"
                .into(),
            homepage: "https://api.gandi.net/docs/livedns/".into(),
            config: vec![
                ConfigField::new(
                    "token",
                    "Personal access token allowed to manage the domain's technical \
                     configuration",
                )
                .secret()
                .env(&["GANDIV5_PERSONAL_ACCESS_TOKEN", "GANDI_LIVEDNS_TOKEN"]),
                ConfigField::new("api_key", "Deprecated LiveDNS API key, instead of `token`")
                    .secret()
                    .env(&["GANDIV5_API_KEY", "GANDI_LIVEDNS_KEY"]),
                ConfigField::new("endpoint", "API base URL").default(DEFAULT_ENDPOINT),
                ConfigField::new(
                    "ttl",
                    "TTL of the challenge RRset (300-2592000); overrides the TTL wacme passes",
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
        let domain = api.find_domain(&set.zone)?;
        let name = relative_name(&set.fqdn, &domain)?;
        let current = api.rrset(&domain, &name)?;
        let Some(values) = plan_present(current.as_ref(), &set.values) else {
            log::debug(&format!("{}: TXT values already present", set.fqdn));
            return Ok(());
        };
        let ttl = api.ttl.unwrap_or(set.ttl).clamp(MIN_TTL, MAX_TTL);
        let body = json!({"rrset_ttl": ttl, "rrset_values": values});
        api.send(Request::put(rrset_url(&api.base, &domain, &name)).json(&body))
            .map(drop)
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let domain = api.find_domain(&set.zone)?;
        let name = relative_name(&set.fqdn, &domain)?;
        let current = api.rrset(&domain, &name)?;
        let Some(values) = plan_cleanup(current.as_ref(), &set.values) else {
            log::debug(&format!("{}: TXT values already gone", set.fqdn));
            return Ok(());
        };
        let url = rrset_url(&api.base, &domain, &name);
        let request = if values.is_empty() {
            Request::delete(url)
        } else {
            let ttl = current.and_then(|r| r.rrset_ttl).unwrap_or(DEFAULT_TTL);
            Request::put(url).json(&json!({"rrset_ttl": ttl, "rrset_values": values}))
        };
        match api.send(request) {
            Err(e) if is_not_found(&e) => Ok(()), // already gone
            other => other.map(drop),
        }
    }
}

/// How requests authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Personal access token: `Authorization: Bearer …`.
    Token(String),
    /// Deprecated API key: `Authorization: Apikey …`.
    ApiKey(String),
}

/// The resolved configuration of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub base: String,
    pub auth: Auth,
    pub ttl: Option<u32>,
}

/// A TXT RRset as LiveDNS returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RRSet {
    #[serde(default)]
    pub rrset_values: Vec<String>,
    #[serde(default)]
    pub rrset_ttl: Option<u32>,
}

/// Start of the message of a 404 answer.
const NOT_FOUND: &str = "Gandi: HTTP 404";

fn is_not_found(e: &Error) -> bool {
    matches!(e, Error::Permanent(m) if m.starts_with(NOT_FOUND))
}

impl Api {
    pub fn from_config(config: &Config) -> Result<Api> {
        let auth = match (config.get("token"), config.get("api_key")) {
            (Some(token), _) => Auth::Token(token.into()),
            (None, Some(key)) => Auth::ApiKey(key.into()),
            (None, None) => {
                return Err(Error::InvalidConfig(
                    "set `token` (a personal access token), or the deprecated `api_key`".into(),
                ));
            }
        };
        let ttl = config.parse::<u32>("ttl")?;
        if let Some(t) = ttl
            && !(MIN_TTL..=MAX_TTL).contains(&t)
        {
            return Err(Error::InvalidConfig(format!(
                "`ttl` must be {MIN_TTL}-{MAX_TTL}, not {t}"
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
            auth,
            ttl,
        })
    }

    /// The first of `zone` and its parents that LiveDNS serves for the
    /// account.
    pub fn find_domain(&self, zone: &str) -> Result<String> {
        for candidate in zone_candidates(zone) {
            let url = format!("{}/domains/{}", self.base, url::encode(&candidate));
            match self.send(Request::get(url)) {
                Ok(_) => return Ok(candidate),
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::ZoneNotFound(format!(
            "Gandi: no LiveDNS domain for {zone} in this account (or the token may not manage it)"
        )))
    }

    /// The TXT RRset `name` of `domain`, if there is one.
    pub fn rrset(&self, domain: &str, name: &str) -> Result<Option<RRSet>> {
        match self.send(Request::get(rrset_url(&self.base, domain, name))) {
            Ok(response) => Ok(Some(response.json()?)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn send(&self, request: Request) -> Result<Response> {
        let request = match &self.auth {
            Auth::Token(token) => request.bearer(token),
            Auth::ApiKey(key) => request.header("authorization", format!("Apikey {key}")),
        };
        let response = request.header("accept", "application/json").send()?;
        if response.is_success() {
            return Ok(response);
        }
        Err(api_error(&response))
    }
}

/// `…/domains/{domain}/records/{name}/TXT`.
pub fn rrset_url(base: &str, domain: &str, name: &str) -> String {
    format!(
        "{base}/domains/{}/records/{}/TXT",
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

/// The values the RRset must hold to carry `values` as well as all it has,
/// or `None` when it already does.
pub fn plan_present(current: Option<&RRSet>, values: &[String]) -> Option<Vec<String>> {
    let mut out = current.map(|r| r.rrset_values.clone()).unwrap_or_default();
    let mut changed = false;
    for v in values {
        if !out.iter().any(|r| txt::unquote(r) == *v) {
            out.push(txt::quote(v));
            changed = true;
        }
    }
    changed.then_some(out)
}

/// The values left once `values` are removed, or `None` when none of them
/// is there.
pub fn plan_cleanup(current: Option<&RRSet>, values: &[String]) -> Option<Vec<String>> {
    let current = current?;
    let remaining: Vec<String> = current
        .rrset_values
        .iter()
        .filter(|r| !values.contains(&txt::unquote(r)))
        .cloned()
        .collect();
    (remaining.len() != current.rrset_values.len()).then_some(remaining)
}

/// Maps a failed answer (`{"code","message","object","cause"}`) to the WIT
/// case. A 404 stays `Permanent` with a recognisable message: the callers
/// decide whether it means "no such domain" or "no such RRset".
pub fn api_error(response: &Response) -> Error {
    let detail = match serde_json::from_slice::<Value>(&response.body) {
        Ok(v) if v["message"].is_string() => {
            let cause = v["cause"].as_str().unwrap_or_default();
            let message = v["message"].as_str().unwrap_or_default();
            if cause.is_empty() {
                message.to_string()
            } else {
                format!("{cause}: {message}")
            }
        }
        _ => excerpt(&response.text()),
    };
    let message = format!("Gandi: HTTP {}: {detail}", response.status);
    match response.status {
        401 | 403 => Error::Authentication(format!(
            "{message} (check token: a personal access token with \"Manage domain technical \
             configurations\" on this domain, or the deprecated api_key)"
        )),
        429 => Error::RateLimited(RateLimit {
            message,
            retry_after_secs: response
                .header("retry-after")
                .and_then(|v| v.trim().parse().ok()),
        }),
        404 => Error::Permanent(message),
        status => Error::from_status(status, response.header("retry-after"), message),
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

    #[test]
    fn config() {
        let api = Api::from_config(&Config::new([("token", "pat")])).unwrap();
        assert_eq!(api.auth, Auth::Token("pat".into()));
        assert_eq!(api.base, DEFAULT_ENDPOINT);
        let api = Api::from_config(&Config::new([("api_key", "k")])).unwrap();
        assert_eq!(api.auth, Auth::ApiKey("k".into()));
        for bad in [
            vec![("endpoint", "https://x")],
            vec![("token", "t"), ("ttl", "60")],
            vec![("token", "t"), ("endpoint", "ftp://x")],
        ] {
            assert!(matches!(
                Api::from_config(&Config::new(bad)),
                Err(Error::InvalidConfig(_))
            ));
        }
    }

    #[test]
    fn names_and_urls() {
        assert_eq!(
            zone_candidates("a.example.com"),
            ["a.example.com", "example.com"]
        );
        assert_eq!(
            relative_name("_acme-challenge.www.example.com", "example.com").unwrap(),
            "_acme-challenge.www"
        );
        assert_eq!(relative_name("example.com", "example.com").unwrap(), "@");
        assert_eq!(
            rrset_url(DEFAULT_ENDPOINT, "example.com", "_acme-challenge"),
            "https://api.gandi.net/v5/livedns/domains/example.com/records/_acme-challenge/TXT"
        );
    }

    #[test]
    fn parses_the_documented_rrset_and_merges() {
        // GET /livedns/domains/{fqdn}/records/{rrset_name}/{rrset_type},
        // https://api.gandi.net/docs/livedns/
        let rrset: RRSet = serde_json::from_str(
            r#"{"rrset_name":"_acme-challenge","rrset_type":"TXT","rrset_ttl":10800,"rrset_values":["\"foreign\"","\"a\""],"rrset_href":"https://api.gandi.net/v5/livedns/domains/example.com/records/_acme-challenge/TXT"}"#,
        )
        .unwrap();
        assert_eq!(rrset.rrset_ttl, Some(10800));
        assert_eq!(
            plan_present(Some(&rrset), &values(&["a", "b"])).unwrap(),
            ["\"foreign\"", "\"a\"", "\"b\""]
        );
        assert!(plan_present(Some(&rrset), &values(&["a"])).is_none());
        assert_eq!(
            plan_cleanup(Some(&rrset), &values(&["a"])).unwrap(),
            ["\"foreign\""]
        );
        assert!(plan_cleanup(Some(&rrset), &values(&["zz"])).is_none());
        assert!(plan_cleanup(None, &values(&["a"])).is_none());
        // Values written bare by other tools match too.
        let bare = RRSet {
            rrset_values: values(&["a"]),
            rrset_ttl: None,
        };
        assert_eq!(
            plan_cleanup(Some(&bare), &values(&["a"])).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn errors() {
        let unauthorized = response(
            401,
            &[],
            r#"{"code":401,"message":"The server could not verify that you authorized to access the document you requested.","object":"HTTPUnauthorized","cause":"Unauthorized"}"#,
        );
        let Error::Authentication(m) = api_error(&unauthorized) else {
            panic!("401")
        };
        assert!(
            m.contains("Unauthorized: The server could not verify"),
            "{m}"
        );
        let not_found = response(
            404,
            &[],
            r#"{"code":404,"message":"The resource could not be found.","object":"HTTPNotFound","cause":"Not Found"}"#,
        );
        assert!(is_not_found(&api_error(&not_found)));
        let Error::RateLimited(r) = api_error(&response(429, &[("retry-after", "4")], "{}")) else {
            panic!("429")
        };
        assert_eq!(r.retry_after_secs, Some(4));
        assert!(matches!(
            api_error(&response(503, &[], "")),
            Error::Transient(_)
        ));
    }

    #[test]
    fn metadata() {
        let m = Gandi::metadata();
        assert_eq!(m.name, "gandi");
        let token = m.config.iter().find(|f| f.name == "token").unwrap();
        assert!(token.secret);
        assert_eq!(
            token.env_aliases,
            ["GANDIV5_PERSONAL_ACCESS_TOKEN", "GANDI_LIVEDNS_TOKEN"]
        );
        let key = m.config.iter().find(|f| f.name == "api_key").unwrap();
        assert!(key.secret);
        assert_eq!(key.env_aliases, ["GANDIV5_API_KEY", "GANDI_LIVEDNS_KEY"]);
    }
}
