//! `wacme issue`: one certificate for one or more names through a DNS
//! provider plugin, and the DNS options every command that solves DNS-01
//! shares (`DnsArgs`).
//!
//! Everything that can be checked locally (names, key type, plugin, its
//! config, resolvers) is checked before the first network call.

use super::account::{CaArgs, ensure_account, state_dir};
use super::hook::{HookOutcome, run_deploy_hook};
use super::plugin::PluginArgs;
use super::{GlobalArgs, Output, print};
use crate::acme::{Client, KeyType};
use crate::certs::{self, CertStore};
use crate::config::{CertEntry, Defaults};
use crate::dns01::dns::DnsConfig;
use crate::dns01::journal::Journal;
use crate::dns01::names::{Domain, parse_domains};
use crate::dns01::propagation::{Mode, parse_duration};
use crate::dns01::solver::{Interrupt, SolverOptions};
use crate::dns01::zone::ZoneFinder;
use crate::exit::{Exit, InputError};
use crate::issuance::{IssueRequest, Issued, Issuer};
use crate::plugins::config::{Sources, parse_pair};
use crate::plugins::{Plugin, ResolvedConfig, Runtime, Session};
use clap::Args;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// How challenge records are placed and checked.
#[derive(Debug, Args, Clone, Default)]
pub struct DnsArgs {
    /// DNS provider plugin: a name (see `wacme plugin list`) or a path to a .wasm file.
    #[arg(long = "dns", value_name = "PLUGIN")]
    pub plugin: Option<String>,
    /// Plugin config value (repeatable), e.g. `--dns-config api_url=https://…`.
    #[arg(long = "dns-config", id = "dns_config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// How to decide records are visible: authoritative (ask every nameserver
    /// of the zone directly), recursive (ask the resolvers), wait:<duration>, none.
    /// Default: authoritative.
    #[arg(long, value_name = "MODE")]
    pub propagation: Option<String>,
    /// Give up waiting for propagation after this long (e.g. 90s, 2m). Default: 120s.
    #[arg(long, value_name = "DURATION")]
    pub propagation_timeout: Option<String>,
    /// Recursive resolver to use (repeatable; `ip` or `ip:port`). Default: /etc/resolv.conf.
    #[arg(long = "dns-resolver", value_name = "IP[:PORT]")]
    pub resolvers: Vec<String>,
    /// Port the zone's nameservers answer on (test environments).
    #[arg(long, value_name = "PORT")]
    pub dns_port: Option<u16>,
    /// The zone holding the records, instead of finding it by SOA (split-horizon DNS).
    #[arg(long, value_name = "ZONE")]
    pub dns_zone: Option<String>,
    /// Do not follow a CNAME on `_acme-challenge.<name>`.
    #[arg(long)]
    pub no_follow_cname: bool,
    /// TTL of the challenge records (default: the plugin's).
    #[arg(long, value_name = "SECONDS")]
    pub dns_ttl: Option<u32>,
    /// Plugin calls in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub dns_concurrency: usize,
    #[command(flatten)]
    pub plugins: PluginArgs,
}

/// The DNS side of an issuance, checked and loaded.
pub struct DnsSetup {
    pub runtime: Runtime,
    pub plugin: Plugin,
    pub config: ResolvedConfig,
    pub session: Session,
    pub dns: DnsConfig,
    pub zones: ZoneFinder,
    pub options: SolverOptions,
}

impl DnsArgs {
    /// Loads the plugin, resolves its config and the resolvers: everything
    /// local, before any network call.
    pub async fn setup(&self, file_config: &BTreeMap<String, String>) -> anyhow::Result<DnsSetup> {
        let plugin_arg = self.plugin_arg()?;
        let propagation: Mode = match &self.propagation {
            Some(p) => p.parse().map_err(InputError)?,
            None => Mode::Authoritative,
        };
        let propagation_timeout = match &self.propagation_timeout {
            Some(t) => {
                parse_duration(t).map_err(|e| InputError(format!("--propagation-timeout: {e}")))?
            }
            None => Duration::from_secs(120),
        };
        let pairs = self
            .config
            .iter()
            .map(|p| parse_pair(p))
            .collect::<Result<Vec<_>, _>>()?;
        let dns = DnsConfig::new(&self.resolvers, self.dns_port).map_err(InputError)?;
        if dns.resolvers.is_empty() {
            return Err(InputError(
                "no DNS resolvers: none in /etc/resolv.conf; pass --dns-resolver".into(),
            )
            .into());
        }
        let runtime = self.plugins.runtime()?;
        let plugin = self.plugins.load(&runtime, plugin_arg).await?;
        let config = Sources::resolve_with_process_env(plugin.metadata(), &pairs, file_config)?;
        let session = plugin.session(&config, &self.plugins.plugin_allow)?;
        let zones = ZoneFinder::new(dns.clone(), self.dns_zone.clone(), !self.no_follow_cname);
        let options = SolverOptions {
            propagation,
            propagation_timeout,
            ttl: self.dns_ttl,
            concurrency: self.dns_concurrency.max(1),
            ..SolverOptions::default()
        };
        Ok(DnsSetup {
            runtime,
            plugin,
            config,
            session,
            dns,
            zones,
            options,
        })
    }
}

impl DnsArgs {
    /// The plugin argument, required.
    pub fn plugin_arg(&self) -> anyhow::Result<&str> {
        self.plugin.as_deref().ok_or_else(|| {
            InputError(
                "no DNS provider plugin: pass --dns <plugin> (see `wacme plugin list`) or name the certificate in the config file".into(),
            )
            .into()
        })
    }

    /// Fills what was not given on the command line from a config file
    /// entry, then the file's defaults.
    pub fn with_defaults(mut self, entry: Option<&CertEntry>, defaults: &Defaults) -> DnsArgs {
        if let Some(e) = entry {
            self.plugin = self.plugin.or_else(|| Some(e.dns.clone()));
            self.propagation = self.propagation.or_else(|| e.propagation.clone());
            self.propagation_timeout = self
                .propagation_timeout
                .or_else(|| e.propagation_timeout.clone());
            if self.resolvers.is_empty() {
                self.resolvers = e.resolvers.clone();
            }
            self.dns_port = self.dns_port.or(e.dns_port);
            self.dns_zone = self.dns_zone.or_else(|| e.dns_zone.clone());
            self.dns_ttl = self.dns_ttl.or(e.dns_ttl);
        }
        self.propagation = self.propagation.or_else(|| defaults.propagation.clone());
        self.propagation_timeout = self
            .propagation_timeout
            .or_else(|| defaults.propagation_timeout.clone());
        if self.resolvers.is_empty() {
            self.resolvers = defaults.resolvers.clone();
        }
        self.dns_port = self.dns_port.or(defaults.dns_port);
        if self.plugins.plugin_dirs.is_empty() {
            self.plugins.plugin_dirs = defaults.plugin_dirs.clone();
        }
        self
    }
}

impl DnsSetup {
    /// Non-secret config values (kept in the journal and certificate
    /// metadata) and the names of secret ones (resolved again when needed).
    pub fn config_for_storage(&self) -> (BTreeMap<String, String>, Vec<String>) {
        let mut values = BTreeMap::new();
        let mut secrets = Vec::new();
        for (key, _origin, secret) in self.config.describe() {
            if secret {
                secrets.push(key);
            } else if let Some(v) = self.config.get(&key) {
                values.insert(key, v.to_string());
            }
        }
        (values, secrets)
    }
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// A name for the certificate (repeatable); `*.example.com` for a wildcard.
    /// Default: the config file's `[certificates.<cert-name>]` domains.
    #[arg(short = 'd', long = "domain", value_name = "NAME")]
    pub domains: Vec<String>,
    #[command(flatten)]
    pub ca: CaArgs,
    #[command(flatten)]
    pub registration: super::account::RegistrationArgs,
    /// Certificate key type: ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096. Default: ec-p256.
    #[arg(long, value_name = "TYPE")]
    pub key_type: Option<String>,
    /// Name of the stored certificate (default: the first domain without `*.`).
    #[arg(long, value_name = "NAME")]
    pub cert_name: Option<String>,
    /// Prefer the chain whose root or issuer has this common name.
    #[arg(long, value_name = "CN")]
    pub preferred_chain: Option<String>,
    /// ACME profile to request (if the CA advertises profiles).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Command run (by `sh -c`) after the certificate is stored, with
    /// WACME_CERT_NAME, WACME_DOMAINS, WACME_CERT_PATH, WACME_CHAIN_PATH,
    /// WACME_FULLCHAIN_PATH and WACME_KEY_PATH set. Kept for renewals.
    #[arg(long, value_name = "CMD")]
    pub deploy_hook: Option<String>,
    #[command(flatten)]
    pub dns: DnsArgs,
}

/// One certificate to obtain, everything resolved: what `issue` and `renew`
/// hand to [`obtain`].
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub cert_name: String,
    pub domains: Vec<Domain>,
    pub key_type: KeyType,
    pub dns: DnsArgs,
    pub email: Vec<String>,
    pub agree_tos: bool,
    pub eab: Option<(String, String)>,
    pub ca_cert: Vec<std::path::PathBuf>,
    pub preferred_chain: Option<String>,
    pub profile: Option<String>,
    pub replaces: Option<String>,
    /// The config file layer of plugin config (references resolved).
    pub file_config: BTreeMap<String, String>,
    /// The config file, when other users may read it, and the plugin config
    /// keys it gives literally ([`crate::config::exposed_literals`]).
    pub exposed_literals: Option<(std::path::PathBuf, Vec<String>)>,
    pub deploy_hook: Option<String>,
    /// Draw live progress (a terminal).
    pub show_progress: bool,
}

/// The `CertMeta.extra` keys `renew` reads back.
pub(crate) mod extra {
    pub const PROPAGATION: &str = "propagation";
    pub const PROPAGATION_TIMEOUT: &str = "propagation_timeout";
    pub const RESOLVERS: &str = "resolvers";
    pub const DNS_PORT: &str = "dns_port";
    pub const DNS_ZONE: &str = "dns_zone";
    pub const FOLLOW_CNAME: &str = "follow_cname";
    pub const DNS_TTL: &str = "dns_ttl";
    pub const DNS_CONCURRENCY: &str = "dns_concurrency";
    pub const PREFERRED_CHAIN: &str = "preferred_chain";
    pub const PROFILE: &str = "profile";
    pub const CA_CERT: &str = "ca_cert";
    pub const PLUGIN_DIRS: &str = "plugin_dirs";
    pub const PLUGIN_ALLOW: &str = "plugin_allow";
    pub const PLUGIN_TIMEOUT: &str = "plugin_timeout";
    pub const PLUGIN_MEMORY: &str = "plugin_memory";
    pub const DEPLOY_HOOK: &str = "deploy_hook";
}

impl Job {
    /// The issue-time options a renewal repeats (no secrets).
    fn extra(&self) -> BTreeMap<String, serde_json::Value> {
        use serde_json::json;
        let d = &self.dns;
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: serde_json::Value| {
            if !v.is_null() {
                m.insert(k.to_string(), v);
            }
        };
        put(extra::PROPAGATION, json!(d.propagation));
        put(extra::PROPAGATION_TIMEOUT, json!(d.propagation_timeout));
        put(extra::RESOLVERS, json!(d.resolvers));
        put(extra::DNS_PORT, json!(d.dns_port));
        put(extra::DNS_ZONE, json!(d.dns_zone));
        put(extra::FOLLOW_CNAME, json!(!d.no_follow_cname));
        put(extra::DNS_TTL, json!(d.dns_ttl));
        put(extra::DNS_CONCURRENCY, json!(d.dns_concurrency));
        put(extra::PREFERRED_CHAIN, json!(self.preferred_chain));
        put(extra::PROFILE, json!(self.profile));
        put(extra::CA_CERT, json!(self.ca_cert));
        put(extra::PLUGIN_DIRS, json!(d.plugins.plugin_dirs));
        put(extra::PLUGIN_ALLOW, json!(d.plugins.plugin_allow));
        put(extra::PLUGIN_TIMEOUT, json!(d.plugins.plugin_timeout));
        put(extra::PLUGIN_MEMORY, json!(d.plugins.plugin_memory));
        put(extra::DEPLOY_HOOK, json!(self.deploy_hook));
        m
    }
}

/// The result of `issue` (and of each renewal): the certificate and what
/// its deploy hook did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssueOutput {
    #[serde(flatten)]
    pub issued: Issued,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy_hook: Option<HookOutcome>,
}

/// Obtains and stores one certificate from `client`'s CA, then runs its
/// deploy hook. Plugin, config, and account problems are found before any
/// record is published.
pub(crate) async fn obtain(
    job: &Job,
    client: &Client,
    state: &Path,
    output: Output,
    interrupt: &Interrupt,
) -> anyhow::Result<IssueOutput> {
    let setup = job.dns.setup(&job.file_config).await?;
    obtain_with(job, setup, client, state, output, interrupt).await
}

/// Warns when a secret plugin setting is written literally in a config file
/// other users can read.
fn warn_exposed_secrets(job: &Job, setup: &DnsSetup) {
    let Some((path, literal)) = &job.exposed_literals else {
        return;
    };
    let exposed: Vec<String> = setup
        .config
        .describe()
        .into_iter()
        .filter(|(key, origin, secret)| {
            *secret
                && *origin == crate::plugins::config::Origin::File
                && literal
                    .iter()
                    .any(|l| crate::plugins::config::normalize_key(l) == *key)
        })
        .map(|(key, ..)| key)
        .collect();
    if !exposed.is_empty() {
        tracing::warn!(
            "{} is readable by other users and holds the secret {} of [certificates.{}] in plain text; \
             write it as \"env:VAR\" or \"file:/path\", or `chmod 600 {}`",
            path.display(),
            exposed.join(", "),
            job.cert_name,
            path.display()
        );
    }
}

/// [`obtain`] with the DNS side already set up (`wacme issue` sets it up
/// before contacting the CA, so bad plugin config fails before any network
/// call).
pub(crate) async fn obtain_with(
    job: &Job,
    mut setup: DnsSetup,
    client: &Client,
    state: &Path,
    output: Output,
    interrupt: &Interrupt,
) -> anyhow::Result<IssueOutput> {
    warn_exposed_secrets(job, &setup);
    let line = super::progress::Line::new(job.show_progress, &job.cert_name);
    setup.options.progress = line.sink();
    let journal = Journal::new(state);
    super::cleanup::clean_stale(&journal, &setup.runtime, &job.dns.plugins, output).await;
    let account = ensure_account(
        client,
        state,
        &job.email,
        job.agree_tos,
        job.eab.as_ref().map(|(k, h)| (k.as_str(), h.as_str())),
    )
    .await?;

    let (plugin_config, secret_keys) = setup.config_for_storage();
    let store = CertStore::new(state);
    let plugin_arg = job.dns.plugin_arg()?;
    let issuer = Issuer {
        account: &account,
        session: &setup.session,
        zones: &setup.zones,
        dns: &setup.dns,
        journal: &journal,
        certs: &store,
        options: &setup.options,
        plugin_arg,
        plugin_config,
        secret_keys,
        plugin_allow: job.dns.plugins.plugin_allow.clone(),
    };
    let request = IssueRequest {
        domains: job.domains.clone(),
        cert_name: job.cert_name.clone(),
        key_type: job.key_type,
        preferred_chain: job.preferred_chain.clone(),
        profile: job.profile.clone(),
        replaces: job.replaces.clone(),
        extra: job.extra(),
    };
    let issued = issuer.issue(&request, interrupt).await?;
    let deploy_hook = match &job.deploy_hook {
        Some(cmd) => {
            line.set("stored; running the deploy hook");
            Some(run_deploy_hook(cmd, &issued).await)
        }
        None => None,
    };
    drop(line);
    Ok(IssueOutput {
        issued,
        deploy_hook,
    })
}

pub async fn run(args: IssueArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    // Local checks first: nothing below touches the network.
    let config = global.config_file()?;
    let entry = args
        .cert_name
        .as_deref()
        .and_then(|n| config.certificate(n));
    let domain_args = if args.domains.is_empty() {
        match entry {
            Some(e) => e.domains.clone(),
            None => {
                return Err(InputError(
                    "no domains: pass -d <name> (repeatable), or --cert-name <n> naming a [certificates.<n>] entry of the config file".into(),
                )
                .into());
            }
        }
    } else {
        args.domains.clone()
    };
    let domains = parse_domains(&domain_args)?;
    let cert_name = args
        .cert_name
        .clone()
        .unwrap_or_else(|| certs::default_name(&domains[0].name));
    certs::validate_name(&cert_name).map_err(|e| InputError(e.to_string()))?;
    let key_type: KeyType = args
        .key_type
        .clone()
        .or_else(|| entry.and_then(|e| e.key_type.clone()))
        .or_else(|| config.defaults.key_type.clone())
        .unwrap_or_else(|| "ec-p256".into())
        .parse()
        .map_err(|e: crate::acme::Error| InputError(e.to_string()))?;
    let mut ca = args.ca.clone();
    if ca.directory.is_none() {
        ca.directory = entry.and_then(|e| e.directory.clone());
    }
    let ca = ca.with_defaults(&config);
    ca.url()?;
    let registration = args.registration.clone().with_defaults(&config.defaults);
    let file_config = config.plugin_config(&cert_name)?;
    let exposed_literals = crate::config::exposed_literals(&config, &cert_name);
    let state = state_dir(global)?;
    let job = Job {
        cert_name,
        domains,
        key_type,
        dns: args.dns.clone().with_defaults(entry, &config.defaults),
        email: registration.email.clone(),
        agree_tos: registration.agree_tos,
        eab: registration.eab(),
        ca_cert: ca.ca_cert.clone(),
        preferred_chain: args
            .preferred_chain
            .clone()
            .or_else(|| entry.and_then(|e| e.preferred_chain.clone())),
        profile: args
            .profile
            .clone()
            .or_else(|| entry.and_then(|e| e.profile.clone())),
        replaces: None,
        file_config,
        exposed_literals,
        deploy_hook: args
            .deploy_hook
            .clone()
            .or_else(|| entry.and_then(|e| e.deploy_hook.clone()))
            .or_else(|| config.defaults.deploy_hook.clone()),
        show_progress: super::progress::wanted(global),
    };
    job.dns.plugin_arg()?;
    let setup = job.dns.setup(&job.file_config).await?;

    let _lock = global.lock(&state)?;
    let client = ca.connect().await?;
    let interrupt = Interrupt::on_signals();
    let out = obtain_with(&job, setup, &client, &state, global.output, &interrupt).await?;
    print(global.output, &out, || {
        let mut text = describe(&out.issued);
        if let Some(h) = &out.deploy_hook {
            text.push_str(&h.describe());
        }
        text
    });
    Ok(match &out.deploy_hook {
        Some(h) if !h.ok => Exit::Hook,
        _ => Exit::Success,
    })
}

/// The text summary of an issued certificate.
pub fn describe(i: &Issued) -> String {
    let t = &i.timings;
    let mut out = format!(
        "Issued {} for {}\n  serial {}, valid {} to {}\n",
        i.cert_name,
        i.domains.join(", "),
        i.serial,
        i.not_before.date(),
        i.not_after.date()
    );
    out.push_str(&format!(
        "  fullchain: {}\n  privkey:   {}\n",
        i.paths.fullchain.display(),
        i.paths.privkey.display()
    ));
    out.push_str(&format!(
        "  {:.2} s: present {} ms, propagation {} ms, validation {} ms, finalize {} ms; {} CA requests, {} provider requests\n",
        t.total_ms as f64 / 1000.0,
        t.present_ms,
        t.propagation_ms,
        t.validation_ms,
        t.finalize_ms,
        i.ca_requests,
        i.provider_requests
    ));
    for e in &i.cleanup_errors {
        out.push_str(&format!("  warning: cleanup failed: {e}\n"));
    }
    if !i.cleanup_errors.is_empty() {
        out.push_str("  run `wacme cleanup` to remove the records that are left\n");
    }
    out
}
