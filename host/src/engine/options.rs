//! What an operation is configured with, as plain data: how to reach a CA
//! ([`CaOptions`]), which plugin to run under which limits
//! ([`PluginOptions`]), which challenge answers an order ([`ChallengeKind`])
//! and how challenge records are placed and checked ([`DnsOptions`]). The command line fills these from flags; the config
//! file's entries and defaults fill in what flags leave open
//! (`with_defaults`).

use crate::dns01::dns::DnsConfig;
use crate::dns01::propagation::Mode;
use crate::dns01::solver::SolverOptions;
use crate::dns01::zone::ZoneFinder;
use crate::error::InputError;
use crate::plugins::config::parse_pair;
use crate::plugins::{Plugin, ResolvedConfig, Runtime, Session};
use crate::workspace::config::{CertEntry, ConfigFile, Defaults};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Well-known ACME directories by short name.
pub const DIRECTORY_SHORTCUTS: [(&str, &str); 5] = [
    (
        "letsencrypt",
        "https://acme-v02.api.letsencrypt.org/directory",
    ),
    (
        "letsencrypt-staging",
        "https://acme-staging-v02.api.letsencrypt.org/directory",
    ),
    ("zerossl", "https://acme.zerossl.com/v2/DV90"),
    ("google", "https://dv.acme-v02.api.pki.goog/directory"),
    (
        "google-staging",
        "https://dv.acme-v02.test-api.pki.goog/directory",
    ),
];

/// The directory URL for a shortcut name, or `text` itself.
pub fn directory_url(text: &str) -> Result<String, InputError> {
    let text = text.trim();
    if let Some((_, url)) = DIRECTORY_SHORTCUTS.iter().find(|(n, _)| *n == text) {
        return Ok(url.to_string());
    }
    if text.contains("://") {
        return Ok(text.to_string());
    }
    let names: Vec<&str> = DIRECTORY_SHORTCUTS.iter().map(|(n, _)| *n).collect();
    Err(InputError(format!(
        "--directory {text:?} is neither a URL nor one of {}",
        names.join(", ")
    )))
}

/// How to reach a CA.
#[derive(Debug, Clone, Default)]
pub struct CaOptions {
    /// A directory URL or shortcut name ([`DIRECTORY_SHORTCUTS`]).
    pub directory: Option<String>,
    /// Extra trust roots (PEM files) for the CA's HTTPS endpoint.
    pub ca_cert: Vec<PathBuf>,
}

impl CaOptions {
    /// Fills what was not given from the config file's defaults.
    pub fn with_defaults(mut self, config: &ConfigFile) -> CaOptions {
        if self.directory.is_none() {
            self.directory = config.defaults.directory.clone();
        }
        if self.ca_cert.is_empty() {
            self.ca_cert = config.defaults.ca_cert.clone();
        }
        self
    }

    /// The directory URL (shortcuts expanded).
    pub fn url(&self) -> Result<String, InputError> {
        match &self.directory {
            Some(d) => directory_url(d),
            None => Err(InputError(
                "no ACME directory: pass --directory (e.g. letsencrypt-staging) or set it in the config file".into(),
            )),
        }
    }
}

/// Finding, limiting and configuring plugins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginOptions {
    /// Searched first for plugins by name.
    pub plugin_dirs: Vec<PathBuf>,
    /// Narrows the origins a plugin may reach.
    pub plugin_allow: Vec<String>,
    /// Wall-clock limit for one plugin call, in seconds.
    pub plugin_timeout: u64,
    /// Memory limit for a plugin instance, in MiB.
    pub plugin_memory: usize,
    /// Compile plugins in memory every time.
    pub no_plugin_cache: bool,
}

impl Default for PluginOptions {
    fn default() -> Self {
        PluginOptions {
            plugin_dirs: Vec::new(),
            plugin_allow: Vec::new(),
            plugin_timeout: 60,
            plugin_memory: 64,
            no_plugin_cache: false,
        }
    }
}

/// Which challenge type answers an order's authorizations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ChallengeKind {
    /// dns-persist-01 when the CA offers it and the zone already serves a
    /// record that authorizes the account; dns-01 through the plugin
    /// otherwise.
    #[default]
    Auto,
    /// dns-01 through the plugin, always.
    Dns01,
    /// dns-persist-01 only: the standing record is checked, no plugin is
    /// loaded, nothing is published or removed.
    DnsPersist01,
}

impl ChallengeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeKind::Auto => "auto",
            ChallengeKind::Dns01 => "dns-01",
            ChallengeKind::DnsPersist01 => "dns-persist-01",
        }
    }
}

impl std::fmt::Display for ChallengeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ChallengeKind {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, InputError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(ChallengeKind::Auto),
            "dns-01" => Ok(ChallengeKind::Dns01),
            "dns-persist-01" => Ok(ChallengeKind::DnsPersist01),
            other => Err(InputError(format!(
                "unknown challenge {other:?}: use dns-01, dns-persist-01 or auto"
            ))),
        }
    }
}

/// How challenge records are placed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsOptions {
    /// The challenge type (default: auto).
    pub challenge: Option<ChallengeKind>,
    /// The plugin: a name or a path to a .wasm file.
    pub plugin: Option<String>,
    /// `key=value` plugin config pairs.
    pub config: Vec<String>,
    /// `authoritative` (default), `recursive`, `wait:<duration>`, `none`.
    pub propagation: Option<String>,
    /// Deadline of the propagation check (default 120 s).
    pub propagation_timeout: Option<String>,
    /// Recursive resolvers (`ip` or `ip:port`); default /etc/resolv.conf.
    pub resolvers: Vec<String>,
    /// Port the zone's nameservers answer on.
    pub dns_port: Option<u16>,
    /// The zone, instead of finding it by SOA.
    pub dns_zone: Option<String>,
    /// Do not follow a CNAME on `_acme-challenge.<name>`.
    pub no_follow_cname: bool,
    /// Skip the check after cleanup (providers that cannot delete).
    pub no_cleanup_check: bool,
    /// One plugin call per name, never through the plugin's batch exports.
    pub no_dns_batch: bool,
    /// TTL of the challenge records (default: the plugin's).
    pub dns_ttl: Option<u32>,
    /// Plugin calls in flight at once.
    pub dns_concurrency: usize,
    pub plugins: PluginOptions,
}

impl Default for DnsOptions {
    fn default() -> Self {
        DnsOptions {
            challenge: None,
            plugin: None,
            config: Vec::new(),
            propagation: None,
            propagation_timeout: None,
            resolvers: Vec::new(),
            dns_port: None,
            dns_zone: None,
            no_follow_cname: false,
            no_cleanup_check: false,
            no_dns_batch: false,
            dns_ttl: None,
            dns_concurrency: 8,
            plugins: PluginOptions::default(),
        }
    }
}

/// The CA request rates: the built-in defaults with the config file's
/// `ca_rate_limits` applied.
pub fn rate_limits(defaults: &Defaults) -> Result<crate::acme::RateLimits, InputError> {
    let mut limits = crate::acme::RateLimits::default();
    for (name, text) in &defaults.ca_rate_limits {
        let rate = text
            .parse()
            .map_err(|e| InputError(format!("ca_rate_limits.{name}: {e}")))?;
        limits
            .set(name, rate)
            .map_err(|e| InputError(format!("ca_rate_limits: {e}")))?;
    }
    Ok(limits)
}

/// The DNS side of an issuance, checked and loaded.
pub struct DnsSetup {
    /// The plugin, loaded unless the challenge is dns-persist-01.
    pub plugin: Option<PluginSetup>,
    pub challenge: ChallengeKind,
    pub dns: DnsConfig,
    pub zones: ZoneFinder,
    pub options: SolverOptions,
    pub plugin_load: PluginLoad,
}

/// What getting the plugin ready cost one certificate.
#[derive(Debug, Clone, Copy, Default)]
pub struct PluginLoad {
    /// Waiting for it: nothing when a certificate before this one loaded it,
    /// seconds when it had to be compiled.
    pub waited: Duration,
    /// Compiling it, when this certificate's setup did (the compiled-plugin
    /// cache had no entry).
    pub compiled: Option<Duration>,
}

/// A loaded plugin with its resolved config and session.
pub struct PluginSetup {
    pub runtime: Runtime,
    pub plugin: Plugin,
    pub config: ResolvedConfig,
    pub session: Session,
}

impl DnsOptions {
    /// A config file entry's `challenge`, checked.
    pub fn entry_challenge(entry: Option<&CertEntry>) -> Result<Option<ChallengeKind>, InputError> {
        entry
            .and_then(|e| e.challenge.as_deref())
            .map(|c| {
                c.parse()
                    .map_err(|e: InputError| InputError(format!("config file: challenge: {}", e.0)))
            })
            .transpose()
    }

    /// The challenge type asked for (auto when none was).
    pub fn challenge(&self) -> ChallengeKind {
        self.challenge.unwrap_or_default()
    }

    /// The plugin argument, required.
    pub fn plugin_arg(&self) -> Result<&str, InputError> {
        self.plugin.as_deref().ok_or_else(|| {
            InputError(
                "no DNS provider plugin: pass --dns <plugin> (see `wacme plugin list`) or name the certificate in the config file".into(),
            )
        })
    }

    /// Fills what was not given from a config file entry, then the file's
    /// defaults. The entry's `challenge` must be valid
    /// ([`DnsOptions::entry_challenge`]); one that is not is left out here.
    pub fn with_defaults(mut self, entry: Option<&CertEntry>, defaults: &Defaults) -> DnsOptions {
        if let Some(e) = entry {
            if self.challenge.is_none() {
                self.challenge = DnsOptions::entry_challenge(Some(e)).ok().flatten();
            }
            self.plugin = self.plugin.or_else(|| Some(e.dns.clone()));
            self.propagation = self.propagation.or_else(|| e.propagation.clone());
            self.propagation_timeout = self
                .propagation_timeout
                .or_else(|| e.propagation_timeout.clone());
            if self.resolvers.is_empty() {
                self.resolvers = e.resolvers.clone();
            }
            self.dns_port = self.dns_port.or(e.dns_port);
            self.dns_zone = self.dns_zone.or_else(|| e.dns_zone.clone());
            self.dns_ttl = self.dns_ttl.or(e.dns_ttl);
            self.no_cleanup_check |= e.cleanup_check == Some(false);
            if let Some(batch) = e.dns_batch {
                self.no_dns_batch |= !batch;
            }
        }
        if entry.and_then(|e| e.dns_batch).is_none() {
            self.no_dns_batch |= defaults.dns_batch == Some(false);
        }
        self.propagation = self.propagation.or_else(|| defaults.propagation.clone());
        self.propagation_timeout = self
            .propagation_timeout
            .or_else(|| defaults.propagation_timeout.clone());
        if self.resolvers.is_empty() {
            self.resolvers = defaults.resolvers.clone();
        }
        self.dns_port = self.dns_port.or(defaults.dns_port);
        if self.plugins.plugin_dirs.is_empty() {
            self.plugins.plugin_dirs = defaults.plugin_dirs.clone();
        }
        self
    }

    /// The propagation mode and deadline.
    pub fn propagation(&self) -> Result<(Mode, Duration), InputError> {
        let mode: Mode = match &self.propagation {
            Some(p) => p.parse().map_err(InputError)?,
            None => Mode::Authoritative,
        };
        let timeout = match &self.propagation_timeout {
            Some(t) => crate::duration::parse(t)
                .map_err(|e| InputError(format!("--propagation-timeout: {e}")))?,
            None => Duration::from_secs(120),
        };
        Ok((mode, timeout))
    }

    /// The resolvers and nameserver port, checked.
    pub fn dns_config(&self) -> Result<DnsConfig, InputError> {
        let dns = DnsConfig::new(&self.resolvers, self.dns_port).map_err(InputError)?;
        if dns.resolvers.is_empty() {
            return Err(InputError(
                "no DNS resolvers: none in /etc/resolv.conf; pass --dns-resolver".into(),
            ));
        }
        Ok(dns)
    }

    /// The `key=value` config pairs, parsed.
    pub fn config_pairs(&self) -> Result<Vec<(String, String)>, crate::plugins::ConfigError> {
        self.config.iter().map(|p| parse_pair(p)).collect()
    }
}

impl DnsSetup {
    /// Loads the plugin (none for dns-persist-01: it needs no DNS
    /// credentials), resolves its config (`file_config` is the config
    /// file's layer) and the resolvers: everything local, before any
    /// network call.
    pub async fn new(
        engine: &super::Engine,
        options: &DnsOptions,
        file_config: &BTreeMap<String, String>,
    ) -> anyhow::Result<DnsSetup> {
        let challenge = options.challenge();
        let (propagation, propagation_timeout) = options.propagation()?;
        let dns = options.dns_config()?;
        let mut plugin_load = PluginLoad::default();
        let plugin = match challenge {
            ChallengeKind::DnsPersist01 => None,
            ChallengeKind::Auto | ChallengeKind::Dns01 => {
                let plugin_arg = options.plugin_arg()?;
                let pairs = options.config_pairs()?;
                let runtime = engine.runtime(&options.plugins)?;
                let waited = std::time::Instant::now();
                let (plugin, loaded_here) = engine
                    .load_plugin_once(&options.plugins, plugin_arg)
                    .await?;
                plugin_load = PluginLoad {
                    waited: waited.elapsed(),
                    compiled: loaded_here.then(|| plugin.load_times().compile).flatten(),
                };
                let config = engine.resolve_config(&plugin, &pairs, file_config)?;
                let mut session = plugin.session(&config, &options.plugins.plugin_allow)?;
                if options.no_dns_batch {
                    session = session.without_batches();
                }
                Some(PluginSetup {
                    runtime,
                    plugin,
                    config,
                    session,
                })
            }
        };
        let zones = ZoneFinder::new(
            dns.clone(),
            options.dns_zone.clone(),
            !options.no_follow_cname,
        );
        let solver = SolverOptions {
            propagation,
            propagation_timeout,
            cleanup_check: !options.no_cleanup_check,
            ttl: options.dns_ttl,
            concurrency: options.dns_concurrency.max(1),
            ..SolverOptions::default()
        };
        Ok(DnsSetup {
            plugin,
            challenge,
            dns,
            zones,
            options: solver,
            plugin_load,
        })
    }

    /// Non-secret config values the operator gave (`--dns-config`, the
    /// config file), kept in the journal and certificate metadata, and the
    /// names of secret ones (resolved again when needed). Values from the
    /// environment are not kept (it is read again, and wins again), nor are
    /// the plugin's defaults (a newer plugin's defaults apply on renewal).
    pub fn config_for_storage(&self) -> (BTreeMap<String, String>, Vec<String>) {
        use crate::plugins::config::Origin;
        let mut values = BTreeMap::new();
        let mut secrets = Vec::new();
        let Some(plugin) = &self.plugin else {
            return (values, secrets);
        };
        for (key, origin, secret) in plugin.config.describe() {
            if secret {
                secrets.push(key);
            } else if matches!(origin, Origin::Cli | Origin::File)
                && let Some(v) = plugin.config.get(&key)
            {
                values.insert(key, v.to_string());
            }
        }
        (values, secrets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_kinds_read_and_print() {
        for kind in [
            ChallengeKind::Auto,
            ChallengeKind::Dns01,
            ChallengeKind::DnsPersist01,
        ] {
            assert_eq!(kind.as_str().parse::<ChallengeKind>().unwrap(), kind);
        }
        assert_eq!(
            " DNS-Persist-01 ".parse::<ChallengeKind>().unwrap(),
            ChallengeKind::DnsPersist01
        );
        assert_eq!(ChallengeKind::default(), ChallengeKind::Auto);
        let err = "http-01".parse::<ChallengeKind>().unwrap_err();
        assert!(err.0.contains("dns-persist-01"), "{}", err.0);
    }

    #[test]
    fn directory_shortcuts_expand_and_urls_pass_through() {
        assert_eq!(
            directory_url("letsencrypt").unwrap(),
            "https://acme-v02.api.letsencrypt.org/directory"
        );
        assert_eq!(
            directory_url(" letsencrypt-staging ").unwrap(),
            "https://acme-staging-v02.api.letsencrypt.org/directory"
        );
        assert_eq!(
            directory_url("zerossl").unwrap(),
            "https://acme.zerossl.com/v2/DV90"
        );
        assert_eq!(
            directory_url("google").unwrap(),
            "https://dv.acme-v02.api.pki.goog/directory"
        );
        assert_eq!(
            directory_url("https://ca.test/dir").unwrap(),
            "https://ca.test/dir"
        );
        let err = directory_url("letsencrpyt").unwrap_err();
        assert!(err.to_string().contains("letsencrypt-staging"), "{err}");
    }

    #[test]
    fn dns_batch_comes_from_the_flag_then_the_entry_then_the_defaults() {
        let entry = |batch| CertEntry {
            dns_batch: batch,
            ..CertEntry::default()
        };
        let defaults = |batch| Defaults {
            dns_batch: batch,
            ..Defaults::default()
        };
        let off = |flag: bool, e: Option<bool>, d: Option<bool>| {
            DnsOptions {
                no_dns_batch: flag,
                ..DnsOptions::default()
            }
            .with_defaults(Some(&entry(e)), &defaults(d))
            .no_dns_batch
        };
        assert!(!off(false, None, None), "batching is on by default");
        assert!(off(false, None, Some(false)), "the file's default");
        assert!(off(false, Some(false), None), "the entry");
        assert!(!off(false, Some(true), Some(false)), "the entry wins");
        assert!(off(true, Some(true), Some(true)), "the flag wins");
        let no_entry = DnsOptions::default().with_defaults(None, &defaults(Some(false)));
        assert!(no_entry.no_dns_batch);
    }
}
