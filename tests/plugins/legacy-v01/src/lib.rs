//! A test fixture: a third-party DNS provider built against the frozen
//! `wacme:dns@0.1.0` contract (`wit/v0.1`) with plain `wit-bindgen`, the way
//! a plugin written before 0.2.0 was built. It must keep loading and issuing
//! on every host that lists 0.1.0 among its supported versions.
//!
//! It speaks the PowerDNS HTTP API (`legacy-pdns`): `present` reads the TXT
//! RRset of the name and writes back the union with the new values;
//! `cleanup` writes back the RRset without them (deleting it when nothing is
//! left). Values of other clients stay.

wit_bindgen::generate!({
    path: "../../../wit/v0.1",
    world: "wacme:dns/dns-provider@0.1.0",
});

use exports::wacme::dns::provider::Guest;
use serde_json::{Value, json};
use wacme::dns::http::{self, Method, Request};
use wacme::dns::log::{self, Level};
use wacme::dns::types::{ConfigField, PluginMetadata, ProviderError, TxtSet};

pub struct LegacyPdns;

// Export names such as `wacme:dns/provider@0.1.0#present` only link into a
// wasm component; natively the crate builds for the workspace's checks.
#[cfg(target_arch = "wasm32")]
export!(LegacyPdns);

type Config = Vec<(String, String)>;

fn field(name: &str, description: &str, required: bool, secret: bool) -> ConfigField {
    ConfigField {
        name: name.into(),
        description: description.into(),
        required,
        secret,
        default: None,
        env_aliases: Vec::new(),
    }
}

fn get<'c>(config: &'c Config, key: &str) -> Result<&'c str, ProviderError> {
    config
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| ProviderError::InvalidConfig(format!("`{key}` is required")))
}

/// `{api_url}/api/v1/servers/localhost/zones/{zone}.`
fn zone_url(config: &Config, zone: &str) -> Result<String, ProviderError> {
    let base = get(config, "api_url")?.trim_end_matches('/');
    let base = base.strip_suffix("/api/v1").unwrap_or(base);
    Ok(format!("{base}/api/v1/servers/localhost/zones/{zone}."))
}

fn call(
    config: &Config,
    method: Method,
    url: String,
    body: Option<Value>,
) -> Result<Vec<u8>, ProviderError> {
    let mut headers = vec![("x-api-key".to_string(), get(config, "api_key")?.to_string())];
    if body.is_some() {
        headers.push(("content-type".into(), "application/json".into()));
    }
    let request = Request {
        method,
        url,
        headers,
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
    };
    let response = http::send(&request).map_err(|e| match e {
        http::HttpError::Denied(m) | http::HttpError::TooLarge(m) => ProviderError::Permanent(m),
        http::HttpError::Timeout(m) | http::HttpError::Connection(m) => ProviderError::Transient(m),
    })?;
    let text = || {
        String::from_utf8_lossy(&response.body)
            .chars()
            .take(200)
            .collect()
    };
    match response.status {
        200..=299 => Ok(response.body.clone()),
        401 | 403 => Err(ProviderError::Authentication(text())),
        404 | 422 => Err(ProviderError::ZoneNotFound(text())),
        500..=599 => Err(ProviderError::Transient(text())),
        _ => Err(ProviderError::Permanent(text())),
    }
}

/// The TXT values of `set.fqdn` (unquoted).
fn current(config: &Config, set: &TxtSet) -> Result<Vec<String>, ProviderError> {
    let body = call(config, Method::Get, zone_url(config, &set.zone)?, None)?;
    let zone: Value = serde_json::from_slice(&body)
        .map_err(|e| ProviderError::Permanent(format!("unexpected answer: {e}")))?;
    let name = format!("{}.", set.fqdn);
    let mut values = Vec::new();
    for rrset in zone["rrsets"].as_array().into_iter().flatten() {
        if rrset["name"] == name.as_str() && rrset["type"] == "TXT" {
            for record in rrset["records"].as_array().into_iter().flatten() {
                let content = record["content"].as_str().unwrap_or_default();
                values.push(content.trim_matches('"').to_string());
            }
        }
    }
    Ok(values)
}

fn write(config: &Config, set: &TxtSet, values: &[String]) -> Result<(), ProviderError> {
    let name = format!("{}.", set.fqdn);
    let rrset = if values.is_empty() {
        json!({"name": name, "type": "TXT", "changetype": "DELETE"})
    } else {
        let records: Vec<Value> = values
            .iter()
            .map(|v| json!({"content": format!("\"{v}\""), "disabled": false}))
            .collect();
        json!({"name": name, "type": "TXT", "ttl": set.ttl, "changetype": "REPLACE",
            "records": records})
    };
    let url = zone_url(config, &set.zone)?;
    call(config, Method::Patch, url, Some(json!({"rrsets": [rrset]}))).map(drop)
}

impl Guest for LegacyPdns {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            name: "legacy-pdns".into(),
            version: "0.1.0".into(),
            description: "Test fixture: PowerDNS provider built against wacme:dns@0.1.0".into(),
            homepage: "https://github.com/wacme/wacme".into(),
            config: vec![
                field("api_url", "PowerDNS web server URL", true, false),
                field("api_key", "PowerDNS API key", true, true),
            ],
            allowed_hosts: vec!["{api_url}".into()],
            default_ttl: 60,
            min_ttl: 1,
        }
    }

    fn present(config: Config, set: TxtSet) -> Result<(), ProviderError> {
        let mut values = current(&config, &set)?;
        for v in &set.values {
            if !values.contains(v) {
                values.push(v.clone());
            }
        }
        log::log(
            Level::Debug,
            &format!("{}: {} values", set.fqdn, values.len()),
        );
        write(&config, &set, &values)
    }

    fn cleanup(config: Config, set: TxtSet) -> Result<(), ProviderError> {
        let before = current(&config, &set)?;
        let values: Vec<String> = before
            .iter()
            .filter(|v| !set.values.contains(v))
            .cloned()
            .collect();
        if values.len() == before.len() {
            return Ok(());
        }
        write(&config, &set, &values)
    }
}
