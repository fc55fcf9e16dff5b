//! `wacme plugin …`: list and inspect DNS provider plugins, and the plugin
//! options shared by every command that runs one (`PluginArgs`).

use super::{GlobalArgs, Output, print};
use crate::exit::Exit;
use crate::plugins::{self, Limits, Plugin, Runtime, RuntimeOptions, discovery};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// Options for finding, limiting and configuring plugins.
#[derive(Debug, Args, Clone, Default)]
pub struct PluginArgs {
    /// Also look for plugins here (repeatable; searched first). `WACME_PLUGIN_DIR` adds more.
    #[arg(long = "plugin-dir", value_name = "DIR")]
    pub plugin_dirs: Vec<PathBuf>,
    /// Narrow the origins a plugin may reach (repeatable), e.g. `https://api.cloudflare.com`.
    /// A request must match the plugin's own list and this one.
    #[arg(long = "plugin-allow", value_name = "ORIGIN")]
    pub plugin_allow: Vec<String>,
    /// Wall-clock limit for one plugin call.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub plugin_timeout: u64,
    /// Memory limit for a plugin instance.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub plugin_memory: usize,
    /// Do not use the on-disk cache of compiled plugins.
    #[arg(long)]
    pub no_plugin_cache: bool,
}

impl PluginArgs {
    /// The runtime configured by these options.
    pub fn runtime(&self) -> Result<Runtime, plugins::Error> {
        let mut options = if self.no_plugin_cache {
            RuntimeOptions::default()
        } else {
            RuntimeOptions::with_user_cache()
        };
        options.limits = Limits {
            call_timeout: Duration::from_secs(self.plugin_timeout.max(1)),
            memory_bytes: self.plugin_memory.max(1) << 20,
            ..Limits::default()
        };
        Runtime::new(options)
    }

    /// Finds and loads the plugin named (or at the path) `arg`.
    pub async fn load(&self, runtime: &Runtime, arg: &str) -> Result<Plugin, plugins::Error> {
        let path = discovery::find(arg, &discovery::search_dirs(&self.plugin_dirs))?;
        runtime.load_file(&path).await
    }
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List the plugins found in the plugin directories.
    List {
        #[command(flatten)]
        plugins: PluginArgs,
    },
    /// Show a plugin's metadata: config fields, allowed hosts, WIT version, SHA-256.
    Inspect {
        /// A plugin name (looked up in the plugin directories) or a path to a .wasm file.
        plugin: String,
        #[command(flatten)]
        plugins: PluginArgs,
    },
}

pub async fn run(cmd: PluginCommand, global: &GlobalArgs) -> anyhow::Result<Exit> {
    match cmd {
        PluginCommand::List { plugins } => list(&plugins, global.output).await,
        PluginCommand::Inspect { plugin, plugins } => {
            inspect(&plugin, &plugins, global.output).await
        }
    }
}

#[derive(Serialize)]
struct ListEntry {
    name: Option<String>,
    version: Option<String>,
    wit_version: Option<&'static str>,
    description: Option<String>,
    path: String,
    /// Hidden by an earlier plugin of the same name.
    shadowed: bool,
    error: Option<String>,
}

async fn list(args: &PluginArgs, output: Output) -> anyhow::Result<Exit> {
    let runtime = args.runtime()?;
    let dirs = discovery::search_dirs(&args.plugin_dirs);
    let mut entries: Vec<ListEntry> = Vec::new();
    for path in discovery::list(&dirs) {
        let shown = path.display().to_string();
        match runtime.load_file(&path).await {
            Ok(p) => {
                let m = p.metadata();
                let shadowed = entries
                    .iter()
                    .any(|e| e.name.as_deref() == Some(m.name.as_str()));
                entries.push(ListEntry {
                    name: Some(m.name.clone()),
                    version: Some(m.version.clone()),
                    wit_version: Some(plugins::WIT_VERSION),
                    description: Some(m.description.clone()),
                    path: shown,
                    shadowed,
                    error: None,
                });
            }
            Err(e) => entries.push(ListEntry {
                name: None,
                version: None,
                wit_version: None,
                description: None,
                path: shown,
                shadowed: false,
                error: Some(e.to_string()),
            }),
        }
    }
    print(output, &entries, || {
        if entries.is_empty() {
            let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            return format!("no plugins found (searched: {})\n", searched.join(", "));
        }
        let mut out = format!("{:<16} {:<10} {:<6} {}\n", "NAME", "VERSION", "WIT", "PATH");
        for e in &entries {
            match &e.error {
                None => out.push_str(&format!(
                    "{:<16} {:<10} {:<6} {}{}\n",
                    e.name.as_deref().unwrap_or_default(),
                    e.version.as_deref().unwrap_or_default(),
                    e.wit_version.unwrap_or_default(),
                    e.path,
                    if e.shadowed { " (shadowed)" } else { "" }
                )),
                Some(err) => out.push_str(&format!(
                    "{:<16} {:<10} {:<6} {}\n  error: {err}\n",
                    "?", "-", "-", e.path
                )),
            }
        }
        out
    });
    Ok(Exit::Success)
}

#[derive(Serialize)]
struct Inspection<'a> {
    #[serde(flatten)]
    metadata: &'a plugins::PluginMetadata,
    wit_version: &'static str,
    path: &'a str,
    sha256: &'a str,
    size_bytes: usize,
}

async fn inspect(arg: &str, args: &PluginArgs, output: Output) -> anyhow::Result<Exit> {
    let runtime = args.runtime()?;
    let plugin = args.load(&runtime, arg).await?;
    let m = plugin.metadata();
    let report = Inspection {
        metadata: m,
        wit_version: plugins::WIT_VERSION,
        path: plugin.origin(),
        sha256: plugin.sha256(),
        size_bytes: plugin.size(),
    };
    print(output, &report, || {
        let mut out = String::new();
        out.push_str(&format!("{} {}\n", m.name, m.version));
        out.push_str(&format!("  {}\n", m.description));
        out.push_str(&format!("  homepage:      {}\n", m.homepage));
        out.push_str(&format!(
            "  WIT:           wacme:dns@{}\n",
            plugins::WIT_VERSION
        ));
        out.push_str(&format!(
            "  file:          {} ({} KiB)\n",
            plugin.origin(),
            plugin.size().div_ceil(1024)
        ));
        out.push_str(&format!("  sha256:        {}\n", plugin.sha256()));
        out.push_str(&format!(
            "  TTL:           default {} s, minimum {} s\n",
            m.default_ttl, m.min_ttl
        ));
        out.push_str(&format!(
            "  allowed hosts: {}\n",
            m.allowed_hosts.join(", ")
        ));
        out.push_str("  config:\n");
        for f in &m.config {
            let mut flags = Vec::new();
            if f.required {
                flags.push("required".to_string());
            }
            if f.secret {
                flags.push("secret".to_string());
            }
            if let Some(d) = &f.default {
                flags.push(format!("default {d}"));
            }
            let env = std::iter::once(format!(
                "WACME_{}_{}",
                m.name.to_uppercase().replace('-', "_"),
                f.name.to_uppercase()
            ))
            .chain(f.env_aliases.iter().cloned())
            .collect::<Vec<_>>()
            .join(", ");
            out.push_str(&format!("    {:<18} {}\n", f.name, f.description));
            if !flags.is_empty() {
                out.push_str(&format!("    {:<18} [{}]\n", "", flags.join(", ")));
            }
            out.push_str(&format!("    {:<18} env: {env}\n", ""));
        }
        out
    });
    Ok(Exit::Success)
}
