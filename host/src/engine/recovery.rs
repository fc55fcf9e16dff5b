//! Recovery after a crash: removing the challenge records that runs which
//! crashed or were killed left behind, as their journal entries recorded.
//! `wacme cleanup` runs it; `wacme issue` and `wacme renew` run it first,
//! before publishing anything new.
//!
//! The plugin session is rebuilt from the entry: the component it recorded
//! (else the plugin by name, in the folders it recorded and those given
//! now), its non-secret config, and the secrets resolved again — from
//! `--dns-config` given now, the environment, and the config file (the one
//! given now, else the one the run read) through its `env:`/`file:`
//! references. Then the zone's nameservers are asked: an entry is done only
//! when its values are gone (or, where the run's propagation mode cannot
//! tell, when the plugin removed them without error).

use super::Engine;
use super::options::PluginOptions;
use crate::dns01::dns::DnsConfig;
use crate::dns01::journal::{Entry, Journal, JournalDns, Stale};
use crate::dns01::propagation::{self, Expectation, Mode, PropagationError, Status};
use crate::dns01::solver::Interrupt;
use crate::dns01::solver::{CLEANUP_RETRIES, Residue, call_with_retries};
use crate::dns01::zone::ZoneFinder;
use crate::plugins::TxtSet;
use crate::workspace::config::ConfigFile;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a cleanup may use besides the journal entries.
#[derive(Debug, Clone)]
pub struct RecoveryOptions {
    /// Plugin limits, and folders searched besides the entry's own.
    pub plugins: PluginOptions,
    /// `--dns-config` pairs given now (secrets); they win over the
    /// journaled values.
    pub config: Vec<(String, String)>,
    /// The config file given now; else the one the entry names is read.
    pub config_file: Option<ConfigFile>,
    /// How long removed values may take to disappear from the nameservers.
    pub check_timeout: Duration,
}

impl Default for RecoveryOptions {
    fn default() -> Self {
        RecoveryOptions {
            plugins: PluginOptions::default(),
            config: Vec::new(),
            config_file: None,
            check_timeout: Duration::from_secs(30),
        }
    }
}

/// What one cleanup pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CleanupReport {
    /// Journal entries whose records are gone now.
    pub cleaned: Vec<CleanedEntry>,
    /// Entries that could not be cleaned (kept for the next try).
    pub failed: Vec<FailedEntry>,
}

impl CleanupReport {
    pub fn is_empty(&self) -> bool {
        self.cleaned.is_empty() && self.failed.is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CleanedEntry {
    pub journal: String,
    pub plugin: String,
    pub names: Vec<String>,
    /// Whether the nameservers confirmed the values are gone.
    pub verified: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailedEntry {
    pub journal: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub plugin: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    pub error: String,
    /// Values still served, per nameserver.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<Residue>,
}

/// Cleans every stale journal entry; failures are reported, not fatal, and
/// logged as warnings when `warn`. When `interrupt` fires, the entry being
/// cleaned and those not reached yet stay for the next run.
pub async fn clean_stale(
    engine: &Engine,
    journal: &Journal,
    options: &RecoveryOptions,
    warn: bool,
    interrupt: &Interrupt,
) -> CleanupReport {
    let (stale, broken) = journal.stale();
    let mut report = CleanupReport::default();
    for (path, reason) in broken {
        report.failed.push(FailedEntry {
            journal: path.display().to_string(),
            plugin: String::new(),
            names: Vec::new(),
            error: format!("unreadable: {reason}"),
            left: Vec::new(),
        });
    }
    for entry in stale {
        let journal_path = entry.path.display().to_string();
        let plugin = entry.entry.plugin.clone();
        let names: Vec<String> = entry.entry.sets.iter().map(|s| s.fqdn.clone()).collect();
        let cleaned = tokio::select! {
            cleaned = clean_entry(engine, &entry, options) => cleaned,
            () = interrupt.fired() => Err(("interrupted; the entry stays for the next run".to_string(), Vec::new())),
        };
        match cleaned {
            Ok(verified) => {
                tracing::info!("removed records left by an earlier run ({journal_path})");
                if let Err(e) = entry.complete() {
                    tracing::warn!("cannot remove {journal_path}: {e}");
                }
                report.cleaned.push(CleanedEntry {
                    journal: journal_path,
                    plugin,
                    names,
                    verified,
                });
            }
            Err((error, left)) => {
                if warn {
                    tracing::warn!(
                        "records left by an earlier run could not be removed ({journal_path}): {error}"
                    );
                }
                report.failed.push(FailedEntry {
                    journal: journal_path,
                    plugin,
                    names,
                    error,
                    left,
                });
            }
        }
    }
    report
}

/// Removes one entry's values. `Ok(verified)` when they are gone;
/// otherwise why, and what the nameservers still serve.
async fn clean_entry(
    engine: &Engine,
    stale: &Stale,
    options: &RecoveryOptions,
) -> Result<bool, (String, Vec<Residue>)> {
    let entry = &stale.entry;
    let sets: Vec<TxtSet> = entry.sets.iter().map(TxtSet::from).collect();
    let removed = remove(engine, entry, &sets, options).await;
    let Some(dns) = entry.dns.as_ref().and_then(check_settings) else {
        return removed.map(|()| false).map_err(|e| (e, Vec::new()));
    };
    // After a plugin error the values are probably still there: one look,
    // no waiting.
    let timeout = match removed {
        Ok(()) => options.check_timeout,
        Err(_) => dns.query_timeout,
    };
    match gone(&dns, &sets, timeout).await {
        Ok(true) => Ok(true),
        // Nobody could be asked: the plugin's word is all there is.
        Ok(false) => removed.map(|()| false).map_err(|e| (e, Vec::new())),
        Err(left) => {
            let served = left
                .iter()
                .map(Residue::still_served)
                .collect::<Vec<_>>()
                .join("; ");
            let error = match removed {
                Err(e) => format!("{e}; {served}"),
                Ok(()) => format!("the plugin reported success, but {served}"),
            };
            Err((error, left))
        }
    }
}

/// Rebuilds the plugin session and removes every set's values.
async fn remove(
    engine: &Engine,
    entry: &Entry,
    sets: &[TxtSet],
    options: &RecoveryOptions,
) -> Result<(), String> {
    let mut plugins = options.plugins.clone();
    plugins
        .plugin_dirs
        .extend(entry.plugin_dirs.iter().map(PathBuf::from));
    let arg = entry
        .plugin_path
        .as_deref()
        .filter(|p| Path::new(p).is_file())
        .unwrap_or(&entry.plugin);
    let plugin = engine
        .load_plugin(&plugins, arg)
        .await
        .map_err(|e| e.to_string())?;
    if plugin.sha256() != entry.plugin_sha256 {
        tracing::info!(
            "plugin {} changed since the records were presented; cleaning with the current one",
            entry.plugin
        );
    }
    let file_layer = file_layer(entry, options)?;
    let mut pairs: Vec<(String, String)> = entry
        .config
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    pairs.extend(options.config.iter().cloned());
    let config = engine
        .resolve_config(&plugin, &pairs, &file_layer)
        .map_err(|e| {
            format!(
                "{e} (secret values are not journaled: give them with --dns-config, the \
                 environment, or the config file's env:/file: references, as for `wacme issue`)"
            )
        })?;
    let session = plugin
        .session(&config, &entry.plugin_allow)
        .map_err(|e| e.to_string())?;
    let results = futures::future::join_all(sets.iter().map(|set| {
        let session = session.clone();
        async move { call_with_retries(&session, set, false, CLEANUP_RETRIES).await }
    }))
    .await;
    let errors: Vec<String> = results
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.to_string()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// The config file's plugin config for the entry's certificate, references
/// resolved: from the file given now, else the one the run read.
fn file_layer(
    entry: &Entry,
    options: &RecoveryOptions,
) -> Result<BTreeMap<String, String>, String> {
    let Some(cert) = &entry.cert_name else {
        return Ok(BTreeMap::new());
    };
    let loaded;
    let file = match (&options.config_file, &entry.config_file) {
        (Some(file), _) => file,
        (None, Some(path)) if Path::new(path).is_file() => {
            loaded = ConfigFile::load(Some(Path::new(path))).map_err(|e| e.to_string())?;
            &loaded
        }
        _ => return Ok(BTreeMap::new()),
    };
    file.plugin_config_except(cert, |key| options.config.iter().any(|(k, _)| k == key))
        .map_err(|e| e.to_string())
}

/// The DNS settings of the check: the run's resolvers and nameserver port.
/// The zone's nameservers are asked whatever propagation mode the run used
/// (after a crash, facts beat the plugin's word); where none can be asked,
/// the plugin's word is all there is.
fn check_settings(dns: &JournalDns) -> Option<DnsConfig> {
    if !dns.cleanup_check {
        return None;
    }
    DnsConfig::new(&dns.resolvers, Some(dns.port)).ok()
}

/// Waits until no nameserver serves any of the sets' values: `Ok(true)`
/// then, `Ok(false)` when no nameserver could be asked, else what each
/// still serves.
async fn gone(dns: &DnsConfig, sets: &[TxtSet], timeout: Duration) -> Result<bool, Vec<Residue>> {
    let zones = ZoneFinder::new(dns.clone(), None, false);
    let expectations: Vec<Expectation> = sets
        .iter()
        .map(|s| Expectation {
            fqdn: s.fqdn.clone(),
            zone: s.zone.clone(),
            absent: s.values.clone(),
            ..Expectation::default()
        })
        .collect();
    let nameservers =
        match propagation::lookup(dns, &zones, &expectations, Mode::Authoritative).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("cannot check that the records are gone: {e}");
                return Ok(false);
            }
        };
    let mut left = Vec::new();
    let mut verified = true;
    for (zone, servers) in &nameservers {
        let of_zone: Vec<Expectation> = expectations
            .iter()
            .filter(|e| &e.zone == zone)
            .cloned()
            .collect();
        match propagation::check(dns, servers, &of_zone, false, timeout).await {
            Ok(_) => {}
            Err(PropagationError::Timeout { nameservers, .. }) => {
                let before = left.len();
                left.extend(
                    nameservers
                        .into_iter()
                        .filter(|v| v.status == Status::Missing && !v.unexpected.is_empty())
                        .map(|v| Residue {
                            fqdn: v.fqdn,
                            nameserver: v.nameserver,
                            values: v.unexpected,
                        }),
                );
                verified &= left.len() > before;
            }
            Err(e) => {
                tracing::warn!("cannot check that the records are gone: {e}");
                verified = false;
            }
        }
    }
    if left.is_empty() {
        Ok(verified)
    } else {
        Err(left)
    }
}
