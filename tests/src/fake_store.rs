//! The record store behind the fake provider APIs: each fake keeps its own
//! records (ids, names, contents, TTLs, as its API shows them) and mirrors
//! every name it changes into a real PowerDNS through the PowerDNS API, so
//! Pebble and wacme's propagation check see real DNS answers.
//!
//! Writes are serialised by the caller (the fakes hold an async lock across
//! the change and the mirror write), so the PowerDNS RRset always equals the
//! fake's records for that name once the API call has answered.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::time::Duration;

use crate::pdns::Pdns;

/// Writes TXT RRsets into one PowerDNS.
#[derive(Clone)]
pub struct PdnsMirror {
    api_url: String,
    api_key: String,
    http: reqwest::Client,
}

impl PdnsMirror {
    pub fn new(pdns: &Pdns) -> Self {
        PdnsMirror {
            api_url: pdns.api_url(),
            api_key: pdns.api_key().to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .no_proxy()
                .build()
                .expect("HTTP client"),
        }
    }

    /// Makes the TXT RRset `name` (in `zone`) hold exactly `values` (bare
    /// values; quoted here), deleting it when empty. PowerDNS's sqlite
    /// backend fails a concurrent write with 500 "database is locked": such
    /// answers are retried.
    pub async fn set_txt(&self, zone: &str, name: &str, ttl: u32, values: &[String]) -> Result<()> {
        let abs = |n: &str| format!("{}.", n.trim_end_matches('.').to_ascii_lowercase());
        let rrset = if values.is_empty() {
            json!({"name": abs(name), "type": "TXT", "changetype": "DELETE"})
        } else {
            let records: Vec<Value> = values
                .iter()
                .map(|v| json!({"content": quote(v), "disabled": false}))
                .collect();
            json!({"name": abs(name), "type": "TXT", "ttl": ttl, "changetype": "REPLACE", "records": records})
        };
        let url = format!(
            "{}/api/v1/servers/localhost/zones/{}",
            self.api_url,
            abs(zone)
        );
        let mut attempt = 0;
        loop {
            let response = self
                .http
                .patch(&url)
                .header("x-api-key", &self.api_key)
                .json(&json!({"rrsets": [rrset]}))
                .send()
                .await
                .with_context(|| format!("PATCH {url}"))?;
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            let body = response.text().await.unwrap_or_default();
            attempt += 1;
            if status.is_server_error() && attempt < 10 {
                tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                continue;
            }
            bail!("PATCH {url}: HTTP {status}: {body}");
        }
    }

    /// [`PdnsMirror::set_txt`] from the `(bare value, ttl)` of the records
    /// a fake holds at `name`: their distinct values (sorted), at their
    /// lowest TTL (`default_ttl` when there are none).
    pub async fn set_txt_distinct(
        &self,
        zone: &str,
        name: &str,
        records: impl IntoIterator<Item = (String, u32)>,
        default_ttl: u32,
    ) -> Result<()> {
        let (mut values, ttls): (Vec<String>, Vec<u32>) = records.into_iter().unzip();
        values.sort();
        values.dedup();
        let ttl = ttls.into_iter().min().unwrap_or(default_ttl);
        self.set_txt(zone, name, ttl, &values).await
    }
}

/// `value` as TXT presentation content.
pub fn quote(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The bare value of TXT content written quoted (`"abc"`) or bare (`abc`).
pub fn unquote(content: &str) -> String {
    let c = content.trim();
    match c.strip_prefix('"').and_then(|c| c.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => c.to_string(),
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random 32-hex-digit id (Cloudflare's ids, Alibaba's RequestIds).
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .expect("random bytes");
    hex(&bytes)
}

/// A random id in UUID form (8-4-4-4-12 lower-case hex digits), as Vultr's
/// record ids, acme-dns's accounts and AWS's and Tencent's request ids look.
pub fn random_uuid() -> String {
    let h = random_id();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The zone of `zones` holding `name` (the longest match), if any.
pub fn zone_of<'z>(zones: &'z [String], name: &str) -> Option<&'z String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    zones
        .iter()
        .filter(|z| name == **z || name.ends_with(&format!(".{z}")))
        .max_by_key(|z| z.len())
}
