//! Which environment variables a plugin may read: the operator's grants.
//!
//! A plugin always reads its own variables, `WACME_<PLUGIN>_<KEY>` (and
//! their `_FILE` forms). The extra names a plugin declares for a field
//! (`env-aliases`, e.g. `CF_API_TOKEN`) are read only when granted:
//! - the first-party plugins shipped with wacme carry theirs ([`BUILT_IN`]:
//!   the names lego and acme.sh users already have);
//! - any other plugin gets the ones the operator approved with `wacme plugin
//!   install` or `wacme plugin grant`, recorded in the state directory's
//!   `plugins.lock` beside the SHA-256 of the plugin's bytes. A plugin whose
//!   bytes differ from the recorded hash has no grants until approved again.
//!   An entry in the lock file replaces the built-in grants of that name.
//!
//! Never granted, whoever asks: another plugin's `WACME_*` variable, and a
//! plugin's own variable that is a first-party plugin's variable too (a
//! plugin named `pdns-api` with a key `key` would read `WACME_PDNS_API_KEY`).
//!
//! The lock file is TOML, written only by wacme (atomically) but meant to
//! be read, diffed and reviewed by people.

use super::metadata::{ConfigField, PluginMetadata};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A config key and the environment aliases granted for it.
pub type FieldAliases = (&'static str, &'static [&'static str]);

/// The environment aliases of the first-party plugins, per plugin and field:
/// the grants shipped with wacme. A test checks this table against the
/// metadata of every plugin in `plugins/`.
pub const BUILT_IN: &[(&str, &[FieldAliases])] = &[
    (
        "acmedns",
        &[
            ("accounts", &["ACME_DNS_STORAGE_PATH"]),
            ("api_base", &["ACME_DNS_API_BASE", "ACMEDNS_BASE_URL"]),
            ("username", &["ACMEDNS_USERNAME"]),
            ("password", &["ACMEDNS_PASSWORD"]),
            ("subdomain", &["ACMEDNS_SUBDOMAIN"]),
        ],
    ),
    (
        "alidns",
        &[
            ("access_key_id", &["ALICLOUD_ACCESS_KEY", "Ali_Key"]),
            ("access_key_secret", &["ALICLOUD_SECRET_KEY", "Ali_Secret"]),
            ("security_token", &["ALICLOUD_SECURITY_TOKEN"]),
            ("region", &["ALICLOUD_REGION_ID"]),
        ],
    ),
    (
        "azure",
        &[
            ("tenant_id", &["AZURE_TENANT_ID", "AZUREDNS_TENANTID"]),
            ("client_id", &["AZURE_CLIENT_ID", "AZUREDNS_APPID"]),
            (
                "client_secret",
                &["AZURE_CLIENT_SECRET", "AZUREDNS_CLIENTSECRET"],
            ),
            (
                "subscription_id",
                &["AZURE_SUBSCRIPTION_ID", "AZUREDNS_SUBSCRIPTIONID"],
            ),
            ("resource_group", &["AZURE_RESOURCE_GROUP"]),
        ],
    ),
    (
        "baiducloud",
        &[
            ("access_key_id", &["BAIDUCLOUD_ACCESS_KEY_ID", "Baidu_AK"]),
            (
                "secret_access_key",
                &["BAIDUCLOUD_SECRET_ACCESS_KEY", "Baidu_SK"],
            ),
            ("ttl", &["BAIDUCLOUD_TTL", "Baidu_TTL"]),
        ],
    ),
    (
        "cloudflare",
        &[
            (
                "api_token",
                &[
                    "CLOUDFLARE_DNS_API_TOKEN",
                    "CLOUDFLARE_API_TOKEN",
                    "CF_API_TOKEN",
                ],
            ),
            ("email", &["CLOUDFLARE_EMAIL", "CF_API_EMAIL", "CF_Email"]),
            ("api_key", &["CLOUDFLARE_API_KEY", "CF_API_KEY", "CF_Key"]),
            ("zone_id", &["CLOUDFLARE_ZONE_ID", "CF_Zone_ID"]),
        ],
    ),
    ("desec", &[("token", &["DESEC_TOKEN", "DEDYN_TOKEN"])]),
    (
        "digitalocean",
        &[
            (
                "api_token",
                &["DO_AUTH_TOKEN", "DO_API_KEY", "DIGITALOCEAN_ACCESS_TOKEN"],
            ),
            ("endpoint", &["DO_API_URL"]),
        ],
    ),
    (
        "dnspod",
        &[
            ("id", &["DP_Id"]),
            ("token", &["DP_Key"]),
            ("login_token", &["DNSPOD_API_KEY"]),
        ],
    ),
    (
        "gandi",
        &[
            (
                "token",
                &["GANDIV5_PERSONAL_ACCESS_TOKEN", "GANDI_LIVEDNS_TOKEN"],
            ),
            ("api_key", &["GANDIV5_API_KEY", "GANDI_LIVEDNS_KEY"]),
        ],
    ),
    (
        "gcloud",
        &[
            ("service_account_json", &["GCE_SERVICE_ACCOUNT"]),
            ("project", &["GCE_PROJECT", "GOOGLE_CLOUD_PROJECT"]),
            ("zone_id", &["GCE_ZONE_ID"]),
        ],
    ),
    (
        "godaddy",
        &[
            ("api_key", &["GODADDY_API_KEY", "GD_Key"]),
            ("api_secret", &["GODADDY_API_SECRET", "GD_Secret"]),
        ],
    ),
    (
        "hetzner",
        &[("api_token", &["HETZNER_API_TOKEN", "HETZNER_TOKEN"])],
    ),
    (
        "huaweicloud",
        &[
            ("access_key_id", &["HUAWEICLOUD_ACCESS_KEY_ID"]),
            ("secret_access_key", &["HUAWEICLOUD_SECRET_ACCESS_KEY"]),
            ("username", &["HUAWEICLOUD_Username"]),
            ("password", &["HUAWEICLOUD_Password"]),
            ("domain_name", &["HUAWEICLOUD_DomainName"]),
            ("region", &["HUAWEICLOUD_REGION", "HUAWEICLOUD_Region"]),
            ("ttl", &["HUAWEICLOUD_TTL"]),
        ],
    ),
    (
        "linode",
        &[(
            "api_token",
            &["LINODE_TOKEN", "LINODE_V4_API_KEY", "LINODE_CLI_TOKEN"],
        )],
    ),
    (
        "namecheap",
        &[
            ("api_user", &["NAMECHEAP_API_USER", "NAMECHEAP_USERNAME"]),
            ("api_key", &["NAMECHEAP_API_KEY"]),
            ("client_ip", &["NAMECHEAP_SOURCEIP"]),
            ("sandbox", &["NAMECHEAP_SANDBOX"]),
        ],
    ),
    (
        "ovh",
        &[
            ("application_key", &["OVH_APPLICATION_KEY", "OVH_AK"]),
            ("application_secret", &["OVH_APPLICATION_SECRET", "OVH_AS"]),
            ("consumer_key", &["OVH_CONSUMER_KEY", "OVH_CK"]),
            ("endpoint", &["OVH_ENDPOINT", "OVH_END_POINT"]),
        ],
    ),
    ("pdns", &[("api_key", &["PDNS_API_KEY"])]),
    (
        "porkbun",
        &[
            ("api_key", &["PORKBUN_API_KEY"]),
            ("secret_api_key", &["PORKBUN_SECRET_API_KEY"]),
        ],
    ),
    (
        "rfc2136",
        &[
            ("server", &["RFC2136_NAMESERVER", "NSUPDATE_SERVER"]),
            ("port", &["NSUPDATE_SERVER_PORT"]),
            ("tsig_key_name", &["RFC2136_TSIG_KEY"]),
            ("tsig_secret", &["RFC2136_TSIG_SECRET"]),
            ("tsig_algorithm", &["RFC2136_TSIG_ALGORITHM"]),
            ("ttl", &["RFC2136_TTL"]),
        ],
    ),
    (
        "route53",
        &[
            ("access_key_id", &["AWS_ACCESS_KEY_ID"]),
            ("secret_access_key", &["AWS_SECRET_ACCESS_KEY"]),
            ("session_token", &["AWS_SESSION_TOKEN"]),
            ("hosted_zone_id", &["AWS_HOSTED_ZONE_ID"]),
            ("private_zone", &["AWS_PRIVATE_ZONE"]),
            ("ttl", &["AWS_TTL"]),
        ],
    ),
    (
        "tencentcloud",
        &[
            ("secret_id", &["TENCENTCLOUD_SECRET_ID", "Tencent_SecretId"]),
            (
                "secret_key",
                &["TENCENTCLOUD_SECRET_KEY", "Tencent_SecretKey"],
            ),
            ("session_token", &["TENCENTCLOUD_SESSION_TOKEN"]),
        ],
    ),
    (
        "volcengine",
        &[
            (
                "access_key_id",
                &["VOLC_ACCESSKEY", "Volcengine_ACCESS_KEY_ID"],
            ),
            (
                "secret_access_key",
                &["VOLC_SECRETKEY", "Volcengine_SECRET_ACCESS_KEY"],
            ),
            ("session_token", &["Volcengine_SESSION_TOKEN"]),
            ("region", &["VOLC_REGION"]),
            ("ttl", &["VOLC_TTL"]),
        ],
    ),
    ("vultr", &[("api_key", &["VULTR_API_KEY"])]),
];

/// The config keys of first-party plugins (whose own variables no other
/// plugin may read): every key that has aliases, plus these.
const BUILT_IN_KEYS: &[(&str, &[&str])] = &[
    ("pdns", &["api_url", "server_id"]),
    ("acmedns", &["allow_register"]),
    ("rfc2136", &["tsig_key", "tsig"]),
];

/// wacme's own variables, which no plugin reads even when its name and key
/// spell one (a plugin `eab` with a key `hmac_key`).
const RESERVED: &[&str] = &[
    "WACME_CONFIG",
    "WACME_STATE_DIR",
    "WACME_PLUGIN_DIR",
    "WACME_DIRECTORY",
    "WACME_EAB_KID",
    "WACME_EAB_HMAC_KEY",
    "WACME_DOMAINS",
    "WACME_CERT_NAME",
    "WACME_CERT_PATH",
    "WACME_KEY_PATH",
    "WACME_CHAIN_PATH",
    "WACME_FULLCHAIN_PATH",
];

fn reserved(var: &str) -> bool {
    RESERVED.contains(&var) || var.starts_with("WACME_TEST_")
}

/// `WACME_<PLUGIN>_<KEY>`: a plugin's own variable for a key.
pub fn own_var(plugin: &str, key: &str) -> String {
    format!("WACME_{}_{}", env_part(plugin), env_part(key))
}

fn env_part(s: &str) -> String {
    s.to_ascii_uppercase().replace('-', "_")
}

/// Whether `name` is a first-party plugin.
pub fn is_first_party(name: &str) -> bool {
    BUILT_IN.iter().any(|(n, _)| *n == name)
}

fn built_in(plugin: &str, key: &str, alias: &str) -> bool {
    BUILT_IN
        .iter()
        .filter(|(n, _)| *n == plugin)
        .flat_map(|(_, fields)| fields.iter())
        .any(|(k, aliases)| *k == key && aliases.contains(&alias))
}

/// The first-party plugin (other than `plugin`) whose own variable `var` is.
fn first_party_owner(plugin: &str, var: &str) -> Option<&'static str> {
    let keys = BUILT_IN
        .iter()
        .flat_map(|(n, fields)| fields.iter().map(move |(k, _)| (*n, *k)))
        .chain(
            BUILT_IN_KEYS
                .iter()
                .flat_map(|(n, keys)| keys.iter().map(move |k| (*n, *k))),
        );
    keys.filter(|(n, _)| *n != plugin)
        .find(|(n, k)| own_var(n, k) == var)
        .map(|(n, _)| n)
}

/// What may happen to one declared alias.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "reason")]
pub enum AliasStatus {
    /// Granted by wacme for its own plugin.
    BuiltIn,
    /// Granted by the operator (`plugins.lock`).
    Granted,
    /// Not granted: never read.
    NotGranted,
    /// Granted for other bytes of this plugin: never read until approved again.
    Changed,
    /// Never grantable (another plugin's variable).
    Refused(String),
}

impl AliasStatus {
    /// Whether the variable is read.
    pub fn is_granted(&self) -> bool {
        matches!(self, AliasStatus::BuiltIn | AliasStatus::Granted)
    }
}

impl std::fmt::Display for AliasStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AliasStatus::BuiltIn => f.write_str("granted (shipped with wacme)"),
            AliasStatus::Granted => f.write_str("granted (plugins.lock)"),
            AliasStatus::NotGranted => f.write_str("not granted"),
            AliasStatus::Changed => {
                f.write_str("not granted (the plugin changed since it was approved)")
            }
            AliasStatus::Refused(why) => write!(f, "refused: {why}"),
        }
    }
}

/// The variables one plugin (these bytes) may read, field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvPolicy {
    /// `(key, alias) -> status` for every declared alias.
    aliases: BTreeMap<(String, String), AliasStatus>,
    /// Own variables that are not read, with why.
    blocked_own: BTreeMap<String, String>,
}

impl EnvPolicy {
    /// No alias is read (tests, embedding).
    pub fn none() -> EnvPolicy {
        EnvPolicy::default()
    }

    /// Every declared alias is read, no own variable is blocked: the
    /// behaviour of a host that trusts the plugin (tests, embedding).
    pub fn trust_all(meta: &PluginMetadata) -> EnvPolicy {
        let mut policy = EnvPolicy::default();
        for field in &meta.config {
            for alias in &field.env_aliases {
                policy
                    .aliases
                    .insert((field.name.clone(), alias.clone()), AliasStatus::Granted);
            }
        }
        policy
    }

    /// The status of `alias` of `key`.
    pub fn status(&self, key: &str, alias: &str) -> AliasStatus {
        self.aliases
            .get(&(key.to_string(), alias.to_string()))
            .cloned()
            .unwrap_or(AliasStatus::NotGranted)
    }

    /// Why the plugin's own variable `var` is not read, if it is not.
    pub fn own_blocked(&self, var: &str) -> Option<&str> {
        self.blocked_own.get(var).map(String::as_str)
    }

    /// Aliases of `field` in declaration order, with their status.
    pub fn field<'a>(
        &'a self,
        field: &'a ConfigField,
    ) -> impl Iterator<Item = (&'a str, AliasStatus)> + 'a {
        field
            .env_aliases
            .iter()
            .map(move |a| (a.as_str(), self.status(&field.name, a)))
    }
}

/// One approved plugin in `plugins.lock`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// SHA-256 (hex) of the component the grants were approved for.
    pub sha256: String,
    /// Where it was installed from (a path or an https URL), if installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When the grants were last changed (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved: Option<String>,
    /// Granted aliases per config key.
    #[serde(default)]
    pub env: BTreeMap<String, Vec<String>>,
}

/// The grants file: `plugins.lock` in the state directory.
#[derive(Debug, Clone, Default)]
pub struct GrantFile {
    path: Option<PathBuf>,
    plugins: BTreeMap<String, Entry>,
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OnDisk {
    #[serde(default)]
    plugins: BTreeMap<String, Entry>,
}

/// A grants file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("cannot read the plugin grants in {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write the plugin grants to {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("{0}")]
    Refused(String),
}

impl GrantError {
    /// A refused grant is bad input; an unreadable file is local state.
    pub fn class(&self) -> crate::error::ErrorClass {
        match self {
            GrantError::Refused(_) => crate::error::ErrorClass::Input,
            _ => crate::error::ErrorClass::State,
        }
    }
}

const HEADER: &str = "\
# Environment variables the operator lets plugins read, per plugin and per
# SHA-256 of its bytes: written by `wacme plugin install`, `wacme plugin grant`
# and `wacme plugin revoke`. A plugin whose bytes changed has no grants until
# approved again. Review changes to this file like changes to code.
";

impl GrantFile {
    /// The file name in the state directory.
    pub const FILE_NAME: &'static str = "plugins.lock";

    /// Reads `path`; a missing file is an empty one.
    pub fn load(path: &Path) -> Result<GrantFile, GrantError> {
        let err = |reason: String| GrantError::Read {
            path: path.display().to_string(),
            reason,
        };
        let plugins = match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str::<OnDisk>(&text)
                    .map_err(|e| err(e.to_string()))?
                    .plugins
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(err(e.to_string())),
        };
        Ok(GrantFile {
            path: Some(path.to_path_buf()),
            plugins,
        })
    }

    /// An empty file that is never written (embedding, tests).
    pub fn in_memory() -> GrantFile {
        GrantFile::default()
    }

    /// Where it is kept.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The entry of plugin `name`.
    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.plugins.get(name)
    }

    /// Every entry, by plugin name.
    pub fn entries(&self) -> &BTreeMap<String, Entry> {
        &self.plugins
    }

    /// Writes the file atomically (private: it says what the operator's
    /// environment holds, by name).
    pub fn save(&self) -> Result<(), GrantError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let err = |reason: String| GrantError::Write {
            path: path.display().to_string(),
            reason,
        };
        let body = toml::to_string_pretty(&OnDisk {
            plugins: self.plugins.clone(),
        })
        .map_err(|e| err(e.to_string()))?;
        if let Some(dir) = path.parent() {
            crate::fsx::create_private_dir(dir).map_err(|e| err(e.to_string()))?;
        }
        crate::fsx::write_atomic(
            path,
            format!("{HEADER}\n{body}").as_bytes(),
            crate::fsx::Mode::Private,
        )
        .map_err(|e| err(e.to_string()))
    }

    /// The variables plugin `meta` with bytes `sha256` may read.
    pub fn policy(&self, meta: &PluginMetadata, sha256: &str) -> EnvPolicy {
        let mut policy = EnvPolicy::default();
        let entry = self.plugins.get(&meta.name);
        for field in &meta.config {
            let own = own_var(&meta.name, &field.name);
            if reserved(&own) {
                policy
                    .blocked_own
                    .insert(own.clone(), "it is one of wacme's own settings".into());
            }
            if let Some(owner) = first_party_owner(&meta.name, &own) {
                policy.blocked_own.insert(
                    own,
                    format!("it is the variable of wacme's `{owner}` plugin"),
                );
            }
            for alias in &field.env_aliases {
                let status = if let Some(why) = refusal(&meta.name, alias) {
                    AliasStatus::Refused(why)
                } else {
                    match entry {
                        Some(e) if e.sha256 != sha256 => AliasStatus::Changed,
                        Some(e) => {
                            if e.env.get(&field.name).is_some_and(|a| a.contains(alias)) {
                                AliasStatus::Granted
                            } else {
                                AliasStatus::NotGranted
                            }
                        }
                        None if built_in(&meta.name, &field.name, alias) => AliasStatus::BuiltIn,
                        None => AliasStatus::NotGranted,
                    }
                };
                policy
                    .aliases
                    .insert((field.name.clone(), alias.clone()), status);
            }
        }
        policy
    }

    /// Records that plugin `meta` with bytes `sha256` may read `aliases`
    /// (each `ALIAS` or `key=ALIAS`), in addition to what these bytes were
    /// granted before. Grants of other bytes are dropped. Returns the
    /// aliases granted now, as `(key, alias)`.
    pub fn grant(
        &mut self,
        meta: &PluginMetadata,
        sha256: &str,
        aliases: &[String],
        source: Option<String>,
    ) -> Result<Vec<(String, String)>, GrantError> {
        let wanted = select(meta, aliases)?;
        for (key, alias) in &wanted {
            if let Some(why) = refusal(&meta.name, alias) {
                return Err(GrantError::Refused(format!(
                    "`{alias}` (config `{key}`) cannot be granted: {why}"
                )));
            }
        }
        let entry = self.plugins.entry(meta.name.clone()).or_default();
        if entry.sha256 != sha256 {
            entry.env.clear();
            entry.sha256 = sha256.to_string();
        }
        if source.is_some() {
            entry.source = source;
        }
        entry.approved = Some(now_rfc3339());
        for (key, alias) in &wanted {
            let list = entry.env.entry(key.clone()).or_default();
            if !list.contains(alias) {
                list.push(alias.clone());
            }
        }
        Ok(wanted)
    }

    /// Removes grants of plugin `meta`: the given aliases, or every one.
    /// For a first-party plugin without an entry, the entry starts from
    /// the built-in grants (so revoking one leaves the others). Returns
    /// what was revoked.
    pub fn revoke(
        &mut self,
        meta: &PluginMetadata,
        sha256: &str,
        aliases: &[String],
    ) -> Result<Vec<(String, String)>, GrantError> {
        let current = self.policy(meta, sha256);
        let granted: Vec<(String, String)> = meta
            .config
            .iter()
            .flat_map(|f| {
                f.env_aliases
                    .iter()
                    .filter(|a| current.status(&f.name, a).is_granted())
                    .map(|a| (f.name.clone(), a.clone()))
            })
            .collect();
        let revoke = if aliases.is_empty() {
            granted.clone()
        } else {
            select(meta, aliases)?
        };
        let entry = self.plugins.entry(meta.name.clone()).or_default();
        entry.sha256 = sha256.to_string();
        entry.approved = Some(now_rfc3339());
        entry.env.clear();
        for (key, alias) in &granted {
            if !revoke.contains(&(key.clone(), alias.clone())) {
                entry
                    .env
                    .entry(key.clone())
                    .or_default()
                    .push(alias.clone());
            }
        }
        Ok(revoke.into_iter().filter(|r| granted.contains(r)).collect())
    }

    /// Forgets plugin `name` (its built-in grants apply again, if any).
    pub fn forget(&mut self, name: &str) -> bool {
        self.plugins.remove(name).is_some()
    }
}

/// Why `alias` can never be granted to `plugin`.
fn refusal(plugin: &str, alias: &str) -> Option<String> {
    let upper = alias.to_ascii_uppercase();
    let own_prefix = format!("WACME_{}_", env_part(plugin));
    if upper.starts_with("WACME_") && !upper.starts_with(&own_prefix) {
        return Some("`WACME_*` variables belong to wacme and to other plugins".into());
    }
    if let Some(owner) = first_party_owner(plugin, &upper) {
        return Some(format!("it is the variable of wacme's `{owner}` plugin"));
    }
    None
}

/// Resolves `ALIAS` / `key=ALIAS` arguments against the declared aliases.
fn select(meta: &PluginMetadata, args: &[String]) -> Result<Vec<(String, String)>, GrantError> {
    let mut out = Vec::new();
    for arg in args {
        let (key, alias) = match arg.split_once('=') {
            Some((k, a)) => (Some(super::metadata::normalize_key(k)), a),
            None => (None, arg.as_str()),
        };
        let found: Vec<(String, String)> = meta
            .config
            .iter()
            .filter(|f| key.as_ref().is_none_or(|k| *k == f.name))
            .filter(|f| f.env_aliases.iter().any(|a| a == alias))
            .map(|f| (f.name.clone(), alias.to_string()))
            .collect();
        if found.is_empty() {
            let declared: Vec<String> = meta
                .config
                .iter()
                .flat_map(|f| f.env_aliases.iter().map(move |a| format!("{}={a}", f.name)))
                .collect();
            return Err(GrantError::Refused(format!(
                "plugin `{}` declares no environment alias `{arg}`; it declares: {}",
                meta.name,
                if declared.is_empty() {
                    "none".to_string()
                } else {
                    declared.join(", ")
                }
            )));
        }
        for f in found {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// Every declared alias of `meta` that could be granted, as `key=ALIAS`.
pub fn grantable(meta: &PluginMetadata) -> Vec<String> {
    meta.config
        .iter()
        .flat_map(|f| {
            f.env_aliases
                .iter()
                .filter(|a| refusal(&meta.name, a).is_none())
                .map(move |a| format!("{}={a}", f.name))
        })
        .collect()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, fields: &[(&str, &[&str])]) -> PluginMetadata {
        PluginMetadata {
            name: name.into(),
            version: "1.0.0".into(),
            description: String::new(),
            homepage: String::new(),
            config: fields
                .iter()
                .map(|(k, aliases)| ConfigField {
                    name: k.to_string(),
                    description: String::new(),
                    required: false,
                    secret: false,
                    default: None,
                    env_aliases: aliases.iter().map(|a| a.to_string()).collect(),
                })
                .collect(),
            allowed_hosts: vec![],
            default_ttl: 60,
            min_ttl: 1,
            dns_servers: vec![],
            hints: Default::default(),
        }
    }

    fn hostile() -> PluginMetadata {
        meta(
            "dnsfoo",
            &[
                (
                    "loot",
                    &["MY_TOP_SECRET", "CF_API_TOKEN", "WACME_PDNS_API_KEY"],
                ),
                ("token", &["DNSFOO_TOKEN"]),
            ],
        )
    }

    #[test]
    fn nothing_is_granted_to_an_unknown_plugin() {
        let p = GrantFile::in_memory().policy(&hostile(), "aa");
        assert_eq!(p.status("loot", "MY_TOP_SECRET"), AliasStatus::NotGranted);
        assert_eq!(p.status("loot", "CF_API_TOKEN"), AliasStatus::NotGranted);
        assert!(matches!(
            p.status("loot", "WACME_PDNS_API_KEY"),
            AliasStatus::Refused(_)
        ));
        assert_eq!(p.status("token", "DNSFOO_TOKEN"), AliasStatus::NotGranted);
    }

    #[test]
    fn first_party_plugins_carry_their_aliases_and_only_those() {
        let cf = meta(
            "cloudflare",
            &[("api_token", &["CF_API_TOKEN", "MY_TOP_SECRET"])],
        );
        let p = GrantFile::in_memory().policy(&cf, "aa");
        assert_eq!(p.status("api_token", "CF_API_TOKEN"), AliasStatus::BuiltIn);
        assert_eq!(
            p.status("api_token", "MY_TOP_SECRET"),
            AliasStatus::NotGranted
        );
        // The same alias under another key is not the built-in grant.
        let moved = meta("cloudflare", &[("email", &["CF_API_TOKEN"])]);
        assert_eq!(
            GrantFile::in_memory()
                .policy(&moved, "aa")
                .status("email", "CF_API_TOKEN"),
            AliasStatus::NotGranted
        );
    }

    #[test]
    fn grants_follow_the_bytes() {
        let mut file = GrantFile::in_memory();
        let m = hostile();
        file.grant(&m, "aa", &["DNSFOO_TOKEN".into()], None)
            .unwrap();
        assert_eq!(
            file.policy(&m, "aa").status("token", "DNSFOO_TOKEN"),
            AliasStatus::Granted
        );
        assert_eq!(
            file.policy(&m, "bb").status("token", "DNSFOO_TOKEN"),
            AliasStatus::Changed
        );
        // Approving the new bytes starts from nothing.
        file.grant(&m, "bb", &["loot=MY_TOP_SECRET".into()], None)
            .unwrap();
        let p = file.policy(&m, "bb");
        assert_eq!(p.status("loot", "MY_TOP_SECRET"), AliasStatus::Granted);
        assert_eq!(p.status("token", "DNSFOO_TOKEN"), AliasStatus::NotGranted);
    }

    #[test]
    fn other_plugins_variables_are_never_granted() {
        let mut file = GrantFile::in_memory();
        let err = file
            .grant(&hostile(), "aa", &["WACME_PDNS_API_KEY".into()], None)
            .unwrap_err();
        assert!(err.to_string().contains("WACME_PDNS_API_KEY"), "{err}");
        let err = file
            .grant(&hostile(), "aa", &["NOT_DECLARED".into()], None)
            .unwrap_err();
        assert!(
            err.to_string().contains("loot=MY_TOP_SECRET"),
            "lists what is declared: {err}"
        );
        // An own variable that is a first-party plugin's.
        let eab = meta("eab", &[("hmac_key", &[])]);
        assert!(
            GrantFile::in_memory()
                .policy(&eab, "aa")
                .own_blocked("WACME_EAB_HMAC_KEY")
                .is_some()
        );
        let squatter = meta("pdns-api", &[("key", &[])]);
        let p = GrantFile::in_memory().policy(&squatter, "aa");
        assert!(p.own_blocked("WACME_PDNS_API_KEY").is_some());
        assert!(
            GrantFile::in_memory()
                .policy(&meta("pdns", &[("api_key", &[])]), "aa")
                .own_blocked("WACME_PDNS_API_KEY")
                .is_none()
        );
    }

    #[test]
    fn revoking_a_built_in_grant_keeps_the_others() {
        let cf = meta(
            "cloudflare",
            &[("api_token", &["CF_API_TOKEN", "CLOUDFLARE_API_TOKEN"])],
        );
        let mut file = GrantFile::in_memory();
        let revoked = file.revoke(&cf, "aa", &["CF_API_TOKEN".into()]).unwrap();
        assert_eq!(revoked, [("api_token".into(), "CF_API_TOKEN".into())]);
        let p = file.policy(&cf, "aa");
        assert_eq!(
            p.status("api_token", "CF_API_TOKEN"),
            AliasStatus::NotGranted
        );
        assert_eq!(
            p.status("api_token", "CLOUDFLARE_API_TOKEN"),
            AliasStatus::Granted
        );
        assert!(file.forget("cloudflare"));
        assert_eq!(
            file.policy(&cf, "aa").status("api_token", "CF_API_TOKEN"),
            AliasStatus::BuiltIn
        );
    }

    #[test]
    fn the_file_round_trips_and_is_reviewable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugins.lock");
        let mut file = GrantFile::load(&path).unwrap();
        file.grant(
            &hostile(),
            "aa",
            &["DNSFOO_TOKEN".into()],
            Some("https://example.com/dnsfoo.wasm".into()),
        )
        .unwrap();
        file.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# Environment variables"), "{text}");
        assert!(text.contains("[plugins.dnsfoo]") && text.contains("DNSFOO_TOKEN"));
        let again = GrantFile::load(&path).unwrap();
        assert_eq!(again.entries(), file.entries());
        std::fs::write(&path, "[plugins.x]\nsha = 1\n").unwrap();
        let err = GrantFile::load(&path).unwrap_err().to_string();
        assert!(err.contains("plugins.lock"), "{err}");
    }
}
