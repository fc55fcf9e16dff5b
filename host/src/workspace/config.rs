//! The config file, `wacme.toml`: defaults for every command and the
//! certificates `wacme renew --all` and `wacme issue --cert-name <n>` know.
//!
//! Found at `--config <path>` / `WACME_CONFIG`, else `wacme.toml` in the
//! platform config directory (`~/.config/wacme/wacme.toml` on Linux) when it
//! exists. Command-line flags and environment variables win over it.
//!
//! ```toml
//! [defaults]
//! directory = "letsencrypt"          # or a URL; see `--directory`
//! email = ["admin@example.com"]
//! agree_tos = true
//! state_dir = "/var/lib/wacme"
//! propagation = "authoritative"
//! propagation_timeout = "2m"
//!
//! [certificates."example.com"]
//! domains = ["example.com", "*.example.com"]
//! dns = "cloudflare"
//! deploy_hook = "systemctl reload nginx"
//! [certificates."example.com".dns_config]
//! api_token = "env:CF_API_TOKEN"     # or "file:/etc/wacme/cf-token"
//! ```
//!
//! Unknown keys are errors that name the file, line and column.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file name looked for in the platform config directory.
pub const FILE_NAME: &str = "wacme.toml";

/// A parsed config file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default)]
    pub certificates: BTreeMap<String, CertEntry>,
    /// Where it was read from (`None`: no file).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// Defaults for every command.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// ACME directory: a URL or a shortcut (`letsencrypt`, …).
    pub directory: Option<String>,
    #[serde(default)]
    pub email: Vec<String>,
    pub agree_tos: Option<bool>,
    pub state_dir: Option<PathBuf>,
    /// Extra trusted roots for the CA's HTTPS endpoint.
    #[serde(default)]
    pub ca_cert: Vec<PathBuf>,
    #[serde(default)]
    pub plugin_dirs: Vec<PathBuf>,
    pub key_type: Option<String>,
    pub propagation: Option<String>,
    pub propagation_timeout: Option<String>,
    #[serde(default)]
    pub resolvers: Vec<String>,
    pub dns_port: Option<u16>,
    /// `false`: one plugin call per name, never through a plugin's batch
    /// exports (for every certificate; an entry's own `dns_batch` wins).
    pub dns_batch: Option<bool>,
    pub deploy_hook: Option<String>,
    /// Request rates to the CA per kind of endpoint (`new_order = "20/s
    /// burst 10"`, …), replacing the built-in defaults.
    #[serde(default)]
    pub ca_rate_limits: BTreeMap<String, String>,
}

/// One `[certificates.<name>]` entry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CertEntry {
    pub domains: Vec<String>,
    /// The DNS provider plugin (name or path).
    pub dns: String,
    /// Plugin config; a value `env:VAR` is read from the environment,
    /// `file:/path` from a file (trailing newline dropped).
    #[serde(default)]
    pub dns_config: BTreeMap<String, String>,
    pub directory: Option<String>,
    pub key_type: Option<String>,
    pub deploy_hook: Option<String>,
    pub propagation: Option<String>,
    pub propagation_timeout: Option<String>,
    #[serde(default)]
    pub resolvers: Vec<String>,
    pub dns_port: Option<u16>,
    pub dns_zone: Option<String>,
    pub dns_ttl: Option<u32>,
    /// `false`: no check on the nameservers after cleanup (providers that
    /// cannot delete, such as acme-dns).
    pub cleanup_check: Option<bool>,
    /// `false`: one plugin call per name, never through the plugin's batch
    /// exports (a provider whose batch endpoint misbehaves).
    pub dns_batch: Option<bool>,
    pub preferred_chain: Option<String>,
    pub profile: Option<String>,
    /// The challenge type: `dns-01`, `dns-persist-01` or `auto` (checked
    /// when the entry is used).
    pub challenge: Option<String>,
}

/// Why the config file could not be used (exit code 3).
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}, line {line}, column {column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("config file {path}: [certificates.{cert}] dns_config.{key}: {reason}")]
    Secret {
        path: PathBuf,
        cert: String,
        key: String,
        reason: String,
    },
    #[error("config file {path}: [certificates.{cert}]: {reason}")]
    Entry {
        path: PathBuf,
        cert: String,
        reason: String,
    },
}

impl ConfigFile {
    /// The config file named by `explicit` (which must exist), else the
    /// platform default when it exists, else an empty config.
    pub fn load(explicit: Option<&Path>) -> Result<ConfigFile, ConfigFileError> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match default_path() {
                Some(p) if p.exists() => p,
                _ => return Ok(ConfigFile::default()),
            },
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigFileError::Read {
            path: path.clone(),
            source,
        })?;
        Self::parse(&text, &path)
    }

    /// Parses `text` (read from `path`, for messages).
    pub fn parse(text: &str, path: &Path) -> Result<ConfigFile, ConfigFileError> {
        let parsed = match in_sections(text) {
            Some(config) => Ok(config),
            None => toml::from_str(text),
        };
        let mut config: ConfigFile = parsed.map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((0, 0));
            ConfigFileError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        for (name, entry) in &config.certificates {
            super::certs::validate_name(name).map_err(|e| ConfigFileError::Entry {
                path: path.to_path_buf(),
                cert: name.clone(),
                reason: e.to_string(),
            })?;
            if entry.domains.is_empty() {
                return Err(ConfigFileError::Entry {
                    path: path.to_path_buf(),
                    cert: name.clone(),
                    reason: "`domains` is empty".into(),
                });
            }
        }
        config.path = Some(path.to_path_buf());
        Ok(config)
    }

    /// The entry for certificate `name`, if any.
    pub fn certificate(&self, name: &str) -> Option<&CertEntry> {
        self.certificates.get(name)
    }

    /// The plugin config of certificate `name` with `env:` and `file:`
    /// references resolved: the config-file layer of plugin config
    /// resolution. Empty when the file has no such entry.
    pub fn plugin_config(&self, name: &str) -> Result<BTreeMap<String, String>, ConfigFileError> {
        self.plugin_config_except(name, |_| false)
    }

    /// [`ConfigFile::plugin_config`] without the keys `given` elsewhere
    /// (their references are not resolved, so a value given on the command
    /// line replaces one whose file or variable is gone).
    pub fn plugin_config_except(
        &self,
        name: &str,
        given: impl Fn(&str) -> bool,
    ) -> Result<BTreeMap<String, String>, ConfigFileError> {
        let Some(entry) = self.certificates.get(name) else {
            return Ok(BTreeMap::new());
        };
        let path = self.path.clone().unwrap_or_default();
        entry
            .dns_config
            .iter()
            .filter(|(key, _)| !given(key))
            .map(|(key, value)| {
                resolve_reference(value)
                    .map(|v| (key.clone(), v))
                    .map_err(|reason| ConfigFileError::Secret {
                        path: path.clone(),
                        cert: name.to_string(),
                        key: key.clone(),
                        reason,
                    })
            })
            .collect()
    }
}

/// One section-parsed piece of a large file: the same shape as the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Piece {
    defaults: Option<Defaults>,
    #[serde(default)]
    certificates: BTreeMap<String, CertEntry>,
}

/// A file over [`super::config_sections::SECTIONS_AT`] bytes parsed in
/// sections, when that gives what parsing it whole would: `None` for a
/// small file, a piece that does not parse, `defaults` in two pieces or a
/// certificate in two (the caller then parses the whole file).
fn in_sections(text: &str) -> Option<ConfigFile> {
    use super::config_sections::{SECTIONS_AT, parse};
    if text.len() <= SECTIONS_AT {
        return None;
    }
    let mut config = ConfigFile::default();
    let mut defaults = false;
    for piece in parse::<Piece>(text, SECTIONS_AT)? {
        if let Some(d) = piece.defaults {
            if std::mem::replace(&mut defaults, true) {
                return None;
            }
            config.defaults = d;
        }
        for (name, entry) in piece.certificates {
            if config.certificates.insert(name, entry).is_some() {
                return None;
            }
        }
    }
    Some(config)
}

/// Plugin config values of `[certificates.<name>]` written literally (not
/// `env:` / `file:`) in a config file other users may read: the file and
/// those keys, else `None`. The caller warns when one of them is secret.
pub fn exposed_literals(config: &ConfigFile, name: &str) -> Option<(PathBuf, Vec<String>)> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = config.path.clone()?;
    let entry = config.certificates.get(name)?;
    let mode = std::fs::metadata(&path).ok()?.permissions().mode();
    if mode & 0o077 == 0 {
        return None;
    }
    let keys: Vec<String> = entry
        .dns_config
        .iter()
        .filter(|(_, v)| !v.starts_with("env:") && !v.starts_with("file:"))
        .map(|(k, _)| k.clone())
        .collect();
    (!keys.is_empty()).then_some((path, keys))
}

/// `env:VAR` → the variable's value; `file:/path` → the file's contents
/// without a trailing newline; anything else is the value itself.
pub fn resolve_reference(value: &str) -> Result<String, String> {
    if let Some(var) = value.strip_prefix("env:") {
        return std::env::var(var).map_err(|_| format!("environment variable {var} is not set"));
    }
    if let Some(file) = value.strip_prefix("file:") {
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        return Ok(text.trim_end_matches(['\r', '\n']).to_string());
    }
    Ok(value.to_string())
}

/// `wacme.toml` in the platform config directory.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "wacme").map(|d| d.config_dir().join(FILE_NAME))
}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[defaults]
directory = "letsencrypt-staging"
email = ["admin@example.com"]
agree_tos = true
propagation_timeout = "2m"

[certificates."example.com"]
domains = ["example.com", "*.example.com"]
dns = "pdns"
deploy_hook = "true"
[certificates."example.com".dns_config]
api_url = "http://127.0.0.1:8081"
api_key = "env:WACME_CONFIG_TEST_KEY"
"#;

    #[test]
    fn a_large_file_read_in_sections_falls_back_where_sections_cannot_answer() {
        let mut base = String::from("[defaults]\nemail = [\"a@example.test\"]\n");
        for i in 0..3000 {
            base.push_str(&format!(
                "\n[certificates.s{i}]\ndomains = [\"s{i}.example.test\"]\ndns = \"pdns\"\n"
            ));
        }
        let whole = |text: &str| toml::from_str::<ConfigFile>(text);
        assert_eq!(in_sections(&base).unwrap(), whole(&base).unwrap());
        // A sub-table after other certificates: valid TOML, not one piece's.
        let continued = format!("{base}\n[certificates.s5.dns_config]\nk = \"v\"\n");
        assert!(in_sections(&continued).is_none());
        let c = ConfigFile::parse(&continued, Path::new("w.toml")).unwrap();
        assert_eq!(c.certificates["s5"].dns_config["k"], "v");
        // `defaults` continued at the end.
        let split = format!("{base}\n[defaults.ca_rate_limits]\nother = \"5/s\"\n");
        assert!(in_sections(&split).is_none());
        let c = ConfigFile::parse(&split, Path::new("w.toml")).unwrap();
        assert_eq!(c.defaults.ca_rate_limits["other"], "5/s");
        assert_eq!(c.defaults.email, ["a@example.test"]);
        // A certificate defined twice: TOML's error, with its line.
        let twice = format!("{base}\n[certificates.s5]\ndomains = [\"x\"]\ndns = \"p\"\n");
        assert!(in_sections(&twice).is_none());
        assert!(whole(&twice).is_err());
        assert!(matches!(
            ConfigFile::parse(&twice, Path::new("w.toml")),
            Err(ConfigFileError::Parse { .. })
        ));
        // A small file is never cut.
        assert!(in_sections(GOOD).is_none());
    }

    #[test]
    fn a_large_file_reads_the_same_and_fails_the_same() {
        let mut text = GOOD.to_string();
        for i in 0..2000 {
            text.push_str(&format!(
                "\n[certificates.s{i}]\ndomains = [\"s{i}.example.test\"]\ndns = \"pdns\"\n\
                 dns_config = {{ api_url = \"http://127.0.0.1:8081\" }}\n"
            ));
        }
        assert!(text.len() > 2 * super::super::config_sections::SECTIONS_AT);
        let c = ConfigFile::parse(&text, Path::new("w.toml")).unwrap();
        let whole: ConfigFile = toml::from_str(&text).unwrap();
        assert_eq!(c.certificates, whole.certificates);
        assert_eq!(c.defaults, whole.defaults);
        assert_eq!(c.certificates.len(), 2001);
        // An error far down names its line, as for a small file.
        let bad = format!("{text}\n[certificates.s7]\ndomains = [\"x\"]\ndns = \"p\"\n");
        let line = bad.lines().count() - 2;
        let err = ConfigFile::parse(&bad, Path::new("w.toml")).unwrap_err();
        assert!(
            matches!(err, ConfigFileError::Parse { line: l, .. } if l == line),
            "{err}"
        );
    }

    #[test]
    fn parses_defaults_and_certificates() {
        let c = ConfigFile::parse(GOOD, Path::new("w.toml")).unwrap();
        assert_eq!(c.defaults.directory.as_deref(), Some("letsencrypt-staging"));
        assert_eq!(c.defaults.agree_tos, Some(true));
        let e = c.certificate("example.com").unwrap();
        assert_eq!(e.domains, ["example.com", "*.example.com"]);
        assert_eq!(e.dns, "pdns");
        assert_eq!(e.dns_config["api_key"], "env:WACME_CONFIG_TEST_KEY");
    }

    #[test]
    fn unknown_keys_name_their_line() {
        let bad = GOOD.replace("dns = \"pdns\"", "dns = \"pdns\"\ndns_plugin = \"x\"");
        let err = ConfigFile::parse(&bad, Path::new("w.toml")).unwrap_err();
        let ConfigFileError::Parse { line, message, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(*line, 11, "{err}");
        assert!(message.contains("dns_plugin"), "{message}");
        let err = ConfigFile::parse("[defaults]\nemial = []\n", Path::new("w.toml")).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = ConfigFile::parse("[default]\n", Path::new("w.toml")).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn references_resolve_from_env_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "from-file\n").unwrap();
        assert_eq!(
            resolve_reference(&format!("file:{}", file.display())).unwrap(),
            "from-file"
        );
        assert_eq!(resolve_reference("plain").unwrap(), "plain");
        assert!(
            resolve_reference("env:WACME_SURELY_UNSET_VARIABLE")
                .unwrap_err()
                .contains("WACME_SURELY_UNSET_VARIABLE")
        );
        let c = ConfigFile::parse(GOOD, Path::new("w.toml")).unwrap();
        let err = c.plugin_config("example.com").unwrap_err();
        assert!(err.to_string().contains("api_key"), "{err}");
        assert!(c.plugin_config("other").unwrap().is_empty());
    }

    #[test]
    fn empty_domains_are_rejected() {
        let err = ConfigFile::parse(
            "[certificates.a]\ndomains = []\ndns = \"pdns\"\n",
            Path::new("w.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("domains"), "{err}");
    }
}
