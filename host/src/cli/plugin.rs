//! `wacme plugin …`: list and inspect DNS provider plugins, and the plugin
//! options shared by every command that runs one (`PluginArgs`).

use super::exit::Exit;
use super::plugin_grants;
use super::{GlobalArgs, Output, print};
use crate::engine::{Engine, PluginOptions};
use crate::error::InputError;
use crate::plugins::{self, discovery};
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
    /// A request must match the plugin's own list and this one. Origins listed here are
    /// yours, so they may also reach non-public addresses (loopback, private networks).
    #[arg(long = "plugin-allow", value_name = "ORIGIN")]
    pub plugin_allow: Vec<String>,
    /// Wall-clock limit for one plugin call, 1-3600 s: every export, `metadata` at load
    /// included, instantiation included.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = parse_timeout)]
    pub plugin_timeout: u64,
    /// Memory budget of a plugin instance, 1-4096 MiB: all its linear memories and tables
    /// together.
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = parse_memory)]
    pub plugin_memory: usize,
    /// Do not use the on-disk cache of compiled plugins.
    #[arg(long)]
    pub no_plugin_cache: bool,
}

/// `--plugin-timeout`: whole seconds within [`plugins::limits::TIMEOUT_SECS`].
fn parse_timeout(text: &str) -> Result<u64, String> {
    let secs = text
        .parse::<u64>()
        .map_err(|_| format!("{text:?} is not a whole number of seconds"))?;
    plugins::limits::check_timeout_secs(secs)
}

/// `--plugin-memory`: whole MiB within [`plugins::limits::MEMORY_MIB`].
fn parse_memory(text: &str) -> Result<usize, String> {
    let mib = text
        .parse::<u64>()
        .map_err(|_| format!("{text:?} is not a whole number of MiB"))?;
    plugins::limits::check_memory_mib(mib).map(|m| m as usize)
}

impl PluginArgs {
    /// The engine's options.
    pub fn options(&self) -> PluginOptions {
        PluginOptions {
            plugin_dirs: self.plugin_dirs.clone(),
            plugin_allow: self.plugin_allow.clone(),
            plugin_timeout: self.plugin_timeout,
            plugin_memory: self.plugin_memory,
            no_plugin_cache: self.no_plugin_cache,
        }
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
    /// Run the conformance suite against a live zone: present, merge, idempotence,
    /// cleanup, a deep name, an unowned zone, metadata; checked through DNS.
    Test(Box<TestArgs>),
    /// Create a new provider crate from the template (builds for wasm32-wasip2 as is).
    New(NewArgs),
    /// Install a plugin into the state directory and approve what it asks for: shows its
    /// hosts, secret fields and environment variables, and records the grants beside its
    /// SHA-256 in plugins.lock.
    Install(Box<InstallArgs>),
    /// Let a plugin read environment variables it declares (recorded in plugins.lock for
    /// its current bytes).
    Grant(GrantArgs),
    /// Stop a plugin from reading environment variables it was granted (also those
    /// shipped with wacme's own plugins).
    Revoke(GrantArgs),
}

/// `wacme plugin install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// A .wasm file, or an https:// URL to download it from.
    pub source: String,
    /// Install only if the plugin's SHA-256 is this (hex).
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// Do not ask: install and grant the environment variables it asks for.
    #[arg(long)]
    pub yes: bool,
    /// Grant none of the environment variables it asks for (it still reads
    /// its own `WACME_<PLUGIN>_<KEY>`).
    #[arg(long)]
    pub no_env: bool,
    #[command(flatten)]
    pub plugins: PluginArgs,
}

/// `wacme plugin grant` / `wacme plugin revoke`.
#[derive(Debug, Args)]
pub struct GrantArgs {
    /// A plugin name (looked up in the plugin directories) or a path to a .wasm file.
    pub plugin: String,
    /// Environment variables the plugin declares, as `ALIAS` or `key=ALIAS`.
    #[arg(value_name = "ALIAS")]
    pub aliases: Vec<String>,
    /// Every variable the plugin declares (that may be granted at all).
    #[arg(long, conflicts_with = "aliases")]
    pub all: bool,
    #[command(flatten)]
    pub plugins: PluginArgs,
}

impl GrantArgs {
    fn request(&self) -> plugin_grants::GrantRequest {
        plugin_grants::GrantRequest {
            plugin: self.plugin.clone(),
            aliases: self.aliases.clone(),
            all: self.all,
            plugins: self.plugins.options(),
        }
    }
}

/// `wacme plugin test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// A plugin name (looked up in the plugin directories) or a path to a .wasm file.
    pub plugin: String,
    /// The zone to test in (its apex, e.g. example.com); the plugin's account must hold it.
    #[arg(long, value_name = "ZONE")]
    pub zone: String,
    /// Plugin config value (repeatable), e.g. `--dns-config api_url=https://…`.
    #[arg(long = "dns-config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// Where to check: authoritative (every nameserver of the zone) or recursive (the resolvers).
    #[arg(long, value_name = "MODE", default_value = "authoritative", value_parser = ["authoritative", "recursive"])]
    pub propagation: String,
    /// How long each DNS expectation may take to hold (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = crate::duration::parse)]
    pub propagation_timeout: Duration,
    /// Recursive resolver to use (repeatable; `ip` or `ip:port`). Default: /etc/resolv.conf.
    #[arg(long = "dns-resolver", value_name = "IP[:PORT]")]
    pub resolvers: Vec<String>,
    /// Port the zone's nameservers answer on (test environments).
    #[arg(long, value_name = "PORT")]
    pub dns_port: Option<u16>,
    /// TTL of the test records (default: the plugin's).
    #[arg(long, value_name = "SECONDS")]
    pub dns_ttl: Option<u32>,
    #[command(flatten)]
    pub plugins: PluginArgs,
}

/// `wacme plugin new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The provider's name (`--dns <name>`): 1-32 characters of a-z, 0-9 and `-`.
    pub name: String,
    /// Folder to create (default: ./wacme-plugin-<name>).
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,
    /// The wacme-plugin-sdk crate to depend on (default: the SDK of the source tree this
    /// wacme was built from). Rust only.
    #[arg(long, value_name = "DIR")]
    pub sdk_path: Option<PathBuf>,
    /// The language of the project: `rust` (the SDK), `js` (componentize-js, `fetch()`)
    /// or `python` (componentize-py).
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    pub lang: Lang,
}

/// What `wacme plugin new` writes a provider in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Rust,
    Js,
    Python,
}

pub async fn run(cmd: PluginCommand, global: &GlobalArgs, engine: &Engine) -> anyhow::Result<Exit> {
    match cmd {
        PluginCommand::List { plugins } => list(engine, &plugins.options(), global.output).await,
        PluginCommand::Inspect { plugin, plugins } => {
            inspect(engine, &plugin, &plugins.options(), global.output).await
        }
        PluginCommand::Test(args) => test(engine, &args, global.output).await,
        PluginCommand::New(args) => new(&args, global.output),
        PluginCommand::Install(args) => {
            let request = plugin_grants::InstallRequest {
                source: args.source,
                sha256: args.sha256,
                yes: args.yes,
                no_env: args.no_env,
                plugins: args.plugins.options(),
            };
            plugin_grants::install(&request, global, engine).await
        }
        PluginCommand::Grant(args) => {
            plugin_grants::grant(&args.request(), false, global, engine).await
        }
        PluginCommand::Revoke(args) => {
            plugin_grants::grant(&args.request(), true, global, engine).await
        }
    }
}

async fn test(engine: &Engine, args: &TestArgs, output: Output) -> anyhow::Result<Exit> {
    use crate::engine::conformance::{self, CheckMode, Options};
    let dns = crate::engine::DnsOptions {
        plugin: Some(args.plugin.clone()),
        config: args.config.clone(),
        resolvers: args.resolvers.clone(),
        dns_port: args.dns_port,
        plugins: args.plugins.options(),
        ..Default::default()
    };
    let options = Options {
        zone: args.zone.clone(),
        ttl: args.dns_ttl,
        mode: if args.propagation == "recursive" {
            CheckMode::Recursive
        } else {
            CheckMode::Authoritative
        },
        timeout: args.propagation_timeout,
        retries: 3,
    };
    let report = conformance::test_plugin(engine, &dns, &options).await?;
    print(output, &report, || report.text());
    Ok(if report.success() {
        Exit::Success
    } else {
        Exit::Plugin
    })
}

/// The template `wacme plugin new` copies (see plugin-sdk/README.md).
const TEMPLATE: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../../plugin-sdk/template/Cargo.toml.tmpl"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../plugin-sdk/template/src/lib.rs.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../../plugin-sdk/template/README.md.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../../plugin-sdk/template/gitignore.tmpl"),
    ),
];

/// The WIT a JavaScript or Python project is built against, copied into it.
const WIT: &str = include_str!("../../../wit/v0.2/dns.wit");

/// `wacme plugin new --lang js`.
const TEMPLATE_JS: &[(&str, &str)] = &[
    (
        "app.js",
        include_str!("../../../plugin-sdk/template-js/app.js.tmpl"),
    ),
    (
        "package.json",
        include_str!("../../../plugin-sdk/template-js/package.json.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../../plugin-sdk/template-js/README.md.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../../plugin-sdk/template-js/gitignore.tmpl"),
    ),
    ("wit/dns.wit", WIT),
];

/// `wacme plugin new --lang python`.
const TEMPLATE_PYTHON: &[(&str, &str)] = &[
    (
        "app.py",
        include_str!("../../../plugin-sdk/template-python/app.py.tmpl"),
    ),
    (
        "pyproject.toml",
        include_str!("../../../plugin-sdk/template-python/pyproject.toml.tmpl"),
    ),
    (
        "build.sh",
        include_str!("../../../plugin-sdk/template-python/build.sh.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../../plugin-sdk/template-python/README.md.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../../plugin-sdk/template-python/gitignore.tmpl"),
    ),
    ("wit/dns.wit", WIT),
];

#[derive(Serialize)]
struct Created {
    name: String,
    lang: Lang,
    path: String,
    files: Vec<String>,
    /// The SDK a Rust project depends on.
    #[serde(skip_serializing_if = "Option::is_none")]
    sdk_path: Option<String>,
}

fn new(args: &NewArgs, output: Output) -> anyhow::Result<Exit> {
    let name = args.name.as_str();
    let valid = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if !valid {
        return Err(InputError(format!(
            "plugin name {name:?} must be 1-32 characters of a-z, 0-9 and `-`, starting with a \
             letter or digit"
        ))
        .into());
    }
    let dir = args
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("wacme-plugin-{name}")));
    if dir.exists() && std::fs::read_dir(&dir).map(|mut d| d.next().is_some())? {
        return Err(InputError(format!("{} exists and is not empty", dir.display())).into());
    }
    let sdk = match args.lang {
        Lang::Rust => {
            let sdk = match &args.sdk_path {
                Some(p) => p.clone(),
                None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../plugin-sdk")),
            };
            Some(
                std::fs::canonicalize(&sdk)
                    .ok()
                    .filter(|p| p.join("Cargo.toml").is_file())
                    .ok_or_else(|| {
                        InputError(format!(
                            "no wacme-plugin-sdk crate at {}; pass --sdk-path <wacme \
                             checkout>/plugin-sdk",
                            sdk.display()
                        ))
                    })?,
            )
        }
        Lang::Js | Lang::Python => {
            if args.sdk_path.is_some() {
                return Err(InputError(
                    "--sdk-path is for --lang rust: a JavaScript or Python plugin builds \
                     against the WIT copied into it"
                        .into(),
                )
                .into());
            }
            None
        }
    };
    let sdk_text = sdk.as_ref().map(|p| p.display().to_string());
    let files = render_template(args.lang, name, sdk_text.as_deref().unwrap_or(""));
    for (path, text) in &files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, text)?;
        #[cfg(unix)]
        if path.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    let created = Created {
        name: name.to_string(),
        lang: args.lang,
        path: dir.display().to_string(),
        files: files.iter().map(|(p, _)| p.to_string()).collect(),
        sdk_path: sdk_text,
    };
    print(output, &created, || {
        let (build, wasm) = match args.lang {
            Lang::Rust => (
                "cargo build --release --target wasm32-wasip2".to_string(),
                format!(
                    "target/wasm32-wasip2/release/{}.wasm",
                    crate_name(name).replace('-', "_")
                ),
            ),
            Lang::Js => (
                "npm install && npm run build".to_string(),
                format!("{name}.wasm"),
            ),
            Lang::Python => (
                "pip install 'componentize-py==0.25.1' && ./build.sh".to_string(),
                format!("{name}.wasm"),
            ),
        };
        format!(
            "created {} ({})\nbuild it:  cd {} && {build}\n\
             test it:   wacme plugin test {wasm} --zone <zone> --dns-config …\n",
            created.path,
            created.files.join(", "),
            created.path,
        )
    });
    Ok(Exit::Success)
}

fn crate_name(name: &str) -> String {
    format!("wacme-plugin-{name}")
}

/// The `lang` template's files with `{{name}}`, `{{crate_name}}`,
/// `{{type_name}}`, `{{env_prefix}}` and `{{sdk_path}}` filled in.
pub fn render_template(lang: Lang, name: &str, sdk_path: &str) -> Vec<(&'static str, String)> {
    let type_name: String = name
        .split('-')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    let type_name = if type_name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("P{type_name}")
    } else {
        type_name
    };
    let template = match lang {
        Lang::Rust => TEMPLATE,
        Lang::Js => TEMPLATE_JS,
        Lang::Python => TEMPLATE_PYTHON,
    };
    template
        .iter()
        .map(|(path, text)| {
            let text = text
                .replace("{{crate_name_snake}}", &crate_name(name).replace('-', "_"))
                .replace("{{crate_name}}", &crate_name(name))
                .replace("{{type_name}}", &type_name)
                .replace(
                    "{{env_prefix}}",
                    &name.to_ascii_uppercase().replace('-', "_"),
                )
                .replace("{{sdk_path}}", &sdk_path.replace('\\', "/"))
                .replace("{{name}}", name);
            (*path, text)
        })
        .collect()
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

async fn list(engine: &Engine, args: &PluginOptions, output: Output) -> anyhow::Result<Exit> {
    let runtime = engine.runtime(args)?;
    let dirs = engine.plugin_search_dirs(args);
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
                    wit_version: Some(p.wit_version()),
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
    /// The compiler that made the code this run used: `cranelift`
    /// (optimized) or `winch` (baseline, a first load's quick compile).
    compiler: plugins::Compiler,
    /// Every declared environment alias and whether it is read.
    env: Vec<plugin_grants::EnvLine>,
    /// Own variables that are not read, with why.
    env_blocked: Vec<(String, String)>,
    /// Which addresses the plugin's requests may reach.
    address_policy: &'static str,
}

/// How `plugin inspect` names the compiler.
fn compiler_text(compiler: plugins::Compiler) -> &'static str {
    match compiler {
        plugins::Compiler::Cranelift => "cranelift (optimized)",
        plugins::Compiler::Winch => {
            "winch (the baseline compiler's quick first compile; `wacme plugin install` \
             or the next `wacme renew` writes the optimized form)"
        }
    }
}

/// What `address_policy` says.
const ADDRESS_POLICY: &str = "public addresses only; loopback, private, link-local, CGNAT, \
    multicast and unspecified addresses only through an endpoint or DNS server given in your config \
    (--dns-config, the config file, WACME_<PLUGIN>_<KEY> or a granted variable) or an origin \
    of --plugin-allow";

async fn inspect(
    engine: &Engine,
    arg: &str,
    args: &PluginOptions,
    output: Output,
) -> anyhow::Result<Exit> {
    let plugin = engine.load_plugin(args, arg).await?;
    let m = plugin.metadata();
    let policy = engine.env_policy(&plugin);
    let report = Inspection {
        metadata: m,
        wit_version: plugin.wit_version(),
        path: plugin.origin(),
        sha256: plugin.sha256(),
        size_bytes: plugin.size(),
        compiler: plugin.compiler(),
        env: plugin_grants::env_lines(m, &policy),
        env_blocked: m
            .config
            .iter()
            .filter_map(|f| {
                let own = plugins::grants::own_var(&m.name, &f.name);
                policy.own_blocked(&own).map(|why| (own, why.to_string()))
            })
            .collect(),
        address_policy: ADDRESS_POLICY,
    };
    print(output, &report, || {
        let mut out = String::new();
        out.push_str(&format!("{} {}\n", m.name, m.version));
        out.push_str(&format!("  {}\n", m.description));
        out.push_str(&format!("  homepage:      {}\n", m.homepage));
        out.push_str(&format!(
            "  WIT:           wacme:dns@{}\n",
            plugin.wit_version()
        ));
        out.push_str(&format!(
            "  file:          {} ({} KiB)\n",
            plugin.origin(),
            plugin.size().div_ceil(1024)
        ));
        out.push_str(&format!("  sha256:        {}\n", plugin.sha256()));
        out.push_str(&format!(
            "  compiled by:   {}\n",
            compiler_text(plugin.compiler())
        ));
        out.push_str(&format!(
            "  TTL:           default {} s, minimum {} s\n",
            m.default_ttl, m.min_ttl
        ));
        out.push_str(&format!(
            "  allowed hosts: {}\n",
            none_if_empty(&m.allowed_hosts)
        ));
        out.push_str(&format!(
            "  DNS servers:   {}\n",
            none_if_empty(&m.dns_servers)
        ));
        out.push_str(&format!("  hints:         {}\n", hints_text(&m.hints)));
        out.push_str(&format!("  addresses:     {ADDRESS_POLICY}\n"));
        out.push_str(&plugin_grants::env_text(m, &report.env, &policy));
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
            let env = std::iter::once(plugins::grants::own_var(&m.name, &f.name))
                .chain(
                    policy
                        .field(f)
                        .filter(|(_, s)| s.is_granted())
                        .map(|(a, _)| a.to_string()),
                )
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

/// A list for `inspect`, or `none`.
fn none_if_empty(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// The provider hints in words.
fn hints_text(h: &plugins::Hints) -> String {
    let mut parts = vec![match h.zone_write_concurrency {
        0 => "concurrent writes per zone".to_string(),
        1 => "one write per zone at a time".to_string(),
        n => format!("at most {n} writes per zone at a time"),
    }];
    if !h.can_delete {
        parts.push("cannot delete values".into());
    }
    if let Some(n) = h.max_values_per_name {
        parts.push(format!("at most {n} values per name"));
    }
    parts.push(
        if h.batch {
            "batch calls"
        } else {
            "one call per name"
        }
        .into(),
    );
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_renders_every_placeholder() {
        let files = render_template(Lang::Rust, "acme-dns-co", "/src/wacme/plugin-sdk");
        let paths: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
        assert_eq!(
            paths,
            ["Cargo.toml", "src/lib.rs", "README.md", ".gitignore"]
        );
        for (path, text) in &files {
            assert!(!text.contains("{{"), "{path} keeps a placeholder");
        }
        let text = |p: &str| &files.iter().find(|(f, _)| *f == p).unwrap().1;
        assert!(text("Cargo.toml").contains("name = \"wacme-plugin-acme-dns-co\""));
        assert!(text("Cargo.toml").contains("path = \"/src/wacme/plugin-sdk\""));
        assert!(text("Cargo.toml").contains("\n[workspace]\n"));
        assert!(text("src/lib.rs").contains("pub struct AcmeDnsCo;"));
        assert!(text("src/lib.rs").contains("\"ACME_DNS_CO_API_KEY\""));
        assert!(text("src/lib.rs").contains("name: \"acme-dns-co\".into()"));
        assert!(text("README.md").contains("wacme_plugin_acme_dns_co.wasm"));
        let digits = render_template(Lang::Rust, "9lives", "/sdk");
        assert!(digits[1].1.contains("pub struct P9lives;"));
    }

    #[test]
    fn js_and_python_templates_render_and_carry_the_wit() {
        for (lang, code) in [(Lang::Js, "app.js"), (Lang::Python, "app.py")] {
            let files = render_template(lang, "acme-dns-co", "");
            for (path, text) in &files {
                assert!(!text.contains("{{"), "{lang:?} {path} keeps a placeholder");
            }
            let text = |p: &str| &files.iter().find(|(f, _)| *f == p).unwrap().1;
            assert_eq!(text("wit/dns.wit"), WIT);
            assert!(WIT.contains("package wacme:dns@0.2.0;"));
            assert!(text(code).contains("\"acme-dns-co\""), "{lang:?}");
            assert!(text(code).contains("\"ACME_DNS_CO_API_KEY\""), "{lang:?}");
            assert!(text("README.md").contains("wacme plugin new acme-dns-co --lang"));
        }
    }
}
