//! `wacme renew`: renews stored certificates that are due
//! ([`crate::engine::renew`] says when that is), and reports each as it
//! finishes (text, or one JSON document written a certificate at a time).
//!
//! Exit codes: 0 renewed (≥ 1, none failed), 10 nothing due, 11 some failed
//! (with `--all`), 12 a deploy hook failed; one certificate that fails with
//! `--cert-name` exits with its failure class (3–7).
//!
//! When the run loaded a plugin's baseline code (a JavaScript or Python
//! plugin never installed), it compiles the plugin's optimized form into the
//! cache once its certificates are done and reported ([`Engine::set_tier_up`]),
//! unless stopped, so the next run loads the faster code.

use super::exit::Exit;
use super::issue::describe;
use super::{GlobalArgs, Output};
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
    /// Challenge type instead of the one stored at issuance: dns-01,
    /// dns-persist-01 or auto (a certificate issued by dns-persist-01 alone
    /// has no plugin stored: name it in the config file for dns-01).
    #[arg(long, value_name = "TYPE")]
    pub challenge: Option<crate::engine::ChallengeKind>,
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

/// The run's totals, printed after its certificates.
#[derive(Serialize)]
struct Totals<'a> {
    renewed: usize,
    not_due: usize,
    failed: usize,
    hook_failed: usize,
    residue: usize,
    exit_code: u8,
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
        challenge: args.challenge,
        ca_cert: args.ca_cert.clone(),
        warn: global.output == Output::Text,
    };
    let progress = super::progress::Terminal::new(global);
    let interrupt = Interrupt::on_signals();
    // What cron runs: a plugin loaded with baseline code (a JavaScript or
    // Python plugin never installed) has its optimized form compiled for
    // later runs once the certificates are done, unless stopped.
    engine.set_tier_up(true);
    // Each certificate is printed as it finishes: nothing is kept per
    // certificate but its exit class.
    let mut out = Printer::start(global.output);
    let mut certificates = 0usize;
    let mut first_failure = None;
    let done = renew::renew(
        engine,
        &workspace,
        &config,
        &names,
        &options,
        &progress,
        &interrupt,
        &mut |result| {
            certificates += 1;
            if first_failure.is_none() {
                first_failure = result.class;
            }
            out.certificate(&ResultView {
                exit_code: result.class.map(|c| Exit::from(c) as u8),
                result: &result,
            });
        },
    )
    .await;
    let exit = if interrupt.has_fired() {
        Exit::Interrupted
    } else if done.failed > 0 {
        match (&args.cert_name, first_failure) {
            (Some(_), Some(class)) if certificates == 1 => Exit::from(class),
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
    out.finish(&Totals {
        renewed: done.renewed,
        not_due: done.not_due,
        failed: done.failed,
        hook_failed: done.hook_failed,
        residue: done.residue,
        exit_code: exit as u8,
        stale_journal: &done.stale_journal,
    });
    tokio::select! {
        () = engine.finish_tier_ups() => {}
        () = interrupt.fired() => {}
    }
    Ok(exit)
}

/// Prints a run as it goes: text, one block per certificate and a summary;
/// or one JSON document, `{"certificates": [...], "renewed": …}`, written a
/// certificate at a time.
struct Printer {
    output: Output,
    printed: usize,
}

impl Printer {
    fn start(output: Output) -> Printer {
        if output == Output::Json {
            write_out("{\n  \"certificates\": [");
        }
        Printer { output, printed: 0 }
    }

    fn certificate(&mut self, view: &ResultView<'_>) {
        match self.output {
            Output::Json => {
                let json = serde_json::to_string_pretty(view).expect("serializable output");
                let sep = if self.printed == 0 { "\n" } else { ",\n" };
                // Indented into the array (a JSON string never holds a raw newline).
                write_out(&format!("{sep}    {}", json.replace('\n', "\n    ")));
            }
            Output::Text => write_out(&text(view.result)),
        }
        self.printed += 1;
    }

    fn finish(self, totals: &Totals<'_>) {
        match self.output {
            Output::Json => {
                let close = if self.printed == 0 { "]" } else { "\n  ]" };
                let rest = serde_json::to_string_pretty(totals).expect("serializable output");
                // `rest` is `{\n  "renewed": …\n}`: its fields follow the array.
                let fields = rest.strip_prefix('{').unwrap_or(&rest);
                write_out(&format!("{close},{fields}\n"));
            }
            Output::Text => {
                if self.printed == 0 {
                    write_out("No certificates to renew.\n");
                }
                write_out(&format!(
                    "{} renewed, {} not due, {} failed\n",
                    totals.renewed, totals.not_due, totals.failed
                ));
            }
        }
    }
}

/// Writes to stdout now (a long run shows each certificate as it ends); a
/// closed stdout is not an error of the run.
fn write_out(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// One certificate's block of the text output.
fn text(r: &RenewResult) -> String {
    let mut out = String::new();
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
    out
}
