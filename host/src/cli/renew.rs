//! `wacme renew`: renews stored certificates that are due
//! ([`crate::engine::renew`] says when that is), and reports each.
//!
//! Exit codes: 0 renewed (≥ 1, none failed), 10 nothing due, 11 some failed
//! (with `--all`), 12 a deploy hook failed; one certificate that fails with
//! `--cert-name` exits with its failure class (3–7).

use super::exit::Exit;
use super::issue::describe;
use super::{GlobalArgs, Output, print};
use crate::dns01::solver::Interrupt;
use crate::engine::Engine;
use crate::engine::recovery::CleanupReport;
use crate::engine::renew::{self, RenewOptions, RenewResult};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["cert_name", "all"])))]
pub struct RenewArgs {
    /// The stored certificate to renew.
    #[arg(long, value_name = "NAME")]
    pub cert_name: Option<String>,
    /// Every stored certificate, and every config file entry not issued yet.
    #[arg(long)]
    pub all: bool,
    /// Renew even when not due.
    #[arg(long)]
    pub force: bool,
    /// Due when at most this many days are left (instead of ARI / a third of the lifetime).
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Certificates renewed at once with --all.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub jobs: usize,
    /// Wait a random time up to this long before starting (for cron), e.g. 30m.
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
    pub jitter: Option<Duration>,
    /// Run this deploy hook after each renewal instead of the stored one.
    #[arg(long, value_name = "CMD")]
    pub deploy_hook: Option<String>,
    /// Also trust this PEM certificate for the CA's HTTPS endpoint (added to the stored ones).
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Vec<PathBuf>,
}

/// One certificate's result as printed: the engine's, with its exit code.
#[derive(Serialize)]
struct ResultView<'a> {
    #[serde(flatten)]
    result: &'a RenewResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<u8>,
}

/// The whole run as printed.
#[derive(Serialize)]
struct RenewReport<'a> {
    renewed: usize,
    not_due: usize,
    failed: usize,
    hook_failed: usize,
    residue: usize,
    exit_code: u8,
    certificates: Vec<ResultView<'a>>,
    #[serde(skip_serializing_if = "CleanupReport::is_empty")]
    stale_journal: &'a CleanupReport,
}

pub async fn run(args: RenewArgs, global: &GlobalArgs, engine: &Engine) -> anyhow::Result<Exit> {
    let config = global.config_file()?;
    let workspace = global.workspace()?;
    let names = renew::plan(&workspace, &config, args.cert_name.as_deref(), args.all)?;
    renew::jitter(args.jitter).await;
    let _lock = global.lock(&workspace)?;
    let options = RenewOptions {
        force: args.force,
        days: args.days,
        jobs: args.jobs,
        deploy_hook: args.deploy_hook.clone(),
        ca_cert: args.ca_cert.clone(),
        warn: global.output == Output::Text,
    };
    let progress = super::progress::Terminal::new(global);
    let interrupt = Interrupt::on_signals();
    let done = renew::renew(
        engine, &workspace, &config, &names, &options, &progress, &interrupt,
    )
    .await;
    let exit = if interrupt.has_fired() {
        Exit::Interrupted
    } else if done.failed > 0 {
        let class = done.certificates.iter().find_map(|r| r.class);
        match (&args.cert_name, class) {
            (Some(_), Some(class)) if done.certificates.len() == 1 => Exit::from(class),
            _ => Exit::SomeFailed,
        }
    } else if done.residue > 0 {
        Exit::Residue
    } else if done.hook_failed > 0 {
        Exit::Hook
    } else if done.renewed > 0 {
        Exit::Success
    } else {
        Exit::NothingDue
    };
    let report = RenewReport {
        renewed: done.renewed,
        not_due: done.not_due,
        failed: done.failed,
        hook_failed: done.hook_failed,
        residue: done.residue,
        exit_code: exit as u8,
        certificates: done
            .certificates
            .iter()
            .map(|result| ResultView {
                result,
                exit_code: result.class.map(|c| Exit::from(c) as u8),
            })
            .collect(),
        stale_journal: &done.stale_journal,
    };
    print(global.output, &report, || text(&report));
    Ok(exit)
}

fn text(report: &RenewReport) -> String {
    let mut out = String::new();
    if report.certificates.is_empty() {
        out.push_str("No certificates to renew.\n");
    }
    for r in report.certificates.iter().map(|v| v.result) {
        match r.status {
            "renewed" => {
                let reason = r.decision.as_ref().map(|d| d.reason.as_str()).unwrap_or("");
                out.push_str(&format!("{}: renewed ({reason})\n", r.cert_name));
                if let Some(i) = &r.issued {
                    for line in describe(&i.issued).lines().skip(1) {
                        out.push_str(&format!("{line}\n"));
                    }
                    if let Some(h) = &i.deploy_hook {
                        out.push_str(&h.describe());
                    }
                }
            }
            "not_due" => {
                let d = r.decision.as_ref();
                let at = d
                    .and_then(|d| d.due_at)
                    .map(|t| format!(", due from {}", t.date()))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "{}: not due ({}{at})\n",
                    r.cert_name,
                    d.map(|d| d.reason.as_str()).unwrap_or("")
                ));
            }
            _ => out.push_str(&format!(
                "{}: FAILED: {}\n  the working certificate is unchanged\n",
                r.cert_name,
                r.error.as_deref().unwrap_or("unknown error")
            )),
        }
    }
    out.push_str(&format!(
        "{} renewed, {} not due, {} failed\n",
        report.renewed, report.not_due, report.failed
    ));
    out
}
