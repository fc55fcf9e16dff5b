//! Recovery after a crash: removing the challenge records that runs which
//! crashed or were killed left behind, as their journal entries recorded.
//! `wacme cleanup` runs it; every issuance runs it first, before publishing
//! anything new.

use super::Engine;
use super::options::PluginOptions;
use crate::dns01::journal::{Journal, Stale};
use crate::dns01::solver::{CLEANUP_RETRIES, call_with_retries};
use crate::plugins::TxtSet;
use crate::plugins::config::Sources;
use serde::Serialize;

/// What one cleanup pass did.
#[derive(Debug, Default, Serialize)]
pub struct CleanupReport {
    /// Journal entries whose records are gone now.
    pub cleaned: Vec<CleanedEntry>,
    /// Entries that could not be cleaned (kept for the next try).
    pub failed: Vec<FailedEntry>,
}

#[derive(Debug, Serialize)]
pub struct CleanedEntry {
    pub journal: String,
    pub plugin: String,
    pub names: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct FailedEntry {
    pub journal: String,
    pub error: String,
}

/// Cleans every stale journal entry, loading each entry's plugin with
/// `plugins`; failures are reported, not fatal, and logged as warnings when
/// `warn`.
pub async fn clean_stale(
    engine: &Engine,
    journal: &Journal,
    plugins: &PluginOptions,
    warn: bool,
) -> CleanupReport {
    let (stale, broken) = journal.stale();
    let mut report = CleanupReport::default();
    for (path, reason) in broken {
        report.failed.push(FailedEntry {
            journal: path.display().to_string(),
            error: format!("unreadable: {reason}"),
        });
    }
    for entry in stale {
        let journal_path = entry.path.display().to_string();
        let plugin = entry.entry.plugin.clone();
        let names = entry.entry.sets.iter().map(|s| s.fqdn.clone()).collect();
        match clean_entry(engine, &entry, plugins).await {
            Ok(()) => {
                tracing::info!("removed records left by an earlier run ({journal_path})");
                if let Err(e) = entry.complete() {
                    tracing::warn!("cannot remove {journal_path}: {e}");
                }
                report.cleaned.push(CleanedEntry {
                    journal: journal_path,
                    plugin,
                    names,
                });
            }
            Err(error) => {
                if warn {
                    tracing::warn!(
                        "records left by an earlier run could not be removed ({journal_path}): {error}"
                    );
                }
                report.failed.push(FailedEntry {
                    journal: journal_path,
                    error,
                });
            }
        }
    }
    report
}

async fn clean_entry(
    engine: &Engine,
    stale: &Stale,
    plugins: &PluginOptions,
) -> Result<(), String> {
    let entry = &stale.entry;
    let plugin = engine
        .load_plugin(plugins, &entry.plugin)
        .await
        .map_err(|e| e.to_string())?;
    if plugin.sha256() != entry.plugin_sha256 {
        tracing::info!(
            "plugin {} changed since the records were presented; cleaning with the current one",
            entry.plugin
        );
    }
    let pairs: Vec<(String, String)> = entry
        .config
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let config = Sources::resolve_with_process_env(plugin.metadata(), &pairs, &Default::default())
        .map_err(|e| {
            format!("{e} (secret values are not journaled: provide them as for `wacme issue`)")
        })?;
    let session = plugin
        .session(&config, &entry.plugin_allow)
        .map_err(|e| e.to_string())?;
    let results = futures::future::join_all(entry.sets.iter().map(|set| {
        let set = TxtSet::from(set);
        let session = session.clone();
        async move { call_with_retries(&session, &set, false, CLEANUP_RETRIES).await }
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
