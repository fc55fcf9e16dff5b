//! A plugin's metadata as the host sees it, whatever WIT version the plugin
//! was built for: validated once at load time, then used for config
//! resolution, the HTTP and DNS allowlists, how the plugin is driven
//! ([`Hints`]) and `wacme plugin inspect`.

use super::bindings::latest::wacme::dns::types as wit;
use super::dns::ServerEntry;
use super::policy::{OriginPattern, template_key};
use serde::Serialize;

/// One config field a plugin declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigField {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub secret: bool,
    pub default: Option<String>,
    pub env_aliases: Vec<String>,
}

/// What a plugin says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginMetadata {
    pub name: String,
    pub version: String,
    pub description: String,
    pub homepage: String,
    pub config: Vec<ConfigField>,
    pub allowed_hosts: Vec<String>,
    pub default_ttl: u32,
    pub min_ttl: u32,
    /// Nameservers the plugin may send DNS messages to (templates).
    pub dns_servers: Vec<String>,
    pub hints: Hints,
}

/// How the host drives a provider (`provider-hints` in the WIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Hints {
    /// Writes at once per zone; 0 is no limit.
    pub zone_write_concurrency: u32,
    /// Whether cleanup removes values.
    pub can_delete: bool,
    /// Most values one name can carry at once.
    pub max_values_per_name: Option<u32>,
    /// Whether the batch exports change many names in one request.
    pub batch: bool,
}

impl Default for Hints {
    /// What a plugin that says nothing gets (every 0.1 plugin): no limits,
    /// cleanup removes, one call per name.
    fn default() -> Self {
        Hints {
            zone_write_concurrency: 0,
            can_delete: true,
            max_values_per_name: None,
            batch: false,
        }
    }
}

impl From<wit::ConfigField> for ConfigField {
    fn from(f: wit::ConfigField) -> Self {
        ConfigField {
            name: f.name,
            description: f.description,
            required: f.required,
            secret: f.secret,
            default: f.default,
            env_aliases: f.env_aliases,
        }
    }
}

impl From<wit::PluginMetadata> for PluginMetadata {
    fn from(m: wit::PluginMetadata) -> Self {
        PluginMetadata {
            name: m.name,
            version: m.version,
            description: m.description,
            homepage: m.homepage,
            config: m.config.into_iter().map(ConfigField::from).collect(),
            allowed_hosts: m.allowed_hosts,
            default_ttl: m.default_ttl,
            min_ttl: m.min_ttl,
            dns_servers: m.dns_servers,
            hints: Hints {
                zone_write_concurrency: m.hints.zone_write_concurrency,
                can_delete: m.hints.can_delete,
                max_values_per_name: m.hints.max_values_per_name,
                batch: m.hints.batch,
            },
        }
    }
}

fn is_name(s: &str, extra: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b))
        && s.as_bytes()[0].is_ascii_alphanumeric()
}

impl PluginMetadata {
    /// Checks everything the host relies on; the message names the problem.
    pub fn validate(&self) -> Result<(), String> {
        if !is_name(&self.name, b"-") || self.name.len() > 32 {
            return Err(format!(
                "plugin name {:?} must be 1–32 characters of a-z, 0-9 and `-`",
                self.name
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for field in &self.config {
            if !is_name(&field.name, b"_-") {
                return Err(format!(
                    "config key {:?} must be lower-case a-z, 0-9, `_` or `-`",
                    field.name
                ));
            }
            if !seen.insert(normalize_key(&field.name)) {
                return Err(format!("config key `{}` is declared twice", field.name));
            }
            if field.name != normalize_key(&field.name) {
                return Err(format!("config key `{}` must use `_`, not `-`", field.name));
            }
            if field.required && field.default.is_some() {
                return Err(format!(
                    "config key `{}` is required and has a default",
                    field.name
                ));
            }
            for alias in &field.env_aliases {
                // POSIX names (`[A-Za-z_][A-Za-z0-9_]*`) with at least one
                // upper-case letter: `CF_API_TOKEN`, and acme.sh's mixed-case
                // `Ali_Key`, but never something that reads as a config key.
                let ok = !alias.is_empty()
                    && alias
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && alias.bytes().any(|b| b.is_ascii_uppercase())
                    && !alias.as_bytes()[0].is_ascii_digit();
                if !ok {
                    return Err(format!(
                        "environment alias {alias:?} of `{}` is not an environment variable name with an upper-case letter",
                        field.name
                    ));
                }
            }
        }
        for entry in &self.allowed_hosts {
            match template_key(entry) {
                Some(key) => {
                    if !self.config.iter().any(|f| f.name == key) {
                        return Err(format!(
                            "allowed host `{entry}` names no declared config key"
                        ));
                    }
                }
                None => {
                    OriginPattern::parse(entry, false).map_err(|e| e.to_string())?;
                }
            }
        }
        for entry in &self.dns_servers {
            let parsed = ServerEntry::parse(entry)
                .map_err(|reason| format!("DNS server `{entry}`: {reason}"))?;
            for key in parsed.keys() {
                if !self.config.iter().any(|f| f.name == key) {
                    return Err(format!(
                        "DNS server `{entry}` names no declared config key `{key}`"
                    ));
                }
            }
        }
        if self.hints.max_values_per_name == Some(0) {
            return Err("hint max-values-per-name is 0: no name could carry a value".into());
        }
        if self.min_ttl > self.default_ttl {
            return Err(format!(
                "min-ttl {} is above default-ttl {}",
                self.min_ttl, self.default_ttl
            ));
        }
        Ok(())
    }

    /// Names of secret fields.
    pub fn secret_keys(&self) -> impl Iterator<Item = &str> {
        self.config
            .iter()
            .filter(|f| f.secret)
            .map(|f| f.name.as_str())
    }
}

/// Config keys compare with `-` and `_` as the same character.
pub fn normalize_key(key: &str) -> String {
    key.trim().to_ascii_lowercase().replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> PluginMetadata {
        PluginMetadata {
            name: "pdns".into(),
            version: "0.1.0".into(),
            description: "d".into(),
            homepage: "h".into(),
            config: vec![ConfigField {
                name: "api_url".into(),
                description: String::new(),
                required: true,
                secret: false,
                default: None,
                env_aliases: vec!["PDNS_API_URL".into()],
            }],
            allowed_hosts: vec!["{api_url}".into(), "https://*.example.com".into()],
            default_ttl: 60,
            min_ttl: 1,
            dns_servers: vec!["{api_url}:53".into(), "ns1.example.com".into()],
            hints: Hints::default(),
        }
    }

    #[test]
    fn valid_metadata_passes() {
        meta().validate().unwrap();
    }

    #[test]
    fn bad_metadata_is_named() {
        type Mutation = Box<dyn Fn(&mut PluginMetadata)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|m| m.name = "Bad Name".into()), "plugin name"),
            (
                Box::new(|m| m.allowed_hosts.push("{nope}".into())),
                "names no declared config key",
            ),
            (
                Box::new(|m| m.allowed_hosts.push("http://plain.example.com".into())),
                "http://",
            ),
            (
                Box::new(|m| m.allowed_hosts.push("https://*.com".into())),
                "wildcard",
            ),
            (
                Box::new(|m| m.config.push(m.config[0].clone())),
                "declared twice",
            ),
            (
                Box::new(|m| m.config[0].env_aliases.push("lower".into())),
                "environment alias",
            ),
            (Box::new(|m| m.min_ttl = 600), "min-ttl"),
            (
                Box::new(|m| m.dns_servers.push("{server}".into())),
                "names no declared config key `server`",
            ),
            (
                Box::new(|m| m.dns_servers.push("ns1.example.com:99999".into())),
                "DNS server `ns1.example.com:99999`",
            ),
            (
                Box::new(|m| m.hints.max_values_per_name = Some(0)),
                "max-values-per-name",
            ),
            (
                Box::new(|m| m.config[0].default = Some("x".into())),
                "required and has a default",
            ),
        ];
        for (mutate, expected) in cases {
            let mut m = meta();
            mutate(&mut m);
            let err = m.validate().unwrap_err();
            assert!(
                err.contains(expected),
                "{err:?} should mention {expected:?}"
            );
        }
    }
}
