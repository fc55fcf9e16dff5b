//! `wacme cleanup`: removes the challenge records that runs which crashed or
//! were killed left behind, as recorded in the journal. `wacme issue` does the
//! same first, quietly, before it publishes anything new.

use super::account::state_dir;
use super::plugin::PluginArgs;
use super::{GlobalArgs, Output, print};
use crate::dns01::journal::{Journal, Stale};
use crate::dns01::solver::{CLEANUP_RETRIES, call_with_retries};
use crate::exit::Exit;
use crate::plugins::config::Sources;
use crate::plugins::{Runtime, TxtSet};
use clap::Args;
use serde::Serialize;

#[derive(Debug, Args)]
pub struct CleanupArgs {
    #[command(flatten)]
    pub plugins: PluginArgs,
}

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

pub async fn run(args: CleanupArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let state = state_dir(global)?;
    let _lock = global.lock(&state)?;
    let journal = Journal::new(&state);
    let runtime = args.plugins.runtime()?;
    let report = clean_stale(&journal, &runtime, &args.plugins, Output::Json).await;
    print(global.output, &report, || {
        let mut out = String::new();
        if report.cleaned.is_empty() && report.failed.is_empty() {
            out.push_str("nothing to clean up\n");
        }
        for c in &report.cleaned {
            out.push_str(&format!(
                "cleaned {} ({}) via {}\n",
                c.names.join(", "),
                c.journal,
                c.plugin
            ));
        }
        for f in &report.failed {
            out.push_str(&format!("could not clean {}: {}\n", f.journal, f.error));
        }
        out
    });
    Ok(if report.failed.is_empty() {
        Exit::Success
    } else {
        Exit::Plugin
    })
}

/// Cleans every stale journal entry; failures are reported, not fatal.
/// With text output they are also logged as warnings.
pub(crate) async fn clean_stale(
    journal: &Journal,
    runtime: &Runtime,
    plugins: &PluginArgs,
    output: Output,
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
        match clean_entry(&entry, runtime, plugins).await {
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
                if output == Output::Text {
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

async fn clean_entry(stale: &Stale, runtime: &Runtime, plugins: &PluginArgs) -> Result<(), String> {
    let entry = &stale.entry;
    let plugin = plugins
        .load(runtime, &entry.plugin)
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
