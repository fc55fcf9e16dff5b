//! The Google Cloud DNS provider (`--dns gcloud`), API v1.
//!
//! Authentication: a service-account JSON key. The plugin signs a JWT
//! assertion (RS256) with the key's private key and trades it at the key's
//! `token_uri` for an access token (the JWT bearer grant,
//! <https://developers.google.com/identity/protocols/oauth2/service-account#httprest>).
//!
//! Cloud DNS stores a whole TXT resource record set per name: `present` and
//! `cleanup` read it (`rrsets.list`), then submit one change
//! (`changes.create`) that deletes the current set and adds the merged one,
//! keeping every value other clients put there, and wait until the change is
//! `done`. A concurrent change makes the deletion fail its precondition
//! (HTTP 412), which is `transient`: the host calls again and the plugin
//! re-reads.

use serde::{Deserialize, Serialize};
use wacme_plugin_auth::{jwt, oauth};
use wacme_plugin_sdk::http::{Request, Response, excerpt};
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, txt, url,
};

/// TTL for challenge records when the operator sets none.
pub const DEFAULT_TTL: u32 = 60;
/// Cloud DNS accepts any TTL from 0; wacme asks for at least 1.
pub const MIN_TTL: u32 = 1;
/// The Cloud DNS API root.
pub const DEFAULT_ENDPOINT: &str = "https://dns.googleapis.com/dns/v1";
/// Google's OAuth 2.0 token endpoint, the `token_uri` of its keys.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Read-write access to Cloud DNS.
pub const SCOPE: &str = "https://www.googleapis.com/auth/ndev.clouddns.readwrite";
/// How long the assertion (and so the request for a token) is valid.
const ASSERTION_LIFETIME_SECS: u64 = 3600;
/// How often, and how long apart, a pending change is checked.
const POLLS: u32 = 30;
const POLL_INTERVAL_MS: u64 = 500;

/// The provider registered as this component's export.
pub struct GoogleCloudDns;

#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(GoogleCloudDns);

impl Provider for GoogleCloudDns {
    fn metadata() -> Metadata {
        Metadata {
            name: "gcloud".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Google Cloud DNS (API v1) with a service-account key: merges the \
                          challenge values into the name's TXT record set and removes only its \
                          own values on cleanup"
                .into(),
            homepage: "https://cloud.google.com/dns/docs/reference/rest/v1".into(),
            config: vec![
                ConfigField::new(
                    "service_account_json",
                    "Service-account key, the JSON file's content (give a file with \
                     WACME_GCLOUD_SERVICE_ACCOUNT_JSON_FILE or GCE_SERVICE_ACCOUNT_FILE)",
                )
                .required()
                .secret()
                .env(&["GCE_SERVICE_ACCOUNT"]),
                ConfigField::new(
                    "project",
                    "Project id holding the zone; default: the key's project_id",
                )
                .env(&["GCE_PROJECT", "GOOGLE_CLOUD_PROJECT"]),
                ConfigField::new(
                    "zone_id",
                    "Managed zone name (e.g. example-com); default: the public zone whose \
                     dnsName is the domain's zone",
                )
                .env(&["GCE_ZONE_ID"]),
                ConfigField::new("endpoint", "Cloud DNS API root").default(DEFAULT_ENDPOINT),
                ConfigField::new(
                    "oauth_url",
                    "OAuth 2.0 token endpoint; default: the key's token_uri",
                ),
            ],
            allowed_hosts: vec![
                "{endpoint}".into(),
                "https://oauth2.googleapis.com".into(),
                "{oauth_url}".into(),
            ],
            default_ttl: DEFAULT_TTL,
            min_ttl: MIN_TTL,
            dns_servers: Vec::new(),
            hints: wacme_plugin_sdk::Hints::default(),
        }
    }

    fn present(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::connect(config)?;
        let zone = api.managed_zone(&set.zone)?;
        let current = api.txt_rrset(&zone, &set.fqdn)?;
        let ttl = set.ttl.max(MIN_TTL);
        match plan_present(current.as_ref(), &set.fqdn, &set.values, ttl) {
            None => {
                log::debug(&format!("{}: TXT values already present", set.fqdn));
                Ok(())
            }
            Some(change) => api.apply(&zone, &change),
        }
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::connect(config)?;
        let zone = api.managed_zone(&set.zone)?;
        let current = api.txt_rrset(&zone, &set.fqdn)?;
        match plan_cleanup(current.as_ref(), &set.values) {
            None => {
                log::debug(&format!("{}: TXT values already gone", set.fqdn));
                Ok(())
            }
            Some(change) => api.apply(&zone, &change),
        }
    }
}

/// The fields of a service-account key file that matter here.
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub private_key_id: Option<String>,
    pub private_key: String,
    pub client_email: String,
    #[serde(default)]
    pub token_uri: Option<String>,
}

impl core::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// Parses the key file's JSON; errors never quote it.
    pub fn parse(json: &str) -> Result<ServiceAccount> {
        let key: ServiceAccount = serde_json::from_str(json).map_err(|e| {
            Error::InvalidConfig(format!(
                "`service_account_json` is not a service-account key file (JSON with \
                 client_email and private_key): {}",
                // serde's message names the line and column, not the content.
                e.to_string().split(" at line").next().unwrap_or_default()
            ))
        })?;
        if !key.kind.is_empty() && key.kind != "service_account" {
            return Err(Error::InvalidConfig(format!(
                "`service_account_json` holds credentials of type {:?}; a service-account key \
                 (\"type\": \"service_account\") is needed",
                key.kind
            )));
        }
        if key.client_email.is_empty() || key.private_key.is_empty() {
            return Err(Error::InvalidConfig(
                "`service_account_json` lacks client_email or private_key".into(),
            ));
        }
        Ok(key)
    }
}

/// The resolved configuration of one call.
#[derive(Debug, Clone)]
pub struct Settings {
    pub key: ServiceAccount,
    pub project: String,
    pub zone_id: Option<String>,
    /// API root without trailing slash.
    pub endpoint: String,
    pub token_uri: String,
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Settings> {
        let key = ServiceAccount::parse(config.require("service_account_json")?)?;
        let project = config
            .get("project")
            .map(str::to_string)
            .or_else(|| key.project_id.clone().filter(|p| !p.is_empty()))
            .ok_or_else(|| {
                Error::InvalidConfig(
                    "no project: set `project` (GCE_PROJECT) or use a key with project_id".into(),
                )
            })?;
        let endpoint = url::trim_base(config.get("endpoint").unwrap_or(DEFAULT_ENDPOINT));
        let token_uri = config
            .get("oauth_url")
            .map(str::to_string)
            .or_else(|| key.token_uri.clone().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| GOOGLE_TOKEN_URI.to_string());
        for (name, value) in [("endpoint", endpoint), ("oauth_url", token_uri.as_str())] {
            if !(value.starts_with("https://") || value.starts_with("http://")) {
                return Err(Error::InvalidConfig(format!(
                    "`{name}` must be an https:// URL, not {value:?}"
                )));
            }
        }
        Ok(Settings {
            project,
            zone_id: config.get("zone_id").map(str::to_string),
            endpoint: endpoint.to_string(),
            token_uri,
            key,
        })
    }

    /// `…/projects/{project}/managedZones`.
    pub fn zones_url(&self) -> String {
        format!(
            "{}/projects/{}/managedZones",
            self.endpoint,
            url::encode(&self.project)
        )
    }
}

/// The claims of the assertion (Google's "JWT claim set": iss, scope, aud,
/// iat, exp), valid from `now` for an hour.
pub fn assertion_claims(key: &ServiceAccount, token_uri: &str, now: u64) -> serde_json::Value {
    serde_json::json!({
        "iss": key.client_email,
        "scope": SCOPE,
        "aud": token_uri,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECS,
    })
}

/// The signed assertion.
pub fn assertion(key: &ServiceAccount, token_uri: &str, now: u64) -> Result<String> {
    let rsa = jwt::RsaKey::from_pem(&key.private_key)
        .map_err(|e| Error::InvalidConfig(format!("`service_account_json`: {e}")))?;
    Ok(jwt::sign(
        &rsa,
        key.private_key_id.as_deref(),
        &assertion_claims(key, token_uri, now),
    ))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// An authenticated client for one call.
struct Api {
    settings: Settings,
    token: String,
}

impl Api {
    fn connect(config: &Config) -> Result<Api> {
        let settings = Settings::from_config(config)?;
        let assertion = assertion(&settings.key, &settings.token_uri, unix_now())?;
        let token = oauth::request_token(
            &settings.token_uri,
            oauth::jwt_bearer_form(&assertion),
            "Google OAuth",
        )?;
        Ok(Api {
            settings,
            token: token.access_token,
        })
    }

    fn send(&self, request: Request, zone: &str) -> Result<Response> {
        let response = request
            .bearer(&self.token)
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
            &self.settings.project,
        ))
    }

    /// The managed zone serving `zone`: `zone_id` when configured, else the
    /// public zone whose dnsName is `zone.` (following pages).
    fn managed_zone(&self, zone: &str) -> Result<String> {
        if let Some(id) = &self.settings.zone_id {
            return Ok(id.clone());
        }
        let mut page: Option<String> = None;
        loop {
            let url = zones_query_url(&self.settings.zones_url(), zone, page.as_deref());
            let list: ZoneList = self.send(Request::get(url), zone)?.json()?;
            if let Some(found) = pick_zone(&list.managed_zones, zone) {
                return Ok(found);
            }
            match list.next_page_token.filter(|t| !t.is_empty()) {
                Some(token) => page = Some(token),
                None => {
                    return Err(Error::ZoneNotFound(format!(
                        "project `{}` has no public Cloud DNS zone for `{}`",
                        self.settings.project,
                        absolute(zone)
                    )));
                }
            }
        }
    }

    /// The TXT record set named `fqdn`, if any (following pages).
    fn txt_rrset(&self, zone_id: &str, fqdn: &str) -> Result<Option<RRSet>> {
        let base = format!(
            "{}/{}/rrsets",
            self.settings.zones_url(),
            url::encode(zone_id)
        );
        let mut page: Option<String> = None;
        loop {
            let url = rrsets_query_url(&base, fqdn, page.as_deref());
            let list: RRSetList = self.send(Request::get(url), zone_id)?.json()?;
            if let Some(found) = list
                .rrsets
                .into_iter()
                .find(|r| r.kind.eq_ignore_ascii_case("TXT") && absolute(&r.name) == absolute(fqdn))
            {
                return Ok(Some(found));
            }
            match list.next_page_token.filter(|t| !t.is_empty()) {
                Some(token) => page = Some(token),
                None => return Ok(None),
            }
        }
    }

    /// Submits `change` and waits until it is done.
    fn apply(&self, zone_id: &str, change: &Change) -> Result<()> {
        log::debug(&format!("Cloud DNS change: {}", change.describe()));
        let changes = format!(
            "{}/{}/changes",
            self.settings.zones_url(),
            url::encode(zone_id)
        );
        let mut status: ChangeStatus = self
            .send(Request::post(&changes).json(change), zone_id)?
            .json()?;
        for _ in 0..POLLS {
            if status.status == "done" {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(POLL_INTERVAL_MS));
            let url = format!("{changes}/{}", url::encode(&status.id));
            status = self.send(Request::get(url), zone_id)?.json()?;
        }
        // A submitted change is applied eventually; the host's propagation
        // check waits for it on the nameservers.
        log::warn(&format!(
            "Cloud DNS change {} is still {:?}; continuing",
            status.id, status.status
        ));
        Ok(())
    }
}

/// `name` with exactly one trailing dot, lower case (Cloud DNS names are
/// absolute).
pub fn absolute(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.').to_ascii_lowercase())
}

/// `managedZones.list` filtered by dnsName.
pub fn zones_query_url(zones_url: &str, zone: &str, page: Option<&str>) -> String {
    let mut url = format!("{zones_url}?dnsName={}", url::encode(&absolute(zone)));
    if let Some(page) = page {
        url.push_str(&format!("&pageToken={}", url::encode(page)));
    }
    url
}

/// `resourceRecordSets.list` filtered by name and type.
pub fn rrsets_query_url(rrsets_url: &str, fqdn: &str, page: Option<&str>) -> String {
    let mut url = format!(
        "{rrsets_url}?name={}&type=TXT",
        url::encode(&absolute(fqdn))
    );
    if let Some(page) = page {
        url.push_str(&format!("&pageToken={}", url::encode(page)));
    }
    url
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZoneList {
    #[serde(default)]
    pub managed_zones: Vec<ManagedZone>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedZone {
    pub name: String,
    pub dns_name: String,
    /// `public` or `private`; absent means public.
    #[serde(default)]
    pub visibility: Option<String>,
}

/// The name of the public zone among `zones` whose dnsName is `zone`.
pub fn pick_zone(zones: &[ManagedZone], zone: &str) -> Option<String> {
    zones
        .iter()
        .filter(|z| absolute(&z.dns_name) == absolute(zone))
        .find(|z| {
            z.visibility
                .as_deref()
                .is_none_or(|v| v.eq_ignore_ascii_case("public"))
        })
        .map(|z| z.name.clone())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RRSetList {
    #[serde(default)]
    pub rrsets: Vec<RRSet>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// A resource record set as the API reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RRSet {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub ttl: u32,
    /// Presentation form: quoted character strings.
    pub rrdatas: Vec<String>,
}

/// A `changes.create` body: the deletion must match the current set exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additions: Vec<RRSet>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deletions: Vec<RRSet>,
}

impl Change {
    fn describe(&self) -> String {
        let count = |sets: &[RRSet]| sets.iter().map(|s| s.rrdatas.len()).sum::<usize>();
        format!(
            "delete {} value(s), add {} value(s)",
            count(&self.deletions),
            count(&self.additions)
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChangeStatus {
    pub id: String,
    #[serde(default)]
    pub status: String,
}

/// The change making the set carry `values` too, or `None` when it does.
pub fn plan_present(
    current: Option<&RRSet>,
    fqdn: &str,
    values: &[String],
    ttl: u32,
) -> Option<Change> {
    let have: Vec<String> = current
        .map(|c| c.rrdatas.iter().map(|d| txt::unquote(d)).collect())
        .unwrap_or_default();
    let missing: Vec<&String> = values
        .iter()
        .enumerate()
        .filter(|(i, v)| !have.contains(v) && !values[..*i].contains(v))
        .map(|(_, v)| v)
        .collect();
    if missing.is_empty() {
        return None;
    }
    let mut rrdatas = current.map(|c| c.rrdatas.clone()).unwrap_or_default();
    rrdatas.extend(missing.into_iter().map(|v| txt::quote(v)));
    Some(Change {
        additions: vec![RRSet {
            name: absolute(fqdn),
            kind: "TXT".into(),
            ttl: current.map_or(ttl, |c| c.ttl.min(ttl)),
            rrdatas,
        }],
        deletions: current.cloned().into_iter().collect(),
    })
}

/// The change removing `values` and keeping every other value, or `None`
/// when none of them is there.
pub fn plan_cleanup(current: Option<&RRSet>, values: &[String]) -> Option<Change> {
    let current = current?;
    let keep: Vec<String> = current
        .rrdatas
        .iter()
        .filter(|d| !values.contains(&txt::unquote(d)))
        .cloned()
        .collect();
    if keep.len() == current.rrdatas.len() {
        return None;
    }
    let additions = if keep.is_empty() {
        Vec::new()
    } else {
        vec![RRSet {
            rrdatas: keep,
            ..current.clone()
        }]
    };
    Some(Change {
        additions,
        deletions: vec![current.clone()],
    })
}

/// Google's JSON error envelope.
#[derive(Debug, Default, Deserialize)]
struct ErrorEnvelope {
    #[serde(default)]
    error: ErrorBody,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorItem {
    #[serde(default)]
    reason: String,
}

/// Maps a failed Cloud DNS call to the WIT error case.
pub fn api_error(
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
    zone: &str,
    project: &str,
) -> Error {
    let envelope: ErrorEnvelope = serde_json::from_slice(body).unwrap_or_default();
    let e = envelope.error;
    let reason = e.errors.first().map(|i| i.reason.as_str()).unwrap_or("");
    let code = if !e.status.is_empty() {
        e.status.as_str()
    } else {
        reason
    };
    let detail = if e.message.is_empty() {
        excerpt(&String::from_utf8_lossy(body))
    } else if code.is_empty() {
        excerpt(&e.message)
    } else {
        format!("{code}: {}", excerpt(&e.message))
    };
    let message = format!("Google Cloud DNS: HTTP {status}: {detail}");
    let throttled = matches!(
        reason,
        "rateLimitExceeded" | "userRateLimitExceeded" | "quotaExceeded"
    ) || e.status == "RESOURCE_EXHAUSTED";
    match status {
        429 => Error::RateLimited(RateLimit {
            message,
            retry_after_secs: retry_after.and_then(|v| v.trim().parse().ok()),
        }),
        403 if throttled => Error::RateLimited(RateLimit {
            message,
            retry_after_secs: retry_after.and_then(|v| v.trim().parse().ok()),
        }),
        401 | 403 => Error::Authentication(message),
        404 => Error::ZoneNotFound(format!("{message} (zone `{zone}` in project `{project}`)")),
        // alreadyExists / conditionNotMet: another change to the same set
        // came first; the next call re-reads it.
        409 | 412 => Error::Transient(message),
        _ => Error::from_status(status, retry_after, message),
    }
}

#[cfg(test)]
mod tests;
