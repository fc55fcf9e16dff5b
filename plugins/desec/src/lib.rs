//! The deSEC provider (`--dns desec`): publishes ACME challenge values
//! through deSEC's REST API (`desec.io/api/v1`), authenticated with an API
//! token (`Authorization: Token …`).
//!
//! deSEC keeps one RRset per name and type holding all its values, so both
//! calls read the TXT RRset and write it back whole: `present` adds the
//! missing values (creating the RRset with `POST …/rrsets/` when there is
//! none), `cleanup` writes back every value but its own (an empty list
//! deletes the RRset). Foreign values are always kept. The domain holding the
//! name comes from `GET /domains/?owns_qname=`, and the TTL is raised to the
//! domain's `minimum_ttl` (3600 on most accounts). deSEC throttles hard: its
//! 429 carries `Retry-After`, which is passed to the host as the retry delay.
//!
//! Everything but [`Desec`]'s two calls is a plain function tested on the
//! host target.

use serde::Deserialize;
use serde_json::{Value, json};
use wacme_plugin_sdk::http::{Request, Response, excerpt};
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, txt, url,
};

/// The public API base.
pub const DEFAULT_ENDPOINT: &str = "https://desec.io/api/v1";
/// deSEC's default minimum TTL for a domain (lego and acme.sh use it too).
pub const DEFAULT_TTL: u32 = 3600;
/// The smallest TTL deSEC allows on any domain.
pub const MIN_TTL: u32 = 60;

pub struct Desec;

#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(Desec);

impl Provider for Desec {
    fn metadata() -> Metadata {
        Metadata {
            name: "desec".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "deSEC (desec.io), through its REST API with an API token; merges the \
                          challenge values into the TXT RRset and removes only its own"
                .into(),
            homepage: "https://desec.readthedocs.io/en/latest/dns/rrsets.html".into(),
            config: vec![
                ConfigField::new("token", "deSEC API token")
                    .required()
                    .secret()
                    .env(&["DESEC_TOKEN", "DEDYN_TOKEN"]),
                ConfigField::new("endpoint", "API base URL").default(DEFAULT_ENDPOINT),
                ConfigField::new(
                    "ttl",
                    "TTL of the challenge RRset; overrides the TTL wacme passes (raised to the \
                     domain's minimum)",
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
        let domain = api.domain(&set.fqdn)?;
        let subname = subname(&set.fqdn, &domain.name)?;
        let current = api.rrset(&domain.name, &subname)?;
        let Some(records) = plan_present(current.as_ref(), &set.values) else {
            log::debug(&format!("{}: TXT values already present", set.fqdn));
            return Ok(());
        };
        let ttl = api
            .ttl
            .unwrap_or(set.ttl)
            .max(domain.minimum_ttl.unwrap_or(MIN_TTL));
        match current {
            None => {
                let url = format!("{}/domains/{}/rrsets/", api.base, domain.name);
                let body =
                    json!({"subname": subname, "type": "TXT", "ttl": ttl, "records": records});
                api.send(Request::post(url).json(&body)).map(drop)
            }
            Some(_) => {
                let url = rrset_url(&api.base, &domain.name, &subname);
                api.send(Request::patch(url).json(&json!({"records": records})))
                    .map(drop)
            }
        }
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let domain = api.domain(&set.fqdn)?;
        let subname = subname(&set.fqdn, &domain.name)?;
        let current = api.rrset(&domain.name, &subname)?;
        let Some(records) = plan_cleanup(current.as_ref(), &set.values) else {
            log::debug(&format!("{}: TXT values already gone", set.fqdn));
            return Ok(());
        };
        let url = rrset_url(&api.base, &domain.name, &subname);
        match api.send(Request::patch(url).json(&json!({"records": records}))) {
            Err(Error::ZoneNotFound(_)) => Ok(()), // the RRset went meanwhile
            other => other.map(drop),
        }
    }
}

/// The resolved configuration of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub base: String,
    pub token: String,
    pub ttl: Option<u32>,
}

/// A domain of the account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Domain {
    pub name: String,
    #[serde(default)]
    pub minimum_ttl: Option<u32>,
}

/// An RRset: its records in presentation form (`"\"value\""`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RRSet {
    #[serde(default)]
    pub records: Vec<String>,
    #[serde(default)]
    pub ttl: Option<u32>,
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
            token: config.require("token")?.to_string(),
            ttl,
        })
    }

    /// The account's domain responsible for `fqdn`.
    pub fn domain(&self, fqdn: &str) -> Result<Domain> {
        let url = format!(
            "{}/domains/?owns_qname={}",
            self.base,
            url::encode(fqdn.trim_end_matches('.'))
        );
        let domains: Vec<Domain> = self.send(Request::get(url))?.json()?;
        domains.into_iter().next().ok_or_else(|| {
            Error::ZoneNotFound(format!("deSEC: no domain of this account holds {fqdn}"))
        })
    }

    /// The TXT RRset `subname` of `domain`, if there is one.
    pub fn rrset(&self, domain: &str, subname: &str) -> Result<Option<RRSet>> {
        match self.send(Request::get(rrset_url(&self.base, domain, subname))) {
            Ok(response) => Ok(Some(response.json()?)),
            Err(Error::ZoneNotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends an authenticated request; a 404 comes back as `ZoneNotFound`.
    pub fn send(&self, request: Request) -> Result<Response> {
        let response = request
            .header("authorization", format!("Token {}", self.token))
            .header("accept", "application/json")
            .send()?;
        if response.is_success() {
            return Ok(response);
        }
        Err(api_error(&response))
    }
}

/// `…/domains/{domain}/rrsets/{subname}/TXT/` (`@` for the apex).
pub fn rrset_url(base: &str, domain: &str, subname: &str) -> String {
    let sub = if subname.is_empty() { "@" } else { subname };
    format!(
        "{base}/domains/{domain}/rrsets/{}/TXT/",
        url::encode(sub).replace("%40", "@")
    )
}

/// `fqdn` relative to `domain`; empty for the apex.
pub fn subname(fqdn: &str, domain: &str) -> Result<String> {
    let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if fqdn == domain {
        return Ok(String::new());
    }
    fqdn.strip_suffix(&format!(".{domain}"))
        .map(str::to_string)
        .ok_or_else(|| Error::Permanent(format!("{fqdn} is not inside the domain {domain}")))
}

/// The records the RRset must hold to carry `values` as well as every record
/// it has, or `None` when it already does.
pub fn plan_present(current: Option<&RRSet>, values: &[String]) -> Option<Vec<String>> {
    let mut records = current.map(|r| r.records.clone()).unwrap_or_default();
    let mut changed = false;
    for v in values {
        if !records.iter().any(|r| txt::unquote(r) == *v) {
            records.push(txt::quote(v));
            changed = true;
        }
    }
    changed.then_some(records)
}

/// The records left once `values` are removed, or `None` when none of them
/// is there. An empty list deletes the RRset.
pub fn plan_cleanup(current: Option<&RRSet>, values: &[String]) -> Option<Vec<String>> {
    let current = current?;
    let remaining: Vec<String> = current
        .records
        .iter()
        .filter(|r| !values.contains(&txt::unquote(r)))
        .cloned()
        .collect();
    (remaining.len() != current.records.len()).then_some(remaining)
}

/// deSEC's explanation: `detail`, or the field errors, else an excerpt.
pub fn error_detail(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => match map.get("detail").and_then(Value::as_str) {
            Some(detail) => detail.to_string(),
            None => excerpt(&Value::Object(map).to_string()),
        },
        Ok(other) => excerpt(&other.to_string()),
        Err(_) => excerpt(&String::from_utf8_lossy(body)),
    }
}

/// Maps a failed answer to the WIT case.
pub fn api_error(response: &Response) -> Error {
    let detail = error_detail(&response.body);
    let message = format!("deSEC: HTTP {}: {detail}", response.status);
    match response.status {
        429 => Error::RateLimited(RateLimit {
            message,
            retry_after_secs: response
                .header("retry-after")
                .and_then(|v| v.trim().parse().ok())
                .or_else(|| throttle_seconds(&detail)),
        }),
        401 | 403 => Error::Authentication(format!(
            "{message} (check token: a deSEC API token allowed to manage this domain's RRsets)"
        )),
        404 => Error::ZoneNotFound(message),
        // A concurrent writer created the RRset first: read again and merge.
        400 if detail.contains("same subdomain and type exists") => Error::Transient(message),
        status => Error::from_status(status, response.header("retry-after"), message),
    }
}

/// The delay in "Request was throttled. Expected available in 7 seconds."
pub fn throttle_seconds(detail: &str) -> Option<u32> {
    let rest = detail.split("available in ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
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
    fn config_and_urls() {
        let api = Api::from_config(&Config::new([("token", "t")])).unwrap();
        assert_eq!(api.base, DEFAULT_ENDPOINT);
        assert!(matches!(
            Api::from_config(&Config::new([("token", "t"), ("ttl", "30")])),
            Err(Error::InvalidConfig(_))
        ));
        assert!(matches!(
            Api::from_config(&Config::new([("endpoint", "https://x")])),
            Err(Error::InvalidConfig(_))
        ));
        assert_eq!(
            rrset_url("https://desec.io/api/v1", "example.com", ""),
            "https://desec.io/api/v1/domains/example.com/rrsets/@/TXT/"
        );
        assert_eq!(
            rrset_url("b", "example.com", "_acme-challenge.www"),
            "b/domains/example.com/rrsets/_acme-challenge.www/TXT/"
        );
        assert_eq!(
            subname("_acme-challenge.example.com", "example.com").unwrap(),
            "_acme-challenge"
        );
        assert_eq!(subname("example.com", "example.com").unwrap(), "");
    }

    #[test]
    fn parses_the_documented_rrset_and_domain() {
        // https://desec.readthedocs.io/en/latest/dns/rrsets.html (RRset object)
        let rrset: RRSet = serde_json::from_str(
            r#"{"created":"2018-09-06T09:49:38.127849Z","domain":"example.com","subname":"www","name":"www.example.com.","records":["\"foo\"","\"bar\""],"ttl":3600,"type":"TXT","touched":"2018-09-06T09:49:38.127849Z"}"#,
        )
        .unwrap();
        assert_eq!(rrset.records, ["\"foo\"", "\"bar\""]);
        // https://desec.readthedocs.io/en/latest/dns/domains.html (owns_qname)
        let domains: Vec<Domain> = serde_json::from_str(
            r#"[{"created":"2018-09-18T16:36:16.510368Z","published":"2018-09-18T17:21:38.348112Z","name":"example.com","minimum_ttl":3600,"touched":"2018-09-18T17:21:38.348112Z"}]"#,
        )
        .unwrap();
        assert_eq!(domains[0].minimum_ttl, Some(3600));
    }

    #[test]
    fn merges_and_removes_only_its_values() {
        let current = RRSet {
            records: values(&["\"foreign\"", "\"a\""]),
            ttl: Some(3600),
        };
        assert_eq!(
            plan_present(Some(&current), &values(&["a", "b"])).unwrap(),
            ["\"foreign\"", "\"a\"", "\"b\""]
        );
        assert!(plan_present(Some(&current), &values(&["a"])).is_none());
        assert_eq!(plan_present(None, &values(&["x"])).unwrap(), ["\"x\""]);
        assert_eq!(
            plan_cleanup(Some(&current), &values(&["a", "zz"])).unwrap(),
            ["\"foreign\""]
        );
        assert!(plan_cleanup(Some(&current), &values(&["zz"])).is_none());
        assert!(plan_cleanup(None, &values(&["a"])).is_none());
        let only = RRSet {
            records: values(&["\"a\""]),
            ttl: None,
        };
        assert_eq!(
            plan_cleanup(Some(&only), &values(&["a"])).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn errors() {
        // https://desec.readthedocs.io/en/latest/rate-limits.html
        let throttled = response(
            429,
            &[("retry-after", "2")],
            r#"{"detail":"Request was throttled. Expected available in 2 seconds."}"#,
        );
        let Error::RateLimited(r) = api_error(&throttled) else {
            panic!("429")
        };
        assert_eq!(r.retry_after_secs, Some(2));
        let throttled = response(
            429,
            &[],
            r#"{"detail":"Request was throttled. Expected available in 7 seconds."}"#,
        );
        let Error::RateLimited(r) = api_error(&throttled) else {
            panic!("429")
        };
        assert_eq!(r.retry_after_secs, Some(7));

        let Error::Authentication(m) =
            api_error(&response(401, &[], r#"{"detail":"Invalid token."}"#))
        else {
            panic!("401")
        };
        assert!(m.contains("Invalid token."), "{m}");
        assert!(matches!(
            api_error(&response(404, &[], r#"{"detail":"Not found."}"#)),
            Error::ZoneNotFound(_)
        ));
        assert!(matches!(
            api_error(&response(
                400,
                &[],
                r#"{"non_field_errors":["Another RRset with the same subdomain and type exists for this domain."]}"#
            )),
            Error::Transient(_)
        ));
        let Error::Permanent(m) = api_error(&response(
            400,
            &[],
            r#"{"ttl":["Ensure this value is greater than or equal to 3600."]}"#,
        )) else {
            panic!("400")
        };
        assert!(m.contains("greater than or equal to 3600"), "{m}");
        assert!(matches!(
            api_error(&response(502, &[], "<html>")),
            Error::Transient(_)
        ));
    }

    #[test]
    fn metadata() {
        let m = Desec::metadata();
        assert_eq!(m.name, "desec");
        let token = m.config.iter().find(|f| f.name == "token").unwrap();
        assert!(token.secret && token.required);
        assert_eq!(token.env_aliases, ["DESEC_TOKEN", "DEDYN_TOKEN"]);
        assert_eq!(m.allowed_hosts, ["{endpoint}"]);
    }
}
