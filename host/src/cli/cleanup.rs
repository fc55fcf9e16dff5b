//! `wacme cleanup`: removes the challenge records that runs which crashed or
//! were killed left behind, as recorded in the journal
//! ([`crate::engine::recovery`]), and checks on the nameservers that they
//! are gone.

use super::exit::Exit;
use super::plugin::PluginArgs;
use super::{GlobalArgs, print};
use crate::engine::Engine;
use crate::engine::recovery::{RecoveryOptions, clean_stale};
use clap::Args;

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Plugin config value (repeatable), e.g. a secret the journal does not keep:
    /// `--dns-config api_key=…`. Also read: the environment and the config file's
    /// `env:`/`file:` references (the file given with --config, else the one the run read).
    #[arg(long = "dns-config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// How long removed values may take to disappear from the zone's nameservers.
    #[arg(long, value_name = "DURATION", default_value = "30s",
          value_parser = crate::duration::parse)]
    pub check_timeout: std::time::Duration,
    #[command(flatten)]
    pub plugins: PluginArgs,
}

pub async fn run(args: CleanupArgs, global: &GlobalArgs, engine: &Engine) -> anyhow::Result<Exit> {
    let workspace = global.workspace()?;
    let config = args
        .config
        .iter()
        .map(|pair| crate::plugins::config::parse_pair(pair))
        .collect::<Result<Vec<_>, _>>()?;
    let options = RecoveryOptions {
        plugins: args.plugins.options(),
        config,
        config_file: match &global.config_path {
            Some(_) => Some(global.config_file()?),
            None => None,
        },
        check_timeout: args.check_timeout,
    };
    let _lock = global.lock(&workspace)?;
    let interrupt = crate::dns01::solver::Interrupt::on_signals();
    let report = clean_stale(engine, &workspace.journal(), &options, false, &interrupt).await;
    print(global.output, &report, || {
        let mut out = String::new();
        if report.is_empty() {
            out.push_str("nothing to clean up\n");
        }
        for c in &report.cleaned {
            out.push_str(&format!(
                "cleaned {} ({}) via {}{}\n",
                c.names.join(", "),
                c.journal,
                c.plugin,
                if c.verified {
                    ", checked on the nameservers"
                } else {
                    ""
                }
            ));
        }
        for f in &report.failed {
            out.push_str(&format!(
                "NOT cleaned: {} ({}): {}\n  the journal entry is kept; run `wacme cleanup` again once this is fixed\n",
                if f.names.is_empty() { "?".to_string() } else { f.names.join(", ") },
                f.journal,
                f.error
            ));
        }
        out
    });
    Ok(if interrupt.has_fired() {
        Exit::Interrupted
    } else if report.failed.is_empty() {
        Exit::Success
    } else {
        Exit::Residue
    })
}
