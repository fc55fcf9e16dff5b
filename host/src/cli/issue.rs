//! `wacme issue`: one certificate for one or more names through a DNS
//! provider plugin, and the DNS options every command that solves DNS-01
//! shares (`DnsArgs`).
//!
//! Everything that can be checked locally (names, key type, plugin, its
//! config, resolvers) is checked before the first network call.

use super::account::{CaArgs, ensure_account, state_dir};
use super::plugin::PluginArgs;
use super::{GlobalArgs, print};
use crate::acme::KeyType;
use crate::certs::{self, CertStore};
use crate::dns01::dns::DnsConfig;
use crate::dns01::journal::Journal;
use crate::dns01::names::parse_domains;
use crate::dns01::propagation::{Mode, parse_duration};
use crate::dns01::solver::SolverOptions;
use crate::dns01::zone::ZoneFinder;
use crate::exit::{Exit, InputError};
use crate::issuance::{IssueRequest, Issued, Issuer};
use crate::plugins::config::{Sources, parse_pair};
use crate::plugins::{Plugin, ResolvedConfig, Runtime, Session};
use clap::Args;
use std::collections::BTreeMap;
use std::time::Duration;

/// How challenge records are placed and checked.
#[derive(Debug, Args, Clone)]
pub struct DnsArgs {
    /// DNS provider plugin: a name (see `wacme plugin list`) or a path to a .wasm file.
    #[arg(long = "dns", value_name = "PLUGIN")]
    pub plugin: String,
    /// Plugin config value (repeatable), e.g. `--dns-config api_url=https://…`.
    #[arg(long = "dns-config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// How to decide records are visible: authoritative (ask every nameserver
    /// of the zone directly), recursive (ask the resolvers), wait:<duration>, none.
    #[arg(long, value_name = "MODE", default_value = "authoritative", value_parser = clap::value_parser!(Mode))]
    pub propagation: Mode,
    /// Give up waiting for propagation after this long (e.g. 90s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = parse_duration)]
    pub propagation_timeout: Duration,
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
        let plugin = self.plugins.load(&runtime, &self.plugin).await?;
        let config = Sources::resolve_with_process_env(plugin.metadata(), &pairs, file_config)?;
        let session = plugin.session(&config, &self.plugins.plugin_allow)?;
        let zones = ZoneFinder::new(dns.clone(), self.dns_zone.clone(), !self.no_follow_cname);
        let options = SolverOptions {
            propagation: self.propagation,
            propagation_timeout: self.propagation_timeout,
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
    #[arg(short = 'd', long = "domain", value_name = "NAME", required = true)]
    pub domains: Vec<String>,
    #[command(flatten)]
    pub ca: CaArgs,
    /// Contact email for a new account (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub email: Vec<String>,
    /// Agree to the CA's terms of service (needed to create an account).
    #[arg(long)]
    pub agree_tos: bool,
    /// External Account Binding key id, for CAs that require one.
    #[arg(
        long,
        value_name = "ID",
        env = "WACME_EAB_KID",
        requires = "eab_hmac_key"
    )]
    pub eab_kid: Option<String>,
    /// External Account Binding HMAC key (base64url).
    #[arg(
        long,
        value_name = "B64URL",
        env = "WACME_EAB_HMAC_KEY",
        hide_env_values = true,
        requires = "eab_kid"
    )]
    pub eab_hmac_key: Option<String>,
    /// Certificate key type: ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096.
    #[arg(long, value_name = "TYPE", default_value = "ec-p256")]
    pub key_type: String,
    /// Name of the stored certificate (default: the first domain without `*.`).
    #[arg(long, value_name = "NAME")]
    pub cert_name: Option<String>,
    /// Prefer the chain whose root or issuer has this common name.
    #[arg(long, value_name = "CN")]
    pub preferred_chain: Option<String>,
    /// ACME profile to request (if the CA advertises profiles).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    #[command(flatten)]
    pub dns: DnsArgs,
}

pub async fn run(args: IssueArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    // Local checks first: nothing below touches the network.
    let domains = parse_domains(&args.domains)?;
    let cert_name = args
        .cert_name
        .clone()
        .unwrap_or_else(|| certs::default_name(&domains[0].name));
    certs::validate_name(&cert_name).map_err(|e| InputError(e.to_string()))?;
    let key_type: KeyType = args
        .key_type
        .parse()
        .map_err(|e: crate::acme::Error| InputError(e.to_string()))?;
    let state = state_dir(global)?;
    let setup = args.dns.setup(&BTreeMap::new()).await?;

    let journal = Journal::new(&state);
    super::cleanup::clean_stale(&journal, &setup.runtime, &args.dns.plugins, global.output).await;

    let client = args.ca.connect().await?;
    let account = ensure_account(
        &client,
        &state,
        &args.email,
        args.agree_tos,
        args.eab_kid.as_deref().zip(args.eab_hmac_key.as_deref()),
    )
    .await?;

    let (plugin_config, secret_keys) = setup.config_for_storage();
    let store = CertStore::new(&state);
    let issuer = Issuer {
        account: &account,
        session: &setup.session,
        zones: &setup.zones,
        dns: &setup.dns,
        journal: &journal,
        certs: &store,
        options: &setup.options,
        plugin_arg: &args.dns.plugin,
        plugin_config,
        secret_keys,
        plugin_allow: args.dns.plugins.plugin_allow.clone(),
    };
    let request = IssueRequest {
        domains,
        cert_name,
        key_type,
        preferred_chain: args.preferred_chain.clone(),
        profile: args.profile.clone(),
        replaces: None,
        extra: BTreeMap::new(),
    };
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let issued = issuer.issue(&request, interrupt).await?;
    print(global.output, &issued, || describe(&issued));
    Ok(Exit::Success)
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
