//! `wacme cleanup`: removes the challenge records that runs which crashed or
//! were killed left behind, as recorded in the journal
//! ([`crate::engine::recovery`]).

use super::exit::Exit;
use super::plugin::PluginArgs;
use super::{GlobalArgs, print};
use crate::engine::Engine;
use crate::engine::recovery::clean_stale;
use clap::Args;

#[derive(Debug, Args)]
pub struct CleanupArgs {
    #[command(flatten)]
    pub plugins: PluginArgs,
}

pub async fn run(args: CleanupArgs, global: &GlobalArgs, engine: &Engine) -> anyhow::Result<Exit> {
    let workspace = global.workspace()?;
    let _lock = global.lock(&workspace)?;
    let report = clean_stale(engine, &workspace.journal(), &args.plugins.options(), false).await;
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
