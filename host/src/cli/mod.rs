//! The `wacme` command line: argument parsing, output format and dispatch.
//!
//! Each subcommand lives in its own module: it turns its arguments into the
//! engine's options, calls one [`crate::engine`] operation, prints the
//! report as text or JSON and returns `anyhow::Result<Exit>`; `run` turns
//! errors into a message on stderr (or a JSON object with `--output json`)
//! and the exit code of their class ([`exit`]).

mod account;
mod certs;
mod cleanup;
pub mod exit;
mod issue;
mod persist;
mod plugin;
mod plugin_grants;
mod progress;
mod renew;
mod revoke;

use crate::engine::Engine;
use crate::workspace::Workspace;
use crate::workspace::config::ConfigFile;
use clap::{Args, Parser, Subcommand, ValueEnum};
use exit::{Exit, classify};
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
    /// Config file (default: wacme.toml in the platform config directory, e.g.
    /// ~/.config/wacme/wacme.toml, when it exists).
    #[arg(
        long = "config",
        global = true,
        value_name = "FILE",
        env = "WACME_CONFIG"
    )]
    pub config_path: Option<PathBuf>,
    /// How long to wait for another wacme run to release the state directory.
    #[arg(long, global = true, value_name = "DURATION", default_value = "60s",
          value_parser = crate::duration::parse)]
    pub lock_wait: std::time::Duration,
}

impl GlobalArgs {
    /// The config file (`--config`, or the platform default when it exists).
    pub fn config_file(&self) -> anyhow::Result<ConfigFile> {
        Ok(ConfigFile::load(self.config_path.as_deref())?)
    }

    /// The workspace (`--state-dir`, else the config file's, else the
    /// platform's). A broken config file is an error here even when it is
    /// not otherwise needed, so every command reports it.
    pub fn workspace(&self) -> anyhow::Result<Workspace> {
        let config = self.config_file()?;
        Ok(Workspace::locate(self.state_dir.as_deref(), &config)?)
    }

    /// Takes the workspace's lock, waiting `--lock-wait`.
    pub fn lock(&self, workspace: &Workspace) -> anyhow::Result<crate::workspace::lock::StateLock> {
        Ok(workspace.lock_blocking_in_place(self.lock_wait)?)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Issue a certificate through a DNS provider plugin (DNS-01), or a standing dns-persist-01 record.
    Issue(Box<issue::IssueArgs>),
    /// Remove challenge records left behind by runs that crashed or were killed.
    Cleanup(cleanup::CleanupArgs),
    /// ACME accounts: register, show, update contacts, roll the key over, deactivate.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Standing dns-persist-01 records: show the values, publish or remove them once.
    #[command(subcommand)]
    Persist(persist::PersistCommand),
    /// Renew stored certificates that are due (ARI window, else a third of the lifetime left).
    Renew(renew::RenewArgs),
    /// Revoke a stored certificate.
    Revoke(revoke::RevokeArgs),
    /// Stored certificates.
    #[command(subcommand)]
    Certs(certs::CertsCommand),
    /// List, inspect and check DNS provider plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one per command into --dir.
    Manpage {
        /// Write `wacme.1` and `wacme-<command>.1` into this directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
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
            report_error(output, &err, exit, None);
            exit.code()
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<Exit> {
    let engine = Engine::new();
    let global = &cli.global;
    // A config file that cannot be read is reported by the command that
    // needs it; its CA request rates apply to every CA client.
    if let Ok(config) = global.config_file() {
        engine.set_rate_limits(crate::engine::options::rate_limits(&config.defaults)?);
    }
    // What plugins may read from the environment: the state directory's
    // grants, for every command that runs a plugin.
    if matches!(
        cli.command,
        Command::Issue(_)
            | Command::Cleanup(_)
            | Command::Plugin(_)
            | Command::Renew(_)
            | Command::Revoke(_)
            | Command::Persist(_)
    ) && let Ok(workspace) = global.workspace()
    {
        let lock = workspace
            .root()
            .join(crate::plugins::grants::GrantFile::FILE_NAME);
        let grants = crate::plugins::grants::GrantFile::load(&lock)?;
        engine.set_plugin_grants(grants, Some(workspace.root().join("plugins")));
    }
    match cli.command {
        Command::Issue(args) => issue::run(*args, global, &engine).await,
        Command::Cleanup(args) => cleanup::run(args, global, &engine).await,
        Command::Account(cmd) => account::run(cmd, global, &engine).await,
        Command::Plugin(cmd) => plugin::run(cmd, global, &engine).await,
        Command::Renew(args) => renew::run(args, global, &engine).await,
        Command::Persist(cmd) => persist::run(cmd, global, &engine).await,
        Command::Revoke(args) => revoke::run(args, global, &engine).await,
        Command::Certs(cmd) => certs::run(cmd, global).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "wacme", &mut std::io::stdout());
            Ok(Exit::Success)
        }
        Command::Manpage { dir } => manpage(dir),
    }
}

fn manpage(dir: Option<PathBuf>) -> anyhow::Result<Exit> {
    use anyhow::Context as _;
    use clap::CommandFactory;
    let cmd = Cli::command();
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))?;
        }
        None => clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?,
    }
    Ok(Exit::Success)
}

/// Prints the error that ends a command (JSON: `error`, `causes`,
/// `exit_code`, and `extra` when given).
pub(crate) fn report_error(
    output: Output,
    err: &anyhow::Error,
    exit: Exit,
    extra: Option<(&str, serde_json::Value)>,
) {
    match output {
        Output::Json => {
            let causes: Vec<String> = err.chain().skip(1).map(|c| c.to_string()).collect();
            let mut value = serde_json::json!({
                "error": err.to_string(),
                "causes": causes,
                "exit_code": exit as u8,
            });
            if let Some((key, extra)) = extra {
                value[key] = extra;
            }
            println!("{value}");
        }
        Output::Text => eprintln!("error: {}", crate::error::describe(err)),
    }
}

fn init_tracing(global: &GlobalArgs) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    // Our own diagnostics (and plugins' logs) get the chosen verbosity;
    // libraries stay at warnings unless RUST_LOG says otherwise.
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn,wacme::notice=info",
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
