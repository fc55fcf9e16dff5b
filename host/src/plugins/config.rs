//! Plugin configuration: which value each declared key gets, and from where.
//!
//! Highest precedence first:
//! 1. `--dns-config key=value` on the command line;
//! 2. the environment: `WACME_<PLUGIN>_<KEY>` (upper case, `-` → `_`), then
//!    the plugin's declared aliases that are granted ([`super::grants`]), in
//!    order; each variable `V` may instead be given as `V_FILE` naming a file
//!    that holds the value. A declared alias that is set but not granted is
//!    not read; it is reported ([`ResolvedConfig::ignored`]) so the operator
//!    can be told once;
//! 3. the config file;
//! 4. the field's declared default.
//!
//! Keys from the command line or the config file that the plugin does not
//! declare are errors, as are required keys without a value, all before any
//! network call. A plugin receives only its own declared keys.

use super::grants::{AliasStatus, EnvPolicy};
use super::metadata::PluginMetadata;
pub use super::metadata::normalize_key;
use std::collections::BTreeMap;
use std::path::Path;

/// Where a resolved value came from (never the value itself, so this is
/// safe to show).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "source", content = "name")]
pub enum Origin {
    Cli,
    Env(String),
    EnvFile(String),
    File,
    Default,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Cli => write!(f, "--dns-config"),
            Origin::Env(v) => write!(f, "${v}"),
            Origin::EnvFile(v) => write!(f, "file named by ${v}"),
            Origin::File => write!(f, "config file"),
            Origin::Default => write!(f, "default"),
        }
    }
}

#[derive(Debug, Clone)]
struct Value {
    value: String,
    origin: Origin,
    secret: bool,
}

/// The values a plugin will receive, with their origins and secrecy.
#[derive(Debug, Clone, Default)]
pub struct ResolvedConfig {
    values: BTreeMap<String, Value>,
    ignored: Vec<Ignored>,
}

/// An environment variable a plugin asked for that was set but not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// The config key it would have filled.
    pub key: String,
    /// The variable (never its value).
    pub var: String,
    /// Why it was not read.
    pub why: String,
}

impl std::fmt::Display for Ignored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "${} is set but not read for config `{}`: {}",
            self.var, self.key, self.why
        )
    }
}

impl super::policy::TemplateValues for ResolvedConfig {
    fn template_value(&self, key: &str) -> Option<(&str, bool)> {
        let value = self.get(key)?;
        Some((
            value,
            self.origin(key).is_some_and(|o| o != Origin::Default),
        ))
    }
}

impl ResolvedConfig {
    /// The value of `key`, if it has one.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|v| v.value.as_str())
    }

    /// Where the value of `key` came from.
    pub fn origin(&self, key: &str) -> Option<Origin> {
        self.values.get(key).map(|v| v.origin.clone())
    }

    /// The values of secret fields (for redaction).
    pub fn secrets(&self) -> Vec<String> {
        self.values
            .values()
            .filter(|v| v.secret)
            .map(|v| v.value.clone())
            .collect()
    }

    /// `(key, value)` pairs as passed to the plugin.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.values
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect()
    }

    /// Variables the plugin asked for that were set but not read.
    pub fn ignored(&self) -> &[Ignored] {
        &self.ignored
    }

    /// `(key, origin, secret)` for display, without values.
    pub fn describe(&self) -> Vec<(String, Origin, bool)> {
        self.values
            .iter()
            .map(|(k, v)| (k.clone(), v.origin.clone(), v.secret))
            .collect()
    }

    #[cfg(test)]
    pub fn for_tests(values: &[(&str, &str, Origin)]) -> Self {
        ResolvedConfig {
            values: values
                .iter()
                .map(|(k, v, o)| {
                    (
                        k.to_string(),
                        Value {
                            value: v.to_string(),
                            origin: o.clone(),
                            secret: false,
                        },
                    )
                })
                .collect(),
            ignored: Vec::new(),
        }
    }
}

/// A configuration problem, found before any network call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("plugin `{plugin}` has no config key `{key}` (from {origin}); its keys are: {known}")]
    UnknownKey {
        plugin: String,
        key: String,
        origin: Origin,
        known: String,
    },
    #[error("plugin `{plugin}` needs `{key}`: {hint}")]
    Missing {
        plugin: String,
        key: String,
        hint: String,
    },
    #[error("`--dns-config {0}` is not of the form key=value")]
    Malformed(String),
    #[error("cannot read `{key}` from {path} (named by ${var}): {reason}")]
    File {
        key: String,
        var: String,
        path: String,
        reason: String,
    },
}

/// Everything config resolution reads, so it can be tested without touching
/// the process environment.
pub struct Sources<'a> {
    /// `--dns-config` pairs in command-line order (a later one wins).
    pub cli: &'a [(String, String)],
    /// Values from the config file.
    pub file: &'a BTreeMap<String, String>,
    /// Environment lookup.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Which declared aliases may be read.
    pub policy: &'a EnvPolicy,
    /// File reader for `*_FILE` variables.
    pub read_file: &'a dyn Fn(&Path) -> std::io::Result<String>,
}

impl Sources<'_> {
    /// Resolves with the process environment (as far as `policy` lets the
    /// plugin read it) and the real filesystem.
    pub fn resolve_with_process_env(
        meta: &PluginMetadata,
        policy: &EnvPolicy,
        cli: &[(String, String)],
        file: &BTreeMap<String, String>,
    ) -> Result<ResolvedConfig, ConfigError> {
        let env = |k: &str| std::env::var(k).ok();
        let read = |p: &Path| std::fs::read_to_string(p);
        Sources {
            cli,
            file,
            env: &env,
            policy,
            read_file: &read,
        }
        .resolve(meta)
    }

    /// Resolves from `key=value` pairs alone: no environment, no files (for
    /// embedding and tests, where the process environment must not leak in).
    pub fn resolve_pairs(
        meta: &PluginMetadata,
        pairs: &[(&str, &str)],
    ) -> Result<ResolvedConfig, ConfigError> {
        let cli: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = |_: &str| None;
        let read = |_: &Path| Err(std::io::Error::other("no files are read"));
        Sources {
            cli: &cli,
            file: &BTreeMap::new(),
            env: &env,
            policy: &EnvPolicy::none(),
            read_file: &read,
        }
        .resolve(meta)
    }

    /// Resolves every declared key of `meta`.
    pub fn resolve(&self, meta: &PluginMetadata) -> Result<ResolvedConfig, ConfigError> {
        let known = || {
            meta.config
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let field_for = |key: &str| meta.config.iter().find(|f| f.name == normalize_key(key));
        for (key, _) in self.cli {
            if field_for(key).is_none() {
                return Err(ConfigError::UnknownKey {
                    plugin: meta.name.clone(),
                    key: key.clone(),
                    origin: Origin::Cli,
                    known: known(),
                });
            }
        }
        for key in self.file.keys() {
            if field_for(key).is_none() {
                return Err(ConfigError::UnknownKey {
                    plugin: meta.name.clone(),
                    key: key.clone(),
                    origin: Origin::File,
                    known: known(),
                });
            }
        }

        let mut values = BTreeMap::new();
        let mut ignored = Vec::new();
        for field in &meta.config {
            let from_cli = self
                .cli
                .iter()
                .rev()
                .find(|(k, _)| normalize_key(k) == field.name)
                .map(|(_, v)| (v.clone(), Origin::Cli));
            let found = match from_cli {
                Some(found) => Some(found),
                None => match self.lookup_env(meta, field, &mut ignored)? {
                    Some(found) => Some(found),
                    None => self
                        .file
                        .iter()
                        .find(|(k, _)| normalize_key(k) == field.name)
                        .map(|(_, v)| (v.clone(), Origin::File))
                        .or_else(|| field.default.clone().map(|d| (d, Origin::Default))),
                },
            };
            match found {
                Some((value, origin)) if !value.is_empty() => {
                    values.insert(
                        field.name.clone(),
                        Value {
                            value,
                            origin,
                            secret: field.secret,
                        },
                    );
                }
                _ if field.required => {
                    let own = super::grants::own_var(&meta.name, &field.name);
                    let granted: Vec<&str> = self
                        .policy
                        .field(field)
                        .filter(|(_, s)| s.is_granted())
                        .map(|(a, _)| a)
                        .collect();
                    let ungranted: Vec<&str> = self
                        .policy
                        .field(field)
                        .filter(|(_, s)| !s.is_granted())
                        .map(|(a, _)| a)
                        .collect();
                    let mut hint = format!(
                        "set it with `--dns-config {}=…` or ${own} (or {own}_FILE naming a file)",
                        field.name,
                    );
                    if !granted.is_empty() {
                        hint += &format!("; also read from ${}", granted.join(", $"));
                    }
                    if !ungranted.is_empty() {
                        hint += &format!(
                            "; ${} not read unless granted (`wacme plugin grant {} …`)",
                            ungranted.join(", $"),
                            meta.name
                        );
                    }
                    return Err(ConfigError::Missing {
                        plugin: meta.name.clone(),
                        key: field.name.clone(),
                        hint,
                    });
                }
                _ => {}
            }
        }
        Ok(ResolvedConfig { values, ignored })
    }

    fn lookup_env(
        &self,
        meta: &PluginMetadata,
        field: &super::metadata::ConfigField,
        ignored: &mut Vec<Ignored>,
    ) -> Result<Option<(String, Origin)>, ConfigError> {
        let own = super::grants::own_var(&meta.name, &field.name);
        let candidates = std::iter::once((own.clone(), None)).chain(
            self.policy
                .field(field)
                .map(|(a, s)| (a.to_string(), Some(s))),
        );
        for (var, status) in candidates {
            let why = match &status {
                None => self.policy.own_blocked(&var).map(str::to_string),
                Some(s) if s.is_granted() => None,
                Some(AliasStatus::Refused(why)) => Some(format!("never granted: {why}")),
                Some(s) => Some(format!(
                    "{s}; grant it with `wacme plugin grant {} {var}`",
                    meta.name
                )),
            };
            if let Some(why) = why {
                let set = |v: &str| (self.env)(v).is_some_and(|v| !v.is_empty());
                for v in [var.clone(), format!("{var}_FILE")] {
                    if set(&v) {
                        ignored.push(Ignored {
                            key: field.name.clone(),
                            var: v,
                            why: why.clone(),
                        });
                    }
                }
                continue;
            }
            if let Some(v) = (self.env)(&var).filter(|v| !v.is_empty()) {
                return Ok(Some((v, Origin::Env(var))));
            }
            let file_var = format!("{var}_FILE");
            if let Some(path) = (self.env)(&file_var).filter(|v| !v.is_empty()) {
                let content =
                    (self.read_file)(Path::new(&path)).map_err(|e| ConfigError::File {
                        key: field.name.clone(),
                        var: file_var.clone(),
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                let value = content.trim_end_matches(['\n', '\r']).to_string();
                return Ok(Some((value, Origin::EnvFile(file_var))));
            }
        }
        Ok(None)
    }
}

/// Parses `key=value` (`--dns-config`); the value may contain `=`.
pub fn parse_pair(s: &str) -> Result<(String, String), ConfigError> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(ConfigError::Malformed(s.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::metadata::{ConfigField, PluginMetadata};
    use std::collections::HashMap;

    fn meta() -> PluginMetadata {
        let field =
            |name: &str, required, secret, default: Option<&str>, aliases: &[&str]| ConfigField {
                name: name.into(),
                description: String::new(),
                required,
                secret,
                default: default.map(Into::into),
                env_aliases: aliases.iter().map(|a| a.to_string()).collect(),
            };
        PluginMetadata {
            name: "my-dns".into(),
            version: "1.0.0".into(),
            description: String::new(),
            homepage: String::new(),
            config: vec![
                field("api_url", true, false, None, &[]),
                field("api_key", true, true, None, &["MY_KEY", "LEGACY_KEY"]),
                field("server_id", false, false, Some("localhost"), &[]),
                field("ttl", false, false, None, &[]),
            ],
            allowed_hosts: vec!["{api_url}".into()],
            default_ttl: 60,
            min_ttl: 1,
            dns_servers: vec![],
            hints: Default::default(),
        }
    }

    fn resolve(
        cli: &[(&str, &str)],
        file: &[(&str, &str)],
        env: &[(&str, &str)],
        files: &[(&str, &str)],
    ) -> Result<ResolvedConfig, ConfigError> {
        let cli: Vec<(String, String)> = cli
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let file: BTreeMap<String, String> = file
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let files: HashMap<String, String> = files
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env_fn = |k: &str| env.get(k).cloned();
        let read_fn = |p: &Path| {
            files.get(p.to_str().unwrap()).cloned().ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory")
            })
        };
        Sources {
            cli: &cli,
            file: &file,
            env: &env_fn,
            policy: &EnvPolicy::trust_all(&meta()),
            read_file: &read_fn,
        }
        .resolve(&meta())
    }

    #[test]
    fn precedence_cli_env_file_default() {
        let all = resolve(
            &[("api_key", "cli")],
            &[("api_key", "file"), ("api_url", "http://file")],
            &[("WACME_MY_DNS_API_KEY", "env")],
            &[],
        )
        .unwrap();
        assert_eq!(all.get("api_key"), Some("cli"));
        assert_eq!(all.origin("api_key"), Some(Origin::Cli));
        assert_eq!(all.get("api_url"), Some("http://file"));
        assert_eq!(all.origin("api_url"), Some(Origin::File));
        assert_eq!(all.get("server_id"), Some("localhost"));
        assert_eq!(all.origin("server_id"), Some(Origin::Default));
        assert_eq!(all.get("ttl"), None);

        let env_over_file = resolve(
            &[],
            &[("api_key", "file"), ("api_url", "u")],
            &[("WACME_MY_DNS_API_KEY", "env")],
            &[],
        )
        .unwrap();
        assert_eq!(env_over_file.get("api_key"), Some("env"));
    }

    #[test]
    fn own_variable_before_aliases_and_aliases_in_order() {
        let c = resolve(
            &[("api_url", "u")],
            &[],
            &[("LEGACY_KEY", "legacy"), ("MY_KEY", "mine")],
            &[],
        )
        .unwrap();
        assert_eq!(c.get("api_key"), Some("mine"));
        assert_eq!(c.origin("api_key"), Some(Origin::Env("MY_KEY".into())));
        let c = resolve(
            &[("api_url", "u")],
            &[],
            &[("MY_KEY", "mine"), ("WACME_MY_DNS_API_KEY", "own")],
            &[],
        )
        .unwrap();
        assert_eq!(c.get("api_key"), Some("own"));
    }

    #[test]
    fn ungranted_aliases_are_not_read_and_are_reported() {
        let m = meta();
        let env: HashMap<&str, &str> = [
            ("MY_KEY", "stolen"),
            ("LEGACY_KEY_FILE", "/etc/shadow"),
            ("WACME_MY_DNS_API_URL", "https://own.example"),
        ]
        .into();
        let env_fn = |k: &str| env.get(k).map(|v| v.to_string());
        let read_fn = |_: &Path| -> std::io::Result<String> { panic!("no file may be read") };
        let resolve = |policy: &EnvPolicy| {
            Sources {
                cli: &[("api_key".to_string(), "given".to_string())],
                file: &BTreeMap::new(),
                env: &env_fn,
                policy,
                read_file: &read_fn,
            }
            .resolve(&m)
        };
        let c = resolve(&EnvPolicy::none()).unwrap();
        assert_eq!(c.get("api_key"), Some("given"));
        assert_eq!(
            c.get("api_url"),
            Some("https://own.example"),
            "own variable"
        );
        // Given on the command line, the key never looks at the environment.
        assert!(c.ignored().is_empty(), "{:?}", c.ignored());

        let c = Sources {
            cli: &[("api_url".to_string(), "u".to_string())],
            file: &BTreeMap::new(),
            env: &env_fn,
            policy: &EnvPolicy::none(),
            read_file: &read_fn,
        }
        .resolve(&m)
        .unwrap_err();
        let msg = c.to_string();
        assert!(
            msg.contains("$WACME_MY_DNS_API_KEY")
                && msg.contains("$MY_KEY, $LEGACY_KEY not read unless granted"),
            "{msg}"
        );
        assert!(!msg.contains("stolen"), "{msg}");

        let env_only = |policy: &EnvPolicy| {
            Sources {
                cli: &[("api_url".to_string(), "u".to_string())],
                file: &[("api_key".to_string(), "from-file".to_string())].into(),
                env: &env_fn,
                policy,
                read_file: &read_fn,
            }
            .resolve(&m)
            .unwrap()
        };
        let c = env_only(&EnvPolicy::none());
        assert_eq!(c.get("api_key"), Some("from-file"));
        let vars: Vec<&str> = c.ignored().iter().map(|i| i.var.as_str()).collect();
        assert_eq!(vars, ["MY_KEY", "LEGACY_KEY_FILE"]);
        assert!(
            c.ignored()[0]
                .to_string()
                .contains("wacme plugin grant my-dns MY_KEY")
        );
    }

    #[test]
    fn own_variables_that_are_wacmes_are_not_read() {
        let mut m = meta();
        m.name = "eab".into();
        m.config = vec![ConfigField {
            name: "hmac_key".into(),
            description: String::new(),
            required: false,
            secret: false,
            default: None,
            env_aliases: vec![],
        }];
        let policy = crate::plugins::grants::GrantFile::in_memory().policy(&m, "sha");
        let env = |k: &str| (k == "WACME_EAB_HMAC_KEY").then(|| "account-binding-key".to_string());
        let read = |_: &Path| -> std::io::Result<String> { unreachable!() };
        let c = Sources {
            cli: &[],
            file: &BTreeMap::new(),
            env: &env,
            policy: &policy,
            read_file: &read,
        }
        .resolve(&m)
        .unwrap();
        assert_eq!(c.get("hmac_key"), None);
        assert_eq!(c.ignored()[0].var, "WACME_EAB_HMAC_KEY");
    }

    #[test]
    fn file_variables_are_read_and_trimmed() {
        let c = resolve(
            &[("api_url", "u")],
            &[],
            &[("MY_KEY_FILE", "/run/secrets/key")],
            &[("/run/secrets/key", "s3cret\n")],
        )
        .unwrap();
        assert_eq!(c.get("api_key"), Some("s3cret"));
        assert_eq!(
            c.origin("api_key"),
            Some(Origin::EnvFile("MY_KEY_FILE".into()))
        );
        let err = resolve(&[("api_url", "u")], &[], &[("MY_KEY_FILE", "/nope")], &[]).unwrap_err();
        assert!(
            err.to_string().contains("/nope") && err.to_string().contains("MY_KEY_FILE"),
            "{err}"
        );
    }

    #[test]
    fn dashes_and_underscores_are_the_same_key() {
        let c = resolve(&[("api-url", "u"), ("API_KEY", "k")], &[], &[], &[]).unwrap();
        assert_eq!(c.get("api_url"), Some("u"));
        assert_eq!(c.get("api_key"), Some("k"));
    }

    #[test]
    fn later_cli_pair_wins() {
        let c = resolve(
            &[("api_url", "a"), ("api_url", "b"), ("api_key", "k")],
            &[],
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(c.get("api_url"), Some("b"));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = resolve(&[("api_kye", "x")], &[], &[], &[]).unwrap_err();
        assert!(matches!(&err, ConfigError::UnknownKey { key, .. } if key == "api_kye"));
        assert!(
            err.to_string().contains("api_url, api_key, server_id, ttl"),
            "{err}"
        );
        let err = resolve(&[], &[("zone_id", "x")], &[], &[]).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::UnknownKey {
                origin: Origin::File,
                ..
            }
        ));
    }

    #[test]
    fn missing_required_names_every_way_to_set_it() {
        let err = resolve(&[("api_url", "u")], &[], &[], &[]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`api_key`"), "{msg}");
        assert!(
            msg.contains("$WACME_MY_DNS_API_KEY")
                && msg.contains("$MY_KEY")
                && msg.contains("$LEGACY_KEY"),
            "{msg}"
        );
        // An empty value counts as missing.
        assert!(resolve(&[("api_url", ""), ("api_key", "k")], &[], &[], &[]).is_err());
    }

    #[test]
    fn only_declared_keys_reach_the_plugin_and_secrets_are_known() {
        let c = resolve(
            &[("api_url", "u"), ("api_key", "k")],
            &[],
            &[("WACME_MY_DNS_OTHER", "x")],
            &[],
        )
        .unwrap();
        let keys: Vec<String> = c.pairs().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["api_key", "api_url", "server_id"]);
        assert_eq!(c.secrets(), ["k"]);
    }

    #[test]
    fn pairs_parse() {
        assert_eq!(parse_pair("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(parse_pair("a=").unwrap(), ("a".into(), "".into()));
        assert!(parse_pair("novalue").is_err());
        assert!(parse_pair("=v").is_err());
    }
}
