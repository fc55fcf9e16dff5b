//! The Hetzner provider (`--dns hetzner`): publishes ACME challenge values
//! through the DNS part of the Hetzner Cloud API (`api.hetzner.cloud/v1`,
//! zones and RRsets), authenticated with a project API token
//! (`Authorization: Bearer`, Read & Write).
//!
//! The zone is looked up by name (`GET /zones/{name}`), walking up from the
//! zone the host found. `present` reads the TXT RRset and adds only the
//! missing values with the `add_records` action; `cleanup` removes only the
//! given values with `remove_records` (the API deletes an RRset whose last
//! record goes). Both actions run asynchronously on Hetzner's side: the
//! plugin polls `GET /actions/{id}` until the action succeeded, so the host's
//! propagation check starts on a finished change. TXT values are written as
//! quoted strings, as the API requires.
//!
//! The older DNS Console API (`dns.hetzner.com/api/v1`) was retired when
//! Hetzner moved DNS into the Cloud API; its tokens do not work here.
//!
//! Everything but [`Hetzner`]'s two calls is a plain function tested on the
//! host target.

use serde::Deserialize;
use serde_json::{Value, json};
use wacme_plugin_sdk::http::{Request, Response, excerpt};
pub use wacme_plugin_sdk::zone::candidates as zone_candidates;
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, txt, url,
};

/// The public API base.
pub const DEFAULT_ENDPOINT: &str = "https://api.hetzner.cloud/v1";
/// lego's and acme.sh's TTL for challenge records.
pub const DEFAULT_TTL: u32 = 120;
/// The smallest TTL the Cloud API accepts.
pub const MIN_TTL: u32 = 60;
/// Polls of an action before the call gives up as transient.
pub const MAX_POLLS: u32 = 60;
/// Pause between two polls of an action.
pub const POLL_INTERVAL_MS: u64 = 500;

pub struct Hetzner;

#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(Hetzner);

impl Provider for Hetzner {
    fn metadata() -> Metadata {
        Metadata {
            name: "hetzner".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Hetzner DNS, through the Hetzner Cloud API (zones and RRsets) with a \
                          project API token (Read & Write); adds and removes only its own TXT \
                          values"
                .into(),
            homepage: "https://docs.hetzner.cloud/reference/cloud#dns".into(),
            config: vec![
                ConfigField::new(
                    "api_token",
                    "Hetzner Cloud API token (Read & Write) of the project holding the zone",
                )
                .required()
                .secret()
                .env(&["HETZNER_API_TOKEN", "HETZNER_TOKEN"]),
                ConfigField::new("endpoint", "API base URL").default(DEFAULT_ENDPOINT),
                ConfigField::new(
                    "ttl",
                    "TTL of the challenge RRset (60 or more); overrides the TTL wacme passes",
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
        let zone = api.find_zone(&set.zone)?;
        let name = relative_name(&set.fqdn, &zone.name)?;
        let current = api.rrset(zone.id, &name)?;
        let missing = missing(&current, &set.values);
        if missing.is_empty() {
            log::debug(&format!("{}: TXT values already present", set.fqdn));
            return Ok(());
        }
        let ttl = api.ttl.unwrap_or(set.ttl).max(MIN_TTL);
        let records: Vec<Value> = missing
            .iter()
            .map(|v| json!({"value": txt::quote(v)}))
            .collect();
        let body = json!({"ttl": ttl, "records": records});
        api.run_action(zone.id, &name, "add_records", &body)
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let zone = api.find_zone(&set.zone)?;
        let name = relative_name(&set.fqdn, &zone.name)?;
        let current = api.rrset(zone.id, &name)?;
        let ours = matching(&current, &set.values);
        if ours.is_empty() {
            log::debug(&format!("{}: TXT values already gone", set.fqdn));
            return Ok(());
        }
        let records: Vec<Value> = ours.iter().map(|v| json!({"value": v})).collect();
        api.run_action(
            zone.id,
            &name,
            "remove_records",
            &json!({"records": records}),
        )
    }
}

/// The resolved configuration of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub base: String,
    pub token: String,
    pub ttl: Option<u32>,
}

/// A zone of the project.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Zone {
    pub id: u64,
    pub name: String,
}

/// The records of an RRset, as the API returns them (`"\"value\""`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RRSet {
    #[serde(default)]
    pub records: Vec<Record>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Record {
    pub value: String,
}

/// An asynchronous change.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Action {
    pub id: u64,
    pub status: String,
    #[serde(default)]
    pub error: Option<ApiError>,
}

/// The `error` member of a failed answer (or of a failed action).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
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
        Ok(Api {
            base: endpoint(config, DEFAULT_ENDPOINT)?,
            token: config.require("api_token")?.to_string(),
            ttl,
        })
    }

    /// The project's zone holding `zone`: the first of `zone` and its parents
    /// the API knows.
    pub fn find_zone(&self, zone: &str) -> Result<Zone> {
        for candidate in zone_candidates(zone) {
            let url = format!("{}/zones/{}", self.base, url::encode(&candidate));
            let response = self.send(Request::get(url))?;
            if response.status == 404 {
                continue;
            }
            let body: Value = check(response)?.json()?;
            return serde_json::from_value(body["zone"].clone())
                .map_err(|e| Error::Permanent(format!("Hetzner: unexpected zone: {e}")));
        }
        Err(Error::ZoneNotFound(format!(
            "Hetzner: no zone for {zone} in this project (the API token belongs to one project)"
        )))
    }

    /// The TXT RRset `name` of zone `zone_id` (empty when there is none).
    pub fn rrset(&self, zone_id: u64, name: &str) -> Result<RRSet> {
        let url = format!(
            "{}/zones/{zone_id}/rrsets/{}/TXT",
            self.base,
            url::encode(name).replace("%40", "@")
        );
        let response = self.send(Request::get(url))?;
        if response.status == 404 {
            return Ok(RRSet::default());
        }
        let body: Value = check(response)?.json()?;
        serde_json::from_value(body["rrset"].clone())
            .map_err(|e| Error::Permanent(format!("Hetzner: unexpected RRset: {e}")))
    }

    /// Starts an RRset action and waits until it finished.
    pub fn run_action(&self, zone_id: u64, name: &str, action: &str, body: &Value) -> Result<()> {
        let url = format!(
            "{}/zones/{zone_id}/rrsets/{}/TXT/actions/{action}",
            self.base,
            url::encode(name).replace("%40", "@")
        );
        let response = check(self.send(Request::post(url).json(body))?)?;
        let mut current = parse_action(&response)?;
        for _ in 0..MAX_POLLS {
            match action_outcome(&current) {
                Some(result) => return result,
                None => std::thread::sleep(std::time::Duration::from_millis(POLL_INTERVAL_MS)),
            }
            let url = format!("{}/actions/{}", self.base, current.id);
            current = parse_action(&check(self.send(Request::get(url))?)?)?;
        }
        action_outcome(&current).unwrap_or_else(|| {
            Err(Error::Transient(format!(
                "Hetzner: action {} ({action}) still running",
                current.id
            )))
        })
    }

    fn send(&self, request: Request) -> Result<Response> {
        request
            .bearer(&self.token)
            .header("accept", "application/json")
            .send()
    }
}

/// The `endpoint` setting as a base URL without trailing slash.
pub fn endpoint(config: &Config, default: &str) -> Result<String> {
    let endpoint = config.get("endpoint").unwrap_or(default).trim();
    if !endpoint.starts_with("https://") && !endpoint.starts_with("http://") {
        return Err(Error::InvalidConfig(format!(
            "`endpoint` must be an https:// URL, not {endpoint:?}"
        )));
    }
    Ok(url::trim_base(endpoint).to_string())
}

/// `fqdn` relative to `zone`, `@` for the apex.
pub fn relative_name(fqdn: &str, zone: &str) -> Result<String> {
    let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    if fqdn == zone {
        return Ok("@".into());
    }
    fqdn.strip_suffix(&format!(".{zone}"))
        .map(str::to_string)
        .ok_or_else(|| Error::Permanent(format!("{fqdn} is not inside the zone {zone}")))
}

/// The values no record carries yet (each once).
pub fn missing<'v>(rrset: &RRSet, values: &'v [String]) -> Vec<&'v String> {
    let mut out: Vec<&String> = Vec::new();
    for v in values {
        if !rrset.records.iter().any(|r| txt::unquote(&r.value) == *v) && !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// The records' values (as stored) that carry one of `values`.
pub fn matching(rrset: &RRSet, values: &[String]) -> Vec<String> {
    rrset
        .records
        .iter()
        .filter(|r| values.contains(&txt::unquote(&r.value)))
        .map(|r| r.value.clone())
        .collect()
}

/// `Some` once the action finished.
pub fn action_outcome(action: &Action) -> Option<Result<()>> {
    match action.status.as_str() {
        "success" => Some(Ok(())),
        "error" => {
            let detail = action
                .error
                .as_ref()
                .map(|e| format!("{}: {}", e.code, e.message))
                .unwrap_or_else(|| "no detail".into());
            Some(Err(Error::Permanent(format!(
                "Hetzner: action {} failed: {detail}",
                action.id
            ))))
        }
        _ => None,
    }
}

fn parse_action(response: &Response) -> Result<Action> {
    let body: Value = response.json()?;
    serde_json::from_value(body["action"].clone())
        .map_err(|e| Error::Permanent(format!("Hetzner: unexpected action: {e}")))
}

/// `Ok(response)` on 2xx, else the mapped error.
pub fn check(response: Response) -> Result<Response> {
    if response.is_success() {
        return Ok(response);
    }
    Err(api_error(&response, now_secs()))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Maps a failed answer (`{"error":{"code","message"}}`) to the WIT case.
/// `now` (Unix seconds) turns a `RateLimit-Reset` into a delay when the API
/// sent no `Retry-After`.
pub fn api_error(response: &Response, now: u64) -> Error {
    let error = serde_json::from_slice::<Value>(&response.body)
        .ok()
        .and_then(|v| serde_json::from_value::<ApiError>(v["error"].clone()).ok());
    let (code, detail) = match &error {
        Some(e) => (e.code.as_str(), format!("{}: {}", e.code, e.message)),
        None => ("", excerpt(&response.text())),
    };
    let message = format!("Hetzner: HTTP {}: {detail}", response.status);
    match (response.status, code) {
        (429, _) | (_, "rate_limit_exceeded") => {
            let retry_after_secs = response
                .header("retry-after")
                .and_then(|v| v.trim().parse().ok())
                .or_else(|| {
                    let reset: u64 = response.header("ratelimit-reset")?.trim().parse().ok()?;
                    Some(reset.saturating_sub(now).clamp(1, 3600) as u32)
                });
            Error::RateLimited(RateLimit {
                message,
                retry_after_secs,
            })
        }
        (401 | 403, _) | (_, "unauthorized" | "forbidden" | "token_readonly") => {
            Error::Authentication(format!(
                "{message} (check api_token: a Hetzner Cloud API token with Read & Write \
                 permission, of the project holding the zone)"
            ))
        }
        (_, "locked" | "conflict" | "timeout" | "maintenance" | "unavailable") => {
            Error::Transient(message)
        }
        (_, "incorrect_zone_mode") => Error::Permanent(format!(
            "{message} (records can only be changed in a primary zone)"
        )),
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

    fn rrset(values: &[&str]) -> RRSet {
        RRSet {
            records: values
                .iter()
                .map(|v| Record {
                    value: v.to_string(),
                })
                .collect(),
        }
    }

    fn values(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn config() {
        let api = Api::from_config(&Config::new([("api_token", "t")])).unwrap();
        assert_eq!((api.base.as_str(), api.ttl), (DEFAULT_ENDPOINT, None));
        let api = Api::from_config(&Config::new([
            ("api_token", "t"),
            ("endpoint", "http://127.0.0.1:9/v1/"),
            ("ttl", "300"),
        ]))
        .unwrap();
        assert_eq!(
            (api.base.as_str(), api.ttl),
            ("http://127.0.0.1:9/v1", Some(300))
        );
        for bad in [
            vec![("endpoint", "https://x")],
            vec![("api_token", "t"), ("ttl", "59")],
            vec![("api_token", "t"), ("endpoint", "ftp://x")],
        ] {
            assert!(matches!(
                Api::from_config(&Config::new(bad)),
                Err(Error::InvalidConfig(_))
            ));
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            zone_candidates("a.Example.com."),
            ["a.example.com", "example.com"]
        );
        assert_eq!(
            relative_name("_acme-challenge.a.example.com", "example.com").unwrap(),
            "_acme-challenge.a"
        );
        assert_eq!(relative_name("example.com", "example.com").unwrap(), "@");
        assert!(relative_name("x.example.org", "example.com").is_err());
    }

    #[test]
    fn present_adds_only_missing_values_and_cleanup_only_its_own() {
        // Records as the API stores them: quoted strings (the RRset example
        // in https://docs.hetzner.cloud/reference/cloud#zone-rrsets).
        let current = rrset(&["\"foreign\"", "\"a\""]);
        assert_eq!(missing(&current, &values(&["a", "b", "b"])), ["b"]);
        assert!(missing(&current, &values(&["a"])).is_empty());
        assert_eq!(matching(&current, &values(&["a", "zzz"])), ["\"a\""]);
        assert!(matching(&RRSet::default(), &values(&["a"])).is_empty());
    }

    #[test]
    fn actions() {
        // The action object of https://docs.hetzner.cloud/reference/cloud#actions
        let body = r#"{"action":{"id":1,"command":"add_rrset_records","status":"running","progress":50,"started":"2016-01-30T23:55:00+00:00","finished":null,"resources":[{"id":42,"type":"zone"}],"error":null}}"#;
        let action = parse_action(&response(201, &[], body)).unwrap();
        assert_eq!(action.id, 1);
        assert!(action_outcome(&action).is_none());
        let done = Action {
            status: "success".into(),
            ..action.clone()
        };
        assert!(matches!(action_outcome(&done), Some(Ok(()))));
        let failed: Action = serde_json::from_str(
            r#"{"id":7,"status":"error","error":{"code":"action_failed","message":"Action failed"}}"#,
        )
        .unwrap();
        let Some(Err(Error::Permanent(m))) = action_outcome(&failed) else {
            panic!("error status")
        };
        assert!(m.contains("action_failed: Action failed"), "{m}");
    }

    #[test]
    fn errors() {
        let unauthorized = response(
            401,
            &[],
            r#"{"error":{"code":"unauthorized","message":"unable to authenticate","details":{}}}"#,
        );
        let Error::Authentication(m) = api_error(&unauthorized, 0) else {
            panic!("401")
        };
        assert!(m.contains("unauthorized: unable to authenticate"), "{m}");

        let limited = response(
            429,
            &[("ratelimit-reset", "1000")],
            r#"{"error":{"code":"rate_limit_exceeded","message":"limit of 3600 requests per hour reached","details":{}}}"#,
        );
        let Error::RateLimited(r) = api_error(&limited, 990) else {
            panic!("429")
        };
        assert_eq!(r.retry_after_secs, Some(10));
        let limited = response(429, &[("retry-after", "3")], "{}");
        let Error::RateLimited(r) = api_error(&limited, 0) else {
            panic!("429")
        };
        assert_eq!(r.retry_after_secs, Some(3));

        let locked = response(
            423,
            &[],
            r#"{"error":{"code":"locked","message":"The item you are trying to access is locked"}}"#,
        );
        assert!(matches!(api_error(&locked, 0), Error::Transient(_)));
        assert!(matches!(
            api_error(&response(503, &[], "<html>"), 0),
            Error::Transient(_)
        ));
        let invalid = response(
            422,
            &[],
            r#"{"error":{"code":"invalid_input","message":"invalid input in field 'ttl'"}}"#,
        );
        assert!(matches!(api_error(&invalid, 0), Error::Permanent(_)));
    }

    #[test]
    fn metadata() {
        let m = Hetzner::metadata();
        assert_eq!(m.name, "hetzner");
        assert_eq!(m.allowed_hosts, ["{endpoint}"]);
        let token = m.config.iter().find(|f| f.name == "api_token").unwrap();
        assert!(token.secret && token.required);
        assert_eq!(token.env_aliases, ["HETZNER_API_TOKEN", "HETZNER_TOKEN"]);
        let endpoint = m.config.iter().find(|f| f.name == "endpoint").unwrap();
        assert_eq!(endpoint.default.as_deref(), Some(DEFAULT_ENDPOINT));
    }
}
