//! Issuing one certificate as a command asks for it (a [`Job`]): the DNS
//! side checked and loaded first ([`prepare`]), then, under the workspace
//! lock, stale records of crashed runs removed, the account found or
//! registered, the certificate issued and stored ([`super::issuance`]) and
//! its deploy hook run. Shared by `issue` and `renew`.

use super::account::{self, Registration};
use super::hook::{HookOutcome, run_deploy_hook};
use super::issuance::{IssueRequest, Issued, Issuer};
use super::options::{CaOptions, DnsOptions, DnsSetup};
use super::{Engine, Error};
use crate::acme::{Client, KeyType};
use crate::dns01::solver::{Interrupt, ProgressSink};
use crate::error::InputError;
use crate::names::{Domain, parse_domains};
use crate::workspace::Workspace;
use crate::workspace::certs;
use crate::workspace::config::{CertEntry, ConfigFile, exposed_literals};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One certificate to obtain, everything resolved.
#[derive(Debug, Clone)]
pub struct Job {
    pub cert_name: String,
    pub domains: Vec<Domain>,
    pub key_type: KeyType,
    pub dns: DnsOptions,
    /// For registering an account when the CA has none for this workspace.
    pub email: Vec<String>,
    pub agree_tos: bool,
    /// External Account Binding key id and base64url HMAC key.
    pub eab: Option<(String, String)>,
    pub ca_cert: Vec<PathBuf>,
    pub preferred_chain: Option<String>,
    pub profile: Option<String>,
    /// ARI certificate id of the certificate this one replaces.
    pub replaces: Option<String>,
    /// The config file layer of plugin config (references resolved).
    pub file_config: BTreeMap<String, String>,
    /// The config file read, if any.
    pub config_path: Option<PathBuf>,
    /// The config file, when other users may read it, and the plugin config
    /// keys it gives literally ([`crate::workspace::config::exposed_literals`]).
    pub exposed_literals: Option<(PathBuf, Vec<String>)>,
    pub deploy_hook: Option<String>,
}

/// What a command asks to issue, before the config file fills in the rest.
#[derive(Debug, Clone, Default)]
pub struct IssueSpec {
    /// Names; none means the config file entry `cert_name`'s.
    pub domains: Vec<String>,
    pub cert_name: Option<String>,
    pub key_type: Option<String>,
    pub ca: CaOptions,
    pub registration: Registration,
    pub preferred_chain: Option<String>,
    pub profile: Option<String>,
    pub deploy_hook: Option<String>,
    pub dns: DnsOptions,
}

impl Job {
    /// The job `spec` describes, completed from the config file: what the
    /// spec gives wins, then the `[certificates.<cert-name>]` entry, then
    /// the file's defaults. Returns the job and the CA's directory URL.
    /// Everything is checked locally (names, key type, directory); nothing
    /// touches the network.
    pub fn resolve(spec: IssueSpec, config: &ConfigFile) -> Result<(Job, String), Error> {
        Job::resolve_with(spec, config).map_err(Error::from)
    }

    fn resolve_with(spec: IssueSpec, config: &ConfigFile) -> anyhow::Result<(Job, String)> {
        let entry = spec
            .cert_name
            .as_deref()
            .and_then(|n| config.certificate(n));
        let domain_args = match (spec.domains.is_empty(), entry) {
            (false, _) => spec.domains.clone(),
            (true, Some(e)) => e.domains.clone(),
            (true, None) => return Err(InputError(
                "no domains: pass -d <name> (repeatable), or --cert-name <n> naming a [certificates.<n>] entry of the config file".into(),
            )
            .into()),
        };
        let domains = parse_domains(&domain_args)?;
        let cert_name = spec
            .cert_name
            .clone()
            .unwrap_or_else(|| certs::default_name(&domains[0].name));
        certs::validate_name(&cert_name).map_err(|e| InputError(e.to_string()))?;
        let key_type: KeyType = spec
            .key_type
            .or_else(|| entry.and_then(|e| e.key_type.clone()))
            .or_else(|| config.defaults.key_type.clone())
            .unwrap_or_else(|| "ec-p256".into())
            .parse()
            .map_err(|e: crate::acme::Error| InputError(e.to_string()))?;
        let mut ca = spec.ca;
        ca.directory = ca
            .directory
            .or_else(|| entry.and_then(|e| e.directory.clone()));
        let ca = ca.with_defaults(config);
        let directory = ca.url()?;
        let registration = spec.registration.with_defaults(&config.defaults);
        let entry_value = |f: fn(&CertEntry) -> Option<String>| entry.and_then(f);
        let cli_keys: Vec<String> = spec
            .dns
            .config
            .iter()
            .filter_map(|pair| pair.split_once('=').map(|(k, _)| k.trim().to_string()))
            .collect();
        DnsOptions::entry_challenge(entry)?;
        let job = Job {
            domains,
            key_type,
            dns: spec.dns.with_defaults(entry, &config.defaults),
            email: registration.email,
            agree_tos: registration.agree_tos,
            eab: registration.eab,
            ca_cert: ca.ca_cert,
            preferred_chain: spec
                .preferred_chain
                .or_else(|| entry_value(|e| e.preferred_chain.clone())),
            profile: spec.profile.or_else(|| entry_value(|e| e.profile.clone())),
            replaces: None,
            // A key given with --dns-config replaces the file's, unresolved.
            file_config: config
                .plugin_config_except(&cert_name, |key| cli_keys.iter().any(|k| k == key))?,
            config_path: config.path.clone(),
            exposed_literals: exposed_literals(config, &cert_name),
            deploy_hook: spec
                .deploy_hook
                .or_else(|| entry_value(|e| e.deploy_hook.clone()))
                .or_else(|| config.defaults.deploy_hook.clone()),
            cert_name,
        };
        Ok((job, directory))
    }
}

/// The `CertMeta.extra` keys a renewal reads back.
pub mod extra {
    pub const PROPAGATION: &str = "propagation";
    pub const PROPAGATION_TIMEOUT: &str = "propagation_timeout";
    pub const RESOLVERS: &str = "resolvers";
    pub const DNS_PORT: &str = "dns_port";
    pub const DNS_ZONE: &str = "dns_zone";
    pub const FOLLOW_CNAME: &str = "follow_cname";
    pub const CLEANUP_CHECK: &str = "cleanup_check";
    pub const DNS_BATCH: &str = "dns_batch";
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
    /// The challenge type asked for (`--challenge`).
    pub const CHALLENGE: &str = "challenge";
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
        put(extra::CLEANUP_CHECK, json!(!d.no_cleanup_check));
        put(extra::DNS_BATCH, json!(!d.no_dns_batch));
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
        put(extra::CHALLENGE, json!(d.challenge.map(|c| c.as_str())));
        m
    }
}

/// The result of issuing (or renewing) one certificate: the certificate
/// and what its deploy hook did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssueOutput {
    #[serde(flatten)]
    pub issued: Issued,
    /// What the cleanup of earlier runs' leftovers did, when there were any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_journal: Option<super::recovery::CleanupReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy_hook: Option<HookOutcome>,
}

/// Shows what issuances are doing (e.g. live lines on a terminal).
pub trait Progress: Send + Sync {
    /// Starts showing `cert_name`; what it returns is dropped when the
    /// certificate is done.
    fn certificate(&self, cert_name: &str) -> Box<dyn CertificateProgress>;
}

/// What one certificate's issuance reports.
pub trait CertificateProgress: Send + Sync {
    /// The sink the DNS-01 solver reports its steps to.
    fn sink(&self) -> ProgressSink;
    /// A phase outside the solver (e.g. running the deploy hook).
    fn set(&self, phase: &str);
}

/// Shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn certificate(&self, _: &str) -> Box<dyn CertificateProgress> {
        Box::new(NoProgress)
    }
}

impl CertificateProgress for NoProgress {
    fn sink(&self) -> ProgressSink {
        ProgressSink::default()
    }
    fn set(&self, _: &str) {}
}

/// Loads the job's plugin and checks everything local about its DNS side
/// (config, resolvers): no network call.
pub async fn prepare(engine: &Engine, job: &Job) -> Result<DnsSetup, Error> {
    DnsSetup::new(engine, &job.dns, &job.file_config)
        .await
        .map_err(Error::from)
}

/// Removes what crashed runs left ([`super::recovery`]) with the job's
/// plugin options and config file: what `issue` and `renew` do before
/// publishing anything.
pub async fn clean_stale(
    engine: &Engine,
    workspace: &Workspace,
    job_plugins: &super::options::PluginOptions,
    config_file: &crate::workspace::config::ConfigFile,
    warn: bool,
    interrupt: &Interrupt,
) -> super::recovery::CleanupReport {
    let options = super::recovery::RecoveryOptions {
        plugins: job_plugins.clone(),
        config_file: Some(config_file.clone()),
        check_timeout: std::time::Duration::from_secs(10),
        ..Default::default()
    };
    super::recovery::clean_stale(engine, &workspace.journal(), &options, warn, interrupt).await
}

/// Obtains and stores one certificate from `client`'s CA, then runs its
/// deploy hook. Plugin, config and account problems are found before any
/// record is published.
pub async fn obtain(
    engine: &Engine,
    workspace: &Workspace,
    job: &Job,
    client: &Client,
    progress: &dyn Progress,
    interrupt: &Interrupt,
) -> Result<IssueOutput, Error> {
    let setup = prepare(engine, job).await?;
    obtain_with(engine, workspace, job, setup, client, progress, interrupt).await
}

/// [`obtain`] with the DNS side already [`prepare`]d (`wacme issue` does
/// that before taking the lock and contacting the CA, so bad plugin config
/// fails before any network call).
pub async fn obtain_with(
    engine: &Engine,
    workspace: &Workspace,
    job: &Job,
    mut setup: DnsSetup,
    client: &Client,
    progress: &dyn Progress,
    interrupt: &Interrupt,
) -> Result<IssueOutput, Error> {
    warn_exposed_secrets(job, &setup);
    let line = progress.certificate(&job.cert_name);
    setup.options.progress = line.sink();
    let journal = workspace.journal();
    // Registration (or the account lookup) may wait on a slow CA: Ctrl-C
    // stops it; nothing was published yet.
    let account = tokio::select! {
        account = account::ensure(
            client,
            workspace,
            &job.email,
            job.agree_tos,
            job.eab.as_ref().map(|(k, h)| (k.as_str(), h.as_str())),
        ) => account?,
        () = interrupt.fired() => {
            return Err(Error::new(crate::dns01::solver::SolveError::Interrupted));
        }
    };

    let (plugin_config, secret_keys) = setup.config_for_storage();
    let store = workspace.certs();
    let plugin_arg = match &setup.plugin {
        Some(_) => job.dns.plugin_arg().map_err(Error::new)?,
        None => job.dns.plugin.as_deref().unwrap_or_default(),
    };
    let issuer = Issuer {
        account: &account,
        session: setup.plugin.as_ref().map(|p| &p.session),
        challenge: setup.challenge,
        zones: &setup.zones,
        dns: &setup.dns,
        journal: &journal,
        certs: &store,
        options: &setup.options,
        records: engine.records(),
        plugin_arg,
        plugin_config,
        secret_keys,
        plugin_allow: job.dns.plugins.plugin_allow.clone(),
        plugin_dirs: job
            .dns
            .plugins
            .plugin_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect(),
        config_file: job
            .config_path
            .as_ref()
            .and_then(|p| std::fs::canonicalize(p).ok())
            .map(|p| p.display().to_string()),
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
    let mut issued = issuer
        .issue(&request, interrupt)
        .await
        .map_err(Error::new)?;
    issued.timings.plugin_load_ms = setup.plugin_load.waited.as_millis() as u64;
    issued.timings.plugin_compile_ms = setup.plugin_load.compiled.map(|d| d.as_millis() as u64);
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
        stale_journal: None,
        deploy_hook,
    })
}

/// Warns when a secret plugin setting is written literally in a config file
/// other users can read.
fn warn_exposed_secrets(job: &Job, setup: &DnsSetup) {
    use crate::plugins::config::{Origin, normalize_key};
    let (Some((path, literal)), Some(plugin)) = (&job.exposed_literals, &setup.plugin) else {
        return;
    };
    let exposed: Vec<String> = plugin
        .config
        .describe()
        .into_iter()
        .filter(|(key, origin, secret)| {
            *secret && *origin == Origin::File && literal.iter().any(|l| normalize_key(l) == *key)
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
