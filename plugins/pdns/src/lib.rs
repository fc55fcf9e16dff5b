//! The PowerDNS Authoritative provider (`--dns pdns`): publishes ACME
//! challenge values through PowerDNS's HTTP API.
//!
//! `present` reads the TXT RRset of the record name, adds the missing values
//! and writes the union back with one `REPLACE` PATCH; `cleanup` removes only
//! the given values (a `DELETE` PATCH when none remain). Values other clients
//! put on the same name are kept.
//!
//! The batch calls (`present_many` / `cleanup_many`, hint `batch`) do the
//! same for many names of one zone in two requests: one `GET` of the zone
//! with its RRsets (the API filters by one name at most), then one `PATCH`
//! carrying an RRset per name that changes (PowerDNS applies a PATCH in one
//! transaction). A zone too large for the host's response cap is read name
//! by name instead.
//!
//! This file owns the plugin's metadata, its config handling, the
//! request/response logic and the mapping of PowerDNS answers to the WIT
//! error cases; everything but [`PowerDns`]'s calls is a plain function
//! tested on the host target.

use serde::{Deserialize, Serialize};
use wacme_plugin_sdk::batch;
use wacme_plugin_sdk::http::{Request, Response, excerpt};
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, txt, url,
};

/// TTL for challenge records when the operator sets none.
pub const DEFAULT_TTL: u32 = 60;
/// PowerDNS accepts any positive TTL.
pub const MIN_TTL: u32 = 1;

/// The provider registered as this component's export.
pub struct PowerDns;

// Exported symbols such as `wacme:dns/provider@0.2.0#present` do not link
// into a native cdylib; the native build exists for the unit tests.
#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(PowerDns);

impl Provider for PowerDns {
    fn metadata() -> Metadata {
        Metadata {
            name: "pdns".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "PowerDNS Authoritative Server, through its HTTP API (4.x): merges the \
                          challenge values into the record's TXT RRset and removes only its own \
                          values on cleanup"
                .into(),
            homepage: "https://doc.powerdns.com/authoritative/http-api/".into(),
            config: vec![
                ConfigField::new(
                    "api_url",
                    "Base URL of the PowerDNS web server, e.g. http://127.0.0.1:8081 (a trailing \
                     /api/v1 is accepted)",
                )
                .required(),
                ConfigField::new("api_key", "API key (the server's `api-key` setting)")
                    .required()
                    .secret()
                    .env(&["PDNS_API_KEY"]),
                ConfigField::new("server_id", "Server id in the API path").default("localhost"),
                ConfigField::new(
                    "ttl",
                    "TTL in seconds of the challenge RRset; overrides the TTL wacme passes",
                ),
            ],
            allowed_hosts: vec!["{api_url}".into()],
            default_ttl: DEFAULT_TTL,
            min_ttl: MIN_TTL,
            dns_servers: Vec::new(),
            // The sqlite backend answers concurrent writes to one zone with
            // "database is locked": one write per zone at a time. One PATCH
            // takes any number of RRsets: batch calls.
            hints: wacme_plugin_sdk::Hints {
                zone_write_concurrency: 1,
                batch: true,
                ..Default::default()
            },
        }
    }

    fn present(config: &Config, set: &TxtSet) -> Result<()> {
        let settings = Settings::from_config(config)?;
        let ttl = settings.ttl.unwrap_or(set.ttl).max(MIN_TTL);
        // A 5xx (e.g. sqlite's "database is locked" when writes to one zone
        // collide) is `Transient`: wacme retries the whole call with a
        // jittered backoff, and each call re-reads the RRset first, so a
        // retry never writes stale values.
        let current = settings.read_txt(set)?;
        match plan_present(current.as_ref(), &set.values, ttl) {
            None => {
                log::debug(&format!(
                    "{}: TXT values already present",
                    absolute(&set.fqdn)
                ));
                Ok(())
            }
            Some(records) => settings.patch(set, &Change::Replace { ttl, records }),
        }
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let settings = Settings::from_config(config)?;
        let current = settings.read_txt(set)?;
        match plan_cleanup(current.as_ref(), &set.values) {
            None => {
                log::debug(&format!("{}: TXT values already gone", absolute(&set.fqdn)));
                Ok(())
            }
            Some(change) => settings.patch(set, &change),
        }
    }

    fn present_many(config: &Config, sets: &[TxtSet]) -> Result<()> {
        let settings = Settings::from_config(config)?;
        let Some(zone) = batch_zone(sets)? else {
            return Ok(());
        };
        let current = settings.read_names(zone, sets)?;
        let changes = plan_present_many(&current, sets, settings.ttl);
        settings.patch_many(zone, &changes)
    }

    fn cleanup_many(config: &Config, sets: &[TxtSet]) -> Result<()> {
        let settings = Settings::from_config(config)?;
        let Some(zone) = batch_zone(sets)? else {
            return Ok(());
        };
        let current = settings.read_names(zone, sets)?;
        let changes = plan_cleanup_many(&current, sets);
        settings.patch_many(zone, &changes)
    }
}

/// Start of the message [`api_error`] gives a 5xx answer.
const SERVER_ERROR: &str = "PowerDNS server error: HTTP ";

/// Whether `e` is a 5xx answer of PowerDNS (not a connection failure).
pub fn is_server_error(e: &Error) -> bool {
    matches!(e, Error::Transient(m) if m.starts_with(SERVER_ERROR))
}

/// The resolved configuration of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `…/api/v1/servers/{server_id}`, without trailing slash.
    pub server_url: String,
    pub server_id: String,
    pub api_key: String,
    /// The operator's TTL override.
    pub ttl: Option<u32>,
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Settings> {
        let server_id = config.get("server_id").unwrap_or("localhost").to_string();
        let ttl = config.parse::<u32>("ttl")?;
        if ttl == Some(0) {
            return Err(Error::InvalidConfig("`ttl` must be at least 1".into()));
        }
        Ok(Settings {
            server_url: server_url(config.require("api_url")?, &server_id)?,
            api_key: config.require("api_key")?.to_string(),
            server_id,
            ttl,
        })
    }

    /// The TXT RRset of `set.fqdn`, if there is one.
    fn read_txt(&self, set: &TxtSet) -> Result<Option<RRSet>> {
        let url = rrset_query_url(&self.server_url, &set.zone, &set.fqdn);
        let response = self.send(Request::get(url), &set.zone)?;
        let zone: Zone = response.json()?;
        Ok(find_txt(&zone, &set.fqdn).cloned())
    }

    /// The RRsets of `zone` holding at least the TXT RRsets of every set's
    /// name: the whole zone in one request, or, when the zone is larger
    /// than the host lets a response be, one filtered request per name.
    fn read_names(&self, zone: &str, sets: &[TxtSet]) -> Result<Zone> {
        let url = zone_rrsets_url(&self.server_url, zone);
        match self.send(Request::get(url), zone) {
            Ok(response) => response.json(),
            Err(Error::Permanent(m)) if m.starts_with(TOO_LARGE) => {
                log::debug(&format!(
                    "{}: zone too large to read at once; reading name by name",
                    absolute(zone)
                ));
                let mut rrsets = Vec::new();
                for set in sets {
                    rrsets.extend(self.read_txt(set)?);
                }
                Ok(Zone { rrsets })
            }
            Err(e) => Err(e),
        }
    }

    fn patch(&self, set: &TxtSet, change: &Change) -> Result<()> {
        log::debug(&format!("{}: {}", absolute(&set.fqdn), change.describe()));
        let request = Request::patch(zone_url(&self.server_url, &set.zone))
            .json(&patch_body(&set.fqdn, change));
        self.send(request, &set.zone).map(drop)
    }

    /// One PATCH of `zone` applying every change; nothing when there is none.
    fn patch_many(&self, zone: &str, changes: &[(String, Change)]) -> Result<()> {
        if changes.is_empty() {
            log::debug(&format!("{}: every name already as wanted", absolute(zone)));
            return Ok(());
        }
        for (fqdn, change) in changes {
            log::debug(&format!("{}: {}", absolute(fqdn), change.describe()));
        }
        let request =
            Request::patch(zone_url(&self.server_url, zone)).json(&patch_body_many(changes));
        self.send(request, zone).map(drop)
    }

    fn send(&self, request: Request, zone: &str) -> Result<Response> {
        let response = request
            .header("x-api-key", &self.api_key)
            .header("accept", "application/json")
            .send()?;
        if response.is_success() {
            return Ok(response);
        }
        Err(api_error(
            response.status,
            response.header("retry-after"),
            &response.body,
            zone,
            &self.server_id,
        ))
    }
}

/// `…/api/v1/servers/{server_id}` from the operator's `api_url`, which may
/// name the web server root or the API root, with or without trailing slash.
pub fn server_url(api_url: &str, server_id: &str) -> Result<String> {
    let api_url = api_url.trim();
    let lower = api_url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(authority) if !authority.is_empty() && !authority.starts_with('/') => {}
        _ => {
            return Err(Error::InvalidConfig(format!(
                "`api_url` must be an http:// or https:// URL such as http://127.0.0.1:8081, \
                 not {api_url:?}"
            )));
        }
    }
    if api_url.contains(['?', '#']) {
        return Err(Error::InvalidConfig(format!(
            "`api_url` must not carry a query or fragment: {api_url:?}"
        )));
    }
    if server_id.is_empty() {
        return Err(Error::InvalidConfig("`server_id` must not be empty".into()));
    }
    let base = url::trim_base(api_url);
    let base = match base.len().checked_sub("/api/v1".len()) {
        Some(cut) if base[cut..].eq_ignore_ascii_case("/api/v1") => url::trim_base(&base[..cut]),
        _ => base,
    };
    Ok(format!("{base}/api/v1/servers/{}", url::encode(server_id)))
}

/// `name` with exactly one trailing dot, lower case (PowerDNS's zone id and
/// RRset names are absolute).
pub fn absolute(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.').to_ascii_lowercase())
}

/// The zone's URL, the target of PATCH.
pub fn zone_url(server_url: &str, zone: &str) -> String {
    format!("{server_url}/zones/{}", url::encode(&absolute(zone)))
}

/// The zone's URL asking for every RRset of the zone (PowerDNS filters by
/// one name at most, so a batch reads them all).
pub fn zone_rrsets_url(server_url: &str, zone: &str) -> String {
    format!("{}?rrsets=true", zone_url(server_url, zone))
}

/// The zone's URL asking for the TXT RRset of `fqdn` only. Servers that do not
/// know the filter return every RRset; [`find_txt`] picks the right one.
pub fn rrset_query_url(server_url: &str, zone: &str, fqdn: &str) -> String {
    format!(
        "{}?rrsets=true&rrset_name={}&rrset_type=TXT",
        zone_url(server_url, zone),
        url::encode(&absolute(fqdn))
    )
}

/// A zone as `GET …/zones/{zone}` returns it; only the RRsets matter here.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Zone {
    #[serde(default)]
    pub rrsets: Vec<RRSet>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RRSet {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    #[serde(default)]
    pub ttl: Option<u32>,
    #[serde(default)]
    pub records: Vec<Record>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Presentation form: quoted character strings for TXT.
    pub content: String,
    #[serde(default)]
    pub disabled: bool,
}

/// The TXT RRset named `fqdn` in `zone`, if any.
pub fn find_txt<'z>(zone: &'z Zone, fqdn: &str) -> Option<&'z RRSet> {
    let name = absolute(fqdn);
    zone.rrsets
        .iter()
        .find(|r| r.rtype.eq_ignore_ascii_case("TXT") && absolute(&r.name) == name)
}

/// A change to one TXT RRset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Replace { ttl: u32, records: Vec<Record> },
    Delete,
}

impl Change {
    fn describe(&self) -> String {
        match self {
            Change::Replace { ttl, records } => {
                format!("REPLACE TXT with {} value(s), TTL {ttl}", records.len())
            }
            Change::Delete => "DELETE TXT".into(),
        }
    }
}

/// The records the RRset must hold so that it carries `values` (and keeps
/// every other record), or `None` when it already does with this TTL.
/// A disabled record holding a wanted value is enabled.
pub fn plan_present(current: Option<&RRSet>, values: &[String], ttl: u32) -> Option<Vec<Record>> {
    let mut records = current.map(|r| r.records.clone()).unwrap_or_default();
    let mut changed = current.and_then(|r| r.ttl) != Some(ttl);
    for value in values {
        let mut found = false;
        for record in records
            .iter_mut()
            .filter(|r| txt::unquote(&r.content) == *value)
        {
            found = true;
            if record.disabled {
                record.disabled = false;
                changed = true;
            }
        }
        if !found {
            records.push(Record {
                content: txt::quote(value),
                disabled: false,
            });
            changed = true;
        }
    }
    changed.then_some(records)
}

/// The change that removes `values` from the RRset and keeps every other
/// record, or `None` when none of them is there.
pub fn plan_cleanup(current: Option<&RRSet>, values: &[String]) -> Option<Change> {
    let current = current?;
    let remaining: Vec<Record> = current
        .records
        .iter()
        .filter(|r| !values.contains(&txt::unquote(&r.content)))
        .cloned()
        .collect();
    if remaining.len() == current.records.len() {
        None
    } else if remaining.is_empty() {
        Some(Change::Delete)
    } else {
        Some(Change::Replace {
            ttl: current.ttl.unwrap_or(DEFAULT_TTL),
            records: remaining,
        })
    }
}

/// The JSON body of the zone PATCH applying `change` to `fqdn`'s TXT RRset.
pub fn patch_body(fqdn: &str, change: &Change) -> serde_json::Value {
    serde_json::json!({ "rrsets": [rrset_change(fqdn, change)] })
}

/// The JSON body of the zone PATCH applying every `(fqdn, change)`: one
/// RRset per name.
pub fn patch_body_many(changes: &[(String, Change)]) -> serde_json::Value {
    let rrsets: Vec<serde_json::Value> = changes
        .iter()
        .map(|(fqdn, change)| rrset_change(fqdn, change))
        .collect();
    serde_json::json!({ "rrsets": rrsets })
}

/// One RRset of a PATCH body.
fn rrset_change(fqdn: &str, change: &Change) -> serde_json::Value {
    match change {
        Change::Replace { ttl, records } => serde_json::json!({
            "name": absolute(fqdn),
            "type": "TXT",
            "ttl": ttl,
            "changetype": "REPLACE",
            "records": records,
        }),
        Change::Delete => serde_json::json!({
            "name": absolute(fqdn),
            "type": "TXT",
            "changetype": "DELETE",
        }),
    }
}

/// Start of the SDK's message for a response over the host's size cap.
const TOO_LARGE: &str = "response too large";

/// The zone every set of a batch is in ([`batch::zone`]).
pub fn batch_zone(sets: &[TxtSet]) -> Result<Option<&str>> {
    batch::zone(sets, absolute)
}

/// The sets of a batch merged per absolute record name (values in order,
/// each once; the TTL of the name's first set), in the order the names
/// first appear ([`batch::merge`]).
pub fn merge_names(sets: &[TxtSet]) -> Vec<(String, Vec<String>, u32)> {
    batch::merge(sets, absolute)
        .into_iter()
        .map(|n| (n.name, n.values, n.ttl))
        .collect()
}

/// The changes that make every set's name carry its values (other records
/// kept), one per name that needs one. `ttl` is the operator's override.
pub fn plan_present_many(zone: &Zone, sets: &[TxtSet], ttl: Option<u32>) -> Vec<(String, Change)> {
    merge_names(sets)
        .into_iter()
        .filter_map(|(name, values, set_ttl)| {
            let ttl = ttl.unwrap_or(set_ttl).max(MIN_TTL);
            plan_present(find_txt(zone, &name), &values, ttl)
                .map(|records| (name, Change::Replace { ttl, records }))
        })
        .collect()
}

/// The changes that remove every set's values from its name (other records
/// kept), one per name that holds one of them.
pub fn plan_cleanup_many(zone: &Zone, sets: &[TxtSet]) -> Vec<(String, Change)> {
    merge_names(sets)
        .into_iter()
        .filter_map(|(name, values, _)| {
            plan_cleanup(find_txt(zone, &name), &values).map(|change| (name, change))
        })
        .collect()
}

/// PowerDNS's own explanation of a failed call: the `error` member of its
/// JSON envelope, else an excerpt of the body.
pub fn error_detail(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Envelope {
        error: String,
    }
    match serde_json::from_slice::<Envelope>(body) {
        Ok(e) => excerpt(&e.error),
        Err(_) => excerpt(&String::from_utf8_lossy(body)),
    }
}

/// Maps a failed API answer to the WIT error case.
pub fn api_error(
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
    zone: &str,
    server_id: &str,
) -> Error {
    let detail = error_detail(body);
    let zone = absolute(zone);
    if status == 404 || detail.contains("Could not find domain") {
        return Error::ZoneNotFound(format!(
            "PowerDNS server `{server_id}` has no zone `{zone}` (HTTP {status}: {detail}); check \
             the zone exists, and api_url and server_id"
        ));
    }
    match status {
        401 | 403 => Error::Authentication(format!(
            "PowerDNS refused the API key (HTTP {status}: {detail}); check api_key and the \
             server's webserver-allow-from"
        )),
        422 => Error::Permanent(format!(
            "PowerDNS rejected the change to `{zone}`: {detail}"
        )),
        429 => Error::RateLimited(RateLimit {
            message: format!("PowerDNS: HTTP 429: {detail}"),
            retry_after_secs: retry_after.and_then(|v| v.trim().parse().ok()),
        }),
        500..=599 => Error::Transient(format!("{SERVER_ERROR}{status}: {detail}")),
        _ => Error::from_status(
            status,
            retry_after,
            format!("PowerDNS: HTTP {status}: {detail}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rrset(ttl: u32, records: &[(&str, bool)]) -> RRSet {
        RRSet {
            name: "_acme-challenge.example.org.".into(),
            rtype: "TXT".into(),
            ttl: Some(ttl),
            records: records
                .iter()
                .map(|(c, d)| Record {
                    content: (*c).into(),
                    disabled: *d,
                })
                .collect(),
        }
    }

    fn values(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn contents(records: &[Record]) -> Vec<&str> {
        records.iter().map(|r| r.content.as_str()).collect()
    }

    #[test]
    fn server_url_accepts_root_or_api_root() {
        for api_url in [
            "http://127.0.0.1:8081",
            "http://127.0.0.1:8081/",
            "http://127.0.0.1:8081/api/v1",
            "http://127.0.0.1:8081/api/v1/",
            " http://127.0.0.1:8081/api/v1// ",
        ] {
            assert_eq!(
                server_url(api_url, "localhost").unwrap(),
                "http://127.0.0.1:8081/api/v1/servers/localhost",
                "{api_url}"
            );
        }
        assert_eq!(
            server_url("https://dns.example.net/pdns/", "a b").unwrap(),
            "https://dns.example.net/pdns/api/v1/servers/a%20b"
        );
    }

    #[test]
    fn server_url_rejects_bad_input() {
        for api_url in [
            "127.0.0.1:8081",
            "ftp://x",
            "http://",
            "http:///x",
            "http://x/?a=1",
        ] {
            assert!(
                matches!(
                    server_url(api_url, "localhost"),
                    Err(Error::InvalidConfig(_))
                ),
                "{api_url}"
            );
        }
        assert!(matches!(
            server_url("http://x", ""),
            Err(Error::InvalidConfig(_))
        ));
    }

    #[test]
    fn urls_use_absolute_names() {
        let server = "http://h:8081/api/v1/servers/localhost";
        assert_eq!(
            zone_url(server, "Example.ORG"),
            format!("{server}/zones/example.org.")
        );
        assert_eq!(
            zone_url(server, "example.org."),
            format!("{server}/zones/example.org.")
        );
        assert_eq!(
            zone_rrsets_url(server, "example.org"),
            format!("{server}/zones/example.org.?rrsets=true")
        );
        assert_eq!(
            rrset_query_url(server, "example.org", "_acme-challenge.www.example.org"),
            format!(
                "{server}/zones/example.org.?rrsets=true\
                 &rrset_name=_acme-challenge.www.example.org.&rrset_type=TXT"
            )
        );
    }

    #[test]
    fn settings_from_config() {
        let config = Config::new([("api_url", "http://h:1"), ("api_key", "k"), ("ttl", "30")]);
        let s = Settings::from_config(&config).unwrap();
        assert_eq!(s.server_url, "http://h:1/api/v1/servers/localhost");
        assert_eq!((s.api_key.as_str(), s.ttl), ("k", Some(30)));

        let missing_key = Config::new([("api_url", "http://h:1")]);
        let Err(Error::InvalidConfig(m)) = Settings::from_config(&missing_key) else {
            panic!("missing api_key accepted");
        };
        assert!(m.contains("api_key"), "{m}");
        for ttl in ["0", "-1", "soon"] {
            let c = Config::new([("api_url", "http://h:1"), ("api_key", "k"), ("ttl", ttl)]);
            assert!(
                matches!(Settings::from_config(&c), Err(Error::InvalidConfig(_))),
                "{ttl}"
            );
        }
        let other = Config::new([
            ("api_url", "http://h"),
            ("api_key", "k"),
            ("server_id", "p2"),
        ]);
        assert_eq!(
            Settings::from_config(&other).unwrap().server_url,
            "http://h/api/v1/servers/p2"
        );
    }

    #[test]
    fn find_txt_matches_name_and_type_only() {
        let zone: Zone = serde_json::from_str(
            r#"{"name":"example.org.","rrsets":[
                {"name":"example.org.","type":"SOA","ttl":3600,"records":[{"content":"a. b. 1 2 3 4 5","disabled":false}]},
                {"name":"_acme-challenge.example.org.","type":"A","ttl":60,"records":[{"content":"192.0.2.1","disabled":false}]},
                {"name":"_ACME-challenge.example.org.","type":"TXT","ttl":60,"records":[{"content":"\"v\"","disabled":false}],"comments":[]}
            ]}"#,
        )
        .unwrap();
        let found = find_txt(&zone, "_acme-challenge.example.org").unwrap();
        assert_eq!(contents(&found.records), ["\"v\""]);
        assert!(find_txt(&zone, "other.example.org").is_none());
        assert!(find_txt(&Zone::default(), "_acme-challenge.example.org").is_none());
    }

    #[test]
    fn present_creates_a_new_rrset() {
        let records = plan_present(None, &values(&["a", "b"]), 60).unwrap();
        assert_eq!(contents(&records), ["\"a\"", "\"b\""]);
        assert!(records.iter().all(|r| !r.disabled));
    }

    #[test]
    fn present_merges_with_other_values() {
        let current = rrset(60, &[("\"other\"", false), ("\"a\"", false)]);
        let records = plan_present(Some(&current), &values(&["a", "b"]), 60).unwrap();
        assert_eq!(contents(&records), ["\"other\"", "\"a\"", "\"b\""]);
    }

    #[test]
    fn present_is_idempotent() {
        let current = rrset(60, &[("\"a\"", false), ("b", false)]);
        assert_eq!(plan_present(Some(&current), &values(&["a", "b"]), 60), None);
        assert_eq!(plan_present(Some(&current), &values(&["a", "a"]), 60), None);
        assert_eq!(plan_present(Some(&current), &[], 60), None);
    }

    #[test]
    fn present_enables_disabled_values_and_sets_the_ttl() {
        let current = rrset(60, &[("\"a\"", true)]);
        let records = plan_present(Some(&current), &values(&["a"]), 60).unwrap();
        assert_eq!(
            records,
            [Record {
                content: "\"a\"".into(),
                disabled: false
            }]
        );

        let current = rrset(3600, &[("\"a\"", false)]);
        let records = plan_present(Some(&current), &values(&["a"]), 60).unwrap();
        assert_eq!(contents(&records), ["\"a\""]);
    }

    #[test]
    fn present_quotes_special_characters() {
        let records = plan_present(None, &values(&["x\"y\\z"]), 60).unwrap();
        assert_eq!(contents(&records), [r#""x\"y\\z""#]);
        let current = rrset(
            60,
            &records
                .iter()
                .map(|r| (r.content.as_str(), false))
                .collect::<Vec<_>>(),
        );
        assert_eq!(
            plan_present(Some(&current), &values(&["x\"y\\z"]), 60),
            None
        );
    }

    #[test]
    fn cleanup_removes_only_the_given_values() {
        let current = rrset(120, &[("\"a\"", false), ("\"keep\"", false), ("b", true)]);
        assert_eq!(
            plan_cleanup(Some(&current), &values(&["a", "b"])),
            Some(Change::Replace {
                ttl: 120,
                records: vec![Record {
                    content: "\"keep\"".into(),
                    disabled: false
                }],
            })
        );
    }

    #[test]
    fn cleanup_deletes_an_emptied_rrset_and_accepts_missing_values() {
        let current = rrset(60, &[("\"a\"", false), ("\"b\"", false)]);
        assert_eq!(
            plan_cleanup(Some(&current), &values(&["a", "b"])),
            Some(Change::Delete)
        );
        assert_eq!(plan_cleanup(Some(&current), &values(&["c"])), None);
        assert_eq!(plan_cleanup(None, &values(&["a"])), None);
    }

    #[test]
    fn patch_bodies() {
        let replace = Change::Replace {
            ttl: 60,
            records: vec![Record {
                content: "\"v\"".into(),
                disabled: false,
            }],
        };
        assert_eq!(
            patch_body("_acme-challenge.example.org", &replace),
            serde_json::json!({"rrsets":[{
                "name":"_acme-challenge.example.org.","type":"TXT","ttl":60,"changetype":"REPLACE",
                "records":[{"content":"\"v\"","disabled":false}]
            }]})
        );
        assert_eq!(
            patch_body("_acme-challenge.example.org.", &Change::Delete),
            serde_json::json!({"rrsets":[{
                "name":"_acme-challenge.example.org.","type":"TXT","changetype":"DELETE"
            }]})
        );
    }

    fn txt_set(fqdn: &str, v: &[&str]) -> TxtSet {
        TxtSet {
            zone: "example.org".into(),
            fqdn: fqdn.into(),
            relative_name: fqdn.trim_end_matches(".example.org").into(),
            values: values(v),
            ttl: 60,
        }
    }

    /// A zone holding a SOA, a foreign TXT value on `a`, our value on `b`
    /// and an A record on `c`.
    fn batch_zone_fixture() -> Zone {
        serde_json::from_str(
            r#"{"name":"example.org.","rrsets":[
                {"name":"example.org.","type":"SOA","ttl":3600,"records":[{"content":"a. b. 1 2 3 4 5","disabled":false}]},
                {"name":"a.example.org.","type":"TXT","ttl":300,"records":[{"content":"\"foreign\"","disabled":false}]},
                {"name":"b.example.org.","type":"TXT","ttl":60,"records":[{"content":"\"b1\"","disabled":false}]},
                {"name":"c.example.org.","type":"A","ttl":60,"records":[{"content":"192.0.2.1","disabled":false}]}
            ]}"#,
        )
        .unwrap()
    }

    #[test]
    fn batches_stay_in_one_zone() {
        assert_eq!(batch_zone(&[]).unwrap(), None);
        let sets = [
            txt_set("a.example.org", &["x"]),
            txt_set("b.example.org", &["y"]),
        ];
        assert_eq!(batch_zone(&sets).unwrap(), Some("example.org"));
        let mut other = txt_set("a.example.net", &["x"]);
        other.zone = "example.net".into();
        assert!(matches!(
            batch_zone(&[sets[0].clone(), other]),
            Err(Error::Permanent(_))
        ));
    }

    #[test]
    fn merge_names_unites_values_of_one_name() {
        let merged = merge_names(&[
            txt_set("A.example.org", &["1", "2"]),
            txt_set("b.example.org", &["3"]),
            txt_set("a.example.org.", &["2", "4"]),
        ]);
        assert_eq!(
            merged,
            [
                ("a.example.org.".to_string(), values(&["1", "2", "4"]), 60),
                ("b.example.org.".to_string(), values(&["3"]), 60),
            ]
        );
    }

    #[test]
    fn present_many_writes_one_rrset_per_changed_name() {
        let zone = batch_zone_fixture();
        let sets = [
            txt_set("a.example.org", &["a1"]),
            txt_set("b.example.org", &["b1"]),
            txt_set("c.example.org", &["c1", "c2"]),
        ];
        let changes = plan_present_many(&zone, &sets, None);
        // `b` already carries its value with this TTL: no change.
        assert_eq!(
            changes,
            [
                (
                    "a.example.org.".to_string(),
                    Change::Replace {
                        ttl: 60,
                        records: vec![
                            Record {
                                content: "\"foreign\"".into(),
                                disabled: false
                            },
                            Record {
                                content: "\"a1\"".into(),
                                disabled: false
                            },
                        ],
                    }
                ),
                (
                    "c.example.org.".to_string(),
                    Change::Replace {
                        ttl: 60,
                        records: vec![
                            Record {
                                content: "\"c1\"".into(),
                                disabled: false
                            },
                            Record {
                                content: "\"c2\"".into(),
                                disabled: false
                            },
                        ],
                    }
                ),
            ]
        );
        // The operator's TTL wins.
        let with_ttl = plan_present_many(&zone, &sets[1..2], Some(30));
        assert!(matches!(
            &with_ttl[..],
            [(_, Change::Replace { ttl: 30, .. })]
        ));
        assert!(plan_present_many(&zone, &sets[1..2], None).is_empty());
    }

    #[test]
    fn cleanup_many_deletes_or_keeps_foreign_values() {
        let zone = batch_zone_fixture();
        let sets = [
            txt_set("a.example.org", &["foreign-not-ours", "a1"]),
            txt_set("b.example.org", &["b1"]),
            txt_set("c.example.org", &["c1"]),
        ];
        // `a` holds none of the values, `c` has no TXT RRset: only `b`.
        assert_eq!(
            plan_cleanup_many(&zone, &sets),
            [("b.example.org.".to_string(), Change::Delete)]
        );
        let mut zone = zone;
        zone.rrsets[1].records.push(Record {
            content: "\"a1\"".into(),
            disabled: false,
        });
        assert_eq!(
            plan_cleanup_many(&zone, &sets[..1]),
            [(
                "a.example.org.".to_string(),
                Change::Replace {
                    ttl: 300,
                    records: vec![Record {
                        content: "\"foreign\"".into(),
                        disabled: false
                    }],
                }
            )]
        );
    }

    #[test]
    fn patch_body_many_carries_one_rrset_per_name() {
        let changes = vec![
            (
                "a.example.org.".to_string(),
                Change::Replace {
                    ttl: 60,
                    records: vec![Record {
                        content: "\"v\"".into(),
                        disabled: false,
                    }],
                },
            ),
            ("b.example.org".to_string(), Change::Delete),
        ];
        assert_eq!(
            patch_body_many(&changes),
            serde_json::json!({"rrsets":[
                {"name":"a.example.org.","type":"TXT","ttl":60,"changetype":"REPLACE",
                 "records":[{"content":"\"v\"","disabled":false}]},
                {"name":"b.example.org.","type":"TXT","changetype":"DELETE"}
            ]})
        );
    }

    #[test]
    fn errors_map_to_wit_cases() {
        let err = |status, body: &str| {
            api_error(status, None, body.as_bytes(), "example.org", "localhost")
        };
        assert!(matches!(err(401, "Unauthorized"), Error::Authentication(_)));
        assert!(matches!(err(403, "Forbidden"), Error::Authentication(_)));
        let Error::ZoneNotFound(m) = err(404, "Not Found") else {
            panic!("404")
        };
        assert!(m.contains("example.org.") && m.contains("localhost"), "{m}");
        assert!(matches!(
            err(422, r#"{"error": "Could not find domain 'example.org.'"}"#),
            Error::ZoneNotFound(_)
        ));
        let Error::Permanent(m) = err(
            422,
            r#"{"error": "Record x./TXT 'abc': Not in expected format"}"#,
        ) else {
            panic!("422")
        };
        assert!(
            m.ends_with("Record x./TXT 'abc': Not in expected format"),
            "{m}"
        );
        assert!(matches!(err(500, "oops"), Error::Transient(_)));
        assert!(is_server_error(&err(500, "database is locked")));
        assert!(matches!(err(503, ""), Error::Transient(_)));
        assert!(is_server_error(&err(503, "")));
        assert!(!is_server_error(&err(422, "bad")));
        assert!(!is_server_error(&Error::Transient(
            "connection failed: refused".into()
        )));
        assert!(matches!(err(400, r#"{"error":"bad"}"#), Error::Permanent(m) if m.contains("bad")));

        let limited = api_error(429, Some(" 7 "), b"slow down", "example.org", "localhost");
        let Error::RateLimited(r) = limited else {
            panic!("429")
        };
        assert_eq!(r.retry_after_secs, Some(7));
        assert!(r.message.contains("slow down"));
    }

    #[test]
    fn error_detail_prefers_the_json_error() {
        assert_eq!(
            error_detail(br#"{"error": "Name is out of zone"}"#),
            "Name is out of zone"
        );
        assert_eq!(error_detail(b"Not Found\n"), "Not Found");
    }

    #[test]
    fn metadata_declares_the_api_url_and_a_secret_key() {
        let m = PowerDns::metadata();
        assert_eq!(m.name, "pdns");
        assert_eq!(m.allowed_hosts, ["{api_url}"]);
        assert_eq!((m.default_ttl, m.min_ttl), (60, 1));
        assert!(m.hints.batch, "one PATCH takes many RRsets");
        assert_eq!(m.hints.zone_write_concurrency, 1);
        let key = m.config.iter().find(|f| f.name == "api_key").unwrap();
        assert!(key.required && key.secret);
        assert_eq!(key.env_aliases, ["PDNS_API_KEY"]);
        let id = m.config.iter().find(|f| f.name == "server_id").unwrap();
        assert_eq!(id.default.as_deref(), Some("localhost"));
        assert!(
            m.config
                .iter()
                .any(|f| f.name == "api_url" && f.required && !f.secret)
        );
    }
}
