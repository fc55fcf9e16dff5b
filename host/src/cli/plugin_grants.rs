//! `wacme plugin install`, `grant` and `revoke`: what the operator lets a
//! plugin read from the environment, recorded in the state directory's
//! `plugins.lock` beside the SHA-256 of the plugin's bytes
//! ([`crate::plugins::grants`]), and installing plugins into the state
//! directory's `plugins/` folder.

use super::exit::Exit;
use super::{GlobalArgs, print};
use crate::engine::{Engine, PluginOptions};
use crate::error::InputError;
use crate::plugins::grants::{self, AliasStatus, EnvPolicy, GrantFile};
use crate::plugins::{FirstCompile, Plugin, PluginMetadata, discovery};
use anyhow::Context as _;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What `wacme plugin install` was asked (see its arguments in `plugin`).
#[derive(Debug)]
pub struct InstallRequest {
    /// A .wasm file or an https:// URL.
    pub source: String,
    /// The SHA-256 the plugin must have.
    pub sha256: Option<String>,
    /// Do not ask.
    pub yes: bool,
    /// Grant no alias.
    pub no_env: bool,
    pub plugins: PluginOptions,
}

/// What `wacme plugin grant` / `revoke` was asked.
#[derive(Debug)]
pub struct GrantRequest {
    /// A plugin name or path.
    pub plugin: String,
    /// `ALIAS` or `key=ALIAS`.
    pub aliases: Vec<String>,
    /// Every alias that may be granted.
    pub all: bool,
    pub plugins: PluginOptions,
}

/// One declared variable and what happens to it.
#[derive(Debug, Serialize)]
pub struct EnvLine {
    pub key: String,
    pub var: String,
    #[serde(flatten)]
    pub status: AliasStatus,
}

/// Every declared alias of `meta` under `policy`.
pub fn env_lines(meta: &PluginMetadata, policy: &EnvPolicy) -> Vec<EnvLine> {
    meta.config
        .iter()
        .flat_map(|f| {
            policy.field(f).map(|(var, status)| EnvLine {
                key: f.name.clone(),
                var: var.to_string(),
                status,
            })
        })
        .collect()
}

/// Text lines describing what a plugin reads from the environment.
pub fn env_text(meta: &PluginMetadata, lines: &[EnvLine], policy: &EnvPolicy) -> String {
    let mut out = format!(
        "  environment:   its own WACME_{}_<KEY> variables (and <VAR>_FILE forms)\n",
        meta.name.to_ascii_uppercase().replace('-', "_")
    );
    for f in &meta.config {
        let own = grants::own_var(&meta.name, &f.name);
        if let Some(why) = policy.own_blocked(&own) {
            out.push_str(&format!("    {own:<28} not read: {why}\n"));
        }
    }
    for l in lines {
        out.push_str(&format!(
            "    {:<28} for `{}`: {}\n",
            l.var, l.key, l.status
        ));
    }
    out
}

/// Where plugins are installed and their grants kept.
fn paths(global: &GlobalArgs) -> anyhow::Result<(crate::workspace::Workspace, PathBuf, PathBuf)> {
    let workspace = global.workspace()?;
    let dir = workspace.root().join("plugins");
    let lock = workspace.root().join(GrantFile::FILE_NAME);
    Ok((workspace, dir, lock))
}

#[derive(Serialize)]
struct Installed {
    name: String,
    version: String,
    sha256: String,
    source: String,
    path: String,
    allowed_hosts: Vec<String>,
    env: Vec<EnvLine>,
    /// The file a lookup by name finds first, when it is not this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    shadowed_by: Option<String>,
}

pub async fn install(
    args: &InstallRequest,
    global: &GlobalArgs,
    engine: &Engine,
) -> anyhow::Result<Exit> {
    let (workspace, dir, lock_path) = paths(global)?;
    let bytes = read_source(&args.source).await?;
    let sha256 = hex::encode(ring::digest::digest(&ring::digest::SHA256, &bytes));
    if let Some(want) = &args.sha256
        && !want.trim().eq_ignore_ascii_case(&sha256)
    {
        return Err(InputError(format!(
            "{} has SHA-256 {sha256}, not the {} given with --sha256: not installed",
            args.source,
            want.trim()
        ))
        .into());
    }
    let runtime = engine.runtime(&args.plugins)?;
    // Compiled (if need be) with the optimizing compiler: the cache then
    // holds the optimized form, which every later run uses without compiling.
    let plugin = runtime
        .load_bytes_with(&bytes, args.source.clone(), FirstCompile::Optimizing)
        .await?;
    let meta = plugin.metadata().clone();

    // What it asks for, before anything is written.
    let mut preview = GrantFile::in_memory();
    let wanted = if args.no_env {
        Vec::new()
    } else {
        grants::grantable(&meta)
    };
    preview.grant(&meta, &sha256, &wanted, None)?;
    let policy = preview.policy(&meta, &sha256);
    let lines = env_lines(&meta, &policy);
    let fields: Vec<String> = meta
        .config
        .iter()
        .map(|f| {
            let flags: Vec<&str> = [(f.secret, "secret"), (f.required, "required")]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, flag)| *flag)
                .collect();
            if flags.is_empty() {
                f.name.clone()
            } else {
                format!("{} ({})", f.name, flags.join(", "))
            }
        })
        .collect();
    let summary = format!(
        "plugin {} {}: {}\n  sha256:        {sha256}\n  source:        {}\n  \
         allowed hosts: {}\n  addresses:     public only, unless an endpoint comes from your \
         config or --plugin-allow\n  config:        {}\n{}",
        meta.name,
        meta.version,
        meta.description,
        args.source,
        if meta.allowed_hosts.is_empty() {
            "none".to_string()
        } else {
            meta.allowed_hosts.join(", ")
        },
        if fields.is_empty() {
            "none".to_string()
        } else {
            fields.join(", ")
        },
        env_text(&meta, &lines, &policy)
    );
    if !args.yes {
        confirm(&summary, &meta.name)?;
    }

    let _lock = global.lock(&workspace)?;
    crate::fsx::create_private_dir(workspace.root())
        .and_then(|()| std::fs::create_dir_all(&dir))
        .with_context(|| format!("creating {}", dir.display()))?;
    let dest = dir.join(format!("{}.wasm", meta.name));
    crate::fsx::write_atomic(&dest, &bytes, crate::fsx::Mode::Public)
        .with_context(|| format!("writing {}", dest.display()))?;
    let mut file = GrantFile::load(&lock_path)?;
    file.grant(&meta, &sha256, &wanted, Some(args.source.clone()))?;
    file.save()?;

    let found_first = discovery::find(&meta.name, &engine.plugin_search_dirs(&args.plugins))
        .ok()
        .filter(|p| !same_file(p, &dest))
        .map(|p| p.display().to_string());
    let report = Installed {
        name: meta.name.clone(),
        version: meta.version.clone(),
        sha256,
        source: args.source.clone(),
        path: dest.display().to_string(),
        allowed_hosts: meta.allowed_hosts.clone(),
        env: lines,
        shadowed_by: found_first,
    };
    print(global.output, &report, || {
        let mut out = String::new();
        if args.yes {
            out.push_str(&summary);
        }
        out.push_str(&format!(
            "installed {} {} as {}; grants recorded in {}\n",
            report.name,
            report.version,
            report.path,
            lock_path.display()
        ));
        if let Some(first) = &report.shadowed_by {
            out.push_str(&format!(
                "note: `--dns {}` finds {first} first; give the path to use this one\n",
                report.name
            ));
        }
        out
    });
    Ok(Exit::Success)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Asks on the terminal; refuses to guess when there is none.
fn confirm(summary: &str, name: &str) -> anyhow::Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(InputError(format!(
            "installing plugin `{name}` needs a confirmation: review what it asks for \
             (`wacme plugin inspect <file>`) and pass --yes"
        ))
        .into());
    }
    eprint!("{summary}Install `{name}` with these grants? [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(InputError(format!("plugin `{name}` not installed")).into())
    }
}

/// Largest plugin accepted.
const MAX_PLUGIN_BYTES: usize = 64 << 20;

/// The component bytes of a file or an https:// URL.
async fn read_source(source: &str) -> anyhow::Result<Vec<u8>> {
    if !(source.starts_with("https://") || source.starts_with("http://")) {
        let bytes = std::fs::read(source)
            .map_err(|e| InputError(format!("cannot read plugin {source}: {e}")))?;
        return Ok(bytes);
    }
    let url =
        url::Url::parse(source).map_err(|e| InputError(format!("{source} is not a URL: {e}")))?;
    if url.scheme() != "https" {
        return Err(InputError(format!(
            "{source}: plugins are downloaded over https:// only"
        ))
        .into());
    }
    let client = reqwest::Client::builder()
        .https_only(true)
        .user_agent(concat!("wacme/", env!("CARGO_PKG_VERSION")))
        .timeout(std::time::Duration::from_secs(120))
        .build()?;
    let mut response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("downloading {source}"))?;
    if !response.status().is_success() {
        anyhow::bail!("downloading {source}: HTTP {}", response.status());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .with_context(|| format!("downloading {source}"))?
    {
        if bytes.len() + chunk.len() > MAX_PLUGIN_BYTES {
            anyhow::bail!(
                "downloading {source}: larger than {} MiB",
                MAX_PLUGIN_BYTES >> 20
            );
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

#[derive(Serialize)]
struct Changed {
    name: String,
    sha256: String,
    granted: Vec<String>,
    revoked: Vec<String>,
    env: Vec<EnvLine>,
    lock_file: String,
}

/// `wacme plugin grant` (`revoke == false`) and `wacme plugin revoke`.
pub async fn grant(
    args: &GrantRequest,
    revoke: bool,
    global: &GlobalArgs,
    engine: &Engine,
) -> anyhow::Result<Exit> {
    if args.aliases.is_empty() && !args.all {
        return Err(InputError(format!(
            "name the variables to {} (ALIAS or key=ALIAS), or pass --all",
            if revoke { "revoke" } else { "grant" }
        ))
        .into());
    }
    let (workspace, _, lock_path) = paths(global)?;
    let plugin: Plugin = engine.load_plugin(&args.plugins, &args.plugin).await?;
    let meta = plugin.metadata();
    let _lock = global.lock(&workspace)?;
    let mut file = GrantFile::load(&lock_path)?;
    let changed_bytes = file
        .entry(&meta.name)
        .is_some_and(|e| e.sha256 != plugin.sha256());
    let (granted, revoked) = if revoke {
        let revoked = file.revoke(meta, plugin.sha256(), &args.aliases)?;
        (Vec::new(), revoked)
    } else {
        let aliases = if args.all {
            grants::grantable(meta)
        } else {
            args.aliases.clone()
        };
        (
            file.grant(meta, plugin.sha256(), &aliases, None)?,
            Vec::new(),
        )
    };
    crate::fsx::create_private_dir(workspace.root())
        .with_context(|| format!("creating {}", workspace.root().display()))?;
    file.save()?;
    let policy = file.policy(meta, plugin.sha256());
    let join = |v: &[(String, String)]| -> Vec<String> {
        v.iter().map(|(k, a)| format!("{k}={a}")).collect()
    };
    let report = Changed {
        name: meta.name.clone(),
        sha256: plugin.sha256().to_string(),
        granted: join(&granted),
        revoked: join(&revoked),
        env: env_lines(meta, &policy),
        lock_file: lock_path.display().to_string(),
    };
    print(global.output, &report, || {
        let mut out = String::new();
        if changed_bytes && !revoke {
            out.push_str(&format!(
                "note: plugin `{}` changed since it was last approved; earlier grants are dropped\n",
                meta.name
            ));
        }
        let verb = if revoke { "revoked" } else { "granted" };
        let list = if revoke {
            &report.revoked
        } else {
            &report.granted
        };
        out.push_str(&format!(
            "{verb} for plugin `{}` ({}): {}\n",
            meta.name,
            &plugin.sha256()[..12],
            if list.is_empty() {
                "nothing".to_string()
            } else {
                list.join(", ")
            }
        ));
        out.push_str(&env_text(meta, &report.env, &policy));
        out
    });
    Ok(Exit::Success)
}
