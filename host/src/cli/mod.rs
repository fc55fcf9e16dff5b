//! The `wacme` command line: argument parsing, output format and dispatch.
//!
//! Each subcommand lives in its own module and returns `anyhow::Result<Exit>`;
//! `run` turns errors into a message on stderr (or a JSON object with
//! `--output json`) and a class-specific exit code (see [`crate::exit`]).

mod account;
mod cleanup;
mod issue;
mod plugin;

use crate::exit::{Exit, classify};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// ACME DNS-01 certificates through sandboxed WebAssembly DNS provider plugins.
#[derive(Debug, Parser)]
#[command(name = "wacme", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// More diagnostics on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Where accounts, certificates and journals are kept.
    #[arg(long, global = true, env = "WACME_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Issue a certificate through a DNS provider plugin (DNS-01).
    Issue(Box<issue::IssueArgs>),
    /// Remove challenge records left behind by runs that crashed or were killed.
    Cleanup(cleanup::CleanupArgs),
    /// Register and inspect ACME accounts.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// List, inspect and check DNS provider plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
}

/// Parses the command line, runs the command and returns the exit code.
pub fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage.code()
            } else {
                Exit::Success.code()
            };
        }
    };
    init_tracing(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Failure.code();
        }
    };
    let output = cli.global.output;
    match runtime.block_on(run(cli)) {
        Ok(exit) => exit.code(),
        Err(err) => {
            let exit = classify(&err);
            report_error(output, &err, exit);
            exit.code()
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Issue(args) => issue::run(*args, &cli.global).await,
        Command::Cleanup(args) => cleanup::run(args, &cli.global).await,
        Command::Account(cmd) => account::run(cmd, &cli.global).await,
        Command::Plugin(cmd) => plugin::run(cmd, &cli.global).await,
    }
}

fn report_error(output: Output, err: &anyhow::Error, exit: Exit) {
    match output {
        Output::Json => {
            let causes: Vec<String> = err.chain().skip(1).map(|c| c.to_string()).collect();
            let value = serde_json::json!({
                "error": err.to_string(),
                "causes": causes,
                "exit_code": exit as u8,
            });
            println!("{value}");
        }
        Output::Text => eprintln!("error: {err:#}"),
    }
}

fn init_tracing(global: &GlobalArgs) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    // Our own diagnostics (and plugins' logs) get the chosen verbosity;
    // libraries stay at warnings unless RUST_LOG says otherwise.
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "warn,wacme=info",
        (false, 2) => "warn,wacme=debug",
        (false, _) => "info,wacme=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Prints `value` as JSON, or `text()` as text.
pub fn print(output: Output, value: &impl serde::Serialize, text: impl FnOnce() -> String) {
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(value).expect("serializable output")
        ),
        Output::Text => print!("{}", text()),
    }
}
