//! The Azure DNS provider (`--dns azure`), through Azure Resource Manager
//! (API version 2018-05-01).
//!
//! Authentication: a service principal's client secret, traded for an access
//! token at Microsoft Entra ID (`{authority}/{tenant}/oauth2/v2.0/token`,
//! client credentials grant, scope `{arm}/.default`). The authority and ARM
//! endpoints are settings, so sovereign clouds work.
//!
//! Azure DNS stores a whole TXT record set per name: `present` and `cleanup`
//! read it, then PUT the merged set (or DELETE it when no value remains),
//! keeping every value other clients put there. Writes carry the set's ETag
//! (`If-Match`, or `If-None-Match: *` to create), so a concurrent change
//! fails with 412 instead of being overwritten; that is `transient` and the
//! host calls again, which re-reads.

use serde::{Deserialize, Serialize};
use wacme_plugin_auth::oauth;
use wacme_plugin_sdk::http::{Request, Response, excerpt};
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, url,
};

/// TTL for challenge records when the operator sets none.
pub const DEFAULT_TTL: u32 = 60;
/// Azure DNS accepts TTLs from 1.
pub const MIN_TTL: u32 = 1;
/// The ARM API version of the DNS resource provider used here.
pub const API_VERSION: &str = "2018-05-01";
/// Azure public cloud endpoints.
pub const DEFAULT_ENDPOINT: &str = "https://management.azure.com";
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// The provider registered as this component's export.
pub struct AzureDns;

#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(AzureDns);

impl Provider for AzureDns {
    fn metadata() -> Metadata {
        Metadata {
            name: "azure".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Azure DNS through Azure Resource Manager, with a service principal's \
                          client secret: merges the challenge values into the name's TXT record \
                          set and removes only its own values on cleanup"
                .into(),
            homepage: "https://learn.microsoft.com/rest/api/dns/".into(),
            config: vec![
                ConfigField::new("tenant_id", "Microsoft Entra tenant (directory) id")
                    .required()
                    .env(&["AZURE_TENANT_ID", "AZUREDNS_TENANTID"]),
                ConfigField::new(
                    "client_id",
                    "Application (client) id of the service principal",
                )
                .required()
                .env(&["AZURE_CLIENT_ID", "AZUREDNS_APPID"]),
                ConfigField::new("client_secret", "Client secret of the service principal")
                    .required()
                    .secret()
                    .env(&["AZURE_CLIENT_SECRET", "AZUREDNS_CLIENTSECRET"]),
                ConfigField::new("subscription_id", "Subscription holding the DNS zone")
                    .required()
                    .env(&["AZURE_SUBSCRIPTION_ID", "AZUREDNS_SUBSCRIPTIONID"]),
                ConfigField::new(
                    "resource_group",
                    "Resource group of the DNS zone; default: found by listing the \
                     subscription's zones",
                )
                .env(&["AZURE_RESOURCE_GROUP"]),
                ConfigField::new(
                    "endpoint",
                    "Azure Resource Manager endpoint (e.g. https://management.usgovcloudapi.net, \
                     https://management.chinacloudapi.cn)",
                )
                .default(DEFAULT_ENDPOINT),
                ConfigField::new(
                    "authority_host",
                    "Microsoft Entra ID endpoint (e.g. https://login.microsoftonline.us, \
                     https://login.chinacloudapi.cn)",
                )
                .default(DEFAULT_AUTHORITY),
            ],
            allowed_hosts: vec!["{endpoint}".into(), "{authority_host}".into()],
            default_ttl: DEFAULT_TTL,
            min_ttl: MIN_TTL,
            dns_servers: Vec::new(),
            hints: wacme_plugin_sdk::Hints::default(),
        }
    }

    fn present(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::connect(config)?;
        let zone = api.zone_url(&set.zone)?;
        let record_url = record_url(&zone, &set.relative_name);
        let current = api.read(&record_url, &set.zone)?;
        match plan_present(current.as_ref(), &set.values, set.ttl.max(MIN_TTL)) {
            None => {
                log::debug(&format!("{}: TXT values already present", set.fqdn));
                Ok(())
            }
            Some(body) => api.write(&record_url, current.as_ref(), &body, &set.zone),
        }
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::connect(config)?;
        let zone = api.zone_url(&set.zone)?;
        let record_url = record_url(&zone, &set.relative_name);
        let Some(current) = api.read(&record_url, &set.zone)? else {
            log::debug(&format!("{}: no TXT record set", set.fqdn));
            return Ok(());
        };
        match plan_cleanup(&current, &set.values) {
            Cleanup::Nothing => {
                log::debug(&format!("{}: TXT values already gone", set.fqdn));
                Ok(())
            }
            Cleanup::Put(body) => api.write(&record_url, Some(&current), &body, &set.zone),
            Cleanup::Delete => api.delete(&record_url, &current, &set.zone),
        }
    }
}

/// The resolved configuration of one call.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub subscription_id: String,
    pub resource_group: Option<String>,
    /// Without trailing slash.
    pub endpoint: String,
    pub authority_host: String,
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Settings> {
        let base = |key: &str, default: &str| -> Result<String> {
            let value = url::trim_base(config.get(key).unwrap_or(default).trim());
            if !(value.starts_with("https://") || value.starts_with("http://")) {
                return Err(Error::InvalidConfig(format!(
                    "`{key}` must be an https:// URL, not {value:?}"
                )));
            }
            Ok(value.to_string())
        };
        Ok(Settings {
            tenant_id: config.require("tenant_id")?.trim().to_string(),
            client_id: config.require("client_id")?.trim().to_string(),
            client_secret: config.require("client_secret")?.to_string(),
            subscription_id: config.require("subscription_id")?.trim().to_string(),
            resource_group: config.get("resource_group").map(|r| r.trim().to_string()),
            endpoint: base("endpoint", DEFAULT_ENDPOINT)?,
            authority_host: base("authority_host", DEFAULT_AUTHORITY)?,
        })
    }

    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.authority_host,
            url::encode(&self.tenant_id)
        )
    }

    /// `{arm}/.default`: every permission the role assignments grant on ARM.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.endpoint)
    }

    /// `…/subscriptions/{sub}`.
    pub fn subscription_url(&self) -> String {
        format!(
            "{}/subscriptions/{}",
            self.endpoint,
            url::encode(&self.subscription_id)
        )
    }
}

/// The zone's resource URL (without query) in `resource_group`.
pub fn zone_url_in(settings: &Settings, resource_group: &str, zone: &str) -> String {
    format!(
        "{}/resourceGroups/{}/providers/Microsoft.Network/dnsZones/{}",
        settings.subscription_url(),
        url::encode(resource_group),
        url::encode(&zone.trim_end_matches('.').to_ascii_lowercase())
    )
}

/// The TXT record set's URL, with the API version.
pub fn record_url(zone_url: &str, relative_name: &str) -> String {
    let name = if relative_name.is_empty() {
        "@"
    } else {
        relative_name
    };
    format!(
        "{zone_url}/TXT/{}?api-version={API_VERSION}",
        url::encode(&name.to_ascii_lowercase()).replace("%40", "@")
    )
}

/// An authenticated client for one call.
struct Api {
    settings: Settings,
    token: String,
}

impl Api {
    fn connect(config: &Config) -> Result<Api> {
        let settings = Settings::from_config(config)?;
        let form = oauth::client_credentials_form(
            &settings.client_id,
            &settings.client_secret,
            &settings.scope(),
        );
        let token = oauth::request_token(&settings.token_url(), form, "Microsoft Entra ID")?;
        Ok(Api {
            settings,
            token: token.access_token,
        })
    }

    fn send_raw(&self, request: Request) -> Result<Response> {
        request
            .bearer(&self.token)
            .header("accept", "application/json")
            .send()
    }

    fn send(&self, request: Request, zone: &str) -> Result<Response> {
        let response = self.send_raw(request)?;
        if response.is_success() {
            return Ok(response);
        }
        Err(api_error(
            response.status,
            response.header("retry-after"),
            &response.body,
            zone,
        ))
    }

    /// The zone's resource URL: in the configured resource group, or found
    /// among the subscription's zones (following `nextLink`).
    fn zone_url(&self, zone: &str) -> Result<String> {
        if let Some(rg) = &self.settings.resource_group {
            return Ok(zone_url_in(&self.settings, rg, zone));
        }
        let mut next = Some(format!(
            "{}/providers/Microsoft.Network/dnszones?api-version={API_VERSION}",
            self.settings.subscription_url()
        ));
        while let Some(url) = next {
            let list: ZoneList = self.send(Request::get(url), zone)?.json()?;
            if let Some(found) = list
                .value
                .iter()
                .find(|z| z.name.trim_end_matches('.').eq_ignore_ascii_case(zone))
            {
                return Ok(format!("{}{}", self.settings.endpoint, found.id));
            }
            next = list.next_link.filter(|l| !l.is_empty());
        }
        Err(Error::ZoneNotFound(format!(
            "subscription `{}` has no Azure DNS zone `{zone}`",
            self.settings.subscription_id
        )))
    }

    /// The record set, or `None` when there is none.
    fn read(&self, record_url: &str, zone: &str) -> Result<Option<RecordSet>> {
        let response = self.send_raw(Request::get(record_url))?;
        if is_missing_record(response.status, &response.body) {
            return Ok(None);
        }
        if !response.is_success() {
            return Err(api_error(
                response.status,
                response.header("retry-after"),
                &response.body,
                zone,
            ));
        }
        Ok(Some(response.json()?))
    }

    fn write(
        &self,
        record_url: &str,
        current: Option<&RecordSet>,
        body: &RecordSetBody,
        zone: &str,
    ) -> Result<()> {
        log::debug(&format!(
            "PUT TXT record set with {} value(s), TTL {}",
            body.properties.txt_records.len(),
            body.properties.ttl
        ));
        let request = Request::put(record_url).json(body);
        let request = match current.and_then(|c| c.etag.as_deref()) {
            Some(etag) => request.header("if-match", etag),
            None if current.is_none() => request.header("if-none-match", "*"),
            None => request,
        };
        self.send(request, zone).map(drop)
    }

    fn delete(&self, record_url: &str, current: &RecordSet, zone: &str) -> Result<()> {
        log::debug("DELETE TXT record set (no value left)");
        let mut request = Request::delete(record_url);
        if let Some(etag) = &current.etag {
            request = request.header("if-match", etag);
        }
        let response = self.send_raw(request)?;
        if response.is_success() || is_missing_record(response.status, &response.body) {
            return Ok(());
        }
        Err(api_error(
            response.status,
            response.header("retry-after"),
            &response.body,
            zone,
        ))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZoneList {
    #[serde(default)]
    pub value: Vec<ZoneEntry>,
    #[serde(default)]
    pub next_link: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ZoneEntry {
    /// `/subscriptions/…/resourceGroups/…/providers/Microsoft.Network/dnszones/{name}`
    pub id: String,
    pub name: String,
}

/// A record set as GET returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordSet {
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub properties: RecordProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordProperties {
    #[serde(rename = "TTL", default)]
    pub ttl: u32,
    #[serde(rename = "TXTRecords", default)]
    pub txt_records: Vec<TxtRecord>,
    /// Tags and metadata of the set, kept as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

/// One TXT record: its character strings (each at most 255 octets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxtRecord {
    #[serde(default)]
    pub value: Vec<String>,
}

impl TxtRecord {
    /// The whole value, its strings joined.
    pub fn joined(&self) -> String {
        self.value.concat()
    }

    /// A record for `value`, split into strings of at most 255 bytes.
    pub fn of(value: &str) -> TxtRecord {
        let mut chunks = Vec::new();
        let mut rest = value;
        while rest.len() > 255 {
            let mut cut = 255;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            chunks.push(rest[..cut].to_string());
            rest = &rest[cut..];
        }
        chunks.push(rest.to_string());
        TxtRecord { value: chunks }
    }
}

/// The PUT body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordSetBody {
    pub properties: RecordProperties,
}

/// The body making the set carry `values` too, or `None` when it does.
pub fn plan_present(
    current: Option<&RecordSet>,
    values: &[String],
    ttl: u32,
) -> Option<RecordSetBody> {
    let mut properties = current.map(|c| c.properties.clone()).unwrap_or_default();
    let mut changed = current.is_none();
    for value in values {
        if !properties.txt_records.iter().any(|r| r.joined() == *value) {
            properties.txt_records.push(TxtRecord::of(value));
            changed = true;
        }
    }
    if !changed {
        return None;
    }
    properties.ttl = match current {
        Some(c) if c.properties.ttl > 0 => c.properties.ttl.min(ttl),
        _ => ttl,
    };
    Some(RecordSetBody { properties })
}

/// What cleanup does with the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleanup {
    Nothing,
    Put(RecordSetBody),
    Delete,
}

/// Removes `values` and keeps every other record.
pub fn plan_cleanup(current: &RecordSet, values: &[String]) -> Cleanup {
    let mut properties = current.properties.clone();
    properties
        .txt_records
        .retain(|r| !values.contains(&r.joined()));
    if properties.txt_records.len() == current.properties.txt_records.len() {
        Cleanup::Nothing
    } else if properties.txt_records.is_empty() {
        Cleanup::Delete
    } else {
        Cleanup::Put(RecordSetBody { properties })
    }
}

/// ARM's error envelope.
#[derive(Debug, Default, Deserialize)]
struct ErrorEnvelope {
    #[serde(default)]
    error: ErrorBody,
    // Some services answer without the envelope.
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The `code` of an ARM error body, or "".
fn error_code(body: &[u8]) -> String {
    let envelope: ErrorEnvelope = serde_json::from_slice(body).unwrap_or_default();
    if envelope.error.code.is_empty() {
        envelope.code
    } else {
        envelope.error.code
    }
}

/// Codes of a 404 saying the zone, its resource group or subscription is
/// missing, rather than the record set.
const MISSING_PARENT: [&str; 4] = [
    "ParentResourceNotFound",
    "ResourceGroupNotFound",
    "SubscriptionNotFound",
    "ResourceNotFound",
];

/// Whether a 404 says only that the record set does not exist.
pub fn is_missing_record(status: u16, body: &[u8]) -> bool {
    status == 404 && !MISSING_PARENT.contains(&error_code(body).as_str())
}

/// Maps a failed ARM call to the WIT error case.
pub fn api_error(status: u16, retry_after: Option<&str>, body: &[u8], zone: &str) -> Error {
    let envelope: ErrorEnvelope = serde_json::from_slice(body).unwrap_or_default();
    let (code, text) = if envelope.error.code.is_empty() {
        (envelope.code, envelope.message)
    } else {
        (envelope.error.code, envelope.error.message)
    };
    let detail = match (code.is_empty(), text.is_empty()) {
        (true, true) => excerpt(&String::from_utf8_lossy(body)),
        (false, true) => code.clone(),
        _ => format!("{code}: {}", excerpt(&text)),
    };
    let message = format!("Azure DNS: HTTP {status}: {detail}");
    match (status, code.as_str()) {
        (404, _) => Error::ZoneNotFound(format!(
            "{message} (zone `{zone}`: check subscription_id and resource_group)"
        )),
        (429, _) => Error::RateLimited(RateLimit {
            message,
            retry_after_secs: retry_after.and_then(|v| v.trim().parse().ok()),
        }),
        // Another client changed the set between our read and write.
        (409 | 412, _) => Error::Transient(message),
        _ => Error::from_status(status, retry_after, message),
    }
}

#[cfg(test)]
mod tests;
